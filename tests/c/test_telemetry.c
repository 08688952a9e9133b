/* test_telemetry.c — the hub: pipeline events -> log lines and metrics;
 * secrets never reach the output; the sink's hook order; bounded output
 * under a burst of failing calls; promtool on the real exposition. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"
#include "redact.h"
#include "status.h"
#include "telemetry.h"
#include "telemetry_impl.h"
#include "telemetry_url.h"

#define MS INT64_C(1000000)
#define WALL (INT64_C(1700000000) * INT64_C(1000000000))
#define SECRET "tok_LIVE_9f8e7d"

static char path[64];

static lira_telemetry *hub(lira_log_level lv)
{
    snprintf(path, sizeof path, "/tmp/lira_test_tel_XXXXXX");
    close(mkstemp(path));
    lira_telemetry_options o;
    lira_telemetry_options_default(&o);
    o.log.path = path;
    o.log.level = lv;
    o.log.format = LIRA_LOG_JSON;
    lira_telemetry *t = NULL;
    CHECK_EQ(lira_telemetry_new(&o, &t), LIRA_OK);
    return t;
}

static char *slurp(const char *p)
{
    static char buf[1 << 20];
    FILE *f = fopen(p, "rb");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    return buf;
}

static int count(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static lira_http_response *resp(int status, lira_failure fail)
{
    lira_http_response *r = lira_http_response_new();
    r->status = status;
    r->failure = fail;
    return r;
}

static void setup_call(lira_tel_call *tc)
{
    memset(tc, 0, sizeof *tc);
    tc->client = "shop";
    tc->method = "GET";
    tc->url = "https://user:pw@api.shop.example:8443/orders/42?access_token=" SECRET "&x=1";
    tc->endpoint = "/orders/{id}";
    tc->request_id = "req-1";
}

/* One call: 503 (retried), then 200. */
static void run_ok_call(lira_telemetry *t, int64_t at)
{
    lira_tel_call tc;
    setup_call(&tc);
    lira_telemetry_call_start(t, &tc, at, WALL);
    lira_telemetry_limiter_wait(t, &tc, 2 * MS, 9);
    lira_http_response *r1 = resp(503, LIRA_FAIL_NONE), *r2 = resp(200, LIRA_FAIL_NONE);
    lira_call_attempt a1 = {1, r1, at, 30 * MS, LIRA_RR_STATUS_5XX, 200 * MS};
    lira_telemetry_attempt_end(t, &tc, &a1, at + 30 * MS, WALL);
    lira_call_attempt a2 = {2, r2, at + 230 * MS, 20 * MS, LIRA_RR_NONE, -1};
    lira_telemetry_attempt_end(t, &tc, &a2, at + 250 * MS, WALL);
    lira_call_result res = {.res = r2, .kind = LIRA_KIND_NONE, .attempts = 2,
                            .stop = LIRA_STOP_SUCCESS, .last_retry_reason = LIRA_RR_STATUS_5XX,
                            .status = 200};
    lira_telemetry_call_end(t, &tc, &res, at + 250 * MS, WALL);
    lira_http_response_free(r1);
    lira_http_response_free(r2);
}

static void run_failed_call(lira_telemetry *t, int64_t at, const char *endpoint)
{
    lira_tel_call tc;
    setup_call(&tc);
    tc.endpoint = endpoint;
    lira_telemetry_call_start(t, &tc, at, WALL);
    lira_http_response *r1 = resp(0, LIRA_FAIL_TIMEOUT);
    lira_call_attempt a1 = {1, r1, at, 1000 * MS, LIRA_RR_NONE, -1};
    lira_telemetry_attempt_end(t, &tc, &a1, at + 1000 * MS, WALL);
    lira_telemetry_budget_refused(t, "shop");
    lira_call_result res = {.kind = LIRA_KIND_BUDGET, .attempts = 1, .stop = LIRA_STOP_BUDGET,
                            .last_retry_reason = LIRA_RR_TIMEOUT};
    lira_telemetry_call_end(t, &tc, &res, at + 1000 * MS, WALL);
    lira_http_response_free(r1);
}

static void test_call_lines(void)
{
    lira_telemetry *t = hub(LIRA_LOG_DEBUG);
    lira_telemetry_set_correlation_id(t, "order-sync-7");
    run_ok_call(t, 0);
    run_failed_call(t, 0, "/orders/{id}");
    const char *out = slurp(path);
    CHECK(!strstr(out, SECRET));
    CHECK(!strstr(out, "pw@"));
    CHECK_EQ(count(out, "\n"), 5);   /* 3 attempts at debug, 2 calls */
    CHECK(strstr(out, "\"level\":\"info\",\"msg\":\"call\",\"client\":\"shop\",\"method\":\"GET\","
                      "\"url\":\"https://REDACTED@api.shop.example:8443/orders/42?access_token="
                      "REDACTED&x=1\",\"endpoint\":\"/orders/{id}\",\"status\":200,"
                      "\"attempts\":2,\"latency_ms\":250,\"request_id\":\"req-1\","
                      "\"correlation_id\":\"order-sync-7\",\"retry_reason\":\"status_5xx\"}\n"));
    CHECK(strstr(out, "\"level\":\"debug\",\"msg\":\"attempt\""));
    CHECK(strstr(out, "\"attempt\":1,\"status\":503,\"latency_ms\":30,"));
    CHECK(strstr(out, "\"retry_reason\":\"status_5xx\",\"next_delay_ms\":200}"));
    CHECK(strstr(out, "\"level\":\"warn\",\"msg\":\"call failed\""));
    CHECK(strstr(out, "\"error\":\"budget\",\"retry_reason\":\"timeout\",\"stop\":\"budget\"}"));
    lira_telemetry_free(t);
    unlink(path);
}

static void test_metrics_after_calls(void)
{
    lira_telemetry *t = hub(LIRA_LOG_INFO);
    run_ok_call(t, 0);
    run_failed_call(t, 0, "/orders/{id}");
    lira_telemetry_breaker_transition(t, "shop", LIRA_BREAKER_CLOSED, LIRA_BREAKER_OPEN, 0, WALL);
    lira_telemetry_collect(t);
    char *m = NULL;
    CHECK_EQ(lira_metrics_text(lira_telemetry_metrics(t), &m, NULL), LIRA_OK);
    CHECK(!strstr(m, SECRET));
    const char *want[] = {
        "lira_client_requests_total{client=\"shop\",endpoint=\"/orders/{id}\","
        "status_class=\"2xx\"} 1\n",
        "lira_client_requests_total{client=\"shop\",endpoint=\"/orders/{id}\","
        "status_class=\"none\"} 1\n",
        "lira_client_errors_total{client=\"shop\",endpoint=\"/orders/{id}\",kind=\"budget\"} 1\n",
        "lira_client_attempts_total{client=\"shop\",endpoint=\"/orders/{id}\"} 3\n",
        "lira_client_retries_total{client=\"shop\",endpoint=\"/orders/{id}\","
        "reason=\"status_5xx\"} 1\n",
        "lira_client_in_flight{client=\"shop\"} 0\n",
        "lira_breaker_state{client=\"shop\"} 1\n",
        "lira_breaker_transitions_total{client=\"shop\",from=\"closed\",to=\"open\"} 1\n",
        "lira_limiter_tokens{client=\"shop\"} 9\n",
        "lira_limiter_wait_seconds_count{client=\"shop\"} 1\n",
        "lira_retry_budget_refusals_total{client=\"shop\"} 1\n",
        "http_client_request_duration_seconds_bucket{http_request_method=\"GET\","
        "http_response_status_code=\"503\",server_address=\"api.shop.example\","
        "error_type=\"\",le=\"0.05\"} 1\n",
        "http_client_request_duration_seconds_count{http_request_method=\"GET\","
        "http_response_status_code=\"\",server_address=\"api.shop.example\","
        "error_type=\"timeout\"} 1\n",
        "lira_client_call_duration_seconds_sum{client=\"shop\",endpoint=\"/orders/{id}\"} 1.25\n",
        "lira_log_lines_total 3\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(m, want[i]))
            CHECK_FAIL_("missing: %s", want[i]);
    /* promtool, when installed, checks the real exposition */
    if (system("command -v promtool >/dev/null 2>&1") == 0) {
        char mp[80];
        snprintf(mp, sizeof mp, "%s.prom", path);
        FILE *f = fopen(mp, "w");
        fputs(m, f);
        fclose(f);
        char cmd[200];
        snprintf(cmd, sizeof cmd, "promtool check metrics < %s", mp);
        CHECK_EQ(system(cmd), 0);
        unlink(mp);
    }
    free(m);
    lira_telemetry_free(t);
    unlink(path);
}

static void test_burst_bounded(void)
{
    lira_telemetry_options o;
    lira_telemetry_options_default(&o);
    snprintf(path, sizeof path, "/tmp/lira_test_tel_XXXXXX");
    close(mkstemp(path));
    o.log.path = path;
    o.log.level = LIRA_LOG_INFO;
    o.metrics.max_series = 50;
    lira_telemetry *t;
    CHECK_EQ(lira_telemetry_new(&o, &t), LIRA_OK);
    char ep[32];
    for (int i = 0; i < 10000; i++) {   /* 10 000 failing calls over 20 s */
        snprintf(ep, sizeof ep, "/items/%d", i % 20);   /* 20 endpoints */
        run_failed_call(t, i * 2 * MS, ep);
    }
    const char *out = slurp(path);
    /* 5 lines per key per 10 s window: 20 keys x 5 lines x 2 windows; the
     * second window's first line per key says how many were dropped */
    CHECK_INT(count(out, "\n"), <=, 20 * 5 * 2);
    CHECK_EQ(count(out, "\"suppressed\":"), 20);
    char *m = NULL;
    CHECK_EQ(lira_metrics_text(lira_telemetry_metrics(t), &m, NULL), LIRA_OK);
    CHECK_INT(strlen(m), <, 200000);
    free(m);
    lira_telemetry_free(t);
    unlink(path);
}

/* ------------------------------------------------------------ the sink */

static char order[64];

static void s_call_start(void *ud, lira_tel_call *tc, int64_t now, int64_t wall)
{
    (void)ud, (void)now, (void)wall;
    strcat(order, "S");
    snprintf(tc->trace_id, sizeof tc->trace_id, "%032x", 0xabc);
    snprintf(tc->span_id, sizeof tc->span_id, "%016x", 0x1);
}

static void s_attempt_start(void *ud, lira_tel_call *tc, int attempt, int64_t now, int64_t wall,
                            char *tp, size_t cap)
{
    (void)ud, (void)now, (void)wall;
    strcat(order, "a");
    snprintf(tp, cap, "00-%s-%016x-01", tc->trace_id, attempt);
}

static void s_attempt_end(void *ud, lira_tel_call *tc, const lira_call_attempt *a, int64_t now,
                          int64_t wall)
{
    (void)ud, (void)tc, (void)a, (void)now, (void)wall;
    strcat(order, "A");
}

static void s_call_end(void *ud, lira_tel_call *tc, const lira_call_result *r, int64_t now,
                       int64_t wall)
{
    (void)ud, (void)tc, (void)r, (void)now, (void)wall;
    strcat(order, "E");
}

static void s_current(void *ud, char *tid, char *sid)
{
    (void)ud;
    snprintf(tid, LIRA_TRACE_ID_HEX_SIZE, "%032x", 0xdef);
    snprintf(sid, LIRA_SPAN_ID_HEX_SIZE, "%016x", 0x2);
}

static void s_destroy(void *ud)
{
    (void)ud;
    strcat(order, "D");
}

static void test_sink(void)
{
    lira_telemetry *t = hub(LIRA_LOG_INFO);
    lira_telemetry_sink s = {NULL, s_call_start, s_attempt_start, s_attempt_end, s_call_end,
                             s_current, s_destroy};
    order[0] = '\0';
    CHECK_EQ(lira_telemetry_set_sink(t, &s), LIRA_OK);
    lira_tel_call tc;
    setup_call(&tc);
    lira_telemetry_call_start(t, &tc, 0, WALL);
    char tp[LIRA_TRACEPARENT_STR_SIZE];
    lira_telemetry_attempt_start(t, &tc, 1, 0, WALL, tp, sizeof tp);
    CHECK_STR(tp, "00-00000000000000000000000000000abc-0000000000000001-01");
    lira_http_response *r = resp(204, LIRA_FAIL_NONE);
    lira_call_attempt a = {1, r, 0, MS, LIRA_RR_NONE, -1};
    lira_telemetry_attempt_end(t, &tc, &a, MS, WALL);
    lira_call_result res = {.res = r, .attempts = 1, .stop = LIRA_STOP_SUCCESS, .status = 204};
    lira_telemetry_call_end(t, &tc, &res, MS, WALL);
    lira_telemetry_call_end(t, &tc, &res, MS, WALL);   /* a second end is ignored */
    lira_log_field f = {.key = "token", .type = LIRA_LOGF_STR, .s = SECRET, .len = SIZE_MAX};
    CHECK_EQ(lira_telemetry_log_user(t, LIRA_LOG_INFO, "hello", &f, 1, 0, WALL), LIRA_OK);
    CHECK_EQ(lira_telemetry_log_user(t, LIRA_LOG_DEBUG, "quiet", NULL, 0, 0, WALL),
             LIRA_EDENIED);
    lira_telemetry_free(t);
    CHECK_STR(order, "SaAED");
    const char *out = slurp(path);
    CHECK(!strstr(out, SECRET));
    CHECK(strstr(out, "\"trace_id\":\"00000000000000000000000000000abc\","
                      "\"span_id\":\"0000000000000001\"}"));
    CHECK(strstr(out, "\"msg\":\"hello\",\"token\":\"REDACTED\","
                      "\"trace_id\":\"00000000000000000000000000000def\""));
    CHECK_EQ(count(out, "\n"), 2);
    lira_http_response_free(r);
    unlink(path);
}

static void test_engine_slot(void)
{
    lira_engine_options eo = {1, 1, 7};
    lira_engine *e;
    CHECK_EQ(lira_engine_new(&eo, &e), LIRA_OK);
    CHECK(lira_telemetry_of(e) == NULL);
    lira_telemetry *t1 = NULL, *t2 = NULL;
    CHECK_EQ(lira_telemetry_get(e, &t1), LIRA_OK);
    CHECK_EQ(lira_telemetry_get(e, &t2), LIRA_OK);
    CHECK(t1 && t1 == t2 && lira_telemetry_of(e) == t1);
    lira_telemetry *other = hub(LIRA_LOG_INFO);
    CHECK_EQ(lira_telemetry_install(e, other), LIRA_ESTATE);
    lira_telemetry_free(other);
    unlink(path);
    CHECK_EQ(lira_telemetry_set_correlation_id(t1, "x"), LIRA_OK);
    CHECK_STR(lira_telemetry_correlation_id(t1), "x");
    char longid[200];
    memset(longid, 'a', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    CHECK_EQ(lira_telemetry_set_correlation_id(t1, longid), LIRA_EINVAL);
    lira_engine_free(e);   /* frees the hub (ASan/LSan would say otherwise) */
}

/* The memo gives what lira_redact_url gives, for the URL asked about, even
 * when URLs share a slot, with the host and whether the result needs JSON
 * escaping; long URLs are left to the caller. */
static void test_url_memo(void)
{
    lira_url_memo *m = lira__url_memo_new();
    CHECK(m != NULL);
    char want[600], url[600];
    size_t len = 0;
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 40; i++) {
            int n = snprintf(url, sizeof url, "https://u:p@h.example/o/%d?token=%s&n=%d", i,
                             SECRET, i * 7);
            size_t full = 0;
            lira_redact_url(url, (size_t)n, want, sizeof want, &full);
            const char *got = lira__url_memo_get(m, url, (size_t)n, &len);
            CHECK(got != NULL);
            if (got) {
                CHECK_STR(got, want);
                CHECK_EQ(len, full);
            }
        }
    }
    /* The host and the no-escaping flag, from a URL that is not NUL-ended. */
    const char *raw = "http://[::1]:8080/a?q=\"x\"&more";
    const lira_url_info *in = lira__url_memo_info(m, raw, 25);   /* not the "&more" */
    CHECK(in && strcmp(in->host, "[::1]") == 0 && !in->red_plain);
    CHECK(in && in->red_len == strlen(in->red) && strstr(in->red, "q=\"x\"") != NULL);
    in = lira__url_memo_info(m, "https://u:p@api.shop.example:8443/o/1", 37);
    CHECK(in && strcmp(in->host, "api.shop.example") == 0 && in->red_plain);
    char host[64];
    lira__url_host("https://u:p@api.shop.example:8443/o/1", host, sizeof host);
    CHECK_STR(host, "api.shop.example");
    memset(url, 'a', 300);
    memcpy(url, "https://h/", 10);
    CHECK(lira__url_memo_get(m, url, 300, &len) == NULL);   /* too long to keep */
    CHECK(lira__url_memo_info(m, url, 300) == NULL);
    CHECK(lira__url_memo_get(NULL, "https://h/", 10, &len) == NULL);
    lira__url_memo_free(m);
}

/* The head kept on a URL's entry is given back for the same client, method
 * and endpoint only (each compared whole, by length and bytes), and goes
 * when another URL takes the entry. */
static void test_url_memo_head(void)
{
    lira_url_memo *m = lira__url_memo_new();
    const char *url = "https://api.shop.example/orders/42";
    const lira_url_info *in = lira__url_memo_info(m, url, strlen(url));
    CHECK(in != NULL);
    lira_url_head_key k = {"shop", "GET", "/orders/{id}", 4, 3, 12};
    size_t len = 0;
    CHECK(lira__url_memo_head(m, in, &k, &len) == NULL);
    const char *h = lira__url_memo_set_head(m, in, &k, ",\"x\":1", 6);
    CHECK(h && memcmp(h, ",\"x\":1", 6) == 0);
    CHECK(lira__url_memo_head(m, in, &k, &len) == h && len == 6);
    lira_url_head_key other[] = {
        {"shoq", "GET", "/orders/{id}", 4, 3, 12},   /* one byte */
        {"sho", "GET", "/orders/{id}", 3, 3, 12},    /* a prefix */
        {"shop", "PUT", "/orders/{id}", 4, 3, 12},
        {"shop", "GET", "/orders/{id}/items", 4, 3, 18},
        {"shop", "GET", NULL, 4, 3, 0},
    };
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
        CHECK(lira__url_memo_head(m, lira__url_memo_info(m, url, strlen(url)), &other[i],
                                  &len) == NULL);
    /* Not an entry's info: refused. */
    lira_url_info fake = *in;
    CHECK(lira__url_memo_head(m, &fake, &k, &len) == NULL);
    CHECK(lira__url_memo_set_head(m, &fake, &k, "x", 1) == NULL);
    CHECK(lira__url_memo_head(NULL, in, &k, &len) == NULL);
    /* What a call kept holds again without a lookup, until another URL takes
     * the slot: then the head goes with it, and the kept facts no longer hold. */
    uint64_t gen = in->gen;
    CHECK(gen != 0);
    CHECK(lira__url_memo_again(in, gen) == in);
    CHECK(lira__url_memo_again(in, 0) == NULL);
    CHECK(lira__url_memo_again(NULL, gen) == NULL);
    char other_url[64];
    int taken = 0;
    for (int i = 0; i < 200 && !taken; i++) {
        int n = snprintf(other_url, sizeof other_url, "https://api.shop.example/o/%d", i);
        const lira_url_info *o = lira__url_memo_info(m, other_url, (size_t)n);
        taken = o == in;
    }
    CHECK(taken);
    CHECK(lira__url_memo_again(in, gen) == NULL);
    const lira_url_info *back = lira__url_memo_info(m, url, strlen(url));
    CHECK(back && back->gen != gen && strcmp(back->red, url) == 0);
    CHECK(lira__url_memo_head(m, back, &k, &len) == NULL);
    lira__url_memo_free(m);   /* frees the heads (ASan/LSan) */
}

static void keep(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    CHECK(n < cap);
    memcpy(dst, src, n < cap ? n + 1 : 0);
    dst[n < cap ? n : 0] = '\0';
}

/* A call line whose head comes from the memo is the line the fields make:
 * for calls that change client, method, endpoint or URL one at a time on
 * one hub (heads kept, reused, replaced), each line equals the same call's
 * line on a fresh hub (no head yet). Failed calls (warn) keep their fields
 * for the rate limit's key. */
static void test_call_line_head(void)
{
    static const struct { const char *client, *method, *url, *endpoint; int status; } v[] = {
        {"shop", "GET", "https://api.shop.example/orders/42", "/orders/{id}", 200},
        {"shop", "GET", "https://api.shop.example/orders/42", "/orders/{id}", 200},
        {"shopx", "GET", "https://api.shop.example/orders/42", "/orders/{id}", 200},
        {"shop", "GET", "https://api.shop.example/orders/42", "/orders/{id}", 200},
        {"shop", "PUT", "https://api.shop.example/orders/42", "/orders/{id}", 200},
        {"shop", "PUT", "https://api.shop.example/orders/42", "/orders/{id}/x", 200},
        {"shop", "POST", "https://api.shop.example/orders/42", "/orders/{id}", 201},
        {"shop", "POST", "https://api.shop.example/orders/42", NULL, 201},
        {"shop", "POST", "https://api.shop.example/orders/42", "/orders/{id}", 503},
        {NULL, "GET", "https://api.shop.example/orders/42?api_key=" SECRET, "/orders/{id}", 200},
        {"sh\"op", "GET", "https://api.shop.example/a\"b", "/a\"b", 200},
        {"shop", "GET", "https://api.shop.example/orders/42", "/orders/{id}", 200},
        {"shop", "GET", "https://api.shop.example/orders/43", "/orders/{id}", 200},
        {"shop", "GET", "https://api.shop.example/orders/42", "/orders/{id}", 200},
        {"shop", "PUT", "https://api.shop.example/orders/42", "/orders/{id}", 200},
        {"shop", "PUX", "https://api.shop.example/orders/42", "/orders/{id}", 200},
    };
    lira_telemetry *shared = hub(LIRA_LOG_INFO);
    char shared_path[64];
    snprintf(shared_path, sizeof shared_path, "%s", path);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        lira_telemetry *fresh = hub(LIRA_LOG_INFO);
        char want[4096], got[4096];
        for (int which = 0; which < 2; which++) {
            lira_telemetry *t = which ? shared : fresh;
            lira_tel_call tc = {.client = v[i].client, .method = v[i].method, .url = v[i].url,
                                .endpoint = v[i].endpoint, .request_id = "req-1"};
            if (i % 2)   /* lengths given by the pipeline, or counted */
                tc.method_len = strlen(v[i].method), tc.url_len = strlen(v[i].url),
                tc.endpoint_len = v[i].endpoint ? strlen(v[i].endpoint) : 0;
            lira_telemetry_call_start(t, &tc, 0, WALL);
            lira_http_response *r = resp(v[i].status, LIRA_FAIL_NONE);
            lira_call_result res = {.res = r, .attempts = 1, .status = v[i].status,
                                    .stop = LIRA_STOP_SUCCESS};
            lira_telemetry_call_end(t, &tc, &res, 5 * MS, WALL);
            lira_http_response_free(r);
        }
        keep(want, sizeof want, slurp(path));
        const char *out = slurp(shared_path), *last = out;
        for (const char *p = out; (p = strstr(p, "{\"ts\"")); p++)
            last = p;
        keep(got, sizeof got, last);
        CHECK_STR(got, want);
        CHECK(!strstr(got, SECRET));
        CHECK(strstr(want, "\"latency_ms\":5,") != NULL);
        lira_telemetry_free(fresh);
        unlink(path);
    }
    lira_telemetry_free(shared);
    unlink(shared_path);
}

/* A call keeps its URL's memo entry from call_start to call_end; calls to
 * other URLs in between that take the entry's slot do not change what its
 * line says. */
static void test_call_outlives_its_memo_entry(void)
{
    lira_telemetry *t = hub(LIRA_LOG_INFO);
    lira_tel_call a;
    setup_call(&a);
    lira_telemetry_call_start(t, &a, 0, WALL);
    char url[64];
    for (int i = 0; i < 64; i++) {   /* 16 slots: every one is taken */
        lira_tel_call o;
        setup_call(&o);
        snprintf(url, sizeof url, "https://other.example/o/%d", i);
        o.url = url;
        lira_telemetry_call_start(t, &o, 0, WALL);
        lira_call_result r = {.attempts = 1, .status = 204, .stop = LIRA_STOP_SUCCESS};
        lira_telemetry_call_end(t, &o, &r, MS, WALL);
    }
    lira_call_result r = {.attempts = 1, .status = 200, .stop = LIRA_STOP_SUCCESS};
    lira_telemetry_call_end(t, &a, &r, MS, WALL);
    const char *out = slurp(path), *last = out;
    for (const char *p = out; (p = strstr(p, "{\"ts\"")); p++)
        last = p;
    CHECK(strstr(last, "\"url\":\"https://REDACTED@api.shop.example:8443/orders/42?"
                       "access_token=REDACTED&x=1\",\"endpoint\":\"/orders/{id}\","
                       "\"status\":200,") != NULL);
    CHECK_EQ(count(out, "other.example"), 64);
    lira_telemetry_free(t);
    unlink(path);
}

/* A (client, endpoint) pair keeps the head of its latest URL; when that
 * URL's memo entry is taken by another URL, a line for the new one on the
 * same pair says the new URL (the entry's generation changed, not its
 * address). */
static void test_site_head_after_memo_reuse(void)
{
    lira_telemetry *t = hub(LIRA_LOG_INFO);
    char url[64];
    for (int pass = 0; pass < 3; pass++)
        for (int i = 0; i < 40; i++) {   /* 16 slots: every one is taken, again and again */
            lira_tel_call tc;
            setup_call(&tc);
            snprintf(url, sizeof url, "https://u%d.example/x", i);
            tc.url = url;
            tc.endpoint = pass == 1 ? "/two" : "/one";
            lira_telemetry_call_start(t, &tc, 0, WALL);
            lira_call_result r = {.attempts = 1, .status = 204, .stop = LIRA_STOP_SUCCESS};
            lira_telemetry_call_end(t, &tc, &r, MS, WALL);
            const char *out = slurp(path), *last = out;
            for (const char *p = out; (p = strstr(p, "{\"ts\"")); p++)
                last = p;
            char want[96];
            snprintf(want, sizeof want, "\"url\":\"%s\",\"endpoint\":\"%s\"", url, tc.endpoint);
            if (!strstr(last, want))
                CHECK_FAIL_("pass %d, call %d: %.200s", pass, i, last);
        }
    lira_telemetry_free(t);
    unlink(path);
}

/* A limiter wait is counted under the call's client whether the call has a
 * series-cache entry (call_start made one) or not (past the cap; here, no
 * call_start at all: looked up by name), in the same series. */
static void test_limiter_wait_series(void)
{
    lira_telemetry *t = hub(LIRA_LOG_OFF);
    lira_tel_call with, without;
    setup_call(&with);
    setup_call(&without);
    lira_telemetry_call_start(t, &with, 0, WALL);
    CHECK(with.metrics_site != NULL && without.metrics_site == NULL);
    lira_telemetry_limiter_wait(t, &with, 2 * MS, 9);
    lira_telemetry_limiter_wait(t, &without, 4 * MS, 7);
    without.client = NULL;   /* reads "unknown", as everywhere */
    lira_telemetry_limiter_wait(t, &without, 0, -1);
    lira_telemetry_limiter_wait(t, NULL, 0, 1);   /* ignored */
    char *m = NULL;
    CHECK_EQ(lira_metrics_text(lira_telemetry_metrics(t), &m, NULL), LIRA_OK);
    CHECK(m && strstr(m, "lira_limiter_wait_seconds_count{client=\"shop\"} 2\n"));
    CHECK(m && strstr(m, "lira_limiter_wait_seconds_sum{client=\"shop\"} 0.006\n"));
    CHECK(m && strstr(m, "lira_limiter_tokens{client=\"shop\"} 7\n"));
    CHECK(m && strstr(m, "lira_limiter_wait_seconds_count{client=\"unknown\"} 1\n"));
    free(m);
    lira_telemetry_free(t);
    unlink(path);
}

/* Calls alternating between (client, endpoint) pairs that differ only a
 * little — an endpoint that extends another, the same length, a client
 * that is a prefix — each count under their own labels: the site cache's
 * latest entry is only taken when both match whole. */
static void test_sites_alternate(void)
{
    lira_telemetry *t = hub(LIRA_LOG_OFF);
    static const char *const pairs[][2] = {
        {"shop", "/a"}, {"shop", "/ab"}, {"shop", "/b"}, {"sho", "/a"}, {"shop", "/a"},
    };
    for (int round = 0; round < 3; round++)
        for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
            lira_tel_call tc;
            setup_call(&tc);
            tc.client = pairs[i][0];
            tc.endpoint = pairs[i][1];
            lira_telemetry_call_start(t, &tc, 0, WALL);
            lira_http_response *res = resp(200, LIRA_FAIL_NONE);
            lira_call_result r = {.res = res, .attempts = 1, .stop = LIRA_STOP_SUCCESS,
                                  .status = 200};
            lira_telemetry_call_end(t, &tc, &r, MS, WALL);
            lira_http_response_free(res);
        }
    char *m = NULL;
    CHECK_EQ(lira_metrics_text(lira_telemetry_metrics(t), &m, NULL), LIRA_OK);
    static const char *const want[] = {
        "lira_client_requests_total{client=\"shop\",endpoint=\"/a\",status_class=\"2xx\"} 6\n",
        "lira_client_requests_total{client=\"shop\",endpoint=\"/ab\",status_class=\"2xx\"} 3\n",
        "lira_client_requests_total{client=\"shop\",endpoint=\"/b\",status_class=\"2xx\"} 3\n",
        "lira_client_requests_total{client=\"sho\",endpoint=\"/a\",status_class=\"2xx\"} 3\n",
        "lira_client_in_flight{client=\"shop\"} 0\n",
        "lira_client_in_flight{client=\"sho\"} 0\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!m || !strstr(m, want[i]))
            CHECK_FAIL_("missing: %s", want[i]);
    free(m);
    lira_telemetry_free(t);
    unlink(path);
}

/* Metrics turned off and on while calls run: each call keeps the setting it
 * started with, so the in-flight gauge comes back to 0 and a call is counted
 * whole or not at all. */
static void test_metrics_switched_mid_call(void)
{
    lira_telemetry *t = hub(LIRA_LOG_OFF);
    CHECK(lira_telemetry_metrics_on(t) && !lira_telemetry_metrics_on(NULL));
    lira_tel_call counted, uncounted;
    setup_call(&counted);
    setup_call(&uncounted);
    lira_telemetry_call_start(t, &counted, 0, WALL);        /* on: counted */
    lira_telemetry_set_metrics(t, 0);
    lira_telemetry_call_start(t, &uncounted, 0, WALL);      /* off: not */
    lira_telemetry_set_metrics(t, 1);
    lira_http_response *r = resp(200, LIRA_FAIL_NONE);
    lira_call_attempt a = {1, r, 0, 10 * MS, LIRA_RR_NONE, -1};
    lira_call_result res = {.res = r, .kind = LIRA_KIND_NONE, .attempts = 1,
                            .stop = LIRA_STOP_SUCCESS, .status = 200};
    lira_telemetry_limiter_wait(t, &uncounted, 5 * MS, 3);
    lira_telemetry_attempt_end(t, &uncounted, &a, 10 * MS, WALL);
    lira_telemetry_call_end(t, &uncounted, &res, 10 * MS, WALL);
    lira_telemetry_set_metrics(t, 0);
    lira_telemetry_limiter_wait(t, &counted, 2 * MS, 4);
    lira_telemetry_attempt_end(t, &counted, &a, 10 * MS, WALL);
    lira_telemetry_call_end(t, &counted, &res, 10 * MS, WALL);
    CHECK(!lira_telemetry_metrics_on(t));
    char *m = NULL;
    CHECK_EQ(lira_metrics_text(lira_telemetry_metrics(t), &m, NULL), LIRA_OK);
    CHECK(m && strstr(m, "lira_client_in_flight{client=\"shop\"} 0\n"));
    CHECK(m && strstr(m, "lira_client_requests_total{client=\"shop\",endpoint=\"/orders/{id}\","
                         "status_class=\"2xx\"} 1\n"));
    CHECK(m && strstr(m, "lira_client_attempts_total{client=\"shop\",endpoint=\"/orders/{id}\"} 1\n"));
    CHECK(m && strstr(m, "lira_limiter_wait_seconds_count{client=\"shop\"} 1\n"));
    CHECK(m && strstr(m, "lira_limiter_tokens{client=\"shop\"} 4\n"));
    free(m);
    lira_http_response_free(r);
    lira_telemetry_free(t);
    unlink(path);
}

/* A successful call's line has its tail (status .. retry_reason) written
 * in one piece by the hub (call_tail); the bytes must be the generic
 * fields' exactly. Two hubs, one made to take the generic way, see the
 * same calls; their files must match line for line. (Breaking a key or a
 * number format in call_tail fails this.) */
static void test_call_tail_same_bytes(void)
{
    lira_telemetry *fast = hub(LIRA_LOG_INFO);
    char fast_path[64];
    memcpy(fast_path, path, sizeof path);
    lira_telemetry *slow = hub(LIRA_LOG_INFO);
    ((struct lira_telemetry *)slow)->generic_tail = 1;
    static const struct {
        int status, attempts;
        int64_t ns;
        lira_retry_reason rr;
        const char *rid, *corr, *tid, *sid;
        int plain;
    } cases[] = {
        {200, 1, 1307000, LIRA_RR_NONE, "8e645f0a-8acc-4ee2-b47f-2d8ed8452307", "",
         "3f491a162c312db5c7cfc48f6ae4f0d8", "e6e2ac6048f96389", 1},
        {200, 3, 250 * MS, LIRA_RR_STATUS_5XX, "req-2", "", "", "", 1},
        {404, 1, 0, LIRA_RR_NONE, "req-3", "", "3f491a162c312db5c7cfc48f6ae4f0d8",
         "e6e2ac6048f96389", 1},
        {0, 1, 999, LIRA_RR_NONE, "req-4", "", "", "", 1},
        {204, 2, 1500, LIRA_RR_TIMEOUT, "", "", "", "", 1},
        {200, 1, 123456789, LIRA_RR_NONE, "req-6", "", "", "", 1},
        {200, 1, 20 * MS + 10000, LIRA_RR_NONE, "req-7", "", "", "", 1},
        {200, 1, -500000, LIRA_RR_NONE, "req-8", "", "", "", 1},
        {301, 1, 5 * MS, LIRA_RR_NONE, "a\"quoted\\id", "", "", "", 0},
        {200, 1, 5 * MS, LIRA_RR_NONE, "req-10", "job \"7\"", "", "", 1},
        {200, 1, 5 * MS, LIRA_RR_NONE,
         "an-id-longer-than-the-tail-takes-0123456789012345678901234567890123456789", "", "",
         "", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lira_telemetry *hubs[2] = {fast, slow};
        for (int h = 0; h < 2; h++) {
            lira_telemetry *t = hubs[h];
            lira_telemetry_set_correlation_id(t, cases[i].corr);
            lira_tel_call tc;
            setup_call(&tc);
            tc.request_id = cases[i].rid;
            tc.request_id_plain = cases[i].plain;
            lira_telemetry_call_start(t, &tc, 1000 * MS, WALL);
            memcpy(tc.trace_id, cases[i].tid, strlen(cases[i].tid) + 1);
            memcpy(tc.span_id, cases[i].sid, strlen(cases[i].sid) + 1);
            lira_http_response *r = cases[i].status ? resp(cases[i].status, LIRA_FAIL_NONE) : NULL;
            lira_call_result res = {.res = r, .kind = LIRA_KIND_NONE,
                                    .attempts = cases[i].attempts, .stop = LIRA_STOP_SUCCESS,
                                    .last_retry_reason = cases[i].rr, .status = cases[i].status};
            lira_telemetry_call_end(t, &tc, &res, 1000 * MS + cases[i].ns, WALL);
            lira_http_response_free(r);
        }
    }
    lira_log_flush(lira_telemetry_log(fast));
    lira_log_flush(lira_telemetry_log(slow));
    char *a = strdup(slurp(fast_path));
    char *b = slurp(path);
    CHECK_EQ(count(a, "\n"), (int)(sizeof cases / sizeof cases[0]));
    CHECK(strstr(a, ",\"status\":200,\"attempts\":3,\"latency_ms\":250,\"request_id\":\"req-2\","
                    "\"retry_reason\":\"status_5xx\"}") != NULL);
    CHECK(strstr(a, "\"latency_ms\":123.456,") && strstr(a, "\"latency_ms\":-0.5,") &&
          strstr(a, "\"latency_ms\":20.01,") && strstr(a, "\"latency_ms\":0.001,"));
    if (strcmp(a, b) != 0)
        CHECK_FAIL_("the lines differ:\n%s---\n%s", a, b);
    free(a);
    lira_telemetry_free(fast);
    lira_telemetry_free(slow);
    unlink(fast_path);
    unlink(path);
}

/* A user's field cannot claim the engine's no-escaping promise. */
static void test_user_fields_escaped(void)
{
    lira_telemetry *t = hub(LIRA_LOG_INFO);
    lira_log_field f = {.key = "note", .type = LIRA_LOGF_STR,
                        .flags = LIRA_LOGF_KEYOK | LIRA_LOGF_PLAIN, .s = "a\"b", .len = SIZE_MAX};
    CHECK_EQ(lira_telemetry_log_user(t, LIRA_LOG_INFO, "m", &f, 1, 0, WALL), LIRA_OK);
    CHECK(strstr(slurp(path), "\"note\":\"a\\\"b\""));
    lira_telemetry_free(t);
    unlink(path);
}

static void write_calls_in_turn(void *ud)
{
    lira_telemetry *t = ud;
    int before = count(slurp(path), "\"msg\":\"call\"");
    run_ok_call(t, 0);
    run_ok_call(t, 0);
    CHECK_EQ(count(slurp(path), "\"msg\":\"call\""), before);   /* inside the turn: they wait */
}

/* The engine's turn brackets its callbacks: the call lines they write wait,
 * the next turns' lines join them, and they leave together in one write(2)
 * when the log's flush_ns has passed, by a real timer that needs nothing
 * else to happen; lira_telemetry_flush (a driver handing control back)
 * writes them at once. */
static void test_turn_batches_lines(void)
{
    lira_engine_options eo = {1, 1, 7};
    lira_engine *e;
    CHECK_EQ(lira_engine_new(&eo, &e), LIRA_OK);
    lira_telemetry *t = hub(LIRA_LOG_INFO);
    CHECK_EQ(lira_log_flush_ns(lira_telemetry_log(t)), 20 * MS);
    CHECK_EQ(lira_telemetry_install(e, t), LIRA_OK);
    int64_t t0 = lira_clock_now(NULL);
    CHECK_EQ(lira_engine_post(e, write_calls_in_turn, t), LIRA_OK);
    CHECK(lira_engine_step(e, 0) > 0);
    CHECK_EQ(lira_engine_post(e, write_calls_in_turn, t), LIRA_OK);
    CHECK(lira_engine_step(e, 0) > 0);
    CHECK_EQ(count(slurp(path), "\"msg\":\"call\""), 0);
    CHECK(lira_log_waiting(lira_telemetry_log(t)) > 0);
    CHECK(!lira_engine_busy(e));   /* the flush timer keeps nothing running */
    for (int i = 0; i < 200 && count(slurp(path), "\"msg\":\"call\"") < 4; i++)
        lira_engine_step(e, 10 * MS);
    CHECK_EQ(count(slurp(path), "\"msg\":\"call\""), 4);
    CHECK(lira_clock_now(NULL) - t0 >= 20 * MS);
    run_ok_call(t, 0);             /* outside a turn: at once */
    CHECK_EQ(count(slurp(path), "\"msg\":\"call\""), 5);
    CHECK_EQ(lira_engine_post(e, write_calls_in_turn, t), LIRA_OK);
    CHECK(lira_engine_step(e, 0) > 0);
    CHECK_EQ(count(slurp(path), "\"msg\":\"call\""), 5);
    lira_telemetry_flush(e);
    CHECK_EQ(count(slurp(path), "\"msg\":\"call\""), 7);
    CHECK_EQ(lira_engine_post(e, write_calls_in_turn, t), LIRA_OK);
    CHECK(lira_engine_step(e, 0) > 0);
    lira_engine_free(e);           /* freeing writes what waits */
    CHECK_EQ(count(slurp(path), "\"msg\":\"call\""), 9);
    unlink(path);
}

int main(void)
{
    unsetenv("LIRA_LOG_LEVEL");
    unsetenv("LIRA_LOG_FILE");
    setenv("LIRA_LOG_LEVEL", "off", 1);   /* the engine's own hub stays quiet */
    RUN(test_call_lines);
    RUN(test_metrics_after_calls);
    RUN(test_burst_bounded);
    RUN(test_sink);
    RUN(test_engine_slot);
    RUN(test_turn_batches_lines);
    RUN(test_url_memo);
    RUN(test_url_memo_head);
    RUN(test_call_line_head);
    RUN(test_limiter_wait_series);
    RUN(test_metrics_switched_mid_call);
    RUN(test_sites_alternate);
    RUN(test_site_head_after_memo_reuse);
    RUN(test_call_tail_same_bytes);
    RUN(test_call_outlives_its_memo_entry);
    RUN(test_user_fields_escaped);
    return check_summary();
}
