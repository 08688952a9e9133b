/* rt_webhook.h — receiving webhooks in `lira run` (docs/webhooks.md,
 * "Receiving").
 *
 *   rt_webhook.c          routes: read from each integration's `webhooks`
 *                         table at load time into C (verify config, id
 *                         rule, limits), published as an immutable,
 *                         refcounted table the MHD threads read
 *   rt_webhook_http.c     the MHD side: body, verify, event id, the answer
 *   rt_wh_commit.c        the committer thread: group commit into the inbox,
 *                         then resume the suspended requests
 *   rt_webhook_deliver.c  the loop side: handle(event, ctx) per route in
 *                         arrival order, retries, dead letters, purge,
 *                         metrics, /admin/webhooks
 *   rt_webhooks_cli.c     `lira webhooks list|replay`
 *
 * Threading: the route table is built on the loop thread and never changed
 * once published; MHD threads take a reference under wh->mu and drop it
 * when their request ends, so a reload never frees a table in use. Per-
 * route counters (rt_wh_stats) live as long as the runtime and are updated
 * with atomics from any thread; the loop thread moves them into metrics. */
#ifndef LIRA_RT_WEBHOOK_H
#define LIRA_RT_WEBHOOK_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "core/webhook_verify.h"
#include "engine/store.h"
#include "runtime/runtime.h"

#define RT_WH_MAX_BODY_DEFAULT ((size_t)1 << 20) /* bytes */
#define RT_WH_MAX_ATTEMPTS_DEFAULT 10
#define RT_WH_LAST_EVENTS 10                     /* per route, for /admin */

/* Results of a received request (metric label "result"). */
enum {
    RT_WH_ACCEPTED, RT_WH_DUPLICATE, RT_WH_BAD_SIGNATURE, RT_WH_EXPIRED, RT_WH_MALFORMED,
    RT_WH_MISSING_HEADER, RT_WH_TOO_LARGE, RT_WH_MISSING_ID, RT_WH_NOT_FOUND,
    RT_WH_BAD_METHOD, RT_WH_STORE_ERROR, RT_WH_NRESULTS
};
const char *rt_wh_result_name(int result);

/* Counters of one route path, kept across reloads. */
typedef struct rt_wh_stats {
    char *route;
    uint64_t received[RT_WH_NRESULTS];      /* atomics */
    uint64_t exported[RT_WH_NRESULTS];      /* loop thread: already in metrics */
    struct rt_wh_stats *next;
} rt_wh_stats;

typedef struct rt_wh_route {
    char *path;
    char *integ;                            /* integration name */
    int verify;                             /* 0: verify = false (unsigned) */
    lira_webhook_config cfg;                /* strings below are owned */
    char **secrets;
    char *header, *prefix, *timestamp_header, *signed_content;
    int id_json;                            /* 1: json:path, 0: header:NAME */
    char *id_key;
    size_t max_body;                        /* bytes */
    int max_attempts;
    rt_wh_stats *stats;
} rt_wh_route;

typedef struct rt_wh_table {
    int refs;                               /* under wh->mu */
    size_t n;
    rt_wh_route *routes;                    /* sorted by path */
} rt_wh_table;

typedef struct rt_wh_batcher rt_wh_batcher;
typedef struct rt_wh_loop rt_wh_loop;

typedef struct rt_wh {
    rt *r;
    pthread_mutex_t mu;
    rt_wh_table *table;                     /* current; under mu */
    rt_wh_stats *stats;                     /* under mu */
    char state_path[4096];
    int sync_full;
    int64_t retention_ms;
    rt_wh_batcher *batcher;                 /* MHD side */
    rt_wh_loop *loop;                       /* loop side */
    int wake_pending;                       /* atomic: a delivery wake is posted */
    int stopping;                           /* atomic: shutdown removed the routes */
} rt_wh;

/* ------------------------------------------------------------ rt_webhook.c */

/* Create r->webhooks (opens nothing yet). LIRA_OK / LIRA_ENOMEM. */
int rt_wh_init(rt *r);
void rt_wh_free(rt *r);
/* Read v's `webhooks` table into routes (loop thread, at load). Checks
 * every route's verify config and that no route belongs to another
 * integration than `integ`. On error writes "file:1: message" to err and
 * returns LIRA_EINVAL. *out: a malloc'd array of *n routes (maybe none). */
int rt_wh_routes_read(rt *r, rt_version *v, const char *file, rt_wh_route **out, size_t *n,
                      char *err, size_t cap);
void rt_wh_routes_free(rt_wh_route *routes, size_t n);
/* Publish: every route of `integ` is replaced by routes[0..n) (taken over).
 * n == 0 and routes NULL removes them (unload). */
int rt_wh_install(rt *r, const char *integ, rt_wh_route *routes, size_t n);
/* Take / drop a reference to the current table (any thread). */
rt_wh_table *rt_wh_table_get(rt_wh *w);
void rt_wh_table_put(rt_wh *w, rt_wh_table *t);
const rt_wh_route *rt_wh_find(const rt_wh_table *t, const char *path);
void rt_wh_count(rt_wh_stats *s, int result);

/* ------------------------------------------------------------ rt_wh_commit.c */

/* rt_wh_http_start opens the receivers' store handle and
 * starts the committer thread; rt_wh_http_stop (after the listener
 * stopped) commits what is still queued and joins it. */
int rt_wh_http_start(rt_wh *w, char *err, size_t cap);
void rt_wh_http_stop(rt_wh *w);
/* Shutdown, before MHD_stop_daemon: refuse new queued requests and wait
 * until every suspended one was committed and resumed (MHD must not stop
 * with a suspended connection). */
void rt_wh_http_quiesce(rt_wh *w);
/* Loop thread: mark a delivered event done through the committer
 * (committed with the next batch of inserts; returns once durable). */
int rt_wh_mark_done(rt_wh *w, int64_t seq, int64_t now_ms);

struct MHD_Connection;
/* One event for the committer. Owned by the caller; after
 * rt_wh_commit_async it is the committer's until `done` (then rc: LIRA_OK
 * or a store error, result: LIRA_STORE_INSERTED / _DUPLICATE). */
typedef struct rt_wh_item {
    lira_store_event_in ev;
    int rc, result, done;
    int64_t done_seq;                       /* > 0: not an insert but this event's done mark */
    struct MHD_Connection *conn;            /* resumed when done */
    struct rt_wh_item *next;
} rt_wh_item;
/* MHD thread, inside the access handler: queue `it` and suspend c; the
 * committer resumes c once `it` is done. LIRA_ESTATE while shutting down
 * (nothing queued, c not suspended). */
int rt_wh_commit_async(rt_wh *w, rt_wh_item *it, struct MHD_Connection *c);

/* ------------------------------------------------------------ rt_webhook_http.c */

/* Serve a request to a webhook route: called by rt_admin.c's handler for
 * every call of a request whose first call returned non-NULL from
 * rt_wh_http_begin. A step may suspend the connection (the store); MHD
 * calls it again once resumed. */
void *rt_wh_http_begin(rt_wh *w, struct MHD_Connection *c, const char *url,
                       const char *method);
int rt_wh_http_step(rt_wh *w, void *req, struct MHD_Connection *c, const char *upload,
                    size_t *upload_size);
/* 1 once the request was queued for the committer (its connection was
 * suspended at least once). */
int rt_wh_http_parked(const void *req);
void rt_wh_http_end(rt_wh *w, void *req);

/* ------------------------------------------------------------ rt_webhook_deliver.c */

int rt_wh_loop_start(rt *r);
void rt_wh_loop_stop(rt *r);
/* Any thread: events were stored; deliver soon (coalesced). */
void rt_wh_wake(rt *r);
/* Loop thread, every tick: deliver what is due, purge, export metrics. */
void rt_wh_tick(rt *r);
/* JSON of /admin/webhooks (malloc'd), loop thread. */
char *rt_wh_admin_json(rt *r);
/* Event headers encoding in the store: name NUL value NUL, repeated. */

/* ------------------------------------------------------------ rt_wh_spawn.c */

/* Loop thread: start ev's delivery as a task in v's state. When it ends,
 * `report` runs as a C closure with upvalues (r as light userdata, path,
 * seq, id) and arguments (ok, message, traceback). LIRA_OK, or LIRA_EINVAL
 * with Lua's error message in err (the state's stack is left as it was). */
int rt_wh_spawn(rt *r, rt_version *v, const char *path, const lira_store_event *ev,
                lua_CFunction report, char *err, size_t cap);

/* ------------------------------------------------------------ rt_webhooks_cli.c */
int lira_webhooks_main(int argc, char **argv);

#endif
