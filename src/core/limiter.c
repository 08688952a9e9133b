/* limiter.c — token bucket with debt, paced down by rate-limit headers.
 *
 * State is (tokens, last): the bucket held `tokens` at time `last`. Tokens
 * accrue lazily when a call brings the state forward, so every operation
 * is O(1) and the limiter needs no timer of its own. `last` may lie in the
 * future (a block moved it there); times before it add nothing. */
#include "limiter.h"

#include <math.h>
#include <stddef.h>

#include "clock.h"
#include "status.h"

/* Waits are computed in double first; anything at or past this does not
 * fit int64_t nanoseconds. */
#define MAX_NS_D 9.2e18

static int64_t sat_add(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    return a + b;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

int lira_limiter_config_default(lira_limiter_config *c)
{
    if (!c)
        return LIRA_EINVAL;
    c->rate = 0.0;
    c->per = 1.0;
    c->burst = 1;
    c->target = LIRA_LIMITER_DEFAULT_TARGET;
    return LIRA_OK;
}

int lira_limiter_init(lira_limiter *l, const lira_limiter_config *c, int64_t now)
{
    if (!l || !c)
        return LIRA_EINVAL;
    /* Written so that NaN fails every test. */
    if (!(c->rate >= 0.0) || !isfinite(c->rate))
        return LIRA_EINVAL;
    if (!(c->per > 0.0) || !isfinite(c->per))
        return LIRA_EINVAL;
    if (!(c->target > 0.0 && c->target <= 1.0))
        return LIRA_EINVAL;
    if (c->rate > 0.0 && c->burst == 0)
        return LIRA_EINVAL;

    lira_limiter t = {0};
    t.target = c->target;
    if (c->rate > 0.0) {
        double tpn = c->rate * c->target / (c->per * 1e9);
        if (!(tpn > 0.0 && tpn <= 1.0) || !(1.0 / tpn < MAX_NS_D))
            return LIRA_ERANGE;
        t.tok_per_ns = tpn;
        t.ns_per_tok = 1.0 / tpn;
        t.burst = (double)c->burst;
    } else {
        t.burst = HUGE_VAL; /* headers only: nothing to save up */
    }
    t.tokens = t.burst;
    t.last = now;
    *l = t;
    return LIRA_OK;
}

/* ------------------------------------------------------ bucket state --- */

static void end_window(lira_limiter *l)
{
    l->pace_until = 0;
    l->tokens = l->burst + fmin(0.0, l->tokens - 1.0);
}

/* Bring the state forward to `at`, crossing the end of a pacing period:
 * the server's window has reset there, so the bucket starts the new window
 * full, minus the reservations already scheduled at or after the reset.
 * Those are the debt plus one: the paced bucket (capacity 1) refills its
 * last token exactly at the reset, and whoever took it is sent in the new
 * window. */
static void advance(lira_limiter *l, int64_t at)
{
    if (at <= l->last)
        return;
    if (l->pace_until) {
        int64_t end = at < l->pace_until ? at : l->pace_until;
        l->tokens = fmin(1.0, l->tokens + (double)(end - l->last) * l->pace_tok_per_ns);
        l->last = end;
        if (at < l->pace_until)
            return;
        end_window(l);
    }
    if (l->tok_per_ns > 0.0)
        l->tokens = fmin(l->burst, l->tokens + (double)(at - l->last) * l->tok_per_ns);
    l->last = at;
}

static double current_ns_per_tok(const lira_limiter *l)
{
    if (l->pace_until && l->last < l->pace_until)
        return l->pace_ns_per_tok;
    return l->ns_per_tok;
}

static int64_t blocked_until(const lira_limiter *l)
{
    return max64(l->retry_until, l->exhausted_until);
}

/* Work out, on a copy `s` of `l`, the reservation of n tokens at `now`.
 * A blocked limiter schedules from the end of the block, so waiters queued
 * during it are released at the configured pace rather than all at once. */
static int plan(const lira_limiter *l, int64_t now, uint32_t n, lira_limiter *s,
                int64_t *wait_ns)
{
    if ((double)n > l->burst)
        return LIRA_ERANGE;
    *s = *l;
    advance(s, max64(now, blocked_until(s)));
    s->tokens -= (double)n;

    double debt_ns = 0.0;
    if (s->tokens < 0.0) {
        debt_ns = ceil(-s->tokens * current_ns_per_tok(s));
        if (!(debt_ns < MAX_NS_D))
            return LIRA_ERANGE;
    }
    int64_t start = max64(s->last, now);
    if (now < 0 && start > INT64_MAX + now)
        return LIRA_ERANGE;
    int64_t delay = start - now;
    if (debt_ns > 0.0 && debt_ns >= (double)(INT64_MAX - delay))
        return LIRA_ERANGE;
    *wait_ns = delay + (int64_t)debt_ns;
    return LIRA_OK;
}

int lira_limiter_reserve(lira_limiter *l, int64_t now, uint32_t n, int64_t *wait_ns)
{
    /* No wait is too long: the within-variant never refuses. */
    return lira_limiter_reserve_within(l, now, n, INT64_MAX, wait_ns);
}

int lira_limiter_reserve_within(lira_limiter *l, int64_t now, uint32_t n,
                                int64_t max_wait_ns, int64_t *wait_ns)
{
    if (!l || !wait_ns)
        return LIRA_EINVAL;
    lira_limiter s;
    int64_t w;
    int rc = plan(l, now, n, &s, &w);
    if (rc != LIRA_OK)
        return rc;
    *wait_ns = w;
    if (w > (max_wait_ns > 0 ? max_wait_ns : 0))
        return LIRA_EDENIED;
    *l = s;
    return LIRA_OK;
}

int lira_limiter_cancel(lira_limiter *l, int64_t now, uint32_t n)
{
    if (!l)
        return LIRA_EINVAL;
    advance(l, now);
    double cap = (l->pace_until && l->last < l->pace_until) ? 1.0 : l->burst;
    l->tokens = fmin(cap, l->tokens + (double)n);
    return LIRA_OK;
}

double lira_limiter_available(const lira_limiter *l, int64_t now)
{
    if (!l)
        return 0.0;
    lira_limiter s = *l;
    advance(&s, now);
    if (now < blocked_until(&s))
        return fmin(0.0, s.tokens);
    return s.tokens;
}

/* ----------------------------------------------------- observations --- */

/* Is `remaining` low enough to pace? See the rule in limiter.h. */
static int remaining_is_low(const lira_limiter *l, const lira_ratelimit *info)
{
    double remaining = (double)info->remaining;
    if (info->has_limit && remaining < (1.0 - l->target) * (double)info->limit)
        return 1;
    if (l->tok_per_ns > 0.0) {
        double spend = fmax(0.0, l->tokens) + (double)info->reset_ns * l->tok_per_ns;
        if (remaining < spend)
            return 1;
    }
    return 0;
}

static void start_pacing(lira_limiter *l, int64_t reset_at, double tok_per_ns)
{
    if (!l->pace_until)
        l->tokens = fmin(l->tokens, 1.0); /* pace evenly: no saved-up burst */
    l->pace_until = reset_at;
    l->pace_tok_per_ns = tok_per_ns;
    l->pace_ns_per_tok = tok_per_ns > 0.0 ? 1.0 / tok_per_ns : HUGE_VAL;
}

int lira_limiter_observe(lira_limiter *l, int64_t now, const lira_ratelimit *info)
{
    if (!l || !info)
        return LIRA_EINVAL;
    advance(l, now);
    if (info->has_retry_after && info->retry_after_ns > 0) {
        int64_t until = sat_add(now, info->retry_after_ns);
        if (until > l->retry_until)
            l->retry_until = until;
    }
    if (!info->has_remaining || !info->has_reset || info->reset_ns <= 0)
        return LIRA_OK;

    int64_t reset_at = sat_add(now, info->reset_ns);
    if (info->remaining <= 0) {
        /* A pace of 0 until the reset: the new window starts there. */
        l->exhausted_until = reset_at;
        start_pacing(l, reset_at, 0.0);
        return LIRA_OK;
    }
    /* Remaining only falls within a window, so a higher count for the same
     * window is a response that was overtaken by the one that said 0. */
    if (now < l->exhausted_until && reset_at <= sat_add(l->exhausted_until, LIRA_NS_PER_SEC))
        return LIRA_OK;
    if (l->exhausted_until > now) {
        /* A new window opened early: the state a reservation moved to the
         * old reset must apply from now, or new callers would still wait. */
        l->exhausted_until = 0;
        if (l->pace_until)
            end_window(l);
        if (l->last > now)
            l->last = now;
    }
    l->exhausted_until = 0;

    if (remaining_is_low(l, info)) {
        double tpn = (double)info->remaining / (double)info->reset_ns;
        if (l->tok_per_ns > 0.0 && l->tok_per_ns < tpn)
            tpn = l->tok_per_ns;
        start_pacing(l, reset_at, tpn);
    } else if (l->pace_until) {
        /* A headers-only limiter has nothing to refill with: unconstrained. */
        l->pace_until = 0;
        if (l->tok_per_ns == 0.0)
            l->tokens = l->burst;
    }
    return LIRA_OK;
}
