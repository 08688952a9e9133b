/* rt_loop.c — the set of integrations, the loop that drives them, signals
 * and shutdown.
 *
 * Signals: SIGTERM, SIGINT and SIGHUP are blocked in every thread (before
 * any is started) and read from a signalfd the engine watches, so nothing
 * runs in a signal handler. The first SIGTERM/SIGINT stops scheduling and
 * retires every integration (stop(ctx), then drain up to --drain); the
 * loop ends when the last version is closed. A second one exits at once.
 * SIGHUP reloads everything (rt_reload.c). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/status.h"
#include "engine/log.h"
#include "engine/telemetry.h"
#include "runtime/rt_modules.h"
#include "runtime/rt_webhook.h"
#include "runtime/runtime.h"

#define TICK_NS 100000000LL

/* ------------------------------------------------------------ files */

static int add_file(char ***v, size_t *n, const char *path)
{
    char real[PATH_MAX];
    if (!realpath(path, real))
        return LIRA_ENOTFOUND;
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i], real) == 0)
            return LIRA_OK;
    char **nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv)
        return LIRA_ENOMEM;
    *v = nv;
    if (!(nv[*n] = strdup(real)))
        return LIRA_ENOMEM;
    (*n)++;
    return LIRA_OK;
}

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* A folder's integrations: its *.lua files and each subfolder's init.lua;
 * dot files are skipped (editors' temporaries). */
static int add_dir(char ***v, size_t *n, const char *dir)
{
    struct dirent **ents = NULL;
    int k = scandir(dir, &ents, NULL, alphasort);
    if (k < 0)
        return LIRA_ENOTFOUND;
    int rc = LIRA_OK;
    char p[PATH_MAX];
    for (int i = 0; i < k; i++) {
        const char *nm = ents[i]->d_name;
        if (rc == LIRA_OK && nm[0] != '.') {
            snprintf(p, sizeof p, "%s/%s", dir, nm);
            if (ends_with(nm, ".lua") && is_file(p)) {
                rc = add_file(v, n, p);
            } else {
                snprintf(p, sizeof p, "%s/%s/init.lua", dir, nm);
                if (is_file(p))
                    rc = add_file(v, n, p);
            }
        }
        free(ents[i]);
    }
    free(ents);
    return rc;
}

int rt_collect_files(const char *const *paths, int np, char ***out, size_t *nout, char *err,
                     size_t cap)
{
    char **v = NULL;
    size_t n = 0;
    for (int i = 0; i < np; i++) {
        struct stat st;
        int rc;
        if (stat(paths[i], &st) != 0) {
            snprintf(err, cap, "%s: %s", paths[i], strerror(errno));
            rt_free_files(v, n);
            return LIRA_ENOTFOUND;
        }
        rc = S_ISDIR(st.st_mode) ? add_dir(&v, &n, paths[i]) : add_file(&v, &n, paths[i]);
        if (rc != LIRA_OK) {
            snprintf(err, cap, "%s: %s", paths[i], lira_strerror(rc));
            rt_free_files(v, n);
            return rc;
        }
    }
    *out = v;
    *nout = n;
    return LIRA_OK;
}

void rt_free_files(char **files, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(files[i]);
    free(files);
}

/* ------------------------------------------------------------ the set */

rt_integ *rt_find_file(rt *r, const char *file)
{
    for (rt_integ *in = r->integs; in; in = in->next)
        if (strcmp(in->file, file) == 0)
            return in;
    return NULL;
}

rt_integ *rt_find_name(rt *r, const char *name)
{
    for (rt_integ *in = r->integs; in; in = in->next)
        if (strcmp(in->name, name) == 0)
            return in;
    return NULL;
}

static void clear_broken(rt *r, const char *file)
{
    for (rt_broken **pp = &r->broken; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->file, file) == 0) {
            rt_broken *b = *pp;
            *pp = b->next;
            free(b->file);
            free(b->error);
            free(b);
            return;
        }
    }
}

void rt_set_broken(rt *r, const char *file, const char *error)
{
    clear_broken(r, file);
    rt_broken *b = calloc(1, sizeof *b);
    if (!b)
        return;
    b->file = strdup(file);
    b->error = strdup(error);
    rt_hash_file(file, b->hash);
    b->next = r->broken;
    r->broken = b;
}

static void free_integ(rt_integ *in)
{
    free(in->name);
    free(in->file);
    free(in->last_error);
    free(in->last_traceback);
    free(in->last_reload_error);
    free(in);
}

static void remove_integ(rt *r, rt_integ *in)
{
    for (rt_integ **pp = &r->integs; *pp; pp = &(*pp)->next) {
        if (*pp == in) {
            *pp = in->next;
            break;
        }
    }
    rt_integ_halt(in);
    rt_wh_install(r, in->name, NULL, 0);
    rt_retire(r, in->cur);
    in->cur = NULL;
    free_integ(in);
}

static int load_failed(rt *r, const char *file, const char *err)
{
    rt_integ *in = rt_find_file(r, file);
    if (in && !in->cur)
        rt_set_broken(r, file, err);   /* a stopped one came back broken: not ready */
    if (in) {
        free(in->last_reload_error);
        in->last_reload_error = strdup(err);
        in->last_reload_wall = lira_engine_wall(r->e);
        rt_hash_file(file, in->failed_hash);
        rt_log(r, LIRA_LOG_ERROR, "integration: the new version failed to load; the previous "
               "one keeps running", in->name, "error", err, "file", file);
    } else {
        rt_set_broken(r, file, err);
        rt_log(r, LIRA_LOG_ERROR, "integration: failed to load", NULL, "error", err, "file",
               file);
    }
    return LIRA_EINVAL;
}

static rt_integ *new_integ(rt *r, rt_version *v, const char *file)
{
    rt_integ *in = calloc(1, sizeof *in);
    if (!in)
        return NULL;
    in->r = r;
    in->name = strdup(v->name);
    in->file = strdup(file);
    if (!in->name || !in->file) {
        free_integ(in);
        return NULL;
    }
    lira_timer_init(&in->run_timer);
    lira_timer_init(&in->start_timer);
    in->next = r->integs;
    r->integs = in;
    return in;
}

/* v (loaded, its routes read) becomes in's current version: the one it
 * replaces is retired, the routes served, the work scheduled again. */
static void install(rt *r, rt_integ *in, rt_version *v, rt_wh_route *hooks, size_t nhooks)
{
    rt_version *old = in->cur;
    v->in = in;
    v->generation = ++in->generation;
    in->cur = v;
    in->last_reload_wall = lira_engine_wall(r->e);
    free(in->last_reload_error);
    in->last_reload_error = NULL;
    in->failed_hash[0] = '\0';
    if (old && old->every != v->every)
        lira_timer_stop(r->e, &in->run_timer);
    if (!v->every)
        lira_timer_stop(r->e, &in->run_timer);
    lira_timer_stop(r->e, &in->start_timer);
    rt_retire(r, old);
    rt_reload_watch_modules(r, v);
    rt_wh_install(r, in->name, hooks, nhooks);
    rt_integ_start(in);
}

int rt_load_file(rt *r, const char *file)
{
    char err[2048];
    rt_version *v = rt_version_load(r, file, 0, err, sizeof err);
    if (!v)
        return load_failed(r, file, err);
    rt_integ *in = rt_find_file(r, file);
    rt_integ *other = rt_find_name(r, v->name);
    if (other && other != in && !other->cur) {
        remove_integ(r, other);   /* stopped (file removed): the name is free */
        other = NULL;
    }
    if (other && other != in) {
        snprintf(err, sizeof err, "%s:1: integration name '%s' is already used by %s", file,
                 v->name, other->file);
        rt_version_close(v);
        return load_failed(r, file, err);
    }
    if (in && strcmp(in->name, v->name) != 0) {
        remove_integ(r, in);   /* renamed: the old one stops, a new one starts */
        in = NULL;
    }
    rt_wh_route *hooks = NULL;
    size_t nhooks = 0;
    /* Routes are read (so checked) with or without a listener, as `lira
     * check` reads them; without one they cannot receive anything. */
    if (rt_wh_routes_read(r, v, file, &hooks, &nhooks, err, sizeof err) != LIRA_OK) {
        rt_version_close(v);
        return load_failed(r, file, err);
    }
    if (!r->webhooks && nhooks) {
        char n[32];
        snprintf(n, sizeof n, "%zu", nhooks);
        rt_log(r, LIRA_LOG_WARN, "integration: webhook routes need --listen; none is served",
               v->name, "routes", n, NULL, NULL);
        rt_wh_routes_free(hooks, nhooks);
        hooks = NULL;
        nhooks = 0;
    }
    clear_broken(r, file);
    int reload = in != NULL;
    if (!in && !(in = new_integ(r, v, file))) {
        rt_wh_routes_free(hooks, nhooks);
        rt_version_close(v);
        return load_failed(r, file, "out of memory");
    }
    install(r, in, v, hooks, nhooks);
    char gen[32];
    snprintf(gen, sizeof gen, "%llu", (unsigned long long)v->generation);
    rt_log(r, LIRA_LOG_INFO, reload ? "integration: reloaded" : "integration: loaded", in->name,
           "version", v->hash, "generation", gen);
    return LIRA_OK;
}

void rt_unload_file(rt *r, const char *file)
{
    clear_broken(r, file);
    rt_integ *in = rt_find_file(r, file);
    if (!in)
        return;
    if (!in->cur)
        return;
    rt_log(r, LIRA_LOG_INFO, "integration: file removed, stopping it", in->name, "file", file,
           NULL, NULL);
    /* It stays listed (status stopped, last_reload.at = when) until the
     * file comes back, which loads it as its next generation. */
    rt_integ_halt(in);
    rt_wh_install(r, in->name, NULL, 0);
    rt_retire(r, in->cur);
    in->cur = NULL;
    in->status = RT_ST_STOPPED;
    in->every = 0;
    in->has_start = 0;
    in->restart_at_wall = 0;
    in->last_reload_wall = lira_engine_wall(r->e);
    free(in->last_reload_error);
    in->last_reload_error = NULL;
}

/* ------------------------------------------------------------ signals */

static void begin_shutdown(rt *r)
{
    r->phase = 1;
    rt_log(r, LIRA_LOG_INFO, "lira run: stopping (a second signal exits at once)", NULL, NULL,
           NULL, NULL, NULL);
    while (r->integs)
        remove_integ(r, r->integs);
}

static void on_signal(int fd, int events, void *ud)
{
    (void)events;
    rt *r = ud;
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGHUP) {
            if (r->phase == 0)
                rt_reload_all(r);
            continue;
        }
        if (r->phase != 0) {
            static const char msg[] = "lira run: second signal, exiting at once\n";
            if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) {
            }
            lira_telemetry_flush(r->e);   /* the log lines that wait (a loop callback here) */
            _exit(1);
        }
        begin_shutdown(r);
    }
}

static int setup_signals(rt *r)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    r->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (r->sigfd < 0)
        return LIRA_ESTATE;
    return lira_engine_watch(r->e, r->sigfd, LIRA_IO_READ, on_signal, r);
}

/* ------------------------------------------------------------ the loop */

static void on_tick(lira_timer *t, void *ud)
{
    rt *r = ud;
    rt_drain_tick(r);
    rt_wh_tick(r);
    if (r->phase == 1 && !r->draining)
        r->phase = 2;
    lira_timer_start(r->e, t, lira_engine_now(r->e) + TICK_NS, on_tick, r);
}

/* Resume what is ready in every state once; returns whether anything is
 * still ready. */
static int run_all(rt *r)
{
    int more = 0;
    for (rt_integ *in = r->integs; in; in = in->next) {
        if (in->cur && rt_version_has_ready(in->cur)) {
            rt_version_run_ready(in->cur);
            more |= rt_version_has_ready(in->cur);
        }
    }
    for (rt_version *v = r->draining; v; v = v->next) {
        if (rt_version_has_ready(v)) {
            rt_version_run_ready(v);
            more |= rt_version_has_ready(v);
        }
    }
    return more;
}

int rt_run(rt *r)
{
    if (setup_signals(r) != LIRA_OK) {
        fprintf(stderr, "lira run: cannot set up signal handling\n");
        return 1;
    }
    lira_timer_init(&r->tick);
    lira_timer_start(r->e, &r->tick, lira_engine_now(r->e) + TICK_NS, on_tick, r);
    while (r->phase < 2) {
        int more = run_all(r);
        if (r->phase == 1 && !r->draining)
            break;
        int rc = lira_engine_step(r->e, more ? 0 : -1);
        if (rc < 0) {
            fprintf(stderr, "lira run: the loop failed: %s\n", lira_strerror(rc));
            return 1;
        }
    }
    lira_timer_stop(r->e, &r->tick);
    lira_engine_watch(r->e, r->sigfd, 0, NULL, NULL);
    close(r->sigfd);
    rt_log(r, LIRA_LOG_INFO, "lira run: stopped", NULL, NULL, NULL, NULL, NULL);
    return 0;
}
