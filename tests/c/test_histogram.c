#include "check.h"

#include <stdlib.h>

#include "histogram.h"
#include "rng.h"
#include "status.h"

#define N 100000

static int64_t data[N];
static int64_t sorted[N];
static lira_histogram ha, hb, hall;

static const double percentiles[] = {
    0, 0.1, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100,
};
#define NPCT (sizeof percentiles / sizeof percentiles[0])

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The exact percentile under the histogram's definition: the value of rank
 * ceil(p * n / 100) (at least 1) in sorted order. */
static int64_t exact_percentile(const int64_t *s, size_t n, double p)
{
    double r = ceil(p * (double)n / 100.0);
    size_t rank = r < 1.0 ? 1 : (size_t)r;
    if (rank > n)
        rank = n;
    return s[rank - 1];
}

static void check_percentiles_close(const lira_histogram *h, const int64_t *s,
                                    size_t n, const char *what)
{
    for (size_t i = 0; i < NPCT; i++) {
        int64_t got = -1, want = exact_percentile(s, n, percentiles[i]);
        CHECK_EQ(lira_histogram_percentile(h, percentiles[i], &got), LIRA_OK);
        double err = fabs((double)got - (double)want);
        if (!(err <= 0.01 * (double)want))
            fprintf(stderr, "%s p%g: got %" PRId64 " want %" PRId64 "\n", what,
                    percentiles[i], got, want);
        CHECK(err <= 0.01 * (double)want);
    }
}

static void load(size_t n)
{
    memcpy(sorted, data, n * sizeof data[0]);
    qsort(sorted, n, sizeof sorted[0], cmp_i64);
    lira_histogram_init(&hall);
    for (size_t i = 0; i < n; i++)
        CHECK_EQ(lira_histogram_record(&hall, data[i]), LIRA_OK);
}

static void fill_uniform(lira_rng *r)
{
    for (size_t i = 0; i < N; i++)
        data[i] = lira_rng_range(r, 0, INT64_C(10000000000)); /* 0..10 s */
}

/* exp(normal): latency-like, spanning several decades around 50 ms. */
static void fill_lognormal(lira_rng *r)
{
    for (size_t i = 0; i < N; i++) {
        double u1 = 1.0 - lira_rng_uniform(r), u2 = lira_rng_uniform(r);
        double z = sqrt(-2.0 * log(u1)) * cos(2.0 * 3.141592653589793 * u2);
        data[i] = (int64_t)exp(17.7 + 1.5 * z);
    }
}

static void check_scalars(const lira_histogram *h, const int64_t *s, size_t n)
{
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += s[i];
    CHECK_U64(lira_histogram_count(h), ==, n);
    CHECK_EQ(lira_histogram_sum(h), sum);
    CHECK_EQ(lira_histogram_min(h), s[0]);
    CHECK_EQ(lira_histogram_max(h), s[n - 1]);
    CHECK_NEAR(lira_histogram_mean(h), (double)sum / (double)n, 1e-6 * (double)s[n - 1]);
}

static void test_uniform_percentiles_within_1pct(void)
{
    lira_rng r;
    lira_rng_seed(&r, 1);
    fill_uniform(&r);
    load(N);
    check_scalars(&hall, sorted, N);
    check_percentiles_close(&hall, sorted, N, "uniform");
}

static void test_lognormal_percentiles_within_1pct(void)
{
    lira_rng r;
    lira_rng_seed(&r, 2);
    fill_lognormal(&r);
    load(N);
    check_scalars(&hall, sorted, N);
    check_percentiles_close(&hall, sorted, N, "lognormal");
}

static void test_small_values_are_exact(void)
{
    lira_rng r;
    lira_rng_seed(&r, 3);
    for (size_t i = 0; i < 1000; i++)
        data[i] = lira_rng_range(&r, 0, 255);
    load(1000);
    for (size_t i = 0; i < NPCT; i++) {
        int64_t got = -1;
        lira_histogram_percentile(&hall, percentiles[i], &got);
        CHECK_EQ(got, exact_percentile(sorted, 1000, percentiles[i]));
    }
}

/* Edge data sets: every percentile must equal the exact one. */
static void test_edge_data_sets(void)
{
    static const struct {
        const char *name;
        int64_t value;
        size_t n;
    } cases[] = {
        {"all zero", 0, 1000},
        {"all equal", 12345678, 1000},
        {"one value", 42, 1},
        {"one large value", INT64_C(987654321012), 1},
        {"2^40 many", INT64_C(1) << 40, 500},
        {"above trackable", INT64_C(1) << 50, 3},
        {"int64 max", INT64_MAX, 2},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (size_t i = 0; i < cases[c].n; i++)
            data[i] = cases[c].value;
        load(cases[c].n);
        CHECK_U64(lira_histogram_count(&hall), ==, cases[c].n);
        CHECK_EQ(lira_histogram_min(&hall), cases[c].value);
        CHECK_EQ(lira_histogram_max(&hall), cases[c].value);
        for (size_t i = 0; i < NPCT; i++) {
            int64_t got = -1;
            CHECK_EQ(lira_histogram_percentile(&hall, percentiles[i], &got), LIRA_OK);
            if (got != cases[c].value)
                fprintf(stderr, "%s p%g\n", cases[c].name, percentiles[i]);
            CHECK_EQ(got, cases[c].value);
        }
    }
}

static void test_huge_values_clamp_but_max_is_exact(void)
{
    lira_histogram_init(&hall);
    for (int i = 0; i < 98; i++)
        lira_histogram_record(&hall, 1000);
    lira_histogram_record(&hall, INT64_C(1) << 45);
    lira_histogram_record(&hall, INT64_C(1) << 60);
    int64_t p50 = 0, p99 = 0, p100 = 0;
    lira_histogram_percentile(&hall, 50, &p50);
    lira_histogram_percentile(&hall, 99, &p99);
    lira_histogram_percentile(&hall, 100, &p100);
    CHECK_NEAR(p50, 1000, 1000 / 128);
    CHECK(p99 >= LIRA_HISTOGRAM_MAX_TRACKABLE / 2); /* clamped to the top bucket */
    CHECK_EQ(p100, INT64_C(1) << 60);
    CHECK_EQ(lira_histogram_max(&hall), INT64_C(1) << 60);
    CHECK_EQ(lira_histogram_sum(&hall), 98000 + (INT64_C(1) << 45) + (INT64_C(1) << 60));
    /* The sum saturates instead of wrapping negative. */
    lira_histogram_record(&hall, INT64_MAX);
    CHECK_EQ(lira_histogram_sum(&hall), INT64_MAX);
    lira_histogram_record_n(&hall, 5, UINT64_MAX / 2);
    CHECK_EQ(lira_histogram_sum(&hall), INT64_MAX);
}

static void test_record_n_equals_repeated_record(void)
{
    lira_histogram_init(&ha);
    lira_histogram_init(&hb);
    static const int64_t values[] = {0, 1, 255, 256, 1000, 123456789, INT64_C(1) << 41};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        CHECK_EQ(lira_histogram_record_n(&ha, values[i], 7), LIRA_OK);
        for (int k = 0; k < 7; k++)
            lira_histogram_record(&hb, values[i]);
    }
    CHECK_EQ(lira_histogram_record_n(&ha, 99, 0), LIRA_OK);
    CHECK(memcmp(&ha, &hb, sizeof ha) == 0);
}

static void test_merge_equals_recording_all(void)
{
    lira_rng r;
    lira_rng_seed(&r, 4);
    fill_lognormal(&r);
    load(N);
    lira_histogram_init(&ha);
    lira_histogram_init(&hb);
    for (size_t i = 0; i < N; i++)
        lira_histogram_record(i % 3 ? &ha : &hb, data[i]);
    CHECK_EQ(lira_histogram_merge(&ha, &hb), LIRA_OK);
    CHECK(memcmp(&ha, &hall, sizeof ha) == 0);

    /* Merging an empty one changes nothing; merging into an empty one copies. */
    lira_histogram_init(&hb);
    CHECK_EQ(lira_histogram_merge(&ha, &hb), LIRA_OK);
    CHECK(memcmp(&ha, &hall, sizeof ha) == 0);
    CHECK_EQ(lira_histogram_merge(&hb, &hall), LIRA_OK);
    CHECK(memcmp(&hb, &hall, sizeof hb) == 0);

    /* Self-merge doubles every count. */
    CHECK_EQ(lira_histogram_merge(&hb, &hb), LIRA_OK);
    CHECK_U64(lira_histogram_count(&hb), ==, 2 * (uint64_t)N);
    CHECK_EQ(lira_histogram_sum(&hb), 2 * lira_histogram_sum(&hall));
    CHECK_EQ(lira_histogram_min(&hb), lira_histogram_min(&hall));
}

/* Exact number of sorted values <= b. */
static uint64_t exact_le(int64_t b)
{
    size_t lo = 0, hi = N;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sorted[mid] <= b)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void test_count_le_monotonic_and_close(void)
{
    lira_rng r;
    lira_rng_seed(&r, 5);
    fill_lognormal(&r);
    load(N);
    CHECK_U64(lira_histogram_count_le(&hall, -1), ==, 0);
    CHECK_U64(lira_histogram_count_le(&hall, sorted[0] - 1), ==, 0);
    CHECK_U64(lira_histogram_count_le(&hall, sorted[N - 1]), ==, N);
    CHECK_U64(lira_histogram_count_le(&hall, INT64_MAX), ==, N);

    static int64_t bounds[400];
    static uint64_t cum[400];
    uint64_t prev = 0;
    for (int i = 0; i < 400; i++) {
        bounds[i] = (int64_t)pow(10.0, 3.0 + i * 0.02); /* 1 us .. ~100 s */
        uint64_t got = lira_histogram_count_le(&hall, bounds[i]);
        CHECK_U64(got, >=, prev);
        prev = got;
        /* Counting the straddling bucket whole may include values < 0.79 % above. */
        CHECK_U64(got, >=, exact_le(bounds[i]));
        CHECK_U64(got, <=, exact_le(bounds[i] + bounds[i] / 127));
    }
    CHECK_EQ(lira_histogram_cumulative(&hall, bounds, 400, cum), LIRA_OK);
    for (int i = 0; i < 400; i++)
        CHECK_U64(cum[i], ==, lira_histogram_count_le(&hall, bounds[i]));

    int64_t bad[] = {10, 5};
    uint64_t out[2] = {77, 77};
    CHECK_EQ(lira_histogram_cumulative(&hall, bad, 2, out), LIRA_EINVAL);
    CHECK_U64(out[0], ==, 77);
}

static void test_empty_and_bad_arguments(void)
{
    int64_t v = -1;
    lira_histogram_init(&hall);
    CHECK_EQ(lira_histogram_percentile(&hall, 50, &v), LIRA_OK);
    CHECK_EQ(v, 0);
    CHECK_EQ(lira_histogram_min(&hall), 0);
    CHECK_EQ(lira_histogram_max(&hall), 0);
    CHECK_NEAR(lira_histogram_mean(&hall), 0.0, 0.0);
    CHECK_U64(lira_histogram_count_le(&hall, 100), ==, 0);

    CHECK_EQ(lira_histogram_record(&hall, -1), LIRA_EINVAL);
    CHECK_EQ(lira_histogram_record_n(&hall, -5, 3), LIRA_EINVAL);
    CHECK_U64(lira_histogram_count(&hall), ==, 0);
    CHECK_EQ(lira_histogram_init(NULL), LIRA_EINVAL);
    CHECK_EQ(lira_histogram_reset(NULL), LIRA_EINVAL);
    CHECK_EQ(lira_histogram_record(NULL, 1), LIRA_EINVAL);
    CHECK_EQ(lira_histogram_record_n(NULL, 1, 1), LIRA_EINVAL);
    CHECK_EQ(lira_histogram_merge(NULL, &hall), LIRA_EINVAL);
    CHECK_EQ(lira_histogram_merge(&hall, NULL), LIRA_EINVAL);
    CHECK_EQ(lira_histogram_percentile(NULL, 50, &v), LIRA_EINVAL);
    CHECK_EQ(lira_histogram_percentile(&hall, 50, NULL), LIRA_EINVAL);
    CHECK_EQ(lira_histogram_percentile(&hall, -0.1, &v), LIRA_EINVAL);
    CHECK_EQ(lira_histogram_percentile(&hall, 100.1, &v), LIRA_EINVAL);
    CHECK_EQ(lira_histogram_percentile(&hall, NAN, &v), LIRA_EINVAL);
    CHECK_EQ(lira_histogram_cumulative(NULL, &v, 1, NULL), LIRA_EINVAL);
    CHECK_U64(lira_histogram_count(NULL), ==, 0);
    CHECK_U64(lira_histogram_count_le(NULL, 5), ==, 0);

    lira_histogram_record(&hall, 7);
    CHECK_EQ(lira_histogram_reset(&hall), LIRA_OK);
    CHECK_U64(lira_histogram_count(&hall), ==, 0);
    CHECK_EQ(lira_histogram_record(&hall, 9), LIRA_OK);
    CHECK_EQ(lira_histogram_min(&hall), 9);
}

int main(void)
{
    RUN(test_uniform_percentiles_within_1pct);
    RUN(test_lognormal_percentiles_within_1pct);
    RUN(test_small_values_are_exact);
    RUN(test_edge_data_sets);
    RUN(test_huge_values_clamp_but_max_is_exact);
    RUN(test_record_n_equals_repeated_record);
    RUN(test_merge_equals_recording_all);
    RUN(test_count_le_monotonic_and_close);
    RUN(test_empty_and_bad_arguments);
    return check_summary();
}
