/* telemetry.c — the hub's events (telemetry.h): pipeline events -> metric
 * updates, log lines, and the registered sink. These run for every call and
 * attempt; the hub's creation, its place on an engine and its settings are
 * in telemetry_hub.c. */
#include <stdio.h>
#include <string.h>

#include "decimal.h"
#include "short_bytes.h"
#include "status.h"
#include "telemetry_impl.h"
#include "telemetry_site.h"
#include "telemetry_url.h"

#define MAX_USER_FIELDS 64

/* ------------------------------------------------------------ helpers */

static void bump(lira_telemetry *t, int which, const char *const *v, size_t n, double by)
{
    lira_series *s;
    if (lira_metric_series(t->m[which], v, n, &s) == LIRA_OK)
        lira_series_add(s, by);
}

static void gauge(lira_telemetry *t, int which, const char *client, double v)
{
    lira_series *s;
    if (lira_metric_series(t->m[which], &client, 1, &s) == LIRA_OK)
        lira_series_set(s, v);
}

/* The length of s, known (> 0) or counted; 0 for NULL. */
static size_t len_of(const char *s, size_t known)
{
    return !s ? 0 : known ? known : strlen(s);
}

static const char *or_unknown(const char *s)
{
    return s && *s ? s : "unknown";
}

static void status_class(int status, char out[5])
{
    if (status >= 100 && status <= 599) {
        out[0] = (char)('0' + status / 100);
        memcpy(out + 1, "xx", 3);
    } else {
        memcpy(out, "none", 5);
    }
}

/* Every key below is a literal (LIRA_LOGF_KEYOK, its length known:
 * these run for every call); values the hub made itself (hex ids, enum
 * names) are passed with LIRA_LOGF_PLAIN. */
static lira_log_field fstr_(const char *k, uint16_t kl, const char *v, unsigned flags)
{
    return (lira_log_field){.key = v && *v ? k : NULL, .type = LIRA_LOGF_STR,
                            .flags = (unsigned char)(flags | LIRA_LOGF_KEYOK), .klen = kl,
                            .s = v, .len = SIZE_MAX};
}

static lira_log_field fint_(const char *k, uint16_t kl, int64_t v, unsigned flags)
{
    return (lira_log_field){.key = k, .type = LIRA_LOGF_INT,
                            .flags = (unsigned char)(flags | LIRA_LOGF_KEYOK), .klen = kl,
                            .i = v};
}

static lira_log_field fms_(const char *k, uint16_t kl, int64_t ns)
{
    return (lira_log_field){.key = k, .type = LIRA_LOGF_MICROS, .flags = LIRA_LOGF_KEYOK,
                            .klen = kl, .i = ns / 1000};
}

/* A hex id of a known length ("" = none): no strlen. */
static lira_log_field fid_(const char *k, uint16_t kl, const char *v, size_t len)
{
    lira_log_field f = fstr_(k, kl, v, LIRA_LOGF_PLAIN);
    f.len = v[0] ? len : 0;
    return f;
}

/* Adds x unless it is an optional field left out (no key): a line about a
 * call that went well has no error, retry_reason or stop to carry. */
static void add(lira_log_field *f, size_t *n, lira_log_field x)
{
    if (x.key)
        f[(*n)++] = x;
}

#define fstr(k, v, flags) fstr_((k), sizeof(k) - 1, (v), (flags))
#define fint(k, v, flags) fint_((k), sizeof(k) - 1, (v), (flags))
#define fint_if(c, k, v, flags) fint_((c) ? (k) : NULL, sizeof(k) - 1, (v), (flags))
#define fms(k, ns) fms_((k), sizeof(k) - 1, (ns))
#define fid(k, v, len) fid_((k), sizeof(k) - 1, (v), (len))

#define HEAD_MAX 1024   /* the longest head kept (a redacted URL is at most 511) */

/* The memo's facts about the call's URL: those the call kept, while they
 * still hold, else looked up (and kept). NULL: not kept (too long). */
static const lira_url_info *url_info(lira_telemetry *t, lira_tel_call *tc)
{
    return tc->url ? lira__url_memo_kept(t->urls, tc->url, len_of(tc->url, tc->url_len),
                                         &tc->url_info, &tc->url_gen)
                   : NULL;
}

/* The fields every line about a call starts with: client, method, the URL
 * (redacted through the memo when it can be: the call's spans share the
 * result) and endpoint. On a JSON line that no rate limit keys on (below
 * warn), they go as one PAIRS field: rendered once and kept on the URL's
 * memo entry, then copied by every line about a call to that URL with the
 * same client, method and endpoint. With metrics on, the (client, endpoint)
 * pair's site keeps a copy for its latest URL and method, found without a
 * key (−200 instructions a line). */
static size_t call_fields(lira_telemetry *t, lira_tel_call *tc, lira_log_level lv,
                          lira_log_field *f)
{
    const char *client = or_unknown(tc->client);
    const lira_url_info *in = url_info(t, tc);
    int headed = in && lv < LIRA_LOG_WARN && lira_log_is_json(t->log);
    lira_url_head_key k = {0};
    size_t hl = 0;
    const char *h = NULL;
    const char *method = tc->method ? tc->method : "";
    size_t ml = len_of(tc->method, tc->method_len);
    tel_site *st = tc->metrics_on ? tc->metrics_site : NULL;
    int on_site = 0;
    if (headed) {
        /* The (client, endpoint) pair's own copy first: no key to build or
         * compare but the method. */
        on_site = (h = lira__tel_site_head(st, in->gen, method, ml, &hl)) != NULL;
        if (!h) {
            k = (lira_url_head_key){client, tc->method, tc->endpoint, strlen(client), ml,
                                    len_of(tc->endpoint, tc->endpoint_len)};
            h = lira__url_memo_head(t->urls, in, &k, &hl);
        }
    }
    if (!h) {
        size_t n = 0;
        unsigned char plain = in && in->red_plain ? LIRA_LOGF_PLAIN : 0;
        f[n++] = fstr("client", client, LIRA_LOGF_DEDUPE);
        f[n++] = fstr("method", tc->method, LIRA_LOGF_DEDUPE);
        f[n++] = in ? (lira_log_field){.key = "url", .type = LIRA_LOGF_STR,
                                       .flags = LIRA_LOGF_KEYOK | plain, .klen = 3,
                                       .s = in->red, .len = in->red_len}
                    : (lira_log_field){.key = tc->url ? "url" : NULL, .type = LIRA_LOGF_URL,
                                       .flags = LIRA_LOGF_KEYOK, .s = tc->url, .len = SIZE_MAX};
        f[n++] = fstr("endpoint", tc->endpoint, LIRA_LOGF_DEDUPE);
        char buf[HEAD_MAX];
        if (!headed || !(hl = lira_log_render_pairs(t->log, f, n, buf, sizeof buf)) ||
            !(h = lira__url_memo_set_head(t->urls, in, &k, buf, hl)))
            return n;
    }
    if (!on_site)
        lira__tel_site_keep_head(st, in->gen, method, ml, h, hl);
    f[0] = (lira_log_field){.key = "", .type = LIRA_LOGF_PAIRS, .s = h, .len = hl};
    return 1;
}

static size_t id_fields(const lira_tel_call *tc, lira_log_field *f)
{
    size_t n = 0;
    add(f, &n, fstr("request_id", tc->request_id, tc->request_id_plain ? LIRA_LOGF_PLAIN : 0));
    add(f, &n, fstr("correlation_id", tc->correlation_id, 0));
    add(f, &n, fid("trace_id", tc->trace_id, LIRA_TRACE_ID_HEX_SIZE - 1));
    add(f, &n, fid("span_id", tc->span_id, LIRA_SPAN_ID_HEX_SIZE - 1));
    return n;
}

/* ------------------------------------------------------------ call tail */

#define TAIL_MAX 256      /* the longest tail below: ~200 bytes */
#define TAIL_RID_MAX 64   /* a longer request id goes the generic way */

static char *tail_int(char *p, int64_t v)   /* as the log writes a LIRA_LOGF_INT */
{
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    if (v < 0)
        *p++ = '-';
    return p + lira_dec(p, u);
}

#define TAIL_LIT(p, s) (memcpy((p), (s), sizeof(s) - 1), (p) += sizeof(s) - 1)

/* The pairs after the head of a successful call's line — status, attempts,
 * latency_ms, request_id, trace_id, span_id, retry_reason — written here as
 * one PAIRS field: the bytes the generic fields give (call_end), without
 * the log's dispatch per field, once per call. Only when no value can need
 * escaping: a request id lira made, no correlation id (a caller's may).
 * 0: take the generic way. out has TAIL_MAX bytes. */
static size_t call_tail(const lira_tel_call *tc, int status, int attempts, int64_t ns,
                        lira_retry_reason rr, char *out)
{
    size_t rl = tc->request_id ? strlen(tc->request_id) : 0;
    const char *rn = rr != LIRA_RR_NONE ? lira_retry_reason_name(rr) : NULL;
    size_t nl = rn ? strlen(rn) : 0;
    if (!tc->request_id_plain || rl > TAIL_RID_MAX || tc->correlation_id[0] || nl > 32)
        return 0;
    char *p = out;
    if (status) {
        TAIL_LIT(p, ",\"status\":");
        p = tail_int(p, status);
    }
    TAIL_LIT(p, ",\"attempts\":");
    p = tail_int(p, attempts);
    TAIL_LIT(p, ",\"latency_ms\":");
    p += lira_log_micros(ns / 1000, p);
    if (rl) {
        TAIL_LIT(p, ",\"request_id\":\"");
        lira_short_copy(p, tc->request_id, rl);
        p += rl;
        *p++ = '"';
    }
    if (tc->trace_id[0]) {
        TAIL_LIT(p, ",\"trace_id\":\"");
        memcpy(p, tc->trace_id, LIRA_TRACE_ID_HEX_SIZE - 1);
        p += LIRA_TRACE_ID_HEX_SIZE - 1;
        *p++ = '"';
    }
    if (tc->span_id[0]) {
        TAIL_LIT(p, ",\"span_id\":\"");
        memcpy(p, tc->span_id, LIRA_SPAN_ID_HEX_SIZE - 1);
        p += LIRA_SPAN_ID_HEX_SIZE - 1;
        *p++ = '"';
    }
    if (nl) {
        TAIL_LIT(p, ",\"retry_reason\":\"");
        memcpy(p, rn, nl);
        p += nl;
        *p++ = '"';
    }
    return (size_t)(p - out);
}

/* ------------------------------------------------------------ events */

void lira_telemetry_call_start(lira_telemetry *t, lira_tel_call *tc, int64_t now, int64_t wall)
{
    if (!t || !tc)
        return;
    tc->start_ns = now;
    tc->started = 1;
    tc->trace_id[0] = tc->span_id[0] = '\0';
    tc->trace = NULL;
    memcpy(tc->correlation_id, t->correlation_id, strlen(t->correlation_id) + 1);
    tc->server_address[0] = '\0';   /* a metric label only */
    tc->server_len = 0;
    tc->url_info = NULL;
    tc->url_gen = 0;
    tc->metrics_on = !t->metrics_off;
    if (tc->metrics_on && tc->url) {
        const lira_url_info *in = url_info(t, tc);
        if (in) {
            memcpy(tc->server_address, in->host, in->host_len + 1);
            tc->server_len = in->host_len;
        } else {
            lira__url_host(tc->url, tc->server_address, sizeof tc->server_address);
            tc->server_len = strlen(tc->server_address);
        }
    }
    if (t->has_sink && t->sink.call_start)
        t->sink.call_start(t->sink.ud, tc, now, wall);
    tc->metrics_site = NULL;
    if (tc->metrics_on) {
        const char *c = or_unknown(tc->client);
        tel_site *st = lira__tel_sites_site(t->sites, c, tc->endpoint ? tc->endpoint : "",
                                            len_of(tc->endpoint, tc->endpoint_len));
        tc->metrics_site = st;
        lira_series *s = lira__tel_series(st ? &st->client->in_flight : NULL, t->m[M_IN_FLIGHT],
                                          &c, 1);
        if (s)
            lira_series_add(s, 1);
    }
}

void lira_telemetry_attempt_start(lira_telemetry *t, lira_tel_call *tc, int attempt,
                                  int64_t now, int64_t wall, char *traceparent, size_t cap)
{
    if (traceparent && cap)
        traceparent[0] = '\0';
    if (t && tc && t->has_sink && t->sink.attempt_start)
        t->sink.attempt_start(t->sink.ud, tc, attempt, now, wall, traceparent, cap);
}

/* The http_client_request_duration_seconds series of an attempt: the pair's
 * latest one when the labels are the same (the usual case), else a lookup
 * that becomes the latest. */
static lira_series *http_series(lira_telemetry *t, lira_tel_call *tc, tel_site *st,
                                const lira_http_response *res)
{
    int code = -1;
    const char *err = "";
    if (res && res->failure == LIRA_FAIL_NONE)
        code = res->status;
    else
        err = res ? lira_failure_name(res->failure) : "transport";
    const char *method = tc->method ? tc->method : "_OTHER";
    size_t ml = len_of(method, tc->method ? tc->method_len : 0);
    if (st && st->http && st->http_code == code && st->http_err == err &&
        st->http_method_len == ml && st->http_server_len == tc->server_len &&
        lira_short_equal(st->http_method, method, ml) &&
        lira_short_equal(st->http_server, tc->server_address, tc->server_len))
        return st->http;
    char cs[12] = "";
    if (code >= 0)
        snprintf(cs, sizeof cs, "%d", code);
    const char *hv[4] = {method, cs, tc->server_address, err};
    lira_series *s = lira__tel_series(NULL, t->m[M_HTTP_DURATION], hv, 4);
    if (st && s && !lira_series_is_overflow(s) && ml < sizeof st->http_method) {
        st->http = s;
        st->http_code = code;
        st->http_err = err;
        memcpy(st->http_method, method, ml + 1);
        memcpy(st->http_server, tc->server_address, tc->server_len + 1);
        st->http_method_len = ml;
        st->http_server_len = tc->server_len;
    }
    return s;
}

static void attempt_metrics(lira_telemetry *t, lira_tel_call *tc, const lira_call_attempt *a)
{
    tel_site *st = tc->metrics_site;
    lira_series *s = http_series(t, tc, st, a->res);
    if (s)
        lira_series_observe_ns(s, a->duration_ns < 0 ? 0 : a->duration_ns);
    const char *ce[3] = {or_unknown(tc->client), tc->endpoint ? tc->endpoint : "", NULL};
    if ((s = lira__tel_series(st ? &st->attempts : NULL, t->m[M_ATTEMPTS], ce, 2)))
        lira_series_add(s, 1);
    if (a->retry_reason != LIRA_RR_NONE) {
        ce[2] = lira_retry_reason_name(a->retry_reason);
        bump(t, M_RETRIES, ce, 3, 1);
    }
}

void lira_telemetry_attempt_end(lira_telemetry *t, lira_tel_call *tc,
                                const lira_call_attempt *a, int64_t now, int64_t wall)
{
    if (!t || !tc || !a)
        return;
    if (t->has_sink && t->sink.attempt_end)
        t->sink.attempt_end(t->sink.ud, tc, a, now, wall);
    if (tc->metrics_on)
        attempt_metrics(t, tc, a);
    if (!lira_log_enabled(t->log, LIRA_LOG_DEBUG))
        return;
    lira_log_field f[16];
    size_t n = call_fields(t, tc, LIRA_LOG_DEBUG, f);
    const lira_http_response *res = a->res;
    f[n++] = fint("attempt", a->attempt, 0);
    f[n++] = fint_if(res && res->status, "status", res ? res->status : 0, 0);
    f[n++] = fms("latency_ms", a->duration_ns);
    n += id_fields(tc, f + n);
    if (res && res->failure != LIRA_FAIL_NONE)
        add(f, &n, fstr("error", lira_failure_name(res->failure), LIRA_LOGF_PLAIN));
    if (a->retry_reason != LIRA_RR_NONE)
        add(f, &n, fstr("retry_reason", lira_retry_reason_name(a->retry_reason),
                        LIRA_LOGF_PLAIN));
    if (a->next_delay_ns >= 0)
        f[n++] = fms("next_delay_ms", a->next_delay_ns);
    lira_log_write(t->log, LIRA_LOG_DEBUG, now, wall, "attempt", f, n);
}

static void call_metrics(lira_telemetry *t, lira_tel_call *tc, const lira_call_result *r,
                         int64_t now)
{
    tel_site *st = tc->metrics_site;
    const char *c = or_unknown(tc->client);
    lira_series *s = lira__tel_series(st ? &st->client->in_flight : NULL, t->m[M_IN_FLIGHT],
                                      &c, 1);
    if (s)
        lira_series_add(s, -1);
    int status = r->res ? r->res->status : 0;
    char sc[5];
    status_class(status, sc);
    const char *v[3] = {c, tc->endpoint ? tc->endpoint : "", sc};
    int cls = status >= 100 && status <= 599 ? status / 100 : 0;
    if ((s = lira__tel_series(st ? &st->requests[cls] : NULL, t->m[M_REQUESTS], v, 3)))
        lira_series_add(s, 1);
    int64_t d = now - tc->start_ns;
    if ((s = lira__tel_series(st ? &st->call_duration : NULL, t->m[M_CALL_DURATION], v, 2)))
        lira_series_observe_ns(s, d < 0 ? 0 : d);
    if (r->kind != LIRA_KIND_NONE) {
        v[2] = lira_error_kind_name(r->kind);
        bump(t, M_ERRORS, v, 3, 1);
    }
}

void lira_telemetry_call_end(lira_telemetry *t, lira_tel_call *tc, const lira_call_result *r,
                             int64_t now, int64_t wall)
{
    if (!t || !tc || !r || !tc->started)
        return;
    tc->started = 0;
    if (t->has_sink && t->sink.call_end)
        t->sink.call_end(t->sink.ud, tc, r, now, wall);
    if (tc->metrics_on)
        call_metrics(t, tc, r, now);
    int status = r->res ? r->res->status : r->status;
    int failed = r->kind != LIRA_KIND_NONE || status >= 500;
    lira_log_level lv = failed ? LIRA_LOG_WARN : LIRA_LOG_INFO;
    if (!lira_log_enabled(t->log, lv))
        return;
    lira_log_field f[16];
    size_t n = call_fields(t, tc, lv, f), tl;
    char tail[TAIL_MAX];
    if (!failed && !t->generic_tail && lira_log_is_json(t->log) &&
        (tl = call_tail(tc, status, r->attempts, now - tc->start_ns, r->last_retry_reason,
                        tail))) {
        /* With its head rendered too, the whole line is pieces: written as
         * they are, not field by field (the same bytes). */
        if (n == 1 && f[0].type == LIRA_LOGF_PAIRS) {
            const lira_log_piece p[2] = {{f[0].s, f[0].len}, {tail, tl}};
            if (lira_log_write_rendered(t->log, lv, wall, "call", p, 2) != LIRA_ERANGE)
                return;
        }
        f[n++] = (lira_log_field){.key = "", .type = LIRA_LOGF_PAIRS, .s = tail, .len = tl};
        lira_log_write(t->log, lv, now, wall, "call", f, n);
        return;
    }
    f[n++] = fint_if(status, "status", status, LIRA_LOGF_DEDUPE);
    f[n++] = fint("attempts", r->attempts, 0);
    f[n++] = fms("latency_ms", now - tc->start_ns);
    n += id_fields(tc, f + n);
    if (r->kind != LIRA_KIND_NONE)
        add(f, &n, fstr("error", lira_error_kind_name(r->kind),
                        LIRA_LOGF_DEDUPE | LIRA_LOGF_PLAIN));
    if (r->last_retry_reason != LIRA_RR_NONE)
        add(f, &n, fstr("retry_reason", lira_retry_reason_name(r->last_retry_reason),
                        LIRA_LOGF_PLAIN));
    if (failed && r->stop != LIRA_STOP_NONE)
        add(f, &n, fstr("stop", lira_stop_reason_name(r->stop), LIRA_LOGF_PLAIN));
    lira_log_write(t->log, lv, now, wall, failed ? "call failed" : "call", f, n);
}

void lira_telemetry_breaker_transition(lira_telemetry *t, const char *client,
                                       lira_breaker_state from, lira_breaker_state to,
                                       int64_t now, int64_t wall)
{
    if (!t)
        return;
    client = or_unknown(client);
    const char *fs = lira_breaker_state_name(from), *ts = lira_breaker_state_name(to);
    if (!t->metrics_off) {
        gauge(t, M_BREAKER_STATE, client, (double)to);
        const char *v[3] = {client, fs, ts};
        bump(t, M_BREAKER_TRANSITIONS, v, 3, 1);
    }
    lira_log_field f[3] = {fstr("client", client, LIRA_LOGF_DEDUPE),
                           fstr("from", fs, LIRA_LOGF_DEDUPE | LIRA_LOGF_PLAIN),
                           fstr("to", ts, LIRA_LOGF_DEDUPE | LIRA_LOGF_PLAIN)};
    lira_log_level lv = to == LIRA_BREAKER_CLOSED ? LIRA_LOG_INFO : LIRA_LOG_WARN;
    lira_log_write(t->log, lv, now, wall, "breaker transition", f, 3);
}

void lira_telemetry_breaker_state(lira_telemetry *t, const char *client, lira_breaker_state s)
{
    if (t && !t->metrics_off)
        gauge(t, M_BREAKER_STATE, or_unknown(client), (double)s);
}

void lira_telemetry_limiter_wait(lira_telemetry *t, const lira_tel_call *tc, int64_t wait_ns,
                                 double tokens)
{
    /* a call follows the setting it started with; a bare tc, the hub's now */
    if (!t || !tc || !(tc->started ? tc->metrics_on : !t->metrics_off))
        return;
    const char *client = or_unknown(tc->client);
    const tel_site *st = tc->metrics_site;   /* the call's: its client's entry at hand */
    tel_client *e = st ? st->client : lira__tel_sites_client(t->sites, client);
    lira_series *s = lira__tel_series(e ? &e->limiter_wait : NULL, t->m[M_LIMITER_WAIT],
                                      &client, 1);
    if (s)
        lira_series_observe_ns(s, wait_ns < 0 ? 0 : wait_ns);
    if (tokens >= 0 &&
        (s = lira__tel_series(e ? &e->limiter_tokens : NULL, t->m[M_LIMITER_TOKENS], &client, 1)))
        lira_series_set(s, tokens);
}

void lira_telemetry_budget_refused(lira_telemetry *t, const char *client)
{
    if (!t || t->metrics_off)
        return;
    client = or_unknown(client);
    bump(t, M_BUDGET_REFUSALS, &client, 1, 1);
}

int lira_telemetry_log_user(lira_telemetry *t, lira_log_level lv, const char *msg,
                            const lira_log_field *fields, size_t n, int64_t now, int64_t wall)
{
    if (!t || !msg || (n && !fields) || n > MAX_USER_FIELDS)
        return LIRA_EINVAL;
    if (!lira_log_enabled(t->log, lv))
        return LIRA_EDENIED;
    lira_log_field f[MAX_USER_FIELDS + 3];
    for (size_t i = 0; i < n; i++) {
        f[i] = fields[i];
        f[i].flags = (unsigned char)((f[i].flags & ~(LIRA_LOGF_KEYOK | LIRA_LOGF_PLAIN)) |
                                     LIRA_LOGF_CHECK);
    }
    char tid[LIRA_TRACE_ID_HEX_SIZE] = "", sid[LIRA_SPAN_ID_HEX_SIZE] = "";
    if (t->has_sink && t->sink.current)
        t->sink.current(t->sink.ud, tid, sid);
    f[n++] = fstr("correlation_id", t->correlation_id, 0);
    f[n++] = fstr("trace_id", tid, LIRA_LOGF_PLAIN);
    f[n++] = fstr("span_id", sid, LIRA_LOGF_PLAIN);
    return lira_log_write(t->log, lv, now, wall, msg, f, n);
}

static void counter_to(lira_telemetry *t, int which, const char *const *v, size_t n,
                       uint64_t total)
{
    lira_series *s;
    if (lira_metric_series(t->m[which], v, n, &s) == LIRA_OK &&
        (double)total > lira_series_value(s))
        lira_series_add(s, (double)total - lira_series_value(s));
}

void lira_telemetry_collect(lira_telemetry *t)
{
    if (!t)
        return;
    lira_log_stats st;
    lira_log_get_stats(t->log, &st);
    counter_to(t, M_LOG_LINES, NULL, 0, st.lines);
    counter_to(t, M_LOG_SUPPRESSED, NULL, 0, st.suppressed);
}
