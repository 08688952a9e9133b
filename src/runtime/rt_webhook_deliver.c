/* rt_webhook_deliver.c — the loop side of webhooks: deliver stored events
 * to handle(event, ctx), retry, dead-letter, purge, export metrics and
 * answer /admin/webhooks (docs/webhooks.md, "Receiving").
 *
 * Order: per route one event at a time, the oldest due first, so a route's
 * handler gets first attempts in arrival order; an event waiting out its
 * backoff is not due and does not hold back later ones. Each delivery is
 * a task in the integration's current state (rt_wh_spawn.c: lira.runtime's
 * runner, a span "<integration> webhook", errors with tracebacks), which
 * reports back here; only then is the event marked done or failed. The
 * loop thread has its own store handle (one per thread). */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>

#include "core/status.h"
#include "engine/log.h"
#include "engine/telemetry.h"
#include "runtime/rt_webhook.h"
#include "runtime/rt_wh_due.h"

#define BACKOFF_BASE_MS 500
#define BACKOFF_MAX_MS (5 * 60 * 1000)
#define PURGE_EVERY_MS 60000
#define CKPT_EVERY_MS 1000
#define DEPTH_EVERY_MS 1000

typedef struct last_ev {
    char id[128];
    int64_t seq, at_ms;
    int attempt;
    char result[16];           /* ok, error, dead */
    char error[160];
} last_ev;

typedef struct rstate {
    char *path;
    int64_t inflight;          /* seq, 0 when idle */
    rt_version *v;             /* where it runs */
    int64_t received_ms;
    int attempt;
    rt_wh_due *due;            /* the route's next events (rt_wh_due.c) */
    int64_t pending, dead;
    uint64_t handled, failed, dead_total;
    last_ev last[RT_WH_LAST_EVENTS];
    int nlast, ilast;
    struct rstate *next;
} rstate;

struct rt_wh_loop {
    lira_store *s;
    lira_timer timer;
    rstate *routes;
    int64_t last_purge, last_ckpt, last_depth;
    uint64_t gen;              /* bumped when the committer stored events */
    int due_dirty;             /* a retry time may have changed: re-arm */
};

/* ------------------------------------------------------------ helpers */

static int64_t wall_ms(rt *r)
{
    return lira_engine_wall(r->e) / 1000000;
}

static rstate *rs_for(struct rt_wh_loop *L, const char *path)
{
    for (rstate *s = L->routes; s; s = s->next)
        if (strcmp(s->path, path) == 0)
            return s;
    rstate *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path)) || !(s->due = rt_wh_due_new())) {
        if (s)
            free(s->path);
        free(s);
        return NULL;
    }
    s->next = L->routes;
    L->routes = s;
    return s;
}

static lira_metrics *metrics(rt *r)
{
    lira_telemetry *t = NULL;
    return lira_telemetry_get(r->e, &t) == LIRA_OK ? lira_telemetry_metrics(t) : NULL;
}

static lira_series *series(rt *r, const char *name, lira_metric_type type, const char *help,
                           const char *route, const char *result)
{
    static const char *const l1[] = {"route"};
    static const char *const l2[] = {"route", "result"};
    static const double bounds[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300};
    lira_metrics *m = metrics(r);
    lira_metric_def d = {.name = name, .help = help, .type = type, .labels = result ? l2 : l1,
                         .nlabels = result ? 2 : 1, .bounds = bounds,
                         .nbounds = sizeof bounds / sizeof bounds[0]};
    lira_metric *f = NULL;
    lira_series *s = NULL;
    const char *vals[2] = {route, result};
    if (!m || lira_metrics_define(m, &d, &f) != LIRA_OK ||
        lira_metric_series(f, vals, result ? 2 : 1, &s) != LIRA_OK)
        return NULL;
    return s;
}

static void attempt_count(rt *r, const char *route, const char *result)
{
    lira_series *s = series(r, "lira_webhook_attempts_total", LIRA_METRIC_COUNTER,
                            "webhook handler attempts by outcome (ok, error, dead)", route,
                            result);
    if (s)
        lira_series_add(s, 1);
}

static void remember(rstate *rs, const char *id, int64_t seq, int attempt, const char *result,
                     const char *error, int64_t at_ms)
{
    last_ev *e = &rs->last[rs->ilast];
    rs->ilast = (rs->ilast + 1) % RT_WH_LAST_EVENTS;
    if (rs->nlast < RT_WH_LAST_EVENTS)
        rs->nlast++;
    snprintf(e->id, sizeof e->id, "%s", id ? id : "");
    e->seq = seq;
    e->attempt = attempt;
    e->at_ms = at_ms;
    snprintf(e->result, sizeof e->result, "%s", result);
    snprintf(e->error, sizeof e->error, "%s", error ? error : "");
}

/* ------------------------------------------------------------ start / stop */

static void on_timer(lira_timer *t, void *ud);

static int open_loop_store(rt *r)
{
    rt_wh *w = r->webhooks;
    struct rt_wh_loop *L = w->loop;
    if (lira_store_is_open(L->s))
        return LIRA_OK;
    lira_store_options o;
    memset(&o, 0, sizeof o);
    o.sync_full = w->sync_full;
    o.inbox_retention_ms = w->retention_ms;
    int rc = lira_store_open(L->s, w->state_path, &o);
    if (rc != LIRA_OK)
        rt_log(r, LIRA_LOG_ERROR, "webhooks: cannot open the store for deliveries", NULL,
               "error", lira_store_errmsg(L->s), NULL, NULL);
    return rc;
}

int rt_wh_loop_start(rt *r)
{
    rt_wh *w = r->webhooks;
    struct rt_wh_loop *L = calloc(1, sizeof *L);
    if (!L || lira_store_new(&L->s) != LIRA_OK) {
        free(L);
        return LIRA_ENOMEM;
    }
    lira_timer_init(&L->timer);
    L->due_dirty = 1;
    w->loop = L;
    return LIRA_OK;
}

void rt_wh_loop_stop(rt *r)
{
    rt_wh *w = r->webhooks;
    if (!w || !w->loop)
        return;
    struct rt_wh_loop *L = w->loop;
    if (r->e)
        lira_timer_stop(r->e, &L->timer);
    if (lira_store_is_open(L->s))
        lira_store_wal_checkpoint(L->s, NULL, NULL);
    lira_store_free(L->s);
    while (L->routes) {
        rstate *s = L->routes;
        L->routes = s->next;
        free(s->path);
        rt_wh_due_free(s->due);
        free(s);
    }
    free(L);
    w->loop = NULL;
}

/* ------------------------------------------------------------ outcomes */

static int64_t backoff_ms(int attempts)
{
    int64_t d = BACKOFF_BASE_MS;
    for (int i = 1; i < attempts && d < BACKOFF_MAX_MS; i++)
        d *= 2;
    return d < BACKOFF_MAX_MS ? d : BACKOFF_MAX_MS;
}

static void schedule(rt *r, int64_t at_mono)
{
    struct rt_wh_loop *L = ((rt_wh *)r->webhooks)->loop;
    if (!lira_timer_armed(&L->timer) || L->timer.at > at_mono)
        lira_timer_start(r->e, &L->timer, at_mono, on_timer, r);
}

static void delivered(rt *r, const char *path, int64_t seq, const char *id, int ok,
                      const char *msg)
{
    rt_wh *w = r->webhooks;
    if (!w || !w->loop || !lira_store_is_open(w->loop->s))
        return;
    struct rt_wh_loop *L = w->loop;
    rstate *rs = rs_for(L, path);
    if (!rs || rs->inflight != seq)
        return;
    rs->inflight = 0;
    rs->v = NULL;
    int64_t now = wall_ms(r);
    rt_wh_table *t = rt_wh_table_get(w);
    const rt_wh_route *ro = rt_wh_find(t, path);
    int max = ro ? ro->max_attempts : RT_WH_MAX_ATTEMPTS_DEFAULT;
    rt_wh_table_put(w, t);
    if (ok) {
        if (rt_wh_mark_done(w, seq, now) == LIRA_OK ||
            lira_store_inbox_done(L->s, seq, now) == LIRA_OK)
            rt_wh_due_drop(rs->due, seq);
        rs->handled++;
        attempt_count(r, path, "ok");
        lira_series *h = series(r, "lira_webhook_processing_seconds", LIRA_METRIC_HISTOGRAM,
                                "from receipt to a successful handle(), seconds", path, NULL);
        if (h)
            lira_series_observe(h, (double)(now - rs->received_ms) / 1000.0);
        remember(rs, id, seq, rs->attempt, "ok", NULL, now);
    } else {
        int dead = 0;
        int64_t next_at = now + backoff_ms(rs->attempt);
        if (lira_store_inbox_fail(L->s, seq, msg ? msg : "error", next_at, max, &dead) ==
            LIRA_OK) {
            if (dead)
                rt_wh_due_drop(rs->due, seq);
            else
                rt_wh_due_failed(rs->due, seq, next_at);
        }
        L->due_dirty = 1;
        rs->failed++;
        attempt_count(r, path, dead ? "dead" : "error");
        if (dead)
            rs->dead_total++;
        remember(rs, id, seq, rs->attempt, dead ? "dead" : "error", msg, now);
        rt_log(r, dead ? LIRA_LOG_ERROR : LIRA_LOG_WARN,
               dead ? "webhook: handler failed, the event is dead-lettered"
                    : "webhook: handler failed, will retry",
               ro ? ro->integ : NULL, "event_id", id, "error", msg);
    }
    schedule(r, lira_engine_now(r->e));
}

/* report(ok, msg, tb) of lira.runtime's runner; upvalues: r, path, seq, id. */
static int l_report(lua_State *Ls)
{
    rt *r = lua_touserdata(Ls, lua_upvalueindex(1));
    delivered(r, lua_tostring(Ls, lua_upvalueindex(2)), lua_tointeger(Ls, lua_upvalueindex(3)),
              lua_tostring(Ls, lua_upvalueindex(4)), lua_toboolean(Ls, 1), lua_tostring(Ls, 2));
    return 0;
}

static int version_alive(rt *r, rt_version *v)
{
    for (rt_integ *in = r->integs; in; in = in->next)
        if (in->cur == v)
            return 1;
    for (rt_version *d = r->draining; d; d = d->next)
        if (d == v)
            return 1;
    return 0;
}

/* Start the next due event of one route; returns 1 when one started. */
static int pump_route(rt *r, const rt_wh_route *ro)
{
    struct rt_wh_loop *L = ((rt_wh *)r->webhooks)->loop;
    rstate *rs = rs_for(L, ro->path);
    if (!rs)
        return 0;
    if (rs->inflight) {
        if (version_alive(r, rs->v))
            return 0;
        rs->inflight = 0;   /* its state is gone: the event is still pending */
    }
    rt_integ *in = rt_find_name(r, ro->integ);
    if (!in || !in->cur || in->cur->stopping)
        return 0;
    const lira_store_event *ev = rt_wh_due_next(rs->due, L->s, ro->path, wall_ms(r), L->gen);
    int started = 0;
    if (ev) {
        char err[256];
        if (rt_wh_spawn(r, in->cur, ro->path, ev, l_report, err, sizeof err) == LIRA_OK) {
            rs->inflight = ev->seq;
            rs->v = in->cur;
            rs->received_ms = ev->received_at_ms;
            rs->attempt = ev->attempts + 1;
            started = 1;
        } else {
            rt_log(r, LIRA_LOG_ERROR, "webhook: cannot start a delivery", ro->integ, "error",
                   err, NULL, NULL);
        }
    }
    return started;
}

static void pump(rt *r)
{
    rt_wh *w = r->webhooks;
    if (!w || !w->loop || r->phase != 0 || open_loop_store(r) != LIRA_OK)
        return;
    rt_wh_table *t = rt_wh_table_get(w);
    for (size_t i = 0; t && i < t->n; i++)
        pump_route(r, &t->routes[i]);
    rt_wh_table_put(w, t);
    /* The earliest retry is asked for only when one may have moved (a
     * failed attempt) and on the tick (an operator's replay), not after
     * every delivery: new events are due at once and come with a wake. */
    if (!w->loop->due_dirty)
        return;
    w->loop->due_dirty = 0;
    int64_t at;
    if (lira_store_inbox_next_due(w->loop->s, &at) == LIRA_OK) {
        int64_t delta = at - wall_ms(r);
        if (delta > 0)
            schedule(r, lira_engine_now(r->e) + delta * 1000000);
    }
}

static void on_timer(lira_timer *t, void *ud)
{
    (void)t;
    pump(ud);
}

static void on_wake(void *ud)
{
    rt *r = ud;
    rt_wh *w = r->webhooks;
    if (!w)
        return;
    __atomic_store_n(&w->wake_pending, 0, __ATOMIC_RELEASE);
    if (w->loop)
        w->loop->gen++;
    pump(r);
}

void rt_wh_wake(rt *r)
{
    rt_wh *w = r->webhooks;
    if (__atomic_exchange_n(&w->wake_pending, 1, __ATOMIC_ACQ_REL) == 0)
        if (lira_engine_post(r->e, on_wake, r) != LIRA_OK)
            __atomic_store_n(&w->wake_pending, 0, __ATOMIC_RELEASE);
}

/* ------------------------------------------------------------ the tick */

static void export_metrics(rt *r)
{
    rt_wh *w = r->webhooks;
    pthread_mutex_lock(&w->mu);
    rt_wh_stats *list = w->stats;
    pthread_mutex_unlock(&w->mu);
    /* Stats nodes are only ever prepended on this thread, never freed
     * before shutdown: walking from the head taken is safe. */
    for (rt_wh_stats *s = list; s; s = s->next) {
        for (int k = 0; k < RT_WH_NRESULTS; k++) {
            uint64_t v = __atomic_load_n(&s->received[k], __ATOMIC_RELAXED);
            if (v == s->exported[k])
                continue;
            lira_series *se = series(r, "lira_webhook_received_total", LIRA_METRIC_COUNTER,
                                     "webhook requests by route and result", s->route,
                                     rt_wh_result_name(k));
            if (se)
                lira_series_add(se, (double)(v - s->exported[k]));
            s->exported[k] = v;
        }
    }
}

static void depth(rt *r, int64_t now)
{
    struct rt_wh_loop *L = ((rt_wh *)r->webhooks)->loop;
    for (rstate *rs = L->routes; rs; rs = rs->next) {
        lira_store_inbox_counts(L->s, rs->path, &rs->pending, NULL, &rs->dead);
        lira_series *s = series(r, "lira_webhook_inbox_depth", LIRA_METRIC_GAUGE,
                                "events received and not yet handled (pending)", rs->path, NULL);
        if (s)
            lira_series_set(s, (double)rs->pending);
        s = series(r, "lira_webhook_dead_letters", LIRA_METRIC_GAUGE,
                   "dead-lettered events held (lira webhooks list --dead)", rs->path, NULL);
        if (s)
            lira_series_set(s, (double)rs->dead);
    }
    L->last_depth = now;
}

void rt_wh_tick(rt *r)
{
    rt_wh *w = r->webhooks;
    if (!w || !w->loop || !w->batcher)
        return;
    struct rt_wh_loop *L = w->loop;
    L->due_dirty = 1;
    pump(r);
    if (!lira_store_is_open(L->s))
        return;
    int64_t now = wall_ms(r);
    export_metrics(r);
    if (now - L->last_depth >= DEPTH_EVERY_MS)
        depth(r, now);
    /* The receivers never checkpoint (their commits stay short); we do. */
    if (now - L->last_ckpt >= CKPT_EVERY_MS) {
        lira_store_wal_checkpoint(L->s, NULL, NULL);
        L->last_ckpt = now;
    }
    if (now - L->last_purge >= PURGE_EVERY_MS) {
        int64_t removed = 0;
        lira_store_inbox_purge(L->s, now, &removed);
        L->last_purge = now;
    }
}

/* ------------------------------------------------------------ admin */

static cJSON *route_json(rt *r, const rt_wh_route *ro)
{
    struct rt_wh_loop *L = ((rt_wh *)r->webhooks)->loop;
    rstate *rs = rs_for(L, ro->path);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "route", ro->path);
    cJSON_AddStringToObject(o, "integration", ro->integ);
    cJSON_AddStringToObject(o, "verify", ro->verify ? (ro->cfg.scheme == LIRA_WEBHOOK_STANDARD
                                                          ? "standard"
                                                      : ro->cfg.scheme == LIRA_WEBHOOK_STRIPE
                                                          ? "stripe"
                                                      : ro->cfg.scheme == LIRA_WEBHOOK_GITHUB
                                                          ? "github"
                                                          : "hmac")
                                                    : "none");
    int64_t p = 0, d = 0, dd = 0;
    if (lira_store_is_open(L->s))
        lira_store_inbox_counts(L->s, ro->path, &p, &d, &dd);
    cJSON_AddNumberToObject(o, "pending", (double)p);
    cJSON_AddNumberToObject(o, "done", (double)d);
    cJSON_AddNumberToObject(o, "dead", (double)dd);
    cJSON *rc = cJSON_AddObjectToObject(o, "received");
    for (int k = 0; ro->stats && k < RT_WH_NRESULTS; k++) {
        uint64_t v = __atomic_load_n(&ro->stats->received[k], __ATOMIC_RELAXED);
        if (v)
            cJSON_AddNumberToObject(rc, rt_wh_result_name(k), (double)v);
    }
    cJSON_AddNumberToObject(o, "handled", rs ? (double)rs->handled : 0);
    cJSON_AddNumberToObject(o, "failed_attempts", rs ? (double)rs->failed : 0);
    cJSON_AddBoolToObject(o, "in_flight", rs && rs->inflight);
    cJSON *arr = cJSON_AddArrayToObject(o, "last_events");
    for (int i = 0; rs && i < rs->nlast; i++) {
        const last_ev *e = &rs->last[(rs->ilast - 1 - i + 2 * RT_WH_LAST_EVENTS) %
                                     RT_WH_LAST_EVENTS];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "id", e->id);
        cJSON_AddNumberToObject(x, "seq", (double)e->seq);
        cJSON_AddNumberToObject(x, "attempt", e->attempt);
        cJSON_AddStringToObject(x, "result", e->result);
        cJSON_AddNumberToObject(x, "at", (double)e->at_ms / 1000.0);
        if (e->error[0])
            cJSON_AddStringToObject(x, "error", e->error);
        cJSON_AddItemToArray(arr, x);
    }
    return o;
}

char *rt_wh_admin_json(rt *r)
{
    rt_wh *w = r->webhooks;
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "routes");
    if (w && w->loop) {
        open_loop_store(r);
        rt_wh_table *t = rt_wh_table_get(w);
        for (size_t i = 0; t && i < t->n; i++)
            cJSON_AddItemToArray(arr, route_json(r, &t->routes[i]));
        rt_wh_table_put(w, t);
    }
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}
