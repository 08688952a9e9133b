/* transport_script.c — the scripted transport (see transport_script.h):
 * its attempts (start, completion on a timer, cancel), the record of the
 * requests it saw, its counters and lifetime. The routes and their step
 * queues, which decide what an attempt gets, are transport_script_steps.c's.
 *
 * Each attempt's outcome is decided when it starts (which step serves it,
 * and whether the request's timeout cuts the step's delay); the response is
 * built then too, so completion only hands it over. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mem.h"
#include "status.h"
#include "transport_script_impl.h"

#define DEFAULT_MAX_BODY ((size_t)10 * 1024 * 1024)

struct sxfer {
    struct sxfer *prev, *next;
    script_tp *tp;
    lira_timer timer;
    lira_http_done_fn done;
    void *ud;
    lira_http_response *res;  /* prepared at start */
    lira_script_request *rec; /* NULL when not recorded */
    uint64_t rec_gen;
    int held;
};

static const lira_transport_ops script_ops;

script_tp *lira__script_of(const lira_transport *t)
{
    return t && t->ops == &script_ops ? (script_tp *)(uintptr_t)t : NULL;
}

char *lira__script_dup(const char *s) { return s ? lira_strndup(s, strlen(s)) : NULL; }

/* Copy a NULL-terminated list of lines; LIRA_ETOOBIG past `cap`. */
int lira__script_copy_lines(const char *const *in, size_t cap, char ***out, size_t *n)
{
    size_t k = 0;
    while (in && in[k])
        if (++k > cap)
            return LIRA_ETOOBIG;
    *out = NULL;
    *n = 0;
    if (k == 0)
        return LIRA_OK;
    char **l = calloc(k, sizeof *l);
    if (!l)
        return LIRA_ENOMEM;
    for (size_t i = 0; i < k; i++) {
        if (!(l[i] = lira__script_dup(in[i]))) {
            lira_lines_free(l, i);
            return LIRA_ENOMEM;
        }
    }
    *out = l;
    *n = k;
    return LIRA_OK;
}

static void free_record(lira_script_request *r)
{
    if (!r)
        return;
    free(r->method);
    free(r->url);
    lira_lines_free(r->headers, r->nheaders);
    free(r->body);
    free(r);
}

/* ------------------------------------------------------------ the record */

static lira_script_request *record(script_tp *tp, const lira_http_request *req, int64_t now)
{
    if (tp->nrecs >= tp->max_records)
        return NULL;
    if (tp->nrecs == tp->caprecs) {
        size_t cap = tp->caprecs ? tp->caprecs * 2 : 16;
        lira_script_request **g = realloc(tp->recs, cap * sizeof *g);
        if (!g)
            return NULL;
        tp->recs = g;
        tp->caprecs = cap;
    }
    lira_script_request *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->method = lira__script_dup(req->method);
    r->url = lira__script_dup(req->url);
    int rc = lira__script_copy_lines(req->headers, SIZE_MAX, &r->headers, &r->nheaders);
    if (req->body && (r->body = lira_strndup(req->body, req->body_len)))
        r->body_len = req->body_len;
    if (!r->method || !r->url || rc != LIRA_OK || (req->body && !r->body)) {
        free_record(r);
        return NULL;
    }
    r->at_ns = now;
    r->timeout_ns = req->timeout_ns;
    r->connect_timeout_ns = req->connect_timeout_ns;
    r->max_redirects = req->max_redirects;
    r->max_body = req->max_body;
    r->done_ns = -1;
    tp->recs[tp->nrecs++] = r;
    return r;
}

/* ------------------------------------------------------------ attempts */

static const char *default_error(lira_failure f)
{
    switch (f) {
    case LIRA_FAIL_DNS: return "Could not resolve host (scripted)";
    case LIRA_FAIL_CONNECT: return "Failed to connect: connection refused (scripted)";
    case LIRA_FAIL_TLS: return "TLS handshake failed (scripted)";
    case LIRA_FAIL_TIMEOUT: return "Operation timed out (scripted)";
    case LIRA_FAIL_TOO_LARGE: return "Response body larger than max_body (scripted)";
    default: return "Connection reset by peer (scripted)";
    }
}

static int fill_response(lira_http_response *res, const step_node *s, size_t max_body)
{
    res->status = s->status;
    res->failure = s->failure;
    if (s->failure != LIRA_FAIL_NONE) {
        snprintf(res->error, sizeof res->error, "%s", s->error ? s->error : default_error(s->failure));
        if (s->failure != LIRA_FAIL_TOO_LARGE)
            res->status = 0;
        return LIRA_OK;
    }
    for (size_t i = 0; i < s->nheaders; i++) {
        const char *line = s->headers[i], *colon = strchr(line, ':');
        const char *v = colon + 1;
        size_t vlen = strlen(v);
        while (*v == ' ' || *v == '\t')
            v++, vlen--;
        while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
            vlen--;
        int rc = lira_http_response_add_header(res, line, (size_t)(colon - line), v, vlen);
        if (rc != LIRA_OK)
            return rc;
    }
    if (s->body_len > max_body) {
        res->failure = LIRA_FAIL_TOO_LARGE;
        snprintf(res->error, sizeof res->error, "%s", default_error(LIRA_FAIL_TOO_LARGE));
        return LIRA_OK;
    }
    return s->body ? lira_http_response_set_body(res, s->body, s->body_len) : LIRA_OK;
}

static void unlink_xfer(script_tp *tp, sxfer *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        tp->flying = x->next;
    if (x->next)
        x->next->prev = x->prev;
    tp->in_flight--;
}

/* Hand the prepared response over and free the attempt. */
static void complete(sxfer *x)
{
    script_tp *tp = x->tp;
    lira_engine *e = tp->base.engine;
    unlink_xfer(tp, x);
    if (x->held)
        lira_engine_release(e);
    lira_http_response *res = x->res;
    if (x->rec && x->rec_gen == tp->rec_gen) {
        x->rec->done = 1;
        x->rec->done_ns = lira_engine_now(e);
        x->rec->status = res->status;
        x->rec->failure = res->failure;
    }
    lira_http_done_fn done = x->done;
    void *ud = x->ud;
    free(x);
    done(ud, res);
}

static void on_due(lira_timer *t, void *ud)
{
    (void)t;
    complete(ud);
}

/* Build the response `req` gets and when: *at_ns, or -1 for never. */
static int prepare(script_tp *tp, const lira_http_request *req, int64_t now, sxfer *x,
                   int64_t *at_ns)
{
    int consumed = 0;
    step_node *s = lira__script_take_step(tp, req, &consumed);
    lira_http_response *res = x->res;
    int rc = LIRA_OK;
    int64_t delay = LIRA_SCRIPT_HANG;
    if (!s) {
        tp->unmatched++;
        if (x->rec)
            x->rec->unmatched = 1;
        res->failure = LIRA_FAIL_TRANSPORT;
        const char *p;
        size_t n;
        lira__script_url_path(req->url, &p, &n);
        snprintf(res->error, sizeof res->error, "no scripted step for %s %.*s", req->method,
                 (int)(n > 200 ? 200 : n), p);
        delay = 0;
    } else {
        rc = fill_response(res, s, req->max_body ? req->max_body : DEFAULT_MAX_BODY);
        delay = s->delay_ns;
        if (consumed)
            lira__script_free_step(s);
    }
    if (req->timeout_ns > 0 && (delay == LIRA_SCRIPT_HANG || delay > req->timeout_ns)) {
        /* The transport's own timeout wins over a slower step. */
        lira_http_response *t = lira_http_response_new();
        if (!t)
            return LIRA_ENOMEM;
        lira_http_response_free(res);
        x->res = res = t;
        res->failure = LIRA_FAIL_TIMEOUT;
        snprintf(res->error, sizeof res->error, "Operation timed out after %lld ms (scripted)",
                 (long long)(req->timeout_ns / 1000000));
        delay = req->timeout_ns;
    }
    res->timings = (lira_http_timings){-1, -1, -1, -1, delay >= 0 ? delay : -1};
    *at_ns = delay == LIRA_SCRIPT_HANG ? -1 : now + delay;
    return rc;
}

static int script_start(lira_transport *t, const lira_http_request *req, lira_http_done_fn done,
                        void *ud, lira_transfer **out)
{
    script_tp *tp = lira__script_of(t);
    if (!tp || !req || !req->method || !req->url || !done || (req->body_len && !req->body))
        return LIRA_EINVAL;
    lira_engine *e = t->engine;
    int64_t now = lira_engine_now(e);
    sxfer *x = calloc(1, sizeof *x);
    if (!x || !(x->res = lira_http_response_new())) {
        free(x);
        return LIRA_ENOMEM;
    }
    x->tp = tp;
    x->done = done;
    x->ud = ud;
    x->rec = record(tp, req, now);
    x->rec_gen = tp->rec_gen;
    lira_timer_init(&x->timer);
    int64_t at = -1;
    int rc = prepare(tp, req, now, x, &at);
    if (rc == LIRA_OK && at >= 0)
        rc = lira_timer_start(e, &x->timer, at, on_due, x);
    if (rc != LIRA_OK) {
        /* Not started: leave no trace but the record's failure mark. */
        if (x->rec && x->rec_gen == tp->rec_gen)
            x->rec->done = 1, x->rec->failure = LIRA_FAIL_TRANSPORT;
        lira_http_response_free(x->res);
        free(x);
        return rc;
    }
    if (at < 0) {
        lira_engine_hold(e);
        x->held = 1;
    }
    tp->started++;
    tp->in_flight++;
    x->next = tp->flying;
    if (x->next)
        x->next->prev = x;
    tp->flying = x;
    if (out)
        *out = (lira_transfer *)(void *)x;
    return LIRA_OK;
}

static void script_cancel(lira_transport *t, lira_transfer *xt)
{
    script_tp *tp = lira__script_of(t);
    sxfer *x = (sxfer *)(void *)xt;
    if (!tp || !x)
        return;
    lira_timer_stop(t->engine, &x->timer);
    /* Reuse the prepared response so that cancelling needs no allocation. */
    lira_http_response *res = x->res;
    res->status = 0;
    res->failure = LIRA_FAIL_CANCELLED;
    snprintf(res->error, sizeof res->error, "%s", "cancelled");
    complete(x);
}

static void drop_records(script_tp *tp)
{
    for (size_t i = 0; i < tp->nrecs; i++)
        free_record(tp->recs[i]);
    tp->nrecs = 0;
    tp->rec_gen++;
}

static void script_destroy(lira_transport *t)
{
    script_tp *tp = lira__script_of(t);
    if (!tp)
        return;
    while (tp->flying)
        script_cancel(t, (lira_transfer *)(void *)tp->flying);
    lira__script_drop_steps(tp);
    drop_records(tp);
    free(tp->recs);
    free(tp);
}

static const lira_transport_ops script_ops = {script_start, script_cancel, script_destroy};

/* ------------------------------------------------------------ public */

int lira_script_new(lira_engine *e, const lira_script_options *opt, lira_transport **out)
{
    if (!e || !out)
        return LIRA_EINVAL;
    script_tp *tp = calloc(1, sizeof *tp);
    if (!tp)
        return LIRA_ENOMEM;
    tp->base.ops = &script_ops;
    tp->base.engine = e;
    tp->max_records = opt && opt->max_records ? opt->max_records : LIRA_SCRIPT_DEFAULT_MAX_RECORDS;
    *out = &tp->base;
    return LIRA_OK;
}

int lira_script_install(lira_engine *e, const lira_script_options *opt, lira_transport **out)
{
    lira_transport *t = NULL;
    int rc = lira_script_new(e, opt, &t);
    if (rc != LIRA_OK)
        return rc;
    rc = lira_engine_set_transport(e, t);
    if (rc != LIRA_OK) {
        script_destroy(t);
        return rc;
    }
    if (out)
        *out = t;
    return LIRA_OK;
}

size_t lira_script_count(const lira_transport *t)
{
    script_tp *tp = lira__script_of(t);
    return tp ? tp->nrecs : 0;
}

const lira_script_request *lira_script_request_at(const lira_transport *t, size_t i)
{
    script_tp *tp = lira__script_of(t);
    return tp && i < tp->nrecs ? tp->recs[i] : NULL;
}

const char *lira_script_request_header(const lira_script_request *r, const char *name)
{
    if (!r || !name)
        return NULL;
    size_t n = strlen(name);
    const char *found = NULL;
    for (size_t i = 0; i < r->nheaders; i++) {
        const char *l = r->headers[i];
        if (strncasecmp(l, name, n) == 0 && l[n] == ':') {
            found = l + n + 1;
            while (*found == ' ' || *found == '\t')
                found++;
        }
    }
    return found;
}

size_t lira_script_started(const lira_transport *t)
{
    script_tp *tp = lira__script_of(t);
    return tp ? tp->started : 0;
}

size_t lira_script_unmatched(const lira_transport *t)
{
    script_tp *tp = lira__script_of(t);
    return tp ? tp->unmatched : 0;
}

size_t lira_script_in_flight(const lira_transport *t)
{
    script_tp *tp = lira__script_of(t);
    return tp ? tp->in_flight : 0;
}

void lira_script_reset(lira_transport *t)
{
    script_tp *tp = lira__script_of(t);
    if (!tp)
        return;
    lira__script_drop_steps(tp);
    drop_records(tp);
    tp->started = tp->unmatched = 0;
}
