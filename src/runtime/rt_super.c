/* rt_super.c — scheduling and supervision of integrations.
 *
 * `every`: one engine timer per integration. Each due time is the previous
 * one plus `every` jittered by ±10 %; a run still going when the next is
 * due is skipped (counted, logged), so runs never overlap.
 * `start`: a task restarted after a crash with backoff 1 s doubling to
 * 60 s; the backoff resets once it has run healthy for RT_HEALTHY_S. Five
 * failures in a row (runs or starts) mark the integration failed; it is
 * still retried at the slow rate, and one healthy run clears it.
 * Retired versions (reload, removal, shutdown) see ctx.stopping() turn
 * true, get stop(ctx), and are closed once their tasks are over or, past
 * --drain, after their tasks were cancelled. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "engine/telemetry.h"
#include "runtime/runtime.h"

#define RT_HEALTHY_S 30.0      /* a start running this long resets the backoff */
#define RT_BACKOFF_MAX 60.0
#define RT_FAILED_AFTER 5      /* failures in a row before "failed" */
#define RT_CANCEL_GRACE_NS 1000000000LL

static const char *const kind_label[3] = {"run", "start", "stop"};

const char *rt_status_name(int st)
{
    switch (st) {
    case RT_ST_LOADING: return "loading";
    case RT_ST_RUNNING: return "running";
    case RT_ST_BACKOFF: return "backing-off";
    case RT_ST_FAILED: return "failed";
    default: return "stopped";
    }
}

/* ------------------------------------------------------------ logging */

void rt_log(rt *r, int level, const char *msg, const char *integ, const char *k1,
            const char *v1, const char *k2, const char *v2)
{
    lira_telemetry *t = NULL;
    if (!r->e || lira_telemetry_get(r->e, &t) != LIRA_OK)
        return;
    lira_log_field f[3];
    size_t n = 0;
    if (integ)
        f[n++] = (lira_log_field){.key = "integration", .type = LIRA_LOGF_STR,
                                  .flags = LIRA_LOGF_DEDUPE, .s = integ, .len = SIZE_MAX};
    if (k1 && v1)
        f[n++] = (lira_log_field){.key = k1, .type = LIRA_LOGF_STR, .s = v1, .len = SIZE_MAX};
    if (k2 && v2)
        f[n++] = (lira_log_field){.key = k2, .type = LIRA_LOGF_STR, .s = v2, .len = SIZE_MAX};
    lira_log_write(lira_telemetry_log(t), (lira_log_level)level, lira_engine_now(r->e),
                   lira_engine_wall(r->e), msg, f, n);
}

/* lira_integration_<what>_total{integration[,result]} += 1 */
static void count(rt *r, const char *what, const char *integ, const char *result)
{
    lira_telemetry *t = NULL;
    if (!r->e || lira_telemetry_get(r->e, &t) != LIRA_OK)
        return;
    static const char *const l1[] = {"integration"};
    static const char *const l2[] = {"integration", "result"};
    char name[96];
    snprintf(name, sizeof name, "lira_integration_%s_total", what);
    lira_metric_def d = {.name = name, .help = "lira run: integration events (docs/runtime.md)",
                         .type = LIRA_METRIC_COUNTER, .labels = result ? l2 : l1,
                         .nlabels = result ? 2 : 1};
    lira_metric *m = NULL;
    lira_series *s = NULL;
    const char *vals[2] = {integ, result};
    if (lira_metrics_define(lira_telemetry_metrics(t), &d, &m) == LIRA_OK &&
        lira_metric_series(m, vals, result ? 2 : 1, &s) == LIRA_OK)
        lira_series_add(s, 1);
}

/* ------------------------------------------------------------ scheduling */

static int64_t jittered(rt *r, double every)
{
    double f = 0.9 + 0.2 * lira_rng_uniform(lira_engine_rng(r->e));
    return (int64_t)(every * f * 1e9);
}

static void on_run_due(lira_timer *tm, void *ud)
{
    (void)tm;
    rt_integ *in = ud;
    rt *r = in->r;
    rt_version *v = in->cur;
    if (!v || r->phase != 0)
        return;
    int64_t now = lira_engine_now(r->e);
    if (v->active[RT_RUN]) {
        in->skipped++;
        count(r, "runs_skipped", in->name, NULL);
        rt_log(r, LIRA_LOG_WARN, "integration: run skipped, the previous one is still going",
               in->name, NULL, NULL, NULL, NULL);
    } else if (rt_version_spawn(v, RT_RUN) == LIRA_OK) {
        in->runs++;
        in->run_started = now;
        in->last_start_wall = lira_engine_wall(r->e);
        snprintf(in->last_result, sizeof in->last_result, "running");
    }
    int64_t next = in->next_due + jittered(r, in->every);
    if (next <= now)
        next = now + jittered(r, in->every);
    in->next_due = next;
    in->next_wall = lira_engine_wall(r->e) + (next - now);
    lira_timer_start(r->e, &in->run_timer, next, on_run_due, in);
}

static void spawn_start(rt_integ *in)
{
    rt *r = in->r;
    if (!in->cur || r->phase != 0)
        return;
    if (rt_version_spawn(in->cur, RT_START) == LIRA_OK) {
        in->start_began = lira_engine_now(r->e);
        in->restart_at_wall = 0;
        if (in->status == RT_ST_BACKOFF)
            in->status = RT_ST_RUNNING;
    }
}

static void on_start_due(lira_timer *tm, void *ud)
{
    (void)tm;
    rt_integ *in = ud;
    in->restarts++;
    count(in->r, "restarts", in->name, NULL);
    rt_log(in->r, LIRA_LOG_INFO, "integration: restarting start()", in->name, NULL, NULL, NULL,
           NULL);
    spawn_start(in);
}

void rt_integ_start(rt_integ *in)
{
    rt *r = in->r;
    rt_version *v = in->cur;
    in->status = RT_ST_RUNNING;
    in->every = v->every;
    in->has_start = v->has[RT_START];
    int64_t now = lira_engine_now(r->e);
    if (in->every > 0 && !lira_timer_armed(&in->run_timer)) {
        in->next_due = now;
        in->next_wall = lira_engine_wall(r->e);
        lira_timer_start(r->e, &in->run_timer, now, on_run_due, in);
    }
    if (in->has_start) {
        in->backoff_s = 1;
        lira_timer_stop(r->e, &in->start_timer);
        spawn_start(in);
    }
}

void rt_integ_halt(rt_integ *in)
{
    lira_timer_stop(in->r->e, &in->run_timer);
    lira_timer_stop(in->r->e, &in->start_timer);
    in->next_wall = 0;
    in->restart_at_wall = 0;
}

/* ------------------------------------------------------------ outcomes */

static void keep_error(rt_integ *in, const char *msg, const char *tb)
{
    free(in->last_error);
    free(in->last_traceback);
    in->last_error = strdup(msg ? msg : "?");
    in->last_traceback = tb ? strdup(tb) : NULL;
    in->last_error_wall = lira_engine_wall(in->r->e);
}

static void failed_once(rt_integ *in)
{
    in->consecutive++;
    if (in->consecutive >= RT_FAILED_AFTER)
        in->status = RT_ST_FAILED;
}

static void start_crashed(rt_integ *in, int64_t now)
{
    rt *r = in->r;
    in->crashes++;
    if ((double)(now - in->start_began) / 1e9 >= RT_HEALTHY_S)
        in->backoff_s = 1;
    double delay = in->backoff_s;
    in->backoff_s = fmin(in->backoff_s * 2, RT_BACKOFF_MAX);
    if (in->status != RT_ST_FAILED)
        in->status = RT_ST_BACKOFF;
    in->restart_at_wall = lira_engine_wall(r->e) + (int64_t)(delay * 1e9);
    lira_timer_start(r->e, &in->start_timer, now + (int64_t)(delay * 1e9), on_start_due, in);
    char d[32];
    snprintf(d, sizeof d, "%g", delay);
    rt_log(r, LIRA_LOG_WARN, "integration: start() will be restarted", in->name, "delay_s", d,
           NULL, NULL);
}

void rt_on_report(rt_version *v, int kind, int ok, const char *msg, const char *tb)
{
    rt *r = v->r;
    v->active[kind] = 0;
    char buf[512];
    if (!ok && v->mem_exceeded) {
        snprintf(buf, sizeof buf, "memory limit exceeded: this integration may use %zu bytes "
                                  "(--memory-limit); %s", v->mem_limit, msg ? msg : "");
        msg = buf;
    }
    v->mem_exceeded = 0;
    rt_integ *in = v->in && v->in->cur == v ? v->in : NULL;
    if (!ok) {
        char what[64];
        snprintf(what, sizeof what, "integration: %s failed", kind_label[kind]);
        rt_log(r, LIRA_LOG_ERROR, what, v->name, "error", msg, "traceback", tb);
        count(r, kind == RT_RUN ? "runs" : kind == RT_START ? "crashes" : "stops", v->name,
              kind == RT_RUN ? "error" : NULL);
    } else if (kind == RT_RUN) {
        count(r, "runs", v->name, "ok");
    }
    if (!in)
        return;
    int64_t now = lira_engine_now(r->e);
    if (!ok)
        keep_error(in, msg, tb);
    if (kind == RT_RUN) {
        in->last_dur_ns = now - in->run_started;
        snprintf(in->last_result, sizeof in->last_result, "%s", ok ? "ok" : "error");
        if (ok) {
            in->consecutive = 0;
            if (in->status == RT_ST_FAILED)
                in->status = RT_ST_RUNNING;
        } else {
            in->run_errors++;
            failed_once(in);
        }
    } else if (kind == RT_START && !v->stopping) {
        if (ok) {
            rt_log(r, LIRA_LOG_INFO, "integration: start() returned", in->name, NULL, NULL, NULL,
                   NULL);
        } else {
            failed_once(in);
            start_crashed(in, now);
        }
    }
}

/* ------------------------------------------------------------ draining */

void rt_retire(rt *r, rt_version *v)
{
    if (!v)
        return;
    v->stopping = 1;
    v->draining = 1;
    v->in = NULL;
    v->drain_deadline = lira_engine_now(r->e) + (int64_t)(r->o.drain_s * 1e9);
    if (v->has[RT_STOP])
        rt_version_spawn(v, RT_STOP);
    v->next = r->draining;
    r->draining = v;
}

/* A start that has run long enough is healthy again; tasks that died
 * without reporting are reported. */
static void health_tick(rt *r)
{
    int64_t now = lira_engine_now(r->e);
    for (rt_integ *in = r->integs; in; in = in->next) {
        if (!in->cur)
            continue;
        rt_version_check_tasks(in->cur);
        if (in->cur->active[RT_START] &&
            (double)(now - in->start_began) / 1e9 >= RT_HEALTHY_S && in->backoff_s > 1) {
            in->backoff_s = 1;
            in->consecutive = 0;
            if (in->status == RT_ST_FAILED)
                in->status = RT_ST_RUNNING;
        }
    }
}

void rt_drain_tick(rt *r)
{
    health_tick(r);
    int64_t now = lira_engine_now(r->e);
    for (rt_version **pp = &r->draining; *pp;) {
        rt_version *v = *pp;
        rt_version_check_tasks(v);
        int n = rt_version_tasks(v);
        int past = now >= v->drain_deadline;
        if (n > 0 && past && v->draining == 1) {
            char s[32];
            snprintf(s, sizeof s, "%d", n);
            rt_log(r, LIRA_LOG_WARN, "integration: drain timeout, cancelling the old version's "
                   "tasks", v->name, "tasks", s, NULL, NULL);
            v->draining = 2;
            v->drain_deadline = now + RT_CANCEL_GRACE_NS;
            rt_version_cancel(v);
            pp = &v->next;
            continue;
        }
        if (n > 0 && !(past && v->draining == 2)) {
            pp = &v->next;
            continue;
        }
        *pp = v->next;
        rt_log(r, LIRA_LOG_INFO, n > 0 ? "integration: old version closed with tasks still "
                                         "unfinished (their calls are cancelled)"
                                       : "integration: old version drained and closed",
               v->name, "version", v->hash, NULL, NULL);
        rt_version_close(v);
    }
}
