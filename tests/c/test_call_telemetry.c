/* test_call_telemetry.c — the call pipeline feeds the engine's telemetry
 * hub and tracer: every attempt sends its own traceparent (the user's wins),
 * the log lines carry the ids that went out, metrics count calls, retries,
 * limiter waits, budget refusals and breaker transitions, the endpoint is
 * the template without secrets, and a burst of 10 000 failing calls keeps
 * the log and the label sets bounded. Virtual clock, scripted transport. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "call_fixture.h"
#include "telemetry.h"
#include "trace.h"

static char path[64];

/* An engine whose hub logs to a temp file at `lv`, with a tracer (context
 * only: no exporter), the scripted transport and upstream "api". */
static void open_tel(fx *f, const lira_upstream_config *cfg, lira_log_level lv)
{
    lira_engine_options o = {.virtual_clock = 1, .seeded = 1, .seed = 7};
    memset(f, 0, sizeof *f);
    f->cfg = *cfg;
    CHECK_EQ(lira_engine_new(&o, &f->e), LIRA_OK);
    snprintf(path, sizeof path, "/tmp/lira_test_calltel_XXXXXX");
    close(mkstemp(path));
    lira_telemetry_options to;
    lira_telemetry_options_default(&to);
    to.log.path = path;
    to.log.level = lv;
    to.log.format = LIRA_LOG_JSON;
    lira_telemetry *t = NULL;
    CHECK_EQ(lira_telemetry_new(&to, &t), LIRA_OK);
    CHECK_EQ(lira_telemetry_install(f->e, t), LIRA_OK);
    CHECK_EQ(lira_tracer_install(f->e, NULL, NULL, NULL), LIRA_OK);
    CHECK_EQ(lira_script_install(f->e, NULL, &f->t), LIRA_OK);
    CHECK_EQ(lira_upstream_get(f->e, "api", cfg, &f->u), LIRA_OK);
}

static void close_tel(fx *f)
{
    fx_close(f);
    unlink(path);
}

static char *slurp(void)
{
    static char buf[1 << 21];
    FILE *fp = fopen(path, "rb");
    size_t n = fp ? fread(buf, 1, sizeof buf - 1, fp) : 0;
    if (fp)
        fclose(fp);
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

static char *metrics_text(fx *f)
{
    static char *last;
    free(last);
    last = NULL;
    size_t len;
    lira_telemetry *t = lira_telemetry_of(f->e);
    lira_telemetry_collect(t);
    CHECK_EQ(lira_metrics_text(lira_telemetry_metrics(t), &last, &len), LIRA_OK);
    return last ? last : "";
}

/* The value of a metric line that starts with `head` (its name and labels),
 * or -1. */
static double metric(fx *f, const char *head)
{
    const char *text = metrics_text(f), *p = text;
    size_t n = strlen(head);
    while ((p = strstr(p, head)) && p > text && p[-1] != '\n')   /* not in a # HELP line */
        p += n;
    return p ? strtod(p + n, NULL) : -1;
}

static void test_traceparent_per_attempt_and_log_ids(void)
{
    fx f;
    lira_upstream_config c = fx_config();
    open_tel(&f, &c, LIRA_LOG_DEBUG);
    fx_push(&f, NULL, 503, LIRA_FAIL_NONE, 10 * MS, 0);
    fx_push(&f, NULL, 200, LIRA_FAIL_NONE, 10 * MS, 0);
    lira_call_spec s = fx_spec("GET", "http://api.test/orders/42");
    s.endpoint = "/orders/{id}";
    s.request_id = "rid-1";
    outcome o;
    CHECK_EQ(fx_start(&f, &s, &o), LIRA_OK);
    fx_wait(&f, &o);
    CHECK_EQ(o.r.res ? o.r.res->status : 0, 200);
    CHECK_U64(lira_script_count(f.t), ==, 2);
    const char *tp1 = lira_script_request_header(fx_req(&f, 0), "traceparent");
    const char *tp2 = lira_script_request_header(fx_req(&f, 1), "traceparent");
    CHECK(tp1 && tp2 && strlen(tp1) == 55 && strlen(tp2) == 55);
    if (tp1 && tp2) {
        CHECK(strncmp(tp1, tp2, 36) == 0);            /* same trace */
        CHECK(strcmp(tp1 + 36, tp2 + 36) != 0);       /* a span per attempt */
        char want[64];
        lira_telemetry_flush(f.e);   /* as a driver does when it returns */
        const char *log = slurp();
        snprintf(want, sizeof want, "\"span_id\":\"%.16s\"", tp1 + 36);
        CHECK_INT(count(log, want), ==, 1);           /* attempt 1's debug line */
        snprintf(want, sizeof want, "\"trace_id\":\"%.32s\"", tp1 + 3);
        CHECK_INT(count(log, want), ==, 3);           /* 2 attempts + the call */
        CHECK_INT(count(log, "\"msg\":\"call\""), ==, 1);
        CHECK(strstr(log, "\"endpoint\":\"/orders/{id}\"") != NULL);
        CHECK(strstr(log, "\"request_id\":\"rid-1\"") != NULL);
        CHECK(strstr(log, "\"retry_reason\":\"status_5xx\"") != NULL);
    }
    /* the spare header slots are given back: one traceparent per request */
    int n = 0;
    for (size_t i = 0; i < fx_req(&f, 1)->nheaders; i++)
        n += strncmp(fx_req(&f, 1)->headers[i], "traceparent:", 12) == 0;
    CHECK_INT(n, ==, 1);
    CHECK_NEAR(metric(&f, "lira_client_requests_total{client=\"api\",endpoint=\"/orders/{id}\","
                          "status_class=\"2xx\"} "), 1, 0);
    CHECK_NEAR(metric(&f, "lira_client_attempts_total{client=\"api\",endpoint=\"/orders/{id}\"} "),
               2, 0);
    CHECK_NEAR(metric(&f, "lira_client_retries_total{client=\"api\",endpoint=\"/orders/{id}\","
                          "reason=\"status_5xx\"} "), 1, 0);
    CHECK_NEAR(metric(&f, "lira_client_in_flight{client=\"api\"} "), 0, 0);
    CHECK_NEAR(metric(&f, "lira_limiter_wait_seconds_count{client=\"api\"} "), 2, 0);
    outcome_free(&o);
    close_tel(&f);
}

/* Unsampled, the call span gets its id only when a line shows it: a call
 * of two attempts still logs a call span id of its own (not zero, not an
 * attempt's), in the same trace as the traceparents sent. */
static void test_unsampled_call_span_id(void)
{
    fx f;
    lira_upstream_config c = fx_config();
    open_tel(&f, &c, LIRA_LOG_INFO);
    lira_sampler off;
    lira_sampler_init(&off, LIRA_SAMPLER_ALWAYS_OFF, 1.0);
    CHECK_EQ(lira_tracer_install(f.e, &off, NULL, NULL), LIRA_OK);
    fx_push(&f, NULL, 503, LIRA_FAIL_NONE, 10 * MS, 0);
    fx_push(&f, NULL, 200, LIRA_FAIL_NONE, 10 * MS, 0);
    lira_call_spec s = fx_spec("GET", "http://api.test/orders/42");
    outcome o;
    CHECK_EQ(fx_start(&f, &s, &o), LIRA_OK);
    fx_wait(&f, &o);
    const char *tp1 = lira_script_request_header(fx_req(&f, 0), "traceparent");
    const char *tp2 = lira_script_request_header(fx_req(&f, 1), "traceparent");
    lira_telemetry_flush(f.e);
    const char *log = slurp(), *sid = strstr(log, "\"span_id\":\"");
    const char *tid = strstr(log, "\"trace_id\":\"");
    CHECK(tp1 && tp2 && sid && tid);
    if (tp1 && tp2 && sid && tid) {
        CHECK(strcmp(tp1 + 52, "-00") == 0);          /* unsampled */
        CHECK(strncmp(tid + 12, tp1 + 3, 32) == 0);
        CHECK(strncmp(sid + 11, "0000000000000000", 16) != 0);
        CHECK(strncmp(sid + 11, tp1 + 36, 16) != 0);
        CHECK(strncmp(sid + 11, tp2 + 36, 16) != 0);
        CHECK_EQ(sid[27], '"');
    }
    outcome_free(&o);
    close_tel(&f);
}

static void test_user_traceparent_wins(void)
{
    fx f;
    lira_upstream_config c = fx_config();
    open_tel(&f, &c, LIRA_LOG_WARN);
    fx_push(&f, NULL, 200, LIRA_FAIL_NONE, 0, 1);
    const char *mine = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    char line[80];
    snprintf(line, sizeof line, "TraceParent: %s", mine);
    const char *hdrs[] = {"Accept: application/json", line, NULL};
    lira_call_spec s = fx_spec("GET", "http://api.test/x");
    s.req.headers = hdrs;
    outcome o;
    CHECK_EQ(fx_start(&f, &s, &o), LIRA_OK);
    fx_wait(&f, &o);
    const lira_script_request *r = fx_req(&f, 0);
    CHECK_U64(r->nheaders, ==, 2);
    CHECK_STR(lira_script_request_header(r, "traceparent"), mine);
    CHECK(lira_script_request_header(r, "tracestate") == NULL);
    outcome_free(&o);
    close_tel(&f);
}

static void test_endpoint_keeps_no_secret(void)
{
    fx f;
    lira_upstream_config c = fx_config();
    open_tel(&f, &c, LIRA_LOG_DEBUG);
    fx_push(&f, NULL, 500, LIRA_FAIL_NONE, 0, 1);
    lira_call_spec s = fx_spec("GET", "https://bob:SECRET3@api.test/u/7?access_token=SECRET1");
    s.endpoint = "https://bob:SECRET3@api.test/u/{id}?access_token=SECRET1#SECRET4";
    s.retry.attempts = 2;
    outcome o;
    CHECK_EQ(fx_start(&f, &s, &o), LIRA_OK);
    fx_wait(&f, &o);
    const char *log = slurp();
    CHECK(strstr(log, "\"endpoint\":\"/u/{id}\"") != NULL);
    CHECK(strstr(log, "SECRET") == NULL);
    CHECK(strstr(metrics_text(&f), "SECRET") == NULL);
    CHECK(strstr(metrics_text(&f), "endpoint=\"/u/{id}\"") != NULL);
    CHECK(strstr(metrics_text(&f), "server_address=\"api.test\"") != NULL);
    CHECK(strstr(o.r.message, "SECRET") == NULL);
    outcome_free(&o);
    close_tel(&f);
}

static int transitions;
static void on_tr(void *ud, lira_breaker_state from, lira_breaker_state to, int64_t now)
{
    (void)ud, (void)from, (void)to, (void)now;
    transitions++;
}

static void test_breaker_and_budget(void)
{
    fx f;
    lira_upstream_config c = fx_config();
    c.breaker_on = 1;
    c.breaker.min_calls = 4;
    c.breaker.window = 10;
    c.breaker.on_transition = on_tr;
    c.budget_min_per_second = 1;
    c.budget_ratio = 0.01;
    open_tel(&f, &c, LIRA_LOG_OFF);
    CHECK_NEAR(metric(&f, "lira_breaker_state{client=\"api\"} "), 0, 0);
    fx_push(&f, NULL, 503, LIRA_FAIL_NONE, 1 * MS, 1);
    for (int i = 0; i < 6; i++) {
        lira_call_spec s = fx_spec("GET", "http://api.test/x");
        s.endpoint = "/x";
        outcome o;
        CHECK_EQ(fx_start(&f, &s, &o), LIRA_OK);
        fx_wait(&f, &o);
        outcome_free(&o);
    }
    CHECK_INT(transitions, >=, 1);   /* the user's callback still runs */
    CHECK_NEAR(metric(&f, "lira_breaker_state{client=\"api\"} "), 1, 0);
    CHECK_NEAR(metric(&f, "lira_breaker_transitions_total{client=\"api\",from=\"closed\","
                          "to=\"open\"} "), 1, 0);
    CHECK(metric(&f, "lira_retry_budget_refusals_total{client=\"api\"} ") >= 1);
    CHECK(metric(&f, "lira_client_errors_total{client=\"api\",endpoint=\"/x\","
                     "kind=\"breaker_open\"} ") >= 1);
    transitions = 0;
    close_tel(&f);
}

/* Engine free with a call in flight: the call is reported once, as cancelled. */
static void test_engine_free_reports_cancelled(void)
{
    fx f;
    lira_upstream_config c = fx_config();
    open_tel(&f, &c, LIRA_LOG_INFO);
    fx_push(&f, NULL, 200, LIRA_FAIL_NONE, LIRA_SCRIPT_HANG, 0);
    lira_call_spec s = fx_spec("GET", "http://api.test/slow");
    outcome o;
    CHECK_EQ(fx_start(&f, &s, &o), LIRA_OK);
    fx_advance(&f, 5 * MS);
    CHECK_EQ(o.done, 0);
    close_tel(&f);   /* frees the engine; unlink comes after: read first */
    CHECK_EQ(o.done, 1);
    CHECK_EQ(o.r.kind, LIRA_KIND_CANCELLED);
}

static void fail_once(fx *f, const char *endpoint)
{
    lira_call_spec s = fx_spec("GET", "http://api.test/e");
    s.retry.attempts = 1;
    s.endpoint = endpoint;
    outcome o;
    CHECK_EQ(fx_start(f, &s, &o), LIRA_OK);
    fx_wait(f, &o);
    outcome_free(&o);
}

/* 10 000 failing calls on three endpoints: a handful of lines per
 * rate-limit group and window, the rest counted. Then 600 more endpoints:
 * the label sets stop at the cap, the rest collapse into "other". */
static void test_burst_is_bounded(void)
{
    fx f;
    lira_upstream_config c = fx_config();
    c.limiter_on = 0;
    open_tel(&f, &c, LIRA_LOG_INFO);
    fx_push(&f, NULL, 500, LIRA_FAIL_NONE, 1 * MS, 1);
    static const char *const eps[] = {"/a", "/b/{id}", "/c"};
    for (int i = 0; i < 10000; i++)
        fail_once(&f, eps[i % 3]);
    fx_advance(&f, 10 * SEC);
    fail_once(&f, "/a");   /* a new window: this line says how many were dropped */
    const char *log = slurp();
    /* 10 s of virtual time: two windows at most, 5 lines per group each */
    CHECK_INT(count(log, "\n"), <=, 3 * 5 * 2 + 1);
    CHECK(strstr(log, "\"suppressed\":") != NULL);
    CHECK(metric(&f, "lira_log_suppressed_total ") >= 10000 - 30);
    CHECK_NEAR(metric(&f, "lira_client_requests_total{client=\"api\",endpoint=\"/a\","
                          "status_class=\"5xx\"} "), 3335, 0);
    char ep[32];
    for (int i = 0; i < 600; i++) {
        snprintf(ep, sizeof ep, "/e/%d", i);
        fail_once(&f, ep);
    }
    const char *m = metrics_text(&f);
    CHECK(strstr(m, "lira_metrics_label_overflow_total{metric=\"lira_client_requests_total\"}"));
    CHECK(strstr(m, "endpoint=\"other\"") != NULL);
    CHECK_INT(count(m, "lira_client_requests_total{"), <=, 501);
    CHECK_INT(count(m, "\nlira_client_call_duration_seconds_count{"), <=, 501);
    close_tel(&f);
}

int main(void)
{
    RUN(test_traceparent_per_attempt_and_log_ids);
    RUN(test_unsampled_call_span_id);
    RUN(test_user_traceparent_wins);
    RUN(test_endpoint_keeps_no_secret);
    RUN(test_breaker_and_budget);
    RUN(test_engine_free_reports_cancelled);
    RUN(test_burst_is_bounded);
    return check_summary();
}
