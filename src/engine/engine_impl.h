/* engine_impl.h — the engine record that engine.c (fds, wake-ups, turns)
 * and engine_timer.c (the timer heaps) share. Internal to src/engine: other
 * layers use engine.h. */
#ifndef LIRA_ENGINE_IMPL_H
#define LIRA_ENGINE_IMPL_H

#include <pthread.h>
#include <stdint.h>

#include "engine.h"

enum { HEAP_ENGINE, HEAP_REAL, HEAP_COUNT };

typedef struct timer_heap {
    lira_timer **items;
    size_t len, cap;
} timer_heap;

typedef struct watch {
    int events;          /* what the callback is called for; 0 = not watched */
    int kevents;         /* what epoll has registered: a parked fd keeps it */
    lira_io_fn fn;
    void *ud;
} watch;

typedef struct posted {
    void (*fn)(void *ud);
    void *ud;
} posted;

typedef struct closer {
    void (*fn)(void *ud);
    void *ud;
} closer;

typedef struct turn_hook {
    void (*fn)(void *ud, int begin);
    void *ud;
} turn_hook;

struct lira_engine {
    lira_clock clock;
    lira_rng rng;
    int epfd, wakefd;
    timer_heap heaps[HEAP_COUNT];
    uint64_t timer_seq;
    size_t strong_timers;     /* armed timers that are not weak */
    size_t holds;
    watch *watches;           /* indexed by fd */
    size_t nwatches;
    pthread_mutex_t post_lock;
    posted *posts;            /* guarded by post_lock */
    size_t nposts, capposts;
    closer *closers;
    size_t ncloser;
    turn_hook *turn_hooks;
    size_t nturn_hooks;
    void *slots[LIRA_SLOT_COUNT_];
};

/* ns until the earliest timer of heap `which` is due: -1 none, 0 due. */
int64_t lira__timers_timeout(const lira_engine *e, int which);

/* Fire the timers of heap `which` due now; the number fired. */
int lira__timers_fire_due(lira_engine *e, int which);

#endif
