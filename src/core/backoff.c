#include "backoff.h"

#include <math.h>
#include <string.h>

#include "status.h"

int lira_backoff_config_default(lira_backoff_config *c)
{
    if (!c)
        return LIRA_EINVAL;
    c->base_ns = LIRA_BACKOFF_DEFAULT_BASE_NS;
    c->cap_ns = LIRA_BACKOFF_DEFAULT_CAP_NS;
    c->multiplier = 2.0;
    c->jitter = LIRA_JITTER_FULL;
    return LIRA_OK;
}

int lira_backoff_config_check(const lira_backoff_config *c)
{
    if (!c || c->base_ns <= 0 || c->cap_ns < c->base_ns || c->cap_ns > LIRA_BACKOFF_MAX_CAP_NS)
        return LIRA_EINVAL;
    /* Written so that NaN fails both comparisons. */
    if (!(c->multiplier >= 1.0 && c->multiplier <= LIRA_BACKOFF_MAX_MULTIPLIER))
        return LIRA_EINVAL;
    switch (c->jitter) {
    case LIRA_JITTER_NONE:
    case LIRA_JITTER_FULL:
    case LIRA_JITTER_DECORRELATED:
        return LIRA_OK;
    }
    return LIRA_EINVAL;
}

/* Config already checked, retry >= 1. Doubling (the default) is exact integer
 * arithmetic; other multipliers go through pow(), whose result is compared
 * with the cap as a double before any conversion so that it cannot overflow. */
static int64_t interval_of(const lira_backoff_config *c, int retry)
{
    int64_t base = c->base_ns, cap = c->cap_ns;
    unsigned n = (unsigned)retry - 1u;
    if (c->multiplier == 2.0) {
        if (n >= 62 || base > (cap >> n))
            return cap;
        return base << n;
    }
    if (c->multiplier == 1.0)
        return base;
    double v = (double)base * pow(c->multiplier, (double)n);
    if (!(v < (double)cap))
        return cap;
    return (int64_t)v;
}

/* A uniform draw in [lo, hi], lo <= hi. Spans here stay below 3 days in ns
 * (< 2^48), so a 53-bit double covers them with negligible bias, and a
 * multiply is several times cheaper than the two 64-bit divisions of an
 * exact rejection draw on this hot path. */
static int64_t uniform_between(lira_rng *rng, int64_t lo, int64_t hi)
{
    int64_t d = lo + (int64_t)(lira_rng_uniform(rng) * (double)(hi - lo + 1));
    return d > hi ? hi : d;
}

int lira_backoff_interval(const lira_backoff_config *c, int retry, int64_t *interval_ns)
{
    if (!interval_ns || retry < 1 || lira_backoff_config_check(c) != LIRA_OK)
        return LIRA_EINVAL;
    *interval_ns = interval_of(c, retry);
    return LIRA_OK;
}

int lira_backoff_next(const lira_backoff_config *c, lira_rng *rng, int retry,
                      int64_t prev_delay_ns, int64_t *delay_ns)
{
    if (!delay_ns || retry < 1 || lira_backoff_config_check(c) != LIRA_OK)
        return LIRA_EINVAL;
    if (!rng && c->jitter != LIRA_JITTER_NONE)
        return LIRA_EINVAL;

    int64_t d;
    switch (c->jitter) {
    case LIRA_JITTER_FULL: {
        /* interval <= cap <= a day, so 2 * interval cannot overflow. */
        int64_t iv = interval_of(c, retry);
        d = uniform_between(rng, iv, 2 * iv);
        break;
    }
    case LIRA_JITTER_DECORRELATED: {
        /* Clamping prev first keeps 3 * prev in range whatever the caller passes. */
        int64_t prev = prev_delay_ns < c->base_ns ? c->base_ns : prev_delay_ns;
        if (prev > c->cap_ns)
            prev = c->cap_ns;
        d = uniform_between(rng, c->base_ns, 3 * prev);
        break;
    }
    default:
        d = interval_of(c, retry);
        break;
    }
    *delay_ns = d > c->cap_ns ? c->cap_ns : d;
    return LIRA_OK;
}

static const char *const jitter_names[] = {"none", "full", "decorrelated"};

const char *lira_jitter_name(lira_jitter j)
{
    if ((unsigned)j < sizeof jitter_names / sizeof jitter_names[0])
        return jitter_names[j];
    return "unknown";
}

int lira_jitter_parse(const char *name, size_t len, lira_jitter *out)
{
    if (!name || !out)
        return LIRA_EINVAL;
    for (unsigned i = 0; i < sizeof jitter_names / sizeof jitter_names[0]; i++) {
        if (strlen(jitter_names[i]) == len && memcmp(jitter_names[i], name, len) == 0) {
            *out = (lira_jitter)i;
            return LIRA_OK;
        }
    }
    return LIRA_EPARSE;
}
