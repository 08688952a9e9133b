/* The scripted transport on its own: routes, repeat, unmatched requests,
 * timeouts cutting delays, max_body, the record, hold while hanging, cancel,
 * and that nothing completes inside start. */
#include "check.h"

#include "engine.h"
#include "status.h"
#include "transport_script.h"

#define MS (INT64_C(1000000))
#define SEC (INT64_C(1000000000))

typedef struct got {
    int n;
    int status;
    lira_failure failure;
    int64_t at;
    char body[64];
    char header[64];
    char error[256];
    lira_engine *e;
} got;

static int in_start;
static int done_in_start;

static void on_done(void *ud, lira_http_response *res)
{
    got *g = ud;
    if (in_start)
        done_in_start++;
    g->n++;
    g->status = res->status;
    g->failure = res->failure;
    g->at = lira_engine_now(g->e);
    snprintf(g->body, sizeof g->body, "%s", res->body ? res->body : "");
    const char *h = lira_http_response_header(res, "x-step");
    snprintf(g->header, sizeof g->header, "%s", h ? h : "");
    snprintf(g->error, sizeof g->error, "%s", res->error);
    lira_http_response_free(res);
}

static lira_engine *engine(lira_transport **t)
{
    lira_engine_options o = {.virtual_clock = 1, .seeded = 1, .seed = 3};
    lira_engine *e = NULL;
    CHECK_EQ(lira_engine_new(&o, &e), LIRA_OK);
    CHECK_EQ(lira_script_install(e, NULL, t), LIRA_OK);
    return e;
}

static int send(lira_transport *t, const char *method, const char *url, int64_t timeout,
                got *g, lira_transfer **x)
{
    lira_http_request req = {.method = method, .url = url, .timeout_ns = timeout};
    memset(g, 0, sizeof *g);
    g->e = t->engine;
    in_start = 1;
    int rc = t->ops->start(t, &req, on_done, g, x);
    in_start = 0;
    CHECK_EQ(g->n, 0);
    return rc;
}

static void run(lira_engine *e, got *g)
{
    CHECK_EQ(lira_engine_run_until(e, &g->n), LIRA_OK);
}

static void test_routes_and_repeat(void)
{
    lira_transport *t;
    lira_engine *e = engine(&t);
    const char *h1[] = {"X-Step:  exact ", NULL};
    const char *h2[] = {"X-Step: path", NULL};
    lira_script_step exact = {.status = 201, .headers = h1, .body = "one"};
    lira_script_step path = {.status = 202, .headers = h2, .body = "two", .repeat = 1};
    lira_script_step dflt = {.status = 204, .delay_ns = 3 * SEC};
    CHECK_EQ(lira_script_push(t, "POST /orders", &exact), LIRA_OK);
    CHECK_EQ(lira_script_push(t, "/orders", &path), LIRA_OK);
    CHECK_EQ(lira_script_push(t, NULL, &dflt), LIRA_OK);
    CHECK_EQ(lira_script_steps_left(t), 3u);
    got g;
    CHECK_EQ(send(t, "POST", "http://h.test/orders?x=1", 0, &g, NULL), LIRA_OK);
    run(e, &g);
    CHECK_EQ(g.status, 201);
    CHECK_STR(g.body, "one");
    CHECK_STR(g.header, "exact");
    for (int i = 0; i < 3; i++) {   /* the exact route is used up; the path one repeats */
        CHECK_EQ(send(t, "POST", "http://h.test/orders#f", 0, &g, NULL), LIRA_OK);
        run(e, &g);
        CHECK_EQ(g.status, 202);
        CHECK_STR(g.header, "path");
    }
    CHECK_EQ(send(t, "GET", "http://h.test/other", 0, &g, NULL), LIRA_OK);
    run(e, &g);
    CHECK_EQ(g.status, 204);
    CHECK_EQ(g.at, 3 * SEC);   /* the step's delay, in engine time */
    /* nothing left for /other: unmatched, a transport failure naming it */
    CHECK_EQ(send(t, "GET", "http://h.test/other", 0, &g, NULL), LIRA_OK);
    run(e, &g);
    CHECK_EQ(g.failure, LIRA_FAIL_TRANSPORT);
    CHECK_STR(g.error, "no scripted step for GET /other");
    CHECK_EQ(lira_script_unmatched(t), 1u);
    CHECK_EQ(lira_script_started(t), 6u);
    CHECK_EQ(lira_script_count(t), 6u);
    const lira_script_request *r = lira_script_request_at(t, 4);
    CHECK(r && r->done && r->status == 204 && r->done_ns == 3 * SEC && r->at_ns == 0);
    CHECK(lira_script_request_at(t, 5)->unmatched);
    CHECK(lira_script_request_at(t, 6) == NULL);
    CHECK_EQ(done_in_start, 0);
    lira_script_reset(t);
    CHECK_EQ(lira_script_count(t), 0u);
    CHECK_EQ(lira_script_steps_left(t), 0u);
    lira_engine_free(e);
}

static void test_timeout_cuts_delay_and_failures(void)
{
    lira_transport *t;
    lira_engine *e = engine(&t);
    lira_script_step slow = {.status = 200, .delay_ns = 5 * SEC};
    lira_script_step refused = {.failure = LIRA_FAIL_CONNECT, .delay_ns = 10 * MS,
                                .error = "Connection refused"};
    lira_script_step big = {.status = 200, .body = "0123456789"};
    CHECK_EQ(lira_script_push(t, NULL, &slow), LIRA_OK);
    CHECK_EQ(lira_script_push(t, NULL, &refused), LIRA_OK);
    CHECK_EQ(lira_script_push(t, NULL, &big), LIRA_OK);
    got g;
    CHECK_EQ(send(t, "GET", "http://h.test/", 2 * SEC, &g, NULL), LIRA_OK);
    run(e, &g);
    CHECK_EQ(g.failure, LIRA_FAIL_TIMEOUT);
    CHECK_EQ(g.at, 2 * SEC);
    CHECK_EQ(send(t, "GET", "http://h.test", 0, &g, NULL), LIRA_OK);
    run(e, &g);
    CHECK_EQ(g.failure, LIRA_FAIL_CONNECT);
    CHECK_STR(g.error, "Connection refused");
    lira_http_request req = {.method = "GET", .url = "http://h.test/", .max_body = 4};
    memset(&g, 0, sizeof g);
    g.e = e;
    CHECK_EQ(t->ops->start(t, &req, on_done, &g, NULL), LIRA_OK);
    run(e, &g);
    CHECK_EQ(g.failure, LIRA_FAIL_TOO_LARGE);
    CHECK_EQ(g.status, 200);
    lira_engine_free(e);
}

static void test_hang_holds_until_cancel(void)
{
    lira_transport *t;
    lira_engine *e = engine(&t);
    lira_script_step hang = {.status = 200, .delay_ns = LIRA_SCRIPT_HANG};
    CHECK_EQ(lira_script_push(t, NULL, &hang), LIRA_OK);
    CHECK(!lira_engine_busy(e));
    got g;
    lira_transfer *x = NULL;
    CHECK_EQ(send(t, "GET", "http://h.test/", 0, &g, &x), LIRA_OK);
    CHECK(x != NULL);
    CHECK(lira_engine_busy(e));
    CHECK_EQ(lira_script_in_flight(t), 1u);
    t->ops->cancel(t, x);
    CHECK_EQ(g.n, 1);
    CHECK_EQ(g.failure, LIRA_FAIL_CANCELLED);
    CHECK(!lira_engine_busy(e));
    /* destroying the transport completes what is in flight as cancelled */
    CHECK_EQ(lira_script_push(t, NULL, &hang), LIRA_OK);
    CHECK_EQ(send(t, "GET", "http://h.test/", 0, &g, NULL), LIRA_OK);
    lira_engine_free(e);
    CHECK_EQ(g.n, 1);
    CHECK_EQ(g.failure, LIRA_FAIL_CANCELLED);
}

static void test_push_validation(void)
{
    lira_transport *t;
    lira_engine *e = engine(&t);
    lira_script_step ok = {.status = 200};
    lira_script_step bad_status = {.status = 42};
    lira_script_step bad_fail = {.failure = LIRA_FAIL_CANCELLED};
    lira_script_step bad_delay = {.status = 200, .delay_ns = -5};
    const char *bad_h[] = {"no colon", NULL};
    lira_script_step bad_header = {.status = 200, .headers = bad_h};
    CHECK_EQ(lira_script_push(NULL, NULL, &ok), LIRA_EINVAL);
    CHECK_EQ(lira_script_push(t, NULL, NULL), LIRA_EINVAL);
    CHECK_EQ(lira_script_push(t, "GET", &ok), LIRA_EINVAL);
    CHECK_EQ(lira_script_push(t, NULL, &bad_status), LIRA_EINVAL);
    CHECK_EQ(lira_script_push(t, NULL, &bad_fail), LIRA_EINVAL);
    CHECK_EQ(lira_script_push(t, NULL, &bad_delay), LIRA_EINVAL);
    CHECK_EQ(lira_script_push(t, NULL, &bad_header), LIRA_EINVAL);
    CHECK_EQ(lira_script_steps_left(t), 0u);
    got g;
    CHECK_EQ(send(t, NULL, "http://h.test/", 0, &g, NULL), LIRA_EINVAL);
    CHECK_EQ(lira_script_count(t), 0u);
    lira_engine_free(e);
    CHECK_EQ(g.n, 0);
}

int main(void)
{
    RUN(test_routes_and_repeat);
    RUN(test_timeout_cuts_delay_and_failures);
    RUN(test_hang_holds_until_cancel);
    RUN(test_push_validation);
    return check_summary();
}
