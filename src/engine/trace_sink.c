/* trace_sink.c — the tracer as the telemetry hub's sink: a CLIENT span per
 * attempt, whose traceparent the pipeline sends, and a logical-call span
 * (INTERNAL) over them when the call has several attempts (or none).
 *
 *   call_start     the call span's context (ids, sampling), child of the
 *                  current span; no record yet; tc carries its ids
 *   attempt_start  start the attempt span (child of the call span); write its
 *                  traceparent; at a second attempt, record the call span
 *                  (start time: the call's) and export attempt 1, held so far
 *   attempt_end    the outcome (status code, error.type); attempt 1's record
 *                  is held, later ones are exported
 *   call_end       end a still-open attempt as cancelled. One attempt: its
 *                  span becomes the call's span — its parent set to the call
 *                  span's parent, lira.client and url.template added — and
 *                  the call's log line carries its id. Otherwise: end the
 *                  call span with the call's attributes.
 *
 * Most calls have one attempt: they record and encode one span, not two.
 * The traceparent each attempt sends is the same either way.
 *
 * The per-call object (two spans) comes from a small pool on the tracer:
 * after warm-up a call allocates nothing when no span is recorded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otlp.h"
#include "status.h"
#include "telemetry.h"
#include "trace_impl.h"
#include "telemetry_url.h"

#define POOL_MAX 64

struct trace_call {
    trace_call *next;              /* in the pool */
    lira_span call;
    lira_span attempt;
    lira_span_data *held;          /* attempt 1's record until the call shows its shape */
    int attempts;                  /* attempts ended so far */
    int multi;                     /* a second attempt started: the call span is recorded */
    int64_t start_wall;            /* the call's start (unix ns), when the call span may record */
    char name[LIRA_SPAN_MAX_NAME + 1];
};

/* The call span's ids into tc, for a line that carries them (a call of
 * several attempts, or none). A call of one attempt never needs this: its
 * line carries the ids its traceparent already spelled out. */
static void hex_ids(lira_tracer *t, lira_span *sp, lira_tel_call *tc)
{
    lira__span_ensure_id(t, sp);
    lira_trace_id_format(sp->ctx.trace_id, tc->trace_id, sizeof tc->trace_id);
    lira_span_id_format(sp->ctx.span_id, tc->span_id, sizeof tc->span_id);
}

/* "<method> <endpoint>" (or the method alone), cut to LIRA_SPAN_MAX_NAME:
 * two memcpys, as this runs for every call, sampled or not. */
static void call_name(char out[LIRA_SPAN_MAX_NAME + 1], const char *m, const char *endpoint)
{
    size_t ml = strlen(m), el = endpoint ? strlen(endpoint) : 0;
    if (ml > LIRA_SPAN_MAX_NAME)
        ml = LIRA_SPAN_MAX_NAME;
    memcpy(out, m, ml);
    if (el && ml < LIRA_SPAN_MAX_NAME) {
        out[ml++] = ' ';
        if (el > LIRA_SPAN_MAX_NAME - ml)
            el = LIRA_SPAN_MAX_NAME - ml;
        memcpy(out + ml, endpoint, el);
        ml += el;
    }
    out[ml] = '\0';
}

static void set_cstr(lira_span *sp, const char *key, const char *v)
{
    if (v)
        lira_span_set_str(sp, key, v, strlen(v));
}

/* End the current attempt's span with its outcome; attempt 1's record is
 * held (the call may yet have a second attempt), later ones are exported. */
static void end_attempt(trace_call *c, const lira_http_response *res)
{
    lira__span_http_outcome(&c->attempt, res);
    if (++c->attempts == 1 && !c->multi)
        c->held = lira__span_end_hold(&c->attempt);
    else
        lira_span_end(&c->attempt);
}

/* Give the call span its record (when sampled) with the call's start time
 * and attributes. */
static void record_call(lira_tracer *t, trace_call *c, const lira_tel_call *tc)
{
    lira__span_ensure_id(t, &c->call);
    lira__span_record_late(t, &c->call, c->name, LIRA_SPAN_INTERNAL, c->start_wall);
    if (c->call.rec) {
        set_cstr(&c->call, "lira.client", tc->client);
        set_cstr(&c->call, "http.request.method", tc->method);
        set_cstr(&c->call, "url.template", tc->endpoint);
    }
}

/* A call of one attempt: that attempt's span stands for the call, under the
 * call's parent; the call span (never recorded) is forgotten. */
static void end_single(trace_call *c, lira_tel_call *tc)
{
    lira_span_data *d = c->held;
    c->held = NULL;
    if (d) {
        d->has_parent = c->call.has_parent;
        memcpy(d->parent_span_id, c->call.parent_span_id, sizeof d->parent_span_id);
        if (tc->client)
            LIRA__DATA_ADD_STR(d, "lira.client", tc->client, strlen(tc->client));
        if (tc->endpoint)
            LIRA__DATA_ADD_STR(d, "url.template", tc->endpoint, strlen(tc->endpoint));
        lira__span_data_submit(d, 1);
    }
    /* tc's ids are the attempt's already (on_attempt_start wrote them). */
    lira_span_discard(&c->call);
}

static void call_outcome(trace_call *c, const lira_call_result *r)
{
    if (!c->call.rec || !r)
        return;
    LIRA__SET_INT(&c->call, "lira.attempts", r->attempts);
    char code[16];
    const char *etype = NULL;
    if (r->res) {
        LIRA__SET_INT(&c->call, "http.response.status_code", r->res->status);
        if (r->res->status >= 400)
            snprintf(code, sizeof code, "%d", r->res->status), etype = code;
    } else if (r->kind != LIRA_KIND_NONE) {
        etype = lira_error_kind_name(r->kind);
    }
    if (etype) {
        set_cstr(&c->call, "error.type", etype);
        lira_span_set_status(&c->call, LIRA_STATUS_ERROR, r->res ? NULL : r->message);
    }
}

static void on_call_start(void *ud, lira_tel_call *tc, int64_t now, int64_t wall)
{
    (void)now;
    lira_tracer *t = ud;
    trace_call *c = t->pool;
    if (c)
        t->pool = c->next, t->npool--;
    else if (!(c = malloc(sizeof *c)))
        return;
    c->attempt.started = 0;
    c->held = NULL;
    c->attempts = c->multi = 0;
    /* Unsampled: no call span id (no one sees it unless the call has
     * several attempts or none) and no span name (nothing is recorded). */
    lira__span_start_ex(t, &c->call, NULL, LIRA_SPAN_INTERNAL, lira_tracer_current(t),
                        LIRA__SPAN_LAZY_ID);
    c->start_wall = 0;
    c->name[0] = '\0';
    if (lira__span_wants_record(t, &c->call)) {
        c->start_wall = wall;
        call_name(c->name, tc->method ? tc->method : "HTTP", tc->endpoint);
    }
    tc->trace = c;
    /* No hex yet: most calls have one attempt, whose traceparent spells
     * the ids out for the log line (on_attempt_start). */
}

static void on_attempt_start(void *ud, lira_tel_call *tc, int attempt, int64_t now, int64_t wall,
                             char *traceparent, size_t cap)
{
    (void)now, (void)wall;
    trace_call *c = tc->trace;
    if (traceparent && cap)
        traceparent[0] = '\0';
    if (!c)
        return;
    if (c->attempt.started)
        end_attempt(c, NULL);
    if (c->attempts >= 1 && !c->multi) {
        /* a second attempt: the call span is recorded after all, and
         * attempt 1 (already its child) can go */
        c->multi = 1;
        record_call(ud, c, tc);
        lira__span_data_submit(c->held, 1);
        c->held = NULL;
    }
    lira_tracer *t = ud;
    const lira_url_info *in = NULL;
    if (c->name[0] && tc->url)   /* recorded: url.full and server.* from the memo */
        in = lira__url_memo_kept(lira__telemetry_url_memo(t->e), tc->url,
                                 tc->url_len ? tc->url_len : strlen(tc->url), &tc->url_info,
                                 &tc->url_gen);
    lira__span_start_http_url(t, &c->attempt, &c->call.ctx, tc->method ? tc->method : "GET",
                              tc->url ? tc->url : "", attempt - 1, c->name[0] ? c->name : NULL, in);
    /* The trace and span ids are in the traceparent just written
     * ("00-<trace>-<span>-<flags>"): copy them for the lines. */
    if (traceparent && lira_span_traceparent(&c->attempt, traceparent, cap) == LIRA_OK) {
        memcpy(tc->trace_id, traceparent + 3, LIRA_TRACE_ID_HEX_SIZE - 1);
        tc->trace_id[LIRA_TRACE_ID_HEX_SIZE - 1] = '\0';
        memcpy(tc->span_id, traceparent + 36, LIRA_SPAN_ID_HEX_SIZE - 1);
        tc->span_id[LIRA_SPAN_ID_HEX_SIZE - 1] = '\0';
    } else {
        if (traceparent && cap)
            traceparent[0] = '\0';
        hex_ids(ud, &c->attempt, tc);
    }
}

static void on_attempt_end(void *ud, lira_tel_call *tc, const lira_call_attempt *a, int64_t now,
                           int64_t wall)
{
    (void)ud, (void)now, (void)wall;
    trace_call *c = tc->trace;
    if (!c || !c->attempt.started)
        return;
    if (a && a->retry_reason != LIRA_RR_NONE) {
        const char *rr = lira_retry_reason_name(a->retry_reason);
        LIRA__ADD_STR(&c->attempt, "lira.retry_reason", rr, strlen(rr));
    }
    end_attempt(c, a ? a->res : NULL);
}

static void on_call_end(void *ud, lira_tel_call *tc, const lira_call_result *r, int64_t now,
                        int64_t wall)
{
    (void)now, (void)wall;
    lira_tracer *t = ud;
    trace_call *c = tc->trace;
    if (!c)
        return;
    if (c->attempt.started)
        end_attempt(c, NULL);
    if (c->attempts == 1 && !c->multi) {
        end_single(c, tc);
    } else {
        if (!c->multi)
            record_call(t, c, tc);   /* no attempt at all: the call span tells why */
        call_outcome(c, r);
        hex_ids(t, &c->call, tc);   /* the line carries the call span */
        lira_span_end(&c->call);
    }
    tc->trace = NULL;
    if (t->npool < POOL_MAX && !t->engine_gone) {
        c->next = t->pool, t->pool = c, t->npool++;
    } else {
        free(c);
    }
}

static void on_current(void *ud, char trace_id[LIRA_TRACE_ID_HEX_SIZE],
                       char span_id[LIRA_SPAN_ID_HEX_SIZE])
{
    const lira_span_ctx *c = lira_tracer_current(ud);
    if (!c || !c->valid) {
        trace_id[0] = span_id[0] = '\0';
        return;
    }
    lira_trace_id_format(c->trace_id, trace_id, LIRA_TRACE_ID_HEX_SIZE);
    lira_span_id_format(c->span_id, span_id, LIRA_SPAN_ID_HEX_SIZE);
}

static void on_destroy(void *ud)
{
    lira_tracer *t = ud;
    t->sink_attached = 0;
    lira__tracer_close(t);
    lira__tracer_maybe_free(t);
}

int lira__trace_sink_attach(lira_tracer *t)
{
    lira_telemetry *h = NULL;
    int rc = lira_telemetry_get(t->e, &h);
    if (rc != LIRA_OK)
        return rc;
    lira_telemetry_sink s = {
        .ud = t,
        .call_start = on_call_start,
        .attempt_start = on_attempt_start,
        .attempt_end = on_attempt_end,
        .call_end = on_call_end,
        .current = on_current,
        .destroy = on_destroy,
    };
    t->sink_attached = 1;
    rc = lira_telemetry_set_sink(h, &s);
    if (rc != LIRA_OK)
        t->sink_attached = 0;
    return rc;
}

void lira__trace_sink_pool_free(lira_tracer *t)
{
    while (t->pool) {
        trace_call *c = t->pool;
        t->pool = c->next;
        free(c);
    }
    t->npool = 0;
}

lira_tracer *lira_tracer_peek(const lira_engine *e)
{
    lira_telemetry *h = lira_telemetry_of(e);
    if (!h)
        return NULL;
    const lira_telemetry_sink *s = lira_telemetry_sink_of(h);
    return s && s->destroy == on_destroy ? s->ud : NULL;
}

const char *lira_trace_call_tracestate(const lira_tel_call *tc)
{
    const trace_call *c = tc ? tc->trace : NULL;
    return c && c->attempt.started ? lira_span_tracestate(&c->attempt) : NULL;
}
