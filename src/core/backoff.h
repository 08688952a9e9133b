/* backoff.h — how long to wait before retry n.
 *
 * The interval grows geometrically from `base` by `multiplier` per retry up
 * to `cap`: interval(n) = min(cap, base * multiplier^(n-1)) for retry
 * n = 1, 2, ... (with the defaults: 200 ms, 400 ms, 800 ms, 1.6 s ... 30 s).
 * Jitter then spreads clients apart so that they do not retry in lockstep:
 *
 *   LIRA_JITTER_NONE          delay = interval
 *   LIRA_JITTER_FULL          delay = min(cap, interval + U[0, interval])
 *                             (the seed guide's "interval + 0-100 %")
 *   LIRA_JITTER_DECORRELATED  delay = min(cap, U[base, 3 * prev]), prev = the
 *                             previous delay (base before the first retry);
 *                             AWS's "decorrelated jitter"
 *
 * Whatever the mode, a delay is never below `base` and never above `cap`.
 * All durations are int64_t nanoseconds. lira_backoff_next() is a hot path:
 * no allocation, no clock, O(1) even for absurd retry numbers. */
#ifndef LIRA_BACKOFF_H
#define LIRA_BACKOFF_H

#include <stddef.h>
#include <stdint.h>

#include "rng.h"

typedef enum lira_jitter {
    LIRA_JITTER_NONE = 0,
    LIRA_JITTER_FULL = 1,
    LIRA_JITTER_DECORRELATED = 2
} lira_jitter;

/* Limits that lira_backoff_config_check() enforces. A cap above a day is a
 * configuration mistake, and the limit keeps 3 * cap far from overflow. */
#define LIRA_BACKOFF_MAX_CAP_NS      (INT64_C(86400) * INT64_C(1000000000))
#define LIRA_BACKOFF_MAX_MULTIPLIER  1000.0

/* The seed guide's defaults: 200 ms doubling to 30 s, full jitter. */
#define LIRA_BACKOFF_DEFAULT_BASE_NS  (INT64_C(200) * INT64_C(1000000))
#define LIRA_BACKOFF_DEFAULT_CAP_NS   (INT64_C(30) * INT64_C(1000000000))

typedef struct lira_backoff_config {
    int64_t base_ns;     /* first interval, > 0 */
    int64_t cap_ns;      /* largest delay, base_ns <= cap_ns <= LIRA_BACKOFF_MAX_CAP_NS */
    double multiplier;   /* growth per retry, 1.0 <= m <= LIRA_BACKOFF_MAX_MULTIPLIER */
    lira_jitter jitter;
} lira_backoff_config;

/* Fill `c` with the defaults above. LIRA_EINVAL when c is NULL. */
int lira_backoff_config_default(lira_backoff_config *c);

/* LIRA_OK when `c` is usable; LIRA_EINVAL when c is NULL, base_ns <= 0,
 * cap_ns < base_ns, cap_ns > LIRA_BACKOFF_MAX_CAP_NS, the multiplier is NaN
 * or outside [1, LIRA_BACKOFF_MAX_MULTIPLIER], or the jitter mode is unknown. */
int lira_backoff_config_check(const lira_backoff_config *c);

/* The un-jittered interval of retry `retry` (1-based) into *interval_ns:
 * min(cap, base * multiplier^(retry-1)). LIRA_EINVAL for a bad config, a
 * NULL out pointer or retry < 1. */
int lira_backoff_interval(const lira_backoff_config *c, int retry, int64_t *interval_ns);

/* The delay before retry `retry` (1-based) into *delay_ns, jittered per
 * c->jitter with draws from `rng` (caller-owned; may be NULL only for
 * LIRA_JITTER_NONE). `prev_delay_ns` is the delay returned for the previous
 * retry; only LIRA_JITTER_DECORRELATED reads it, and a value <= 0 (the first
 * retry) counts as base. LIRA_EINVAL for a bad config, retry < 1, a NULL
 * out pointer, or a NULL rng where one is needed; *delay_ns is untouched then. */
int lira_backoff_next(const lira_backoff_config *c, lira_rng *rng, int retry,
                      int64_t prev_delay_ns, int64_t *delay_ns);

/* "none", "full", "decorrelated"; "unknown" for anything else. Static. */
const char *lira_jitter_name(lira_jitter j);

/* Parse a jitter name (exactly one of the names above, `len` bytes) into *out.
 * LIRA_EINVAL for NULL pointers, LIRA_EPARSE for any other text. */
int lira_jitter_parse(const char *name, size_t len, lira_jitter *out);

#endif
