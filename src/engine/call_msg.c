/* call_msg.c — the call's copy of its spec, and err.message.
 *
 * Messages name the method and the path (query included, redacted: no
 * secret in a URL ever reaches a message), then what happened and on which
 * attempt: "GET /orders/42: timed out after 10.0 s (attempt 4 of 4)". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "call_impl.h"
#include "redact.h"
#include "status.h"

/* The path template's part that is safe as a label: no scheme and
 * authority (userinfo), no query or fragment (secrets ride there). */
static size_t endpoint_span(const char *t, const char **start)
{
    const char *p = strstr(t, "://");
    if (p && (size_t)(p - t) + 1 == strcspn(t, "/?#"))   /* the ':' of "scheme://" */
        p += 3, p += strcspn(p, "/?#");
    else
        p = t;
    *start = p;
    return strcspn(p, "?#");
}

/* The first letter inline: most lines are not trace lines, and this runs
 * on every header line of every call. */
static int is_trace_line(const char *h)
{
    return (h[0] == 't' || h[0] == 'T') &&
           (strncasecmp(h, "traceparent:", 12) == 0 || strncasecmp(h, "tracestate:", 11) == 0);
}

/* Bump allocation in c->arena (sized beforehand: never fails). */
static char *put(char **p, const void *s, size_t n)
{
    char *d = *p;
    if (n)
        memcpy(d, s, n);
    d[n] = '\0';
    *p += n + 1;
    return d;
}

/* The arena holds the header pointer array (first, so it is aligned), then
 * every string, then the body: one buffer per record, reused with it. */
static int arena_fit(lira_call *c, size_t need)
{
    if (need <= c->arena_cap)
        return LIRA_OK;
    char *a = malloc(need);
    if (!a)
        return LIRA_ENOMEM;
    free(c->arena);
    c->arena = a;
    c->arena_cap = need;
    return LIRA_OK;
}

int lira__call_copy_spec(lira_call *c, const lira_call_spec *s)
{
    c->spec = *s;
    size_t n = 0, bytes = 0;
    for (; s->req.headers && s->req.headers[n]; n++)
        bytes += strlen(s->req.headers[n]) + 1;
    const char *ep = NULL;
    size_t el = s->endpoint ? endpoint_span(s->endpoint, &ep) : 0;
    size_t rl = s->request_id ? strlen(s->request_id) : 0;
    size_t ml = strlen(s->req.method), ul = strlen(s->req.url);
    /* Two spare slots past the NULL: the attempt's trace context lines. */
    size_t ptrs = (n + 3) * sizeof *c->headers;
    if (s->req.body_len > SIZE_MAX / 2 || bytes > SIZE_MAX / 4 || ul > SIZE_MAX / 8)
        return LIRA_ENOMEM;
    size_t need = ptrs + bytes + ml + ul + el + rl + s->req.body_len + 5;
    if (arena_fit(c, need) != LIRA_OK)
        return LIRA_ENOMEM;
    c->headers = (char **)(void *)c->arena;
    char *p = c->arena + ptrs;
    c->method = put(&p, s->req.method, ml);
    c->url = put(&p, s->req.url, ul);
    c->nheaders = n;
    for (size_t i = 0; i < n; i++) {
        c->headers[i] = put(&p, s->req.headers[i], strlen(s->req.headers[i]));
        c->user_trace_ctx |= is_trace_line(c->headers[i]);
    }
    c->headers[n] = c->headers[n + 1] = c->headers[n + 2] = NULL;
    c->endpoint = s->endpoint ? put(&p, ep, el) : NULL;
    c->method_len = ml, c->url_len = ul, c->endpoint_len = el;
    c->request_id = s->request_id ? put(&p, s->request_id, rl) : NULL;
    c->spec.endpoint = c->endpoint;
    c->spec.request_id = c->request_id;
    /* A non-NULL empty body stays non-NULL: "send an empty body". */
    c->body = s->req.body ? put(&p, s->req.body, s->req.body_len) : NULL;
    c->spec.req.method = c->method;
    c->spec.req.url = c->url;
    c->spec.req.headers = (const char *const *)c->headers;
    c->spec.req.body = c->body;
    if (c->spec.idempotent < 0)
        c->spec.idempotent = lira_method_is_idempotent(c->method);
    /* §3.2: a request that must not reach the server twice never rides a
     * pooled connection, where libcurl would re-send it on its own. */
    c->spec.req.fresh_connection = !c->spec.idempotent && !c->spec.has_idempotency_key;
    return LIRA_OK;
}

/* The redacted path (and query) of the call's URL into buf. */
static void redacted_path(const char *url, char *buf, size_t cap)
{
    char full[512];
    if (lira_redact_url(url, strlen(url), full, sizeof full, NULL) == LIRA_EINVAL) {
        snprintf(buf, cap, "%s", "?");
        return;
    }
    const char *p = strstr(full, "://");
    p = p ? p + 3 : full;
    p += strcspn(p, "/?#");
    snprintf(buf, cap, "%s%s", *p == '/' ? "" : "/", p);
}

static double secs(int64_t ns) { return (double)ns / 1e9; }

/* "after <what>" part for a kind without a response. */
static void describe_failure(const lira_call *c, const lira_call_result *r,
                             const lira_http_response *last, char *buf, size_t cap)
{
    const char *err = last && last->error[0] ? last->error : "no detail";
    const char *name = c->u->name;
    switch (r->kind) {
    case LIRA_KIND_TIMEOUT:
        snprintf(buf, cap, "timed out after %.1f s", secs(c->attempt_timeout_ns));
        break;
    case LIRA_KIND_DEADLINE:
        snprintf(buf, cap, "deadline exceeded after %.1f s", secs(r->elapsed_ns));
        break;
    case LIRA_KIND_BREAKER_OPEN:
        if (r->retry_after_ns >= 0)
            snprintf(buf, cap, "circuit breaker of '%s' is open (half-open in %.1f s)", name,
                     secs(r->retry_after_ns));
        else
            snprintf(buf, cap, "circuit breaker of '%s' is open", name);
        break;
    case LIRA_KIND_RATE_LIMITED:
        if (r->retry_after_ns >= 0)
            snprintf(buf, cap, "rate limited by '%s': the next token in %.1f s is past the deadline",
                     name, secs(r->retry_after_ns));
        else
            snprintf(buf, cap, "rate limited by '%s': no token before the deadline", name);
        break;
    case LIRA_KIND_BUDGET:
        snprintf(buf, cap, "retry budget of '%s' spent (after %s)", name,
                 lira_retry_reason_name(r->last_retry_reason));
        break;
    case LIRA_KIND_CANCELLED:
        snprintf(buf, cap, "%s", "cancelled");
        break;
    case LIRA_KIND_INVALID: case LIRA_KIND_TRANSPORT:
        if (c->local_err[0]) {
            snprintf(buf, cap, "%s", c->local_err);
            break;
        }
        /* fall through */
    default:
        if (snprintf(buf, cap, "%s: %s", lira_error_kind_name(r->kind), err) < 0)
            buf[0] = '\0';   /* truncation is fine: the reason's head says enough */
        break;
    }
}

void lira__call_message(const lira_call *c, lira_call_result *r, const lira_http_response *last)
{
    char path[200], what[200];
    redacted_path(c->url, path, sizeof path);
    if (r->res) {
        int stopped = r->stop != LIRA_STOP_SUCCESS && r->stop != LIRA_STOP_STATUS &&
                      r->stop != LIRA_STOP_NONE;
        snprintf(what, sizeof what, "HTTP %d%s%s", r->res->status, stopped ? ", stopped: " : "",
                 stopped ? lira_stop_reason_name(r->stop) : "");
    } else {
        describe_failure(c, r, last, what, sizeof what);
    }
    int n;
    if (r->attempts > 0)
        n = snprintf(r->message, sizeof r->message, "%s %s: %s (attempt %d of %d)", c->method,
                     path, what, r->attempts, c->spec.retry.attempts);
    else
        n = snprintf(r->message, sizeof r->message, "%s %s: %s", c->method, path, what);
    if (n < 0)
        r->message[0] = '\0';
}
