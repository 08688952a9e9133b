/* transport_curl.h — internals shared by the parts of the libcurl
 * transport (not a public API; callers use transport.h):
 *   transport_curl.c         the multi, the loop glue, the handle pool, start/cancel/destroy
 *   transport_curl_origin.c  the per-host cap: http:// origins and their queues
 *   transport_curl_xfer.c    one transfer: request options, curl's header and
 *                            body callbacks, the response and failure mapping */
#ifndef LIRA_TRANSPORT_CURL_H
#define LIRA_TRANSPORT_CURL_H

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

#include "transport.h"

/* The encodings offered (and decoded: CURLOPT_ACCEPT_ENCODING); the request
 * line "Accept-Encoding: ..." is written by lira_curl_configure. */
#define LIRA_CURL_ACCEPT_ENCODING "gzip"

/* A cleartext http:// origin with transfers in flight or queued (see
 * transport_curl.c: the per-host cap is applied here before curl sees it). */
typedef struct lira_origin {
    struct lira_origin *next;
    long inflight;                /* its transfers inside curl */
    lira_transfer *qhead, *qtail; /* queued, FIFO (linked through qnext) */
    size_t klen;
    size_t kcap;                  /* bytes allocated for key */
    char key[];                   /* host[:port], lower case, ":80" dropped */
} lira_origin;

typedef struct lira_curl {
    lira_transport base;          /* first: a lira_transport * is a lira_curl * */
    CURLM *multi;                 /* one connection cache and DNS cache */
    lira_timer timer;             /* curl's timeout: real and weak */
    lira_transfer *active;        /* in flight or queued (doubly linked) */
    lira_transfer *idle;          /* the pool (singly linked through next) */
    size_t nidle, max_idle;
    long host_cap;                /* the default per-host cap */
    long curl_host_cap;           /* CURLMOPT_MAX_HOST_CONNECTIONS: the largest cap seen */
    lira_origin *origins;         /* http:// origins with transfers */
    lira_origin *spare;           /* the last origin dropped, kept for the next one */
    char *ua_line;                /* "User-Agent: <default>": the header line; its
                                     value (the option, for a proxy) is the tail */
    int no_proxy_env;             /* no *_proxy variable was set at creation */
    int dispatching;              /* depth of drain_done() on the stack */
    int destroying, destroy_pending;
} lira_curl;

/* The handle options lira_curl_configure sets on every request that keep
 * their value on a pooled handle: a setopt that would not change one is
 * skipped (curl only ever writes them from curl_easy_setopt and
 * curl_easy_reset). */
enum {
    LIRA_XO_CONNECT_MS, LIRA_XO_TIMEOUT_MS, LIRA_XO_FOLLOW, LIRA_XO_MAXREDIRS, LIRA_XO_FRESH,
    LIRA_XO_VERIFYPEER, LIRA_XO_VERIFYHOST,
    LIRA_XO_COUNT,
    LIRA_XO_HEADERS = LIRA_XO_COUNT,   /* a valid bit only: the value is in opt_headers */
    LIRA_XO_PLAIN_GET                  /* NOBODY 0, HTTPGET 1, CUSTOMREQUEST NULL */
};

/* One pooled easy handle and the per-request buffers it keeps between
 * requests (header lines, body copy, the slist nodes pointing into them). */
struct lira_transfer {
    lira_curl *tp;
    CURL *easy;
    CURLU *uh;                    /* the request URL, parsed in start() */
    lira_transfer *next, *prev;
    lira_http_response *res;      /* non-NULL exactly while in flight */
    lira_origin *origin;          /* its http:// origin, or NULL */
    lira_transfer *qnext;         /* in origin's queue */
    long host_cap;                /* this request's per-host cap (its client's) */
    int queued;                   /* 1 waiting in origin's queue, not in curl */
    lira_http_done_fn done;
    void *ud;
    size_t max_body;
    int max_redirects;
    int64_t content_length;       /* of the response being read; -1 unknown */
    int nobody;                   /* HEAD: a Content-Length announces no body */
    int too_large;                /* 1 body cap, 2 header caps */
    int oom;
    int custom_ca;                /* a CA file is set: reset before a request without */
    struct curl_slist *slist;     /* nodes for CURLOPT_HTTPHEADER (no curl allocation) */
    size_t slist_cap;
    char *buf;                    /* header lines, then the body copy */
    size_t buf_cap;
    char *url;                    /* the URL parsed into uh (url_len 0: none) */
    size_t url_len, url_cap;
    unsigned opt_known;           /* bit per LIRA_XO_*: the handle holds opt_long / opt_headers */
    long opt_long[LIRA_XO_COUNT];
    struct curl_slist *opt_headers;
    char errbuf[CURL_ERROR_SIZE];
};

/* Set the options of `req` on x's handle (URL, method, headers, body,
 * timeouts, redirects, TLS). LIRA_EINVAL for a request that cannot be sent
 * (missing or non-http(s) URL, URL curl cannot parse, a method that is not a
 * token, a header with CR or LF), LIRA_ENOMEM. */
int lira_curl_configure(lira_transfer *x, const lira_http_request *req);

/* Fill x->res from curl's outcome `rc` and curl's infos. */
void lira_curl_fill_response(lira_transfer *x, CURLcode rc);

/* transport_curl_origin.c: the per-host cap. Into curl, or into x's origin
 * queue when the origin is at x's cap (LIRA_ENOMEM when neither works); x
 * done with its origin (queued transfers move into curl; one curl refuses
 * goes on *failed for the caller to complete); every origin freed. */
int lira__curl_submit(lira_curl *tp, lira_transfer *x, const char *url);
void lira__curl_leave_origin(lira_curl *tp, lira_transfer *x, lira_transfer **failed);
void lira__curl_origins_free(lira_curl *tp);

/* CURLOPT_WRITEFUNCTION / CURLOPT_HEADERFUNCTION with x as the user data. */
size_t lira_curl_on_body(char *data, size_t size, size_t n, void *ud);
size_t lira_curl_on_header(char *data, size_t size, size_t n, void *ud);

#endif
