/* runtime.h — `lira run` and `lira check`: what the files of src/runtime
 * share (docs/runtime.md).
 *
 *   rt_cli.c     flags, environment, the two entry points
 *   rt_state.c   one lua_State per integration version: allocator with a
 *                limit, module paths, the watchdog hook, loading a file
 *   rt_modules.c `require` in a version's state: the integration's own
 *                modules recorded, lira's own precompiled and cached
 *   rt_tasks.c   the tasks in a version's state: spawn, resume, cancel
 *   rt_super.c   scheduling (`every`), supervision (`start` restarts with
 *                backoff), runs and their outcomes, draining a version
 *   rt_loop.c    the set of integrations, the loop, signals, shutdown
 *   rt_reload.c  inotify, SIGHUP, replacing a version
 *   rt_admin.c   the HTTP listener: /metrics /healthz /readyz /admin/...
 *   rt_check.c   `lira check`
 *
 * Threading: everything runs on the engine's loop thread except the MHD
 * handlers in rt_admin.c, which only read a snapshot (text built on the
 * loop thread) under a mutex. Lua runs only on the loop thread. */
#ifndef LIRA_RUNTIME_H
#define LIRA_RUNTIME_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "lua/binding.h"

typedef struct rt rt;
typedef struct rt_integ rt_integ;
typedef struct rt_version rt_version;

/* ------------------------------------------------------------ options */

typedef struct rt_opts {
    const char *paths[256];
    int npaths;
    const char *listen;        /* NULL: no listener */
    const char *state;         /* NULL: LIRA_STATE or .lira/state.db */
    const char *log_level, *log_format;
    int no_reload;
    double drain_s;            /* seconds old versions get to finish */
    double cpu_budget_s;       /* watchdog: seconds without yielding */
    size_t mem_limit;          /* bytes per integration state; 0 = none */
    int strict;                /* lira check: warnings are errors */
} rt_opts;

/* ------------------------------------------------------------ versions */

enum { RT_RUN = 0, RT_START = 1, RT_STOP = 2 };

/* One loaded copy of an integration file: its own lua_State. */
struct rt_version {
    rt_integ *in;              /* NULL once detached from its integration */
    rt *r;
    lua_State *L;
    size_t mem_used, mem_limit;
    int mem_exceeded;          /* an allocation was refused since the last report */
    int spec_ref, ctx_ref, runner_ref, report_ref[3];
    int task_ref[3];           /* the run / start / stop task while unfinished */
    int active[3];             /* a run / start / stop is in progress */
    int stopping;              /* ctx.stopping() */
    int draining;
    int64_t drain_deadline;    /* monotonic ns */
    uint64_t generation;
    char hash[17];             /* content hash of the file, hex */
    char *name;                /* spec.name */
    double every;              /* spec.every, 0 when none */
    int has[3];                /* sync / start / stop given */
    /* watchdog */
    const void *wd_thread;
    uint64_t wd_gen;
    int64_t wd_start;
    int wd_fired;
    rt_version *next;          /* r->draining list */
};

/* ------------------------------------------------------------ integrations */

enum rt_status { RT_ST_LOADING, RT_ST_RUNNING, RT_ST_BACKOFF, RT_ST_FAILED, RT_ST_STOPPED };

struct rt_integ {
    rt *r;
    char *name;
    char *file;                /* absolute path */
    rt_version *cur;
    int status;
    /* scheduling and supervision */
    double every;              /* 0: no sync */
    int has_start;
    lira_timer run_timer, start_timer;
    int64_t next_due;          /* monotonic ns of the next sync */
    int64_t next_wall;         /* the same as epoch ns (admin) */
    double backoff_s;          /* next restart delay of start */
    int64_t start_began;       /* monotonic ns the current start began */
    int64_t restart_at_wall;
    /* counters */
    uint64_t runs, run_errors, skipped, restarts, crashes;
    int consecutive;           /* failures in a row (runs or start) */
    /* last run / error */
    int64_t last_start_wall, last_dur_ns;
    char last_result[16];      /* "ok", "error", "" */
    char *last_error, *last_traceback;
    int64_t last_error_wall;
    /* reload */
    uint64_t generation;
    int64_t last_reload_wall;
    char *last_reload_error;   /* NULL: the last reload worked */
    char failed_hash[17];      /* content hash of the version that failed */
    int64_t run_started;       /* monotonic ns the current run began */
    rt_integ *next;
};

/* A file that failed to load and holds no integration (yet). */
typedef struct rt_broken {
    char *file;
    char *error;
    char hash[17];             /* of the content that failed */
    struct rt_broken *next;
} rt_broken;

/* ------------------------------------------------------------ the runtime */

struct rt {
    rt_opts o;
    lira_engine *e;
    rt_integ *integs;
    rt_version *draining;      /* retired versions finishing their work */
    rt_broken *broken;
    char **files;              /* every file watched (integration files) */
    size_t nfiles;
    int ready;                 /* every file loaded once (readyz) */
    int phase;                 /* 0 running, 1 stopping, 2 done */
    int64_t stop_deadline;
    int exit_code;
    int sigfd;
    lira_timer tick;           /* drain checks, snapshot refresh */
    uint64_t wd_gen;           /* bumped for every resume batch */
    int64_t wd_budget_ns;
    /* reload */
    int inofd;
    int reload_pending;        /* a reload of everything is due */
    lira_timer reload_timer;   /* debounce */
    char **dirty;              /* files changed since the last reload */
    size_t ndirty;
    void *watches;             /* rt_reload.c's wd -> path table */
    /* admin */
    void *admin;
    void *webhooks;            /* rt_wh (rt_webhook.h); NULL without --listen */
    char search_dir[4096];     /* the binary's folder (module paths) */
};

/* ------------------------------------------------------------ rt_cli.c */
int lira_run_main(int argc, char **argv);
int lira_check_main(int argc, char **argv);

/* ------------------------------------------------------ rt_state.c, rt_tasks.c */

/* Create a version of `file` (not yet started): a new lua_State sharing r's
 * engine (NULL engine: a private one, for lira check), the file run and its
 * value validated. On failure returns NULL and writes "file:line: message"
 * to err. `check` = load for lira check (lira.config never raises). */
rt_version *rt_version_load(rt *r, const char *file, int check, char *err, size_t cap);
void rt_version_close(rt_version *v);
/* For lira check: the lint warnings of a loaded version, each pushed as
 * "file:line: warning: message" through fn. Returns how many. */
int rt_version_lint(rt_version *v, const char *file, void (*fn)(void *ud, const char *line),
                    void *ud);
/* For the admin page: JSON array of v's clients (malloc'd), or NULL. */
char *rt_version_clients_json(rt_version *v);
/* A finished task that never reported (killed by an out-of-memory error
 * in its runner): report it now. */
void rt_version_check_tasks(rt_version *v);
/* Resume v's ready tasks (watchdog armed). Returns how many ran. */
int rt_version_run_ready(rt_version *v);
int rt_version_has_ready(rt_version *v);
/* Unfinished tasks in v's state. */
int rt_version_tasks(rt_version *v);
/* Spawn fn kind (RT_RUN/RT_START/RT_STOP) as a task. LIRA_OK or an error
 * (logged). */
int rt_version_spawn(rt_version *v, int kind);
/* Cancel v's unfinished tasks spawned by the runtime. */
void rt_version_cancel(rt_version *v);
void rt_hash_file(const char *file, char out[17]);

/* ------------------------------------------------------------ rt_super.c */
void rt_integ_start(rt_integ *in);                 /* schedule / start its work */
void rt_integ_halt(rt_integ *in);                  /* stop timers */
/* A task of v ended (from the runner's report). */
void rt_on_report(rt_version *v, int kind, int ok, const char *msg, const char *tb);
/* Retire v: stopping() true, stop(ctx) spawned, drained later. */
void rt_retire(rt *r, rt_version *v);
/* Close drained versions; force those past their deadline. */
void rt_drain_tick(rt *r);
void rt_log(rt *r, int level, const char *msg, const char *integ, const char *k1,
            const char *v1, const char *k2, const char *v2);
const char *rt_status_name(int st);

/* ------------------------------------------------------------ rt_loop.c */
int rt_run(rt *r);
/* Load `file` (new or changed) and install it; returns LIRA_OK or an error
 * (logged, kept in the broken list or on the integration). */
int rt_load_file(rt *r, const char *file);
/* The file is gone: stop its integration. */
void rt_unload_file(rt *r, const char *file);
rt_integ *rt_find_file(rt *r, const char *file);
rt_integ *rt_find_name(rt *r, const char *name);
/* Expand PATH arguments into integration files (sorted, absolute). */
int rt_collect_files(const char *const *paths, int n, char ***out, size_t *nout, char *err,
                     size_t cap);
void rt_free_files(char **files, size_t n);
void rt_set_broken(rt *r, const char *file, const char *error);

/* ------------------------------------------------------------ rt_reload.c */
int rt_reload_init(rt *r);
void rt_reload_free(rt *r);
void rt_reload_all(rt *r);     /* SIGHUP */

/* ------------------------------------------------------------ rt_admin.c */
int rt_admin_start(rt *r, const char *addr, char *err, size_t cap);
void rt_admin_stop(rt *r);

/* ------------------------------------------------------------ rt_check.c */
int rt_check_files(const rt_opts *o);

#endif
