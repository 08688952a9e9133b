#include "check.h"

#include "rng.h"
#include "status.h"

static void test_same_seed_same_sequence(void)
{
    lira_rng a, b;
    lira_rng_seed(&a, 42);
    lira_rng_seed(&b, 42);
    for (int i = 0; i < 100; i++)
        CHECK_U64(lira_rng_next(&a), ==, lira_rng_next(&b));
    lira_rng_seed(&b, 43);
    int same = 0;
    for (int i = 0; i < 100; i++)
        same += lira_rng_next(&a) == lira_rng_next(&b);
    CHECK_EQ(same, 0);
}

static void test_zero_seed_is_usable(void)
{
    lira_rng r;
    lira_rng_seed(&r, 0);
    CHECK(r.s[0] | r.s[1] | r.s[2] | r.s[3]);
    CHECK_U64(lira_rng_next(&r), !=, lira_rng_next(&r));
}

static void test_uniform_in_range_and_mean(void)
{
    lira_rng r;
    lira_rng_seed(&r, 7);
    double sum = 0;
    const int n = 100000;
    for (int i = 0; i < n; i++) {
        double u = lira_rng_uniform(&r);
        CHECK(u >= 0.0 && u < 1.0);
        sum += u;
    }
    CHECK_NEAR(sum / n, 0.5, 0.01);
}

static void test_below_is_unbiased_and_bounded(void)
{
    lira_rng r;
    lira_rng_seed(&r, 9);
    int counts[6] = {0};
    const int n = 60000;
    for (int i = 0; i < n; i++) {
        uint64_t x = lira_rng_below(&r, 6);
        CHECK_U64(x, <, 6);
        if (x < 6)
            counts[x]++;
    }
    for (int i = 0; i < 6; i++)
        CHECK_NEAR(counts[i], n / 6.0, n / 6.0 * 0.05);
    CHECK_U64(lira_rng_below(&r, 0), ==, 0);
    CHECK_U64(lira_rng_below(&r, 1), ==, 0);
}

static void test_range_inclusive(void)
{
    lira_rng r;
    lira_rng_seed(&r, 11);
    int seen_lo = 0, seen_hi = 0;
    for (int i = 0; i < 10000; i++) {
        int64_t x = lira_rng_range(&r, -3, 3);
        CHECK(x >= -3 && x <= 3);
        seen_lo |= x == -3;
        seen_hi |= x == 3;
    }
    CHECK(seen_lo && seen_hi);
    CHECK_EQ(lira_rng_range(&r, 5, 5), 5);
    CHECK_EQ(lira_rng_range(&r, 5, 1), 5);
    (void)lira_rng_range(&r, INT64_MIN, INT64_MAX);
}

static void test_entropy_seeds_differ(void)
{
    lira_rng a, b;
    CHECK_EQ(lira_rng_seed_entropy(&a), LIRA_OK);
    CHECK_EQ(lira_rng_seed_entropy(&b), LIRA_OK);
    CHECK_U64(lira_rng_next(&a), !=, lira_rng_next(&b));
    CHECK_EQ(lira_rng_seed(NULL, 1), LIRA_EINVAL);
    CHECK_EQ(lira_rng_seed_entropy(NULL), LIRA_EINVAL);
}

int main(void)
{
    RUN(test_same_seed_same_sequence);
    RUN(test_zero_seed_is_usable);
    RUN(test_uniform_in_range_and_mean);
    RUN(test_below_is_unbiased_and_bounded);
    RUN(test_range_inclusive);
    RUN(test_entropy_seeds_differ);
    return check_summary();
}
