/* retry.h — the retry decision of LUA-API.md §3.2: after each attempt, retry
 * (and after how long) or stop (and why).
 *
 * The rules, applied in this order (the first that stops wins):
 *   1. The outcome. An attempt that failed with too_large, cancelled or
 *      deadline stops with that reason. Network errors (dns, connect, tls,
 *      transport) and timeouts are retryable; so is a 5xx, and a 429. Any
 *      other final status stops: 2xx as "success", 1xx/3xx/4xx as
 *      "status_not_retryable" (redirects were already followed by the
 *      transport).
 *   2. Idempotency. A method that is not idempotent (POST, PATCH) is retried
 *      only when an idempotency key is sent — except after dns, connect or
 *      tls, which prove that the request never left.
 *   3. Attempts: stop when attempts_made >= config attempts (which counts the
 *      first try: 4 = 1 try + 3 retries).
 *   4. Delay = max(backoff(retry n = attempts_made), Retry-After). Stop when
 *      now + delay would be later than start + max_elapsed, or at or after
 *      the deadline (the next attempt would have no time left).
 *   5. Stop when the breaker is open.
 *   6. Withdraw from the retry budget (when one is given) — last, so that
 *      only a retry that is really going to happen is charged; stop when it
 *      refuses.
 * The caller deposits every first attempt in the budget itself
 * (lira_budget_deposit); the decision only withdraws.
 *
 * Units: int64_t nanoseconds, monotonic for start/now/deadline. Hot path:
 * lira_retry_decide allocates nothing and reads no clock. */
#ifndef LIRA_RETRY_H
#define LIRA_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "backoff.h"
#include "budget.h"
#include "rng.h"

/* Why an attempt produced no final response (err.kind in the Lua API). */
typedef enum lira_failure {
    LIRA_FAIL_NONE = 0,    /* a final HTTP response arrived: see status */
    LIRA_FAIL_DNS,         /* name resolution failed: never left */
    LIRA_FAIL_CONNECT,     /* connection refused / unreachable: never left */
    LIRA_FAIL_TLS,         /* TLS handshake failed: never left */
    LIRA_FAIL_TIMEOUT,     /* the attempt timed out */
    LIRA_FAIL_TRANSPORT,   /* any other network error (reset mid-transfer, ...) */
    LIRA_FAIL_TOO_LARGE,   /* the response passed max_body */
    LIRA_FAIL_CANCELLED,   /* the call was cancelled */
    LIRA_FAIL_DEADLINE,    /* the whole call's deadline ran out */
    LIRA_FAIL_COUNT_
} lira_failure;

typedef enum lira_retry_action {
    LIRA_RETRY_STOP = 0,
    LIRA_RETRY_AGAIN = 1
} lira_retry_action;

/* Why a call stops retrying. */
typedef enum lira_stop_reason {
    LIRA_STOP_NONE = 0,           /* not stopped (action is LIRA_RETRY_AGAIN) */
    LIRA_STOP_SUCCESS,            /* 2xx */
    LIRA_STOP_STATUS,             /* a final status that is never retried */
    LIRA_STOP_NOT_IDEMPOTENT,     /* retryable, but unsafe to repeat */
    LIRA_STOP_ATTEMPTS,           /* attempts used up */
    LIRA_STOP_MAX_ELAPSED,        /* the next attempt would start after max_elapsed */
    LIRA_STOP_DEADLINE,           /* the deadline ran out or would before the next attempt */
    LIRA_STOP_BUDGET,             /* the client-wide retry budget refused */
    LIRA_STOP_BREAKER_OPEN,       /* the circuit breaker is open */
    LIRA_STOP_CANCELLED,          /* the call was cancelled */
    LIRA_STOP_TOO_LARGE,          /* the response was too large */
    LIRA_STOP_COUNT_
} lira_stop_reason;

/* Why the outcome was retryable (set whenever it was, even if a later rule
 * stopped the call, so that logs can say "stopped: budget, after status_5xx"). */
typedef enum lira_retry_reason {
    LIRA_RR_NONE = 0,
    LIRA_RR_STATUS_5XX,
    LIRA_RR_STATUS_429,
    LIRA_RR_TIMEOUT,
    LIRA_RR_CONNECT,
    LIRA_RR_DNS,
    LIRA_RR_TLS,
    LIRA_RR_TRANSPORT,
    LIRA_RR_COUNT_
} lira_retry_reason;

#define LIRA_RETRY_MAX_ATTEMPTS 1000

typedef struct lira_retry_config {
    int attempts;             /* 1..LIRA_RETRY_MAX_ATTEMPTS, counting the first try */
    int64_t max_elapsed_ns;   /* >= 0; 0 = no limit */
    lira_backoff_config backoff;
} lira_retry_config;

typedef struct lira_retry_input {
    int status;               /* final HTTP status (100-999) when failure is NONE, else ignored */
    lira_failure failure;
    bool idempotent;          /* see lira_method_is_idempotent() */
    bool has_idempotency_key;
    int64_t retry_after_ns;   /* parsed Retry-After (>= 0), or -1 when absent */
    int attempts_made;        /* attempts sent so far, including this one (>= 1) */
    int64_t prev_delay_ns;    /* the delay before this attempt; 0 after the first try */
    int64_t start_ns;         /* when the call started */
    int64_t now_ns;           /* now (>= start_ns) */
    int64_t deadline_ns;      /* absolute; 0 = none */
    bool breaker_open;
} lira_retry_input;

typedef struct lira_retry_decision {
    lira_retry_action action;
    lira_stop_reason stop;     /* LIRA_STOP_NONE when retrying */
    lira_retry_reason reason;  /* LIRA_RR_NONE when the outcome was not retryable */
    int64_t delay_ns;          /* when retrying: wait this long; 0 when stopping */
} lira_retry_decision;

/* The seed guide's defaults: 4 attempts, no max_elapsed, default backoff.
 * LIRA_EINVAL when c is NULL. */
int lira_retry_config_default(lira_retry_config *c);

/* LIRA_OK when `c` is usable, LIRA_EINVAL otherwise (NULL, attempts outside
 * 1..LIRA_RETRY_MAX_ATTEMPTS, negative max_elapsed, bad backoff). */
int lira_retry_config_check(const lira_retry_config *c);

/* Decide after one attempt; the decision goes into *out. `rng` (needed
 * unless the jitter is NONE) and `budget` (NULL = no budget) are the
 * caller's; a granted retry is withdrawn from the budget. LIRA_EINVAL, with
 * *out untouched and nothing withdrawn, for NULL c/in/out, a bad config, an
 * unknown failure, a status outside 100-999 with no failure, attempts_made
 * < 1, a negative time or prev_delay, now before start, or retry_after below
 * -1. */
int lira_retry_decide(const lira_retry_config *c, const lira_retry_input *in, lira_rng *rng,
                      lira_budget *budget, lira_retry_decision *out);

/* True for GET HEAD PUT DELETE OPTIONS TRACE (exact, case-sensitive: HTTP
 * method names are); false for POST, PATCH, unknown methods and NULL. */
bool lira_method_is_idempotent(const char *method);

/* Static, never-NULL names for logs and metrics ("unknown" out of range). */
const char *lira_failure_name(lira_failure f);          /* "none", "dns", ... */
const char *lira_stop_reason_name(lira_stop_reason r);  /* "success", "budget", ... */
const char *lira_retry_reason_name(lira_retry_reason r); /* "status_5xx", ... */

#endif
