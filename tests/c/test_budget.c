#include "check.h"

#include "budget.h"
#include "status.h"

#define MS INT64_C(1000000)
#define SEC INT64_C(1000000000)

/* Withdraw until refused (at most `limit` tries); how many were granted. */
static int drain(lira_budget *b, int64_t now, int limit)
{
    int n = 0;
    while (n < limit && lira_budget_withdraw(b, now) == LIRA_OK)
        n++;
    return n;
}

static void test_init_validates(void)
{
    lira_budget b;
    CHECK_EQ(lira_budget_init(&b, 0.1, 10, 10 * SEC, 0), LIRA_OK);
    CHECK_EQ(b.window_s, 10);
    CHECK_EQ(lira_budget_init(NULL, 0.1, 10, 10 * SEC, 0), LIRA_EINVAL);
    CHECK_EQ(lira_budget_init(&b, -0.1, 10, 10 * SEC, 0), LIRA_EINVAL);
    CHECK_EQ(lira_budget_init(&b, NAN, 10, 10 * SEC, 0), LIRA_EINVAL);
    CHECK_EQ(lira_budget_init(&b, INFINITY, 10, 10 * SEC, 0), LIRA_EINVAL);
    CHECK_EQ(lira_budget_init(&b, 0.1, -1, 10 * SEC, 0), LIRA_EINVAL);
    CHECK_EQ(lira_budget_init(&b, 0.1, 10, 0, 0), LIRA_EINVAL);
    CHECK_EQ(lira_budget_init(&b, 0.1, 10, -SEC, 0), LIRA_EINVAL);
    CHECK_EQ(lira_budget_init(&b, 0.1, 10, 61 * SEC, 0), LIRA_EINVAL);
    CHECK_EQ(lira_budget_init(&b, 0.1, 10, 10 * SEC, -1), LIRA_EINVAL);
    CHECK_EQ(lira_budget_init(&b, 0.1, 10, 60 * SEC, 0), LIRA_OK);
    CHECK_EQ(lira_budget_init(&b, 0.1, 10, 1500 * MS, 0), LIRA_OK);
    CHECK_EQ(b.window_s, 2); /* rounded up */
    CHECK_EQ(lira_budget_deposit(NULL, 0), LIRA_EINVAL);
    CHECK_EQ(lira_budget_withdraw(NULL, 0), LIRA_EINVAL);
    CHECK_EQ(lira_budget_available(NULL, 0), 0);
}

/* With no traffic at all, min_per_second retries are granted each second. */
static void test_floor_holds_with_zero_traffic(void)
{
    lira_budget b;
    lira_budget_init(&b, 0.1, 10, 10 * SEC, 0);
    for (int s = 0; s < 30; s++) {
        int64_t now = s * SEC + 500 * MS;
        CHECK_EQ(lira_budget_available(&b, now), 10);
        CHECK_EQ(drain(&b, now, 1000), 10);
        CHECK_EQ(lira_budget_withdraw(&b, now + 400 * MS), LIRA_EDENIED);
        CHECK_EQ(lira_budget_available(&b, now), 0);
    }
    lira_budget_init(&b, 0.1, 0, 10 * SEC, 0);
    CHECK_EQ(lira_budget_withdraw(&b, 0), LIRA_EDENIED);
}

/* The acceptance case: ratio 0.1 over 1000 requests allows 100 + the floor. */
static void test_ratio_over_1000_requests(void)
{
    lira_budget b;
    lira_budget_init(&b, 0.1, 10, 10 * SEC, 0);
    for (int i = 0; i < 1000; i++)
        lira_budget_deposit(&b, i * 5 * MS); /* 1000 requests over 5 s */
    int64_t now = 5 * SEC;
    CHECK_EQ(lira_budget_available(&b, now), 110);
    CHECK_EQ(drain(&b, now, 100000), 110);
    CHECK_EQ(lira_budget_available(&b, now), 0);
}

/* Exhaustion stops retries; a deposit earns back a share of one retry. */
static void test_exhaustion_then_new_requests(void)
{
    lira_budget b;
    lira_budget_init(&b, 0.5, 0, 10 * SEC, 0);
    for (int i = 0; i < 10; i++)
        lira_budget_deposit(&b, 0);
    CHECK_EQ(drain(&b, 0, 100), 5);
    CHECK_EQ(lira_budget_withdraw(&b, 0), LIRA_EDENIED);
    lira_budget_deposit(&b, 0);
    CHECK_EQ(lira_budget_withdraw(&b, 0), LIRA_EDENIED); /* 11 * 0.5 = 5.5 */
    lira_budget_deposit(&b, 0);
    CHECK_EQ(lira_budget_withdraw(&b, 0), LIRA_OK);       /* 12 * 0.5 = 6 */
    CHECK_EQ(lira_budget_withdraw(&b, 0), LIRA_EDENIED);
}

/* The budget refills as the spent retries slide out of the window. */
static void test_refills_as_window_slides(void)
{
    lira_budget b;
    lira_budget_init(&b, 0.1, 0, 10 * SEC, 0);
    /* 100 requests per second, steady. */
    for (int s = 0; s < 10; s++)
        for (int i = 0; i < 100; i++)
            lira_budget_deposit(&b, s * SEC + i * 10 * MS);
    /* 1000 in the window: 100 retries; spend them all at t = 9.99 s. */
    CHECK_EQ(drain(&b, 9990 * MS, 1000), 100);
    /* Traffic goes on at 100/s; the spent retries stay in the window until
     * second 9's bucket slides out at t = 19 s... */
    for (int s = 10; s < 19; s++) {
        for (int i = 0; i < 100; i++)
            lira_budget_deposit(&b, s * SEC + i * 10 * MS);
        CHECK_EQ(lira_budget_withdraw(&b, s * SEC + 995 * MS), LIRA_EDENIED);
    }
    for (int i = 0; i < 100; i++)
        lira_budget_deposit(&b, 19 * SEC + i * 10 * MS);
    CHECK_EQ(lira_budget_available(&b, 19 * SEC + 995 * MS), 100);
    /* A long silence empties everything: only the floor (0 here) is left. */
    CHECK_EQ(lira_budget_available(&b, 3600 * SEC), 0);
}

/* Deposits age out too: requests seen 10 s ago no longer earn retries. */
static void test_deposits_age_out(void)
{
    lira_budget b;
    lira_budget_init(&b, 0.1, 0, 10 * SEC, 0);
    for (int i = 0; i < 100; i++)
        lira_budget_deposit(&b, 0);
    CHECK_EQ(lira_budget_available(&b, 0), 10);
    CHECK_EQ(lira_budget_available(&b, 9 * SEC + 999 * MS), 10);
    CHECK_EQ(lira_budget_available(&b, 10 * SEC), 0);
    /* a partial slide drops only the old buckets */
    lira_budget_init(&b, 1.0, 0, 3 * SEC, 0);
    lira_budget_deposit(&b, 0);
    lira_budget_deposit(&b, 1 * SEC);
    lira_budget_deposit(&b, 2 * SEC);
    CHECK_EQ(lira_budget_available(&b, 2 * SEC), 3);
    CHECK_EQ(lira_budget_available(&b, 3 * SEC), 2);
    CHECK_EQ(lira_budget_available(&b, 4 * SEC), 1);
    CHECK_EQ(lira_budget_available(&b, 5 * SEC), 0);
}

/* Time going back counts as the latest time seen; it never corrupts sums. */
static void test_time_going_back(void)
{
    lira_budget b;
    lira_budget_init(&b, 1.0, 0, 10 * SEC, 5 * SEC);
    lira_budget_deposit(&b, 5 * SEC);
    lira_budget_deposit(&b, 1 * SEC);
    lira_budget_deposit(&b, -100);
    CHECK_EQ(lira_budget_available(&b, 0), 3);
    CHECK_EQ(lira_budget_available(&b, 14 * SEC), 3);
    CHECK_EQ(lira_budget_available(&b, 15 * SEC), 0);
}

/* Ratios that are not exact in binary still grant the whole share. */
static void test_inexact_ratios(void)
{
    const double ratios[] = {0.1, 0.2, 0.3, 0.7, 0.9, 1.0, 2.5};
    for (size_t r = 0; r < sizeof ratios / sizeof ratios[0]; r++) {
        for (int d = 1; d <= 100; d++) {
            lira_budget b;
            lira_budget_init(&b, ratios[r], 0, 10 * SEC, 0);
            for (int i = 0; i < d; i++)
                lira_budget_deposit(&b, 0);
            int64_t want = (int64_t)(ratios[r] * 10 * d + 0.5) / 10;
            CHECK_EQ(drain(&b, 0, 1000), want);
        }
    }
}

int main(void)
{
    RUN(test_init_validates);
    RUN(test_floor_holds_with_zero_traffic);
    RUN(test_ratio_over_1000_requests);
    RUN(test_exhaustion_then_new_requests);
    RUN(test_refills_as_window_slides);
    RUN(test_deposits_age_out);
    RUN(test_time_going_back);
    RUN(test_inexact_ratios);
    return check_summary();
}
