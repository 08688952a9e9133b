#include "check.h"

#include "retry.h"
#include "status.h"

#define MS INT64_C(1000000)
#define SEC INT64_C(1000000000)
#define START (1000 * SEC)
#define NO_RA (-1)

enum { BUDGET_NONE, BUDGET_AMPLE, BUDGET_SPENT };

/* One row: an attempt's outcome and context -> the expected decision. Times
 * are ms relative to the call's start; deadline 0 = none. The config is the
 * default (4 attempts, 200 ms doubling to 30 s, full jitter) with
 * max_elapsed 60 s. */
typedef struct retry_case {
    const char *name;
    int status;
    lira_failure failure;
    const char *method;
    bool key;
    int64_t retry_after_ms;
    int attempts_made;
    int64_t now_ms, deadline_ms;
    bool breaker_open;
    int budget;
    lira_retry_action action;
    lira_stop_reason stop;
    lira_retry_reason reason;
    int64_t delay_lo_ms, delay_hi_ms; /* when retrying */
} retry_case;

#define F(x) LIRA_FAIL_##x
#define AGAIN LIRA_RETRY_AGAIN
#define STOP LIRA_RETRY_STOP
#define S(x) LIRA_STOP_##x
#define R(x) LIRA_RR_##x

static const retry_case cases[] = {
    /* rule 1: outcomes */
    {"200 success", 200, F(NONE), "GET", 0, NO_RA, 1, 10, 0, 0, BUDGET_AMPLE, STOP, S(SUCCESS), R(NONE), 0, 0},
    {"204 success", 204, F(NONE), "POST", 0, NO_RA, 1, 10, 0, 0, BUDGET_AMPLE, STOP, S(SUCCESS), R(NONE), 0, 0},
    {"101 final", 101, F(NONE), "GET", 0, NO_RA, 1, 10, 0, 0, BUDGET_AMPLE, STOP, S(STATUS), R(NONE), 0, 0},
    {"304 final", 304, F(NONE), "GET", 0, NO_RA, 1, 10, 0, 0, BUDGET_AMPLE, STOP, S(STATUS), R(NONE), 0, 0},
    {"400", 400, F(NONE), "GET", 0, NO_RA, 1, 10, 0, 0, BUDGET_AMPLE, STOP, S(STATUS), R(NONE), 0, 0},
    {"404", 404, F(NONE), "GET", 0, NO_RA, 1, 10, 0, 0, BUDGET_AMPLE, STOP, S(STATUS), R(NONE), 0, 0},
    {"408 not retried", 408, F(NONE), "GET", 0, NO_RA, 1, 10, 0, 0, BUDGET_AMPLE, STOP, S(STATUS), R(NONE), 0, 0},
    {"499", 499, F(NONE), "GET", 0, 5000, 1, 10, 0, 0, BUDGET_AMPLE, STOP, S(STATUS), R(NONE), 0, 0},
    {"600 odd", 600, F(NONE), "GET", 0, NO_RA, 1, 10, 0, 0, BUDGET_AMPLE, STOP, S(STATUS), R(NONE), 0, 0},
    {"500", 500, F(NONE), "GET", 0, NO_RA, 1, 10, 0, 0, BUDGET_AMPLE, AGAIN, S(NONE), R(STATUS_5XX), 200, 400},
    {"503", 503, F(NONE), "GET", 0, NO_RA, 1, 10, 0, 0, BUDGET_AMPLE, AGAIN, S(NONE), R(STATUS_5XX), 200, 400},
    {"599", 599, F(NONE), "PUT", 0, NO_RA, 2, 10, 0, 0, BUDGET_AMPLE, AGAIN, S(NONE), R(STATUS_5XX), 400, 800},
    {"429 no RA = backoff", 429, F(NONE), "GET", 0, NO_RA, 1, 10, 0, 0, BUDGET_AMPLE, AGAIN, S(NONE), R(STATUS_429), 200, 400},
    {"timeout", 0, F(TIMEOUT), "GET", 0, NO_RA, 1, 10, 0, 0, BUDGET_AMPLE, AGAIN, S(NONE), R(TIMEOUT), 200, 400},
    {"transport", 0, F(TRANSPORT), "DELETE", 0, NO_RA, 3, 10, 0, 0, BUDGET_AMPLE, AGAIN, S(NONE), R(TRANSPORT), 800, 1600},
    {"dns", 0, F(DNS), "GET", 0, NO_RA, 1, 10, 0, 0, BUDGET_AMPLE, AGAIN, S(NONE), R(DNS), 200, 400},
    {"connect", 0, F(CONNECT), "HEAD", 0, NO_RA, 1, 10, 0, 0, BUDGET_AMPLE, AGAIN, S(NONE), R(CONNECT), 200, 400},
    {"tls", 0, F(TLS), "OPTIONS", 0, NO_RA, 1, 10, 0, 0, BUDGET_AMPLE, AGAIN, S(NONE), R(TLS), 200, 400},
    {"failure wins over status", 503, F(TIMEOUT), "GET", 0, NO_RA, 1, 10, 0, 0, BUDGET_AMPLE, AGAIN, S(NONE), R(TIMEOUT), 200, 400},
    {"too_large", 200, F(TOO_LARGE), "GET", 0, NO_RA, 1, 10, 0, 0, BUDGET_AMPLE, STOP, S(TOO_LARGE), R(NONE), 0, 0},
    {"cancelled", 0, F(CANCELLED), "GET", 0, NO_RA, 1, 10, 0, 0, BUDGET_AMPLE, STOP, S(CANCELLED), R(NONE), 0, 0},
    {"deadline failure", 0, F(DEADLINE), "GET", 0, NO_RA, 1, 10, 0, 0, BUDGET_AMPLE, STOP, S(DEADLINE), R(NONE), 0, 0},
    /* rule 2: idempotency */
    {"POST 503 no key", 503, F(NONE), "POST", 0, NO_RA, 1, 10, 0, 0, BUDGET_AMPLE, STOP, S(NOT_IDEMPOTENT), R(STATUS_5XX), 0, 0},
    {"POST 503 key", 503, F(NONE), "POST", 1, NO_RA, 1, 10, 0, 0, BUDGET_AMPLE, AGAIN, S(NONE), R(STATUS_5XX), 200, 400},
    {"PATCH timeout no key", 0, F(TIMEOUT), "PATCH", 0, NO_RA, 1, 10, 0, 0, BUDGET_AMPLE, STOP, S(NOT_IDEMPOTENT), R(TIMEOUT), 0, 0},
    {"PATCH timeout key", 0, F(TIMEOUT), "PATCH", 1, NO_RA, 1, 10, 0, 0, BUDGET_AMPLE, AGAIN, S(NONE), R(TIMEOUT), 200, 400},
    {"POST transport no key", 0, F(TRANSPORT), "POST", 0, NO_RA, 1, 10, 0, 0, BUDGET_AMPLE, STOP, S(NOT_IDEMPOTENT), R(TRANSPORT), 0, 0},
    {"POST 429 no key", 429, F(NONE), "POST", 0, 1000, 1, 10, 0, 0, BUDGET_AMPLE, STOP, S(NOT_IDEMPOTENT), R(STATUS_429), 0, 0},
    {"POST dns never left", 0, F(DNS), "POST", 0, NO_RA, 1, 10, 0, 0, BUDGET_AMPLE, AGAIN, S(NONE), R(DNS), 200, 400},
    {"POST connect never left", 0, F(CONNECT), "POST", 0, NO_RA, 1, 10, 0, 0, BUDGET_AMPLE, AGAIN, S(NONE), R(CONNECT), 200, 400},
    {"PATCH tls never left", 0, F(TLS), "PATCH", 0, NO_RA, 1, 10, 0, 0, BUDGET_AMPLE, AGAIN, S(NONE), R(TLS), 200, 400},
    {"lowercase get unknown", 503, F(NONE), "get", 0, NO_RA, 1, 10, 0, 0, BUDGET_AMPLE, STOP, S(NOT_IDEMPOTENT), R(STATUS_5XX), 0, 0},
    {"TRACE idempotent", 502, F(NONE), "TRACE", 0, NO_RA, 1, 10, 0, 0, BUDGET_AMPLE, AGAIN, S(NONE), R(STATUS_5XX), 200, 400},
    {"POST 400 key", 400, F(NONE), "POST", 1, NO_RA, 1, 10, 0, 0, BUDGET_AMPLE, STOP, S(STATUS), R(NONE), 0, 0},
    /* rule 3: attempts count the first try */
    {"attempt 3 of 4", 500, F(NONE), "GET", 0, NO_RA, 3, 10, 0, 0, BUDGET_AMPLE, AGAIN, S(NONE), R(STATUS_5XX), 800, 1600},
    {"attempt 4 of 4", 500, F(NONE), "GET", 0, NO_RA, 4, 10, 0, 0, BUDGET_AMPLE, STOP, S(ATTEMPTS), R(STATUS_5XX), 0, 0},
    {"attempt 9 of 4", 0, F(DNS), "GET", 0, NO_RA, 9, 10, 0, 0, BUDGET_AMPLE, STOP, S(ATTEMPTS), R(DNS), 0, 0},
    {"POST no key beats attempts", 500, F(NONE), "POST", 0, NO_RA, 4, 10, 0, 0, BUDGET_AMPLE, STOP, S(NOT_IDEMPOTENT), R(STATUS_5XX), 0, 0},
    /* rule 4: delay = max(backoff, Retry-After) */
    {"429 RA 5 s wins", 429, F(NONE), "GET", 0, 5000, 1, 10, 0, 0, BUDGET_AMPLE, AGAIN, S(NONE), R(STATUS_429), 5000, 5000},
    {"429 RA 0 backoff wins", 429, F(NONE), "GET", 0, 0, 1, 10, 0, 0, BUDGET_AMPLE, AGAIN, S(NONE), R(STATUS_429), 200, 400},
    {"429 RA 100ms backoff wins", 429, F(NONE), "GET", 0, 100, 1, 10, 0, 0, BUDGET_AMPLE, AGAIN, S(NONE), R(STATUS_429), 200, 400},
    {"503 RA 45 s above cap", 503, F(NONE), "GET", 0, 45000, 1, 10, 0, 0, BUDGET_AMPLE, AGAIN, S(NONE), R(STATUS_5XX), 45000, 45000},
    {"503 RA 300ms mid-jitter", 503, F(NONE), "GET", 0, 300, 1, 10, 0, 0, BUDGET_AMPLE, AGAIN, S(NONE), R(STATUS_5XX), 300, 400},
    {"RA past max_elapsed", 429, F(NONE), "GET", 0, 70000, 1, 10, 0, 0, BUDGET_AMPLE, STOP, S(MAX_ELAPSED), R(STATUS_429), 0, 0},
    {"RA huge no overflow", 429, F(NONE), "GET", 0, INT64_MAX / MS, 1, 10, 0, 0, BUDGET_AMPLE, STOP, S(MAX_ELAPSED), R(STATUS_429), 0, 0},
    {"RA exactly at max_elapsed", 429, F(NONE), "GET", 0, 50000, 1, 10000, 0, 0, BUDGET_AMPLE, AGAIN, S(NONE), R(STATUS_429), 50000, 50000},
    {"RA 1ms past max_elapsed", 429, F(NONE), "GET", 0, 50001, 1, 10000, 0, 0, BUDGET_AMPLE, STOP, S(MAX_ELAPSED), R(STATUS_429), 0, 0},
    {"backoff past max_elapsed", 500, F(NONE), "GET", 0, NO_RA, 1, 59900, 0, 0, BUDGET_AMPLE, STOP, S(MAX_ELAPSED), R(STATUS_5XX), 0, 0},
    {"backoff past deadline", 500, F(NONE), "GET", 0, NO_RA, 1, 29900, 30000, 0, BUDGET_AMPLE, STOP, S(DEADLINE), R(STATUS_5XX), 0, 0},
    {"backoff before deadline", 500, F(NONE), "GET", 0, NO_RA, 1, 29000, 30000, 0, BUDGET_AMPLE, AGAIN, S(NONE), R(STATUS_5XX), 200, 400},
    {"RA exactly at deadline", 429, F(NONE), "GET", 0, 20000, 1, 10000, 30000, 0, BUDGET_AMPLE, STOP, S(DEADLINE), R(STATUS_429), 0, 0},
    {"deadline before max_elapsed", 500, F(NONE), "GET", 0, 5000, 1, 10, 3000, 0, BUDGET_AMPLE, STOP, S(DEADLINE), R(STATUS_5XX), 0, 0},
    /* rule 5 and 6: breaker, then budget */
    {"breaker open", 500, F(NONE), "GET", 0, NO_RA, 1, 10, 0, 1, BUDGET_AMPLE, STOP, S(BREAKER_OPEN), R(STATUS_5XX), 0, 0},
    {"breaker open dns", 0, F(DNS), "POST", 0, NO_RA, 1, 10, 0, 1, BUDGET_AMPLE, STOP, S(BREAKER_OPEN), R(DNS), 0, 0},
    {"budget spent", 500, F(NONE), "GET", 0, NO_RA, 1, 10, 0, 0, BUDGET_SPENT, STOP, S(BUDGET), R(STATUS_5XX), 0, 0},
    {"breaker before budget", 500, F(NONE), "GET", 0, NO_RA, 1, 10, 0, 1, BUDGET_SPENT, STOP, S(BREAKER_OPEN), R(STATUS_5XX), 0, 0},
    {"attempts before budget", 500, F(NONE), "GET", 0, NO_RA, 4, 10, 0, 0, BUDGET_SPENT, STOP, S(ATTEMPTS), R(STATUS_5XX), 0, 0},
    {"success ignores budget", 200, F(NONE), "GET", 0, NO_RA, 1, 10, 0, 1, BUDGET_SPENT, STOP, S(SUCCESS), R(NONE), 0, 0},
    {"no budget object", 500, F(NONE), "GET", 0, NO_RA, 1, 10, 0, 0, BUDGET_NONE, AGAIN, S(NONE), R(STATUS_5XX), 200, 400},
    {"cancelled beats all", 0, F(CANCELLED), "POST", 1, 5000, 9, 10, 5, 1, BUDGET_SPENT, STOP, S(CANCELLED), R(NONE), 0, 0},
};

static void run_case(const retry_case *t, lira_rng *rng)
{
    lira_retry_config c;
    lira_retry_config_default(&c);
    c.max_elapsed_ns = 60 * SEC;
    lira_budget b;
    lira_budget *bp = NULL;
    if (t->budget == BUDGET_AMPLE)
        lira_budget_init(&b, 0.1, 10, 10 * SEC, START);
    else if (t->budget == BUDGET_SPENT)
        lira_budget_init(&b, 0.0, 0, 10 * SEC, START);
    if (t->budget != BUDGET_NONE)
        bp = &b;
    lira_retry_input in = {
        .status = t->status,
        .failure = t->failure,
        .idempotent = lira_method_is_idempotent(t->method),
        .has_idempotency_key = t->key,
        .retry_after_ns = t->retry_after_ms < 0 ? -1 : t->retry_after_ms * MS,
        .attempts_made = t->attempts_made,
        .prev_delay_ns = 0,
        .start_ns = START,
        .now_ns = START + t->now_ms * MS,
        .deadline_ns = t->deadline_ms ? START + t->deadline_ms * MS : 0,
        .breaker_open = t->breaker_open,
    };
    int64_t avail_before = lira_budget_available(bp, in.now_ns);
    lira_retry_decision d;
    int rc = lira_retry_decide(&c, &in, rng, bp, &d);
    int64_t avail_after = lira_budget_available(bp, in.now_ns);
    bool ok = rc == LIRA_OK && d.action == t->action && d.stop == t->stop && d.reason == t->reason;
    if (ok && d.action == LIRA_RETRY_AGAIN)
        ok = d.delay_ns >= t->delay_lo_ms * MS && d.delay_ns <= t->delay_hi_ms * MS;
    if (ok && d.action == LIRA_RETRY_STOP)
        ok = d.delay_ns == 0;
    /* Only a granted retry is charged to the budget. */
    if (ok && bp)
        ok = avail_after == avail_before - (d.action == LIRA_RETRY_AGAIN ? 1 : 0);
    if (!ok)
        CHECK_FAIL_("case \"%s\": rc %d action %d stop %s reason %s delay %lld ns "
                    "(budget %lld -> %lld)",
                    t->name, rc, (int)d.action, lira_stop_reason_name(d.stop),
                    lira_retry_reason_name(d.reason), (long long)d.delay_ns,
                    (long long)avail_before, (long long)avail_after);
}

static void test_decision_table(void)
{
    lira_rng rng;
    lira_rng_seed(&rng, 2024);
    /* Each row many times, so the jittered bounds are really exercised. */
    for (int rep = 0; rep < 200; rep++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            run_case(&cases[i], &rng);
}

/* Full jitter through the decision, retry by retry, up to and past the cap:
 * interval <= delay <= min(cap, 2 * interval), never above the cap. */
static void test_delays_grow_to_cap_and_stay(void)
{
    lira_retry_config c;
    lira_retry_config_default(&c);
    c.attempts = LIRA_RETRY_MAX_ATTEMPTS;
    lira_rng rng;
    lira_rng_seed(&rng, 11);
    lira_retry_input in = {.status = 503, .idempotent = true, .retry_after_ns = -1,
                           .start_ns = 0, .now_ns = 0};
    int at_cap = 0;
    for (int n = 1; n < LIRA_RETRY_MAX_ATTEMPTS; n++) {
        in.attempts_made = n;
        lira_retry_decision d;
        CHECK_EQ(lira_retry_decide(&c, &in, &rng, NULL, &d), LIRA_OK);
        CHECK_EQ(d.action, LIRA_RETRY_AGAIN);
        int64_t iv;
        lira_backoff_interval(&c.backoff, n, &iv);
        CHECK_INT(d.delay_ns, >=, iv);
        CHECK_INT(d.delay_ns, <=, 30 * SEC);
        CHECK_INT(d.delay_ns, <=, 2 * iv);
        at_cap += d.delay_ns == 30 * SEC;
    }
    CHECK_INT(at_cap, >, 900);
}

/* Decorrelated jitter threads the previous delay through the input. */
static void test_decorrelated_through_decide(void)
{
    lira_retry_config c;
    lira_retry_config_default(&c);
    c.attempts = 50;
    c.backoff.jitter = LIRA_JITTER_DECORRELATED;
    lira_rng rng;
    lira_rng_seed(&rng, 12);
    lira_retry_input in = {.failure = LIRA_FAIL_TIMEOUT, .idempotent = true,
                           .retry_after_ns = -1};
    for (int n = 1; n < 50; n++) {
        in.attempts_made = n;
        lira_retry_decision d;
        CHECK_EQ(lira_retry_decide(&c, &in, &rng, NULL, &d), LIRA_OK);
        int64_t p = in.prev_delay_ns < c.backoff.base_ns ? c.backoff.base_ns : in.prev_delay_ns;
        CHECK_INT(d.delay_ns, >=, c.backoff.base_ns);
        CHECK_INT(d.delay_ns, <=, 3 * p < 30 * SEC ? 3 * p : 30 * SEC);
        in.prev_delay_ns = d.delay_ns;
    }
}

/* A fixed seed gives the same decisions, delays included. */
static void test_deterministic_with_seed(void)
{
    lira_retry_config c;
    lira_retry_config_default(&c);
    c.attempts = 20;
    lira_rng a, b;
    lira_rng_seed(&a, 77);
    lira_rng_seed(&b, 77);
    lira_retry_input in = {.status = 500, .idempotent = true, .retry_after_ns = -1};
    for (int n = 1; n < 20; n++) {
        in.attempts_made = n;
        lira_retry_decision da, db;
        lira_retry_decide(&c, &in, &a, NULL, &da);
        lira_retry_decide(&c, &in, &b, NULL, &db);
        CHECK_EQ(da.delay_ns, db.delay_ns);
    }
}

/* A retry storm against a budget: after the first attempts deposit, only
 * ratio * requests + the floor are granted, then "budget" stops the rest. */
static void test_budget_stops_a_storm(void)
{
    lira_retry_config c;
    lira_retry_config_default(&c);
    lira_budget b;
    lira_budget_init(&b, 0.1, 10, 10 * SEC, 0);
    lira_rng rng;
    lira_rng_seed(&rng, 5);
    int granted = 0, refused = 0;
    for (int i = 0; i < 1000; i++) {
        int64_t now = i * MS;
        lira_budget_deposit(&b, now);
        lira_retry_input in = {.status = 503, .idempotent = true, .retry_after_ns = -1,
                               .attempts_made = 1, .start_ns = now, .now_ns = now};
        lira_retry_decision d;
        CHECK_EQ(lira_retry_decide(&c, &in, &rng, &b, &d), LIRA_OK);
        granted += d.action == LIRA_RETRY_AGAIN;
        refused += d.stop == LIRA_STOP_BUDGET;
    }
    CHECK_EQ(granted, 110);
    CHECK_EQ(refused, 890);
}

static void test_invalid_input(void)
{
    lira_retry_config c;
    lira_retry_config_default(&c);
    lira_rng rng;
    lira_rng_seed(&rng, 1);
    const lira_retry_input good = {.status = 500, .idempotent = true, .retry_after_ns = -1,
                                   .attempts_made = 1, .start_ns = 5, .now_ns = 10};
    lira_retry_decision d = {.delay_ns = 4242};
    CHECK_EQ(lira_retry_decide(&c, &good, &rng, NULL, &d), LIRA_OK);
    d.delay_ns = 4242;
    CHECK_EQ(lira_retry_decide(NULL, &good, &rng, NULL, &d), LIRA_EINVAL);
    CHECK_EQ(lira_retry_decide(&c, NULL, &rng, NULL, &d), LIRA_EINVAL);
    CHECK_EQ(lira_retry_decide(&c, &good, &rng, NULL, NULL), LIRA_EINVAL);
    CHECK_EQ(lira_retry_decide(&c, &good, NULL, NULL, &d), LIRA_EINVAL);

    lira_retry_input bad[9];
    for (int i = 0; i < 9; i++)
        bad[i] = good;
    bad[0].status = 0;
    bad[1].status = 99;
    bad[2].status = 1000;
    bad[3].failure = (lira_failure)42;
    bad[4].attempts_made = 0;
    bad[5].retry_after_ns = -2;
    bad[6].now_ns = 4;
    bad[7].prev_delay_ns = -1;
    bad[8].deadline_ns = -1;
    for (int i = 0; i < 9; i++)
        CHECK_EQ(lira_retry_decide(&c, &bad[i], &rng, NULL, &d), LIRA_EINVAL);
    CHECK_EQ(d.delay_ns, 4242); /* untouched */

    lira_retry_config bc = c;
    bc.attempts = 0;
    CHECK_EQ(lira_retry_decide(&bc, &good, &rng, NULL, &d), LIRA_EINVAL);
    bc.attempts = LIRA_RETRY_MAX_ATTEMPTS + 1;
    CHECK_EQ(lira_retry_config_check(&bc), LIRA_EINVAL);
    bc = c;
    bc.max_elapsed_ns = -1;
    CHECK_EQ(lira_retry_config_check(&bc), LIRA_EINVAL);
    bc = c;
    bc.backoff.base_ns = 0;
    CHECK_EQ(lira_retry_config_check(&bc), LIRA_EINVAL);
    CHECK_EQ(lira_retry_config_check(NULL), LIRA_EINVAL);

    /* attempts = 1 disables retries (retry = false). */
    bc = c;
    bc.attempts = 1;
    CHECK_EQ(lira_retry_decide(&bc, &good, &rng, NULL, &d), LIRA_OK);
    CHECK_EQ(d.stop, LIRA_STOP_ATTEMPTS);
    /* jitter none needs no rng */
    bc = c;
    bc.backoff.jitter = LIRA_JITTER_NONE;
    CHECK_EQ(lira_retry_decide(&bc, &good, NULL, NULL, &d), LIRA_OK);
    CHECK_EQ(d.delay_ns, 200 * MS);
}

static void test_method_idempotency(void)
{
    const char *yes[] = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"};
    const char *no[] = {"POST", "PATCH", "CONNECT", "get", "Get", "GETX", "GE", "", "PROPFIND"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        CHECK(lira_method_is_idempotent(yes[i]));
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        CHECK(!lira_method_is_idempotent(no[i]));
    CHECK(!lira_method_is_idempotent(NULL));
}

static void test_names(void)
{
    const char *stops[] = {"none", "success", "status_not_retryable", "not_idempotent",
                           "attempts_exhausted", "max_elapsed", "deadline", "budget",
                           "breaker_open", "cancelled", "too_large"};
    for (int i = 0; i < LIRA_STOP_COUNT_; i++)
        CHECK_STR(lira_stop_reason_name((lira_stop_reason)i), stops[i]);
    const char *reasons[] = {"none", "status_5xx", "status_429", "timeout", "connect", "dns",
                             "tls", "transport"};
    for (int i = 0; i < LIRA_RR_COUNT_; i++)
        CHECK_STR(lira_retry_reason_name((lira_retry_reason)i), reasons[i]);
    const char *fails[] = {"none", "dns", "connect", "tls", "timeout", "transport",
                           "too_large", "cancelled", "deadline"};
    for (int i = 0; i < LIRA_FAIL_COUNT_; i++)
        CHECK_STR(lira_failure_name((lira_failure)i), fails[i]);
    CHECK_STR(lira_stop_reason_name((lira_stop_reason)-1), "unknown");
    CHECK_STR(lira_retry_reason_name(LIRA_RR_COUNT_), "unknown");
    CHECK_STR(lira_failure_name(LIRA_FAIL_COUNT_), "unknown");
}

int main(void)
{
    RUN(test_decision_table);
    RUN(test_delays_grow_to_cap_and_stay);
    RUN(test_decorrelated_through_decide);
    RUN(test_deterministic_with_seed);
    RUN(test_budget_stops_a_storm);
    RUN(test_invalid_input);
    RUN(test_method_idempotency);
    RUN(test_names);
    return check_summary();
}
