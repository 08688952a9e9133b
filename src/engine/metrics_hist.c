/* metrics_hist.c — a histogram series' storage (metrics.h, "Histograms").
 *
 * The `le` buckets are counted exactly, one counter per bound. Percentiles
 * come from the same log-linear layout as src/core/histogram (128 linear
 * sub-buckets per power of two, so the same answers), but its counters live
 * in 1 KB blocks, one per power of two of nanoseconds, allocated when the
 * first value lands there: a call latency spans a handful of powers of two,
 * so a series holds a few KB instead of the core histogram's 37 KB. A block
 * that cannot be allocated leaves that value out of the percentiles only
 * (count, sum, min, max and `le` stay exact) and is counted in `lost`. */
#include <math.h>
#include <stdlib.h>

#include "metrics_impl.h"
#include "status.h"

#define SUB 128                       /* sub-buckets per block */

/* Block and slot of v: block 0 holds 0..127 and block 1 128..255 (width
 * 1); block j >= 1 holds [2^(j+6), 2^(j+7)) in slots of 2^(j-1). */
static void locate(uint64_t v, size_t *blk, size_t *slot)
{
    if (v > (uint64_t)LIRA_HISTOGRAM_MAX_TRACKABLE)
        v = (uint64_t)LIRA_HISTOGRAM_MAX_TRACKABLE;
    if (v < SUB) {
        *blk = 0, *slot = (size_t)v;
        return;
    }
    int msb = 63 - __builtin_clzll(v);   /* >= 7 */
    *blk = (size_t)(msb - 6);
    *slot = (size_t)(v >> (msb - 7)) & (SUB - 1);
}

static int64_t slot_low(size_t blk, size_t slot)
{
    if (blk == 0)
        return (int64_t)slot;
    return (int64_t)(((uint64_t)SUB + slot) << (blk - 1));
}

static int64_t slot_width(size_t blk)
{
    return blk == 0 ? 1 : INT64_C(1) << (blk - 1);
}

void lira__hist_init(lira_series_hist *h, uint64_t *le)
{
    h->min = INT64_MAX;
    h->le = le;
}

void lira__hist_free(lira_series_hist *h)
{
    for (size_t i = 0; i < LIRA__HIST_BLOCKS; i++)
        free(h->block[i]);
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

int lira__hist_record(lira_series_hist *h, const int64_t *bounds_ns, size_t nbounds, int64_t v)
{
    if (v < 0)
        return LIRA_EINVAL;
    h->count++;   /* as the core histogram: 2^64 observations never happen */
    h->sum = v > INT64_MAX - h->sum ? INT64_MAX : h->sum + v;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
    for (size_t k = 0; k < nbounds; k++)
        if (v <= bounds_ns[k]) {
            h->le[k]++;
            break;
        }
    size_t b, s;
    locate((uint64_t)v, &b, &s);
    if (!h->block[b] && !(h->block[b] = calloc(SUB, sizeof(uint64_t)))) {
        h->lost++;
        return LIRA_OK;   /* counted everywhere but in the percentiles */
    }
    h->block[b][s]++;
    return LIRA_OK;
}

uint64_t lira_series_hist_count(const lira_series_hist *h) { return h ? h->count : 0; }
int64_t lira_series_hist_sum(const lira_series_hist *h) { return h ? h->sum : 0; }
int64_t lira_series_hist_min(const lira_series_hist *h) { return h && h->count ? h->min : 0; }
int64_t lira_series_hist_max(const lira_series_hist *h) { return h && h->count ? h->max : 0; }

double lira_series_hist_mean(const lira_series_hist *h)
{
    return h && h->count ? (double)h->sum / (double)h->count : 0.0;
}

/* As lira_histogram_percentile (the same rank, midpoint and clamping). */
int lira_series_hist_percentile(const lira_series_hist *h, double p, int64_t *out)
{
    if (!h || !out || !(p >= 0.0 && p <= 100.0))
        return LIRA_EINVAL;
    if (h->count == 0 || p == 0.0 || p == 100.0) {
        *out = h->count == 0 ? 0 : p == 0.0 ? h->min : h->max;
        return LIRA_OK;
    }
    double r = ceil(p * (double)h->count / 100.0);
    uint64_t rank = r < 1.0 ? 1 : r >= (double)h->count ? h->count : (uint64_t)r, cum = 0;
    int64_t v = h->max;
    for (size_t b = 0; b < LIRA__HIST_BLOCKS && cum < rank; b++) {
        if (!h->block[b])
            continue;
        for (size_t s = 0; s < SUB; s++) {
            cum = sat_add(cum, h->block[b][s]);
            if (cum >= rank) {
                v = slot_low(b, s) + (slot_width(b) - 1) / 2;
                break;
            }
        }
    }
    *out = v < h->min ? h->min : v > h->max ? h->max : v;
    return LIRA_OK;
}

int lira_series_hist_cumulative(const lira_series_hist *h, size_t nbounds, uint64_t *out)
{
    if (!h || (nbounds && !out))
        return LIRA_EINVAL;
    uint64_t cum = 0;
    for (size_t k = 0; k < nbounds; k++)
        out[k] = cum = sat_add(cum, h->le[k]);
    return LIRA_OK;
}

size_t lira_series_hist_bytes(const lira_series_hist *h)
{
    size_t n = 0;
    for (size_t i = 0; h && i < LIRA__HIST_BLOCKS; i++)
        n += h->block[i] ? SUB * sizeof(uint64_t) : 0;
    return n;
}
