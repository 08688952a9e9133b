/* rt_cli.c — `lira run` and `lira check`: flags, environment, start-up and
 * the orderly exit (docs/runtime.md).
 *
 * Every flag has an environment twin (LIRA_LISTEN, LIRA_STATE,
 * LIRA_LOG_LEVEL, LIRA_LOG_FORMAT, LIRA_NO_RELOAD, LIRA_DRAIN,
 * LIRA_CPU_BUDGET, LIRA_MEMORY_LIMIT); a flag wins over the variable.
 * Exit status: 0 after a clean stop (SIGTERM/SIGINT), 1 when it cannot
 * start, 2 for bad flags. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/status.h"
#include "engine/log.h"
#include "runtime/runtime.h"

static const char RUN_USAGE[] =
    "usage: lira run [flags] PATH...\n"
    "\n"
    "Load, schedule and supervise integrations: PATH is a .lua file, or a folder\n"
    "whose *.lua files and */init.lua are integrations (docs/runtime.md).\n"
    "\n"
    "  --listen [ADDR:]PORT   serve /metrics /healthz /readyz /admin/integrations\n"
    "                         (ADDR defaults to 127.0.0.1; off unless given)\n"
    "  --state PATH           durable state file (default .lira/state.db)\n"
    "  --log-level LEVEL      debug, info, warn, error, off (default info)\n"
    "  --log-format FORMAT    json or text (default json)\n"
    "  --no-reload            do not watch the files for changes\n"
    "  --drain SECONDS        how long old versions may finish their work on\n"
    "                         reload and shutdown (default 10)\n"
    "  --cpu-budget SECONDS   watchdog: CPU a task may use without yielding\n"
    "                         (default 1)\n"
    "  --memory-limit MB      per-integration Lua memory (default 256; 0 = none)\n"
    "  -h, --help             this text\n"
    "\n"
    "Environment: LIRA_LISTEN LIRA_STATE LIRA_LOG_LEVEL LIRA_LOG_FORMAT\n"
    "LIRA_NO_RELOAD LIRA_DRAIN LIRA_CPU_BUDGET LIRA_MEMORY_LIMIT (flags win).\n"
    "Signals: SIGTERM/SIGINT stop gracefully (twice: at once), SIGHUP reloads.\n";

static const char CHECK_USAGE[] =
    "usage: lira check [--strict] PATH...\n"
    "\n"
    "Load and validate integrations without running them. Prints\n"
    "'file:line: message' for each problem and exits 1 when there is an error\n"
    "(with --strict, also for a warning). Warnings: a client base_url that is a\n"
    "string literal instead of lira.config, no pinned API version, POST/PATCH\n"
    "retried without an idempotency key, timeouts longer than the deadline, no\n"
    "fallback decided (fallback = false is a decision).\n"
    "\n"
    "  --strict               warnings are errors\n"
    "  -h, --help             this text\n";

static int bad(const char *cmd, const char *what, const char *arg)
{
    fprintf(stderr, "lira %s: %s '%s'\nTry 'lira %s --help'.\n", cmd, what, arg, cmd);
    return 2;
}

static int parse_secs(const char *v, double min, double *out)
{
    char *end = NULL;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || !*v || *end || !isfinite(d) || d < min || d > 1e6)
        return -1;
    *out = d;
    return 0;
}

/* One option (flag or environment); returns -1 on a bad value. */
static int set_opt(rt_opts *o, const char *name, const char *v)
{
    double d;
    if (strcmp(name, "--listen") == 0) {
        o->listen = *v ? v : NULL;
    } else if (strcmp(name, "--state") == 0) {
        o->state = v;
    } else if (strcmp(name, "--log-level") == 0) {
        lira_log_level lv;
        if (lira_log_level_parse(v, &lv) != 0)
            return -1;
        o->log_level = v;
    } else if (strcmp(name, "--log-format") == 0) {
        if (strcmp(v, "json") != 0 && strcmp(v, "text") != 0)
            return -1;
        o->log_format = v;
    } else if (strcmp(name, "--drain") == 0) {
        if (parse_secs(v, 0, &o->drain_s) != 0)
            return -1;
    } else if (strcmp(name, "--cpu-budget") == 0) {
        if (parse_secs(v, 0.001, &o->cpu_budget_s) != 0)
            return -1;
    } else if (strcmp(name, "--memory-limit") == 0) {
        if (parse_secs(v, 0, &d) != 0)
            return -1;
        o->mem_limit = (size_t)(d * 1024 * 1024);
    } else {
        return -2;
    }
    return 0;
}

static const char *const ENV[][2] = {
    {"LIRA_LISTEN", "--listen"},         {"LIRA_STATE", "--state"},
    {"LIRA_LOG_LEVEL", "--log-level"},   {"LIRA_LOG_FORMAT", "--log-format"},
    {"LIRA_DRAIN", "--drain"},           {"LIRA_CPU_BUDGET", "--cpu-budget"},
    {"LIRA_MEMORY_LIMIT", "--memory-limit"},
};

/* Returns -1 to go on, or an exit status. */
static int parse(const char *cmd, int argc, char **argv, rt_opts *o)
{
    memset(o, 0, sizeof *o);
    o->drain_s = 10;
    o->cpu_budget_s = 1;
    o->mem_limit = (size_t)256 << 20;
    for (size_t i = 0; i < sizeof ENV / sizeof ENV[0]; i++) {
        const char *v = getenv(ENV[i][0]);
        if (v && *v && set_opt(o, ENV[i][1], v) != 0)
            return bad(cmd, "bad value in the environment for", ENV[i][0]);
    }
    const char *nr = getenv("LIRA_NO_RELOAD");
    o->no_reload = nr && *nr && strcmp(nr, "0") != 0;
    int check = strcmp(cmd, "check") == 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(check ? CHECK_USAGE : RUN_USAGE, stdout);
            return 0;
        }
        if (check && strcmp(a, "--strict") == 0) {
            o->strict = 1;
        } else if (!check && strcmp(a, "--no-reload") == 0) {
            o->no_reload = 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            const char *eq = strchr(a, '=');
            char name[64];
            snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
            const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[i + 1] : NULL);
            int known = !check || strcmp(name, "--cpu-budget") == 0 ||
                        strcmp(name, "--memory-limit") == 0;
            rt_opts probe = *o;
            if (!known || set_opt(&probe, name, "1") == -2)
                return bad(cmd, "unknown flag", a);
            if (!v)
                return bad(cmd, "missing value for", a);
            if (set_opt(o, name, v) != 0)
                return bad(cmd, "bad value for", name);
            if (!eq)
                i++;
        } else if (o->npaths < (int)(sizeof o->paths / sizeof o->paths[0])) {
            o->paths[o->npaths++] = a;
        } else {
            return bad(cmd, "too many paths at", a);
        }
    }
    if (o->npaths == 0) {
        fprintf(stderr, "lira %s: no PATH given\nTry 'lira %s --help'.\n", cmd, cmd);
        return 2;
    }
    return -1;
}

static void bin_dir(char *out, size_t cap)
{
    char p[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", p, sizeof p - 1);
    if (n <= 0) {
        snprintf(out, cap, ".");
        return;
    }
    p[n] = '\0';
    char *s = strrchr(p, '/');
    if (s)
        *s = '\0';
    snprintf(out, cap, "%s", p);
}

/* ------------------------------------------------------------ lira run */

static int start(rt *r)
{
    char err[1024];
    if (rt_collect_files(r->o.paths, r->o.npaths, &r->files, &r->nfiles, err, sizeof err) !=
        LIRA_OK) {
        fprintf(stderr, "lira run: %s\n", err);
        return 1;
    }
    if (r->o.state)
        setenv("LIRA_STATE", r->o.state, 1);
    if (r->o.log_level)
        setenv("LIRA_LOG_LEVEL", r->o.log_level, 1);
    if (r->o.log_format)
        setenv("LIRA_LOG_FORMAT", r->o.log_format, 1);
    if (lira_engine_new(NULL, &r->e) != LIRA_OK) {
        fprintf(stderr, "lira run: cannot create the engine\n");
        return 1;
    }
    if (r->o.listen && rt_admin_start(r, r->o.listen, err, sizeof err) != LIRA_OK) {
        fprintf(stderr, "lira run: %s\n", err);
        return 1;
    }
    if (rt_reload_init(r) != LIRA_OK)
        rt_log(r, LIRA_LOG_WARN, "lira run: cannot watch the files; reload with SIGHUP", NULL,
               NULL, NULL, NULL, NULL);
    for (size_t i = 0; i < r->nfiles; i++)
        rt_load_file(r, r->files[i]);
    r->ready = 1;
    char n[32];
    snprintf(n, sizeof n, "%zu", r->nfiles);
    rt_log(r, LIRA_LOG_INFO, "lira run: started", NULL, "files", n, NULL, NULL);
    if (!r->integs && r->o.no_reload) {
        fprintf(stderr, "lira run: no integration could be loaded\n");
        return 1;
    }
    return 0;
}

static void finish(rt *r)
{
    rt_admin_stop(r);
    rt_reload_free(r);
    while (r->broken) {
        rt_broken *b = r->broken;
        r->broken = b->next;
        free(b->file);
        free(b->error);
        free(b);
    }
    while (r->draining) {
        rt_version *v = r->draining;
        r->draining = v->next;
        rt_version_close(v);
    }
    rt_free_files(r->files, r->nfiles);
    /* Frees the store (closed), flushes the trace exporter, closes the log. */
    lira_engine_free(r->e);
    r->e = NULL;
}

int lira_run_main(int argc, char **argv)
{
    static rt r;
    int rc = parse("run", argc, argv, &r.o);
    if (rc >= 0)
        return rc;
    /* Blocked before any thread exists, so only the signalfd sees them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    r.inofd = -1;
    r.sigfd = -1;
    r.wd_budget_ns = (int64_t)(r.o.cpu_budget_s * 1e9);
    bin_dir(r.search_dir, sizeof r.search_dir);
    rc = start(&r);
    if (rc == 0)
        rc = rt_run(&r);
    if (rc != 0) {
        while (r.integs) {
            rt_integ *in = r.integs;
            rt_unload_file(&r, in->file);
        }
    }
    finish(&r);
    return rc;
}

/* ------------------------------------------------------------ lira check */

int lira_check_main(int argc, char **argv)
{
    rt_opts o;
    int rc = parse("check", argc, argv, &o);
    if (rc >= 0)
        return rc;
    return rt_check_files(&o);
}
