/* The loop: timer order, virtual time, fd watches, posts from other threads,
 * the pollable interface. Real-clock cases wait only a few ms. */
#define _GNU_SOURCE
#include "check.h"

#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "status.h"

typedef struct fired {
    int order[16];
    int n;
    int64_t at[16];
    lira_engine *e;
} fired;

typedef struct tagged {
    lira_timer t;
    int tag;
    fired *log;
} tagged;

static void on_timer(lira_timer *t, void *ud)
{
    tagged *tg = ud;
    (void)t;
    if (tg->log->n < 16) {
        tg->log->at[tg->log->n] = lira_engine_now(tg->log->e);
        tg->log->order[tg->log->n++] = tg->tag;
    }
}

static lira_engine *virtual_engine(void)
{
    lira_engine_options o = {.virtual_clock = 1, .seeded = 1, .seed = 1};
    lira_engine *e = NULL;
    CHECK_EQ(lira_engine_new(&o, &e), LIRA_OK);
    return e;
}

static void test_virtual_timers_fire_in_order_instantly(void)
{
    lira_engine *e = virtual_engine();
    fired log = {.e = e};
    tagged t[5];
    int64_t at[5] = {30, 10, 20, 10, 5};   /* seconds; two due at 10 */
    int64_t t0 = lira_engine_now(e);
    for (int i = 0; i < 5; i++) {
        t[i] = (tagged){.tag = i, .log = &log};
        lira_timer_init(&t[i].t);
        CHECK_EQ(lira_timer_start(e, &t[i].t, t0 + at[i] * LIRA_NS_PER_SEC, on_timer, &t[i]),
                 LIRA_OK);
    }
    CHECK(lira_engine_busy(e));
    int64_t real0 = lira_clock_now(NULL);
    while (lira_engine_busy(e))
        CHECK_INT(lira_engine_step(e, -1), >=, 0);
    CHECK_INT(lira_clock_now(NULL) - real0, <, LIRA_NS_PER_SEC);  /* no real waiting */
    int want[5] = {4, 1, 3, 2, 0};  /* by time, FIFO among equals */
    CHECK_EQ(log.n, 5);
    for (int i = 0; i < 5; i++)
        CHECK_EQ(log.order[i], want[i]);
    CHECK_EQ(log.at[0] - t0, 5 * LIRA_NS_PER_SEC);
    CHECK_EQ(log.at[4] - t0, 30 * LIRA_NS_PER_SEC);
    lira_engine_free(e);
}

static void test_stopped_timer_never_fires(void)
{
    lira_engine *e = virtual_engine();
    fired log = {.e = e};
    tagged a = {.tag = 1, .log = &log}, b = {.tag = 2, .log = &log};
    lira_timer_init(&a.t);
    lira_timer_init(&b.t);
    lira_timer_start(e, &a.t, 100, on_timer, &a);
    lira_timer_start(e, &b.t, 200, on_timer, &b);
    lira_timer_stop(e, &a.t);
    lira_timer_stop(e, &a.t);  /* twice is harmless */
    CHECK(!lira_timer_armed(&a.t));
    int done = 0;
    CHECK_EQ(lira_engine_run_until(e, &done), LIRA_ESTATE);  /* ran dry */
    CHECK_EQ(log.n, 1);
    CHECK_EQ(log.order[0], 2);
    lira_engine_free(e);
}

static void test_rearm_moves_timer(void)
{
    lira_engine *e = virtual_engine();
    fired log = {.e = e};
    tagged a = {.tag = 1, .log = &log};
    lira_timer_init(&a.t);
    int64_t t0 = lira_engine_now(e);
    lira_timer_start(e, &a.t, t0 + 100, on_timer, &a);
    lira_timer_start(e, &a.t, t0 + 500, on_timer, &a);
    while (lira_engine_busy(e))
        lira_engine_step(e, -1);
    CHECK_EQ(log.n, 1);
    CHECK_EQ(log.at[0] - t0, 500);
    lira_engine_free(e);
}

static void test_weak_timer_does_not_keep_loop_busy(void)
{
    lira_engine *e = virtual_engine();
    fired log = {.e = e};
    tagged a = {.tag = 1, .log = &log};
    lira_timer_init(&a.t);
    lira_timer_set_weak(&a.t, 1);
    lira_timer_start(e, &a.t, 100, on_timer, &a);
    CHECK(!lira_engine_busy(e));
    lira_engine_hold(e);
    CHECK(lira_engine_busy(e));
    lira_engine_release(e);
    CHECK(!lira_engine_busy(e));
    lira_engine_free(e);  /* frees with a timer still armed */
}

static void test_many_timers_heap_order(void)
{
    lira_engine *e = virtual_engine();
    enum { N = 2000 };
    static tagged t[N];
    fired log = {.e = e};
    lira_rng r;
    lira_rng_seed(&r, 5);
    for (int i = 0; i < N; i++) {
        t[i] = (tagged){.tag = i, .log = &log};
        lira_timer_init(&t[i].t);
        lira_timer_start(e, &t[i].t, (int64_t)lira_rng_below(&r, 1000000), on_timer, &t[i]);
    }
    for (int i = 0; i < N; i += 3)
        lira_timer_stop(e, &t[i].t);
    int64_t prev = -1;
    int count = 0;
    while (lira_engine_busy(e)) {
        int64_t before = lira_engine_now(e);
        log.n = 0;
        lira_engine_step(e, -1);
        CHECK_INT(before, >=, prev);
        prev = before;
        count += log.n;
    }
    CHECK_EQ(count, N - (N + 2) / 3);
    lira_engine_free(e);
}

typedef struct pipe_ctx {
    int reads;
    char got[8];
} pipe_ctx;

static void on_readable(int fd, int events, void *ud)
{
    pipe_ctx *c = ud;
    CHECK(events & LIRA_IO_READ);
    ssize_t n = read(fd, c->got, sizeof c->got);
    CHECK_INT(n, >, 0);
    c->reads++;
}

/* An engine and a pipe whose read end the tests watch. */
typedef struct pipe_fix {
    lira_engine *e;
    int p[2];
} pipe_fix;

static void fix_open(pipe_fix *f)
{
    memset(f, 0, sizeof *f);
    CHECK_EQ(lira_engine_new(NULL, &f->e), LIRA_OK);
    CHECK_EQ(pipe(f->p), 0);
}

static void fix_close(pipe_fix *f)
{
    close(f->p[0]);
    close(f->p[1]);
    lira_engine_free(f->e);
}

static void test_watch_fd(void)
{
    pipe_fix f;
    fix_open(&f);
    lira_engine *e = f.e;
    int *p = f.p;
    pipe_ctx c = {0};
    CHECK_EQ(lira_engine_watch(e, p[0], LIRA_IO_READ, on_readable, &c), LIRA_OK);
    CHECK_EQ(lira_engine_step(e, 0), 0);
    CHECK_EQ(write(p[1], "x", 1), 1);
    CHECK_EQ(lira_engine_step(e, 1000 * LIRA_NS_PER_MS), 1);
    CHECK_EQ(c.reads, 1);
    CHECK_EQ(c.got[0], 'x');
    CHECK_EQ(lira_engine_watch(e, p[0], 0, NULL, NULL), LIRA_OK);
    CHECK_EQ(write(p[1], "y", 1), 1);
    CHECK_EQ(lira_engine_step(e, 0), 0);
    CHECK_EQ(c.reads, 1);
    CHECK_EQ(lira_engine_watch(e, -1, LIRA_IO_READ, on_readable, &c), LIRA_EINVAL);
    CHECK_EQ(lira_engine_watch(e, p[0], LIRA_IO_READ, NULL, &c), LIRA_EINVAL);
    fix_close(&f);
}

/* A parked fd: no callback while parked; watched again, its events arrive
 * (the registration was kept); readiness while parked drops it, once. */
static void test_park_keeps_registration(void)
{
    pipe_fix f;
    fix_open(&f);
    lira_engine *e = f.e;
    int *p = f.p;
    pipe_ctx c = {0};
    CHECK_EQ(lira_engine_watch(e, p[0], LIRA_IO_READ, on_readable, &c), LIRA_OK);
    CHECK_EQ(lira_engine_park(e, p[0]), LIRA_OK);
    CHECK_EQ(lira_engine_watch(e, p[0], LIRA_IO_READ, on_readable, &c), LIRA_OK);
    CHECK_EQ(write(p[1], "a", 1), 1);
    CHECK_EQ(lira_engine_step(e, 1000 * LIRA_NS_PER_MS), 1);
    CHECK_EQ(c.reads, 1);

    /* Parked and readable: still in epoll (the engine's fd polls ready),
     * but the step calls nobody and drops it, so it polls quiet after. */
    CHECK_EQ(lira_engine_park(e, p[0]), LIRA_OK);
    CHECK_EQ(write(p[1], "b", 1), 1);
    struct pollfd pf = {.fd = lira_engine_pollfd(e), .events = POLLIN};
    CHECK_EQ(poll(&pf, 1, 0), 1);
    CHECK_EQ(lira_engine_step(e, 0), 0);
    CHECK_EQ(c.reads, 1);
    CHECK_EQ(poll(&pf, 1, 0), 0);
    /* ... and watching it again registers it afresh: the byte is there. */
    CHECK_EQ(lira_engine_watch(e, p[0], LIRA_IO_READ, on_readable, &c), LIRA_OK);
    CHECK_EQ(lira_engine_step(e, 1000 * LIRA_NS_PER_MS), 1);
    CHECK_EQ(c.reads, 2);
    CHECK_EQ(c.got[0], 'b');
    CHECK_EQ(lira_engine_park(e, -1), LIRA_EINVAL);
    fix_close(&f);
}

/* forget before close: a new fd with the same number, watched for the same
 * events, is registered for real (skipping the call would lose its events). */
static void test_forget_then_reuse_number(void)
{
    lira_engine *e = NULL;
    CHECK_EQ(lira_engine_new(NULL, &e), LIRA_OK);
    int p[2], q[2];
    CHECK_EQ(pipe(p), 0);
    pipe_ctx c = {0};
    CHECK_EQ(lira_engine_watch(e, p[0], LIRA_IO_READ, on_readable, &c), LIRA_OK);
    CHECK_EQ(lira_engine_park(e, p[0]), LIRA_OK);
    int num = p[0];
    lira_engine_forget(e, p[0]);
    close(p[0]);
    close(p[1]);
    CHECK_EQ(pipe(q), 0);
    CHECK_EQ(q[0], num);   /* the lowest free number comes back */
    CHECK_EQ(lira_engine_watch(e, q[0], LIRA_IO_READ, on_readable, &c), LIRA_OK);
    CHECK_EQ(write(q[1], "c", 1), 1);
    CHECK_EQ(lira_engine_step(e, 1000 * LIRA_NS_PER_MS), 1);
    CHECK_EQ(c.reads, 1);
    CHECK_EQ(c.got[0], 'c');
    lira_engine_forget(e, 12345);   /* never seen: harmless */
    lira_engine_forget(NULL, q[0]);
    lira_engine_forget(e, q[0]);
    close(q[0]);
    close(q[1]);
    lira_engine_free(e);
}

typedef struct post_ctx {
    lira_engine *e;
    int ran;
    int done;
} post_ctx;

static void on_posted(void *ud)
{
    post_ctx *c = ud;
    if (++c->ran == 100)
        c->done = 1;
}

static void *poster(void *ud)
{
    post_ctx *c = ud;
    for (int i = 0; i < 100; i++)
        lira_engine_post(c->e, on_posted, c);
    return NULL;
}

static void test_post_from_another_thread(void)
{
    lira_engine *e = NULL;
    CHECK_EQ(lira_engine_new(NULL, &e), LIRA_OK);
    post_ctx c = {.e = e};
    lira_engine_hold(e);  /* the other thread's work is pending */
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, poster, &c), 0);
    int64_t t0 = lira_clock_now(NULL);
    while (!c.done && lira_clock_now(NULL) - t0 < 5 * LIRA_NS_PER_SEC)
        lira_engine_step(e, 100 * LIRA_NS_PER_MS);
    pthread_join(th, NULL);
    lira_engine_release(e);
    CHECK_EQ(c.ran, 100);
    lira_engine_free(e);
}

static void test_real_clock_timer_and_pollable(void)
{
    lira_engine *e = NULL;
    CHECK_EQ(lira_engine_new(NULL, &e), LIRA_OK);
    fired log = {.e = e};
    tagged a = {.tag = 7, .log = &log};
    lira_timer_init(&a.t);
    CHECK_EQ(lira_engine_timeout(e), -1);
    int64_t t0 = lira_engine_now(e);
    lira_timer_start(e, &a.t, t0 + 20 * LIRA_NS_PER_MS, on_timer, &a);
    int64_t left = lira_engine_timeout(e);
    CHECK(left > 0 && left <= 20 * LIRA_NS_PER_MS);
    CHECK_INT(lira_engine_pollfd(e), >=, 0);
    while (log.n == 0 && lira_engine_busy(e))
        lira_engine_step(e, -1);
    CHECK_EQ(log.n, 1);
    CHECK_INT(log.at[0] - t0, >=, 20 * LIRA_NS_PER_MS);
    lira_engine_free(e);
}

static void test_virtual_time_waits_while_io_held(void)
{
    lira_engine *e = virtual_engine();
    fired log = {.e = e};
    tagged a = {.tag = 1, .log = &log};
    lira_timer_init(&a.t);
    lira_timer_start(e, &a.t, lira_engine_now(e) + 3600 * LIRA_NS_PER_SEC, on_timer, &a);
    lira_engine_hold(e);
    CHECK_EQ(lira_engine_timeout(e), -1);
    CHECK_EQ(lira_engine_step(e, 5 * LIRA_NS_PER_MS), 0);
    CHECK_EQ(log.n, 0);
    lira_engine_release(e);
    CHECK_EQ(lira_engine_timeout(e), 0);
    lira_engine_step(e, -1);
    CHECK_EQ(log.n, 1);
    lira_engine_free(e);
}

static void test_switch_to_virtual_clock(void)
{
    lira_engine *e = NULL;
    CHECK_EQ(lira_engine_new(NULL, &e), LIRA_OK);
    fired log = {.e = e};
    tagged a = {.tag = 1, .log = &log}, r = {.tag = 2, .log = &log};
    lira_timer_init(&a.t);
    lira_timer_init(&r.t);
    lira_timer_set_real(&r.t, 1);
    int64_t t0 = lira_engine_now(e);
    lira_timer_start(e, &a.t, t0 + 3600 * LIRA_NS_PER_SEC, on_timer, &a);
    lira_timer_start(e, &r.t, t0 + 10 * LIRA_NS_PER_MS, on_timer, &r);
    CHECK_EQ(lira_engine_use_virtual_clock(e), LIRA_OK);
    CHECK_EQ(lira_engine_clock(e)->kind, LIRA_CLOCK_VIRTUAL);
    int64_t real0 = lira_clock_now(NULL);
    while (lira_engine_busy(e))
        lira_engine_step(e, -1);
    /* The hour passed in virtual time at once; the real timer kept real time. */
    CHECK_EQ(log.n, 2);
    CHECK_EQ(log.order[0], 1);
    CHECK_EQ(log.order[1], 2);
    CHECK_INT(log.at[0] - t0, >=, 3600 * LIRA_NS_PER_SEC);
    CHECK_INT(lira_clock_now(NULL) - real0, <, LIRA_NS_PER_SEC);
    lira_engine_free(e);
}

static int free_order[4], nfree;

static void on_free(void *ud)
{
    free_order[nfree++] = *(int *)ud;
}

static void test_on_free_runs_latest_first(void)
{
    lira_engine *e = virtual_engine();
    int one = 1, two = 2;
    CHECK_EQ(lira_engine_on_free(e, on_free, &one), LIRA_OK);
    CHECK_EQ(lira_engine_on_free(e, on_free, &two), LIRA_OK);
    CHECK_EQ(lira_engine_on_free(e, NULL, NULL), LIRA_EINVAL);
    lira_engine_set_slot(e, LIRA_SLOT_TRANSPORT, &one);
    CHECK(lira_engine_slot(e, LIRA_SLOT_TRANSPORT) == &one);
    CHECK(lira_engine_slot(e, LIRA_SLOT_COUNT_) == NULL);
    lira_engine_free(e);
    CHECK_EQ(nfree, 2);
    CHECK_EQ(free_order[0], 2);
    CHECK_EQ(free_order[1], 1);
    lira_engine_free(NULL);
    CHECK_EQ(lira_engine_new(NULL, NULL), LIRA_EINVAL);
    CHECK_EQ(lira_engine_step(NULL, 0), LIRA_EINVAL);
    CHECK_EQ(lira_timer_start(NULL, NULL, 0, NULL, NULL), LIRA_EINVAL);
}

int main(void)
{
    RUN(test_virtual_timers_fire_in_order_instantly);
    RUN(test_stopped_timer_never_fires);
    RUN(test_rearm_moves_timer);
    RUN(test_weak_timer_does_not_keep_loop_busy);
    RUN(test_many_timers_heap_order);
    RUN(test_watch_fd);
    RUN(test_park_keeps_registration);
    RUN(test_forget_then_reuse_number);
    RUN(test_post_from_another_thread);
    RUN(test_real_clock_timer_and_pollable);
    RUN(test_virtual_time_waits_while_io_held);
    RUN(test_switch_to_virtual_clock);
    RUN(test_on_free_runs_latest_first);
    return check_summary();
}
