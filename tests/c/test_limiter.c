#include "check.h"

#include "clock.h"
#include "limiter.h"
#include "status.h"

#define SEC LIRA_NS_PER_SEC
#define MS LIRA_NS_PER_MS

static lira_limiter make(double rate, double per, uint32_t burst, double target)
{
    lira_limiter_config c = {rate, per, burst, target};
    lira_limiter l;
    int rc = lira_limiter_init(&l, &c, 0);
    CHECK_EQ(rc, LIRA_OK);
    return l;
}

static int64_t reserve(lira_limiter *l, int64_t now)
{
    int64_t w = -1;
    CHECK_EQ(lira_limiter_reserve(l, now, 1, &w), LIRA_OK);
    CHECK_INT(w, >=, 0);
    return w;
}

static lira_ratelimit report(int64_t limit, int64_t remaining, double reset_s)
{
    lira_ratelimit r = {0};
    if (limit >= 0) {
        r.has_limit = true;
        r.limit = limit;
    }
    r.has_remaining = true;
    r.remaining = remaining;
    r.has_reset = true;
    r.reset_ns = (int64_t)(reset_s * 1e9);
    return r;
}

/* ------------------------------------------------------------- config --- */

static void test_bad_config(void)
{
    static const struct {
        lira_limiter_config c;
        int rc;
    } cases[] = {
        {{-1, 1, 1, 0.8}, LIRA_EINVAL},         {{10, 0, 1, 0.8}, LIRA_EINVAL},
        {{10, -1, 1, 0.8}, LIRA_EINVAL},        {{10, 1, 0, 0.8}, LIRA_EINVAL},
        {{10, 1, 1, 0}, LIRA_EINVAL},           {{10, 1, 1, 1.01}, LIRA_EINVAL},
        {{10, 1, 1, -0.5}, LIRA_EINVAL},        {{NAN, 1, 1, 0.8}, LIRA_EINVAL},
        {{10, NAN, 1, 0.8}, LIRA_EINVAL},       {{10, 1, 1, NAN}, LIRA_EINVAL},
        {{INFINITY, 1, 1, 0.8}, LIRA_EINVAL},   {{10, INFINITY, 1, 0.8}, LIRA_EINVAL},
        {{1e10, 1, 1, 1}, LIRA_ERANGE},         {{1, 1e12, 1, 1}, LIRA_ERANGE},
        {{0, 1, 0, 0.8}, LIRA_OK},              {{10, 1, 1, 1}, LIRA_OK},
        {{100, 60, 10, 0.8}, LIRA_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lira_limiter l;
        int rc = lira_limiter_init(&l, &cases[i].c, 0);
        if (rc != cases[i].rc)
            CHECK_FAIL_("case %zu: rc %d, want %d", i, rc, cases[i].rc);
    }
    lira_limiter_config c;
    lira_limiter l;
    int64_t w;
    CHECK_EQ(lira_limiter_config_default(&c), LIRA_OK);
    CHECK_NEAR(c.target, 0.8, 0);
    CHECK_EQ(lira_limiter_init(NULL, &c, 0), LIRA_EINVAL);
    CHECK_EQ(lira_limiter_init(&l, NULL, 0), LIRA_EINVAL);
    CHECK_EQ(lira_limiter_config_default(NULL), LIRA_EINVAL);
    CHECK_EQ(lira_limiter_reserve(NULL, 0, 1, &w), LIRA_EINVAL);
    CHECK_EQ(lira_limiter_init(&l, &c, 0), LIRA_OK);
    CHECK_EQ(lira_limiter_reserve(&l, 0, 1, NULL), LIRA_EINVAL);
    CHECK_EQ(lira_limiter_reserve_within(NULL, 0, 1, 0, &w), LIRA_EINVAL);
    CHECK_EQ(lira_limiter_cancel(NULL, 0, 1), LIRA_EINVAL);
    CHECK_EQ(lira_limiter_observe(NULL, 0, &(lira_ratelimit){0}), LIRA_EINVAL);
    CHECK_EQ(lira_limiter_observe(&l, 0, NULL), LIRA_EINVAL);
    CHECK_NEAR(lira_limiter_available(NULL, 0), 0, 0);
}

/* ------------------------------------------------------- token bucket --- */

/* One caller that proceeds as soon as allowed, 100 000 times: the long-run
 * rate is rate x target. */
static void test_long_run_rate_is_rate_times_target(void)
{
    static const struct {
        double rate, per, target;
        uint32_t burst;
    } cfgs[] = {{100, 1, 0.8, 10}, {100, 60, 0.8, 10}, {5000, 3600, 0.5, 1}, {3, 1, 1, 3}};
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
        lira_limiter l = make(cfgs[i].rate, cfgs[i].per, cfgs[i].burst, cfgs[i].target);
        int64_t now = 0;
        const int n = 100000;
        for (int k = 0; k < n; k++)
            now += reserve(&l, now);
        double want = cfgs[i].rate * cfgs[i].target / cfgs[i].per;
        double got = (n - cfgs[i].burst) / ((double)now / 1e9);
        CHECK_NEAR(got / want, 1.0, 0.01);
    }
}

/* Many callers arriving together queue up: each one's wait is one interval
 * after the previous one's. */
static void test_burst_then_paced(void)
{
    lira_limiter l = make(100, 1, 10, 0.8); /* 80/s: one per 12.5 ms */
    CHECK_NEAR(lira_limiter_available(&l, 0), 10, 1e-9);
    for (int k = 0; k < 10; k++)
        CHECK_EQ(reserve(&l, 0), 0);
    for (int k = 1; k <= 5; k++)
        CHECK_NEAR(reserve(&l, 0), k * 12.5 * MS, 1);
    CHECK_NEAR(lira_limiter_available(&l, 0), -5, 1e-9);
    /* After a long idle time the bucket is full again, but no fuller. */
    CHECK_NEAR(lira_limiter_available(&l, 3600 * SEC), 10, 1e-9);
    int64_t w;
    CHECK_EQ(lira_limiter_reserve(&l, 3600 * SEC, 10, &w), LIRA_OK);
    CHECK_EQ(w, 0);
    CHECK_EQ(lira_limiter_reserve(&l, 3600 * SEC, 11, &w), LIRA_ERANGE);
    CHECK_EQ(lira_limiter_reserve(&l, 3600 * SEC, 0, &w), LIRA_OK);
    CHECK_EQ(w, 0);
}

static void test_reserve_within_refuses_without_consuming(void)
{
    lira_limiter l = make(100, 1, 2, 0.8);
    int64_t w = -1;
    CHECK_EQ(lira_limiter_reserve_within(&l, 0, 2, 0, &w), LIRA_OK);
    CHECK_EQ(w, 0);
    double before = lira_limiter_available(&l, 0);
    CHECK_EQ(lira_limiter_reserve_within(&l, 0, 1, 10 * MS, &w), LIRA_EDENIED);
    CHECK_NEAR(w, 12.5 * MS, 1);
    CHECK_NEAR(lira_limiter_available(&l, 0), before, 0);
    CHECK_EQ(lira_limiter_reserve_within(&l, 0, 1, -5, &w), LIRA_EDENIED);
    CHECK_EQ(lira_limiter_reserve_within(&l, 0, 1, 13 * MS, &w), LIRA_OK);
    CHECK_NEAR(w, 12.5 * MS, 1);
    CHECK_NEAR(lira_limiter_available(&l, 0), before - 1, 1e-9);
    CHECK_EQ(lira_limiter_reserve_within(&l, 0, 3, INT64_MAX, &w), LIRA_ERANGE);
}

static void test_cancel_returns_tokens(void)
{
    lira_limiter l = make(10, 1, 5, 1);
    int64_t w;
    CHECK_EQ(lira_limiter_reserve(&l, 0, 5, &w), LIRA_OK);
    CHECK_EQ(lira_limiter_reserve(&l, 0, 3, &w), LIRA_OK);
    CHECK_EQ(w, 300 * MS);
    CHECK_EQ(lira_limiter_cancel(&l, 0, 3), LIRA_OK);
    CHECK_NEAR(lira_limiter_available(&l, 0), 0, 1e-9);
    CHECK_EQ(reserve(&l, 0), 100 * MS); /* the queue shrank */
    CHECK_EQ(lira_limiter_cancel(&l, 0, 1000), LIRA_OK);
    CHECK_NEAR(lira_limiter_available(&l, 0), 5, 1e-9); /* never past burst */
}

static void test_headers_only_admits_everything(void)
{
    lira_limiter l = make(0, 1, 0, 0.8);
    for (int k = 0; k < 100000; k++)
        CHECK_EQ(reserve(&l, 0), 0);
    CHECK(lira_limiter_available(&l, 0) > 1e300);
    /* Plenty remaining: still nothing to pace. */
    lira_ratelimit r = report(5000, 4000, 3600);
    CHECK_EQ(lira_limiter_observe(&l, 0, &r), LIRA_OK);
    CHECK_EQ(reserve(&l, 0), 0);
    CHECK_EQ(reserve(&l, 0), 0);
}

/* ---------------------------------------------------- header adaptation --- */

/* limit 100, remaining 10, reset in 10 s: one token a second until the
 * reset, then unconstrained (headers only) again. */
static void test_low_remaining_paces_until_reset(void)
{
    lira_limiter l = make(0, 1, 0, 0.8);
    lira_ratelimit r = report(100, 10, 10);
    CHECK_EQ(lira_limiter_observe(&l, 0, &r), LIRA_OK);
    int64_t now = 0;
    for (int k = 0; k < 10; k++) {
        int64_t w = reserve(&l, now);
        CHECK_NEAR((double)(now + w) / 1e9, k, 1e-6); /* granted at 0, 1, ... 9 s */
        now += w;
    }
    CHECK_NEAR((double)(now + reserve(&l, now)) / 1e9, 10, 1e-6); /* the 11th waits for reset */
    now = 10 * SEC;
    for (int k = 0; k < 1000; k++)
        CHECK_EQ(reserve(&l, now), 0);
}

/* The same with a configured bucket (8/s, burst 5): the remaining 10 are
 * spread over 10 s, then the configured pace and a fresh burst return. */
static void test_low_remaining_with_configured_rate(void)
{
    lira_limiter l = make(10, 1, 5, 0.8);
    lira_ratelimit r = report(-1, 10, 10); /* low by rule (b): 10 < 5 + 8 x 10 */
    CHECK_EQ(lira_limiter_observe(&l, 0, &r), LIRA_OK);
    int64_t now = 0;
    int granted_before_reset = 0;
    while (now < 10 * SEC) {
        now += reserve(&l, now);
        granted_before_reset += now < 10 * SEC;
    }
    CHECK_EQ(granted_before_reset, 10);
    /* From the reset on: a burst of 5 (the one just granted included), then 8/s. */
    int64_t t0 = now;
    for (int k = 0; k < 4; k++)
        CHECK_EQ(reserve(&l, t0), 0);
    CHECK_EQ(reserve(&l, t0), 125 * MS);
}

static void test_plenty_remaining_ends_pacing(void)
{
    lira_limiter l = make(0, 1, 0, 0.8);
    lira_ratelimit low = report(100, 2, 60), plenty = report(100, 90, 50);
    CHECK_EQ(lira_limiter_observe(&l, 0, &low), LIRA_OK);
    CHECK_EQ(reserve(&l, 0), 0);
    CHECK_INT(reserve(&l, 0), >, 29 * SEC);
    CHECK_EQ(lira_limiter_observe(&l, SEC, &plenty), LIRA_OK);
    CHECK_EQ(reserve(&l, SEC), 0);
    CHECK_EQ(reserve(&l, SEC), 0);
}

static void test_remaining_zero_waits_for_reset(void)
{
    lira_limiter l = make(10, 1, 3, 1);
    lira_ratelimit r = report(100, 0, 30);
    CHECK_EQ(lira_limiter_observe(&l, SEC, &r), LIRA_OK);
    CHECK_NEAR(lira_limiter_available(&l, 2 * SEC), 0, 0);
    int64_t w;
    CHECK_EQ(lira_limiter_reserve_within(&l, 2 * SEC, 1, 10 * SEC, &w), LIRA_EDENIED);
    CHECK_EQ(w, 29 * SEC);
    /* Waiters queued during the block: a burst at the reset, then paced. */
    CHECK_EQ(reserve(&l, 2 * SEC), 29 * SEC);
    CHECK_EQ(reserve(&l, 2 * SEC), 29 * SEC);
    CHECK_EQ(reserve(&l, 2 * SEC), 29 * SEC);
    CHECK_EQ(reserve(&l, 2 * SEC), 29 * SEC + 100 * MS);
    /* A response overtaken by the one that said 0 does not lift the block. */
    lira_ratelimit stale = report(100, 5, 28.5);
    CHECK_EQ(lira_limiter_observe(&l, 2 * SEC, &stale), LIRA_OK);
    CHECK_EQ(reserve(&l, 3 * SEC), 28 * SEC + 200 * MS);
}

static void test_new_window_lifts_exhaustion(void)
{
    lira_limiter l = make(0, 1, 0, 0.8);
    lira_ratelimit zero = report(100, 0, 30), fresh = report(100, 99, 3600);
    CHECK_EQ(lira_limiter_observe(&l, 0, &zero), LIRA_OK);
    CHECK_EQ(reserve(&l, SEC), 29 * SEC);
    CHECK_EQ(lira_limiter_observe(&l, 2 * SEC, &fresh), LIRA_OK);
    CHECK_EQ(reserve(&l, 2 * SEC), 0);

    /* Lifted before anyone reserved: a configured bucket starts full. */
    l = make(10, 1, 4, 1);
    CHECK_EQ(lira_limiter_observe(&l, 0, &zero), LIRA_OK);
    CHECK_NEAR(lira_limiter_available(&l, SEC), 0, 0);
    fresh = report(-1, 100000, 60); /* more than 10/s can spend in 60 s */
    CHECK_EQ(lira_limiter_observe(&l, 2 * SEC, &fresh), LIRA_OK);
    CHECK_NEAR(lira_limiter_available(&l, 2 * SEC), 4, 1e-9);
    for (int k = 0; k < 4; k++)
        CHECK_EQ(reserve(&l, 2 * SEC), 0);
    CHECK_EQ(reserve(&l, 2 * SEC), 100 * MS);
}

static void test_retry_after_blocks(void)
{
    lira_limiter l = make(10, 1, 2, 1);
    lira_ratelimit r = {.has_retry_after = true, .retry_after_ns = 5 * SEC};
    CHECK_EQ(lira_limiter_observe(&l, 0, &r), LIRA_OK);
    CHECK_EQ(reserve(&l, 0), 5 * SEC);
    CHECK_EQ(reserve(&l, SEC), 4 * SEC);
    CHECK_EQ(reserve(&l, SEC), 4 * SEC + 100 * MS); /* burst 2 spent, then paced */
    /* A shorter Retry-After does not shorten the block. */
    lira_ratelimit shorter = {.has_retry_after = true, .retry_after_ns = SEC};
    CHECK_EQ(lira_limiter_observe(&l, 2 * SEC, &shorter), LIRA_OK);
    CHECK_EQ(reserve(&l, 2 * SEC), 3 * SEC + 200 * MS);
    /* After it, the configured pace applies (the queue above is served). */
    CHECK_EQ(reserve(&l, 10 * SEC), 0);
    CHECK_EQ(reserve(&l, 10 * SEC), 0);
    CHECK_EQ(reserve(&l, 10 * SEC), 100 * MS);
}

static void test_reports_without_reset_change_nothing(void)
{
    lira_limiter l = make(0, 1, 0, 0.8);
    lira_ratelimit r = {.has_limit = true, .limit = 100, .has_remaining = true, .remaining = 0};
    CHECK_EQ(lira_limiter_observe(&l, 0, &r), LIRA_OK);
    CHECK_EQ(reserve(&l, 0), 0);
    r.has_reset = true; /* a reset that already passed */
    r.reset_ns = 0;
    CHECK_EQ(lira_limiter_observe(&l, 0, &r), LIRA_OK);
    CHECK_EQ(reserve(&l, 0), 0);
    lira_ratelimit huge = {.has_retry_after = true, .retry_after_ns = INT64_MAX};
    CHECK_EQ(lira_limiter_observe(&l, SEC, &huge), LIRA_OK);
    int64_t w;
    CHECK_EQ(lira_limiter_reserve(&l, SEC, 1, &w), LIRA_OK); /* saturates, no overflow */
    CHECK_EQ(w, INT64_MAX - SEC);
}

static void test_stale_now_is_harmless(void)
{
    /* Two callers read the clock, the later reading reserves first. */
    lira_limiter l = make(10, 1, 1, 1);
    CHECK_EQ(reserve(&l, 5 * SEC), 0);
    CHECK_EQ(reserve(&l, 5 * SEC - 50 * MS), 150 * MS);
    CHECK_NEAR(lira_limiter_available(&l, 4 * SEC), -1, 1e-9);
}

int main(void)
{
    RUN(test_bad_config);
    RUN(test_long_run_rate_is_rate_times_target);
    RUN(test_burst_then_paced);
    RUN(test_reserve_within_refuses_without_consuming);
    RUN(test_cancel_returns_tokens);
    RUN(test_headers_only_admits_everything);
    RUN(test_low_remaining_paces_until_reset);
    RUN(test_low_remaining_with_configured_rate);
    RUN(test_plenty_remaining_ends_pacing);
    RUN(test_remaining_zero_waits_for_reset);
    RUN(test_new_window_lifts_exhaustion);
    RUN(test_retry_after_blocks);
    RUN(test_reports_without_reset_change_nothing);
    RUN(test_stale_now_is_harmless);
    return check_summary();
}
