#include "budget.h"

#include <string.h>

#include "status.h"

#define NS_PER_SEC INT64_C(1000000000)

int lira_budget_init(lira_budget *b, double ratio, int min_per_second, int64_t window_ns,
                     int64_t now)
{
    if (!b || now < 0)
        return LIRA_EINVAL;
    /* Written so that NaN fails. */
    if (!(ratio >= 0.0 && ratio <= LIRA_BUDGET_MAX_RATIO))
        return LIRA_EINVAL;
    if (min_per_second < 0 || min_per_second > LIRA_BUDGET_MAX_MIN_PER_SECOND)
        return LIRA_EINVAL;
    if (window_ns <= 0 || window_ns > LIRA_BUDGET_MAX_WINDOW_S * NS_PER_SEC)
        return LIRA_EINVAL;
    memset(b, 0, sizeof *b);
    b->ratio = ratio;
    b->min_per_second = (uint32_t)min_per_second;
    b->window_s = (int)((window_ns + NS_PER_SEC - 1) / NS_PER_SEC);
    b->head_s = now / NS_PER_SEC;
    return LIRA_OK;
}

/* Move the window so that its newest bucket covers `now`, dropping the
 * buckets that slid out, and return that bucket. */
static lira_budget_bucket *advance(lira_budget *b, int64_t now)
{
    int64_t sec = now / NS_PER_SEC;
    if (sec > b->head_s) {
        int64_t gap = sec - b->head_s;
        if (gap >= b->window_s) {
            memset(b->buckets, 0, sizeof b->buckets);
            b->deposits = 0;
            b->ratio_retries = 0;
        } else {
            for (int64_t s = b->head_s + 1; s <= sec; s++) {
                lira_budget_bucket *old = &b->buckets[s % b->window_s];
                b->deposits -= old->deposits;
                b->ratio_retries -= old->ratio_retries;
                memset(old, 0, sizeof *old);
            }
        }
        b->head_s = sec;
    }
    return &b->buckets[b->head_s % b->window_s];
}

/* The small epsilon keeps ratio * deposits = 6.9999999... (0.7 * 10 in
 * binary) from losing a whole retry. The product is >= 0, so the cast
 * truncates like floor() without a libm call on the hot path. */
static uint64_t ratio_allowance(const lira_budget *b)
{
    return (uint64_t)(b->ratio * (double)b->deposits + 1e-9);
}

int lira_budget_deposit(lira_budget *b, int64_t now)
{
    if (!b)
        return LIRA_EINVAL;
    lira_budget_bucket *cur = advance(b, now);
    if (cur->deposits < UINT32_MAX) {
        cur->deposits++;
        b->deposits++;
    }
    return LIRA_OK;
}

int lira_budget_withdraw(lira_budget *b, int64_t now)
{
    if (!b)
        return LIRA_EINVAL;
    lira_budget_bucket *cur = advance(b, now);
    if (b->ratio_retries < ratio_allowance(b) && cur->ratio_retries < UINT32_MAX) {
        cur->ratio_retries++;
        b->ratio_retries++;
        return LIRA_OK;
    }
    if (cur->floor_retries < b->min_per_second) {
        cur->floor_retries++;
        return LIRA_OK;
    }
    return LIRA_EDENIED;
}

int64_t lira_budget_available(lira_budget *b, int64_t now)
{
    if (!b)
        return 0;
    lira_budget_bucket *cur = advance(b, now);
    uint64_t allow = ratio_allowance(b);
    int64_t n = allow > b->ratio_retries ? (int64_t)(allow - b->ratio_retries) : 0;
    if (cur->floor_retries < b->min_per_second)
        n += (int64_t)(b->min_per_second - cur->floor_retries);
    return n;
}
