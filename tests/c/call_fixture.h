/* call_fixture.h — a virtual-clock engine with the scripted transport and
 * one upstream, for the call pipeline tests (test_call*.c). Every done
 * callback is checked to run once and never inside lira_call_start. */
#ifndef LIRA_CALL_FIXTURE_H
#define LIRA_CALL_FIXTURE_H

#include "check.h"

#include <stdlib.h>

#include "call.h"
#include "status.h"
#include "transport_script.h"

#define MS (INT64_C(1000000))
#define SEC (INT64_C(1000000000))

typedef struct fx {
    lira_engine *e;
    lira_transport *t;
    lira_upstream *u;
    lira_upstream_config cfg;
} fx;

typedef struct outcome {
    int done;                 /* times done ran */
    lira_call_result r;       /* r.res is owned here until fx_forget/outcome_free */
    int64_t done_at;
    lira_engine *e;
} outcome;

static int fx_in_start;       /* set around lira_call_start */
static int fx_done_in_start;  /* done ran inside start: must stay 0 */
static int fx_done_twice;

static inline void fx_on_done(void *ud, lira_call_result *r)
{
    outcome *o = ud;
    if (fx_in_start)
        fx_done_in_start++;
    if (o->done++)
        fx_done_twice++;
    o->r = *r;
    o->done_at = lira_engine_now(o->e);
}

static inline void outcome_free(outcome *o)
{
    lira_http_response_free(o->r.res);
    o->r.res = NULL;
}

/* The defaults, minus the breaker (tests that want it turn it on). */
static inline lira_upstream_config fx_config(void)
{
    lira_upstream_config c;
    lira_upstream_config_default(&c);
    c.breaker_on = 0;
    return c;
}

static inline void fx_open_cfg(fx *f, const lira_upstream_config *cfg, uint64_t seed)
{
    lira_engine_options o = {.virtual_clock = 1, .seeded = 1, .seed = seed};
    memset(f, 0, sizeof *f);
    f->cfg = *cfg;
    CHECK_EQ(lira_engine_new(&o, &f->e), LIRA_OK);
    CHECK_EQ(lira_script_install(f->e, NULL, &f->t), LIRA_OK);
    CHECK_EQ(lira_upstream_get(f->e, "api", cfg, &f->u), LIRA_OK);
}

static inline void fx_open(fx *f)
{
    lira_upstream_config c = fx_config();
    fx_open_cfg(f, &c, 1);
}

static inline void fx_close(fx *f)
{
    lira_upstream_release(f->u);
    lira_engine_free(f->e);
    CHECK_EQ(fx_done_in_start, 0);
    CHECK_EQ(fx_done_twice, 0);
}

/* A spec with small, jitter-free backoff unless the test changes it. */
static inline lira_call_spec fx_spec(const char *method, const char *url)
{
    lira_call_spec s;
    CHECK_EQ(lira_call_spec_init(&s, method, url), LIRA_OK);
    s.retry.backoff.base_ns = 100 * MS;
    s.retry.backoff.cap_ns = 1 * SEC;
    s.retry.backoff.jitter = LIRA_JITTER_NONE;
    return s;
}

static inline int fx_start_u(fx *f, lira_upstream *u, const lira_call_spec *s, outcome *o, lira_call **out)
{
    memset(o, 0, sizeof *o);
    o->e = f->e;
    fx_in_start = 1;
    int rc = lira_call_start(f->e, u, s, fx_on_done, o, out);
    fx_in_start = 0;
    if (rc == LIRA_OK)
        CHECK_EQ(o->done, 0);
    return rc;
}

static inline int fx_start(fx *f, const lira_call_spec *s, outcome *o)
{
    return fx_start_u(f, f->u, s, o, NULL);
}

static inline void fx_wait(fx *f, outcome *o)
{
    CHECK_EQ(lira_engine_run_until(f->e, &o->done), LIRA_OK);
    CHECK_EQ(o->done, 1);
}

/* Run the loop until nothing is pending. */
static inline void fx_drain(fx *f)
{
    int never = 0;
    int rc = lira_engine_run_until(f->e, &never);
    CHECK(rc == LIRA_ESTATE || rc == LIRA_OK);
}

static inline void fx_tick(lira_timer *t, void *ud)
{
    (void)t;
    *(int *)ud = 1;
}

/* Move the virtual clock forward by `ns`, running whatever falls due. */
static inline void fx_advance(fx *f, int64_t ns)
{
    lira_timer t;
    int fired = 0;
    lira_timer_init(&t);
    CHECK_EQ(lira_timer_start(f->e, &t, lira_engine_now(f->e) + ns, fx_tick, &fired), LIRA_OK);
    CHECK_EQ(lira_engine_run_until(f->e, &fired), LIRA_OK);
}

static inline void fx_push(fx *f, const char *route, int status, lira_failure fail, int64_t delay,
                    int repeat)
{
    lira_script_step s = {.status = status, .failure = fail, .delay_ns = delay, .repeat = repeat};
    CHECK_EQ(lira_script_push(f->t, route, &s), LIRA_OK);
}

static inline void fx_push_h(fx *f, const char *route, int status, const char *const *headers,
                      const char *body, int repeat)
{
    lira_script_step s = {.status = status, .headers = headers, .body = body, .repeat = repeat};
    CHECK_EQ(lira_script_push(f->t, route, &s), LIRA_OK);
}

static inline const lira_script_request *fx_req(fx *f, size_t i)
{
    const lira_script_request *r = lira_script_request_at(f->t, i);
    CHECK(r != NULL);
    return r;
}

/* Engine time between request i-1 and request i. */
static inline int64_t fx_gap(fx *f, size_t i)
{
    const lira_script_request *a = lira_script_request_at(f->t, i - 1);
    const lira_script_request *b = lira_script_request_at(f->t, i);
    return a && b ? b->at_ns - a->at_ns : -1;
}

#endif
