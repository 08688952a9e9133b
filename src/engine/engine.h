/* engine.h — one lira engine: a loop thread's clock, timers, fd watchers,
 * cross-thread wake-ups, and (transport.h) the HTTP transport on top.
 *
 * Threading: every function here runs on the engine's loop thread, except
 * lira_engine_wake() and lira_engine_post(), which any thread may call.
 * The engine never calls Lua: waiting operations take a C callback and an
 * opaque pointer, and the engine calls the callback exactly once, on the
 * loop thread — never when the start call itself returned an error
 * (libuv's rule).
 *
 * Time: lira_engine_now() reads the engine's clock (system or virtual). On a
 * virtual clock, lira_engine_step() never sleeps for timers: when nothing
 * but timers is pending it moves the clock straight to the next one, so
 * backoff, cooldowns and sleeps complete instantly in simulated time. I/O
 * (real sockets) still takes real time. */
#ifndef LIRA_ENGINE_H
#define LIRA_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "rng.h"

typedef struct lira_engine lira_engine;

typedef struct lira_engine_options {
    int virtual_clock;        /* 1: start on a virtual clock at 0 (wall = now) */
    int seeded;               /* 1: seed the rng with `seed` (tests); else entropy */
    uint64_t seed;
} lira_engine_options;

/* Create an engine. `opt` may be NULL (system clock, entropy seed).
 * LIRA_ENOMEM / LIRA_EINVAL; *out is set only on LIRA_OK. */
int lira_engine_new(const lira_engine_options *opt, lira_engine **out);

/* Stop every pending timer without calling it, close watchers and the
 * transport (pending transfers complete with LIRA_FAIL_CANCELLED first), and
 * free the engine. NULL is a no-op. */
void lira_engine_free(lira_engine *e);

lira_clock *lira_engine_clock(lira_engine *e);   /* never NULL for a live engine */
lira_rng *lira_engine_rng(lira_engine *e);
int64_t lira_engine_now(const lira_engine *e);   /* monotonic ns */
int64_t lira_engine_wall(const lira_engine *e);  /* epoch ns */
/* Epoch ns at `now`, a time lira_engine_now gave: lira_clock_wall_at (one
 * wall read a millisecond for the events of a turn, not one each). */
int64_t lira_engine_wall_at(lira_engine *e, int64_t now);

/* Switch a running engine to a virtual clock starting at its current time
 * (used by lira.testing's t.clock()). Pending timers keep their deadlines. */
int lira_engine_use_virtual_clock(lira_engine *e);

/* ---------------------------------------------------------------- timers */

typedef struct lira_timer lira_timer;
typedef void (*lira_timer_fn)(lira_timer *t, void *ud);

/* Embedded in the caller's struct; the engine only links it into its heap
 * while armed. Initialise with lira_timer_init() before first use. */
struct lira_timer {
    int64_t at;          /* absolute monotonic ns */
    uint64_t seq;        /* FIFO order among timers due at the same ns */
    size_t slot;         /* index in its heap, SIZE_MAX when not armed */
    lira_timer_fn fn;
    void *ud;
    unsigned char real;  /* measured on the system clock even when the engine
                            runs on a virtual one (curl's own timeouts) */
    unsigned char weak;  /* does not keep lira_engine_run_until() going */
};

void lira_timer_init(lira_timer *t);

/* Flags, set while the timer is not armed: a `real` timer follows the
 * system monotonic clock (for work that happens in real time, like socket
 * timeouts); a `weak` one does not count as pending work. */
void lira_timer_set_real(lira_timer *t, int real);
void lira_timer_set_weak(lira_timer *t, int weak);

/* Arm `t` to fire at `at_ns` (absolute; a time in the past fires on the next
 * step). Re-arming an armed timer moves it. LIRA_EINVAL for NULL e/t/fn,
 * LIRA_ENOMEM if the heap cannot grow (the timer is then not armed). */
int lira_timer_start(lira_engine *e, lira_timer *t, int64_t at_ns, lira_timer_fn fn, void *ud);

/* Disarm; its callback will not run. Harmless on a disarmed timer. */
void lira_timer_stop(lira_engine *e, lira_timer *t);

int lira_timer_armed(const lira_timer *t);

/* ------------------------------------------------------------ fd watches */

enum { LIRA_IO_READ = 1, LIRA_IO_WRITE = 2 };

typedef void (*lira_io_fn)(int fd, int events, void *ud);

/* Watch `fd` for `events` (LIRA_IO_READ|LIRA_IO_WRITE); a second call for
 * the same fd replaces the events and callback. events == 0 removes it.
 * The callback runs from lira_engine_step(). */
int lira_engine_watch(lira_engine *e, int fd, int events, lira_io_fn fn, void *ud);

/* Stop calling back for `fd` but leave it registered with epoll, so that
 * watching it again for the same events costs no system call: a keep-alive
 * connection is unwatched and watched again on every request it carries.
 * If the parked fd becomes ready, the engine drops the registration then.
 * The caller must call lira_engine_forget() before it closes a parked fd:
 * once the number is reused, the engine could no longer tell that epoll
 * dropped the old registration. LIRA_EINVAL for a NULL engine or fd < 0. */
int lira_engine_park(lira_engine *e, int fd);

/* `fd` is about to be closed: no callback, no registration. Harmless for an
 * fd the engine never saw. */
void lira_engine_forget(lira_engine *e, int fd);

/* ----------------------------------------------------- the loop's turns */

/* Run one turn: wait for I/O for at most `max_wait_ns` (-1 = until the next
 * timer or I/O event; 0 = do not wait), dispatch ready fds, posted work and
 * due timers. Returns the number of callbacks run (>= 0) or a LIRA_E code. */
int lira_engine_step(lira_engine *e, int64_t max_wait_ns);

/* Run turns until `*done` becomes non-zero (set by a callback) or nothing is
 * pending any more (LIRA_ESTATE: it would wait forever). */
int lira_engine_run_until(lira_engine *e, const int *done);

/* Pending work: armed non-weak timers, holds, and posted work. fd watches do
 * not count (idle pooled connections stay watched). */
int lira_engine_busy(lira_engine *e);

/* Count an operation that completes through I/O (a transfer in flight) as
 * pending work, and stop counting it. On a virtual clock, time does not jump
 * ahead while anything is held: real I/O is in flight. */
void lira_engine_hold(lira_engine *e);
void lira_engine_release(lira_engine *e);

/* Run fn(ud) when the engine is freed, before the loop's own resources go
 * (latest registered first). Layers above use it to close what they hung on
 * the engine (the transport, upstream registry). LIRA_ENOMEM on failure. */
int lira_engine_on_free(lira_engine *e, void (*fn)(void *ud), void *ud);

/* Run fn(ud, 1) in every turn of lira_engine_step() before its first
 * callback and fn(ud, 0) after its last one, for a layer that batches what
 * the callbacks of one turn produce (the log writes a turn's lines with one
 * write(2)). Hooks live as long as the engine. LIRA_ENOMEM on failure. */
int lira_engine_on_turn(lira_engine *e, void (*fn)(void *ud, int begin), void *ud);

/* One slot per layer for the object it hangs on the engine (the transport,
 * the upstream registry, the Lua binding's state), so that layers find each
 * other's per-engine state without globals. */
enum { LIRA_SLOT_TRANSPORT, LIRA_SLOT_UPSTREAMS, LIRA_SLOT_BINDING, LIRA_SLOT_STORE,
       LIRA_SLOT_TELEMETRY, LIRA_SLOT_COUNT_ };
void *lira_engine_slot(const lira_engine *e, int slot);
void lira_engine_set_slot(lira_engine *e, int slot, void *p);

/* For foreign event loops (the cqueues "pollable" convention): an fd that
 * becomes readable when lira_engine_step(e, 0) has work, and how long until
 * a timer is due (ns; -1 when none; 0 when due now). */
int lira_engine_pollfd(lira_engine *e);
int64_t lira_engine_timeout(lira_engine *e);

/* ----------------------------------------------------- other threads */

/* Make a blocked lira_engine_step() return soon. Any thread; async-signal
 * safe (a write to an eventfd). */
int lira_engine_wake(lira_engine *e);

/* Queue fn(ud) to run on the loop thread during a later step, and wake it.
 * Any thread. LIRA_ENOMEM when the queue cannot grow (fn will not run). */
int lira_engine_post(lira_engine *e, void (*fn)(void *ud), void *ud);

#endif
