/* clock.h — where lira reads time, so that tests can replace it.
 *
 * Every core primitive takes `now` as an argument (int64_t monotonic
 * nanoseconds); only the engine asks a lira_clock for it. A clock is either
 * the system's (CLOCK_MONOTONIC for `now`, CLOCK_REALTIME for `wall`) or a
 * virtual one that moves only when told, so that backoff, breaker and limiter
 * tests run in simulated time and never sleep.
 *
 * Units: nanoseconds throughout. `wall` is nanoseconds since the Unix epoch
 * (needed for HTTP dates and epoch-second rate-limit resets). */
#ifndef LIRA_CLOCK_H
#define LIRA_CLOCK_H

#include <stdint.h>

#define LIRA_NS_PER_SEC  INT64_C(1000000000)
#define LIRA_NS_PER_MS   INT64_C(1000000)

typedef enum { LIRA_CLOCK_SYSTEM, LIRA_CLOCK_VIRTUAL } lira_clock_kind;

typedef struct lira_clock {
    lira_clock_kind kind;
    int64_t mono_ns;     /* virtual: the current monotonic time; system: when
                            wall_ns was sampled (0: never), for wall_at */
    int64_t wall_ns;     /* virtual: wall time at mono_ns == 0 (epoch ns);
                            system: wall minus monotonic at that sample */
} lira_clock;

/* Initialise `c` as the system clock. Returns LIRA_EINVAL when c is NULL. */
int lira_clock_init_system(lira_clock *c);

/* Initialise `c` as a virtual clock that reads `start_ns` (>= 0) and whose
 * wall clock reads `wall_start_ns` at that moment. */
int lira_clock_init_virtual(lira_clock *c, int64_t start_ns, int64_t wall_start_ns);

/* Monotonic now, in ns. A NULL clock reads the system's. Never goes back. */
int64_t lira_clock_now(const lira_clock *c);

/* Wall-clock now, in ns since the Unix epoch. A NULL clock reads the system's. */
int64_t lira_clock_wall(const lira_clock *c);

/* Wall-clock time at monotonic `now`, a time this clock gave: what
 * lira_clock_wall would have read then. A virtual clock's is exact. A system
 * clock's is now plus the offset between its two clocks, sampled again
 * whenever `now` is 1 ms or more away from the last sample: the events of a
 * busy loop turn (a call's start, attempts and end) stamp their log lines
 * and spans with one wall read a millisecond instead of one each (a read
 * costs ~30 ns). A step or slew of the system's wall clock shows within
 * that millisecond. A NULL clock reads the system's wall clock. */
int64_t lira_clock_wall_at(lira_clock *c, int64_t now);

/* Move a virtual clock forward by `delta_ns` (>= 0). LIRA_EINVAL for a NULL
 * or system clock or a negative delta; LIRA_ERANGE on overflow. */
int lira_clock_advance(lira_clock *c, int64_t delta_ns);

/* Set a virtual clock to `to_ns`, which must not be before its current time
 * (monotonic time never goes back): LIRA_EINVAL otherwise. */
int lira_clock_set(lira_clock *c, int64_t to_ns);

#endif
