/* transport_curl.c — the real transport: libcurl's multi interface driven
 * by the engine loop through curl's socket API.
 *
 * curl tells us which sockets to watch (socket callback -> lira_engine_watch)
 * and when to call it back (timer callback -> one real, weak lira_timer);
 * the loop calls curl_multi_socket_action() on readiness or timeout, and we
 * then read finished transfers off curl_multi_info_read(). Nothing blocks.
 *
 * One multi per transport, so one connection cache and one DNS cache per
 * engine. Easy handles are pooled: a finished handle goes back on a free
 * list with its request buffers, and the next request only overwrites the
 * options that vary (a handle is curl_easy_reset only when its previous
 * request set a rarely used option that cannot be overwritten, a CA file).
 *
 * Decisions (documented in transport.h where callers see them):
 *  - more redirects than the request's cap: failure TRANSPORT, the message
 *    names the cap (curl's CURLE_TOO_MANY_REDIRECTS);
 *  - a body past max_body, or headers past LIRA_HTTP_MAX_HEADERS /
 *    LIRA_HTTP_MAX_HEADER_BYTES: failure TOO_LARGE, the status and headers
 *    kept, the body dropped;
 *  - any other failure: status 0, no headers, no body;
 *  - a body without a Content-Type header is sent without one (curl would
 *    claim application/x-www-form-urlencoded); "Expect: 100-continue" is
 *    never sent. */
#include "transport_curl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "status.h"

#ifdef LIRA_VERSION
#define DEFAULT_UA "lira/" LIRA_VERSION
#else
#define DEFAULT_UA "lira"
#endif
#define UA_PREFIX_LEN (sizeof "User-Agent: " - 1)   /* ua_line's value starts here */

static const lira_transport_ops curl_ops;

/* Whether any proxy variable curl would read is set (curl reads them on
 * every request; lira reads them once, when the transport is created). */
static int proxy_env_set(void)
{
    static const char *const names[] = {
        "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
        "socks_proxy", "SOCKS_PROXY",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = getenv(names[i]);
        if (v && *v)
            return 1;
    }
    return 0;
}

/* ------------------------------------------------------------ the pool */

static int close_socket(void *clientp, curl_socket_t s);

static void easy_setup(lira_transfer *x)
{
    CURL *h = x->easy;
    curl_easy_setopt(h, CURLOPT_PRIVATE, x);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, lira_curl_on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, lira_curl_on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, LIRA_CURL_ACCEPT_ENCODING);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    /* Requests carry the User-Agent as a header line (build_headers): with
     * the option set as well, curl would format its own line per request
     * and then drop it. Only a proxy's CONNECT needs the option. */
    if (!x->tp->no_proxy_env)
        curl_easy_setopt(h, CURLOPT_USERAGENT, x->tp->ua_line + UA_PREFIX_LEN);
    curl_easy_setopt(h, CURLOPT_CURLU, x->uh);
    curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, close_socket);
    curl_easy_setopt(h, CURLOPT_CLOSESOCKETDATA, x->tp);
    if (x->tp->no_proxy_env) {
        /* Both set (to "") stop curl reading five environment variables per
         * request; the environment had no proxy when the transport began. */
        curl_easy_setopt(h, CURLOPT_PROXY, "");
        curl_easy_setopt(h, CURLOPT_NOPROXY, "");
    }
    x->custom_ca = 0;
    x->opt_known = 0;   /* new or reset: curl's defaults, not our last values */
}

static lira_transfer *xfer_new(lira_curl *tp)
{
    lira_transfer *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->tp = tp;
    x->easy = curl_easy_init();
    x->uh = curl_url();
    if (!x->easy || !x->uh) {
        curl_easy_cleanup(x->easy);
        curl_url_cleanup(x->uh);
        free(x);
        return NULL;
    }
    easy_setup(x);
    return x;
}

static void xfer_free(lira_transfer *x)
{
    curl_easy_cleanup(x->easy);
    curl_url_cleanup(x->uh);
    free(x->slist);
    free(x->buf);
    free(x->url);
    free(x);
}

static lira_transfer *xfer_get(lira_curl *tp)
{
    lira_transfer *x = tp->idle;
    if (!x)
        return xfer_new(tp);
    tp->idle = x->next;
    tp->nidle--;
    x->next = NULL;
    return x;
}

/* Back on the free list (the caller has taken it out of the multi). Big
 * request buffers are not kept: one large upload should not pin memory. */
static void xfer_put(lira_curl *tp, lira_transfer *x)
{
    x->res = NULL;
    x->done = NULL;
    x->ud = NULL;
    if (x->buf_cap > 64 * 1024) {
        free(x->buf);
        x->buf = NULL;
        x->buf_cap = 0;
    }
    if (tp->nidle >= tp->max_idle) {
        xfer_free(x);
        return;
    }
    x->next = tp->idle;
    tp->idle = x;
    tp->nidle++;
}

static void active_link(lira_curl *tp, lira_transfer *x)
{
    x->prev = NULL;
    x->next = tp->active;
    if (tp->active)
        tp->active->prev = x;
    tp->active = x;
}

static void active_unlink(lira_curl *tp, lira_transfer *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        tp->active = x->next;
    if (x->next)
        x->next->prev = x->prev;
    x->next = x->prev = NULL;
}

/* ------------------------------------------------------------ loop glue */

static void drain_done(lira_curl *tp);

static void on_io(int fd, int events, void *ud)
{
    lira_curl *tp = ud;
    int mask = ((events & LIRA_IO_READ) ? CURL_CSELECT_IN : 0) |
               ((events & LIRA_IO_WRITE) ? CURL_CSELECT_OUT : 0);
    int running;
    curl_multi_socket_action(tp->multi, fd, mask, &running);
    drain_done(tp);
}

static void on_timer(lira_timer *t, void *ud)
{
    (void)t;
    lira_curl *tp = ud;
    int running;
    curl_multi_socket_action(tp->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain_done(tp);
}

static int curl_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy;
    (void)socketp;
    lira_curl *tp = userp;
    int events = what == CURL_POLL_IN    ? LIRA_IO_READ
               : what == CURL_POLL_OUT   ? LIRA_IO_WRITE
               : what == CURL_POLL_INOUT ? LIRA_IO_READ | LIRA_IO_WRITE
                                         : 0;
    /* A finished request's connection goes back to curl's cache and is
     * usually asked for again by the next request: parked, it stays in
     * epoll, and two epoll_ctl calls a request are saved. close_socket
     * takes it out before curl closes it. */
    if (!events)
        return lira_engine_park(tp->base.engine, (int)s) == LIRA_OK ? 0 : -1;
    return lira_engine_watch(tp->base.engine, (int)s, events, on_io, tp) == LIRA_OK ? 0 : -1;
}

/* Every socket curl closes passes here (CURLOPT_CLOSESOCKETFUNCTION): the
 * engine forgets it first, so a parked registration never outlives it. */
static int close_socket(void *clientp, curl_socket_t s)
{
    lira_curl *tp = clientp;
    lira_engine_forget(tp->base.engine, (int)s);
    return close(s);
}

/* curl's timer is real (its timeouts run in real time even when the engine
 * runs on a virtual clock) and weak (the holds, not the timer, say that
 * transfers are pending). It never calls curl from here: the timer fires
 * from a later step, which is also why `done` never runs inside start(). */
static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    lira_curl *tp = userp;
    if (timeout_ms < 0) {
        lira_timer_stop(tp->base.engine, &tp->timer);
        return 0;
    }
    int64_t at = lira_clock_now(NULL) + (int64_t)timeout_ms * LIRA_NS_PER_MS;
    return lira_timer_start(tp->base.engine, &tp->timer, at, on_timer, tp) == LIRA_OK ? 0 : -1;
}

/* ------------------------------------------------------------ completion */

static void destroy_now(lira_curl *tp);
static void fail_one(lira_curl *tp, lira_transfer *x, lira_failure f, const char *why);

/* Hand a finished transfer's response to its owner: out of the active list,
 * its origin's next transfer into curl, handle recycled first (so `done`
 * may start the next request on it). */
static void finish(lira_curl *tp, lira_transfer *x)
{
    lira_http_response *res = x->res;
    lira_http_done_fn done = x->done;
    void *ud = x->ud;
    lira_transfer *failed = NULL;
    active_unlink(tp, x);
    lira__curl_leave_origin(tp, x, &failed);
    xfer_put(tp, x);
    lira_engine_release(tp->base.engine);
    if (failed) {
        /* A `done` below may destroy the transport: it then cancels the
         * rest of `failed` itself (they are still active), and is freed
         * when this unwinds. */
        tp->dispatching++;
        while (failed && !tp->destroying) {
            lira_transfer *y = failed;
            failed = y->qnext;
            y->qnext = NULL;
            fail_one(tp, y, LIRA_FAIL_TRANSPORT, "out of memory starting the transfer");
        }
        if (--tp->dispatching == 0 && tp->destroy_pending) {
            done(ud, res);
            destroy_now(tp);
            return;
        }
    }
    done(ud, res);
}

static void drain_done(lira_curl *tp)
{
    CURLMsg *msg;
    int left;
    tp->dispatching++;
    while (!tp->destroy_pending && (msg = curl_multi_info_read(tp->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        char *priv = NULL;
        CURLcode rc = msg->data.result;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        lira_transfer *x = (lira_transfer *)(void *)priv;
        if (!x || !x->res)
            continue;
        lira_curl_fill_response(x, rc);
        curl_multi_remove_handle(tp->multi, x->easy);
        finish(tp, x);
    }
    if (--tp->dispatching == 0 && tp->destroy_pending)
        destroy_now(tp);
}

/* End x now with failure f (x is out of curl, or taken out here). */
static void fail_one(lira_curl *tp, lira_transfer *x, lira_failure f, const char *why)
{
    if (!x->queued)
        curl_multi_remove_handle(tp->multi, x->easy);   /* not in it: a no-op */
    lira_http_response *res = x->res;
    lira_http_response_reset_headers(res);
    lira_http_response_reset_body(res);
    res->status = 0;
    res->failure = f;
    snprintf(res->error, sizeof res->error, "%s", why);
    res->timings = (lira_http_timings){-1, -1, -1, -1, -1};
    finish(tp, x);
}

static void cancel_one(lira_curl *tp, lira_transfer *x)
{
    fail_one(tp, x, LIRA_FAIL_CANCELLED, "cancelled");
}

static void curl_cancel(lira_transport *t, lira_transfer *x)
{
    lira_curl *tp = (lira_curl *)t;
    if (!tp || !x || x->tp != tp || !x->res)
        return;
    cancel_one(tp, x);
}

/* ------------------------------------------------------------ start */

static int curl_start(lira_transport *t, const lira_http_request *req, lira_http_done_fn done,
                      void *ud, lira_transfer **out)
{
    lira_curl *tp = (lira_curl *)t;
    if (!tp || !req || !done)
        return LIRA_EINVAL;
    if (tp->destroying)
        return LIRA_ESTATE;
    lira_transfer *x = xfer_get(tp);
    if (!x)
        return LIRA_ENOMEM;
    if (x->custom_ca && !req->ca_file) {
        curl_easy_reset(x->easy);   /* the only way back to curl's default CA store */
        easy_setup(x);
    }
    x->host_cap = req->max_host_connections > 0 ? req->max_host_connections : tp->host_cap;
    int rc = lira_curl_configure(x, req);
    if (rc == LIRA_OK && !(x->res = lira_http_response_new()))
        rc = LIRA_ENOMEM;
    if (rc == LIRA_OK)
        rc = lira__curl_submit(tp, x, req->url);
    if (rc != LIRA_OK) {
        lira_http_response_free(x->res);
        xfer_put(tp, x);
        return rc;
    }
    x->done = done;
    x->ud = ud;
    active_link(tp, x);
    lira_engine_hold(t->engine);
    if (out)
        *out = x;
    return LIRA_OK;
}

/* ------------------------------------------------------------ lifetime */

static void destroy_now(lira_curl *tp)
{
    lira_engine *e = tp->base.engine;
    while (tp->idle) {
        lira_transfer *x = tp->idle;
        tp->idle = x->next;
        xfer_free(x);
    }
    curl_multi_cleanup(tp->multi);   /* closes pooled connections (socket cb: unwatch) */
    lira_timer_stop(e, &tp->timer);
    lira__curl_origins_free(tp);
    free(tp->ua_line);
    free(tp);
    curl_global_cleanup();
}

static void curl_destroy(lira_transport *t)
{
    lira_curl *tp = (lira_curl *)t;
    if (!tp || tp->destroying)
        return;
    tp->destroying = 1;
    while (tp->active)
        cancel_one(tp, tp->active);
    /* Called from a `done` callback: drain_done() is still reading the
     * multi, so it frees the transport when it unwinds. */
    if (tp->dispatching)
        tp->destroy_pending = 1;
    else
        destroy_now(tp);
}

int lira_transport_curl_new(lira_engine *e, const lira_transport_options *opt,
                            lira_transport **out)
{
    if (!e || !out)
        return LIRA_EINVAL;
    const char *ua = opt && opt->user_agent ? opt->user_agent : DEFAULT_UA;
    if (ua[strcspn(ua, "\r\n")] != '\0')
        return LIRA_EINVAL;   /* it becomes a header line */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return LIRA_ENOMEM;
    lira_curl *tp = calloc(1, sizeof *tp);
    if (tp) {
        size_t len = strlen(ua) + 1;
        if ((tp->ua_line = malloc(UA_PREFIX_LEN + len)) != NULL) {
            memcpy(tp->ua_line, "User-Agent: ", UA_PREFIX_LEN);
            memcpy(tp->ua_line + UA_PREFIX_LEN, ua, len);
        }
        tp->multi = curl_multi_init();
    }
    if (!tp || !tp->ua_line || !tp->multi) {
        if (tp) {
            free(tp->ua_line);
            curl_multi_cleanup(tp->multi);
            free(tp);
        }
        curl_global_cleanup();
        return LIRA_ENOMEM;
    }
    tp->base.ops = &curl_ops;
    tp->base.engine = e;
    long host = opt && opt->max_host_connections > 0 ? opt->max_host_connections : 16;
    long total = opt && opt->max_total_connections > 0 ? opt->max_total_connections : 256;
    tp->max_idle = (size_t)total;
    tp->host_cap = host;
    tp->curl_host_cap = host;
    tp->no_proxy_env = !proxy_env_set();
    lira_timer_init(&tp->timer);
    lira_timer_set_real(&tp->timer, 1);
    lira_timer_set_weak(&tp->timer, 1);
    CURLM *m = tp->multi;
    curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
    curl_multi_setopt(m, CURLMOPT_SOCKETDATA, tp);
    curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
    curl_multi_setopt(m, CURLMOPT_TIMERDATA, tp);
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, host);
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, total);
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, total);
    curl_multi_setopt(m, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    *out = &tp->base;
    return LIRA_OK;
}

static const lira_transport_ops curl_ops = {
    .start = curl_start,
    .cancel = curl_cancel,
    .destroy = curl_destroy,
};
