/* trace_http.c — the CLIENT span of one HTTP attempt, with the
 * OpenTelemetry HTTP client semantic conventions (http.request.method,
 * url.full, server.address, server.port, http.request.resend_count,
 * http.response.status_code, error.type). */
#include <stdio.h>
#include <string.h>

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

int lira_span_start_http(lira_tracer *t, lira_span *sp, const lira_span_ctx *parent,
                         const char *method, const char *url, int resend_count,
                         const char *name)
{
    return lira__span_start_http_url(t, sp, parent, method, url, resend_count, name, NULL);
}

/* url.full, server.address and server.port, worked out here. */
static void set_url_attrs(lira_span *sp, const char *url)
{
    size_t ulen = strlen(url), rlen = 0;
    char red[LIRA_SPAN_MAX_VALUE + 1];
    lira_redact_url(url, ulen, red, sizeof red, &rlen);
    LIRA__ADD_STR(sp, "url.full", red, strlen(red));
    const char *host;
    size_t hlen;
    long port;
    if (lira__url_server(url, &host, &hlen, &port)) {
        LIRA__ADD_STR(sp, "server.address", host, hlen);
        LIRA__ADD_INT(sp, "server.port", port);
    }
}

int lira__span_start_http_url(lira_tracer *t, lira_span *sp, const lira_span_ctx *parent,
                              const char *method, const char *url, int resend_count,
                              const char *name, const lira_url_info *in)
{
    if (!method || !url)
        return LIRA_EINVAL;
    int known = method_known(method);
    int rc = lira_span_start(t, sp, name ? name : known ? method : "HTTP", LIRA_SPAN_CLIENT,
                             parent);
    if (rc != LIRA_OK || !sp->rec)
        return rc;
    if (known) {
        LIRA__ADD_PLAIN(sp, "http.request.method", method, strlen(method));
    } else {
        LIRA__ADD_PLAIN(sp, "http.request.method", "_OTHER", 6);
        LIRA__ADD_STR(sp, "http.request.method_original", method, strlen(method));
    }
    if (!in) {
        set_url_attrs(sp, url);
    } else {
        LIRA__ADD_MARKED(sp, "url.full", in->red, in->red_len, in->red_plain);
        if (in->srv_ok) {
            LIRA__ADD_MARKED(sp, "server.address", in->srv_host, in->srv_host_len,
                             in->srv_plain);
            LIRA__ADD_INT(sp, "server.port", in->srv_port);
        }
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
                LIRA__SET_INT(sp, "http.response.status_code", res->status);
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
