/* breaker.c — circuit breaker state machine and sliding windows.
 * The contract (states, windows, permits, cooldown growth) is in breaker.h. */
#include "breaker.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "status.h"

/* One second of a time window. Only seconds that saw a call get a bucket,
 * and buckets sit in the ring in arrival (= time) order. */
struct lira_breaker_bucket {
    int64_t sec;
    uint32_t calls, failures, slow;
};

enum { OUTCOME_FAILED = 1, OUTCOME_SLOW = 2 };

static int64_t add_sat(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

/* ------------------------------------------------------------ config --- */

lira_breaker_config lira_breaker_config_default(void)
{
    lira_breaker_config c;
    memset(&c, 0, sizeof c);
    c.window_kind = LIRA_BREAKER_WINDOW_TIME;
    c.window = 30;
    c.failure_rate = 0.5;
    c.slow_call_rate = 0.8;
    c.slow_call_ns = 0;
    c.min_calls = 20;
    c.cooldown_ns = 15 * LIRA_NS_PER_SEC;
    c.half_open_calls = 3;
    c.cooldown_multiplier = 1.0;
    c.max_cooldown_ns = 300 * LIRA_NS_PER_SEC;
    return c;
}

static int rate_ok(double r)
{
    return r > 0.0 && r <= 1.0;   /* false for NaN too */
}

int lira_breaker_config_validate(const lira_breaker_config *c)
{
    if (!c)
        return LIRA_EINVAL;
    uint32_t cap;
    if (c->window_kind == LIRA_BREAKER_WINDOW_TIME)
        cap = LIRA_BREAKER_MAX_WINDOW_SECONDS;
    else if (c->window_kind == LIRA_BREAKER_WINDOW_COUNT)
        cap = LIRA_BREAKER_MAX_WINDOW_CALLS;
    else
        return LIRA_EINVAL;
    if (c->window < 1 || c->window > cap)
        return LIRA_EINVAL;
    if (!rate_ok(c->failure_rate) || !rate_ok(c->slow_call_rate))
        return LIRA_EINVAL;
    if (c->slow_call_ns < 0 || c->min_calls < 1 || c->half_open_calls < 1)
        return LIRA_EINVAL;
    /* a count window smaller than min_calls could never trip */
    if (c->window_kind == LIRA_BREAKER_WINDOW_COUNT && c->min_calls > c->window)
        return LIRA_EINVAL;
    if (c->cooldown_ns <= 0)
        return LIRA_EINVAL;
    if (!(c->cooldown_multiplier >= 1.0) || !isfinite(c->cooldown_multiplier))
        return LIRA_EINVAL;
    if (c->cooldown_multiplier > 1.0 && c->max_cooldown_ns < c->cooldown_ns)
        return LIRA_EINVAL;
    return LIRA_OK;
}

/* ------------------------------------------------------ init / free --- */

int lira_breaker_init(lira_breaker *b, const lira_breaker_config *cfg)
{
    if (!b)
        return LIRA_EINVAL;
    memset(b, 0, sizeof *b);
    if (lira_breaker_config_validate(cfg) != LIRA_OK)
        return LIRA_EINVAL;
    b->cfg = *cfg;
    if (cfg->window_kind == LIRA_BREAKER_WINDOW_TIME)
        b->buckets = calloc(cfg->window, sizeof *b->buckets);
    else
        b->outcomes = calloc(cfg->window, sizeof *b->outcomes);
    if (!b->buckets && !b->outcomes)
        return LIRA_ENOMEM;
    b->state = LIRA_BREAKER_CLOSED;
    b->gen = 1;   /* 0 marks "no permit" */
    b->cooldown = cfg->cooldown_ns;
    return LIRA_OK;
}

void lira_breaker_free(lira_breaker *b)
{
    if (!b)
        return;
    free(b->buckets);
    free(b->outcomes);
    b->buckets = NULL;
    b->outcomes = NULL;
    b->len = b->head = 0;
}

/* ----------------------------------------------------------- window --- */

static void window_clear(lira_breaker *b)
{
    b->calls = b->failures = b->slow = 0;
    b->head = b->len = 0;
}

/* Drop the buckets that left the window at second `sec`. Each bucket is
 * dropped once after being pushed once, hence O(1) amortised per record
 * however large the jump in time. */
static void window_expire(lira_breaker *b, int64_t sec)
{
    if (b->cfg.window_kind != LIRA_BREAKER_WINDOW_TIME)
        return;
    const int64_t oldest_kept = sec - (int64_t)b->cfg.window + 1;
    const uint32_t cap = b->cfg.window;
    while (b->len > 0 && b->buckets[b->head].sec < oldest_kept) {
        const struct lira_breaker_bucket *k = &b->buckets[b->head];
        b->calls -= k->calls;
        b->failures -= k->failures;
        b->slow -= k->slow;
        b->head = b->head + 1 == cap ? 0 : b->head + 1;
        b->len--;
    }
}

static void window_add_time(lira_breaker *b, int64_t now, unsigned outcome)
{
    const int64_t sec = now / LIRA_NS_PER_SEC;
    const uint32_t cap = b->cfg.window;
    window_expire(b, sec);
    uint32_t tail = b->head + b->len;
    if (tail >= cap)
        tail -= cap;
    struct lira_breaker_bucket *k;
    uint32_t last = tail == 0 ? cap - 1 : tail - 1;
    if (b->len > 0 && b->buckets[last].sec == sec) {
        k = &b->buckets[last];
    } else {
        /* after expiry at most window-1 older seconds remain: a slot is free */
        k = &b->buckets[tail];
        k->sec = sec;
        k->calls = k->failures = k->slow = 0;
        b->len++;
    }
    k->calls++;
    k->failures += (outcome & OUTCOME_FAILED) != 0;
    k->slow += (outcome & OUTCOME_SLOW) != 0;
}

static void window_add_count(lira_breaker *b, unsigned outcome)
{
    const uint32_t cap = b->cfg.window;
    if (b->len == cap) {
        uint8_t old = b->outcomes[b->head];
        b->calls--;
        b->failures -= (old & OUTCOME_FAILED) != 0;
        b->slow -= (old & OUTCOME_SLOW) != 0;
        b->outcomes[b->head] = (uint8_t)outcome;
        b->head = b->head + 1 == cap ? 0 : b->head + 1;
    } else {
        uint32_t tail = b->head + b->len;
        b->outcomes[tail >= cap ? tail - cap : tail] = (uint8_t)outcome;
        b->len++;
    }
}

static void window_add(lira_breaker *b, int64_t now, unsigned outcome)
{
    if (b->cfg.window_kind == LIRA_BREAKER_WINDOW_TIME)
        window_add_time(b, now, outcome);
    else
        window_add_count(b, outcome);
    b->calls++;
    b->failures += (outcome & OUTCOME_FAILED) != 0;
    b->slow += (outcome & OUTCOME_SLOW) != 0;
}

/* Division, not failures >= rate * calls: both sides are then the correctly
 * rounded value of the same ratio when they are equal (10/20 vs 0.5, 3/30 vs
 * 0.1), so "exactly at the threshold" trips. */
static int window_should_trip(const lira_breaker *b)
{
    if (b->calls < b->cfg.min_calls)
        return 0;
    const double calls = (double)b->calls;
    if ((double)b->failures / calls >= b->cfg.failure_rate)
        return 1;
    return b->cfg.slow_call_ns > 0 && (double)b->slow / calls >= b->cfg.slow_call_rate;
}

/* ------------------------------------------------------ transitions --- */

static void transition(lira_breaker *b, lira_breaker_state to, int64_t now)
{
    const lira_breaker_state from = b->state;
    if (from == to)
        return;
    b->state = to;
    b->gen++;
    b->trials_issued = b->trials_passed = 0;
    switch (to) {
    case LIRA_BREAKER_CLOSED:
        b->cooldown = b->cfg.cooldown_ns;
        window_clear(b);
        break;
    case LIRA_BREAKER_DISABLED:
        window_clear(b);
        break;
    case LIRA_BREAKER_OPEN:
        b->trips++;
        b->open_until = add_sat(now, b->cooldown);
        break;
    default:
        break;
    }
    if (b->cfg.on_transition) {
        b->in_callback = 1;
        b->cfg.on_transition(b->cfg.ud, from, to, now);
        b->in_callback = 0;
    }
}

static void grow_cooldown(lira_breaker *b)
{
    const double m = b->cfg.cooldown_multiplier;
    if (m <= 1.0)
        return;
    const double next = (double)b->cooldown * m;
    const int64_t cap = b->cfg.max_cooldown_ns;
    b->cooldown = next >= (double)cap ? cap : (int64_t)next;
}

/* Clamp `now` to the high-water mark and apply a due open -> half_open.
 * Inside on_transition only the clamp happens: no nested transitions. */
static int64_t observe(lira_breaker *b, int64_t now)
{
    if (now < b->now)
        now = b->now;
    else
        b->now = now;
    if (!b->in_callback && b->state == LIRA_BREAKER_OPEN && now >= b->open_until)
        transition(b, LIRA_BREAKER_HALF_OPEN, now);
    return now;
}

/* --------------------------------------------------- allow / record --- */

int lira_breaker_allow(lira_breaker *b, int64_t now, lira_breaker_permit *out)
{
    if (out) {
        out->gen = 0;
        out->trial = 0;
    }
    if (!b || !out || now < 0)
        return LIRA_EINVAL;
    if (b->in_callback || (!b->buckets && !b->outcomes))
        return LIRA_ESTATE;
    observe(b, now);
    switch (b->state) {
    case LIRA_BREAKER_CLOSED:
    case LIRA_BREAKER_DISABLED:
        out->gen = b->gen;
        return LIRA_OK;
    case LIRA_BREAKER_HALF_OPEN:
        if (b->trials_issued < b->cfg.half_open_calls) {
            b->trials_issued++;
            out->gen = b->gen;
            out->trial = 1;
            return LIRA_OK;
        }
        break;
    default:
        break;
    }
    b->rejected++;
    return LIRA_EDENIED;
}

/* Common checks of record/cancel; consumes the permit. 1 = current, 0 =
 * stale, negative = error. */
static int take_permit(lira_breaker *b, int64_t *now, lira_breaker_permit *p,
                       uint32_t *trial)
{
    if (!b || !p || *now < 0)
        return LIRA_EINVAL;
    if (b->in_callback || p->gen == 0 || (!b->buckets && !b->outcomes))
        return LIRA_ESTATE;
    *now = observe(b, *now);
    const uint64_t gen = p->gen;
    *trial = p->trial;
    p->gen = 0;
    p->trial = 0;
    if (gen != b->gen) {
        b->stale++;
        return 0;
    }
    return 1;
}

static void record_trial(lira_breaker *b, int64_t now, int bad)
{
    if (bad) {
        grow_cooldown(b);
        transition(b, LIRA_BREAKER_OPEN, now);
        return;
    }
    b->trials_passed++;
    if (b->trials_passed >= b->cfg.half_open_calls)
        transition(b, LIRA_BREAKER_CLOSED, now);
}

int lira_breaker_record(lira_breaker *b, int64_t now, lira_breaker_permit *p,
                        int failed, int64_t duration_ns)
{
    if (duration_ns < 0)
        return LIRA_EINVAL;
    uint32_t trial = 0;
    int rc = take_permit(b, &now, p, &trial);
    if (rc <= 0)
        return rc;
    const int slow = b->cfg.slow_call_ns > 0 && duration_ns >= b->cfg.slow_call_ns;
    const unsigned outcome = (failed ? OUTCOME_FAILED : 0u) | (slow ? OUTCOME_SLOW : 0u);
    switch (b->state) {
    case LIRA_BREAKER_HALF_OPEN:
        if (trial)
            record_trial(b, now, outcome != 0);
        break;
    case LIRA_BREAKER_CLOSED:
        window_add(b, now, outcome);
        if (window_should_trip(b))
            transition(b, LIRA_BREAKER_OPEN, now);
        break;
    case LIRA_BREAKER_DISABLED:
        window_add(b, now, outcome);
        break;
    default:
        break;
    }
    return LIRA_OK;
}

int lira_breaker_cancel(lira_breaker *b, int64_t now, lira_breaker_permit *p)
{
    uint32_t trial = 0;
    int rc = take_permit(b, &now, p, &trial);
    if (rc <= 0)
        return rc;
    if (trial && b->state == LIRA_BREAKER_HALF_OPEN && b->trials_issued > 0)
        b->trials_issued--;
    return LIRA_OK;
}

int64_t lira_breaker_retry_after(lira_breaker *b, int64_t now)
{
    if (!b || now < 0)
        return LIRA_EINVAL;
    now = observe(b, now);
    switch (b->state) {
    case LIRA_BREAKER_CLOSED:
    case LIRA_BREAKER_DISABLED:
        return 0;
    case LIRA_BREAKER_OPEN:
        return b->open_until > now ? b->open_until - now : 0;
    case LIRA_BREAKER_HALF_OPEN:
        return b->trials_issued < b->cfg.half_open_calls ? 0 : LIRA_ENOTFOUND;
    default:
        return LIRA_ENOTFOUND;
    }
}

/* ------------------------------------------------ operator controls --- */

static int control_enter(lira_breaker *b, int64_t *now)
{
    if (!b || *now < 0)
        return LIRA_EINVAL;
    if (b->in_callback)
        return LIRA_ESTATE;
    /* no observe(): an open -> half_open the operator overrides anyway
     * would only add a spurious callback */
    if (*now < b->now)
        *now = b->now;
    else
        b->now = *now;
    return LIRA_OK;
}

int lira_breaker_force_open(lira_breaker *b, int64_t now)
{
    int rc = control_enter(b, &now);
    if (rc == LIRA_OK)
        transition(b, LIRA_BREAKER_FORCED_OPEN, now);
    return rc;
}

int lira_breaker_disable(lira_breaker *b, int64_t now)
{
    int rc = control_enter(b, &now);
    if (rc == LIRA_OK)
        transition(b, LIRA_BREAKER_DISABLED, now);
    return rc;
}

int lira_breaker_reset(lira_breaker *b, int64_t now)
{
    int rc = control_enter(b, &now);
    if (rc != LIRA_OK)
        return rc;
    if (b->state == LIRA_BREAKER_CLOSED) {
        /* no state change, hence no callback; but a fresh start all the same */
        b->gen++;
        b->cooldown = b->cfg.cooldown_ns;
        window_clear(b);
        return LIRA_OK;
    }
    transition(b, LIRA_BREAKER_CLOSED, now);
    return LIRA_OK;
}

/* ---------------------------------------------------------- getters --- */

int lira_breaker_get_state(lira_breaker *b, int64_t now, lira_breaker_state *out)
{
    if (!b || !out || now < 0)
        return LIRA_EINVAL;
    observe(b, now);
    *out = b->state;
    return LIRA_OK;
}

int lira_breaker_get_stats(lira_breaker *b, int64_t now, lira_breaker_stats *out)
{
    if (!b || !out || now < 0)
        return LIRA_EINVAL;
    now = observe(b, now);
    window_expire(b, now / LIRA_NS_PER_SEC);
    memset(out, 0, sizeof *out);
    out->state = b->state;
    out->calls = b->calls;
    out->failures = b->failures;
    out->slow = b->slow;
    if (b->calls > 0) {
        out->failure_rate = (double)b->failures / (double)b->calls;
        out->slow_rate = (double)b->slow / (double)b->calls;
    }
    out->trials_issued = b->trials_issued;
    out->trials_passed = b->trials_passed;
    out->cooldown_ns = b->cooldown;
    out->trips = b->trips;
    out->rejected = b->rejected;
    out->stale = b->stale;
    return LIRA_OK;
}

const char *lira_breaker_state_name(lira_breaker_state s)
{
    switch (s) {
    case LIRA_BREAKER_CLOSED:      return "closed";
    case LIRA_BREAKER_OPEN:        return "open";
    case LIRA_BREAKER_HALF_OPEN:   return "half_open";
    case LIRA_BREAKER_FORCED_OPEN: return "forced_open";
    case LIRA_BREAKER_DISABLED:    return "disabled";
    }
    return "unknown";
}
