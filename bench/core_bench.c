/* core_bench — what the resilience primitives cost per call.
 *
 * Median ns/op (and the best run) for the hot paths a request goes through:
 * breaker allow+record, limiter reserve, histogram record, backoff next,
 * retry decide (with the retry budget). Time is simulated: `now` advances by
 * a fixed step per op, as a busy client's would, so buckets rotate and
 * tokens refill the way they do in production.
 *
 * It also counts heap allocations on those paths: the binary is linked with
 * --wrap=malloc/calloc/realloc/free, so every allocation made by lira_core's
 * code passes through the counters below. `--check` runs a short pass and
 * exits 1 if any hot path allocated (a ctest runs it that way).
 *
 *   core_bench [--runs N] [--ops N] [--check]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backoff.h"
#include "breaker.h"
#include "budget.h"
#include "histogram.h"
#include "limiter.h"
#include "retry.h"
#include "rng.h"
#include "status.h"

/* ------------------------------------------------ allocation counting --- */

static unsigned long long alloc_count;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);

void *__wrap_malloc(size_t n) { alloc_count++; return __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t m) { alloc_count++; return __real_calloc(n, m); }
void *__wrap_realloc(void *p, size_t n) { alloc_count++; return __real_realloc(p, n); }
void __wrap_free(void *p) { __real_free(p); }

/* ------------------------------------------------------------- harness --- */

static volatile int64_t sink;   /* keeps results alive past the optimiser */

typedef struct bench_state {
    lira_rng rng;
    lira_breaker breaker;
    lira_limiter limiter;
    lira_histogram hist;
    lira_backoff_config backoff;
    lira_retry_config retry;
    lira_budget budget;
    int64_t values[4096];        /* latency-like values for the histogram */
    int64_t now;
} bench_state;

typedef void (*bench_fn)(bench_state *s, long ops);

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One call in 20 fails and one in 50 is slow: a breaker that stays closed. */
static void bench_breaker(bench_state *s, long ops)
{
    int64_t acc = 0;
    for (long i = 0; i < ops; i++) {
        lira_breaker_permit p;
        s->now += 50000;  /* 20 000 calls/s */
        if (lira_breaker_allow(&s->breaker, s->now, &p) == LIRA_OK)
            acc += lira_breaker_record(&s->breaker, s->now, &p, i % 20 == 0,
                                       i % 50 == 0 ? INT64_C(6000000000) : 1000000);
    }
    sink = acc;
}

/* A limiter that keeps up: time moves as fast as the tokens refill. */
static void bench_limiter(bench_state *s, long ops)
{
    int64_t acc = 0;
    for (long i = 0; i < ops; i++) {
        int64_t wait;
        s->now += 12500000;  /* 80 calls/s against 100/s × target 0.8 */
        lira_limiter_reserve(&s->limiter, s->now, 1, &wait);
        acc += wait;
    }
    sink = acc;
}

static void bench_histogram(bench_state *s, long ops)
{
    for (long i = 0; i < ops; i++)
        lira_histogram_record(&s->hist, s->values[i & 4095]);
    sink = (int64_t)lira_histogram_count(&s->hist);
}

static void bench_backoff(bench_state *s, long ops)
{
    int64_t acc = 0, prev = 0;
    for (long i = 0; i < ops; i++) {
        int64_t d;
        lira_backoff_next(&s->backoff, &s->rng, (int)(i & 7) + 1, prev, &d);
        prev = d;
        acc += d;
    }
    sink = acc;
}

/* A 503 on a GET, at attempts 1..4, with every first attempt depositing into
 * the budget as the engine does: the decision path a failing call takes. */
static void bench_retry(bench_state *s, long ops)
{
    int64_t acc = 0;
    lira_retry_input in = {
        .status = 503, .failure = LIRA_FAIL_NONE, .idempotent = true,
        .retry_after_ns = -1, .deadline_ns = 0, .breaker_open = false,
    };
    for (long i = 0; i < ops; i++) {
        lira_retry_decision d;
        s->now += 100000;
        in.attempts_made = (int)(i & 3) + 1;
        if (in.attempts_made == 1) {
            lira_budget_deposit(&s->budget, s->now);
            in.start_ns = s->now;
        }
        in.now_ns = s->now;
        lira_retry_decide(&s->retry, &in, &s->rng, &s->budget, &d);
        acc += d.delay_ns;
    }
    sink = acc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct result {
    const char *name;
    double median, best;
    double allocs_per_op;
} result;

static result run(const char *name, bench_fn fn, bench_state *s, int runs, long ops)
{
    double per_op[101];
    if (runs > 101)
        runs = 101;
    fn(s, ops / 10 + 1);  /* warm caches and branch predictors */
    unsigned long long allocs_before = alloc_count;
    for (int r = 0; r < runs; r++) {
        int64_t t0 = mono_ns();
        fn(s, ops);
        per_op[r] = (double)(mono_ns() - t0) / (double)ops;
    }
    result res = {name, 0, 0, 0};
    res.allocs_per_op = (double)(alloc_count - allocs_before) / ((double)ops * runs);
    qsort(per_op, (size_t)runs, sizeof per_op[0], cmp_double);
    res.median = per_op[runs / 2];
    res.best = per_op[0];
    return res;
}

static int setup(bench_state *s)
{
    memset(s, 0, sizeof *s);
    s->now = 1000000000;
    lira_rng_seed(&s->rng, 42);
    lira_breaker_config bc = lira_breaker_config_default();
    bc.slow_call_ns = INT64_C(5000000000);
    lira_limiter_config lc;
    lira_limiter_config_default(&lc);
    lc.rate = 100;
    lc.per = 1;
    lc.burst = 10;
    if (lira_breaker_init(&s->breaker, &bc) != LIRA_OK ||
        lira_limiter_init(&s->limiter, &lc, s->now) != LIRA_OK ||
        lira_histogram_init(&s->hist) != LIRA_OK ||
        lira_backoff_config_default(&s->backoff) != LIRA_OK ||
        lira_retry_config_default(&s->retry) != LIRA_OK ||
        lira_budget_init(&s->budget, LIRA_BUDGET_DEFAULT_RATIO,
                         LIRA_BUDGET_DEFAULT_MIN_PER_SECOND,
                         LIRA_BUDGET_DEFAULT_WINDOW_NS, s->now) != LIRA_OK)
        return -1;
    /* Log-uniform latencies from 100 µs to ~1.7 s. */
    for (int i = 0; i < 4096; i++)
        s->values[i] = (int64_t)100000 << lira_rng_below(&s->rng, 14);
    return 0;
}

int main(int argc, char **argv)
{
    int runs = 21, check = 0;
    long ops = 2000000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc)
            ops = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--check") == 0)
            check = 1;
        else {
            fprintf(stderr, "usage: core_bench [--runs N] [--ops N] [--check]\n");
            return 2;
        }
    }
    if (check) {
        runs = 3;
        ops = 20000;
    }
    if (runs < 1 || ops < 1) {
        fprintf(stderr, "core_bench: --runs and --ops must be positive\n");
        return 2;
    }

    bench_state *s = malloc(sizeof *s);
    unsigned long long allocs_before_setup = alloc_count;
    if (!s || setup(s) != 0) {
        fprintf(stderr, "core_bench: setup failed\n");
        return 1;
    }
    /* The breaker allocates its window once, in init: proof the counter sees
     * lira_core's allocations at all, so a 0 below means something. */
    if (alloc_count == allocs_before_setup) {
        fprintf(stderr, "core_bench: allocation counting is not wired in\n");
        return 1;
    }
    static const struct { const char *name; bench_fn fn; } benches[] = {
        {"breaker allow+record", bench_breaker},
        {"limiter reserve", bench_limiter},
        {"histogram record", bench_histogram},
        {"backoff next (full jitter)", bench_backoff},
        {"retry decide (+budget)", bench_retry},
    };
    int failed = 0;
    printf("| path | median ns/op | best ns/op | allocs/op |\n");
    printf("| --- | ---: | ---: | ---: |\n");
    for (size_t i = 0; i < sizeof benches / sizeof benches[0]; i++) {
        result r = run(benches[i].name, benches[i].fn, s, runs, ops);
        printf("| %s | %.1f | %.1f | %g |\n", r.name, r.median, r.best, r.allocs_per_op);
        if (r.allocs_per_op != 0)
            failed = 1;
    }
    printf("(%d runs of %ld ops each)\n", runs, ops);
    lira_breaker_free(&s->breaker);
    free(s);
    if (failed)
        fprintf(stderr, "core_bench: a hot path allocated\n");
    return failed;
}
