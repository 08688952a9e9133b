#include "check.h"

#include "backoff.h"
#include "status.h"

#define MS INT64_C(1000000)
#define SEC INT64_C(1000000000)

static lira_backoff_config cfg(int64_t base, int64_t cap, double mult, lira_jitter j)
{
    lira_backoff_config c = {base, cap, mult, j};
    return c;
}

static void test_defaults_are_the_seed_guides(void)
{
    lira_backoff_config c;
    CHECK_EQ(lira_backoff_config_default(&c), LIRA_OK);
    CHECK_EQ(c.base_ns, 200 * MS);
    CHECK_EQ(c.cap_ns, 30 * SEC);
    CHECK_NEAR(c.multiplier, 2.0, 0);
    CHECK_EQ(c.jitter, LIRA_JITTER_FULL);
    CHECK_EQ(lira_backoff_config_check(&c), LIRA_OK);
    CHECK_EQ(lira_backoff_config_default(NULL), LIRA_EINVAL);
}

static void test_config_check_rejects_nonsense(void)
{
    lira_backoff_config bad[] = {
        cfg(0, SEC, 2, LIRA_JITTER_FULL),
        cfg(-1, SEC, 2, LIRA_JITTER_FULL),
        cfg(2 * SEC, SEC, 2, LIRA_JITTER_FULL),
        cfg(MS, LIRA_BACKOFF_MAX_CAP_NS + 1, 2, LIRA_JITTER_FULL),
        cfg(MS, SEC, 0.5, LIRA_JITTER_FULL),
        cfg(MS, SEC, NAN, LIRA_JITTER_FULL),
        cfg(MS, SEC, INFINITY, LIRA_JITTER_FULL),
        cfg(MS, SEC, 1001, LIRA_JITTER_FULL),
        cfg(MS, SEC, 2, (lira_jitter)7),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ(lira_backoff_config_check(&bad[i]), LIRA_EINVAL);
    CHECK_EQ(lira_backoff_config_check(NULL), LIRA_EINVAL);
    lira_backoff_config ok = cfg(SEC, SEC, 1.0, LIRA_JITTER_NONE);
    CHECK_EQ(lira_backoff_config_check(&ok), LIRA_OK);
}

static void test_interval_doubles_to_cap(void)
{
    lira_backoff_config c;
    lira_backoff_config_default(&c);
    const int64_t want[] = {200 * MS, 400 * MS, 800 * MS, 1600 * MS, 3200 * MS, 6400 * MS,
                            12800 * MS, 25600 * MS, 30 * SEC, 30 * SEC};
    for (int n = 1; n <= 10; n++) {
        int64_t iv = -1;
        CHECK_EQ(lira_backoff_interval(&c, n, &iv), LIRA_OK);
        CHECK_EQ(iv, want[n - 1]);
    }
    int64_t iv = -1;
    CHECK_EQ(lira_backoff_interval(&c, 0, &iv), LIRA_EINVAL);
    CHECK_EQ(lira_backoff_interval(&c, 1, NULL), LIRA_EINVAL);
    CHECK_EQ(iv, -1);
}

static void test_huge_retry_numbers_reach_cap_without_overflow(void)
{
    const double mults[] = {1.0, 1.5, 2.0, 3.0, 1000.0};
    const int retries[] = {30, 62, 63, 64, 65, 1000, 1 << 20, 2147483647};
    for (size_t m = 0; m < sizeof mults / sizeof mults[0]; m++) {
        lira_backoff_config c = cfg(1, LIRA_BACKOFF_MAX_CAP_NS, mults[m], LIRA_JITTER_NONE);
        for (size_t r = 0; r < sizeof retries / sizeof retries[0]; r++) {
            int64_t d = -1;
            CHECK_EQ(lira_backoff_next(&c, NULL, retries[r], 0, &d), LIRA_OK);
            CHECK_INT(d, >=, 1);
            CHECK_INT(d, <=, LIRA_BACKOFF_MAX_CAP_NS);
            if (mults[m] >= 2.0 && retries[r] >= 1000)
                CHECK_EQ(d, LIRA_BACKOFF_MAX_CAP_NS);
            if (mults[m] == 1.0)
                CHECK_EQ(d, 1);
        }
    }
    lira_backoff_config d = cfg(200 * MS, 30 * SEC, 2, LIRA_JITTER_FULL);
    lira_rng r;
    lira_rng_seed(&r, 1);
    int64_t v;
    CHECK_EQ(lira_backoff_next(&d, &r, 1000, 0, &v), LIRA_OK);
    CHECK_EQ(v, 30 * SEC);
}

static void test_other_multipliers(void)
{
    lira_backoff_config c = cfg(100 * MS, 10 * SEC, 1.5, LIRA_JITTER_NONE);
    int64_t iv;
    lira_backoff_interval(&c, 1, &iv);
    CHECK_EQ(iv, 100 * MS);
    lira_backoff_interval(&c, 3, &iv);
    CHECK_EQ(iv, 225 * MS);
    c.multiplier = 3.0;
    lira_backoff_interval(&c, 4, &iv);
    CHECK_EQ(iv, 2700 * MS);
    lira_backoff_interval(&c, 6, &iv);
    CHECK_EQ(iv, 10 * SEC);
}

/* Full jitter: interval <= d <= min(cap, 2 * interval), over 10 000 draws per
 * retry number, and the draws really spread over the range. */
static void test_full_jitter_bounds(void)
{
    lira_backoff_config c;
    lira_backoff_config_default(&c);
    lira_rng r;
    lira_rng_seed(&r, 42);
    for (int n = 1; n <= 12; n++) {
        int64_t iv;
        lira_backoff_interval(&c, n, &iv);
        int64_t hi = 2 * iv < c.cap_ns ? 2 * iv : c.cap_ns;
        int64_t lo_seen = INT64_MAX, hi_seen = 0;
        double sum = 0;
        for (int i = 0; i < 10000; i++) {
            int64_t d;
            CHECK_EQ(lira_backoff_next(&c, &r, n, 0, &d), LIRA_OK);
            CHECK_INT(d, >=, iv);
            CHECK_INT(d, <=, hi);
            lo_seen = d < lo_seen ? d : lo_seen;
            hi_seen = d > hi_seen ? d : hi_seen;
            sum += (double)d;
        }
        if (2 * iv <= c.cap_ns) {
            CHECK_NEAR(sum / 10000, 1.5 * (double)iv, 0.02 * (double)iv);
            CHECK_INT(lo_seen, <, iv + iv / 100);
            CHECK_INT(hi_seen, >, 2 * iv - iv / 100);
        }
    }
}

static void test_no_jitter_is_the_interval(void)
{
    lira_backoff_config c = cfg(200 * MS, 30 * SEC, 2, LIRA_JITTER_NONE);
    lira_rng r;
    lira_rng_seed(&r, 3);
    for (int n = 1; n <= 20; n++) {
        int64_t iv, d;
        lira_backoff_interval(&c, n, &iv);
        for (int i = 0; i < 10000; i++) {
            CHECK_EQ(lira_backoff_next(&c, &r, n, 0, &d), LIRA_OK);
            CHECK_EQ(d, iv);
        }
    }
}

/* Decorrelated: base <= d <= min(cap, 3 * prev), chained as AWS does. */
static void test_decorrelated_jitter_bounds(void)
{
    lira_backoff_config c = cfg(200 * MS, 30 * SEC, 2, LIRA_JITTER_DECORRELATED);
    lira_rng r;
    lira_rng_seed(&r, 5);
    int64_t prev = 0;
    int at_cap = 0;
    for (int i = 0; i < 10000; i++) {
        int64_t d;
        int n = i % 20 + 1;
        if (n == 1)
            prev = 0;
        CHECK_EQ(lira_backoff_next(&c, &r, n, prev, &d), LIRA_OK);
        int64_t p = prev < c.base_ns ? c.base_ns : prev;
        int64_t hi = 3 * p < c.cap_ns ? 3 * p : c.cap_ns;
        CHECK_INT(d, >=, c.base_ns);
        CHECK_INT(d, <=, hi);
        at_cap += d == c.cap_ns;
        prev = d;
    }
    CHECK_INT(at_cap, >, 0);
    /* An absurd prev is clamped, not overflowed. */
    int64_t d;
    CHECK_EQ(lira_backoff_next(&c, &r, 3, INT64_MAX, &d), LIRA_OK);
    CHECK_INT(d, <=, c.cap_ns);
    CHECK_INT(d, >=, c.base_ns);
}

static void test_same_seed_same_delays(void)
{
    const lira_jitter modes[] = {LIRA_JITTER_FULL, LIRA_JITTER_DECORRELATED};
    for (int m = 0; m < 2; m++) {
        lira_backoff_config c = cfg(200 * MS, 30 * SEC, 2, modes[m]);
        lira_rng a, b;
        lira_rng_seed(&a, 99);
        lira_rng_seed(&b, 99);
        int64_t pa = 0, pb = 0;
        for (int n = 1; n <= 50; n++) {
            lira_backoff_next(&c, &a, n, pa, &pa);
            lira_backoff_next(&c, &b, n, pb, &pb);
            CHECK_EQ(pa, pb);
        }
    }
}

static void test_bad_arguments(void)
{
    lira_backoff_config c;
    lira_backoff_config_default(&c);
    lira_rng r;
    lira_rng_seed(&r, 1);
    int64_t d = 77;
    CHECK_EQ(lira_backoff_next(NULL, &r, 1, 0, &d), LIRA_EINVAL);
    CHECK_EQ(lira_backoff_next(&c, NULL, 1, 0, &d), LIRA_EINVAL);
    CHECK_EQ(lira_backoff_next(&c, &r, 0, 0, &d), LIRA_EINVAL);
    CHECK_EQ(lira_backoff_next(&c, &r, -5, 0, &d), LIRA_EINVAL);
    CHECK_EQ(lira_backoff_next(&c, &r, 1, 0, NULL), LIRA_EINVAL);
    CHECK_EQ(d, 77);
}

static void test_jitter_names(void)
{
    lira_jitter j;
    CHECK_EQ(lira_jitter_parse("full", 4, &j), LIRA_OK);
    CHECK_EQ(j, LIRA_JITTER_FULL);
    CHECK_EQ(lira_jitter_parse("none", 4, &j), LIRA_OK);
    CHECK_EQ(j, LIRA_JITTER_NONE);
    CHECK_EQ(lira_jitter_parse("decorrelated", 12, &j), LIRA_OK);
    CHECK_EQ(j, LIRA_JITTER_DECORRELATED);
    CHECK_EQ(lira_jitter_parse("ful", 3, &j), LIRA_EPARSE);
    CHECK_EQ(lira_jitter_parse("Full", 4, &j), LIRA_EPARSE);
    CHECK_EQ(lira_jitter_parse("full\0x", 6, &j), LIRA_EPARSE);
    CHECK_EQ(lira_jitter_parse(NULL, 0, &j), LIRA_EINVAL);
    CHECK_STR(lira_jitter_name(LIRA_JITTER_DECORRELATED), "decorrelated");
    CHECK_STR(lira_jitter_name((lira_jitter)9), "unknown");
}

int main(void)
{
    RUN(test_defaults_are_the_seed_guides);
    RUN(test_config_check_rejects_nonsense);
    RUN(test_interval_doubles_to_cap);
    RUN(test_huge_retry_numbers_reach_cap_without_overflow);
    RUN(test_other_multipliers);
    RUN(test_full_jitter_bounds);
    RUN(test_no_jitter_is_the_interval);
    RUN(test_decorrelated_jitter_bounds);
    RUN(test_same_seed_same_delays);
    RUN(test_bad_arguments);
    RUN(test_jitter_names);
    return check_summary();
}
