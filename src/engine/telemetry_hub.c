/* telemetry_hub.c — the hub itself (telemetry.h): its options (from the
 * environment), its creation with the built-in metric definitions, its
 * place on an engine, and its accessors and settings. Set up once per
 * engine, so apart from the per-call events in telemetry.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "status.h"
#include "telemetry_impl.h"

/* ------------------------------------------------------------ built-in metrics */

static const char *const L_CLIENT[] = {"client"};
static const char *const L_CE[] = {"client", "endpoint"};
static const char *const L_CES[] = {"client", "endpoint", "status_class"};
static const char *const L_CEK[] = {"client", "endpoint", "kind"};
static const char *const L_CER[] = {"client", "endpoint", "reason"};
static const char *const L_TRANS[] = {"client", "from", "to"};
static const char *const L_HTTP[] = {"http_request_method", "http_response_status_code",
                                     "server_address", "error_type"};

static const lira_metric_def builtin[M_COUNT_] = {
    {"http_client_request_duration_seconds",
     "Duration of HTTP client requests (each attempt), OpenTelemetry "
     "http.client.request.duration", LIRA_METRIC_HISTOGRAM, L_HTTP, 4, NULL, 0},
    {"lira_client_call_duration_seconds",
     "Duration of logical calls, retries and waits included", LIRA_METRIC_HISTOGRAM,
     L_CE, 2, NULL, 0},
    {"lira_client_requests_total", "Finished calls by final status class (none: no response)",
     LIRA_METRIC_COUNTER, L_CES, 3, NULL, 0},
    {"lira_client_errors_total", "Calls that ended without a response, by error kind",
     LIRA_METRIC_COUNTER, L_CEK, 3, NULL, 0},
    {"lira_client_attempts_total", "HTTP attempts sent", LIRA_METRIC_COUNTER, L_CE, 2, NULL,
     0},
    {"lira_client_retries_total", "Attempts that were retried, by reason",
     LIRA_METRIC_COUNTER, L_CER, 3, NULL, 0},
    {"lira_client_in_flight", "Calls in progress", LIRA_METRIC_GAUGE, L_CLIENT, 1, NULL, 0},
    {"lira_breaker_state",
     "Circuit breaker state: 0 closed, 1 open, 2 half_open, 3 forced_open, 4 disabled",
     LIRA_METRIC_GAUGE, L_CLIENT, 1, NULL, 0},
    {"lira_breaker_transitions_total", "Circuit breaker state changes", LIRA_METRIC_COUNTER,
     L_TRANS, 3, NULL, 0},
    {"lira_limiter_wait_seconds", "Time each call waited for a rate-limiter token",
     LIRA_METRIC_HISTOGRAM, L_CLIENT, 1, NULL, 0},
    {"lira_limiter_tokens", "Rate-limiter tokens available after the latest take",
     LIRA_METRIC_GAUGE, L_CLIENT, 1, NULL, 0},
    {"lira_retry_budget_refusals_total", "Retries the retry budget refused",
     LIRA_METRIC_COUNTER, L_CLIENT, 1, NULL, 0},
    {"lira_log_lines_total", "Log lines written", LIRA_METRIC_COUNTER, NULL, 0, NULL, 0},
    {"lira_log_suppressed_total", "Log lines dropped by the repeated-warning rate limiter",
     LIRA_METRIC_COUNTER, NULL, 0, NULL, 0},
};

/* ------------------------------------------------------------ the hub */

int lira_telemetry_options_default(lira_telemetry_options *o)
{
    if (!o)
        return LIRA_EINVAL;
    memset(o, 0, sizeof *o);
    int rc = lira_log_options_from_env(&o->log);
    o->metrics.max_series = 500;
    o->metrics.max_metrics = 256;
    /* LIRA_METRICS=off: no built-in metric updates (benches compare against
     * it; user metrics from Lua still work). */
    const char *m = getenv("LIRA_METRICS");
    o->metrics_off = m && strcmp(m, "off") == 0;
    return rc == LIRA_EPARSE ? LIRA_EPARSE : LIRA_OK;
}

int lira_telemetry_new(const lira_telemetry_options *o, lira_telemetry **out)
{
    lira_telemetry_options def;
    int env_bad = 0;
    if (!o) {
        env_bad = lira_telemetry_options_default(&def) == LIRA_EPARSE;
        o = &def;
    }
    if (!out)
        return LIRA_EINVAL;
    lira_telemetry *t = calloc(1, sizeof *t);
    if (!t)
        return LIRA_ENOMEM;
    t->env_bad = env_bad;
    t->metrics_off = o->metrics_off;
    int rc = lira_log_new(&o->log, &t->log);
    if (rc == LIRA_OK)
        rc = lira_metrics_new(&o->metrics, &t->metrics);
    /* Without it every update looks its series up: slower, still right. */
    t->sites = lira__tel_sites_new();
    t->urls = lira__url_memo_new();
    for (int i = 0; rc == LIRA_OK && i < M_COUNT_; i++)
        rc = lira_metrics_define(t->metrics, &builtin[i], &t->m[i]);
    if (rc != LIRA_OK) {
        lira_telemetry_free(t);
        return rc;
    }
    *out = t;
    return LIRA_OK;
}

void lira_telemetry_free(lira_telemetry *t)
{
    if (!t)
        return;
    if (t->has_sink && t->sink.destroy)
        t->sink.destroy(t->sink.ud);
    lira_log_free(t->log);
    lira_metrics_free(t->metrics);
    lira__tel_sites_free(t->sites);
    lira__url_memo_free(t->urls);
    free(t);
}

/* ------------------------------------------------------------ the engine's */

static void on_engine_free(void *ud)
{
    lira_telemetry *t = ud;
    lira_timer_stop(t->engine, &t->flush);
    lira_engine_set_slot(t->engine, LIRA_SLOT_TELEMETRY, NULL);
    lira_telemetry_free(t);
}

static void on_flush(lira_timer *tm, void *ud)
{
    (void)tm;
    lira_telemetry *t = ud;
    lira_log_flush(t->log);
}

/* The call lines of a turn leave in one write(2), and those of the turns
 * that follow within the log's flush_ns join them (log.h, Batching): at one
 * call a turn that is what saves a write per call. The timer is real (the
 * lines wait in real time, whatever clock the engine runs on) and weak (it
 * keeps nothing running: a driver that returns to its host flushes, see
 * lira_telemetry_flush). The hook finds the hub through the engine, so it is
 * harmless before install. */
static void on_turn(void *ud, int begin)
{
    lira_telemetry *t = lira_engine_slot(ud, LIRA_SLOT_TELEMETRY);
    if (!t)
        return;
    lira_log_batch(t->log, begin);
    if (begin || lira_timer_armed(&t->flush) || lira_log_waiting(t->log) == 0)
        return;
    int64_t at = lira_clock_now(NULL) + lira_log_flush_ns(t->log);
    if (lira_timer_start(t->engine, &t->flush, at, on_flush, t) != LIRA_OK)
        lira_log_flush(t->log);
}

void lira_telemetry_flush(lira_engine *e)
{
    lira_telemetry *t = lira_telemetry_of(e);
    if (t && lira_log_waiting(t->log) > 0) {
        lira_timer_stop(e, &t->flush);
        lira_log_flush(t->log);
    }
}

int lira_telemetry_install(lira_engine *e, lira_telemetry *t)
{
    if (!e || !t)
        return LIRA_EINVAL;
    if (lira_engine_slot(e, LIRA_SLOT_TELEMETRY))
        return LIRA_ESTATE;
    t->engine = e;
    lira_timer_init(&t->flush);
    lira_timer_set_real(&t->flush, 1);
    lira_timer_set_weak(&t->flush, 1);
    int rc = lira_engine_on_turn(e, on_turn, e);
    if (rc == LIRA_OK)
        rc = lira_engine_on_free(e, on_engine_free, t);
    if (rc != LIRA_OK) {
        t->engine = NULL;
        return rc;
    }
    lira_engine_set_slot(e, LIRA_SLOT_TELEMETRY, t);
    return LIRA_OK;
}

int lira_telemetry_set_log(lira_telemetry *t, lira_log *l)
{
    if (!t || !l)
        return LIRA_EINVAL;
    lira_log_free(t->log);
    t->log = l;
    return LIRA_OK;
}

int lira_telemetry_get(lira_engine *e, lira_telemetry **out)
{
    if (!e || !out)
        return LIRA_EINVAL;
    lira_telemetry *t = lira_engine_slot(e, LIRA_SLOT_TELEMETRY);
    if (!t) {
        int rc = lira_telemetry_new(NULL, &t);
        if (rc != LIRA_OK)
            return rc;
        rc = lira_telemetry_install(e, t);
        if (rc != LIRA_OK) {
            lira_telemetry_free(t);
            return rc;
        }
        if (t->env_bad) {
            lira_log_field f = {.key = "hint", .type = LIRA_LOGF_STR,
                                .s = "LIRA_LOG_LEVEL: debug|info|warn|error|off; "
                                     "LIRA_LOG_FORMAT: json|text; "
                                     "LIRA_LOG_FLUSH_MS: 0..10000", .len = SIZE_MAX};
            lira_log_write(t->log, LIRA_LOG_WARN, lira_engine_now(e), lira_engine_wall(e),
                           "ignoring an unrecognised LIRA_LOG_* value", &f, 1);
        }
    }
    *out = t;
    return LIRA_OK;
}

lira_telemetry *lira_telemetry_of(const lira_engine *e)
{
    return e ? lira_engine_slot(e, LIRA_SLOT_TELEMETRY) : NULL;
}

lira_url_memo *lira__telemetry_url_memo(const lira_engine *e)
{
    const lira_telemetry *t = lira_telemetry_of(e);
    return t ? t->urls : NULL;
}

lira_log *lira_telemetry_log(lira_telemetry *t)
{
    return t ? t->log : NULL;
}

lira_metrics *lira_telemetry_metrics(lira_telemetry *t)
{
    return t ? t->metrics : NULL;
}

void lira_telemetry_set_metrics(lira_telemetry *t, int on)
{
    if (t)
        t->metrics_off = !on;
}

int lira_telemetry_metrics_on(const lira_telemetry *t)
{
    return t && !t->metrics_off;
}

int lira_telemetry_set_sink(lira_telemetry *t, const lira_telemetry_sink *s)
{
    if (!t)
        return LIRA_EINVAL;
    if (t->has_sink && t->sink.destroy)
        t->sink.destroy(t->sink.ud);
    t->has_sink = s != NULL;
    if (s)
        t->sink = *s;
    else
        memset(&t->sink, 0, sizeof t->sink);
    return LIRA_OK;
}

const lira_telemetry_sink *lira_telemetry_sink_of(const lira_telemetry *t)
{
    return t && t->has_sink ? &t->sink : NULL;
}

int lira_telemetry_set_correlation_id(lira_telemetry *t, const char *id)
{
    if (!t || (id && strlen(id) >= LIRA_TEL_ID_MAX))
        return LIRA_EINVAL;
    snprintf(t->correlation_id, sizeof t->correlation_id, "%s", id ? id : "");
    return LIRA_OK;
}

const char *lira_telemetry_correlation_id(const lira_telemetry *t)
{
    return t ? t->correlation_id : "";
}
