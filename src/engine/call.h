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

/* Get the upstream named `name` (copied; 1..256 bytes), creating it with
 * `cfg` (NULL = the defaults) when new. An existing one keeps its state; if
 * `cfg` differs, the parts whose config changed are re-created with the new
 * config (their state starts afresh) and the rest keep theirs. The parts
 * are: the breaker (breaker_on + every field of `breaker`, on_transition and
 * ud included), the limiter (limiter_on + `limiter`), the budget (budget_on,
 * ratio, min_per_second); read_headers is simply updated. A call in flight
 * when its breaker or limiter is re-created gives its permit or token back
 * to nobody (the new part never sees it).
 * A reference is taken: release it. The engine's registry keeps its own
 * reference, so the state lives as long as the engine even while no client
 * holds the upstream (e.g. between an old and a new version on reload).
 * When the engine is freed, every live call is cancelled (done runs with
 * CANCELLED) and the upstream is detached: it stays readable until the last
 * release, but lira_call_start on it returns LIRA_ESTATE.
 * LIRA_EINVAL (NULL e/out, bad name, a config the breaker, limiter or budget
 * rejects; the existing state is then untouched), LIRA_ENOMEM, LIRA_ESTATE
 * (the engine is being freed). */
int lira_upstream_get(lira_engine *e, const char *name, const lira_upstream_config *cfg,
                      lira_upstream **out);
void lira_upstream_release(lira_upstream *u);

const char *lira_upstream_name(const lira_upstream *u);
lira_breaker *lira_upstream_breaker(lira_upstream *u);   /* NULL when off */
lira_limiter *lira_upstream_limiter(lira_upstream *u);   /* NULL when off */
lira_budget *lira_upstream_budget(lira_upstream *u);     /* NULL when off */

/* Ended call records an upstream keeps for its next calls (a record and its
 * copy of the spec are one reusable pair of allocations instead of ~8 fresh
 * ones per call). At most LIRA_CALL_POOL_MAX records are kept, and a record
 * whose copy outgrew LIRA_CALL_POOL_KEEP_BYTES (a large body) is freed
 * instead. lira_upstream_pooled_calls: how many are kept now (0 for NULL). */
#define LIRA_CALL_POOL_MAX 64
#define LIRA_CALL_POOL_KEEP_BYTES (16 * 1024)
size_t lira_upstream_pooled_calls(const lira_upstream *u);

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
    int idempotent;               /* 1 / 0; < 0 = lira_method_is_idempotent(req.method) */
    int has_idempotency_key;
    /* Custom retry rule (retry.on): 1 retry, 0 stop, -1 use the built-in rules.
     * Delays, budget, attempts, max_elapsed and the deadline still apply.
     * 1 on an outcome the built-in rules would not retry (a 2xx, a 4xx,
     * too_large) treats it like a 5xx (last_retry_reason status_5xx). The
     * idempotency rule still applies to 1: a POST/PATCH without a key is not
     * repeated (except after dns/connect/tls); a caller that knows the
     * request is safe to repeat says so with idempotent = 1. 0 stops with
     * stop "success" (2xx), "too_large", or "status" (anything else). */
    int (*retry_hook)(void *ud, const lira_http_response *res, int attempt);
    /* Breaker failure rule (breaker.failure): 1 failure, 0 success, -1 built-in
     * (transport errors, timeouts and 5xx are failures; 4xx are not). */
    int (*failure_hook)(void *ud, const lira_http_response *res);
    /* Called after every attempt (telemetry, debug logs). No hook may cancel
     * or free the call it is called for. */
    void (*attempt_hook)(void *ud, const lira_call_attempt *a);
    void *hook_ud;
    /* For telemetry (both optional, copied): the path template the URL was
     * filled from ("/orders/{id}"; the query, a scheme and an authority are
     * dropped from the copy, so no secret in them reaches a metric label or
     * a span name), and the X-Request-Id sent. */
    const char *endpoint, *request_id;
    /* request_id is printable ASCII without '"' or '\\' (lira made it: a
     * UUID), so a log line copies it without escaping. */
    int request_id_plain;
} lira_call_spec;

typedef struct lira_call_result {
    lira_http_response *res;     /* the final response, owned by the callback; NULL
                                    when no final response was obtained */
    lira_error_kind kind;        /* NONE when res != NULL */
    char message[256];           /* err.message */
    int retryable;               /* err.retryable: the outcome was retryable (and
                                    safe to repeat): 1 for breaker_open,
                                    rate_limited, budget, deadline, and for a
                                    5xx/429/network outcome that stopped on
                                    attempts/max_elapsed; 0 for cancelled,
                                    invalid, not_idempotent, 2xx/4xx */
    int attempts;                /* attempts sent (0 when refused before any) */
    int64_t elapsed_ns;          /* whole call, backoff included */
    int64_t retry_after_ns;      /* -1 unknown; breaker_open: until half-open;
                                    rate_limited: until a token */
    lira_stop_reason stop;       /* why it stopped retrying (NONE when the engine
                                    itself failed: kind transport/invalid with a
                                    message saying what) */
    lira_retry_reason last_retry_reason;   /* why the latest retryable attempt was
                                    retryable ("ok after status_429"); NONE if
                                    no attempt was */
    int status;                  /* when res == NULL: the last attempt's HTTP status
                                    if it had one (e.g. too_large), else 0 */
} lira_call_result;

typedef struct lira_call lira_call;
typedef void (*lira_call_done_fn)(void *ud, lira_call_result *r);

/* Fill `s` with the defaults: method and url as given (not copied), read
 * timeout 10 s, no deadline, lira_retry_config_default (4 attempts, 200 ms
 * doubling to 30 s, full jitter), idempotent = -1 (from the method), no key,
 * no hooks; the transport's defaults for the rest. LIRA_EINVAL for NULL s. */
int lira_call_spec_init(lira_call_spec *s, const char *method, const char *url);

/* Start a call. The spec (and every string it points to) is copied. On
 * LIRA_OK `done` runs exactly once, from a later lira_engine_step() (or
 * from lira_call_cancel()); on an error return it never runs. *out (may be
 * NULL) is valid until `done` has run. A call refused at once (breaker open,
 * no token before the deadline) still completes from the next step.
 * The budget gets one deposit per call, at start. While an attempt is in
 * flight the transport keeps the engine busy (the scripted transport with a
 * timer, the curl transport by holding it); waits are strong timers.
 * LIRA_EINVAL: NULL e/u/spec/done, no method or url, body_len without body,
 * negative read_timeout or deadline, a retry config lira_retry_config_check
 * rejects, or u belongs to another engine. LIRA_ESTATE: u's engine is gone.
 * LIRA_ENOMEM. */
int lira_call_start(lira_engine *e, lira_upstream *u, const lira_call_spec *spec,
                    lira_call_done_fn done, void *ud, lira_call **out);

/* Cancel: abort the attempt in flight or the wait, and run `done` with kind
 * LIRA_KIND_CANCELLED (res NULL, stop cancelled) before returning. A breaker
 * permit of the aborted attempt is cancelled (counted neither way); a
 * limiter token reserved for an attempt that never started is given back.
 * Not from inside the call's own hooks or done; NULL is a no-op. */
void lira_call_cancel(lira_call *c);

#endif
