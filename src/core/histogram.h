/* histogram.h — a fixed-size log-linear histogram for latencies.
 *
 * HdrHistogram's layout with 128 linear sub-buckets per power of two: values
 * 0..255 get a bucket each (exact), and above that every bucket spans at most
 * 1/128 of its lowest value, so any value a query reports is within 0.79 % of
 * the true one (percentiles report the bucket midpoint, clamped to the exact
 * min and max, so in practice within 0.4 %).
 *
 * Units are whatever the caller records; lira records nanoseconds. Values from
 * 0 to LIRA_HISTOGRAM_MAX_TRACKABLE (2^42 - 1 ns, about 73 minutes) land in
 * their own bucket; larger values are counted in the top bucket (their count,
 * sum, min and max stay exact, only their position among percentiles is
 * clamped). Negative values are refused with LIRA_EINVAL and not counted.
 *
 * Memory: the struct embeds its counts (about 36 KB) and never allocates, so a
 * histogram lives inside whatever owns it (a metric, an endpoint record).
 * Recording is O(1): a count-leading-zeros and an increment.
 *
 * Not thread-safe: a histogram belongs to one thread (the loop); merge()
 * copies of per-thread histograms to aggregate. */
#ifndef LIRA_HISTOGRAM_H
#define LIRA_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

#define LIRA_HISTOGRAM_SUB_BITS 7   /* 128 sub-buckets per power of two */
#define LIRA_HISTOGRAM_MAX_BITS 42  /* values below 2^42 are bucketed exactly */
#define LIRA_HISTOGRAM_MAX_TRACKABLE ((INT64_C(1) << LIRA_HISTOGRAM_MAX_BITS) - 1)
#define LIRA_HISTOGRAM_BUCKETS \
    ((LIRA_HISTOGRAM_MAX_BITS - LIRA_HISTOGRAM_SUB_BITS + 1) << LIRA_HISTOGRAM_SUB_BITS)

typedef struct lira_histogram {
    uint64_t count;   /* values recorded */
    int64_t sum;      /* their sum; saturates at INT64_MAX instead of wrapping */
    int64_t min;      /* exact; INT64_MAX while empty */
    int64_t max;      /* exact; 0 while empty */
    uint64_t counts[LIRA_HISTOGRAM_BUCKETS];
} lira_histogram;

/* Make `h` empty. Call once before use (a zeroed struct is NOT ready: min must
 * start high). LIRA_EINVAL when h is NULL. */
int lira_histogram_init(lira_histogram *h);

/* Same as init: forget every value (e.g. after an export of deltas). */
int lira_histogram_reset(lira_histogram *h);

/* Record one value (>= 0). Hot path: no allocation, no loop.
 * LIRA_EINVAL when h is NULL or value < 0 (nothing is recorded). */
int lira_histogram_record(lira_histogram *h, int64_t value);

/* Record `n` occurrences of `value` (n == 0 is a no-op returning LIRA_OK).
 * LIRA_EINVAL when h is NULL or value < 0. */
int lira_histogram_record_n(lira_histogram *h, int64_t value, uint64_t n);

/* Plain accessors; a NULL h reads as an empty histogram (all 0). While empty,
 * min and max read 0 and mean reads 0.0. */
uint64_t lira_histogram_count(const lira_histogram *h);
int64_t lira_histogram_sum(const lira_histogram *h);
int64_t lira_histogram_min(const lira_histogram *h);
int64_t lira_histogram_max(const lira_histogram *h);
double lira_histogram_mean(const lira_histogram *h);

/* The value at percentile `p` in [0, 100] into *out: the smallest recorded
 * value v (to bucket precision) such that at least p % of the values are <= v.
 * p == 0 gives the exact min, p == 100 the exact max; an empty histogram gives
 * 0. LIRA_EINVAL when h or out is NULL or p is outside [0, 100] or NaN. */
int lira_histogram_percentile(const lira_histogram *h, double p, int64_t *out);

/* Add every value of `src` into `dst` (afterwards dst is what recording both
 * streams into one histogram would have given). src is unchanged; dst == src
 * doubles it. LIRA_EINVAL when either is NULL. */
int lira_histogram_merge(lira_histogram *dst, const lira_histogram *src);

/* How many recorded values are <= `value`, for a Prometheus `le` bucket.
 * Exact when value < min or value >= max (so +Inf-like bounds give count);
 * otherwise the bucket holding `value` is counted whole, which may include
 * values up to 0.79 % above it. Values < 0 give 0. A NULL h gives 0.
 * Monotonic in `value`. Costs a walk over the buckets: for many bounds use
 * lira_histogram_cumulative(). */
uint64_t lira_histogram_count_le(const lira_histogram *h, int64_t value);

/* count_le for `n` ascending upper bounds in one walk: out[i] receives
 * lira_histogram_count_le(h, bounds[i]). LIRA_EINVAL when h, bounds or out is
 * NULL (with n > 0) or the bounds are not ascending (out is then untouched). */
int lira_histogram_cumulative(const lira_histogram *h, const int64_t *bounds,
                              size_t n, uint64_t *out);

#endif
