/* budget.h — the client-wide retry budget (Finagle's RetryBudget, gRPC's
 * retry throttling): retries may add at most `ratio` of the requests seen
 * recently, so that a struggling upstream is not hit by a retry storm.
 *
 * Every first attempt deposits; every retry must withdraw first. Over a
 * sliding window (a ring of 1-second buckets, `window` whole seconds) a
 * withdrawal succeeds when either
 *   - ratio-charged retries in the window < floor(ratio * deposits in the
 *     window), and it is then charged there; or
 *   - floor-charged retries in the current second < min_per_second, so that
 *     a quiet client (too few requests for the ratio to allow anything) can
 *     still retry a little.
 * Hence retries over a window stay below ratio * requests + min_per_second *
 * window, and never more than min_per_second of them bunch in one second
 * beyond the ratio share.
 *
 * Time: `now` is int64_t monotonic nanoseconds, passed in. A `now` earlier
 * than one already seen counts as the latest seen (time never goes back).
 * Every operation is O(1) (a jump of a whole window clears at most
 * LIRA_BUDGET_MAX_WINDOW_S buckets) and allocates nothing: the struct embeds
 * its buckets. Not thread-safe: one loop thread owns it. */
#ifndef LIRA_BUDGET_H
#define LIRA_BUDGET_H

#include <stdint.h>

#define LIRA_BUDGET_MAX_WINDOW_S 60
#define LIRA_BUDGET_MAX_RATIO 1000.0
#define LIRA_BUDGET_MAX_MIN_PER_SECOND 1000000

/* The seed guide's defaults: ratio 0.1, 10 retries/s floor, 10 s window. */
#define LIRA_BUDGET_DEFAULT_RATIO 0.1
#define LIRA_BUDGET_DEFAULT_MIN_PER_SECOND 10
#define LIRA_BUDGET_DEFAULT_WINDOW_NS (INT64_C(10) * INT64_C(1000000000))

typedef struct lira_budget_bucket {
    uint32_t deposits;       /* first attempts in this second */
    uint32_t ratio_retries;  /* retries charged to the ratio share */
    uint32_t floor_retries;  /* retries charged to the per-second floor */
} lira_budget_bucket;

/* Treat as opaque; it is public only so it can be embedded without allocation. */
typedef struct lira_budget {
    double ratio;
    uint32_t min_per_second;
    int window_s;
    int64_t head_s;                 /* the second the newest bucket covers */
    uint64_t deposits;              /* sums over the window's buckets */
    uint64_t ratio_retries;
    lira_budget_bucket buckets[LIRA_BUDGET_MAX_WINDOW_S];
} lira_budget;

/* Initialise `b` (caller-owned) empty at `now`. `ratio` in [0,
 * LIRA_BUDGET_MAX_RATIO] (0 = the floor only); `min_per_second` in [0,
 * LIRA_BUDGET_MAX_MIN_PER_SECOND]; `window_ns` in (0, 60 s], rounded up to
 * whole seconds. LIRA_EINVAL for a NULL b, a NaN or out-of-range argument,
 * or a negative now; b is untouched then. */
int lira_budget_init(lira_budget *b, double ratio, int min_per_second, int64_t window_ns,
                     int64_t now);

/* Count one first attempt at `now`. LIRA_EINVAL when b is NULL. Counts
 * saturate (at 2^32-1 per second) rather than wrap. */
int lira_budget_deposit(lira_budget *b, int64_t now);

/* Take one retry at `now`: LIRA_OK when granted (and charged), LIRA_EDENIED
 * when the budget is spent (nothing charged), LIRA_EINVAL when b is NULL.
 * Call it only once every other rule has said "retry", so that a refused
 * retry costs nothing. */
int lira_budget_withdraw(lira_budget *b, int64_t now);

/* How many retries would be granted at `now` if asked for in a row (>= 0;
 * 0 for a NULL b). Advances the window like the other calls. */
int64_t lira_budget_available(lira_budget *b, int64_t now);

#endif
