/* rt_check.c — `lira check`: load each integration file the way `lira run`
 * would (its own state, same validation, the watchdog and memory limit on),
 * but run nothing, and report what lira.runtime's lint sees. Each state
 * gets a private engine (created only if the file makes a client), so
 * checking never touches the durable state of a running instance.
 * lira.config never raises here: a missing variable gets a placeholder. */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/status.h"
#include "runtime/runtime.h"

typedef struct counter {
    int n;
} counter;

static void print_line(void *ud, const char *line)
{
    counter *c = ud;
    c->n++;
    printf("%s\n", line);
}

int rt_check_files(const rt_opts *o)
{
    static rt r;   /* no engine: each state makes its own when it needs one */
    memset(&r, 0, sizeof r);
    r.o = *o;
    r.wd_budget_ns = (int64_t)(o->cpu_budget_s * 1e9);
    char p[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", p, sizeof p - 1);
    p[n > 0 ? n : 0] = '\0';
    char *s = strrchr(p, '/');
    if (s)
        *s = '\0';
    snprintf(r.search_dir, sizeof r.search_dir, "%s", n > 0 ? p : ".");
    char err[2048];
    char **files = NULL;
    size_t nf = 0;
    if (rt_collect_files(o->paths, o->npaths, &files, &nf, err, sizeof err) != LIRA_OK) {
        printf("%s\n", err);
        return 1;
    }
    int errors = 0;
    counter warnings = {0};
    char **names = calloc(nf ? nf : 1, sizeof *names);
    for (size_t i = 0; i < nf; i++) {
        rt_version *v = rt_version_load(&r, files[i], 1, err, sizeof err);
        if (!v) {
            printf("%s\n", err);
            errors++;
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            if (names && names[j] && strcmp(names[j], v->name) == 0) {
                printf("%s:1: error: integration name '%s' is already used by %s\n", files[i],
                       v->name, files[j]);
                errors++;
            }
        }
        if (names)
            names[i] = strdup(v->name);
        rt_version_lint(v, files[i], print_line, &warnings);
        rt_version_close(v);
    }
    for (size_t i = 0; names && i < nf; i++)
        free(names[i]);
    free(names);
    rt_free_files(files, nf);
    int fail = errors > 0 || (o->strict && warnings.n > 0);
    fflush(stdout);
    fprintf(stderr, "lira check: %zu file(s), %d error(s), %d warning(s)%s\n", nf, errors,
            warnings.n, fail ? "" : ": ok");
    return fail ? 1 : 0;
}
