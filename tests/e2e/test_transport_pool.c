/* test_transport_pool.c — the libcurl transport's lifetime and pooling
 * against a real `lira sandbox`: connection reuse and the per-host cap (as
 * the sandbox's /_log saw them), cancel, destroy with transfers in flight,
 * timings, a virtual-clock engine, refused requests, and the response
 * helpers. */
#include "sandbox_proc.h"

#include "transport_e2e.h"

/* connection ids of the log entries after `since` whose path starts with `prefix` */
static size_t log_connections(unsigned long long since, const char *prefix, double *ids,
                              size_t cap, size_t *distinct)
{
    cJSON *doc = sandbox_log(sb.url, since);
    size_t n = 0, d = 0;
    const cJSON *ent;
    cJSON_ArrayForEach(ent, cJSON_GetObjectItem(doc, "entries")) {
        const char *path = json_str(ent, "path");
        if (!path || strncmp(path, prefix, strlen(prefix)) != 0 || n >= cap)
            continue;
        double id = json_num(ent, "connection", -1);
        int seen = 0;
        for (size_t i = 0; i < n; i++)
            seen |= ids[i] == id;
        d += !seen;
        ids[n++] = id;
    }
    cJSON_Delete(doc);
    *distinct = d;
    return n;
}

static void test_reuse(void)
{
    lira_engine *e = engine();
    unsigned long long since = log_newest();
    int reused[3] = {0};
    for (int i = 0; i < 3; i++) {
        lira_http_response *res = get(e, "/anything/reuse");
        CHECK(res && res->status == 200);
        reused[i] = res ? res->reused_connection : -1;
        lira_http_response_free(res);
    }
    CHECK_EQ(reused[0], 0);
    CHECK_EQ(reused[1], 1);
    CHECK_EQ(reused[2], 1);
    double ids[8];
    size_t distinct = 0;
    CHECK_EQ(log_connections(since, "/anything/reuse", ids, 8, &distinct), 3);
    CHECK_EQ(distinct, 1);
    lira_engine_free(e);
}

#define NCONC 200

static void test_concurrency_cap(void)
{
    lira_engine *e = engine();
    lira_transport_options opt = {.max_host_connections = 8};
    lira_transport *t = NULL;
    CHECK_EQ(lira_transport_curl_new(e, &opt, &t), LIRA_OK);
    CHECK_EQ(lira_engine_set_transport(e, t), LIRA_OK);
    CHECK(lira_engine_transport(e) == t);
    unsigned long long since = log_newest();
    static outcome o[NCONC];
    memset(o, 0, sizeof o);
    char url[256];
    url_of(url, sizeof url, "/anything/conc");
    lira_http_request r = req_get(url);
    int started = 0, done = 0;
    for (int i = 0; i < NCONC; i++)
        started += t->ops->start(t, &r, on_done, &o[i], NULL) == LIRA_OK;
    CHECK_EQ(started, NCONC);
    long long end = now_ms() + 20000;
    while (done < NCONC && now_ms() < end) {
        lira_engine_step(e, 20 * LIRA_NS_PER_MS);
        done = 0;
        for (int i = 0; i < NCONC; i++)
            done += o[i].done;
    }
    CHECK_EQ(done, NCONC);
    int ok = 0;
    for (int i = 0; i < NCONC; i++) {
        ok += o[i].res && o[i].res->status == 200 && o[i].calls == 1;
        lira_http_response_free(o[i].res);
    }
    CHECK_EQ(ok, NCONC);
    static double ids[NCONC];
    size_t distinct = 0;
    CHECK_EQ(log_connections(since, "/anything/conc", ids, NCONC, &distinct), NCONC);
    CHECK_INT(distinct, <=, 8);
    CHECK_INT(distinct, >=, 1);
    CHECK(!lira_engine_busy(e));   /* every hold released */
    lira_engine_free(e);
}

static void test_cancel(void)
{
    lira_engine *e = engine();
    lira_transport *t = lira_engine_transport(e);
    char url[256];
    url_of(url, sizeof url, "/delay/2000");
    lira_http_request r = req_get(url);
    outcome o = {0};
    lira_transfer *x = NULL;
    CHECK_EQ(t->ops->start(t, &r, on_done, &o, &x), LIRA_OK);
    CHECK(x != NULL);
    CHECK(lira_engine_busy(e));
    long long end = now_ms() + 150;
    while (now_ms() < end)   /* let it connect and send */
        lira_engine_step(e, 10 * LIRA_NS_PER_MS);
    CHECK_EQ(o.calls, 0);
    long long t0 = now_ms();
    t->ops->cancel(t, x);
    CHECK_EQ(o.calls, 1);   /* before cancel returned */
    CHECK_INT(now_ms() - t0, <, 100);
    CHECK(o.res && o.res->failure == LIRA_FAIL_CANCELLED && o.res->status == 0);
    CHECK_STR(lira_failure_kind(LIRA_FAIL_CANCELLED), "cancelled");
    CHECK(!lira_engine_busy(e));
    lira_http_response_free(o.res);
    lira_http_response *res = get(e, "/status/200");   /* still usable */
    CHECK(res && res->status == 200);
    lira_http_response_free(res);
    lira_engine_free(e);
}

static void test_timings(void)
{
    lira_engine *e = engine();
    lira_http_response *res = get(e, "/delay/30");
    CHECK(res && res->status == 200);
    if (res) {
        const lira_http_timings *tm = &res->timings;
        CHECK_INT(tm->connect, >, 0);
        CHECK(tm->dns == -1 || (tm->dns > 0 && tm->dns <= tm->connect));
        CHECK_EQ(tm->tls, -1);   /* plain http */
        CHECK_INT(tm->first_byte, >=, tm->connect);
        CHECK_INT(tm->first_byte, >=, 30 * LIRA_NS_PER_MS);
        CHECK_INT(tm->total, >=, tm->first_byte);
        CHECK_INT(tm->total, <, 5 * LIRA_NS_PER_SEC);
    }
    lira_http_response_free(res);
    res = get(e, "/status/200");   /* reused: no dns/connect/tls phases */
    CHECK(res && res->reused_connection == 1);
    CHECK(res && res->timings.dns == -1 && res->timings.connect == -1);
    CHECK(res && res->timings.first_byte > 0 && res->timings.total >= res->timings.first_byte);
    lira_http_response_free(res);
    lira_engine_free(e);
}

static void test_destroy_in_flight(void)
{
    lira_engine *e = engine();
    lira_transport *t = lira_engine_transport(e);
    char url[256];
    url_of(url, sizeof url, "/delay/3000");
    lira_http_request r = req_get(url);
    outcome o[3] = {{0}};
    for (int i = 0; i < 3; i++)
        CHECK_EQ(t->ops->start(t, &r, on_done, &o[i], NULL), LIRA_OK);
    long long end = now_ms() + 100;
    while (now_ms() < end)
        lira_engine_step(e, 10 * LIRA_NS_PER_MS);
    lira_engine_free(e);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(o[i].calls, 1);
        CHECK(o[i].res && o[i].res->failure == LIRA_FAIL_CANCELLED);
        lira_http_response_free(o[i].res);
    }
}

/* A `done` that replaces the transport it was called from. */
typedef struct swap_ctx {
    lira_engine *e;
    outcome o;
    int swapped;
} swap_ctx;

static void on_done_swap(void *ud, lira_http_response *res)
{
    swap_ctx *s = ud;
    on_done(&s->o, res);
    lira_transport *t = NULL;
    if (lira_transport_curl_new(s->e, NULL, &t) == LIRA_OK)
        s->swapped = lira_engine_set_transport(s->e, t) == LIRA_OK;
}

static void test_replace_from_callback(void)
{
    lira_engine *e = engine();
    lira_transport *t = lira_engine_transport(e);
    char url[256], slow[256];
    url_of(url, sizeof url, "/status/200");
    url_of(slow, sizeof slow, "/delay/3000");
    lira_http_request r = req_get(url), rs = req_get(slow);
    swap_ctx s = {.e = e};
    outcome other = {0};
    CHECK_EQ(t->ops->start(t, &rs, on_done, &other, NULL), LIRA_OK);
    CHECK_EQ(t->ops->start(t, &r, on_done_swap, &s, NULL), LIRA_OK);
    CHECK_EQ(wait_flag(e, &s.o.done, 5000), 0);
    CHECK(s.swapped);
    CHECK(s.o.res && s.o.res->status == 200);
    CHECK_EQ(other.calls, 1);   /* the old transport's transfer was cancelled */
    CHECK(other.res && other.res->failure == LIRA_FAIL_CANCELLED);
    CHECK(lira_engine_transport(e) != t);
    lira_http_response_free(s.o.res);
    lira_http_response_free(other.res);
    lira_http_response *res = get(e, "/status/201");   /* on the new one */
    CHECK(res && res->status == 201);
    lira_http_response_free(res);
    lira_engine_free(e);
}

static void test_virtual_clock(void)
{
    lira_engine_options eo = {.virtual_clock = 1};
    lira_engine *e = NULL;
    CHECK_EQ(lira_engine_new(&eo, &e), LIRA_OK);
    lira_http_response *res = get(e, "/delay/50");
    CHECK(res && res->status == 200);
    lira_http_response_free(res);
    /* curl's timeouts run in real time on a virtual engine */
    char url[256];
    url_of(url, sizeof url, "/delay/2000");
    lira_http_request r = req_get(url);
    r.timeout_ns = 200 * LIRA_NS_PER_MS;
    long long t0 = now_ms();
    res = run(e, &r);
    CHECK(res && res->failure == LIRA_FAIL_TIMEOUT);
    CHECK_INT(now_ms() - t0, >=, 190);
    lira_http_response_free(res);
    lira_engine_free(e);
}

static void test_refused_requests(void)
{
    lira_engine *e = engine();
    lira_transport *t = lira_engine_transport(e);
    char url[256];
    url_of(url, sizeof url, "/status/200");
    outcome o = {0};
    lira_http_request r = req_get(url);
    const char *crlf[] = {"X-A: b\r\nX-Injected: 1", NULL};
    const struct { const char *method, *url; const char *const *hdrs; } bad[] = {
        {"GET", "ftp://127.0.0.1/x", NULL},
        {"GET", "file:///etc/passwd", NULL},
        {"GET", "http://exa mple.com/", NULL},
        {"GE T", url, NULL},
        {"", url, NULL},
        {NULL, url, NULL},
        {"GET", NULL, NULL},
        {"GET", url, crlf},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r.method = bad[i].method;
        r.url = bad[i].url;
        r.headers = bad[i].hdrs;
        CHECK_EQ(t->ops->start(t, &r, on_done, &o, NULL), LIRA_EINVAL);
    }
    r = req_get(url);
    r.timeout_ns = -1;
    CHECK_EQ(t->ops->start(t, &r, on_done, &o, NULL), LIRA_EINVAL);
    CHECK_EQ(t->ops->start(t, NULL, on_done, &o, NULL), LIRA_EINVAL);
    CHECK_EQ(t->ops->start(t, &r, NULL, &o, NULL), LIRA_EINVAL);
    for (int i = 0; i < 5; i++)
        lira_engine_step(e, 0);
    CHECK_EQ(o.calls, 0);   /* a refused start never calls back */
    CHECK(!lira_engine_busy(e));
    lira_http_response *res = get(e, "/status/200");
    CHECK(res && res->status == 200);
    lira_http_response_free(res);
    lira_engine_free(e);
}

/* ------------------------------------------------------------ response helpers */

static void test_response_helpers(void)
{
    lira_http_response *r = lira_http_response_new();
    CHECK(r && r->body && r->body[0] == '\0' && r->body_len == 0 && r->nheaders == 0);
    CHECK_EQ(lira_http_response_add_header(r, "Set-Cookie", 10, "a=1", 3), LIRA_OK);
    CHECK_EQ(lira_http_response_add_header(r, "set-cookie", 10, "b=2", 3), LIRA_OK);
    CHECK_STR(lira_http_response_header(r, "SET-COOKIE"), "b=2");   /* the last one */
    CHECK_STR(r->headers[0].name, "Set-Cookie");
    CHECK_EQ(lira_http_response_set_effective_url(r, "http://h/x", 10), LIRA_OK);
    /* past the inline storage: pointers move, lookups still work */
    char name[32], value[64];
    for (int i = 2; i < LIRA_HTTP_MAX_HEADERS; i++) {
        int nl = snprintf(name, sizeof name, "X-Header-%d", i);
        int vl = snprintf(value, sizeof value, "value-%d-%040d", i, i);
        CHECK_EQ(lira_http_response_add_header(r, name, (size_t)nl, value, (size_t)vl), LIRA_OK);
    }
    CHECK_EQ(r->nheaders, LIRA_HTTP_MAX_HEADERS);
    CHECK_STR(lira_http_response_header(r, "set-cookie"), "b=2");
    CHECK(strncmp(lira_http_response_header(r, "x-header-77"), "value-77-", 9) == 0);
    CHECK_STR(r->effective_url, "http://h/x");
    CHECK_EQ(lira_http_response_add_header(r, "X-Over", 6, "1", 1), LIRA_ETOOBIG);
    CHECK_EQ(r->nheaders, LIRA_HTTP_MAX_HEADERS);
    lira_http_response_reset_headers(r);
    CHECK(r->nheaders == 0 && r->effective_url == NULL);
    static char big[LIRA_HTTP_MAX_HEADER_BYTES];
    memset(big, 'v', sizeof big);
    CHECK_EQ(lira_http_response_add_header(r, "X-Big", 5, big, sizeof big), LIRA_ETOOBIG);
    CHECK_EQ(lira_http_response_add_header(r, "X-Big", 5, big, sizeof big - 5), LIRA_OK);
    CHECK_EQ(lira_http_response_add_header(r, "X", 1, "", 0), LIRA_ETOOBIG);
    CHECK_EQ(lira_http_response_add_header(NULL, "X", 1, "", 0), LIRA_EINVAL);
    CHECK_EQ(lira_http_response_add_header(r, NULL, 1, "", 0), LIRA_EINVAL);
    CHECK(lira_http_response_header(r, NULL) == NULL);
    CHECK(lira_http_response_header(NULL, "x") == NULL);
    /* bodies */
    CHECK_EQ(lira_http_response_set_body(r, "hello", 5), LIRA_OK);
    CHECK_EQ(lira_http_response_append_body(r, " world", 6), LIRA_OK);
    CHECK_STR(r->body, "hello world");
    CHECK_EQ(r->body_len, 11);
    for (int i = 0; i < 1000; i++)
        CHECK_EQ(lira_http_response_append_body(r, "0123456789", 10), LIRA_OK);
    CHECK_EQ(r->body_len, 10011);
    CHECK_EQ(r->body[10011], '\0');
    CHECK_EQ(lira_http_response_set_body(r, "", 0), LIRA_OK);
    CHECK(r->body_len == 0 && r->body[0] == '\0');
    CHECK_EQ(lira_http_response_append_body(r, NULL, 3), LIRA_EINVAL);
    lira_http_response_reset_body(r);
    CHECK(r->body_len == 0 && r->body[0] == '\0');
    CHECK_EQ(lira_http_response_reserve_body(r, 100), LIRA_OK);
    CHECK(r->body_len == 0 && r->body[0] == '\0');
    lira_http_response_free(r);
    lira_http_response_free(NULL);
    CHECK_STR(lira_failure_kind(LIRA_FAIL_NONE), "none");
    CHECK_STR(lira_failure_kind(LIRA_FAIL_TLS), "tls");
    CHECK_STR(lira_failure_kind(LIRA_FAIL_DEADLINE), "deadline");
    CHECK_STR(lira_failure_kind((lira_failure)99), "unknown");
}

int main(void)
{
    RUN(test_response_helpers);
    if (sandbox_start(&sb, NULL) != 0)
        return 1;
    RUN(test_reuse);
    RUN(test_concurrency_cap);
    RUN(test_cancel);
    RUN(test_timings);
    RUN(test_destroy_in_flight);
    RUN(test_replace_from_callback);
    RUN(test_virtual_clock);
    RUN(test_refused_requests);
    CHECK_EQ(sandbox_stop(&sb), 0);
    return check_summary();
}
