/* lua_request.c — cclient:request(method, path, opts, fname): the per-call
 * path. One Lua->C call checks the method and the options, has
 * lua_request_build.c build the URL, the header lines and the body into the
 * client's reused scratch buffer, starts the engine pipeline (call.h, which
 * copies the spec) and waits through the binding's wait protocol. Per call,
 * the only C allocation is the lc_call record; no Lua callback runs unless
 * the user configured one (retry.on, breaker.failure). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua_request_impl.h"
#include "lua_trace.h"
#include "status.h"

enum { O_PARAMS, O_QUERY, O_HEADERS, O_JSON, O_BODY, O_TIMEOUT, O_RETRY, O_IDEM, O_DEADLINE,
       O_COUNT };
static const char *const opt_names[O_COUNT] = {
    "params", "query", "headers", "json", "body", "timeout", "retry", "idempotency_key",
    "deadline"
};

/* ------------------------------------------------------------ options */

/* Push one stack slot per option (nil when absent) and set slot[i] to the
 * index of each option given, 0 for the others. */
static void collect_opts(lua_State *L, int *slot, const char *fname)
{
    int slots = lua_gettop(L) + 1;
    for (int i = 0; i < O_COUNT; i++)
        lua_pushnil(L);
    lua_pushnil(L);
    while (lua_next(L, ARG_OPTS + 1)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            lc_argerror(L, ARG_OPTS, fname, "options keys must be strings");
        const char *k = lua_tostring(L, -2);
        int i = 0;
        while (i < O_COUNT && strcmp(k, opt_names[i]) != 0)
            i++;
        if (i == O_COUNT)
            lc_argerror(L, ARG_OPTS, fname, "unknown option '%s'", k);
        lua_replace(L, slots + i);
    }
    for (int i = 0; i < O_COUNT; i++)
        slot[i] = lua_isnil(L, slots + i) ? 0 : slots + i;
}

static void check_keys(lua_State *L, int t, const char *const *allowed, const char *prefix,
                       const char *fname)
{
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        int ok = 0;
        for (int i = 0; k && allowed[i] && !ok; i++)
            ok = strcmp(k, allowed[i]) == 0;
        if (!ok)
            lc_argerror(L, ARG_OPTS, fname, "unknown option %s%s", prefix,
                        k ? k : "(not a string)");
    }
}

static void apply_timeouts(lua_State *L, lc_client *c, int t, lira_call_spec *s,
                           int64_t *deadline_rel, const char *fname)
{
    s->req.connect_timeout_ns = c->connect_ns;
    s->read_timeout_ns = c->read_ns;
    *deadline_rel = c->deadline_ns;
    if (!t)
        return;
    static const char *const keys[] = {"connect", "read", "deadline", NULL};
    if (!lua_istable(L, t))
        lc_argerror(L, ARG_OPTS, fname, "options.timeout must be a table");
    check_keys(L, t, keys, "timeout.", fname);
    char who[96];
    snprintf(who, sizeof who, "bad argument #%d to '%s' (options.timeout.", ARG_OPTS, fname);
    s->req.connect_timeout_ns = lc_seconds_to_ns(
        lc_field_num(L, t, who, "connect", (double)c->connect_ns / LC_NS_PER_S, 0, 1));
    s->read_timeout_ns = lc_seconds_to_ns(
        lc_field_num(L, t, who, "read", (double)c->read_ns / LC_NS_PER_S, 0, 1));
    lua_getfield(L, t, "deadline");
    int has = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (has)
        *deadline_rel = lc_seconds_to_ns(lc_field_num(L, t, who, "deadline", 0, 0, 1));
}

/* Returns the per-call retry.on ref, or LUA_NOREF. */
static int apply_retry(lua_State *L, lc_client *c, int t, lira_call_spec *s, const char *fname)
{
    s->retry = c->retry;
    if (!t)
        return LUA_NOREF;
    if (lua_isboolean(L, t)) {
        if (lua_toboolean(L, t))
            lc_argerror(L, ARG_OPTS, fname, "options.retry must be a table or false");
        s->retry.attempts = 1;
        return LUA_NOREF;
    }
    if (!lua_istable(L, t))
        lc_argerror(L, ARG_OPTS, fname, "options.retry must be a table or false");
    static const char *const keys[] = {"attempts", "base", "cap", "jitter", "max_elapsed",
                                       "on", NULL};
    check_keys(L, t, keys, "retry.", fname);
    char who[96];
    snprintf(who, sizeof who, "bad argument #%d to '%s' (options.retry.", ARG_OPTS, fname);
    if (s->retry.attempts < 1)
        s->retry.attempts = 1;
    if (!lc_parse_retry(L, t, who, &s->retry))
        return LUA_NOREF;
    if (!c->hookL) {
        c->hookL = lua_newthread(L);
        c->thread_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

static int64_t apply_deadline(lua_State *L, lc_client *c, int d, int64_t rel, const char *fname)
{
    if (d) {
        int isnum = 0;
        lua_Number v = lua_tonumberx(L, d, &isnum);
        if (!isnum || lua_type(L, d) != LUA_TNUMBER || !(v > 0))
            lc_argerror(L, ARG_OPTS, fname, "options.deadline must be a lira.now() time "
                        "(seconds)");
        int64_t ns = lc_seconds_to_ns(v);
        return ns > 0 ? ns : 1;
    }
    if (rel <= 0)
        return 0;
    int64_t now = lira_engine_now(c->engine);
    return rel > INT64_MAX - now ? 0 : now + rel;
}

/* ------------------------------------------------------------ the call */

static void on_done(void *ud, lira_call_result *r)
{
    lc_call *k = ud;
    k->call = NULL;
    k->res = r->res;
    r->res = NULL;
    k->kind = r->kind;
    k->retryable = r->retryable;
    k->attempts = r->attempts;
    k->status = r->status;
    k->elapsed_ns = r->elapsed_ns;
    k->retry_after_ns = r->retry_after_ns;
    memcpy(k->message, r->message, sizeof k->message);
    k->message[sizeof k->message - 1] = '\0';
    lira_wait_complete(k->w, lc_push_call, lc_free_call, k);
}

static void cancel_call(void *op)
{
    lc_call *k = op;
    if (k->call)
        lira_call_cancel(k->call);
}

static lc_call *new_record(const char *method, size_t mlen, const char *url, size_t ulen,
                           const char *tmpl, size_t tlen)
{
    size_t size = sizeof(lc_call) + mlen + ulen + tlen + 3;
    lc_call *k = malloc(size);
    if (!k)
        return NULL;
    memset(k, 0, sizeof *k);
    k->size = size;
    k->on_ref = LUA_NOREF;
    char *p = k->tail;
    memcpy(p, method, mlen + 1);
    k->method = p;
    p += mlen + 1;
    memcpy(p, url, ulen + 1);
    k->url = p;
    p += ulen + 1;
    memcpy(p, tmpl, tlen);
    p[tlen] = '\0';
    k->endpoint = p;
    return k;
}

static const char *check_method(lua_State *L, size_t *mlen, const char *fname)
{
    const char *m = lua_type(L, 2) == LUA_TSTRING ? lua_tolstring(L, 2, mlen) : NULL;
    int ok = m && *mlen > 0 && *mlen <= 16;
    for (size_t i = 0; ok && i < *mlen; i++)
        ok = (m[i] >= 'A' && m[i] <= 'Z');
    if (!ok)
        lc_argerror(L, ARG_METHOD, fname, "method must be an upper-case HTTP method name");
    return m;
}

/* Point the spec at the built request and the client's settings. The
 * hooks are set only when a Lua callback is configured. */
static void fill_spec(lua_State *L, lc_client *c, const lira__req_hdrs *hs, const char *method,
                      int on_ref, lira_call_spec *spec)
{
    spec->req.headers = lira__req_header_array(L, c, hs);
    spec->req.method = method;
    spec->req.url = c->scratch.p;
    spec->req.max_redirects = c->redirects;
    spec->req.max_body = c->max_body;
    spec->req.max_host_connections = c->connections;
    spec->req.ca_file = c->ca_file;
    spec->req.insecure = c->insecure;
    spec->idempotent = lira_method_is_idempotent(method);
    if (on_ref != LUA_NOREF || c->retry_on_ref != LUA_NOREF)
        spec->retry_hook = lc_retry_hook;
    if (c->failure_ref != LUA_NOREF)
        spec->failure_hook = lc_failure_hook;
}

/* Start the pipeline for record k and wait on it; a call that cannot start
 * completes the wait at once with an "invalid" error. */
static int start_call(lua_State *L, lc_client *c, lc_call *k, lira_call_spec *spec,
                      const char *path, const char *rid)
{
    spec->hook_ud = k;
    spec->endpoint = path;      /* the template, before filling */
    spec->request_id = rid;
    int pushed = lira_lua_trace_enter(L);   /* a call inside lira.trace.span is its child */
    int rc = lira_call_start(c->engine, c->up, spec, on_done, k, &k->call);
    lira_lua_trace_leave(L, pushed);
    if (rc != LIRA_OK) {
        char msg[128];
        snprintf(msg, sizeof msg, "cannot start the call: %s", lira_strerror(rc));
        if (k->on_ref != LUA_NOREF)
            luaL_unref(L, LUA_REGISTRYINDEX, k->on_ref);
        lira_wait *w = k->w;
        free(k);
        return lira_wait_fail(L, w, "invalid", msg);
    }
    lira_wait_on_cancel(k->w, cancel_call, k);
    return lira_wait_finish(L, k->w);
}

int lc_client_request(lua_State *L)
{
    lc_client *c = lc_check_client(L, 1);
    const char *fname = luaL_optstring(L, 5, "request");
    size_t mlen, plen;
    const char *method = check_method(L, &mlen, fname);
    if (lua_type(L, 3) != LUA_TSTRING)
        lc_argerror(L, ARG_PATH, fname, "path must be a string");
    const char *path = lua_tolstring(L, 3, &plen);
    int opts = lua_type(L, 4);
    if (opts != LUA_TNONE && opts != LUA_TNIL && opts != LUA_TTABLE)
        lc_argerror(L, ARG_OPTS, fname, "options must be a table");
    lua_settop(L, 5);
    luaL_checkstack(L, O_COUNT + 16, "lira.client");
    int slot[O_COUNT] = {0};   /* no options (the common call): no slots at all */
    if (opts == LUA_TTABLE)
        collect_opts(L, slot, fname);
    size_t ulen = lira__req_build_url(L, c, path, plen, slot[O_PARAMS], slot[O_QUERY], fname);
    lira__req_hdrs hs = {0};
    lira__req_build_headers(L, c, slot[O_HEADERS], &hs, fname);
    lira_call_spec spec;
    memset(&spec, 0, sizeof spec);
    char rid[LIRA_UUID_STR_SIZE + 64];
    lira__req_add_generated(L, c, &hs, slot[O_IDEM], rid, &spec.has_idempotency_key, fname);
    spec.request_id_plain = hs.request_id == NULL;   /* ours: a UUID */
    spec.req.body = lira__req_build_body(L, c, &hs, slot[O_JSON], slot[O_BODY],
                                         &spec.req.body_len, fname);
    int64_t deadline_rel;
    apply_timeouts(L, c, slot[O_TIMEOUT], &spec, &deadline_rel, fname);
    spec.deadline_ns = apply_deadline(L, c, slot[O_DEADLINE], deadline_rel, fname);
    int on_ref = apply_retry(L, c, slot[O_RETRY], &spec, fname);
    fill_spec(L, c, &hs, method, on_ref, &spec);

    lira_wait *w = lira_wait_new(L);
    lc_call *k = new_record(method, mlen, c->scratch.p, ulen, path, plen);
    if (!k) {
        if (on_ref != LUA_NOREF)
            luaL_unref(L, LUA_REGISTRYINDEX, on_ref);
        return lira_wait_fail(L, w, "invalid", "out of memory");
    }
    k->w = w;
    k->client = c;
    k->on_ref = on_ref;
    memcpy(k->request_id, rid, sizeof k->request_id);
    return start_call(L, c, k, &spec, path, rid);
}
