/* breaker.h — a circuit breaker: stop calling an upstream that is failing.
 *
 * States (LUA-API.md §3.3):
 *   closed       admits every call; outcomes go into a sliding window; trips to
 *                open when the window holds >= min_calls calls and the failure
 *                rate (or the slow-call rate, when configured) reaches its
 *                threshold.
 *   open         refuses every call until its cooldown has passed, then turns
 *                half_open (lazily: at the next call that passes `now`).
 *   half_open    admits exactly `half_open_calls` trial calls; closes when all
 *                of them succeed, re-opens at the first failed (or slow) trial,
 *                refuses anything beyond the trials it already handed out.
 *   forced_open  refuses everything until lira_breaker_reset().
 *   disabled     admits everything and never trips (outcomes are still counted
 *                in the window, for observability) until lira_breaker_reset().
 *
 * Windows. LIRA_BREAKER_WINDOW_TIME keeps a ring of 1-second buckets; the
 * window at `now` is the current second and the (window - 1) before it, so an
 * outcome is forgotten between window-1 and window seconds after it was
 * recorded. Only seconds that saw a call occupy a bucket, and expired buckets
 * are dropped lazily in arrival order, so every operation is O(1) amortised
 * however far time jumps. LIRA_BREAKER_WINDOW_COUNT keeps the last `window`
 * outcomes instead. The window is cleared whenever the breaker enters closed
 * or disabled (so a recovered upstream starts with a clean slate).
 *
 * Growing cooldown. The first trip from closed opens for `cooldown_ns`. Each
 * failed half-open trial re-opens for the previous cooldown times
 * `cooldown_multiplier`, capped at `max_cooldown_ns`. Closing (all trials
 * succeeded) or lira_breaker_reset() brings it back to `cooldown_ns`. With
 * the default multiplier 1.0 the cooldown is fixed.
 *
 * Permits. lira_breaker_allow() hands out a permit that the caller gives back
 * to exactly one of lira_breaker_record() or lira_breaker_cancel(). Every
 * state change (and every reset) starts a new generation; a permit from an
 * older generation is stale and is ignored, so a slow call admitted while
 * closed can never count as (or against) a half-open trial. A half-open
 * trial permit that is never given back keeps its slot: the breaker stays
 * half_open (refusing once all slots are out) until reset.
 *
 * Time. Every function takes `now`, monotonic nanoseconds (>= 0). A `now`
 * earlier than one seen before is treated as that later time: the breaker's
 * time never goes back.
 *
 * Callback. on_transition is called synchronously, inside the call that
 * caused the change, once per change and never for a non-change, after the
 * breaker is fully in its new state. While it runs, the breaker's mutating
 * functions return LIRA_ESTATE (the getters work); a function that fails
 * never calls it. Not thread-safe: one breaker belongs to one thread. */
#ifndef LIRA_BREAKER_H
#define LIRA_BREAKER_H

#include <stdint.h>

#define LIRA_BREAKER_MAX_WINDOW_SECONDS 3600u   /* cap of a time window (buckets) */
#define LIRA_BREAKER_MAX_WINDOW_CALLS   65536u  /* cap of a count window (calls) */

typedef enum {
    LIRA_BREAKER_CLOSED = 0,
    LIRA_BREAKER_OPEN,
    LIRA_BREAKER_HALF_OPEN,
    LIRA_BREAKER_FORCED_OPEN,
    LIRA_BREAKER_DISABLED
} lira_breaker_state;

typedef enum {
    LIRA_BREAKER_WINDOW_TIME = 0,   /* `window` is seconds */
    LIRA_BREAKER_WINDOW_COUNT       /* `window` is a number of calls */
} lira_breaker_window_kind;

typedef void (*lira_breaker_transition_fn)(void *ud, lira_breaker_state from,
                                           lira_breaker_state to, int64_t now);

typedef struct lira_breaker_config {
    lira_breaker_window_kind window_kind;  /* default TIME */
    uint32_t window;             /* seconds (TIME) or calls (COUNT); default 30;
                                    1..LIRA_BREAKER_MAX_WINDOW_SECONDS/_CALLS */
    double failure_rate;         /* trip at failures/calls >= this; (0,1]; 0.5 */
    double slow_call_rate;       /* trip at slow/calls >= this; (0,1]; 0.8;
                                    used only when slow_call_ns > 0 */
    int64_t slow_call_ns;        /* a call lasting >= this is slow; 0 = off
                                    (default); must be >= 0 */
    uint32_t min_calls;          /* calls in the window before it may trip; >= 1;
                                    <= window for a COUNT window; default 20 */
    int64_t cooldown_ns;         /* open -> half_open after this; > 0; 15 s */
    uint32_t half_open_calls;    /* trial calls in half_open; >= 1; default 3 */
    double cooldown_multiplier;  /* >= 1.0 and finite; default 1.0 (fixed) */
    int64_t max_cooldown_ns;     /* cap of the grown cooldown; >= cooldown_ns
                                    when the multiplier > 1; default 300 s */
    lira_breaker_transition_fn on_transition;  /* optional (NULL) */
    void *ud;                    /* passed to on_transition; not owned */
} lira_breaker_config;

/* What allow() hands out; opaque to the caller, who keeps it (by value, on
 * its own stack or request record) until record() or cancel(). */
typedef struct lira_breaker_permit {
    uint64_t gen;     /* 0 = no permit (refused, or already given back) */
    uint32_t trial;   /* 1 when it is a half-open trial */
} lira_breaker_permit;

typedef struct lira_breaker_stats {
    lira_breaker_state state;
    uint64_t calls;          /* outcomes in the window */
    uint64_t failures;       /* of which failed */
    uint64_t slow;           /* of which slow (a call can be both) */
    double failure_rate;     /* failures / calls; 0 when calls == 0 */
    double slow_rate;        /* slow / calls; 0 when calls == 0 */
    uint32_t trials_issued;  /* half_open: trial permits handed out */
    uint32_t trials_passed;  /* half_open: trials recorded as successes */
    int64_t cooldown_ns;     /* the cooldown of the current (or next) open */
    uint64_t trips;          /* entries into open since init */
    uint64_t rejected;       /* allow() refusals since init */
    uint64_t stale;          /* stale permits ignored since init */
} lira_breaker_stats;

/* The breaker. Its fields are private: use the functions below. The caller
 * owns the struct; lira_breaker_init() allocates its window ring. */
typedef struct lira_breaker {
    lira_breaker_config cfg;
    lira_breaker_state state;
    uint64_t gen;             /* permit generation, bumped on every change */
    int64_t now;              /* high-water mark of the `now` seen */
    int64_t open_until;       /* open: when it turns half_open */
    int64_t cooldown;         /* current (possibly grown) cooldown, ns */
    uint32_t trials_issued, trials_passed;
    int in_callback;
    /* the window: totals plus a ring of buckets (TIME) or outcomes (COUNT) */
    uint64_t calls, failures, slow;
    struct lira_breaker_bucket *buckets;  /* TIME: window slots */
    uint8_t *outcomes;                    /* COUNT: window slots */
    uint32_t head, len;                   /* oldest slot, slots in use */
    uint64_t trips, rejected, stale;
} lira_breaker;

/* The defaults above: a 30 s time window, failure rate 0.5, min_calls 20,
 * cooldown 15 s, half_open 3, no slow-call threshold, fixed cooldown. */
lira_breaker_config lira_breaker_config_default(void);

/* LIRA_OK when cfg is usable, LIRA_EINVAL (NULL, or any field out of the
 * ranges documented on lira_breaker_config) otherwise. */
int lira_breaker_config_validate(const lira_breaker_config *cfg);

/* Initialise b (closed, empty window) with a copy of *cfg. Returns LIRA_OK;
 * LIRA_EINVAL for a NULL argument or a config that does not validate;
 * LIRA_ENOMEM when the ring cannot be allocated. On error b holds no memory
 * and lira_breaker_free(b) is still harmless. */
int lira_breaker_init(lira_breaker *b, const lira_breaker_config *cfg);

/* Release the ring. Safe on NULL, twice, and after a failed init. Afterwards
 * allow/record/cancel return LIRA_ESTATE until b is initialised again. */
void lira_breaker_free(lira_breaker *b);

/* Ask to make a call at `now`. LIRA_OK: admitted, *out holds the permit to
 * give back. LIRA_EDENIED: refused (open, forced_open, or half_open with all
 * trials handed out); *out is zeroed. LIRA_EINVAL: NULL argument or now < 0.
 * LIRA_ESTATE: called from on_transition, or b was freed. May fire open -> half_open.
 * Hot path: no allocation. */
int lira_breaker_allow(lira_breaker *b, int64_t now, lira_breaker_permit *out);

/* Give back a permit with the call's outcome: `failed` non-zero for a
 * failure; `duration_ns` (>= 0) decides slowness. A stale permit (from an
 * earlier generation) changes nothing but the `stale` counter and returns
 * LIRA_OK. The permit is consumed (p->gen set to 0). LIRA_ESTATE: p was
 * never admitted or was already given back, called from on_transition, or b
 * was freed. On an error the permit is left as it was.
 * LIRA_EINVAL: NULL argument, now < 0 or duration_ns < 0. May fire
 * closed -> open, half_open -> closed or half_open -> open.
 * Hot path: no allocation; O(1) amortised. */
int lira_breaker_record(lira_breaker *b, int64_t now, lira_breaker_permit *p,
                        int failed, int64_t duration_ns);

/* Give back a permit whose call never went out (cancelled before sending):
 * nothing is counted, and a half-open trial slot becomes free again. Same
 * errors as lira_breaker_record(); a stale permit is simply consumed. */
int lira_breaker_cancel(lira_breaker *b, int64_t now, lira_breaker_permit *p);

/* Nanoseconds until allow() would admit at the earliest: 0 when it admits
 * now (closed, disabled, half_open with a trial left); for open, the time
 * left until half_open. Applies a due open -> half_open (except when called
 * from on_transition). Negative on error: LIRA_EINVAL (NULL b, now < 0);
 * LIRA_ENOTFOUND when no time is known (forced_open, or half_open waiting on
 * the trials it handed out). */
int64_t lira_breaker_retry_after(lira_breaker *b, int64_t now);

/* Operator controls (LUA-API.md §3.3). Each returns LIRA_OK, LIRA_EINVAL
 * (NULL b, now < 0) or LIRA_ESTATE (from on_transition), and fires
 * on_transition when the state changes.
 *   force_open: refuse everything until reset.
 *   reset:      back to closed with an empty window and the base cooldown;
 *               outstanding permits become stale (even from closed).
 *   disable:    admit everything, never trip, until reset. */
int lira_breaker_force_open(lira_breaker *b, int64_t now);
int lira_breaker_reset(lira_breaker *b, int64_t now);
int lira_breaker_disable(lira_breaker *b, int64_t now);

/* The state at `now` (applies a due open -> half_open, except when called
 * from on_transition). LIRA_EINVAL for NULL arguments or now < 0. */
int lira_breaker_get_state(lira_breaker *b, int64_t now, lira_breaker_state *out);

/* Window counts, rates and counters at `now` (expires old outcomes first,
 * except when called from on_transition). LIRA_EINVAL for NULL arguments or
 * now < 0. */
int lira_breaker_get_stats(lira_breaker *b, int64_t now, lira_breaker_stats *out);

/* "closed", "open", "half_open", "forced_open", "disabled"; "unknown" for
 * any other value. Static storage, never NULL. */
const char *lira_breaker_state_name(lira_breaker_state s);

#endif
