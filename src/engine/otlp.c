/* otlp.c — the batching exporter: queue, batch timer, one export in
 * flight on the engine's transport, bounded retries, bounded shutdown flush.
 *
 * States: idle (maybe a batch timer armed), sending (xfer in flight, the
 * batch and its encoded body held), waiting to resend (the same timer, in
 * retry mode, the batch still held). New spans keep queueing meanwhile;
 * kick() decides what happens next whenever a state ends. */
#include "otlp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpdate.h"
#include "status.h"

struct lira_otlp {
    lira_engine *e;
    lira_otlp_config cfg;
    char **hdr_lines;              /* "Name: value", NULL-terminated, built once */
    lira_span_data *qhead, *qtail;
    size_t qlen;
    lira_timer timer;
    int timer_retry;               /* the timer waits to resend the held batch */
    lira_span_data **batch;        /* cap max_batch */
    size_t nbatch;
    char *body;                    /* kept across batches (up to BODY_KEEP bytes) */
    size_t body_len, body_cap;
    int tries;                     /* resends of the held batch so far */
    int64_t prev_delay;
    lira_transport *tp;            /* the transport of the request in flight */
    lira_transfer *xfer;
    int inflight;
    int shutting, closed;
    lira_otlp_stats st;
};

#define BODY_KEEP (1u << 20)   /* a batch of 512 HTTP spans is ~0.5 MB */

static void kick(lira_otlp *x);

/* ------------------------------------------------------------ batches */

static void drop_batch(lira_otlp *x, int delivered)
{
    for (size_t i = 0; i < x->nbatch; i++)
        lira_span_data_release(x->batch[i]);
    if (delivered)
        x->st.exported += x->nbatch;
    else
        x->st.dropped_failed += x->nbatch;
    x->nbatch = 0;
    /* The next batch is encoded into the same buffer: freeing and growing
     * half a megabyte per batch made malloc give the pages back and fault
     * them in again every time. An unusually large one is not kept. */
    if (x->body_cap > BODY_KEEP) {
        free(x->body);
        x->body = NULL;
        x->body_cap = 0;
    }
    x->body_len = 0;
    x->tries = 0;
    x->prev_delay = 0;
}

static void on_done(void *ud, lira_http_response *res);

static void send_held(lira_otlp *x)
{
    lira_http_request req = {
        .method = "POST",
        .url = x->cfg.url,
        .headers = (const char *const *)x->hdr_lines,
        .body = x->body,
        .body_len = x->body_len,
        .body_kept = 1,   /* the exporter's: reused for the next batch once this one is done */
        .timeout_ns = x->cfg.timeout_ns,
        .max_body = 64 * 1024,
    };
    lira_transport *tp = lira_engine_transport(x->e);
    x->st.requests++;
    x->tp = tp;
    if (!tp || tp->ops->start(tp, &req, on_done, x, &x->xfer) != LIRA_OK) {
        drop_batch(x, 0);
        return;
    }
    x->inflight = 1;
}

/* Take the next batch off the queue, encode it and send it. */
static void send_batch(lira_otlp *x)
{
    while (x->nbatch < x->cfg.max_batch && x->qhead) {
        lira_span_data *d = x->qhead;
        x->qhead = d->next;
        x->qlen--;
        x->batch[x->nbatch++] = d;
    }
    if (!x->qhead)
        x->qtail = NULL;
    if (lira_otlp_encode_into(&x->cfg, x->batch, x->nbatch, &x->body, &x->body_cap,
                              &x->body_len) != LIRA_OK) {
        drop_batch(x, 0);
        return;
    }
    x->tries = 0;
    x->prev_delay = 0;
    send_held(x);
}

static void on_timer(lira_timer *t, void *ud)
{
    (void)t;
    lira_otlp *x = ud;
    if (x->timer_retry) {
        x->timer_retry = 0;
        send_held(x);
    } else if (!x->inflight && !x->nbatch && x->qlen) {
        send_batch(x);
    }
    if (!x->inflight)
        kick(x);
}

/* What to do now that nothing is in flight: a full batch goes at once,
 * a partial one waits for the batch timer. */
static void kick(lira_otlp *x)
{
    while (!x->closed && !x->shutting && !x->inflight && !x->timer_retry &&
           x->qlen >= x->cfg.max_batch)
        send_batch(x);
    if (x->closed || x->shutting || x->inflight || x->timer_retry || !x->qlen ||
        lira_timer_armed(&x->timer))
        return;
    lira_timer_start(x->e, &x->timer, lira_engine_now(x->e) + x->cfg.delay_ns, on_timer, x);
}

static int retryable(const lira_http_response *res)
{
    switch (res->failure) {
    case LIRA_FAIL_NONE: return res->status == 429 || res->status >= 500;
    case LIRA_FAIL_TOO_LARGE: case LIRA_FAIL_CANCELLED: return 0;
    default: return 1;
    }
}

/* Arm the resend timer: full-jitter backoff, at least the Retry-After. */
static int schedule_resend(lira_otlp *x, const lira_http_response *res)
{
    int64_t delay = 0, ra = -1;
    if (lira_backoff_next(&x->cfg.backoff, lira_engine_rng(x->e), x->tries + 1, x->prev_delay,
                          &delay) != LIRA_OK)
        return 0;
    const char *h = lira_http_response_header(res, "Retry-After");
    if (h && lira_retry_after_parse(h, strlen(h), lira_engine_wall(x->e) / LIRA_NS_PER_SEC,
                                    &ra) == LIRA_OK && ra > delay)
        delay = ra < x->cfg.backoff.cap_ns ? ra : x->cfg.backoff.cap_ns;
    x->timer_retry = 1;
    lira_timer_stop(x->e, &x->timer);
    if (lira_timer_start(x->e, &x->timer, lira_engine_now(x->e) + delay, on_timer, x) != LIRA_OK) {
        x->timer_retry = 0;
        return 0;
    }
    x->tries++;
    x->prev_delay = delay;
    x->st.retries++;
    return 1;
}

static void on_done(void *ud, lira_http_response *res)
{
    lira_otlp *x = ud;
    x->inflight = 0;
    x->xfer = NULL;
    if (!res) {
        drop_batch(x, 0);
    } else {
        x->st.last_status = res->status;
        if (res->failure == LIRA_FAIL_NONE && res->status >= 200 && res->status < 300)
            drop_batch(x, 1);
        else if (x->closed || x->shutting || !retryable(res) || x->tries >= x->cfg.max_retries ||
                 !schedule_resend(x, res))
            drop_batch(x, 0);
        lira_http_response_free(res);
    }
    kick(x);
}

/* ------------------------------------------------------------ public */

static char **header_lines(const lira_otlp_config *c)
{
    char **l = calloc(c->nheaders + 2, sizeof *l);
    if (!l)
        return NULL;
    size_t n = 0;
    static const char ct[] = "Content-Type: application/json";
    int bad = !(l[n] = malloc(sizeof ct));
    if (!bad)
        memcpy(l[n++], ct, sizeof ct);
    for (size_t i = 0; i < c->nheaders && !bad; i++) {
        size_t len = strlen(c->headers[i].key) + strlen(c->headers[i].value) + 3;
        if (!(l[n] = malloc(len)))
            bad = 1;
        else
            snprintf(l[n++], len, "%s: %s", c->headers[i].key, c->headers[i].value);
    }
    if (bad) {
        for (size_t i = 0; i < n; i++)
            free(l[i]);
        free(l);
        return NULL;
    }
    return l;
}

static int copy_config(lira_otlp_config *dst, const lira_otlp_config *src)
{
    *dst = *src;
    dst->url = NULL;
    dst->nheaders = dst->nresource = 0;
    int rc = lira_otlp_config_set_url(dst, src->url);
    for (size_t i = 0; i < src->nheaders && rc == LIRA_OK; i++)
        rc = lira_otlp_config_set_header(dst, src->headers[i].key, src->headers[i].value);
    for (size_t i = 0; i < src->nresource && rc == LIRA_OK; i++)
        rc = lira_otlp_config_set_resource(dst, src->resource[i].key, src->resource[i].value);
    if (rc != LIRA_OK)
        lira_otlp_config_free(dst);
    return rc;
}

int lira_otlp_new(lira_engine *e, const lira_otlp_config *c, lira_otlp **out)
{
    if (!e || !c || !out || !c->url || c->max_queue < 1 || c->max_batch < 1 ||
        c->max_batch > c->max_queue || c->delay_ns < 0 || c->timeout_ns <= 0 ||
        c->shutdown_timeout_ns < 0 || c->max_retries < 0 ||
        lira_backoff_config_check(&c->backoff) != LIRA_OK)
        return LIRA_EINVAL;
    lira_otlp *x = calloc(1, sizeof *x);
    if (!x)
        return LIRA_ENOMEM;
    x->e = e;
    int rc = copy_config(&x->cfg, c);
    if (rc != LIRA_OK) {
        free(x);
        return rc;
    }
    x->batch = malloc(c->max_batch * sizeof *x->batch);
    x->hdr_lines = header_lines(&x->cfg);
    if (!x->batch || !x->hdr_lines) {
        x->closed = 1;
        lira_otlp_free(x);
        return LIRA_ENOMEM;
    }
    lira_timer_init(&x->timer);
    lira_timer_set_weak(&x->timer, 1);
    *out = x;
    return LIRA_OK;
}

int lira_otlp_enqueue(lira_otlp *x, lira_span_data *d)
{
    if (!x || !d) {
        lira_span_data_release(d);
        return LIRA_EINVAL;
    }
    if (x->closed) {
        lira_span_data_release(d);
        x->st.dropped_failed++;
        return LIRA_ESTATE;
    }
    if (x->qlen >= x->cfg.max_queue) {
        lira_span_data_release(d);
        x->st.dropped_queue_full++;
        return LIRA_ETOOBIG;
    }
    d->next = NULL;
    if (x->qtail)
        x->qtail->next = d;
    else
        x->qhead = d;
    x->qtail = d;
    x->qlen++;
    kick(x);
    return LIRA_OK;
}

void lira_otlp_flush(lira_otlp *x)
{
    if (!x || x->closed || x->shutting || x->inflight || x->timer_retry || !x->qlen)
        return;
    lira_timer_stop(x->e, &x->timer);
    send_batch(x);
    kick(x);
}

size_t lira_otlp_pending(const lira_otlp *x)
{
    return x ? x->qlen + x->nbatch : 0;
}

static void drop_queue(lira_otlp *x)
{
    while (x->qhead) {
        lira_span_data *d = x->qhead;
        x->qhead = d->next;
        lira_span_data_release(d);
        x->st.dropped_failed++;
    }
    x->qtail = NULL;
    x->qlen = 0;
}

int lira_otlp_shutdown(lira_otlp *x, int64_t timeout_ns)
{
    if (!x)
        return LIRA_EINVAL;
    if (x->closed)
        return LIRA_OK;
    x->shutting = 1;
    lira_timer_stop(x->e, &x->timer);
    int64_t deadline = lira_clock_now(NULL) + (timeout_ns > 0 ? timeout_ns : 0);
    int timed_out = 0;
    for (;;) {
        if (!x->inflight) {
            if (x->timer_retry || x->nbatch) {
                x->timer_retry = 0;
                send_held(x);          /* the held batch gets one last try */
            } else if (x->qlen) {
                send_batch(x);
            } else {
                break;
            }
            continue;
        }
        int64_t left = deadline - lira_clock_now(NULL);
        if (left <= 0 || lira_engine_step(x->e, left) < 0) {
            timed_out = 1;
            break;
        }
    }
    x->closed = 1;
    if (x->inflight && x->xfer)
        x->tp->ops->cancel(x->tp, x->xfer);   /* on_done drops the batch */
    if (x->nbatch)
        drop_batch(x, 0);
    drop_queue(x);
    return timed_out ? LIRA_ETOOBIG : LIRA_OK;
}

void lira_otlp_stats_get(const lira_otlp *x, lira_otlp_stats *out)
{
    if (!x || !out)
        return;
    *out = x->st;
    out->queued = x->qlen;
}

lira_engine *lira_otlp_engine(const lira_otlp *x) { return x ? x->e : NULL; }
const lira_otlp_config *lira_otlp_get_config(const lira_otlp *x) { return x ? &x->cfg : NULL; }

void lira_otlp_free(lira_otlp *x)
{
    if (!x)
        return;
    x->closed = 1;
    lira_timer_stop(x->e, &x->timer);
    if (x->inflight && x->xfer)
        x->tp->ops->cancel(x->tp, x->xfer);
    if (x->nbatch)
        drop_batch(x, 0);
    drop_queue(x);
    for (size_t i = 0; x->hdr_lines && x->hdr_lines[i]; i++)
        free(x->hdr_lines[i]);
    free(x->hdr_lines);
    free(x->batch);
    free(x->body);
    lira_otlp_config_free(&x->cfg);
    free(x);
}
