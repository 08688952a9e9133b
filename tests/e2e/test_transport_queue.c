/* test_transport_queue.c — the libcurl transport's own queue for cleartext
 * http:// origins at the per-host cap (transport_curl.c): transfers past the
 * cap wait in FIFO order outside curl, never exceed the cap on the wire (the
 * sandbox's /_log), can be cancelled while queued (without ever reaching the
 * server), and are cancelled with the rest when the transport goes. */
#include "sandbox_proc.h"

#include "transport_e2e.h"

static lira_transport *capped(lira_engine *e, long cap)
{
    lira_transport_options opt = {.max_host_connections = cap};
    lira_transport *t = NULL;
    CHECK_EQ(lira_transport_curl_new(e, &opt, &t), LIRA_OK);
    CHECK_EQ(lira_engine_set_transport(e, t), LIRA_OK);
    return t;
}

/* Completion order across several outcomes. */
typedef struct ordered {
    outcome o;
    int *counter;
    int rank;
} ordered;

static void on_done_ordered(void *ud, lira_http_response *res)
{
    ordered *r = ud;
    r->rank = ++*r->counter;
    on_done(&r->o, res);
}

static size_t log_count(unsigned long long since, const char *path, size_t *distinct)
{
    cJSON *doc = sandbox_log(sb.url, since);
    double ids[64];
    size_t n = 0, d = 0;
    const cJSON *ent;
    cJSON_ArrayForEach(ent, cJSON_GetObjectItem(doc, "entries")) {
        const char *p = json_str(ent, "path");
        if (!p || strncmp(p, path, strlen(path)) != 0 || n >= 64)
            continue;
        double id = json_num(ent, "connection", -1);
        int seen = 0;
        for (size_t i = 0; i < n; i++)
            seen |= ids[i] == id;
        d += !seen;
        ids[n++] = id;
    }
    cJSON_Delete(doc);
    if (distinct)
        *distinct = d;
    return n;
}

#define NQ 6

/* The delays below are long next to what a loaded 2-core CI machine can
 * stall a process for (transfer i must not be overtaken by one started a
 * whole delay later), so the order checks hold under load. */

static void test_fifo_at_the_cap(void)
{
    lira_engine *e = engine();
    lira_transport *t = capped(e, 2);
    unsigned long long since = log_newest();
    char url[256];
    url_of(url, sizeof url, "/delay/400?q=fifo");
    lira_http_request r = req_get(url);
    ordered o[NQ];
    int counter = 0;
    memset(o, 0, sizeof o);
    for (int i = 0; i < NQ; i++) {
        o[i].counter = &counter;
        CHECK_EQ(t->ops->start(t, &r, on_done_ordered, &o[i], NULL), LIRA_OK);
    }
    long long end = now_ms() + 15000;
    while (counter < NQ && now_ms() < end)
        lira_engine_step(e, 20 * LIRA_NS_PER_MS);
    CHECK_EQ(counter, NQ);
    /* two at a time: the pair started first ends first */
    for (int i = 0; i < NQ; i++) {
        CHECK(o[i].o.res && o[i].o.res->status == 200);
        CHECK_INT(o[i].rank, >, (i / 2) * 2);
        CHECK_INT(o[i].rank, <=, (i / 2) * 2 + 2);
        lira_http_response_free(o[i].o.res);
    }
    size_t distinct = 0;
    CHECK_EQ(log_count(since, "/delay/400", &distinct), NQ);
    CHECK_INT(distinct, <=, 2);
    CHECK(!lira_engine_busy(e));
    lira_engine_free(e);
}

static void test_cancel_queued(void)
{
    lira_engine *e = engine();
    lira_transport *t = capped(e, 1);
    unsigned long long since = log_newest();
    char slow[256], queued[256], after[256];
    url_of(slow, sizeof slow, "/delay/1500");
    url_of(queued, sizeof queued, "/anything/never-sent");
    url_of(after, sizeof after, "/anything/after-cancel");
    lira_http_request rs = req_get(slow), rq = req_get(queued), ra = req_get(after);
    outcome os = {0}, oq = {0}, oa = {0};
    lira_transfer *xq = NULL;
    CHECK_EQ(t->ops->start(t, &rs, on_done, &os, NULL), LIRA_OK);
    CHECK_EQ(t->ops->start(t, &rq, on_done, &oq, &xq), LIRA_OK);
    CHECK_EQ(t->ops->start(t, &ra, on_done, &oa, NULL), LIRA_OK);
    lira_engine_step(e, 20 * LIRA_NS_PER_MS);
    CHECK_EQ(oq.calls, 0);
    t->ops->cancel(t, xq);
    CHECK_EQ(oq.calls, 1);   /* before cancel returned */
    CHECK(oq.res && oq.res->failure == LIRA_FAIL_CANCELLED && oq.res->status == 0);
    CHECK_EQ(wait_flag(e, &oa.done, 10000), 0);
    CHECK(os.done && os.res && os.res->status == 200);
    CHECK(oa.res && oa.res->status == 200);
    CHECK_EQ(log_count(since, "/anything/never-sent", NULL), 0);
    CHECK_EQ(log_count(since, "/anything/after-cancel", NULL), 1);
    CHECK(!lira_engine_busy(e));
    lira_http_response_free(os.res);
    lira_http_response_free(oq.res);
    lira_http_response_free(oa.res);
    lira_engine_free(e);
}

static void test_destroy_with_queued(void)
{
    lira_engine *e = engine();
    lira_transport *t = capped(e, 1);
    char url[256];
    url_of(url, sizeof url, "/delay/3000");
    lira_http_request r = req_get(url);
    outcome o[3] = {{0}};
    for (int i = 0; i < 3; i++)
        CHECK_EQ(t->ops->start(t, &r, on_done, &o[i], NULL), LIRA_OK);
    lira_engine_step(e, 20 * LIRA_NS_PER_MS);
    lira_engine_free(e);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(o[i].calls, 1);
        CHECK(o[i].res && o[i].res->failure == LIRA_FAIL_CANCELLED);
        lira_http_response_free(o[i].res);
    }
}

/* One origin however the URL spells it: with a cap of 1, a second transfer
 * written with an upper-case host and userinfo still waits for the first
 * (it starts after the first ended, on the same connection). */
static void test_origin_spellings(void)
{
    lira_engine *e = engine();
    lira_transport *t = capped(e, 1);
    unsigned long long since = log_newest();
    char a[256], b[256];
    url_of(a, sizeof a, "/delay/200");
    const char *hostport = sb.url + strlen("http://");
    snprintf(b, sizeof b, "HTTP://user:pw@%s/delay/200?second=1", hostport);
    for (char *p = b + strlen("HTTP://user:pw@"); *p && *p != ':'; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 32);
    lira_http_request ra = req_get(a), rb = req_get(b);
    outcome oa = {0}, ob = {0};
    long long t0 = now_ms();
    CHECK_EQ(t->ops->start(t, &ra, on_done, &oa, NULL), LIRA_OK);
    CHECK_EQ(t->ops->start(t, &rb, on_done, &ob, NULL), LIRA_OK);
    CHECK_EQ(wait_flag(e, &ob.done, 10000), 0);
    CHECK(oa.done && oa.res && oa.res->status == 200);
    CHECK(ob.res && ob.res->status == 200);
    CHECK_INT(now_ms() - t0, >=, 400);   /* one after the other */
    size_t distinct = 0;
    CHECK_EQ(log_count(since, "/delay/200", &distinct), 2);
    CHECK_EQ(distinct, 1);
    lira_http_response_free(oa.res);
    lira_http_response_free(ob.res);
    lira_engine_free(e);
}

int main(void)
{
    if (sandbox_start(&sb, NULL) != 0)
        return 1;
    RUN(test_fifo_at_the_cap);
    RUN(test_cancel_queued);
    RUN(test_destroy_with_queued);
    RUN(test_origin_spellings);
    CHECK_EQ(sandbox_stop(&sb), 0);
    return check_summary();
}
