#include "histogram.h"

#include <math.h>

#include "status.h"

#define SUB_COUNT (1 << LIRA_HISTOGRAM_SUB_BITS)
/* Below this every value has a bucket of its own. */
#define LINEAR_LIMIT (2 * SUB_COUNT)

/* Index of the highest set bit of v (v > 0). */
static int msb64(uint64_t v)
{
#if defined(__GNUC__) || defined(__clang__)
    return 63 - __builtin_clzll(v);
#else
    int n = 0;
    while (v >>= 1)
        n++;
    return n;
#endif
}

/* Bucket of v: identity below LINEAR_LIMIT; above it, (shift << SUB_BITS) plus
 * the top SUB_BITS+1 bits of v, which keeps consecutive powers of two
 * contiguous without any table. */
static size_t bucket_index(uint64_t v)
{
    if (v > (uint64_t)LIRA_HISTOGRAM_MAX_TRACKABLE)
        v = (uint64_t)LIRA_HISTOGRAM_MAX_TRACKABLE;
    if (v < LINEAR_LIMIT)
        return (size_t)v;
    int shift = msb64(v) - LIRA_HISTOGRAM_SUB_BITS;
    return ((size_t)shift << LIRA_HISTOGRAM_SUB_BITS) + (size_t)(v >> shift);
}

static int64_t bucket_low(size_t i)
{
    if (i < LINEAR_LIMIT)
        return (int64_t)i;
    int shift = (int)(i >> LIRA_HISTOGRAM_SUB_BITS) - 1;
    uint64_t sub = (i & (SUB_COUNT - 1)) + SUB_COUNT;
    return (int64_t)(sub << shift);
}

static int64_t bucket_width(size_t i)
{
    if (i < LINEAR_LIMIT)
        return 1;
    return INT64_C(1) << ((int)(i >> LIRA_HISTOGRAM_SUB_BITS) - 1);
}

static uint64_t sat_add_u64(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* sum is never negative, so INT64_MAX - sum cannot overflow. */
static int64_t sat_add_sum(int64_t sum, int64_t value, uint64_t n)
{
    if (value == 0 || n == 0)
        return sum;
    uint64_t room = (uint64_t)(INT64_MAX - sum);
    if (n > room / (uint64_t)value)
        return INT64_MAX;
    return sum + (int64_t)((uint64_t)value * n);
}

int lira_histogram_init(lira_histogram *h)
{
    if (!h)
        return LIRA_EINVAL;
    h->count = 0;
    h->sum = 0;
    h->min = INT64_MAX;
    h->max = 0;
    for (size_t i = 0; i < LIRA_HISTOGRAM_BUCKETS; i++)
        h->counts[i] = 0;
    return LIRA_OK;
}

int lira_histogram_reset(lira_histogram *h)
{
    return lira_histogram_init(h);
}

int lira_histogram_record(lira_histogram *h, int64_t value)
{
    if (!h || value < 0)
        return LIRA_EINVAL;
    h->counts[bucket_index((uint64_t)value)]++;
    h->count++;
    h->sum = value > INT64_MAX - h->sum ? INT64_MAX : h->sum + value;
    if (value < h->min)
        h->min = value;
    if (value > h->max)
        h->max = value;
    return LIRA_OK;
}

int lira_histogram_record_n(lira_histogram *h, int64_t value, uint64_t n)
{
    if (!h || value < 0)
        return LIRA_EINVAL;
    if (n == 0)
        return LIRA_OK;
    size_t i = bucket_index((uint64_t)value);
    h->counts[i] = sat_add_u64(h->counts[i], n);
    h->count = sat_add_u64(h->count, n);
    h->sum = sat_add_sum(h->sum, value, n);
    if (value < h->min)
        h->min = value;
    if (value > h->max)
        h->max = value;
    return LIRA_OK;
}

uint64_t lira_histogram_count(const lira_histogram *h)
{
    return h ? h->count : 0;
}

int64_t lira_histogram_sum(const lira_histogram *h)
{
    return h ? h->sum : 0;
}

int64_t lira_histogram_min(const lira_histogram *h)
{
    return h && h->count ? h->min : 0;
}

int64_t lira_histogram_max(const lira_histogram *h)
{
    return h && h->count ? h->max : 0;
}

double lira_histogram_mean(const lira_histogram *h)
{
    if (!h || !h->count)
        return 0.0;
    return (double)h->sum / (double)h->count;
}

/* The 1-based rank of percentile p: ceil(p * count / 100), at least 1.
 * p * count is computed before dividing so that integral percentiles of
 * moderate counts are exact (0.99 * 100000 is not). */
static uint64_t percentile_rank(double p, uint64_t count)
{
    double r = ceil(p * (double)count / 100.0);
    if (r < 1.0)
        return 1;
    if (r >= (double)count)
        return count;
    return (uint64_t)r;
}

int lira_histogram_percentile(const lira_histogram *h, double p, int64_t *out)
{
    if (!h || !out || !(p >= 0.0 && p <= 100.0))
        return LIRA_EINVAL;
    if (h->count == 0) {
        *out = 0;
        return LIRA_OK;
    }
    if (p == 0.0 || p == 100.0) {
        *out = p == 0.0 ? h->min : h->max;
        return LIRA_OK;
    }
    uint64_t rank = percentile_rank(p, h->count), cum = 0;
    int64_t v = h->max;
    for (size_t i = 0; i < LIRA_HISTOGRAM_BUCKETS; i++) {
        cum = sat_add_u64(cum, h->counts[i]);
        if (cum >= rank) {
            /* The midpoint halves the worst-case error of reporting an edge. */
            v = bucket_low(i) + (bucket_width(i) - 1) / 2;
            break;
        }
    }
    if (v < h->min)
        v = h->min;
    if (v > h->max)
        v = h->max;
    *out = v;
    return LIRA_OK;
}

int lira_histogram_merge(lira_histogram *dst, const lira_histogram *src)
{
    if (!dst || !src)
        return LIRA_EINVAL;
    if (src->count == 0)
        return LIRA_OK;
    /* Read src's scalars first: dst may be src. */
    uint64_t count = src->count;
    int64_t sum = src->sum, mn = src->min, mx = src->max;
    for (size_t i = 0; i < LIRA_HISTOGRAM_BUCKETS; i++)
        dst->counts[i] = sat_add_u64(dst->counts[i], src->counts[i]);
    dst->count = sat_add_u64(dst->count, count);
    dst->sum = sat_add_sum(dst->sum, sum, 1);
    if (mn < dst->min)
        dst->min = mn;
    if (mx > dst->max)
        dst->max = mx;
    return LIRA_OK;
}

uint64_t lira_histogram_count_le(const lira_histogram *h, int64_t value)
{
    uint64_t out = 0;
    if (lira_histogram_cumulative(h, &value, 1, &out) != LIRA_OK)
        return 0;
    return out;
}

int lira_histogram_cumulative(const lira_histogram *h, const int64_t *bounds,
                              size_t n, uint64_t *out)
{
    if (n == 0)
        return h ? LIRA_OK : LIRA_EINVAL;
    if (!h || !bounds || !out)
        return LIRA_EINVAL;
    for (size_t k = 1; k < n; k++)
        if (bounds[k] < bounds[k - 1])
            return LIRA_EINVAL;
    uint64_t cum = 0;
    size_t next = 0; /* first bucket not yet in cum */
    for (size_t k = 0; k < n; k++) {
        int64_t b = bounds[k];
        if (h->count == 0 || b < h->min) {
            out[k] = 0;
        } else if (b >= h->max) {
            out[k] = h->count;
        } else {
            size_t last = bucket_index((uint64_t)b);
            for (; next <= last; next++)
                cum = sat_add_u64(cum, h->counts[next]);
            out[k] = cum;
        }
    }
    return LIRA_OK;
}
