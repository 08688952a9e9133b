#include "retry.h"

#include <string.h>

#include "status.h"

int lira_retry_config_default(lira_retry_config *c)
{
    if (!c)
        return LIRA_EINVAL;
    c->attempts = 4;
    c->max_elapsed_ns = 0;
    return lira_backoff_config_default(&c->backoff);
}

int lira_retry_config_check(const lira_retry_config *c)
{
    if (!c || c->attempts < 1 || c->attempts > LIRA_RETRY_MAX_ATTEMPTS || c->max_elapsed_ns < 0)
        return LIRA_EINVAL;
    return lira_backoff_config_check(&c->backoff);
}

static int input_check(const lira_retry_input *in)
{
    if ((unsigned)in->failure >= LIRA_FAIL_COUNT_)
        return LIRA_EINVAL;
    if (in->failure == LIRA_FAIL_NONE && (in->status < 100 || in->status > 999))
        return LIRA_EINVAL;
    if (in->attempts_made < 1 || in->retry_after_ns < -1 || in->prev_delay_ns < 0)
        return LIRA_EINVAL;
    if (in->start_ns < 0 || in->now_ns < in->start_ns || in->deadline_ns < 0)
        return LIRA_EINVAL;
    return LIRA_OK;
}

/* Rule 1: either a retry reason (the outcome may be retried) or, through
 * *stop, the reason the call is over. */
static lira_retry_reason classify(const lira_retry_input *in, lira_stop_reason *stop)
{
    *stop = LIRA_STOP_NONE;
    switch (in->failure) {
    case LIRA_FAIL_DNS:       return LIRA_RR_DNS;
    case LIRA_FAIL_CONNECT:   return LIRA_RR_CONNECT;
    case LIRA_FAIL_TLS:       return LIRA_RR_TLS;
    case LIRA_FAIL_TIMEOUT:   return LIRA_RR_TIMEOUT;
    case LIRA_FAIL_TRANSPORT: return LIRA_RR_TRANSPORT;
    case LIRA_FAIL_TOO_LARGE: *stop = LIRA_STOP_TOO_LARGE; return LIRA_RR_NONE;
    case LIRA_FAIL_CANCELLED: *stop = LIRA_STOP_CANCELLED; return LIRA_RR_NONE;
    case LIRA_FAIL_DEADLINE:  *stop = LIRA_STOP_DEADLINE;  return LIRA_RR_NONE;
    default:                  break;
    }
    if (in->status >= 500 && in->status <= 599)
        return LIRA_RR_STATUS_5XX;
    if (in->status == 429)
        return LIRA_RR_STATUS_429;
    *stop = in->status >= 200 && in->status <= 299 ? LIRA_STOP_SUCCESS : LIRA_STOP_STATUS;
    return LIRA_RR_NONE;
}

static bool never_left(lira_retry_reason r)
{
    return r == LIRA_RR_DNS || r == LIRA_RR_CONNECT || r == LIRA_RR_TLS;
}

static int64_t add_sat(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

static int finish(lira_retry_decision *out, lira_retry_reason reason, lira_stop_reason stop,
                  int64_t delay_ns)
{
    out->action = stop == LIRA_STOP_NONE ? LIRA_RETRY_AGAIN : LIRA_RETRY_STOP;
    out->stop = stop;
    out->reason = reason;
    out->delay_ns = stop == LIRA_STOP_NONE ? delay_ns : 0;
    return LIRA_OK;
}

int lira_retry_decide(const lira_retry_config *c, const lira_retry_input *in, lira_rng *rng,
                      lira_budget *budget, lira_retry_decision *out)
{
    if (!c || !in || !out || lira_retry_config_check(c) != LIRA_OK || input_check(in) != LIRA_OK)
        return LIRA_EINVAL;
    if (!rng && c->backoff.jitter != LIRA_JITTER_NONE)
        return LIRA_EINVAL;

    lira_stop_reason stop;
    lira_retry_reason reason = classify(in, &stop);
    if (stop != LIRA_STOP_NONE)
        return finish(out, reason, stop, 0);
    if (!in->idempotent && !in->has_idempotency_key && !never_left(reason))
        return finish(out, reason, LIRA_STOP_NOT_IDEMPOTENT, 0);
    if (in->attempts_made >= c->attempts)
        return finish(out, reason, LIRA_STOP_ATTEMPTS, 0);

    int64_t delay;
    int rc = lira_backoff_next(&c->backoff, rng, in->attempts_made, in->prev_delay_ns, &delay);
    if (rc != LIRA_OK)
        return rc;
    if (in->retry_after_ns > delay)
        delay = in->retry_after_ns;

    int64_t next_start = add_sat(in->now_ns, delay);
    if (c->max_elapsed_ns > 0 && next_start - in->start_ns > c->max_elapsed_ns)
        return finish(out, reason, LIRA_STOP_MAX_ELAPSED, 0);
    if (in->deadline_ns > 0 && next_start >= in->deadline_ns)
        return finish(out, reason, LIRA_STOP_DEADLINE, 0);
    if (in->breaker_open)
        return finish(out, reason, LIRA_STOP_BREAKER_OPEN, 0);
    if (budget && lira_budget_withdraw(budget, in->now_ns) != LIRA_OK)
        return finish(out, reason, LIRA_STOP_BUDGET, 0);
    return finish(out, reason, LIRA_STOP_NONE, delay);
}

bool lira_method_is_idempotent(const char *method)
{
    static const char *const idempotent[] = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"};
    if (!method)
        return false;
    for (size_t i = 0; i < sizeof idempotent / sizeof idempotent[0]; i++)
        if (strcmp(method, idempotent[i]) == 0)
            return true;
    return false;
}

static const char *const failure_names[LIRA_FAIL_COUNT_] = {
    "none", "dns", "connect", "tls", "timeout", "transport", "too_large", "cancelled", "deadline"};

static const char *const stop_names[LIRA_STOP_COUNT_] = {
    "none",     "success", "status_not_retryable", "not_idempotent", "attempts_exhausted",
    "max_elapsed", "deadline", "budget", "breaker_open", "cancelled", "too_large"};

static const char *const reason_names[LIRA_RR_COUNT_] = {
    "none", "status_5xx", "status_429", "timeout", "connect", "dns", "tls", "transport"};

const char *lira_failure_name(lira_failure f)
{
    return (unsigned)f < LIRA_FAIL_COUNT_ ? failure_names[f] : "unknown";
}

const char *lira_stop_reason_name(lira_stop_reason r)
{
    return (unsigned)r < LIRA_STOP_COUNT_ ? stop_names[r] : "unknown";
}

const char *lira_retry_reason_name(lira_retry_reason r)
{
    return (unsigned)r < LIRA_RR_COUNT_ ? reason_names[r] : "unknown";
}
