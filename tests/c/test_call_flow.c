/* The call pipeline's shared state and control flow on a virtual clock:
 * retry budget, breaker, limiter (pacing, deadline, header adaptation),
 * cancel in every phase, upstream sharing, engine teardown. */
#include "call_fixture.h"

#define URL "http://api.test/orders/42"

/* ------------------------------------------------------------ budget */

static void test_budget_exhaustion_returns_last_response(void)
{
    fx f;
    fx_open(&f);   /* budget on: ratio 0.1, 10/s floor */
    fx_push(&f, NULL, 503, LIRA_FAIL_NONE, 0, 1);
    lira_call_spec s = fx_spec("GET", URL);
    s.retry.backoff.base_ns = 1 * MS;
    s.retry.backoff.cap_ns = 1 * MS;
    enum { N = 30 };
    outcome o[N];
    for (int i = 0; i < N; i++)
        CHECK_EQ(fx_start(&f, &s, &o[i]), LIRA_OK);
    fx_drain(&f);
    int retries = 0, budget_stops = 0;
    for (int i = 0; i < N; i++) {
        CHECK_EQ(o[i].done, 1);
        retries += o[i].r.attempts - 1;
        if (o[i].r.stop == LIRA_STOP_BUDGET) {
            budget_stops++;
            CHECK_EQ(o[i].r.kind, LIRA_KIND_NONE);
            CHECK(o[i].r.res && o[i].r.res->status == 503);
            CHECK_EQ(o[i].r.last_retry_reason, LIRA_RR_STATUS_5XX);
            CHECK(strstr(o[i].r.message, "HTTP 503, stopped: budget") != NULL);
        }
        outcome_free(&o[i]);
    }
    /* all in one second: floor(0.1 x 30) + 10 */
    CHECK_EQ(retries, 13);
    CHECK_INT(budget_stops, >=, N - 13);
    CHECK_EQ(lira_script_count(f.t), (size_t)(N + 13));
    fx_close(&f);
}

/* Budget refusal without a response: kind budget. */
static void test_budget_kind_without_response(void)
{
    lira_upstream_config c = fx_config();
    c.budget_ratio = 0;
    c.budget_min_per_second = 0;
    fx f;
    fx_open_cfg(&f, &c, 1);
    fx_push(&f, NULL, 0, LIRA_FAIL_CONNECT, 0, 1);
    lira_call_spec s = fx_spec("GET", URL);
    outcome o;
    CHECK_EQ(fx_start(&f, &s, &o), LIRA_OK);
    fx_wait(&f, &o);
    CHECK_EQ(o.r.attempts, 1);
    CHECK_EQ(o.r.kind, LIRA_KIND_BUDGET);
    CHECK_EQ(o.r.stop, LIRA_STOP_BUDGET);
    CHECK_EQ(o.r.retryable, 1);
    CHECK(strstr(o.r.message, "retry budget of 'api' spent (after connect)") != NULL);
    fx_close(&f);
}

/* ------------------------------------------------------------ breaker */

static lira_upstream_config breaker_config(void)
{
    lira_upstream_config c = fx_config();
    c.breaker_on = 1;
    c.breaker.min_calls = 5;
    c.breaker.cooldown_ns = 10 * SEC;
    c.breaker.half_open_calls = 2;
    return c;
}

static lira_breaker_state breaker_state(fx *f)
{
    lira_breaker_state st = LIRA_BREAKER_DISABLED;
    CHECK_EQ(lira_breaker_get_state(lira_upstream_breaker(f->u), lira_engine_now(f->e), &st),
             LIRA_OK);
    return st;
}

static void run_one(fx *f, const lira_call_spec *s, outcome *o)
{
    CHECK_EQ(fx_start(f, s, o), LIRA_OK);
    fx_wait(f, o);
}

static void test_breaker_opens_fails_fast_and_recovers(void)
{
    lira_upstream_config c = breaker_config();
    fx f;
    fx_open_cfg(&f, &c, 1);
    lira_call_spec s = fx_spec("GET", URL);
    s.retry.attempts = 1;
    outcome o;
    for (int i = 0; i < 5; i++) {
        fx_push(&f, NULL, 503, LIRA_FAIL_NONE, 10 * MS, 0);
        run_one(&f, &s, &o);
        outcome_free(&o);
    }
    CHECK_EQ(breaker_state(&f), LIRA_BREAKER_OPEN);
    /* fail fast: no traffic, done from a later step, retry_after = cooldown left */
    run_one(&f, &s, &o);
    CHECK_EQ(o.r.kind, LIRA_KIND_BREAKER_OPEN);
    CHECK_EQ(o.r.stop, LIRA_STOP_BREAKER_OPEN);
    CHECK_EQ(o.r.attempts, 0);
    CHECK_EQ(o.r.retry_after_ns, 10 * SEC);
    CHECK(strstr(o.r.message, "circuit breaker of 'api' is open (half-open in 10.0 s)") != NULL);
    CHECK_EQ(lira_script_count(f.t), 5u);
    /* half-open after the cooldown: two trials admitted, a third refused */
    fx_advance(&f, 10 * SEC);
    fx_push(&f, NULL, 200, LIRA_FAIL_NONE, 1 * SEC, 1);
    outcome t[3];
    for (int i = 0; i < 3; i++)
        CHECK_EQ(fx_start(&f, &s, &t[i]), LIRA_OK);
    fx_drain(&f);
    CHECK(t[0].r.res && t[0].r.res->status == 200);
    CHECK(t[1].r.res && t[1].r.res->status == 200);
    CHECK_EQ(t[2].r.kind, LIRA_KIND_BREAKER_OPEN);
    CHECK_EQ(lira_script_count(f.t), 7u);
    CHECK_EQ(breaker_state(&f), LIRA_BREAKER_CLOSED);
    for (int i = 0; i < 3; i++)
        outcome_free(&t[i]);
    run_one(&f, &s, &o);
    CHECK(o.r.res && o.r.res->status == 200);
    outcome_free(&o);
    fx_close(&f);
}

/* A retry refused because the breaker opened under the call: the last
 * response comes back with stop breaker_open. */
static void test_breaker_stops_retries(void)
{
    lira_upstream_config c = breaker_config();
    c.breaker.min_calls = 3;
    fx f;
    fx_open_cfg(&f, &c, 1);
    fx_push(&f, NULL, 503, LIRA_FAIL_NONE, 0, 1);
    lira_call_spec s = fx_spec("GET", URL);
    s.retry.attempts = 10;
    outcome o;
    run_one(&f, &s, &o);
    CHECK_EQ(o.r.attempts, 3);
    CHECK_EQ(o.r.stop, LIRA_STOP_BREAKER_OPEN);
    CHECK(o.r.res && o.r.res->status == 503);
    outcome_free(&o);
    fx_close(&f);
}

static int not_found_fails(void *ud, const lira_http_response *res)
{
    (void)ud;
    if (res->status == 404)
        return 1;
    return res->status == 503 ? 0 : -1;
}

static void test_failure_hook(void)
{
    lira_upstream_config c = breaker_config();
    fx f;
    fx_open_cfg(&f, &c, 1);
    lira_call_spec s = fx_spec("GET", URL);
    s.retry.attempts = 1;
    s.failure_hook = not_found_fails;
    outcome o;
    fx_push(&f, "/a", 503, LIRA_FAIL_NONE, 0, 1);
    fx_push(&f, "/b", 404, LIRA_FAIL_NONE, 0, 1);
    s.req.url = "http://api.test/a";
    for (int i = 0; i < 10; i++) {   /* 503 counts as a success here */
        run_one(&f, &s, &o);
        outcome_free(&o);
    }
    CHECK_EQ(breaker_state(&f), LIRA_BREAKER_CLOSED);
    s.req.url = "http://api.test/b";
    for (int i = 0; i < 10; i++) {
        run_one(&f, &s, &o);
        outcome_free(&o);
    }
    CHECK_EQ(breaker_state(&f), LIRA_BREAKER_OPEN);
    /* 10 x 503 successes + 404 failures: open once failures reach half */
    CHECK_EQ(lira_script_count(f.t), 20u);
    fx_close(&f);
}

/* too_large is not the upstream's fault: it never trips the breaker. */
static void test_breaker_ignores_too_large(void)
{
    lira_upstream_config c = breaker_config();
    fx f;
    fx_open_cfg(&f, &c, 1);
    fx_push(&f, NULL, 200, LIRA_FAIL_TOO_LARGE, 0, 1);
    lira_call_spec s = fx_spec("GET", URL);
    outcome o;
    for (int i = 0; i < 8; i++) {
        run_one(&f, &s, &o);
        CHECK_EQ(o.r.kind, LIRA_KIND_TOO_LARGE);
        outcome_free(&o);
    }
    CHECK_EQ(breaker_state(&f), LIRA_BREAKER_CLOSED);
    fx_close(&f);
}

/* ------------------------------------------------------------ limiter */

static lira_upstream_config paced_config(void)
{
    lira_upstream_config c = fx_config();
    c.limiter.rate = 10;
    c.limiter.per = 1;
    c.limiter.burst = 1;
    c.limiter.target = 0.5;   /* 5/s: one every 200 ms */
    return c;
}

static void test_limiter_pacing(void)
{
    lira_upstream_config c = paced_config();
    fx f;
    fx_open_cfg(&f, &c, 1);
    fx_push(&f, NULL, 200, LIRA_FAIL_NONE, 0, 1);
    lira_call_spec s = fx_spec("GET", URL);
    outcome o[5];
    for (int i = 0; i < 5; i++)
        CHECK_EQ(fx_start(&f, &s, &o[i]), LIRA_OK);
    fx_drain(&f);
    CHECK_EQ(lira_script_count(f.t), 5u);
    CHECK_EQ(fx_req(&f, 0)->at_ns, 0);
    for (size_t i = 1; i < 5; i++)
        CHECK_NEAR(fx_gap(&f, i), 200 * MS, 1000);
    for (int i = 0; i < 5; i++)
        outcome_free(&o[i]);
    fx_close(&f);
}

static void test_limiter_wait_past_deadline(void)
{
    lira_upstream_config c = paced_config();
    fx f;
    fx_open_cfg(&f, &c, 1);
    fx_push(&f, NULL, 200, LIRA_FAIL_NONE, 0, 1);
    lira_call_spec s = fx_spec("GET", URL);
    s.deadline_ns = 300 * MS;
    outcome o[3];
    for (int i = 0; i < 3; i++)
        CHECK_EQ(fx_start(&f, &s, &o[i]), LIRA_OK);
    fx_drain(&f);
    CHECK(o[0].r.res && o[1].r.res);
    CHECK_EQ(o[2].r.kind, LIRA_KIND_RATE_LIMITED);
    CHECK_EQ(o[2].r.attempts, 0);
    CHECK_NEAR(o[2].r.retry_after_ns, 400 * MS, 1000);
    CHECK_EQ(o[2].done_at, 0);   /* refused at once, not after waiting */
    CHECK(strstr(o[2].r.message, "rate limited by 'api'") != NULL);
    CHECK_EQ(lira_script_count(f.t), 2u);
    for (int i = 0; i < 3; i++)
        outcome_free(&o[i]);
    fx_close(&f);
}

static void test_limiter_header_adaptation(void)
{
    fx f;
    fx_open(&f);   /* headers-only limiter, reading headers */
    const char *h[] = {"X-RateLimit-Limit: 100", "X-RateLimit-Remaining: 0",
                       "X-RateLimit-Reset: 30", NULL};
    fx_push_h(&f, NULL, 200, h, "{}", 0);
    fx_push_h(&f, NULL, 200, NULL, "{}", 1);
    lira_call_spec s = fx_spec("GET", URL);
    outcome o;
    run_one(&f, &s, &o);
    outcome_free(&o);
    run_one(&f, &s, &o);
    CHECK(o.r.res && o.r.res->status == 200);
    CHECK_INT(fx_req(&f, 1)->at_ns, >=, 30 * SEC);
    CHECK_INT(fx_req(&f, 1)->at_ns, <=, 31 * SEC);
    outcome_free(&o);
    /* read_headers = 0: the same answer no longer paces */
    lira_upstream_config c = fx_config();
    c.read_headers = 0;
    lira_upstream *u2 = NULL;
    CHECK_EQ(lira_upstream_get(f.e, "api", &c, &u2), LIRA_OK);
    fx_push_h(&f, "/once", 200, h, "{}", 1);
    lira_call_spec s2 = fx_spec("GET", "http://api.test/once");
    int64_t t0 = lira_engine_now(f.e);
    for (int i = 0; i < 2; i++) {
        run_one(&f, &s2, &o);
        outcome_free(&o);
    }
    CHECK_EQ(lira_engine_now(f.e), t0);
    lira_upstream_release(u2);
    fx_close(&f);
}

/* A 429's Retry-After also holds back the other calls on the upstream. */
static void test_retry_after_blocks_other_calls(void)
{
    fx f;
    fx_open(&f);
    const char *h[] = {"Retry-After: 2", NULL};
    fx_push_h(&f, NULL, 429, h, NULL, 0);
    fx_push_h(&f, NULL, 200, NULL, NULL, 1);
    lira_call_spec s = fx_spec("GET", URL);
    s.retry.attempts = 1;
    outcome o;
    run_one(&f, &s, &o);
    CHECK(o.r.res && o.r.res->status == 429);
    CHECK_EQ(o.r.retry_after_ns, 2 * SEC);
    outcome_free(&o);
    run_one(&f, &s, &o);
    CHECK_INT(fx_req(&f, 1)->at_ns, >=, 2 * SEC);
    outcome_free(&o);
    fx_close(&f);
}

/* ------------------------------------------------------------ cancel */

static void count_attempt(void *ud, const lira_call_attempt *a)
{
    (void)a;
    (*(int *)ud)++;
}

static void test_cancel_waiting_for_token(void)
{
    lira_upstream_config c = paced_config();
    fx f;
    fx_open_cfg(&f, &c, 1);
    fx_push(&f, NULL, 200, LIRA_FAIL_NONE, 0, 1);
    lira_call_spec s = fx_spec("GET", URL);
    outcome a, b;
    lira_call *cb = NULL;
    CHECK_EQ(fx_start(&f, &s, &a), LIRA_OK);
    lira_limiter *l = lira_upstream_limiter(f.u);
    double before = lira_limiter_available(l, 0);
    CHECK_EQ(fx_start_u(&f, f.u, &s, &b, &cb), LIRA_OK);
    CHECK(lira_limiter_available(l, 0) < before);
    lira_call_cancel(cb);
    CHECK_EQ(b.done, 1);
    CHECK_EQ(b.r.kind, LIRA_KIND_CANCELLED);
    CHECK_EQ(b.r.stop, LIRA_STOP_CANCELLED);
    CHECK_EQ(b.r.attempts, 0);
    CHECK_NEAR(lira_limiter_available(l, 0), before, 1e-9);   /* the token came back */
    fx_drain(&f);
    CHECK_EQ(lira_script_count(f.t), 1u);
    CHECK_EQ(b.done, 1);
    outcome_free(&a);
    fx_close(&f);
}

static void test_cancel_in_backoff(void)
{
    fx f;
    fx_open(&f);
    fx_push(&f, NULL, 503, LIRA_FAIL_NONE, 0, 1);
    int attempts = 0;
    lira_call_spec s = fx_spec("GET", URL);
    s.attempt_hook = count_attempt;
    s.hook_ud = &attempts;
    outcome o;
    lira_call *c = NULL;
    CHECK_EQ(fx_start_u(&f, f.u, &s, &o, &c), LIRA_OK);
    while (attempts == 0)
        CHECK_INT(lira_engine_step(f.e, 0), >=, 0);
    CHECK(lira_engine_busy(f.e));   /* the backoff timer */
    lira_call_cancel(c);
    CHECK_EQ(o.done, 1);
    CHECK_EQ(o.r.kind, LIRA_KIND_CANCELLED);
    CHECK(o.r.res == NULL);
    CHECK_EQ(o.r.attempts, 1);
    CHECK(!lira_engine_busy(f.e));
    fx_drain(&f);
    CHECK_EQ(lira_script_count(f.t), 1u);
    fx_close(&f);
}

static void test_cancel_in_flight(void)
{
    lira_upstream_config cfg = breaker_config();
    fx f;
    fx_open_cfg(&f, &cfg, 1);
    fx_push(&f, NULL, 200, LIRA_FAIL_NONE, 5 * SEC, 0);
    lira_script_step hang = {.status = 200, .delay_ns = LIRA_SCRIPT_HANG};
    CHECK_EQ(lira_script_push(f.t, "/hang", &hang), LIRA_OK);
    lira_call_spec s = fx_spec("GET", URL);
    outcome o;
    lira_call *c = NULL;
    CHECK_EQ(fx_start_u(&f, f.u, &s, &o, &c), LIRA_OK);
    CHECK_EQ(lira_script_in_flight(f.t), 1u);
    CHECK(lira_engine_busy(f.e));
    lira_call_cancel(c);
    CHECK_EQ(o.done, 1);
    CHECK_EQ(o.r.kind, LIRA_KIND_CANCELLED);
    CHECK_EQ(o.r.attempts, 1);
    CHECK_EQ(lira_script_in_flight(f.t), 0u);
    CHECK(fx_req(&f, 0)->done && fx_req(&f, 0)->failure == LIRA_FAIL_CANCELLED);
    lira_breaker_stats st;
    CHECK_EQ(lira_breaker_get_stats(lira_upstream_breaker(f.u), 0, &st), LIRA_OK);
    CHECK_EQ(st.calls, 0u);   /* the permit was cancelled, not recorded */
    /* read timeout 0 = the 10 s default: a hang ends as a timeout */
    lira_call_spec sh = fx_spec("GET", "http://api.test/hang");
    sh.read_timeout_ns = 0;
    sh.retry.attempts = 1;
    outcome oh;
    CHECK_EQ(fx_start_u(&f, f.u, &sh, &oh, &c), LIRA_OK);
    CHECK_EQ(fx_req(&f, 1)->timeout_ns, 10 * SEC);
    fx_wait(&f, &oh);
    CHECK_EQ(oh.r.kind, LIRA_KIND_TIMEOUT);
    fx_close(&f);
}

/* Refused at once (breaker open), cancelled before the deferred done: one
 * done, with cancelled. */
static void test_cancel_before_deferred_done(void)
{
    lira_upstream_config cfg = breaker_config();
    fx f;
    fx_open_cfg(&f, &cfg, 1);
    CHECK_EQ(lira_breaker_force_open(lira_upstream_breaker(f.u), 0), LIRA_OK);
    lira_call_spec s = fx_spec("GET", URL);
    outcome o;
    lira_call *c = NULL;
    CHECK_EQ(fx_start_u(&f, f.u, &s, &o, &c), LIRA_OK);
    CHECK_EQ(o.done, 0);
    lira_call_cancel(c);
    CHECK_EQ(o.done, 1);
    CHECK_EQ(o.r.kind, LIRA_KIND_CANCELLED);
    fx_drain(&f);
    CHECK_EQ(o.done, 1);
    /* and uncancelled: breaker_open with no known retry_after (forced) */
    run_one(&f, &s, &o);
    CHECK_EQ(o.r.kind, LIRA_KIND_BREAKER_OPEN);
    CHECK_EQ(o.r.retry_after_ns, -1);
    fx_close(&f);
}

/* ------------------------------------------------------------ upstreams */

static void test_same_name_shares_state(void)
{
    lira_upstream_config c = breaker_config();
    fx f;
    fx_open_cfg(&f, &c, 1);
    lira_upstream *again = NULL, *other = NULL;
    CHECK_EQ(lira_upstream_get(f.e, "api", &c, &again), LIRA_OK);
    CHECK(again == f.u);
    CHECK_STR(lira_upstream_name(again), "api");
    CHECK_EQ(lira_upstream_get(f.e, "other", &c, &other), LIRA_OK);
    CHECK(other != f.u);
    CHECK_EQ(lira_breaker_force_open(lira_upstream_breaker(f.u), 0), LIRA_OK);
    lira_call_spec s = fx_spec("GET", URL);
    outcome o;
    CHECK_EQ(fx_start_u(&f, again, &s, &o, NULL), LIRA_OK);
    fx_wait(&f, &o);
    CHECK_EQ(o.r.kind, LIRA_KIND_BREAKER_OPEN);
    /* a changed limiter is re-created; the breaker keeps its state */
    lira_upstream_config c2 = c;
    c2.limiter.rate = 5;
    c2.limiter.burst = 2;
    lira_upstream *third = NULL;
    CHECK_EQ(lira_upstream_get(f.e, "api", &c2, &third), LIRA_OK);
    CHECK(third == f.u);
    lira_breaker_state st;
    CHECK_EQ(lira_breaker_get_state(lira_upstream_breaker(third), 0, &st), LIRA_OK);
    CHECK_EQ(st, LIRA_BREAKER_FORCED_OPEN);
    CHECK_NEAR(lira_limiter_available(lira_upstream_limiter(third), 0), 2, 1e-9);
    /* a changed breaker is re-created (closed); turning parts off removes them */
    c2.breaker.cooldown_ns = 20 * SEC;
    c2.budget_on = 0;
    c2.limiter_on = 0;
    CHECK_EQ(lira_upstream_get(f.e, "api", &c2, &third), LIRA_OK);
    CHECK_EQ(lira_breaker_get_state(lira_upstream_breaker(third), 0, &st), LIRA_OK);
    CHECK_EQ(st, LIRA_BREAKER_CLOSED);
    CHECK(lira_upstream_limiter(third) == NULL && lira_upstream_budget(third) == NULL);
    /* a bad config is refused and changes nothing */
    lira_upstream_config bad = c2;
    bad.breaker.failure_rate = 2;
    lira_upstream *none = NULL;
    CHECK_EQ(lira_upstream_get(f.e, "api", &bad, &none), LIRA_EINVAL);
    CHECK(none == NULL);
    CHECK_EQ(lira_upstream_get(f.e, "", &c, &none), LIRA_EINVAL);
    CHECK(lira_upstream_breaker(third) != NULL);
    lira_upstream_release(third);
    lira_upstream_release(third);
    lira_upstream_release(again);
    lira_upstream_release(other);
    fx_close(&f);
}

/* Engine teardown cancels live calls in each phase, once, without leaks,
 * and an upstream outliving the engine stays readable. */
static void test_engine_free_cancels_live_calls(void)
{
    lira_upstream_config c = paced_config();
    fx f;
    fx_open_cfg(&f, &c, 1);
    fx_push(&f, "/slow", 200, LIRA_FAIL_NONE, 30 * SEC, 1);
    fx_push(&f, "/fail", 503, LIRA_FAIL_NONE, 0, 1);
    lira_call_spec slow = fx_spec("GET", "http://api.test/slow");
    lira_call_spec fail = fx_spec("GET", "http://api.test/fail");
    fail.retry.backoff.base_ns = 60 * SEC;
    fail.retry.backoff.cap_ns = 60 * SEC;
    outcome o[4];
    CHECK_EQ(fx_start(&f, &slow, &o[0]), LIRA_OK);   /* in flight */
    CHECK_EQ(fx_start(&f, &fail, &o[1]), LIRA_OK);   /* waits 200 ms, then backoff */
    fx_advance(&f, 1 * SEC);
    CHECK_EQ(fx_start(&f, &slow, &o[2]), LIRA_OK);   /* takes the token: in flight */
    CHECK_EQ(fx_start(&f, &slow, &o[3]), LIRA_OK);   /* waiting for a token */
    CHECK_EQ(lira_script_in_flight(f.t), 2u);
    lira_upstream *keep = NULL;
    CHECK_EQ(lira_upstream_get(f.e, "api", &c, &keep), LIRA_OK);
    lira_engine_free(f.e);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(o[i].done, 1);
        CHECK_EQ(o[i].r.kind, LIRA_KIND_CANCELLED);
    }
    CHECK_EQ(o[1].r.attempts, 1);
    CHECK_EQ(o[3].r.attempts, 0);
    CHECK_STR(lira_upstream_name(keep), "api");
    CHECK(lira_upstream_breaker(keep) == NULL && lira_upstream_limiter(keep) != NULL);
    lira_engine *e2 = NULL;
    CHECK_EQ(lira_engine_new(NULL, &e2), LIRA_OK);
    outcome o5 = {0};
    CHECK_EQ(lira_call_start(e2, keep, &slow, fx_on_done, &o5, NULL), LIRA_ESTATE);
    lira_engine_free(e2);
    CHECK_EQ(o5.done, 0);
    lira_upstream_release(keep);
    lira_upstream_release(f.u);
    CHECK_EQ(fx_done_in_start, 0);
    CHECK_EQ(fx_done_twice, 0);
}

int main(void)
{
    RUN(test_budget_exhaustion_returns_last_response);
    RUN(test_budget_kind_without_response);
    RUN(test_breaker_opens_fails_fast_and_recovers);
    RUN(test_breaker_stops_retries);
    RUN(test_failure_hook);
    RUN(test_breaker_ignores_too_large);
    RUN(test_limiter_pacing);
    RUN(test_limiter_wait_past_deadline);
    RUN(test_limiter_header_adaptation);
    RUN(test_retry_after_blocks_other_calls);
    RUN(test_cancel_waiting_for_token);
    RUN(test_cancel_in_backoff);
    RUN(test_cancel_in_flight);
    RUN(test_cancel_before_deferred_done);
    RUN(test_same_name_shares_state);
    RUN(test_engine_free_cancels_live_calls);
    return check_summary();
}
