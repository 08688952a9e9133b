/* engine.c — the loop: epoll for fds, the turns that run fds, timers
 * (engine_timer.c) and posted work, and an eventfd for wake-ups and work
 * posted from other threads. */
#define _GNU_SOURCE
#include "engine.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "engine_impl.h"
#include "status.h"

#define MAX_EVENTS 64

/* ------------------------------------------------------------- engine */

int lira_engine_new(const lira_engine_options *opt, lira_engine **out)
{
    if (!out)
        return LIRA_EINVAL;
    lira_engine *e = calloc(1, sizeof *e);
    if (!e)
        return LIRA_ENOMEM;
    e->epfd = epoll_create1(EPOLL_CLOEXEC);
    e->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = -1};
    if (e->epfd < 0 || e->wakefd < 0 || epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->wakefd, &ev) != 0 ||
        pthread_mutex_init(&e->post_lock, NULL) != 0) {
        if (e->epfd >= 0)
            close(e->epfd);
        if (e->wakefd >= 0)
            close(e->wakefd);
        free(e);
        return LIRA_ENOMEM;
    }
    if (opt && opt->virtual_clock)
        lira_clock_init_virtual(&e->clock, 0, lira_clock_wall(NULL));
    else
        lira_clock_init_system(&e->clock);
    if (opt && opt->seeded)
        lira_rng_seed(&e->rng, opt->seed);
    else
        lira_rng_seed_entropy(&e->rng);
    *out = e;
    return LIRA_OK;
}

void lira_engine_free(lira_engine *e)
{
    if (!e)
        return;
    while (e->ncloser > 0) {
        closer c = e->closers[--e->ncloser];
        c.fn(c.ud);
    }
    for (int i = 0; i < HEAP_COUNT; i++) {
        for (size_t j = 0; j < e->heaps[i].len; j++)
            e->heaps[i].items[j]->slot = SIZE_MAX;
        free(e->heaps[i].items);
    }
    close(e->epfd);
    close(e->wakefd);
    pthread_mutex_destroy(&e->post_lock);
    free(e->posts);
    free(e->watches);
    free(e->closers);
    free(e->turn_hooks);
    free(e);
}

lira_clock *lira_engine_clock(lira_engine *e) { return e ? &e->clock : NULL; }
lira_rng *lira_engine_rng(lira_engine *e) { return e ? &e->rng : NULL; }
int64_t lira_engine_now(const lira_engine *e) { return lira_clock_now(e ? &e->clock : NULL); }
int64_t lira_engine_wall(const lira_engine *e) { return lira_clock_wall(e ? &e->clock : NULL); }
int64_t lira_engine_wall_at(lira_engine *e, int64_t now)
{
    return lira_clock_wall_at(e ? &e->clock : NULL, now);
}

void *lira_engine_slot(const lira_engine *e, int slot)
{
    return e && slot >= 0 && slot < LIRA_SLOT_COUNT_ ? e->slots[slot] : NULL;
}

void lira_engine_set_slot(lira_engine *e, int slot, void *p)
{
    if (e && slot >= 0 && slot < LIRA_SLOT_COUNT_)
        e->slots[slot] = p;
}

int lira_engine_use_virtual_clock(lira_engine *e)
{
    if (!e)
        return LIRA_EINVAL;
    if (e->clock.kind == LIRA_CLOCK_VIRTUAL)
        return LIRA_OK;
    /* On the system clock, real timers share the engine heap. Take them out
     * while heap_of() (engine_timer.c) still says so, switch clocks, then
     * re-arm them: they land in the real heap, with the same deadlines (the
     * virtual clock starts at the current monotonic time, so both clocks
     * agree now). */
    timer_heap *h = &e->heaps[HEAP_ENGINE];
    size_t nreal = 0;
    for (size_t i = 0; i < h->len; i++)
        nreal += h->items[i]->real;
    lira_timer **real = nreal ? malloc(nreal * sizeof *real) : NULL;
    if (nreal && !real)
        return LIRA_ENOMEM;
    nreal = 0;
    for (size_t i = 0; i < h->len;) {
        lira_timer *t = h->items[i];
        if (t->real) {
            real[nreal++] = t;
            lira_timer_stop(e, t);  /* moves another timer into slot i */
        } else {
            i++;
        }
    }
    lira_clock_init_virtual(&e->clock, lira_clock_now(&e->clock), lira_clock_wall(NULL));
    int rc = LIRA_OK;
    for (size_t i = 0; i < nreal; i++)
        if (lira_timer_start(e, real[i], real[i]->at, real[i]->fn, real[i]->ud) != LIRA_OK)
            rc = LIRA_ENOMEM;
    free(real);
    return rc;
}

int lira_engine_on_free(lira_engine *e, void (*fn)(void *ud), void *ud)
{
    if (!e || !fn)
        return LIRA_EINVAL;
    closer *c = realloc(e->closers, (e->ncloser + 1) * sizeof *c);
    if (!c)
        return LIRA_ENOMEM;
    e->closers = c;
    e->closers[e->ncloser++] = (closer){fn, ud};
    return LIRA_OK;
}

int lira_engine_on_turn(lira_engine *e, void (*fn)(void *ud, int begin), void *ud)
{
    if (!e || !fn)
        return LIRA_EINVAL;
    turn_hook *h = realloc(e->turn_hooks, (e->nturn_hooks + 1) * sizeof *h);
    if (!h)
        return LIRA_ENOMEM;
    e->turn_hooks = h;
    e->turn_hooks[e->nturn_hooks++] = (turn_hook){fn, ud};
    return LIRA_OK;
}

static void run_turn_hooks(lira_engine *e, int begin)
{
    for (size_t i = 0; i < e->nturn_hooks; i++)
        e->turn_hooks[i].fn(e->turn_hooks[i].ud, begin);
}

void lira_engine_hold(lira_engine *e) { if (e) e->holds++; }
void lira_engine_release(lira_engine *e) { if (e && e->holds) e->holds--; }

static size_t posts_pending(lira_engine *e)
{
    pthread_mutex_lock(&e->post_lock);
    size_t n = e->nposts;
    pthread_mutex_unlock(&e->post_lock);
    return n;
}

int lira_engine_busy(lira_engine *e)
{
    return e && (e->strong_timers > 0 || e->holds > 0 || posts_pending(e) > 0);
}

/* ------------------------------------------------------------- fds */

static uint32_t to_epoll(int events)
{
    return ((events & LIRA_IO_READ) ? EPOLLIN : 0) | ((events & LIRA_IO_WRITE) ? EPOLLOUT : 0);
}

/* Make epoll's registration of fd say `events` (0: none). A DEL that finds
 * the fd closed, or its registration already gone, has nothing to undo. */
static int set_kernel(lira_engine *e, int fd, watch *w, int events)
{
    if (w->kevents == events)
        return LIRA_OK;
    struct epoll_event ev = {.events = to_epoll(events), .data.fd = fd};
    int op = !events ? EPOLL_CTL_DEL : w->kevents ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    int rc = epoll_ctl(e->epfd, op, fd, &ev);
    if (rc != 0 && op == EPOLL_CTL_MOD && errno == ENOENT)   /* closed while parked */
        rc = epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev);
    if (rc != 0 && !(op == EPOLL_CTL_DEL && (errno == EBADF || errno == ENOENT)))
        return errno == ENOMEM ? LIRA_ENOMEM : LIRA_EINVAL;
    w->kevents = events;
    return LIRA_OK;
}

int lira_engine_watch(lira_engine *e, int fd, int events, lira_io_fn fn, void *ud)
{
    if (!e || fd < 0 || (events && !fn) || (events & ~(LIRA_IO_READ | LIRA_IO_WRITE)))
        return LIRA_EINVAL;
    if ((size_t)fd >= e->nwatches) {
        if (!events)
            return LIRA_OK;
        size_t n = e->nwatches ? e->nwatches : 64;
        while (n <= (size_t)fd)
            n *= 2;
        watch *w = realloc(e->watches, n * sizeof *w);
        if (!w)
            return LIRA_ENOMEM;
        memset(w + e->nwatches, 0, (n - e->nwatches) * sizeof *w);
        e->watches = w;
        e->nwatches = n;
    }
    watch *w = &e->watches[fd];
    int rc = set_kernel(e, fd, w, events);
    if (rc != LIRA_OK)
        return rc;
    w->events = events;
    w->fn = fn;
    w->ud = ud;
    return LIRA_OK;
}

int lira_engine_park(lira_engine *e, int fd)
{
    if (!e || fd < 0)
        return LIRA_EINVAL;
    if ((size_t)fd < e->nwatches) {
        watch *w = &e->watches[fd];
        w->events = 0;
        w->fn = NULL;
        w->ud = NULL;
    }
    return LIRA_OK;
}

void lira_engine_forget(lira_engine *e, int fd)
{
    if (lira_engine_park(e, fd) == LIRA_OK && (size_t)fd < e->nwatches)
        (void)set_kernel(e, fd, &e->watches[fd], 0);   /* DEL fails only on a bad epfd */
}

/* ------------------------------------------------------------- wake-ups */

int lira_engine_wake(lira_engine *e)
{
    if (!e)
        return LIRA_EINVAL;
    uint64_t one = 1;
    ssize_t n = write(e->wakefd, &one, sizeof one);
    (void)n;  /* EAGAIN: the counter is already non-zero, a wake is pending */
    return LIRA_OK;
}

int lira_engine_post(lira_engine *e, void (*fn)(void *ud), void *ud)
{
    if (!e || !fn)
        return LIRA_EINVAL;
    pthread_mutex_lock(&e->post_lock);
    if (e->nposts == e->capposts) {
        size_t cap = e->capposts ? e->capposts * 2 : 16;
        posted *p = realloc(e->posts, cap * sizeof *p);
        if (!p) {
            pthread_mutex_unlock(&e->post_lock);
            return LIRA_ENOMEM;
        }
        e->posts = p;
        e->capposts = cap;
    }
    e->posts[e->nposts++] = (posted){fn, ud};
    pthread_mutex_unlock(&e->post_lock);
    return lira_engine_wake(e);
}

/* Run the work posted so far; work posted meanwhile waits for the next turn
 * so that a callback that re-posts cannot starve the loop. */
static int run_posted(lira_engine *e)
{
    uint64_t drained;
    ssize_t n = read(e->wakefd, &drained, sizeof drained);
    (void)n;
    pthread_mutex_lock(&e->post_lock);
    size_t count = e->nposts;
    posted batch[32];
    if (count > 32)
        count = 32;
    memcpy(batch, e->posts, count * sizeof *batch);
    memmove(e->posts, e->posts + count, (e->nposts - count) * sizeof *batch);
    e->nposts -= count;
    int more = e->nposts > 0;
    pthread_mutex_unlock(&e->post_lock);
    if (more)
        lira_engine_wake(e);
    for (size_t i = 0; i < count; i++)
        batch[i].fn(batch[i].ud);
    return (int)count;
}

/* ------------------------------------------------------------- turns */

int64_t lira_engine_timeout(lira_engine *e)
{
    if (!e)
        return -1;
    int64_t t = lira__timers_timeout(e, HEAP_REAL);
    int64_t v = lira__timers_timeout(e, HEAP_ENGINE);
    if (e->clock.kind == LIRA_CLOCK_VIRTUAL && v > 0)
        v = e->holds ? -1 : 0;  /* virtual time jumps as soon as no I/O is held */
    if (t < 0 || (v >= 0 && v < t))
        t = v;
    if (posts_pending(e))
        t = 0;
    return t;
}

int lira_engine_pollfd(lira_engine *e)
{
    return e ? e->epfd : -1;
}

static int wait_ms(int64_t wait_ns)
{
    if (wait_ns < 0)
        return -1;
    int64_t ms = (wait_ns + LIRA_NS_PER_MS - 1) / LIRA_NS_PER_MS;
    return ms > 60000 ? 60000 : (int)ms;
}

/* On a virtual clock with no I/O held, jump to the next engine timer. */
static void advance_virtual(lira_engine *e)
{
    timer_heap *h = &e->heaps[HEAP_ENGINE];
    if (e->clock.kind != LIRA_CLOCK_VIRTUAL || e->holds || h->len == 0)
        return;
    int64_t at = h->items[0]->at;
    if (at > lira_clock_now(&e->clock))
        lira_clock_set(&e->clock, at);
}

int lira_engine_step(lira_engine *e, int64_t max_wait_ns)
{
    if (!e)
        return LIRA_EINVAL;
    int64_t wait = lira_engine_timeout(e);
    if (max_wait_ns >= 0 && (wait < 0 || wait > max_wait_ns))
        wait = max_wait_ns;
    struct epoll_event evs[MAX_EVENTS];
    int n = epoll_wait(e->epfd, evs, MAX_EVENTS, wait_ms(wait));
    if (n < 0 && errno != EINTR)
        return LIRA_EINVAL;
    int ran = 0;
    run_turn_hooks(e, 1);
    for (int i = 0; i < n; i++) {
        int fd = evs[i].data.fd;
        if (fd < 0) {
            ran += run_posted(e);
            continue;
        }
        /* A callback may have removed this watch, or reused the fd. A
         * parked fd that stirs (the peer closed an idle connection) is
         * dropped from epoll now, so that it cannot wake every turn. */
        if ((size_t)fd >= e->nwatches)
            continue;
        if (!e->watches[fd].events) {
            (void)set_kernel(e, fd, &e->watches[fd], 0);
            continue;
        }
        watch w = e->watches[fd];
        int events = ((evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) ? LIRA_IO_READ : 0) |
                     ((evs[i].events & (EPOLLOUT | EPOLLERR)) ? LIRA_IO_WRITE : 0);
        w.fn(fd, events, w.ud);
        ran++;
    }
    ran += lira__timers_fire_due(e, HEAP_REAL);
    ran += lira__timers_fire_due(e, HEAP_ENGINE);
    /* Virtual time moves only in a turn where nothing else happened, so that
     * whatever the callbacks above made runnable runs at the current time. */
    if (ran == 0) {
        advance_virtual(e);
        ran += lira__timers_fire_due(e, HEAP_ENGINE);
    }
    run_turn_hooks(e, 0);
    return ran;
}

int lira_engine_run_until(lira_engine *e, const int *done)
{
    if (!e || !done)
        return LIRA_EINVAL;
    while (!*done) {
        if (!lira_engine_busy(e))
            return LIRA_ESTATE;
        int rc = lira_engine_step(e, -1);
        if (rc < 0)
            return rc;
    }
    return LIRA_OK;
}
