/* call.h — the pipeline of one logical call, all in C on the loop:
 *
 *   limiter -> breaker -> attempt -> record -> classify -> backoff or
 *   Retry-After timer -> next attempt ... -> done, exactly once
 *
 * (ARCHITECTURE.md "The call path", LUA-API.md §3.2). Nothing here calls Lua;
 * the optional hooks are C callbacks that the binding may implement with Lua
 * (retry.on, breaker.failure).
 *
 * Upstreams: the breaker, limiter and retry budget of a client live in the
 * engine keyed by the client's name, so that a second client with the same
 * name (after a hot reload) shares them. */
#ifndef LIRA_CALL_H
#define LIRA_CALL_H

#include <stdint.h>

#include "breaker.h"
#include "budget.h"
#include "engine.h"
#include "limiter.h"
#include "retry.h"
#include "transport.h"

/* ------------------------------------------------------------ upstreams */

typedef struct lira_upstream lira_upstream;

typedef struct lira_upstream_config {
    int breaker_on;                 /* 0 = no breaker (`breaker = false`) */
    lira_breaker_config breaker;
    int limiter_on;                 /* 0 = no pacing at all (`limit = false`) */
    lira_limiter_config limiter;    /* rate 0 = headers only (the default) */
    int read_headers;               /* feed rate-limit headers and Retry-After */
    int budget_on;
    double budget_ratio;            /* default 0.1 */
    int budget_min_per_second;      /* default 10 */
} lira_upstream_config;

/* The LUA-API.md defaults: breaker on (30 s, 0.5, 20, 15 s, 3), limiter on in
 * headers-only mode reading headers, budget on (0.1, 10/s). */
void lira_upstream_config_default(lira_upstream_config *c);

/* Get the upstream named `name` (copied), creating it with `cfg` when new. An
 * existing one keeps its state; if `cfg` differs, the parts whose config
 * changed are re-created with the new config (their state starts afresh)
 * and the rest keep theirs. A reference is taken: release it. */
int lira_upstream_get(lira_engine *e, const char *name, const lira_upstream_config *cfg,
                      lira_upstream **out);
void lira_upstream_release(lira_upstream *u);

const char *lira_upstream_name(const lira_upstream *u);
lira_breaker *lira_upstream_breaker(lira_upstream *u);   /* NULL when off */
lira_limiter *lira_upstream_limiter(lira_upstream *u);   /* NULL when off */
lira_budget *lira_upstream_budget(lira_upstream *u);     /* NULL when off */

/* ------------------------------------------------------------ calls */

/* err.kind of LUA-API.md §3.1. */
typedef enum lira_error_kind {
    LIRA_KIND_NONE = 0,      /* a final response: see res */
    LIRA_KIND_TIMEOUT,       /* the last attempt timed out */
    LIRA_KIND_DEADLINE,      /* the whole call's budget ran out */
    LIRA_KIND_CONNECT,
    LIRA_KIND_TLS,
    LIRA_KIND_DNS,
    LIRA_KIND_TRANSPORT,
    LIRA_KIND_BREAKER_OPEN,
    LIRA_KIND_RATE_LIMITED,  /* the wait for a token would pass the deadline */
    LIRA_KIND_BUDGET,        /* the retry budget refused a needed retry */
    LIRA_KIND_TOO_LARGE,
    LIRA_KIND_CANCELLED,
    LIRA_KIND_INVALID,
    LIRA_KIND_COUNT_
} lira_error_kind;

const char *lira_error_kind_name(lira_error_kind k);   /* "timeout", ... */

typedef struct lira_call_attempt {
    int attempt;                        /* 1-based */
    const lira_http_response *res;      /* this attempt's outcome (never NULL) */
    int64_t started_ns, duration_ns;
    lira_retry_reason retry_reason;     /* why it will be retried; NONE if not */
    int64_t next_delay_ns;              /* the wait before the next attempt, or -1 */
} lira_call_attempt;

typedef struct lira_call_spec {
    lira_http_request req;        /* req.timeout_ns is ignored: each attempt gets
                                     min(read_timeout_ns, time left to the deadline) */
    int64_t read_timeout_ns;      /* per attempt; 0 = 10 s */
    int64_t deadline_ns;          /* absolute, engine clock; 0 = none */
    lira_retry_config retry;      /* attempts = 1 disables retries */
    int idempotent;               /* lira_method_is_idempotent(req.method) unless overridden */
    int has_idempotency_key;
    /* Custom retry rule (retry.on): 1 retry, 0 stop, -1 use the built-in rules.
     * Delays, budget, attempts, max_elapsed and the deadline still apply. */
    int (*retry_hook)(void *ud, const lira_http_response *res, int attempt);
    /* Breaker failure rule (breaker.failure): 1 failure, 0 success, -1 built-in
     * (transport errors, timeouts and 5xx are failures; 4xx are not). */
    int (*failure_hook)(void *ud, const lira_http_response *res);
    /* Called after every attempt (telemetry, debug logs). */
    void (*attempt_hook)(void *ud, const lira_call_attempt *a);
    void *hook_ud;
} lira_call_spec;

typedef struct lira_call_result {
    lira_http_response *res;     /* the final response, owned by the callback; NULL
                                    when no final response was obtained */
    lira_error_kind kind;        /* NONE when res != NULL */
    char message[256];           /* err.message */
    int retryable;               /* err.retryable: the outcome was retryable */
    int attempts;                /* attempts sent (0 when refused before any) */
    int64_t elapsed_ns;          /* whole call, backoff included */
    int64_t retry_after_ns;      /* -1 unknown; breaker_open: until half-open;
                                    rate_limited: until a token */
    lira_stop_reason stop;       /* why it stopped retrying */
    lira_retry_reason last_retry_reason;
    int status;                  /* when res == NULL: the last attempt's HTTP status
                                    if it had one (e.g. too_large), else 0 */
} lira_call_result;

typedef struct lira_call lira_call;
typedef void (*lira_call_done_fn)(void *ud, lira_call_result *r);

/* Start a call. The spec (and every string it points to) is copied. On
 * LIRA_OK `done` runs exactly once, from a later lira_engine_step() (or
 * from lira_call_cancel()); on an error return it never runs. *out (may be
 * NULL) is valid until `done` has run. */
int lira_call_start(lira_engine *e, lira_upstream *u, const lira_call_spec *spec,
                    lira_call_done_fn done, void *ud, lira_call **out);

/* Cancel: abort the attempt in flight or the wait, and run `done` with kind
 * LIRA_KIND_CANCELLED before returning. */
void lira_call_cancel(lira_call *c);

#endif
