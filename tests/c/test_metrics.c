/* test_metrics.c — the registry and its exposition: exact text, escaping,
 * sorting, histograms, the cardinality cap, validation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "histogram.h"
#include "metrics.h"
#include "rng.h"
#include "status.h"

static char *text_of(lira_metrics *m)
{
    char *t = NULL;
    size_t n = 0;
    CHECK_EQ(lira_metrics_text(m, &t, &n), LIRA_OK);
    CHECK_EQ(n, t ? strlen(t) : 0);
    return t;
}

static void test_counter_gauge_exact(void)
{
    lira_metrics *m;
    CHECK_EQ(lira_metrics_new(NULL, &m), LIRA_OK);
    const char *lab[] = {"client", "code"};
    lira_metric_def d = {"app_requests_total", "Requests.\nSecond \\ line", LIRA_METRIC_COUNTER,
                         lab, 2, NULL, 0};
    lira_metric *c, *g, *again;
    CHECK_EQ(lira_metrics_define(m, &d, &c), LIRA_OK);
    CHECK_EQ(lira_metrics_define(m, &d, &again), LIRA_OK);
    CHECK(again == c);
    lira_metric_def dg = {"app_temp", NULL, LIRA_METRIC_GAUGE, NULL, 0, NULL, 0};
    CHECK_EQ(lira_metrics_define(m, &dg, &g), LIRA_OK);
    lira_series *s;
    const char *v1[] = {"zeta", "200"}, *v2[] = {"alpha \"q\" \\ \n", "500"};
    CHECK_EQ(lira_metric_series(c, v1, 2, &s), LIRA_OK);
    CHECK_EQ(lira_series_add(s, 2), LIRA_OK);
    CHECK_EQ(lira_series_add(s, -1), LIRA_EINVAL);   /* counters only go up */
    CHECK_EQ(lira_metric_series(c, v2, 2, &s), LIRA_OK);
    CHECK_EQ(lira_series_add(s, 0.5), LIRA_OK);
    CHECK_EQ(lira_metric_series(g, NULL, 0, &s), LIRA_OK);
    CHECK_EQ(lira_series_set(s, -3.25), LIRA_OK);
    CHECK_EQ(lira_series_observe(s, 1), LIRA_EINVAL);   /* not a histogram */
    char *t = text_of(m);
    CHECK_STR(t, "# HELP app_requests_total Requests.\\nSecond \\\\ line\n"
                 "# TYPE app_requests_total counter\n"
                 "app_requests_total{client=\"alpha \\\"q\\\" \\\\ \\n\",code=\"500\"} 0.5\n"
                 "app_requests_total{client=\"zeta\",code=\"200\"} 2\n"
                 "# HELP app_temp \n"
                 "# TYPE app_temp gauge\n"
                 "app_temp -3.25\n");
    free(t);
    lira_metrics_free(m);
}

static void test_histogram_exact(void)
{
    lira_metrics *m;
    CHECK_EQ(lira_metrics_new(NULL, &m), LIRA_OK);
    const char *lab[] = {"op"};
    const double b[] = {0.1, 1, 2.5};
    lira_metric_def d = {"job_seconds", "Job time", LIRA_METRIC_HISTOGRAM, lab, 1, b, 3};
    lira_metric *h;
    CHECK_EQ(lira_metrics_define(m, &d, &h), LIRA_OK);
    lira_series *s;
    const char *v[] = {"sync"};
    CHECK_EQ(lira_metric_series(h, v, 1, &s), LIRA_OK);
    CHECK_EQ(lira_series_observe(s, 0.05), LIRA_OK);
    CHECK_EQ(lira_series_observe(s, 0.1), LIRA_OK);   /* le is inclusive */
    CHECK_EQ(lira_series_observe(s, 2), LIRA_OK);
    CHECK_EQ(lira_series_observe_ns(s, INT64_C(30000000000)), LIRA_OK);
    CHECK_EQ(lira_series_observe(s, -1), LIRA_EINVAL);
    char *t = text_of(m);
    CHECK_STR(t, "# HELP job_seconds Job time\n"
                 "# TYPE job_seconds histogram\n"
                 "job_seconds_bucket{op=\"sync\",le=\"0.1\"} 2\n"
                 "job_seconds_bucket{op=\"sync\",le=\"1\"} 2\n"
                 "job_seconds_bucket{op=\"sync\",le=\"2.5\"} 3\n"
                 "job_seconds_bucket{op=\"sync\",le=\"+Inf\"} 4\n"
                 "job_seconds_sum{op=\"sync\"} 32.15\n"
                 "job_seconds_count{op=\"sync\"} 4\n");
    free(t);
    const lira_series_hist *hist = lira_series_histogram(s);
    int64_t p50 = 0;
    CHECK_EQ(lira_series_hist_percentile(hist, 50, &p50), LIRA_OK);
    CHECK_NEAR((double)p50 / 1e9, 0.1, 0.001);
    lira_metrics_free(m);
}

static void test_default_buckets(void)
{
    lira_metrics *m;
    CHECK_EQ(lira_metrics_new(NULL, &m), LIRA_OK);
    lira_metric_def d = {"x_seconds", "x", LIRA_METRIC_HISTOGRAM, NULL, 0, NULL, 0};
    lira_metric *h;
    lira_series *s;
    CHECK_EQ(lira_metrics_define(m, &d, &h), LIRA_OK);
    CHECK_EQ(lira_metric_series(h, NULL, 0, &s), LIRA_OK);
    CHECK_EQ(lira_series_observe(s, 0.3), LIRA_OK);
    char *t = text_of(m);
    CHECK(strstr(t, "x_seconds_bucket{le=\"0.005\"} 0\n"));
    CHECK(strstr(t, "x_seconds_bucket{le=\"0.25\"} 0\n"));
    CHECK(strstr(t, "x_seconds_bucket{le=\"0.5\"} 1\n"));
    CHECK(strstr(t, "x_seconds_bucket{le=\"10\"} 1\n"));
    CHECK(strstr(t, "x_seconds_sum 0.3\n"));
    free(t);
    lira_metrics_free(m);
}

static void test_cardinality_cap(void)
{
    lira_metrics_options o = {3, 16};
    lira_metrics *m;
    CHECK_EQ(lira_metrics_new(&o, &m), LIRA_OK);
    const char *lab[] = {"endpoint", "code"};
    lira_metric_def d = {"hits_total", "h", LIRA_METRIC_COUNTER, lab, 2, NULL, 0};
    lira_metric *c;
    CHECK_EQ(lira_metrics_define(m, &d, &c), LIRA_OK);
    char ep[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(ep, sizeof ep, "/u/%d", i);
        const char *v[] = {ep, "200"};
        lira_series *s;
        CHECK_EQ(lira_metric_series(c, v, 2, &s), LIRA_OK);
        lira_series_add(s, 1);
    }
    const char *v0[] = {"/u/0", "200"};   /* a known label set still has its own series */
    lira_series *s0;
    CHECK_EQ(lira_metric_series(c, v0, 2, &s0), LIRA_OK);
    CHECK_NEAR(lira_series_value(s0), 1, 0);
    char *t = text_of(m);
    CHECK_STR(t, "# HELP hits_total h\n# TYPE hits_total counter\n"
                 "hits_total{endpoint=\"/u/0\",code=\"200\"} 1\n"
                 "hits_total{endpoint=\"/u/1\",code=\"200\"} 1\n"
                 "hits_total{endpoint=\"/u/2\",code=\"200\"} 1\n"
                 "hits_total{endpoint=\"other\",code=\"other\"} 997\n"
                 "# HELP lira_metrics_label_overflow_total Updates whose label set was collapsed "
                 "into \"other\" because the metric reached its series cap\n"
                 "# TYPE lira_metrics_label_overflow_total counter\n"
                 "lira_metrics_label_overflow_total{metric=\"hits_total\"} 997\n");
    free(t);
    lira_metrics_free(m);
}

static void test_validation(void)
{
    CHECK(lira_metrics_valid_name("a:b_c9"));
    CHECK(!lira_metrics_valid_name("9a"));
    CHECK(!lira_metrics_valid_name("a-b"));
    CHECK(!lira_metrics_valid_name(""));
    CHECK(lira_metrics_valid_label("_x1"));
    CHECK(!lira_metrics_valid_label("__x"));
    CHECK(!lira_metrics_valid_label("a:b"));
    lira_metrics *m;
    CHECK_EQ(lira_metrics_new(NULL, &m), LIRA_OK);
    lira_metric *f;
    const char *dup[] = {"a", "a"}, *le[] = {"le"}, *ok[] = {"a"};
    lira_metric_def d = {"m1", "", LIRA_METRIC_COUNTER, dup, 2, NULL, 0};
    CHECK_EQ(lira_metrics_define(m, &d, &f), LIRA_EINVAL);
    d = (lira_metric_def){"m1", "", LIRA_METRIC_HISTOGRAM, le, 1, NULL, 0};
    CHECK_EQ(lira_metrics_define(m, &d, &f), LIRA_EINVAL);
    const double bad[] = {1, 0.5};
    d = (lira_metric_def){"m1", "", LIRA_METRIC_HISTOGRAM, ok, 1, bad, 2};
    CHECK_EQ(lira_metrics_define(m, &d, &f), LIRA_EINVAL);
    d = (lira_metric_def){"m1", "", LIRA_METRIC_COUNTER, ok, 1, NULL, 0};
    CHECK_EQ(lira_metrics_define(m, &d, &f), LIRA_OK);
    d.type = LIRA_METRIC_GAUGE;   /* same name, other type */
    CHECK_EQ(lira_metrics_define(m, &d, &f), LIRA_ESTATE);
    d = (lira_metric_def){"m1", "", LIRA_METRIC_COUNTER, NULL, 0, NULL, 0};
    CHECK_EQ(lira_metrics_define(m, &d, &f), LIRA_ESTATE);
    f = lira_metrics_find(m, "m1");
    lira_series *s;
    const char *two[] = {"x", "y"};
    CHECK_EQ(lira_metric_series(f, two, 2, &s), LIRA_EINVAL);
    CHECK_EQ(lira_metric_series(f, two, 1, &s), LIRA_OK);
    CHECK_EQ(lira_series_add(s, NAN), LIRA_EINVAL);
    lira_metrics_free(m);
}

static void test_values(void)
{
    char b[32];
    lira_metrics_format_value(0.1, b, sizeof b);
    CHECK_STR(b, "0.1");
    lira_metrics_format_value(1e20, b, sizeof b);
    CHECK_STR(b, "1e+20");
    lira_metrics_format_value(-2, b, sizeof b);
    CHECK_STR(b, "-2");
    lira_metrics_format_value(1.0 / 3, b, sizeof b);
    CHECK_NEAR(strtod(b, NULL), 1.0 / 3, 0);
    lira_metrics_format_value(INFINITY, b, sizeof b);
    CHECK_STR(b, "+Inf");
    lira_metrics_format_value(NAN, b, sizeof b);
    CHECK_STR(b, "NaN");
}

/* A series' percentiles are the core histogram's (same layout), its `le`
 * counts are exact even for values a bucket's width above a bound, and it
 * holds a few KB of counters for latencies spread over a few powers of two. */
static void test_histogram_compact_matches_core(void)
{
    lira_metrics *m;
    CHECK_EQ(lira_metrics_new(NULL, &m), LIRA_OK);
    lira_metric_def d = {"lat_seconds", "x", LIRA_METRIC_HISTOGRAM, NULL, 0, NULL, 0};
    lira_metric *f;
    lira_series *s;
    CHECK_EQ(lira_metrics_define(m, &d, &f), LIRA_OK);
    CHECK_EQ(lira_metric_series(f, NULL, 0, &s), LIRA_OK);
    static lira_histogram core;
    lira_histogram_init(&core);
    lira_rng rng;
    lira_rng_seed(&rng, 42);
    int64_t le25 = 0, le5 = 0;   /* values <= 25 ms and <= 5 ms, counted by hand */
    for (int i = 0; i < 20000; i++) {
        /* 2..40 ms, and a few exactly on or 1 ns past the 25 ms bound */
        int64_t v = 2000000 + (int64_t)(lira_rng_below(&rng, 38000000));
        if (i % 100 == 0)
            v = 25000000 + (i % 200 ? 1 : 0);
        CHECK_EQ(lira_series_observe_ns(s, v), LIRA_OK);
        lira_histogram_record(&core, v);
        le25 += v <= 25000000;
        le5 += v <= 5000000;
    }
    const lira_series_hist *h = lira_series_histogram(s);
    static const double ps[] = {0, 1, 50, 90, 95, 99, 99.9, 100};
    for (size_t i = 0; i < sizeof ps / sizeof *ps; i++) {
        int64_t a = -1, b = -2;
        CHECK_EQ(lira_series_hist_percentile(h, ps[i], &a), LIRA_OK);
        lira_histogram_percentile(&core, ps[i], &b);
        CHECK_EQ(a, b);
    }
    CHECK_U64(lira_series_hist_count(h), ==, lira_histogram_count(&core));
    CHECK_EQ(lira_series_hist_sum(h), lira_histogram_sum(&core));
    CHECK_EQ(lira_series_hist_min(h), lira_histogram_min(&core));
    CHECK_EQ(lira_series_hist_max(h), lira_histogram_max(&core));
    uint64_t cum[LIRA_METRICS_MAX_BOUNDS];
    CHECK_EQ(lira_series_hist_cumulative(h, LIRA_METRICS_HTTP_NBUCKETS, cum), LIRA_OK);
    CHECK_U64(cum[2], ==, (uint64_t)le25);   /* the default bounds' third is 0.025 s */
    CHECK_U64(cum[0], ==, (uint64_t)le5);
    CHECK_U64(cum[LIRA_METRICS_HTTP_NBUCKETS - 1], ==, 20000);   /* all <= 10 s */
    CHECK_INT(lira_series_hist_bytes(h), <=, 6 * 1024);   /* 2..40 ms: 5 powers of two */
    CHECK_EQ(lira_series_hist_percentile(h, 101, &le25), LIRA_EINVAL);
    lira_metrics_free(m);
}

int main(void)
{
    RUN(test_counter_gauge_exact);
    RUN(test_histogram_exact);
    RUN(test_default_buckets);
    RUN(test_histogram_compact_matches_core);
    RUN(test_cardinality_cap);
    RUN(test_validation);
    RUN(test_values);
    return check_summary();
}
