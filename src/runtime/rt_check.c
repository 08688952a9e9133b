/* rt_check.c — `lira check`: load each integration file the way `lira run`
 * would (its own state, same validation, the watchdog and memory limit on,
 * its webhook routes read as the listener reads them: verify configs
 * checked, no route claimed by two files), but run nothing, and report what
 * lira.runtime's lint sees. Each state
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
#include "runtime/rt_webhook.h"
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

/* Every route seen so far, with the file that declared it. */
typedef struct seen_route {
    char *path, *file;
    struct seen_route *next;
} seen_route;

/* v's webhook routes, read as `lira run` reads them; returns the errors. */
static int check_routes(rt *r, rt_version *v, const char *file, seen_route **seen)
{
    char err[1024];
    rt_wh_route *routes = NULL;
    size_t n = 0;
    if (rt_wh_routes_read(r, v, file, &routes, &n, err, sizeof err) != LIRA_OK) {
        printf("%s\n", err);
        return 1;
    }
    int errors = 0;
    for (size_t i = 0; i < n; i++) {
        seen_route *s = *seen;
        while (s && strcmp(s->path, routes[i].path) != 0)
            s = s->next;
        if (s) {
            printf("%s:1: error: webhooks[\"%s\"]: the route is already declared by %s\n", file,
                   routes[i].path, s->file);
            errors++;
            continue;
        }
        seen_route *ns = calloc(1, sizeof *ns);
        if (ns && (ns->path = strdup(routes[i].path)) && (ns->file = strdup(file))) {
            ns->next = *seen;
            *seen = ns;
        } else if (ns) {
            free(ns->path);
            free(ns);
        }
    }
    rt_wh_routes_free(routes, n);
    return errors;
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
    seen_route *seen = NULL;
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
        errors += check_routes(&r, v, files[i], &seen);
        rt_version_lint(v, files[i], print_line, &warnings);
        rt_version_close(v);
    }
    while (seen) {
        seen_route *next = seen->next;
        free(seen->path);
        free(seen->file);
        free(seen);
        seen = next;
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
