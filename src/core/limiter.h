/* limiter.h — the client-side rate limiter: a token bucket that the server's
 * rate-limit headers can slow down.
 *
 * Configured pacing: `rate` tokens per `per` seconds, at most `burst` tokens
 * saved up, spent at `target` x the documented rate (default 0.8, so a
 * client stays 20 % under the limit it was told about and clock skew or a
 * second client does not push it over).
 *
 * Reservations go into debt, like Go's rate.Limiter.Reserve: a reservation
 * always takes its tokens now and reports how long the caller must wait
 * before it may proceed. The caller waits on a timer and never polls, and
 * later callers queue up behind earlier ones in FIFO order automatically.
 *
 * Header adaptation (lira_limiter_observe), the rules:
 *   - Retry-After blocks every reservation until now + retry_after (a later,
 *     shorter Retry-After never shortens a block already in force).
 *   - remaining == 0 with a known reset: block until the reset. Within that
 *     same window (a reset no later than the blocking one + 1 s), a response
 *     that still reports remaining > 0 is stale (it was sent before the one
 *     that reported 0) and does not lift the block.
 *   - remaining is "low" when (a) a limit is known and
 *     remaining < (1 - target) x limit, or (b) a rate is configured and
 *     remaining < what the configured bucket would hand out before the reset
 *     (tokens now + configured rate x time to reset). When low, the limiter
 *     paces the remaining tokens evenly until the reset: one token every
 *     reset/remaining, no burst (or the configured rate, if slower).
 *   - Otherwise any pacing from an earlier observation ends: the newest
 *     report wins (except the stale-remaining case above).
 *   - When the reset passes (or a report for a new window lifts an
 *     exhausted quota early), the configured rate applies again and the
 *     bucket starts the new window full, minus the reservations already
 *     scheduled at or after the reset.
 *   - A report without a reset (or whose reset has passed) changes nothing
 *     but Retry-After: the limiter cannot pace a quota with no end.
 * While blocked, reservations are scheduled from the end of the block, so
 * waiters are released at the configured pace (a burst, then paced), not
 * all at once; a headers-only limiter does release them all at once.
 * A `now` earlier than one already seen is treated as that later time.
 *
 * A limiter with rate 0 is "headers only": it admits everything at once
 * unless an observation paces or blocks it.
 *
 * Units: `now` and waits are int64_t monotonic nanoseconds; `per` is seconds.
 * The struct lives wherever the caller puts it (no allocation anywhere);
 * its fields are private. Not thread-safe: one owner (the engine loop). */
#ifndef LIRA_LIMITER_H
#define LIRA_LIMITER_H

#include <stdint.h>

#include "ratelimit.h"

#define LIRA_LIMITER_DEFAULT_TARGET 0.8

typedef struct lira_limiter_config {
    double rate;      /* tokens per `per` seconds; >= 0; 0 = headers only */
    double per;       /* seconds, > 0 */
    uint32_t burst;   /* max tokens saved up; >= 1 when rate > 0 */
    double target;    /* fraction of rate actually used, in (0, 1] */
} lira_limiter_config;

typedef struct lira_limiter {
    /* configured pacing; tok_per_ns == 0 means unlimited (headers only) */
    double tok_per_ns, ns_per_tok, burst;
    double target;
    /* bucket state: tokens (negative = debt) as of time `last` */
    double tokens;
    int64_t last;
    /* header-driven state, 0 = none */
    int64_t retry_until;     /* Retry-After */
    int64_t exhausted_until; /* remaining == 0 until the reset */
    int64_t pace_until;      /* pacing a low remaining until the reset */
    double pace_tok_per_ns, pace_ns_per_tok;
} lira_limiter;

/* Fill `c` with the defaults: rate 0 (headers only), per 1 s, burst 1,
 * target LIRA_LIMITER_DEFAULT_TARGET. LIRA_EINVAL when c is NULL. */
int lira_limiter_config_default(lira_limiter_config *c);

/* Initialise `l` from `c` at time `now` (ns) with a full bucket.
 * LIRA_EINVAL when l or c is NULL, rate < 0 or not finite, per <= 0 or not
 * finite, burst == 0 with rate > 0, or target outside (0, 1]; LIRA_ERANGE
 * when the effective rate exceeds one token per nanosecond or is so slow a
 * token takes longer than ~292 years. `l` is untouched on error. */
int lira_limiter_init(lira_limiter *l, const lira_limiter_config *c, int64_t now);

/* Hot path (O(1), no allocation). Take `n` tokens at `now`, going into debt
 * if needed, and store in *wait_ns how long (>= 0 ns) the caller must wait
 * before proceeding. LIRA_EINVAL when l or wait_ns is NULL; LIRA_ERANGE
 * when n exceeds the configured burst (it could never be granted at once)
 * or the wait would overflow; nothing is taken on error. n == 0 takes
 * nothing and reports the wait a 0-token reservation would have. */
int lira_limiter_reserve(lira_limiter *l, int64_t now, uint32_t n, int64_t *wait_ns);

/* Like lira_limiter_reserve, but only when the wait is <= max_wait_ns
 * (the time left until the caller's deadline; negative counts as 0).
 * Otherwise it takes nothing, returns LIRA_EDENIED and still stores in
 * *wait_ns the wait the reservation would have needed (the error's
 * retry_after). Other errors as lira_limiter_reserve. */
int lira_limiter_reserve_within(lira_limiter *l, int64_t now, uint32_t n,
                                int64_t max_wait_ns, int64_t *wait_ns);

/* Give back `n` tokens from a reservation that will not be used (the call
 * was cancelled before its wait ended). The bucket never refills past its
 * burst. LIRA_EINVAL when l is NULL. */
int lira_limiter_cancel(lira_limiter *l, int64_t now, uint32_t n);

/* Tokens available at `now`: negative while in debt, at most 0 while
 * blocked by Retry-After or an exhausted quota, at most 1 while pacing a
 * low remaining, HUGE_VAL for a headers-only limiter that nothing
 * constrains. 0 when l is NULL. Does not change `l`. */
double lira_limiter_available(const lira_limiter *l, int64_t now);

/* Feed what the server said (see the rules above). `info` comes from
 * lira_ratelimit_parse (its reset and Retry-After are relative to the time
 * the response was received, which `now` should be). LIRA_EINVAL when l or
 * info is NULL. */
int lira_limiter_observe(lira_limiter *l, int64_t now, const lira_ratelimit *info);

#endif
