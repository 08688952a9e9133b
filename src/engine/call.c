/* call.c — the pipeline of one logical call (call.h):
 *
 *   limiter_step -> [token timer] -> send_step -> transport ... on_attempt_done
 *     -> breaker record, limiter feed, classify -> [backoff timer] -> limiter_step
 *     ... -> lira__call_stop -> deliver (done, exactly once)
 *
 * A call is in one phase at a time and owns exactly one pending thing in
 * it: a timer (token wait, backoff, deferred delivery) or an attempt in the
 * transport. That makes cancel a switch on the phase. Permits and tokens
 * are remembered with the epoch of the breaker/limiter that issued them, so
 * that a part re-created by a config change never gets back what it did
 * not hand out.
 *
 * This file is the per-attempt path, kept in one unit so that its static
 * steps stay direct (often inlined) calls. What runs once around it lives
 * next to it: call_start.c (the spec's checks, the record from the pool,
 * lira_call_start), call_cancel.c (lira_call_cancel), call_kind.c (error
 * kinds), call_msg.c (the spec's copy, err.message). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call_impl.h"
#include "httpdate.h"
#include "ratelimit.h"
#include "status.h"

/* ------------------------------------------------------------ lifecycle */

static void unlink_call(lira_call *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else if (c->u->calls == c)
        c->u->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

/* Back to u's pool, where call_start.c takes records from. */
void lira__call_free(lira_call *c)
{
    lira_upstream *u = c->u;
    lira_http_response_free(c->last);
    c->last = NULL;
    if (u && u->npool < LIRA_CALL_POOL_MAX && c->arena_cap <= LIRA_CALL_POOL_KEEP_BYTES) {
        c->next = u->pool;
        u->pool = c;
        u->npool++;
        CALL_POOL_POISON(c->arena, c->arena_cap);
        CALL_POOL_POISON(c, sizeof *c);
    } else {
        free(c->arena);
        free(c);
    }
    lira_upstream_release(u);   /* may destroy u, and its pool with it */
}

/* The engine's hub while this call is reported to it (never kept: the hub
 * is looked up at each event). */
static lira_telemetry *tel(const lira_call *c)
{
    return c->tc.started ? lira_telemetry_of(c->e) : NULL;
}

static void tel_call_end(lira_call *c, int64_t now)
{
    lira_telemetry *t = tel(c);
    if (t)
        lira_telemetry_call_end(t, &c->tc, &c->r, now, lira_engine_wall_at(c->e, now));
}

static void deliver(lira_call *c, int64_t now)
{
    unlink_call(c);
    c->ph = PH_DONE;
    tel_call_end(c, now);
    c->done(c->ud, &c->r);
    lira__call_free(c);
}

static void on_deliver_timer(lira_timer *t, void *ud)
{
    (void)t;
    lira_call *c = ud;
    deliver(c, lira_engine_now(c->e));
}

void lira__call_give_back_token(lira_call *c, int64_t now)
{
    if (!c->has_token)
        return;
    c->has_token = 0;
    lira_limiter *l = lira_upstream_limiter(c->u);
    if (l && c->token_epoch == c->u->limiter_epoch)
        lira_limiter_cancel(l, now, 1);
}

static void cancel_permit(lira_call *c, int64_t now)
{
    if (!c->has_permit)
        return;
    c->has_permit = 0;
    lira_breaker *b = lira_upstream_breaker(c->u);
    if (b && c->permit_epoch == c->u->breaker_epoch)
        lira_breaker_cancel(b, now, &c->permit);
}

/* End the call: fill c->r from the last outcome and `stop`, then deliver
 * (deferred to a 0-delay timer when still inside lira_call_start).
 * `force` (when not NONE) is the kind to report if no response is returned. */
void lira__call_stop(lira_call *c, int64_t now, lira_stop_reason stop, lira_error_kind force,
                     int64_t retry_after_ns)
{
    lira_call_result *r = &c->r;
    memset(r, 0, sizeof *r);
    r->attempts = c->attempts;
    r->elapsed_ns = now - c->start_ns;
    r->stop = stop;
    r->last_retry_reason = c->last_rr;
    r->retry_after_ns = retry_after_ns;
    if (stop == LIRA_STOP_CANCELLED) {
        lira_http_response_free(c->last);
        c->last = NULL;
    }
    if (c->last && c->last->failure == LIRA_FAIL_NONE) {
        r->res = c->last;
        c->last = NULL;
        r->kind = LIRA_KIND_NONE;
        r->status = r->res->status;
    } else {
        r->kind = force != LIRA_KIND_NONE ? force : lira__call_kind(c, stop);
        r->status = c->last ? c->last->status : 0;
    }
    switch (r->kind) {
    case LIRA_KIND_BREAKER_OPEN: case LIRA_KIND_RATE_LIMITED: case LIRA_KIND_BUDGET:
    case LIRA_KIND_DEADLINE:
        r->retryable = 1;
        break;
    case LIRA_KIND_CANCELLED: case LIRA_KIND_INVALID:
        r->retryable = 0;
        break;
    default:
        r->retryable = c->outcome_rr != LIRA_RR_NONE && stop != LIRA_STOP_NOT_IDEMPOTENT;
    }
    /* The message costs a redaction and formatting: only when something
     * went wrong (no response, or retries cut short), never on success. */
    if (!r->res || (r->stop != LIRA_STOP_SUCCESS && r->stop != LIRA_STOP_STATUS &&
                    r->stop != LIRA_STOP_NONE))
        lira__call_message(c, r, c->last);
    else
        r->message[0] = '\0';
    lira_http_response_free(c->last);
    c->last = NULL;
    c->ph = PH_DELIVER;
    if (!c->in_start)
        deliver(c, now);
}

/* Something local went wrong (no memory for a timer, no transport). */
static void local_error(lira_call *c, int64_t now, int rc, const char *what)
{
    snprintf(c->local_err, sizeof c->local_err, "%s: %s", what, lira_strerror(rc));
    lira__call_stop(c, now, LIRA_STOP_NONE,
                    rc == LIRA_EINVAL ? LIRA_KIND_INVALID : LIRA_KIND_TRANSPORT, -1);
}

/* ------------------------------------------------------------ the steps */

/* Each step takes the time its caller read: the steps that follow one
 * another in a turn (start, token, send; attempt done, stop, deliver) share
 * one clock read. A timer's callback reads the clock afresh. */
static void send_step(lira_call *c, int64_t now);
static void on_attempt_done(void *ud, lira_http_response *res);

static void on_token(lira_timer *t, void *ud)
{
    (void)t;
    lira_call *c = ud;
    send_step(c, lira_engine_now(c->e));
}

/* Take a token (or wait for one), then send. */
static void limiter_step(lira_call *c, int64_t now)
{
    int64_t dl = c->spec.deadline_ns;
    if (dl && now >= dl) {
        lira__call_stop(c, now, LIRA_STOP_DEADLINE, LIRA_KIND_NONE, -1);
        return;
    }
    lira_limiter *l = lira_upstream_limiter(c->u);
    if (!l) {
        send_step(c, now);
        return;
    }
    int64_t wait = 0;
    int rc = lira_limiter_reserve_within(l, now, 1, dl ? dl - now : INT64_MAX, &wait);
    if (rc != LIRA_OK) {
        /* A retry cut short by the limiter keeps its last response (stop:
         * deadline); with none, the error is rate_limited. */
        lira__call_stop(c, now, LIRA_STOP_DEADLINE, LIRA_KIND_RATE_LIMITED,
                        rc == LIRA_EDENIED ? wait : -1);
        return;
    }
    c->has_token = 1;
    c->token_epoch = c->u->limiter_epoch;
    lira_telemetry *t = tel(c);
    if (t)
        lira_telemetry_limiter_wait(t, &c->tc, wait, lira_limiter_available(l, now));
    if (wait <= 0) {
        send_step(c, now);
        return;
    }
    c->ph = PH_TOKEN;
    rc = lira_timer_start(c->e, &c->timer, now + wait, on_token, c);
    if (rc != LIRA_OK) {
        lira__call_give_back_token(c, now);
        local_error(c, now, rc, "cannot wait for a token");
    }
}

/* The attempt's timeout: min(read timeout, time left); 0 when none is left. */
static int64_t attempt_timeout(lira_call *c, int64_t now, int *cut)
{
    int64_t t = c->spec.read_timeout_ns ? c->spec.read_timeout_ns : CALL_READ_TIMEOUT_DEFAULT_NS;
    *cut = 0;
    if (c->spec.deadline_ns) {
        int64_t left = c->spec.deadline_ns - now;
        if (left <= 0)
            return 0;
        if (left < t)
            t = left, *cut = 1;
    }
    return t;
}

/* Tell telemetry an attempt starts and put its trace context in the spare
 * header slots (unless the caller sent their own); returns 1 when it did. */
static int trace_attempt(lira_call *c, int64_t now)
{
    lira_telemetry *t = tel(c);
    if (!t)
        return 0;
    /* The value is written in place after the header name: no format. */
    static const char name[] = "traceparent: ";
    char *tp = c->tp_line + sizeof name - 1;
    lira_telemetry_attempt_start(t, &c->tc, c->attempts, now, lira_engine_wall_at(c->e, now), tp,
                                 sizeof c->tp_line - (sizeof name - 1));
    if (!tp[0] || c->user_trace_ctx)
        return 0;
    size_t n = c->nheaders;
    memcpy(c->tp_line, name, sizeof name - 1);
    c->headers[n] = c->tp_line;
    const char *ts = lira_trace_call_tracestate(&c->tc);
    if (ts && *ts && snprintf(c->ts_line, sizeof c->ts_line, "tracestate: %s", ts) > 0)
        c->headers[n + 1] = c->ts_line;
    return 1;
}

/* Ask the breaker, then start one attempt on the engine's transport. */
static void send_step(lira_call *c, int64_t now)
{
    int cut = 0;
    int64_t timeout = attempt_timeout(c, now, &cut);
    if (timeout == 0) {
        lira__call_give_back_token(c, now);
        lira__call_stop(c, now, LIRA_STOP_DEADLINE, LIRA_KIND_NONE, -1);
        return;
    }
    lira_breaker *b = lira_upstream_breaker(c->u);
    if (b) {
        int rc = lira_breaker_allow(b, now, &c->permit);
        if (rc == LIRA_EDENIED) {
            lira__call_give_back_token(c, now);
            int64_t ra = lira_breaker_retry_after(b, now);
            lira__call_stop(c, now, LIRA_STOP_BREAKER_OPEN, LIRA_KIND_NONE, ra >= 0 ? ra : -1);
            return;
        }
        c->has_permit = rc == LIRA_OK;
        c->permit_epoch = c->u->breaker_epoch;
    }
    lira_http_request req = c->spec.req;
    req.timeout_ns = timeout;
    c->tp = lira_engine_transport(c->e);
    c->attempts++;
    c->attempt_start_ns = now;
    c->attempt_timeout_ns = timeout;
    c->attempt_cut = cut;
    c->ph = PH_ATTEMPT;
    int traced = trace_attempt(c, now);
    int rc = c->tp ? c->tp->ops->start(c->tp, &req, on_attempt_done, c, &c->xfer) : LIRA_ESTATE;
    if (traced)   /* the transport copied the lines at start */
        c->headers[c->nheaders] = c->headers[c->nheaders + 1] = NULL;
    if (rc != LIRA_OK) {
        c->attempts--;
        lira__call_give_back_token(c, now);
        cancel_permit(c, now);
        local_error(c, now, rc, c->tp ? "cannot start the attempt" : "no transport");
        return;
    }
    c->has_token = 0;   /* spent: the attempt went out */
}

static void on_backoff(lira_timer *t, void *ud)
{
    (void)t;
    lira_call *c = ud;
    limiter_step(c, lira_engine_now(c->e));
}

/* Built-in breaker rule: transport failures (except too_large and
 * cancelled), timeouts and 5xx are failures; everything else succeeded. */
static int builtin_failure(const lira_http_response *res)
{
    switch (res->failure) {
    case LIRA_FAIL_NONE: return res->status >= 500;
    case LIRA_FAIL_TOO_LARGE: case LIRA_FAIL_CANCELLED: return 0;
    default: return 1;
    }
}

static void record_breaker(lira_call *c, const lira_http_response *res, int64_t now, int64_t dur)
{
    if (!c->has_permit)
        return;
    c->has_permit = 0;
    lira_breaker *b = lira_upstream_breaker(c->u);
    if (!b || c->permit_epoch != c->u->breaker_epoch)
        return;
    int failed = c->spec.failure_hook ? c->spec.failure_hook(c->spec.hook_ud, res) : -1;
    if (failed < 0)
        failed = builtin_failure(res);
    lira_breaker_record(b, now, &c->permit, failed != 0, dur < 0 ? 0 : dur);
}

/* Retry-After (429/503) for the decision, and every rate-limit header for
 * the limiter. Returns the parsed Retry-After or -1. */
static int64_t read_headers(lira_call *c, const lira_http_response *res, int64_t now)
{
    if (res->failure != LIRA_FAIL_NONE)
        return -1;
    int64_t wall_s = -1, ra = -1;
    if (res->status == 429 || res->status == 503) {
        const char *v = lira_http_response_header(res, "Retry-After");
        wall_s = lira_engine_wall_at(c->e, now) / LIRA_NS_PER_SEC;
        if (v && lira_retry_after_parse(v, strlen(v), wall_s, &ra) != LIRA_OK)
            ra = -1;
    }
    lira_limiter *l = lira_upstream_limiter(c->u);
    if (!l || !c->u->cfg.read_headers)
        return ra;
    static const char *const names[8] = {
        "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit-Limit",
        "RateLimit-Remaining", "RateLimit-Reset", "RateLimit", "RateLimit-Policy",
    };
    const char *v[8];
    lira_http_response_headers(res, names, 8, v);
    int any = 0;
    for (int i = 0; i < 8; i++)
        any |= v[i] != NULL;
    if (!any && ra < 0)
        return ra;   /* most APIs send neither: nothing for the limiter to learn */
    if (wall_s < 0)
        wall_s = lira_engine_wall_at(c->e, now) / LIRA_NS_PER_SEC;
    lira_ratelimit_headers h = {
        .x_limit = v[0], .x_remaining = v[1], .x_reset = v[2], .limit = v[3],
        .remaining = v[4], .reset = v[5], .ratelimit = v[6], .policy = v[7],
    };
    lira_ratelimit info;
    int rc = lira_ratelimit_parse(&h, wall_s, &info);
    if (ra >= 0) {
        info.has_retry_after = true;
        info.retry_after_ns = ra;
    }
    if (rc == LIRA_OK || info.has_retry_after)
        lira_limiter_observe(l, now, &info);
    return ra;
}

static int builtin_retryable(const lira_http_response *res)
{
    switch (res->failure) {
    case LIRA_FAIL_NONE: return res->status >= 500 || res->status == 429;
    case LIRA_FAIL_DNS: case LIRA_FAIL_CONNECT: case LIRA_FAIL_TLS:
    case LIRA_FAIL_TIMEOUT: case LIRA_FAIL_TRANSPORT: return 1;
    default: return 0;
    }
}

/* Classify the attempt (LUA-API.md §3.2, with the custom rule first). */
static void classify(lira_call *c, const lira_http_response *res, int64_t now, int64_t ra,
                     lira_retry_decision *d)
{
    int hook = c->spec.retry_hook ? c->spec.retry_hook(c->spec.hook_ud, res, c->attempts) : -1;
    if (hook == 0) {
        int ok = res->failure == LIRA_FAIL_NONE && res->status >= 200 && res->status < 300;
        *d = (lira_retry_decision){LIRA_RETRY_STOP,
                                   res->failure == LIRA_FAIL_TOO_LARGE ? LIRA_STOP_TOO_LARGE
                                   : ok ? LIRA_STOP_SUCCESS : LIRA_STOP_STATUS,
                                   LIRA_RR_NONE, 0};
        return;
    }
    lira_breaker *b = lira_upstream_breaker(c->u);
    lira_breaker_state st = LIRA_BREAKER_CLOSED;
    if (b)
        lira_breaker_get_state(b, now, &st);
    lira_retry_input in = {
        .status = res->failure == LIRA_FAIL_NONE ? res->status : 0,
        .failure = res->failure,
        .idempotent = c->spec.idempotent != 0,
        .has_idempotency_key = c->spec.has_idempotency_key != 0,
        .retry_after_ns = ra,
        .attempts_made = c->attempts,
        .prev_delay_ns = c->prev_delay_ns,
        .start_ns = c->start_ns,
        .now_ns = now,
        .deadline_ns = c->spec.deadline_ns,
        .breaker_open = st == LIRA_BREAKER_OPEN || st == LIRA_BREAKER_FORCED_OPEN,
    };
    if (hook == 1 && !builtin_retryable(res)) {
        /* The custom rule says retry what the built-in rule would not: it
         * is then treated like a 5xx (delays, idempotency, budget apply). */
        in.failure = LIRA_FAIL_NONE;
        in.status = 503;
    }
    if (lira_retry_decide(&c->spec.retry, &in, lira_engine_rng(c->e), lira_upstream_budget(c->u),
                          d) != LIRA_OK)
        *d = (lira_retry_decision){LIRA_RETRY_STOP, LIRA_STOP_STATUS, LIRA_RR_NONE, 0};
}

/* The attempt's report: to telemetry, then to the caller's hook. */
static void run_attempt_hook(lira_call *c, const lira_http_response *res, int64_t now,
                             const lira_retry_decision *d)
{
    lira_telemetry *t = tel(c);
    if (!c->spec.attempt_hook && !t)
        return;
    lira_call_attempt a = {
        .attempt = c->attempts,
        .res = res,
        .started_ns = c->attempt_start_ns,
        .duration_ns = now - c->attempt_start_ns,
        .retry_reason = d->action == LIRA_RETRY_AGAIN ? d->reason : LIRA_RR_NONE,
        .next_delay_ns = d->action == LIRA_RETRY_AGAIN ? d->delay_ns : -1,
    };
    if (t) {
        lira_telemetry_attempt_end(t, &c->tc, &a, now, lira_engine_wall_at(c->e, now));
        if (d->action != LIRA_RETRY_AGAIN && d->stop == LIRA_STOP_BUDGET)
            lira_telemetry_budget_refused(t, c->u->name);
    }
    if (c->spec.attempt_hook)
        c->spec.attempt_hook(c->spec.hook_ud, &a);
}

static void on_attempt_done(void *ud, lira_http_response *res)
{
    lira_call *c = ud;
    int64_t now = lira_engine_now(c->e);
    c->xfer = NULL;
    if (!res) {
        cancel_permit(c, now);
        local_error(c, now, LIRA_ENOMEM, "the transport returned no response");
        return;
    }
    if (res->failure == LIRA_FAIL_CANCELLED) {
        cancel_permit(c, now);
        lira_http_response_free(res);
        if (!c->cancelling)   /* the transport went away under us */
            lira__call_stop(c, now, LIRA_STOP_CANCELLED, LIRA_KIND_CANCELLED, -1);
        return;
    }
    record_breaker(c, res, now, now - c->attempt_start_ns);
    int64_t ra = read_headers(c, res, now);
    lira_retry_decision d;
    classify(c, res, now, ra, &d);
    lira_http_response_free(c->last);
    c->last = res;
    c->outcome_rr = d.reason;
    if (d.reason != LIRA_RR_NONE)
        c->last_rr = d.reason;
    run_attempt_hook(c, res, now, &d);
    if (d.action != LIRA_RETRY_AGAIN) {
        lira__call_stop(c, now, d.stop, LIRA_KIND_NONE, ra);
        return;
    }
    c->prev_delay_ns = d.delay_ns;
    c->ph = PH_BACKOFF;
    int rc = lira_timer_start(c->e, &c->timer, now + d.delay_ns, on_backoff, c);
    if (rc != LIRA_OK)
        local_error(c, now, rc, "cannot wait for the backoff");
}

/* ------------------------------------------------------------ entries */

/* Run a record lira_call_start has set up: its first step, and its
 * delivery deferred to the next turn when it ended already. */
int lira__call_run(lira_call *c)
{
    c->in_start = 1;
    limiter_step(c, c->start_ns);
    c->in_start = 0;
    if (c->ph == PH_DELIVER) {
        /* done never runs inside start: deliver from the next turn. */
        int rc = lira_timer_start(c->e, &c->timer, c->start_ns, on_deliver_timer, c);
        if (rc != LIRA_OK) {
            tel_call_end(c, lira_engine_now(c->e));
            lira_http_response_free(c->r.res);
            unlink_call(c);
            lira__call_free(c);
            return rc;
        }
    }
    return LIRA_OK;
}

