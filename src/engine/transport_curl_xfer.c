/* transport_curl_xfer.c — one transfer on a pooled easy handle: the
 * request's options, curl's header and body callbacks, and turning curl's
 * outcome into a lira_http_response.
 *
 * Per request nothing is allocated here once a handle has served a request
 * of the same shape: header lines and the body are copied into the handle's
 * own buffer, and CURLOPT_HTTPHEADER gets curl_slist nodes from the handle's
 * own array (curl only reads the list; it never frees or keeps it). The
 * response is one allocation (transport.c), plus its body — sized from
 * Content-Length when the server sends one. */
#include "transport_curl.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "redact.h"
#include "status.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 2000L
#define DEFAULT_MAX_BODY           ((size_t)10 * 1024 * 1024)

/* ------------------------------------------------------------ request */

static int is_token(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 'A' && c <= 'Z')
            continue;   /* every method this sees: no strchr per letter */
        if (c <= ' ' || c >= 127 || strchr("\"(),/:;<=>?@[\\]{}", c))
            return 0;
    }
    return 1;
}

/* name is lower case; the first letter is compared inline because most
 * lines match none of the names asked about, and this runs three times
 * per line per request. */
static int header_named(const char *line, const char *name, size_t nlen)
{
    return ((unsigned char)line[0] | 0x20) == (unsigned char)name[0] &&
           strncasecmp(line, name, nlen) == 0 && (line[nlen] == ':' || line[nlen] == ';');
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return LIRA_OK;
    size_t c = *cap ? *cap : 8;
    while (c < need)
        c *= 2;
    void *np = realloc(*p, c * elem);
    if (!np)
        return LIRA_ENOMEM;
    *p = np;
    *cap = c;
    return LIRA_OK;
}

/* Header lines, curl's suppressions ("Expect:", "Content-Type:"), our
 * Accept-Encoding and User-Agent lines and the body (unless the caller keeps
 * it: body_kept), copied into x->buf; the slist nodes point into it. *body
 * gets the address curl sends the body from.
 *
 * Accept-Encoding goes in as a line of our own, with CURLOPT_ACCEPT_ENCODING
 * still set (so curl still decodes gzip): curl then skips building its own
 * line, an aprintf (a malloc, and a byte-at-a-time format) per request,
 * ~2k instructions. The default User-Agent is a line for the same reason
 * (easy_setup sets CURLOPT_USERAGENT only for a proxy's CONNECT). A request
 * with its own line of either keeps it. */
static int build_headers(lira_transfer *x, const lira_http_request *req, int has_body,
                         const char **body)
{
    size_t n = 0, bytes = 0;
    int has_ct = 0, has_expect = 0, has_ae = 0, has_ua = 0;
    for (const char *const *h = req->headers; h && *h; h++, n++) {
        size_t len = strlen(*h);
        if (strcspn(*h, "\r\n") != len || len == 0)
            return LIRA_EINVAL;
        has_ct |= header_named(*h, "content-type", 12);
        has_expect |= header_named(*h, "expect", 6);
        has_ae |= header_named(*h, "accept-encoding", 15);
        has_ua |= header_named(*h, "user-agent", 10);
        bytes += len + 1;
    }
    static const char no_expect[] = "Expect:", no_ct[] = "Content-Type:",
                      ae[] = "Accept-Encoding: " LIRA_CURL_ACCEPT_ENCODING;
    int add_expect = has_body && !has_expect, add_ct = has_body && !has_ct;
    size_t nodes = n + (size_t)add_expect + (size_t)add_ct + (size_t)!has_ae + (size_t)!has_ua;
    size_t body_copy = req->body_kept ? 0 : req->body_len;
    if (body_copy > SIZE_MAX / 2 - bytes)
        return LIRA_ETOOBIG;
    if (grow((void **)&x->buf, &x->buf_cap, bytes + body_copy + 1, 1) != LIRA_OK ||
        grow((void **)&x->slist, &x->slist_cap, nodes + 1, sizeof *x->slist) != LIRA_OK)
        return LIRA_ENOMEM;
    char *p = x->buf;
    size_t k = 0;
    for (const char *const *h = req->headers; h && *h; h++) {
        size_t len = strlen(*h) + 1;
        memcpy(p, *h, len);
        x->slist[k++].data = p;
        p += len;
    }
    /* curl's own lines need no copy: static strings */
    if (add_expect)
        x->slist[k++].data = (char *)(uintptr_t)no_expect;
    if (add_ct)
        x->slist[k++].data = (char *)(uintptr_t)no_ct;
    if (!has_ae)
        x->slist[k++].data = (char *)(uintptr_t)ae;
    if (!has_ua)
        x->slist[k++].data = x->tp->ua_line;   /* the transport's, for its lifetime */
    for (size_t i = 0; i < k; i++)
        x->slist[i].next = i + 1 < k ? &x->slist[i + 1] : NULL;
    if (body_copy)
        memcpy(p, req->body, body_copy);
    *body = req->body_kept ? req->body : p;
    /* curl keeps the pointer and reads the nodes when it sends: the same
     * array (refilled above) needs no new setopt. */
    struct curl_slist *list = k ? x->slist : NULL;
    if (!(x->opt_known & (1u << LIRA_XO_HEADERS)) || x->opt_headers != list) {
        curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, list);
        x->opt_headers = list;
        x->opt_known |= 1u << LIRA_XO_HEADERS;
    }
    return LIRA_OK;
}

/* POST, PUT and PATCH always carry a body (Content-Length: 0 when none),
 * which some servers insist on; other methods only when given one. */
static int sends_body(const lira_http_request *req)
{
    const char *m = req->method;
    return req->body || strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 ||
           strcmp(m, "PATCH") == 0;
}

/* head: the method is HEAD; with_body: sends_body() (never for HEAD). */
static void set_method(lira_transfer *x, const lira_http_request *req, int head, int with_body,
                       const char *body)
{
    CURL *h = x->easy;
    const char *m = req->method;
    const unsigned plain_get = 1u << LIRA_XO_PLAIN_GET;
    x->nobody = head;
    if (!head && !with_body && strcmp(m, "GET") == 0) {
        /* A GET after a GET on this handle: the three options are set. */
        if (!(x->opt_known & plain_get)) {
            curl_easy_setopt(h, CURLOPT_NOBODY, 0L);
            curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
            x->opt_known |= plain_get;
        }
        return;
    }
    x->opt_known &= ~plain_get;
    if (x->nobody) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        return;
    }
    curl_easy_setopt(h, CURLOPT_NOBODY, 0L);
    if (with_body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? body : "");
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, strcmp(m, "POST") == 0 ? NULL : m);
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);   /* not GET: handled above */
    }
}

/* The LIRA_XO_* long options: v[i] into the handle where it does not hold
 * it yet. A pooled handle serving the same client usually holds them all,
 * hence one comparison first. */
static void set_longs(lira_transfer *x, const long v[LIRA_XO_COUNT])
{
    static const CURLoption opt[LIRA_XO_COUNT] = {
        CURLOPT_CONNECTTIMEOUT_MS, CURLOPT_TIMEOUT_MS, CURLOPT_FOLLOWLOCATION, CURLOPT_MAXREDIRS,
        CURLOPT_FRESH_CONNECT, CURLOPT_SSL_VERIFYPEER, CURLOPT_SSL_VERIFYHOST,
    };
    const unsigned all = (1u << LIRA_XO_COUNT) - 1;
    if ((x->opt_known & all) == all && memcmp(x->opt_long, v, sizeof x->opt_long) == 0)
        return;
    for (int i = 0; i < LIRA_XO_COUNT; i++) {
        unsigned bit = 1u << i;
        if ((x->opt_known & bit) && x->opt_long[i] == v[i])
            continue;
        if (curl_easy_setopt(x->easy, opt[i], v[i]) == CURLE_OK) {
            x->opt_long[i] = v[i];
            x->opt_known |= bit;
        } else {
            x->opt_known &= ~bit;
        }
    }
}

static long ms_ceil(int64_t ns)
{
    int64_t ms = (ns + LIRA_NS_PER_MS - 1) / LIRA_NS_PER_MS;
    return ms > 0x7fffffffLL ? 0x7fffffffL : (long)ms;
}

/* Parse the URL into the handle's CURLU, unless it is the one the handle's
 * previous request used (clients call the same endpoints over and over; the
 * parse was a fifth of this function). curl only reads the CURLU. */
static int set_url(lira_transfer *x, const char *url)
{
    size_t len = strlen(url);
    if (x->url_len == len && x->url && memcmp(x->url, url, len) == 0)
        return LIRA_OK;
    x->url_len = 0;   /* no valid cache until the parse succeeded */
    if (curl_url_set(x->uh, CURLUPART_URL, url, 0) != CURLUE_OK)
        return LIRA_EINVAL;
    if (len < 2048 && grow((void **)&x->url, &x->url_cap, len + 1, 1) == LIRA_OK) {
        memcpy(x->url, url, len + 1);
        x->url_len = len;
    }
    return LIRA_OK;
}

int lira_curl_configure(lira_transfer *x, const lira_http_request *req)
{
    if (!req->method || !req->url || !is_token(req->method) ||
        (!req->body && req->body_len) || req->connect_timeout_ns < 0 || req->timeout_ns < 0 ||
        (strncasecmp(req->url, "http://", 7) != 0 && strncasecmp(req->url, "https://", 8) != 0))
        return LIRA_EINVAL;
    if (set_url(x, req->url) != LIRA_OK)
        return LIRA_EINVAL;
    const char *body = NULL;
    int head = strcmp(req->method, "HEAD") == 0, with_body = !head && sends_body(req);
    int rc = build_headers(x, req, with_body, &body);
    if (rc != LIRA_OK)
        return rc;
    set_method(x, req, head, with_body, body);
    x->max_redirects = req->max_redirects > 0 ? req->max_redirects : 0;
    const long v[LIRA_XO_COUNT] = {
        [LIRA_XO_CONNECT_MS] = req->connect_timeout_ns > 0 ? ms_ceil(req->connect_timeout_ns)
                                                           : DEFAULT_CONNECT_TIMEOUT_MS,
        [LIRA_XO_TIMEOUT_MS] = req->timeout_ns > 0 ? ms_ceil(req->timeout_ns) : 0L,
        [LIRA_XO_FOLLOW] = x->max_redirects > 0 ? 1L : 0L,
        [LIRA_XO_MAXREDIRS] = (long)x->max_redirects,
        [LIRA_XO_FRESH] = req->fresh_connection ? 1L : 0L,
        [LIRA_XO_VERIFYPEER] = req->insecure ? 0L : 1L,
        [LIRA_XO_VERIFYHOST] = req->insecure ? 0L : 2L,
    };
    set_longs(x, v);
    if (req->ca_file) {
        curl_easy_setopt(x->easy, CURLOPT_CAINFO, req->ca_file);
        x->custom_ca = 1;
    }
    x->max_body = req->max_body ? req->max_body : DEFAULT_MAX_BODY;
    x->content_length = -1;
    x->too_large = 0;
    x->oom = 0;
    x->errbuf[0] = '\0';
    return LIRA_OK;
}

/* ------------------------------------------------------------ curl's callbacks */

size_t lira_curl_on_body(char *data, size_t size, size_t n, void *ud)
{
    lira_transfer *x = ud;
    size_t len = size * n;
    lira_http_response *r = x->res;
    if (len > x->max_body - r->body_len) {
        x->too_large = 1;
        return 0;   /* CURLE_WRITE_ERROR */
    }
    if (lira_http_response_append_body(r, data, len) != LIRA_OK) {
        x->oom = 1;
        return 0;
    }
    return len;
}

static int parse_status(const char *s, size_t len)
{
    const char *sp = memchr(s, ' ', len);
    if (!sp || (size_t)(sp - s) + 4 > len)
        return 0;
    int st = 0;
    for (int i = 1; i <= 3; i++) {
        if (sp[i] < '0' || sp[i] > '9')
            return 0;
        st = st * 10 + (sp[i] - '0');
    }
    return st;
}

static int64_t parse_length(const char *v, size_t len)
{
    int64_t n = 0;
    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9' || n > (INT64_MAX - 9) / 10)
            return -1;
        n = n * 10 + (v[i] - '0');
    }
    return n;
}

/* The blank line ending a response's headers: a final response's announced
 * length is checked against max_body before any of the body is read, and
 * the body buffer is sized to it (gzip may still make it grow). */
static int headers_done(lira_transfer *x)
{
    lira_http_response *r = x->res;
    int hop = r->status >= 300 && r->status < 400 && x->max_redirects > 0 &&
              lira_http_response_header(r, "location");
    if (r->status < 200 || hop || x->nobody || x->content_length < 0)
        return 1;
    if ((uint64_t)x->content_length > x->max_body) {
        x->too_large = 1;
        return 0;
    }
    if (lira_http_response_reserve_body(r, (size_t)x->content_length) != LIRA_OK) {
        x->oom = 1;
        return 0;
    }
    return 1;
}

size_t lira_curl_on_header(char *data, size_t size, size_t n, void *ud)
{
    lira_transfer *x = ud;
    lira_http_response *r = x->res;
    size_t len = size * n, end = len;
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        /* a new response (redirect hop, 1xx): only the final one's headers count */
        lira_http_response_reset_headers(r);
        r->body_len = 0;
        r->status = parse_status(data, len);
        x->content_length = -1;
        return len;
    }
    while (end > 0 && (data[end - 1] == '\r' || data[end - 1] == '\n'))
        end--;
    if (end == 0)
        return headers_done(x) ? len : 0;
    const char *colon = memchr(data, ':', end);
    if (data[0] == ' ' || data[0] == '\t' || !colon)
        return len;   /* obsolete line folding or junk: ignored */
    size_t nlen = (size_t)(colon - data);
    const char *v = colon + 1, *ve = data + end;
    while (v < ve && (*v == ' ' || *v == '\t'))
        v++;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
        ve--;
    if (nlen == 14 && strncasecmp(data, "content-length", 14) == 0)
        x->content_length = parse_length(v, (size_t)(ve - v));
    int rc = lira_http_response_add_header(r, data, nlen, v, (size_t)(ve - v));
    if (rc == LIRA_ETOOBIG)
        x->too_large = 2;
    else if (rc != LIRA_OK)
        x->oom = 1;
    return rc == LIRA_OK ? len : 0;
}

/* ------------------------------------------------------------ outcome */

static lira_failure map_failure(CURLcode rc, const lira_transfer *x)
{
    switch (rc) {
    case CURLE_OK:
        return LIRA_FAIL_NONE;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return LIRA_FAIL_DNS;
    case CURLE_COULDNT_CONNECT:
        return LIRA_FAIL_CONNECT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_USE_SSL_FAILED:
        return LIRA_FAIL_TLS;
    case CURLE_OPERATION_TIMEDOUT:
        return LIRA_FAIL_TIMEOUT;
    case CURLE_WRITE_ERROR:
        return x->too_large ? LIRA_FAIL_TOO_LARGE : LIRA_FAIL_TRANSPORT;
    default:
        return LIRA_FAIL_TRANSPORT;
    }
}

static void append(char *out, size_t cap, size_t *o, const char *s, size_t len)
{
    size_t room = cap - 1 - *o;
    if (len > room)
        len = room;
    memcpy(out + *o, s, len);
    *o += len;
    out[*o] = '\0';
}

/* Copy curl's message, passing anything that looks like a URL through
 * lira_redact_url so that no credential in one reaches an error. */
static void copy_message(char *out, size_t cap, const char *msg)
{
    size_t o = 0;
    const char *p = msg;
    out[0] = '\0';
    for (const char *u; (u = strstr(p, "://")) != NULL;) {
        const char *s = u;
        while (s > p && !strchr(" '\"(<", s[-1]))
            s--;
        const char *e = u + strcspn(u, " '\")>");
        append(out, cap, &o, p, (size_t)(s - p));
        char url[256];
        size_t got = 0;
        lira_redact_url(s, (size_t)(e - s), url, sizeof url, &got);
        append(out, cap, &o, url, strlen(url));
        p = e;
    }
    append(out, cap, &o, p, strlen(p));
}

static void describe(lira_transfer *x, CURLcode rc, char *out, size_t cap)
{
    if (x->too_large == 1)
        snprintf(out, cap, "response body larger than max_body (%zu bytes)", x->max_body);
    else if (x->too_large == 2)
        snprintf(out, cap, "response headers past the cap (%d headers, %d bytes)",
                 LIRA_HTTP_MAX_HEADERS, LIRA_HTTP_MAX_HEADER_BYTES);
    else if (x->oom)
        snprintf(out, cap, "out of memory reading the response");
    else if (rc == CURLE_TOO_MANY_REDIRECTS)
        snprintf(out, cap, "more than %d redirects (the request's cap)", x->max_redirects);
    else
        copy_message(out, cap, x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
}

static int64_t info_ns(CURL *h, CURLINFO what)
{
    curl_off_t us = 0;
    if (curl_easy_getinfo(h, what, &us) != CURLE_OK || us <= 0)
        return -1;
    return (int64_t)us * 1000;
}

static void fill_info(lira_transfer *x)
{
    CURL *h = x->easy;
    lira_http_response *r = x->res;
    long connects = 0, redirects = 0;
    char *url = NULL;
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
    curl_easy_getinfo(h, CURLINFO_REDIRECT_COUNT, &redirects);
    r->reused_connection = connects == 0 && r->status > 0;
    r->redirects = (int)redirects;
    lira_http_timings *t = &r->timings;
    t->total = info_ns(h, CURLINFO_TOTAL_TIME_T);
    t->first_byte = info_ns(h, CURLINFO_STARTTRANSFER_TIME_T);
    if (r->reused_connection) {
        t->dns = t->connect = t->tls = -1;
    } else {
        t->dns = info_ns(h, CURLINFO_NAMELOOKUP_TIME_T);
        t->connect = info_ns(h, CURLINFO_CONNECT_TIME_T);
        t->tls = info_ns(h, CURLINFO_APPCONNECT_TIME_T);
    }
    if (curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK && url)
        lira_http_response_set_effective_url(r, url, strlen(url));
}

void lira_curl_fill_response(lira_transfer *x, CURLcode rc)
{
    lira_http_response *r = x->res;
    long status = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    r->failure = map_failure(rc, x);
    if (r->failure == LIRA_FAIL_NONE) {
        r->status = (int)status;
    } else {
        describe(x, rc, r->error, sizeof r->error);
        lira_http_response_reset_body(r);
        if (r->failure == LIRA_FAIL_TOO_LARGE) {
            r->status = (int)status;
        } else {
            r->status = 0;
            lira_http_response_reset_headers(r);
        }
    }
    fill_info(x);
}
