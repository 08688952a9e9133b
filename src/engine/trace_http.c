/* trace_http.c — the CLIENT span of one HTTP attempt, with the
 * OpenTelemetry HTTP client semantic conventions (http.request.method,
 * url.full, server.address, server.port, http.request.resend_count,
 * http.response.status_code, error.type). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "redact.h"
#include "status.h"
#include "trace.h"
#include "trace_impl.h"
#include "telemetry_url.h"

static const char *const known_methods[] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "QUERY",
};

static int method_known(const char *m)
{
    for (size_t i = 0; i < sizeof known_methods / sizeof *known_methods; i++)
        if (strcmp(m, known_methods[i]) == 0)
            return 1;
    return 0;
}

/* server.address and server.port from an absolute URL: the host after any
 * userinfo (an IPv6 literal without its brackets) and the written port or
 * the scheme's default. 0 when the URL has no authority. */
static int url_server(const char *url, const char **host, size_t *hlen, long *port)
{
    const char *p = strstr(url, "://");
    if (!p)
        return 0;
    int https = (size_t)(p - url) == 5 && strncasecmp(url, "https", 5) == 0;
    const char *a = p + 3;
    size_t alen = strcspn(a, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < alen; i++)
        if (a[i] == '@')
            at = a + i;
    if (at)
        alen -= (size_t)(at + 1 - a), a = at + 1;
    const char *colon = NULL;
    if (alen && a[0] == '[') {
        const char *close = memchr(a, ']', alen);
        if (!close)
            return 0;
        *host = a + 1, *hlen = (size_t)(close - a - 1);
        if (close + 1 < a + alen && close[1] == ':')
            colon = close + 1;
    } else {
        colon = memchr(a, ':', alen);
        *host = a, *hlen = colon ? (size_t)(colon - a) : alen;
    }
    *port = https ? 443 : 80;
    if (colon && colon + 1 < a + alen) {
        long v = 0;
        for (const char *q = colon + 1; q < a + alen; q++) {
            if (*q < '0' || *q > '9' || v > 65535)
                return *hlen > 0;
            v = v * 10 + (*q - '0');
        }
        if (v <= 65535)
            *port = v;
    }
    return *hlen > 0;
}

int lira_span_start_http(lira_tracer *t, lira_span *sp, const lira_span_ctx *parent,
                         const char *method, const char *url, int resend_count,
                         const char *name)
{
    return lira__span_start_http_memo(t, sp, parent, method, url, resend_count, name, NULL);
}

static void set_url_full(lira_span *sp, const char *url, lira_url_memo *memo)
{
    size_t ulen = strlen(url), rlen = 0;
    const char *r = lira__url_memo_get(memo, url, ulen, &rlen);
    if (r) {
        LIRA__ADD_STR(sp, "url.full", r, rlen);
        return;
    }
    char red[LIRA_SPAN_MAX_VALUE + 1];
    lira_redact_url(url, ulen, red, sizeof red, &rlen);
    LIRA__ADD_STR(sp, "url.full", red, strlen(red));
}

int lira__span_start_http_memo(lira_tracer *t, lira_span *sp, const lira_span_ctx *parent,
                               const char *method, const char *url, int resend_count,
                               const char *name, lira_url_memo *memo)
{
    if (!method || !url)
        return LIRA_EINVAL;
    int known = method_known(method);
    int rc = lira_span_start(t, sp, name ? name : known ? method : "HTTP", LIRA_SPAN_CLIENT,
                             parent);
    if (rc != LIRA_OK || !sp->rec)
        return rc;
    if (known) {
        LIRA__ADD_STR(sp, "http.request.method", method, strlen(method));
    } else {
        LIRA__ADD_STR(sp, "http.request.method", "_OTHER", 6);
        LIRA__ADD_STR(sp, "http.request.method_original", method, strlen(method));
    }
    set_url_full(sp, url, memo);
    const char *host;
    size_t hlen;
    long port;
    if (url_server(url, &host, &hlen, &port)) {
        LIRA__ADD_STR(sp, "server.address", host, hlen);
        LIRA__ADD_INT(sp, "server.port", port);
    }
    if (resend_count > 0)
        LIRA__ADD_INT(sp, "http.request.resend_count", resend_count);
    return LIRA_OK;
}

void lira_span_end_http(lira_span *sp, const lira_http_response *res)
{
    if (!sp)
        return;
    lira__span_http_outcome(sp, res);
    lira_span_end(sp);
}

void lira__span_http_outcome(lira_span *sp, const lira_http_response *res)
{
    if (sp->rec && sp->started) {
        const char *etype = NULL;
        char code[16];
        if (!res) {
            etype = "cancelled";
        } else {
            if (res->status > 0)
                lira_span_set_int(sp, "http.response.status_code", res->status);
            if (res->failure != LIRA_FAIL_NONE) {
                etype = lira_failure_kind(res->failure);
            } else if (res->status >= 400) {
                snprintf(code, sizeof code, "%d", res->status);
                etype = code;
            }
        }
        if (etype) {
            lira_span_set_str(sp, "error.type", etype, strlen(etype));
            lira_span_set_status(sp, LIRA_STATUS_ERROR,
                                 res && res->failure != LIRA_FAIL_NONE ? res->error : NULL);
        }
    }
}
