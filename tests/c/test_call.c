/* The call pipeline's retry rules (LUA-API.md §3.2), observed from the
 * scripted transport's request record on a virtual clock: what was sent,
 * how often, with which headers and timeouts, and how far apart. */
#include "call_fixture.h"

#include "httpdate.h"

#define URL "http://api.test/orders/42"

/* ------------------------------------------------------------ the table */

typedef struct rule_case {
    const char *method;
    int key;                 /* has an idempotency key */
    int status;
    lira_failure fail;
    int attempts;            /* expected attempts (of 3) */
    lira_error_kind kind;    /* NONE: a response comes back */
    lira_stop_reason stop;
    int retryable;
} rule_case;

static const rule_case rule_cases[] = {
    {"GET", 0, 503, LIRA_FAIL_NONE, 3, LIRA_KIND_NONE, LIRA_STOP_ATTEMPTS, 1},
    {"GET", 0, 500, LIRA_FAIL_NONE, 3, LIRA_KIND_NONE, LIRA_STOP_ATTEMPTS, 1},
    {"GET", 0, 502, LIRA_FAIL_NONE, 3, LIRA_KIND_NONE, LIRA_STOP_ATTEMPTS, 1},
    {"GET", 0, 429, LIRA_FAIL_NONE, 3, LIRA_KIND_NONE, LIRA_STOP_ATTEMPTS, 1},
    {"GET", 0, 0, LIRA_FAIL_TIMEOUT, 3, LIRA_KIND_TIMEOUT, LIRA_STOP_ATTEMPTS, 1},
    {"GET", 0, 0, LIRA_FAIL_CONNECT, 3, LIRA_KIND_CONNECT, LIRA_STOP_ATTEMPTS, 1},
    {"GET", 0, 0, LIRA_FAIL_DNS, 3, LIRA_KIND_DNS, LIRA_STOP_ATTEMPTS, 1},
    {"GET", 0, 0, LIRA_FAIL_TLS, 3, LIRA_KIND_TLS, LIRA_STOP_ATTEMPTS, 1},
    {"GET", 0, 0, LIRA_FAIL_TRANSPORT, 3, LIRA_KIND_TRANSPORT, LIRA_STOP_ATTEMPTS, 1},
    {"GET", 0, 400, LIRA_FAIL_NONE, 1, LIRA_KIND_NONE, LIRA_STOP_STATUS, 0},
    {"GET", 0, 404, LIRA_FAIL_NONE, 1, LIRA_KIND_NONE, LIRA_STOP_STATUS, 0},
    {"GET", 0, 409, LIRA_FAIL_NONE, 1, LIRA_KIND_NONE, LIRA_STOP_STATUS, 0},
    {"GET", 0, 301, LIRA_FAIL_NONE, 1, LIRA_KIND_NONE, LIRA_STOP_STATUS, 0},
    {"GET", 0, 200, LIRA_FAIL_NONE, 1, LIRA_KIND_NONE, LIRA_STOP_SUCCESS, 0},
    {"GET", 0, 204, LIRA_FAIL_NONE, 1, LIRA_KIND_NONE, LIRA_STOP_SUCCESS, 0},
    {"GET", 0, 200, LIRA_FAIL_TOO_LARGE, 1, LIRA_KIND_TOO_LARGE, LIRA_STOP_TOO_LARGE, 0},
    {"HEAD", 0, 503, LIRA_FAIL_NONE, 3, LIRA_KIND_NONE, LIRA_STOP_ATTEMPTS, 1},
    {"PUT", 0, 503, LIRA_FAIL_NONE, 3, LIRA_KIND_NONE, LIRA_STOP_ATTEMPTS, 1},
    {"DELETE", 0, 0, LIRA_FAIL_TIMEOUT, 3, LIRA_KIND_TIMEOUT, LIRA_STOP_ATTEMPTS, 1},
    {"OPTIONS", 0, 503, LIRA_FAIL_NONE, 3, LIRA_KIND_NONE, LIRA_STOP_ATTEMPTS, 1},
    /* POST / PATCH without a key: only failures that prove it never left */
    {"POST", 0, 503, LIRA_FAIL_NONE, 1, LIRA_KIND_NONE, LIRA_STOP_NOT_IDEMPOTENT, 0},
    {"POST", 0, 429, LIRA_FAIL_NONE, 1, LIRA_KIND_NONE, LIRA_STOP_NOT_IDEMPOTENT, 0},
    {"POST", 0, 0, LIRA_FAIL_TIMEOUT, 1, LIRA_KIND_TIMEOUT, LIRA_STOP_NOT_IDEMPOTENT, 0},
    {"POST", 0, 0, LIRA_FAIL_TRANSPORT, 1, LIRA_KIND_TRANSPORT, LIRA_STOP_NOT_IDEMPOTENT, 0},
    {"POST", 0, 0, LIRA_FAIL_CONNECT, 3, LIRA_KIND_CONNECT, LIRA_STOP_ATTEMPTS, 1},
    {"POST", 0, 0, LIRA_FAIL_DNS, 3, LIRA_KIND_DNS, LIRA_STOP_ATTEMPTS, 1},
    {"POST", 0, 0, LIRA_FAIL_TLS, 3, LIRA_KIND_TLS, LIRA_STOP_ATTEMPTS, 1},
    {"PATCH", 0, 500, LIRA_FAIL_NONE, 1, LIRA_KIND_NONE, LIRA_STOP_NOT_IDEMPOTENT, 0},
    {"POST", 0, 201, LIRA_FAIL_NONE, 1, LIRA_KIND_NONE, LIRA_STOP_SUCCESS, 0},
    /* with a key they retry like GET */
    {"POST", 1, 503, LIRA_FAIL_NONE, 3, LIRA_KIND_NONE, LIRA_STOP_ATTEMPTS, 1},
    {"POST", 1, 0, LIRA_FAIL_TIMEOUT, 3, LIRA_KIND_TIMEOUT, LIRA_STOP_ATTEMPTS, 1},
    {"PATCH", 1, 0, LIRA_FAIL_TRANSPORT, 3, LIRA_KIND_TRANSPORT, LIRA_STOP_ATTEMPTS, 1},
    {"POST", 1, 400, LIRA_FAIL_NONE, 1, LIRA_KIND_NONE, LIRA_STOP_STATUS, 0},
};

static void run_rule_case(const rule_case *rc)
{
    fx f;
    fx_open(&f);
    fx_push(&f, NULL, rc->status, rc->fail, 5 * MS, 1);
    lira_call_spec s = fx_spec(rc->method, URL);
    s.retry.attempts = 3;
    s.has_idempotency_key = rc->key;
    outcome o;
    CHECK_EQ(fx_start(&f, &s, &o), LIRA_OK);
    fx_wait(&f, &o);
    CHECK_EQ(lira_script_count(f.t), (size_t)rc->attempts);
    CHECK_EQ(o.r.attempts, rc->attempts);
    CHECK_EQ(o.r.kind, rc->kind);
    CHECK_EQ(o.r.stop, rc->stop);
    CHECK_EQ(o.r.retryable, rc->retryable);
    CHECK_EQ(o.r.res != NULL, rc->kind == LIRA_KIND_NONE);
    if (o.r.res)
        CHECK_EQ(o.r.res->status, rc->status);
    if (rc->fail == LIRA_FAIL_TOO_LARGE)
        CHECK_EQ(o.r.status, rc->status);   /* the status of the too-large response */
    for (size_t i = 0; i < lira_script_count(f.t); i++)
        CHECK_STR(fx_req(&f, i)->method, rc->method);
    if (check_failures_in_test)
        fprintf(stderr, "  case: %s key=%d status=%d fail=%s\n", rc->method, rc->key, rc->status,
                lira_failure_name(rc->fail));
    outcome_free(&o);
    fx_close(&f);
}

static void test_rule_table(void)
{
    for (size_t i = 0; i < sizeof rule_cases / sizeof rule_cases[0]; i++)
        run_rule_case(&rule_cases[i]);
}

/* ------------------------------------------------------------ headers */

static void test_post_with_key_same_headers_every_attempt(void)
{
    fx f;
    fx_open(&f);
    fx_push(&f, "POST /payments", 503, LIRA_FAIL_NONE, 0, 0);
    fx_push(&f, "POST /payments", 0, LIRA_FAIL_TIMEOUT, 0, 0);
    fx_push(&f, "POST /payments", 201, LIRA_FAIL_NONE, 0, 0);
    const char *hdrs[] = {"X-Request-Id: 7f3c", "Idempotency-Key: pay-1",
                          "Content-Type: application/json", NULL};
    lira_call_spec s = fx_spec("POST", "http://api.test/payments");
    s.req.headers = hdrs;
    s.req.body = "{\"amount\":500}";
    s.req.body_len = strlen("{\"amount\":500}");
    s.has_idempotency_key = 1;
    outcome o;
    CHECK_EQ(fx_start(&f, &s, &o), LIRA_OK);
    fx_wait(&f, &o);
    CHECK_EQ(o.r.attempts, 3);
    CHECK(o.r.res && o.r.res->status == 201);
    CHECK_EQ(lira_script_count(f.t), 3u);
    for (size_t i = 0; i < lira_script_count(f.t); i++) {
        const lira_script_request *r = fx_req(&f, i);
        CHECK_EQ(r->nheaders, 3u);
        CHECK_STR(lira_script_request_header(r, "idempotency-key"), "pay-1");
        CHECK_STR(lira_script_request_header(r, "X-REQUEST-ID"), "7f3c");
        CHECK_EQ(r->body_len, strlen("{\"amount\":500}"));
        CHECK(r->body && memcmp(r->body, "{\"amount\":500}", r->body_len) == 0);
        CHECK_STR(r->url, "http://api.test/payments");
    }
    outcome_free(&o);
    fx_close(&f);
}

/* The spec is deep-copied: the caller's strings may go at once. */
static void test_spec_copied(void)
{
    fx f;
    fx_open(&f);
    fx_push(&f, NULL, 503, LIRA_FAIL_NONE, 0, 0);
    fx_push(&f, NULL, 200, LIRA_FAIL_NONE, 0, 0);
    char *url = malloc(64), *h = malloc(64), *body = malloc(8);
    snprintf(url, 64, "%s", "http://api.test/x");
    snprintf(h, 64, "%s", "X-Request-Id: abc");
    memcpy(body, "12345678", 8);
    const char *hdrs[] = {h, NULL};
    lira_call_spec s = fx_spec("PUT", url);
    s.req.headers = hdrs;
    s.req.body = body;
    s.req.body_len = 8;
    outcome o;
    CHECK_EQ(fx_start(&f, &s, &o), LIRA_OK);
    memset(url, 'z', 63), memset(h, 'z', 63), memset(body, 'z', 8);
    free(url), free(h), free(body);
    fx_wait(&f, &o);
    CHECK_EQ(o.r.attempts, 2);
    CHECK_STR(fx_req(&f, 1)->url, "http://api.test/x");
    CHECK_STR(lira_script_request_header(fx_req(&f, 1), "X-Request-Id"), "abc");
    CHECK(memcmp(fx_req(&f, 1)->body, "12345678", 8) == 0);
    outcome_free(&o);
    fx_close(&f);
}

/* ------------------------------------------------------------ delays */

static void test_429_retry_after_seconds(void)
{
    fx f;
    fx_open(&f);
    const char *ra[] = {"Retry-After: 3", NULL};
    fx_push_h(&f, NULL, 429, ra, NULL, 0);
    fx_push_h(&f, NULL, 200, NULL, "ok", 0);
    lira_call_spec s = fx_spec("GET", URL);
    s.retry.backoff.base_ns = 10 * MS;
    outcome o;
    CHECK_EQ(fx_start(&f, &s, &o), LIRA_OK);
    fx_wait(&f, &o);
    CHECK_EQ(o.r.attempts, 2);
    CHECK_EQ(o.r.last_retry_reason, LIRA_RR_STATUS_429);
    CHECK_INT(fx_gap(&f, 1), >=, 3 * SEC);
    CHECK_INT(fx_gap(&f, 1), <=, 3 * SEC + 20 * MS);
    outcome_free(&o);
    fx_close(&f);
}

static void test_429_retry_after_http_date(void)
{
    fx f;
    fx_open(&f);
    char date[LIRA_HTTPDATE_SIZE], line[64];
    CHECK_EQ(lira_httpdate_format(lira_engine_wall(f.e) / SEC + 5, date, sizeof date), LIRA_OK);
    snprintf(line, sizeof line, "Retry-After: %s", date);
    const char *ra[] = {line, NULL};
    fx_push_h(&f, NULL, 429, ra, NULL, 0);
    fx_push_h(&f, NULL, 200, NULL, "ok", 0);
    lira_call_spec s = fx_spec("GET", URL);
    s.retry.backoff.base_ns = 10 * MS;
    outcome o;
    CHECK_EQ(fx_start(&f, &s, &o), LIRA_OK);
    fx_wait(&f, &o);
    CHECK_EQ(o.r.attempts, 2);
    CHECK_INT(fx_gap(&f, 1), >=, 5 * SEC);
    CHECK_INT(fx_gap(&f, 1), <=, 6 * SEC);
    outcome_free(&o);
    fx_close(&f);
}

/* 503's Retry-After counts too, and a backoff longer than it wins. */
static void test_delay_is_max_of_backoff_and_retry_after(void)
{
    fx f;
    fx_open(&f);
    const char *ra[] = {"Retry-After: 1", NULL};
    fx_push_h(&f, NULL, 503, ra, NULL, 0);
    fx_push_h(&f, NULL, 503, ra, NULL, 0);
    fx_push_h(&f, NULL, 200, NULL, NULL, 0);
    lira_call_spec s = fx_spec("GET", URL);
    s.retry.backoff.base_ns = 2 * SEC;   /* > Retry-After */
    s.retry.backoff.cap_ns = 10 * SEC;
    outcome o;
    CHECK_EQ(fx_start(&f, &s, &o), LIRA_OK);
    fx_wait(&f, &o);
    CHECK_EQ(o.r.attempts, 3);
    CHECK_EQ(fx_gap(&f, 1), 2 * SEC);
    CHECK_EQ(fx_gap(&f, 2), 4 * SEC);
    outcome_free(&o);
    fx_close(&f);
}

/* Full jitter: gap n in [interval(n), min(cap, 2 x interval(n))]. */
static void test_backoff_gaps_within_jitter_bounds(void)
{
    lira_upstream_config c = fx_config();
    c.budget_on = 0;
    fx f;
    fx_open_cfg(&f, &c, 42);
    fx_push(&f, NULL, 503, LIRA_FAIL_NONE, 0, 1);
    lira_call_spec s = fx_spec("GET", URL);
    s.retry.attempts = 6;
    s.retry.backoff.jitter = LIRA_JITTER_FULL;
    s.retry.backoff.base_ns = 100 * MS;
    s.retry.backoff.cap_ns = 1 * SEC;
    int64_t lo_seen = INT64_MAX, hi_seen = 0;
    for (int call = 0; call < 30; call++) {
        size_t first = lira_script_count(f.t);
        outcome o;
        CHECK_EQ(fx_start(&f, &s, &o), LIRA_OK);
        fx_wait(&f, &o);
        CHECK_EQ(o.r.attempts, 6);
        for (int n = 1; n < 6; n++) {
            int64_t iv = 100 * MS << (n - 1);
            if (iv > SEC)
                iv = SEC;
            int64_t hi = 2 * iv < SEC ? 2 * iv : SEC, gap = fx_gap(&f, first + (size_t)n);
            CHECK_INT(gap, >=, iv);
            CHECK_INT(gap, <=, hi);
            if (n == 1 && gap < lo_seen)
                lo_seen = gap;
            if (n == 1 && gap > hi_seen)
                hi_seen = gap;
        }
        outcome_free(&o);
    }
    /* the jitter really spreads: first gaps cover most of [100, 200] ms */
    CHECK_INT(lo_seen, <, 120 * MS);
    CHECK_INT(hi_seen, >, 180 * MS);
    fx_close(&f);
}

static void test_attempts_cap(void)
{
    for (int attempts = 1; attempts <= 5; attempts += 2) {
        fx f;
        fx_open(&f);
        fx_push(&f, NULL, 502, LIRA_FAIL_NONE, 0, 1);
        lira_call_spec s = fx_spec("GET", URL);
        s.retry.attempts = attempts;
        outcome o;
        CHECK_EQ(fx_start(&f, &s, &o), LIRA_OK);
        fx_wait(&f, &o);
        CHECK_EQ(lira_script_count(f.t), (size_t)attempts);
        CHECK_EQ(o.r.attempts, attempts);
        CHECK_EQ(o.r.stop, LIRA_STOP_ATTEMPTS);
        CHECK(o.r.res && o.r.res->status == 502);
        outcome_free(&o);
        fx_close(&f);
    }
}

static void test_max_elapsed(void)
{
    fx f;
    fx_open(&f);
    fx_push(&f, NULL, 503, LIRA_FAIL_NONE, 0, 1);
    lira_call_spec s = fx_spec("GET", URL);
    s.retry.attempts = 10;
    s.retry.max_elapsed_ns = 1 * SEC;
    s.retry.backoff.base_ns = 400 * MS;
    s.retry.backoff.cap_ns = 10 * SEC;
    outcome o;
    CHECK_EQ(fx_start(&f, &s, &o), LIRA_OK);
    fx_wait(&f, &o);
    /* 0, 0.4; the next would start at 1.2 s > 1 s */
    CHECK_EQ(o.r.attempts, 2);
    CHECK_EQ(o.r.stop, LIRA_STOP_MAX_ELAPSED);
    CHECK(o.r.res && o.r.res->status == 503);
    CHECK_EQ(o.done_at, 400 * MS);
    outcome_free(&o);
    fx_close(&f);
}

/* ------------------------------------------------------------ deadline */

static void test_deadline_shrinks_attempt_timeout(void)
{
    fx f;
    fx_open(&f);
    fx_push(&f, NULL, 200, LIRA_FAIL_NONE, LIRA_SCRIPT_HANG, 1);
    lira_call_spec s = fx_spec("GET", URL);
    s.read_timeout_ns = 10 * SEC;
    s.deadline_ns = lira_engine_now(f.e) + 25 * SEC;
    s.retry.backoff.base_ns = 200 * MS;
    outcome o;
    CHECK_EQ(fx_start(&f, &s, &o), LIRA_OK);
    fx_wait(&f, &o);
    CHECK_EQ(o.r.attempts, 3);
    CHECK_EQ(o.r.kind, LIRA_KIND_DEADLINE);
    CHECK_EQ(o.r.stop, LIRA_STOP_DEADLINE);
    CHECK(o.r.res == NULL);
    CHECK_EQ(o.r.elapsed_ns, 25 * SEC);
    CHECK_EQ(fx_req(&f, 0)->timeout_ns, 10 * SEC);
    CHECK_EQ(fx_req(&f, 1)->timeout_ns, 10 * SEC);
    CHECK_EQ(fx_req(&f, 1)->at_ns, 10 * SEC + 200 * MS);
    /* the third starts at 20.6 s: 4.4 s left */
    CHECK_EQ(fx_req(&f, 2)->timeout_ns, 4400 * MS);
    CHECK(strstr(o.r.message, "deadline exceeded after 25.0 s (attempt 3 of 4)") != NULL);
    outcome_free(&o);
    fx_close(&f);
}

static void test_timeout_kind_and_message(void)
{
    fx f;
    fx_open(&f);
    lira_script_step hang = {.status = 200, .delay_ns = LIRA_SCRIPT_HANG, .repeat = 1};
    CHECK_EQ(lira_script_push(f.t, NULL, &hang), LIRA_OK);
    lira_call_spec s = fx_spec("GET", URL);
    s.retry.attempts = 4;
    outcome o;
    CHECK_EQ(fx_start(&f, &s, &o), LIRA_OK);
    fx_wait(&f, &o);
    CHECK_EQ(o.r.kind, LIRA_KIND_TIMEOUT);
    CHECK_EQ(o.r.stop, LIRA_STOP_ATTEMPTS);
    CHECK_EQ(o.r.last_retry_reason, LIRA_RR_TIMEOUT);
    CHECK_STR(o.r.message, "GET /orders/42: timed out after 10.0 s (attempt 4 of 4)");
    CHECK_EQ(fx_req(&f, 3)->timeout_ns, 10 * SEC);
    outcome_free(&o);
    fx_close(&f);
}

/* A deadline already short: the slow step is cut, kind deadline at once. */
static void test_deadline_cuts_first_attempt(void)
{
    fx f;
    fx_open(&f);
    fx_push(&f, NULL, 200, LIRA_FAIL_NONE, 5 * SEC, 1);
    lira_call_spec s = fx_spec("GET", URL);
    s.deadline_ns = lira_engine_now(f.e) + 2 * SEC;
    outcome o;
    CHECK_EQ(fx_start(&f, &s, &o), LIRA_OK);
    fx_wait(&f, &o);
    CHECK_EQ(o.r.attempts, 1);
    CHECK_EQ(o.r.kind, LIRA_KIND_DEADLINE);
    CHECK_EQ(fx_req(&f, 0)->timeout_ns, 2 * SEC);
    CHECK_EQ(o.done_at, 2 * SEC);
    outcome_free(&o);
    fx_close(&f);
}

/* ------------------------------------------------------------ messages */

static void test_message_redacts_url(void)
{
    fx f;
    fx_open(&f);
    fx_push(&f, NULL, 404, LIRA_FAIL_NONE, 0, 0);
    fx_push(&f, NULL, 0, LIRA_FAIL_CONNECT, 0, 1);
    lira_call_spec s = fx_spec("GET", "https://bob:hunter2@api.test/x?access_token=s3cr3t&q=1");
    outcome o;
    CHECK_EQ(fx_start(&f, &s, &o), LIRA_OK);
    fx_wait(&f, &o);
    CHECK_STR(o.r.message, "");   /* a final response needs no error message */
    outcome_free(&o);
    s.retry.attempts = 2;
    CHECK_EQ(fx_start(&f, &s, &o), LIRA_OK);
    fx_wait(&f, &o);
    CHECK_EQ(o.r.kind, LIRA_KIND_CONNECT);
    CHECK(strstr(o.r.message, "s3cr3t") == NULL && strstr(o.r.message, "hunter2") == NULL);
    CHECK(strstr(o.r.message, "GET /x?access_token=REDACTED&q=1: ") == o.r.message);
    CHECK(strstr(o.r.message, "connect: Failed to connect") != NULL);
    CHECK(strstr(o.r.message, "(attempt 2 of 2)") != NULL);
    outcome_free(&o);
    fx_close(&f);
}

/* ------------------------------------------------------------ hooks */

static int retry_while_pending(void *ud, const lira_http_response *res, int attempt)
{
    (void)attempt;
    int *calls = ud;
    (*calls)++;
    if (res->status == 503)
        return 0;   /* this API's 503 means "gone for good" */
    return res->body && strcmp(res->body, "pending") == 0 ? 1 : -1;
}

typedef struct seen_attempts {
    int n;
    int64_t delays[8];
    lira_retry_reason reasons[8];
} seen_attempts;

static void note_attempt(void *ud, const lira_call_attempt *a)
{
    seen_attempts *s = ud;
    if (s->n < 8) {
        s->delays[s->n] = a->next_delay_ns;
        s->reasons[s->n] = a->retry_reason;
    }
    s->n++;
}

static void test_retry_hook(void)
{
    fx f;
    fx_open(&f);
    fx_push_h(&f, NULL, 200, NULL, "pending", 0);
    fx_push_h(&f, NULL, 200, NULL, "pending", 0);
    fx_push_h(&f, NULL, 200, NULL, "done", 0);
    int calls = 0;
    lira_call_spec s = fx_spec("GET", URL);
    s.retry_hook = retry_while_pending;
    s.hook_ud = &calls;
    outcome o;
    CHECK_EQ(fx_start(&f, &s, &o), LIRA_OK);
    fx_wait(&f, &o);
    CHECK_EQ(o.r.attempts, 3);
    CHECK_EQ(calls, 3);
    CHECK(o.r.res && strcmp(o.r.res->body, "done") == 0);
    CHECK_EQ(fx_gap(&f, 2), 200 * MS);   /* backoff still applies */
    outcome_free(&o);
    /* 0 stops a 503 */
    fx_push(&f, NULL, 503, LIRA_FAIL_NONE, 0, 1);
    CHECK_EQ(fx_start(&f, &s, &o), LIRA_OK);
    fx_wait(&f, &o);
    CHECK_EQ(o.r.attempts, 1);
    CHECK_EQ(o.r.stop, LIRA_STOP_STATUS);
    CHECK_EQ(o.r.retryable, 0);
    outcome_free(&o);
    fx_close(&f);
}

/* retry_hook = 1 does not make a keyless POST repeatable; idempotent = 1 does. */
static void test_retry_hook_keeps_idempotency_rule(void)
{
    fx f;
    fx_open(&f);
    fx_push_h(&f, NULL, 200, NULL, "pending", 1);
    int calls = 0;
    lira_call_spec s = fx_spec("POST", "http://api.test/search");
    s.retry_hook = retry_while_pending;
    s.hook_ud = &calls;
    outcome o;
    CHECK_EQ(fx_start(&f, &s, &o), LIRA_OK);
    fx_wait(&f, &o);
    CHECK_EQ(o.r.attempts, 1);
    CHECK_EQ(o.r.stop, LIRA_STOP_NOT_IDEMPOTENT);
    outcome_free(&o);
    s.idempotent = 1;
    s.retry.attempts = 3;
    CHECK_EQ(fx_start(&f, &s, &o), LIRA_OK);
    fx_wait(&f, &o);
    CHECK_EQ(o.r.attempts, 3);
    CHECK_EQ(o.r.stop, LIRA_STOP_ATTEMPTS);
    CHECK_EQ(o.r.last_retry_reason, LIRA_RR_STATUS_5XX);
    outcome_free(&o);
    fx_close(&f);
}

static void test_attempt_hook(void)
{
    fx f;
    fx_open(&f);
    fx_push(&f, NULL, 500, LIRA_FAIL_NONE, 0, 0);
    fx_push(&f, NULL, 0, LIRA_FAIL_DNS, 0, 0);
    fx_push(&f, NULL, 200, LIRA_FAIL_NONE, 0, 0);
    seen_attempts seen = {0};
    lira_call_spec s = fx_spec("GET", URL);
    s.attempt_hook = note_attempt;
    s.hook_ud = &seen;
    outcome o;
    CHECK_EQ(fx_start(&f, &s, &o), LIRA_OK);
    fx_wait(&f, &o);
    CHECK_EQ(seen.n, 3);
    CHECK_EQ(seen.reasons[0], LIRA_RR_STATUS_5XX);
    CHECK_EQ(seen.reasons[1], LIRA_RR_DNS);
    CHECK_EQ(seen.reasons[2], LIRA_RR_NONE);
    CHECK_EQ(seen.delays[0], 100 * MS);
    CHECK_EQ(seen.delays[1], 200 * MS);
    CHECK_EQ(seen.delays[2], -1);
    CHECK_EQ(o.r.elapsed_ns, 300 * MS);
    outcome_free(&o);
    fx_close(&f);
}

static void test_invalid_arguments(void)
{
    fx f;
    fx_open(&f);
    outcome o;
    lira_call_spec s = fx_spec("GET", URL);
    CHECK_EQ(lira_call_start(NULL, f.u, &s, fx_on_done, &o, NULL), LIRA_EINVAL);
    CHECK_EQ(lira_call_start(f.e, NULL, &s, fx_on_done, &o, NULL), LIRA_EINVAL);
    CHECK_EQ(lira_call_start(f.e, f.u, NULL, fx_on_done, &o, NULL), LIRA_EINVAL);
    CHECK_EQ(lira_call_start(f.e, f.u, &s, NULL, &o, NULL), LIRA_EINVAL);
    lira_call_spec bad = s;
    bad.req.url = NULL;
    CHECK_EQ(fx_start(&f, &bad, &o), LIRA_EINVAL);
    bad = s;
    bad.retry.attempts = 0;
    CHECK_EQ(fx_start(&f, &bad, &o), LIRA_EINVAL);
    bad = s;
    bad.req.body_len = 3;
    CHECK_EQ(fx_start(&f, &bad, &o), LIRA_EINVAL);
    bad = s;
    bad.read_timeout_ns = -1;
    CHECK_EQ(fx_start(&f, &bad, &o), LIRA_EINVAL);
    fx_drain(&f);
    CHECK_EQ(o.done, 0);
    CHECK_EQ(lira_script_count(f.t), 0u);
    CHECK_STR(lira_error_kind_name(LIRA_KIND_RATE_LIMITED), "rate_limited");
    CHECK_STR(lira_error_kind_name(LIRA_KIND_COUNT_), "unknown");
    fx_close(&f);
}

int main(void)
{
    RUN(test_rule_table);
    RUN(test_post_with_key_same_headers_every_attempt);
    RUN(test_spec_copied);
    RUN(test_429_retry_after_seconds);
    RUN(test_429_retry_after_http_date);
    RUN(test_delay_is_max_of_backoff_and_retry_after);
    RUN(test_backoff_gaps_within_jitter_bounds);
    RUN(test_attempts_cap);
    RUN(test_max_elapsed);
    RUN(test_deadline_shrinks_attempt_timeout);
    RUN(test_timeout_kind_and_message);
    RUN(test_deadline_cuts_first_attempt);
    RUN(test_message_redacts_url);
    RUN(test_retry_hook);
    RUN(test_retry_hook_keeps_idempotency_rule);
    RUN(test_attempt_hook);
    RUN(test_invalid_arguments);
    return check_summary();
}
