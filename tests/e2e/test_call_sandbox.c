/* test_call_sandbox.c — the call pipeline over the real libcurl transport
 * against `lira sandbox` on 127.0.0.1. What the sandbox's /_log saw is the
 * evidence: how many attempts arrived, with which headers, how far apart
 * (mono_ns). Real waits are kept short (small base delays). */
#include "sandbox_proc.h"

#include "check.h"
#include "e2e_http.h"

#include "call.h"
#include "status.h"

#define MS (INT64_C(1000000))
#define SEC (INT64_C(1000000000))

static sandbox_proc sb;

typedef struct outcome {
    int done;
    lira_call_result r;
} outcome;

static void on_done(void *ud, lira_call_result *r)
{
    outcome *o = ud;
    o->done++;
    o->r = *r;
}

static lira_engine *engine_and_upstream(lira_upstream **u)
{
    lira_engine_options opt = {.seeded = 1, .seed = 11};
    lira_engine *e = NULL;
    CHECK_EQ(lira_engine_new(&opt, &e), LIRA_OK);
    CHECK_EQ(lira_upstream_get(e, "sandbox", NULL, u), LIRA_OK);
    return e;
}

static lira_call_spec spec(const char *method, const char *url)
{
    lira_call_spec s;
    CHECK_EQ(lira_call_spec_init(&s, method, url), LIRA_OK);
    s.read_timeout_ns = 5 * SEC;
    s.deadline_ns = 0;
    s.retry.backoff.base_ns = 20 * MS;
    s.retry.backoff.cap_ns = 100 * MS;
    return s;
}

static void run_call(lira_engine *e, lira_upstream *u, const lira_call_spec *s, outcome *o)
{
    memset(o, 0, sizeof *o);
    CHECK_EQ(lira_call_start(e, u, s, on_done, o, NULL), LIRA_OK);
    CHECK_EQ(lira_engine_run_until(e, &o->done), LIRA_OK);
    CHECK_EQ(o->done, 1);
}

/* The log entries whose path is `path`, into out[] (at most cap). */
static int log_entries(cJSON *log, const char *path, const cJSON **out, int cap)
{
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(log, "entries")) {
        const char *p = json_str(it, "path");
        if (p && strcmp(p, path) == 0 && n < cap)
            out[n++] = it;
    }
    return n;
}

static void test_flaky_succeeds_on_third_attempt_same_request_id(void)
{
    CHECK_EQ(sandbox_reset(sb.url), 0);
    lira_upstream *u = NULL;
    lira_engine *e = engine_and_upstream(&u);
    char url[256];
    snprintf(url, sizeof url, "%s/flaky/call-e2e?fail=2&status=503", sb.url);
    const char *hdrs[] = {"X-Request-Id: 0b7c9a52-e2e1", "Accept: application/json", NULL};
    lira_call_spec s = spec("GET", url);
    s.req.headers = hdrs;
    outcome o;
    run_call(e, u, &s, &o);
    CHECK_EQ(o.r.kind, LIRA_KIND_NONE);
    CHECK(o.r.res && o.r.res->status == 200);
    CHECK_EQ(o.r.attempts, 3);
    CHECK_EQ(o.r.last_retry_reason, LIRA_RR_STATUS_5XX);
    cJSON *log = sandbox_log(sb.url, 0);
    const cJSON *en[8];
    CHECK_EQ(log_entries(log, "/flaky/call-e2e", en, 8), 3);
    for (int i = 0; i < 3 && log; i++)
        CHECK_STR(json_str(cJSON_GetObjectItem(en[i], "headers"), "X-Request-Id"),
                  "0b7c9a52-e2e1");
    cJSON_Delete(log);
    lira_http_response_free(o.r.res);
    lira_upstream_release(u);
    lira_engine_free(e);
}

static void test_payment_with_key_has_one_effect(void)
{
    CHECK_EQ(sandbox_reset(sb.url), 0);
    lira_upstream *u = NULL;
    lira_engine *e = engine_and_upstream(&u);
    char url[256];
    snprintf(url, sizeof url, "%s/payments?fail_first=2", sb.url);
    const char *hdrs[] = {"Idempotency-Key: pay-e2e-1", "Content-Type: application/json", NULL};
    const char *body = "{\"amount\":500}";
    lira_call_spec s = spec("POST", url);
    s.req.headers = hdrs;
    s.req.body = body;
    s.req.body_len = strlen(body);
    s.has_idempotency_key = 1;
    outcome o;
    run_call(e, u, &s, &o);
    CHECK(o.r.res && o.r.res->status == 201);
    CHECK_EQ(o.r.attempts, 3);
    http_res r;
    CHECK_EQ(http_get(sb.url, "/payments/_effects", &r), CURLE_OK);
    cJSON *eff = http_json(&r);
    CHECK_NEAR(json_num(eff, "total", -1), 1, 0);
    CHECK_NEAR(json_num(cJSON_GetObjectItem(eff, "keys"), "pay-e2e-1", -1), 1, 0);
    cJSON_Delete(eff);
    http_free(&r);
    cJSON *log = sandbox_log(sb.url, 0);
    const cJSON *en[8];
    CHECK_EQ(log_entries(log, "/payments", en, 8), 3);
    for (int i = 0; i < 3 && log; i++)
        CHECK_STR(json_str(cJSON_GetObjectItem(en[i], "headers"), "Idempotency-Key"), "pay-e2e-1");
    cJSON_Delete(log);
    lira_http_response_free(o.r.res);
    lira_upstream_release(u);
    lira_engine_free(e);
}

/* Without a key a failed POST is not repeated: one effect, no duplicate. */
static void test_keyless_payment_not_retried(void)
{
    CHECK_EQ(sandbox_reset(sb.url), 0);
    lira_upstream *u = NULL;
    lira_engine *e = engine_and_upstream(&u);
    char url[256];
    snprintf(url, sizeof url, "%s/payments?fail_first=1", sb.url);
    lira_call_spec s = spec("POST", url);
    s.req.body = "{\"amount\":1}";
    s.req.body_len = strlen("{\"amount\":1}");
    outcome o;
    run_call(e, u, &s, &o);
    CHECK(o.r.res && o.r.res->status == 503);
    CHECK_EQ(o.r.attempts, 1);
    CHECK_EQ(o.r.stop, LIRA_STOP_NOT_IDEMPOTENT);
    http_res r;
    CHECK_EQ(http_get(sb.url, "/payments/_effects", &r), CURLE_OK);
    cJSON *eff = http_json(&r);
    CHECK_NEAR(json_num(eff, "unkeyed", -1), 1, 0);
    cJSON_Delete(eff);
    http_free(&r);
    lira_http_response_free(o.r.res);
    lira_upstream_release(u);
    lira_engine_free(e);
}

static void test_429_retry_after_gap(void)
{
    CHECK_EQ(sandbox_reset(sb.url), 0);
    lira_upstream *u = NULL;
    lira_engine *e = engine_and_upstream(&u);
    char url[256];
    snprintf(url, sizeof url, "%s/status/429?retry_after=1", sb.url);
    lira_call_spec s = spec("GET", url);
    s.retry.attempts = 2;
    s.retry.backoff.base_ns = 10 * MS;
    outcome o;
    run_call(e, u, &s, &o);
    CHECK(o.r.res && o.r.res->status == 429);
    CHECK_EQ(o.r.attempts, 2);
    CHECK_EQ(o.r.stop, LIRA_STOP_ATTEMPTS);
    CHECK_INT(o.r.elapsed_ns, >=, 1 * SEC);
    cJSON *log = sandbox_log(sb.url, 0);
    const cJSON *en[8];
    CHECK_EQ(log_entries(log, "/status/429", en, 8), 2);
    if (log && en[0] && en[1]) {
        double gap = json_num(en[1], "mono_ns", 0) - json_num(en[0], "mono_ns", 0);
        CHECK_INT((long long)gap, >=, 1 * SEC);
        CHECK_INT((long long)gap, <, 3 * SEC);
    }
    cJSON_Delete(log);
    lira_http_response_free(o.r.res);
    lira_upstream_release(u);
    lira_engine_free(e);
}

/* Nothing listening: connect fails, retried (never left), kind connect. */
static void test_connect_refused(void)
{
    lira_upstream *u = NULL;
    lira_engine *e = engine_and_upstream(&u);
    lira_call_spec s = spec("POST", "http://127.0.0.1:1/payments");
    s.retry.attempts = 2;
    outcome o;
    run_call(e, u, &s, &o);
    CHECK(o.r.res == NULL);
    CHECK_EQ(o.r.kind, LIRA_KIND_CONNECT);
    CHECK_EQ(o.r.attempts, 2);
    CHECK(strstr(o.r.message, "POST /payments: connect: ") != NULL);
    lira_upstream_release(u);
    lira_engine_free(e);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (sandbox_start(&sb, NULL) != 0) {
        fprintf(stderr, "cannot start the sandbox\n");
        return 1;
    }
    RUN(test_flaky_succeeds_on_third_attempt_same_request_id);
    RUN(test_payment_with_key_has_one_effect);
    RUN(test_keyless_payment_not_retried);
    RUN(test_429_retry_after_gap);
    RUN(test_connect_refused);
    CHECK(sandbox_stop(&sb) == 0);
    curl_global_cleanup();
    return check_summary();
}
