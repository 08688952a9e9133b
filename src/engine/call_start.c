/* call_start.c — a call's way in, before the pipeline (call.c) takes it:
 * the spec's defaults and checks, a record from the upstream's pool, and
 * lira_call_start's setup (the spec copied, the record linked, telemetry
 * and the retry budget told). The pool lives here too: records are taken
 * from it here, given back by call.c's lira__call_free, and freed here when the
 * upstream is destroyed.
 *
 * Kept apart from call.c because it runs once per call, not per attempt:
 * the one call it makes into the pipeline (lira__call_run) is the only
 * crossing on the way in. */
#include <stdlib.h>
#include <string.h>

#include "call_impl.h"
#include "status.h"

int lira_call_spec_init(lira_call_spec *s, const char *method, const char *url)
{
    if (!s)
        return LIRA_EINVAL;
    memset(s, 0, sizeof *s);
    s->req.method = method;
    s->req.url = url;
    s->read_timeout_ns = CALL_READ_TIMEOUT_DEFAULT_NS;
    s->idempotent = -1;
    return lira_retry_config_default(&s->retry);
}

/* ------------------------------------------------------------ the pool */

/* A record from u's pool (zeroed, its arena kept), or a new one. Pooled
 * records and their arenas are poisoned under ASan, so a use after the
 * call ended is still caught. */
static lira_call *alloc_call(lira_upstream *u)
{
    lira_call *c = u->pool;
    if (!c)
        return calloc(1, sizeof *c);
    CALL_POOL_UNPOISON(c, sizeof *c);
    u->pool = c->next;
    u->npool--;
    char *arena = c->arena;
    size_t cap = c->arena_cap;
    memset(c, 0, sizeof *c);
    c->arena = arena;
    c->arena_cap = cap;
    CALL_POOL_UNPOISON(arena, cap);
    return c;
}

void lira__calls_pool_free(lira_upstream *u)
{
    while (u->pool) {
        lira_call *c = u->pool;
        CALL_POOL_UNPOISON(c, sizeof *c);
        u->pool = c->next;
        free(c->arena);
        free(c);
    }
    u->npool = 0;
}

size_t lira_upstream_pooled_calls(const lira_upstream *u)
{
    return u ? u->npool : 0;
}

/* ------------------------------------------------------------ start */

static int check_spec(const lira_call_spec *s)
{
    if (!s->req.method || !s->req.url || !*s->req.method || !*s->req.url ||
        (s->req.body_len && !s->req.body) || s->read_timeout_ns < 0 || s->deadline_ns < 0)
        return LIRA_EINVAL;
    return lira_retry_config_check(&s->retry);
}

int lira_call_start(lira_engine *e, lira_upstream *u, const lira_call_spec *spec,
                    lira_call_done_fn done, void *ud, lira_call **out)
{
    if (!e || !u || !spec || !done || check_spec(spec) != LIRA_OK)
        return LIRA_EINVAL;
    if (u->engine != e)
        return u->engine ? LIRA_EINVAL : LIRA_ESTATE;
    lira_call *c = alloc_call(u);
    if (!c)
        return LIRA_ENOMEM;
    c->u = u;
    lira__upstream_ref(u);
    if (lira__call_copy_spec(c, spec) != LIRA_OK) {
        lira__call_free(c);
        return LIRA_ENOMEM;
    }
    c->e = e;
    c->done = done;
    c->ud = ud;
    lira_timer_init(&c->timer);
    c->next = u->calls;
    if (c->next)
        c->next->prev = c;
    u->calls = c;
    c->start_ns = lira_engine_now(e);
    lira_telemetry *t;
    if (lira_telemetry_get(e, &t) == LIRA_OK) {
        c->tc.client = u->name;
        c->tc.method = c->method;
        c->tc.url = c->url;
        c->tc.endpoint = c->spec.endpoint;
        c->tc.request_id = c->spec.request_id;
        c->tc.method_len = c->method_len;
        c->tc.url_len = c->url_len;
        c->tc.endpoint_len = c->endpoint_len;
        c->tc.request_id_plain = c->spec.request_id_plain;
        lira_telemetry_call_start(t, &c->tc, c->start_ns, lira_engine_wall_at(e, c->start_ns));
    }
    if (lira_upstream_budget(u))
        lira_budget_deposit(lira_upstream_budget(u), c->start_ns);
    int rc = lira__call_run(c);
    if (rc != LIRA_OK)
        return rc;
    if (out)
        *out = c;
    return LIRA_OK;
}
