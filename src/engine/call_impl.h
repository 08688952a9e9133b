/* call_impl.h — the call record that call.c and its neighbours share
 * (call_start.c, call_cancel.c, call_kind.c, call_msg.c), and the entries
 * into the pipeline that they use. Internal to src/engine: other layers use
 * call.h. */
#ifndef LIRA_CALL_IMPL_H
#define LIRA_CALL_IMPL_H

#include <stdint.h>

#include "telemetry.h"
#include "trace.h"
#include "upstream_impl.h"

#define CALL_READ_TIMEOUT_DEFAULT_NS (INT64_C(10) * LIRA_NS_PER_SEC)

/* Records kept in an upstream's pool are poisoned under ASan (see
 * call_start.c). */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define CALL_POOL_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define CALL_POOL_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define CALL_POOL_POISON(p, n) ((void)(p), (void)(n))
#define CALL_POOL_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* "traceparent: " + the value, and "tracestate: " + up to the kept max. */
#define CALL_TP_LINE (13 + LIRA_TRACEPARENT_STR_SIZE)
#define CALL_TS_LINE (12 + LIRA_TRACESTATE_MAX + 1)

typedef enum call_phase {
    PH_IDLE = 0,   /* inside lira_call_start, between steps */
    PH_TOKEN,      /* waiting on the limiter's timer */
    PH_ATTEMPT,    /* an attempt in the transport */
    PH_BACKOFF,    /* waiting before the next attempt */
    PH_DELIVER,    /* result ready; done runs from a 0-delay timer */
    PH_DONE
} call_phase;

struct lira_call {
    struct lira_call *prev, *next;   /* in u->calls */
    lira_engine *e;
    lira_upstream *u;                /* a reference */
    lira_call_spec spec;             /* req's pointers point at the copies below */
    char *method, *url, **headers;   /* headers: NULL-terminated, with two
                                        spare slots past the NULL for the
                                        trace context lines below */
    char *endpoint, *request_id;     /* copies, or NULL */
    size_t method_len, url_len, endpoint_len;
    /* Every copy above (and body) lives in this one buffer, which stays
     * with the record while it waits in its upstream's pool. */
    char *arena;
    size_t arena_cap;
    size_t nheaders;                 /* the caller's lines */
    int user_trace_ctx;              /* the caller set traceparent/tracestate */
    void *body;
    lira_call_done_fn done;
    void *ud;
    call_phase ph;
    int in_start, cancelling;
    lira_timer timer;
    lira_transport *tp;              /* the transport of the attempt in flight */
    lira_transfer *xfer;
    lira_breaker_permit permit;
    int has_permit, has_token;
    uint32_t permit_epoch, token_epoch;
    int attempts;
    int64_t start_ns, attempt_start_ns, attempt_timeout_ns, prev_delay_ns;
    int attempt_cut;                 /* the attempt's timeout was cut by the deadline */
    lira_http_response *last;        /* the last attempt's outcome (owned) */
    lira_retry_reason outcome_rr;    /* the last attempt's: why it was retryable */
    lira_retry_reason last_rr;       /* the latest non-NONE of those (for logs) */
    char local_err[128];             /* why a local step failed, for the message */
    lira_call_result r;
    lira_tel_call tc;                /* telemetry's per-call state */
    char tp_line[CALL_TP_LINE];      /* sent with the attempt, no allocation */
    char ts_line[CALL_TS_LINE];
};

/* ---- call.c: the pipeline's entries, for the files around it */

/* Run a record set up by lira_call_start (linked in u->calls, telemetry
 * told): its first step; when it ended already, its delivery is deferred to
 * the next turn. On an error return the record is freed and done never
 * runs. */
int lira__call_run(lira_call *c);

/* Give the record back to its upstream's pool (or free it) and drop the
 * reference it holds on the upstream. */
void lira__call_free(lira_call *c);

/* End the call at `now` (the time its caller read): fill its result from
 * the last outcome and `stop`, then deliver. `force` (when not NONE) is the
 * kind to report if no response is returned. */
void lira__call_stop(lira_call *c, int64_t now, lira_stop_reason stop, lira_error_kind force,
                     int64_t retry_after_ns);

/* Give back the limiter token the call holds, if any. */
void lira__call_give_back_token(lira_call *c, int64_t now);

/* ---- call_kind.c */

/* The kind of a call that ends without a final response. */
lira_error_kind lira__call_kind(const lira_call *c, lira_stop_reason stop);

/* ---- call_msg.c */

/* Deep-copy `s` into c->arena (method, url, headers, body, endpoint,
 * request_id), growing it when too small; LIRA_ENOMEM. */
int lira__call_copy_spec(lira_call *c, const lira_call_spec *s);

/* Write r->message for the outcome (`last` = the last attempt's response,
 * or NULL). */
void lira__call_message(const lira_call *c, lira_call_result *r, const lira_http_response *last);

#endif
