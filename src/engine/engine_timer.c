/* engine_timer.c — the engine's timers.
 *
 * Timers live in binary min-heaps ordered by (at, seq), so timers due at the
 * same instant fire in the order they were armed. Engine-clock timers and
 * `real` timers are kept apart because on a virtual clock they follow
 * different clocks; on the system clock both heaps follow the same one. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine_impl.h"
#include "status.h"

/* ------------------------------------------------------------- the heap */

static int timer_before(const lira_timer *a, const lira_timer *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void heap_place(timer_heap *h, size_t i, lira_timer *t)
{
    h->items[i] = t;
    t->slot = i;
}

static void heap_up(timer_heap *h, size_t i)
{
    lira_timer *t = h->items[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!timer_before(t, h->items[parent]))
            break;
        heap_place(h, i, h->items[parent]);
        i = parent;
    }
    heap_place(h, i, t);
}

static void heap_down(timer_heap *h, size_t i)
{
    lira_timer *t = h->items[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->len)
            break;
        if (child + 1 < h->len && timer_before(h->items[child + 1], h->items[child]))
            child++;
        if (!timer_before(h->items[child], t))
            break;
        heap_place(h, i, h->items[child]);
        i = child;
    }
    heap_place(h, i, t);
}

static void heap_remove(timer_heap *h, lira_timer *t)
{
    size_t i = t->slot;
    t->slot = SIZE_MAX;
    h->len--;
    if (i == h->len)
        return;
    heap_place(h, i, h->items[h->len]);
    heap_down(h, i);
    heap_up(h, h->items[i]->slot);
}

static timer_heap *heap_of(lira_engine *e, const lira_timer *t)
{
    if (t->real && e->clock.kind == LIRA_CLOCK_VIRTUAL)
        return &e->heaps[HEAP_REAL];
    return &e->heaps[HEAP_ENGINE];
}

static int64_t heap_clock_now(const lira_engine *e, int which)
{
    return which == HEAP_REAL ? lira_clock_now(NULL) : lira_clock_now(&e->clock);
}

/* ------------------------------------------------------------- timers */

void lira_timer_init(lira_timer *t)
{
    if (t)
        memset(t, 0, sizeof *t), t->slot = SIZE_MAX;
}

void lira_timer_set_real(lira_timer *t, int real)
{
    if (t && t->slot == SIZE_MAX)
        t->real = real != 0;
}

void lira_timer_set_weak(lira_timer *t, int weak)
{
    if (t && t->slot == SIZE_MAX)
        t->weak = weak != 0;
}

int lira_timer_armed(const lira_timer *t)
{
    return t && t->slot != SIZE_MAX;
}

void lira_timer_stop(lira_engine *e, lira_timer *t)
{
    if (!e || !t || t->slot == SIZE_MAX)
        return;
    heap_remove(heap_of(e, t), t);
    if (!t->weak)
        e->strong_timers--;
}

int lira_timer_start(lira_engine *e, lira_timer *t, int64_t at_ns, lira_timer_fn fn, void *ud)
{
    if (!e || !t || !fn)
        return LIRA_EINVAL;
    lira_timer_stop(e, t);
    timer_heap *h = heap_of(e, t);
    if (h->len == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        lira_timer **items = realloc(h->items, cap * sizeof *items);
        if (!items)
            return LIRA_ENOMEM;
        h->items = items;
        h->cap = cap;
    }
    t->at = at_ns;
    t->seq = e->timer_seq++;
    t->fn = fn;
    t->ud = ud;
    heap_place(h, h->len++, t);
    heap_up(h, h->len - 1);
    if (!t->weak)
        e->strong_timers++;
    return LIRA_OK;
}

/* Fire every timer of heap `which` due by `now`. A timer armed by a callback
 * for a time <= now fires in this same pass, after those already due. */
static int fire_due(lira_engine *e, int which, int64_t now)
{
    timer_heap *h = &e->heaps[which];
    int ran = 0;
    while (h->len > 0 && h->items[0]->at <= now) {
        lira_timer *t = h->items[0];
        lira_timer_stop(e, t);
        t->fn(t, t->ud);
        ran++;
    }
    return ran;
}

/* The due timers of heap `which`, the clock read only when it has any
 * (the real heap has none unless the engine runs on a virtual clock). */
int lira__timers_fire_due(lira_engine *e, int which)
{
    return e->heaps[which].len > 0 ? fire_due(e, which, heap_clock_now(e, which)) : 0;
}

int64_t lira__timers_timeout(const lira_engine *e, int which)
{
    const timer_heap *h = &e->heaps[which];
    if (h->len == 0)
        return -1;
    int64_t left = h->items[0]->at - heap_clock_now(e, which);
    return left > 0 ? left : 0;
}
