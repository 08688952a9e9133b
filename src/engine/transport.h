/* transport.h — one HTTP attempt, start to final response, on the loop.
 *
 * The transport sends exactly one attempt (following redirects up to the
 * request's cap) and completes it through a callback; retries, breakers and
 * limiters are the pipeline's (call.h). It is a vtable so that tests and
 * lira.testing can put a scripted transport under the real pipeline.
 *
 * The real one (lira_transport_curl) is libcurl's multi interface driven by
 * the engine loop through curl's socket API (CURLMOPT_SOCKETFUNCTION ->
 * lira_engine_watch, CURLMOPT_TIMERFUNCTION -> a real, weak lira_timer):
 * pooled easy handles, one connection cache per engine with keep-alive
 * reuse, HTTP/2 multiplexing when the server offers it over TLS, a per-host
 * connection cap, TLS verification always on unless `insecure` is set.
 *
 * Ownership: the request is copied at start (the caller may free it when
 * start returns). The response passed to the callback belongs to the
 * callback, which frees it with lira_http_response_free(). */
#ifndef LIRA_TRANSPORT_H
#define LIRA_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "retry.h"   /* lira_failure */

/* ------------------------------------------------------------ request */

typedef struct lira_http_request {
    const char *method;              /* "GET", "POST", ... (required) */
    const char *url;                 /* absolute http(s) URL (required) */
    const char *const *headers;      /* "Name: value" lines; NULL or NULL-terminated */
    const void *body;                /* NULL for none */
    size_t body_len;
    int body_kept;                   /* 1 = the caller keeps body alive and unchanged
                                        until the done callback, so the transport sends
                                        it without a copy (the OTLP exporter's batches) */
    int64_t connect_timeout_ns;      /* 0 = 2 s */
    int64_t timeout_ns;              /* the whole attempt; 0 = none */
    int max_redirects;               /* 0 = do not follow; > 0 follow up to this many */
    long max_host_connections;       /* at most this many of the host's requests in flight
                                        at once, this one included (later ones wait, in
                                        order); 0 = the transport's default (16) */
    size_t max_body;                 /* response body cap, bytes; 0 = 10 MiB */
    const char *ca_file;             /* NULL = the system's CA bundle */
    int insecure;                    /* 1 = skip TLS verification (never by default) */
    int fresh_connection;            /* 1 = never send on a pooled connection. libcurl
                                        silently re-sends a request whose reused
                                        connection died before any answer; a request
                                        that must not be sent twice (a POST without an
                                        idempotency key) needs a connection of its own. */
} lira_http_request;

/* ------------------------------------------------------------ response */

/* Durations of the attempt's phases, ns since the attempt started (curl's
 * *_TIME_T infos, cumulative, so dns <= connect <= tls <= first_byte <=
 * total where present); -1 when the phase did not happen or curl reports 0:
 * dns, connect and tls on a reused connection, tls over plain http,
 * first_byte when nothing arrived. With redirects they span every hop. */
typedef struct lira_http_timings {
    int64_t dns, connect, tls, first_byte, total;
} lira_http_timings;

typedef struct lira_http_header {
    const char *name;     /* as received; compare case-insensitively */
    const char *value;    /* trimmed */
} lira_http_header;

typedef struct lira_http_response {
    int status;                  /* final status; 0 when failure != NONE, except
                                    TOO_LARGE, which keeps the status (and the
                                    headers) of the response that was too large */
    lira_failure failure;        /* LIRA_FAIL_NONE when a final response arrived */
    char error[256];             /* a readable reason when failure != NONE */
    lira_http_header *headers;   /* of the final response (not of redirects or
                                    1xx); none on a failure other than TOO_LARGE */
    size_t nheaders;
    char *body;                  /* NUL-terminated for convenience; body_len bytes */
    size_t body_len;
    int redirects;               /* redirects followed */
    char *effective_url;         /* the URL of the final response (may be NULL) */
    int reused_connection;       /* 1 when the attempt reused a pooled connection */
    lira_http_timings timings;
} lira_http_response;

/* Caps on one response's headers: how many, and their name + value bytes.
 * The curl transport fails a response past either with LIRA_FAIL_TOO_LARGE. */
#define LIRA_HTTP_MAX_HEADERS      128
#define LIRA_HTTP_MAX_HEADER_BYTES (64 * 1024)

/* Allocate an empty response (status 0, failure NONE, no headers, body ""
 * with body_len 0, effective_url NULL). NULL on ENOMEM. Build it only with
 * the functions below: headers, body and effective_url live in storage the
 * response manages (never assign those fields directly). */
lira_http_response *lira_http_response_new(void);

/* Append a header (copies `nlen` bytes of name and `vlen` of value; they
 * need no NUL). LIRA_ETOOBIG past LIRA_HTTP_MAX_HEADERS headers or
 * LIRA_HTTP_MAX_HEADER_BYTES bytes, LIRA_ENOMEM, LIRA_EINVAL for NULL; on
 * error the response is unchanged. Earlier headers' pointers may move. */
int lira_http_response_add_header(lira_http_response *r, const char *name, size_t nlen,
                                  const char *value, size_t vlen);

/* Drop every header (and effective_url), keeping the storage: a transport
 * calls it when a new response starts (a redirect hop, 100-continue). */
void lira_http_response_reset_headers(lira_http_response *r);

/* Set effective_url to a copy of `len` bytes of `url` (NULL clears it).
 * Call it after the headers are final (lira_http_response_reset_headers
 * clears it). LIRA_ENOMEM / LIRA_EINVAL. */
int lira_http_response_set_effective_url(lira_http_response *r, const char *url, size_t len);

/* Body: set (replace), append, make room for `len` bytes without changing
 * body_len, or drop (back to "" and free the memory). The body stays
 * NUL-terminated; append grows geometrically. LIRA_ENOMEM, LIRA_ETOOBIG (a
 * size that cannot be represented), LIRA_EINVAL for NULL; on error the body
 * is unchanged. */
int lira_http_response_set_body(lira_http_response *r, const void *body, size_t len);
int lira_http_response_append_body(lira_http_response *r, const void *data, size_t len);
int lira_http_response_reserve_body(lira_http_response *r, size_t len);
void lira_http_response_reset_body(lira_http_response *r);

/* The value of the last header named `name` (case-insensitive), or NULL. */
const char *lira_http_response_header(const lira_http_response *r, const char *name);

/* Several lookups in one pass over the headers: out[i] = the value of the
 * last header named names[i] (case-insensitive), or NULL, for i < n. A
 * header whose first letter starts none of the names is skipped unmeasured;
 * the others are measured once and compared only with the names of the
 * same length, so eight names cost about one lookup. LIRA_EINVAL for n > 16
 * or a NULL out (out untouched), or for a NULL r, names or names[i] (every
 * out[i] is NULL then). */
int lira_http_response_headers(const lira_http_response *r, const char *const *names, size_t n,
                               const char **out);

void lira_http_response_free(lira_http_response *r);   /* NULL is a no-op */

/* ------------------------------------------------------------ transports */

typedef void (*lira_http_done_fn)(void *ud, lira_http_response *res);

typedef struct lira_transport lira_transport;
typedef struct lira_transfer lira_transfer;   /* one attempt in flight (opaque) */

typedef struct lira_transport_ops {
    /* Start one attempt. On LIRA_OK, `done` will be called exactly once, on
     * the loop thread, from a later lira_engine_step() (never from inside
     * start); *out (if non-NULL) identifies the attempt until then. On an
     * error return, `done` is never called. */
    int (*start)(lira_transport *t, const lira_http_request *req,
                 lira_http_done_fn done, void *ud, lira_transfer **out);
    /* Abort an attempt in flight: `done` runs before cancel returns, with
     * failure LIRA_FAIL_CANCELLED. After `done` has run, cancel must not be
     * called with that attempt. */
    void (*cancel)(lira_transport *t, lira_transfer *x);
    /* Free the transport; attempts still in flight complete as cancelled. */
    void (*destroy)(lira_transport *t);
} lira_transport_ops;

struct lira_transport {
    const lira_transport_ops *ops;
    lira_engine *engine;
};

typedef struct lira_transport_options {
    long max_host_connections;    /* per host; 0 = 16 */
    long max_total_connections;   /* 0 = 256 */
    const char *user_agent;       /* default User-Agent when a request has none (no CR or LF: EINVAL) */
} lira_transport_options;

/* The engine's transport: the one set with lira_engine_set_transport(), or
 * else a libcurl transport created on first use (NULL if it cannot be). */
lira_transport *lira_engine_transport(lira_engine *e);

/* Put `t` under the engine (the engine owns it from then on and destroys the
 * previous one, whose attempts in flight complete as cancelled; `t` NULL
 * just does that). t->engine must be `e` or NULL (then set to `e`).
 * LIRA_EINVAL, LIRA_ENOMEM. Used by tests and lira.testing's mock. */
int lira_engine_set_transport(lira_engine *e, lira_transport *t);

/* Create the libcurl transport for `e` (`opt` may be NULL): a transport that
 * is not yet the engine's (pass it to lira_engine_set_transport, or destroy
 * it). LIRA_EINVAL (NULL e/out), LIRA_ENOMEM (curl could not initialise).
 *
 * What it does with a request:
 *  - start() refuses (LIRA_EINVAL, no callback) a request without method or
 *    url, a URL that is not http:// or https:// or that curl cannot parse, a
 *    method that is not an HTTP token, a header line with CR or LF, negative
 *    timeouts; LIRA_ESTATE while the transport is being destroyed.
 *  - HEAD reads no body. POST, PUT and PATCH always send a body
 *    (Content-Length: 0 when `body` is NULL); other methods send one only when
 *    given. curl's "Expect: 100-continue" is never sent, nor its default
 *    Content-Type for a body (a body goes without Content-Type unless the
 *    request has one). User-Agent: the options' one unless the request has
 *    one. Accept-Encoding: gzip (sent as the last header line), decoded
 *    transparently (max_body counts decoded bytes), unless the request has
 *    its own Accept-Encoding line, which is sent instead (and a response in
 *    an encoding curl knows is still decoded); a response in another
 *    encoding curl decodes (br, zstd, deflate) is decoded too, but only gzip
 *    is offered: curl formats header lines a byte at a time, and the full
 *    list cost 4k instructions a request (3 % of a call).
 *  - proxies: from the environment as curl reads it (http_proxy, https_proxy,
 *    all_proxy, no_proxy, ...), but when none of them is set when the
 *    transport is created, no proxy is used and they are not read again
 *    (curl would otherwise read five variables per request).
 *  - redirects: followed up to max_redirects (http and https only; a custom
 *    method is kept on every hop, POST becomes GET on 301/302/303, as curl
 *    does). One more than the cap fails the attempt: LIRA_FAIL_TRANSPORT,
 *    error "more than N redirects (the request's cap)". 0 returns the 3xx.
 *  - max_body: a Content-Length over it fails before the body is read, a
 *    body without one fails when it passes it: LIRA_FAIL_TOO_LARGE, status
 *    and headers kept, body empty. More than LIRA_HTTP_MAX_HEADERS headers or
 *    LIRA_HTTP_MAX_HEADER_BYTES in one response: LIRA_FAIL_TOO_LARGE too.
 *  - failures: curl's resolve errors -> DNS; refused/unreachable -> CONNECT;
 *    TLS handshake and certificate errors -> TLS; any timeout (connect
 *    included) -> TIMEOUT; anything else (reset, empty reply, cut-off body,
 *    redirect cap) -> TRANSPORT; cancel() -> CANCELLED. error[] is curl's
 *    message, with any URL in it passed through lira_redact_url.
 *  - timeout_ns covers the whole attempt, a slowly trickling body included;
 *    curl's timers are real and weak lira_timers, so an engine on a virtual
 *    clock still times transfers out in real time.
 *  - `done` must not free the engine; it may start, cancel, or replace the
 *    engine's transport (lira_engine_set_transport). */
int lira_transport_curl_new(lira_engine *e, const lira_transport_options *opt,
                            lira_transport **out);

/* Static name of a failure as an error kind of LUA-API.md §3.1 ("timeout",
 * "connect", "dns", "tls", "transport", "too_large", "cancelled", ...). */
const char *lira_failure_kind(lira_failure f);

#endif
