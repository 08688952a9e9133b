/* lua_testing_tp.c — the dispatching transport under lira.testing (see
 * lua_testing.h): each attempt goes to the newest mock whose scope covers
 * it (matched by path template onto its scripted transport), else to the
 * real transport, captured by a recorder whose scope covers it. Also the
 * transport's lifetime (install, cancel, destroy). The mocks and recorders
 * themselves are set up and read in lua_testing_tp_mocks.c. */
#include "lua_testing_tp_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mem.h"
#include "redact.h"
#include "status.h"

#define MOCK_HOST "http://lira.mock"
#define UNMATCHED_KEY "/~unmatched"
#define MSG_CAP 1024

/* ------------------------------------------------------------ structures */

struct txfer {
    struct txfer *prev, *next;
    lira_ttp *tp;
    lira_transport *sub;
    lira_transfer *subx;
    lira_http_done_fn done;
    void *ud;
    lira_ttp_capture *capture;
};

static const lira_transport_ops ttp_ops;

static lira_ttp *as_ttp(const lira_transport *t)
{
    return t && t->ops == &ttp_ops ? (lira_ttp *)(uintptr_t)t : NULL;
}

static void capture_free(lira_ttp_capture *c)
{
    if (!c)
        return;
    free(c->method);
    free(c->url);
    lira_lines_free(c->headers, c->nheaders);
    free(c->body);
    free(c->error);
    lira_lines_free(c->rheaders, c->nrheaders);
    free(c->rbody);
    free(c);
}

/* Grow *arr (elements of `size`) to hold n + 1. */
static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return LIRA_OK;
    size_t c = *cap ? *cap * 2 : 8;
    void *g = realloc(*arr, c * size);
    if (!g)
        return LIRA_ENOMEM;
    *arr = g;
    *cap = c;
    return LIRA_OK;
}

/* ------------------------------------------------------------ attempts */

static void unlink_x(lira_ttp *tp, txfer *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        tp->flying = x->next;
    if (x->next)
        x->next->prev = x->prev;
}

static char **copy_response_lines(const lira_http_response *res, size_t *n)
{
    *n = 0;
    char **l = res->nheaders ? calloc(res->nheaders, sizeof *l) : NULL;
    for (size_t i = 0; l && i < res->nheaders; i++) {
        size_t len = strlen(res->headers[i].name) + strlen(res->headers[i].value) + 3;
        if (!(l[i] = malloc(len)))
            break;
        snprintf(l[i], len, "%s: %s", res->headers[i].name, res->headers[i].value);
        *n = i + 1;
    }
    return l;
}

static void fill_capture(lira_ttp_capture *c, const lira_http_response *res, int64_t now)
{
    c->done = 1;
    c->done_ns = now;
    c->status = res->status;
    c->failure = res->failure;
    if (res->failure != LIRA_FAIL_NONE)
        c->error = lira_strndup(res->error, strlen(res->error));
    c->rheaders = copy_response_lines(res, &c->nrheaders);
    if (res->body && res->body_len && (c->rbody = lira_strndup(res->body, res->body_len)))
        c->rbody_len = res->body_len;
}

static void on_sub_done(void *ud, lira_http_response *res)
{
    txfer *x = ud;
    lira_ttp *tp = x->tp;
    unlink_x(tp, x);
    if (x->capture && res)
        fill_capture(x->capture, res, lira_engine_now(tp->base.engine));
    lira_http_done_fn done = x->done;
    void *dud = x->ud;
    free(x);
    done(dud, res);   /* last: it may replace (destroy) this transport */
}

static lira_transport *real_tp(lira_ttp *tp)
{
    if (!tp->real && lira_transport_curl_new(tp->base.engine, NULL, &tp->real) != LIRA_OK)
        tp->real = NULL;
    if (tp->real)
        tp->real->engine = tp->base.engine;
    return tp->real;
}

static lira_ttp_capture *new_capture(recorder *r, const lira_http_request *req, int64_t now)
{
    if (grow((void **)&r->caps, &r->cap, r->n, sizeof *r->caps) != LIRA_OK)
        return NULL;
    lira_ttp_capture *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    size_t nh = 0;
    while (req->headers && req->headers[nh])
        nh++;
    c->headers = nh ? calloc(nh, sizeof *c->headers) : NULL;
    for (size_t i = 0; c->headers && i < nh; i++)
        if ((c->headers[i] = lira_strndup(req->headers[i], strlen(req->headers[i]))))
            c->nheaders = i + 1;
    c->method = lira_strndup(req->method, strlen(req->method));
    c->url = lira_strndup(req->url, strlen(req->url));
    if (req->body && (c->body = lira_strndup(req->body, req->body_len)))
        c->body_len = req->body_len;
    c->at_ns = now;
    c->done_ns = -1;
    if (!c->method || !c->url || c->nheaders != nh) {
        capture_free(c);
        return NULL;
    }
    r->caps[r->n++] = c;
    return c;
}

/* The message of a request no route of m takes. */
static void unmatched_message(const mock *m, const lira_http_request *req, const char *rel,
                              size_t rlen, long exhausted, char *out, size_t cap)
{
    int n;
    if (exhausted >= 0)
        n = snprintf(out, cap, "lira.testing: mock '%s': route %s has no scripted response "
                     "left for %s %.*s (strict mock)", m->label, m->routes[exhausted].label,
                     req->method, (int)(rlen > 300 ? 300 : rlen), rel);
    else
        n = snprintf(out, cap, "lira.testing: mock '%s' has no route for %s %.*s; routes: ",
                     m->label, req->method, (int)(rlen > 300 ? 300 : rlen), rel);
    if (n < 0 || (size_t)n >= cap || exhausted >= 0)
        return;
    size_t used = (size_t)n;
    for (size_t i = 0; i < m->nroutes && used < cap; i++) {
        n = snprintf(out + used, cap - used, "%s%s", i ? ", " : "", m->routes[i].label);
        if (n < 0)
            return;
        used += (size_t)n;
    }
    if (m->nroutes == 0 && used < cap)
        snprintf(out + used, cap - used, "(none)");
}

/* Which route of m takes (method, rel?query); -1 for none. *exhausted is
 * set to the route when it matched but has nothing left to serve. */
static long pick_route(mock *m, const char *method, const lira__ttp_url *u, const char *rel,
                       size_t rlen, long *exhausted)
{
    *exhausted = -1;
    for (size_t i = 0; i < m->nroutes; i++) {
        mroute *r = &m->routes[i];
        if (r->method && strcasecmp(r->method, method) != 0)
            continue;
        if (!lira__ttp_tmpl_match(r->path, strlen(r->path), rel, rlen))
            continue;
        if (r->query && (strlen(r->query) != u->query_len ||
                         (u->query_len && memcmp(r->query, u->query, u->query_len) != 0)))
            continue;
        if (r->finite_left == 0 && !r->forever) {
            if (*exhausted < 0)
                *exhausted = (long)i;
            continue;
        }
        r->served++;
        if (r->finite_left > 0)
            r->finite_left--;
        else
            r->forever_served++;
        return (long)i;
    }
    return -1;
}

static int add_side(mock *m, const char *url, long route, const char *msg)
{
    int rc = grow((void **)&m->sides, &m->capsides, m->nsides, sizeof *m->sides);
    if (rc != LIRA_OK)
        return rc;
    lira_ttp_side *s = &m->sides[m->nsides];
    s->url = lira_strndup(url, strlen(url));
    s->route = route;
    s->message = msg ? lira_strndup(msg, strlen(msg)) : NULL;
    if (!s->url || (msg && !s->message)) {
        free(s->url);
        free(s->message);
        return LIRA_ENOMEM;
    }
    m->nsides++;
    return LIRA_OK;
}

/* Start `req` on mock m's scripted transport. */
static int start_mock(mock *m, const lira_http_request *req, const lira__ttp_url *u0,
                      txfer *x, int64_t now)
{
    (void)now;
    lira__ttp_url u = *u0;
    char red[2048];
    size_t need = 0;
    if (m->redact && lira_redact_url(req->url, strlen(req->url), red, sizeof red, &need) ==
                         LIRA_OK && lira__ttp_parse_url(red, &u) != LIRA_OK)
        u = *u0;
    const char *rel;
    size_t rlen;
    lira__ttp_scope_covers(m->scope, &u, &rel, &rlen);
    long exhausted, route = pick_route(m, req->method, &u, rel, rlen, &exhausted);
    char key[64], msg[MSG_CAP];
    if (route >= 0) {
        snprintf(key, sizeof key, "/~r%ld", route);
    } else {
        unmatched_message(m, req, rel, rlen, exhausted, msg, sizeof msg);
        lira_script_step fail = {.failure = LIRA_FAIL_TOO_LARGE, .error = msg};
        int rc = lira_script_push(m->script, UNMATCHED_KEY, &fail);
        if (rc != LIRA_OK)
            return rc;
        snprintf(key, sizeof key, "%s", UNMATCHED_KEY);
    }
    char url[96];
    snprintf(url, sizeof url, "%s%s", MOCK_HOST, key);
    lira_http_request fwd = *req;
    fwd.url = url;
    size_t before = lira_script_count(m->script);
    x->sub = m->script;
    int rc = m->script->ops->start(m->script, &fwd, on_sub_done, x, &x->subx);
    /* Out of memory here loses the side note only; the attempt still runs. */
    if (lira_script_count(m->script) > before)
        (void)add_side(m, req->url, route, route >= 0 ? NULL : msg);
    return rc;
}

static int ttp_start(lira_transport *t, const lira_http_request *req, lira_http_done_fn done,
                     void *ud, lira_transfer **out)
{
    lira_ttp *tp = as_ttp(t);
    if (!tp || !req || !req->method || !req->url || !done)
        return LIRA_EINVAL;
    lira__ttp_url u;
    int parsed = lira__ttp_parse_url(req->url, &u) == LIRA_OK;
    txfer *x = calloc(1, sizeof *x);
    if (!x)
        return LIRA_ENOMEM;
    x->tp = tp;
    x->done = done;
    x->ud = ud;
    int64_t now = lira_engine_now(t->engine);
    int rc = LIRA_ENOMEM;
    mock *m = NULL;
    const char *rel;
    size_t rlen;
    for (size_t i = tp->nmocks; parsed && !m && i-- > 0;)
        if (tp->mocks[i]->active && lira__ttp_scope_covers(tp->mocks[i]->scope, &u, &rel, &rlen))
            m = tp->mocks[i];
    if (m) {
        rc = start_mock(m, req, &u, x, now);
    } else {
        for (size_t i = tp->nrecs; parsed && !x->capture && i-- > 0;)
            if (tp->recs[i]->active && lira__ttp_scope_covers(tp->recs[i]->scope, &u, &rel, &rlen) &&
                !(x->capture = new_capture(tp->recs[i], req, now))) {
                free(x);
                return LIRA_ENOMEM;
            }
        x->sub = real_tp(tp);
        if (x->sub)
            rc = x->sub->ops->start(x->sub, req, on_sub_done, x, &x->subx);
    }
    if (rc != LIRA_OK) {
        if (x->capture) {
            x->capture->done = 1;
            x->capture->failure = LIRA_FAIL_TRANSPORT;
        }
        free(x);
        return rc;
    }
    x->next = tp->flying;
    if (x->next)
        x->next->prev = x;
    tp->flying = x;
    if (out)
        *out = (lira_transfer *)(void *)x;
    return LIRA_OK;
}

static void ttp_cancel(lira_transport *t, lira_transfer *xt)
{
    txfer *x = (txfer *)(void *)xt;
    if (!as_ttp(t) || !x)
        return;
    x->sub->ops->cancel(x->sub, x->subx);   /* runs on_sub_done, which frees x */
}

static void ttp_destroy(lira_transport *t)
{
    lira_ttp *tp = as_ttp(t);
    if (!tp)
        return;
    while (tp->flying)
        ttp_cancel(t, (lira_transfer *)(void *)tp->flying);
    for (size_t i = 0; i < tp->nmocks; i++)
        lira__ttp_mock_free(tp->mocks[i]);
    for (size_t i = 0; i < tp->nrecs; i++) {
        for (size_t j = 0; j < tp->recs[i]->n; j++)
            capture_free(tp->recs[i]->caps[j]);
        free(tp->recs[i]->caps);
        lira__ttp_scope_free(tp->recs[i]->scope);
        free(tp->recs[i]);
    }
    free(tp->mocks);
    free(tp->recs);
    if (tp->real)
        tp->real->ops->destroy(tp->real);
    if (tp->backref)
        *tp->backref = NULL;
    free(tp);
}

static const lira_transport_ops ttp_ops = {ttp_start, ttp_cancel, ttp_destroy};

/* ------------------------------------------------------------ public */

int lira_ttp_install(lira_engine *e, lira_ttp **backref)
{
    if (!e || !backref)
        return LIRA_EINVAL;
    lira_ttp *tp = calloc(1, sizeof *tp);
    if (!tp)
        return LIRA_ENOMEM;
    tp->base.ops = &ttp_ops;
    tp->base.engine = e;
    int rc = lira_engine_set_transport(e, &tp->base);
    if (rc != LIRA_OK) {
        free(tp);
        return rc;
    }
    tp->backref = backref;
    *backref = tp;
    return LIRA_OK;
}

void lira_ttp_forget(lira_ttp *tp)
{
    if (tp)
        tp->backref = NULL;
}
