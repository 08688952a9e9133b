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
    int64_t connect_timeout_ns;      /* 0 = 2 s */
    int64_t timeout_ns;              /* the whole attempt; 0 = none */
    int max_redirects;               /* 0 = do not follow; > 0 follow up to this many */
    size_t max_body;                 /* response body cap, bytes; 0 = 10 MiB */
    const char *ca_file;             /* NULL = the system's CA bundle */
    int insecure;                    /* 1 = skip TLS verification (never by default) */
} lira_http_request;

/* ------------------------------------------------------------ response */

/* Durations of the attempt's phases, ns since the attempt started (curl's
 * *_TIME_T infos); -1 when the phase did not happen. */
typedef struct lira_http_timings {
    int64_t dns, connect, tls, first_byte, total;
} lira_http_timings;

typedef struct lira_http_header {
    const char *name;     /* as received; compare case-insensitively */
    const char *value;    /* trimmed */
} lira_http_header;

typedef struct lira_http_response {
    int status;                  /* final status; 0 when failure != NONE */
    lira_failure failure;        /* LIRA_FAIL_NONE when a final response arrived */
    char error[256];             /* a readable reason when failure != NONE */
    lira_http_header *headers;   /* of the final response (not of redirects) */
    size_t nheaders;
    char *body;                  /* NUL-terminated for convenience; body_len bytes */
    size_t body_len;
    int redirects;               /* redirects followed */
    char *effective_url;         /* the URL of the final response (may be NULL) */
    int reused_connection;       /* 1 when the attempt reused a pooled connection */
    lira_http_timings timings;
} lira_http_response;

/* Allocate an empty response (status 0, failure NONE). NULL on ENOMEM. */
lira_http_response *lira_http_response_new(void);

/* Append a header / set the body (copies). LIRA_ENOMEM, LIRA_ETOOBIG past the
 * caps (256 headers... see transport.c), LIRA_EINVAL for NULL. Used by
 * transports (real and scripted). */
int lira_http_response_add_header(lira_http_response *r, const char *name, size_t nlen,
                                  const char *value, size_t vlen);
int lira_http_response_set_body(lira_http_response *r, const void *body, size_t len);

/* The value of the last header named `name` (case-insensitive), or NULL. */
const char *lira_http_response_header(const lira_http_response *r, const char *name);

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
    const char *user_agent;       /* default User-Agent when a request has none */
} lira_transport_options;

/* The engine's transport: the one set with lira_engine_set_transport(), or
 * else a libcurl transport created on first use (NULL if it cannot be). */
lira_transport *lira_engine_transport(lira_engine *e);

/* Put `t` under the engine (the engine owns it from then on and destroys the
 * previous one). Used by tests and lira.testing's mock. */
int lira_engine_set_transport(lira_engine *e, lira_transport *t);

/* Create the libcurl transport for `e` (`opt` may be NULL). */
int lira_transport_curl_new(lira_engine *e, const lira_transport_options *opt,
                            lira_transport **out);

/* Static name of a failure as an error kind of LUA-API.md §3.1 ("timeout",
 * "connect", "dns", "tls", "transport", "too_large", "cancelled", ...). */
const char *lira_failure_kind(lira_failure f);

#endif
