/* call_kind.c — error kinds (call.h): their names, and which kind a call
 * that ends without a final response gets, from why it stopped and how its
 * last attempt failed. Only failed calls need the latter: it sits apart
 * from the per-attempt path in call.c. */
#include "call_impl.h"

const char *lira_error_kind_name(lira_error_kind k)
{
    static const char *const names[LIRA_KIND_COUNT_] = {
        "none", "timeout", "deadline", "connect", "tls", "dns", "transport", "breaker_open",
        "rate_limited", "budget", "too_large", "cancelled", "invalid"};
    return k >= 0 && k < LIRA_KIND_COUNT_ ? names[k] : "unknown";
}

/* The kind of a call that ends without a final response. */
lira_error_kind lira__call_kind(const lira_call *c, lira_stop_reason stop)
{
    switch (stop) {
    case LIRA_STOP_BUDGET: return LIRA_KIND_BUDGET;
    case LIRA_STOP_BREAKER_OPEN: return LIRA_KIND_BREAKER_OPEN;
    case LIRA_STOP_DEADLINE: return LIRA_KIND_DEADLINE;
    case LIRA_STOP_CANCELLED: return LIRA_KIND_CANCELLED;
    default: break;
    }
    switch (c->last ? c->last->failure : LIRA_FAIL_TRANSPORT) {
    case LIRA_FAIL_DNS: return LIRA_KIND_DNS;
    case LIRA_FAIL_CONNECT: return LIRA_KIND_CONNECT;
    case LIRA_FAIL_TLS: return LIRA_KIND_TLS;
    case LIRA_FAIL_TIMEOUT: return c->attempt_cut ? LIRA_KIND_DEADLINE : LIRA_KIND_TIMEOUT;
    case LIRA_FAIL_TOO_LARGE: return LIRA_KIND_TOO_LARGE;
    case LIRA_FAIL_CANCELLED: return LIRA_KIND_CANCELLED;
    case LIRA_FAIL_DEADLINE: return LIRA_KIND_DEADLINE;
    default: return LIRA_KIND_TRANSPORT;
    }
}
