/* telemetry.h — the hub between the call pipeline and the outputs: it turns
 * the pipeline's events into log lines (log.h), metric updates (metrics.h)
 * and, through a registered sink, spans (the trace part).
 *
 * One hub per engine, hung on LIRA_SLOT_TELEMETRY, created on first use from
 * the environment (LIRA_LOG_LEVEL, LIRA_LOG_FILE, LIRA_LOG_FORMAT) and freed
 * with the engine. Everything runs on the engine's loop thread.
 *
 * Pipeline integration (docs/observability.md; every event is cheap and
 * never fails the call):
 *
 *   lira_tel_call tc;                             embedded in the call record
 *   tc.client = ...; tc.method = ...; tc.url = ...; tc.endpoint = ...;
 *   tc.request_id = ...;                          borrowed until call_end
 *   lira_telemetry_call_start(t, &tc, now, wall); once, when the call starts
 *   lira_telemetry_limiter_wait(t, &tc, wait_ns, tokens)   each token taken
 *   lira_telemetry_attempt_start(t, &tc, n, ..., tp, cap)   before each send
 *   lira_telemetry_attempt_end(t, &tc, &attempt, now, wall) after each attempt
 *   lira_telemetry_budget_refused(t, client)      the budget refused a retry
 *   lira_telemetry_call_end(t, &tc, &result, now, wall)     once, before done
 *   lira_telemetry_breaker_transition(t, client, from, to, now, wall)
 *
 * Metrics (names, labels and meaning: docs/observability.md):
 *   http_client_request_duration_seconds{http_request_method,
 *       http_response_status_code, server_address, error_type}   per attempt
 *   lira_client_call_duration_seconds{client,endpoint}   per call, retries included
 *   lira_client_requests_total{client,endpoint,status_class}  per call
 *   lira_client_errors_total{client,endpoint,kind}       per failed call
 *   lira_client_attempts_total{client,endpoint}
 *   lira_client_retries_total{client,endpoint,reason}
 *   lira_client_in_flight{client}
 *   lira_breaker_state{client}           0 closed 1 open 2 half_open 3 forced_open 4 disabled
 *   lira_breaker_transitions_total{client,from,to}
 *   lira_limiter_wait_seconds{client}    every token taken, 0 included
 *   lira_limiter_tokens{client}
 *   lira_retry_budget_refusals_total{client}
 *   lira_log_lines_total, lira_log_suppressed_total   (lira_telemetry_collect)
 */
#ifndef LIRA_TELEMETRY_H
#define LIRA_TELEMETRY_H

#include <stddef.h>
#include <stdint.h>

#include "breaker.h"
#include "call.h"
#include "engine.h"
#include "ids.h"
#include "log.h"
#include "metrics.h"

#define LIRA_TEL_ID_MAX 129          /* correlation id: 128 bytes + NUL */
#define LIRA_TEL_HOST_MAX 256        /* server_address kept per call */

typedef struct lira_telemetry lira_telemetry;

/* Per-call state, embedded in the pipeline's call record (no allocation).
 * The pipeline sets the first five fields before lira_telemetry_call_start;
 * they are borrowed (must stay valid until call_end) and may be NULL (the
 * field is then omitted; client NULL reads "unknown"). The next four are
 * optional facts about them (zero: not known). The rest belongs to the hub
 * and its sinks. */
typedef struct lira_tel_call {
    const char *client, *method, *url, *endpoint, *request_id;
    size_t method_len, url_len, endpoint_len;   /* 0: the hub counts */
    int request_id_plain;            /* request_id needs no JSON escaping (a UUID lira made) */
    /* --- the hub's */
    int64_t start_ns;
    int started;
    char correlation_id[LIRA_TEL_ID_MAX];
    char server_address[LIRA_TEL_HOST_MAX];
    size_t server_len;               /* strlen(server_address) */
    void *metrics_site;              /* the hub's series cache entry, or NULL */
    int metrics_on;                  /* counted in the built-in metrics (they were on
                                        when it started): all its updates follow that */
    const struct lira_url_info *url_info;   /* the URL memo's facts, while url_gen holds */
    uint64_t url_gen;
    /* --- the trace sink's: the ids the next log line of this call carries
     * ("" = none), and its own per-call object */
    char trace_id[LIRA_TRACE_ID_HEX_SIZE];
    char span_id[LIRA_SPAN_ID_HEX_SIZE];
    void *trace;
} lira_tel_call;

/* A sink (the trace part registers one): every function optional. Called
 * before the hub writes its own lines for the same event, so the trace and
 * span ids it puts in tc appear in them. attempt_start may write a
 * traceparent value (NUL-terminated, < cap) to inject into the attempt. */
typedef struct lira_telemetry_sink {
    void *ud;
    void (*call_start)(void *ud, lira_tel_call *tc, int64_t now, int64_t wall);
    void (*attempt_start)(void *ud, lira_tel_call *tc, int attempt, int64_t now,
                          int64_t wall, char *traceparent, size_t cap);
    void (*attempt_end)(void *ud, lira_tel_call *tc, const lira_call_attempt *a,
                        int64_t now, int64_t wall);
    void (*call_end)(void *ud, lira_tel_call *tc, const lira_call_result *r, int64_t now,
                     int64_t wall);
    /* The current span for lines not tied to a call (lira.log from Lua):
     * write hex ids or leave "" . */
    void (*current)(void *ud, char trace_id[LIRA_TRACE_ID_HEX_SIZE],
                    char span_id[LIRA_SPAN_ID_HEX_SIZE]);
    void (*destroy)(void *ud);   /* with the hub, or when replaced */
} lira_telemetry_sink;

typedef struct lira_telemetry_options {
    lira_log_options log;            /* lira_log_options_from_env by default */
    lira_metrics_options metrics;    /* {500, 256} by default */
    int metrics_off;                 /* 1: no built-in metric updates */
} lira_telemetry_options;

/* Defaults: the log from the environment (an unparsable variable keeps its
 * default; the hub logs one warning about it), metrics on unless
 * LIRA_METRICS=off. */
int lira_telemetry_options_default(lira_telemetry_options *o);

/* A hub of its own (tests, benches). LIRA_EINVAL, LIRA_ENOMEM, LIRA_ESTATE
 * (the log file cannot be opened). */
int lira_telemetry_new(const lira_telemetry_options *o, lira_telemetry **out);
void lira_telemetry_free(lira_telemetry *t);   /* destroys the sink too */

/* The engine's hub, created (with the defaults) on first use.
 * LIRA_EINVAL (NULL), LIRA_ENOMEM, LIRA_ESTATE (the log file cannot be
 * opened: the error names it through errno). */
int lira_telemetry_get(lira_engine *e, lira_telemetry **out);
/* The engine's hub if it has one; never creates (the pipeline's cheap check). */
lira_telemetry *lira_telemetry_of(const lira_engine *e);
/* Give `t` to the engine (it frees t with itself): before first use.
 * LIRA_ESTATE when the engine already has a hub, LIRA_EINVAL, LIRA_ENOMEM. */
int lira_telemetry_install(lira_engine *e, lira_telemetry *t);
/* Replace the hub's log with `l` (taken; the old one is freed): lira.log's
 * configure, SIGHUP handling with new settings. LIRA_EINVAL for NULL. */
int lira_telemetry_set_log(lira_telemetry *t, lira_log *l);

lira_log *lira_telemetry_log(lira_telemetry *t);

/* Write the log lines the engine's turns left waiting (log.h, Batching), for
 * a loop driver about to hand control back to its host: what happened
 * before lira.run returned is in the file when it returns. NULL or an
 * engine without telemetry: nothing. */
void lira_telemetry_flush(lira_engine *e);

lira_metrics *lira_telemetry_metrics(lira_telemetry *t);

/* Turn the built-in metric updates on or off while the hub runs (the
 * LIRA_METRICS=off of lira_telemetry_options_default, at any time). A call
 * follows the setting it started with, all the way: the in-flight gauge
 * never counts a call it did not count at its start. Series already made
 * stay in lira.metrics.text(). NULL: no-op; lira_telemetry_metrics_on(NULL)
 * is 0. */
void lira_telemetry_set_metrics(lira_telemetry *t, int on);
int lira_telemetry_metrics_on(const lira_telemetry *t);

/* Replace the sink (the old one is destroyed); NULL removes it. */
int lira_telemetry_set_sink(lira_telemetry *t, const lira_telemetry_sink *s);
/* The current sink (owned by the hub), or NULL when none. */
const lira_telemetry_sink *lira_telemetry_sink_of(const lira_telemetry *t);

/* The correlation id new calls and lira.log lines carry: one per hub (per
 * engine) for now. NULL or "" clears it. LIRA_EINVAL past 128 bytes. */
int lira_telemetry_set_correlation_id(lira_telemetry *t, const char *id);
const char *lira_telemetry_correlation_id(const lira_telemetry *t);   /* "" = none */

/* ------------------------------------------------------------ events */

void lira_telemetry_call_start(lira_telemetry *t, lira_tel_call *tc, int64_t now, int64_t wall);
/* traceparent (may be NULL) receives "" or the value to send. */
void lira_telemetry_attempt_start(lira_telemetry *t, lira_tel_call *tc, int attempt,
                                  int64_t now, int64_t wall, char *traceparent, size_t cap);
void lira_telemetry_attempt_end(lira_telemetry *t, lira_tel_call *tc,
                                const lira_call_attempt *a, int64_t now, int64_t wall);
void lira_telemetry_call_end(lira_telemetry *t, lira_tel_call *tc, const lira_call_result *r,
                             int64_t now, int64_t wall);

void lira_telemetry_breaker_transition(lira_telemetry *t, const char *client,
                                       lira_breaker_state from, lira_breaker_state to,
                                       int64_t now, int64_t wall);
/* Set the state gauge without a transition (an upstream's first state). */
void lira_telemetry_breaker_state(lira_telemetry *t, const char *client, lira_breaker_state s);
/* The call's client took a token after waiting wait_ns (0 when none),
 * leaving `tokens` available (< 0: unknown, the gauge is left alone). */
void lira_telemetry_limiter_wait(lira_telemetry *t, const lira_tel_call *tc, int64_t wait_ns,
                                 double tokens);
void lira_telemetry_budget_refused(lira_telemetry *t, const char *client);

/* A line from a user (lira.log): fields are marked CHECK (redacted by key);
 * correlation_id and the sink's current trace ids are added. Returns what
 * lira_log_write returns. */
int lira_telemetry_log_user(lira_telemetry *t, lira_log_level lv, const char *msg,
                            const lira_log_field *fields, size_t n, int64_t now, int64_t wall);

/* Refresh the metrics read at exposition time (log counters). */
void lira_telemetry_collect(lira_telemetry *t);

#endif
