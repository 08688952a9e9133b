/* telemetry_impl.h — the hub that telemetry.c (its events) and
 * telemetry_hub.c (its creation, engine slot and settings) share.
 * Internal to src/engine: other layers use telemetry.h. */
#ifndef LIRA_TELEMETRY_IMPL_H
#define LIRA_TELEMETRY_IMPL_H

#include "telemetry.h"
#include "telemetry_site.h"
#include "telemetry_url.h"

/* The built-in metrics, in the order of their definitions (builtin[] in
 * telemetry_hub.c). */
enum {
    M_HTTP_DURATION, M_CALL_DURATION, M_REQUESTS, M_ERRORS, M_ATTEMPTS, M_RETRIES,
    M_IN_FLIGHT, M_BREAKER_STATE, M_BREAKER_TRANSITIONS, M_LIMITER_WAIT, M_LIMITER_TOKENS,
    M_BUDGET_REFUSALS, M_LOG_LINES, M_LOG_SUPPRESSED, M_COUNT_
};

struct lira_telemetry {
    lira_log *log;
    lira_metrics *metrics;
    lira_metric *m[M_COUNT_];
    int metrics_off;
    tel_sites *sites;         /* series per client and endpoint; NULL = no cache */
    lira_url_memo *urls;      /* redacted URLs for lines and spans; NULL = no memo */
    lira_telemetry_sink sink;
    int has_sink;
    char correlation_id[LIRA_TEL_ID_MAX];
    int env_bad;              /* a LIRA_LOG_* variable could not be parsed */
    lira_engine *engine;      /* when hung on one */
    lira_timer flush;         /* writes the log lines turns left waiting (log.h) */
    int generic_tail;         /* tests: no pre-rendered call tail (same bytes, slower) */
};

#endif
