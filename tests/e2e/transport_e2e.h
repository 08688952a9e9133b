/* transport_e2e.h — helpers shared by the transport's e2e tests: one
 * sandbox per test executable (`sb`), a completion record, and bounded
 * waits that drive the engine with lira_engine_step(). Include after
 * sandbox_proc.h. */
#ifndef LIRA_TRANSPORT_E2E_H
#define LIRA_TRANSPORT_E2E_H

#include "check.h"
#include "e2e_http.h"
#include "engine/engine.h"
#include "engine/transport.h"
#include "status.h"

static sandbox_proc sb;

typedef struct outcome {
    int done;
    int calls;
    lira_http_response *res;
} outcome;

static inline void on_done(void *ud, lira_http_response *res)
{
    outcome *o = ud;
    o->calls++;
    o->done = 1;
    lira_http_response_free(o->res);
    o->res = res;
}

static inline long long now_ms(void) { return sandbox_proc_now_ms_(); }

/* Step the engine until *flag is set or ms milliseconds have passed. */
static inline int wait_flag(lira_engine *e, const int *flag, long ms)
{
    long long end = now_ms() + ms;
    while (!*flag && now_ms() < end)
        if (lira_engine_step(e, 20 * LIRA_NS_PER_MS) < 0)
            return -1;
    return *flag ? 0 : -1;
}

static inline void url_of(char *buf, size_t cap, const char *path)
{
    snprintf(buf, cap, "%s%s", sb.url, path);
}

static inline lira_http_request req_get(const char *url)
{
    lira_http_request r = {0};
    r.method = "GET";
    r.url = url;
    r.timeout_ns = 10 * LIRA_NS_PER_SEC;
    r.max_redirects = 5;
    return r;
}

/* Run one request on e's transport; the response (caller frees) or NULL. */
static inline lira_http_response *run(lira_engine *e, const lira_http_request *req)
{
    outcome o = {0};
    lira_transport *t = lira_engine_transport(e);
    CHECK(t != NULL);
    if (!t || t->ops->start(t, req, on_done, &o, NULL) != LIRA_OK)
        return NULL;
    CHECK_EQ(o.calls, 0);   /* never from inside start */
    CHECK_EQ(wait_flag(e, &o.done, 15000), 0);
    CHECK_EQ(o.calls, 1);
    return o.res;
}

static inline lira_http_response *get(lira_engine *e, const char *path)
{
    char url[512];
    url_of(url, sizeof url, path);
    lira_http_request r = req_get(url);
    return run(e, &r);
}

static inline lira_engine *engine(void)
{
    lira_engine *e = NULL;
    CHECK_EQ(lira_engine_new(NULL, &e), LIRA_OK);
    return e;
}

static inline unsigned long long log_newest(void)
{
    cJSON *doc = sandbox_log(sb.url, 0);
    unsigned long long n = (unsigned long long)json_num(doc, "newest", 0);
    cJSON_Delete(doc);
    return n;
}

#endif
