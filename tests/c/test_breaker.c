#include "check.h"

#include <time.h>

#include "breaker.h"
#include "clock.h"
#include "status.h"

#define SEC LIRA_NS_PER_SEC
#define MS  LIRA_NS_PER_MS

/* ------------------------------------------------------------ helpers --- */

#define MAX_EVENTS 32

typedef struct {
    int n;
    lira_breaker_state from[MAX_EVENTS], to[MAX_EVENTS];
    int64_t at[MAX_EVENTS];
    lira_breaker *b;          /* to probe re-entry from the callback */
    int reentry_rc;
    lira_breaker_state seen_state;
} events;

static void on_transition(void *ud, lira_breaker_state from, lira_breaker_state to,
                          int64_t now)
{
    events *e = ud;
    if (e->n < MAX_EVENTS) {
        e->from[e->n] = from;
        e->to[e->n] = to;
        e->at[e->n] = now;
    }
    e->n++;
    if (e->b) {
        lira_breaker_permit p;
        e->reentry_rc = lira_breaker_allow(e->b, now, &p);
        lira_breaker_get_state(e->b, now, &e->seen_state);
    }
}

/* A small config so tests read easily: 20 calls, rate 0.5, cooldown 15 s. */
static lira_breaker_config cfg_with(events *e)
{
    lira_breaker_config c = lira_breaker_config_default();
    if (e) {
        c.on_transition = on_transition;
        c.ud = e;
    }
    return c;
}

/* One full call at `now`: allow + record. Returns allow's status. */
static int call(lira_breaker *b, int64_t now, int failed, int64_t dur)
{
    lira_breaker_permit p;
    int rc = lira_breaker_allow(b, now, &p);
    if (rc == LIRA_OK)
        CHECK_EQ(lira_breaker_record(b, now, &p, failed, dur), LIRA_OK);
    return rc;
}

static lira_breaker_state state_at(lira_breaker *b, int64_t now)
{
    lira_breaker_state s = LIRA_BREAKER_DISABLED;
    CHECK_EQ(lira_breaker_get_state(b, now, &s), LIRA_OK);
    return s;
}

/* `fails` failures then `oks` successes, all at `now`. */
static void calls(lira_breaker *b, int64_t now, int fails, int oks)
{
    for (int i = 0; i < fails; i++)
        call(b, now, 1, MS);
    for (int i = 0; i < oks; i++)
        call(b, now, 0, MS);
}

/* Trip a default breaker at `now` (20 failures). */
static void trip(lira_breaker *b, int64_t now)
{
    calls(b, now, 20, 0);
    CHECK_EQ(state_at(b, now), LIRA_BREAKER_OPEN);
}

/* -------------------------------------------------------------- tests --- */

static void test_defaults_and_names(void)
{
    lira_breaker_config c = lira_breaker_config_default();
    CHECK_EQ(c.window_kind, LIRA_BREAKER_WINDOW_TIME);
    CHECK_EQ(c.window, 30);
    CHECK_NEAR(c.failure_rate, 0.5, 0);
    CHECK_EQ(c.min_calls, 20);
    CHECK_EQ(c.cooldown_ns, 15 * SEC);
    CHECK_EQ(c.half_open_calls, 3);
    CHECK_EQ(c.slow_call_ns, 0);
    CHECK_EQ(lira_breaker_config_validate(&c), LIRA_OK);
    CHECK_STR(lira_breaker_state_name(LIRA_BREAKER_CLOSED), "closed");
    CHECK_STR(lira_breaker_state_name(LIRA_BREAKER_OPEN), "open");
    CHECK_STR(lira_breaker_state_name(LIRA_BREAKER_HALF_OPEN), "half_open");
    CHECK_STR(lira_breaker_state_name(LIRA_BREAKER_FORCED_OPEN), "forced_open");
    CHECK_STR(lira_breaker_state_name(LIRA_BREAKER_DISABLED), "disabled");
    CHECK_STR(lira_breaker_state_name((lira_breaker_state)99), "unknown");
}

static void test_never_trips_below_min_calls(void)
{
    lira_breaker b;
    lira_breaker_config c = cfg_with(NULL);
    CHECK_EQ(lira_breaker_init(&b, &c), LIRA_OK);
    calls(&b, 1 * SEC, 19, 0);
    CHECK_EQ(state_at(&b, 1 * SEC), LIRA_BREAKER_CLOSED);
    lira_breaker_stats st;
    CHECK_EQ(lira_breaker_get_stats(&b, 1 * SEC, &st), LIRA_OK);
    CHECK_EQ(st.calls, 19);
    CHECK_EQ(st.failures, 19);
    CHECK_NEAR(st.failure_rate, 1.0, 0);
    call(&b, 1 * SEC, 1, MS);   /* the 20th reaches min_calls */
    CHECK_EQ(state_at(&b, 1 * SEC), LIRA_BREAKER_OPEN);
    lira_breaker_free(&b);
}

static void test_trips_exactly_at_threshold(void)
{
    lira_breaker b;
    lira_breaker_config c = cfg_with(NULL);
    CHECK_EQ(lira_breaker_init(&b, &c), LIRA_OK);
    calls(&b, 0, 9, 11);   /* 9 of 20: 0.45 */
    CHECK_EQ(state_at(&b, 0), LIRA_BREAKER_CLOSED);
    lira_breaker_free(&b);

    CHECK_EQ(lira_breaker_init(&b, &c), LIRA_OK);
    calls(&b, 0, 0, 10);
    calls(&b, 0, 9, 0);
    CHECK_EQ(state_at(&b, 0), LIRA_BREAKER_CLOSED);   /* 19 calls only */
    calls(&b, 0, 1, 0);                                /* 10 of 20: 0.5 */
    CHECK_EQ(state_at(&b, 0), LIRA_BREAKER_OPEN);
    lira_breaker_free(&b);

    /* 0.1 * 30 is 3.0000000000000004 in doubles: 3 of 30 must still trip */
    c.failure_rate = 0.1;
    c.min_calls = 30;
    CHECK_EQ(lira_breaker_init(&b, &c), LIRA_OK);
    calls(&b, 0, 0, 27);
    calls(&b, 0, 3, 0);
    CHECK_EQ(state_at(&b, 0), LIRA_BREAKER_OPEN);
    lira_breaker_free(&b);
}

static void test_open_fails_fast_and_reports_retry_after(void)
{
    lira_breaker b;
    lira_breaker_config c = cfg_with(NULL);
    CHECK_EQ(lira_breaker_init(&b, &c), LIRA_OK);
    CHECK_EQ(lira_breaker_retry_after(&b, 0), 0);
    trip(&b, 10 * SEC);
    lira_breaker_permit p = {7, 1};
    CHECK_EQ(lira_breaker_allow(&b, 10 * SEC, &p), LIRA_EDENIED);
    CHECK_EQ(p.gen, 0);
    CHECK_EQ(lira_breaker_retry_after(&b, 10 * SEC), 15 * SEC);
    CHECK_EQ(lira_breaker_allow(&b, 20 * SEC, &p), LIRA_EDENIED);
    CHECK_EQ(lira_breaker_retry_after(&b, 24 * SEC), 1 * SEC);
    CHECK_EQ(lira_breaker_retry_after(&b, 25 * SEC - 1), 1);
    lira_breaker_stats st;
    CHECK_EQ(lira_breaker_get_stats(&b, 25 * SEC - 1, &st), LIRA_OK);
    CHECK_EQ(st.rejected, 2);
    CHECK_EQ(st.trips, 1);
    CHECK_EQ(st.state, LIRA_BREAKER_OPEN);
    /* at the cooldown's end it admits again */
    CHECK_EQ(lira_breaker_retry_after(&b, 25 * SEC), 0);
    CHECK_EQ(state_at(&b, 25 * SEC), LIRA_BREAKER_HALF_OPEN);
    lira_breaker_free(&b);
}

static void test_half_open_admits_exactly_n_then_closes(void)
{
    lira_breaker b;
    lira_breaker_config c = cfg_with(NULL);
    CHECK_EQ(lira_breaker_init(&b, &c), LIRA_OK);
    trip(&b, 0);
    CHECK_EQ(state_at(&b, 15 * SEC - 1), LIRA_BREAKER_OPEN);
    lira_breaker_permit t[4];
    int64_t now = 15 * SEC;
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(lira_breaker_allow(&b, now, &t[i]), LIRA_OK);
        CHECK_EQ(t[i].trial, 1);
    }
    CHECK_EQ(state_at(&b, now), LIRA_BREAKER_HALF_OPEN);
    CHECK_EQ(lira_breaker_allow(&b, now, &t[3]), LIRA_EDENIED);   /* the N+1th */
    CHECK_EQ(lira_breaker_retry_after(&b, now), LIRA_ENOTFOUND);
    CHECK_EQ(lira_breaker_record(&b, now, &t[0], 0, MS), LIRA_OK);
    CHECK_EQ(lira_breaker_record(&b, now, &t[1], 0, MS), LIRA_OK);
    CHECK_EQ(state_at(&b, now), LIRA_BREAKER_HALF_OPEN);
    CHECK_EQ(lira_breaker_allow(&b, now, &t[3]), LIRA_EDENIED);   /* still 3 out */
    CHECK_EQ(lira_breaker_record(&b, now, &t[2], 0, MS), LIRA_OK);
    CHECK_EQ(state_at(&b, now), LIRA_BREAKER_CLOSED);
    /* a clean slate: the failures that tripped it are gone */
    lira_breaker_stats st;
    CHECK_EQ(lira_breaker_get_stats(&b, now, &st), LIRA_OK);
    CHECK_EQ(st.calls, 0);
    CHECK_EQ(st.failures, 0);
    lira_breaker_free(&b);
}

static void test_failed_trial_reopens(void)
{
    lira_breaker b;
    lira_breaker_config c = cfg_with(NULL);
    CHECK_EQ(lira_breaker_init(&b, &c), LIRA_OK);
    trip(&b, 0);
    lira_breaker_permit t[3];
    for (int i = 0; i < 3; i++)
        CHECK_EQ(lira_breaker_allow(&b, 15 * SEC, &t[i]), LIRA_OK);
    CHECK_EQ(lira_breaker_record(&b, 16 * SEC, &t[0], 0, MS), LIRA_OK);
    CHECK_EQ(lira_breaker_record(&b, 16 * SEC, &t[1], 1, MS), LIRA_OK);
    CHECK_EQ(state_at(&b, 16 * SEC), LIRA_BREAKER_OPEN);
    CHECK_EQ(lira_breaker_retry_after(&b, 16 * SEC), 15 * SEC);
    /* the third trial comes back after the re-open: stale, ignored */
    CHECK_EQ(lira_breaker_record(&b, 17 * SEC, &t[2], 0, MS), LIRA_OK);
    CHECK_EQ(state_at(&b, 17 * SEC), LIRA_BREAKER_OPEN);
    lira_breaker_stats st;
    CHECK_EQ(lira_breaker_get_stats(&b, 17 * SEC, &st), LIRA_OK);
    CHECK_EQ(st.stale, 1);
    CHECK_EQ(st.trips, 2);
    lira_breaker_free(&b);
}

static void test_slow_trial_reopens_and_cancel_frees_a_slot(void)
{
    lira_breaker b;
    lira_breaker_config c = cfg_with(NULL);
    c.slow_call_ns = 2 * SEC;
    c.half_open_calls = 1;
    CHECK_EQ(lira_breaker_init(&b, &c), LIRA_OK);
    trip(&b, 0);
    lira_breaker_permit t, u;
    CHECK_EQ(lira_breaker_allow(&b, 15 * SEC, &t), LIRA_OK);
    CHECK_EQ(lira_breaker_allow(&b, 15 * SEC, &u), LIRA_EDENIED);
    CHECK_EQ(lira_breaker_cancel(&b, 15 * SEC, &t), LIRA_OK);
    CHECK_EQ(lira_breaker_cancel(&b, 15 * SEC, &t), LIRA_ESTATE);   /* consumed */
    CHECK_EQ(lira_breaker_allow(&b, 15 * SEC, &u), LIRA_OK);
    CHECK_EQ(lira_breaker_record(&b, 18 * SEC, &u, 0, 3 * SEC), LIRA_OK);
    CHECK_EQ(state_at(&b, 18 * SEC), LIRA_BREAKER_OPEN);
    lira_breaker_free(&b);
}

static void test_window_forgets_old_buckets(void)
{
    lira_breaker b;
    lira_breaker_config c = cfg_with(NULL);
    CHECK_EQ(lira_breaker_init(&b, &c), LIRA_OK);
    calls(&b, 0, 15, 0);   /* second 0 */
    lira_breaker_stats st;
    CHECK_EQ(lira_breaker_get_stats(&b, 29 * SEC, &st), LIRA_OK);
    CHECK_EQ(st.failures, 15);   /* seconds 0..29 are the window at 29 s */
    CHECK_EQ(lira_breaker_get_stats(&b, 31 * SEC, &st), LIRA_OK);
    CHECK_EQ(st.calls, 0);
    /* 15 old failures + 5 new would trip if the old ones still counted */
    calls(&b, 31 * SEC, 5, 0);
    CHECK_EQ(state_at(&b, 31 * SEC), LIRA_BREAKER_CLOSED);
    CHECK_EQ(lira_breaker_get_stats(&b, 31 * SEC, &st), LIRA_OK);
    CHECK_EQ(st.failures, 5);

    /* spread over seconds: every second one failure + two successes */
    lira_breaker_free(&b);
    CHECK_EQ(lira_breaker_init(&b, &c), LIRA_OK);
    for (int s = 0; s < 100; s++)
        calls(&b, s * SEC + 500 * MS, 1, 2);
    CHECK_EQ(lira_breaker_get_stats(&b, 99 * SEC + 999 * MS, &st), LIRA_OK);
    CHECK_EQ(st.calls, 90);      /* seconds 70..99 only */
    CHECK_EQ(st.failures, 30);
    CHECK_EQ(st.state, LIRA_BREAKER_CLOSED);
    /* seconds 71..100 at 100 s; an outcome lives at most `window` s */
    CHECK_EQ(lira_breaker_get_stats(&b, 100 * SEC, &st), LIRA_OK);
    CHECK_EQ(st.calls, 87);
    lira_breaker_free(&b);
}

static void test_huge_time_jump_is_constant_time(void)
{
    lira_breaker b;
    lira_breaker_config c = cfg_with(NULL);
    c.window = LIRA_BREAKER_MAX_WINDOW_SECONDS;
    c.min_calls = 1000000;   /* never trips; only the window is measured */
    CHECK_EQ(lira_breaker_init(&b, &c), LIRA_OK);
    clock_t start = clock();
    int64_t now = 0;
    /* each call jumps ~3 hours, past the whole window: a bucket-by-bucket
     * walk would cost 10^4 steps per call, a full-ring sweep 3600 */
    for (int i = 0; i < 200000; i++) {
        now += (int64_t)10000 * SEC;
        call(&b, now, i & 1, MS);
    }
    double secs = (double)(clock() - start) / CLOCKS_PER_SEC;
    lira_breaker_stats st;
    CHECK_EQ(lira_breaker_get_stats(&b, now, &st), LIRA_OK);
    CHECK_EQ(st.calls, 1);
    CHECK(secs < 1.0);
    /* and a jump to near the end of time does not overflow */
    CHECK_EQ(call(&b, INT64_MAX - 1, 1, MS), LIRA_OK);
    CHECK_EQ(lira_breaker_get_stats(&b, INT64_MAX, &st), LIRA_OK);
    CHECK_EQ(st.calls, 1);
    lira_breaker_free(&b);
}

static void test_slow_call_rate_trips(void)
{
    lira_breaker b;
    lira_breaker_config c = cfg_with(NULL);
    c.slow_call_ns = 5 * SEC;
    c.slow_call_rate = 0.8;
    CHECK_EQ(lira_breaker_init(&b, &c), LIRA_OK);
    for (int i = 0; i < 15; i++)
        call(&b, 0, 0, 5 * SEC);            /* exactly the threshold: slow */
    for (int i = 0; i < 4; i++)
        call(&b, 0, 0, 5 * SEC - 1);        /* just under: not slow */
    lira_breaker_stats st;
    CHECK_EQ(lira_breaker_get_stats(&b, 0, &st), LIRA_OK);
    CHECK_EQ(st.slow, 15);
    CHECK_EQ(st.failures, 0);
    CHECK_EQ(st.state, LIRA_BREAKER_CLOSED);
    call(&b, 0, 0, 6 * SEC);                 /* 16 of 20 = 0.8 */
    CHECK_EQ(state_at(&b, 0), LIRA_BREAKER_OPEN);
    lira_breaker_free(&b);

    /* without a threshold, slowness is not counted at all */
    c = cfg_with(NULL);
    CHECK_EQ(lira_breaker_init(&b, &c), LIRA_OK);
    for (int i = 0; i < 20; i++)
        call(&b, 0, 0, 3600 * SEC);
    CHECK_EQ(state_at(&b, 0), LIRA_BREAKER_CLOSED);
    lira_breaker_free(&b);
}

static void test_count_window_keeps_last_n(void)
{
    lira_breaker b;
    lira_breaker_config c = cfg_with(NULL);
    c.window_kind = LIRA_BREAKER_WINDOW_COUNT;
    c.window = 10;
    c.min_calls = 10;
    CHECK_EQ(lira_breaker_init(&b, &c), LIRA_OK);
    calls(&b, 0, 4, 0);
    /* time does not age a count window */
    calls(&b, 3600 * SEC, 0, 20);
    lira_breaker_stats st;
    CHECK_EQ(lira_breaker_get_stats(&b, 7200 * SEC, &st), LIRA_OK);
    CHECK_EQ(st.calls, 10);
    CHECK_EQ(st.failures, 0);   /* the 4 failures were pushed out */
    calls(&b, 7200 * SEC, 4, 0);
    CHECK_EQ(state_at(&b, 7200 * SEC), LIRA_BREAKER_CLOSED);   /* 4/10 */
    calls(&b, 7200 * SEC, 1, 0);
    CHECK_EQ(state_at(&b, 7200 * SEC), LIRA_BREAKER_OPEN);     /* 5/10 */
    lira_breaker_free(&b);
}

static void test_forced_open_disabled_reset(void)
{
    events e = {0};
    lira_breaker b;
    lira_breaker_config c = cfg_with(&e);
    CHECK_EQ(lira_breaker_init(&b, &c), LIRA_OK);
    lira_breaker_permit p;
    CHECK_EQ(lira_breaker_force_open(&b, SEC), LIRA_OK);
    CHECK_EQ(lira_breaker_force_open(&b, SEC), LIRA_OK);   /* no change */
    CHECK_EQ(lira_breaker_allow(&b, 1000 * SEC, &p), LIRA_EDENIED);
    CHECK_EQ(lira_breaker_retry_after(&b, 1000 * SEC), LIRA_ENOTFOUND);
    CHECK_EQ(state_at(&b, 100000 * SEC), LIRA_BREAKER_FORCED_OPEN);

    CHECK_EQ(lira_breaker_disable(&b, 100000 * SEC), LIRA_OK);
    for (int i = 0; i < 100; i++)
        CHECK_EQ(call(&b, 100000 * SEC, 1, MS), LIRA_OK);
    CHECK_EQ(state_at(&b, 100000 * SEC), LIRA_BREAKER_DISABLED);
    CHECK_EQ(lira_breaker_retry_after(&b, 100000 * SEC), 0);
    lira_breaker_stats st;
    CHECK_EQ(lira_breaker_get_stats(&b, 100000 * SEC, &st), LIRA_OK);
    CHECK_EQ(st.failures, 100);   /* still observed */

    CHECK_EQ(lira_breaker_reset(&b, 100001 * SEC), LIRA_OK);
    CHECK_EQ(lira_breaker_get_stats(&b, 100001 * SEC, &st), LIRA_OK);
    CHECK_EQ(st.state, LIRA_BREAKER_CLOSED);
    CHECK_EQ(st.calls, 0);
    /* reset while closed clears the window without a callback */
    calls(&b, 100001 * SEC, 19, 0);
    CHECK_EQ(lira_breaker_reset(&b, 100001 * SEC), LIRA_OK);
    calls(&b, 100001 * SEC, 1, 0);
    CHECK_EQ(state_at(&b, 100001 * SEC), LIRA_BREAKER_CLOSED);
    /* reset from open */
    trip(&b, 100002 * SEC);
    CHECK_EQ(lira_breaker_reset(&b, 100002 * SEC), LIRA_OK);
    CHECK_EQ(call(&b, 100002 * SEC, 0, MS), LIRA_OK);

    CHECK_EQ(e.n, 5);
    lira_breaker_state want[5][2] = {
        {LIRA_BREAKER_CLOSED, LIRA_BREAKER_FORCED_OPEN},
        {LIRA_BREAKER_FORCED_OPEN, LIRA_BREAKER_DISABLED},
        {LIRA_BREAKER_DISABLED, LIRA_BREAKER_CLOSED},
        {LIRA_BREAKER_CLOSED, LIRA_BREAKER_OPEN},
        {LIRA_BREAKER_OPEN, LIRA_BREAKER_CLOSED},
    };
    for (int i = 0; i < 5 && i < e.n; i++) {
        CHECK_EQ(e.from[i], want[i][0]);
        CHECK_EQ(e.to[i], want[i][1]);
    }
    lira_breaker_free(&b);
}

static void test_growing_cooldown(void)
{
    lira_breaker b;
    lira_breaker_config c = cfg_with(NULL);
    c.cooldown_ns = 10 * SEC;
    c.cooldown_multiplier = 2.0;
    c.max_cooldown_ns = 35 * SEC;
    c.half_open_calls = 1;
    CHECK_EQ(lira_breaker_init(&b, &c), LIRA_OK);
    trip(&b, 0);
    int64_t now = 0;
    const int64_t want[] = {10 * SEC, 20 * SEC, 35 * SEC, 35 * SEC};
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(lira_breaker_retry_after(&b, now), want[i]);
        now += want[i];
        CHECK_EQ(call(&b, now, 1, MS), LIRA_OK);   /* the trial fails */
    }
    /* a successful close brings it back to the base */
    now += 35 * SEC;
    CHECK_EQ(call(&b, now, 0, MS), LIRA_OK);
    CHECK_EQ(state_at(&b, now), LIRA_BREAKER_CLOSED);
    lira_breaker_stats st;
    CHECK_EQ(lira_breaker_get_stats(&b, now, &st), LIRA_OK);
    CHECK_EQ(st.cooldown_ns, 10 * SEC);
    trip(&b, now);
    CHECK_EQ(lira_breaker_retry_after(&b, now), 10 * SEC);
    lira_breaker_free(&b);
}

static void test_stale_permits_are_ignored(void)
{
    lira_breaker b;
    lira_breaker_config c = cfg_with(NULL);
    CHECK_EQ(lira_breaker_init(&b, &c), LIRA_OK);
    /* 10 slow calls admitted while closed, still in flight */
    lira_breaker_permit old[10];
    for (int i = 0; i < 10; i++)
        CHECK_EQ(lira_breaker_allow(&b, 0, &old[i]), LIRA_OK);
    trip(&b, SEC);
    CHECK_EQ(state_at(&b, 16 * SEC), LIRA_BREAKER_HALF_OPEN);
    lira_breaker_permit t[3];
    for (int i = 0; i < 3; i++)
        CHECK_EQ(lira_breaker_allow(&b, 16 * SEC, &t[i]), LIRA_OK);
    /* the old closed-state calls succeed: they must not close the breaker */
    for (int i = 0; i < 5; i++)
        CHECK_EQ(lira_breaker_record(&b, 17 * SEC, &old[i], 0, MS), LIRA_OK);
    CHECK_EQ(state_at(&b, 17 * SEC), LIRA_BREAKER_HALF_OPEN);
    /* ... nor fail it open */
    for (int i = 5; i < 10; i++)
        CHECK_EQ(lira_breaker_record(&b, 17 * SEC, &old[i], 1, MS), LIRA_OK);
    CHECK_EQ(state_at(&b, 17 * SEC), LIRA_BREAKER_HALF_OPEN);
    /* ... nor free a trial slot */
    lira_breaker_permit extra;
    CHECK_EQ(lira_breaker_allow(&b, 17 * SEC, &extra), LIRA_EDENIED);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(lira_breaker_record(&b, 17 * SEC, &t[i], 0, MS), LIRA_OK);
    CHECK_EQ(state_at(&b, 17 * SEC), LIRA_BREAKER_CLOSED);
    lira_breaker_stats st;
    CHECK_EQ(lira_breaker_get_stats(&b, 17 * SEC, &st), LIRA_OK);
    CHECK_EQ(st.stale, 10);
    CHECK_EQ(st.calls, 0);

    /* recording twice, or a permit never admitted, is a caller bug */
    lira_breaker_permit p;
    CHECK_EQ(lira_breaker_allow(&b, 17 * SEC, &p), LIRA_OK);
    CHECK_EQ(lira_breaker_record(&b, 17 * SEC, &p, 0, MS), LIRA_OK);
    CHECK_EQ(lira_breaker_record(&b, 17 * SEC, &p, 0, MS), LIRA_ESTATE);
    lira_breaker_permit zero = {0, 0};
    CHECK_EQ(lira_breaker_record(&b, 17 * SEC, &zero, 0, MS), LIRA_ESTATE);
    lira_breaker_free(&b);
}

static void test_transition_sequence_and_reentry(void)
{
    events e = {0};
    lira_breaker b;
    lira_breaker_config c = cfg_with(&e);
    c.half_open_calls = 2;
    CHECK_EQ(lira_breaker_init(&b, &c), LIRA_OK);
    e.b = &b;
    trip(&b, 1 * SEC);                         /* closed -> open at 1 s */
    state_at(&b, 10 * SEC);                    /* still open: nothing */
    call(&b, 16 * SEC, 1, MS);                 /* -> half_open, -> open */
    state_at(&b, 20 * SEC);
    call(&b, 31 * SEC, 0, MS);                 /* -> half_open */
    call(&b, 32 * SEC, 0, MS);                 /* -> closed */
    calls(&b, 33 * SEC, 0, 50);                /* no change, no event */
    const lira_breaker_state want[][2] = {
        {LIRA_BREAKER_CLOSED, LIRA_BREAKER_OPEN},
        {LIRA_BREAKER_OPEN, LIRA_BREAKER_HALF_OPEN},
        {LIRA_BREAKER_HALF_OPEN, LIRA_BREAKER_OPEN},
        {LIRA_BREAKER_OPEN, LIRA_BREAKER_HALF_OPEN},
        {LIRA_BREAKER_HALF_OPEN, LIRA_BREAKER_CLOSED},
    };
    const int64_t at[] = {1 * SEC, 16 * SEC, 16 * SEC, 31 * SEC, 32 * SEC};
    CHECK_EQ(e.n, 5);
    for (int i = 0; i < 5 && i < e.n; i++) {
        CHECK_EQ(e.from[i], want[i][0]);
        CHECK_EQ(e.to[i], want[i][1]);
        CHECK_EQ(e.at[i], at[i]);
    }
    /* inside the callback: mutators refuse, getters see the new state */
    CHECK_EQ(e.reentry_rc, LIRA_ESTATE);
    CHECK_EQ(e.seen_state, LIRA_BREAKER_CLOSED);
    lira_breaker_free(&b);
}

static void test_time_never_goes_back(void)
{
    lira_breaker b;
    lira_breaker_config c = cfg_with(NULL);
    CHECK_EQ(lira_breaker_init(&b, &c), LIRA_OK);
    trip(&b, 100 * SEC);
    /* an earlier `now` reads as 100 s, not as 85 s before the trip */
    CHECK_EQ(lira_breaker_retry_after(&b, 50 * SEC), 15 * SEC);
    CHECK_EQ(state_at(&b, 0), LIRA_BREAKER_OPEN);
    lira_breaker_free(&b);
}

static void test_bad_config(void)
{
    lira_breaker b;
    lira_breaker_config c;
    CHECK_EQ(lira_breaker_config_validate(NULL), LIRA_EINVAL);
    CHECK_EQ(lira_breaker_init(&b, NULL), LIRA_EINVAL);
    lira_breaker_free(&b);   /* harmless after a failed init */
    c = lira_breaker_config_default();
    CHECK_EQ(lira_breaker_init(NULL, &c), LIRA_EINVAL);

#define BAD(field, value)                                                    \
    do {                                                                     \
        c = lira_breaker_config_default();                                   \
        c.field = value;                                                     \
        CHECK_EQ(lira_breaker_config_validate(&c), LIRA_EINVAL);             \
        CHECK_EQ(lira_breaker_init(&b, &c), LIRA_EINVAL);                    \
        lira_breaker_free(&b);                                               \
    } while (0)
    BAD(failure_rate, 0.0);
    BAD(failure_rate, -0.5);
    BAD(failure_rate, 1.01);
    BAD(failure_rate, NAN);
    BAD(slow_call_rate, 0.0);
    BAD(slow_call_rate, 2.0);
    BAD(slow_call_ns, -1);
    BAD(min_calls, 0);
    BAD(window, 0);
    BAD(window, LIRA_BREAKER_MAX_WINDOW_SECONDS + 1);
    BAD(window_kind, (lira_breaker_window_kind)7);
    BAD(half_open_calls, 0);
    BAD(cooldown_ns, 0);
    BAD(cooldown_ns, -SEC);
    BAD(cooldown_multiplier, 0.5);
    BAD(cooldown_multiplier, INFINITY);
    BAD(cooldown_multiplier, NAN);
#undef BAD
    c = lira_breaker_config_default();
    c.cooldown_multiplier = 2.0;
    c.max_cooldown_ns = c.cooldown_ns - 1;
    CHECK_EQ(lira_breaker_config_validate(&c), LIRA_EINVAL);
    c.cooldown_multiplier = 1.0;   /* the cap is irrelevant without growth */
    CHECK_EQ(lira_breaker_config_validate(&c), LIRA_OK);

    c = lira_breaker_config_default();
    c.window_kind = LIRA_BREAKER_WINDOW_COUNT;
    c.window = 10;   /* min_calls 20 could never be reached */
    CHECK_EQ(lira_breaker_config_validate(&c), LIRA_EINVAL);
    c.window = LIRA_BREAKER_MAX_WINDOW_CALLS + 1;
    CHECK_EQ(lira_breaker_config_validate(&c), LIRA_EINVAL);
    c.window = LIRA_BREAKER_MAX_WINDOW_CALLS;
    CHECK_EQ(lira_breaker_config_validate(&c), LIRA_OK);
    c.window = LIRA_BREAKER_MAX_WINDOW_SECONDS;
    c.window_kind = LIRA_BREAKER_WINDOW_TIME;
    c.min_calls = 1;
    c.failure_rate = 1.0;
    CHECK_EQ(lira_breaker_config_validate(&c), LIRA_OK);
}

static void test_null_and_bad_arguments(void)
{
    lira_breaker b;
    lira_breaker_config c = lira_breaker_config_default();
    lira_breaker_permit p;
    lira_breaker_state s;
    lira_breaker_stats st;
    CHECK_EQ(lira_breaker_init(&b, &c), LIRA_OK);
    CHECK_EQ(lira_breaker_allow(NULL, 0, &p), LIRA_EINVAL);
    CHECK_EQ(lira_breaker_allow(&b, 0, NULL), LIRA_EINVAL);
    CHECK_EQ(lira_breaker_allow(&b, -1, &p), LIRA_EINVAL);
    CHECK_EQ(lira_breaker_allow(&b, 0, &p), LIRA_OK);
    CHECK_EQ(lira_breaker_record(NULL, 0, &p, 0, 0), LIRA_EINVAL);
    CHECK_EQ(lira_breaker_record(&b, 0, NULL, 0, 0), LIRA_EINVAL);
    CHECK_EQ(lira_breaker_record(&b, -1, &p, 0, 0), LIRA_EINVAL);
    CHECK_EQ(lira_breaker_record(&b, 0, &p, 0, -1), LIRA_EINVAL);
    CHECK_EQ(p.gen != 0, 1);   /* a rejected record leaves the permit usable */
    CHECK_EQ(lira_breaker_record(&b, 0, &p, 0, 0), LIRA_OK);
    CHECK_EQ(lira_breaker_cancel(NULL, 0, &p), LIRA_EINVAL);
    CHECK_EQ(lira_breaker_cancel(&b, 0, NULL), LIRA_EINVAL);
    CHECK_EQ(lira_breaker_retry_after(NULL, 0), LIRA_EINVAL);
    CHECK_EQ(lira_breaker_retry_after(&b, -5), LIRA_EINVAL);
    CHECK_EQ(lira_breaker_force_open(NULL, 0), LIRA_EINVAL);
    CHECK_EQ(lira_breaker_reset(NULL, 0), LIRA_EINVAL);
    CHECK_EQ(lira_breaker_disable(NULL, 0), LIRA_EINVAL);
    CHECK_EQ(lira_breaker_disable(&b, -1), LIRA_EINVAL);
    CHECK_EQ(lira_breaker_get_state(NULL, 0, &s), LIRA_EINVAL);
    CHECK_EQ(lira_breaker_get_state(&b, 0, NULL), LIRA_EINVAL);
    CHECK_EQ(lira_breaker_get_stats(NULL, 0, &st), LIRA_EINVAL);
    CHECK_EQ(lira_breaker_get_stats(&b, 0, NULL), LIRA_EINVAL);
    CHECK_EQ(state_at(&b, 0), LIRA_BREAKER_CLOSED);
    CHECK_EQ(lira_breaker_allow(&b, 0, &p), LIRA_OK);
    lira_breaker_free(&b);
    /* a permit outliving its breaker's ring is refused, not dereferenced */
    CHECK_EQ(lira_breaker_record(&b, 0, &p, 1, 0), LIRA_ESTATE);
    CHECK_EQ(lira_breaker_allow(&b, 0, &p), LIRA_ESTATE);
    lira_breaker_free(&b);
    lira_breaker_free(NULL);
}

static void test_hot_path_speed(void)
{
    lira_breaker b;
    lira_breaker_config c = cfg_with(NULL);
    c.min_calls = 1000000000;   /* stay closed: measure the steady path */
    CHECK_EQ(lira_breaker_init(&b, &c), LIRA_OK);
    const int n = 2000000;
    clock_t start = clock();
    int64_t now = 0;
    for (int i = 0; i < n; i++) {
        lira_breaker_permit p;
        now += 1000;   /* 1 us apart: a new bucket every 1000 calls */
        if (lira_breaker_allow(&b, now, &p) == LIRA_OK)
            lira_breaker_record(&b, now, &p, (i & 7) == 0, MS);
    }
    double ns = (double)(clock() - start) / CLOCKS_PER_SEC * 1e9 / n;
    printf("allow+record: %.1f ns per pair\n", ns);
    lira_breaker_stats st;
    CHECK_EQ(lira_breaker_get_stats(&b, now, &st), LIRA_OK);
    CHECK_EQ(st.calls, 2000000);   /* 2 s of calls, all inside 30 s */
    CHECK(ns < 1000);   /* generous: sanitizer builds are slow; the report
                           quotes the optimised figure */
    lira_breaker_free(&b);
}

int main(void)
{
    RUN(test_defaults_and_names);
    RUN(test_never_trips_below_min_calls);
    RUN(test_trips_exactly_at_threshold);
    RUN(test_open_fails_fast_and_reports_retry_after);
    RUN(test_half_open_admits_exactly_n_then_closes);
    RUN(test_failed_trial_reopens);
    RUN(test_slow_trial_reopens_and_cancel_frees_a_slot);
    RUN(test_window_forgets_old_buckets);
    RUN(test_huge_time_jump_is_constant_time);
    RUN(test_slow_call_rate_trips);
    RUN(test_count_window_keeps_last_n);
    RUN(test_forced_open_disabled_reset);
    RUN(test_growing_cooldown);
    RUN(test_stale_permits_are_ignored);
    RUN(test_transition_sequence_and_reentry);
    RUN(test_time_never_goes_back);
    RUN(test_bad_config);
    RUN(test_null_and_bad_arguments);
    RUN(test_hot_path_speed);
    return check_summary();
}
