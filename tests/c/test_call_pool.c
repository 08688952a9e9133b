/* test_call_pool.c — ended call records are reused by the next calls of the
 * same upstream, the pool stays bounded, records with a large spec copy are
 * not kept, and a reused record carries nothing of its previous call. Run
 * under ASan, pooled records are poisoned, so a use after the end of a call
 * still fails there. */
#include "call_fixture.h"

#include <stdio.h>
#include <string.h>

static void test_record_reused(void)
{
    fx f;
    fx_open(&f);
    fx_push(&f, NULL, 200, LIRA_FAIL_NONE, 0, 3);
    CHECK_EQ(lira_upstream_pooled_calls(f.u), 0);
    lira_call_spec s = fx_spec("GET", "http://api.test/a");
    const char *h1[] = {"X-One: 1", "X-Two: 2", NULL};
    s.req.headers = h1;
    s.request_id = "rid-1";
    outcome o;
    lira_call *first = NULL, *second = NULL;
    CHECK_EQ(fx_start_u(&f, f.u, &s, &o, &first), LIRA_OK);
    fx_wait(&f, &o);
    outcome_free(&o);
    CHECK_EQ(lira_upstream_pooled_calls(f.u), 1);

    /* A different shape: fewer headers, a body, no request id. */
    lira_call_spec s2 = fx_spec("PUT", "http://api.test/bb");
    const char *h2[] = {"X-Three: 3", NULL};
    s2.req.headers = h2;
    s2.req.body = "{}";
    s2.req.body_len = 2;
    CHECK_EQ(fx_start_u(&f, f.u, &s2, &o, &second), LIRA_OK);
    CHECK(second == first);
    CHECK_EQ(lira_upstream_pooled_calls(f.u), 0);
    fx_wait(&f, &o);
    CHECK_EQ(o.r.attempts, 1);
    CHECK(o.r.res != NULL && o.r.res->status == 200);
    outcome_free(&o);
    const lira_script_request *r = fx_req(&f, 1);
    CHECK_STR(r->method, "PUT");
    CHECK_STR(r->url, "http://api.test/bb");
    CHECK_STR(lira_script_request_header(r, "X-Three"), "3");
    CHECK(lira_script_request_header(r, "X-One") == NULL);
    CHECK(lira_script_request_header(r, "X-Two") == NULL);
    CHECK(r->body_len == 2 && memcmp(r->body, "{}", 2) == 0);
    CHECK_EQ(lira_upstream_pooled_calls(f.u), 1);
    fx_close(&f);
}

static void test_pool_bounded(void)
{
    enum { N = LIRA_CALL_POOL_MAX + 20 };
    fx f;
    fx_open(&f);
    fx_push(&f, NULL, 200, LIRA_FAIL_NONE, 10 * MS, N);
    lira_call_spec s = fx_spec("GET", "http://api.test/many");
    static outcome o[N];
    for (int i = 0; i < N; i++)
        CHECK_EQ(fx_start(&f, &s, &o[i]), LIRA_OK);
    fx_drain(&f);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(o[i].done, 1);
        outcome_free(&o[i]);
    }
    CHECK_EQ(lira_upstream_pooled_calls(f.u), LIRA_CALL_POOL_MAX);
    fx_close(&f);   /* frees the pooled records (ASan: no leak) */
}

static void test_large_copy_not_kept(void)
{
    fx f;
    fx_open(&f);
    fx_push(&f, NULL, 200, LIRA_FAIL_NONE, 0, 2);
    size_t big = LIRA_CALL_POOL_KEEP_BYTES + 1;
    char *body = malloc(big);
    CHECK(body != NULL);
    memset(body, 'x', big);
    lira_call_spec s = fx_spec("PUT", "http://api.test/big");
    s.req.body = body;
    s.req.body_len = big;
    outcome o;
    CHECK_EQ(fx_start(&f, &s, &o), LIRA_OK);
    fx_wait(&f, &o);
    outcome_free(&o);
    CHECK_EQ(lira_upstream_pooled_calls(f.u), 0);
    free(body);
    fx_close(&f);
}

/* A record kept with a small arena grows it for a larger spec and still
 * copies every byte (then is not kept: the arena is now past the bound). */
static void test_reused_record_grows(void)
{
    fx f;
    fx_open(&f);
    fx_push(&f, NULL, 200, LIRA_FAIL_NONE, 0, 2);
    lira_call_spec s = fx_spec("GET", "http://api.test/s");
    outcome o;
    CHECK_EQ(fx_start(&f, &s, &o), LIRA_OK);
    fx_wait(&f, &o);
    outcome_free(&o);
    CHECK_EQ(lira_upstream_pooled_calls(f.u), 1);
    size_t big = 2 * LIRA_CALL_POOL_KEEP_BYTES;
    char *body = malloc(big);
    CHECK(body != NULL);
    for (size_t i = 0; i < big; i++)
        body[i] = (char)('a' + i % 26);
    lira_call_spec s2 = fx_spec("PUT", "http://api.test/s2");
    s2.req.body = body;
    s2.req.body_len = big;
    CHECK_EQ(fx_start(&f, &s2, &o), LIRA_OK);
    fx_wait(&f, &o);
    outcome_free(&o);
    const lira_script_request *r = fx_req(&f, 1);
    CHECK(r->body_len == big && memcmp(r->body, body, big) == 0);
    CHECK_EQ(lira_upstream_pooled_calls(f.u), 0);
    free(body);
    fx_close(&f);
}

int main(void)
{
    RUN(test_record_reused);
    RUN(test_pool_bounded);
    RUN(test_large_copy_not_kept);
    RUN(test_reused_record_grows);
    return check_summary();
}
