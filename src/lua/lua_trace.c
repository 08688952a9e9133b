/* lua_trace.c — lira.trace: span(name, fn) and current(); and
 * core.trace_span_remote, a span continuing an inbound trace.
 *
 * Current span per coroutine: a weak-keyed registry table maps a thread to
 * the span userdata of its innermost lira.trace.span. span() sets the entry
 * while fn runs and restores the previous one when fn returns or raises,
 * through lua_pcallk, so fn may yield (a call inside a task): while it is
 * suspended other coroutines see their own current span, never this one.
 * A task spawned inside a span starts with no span of its own (its calls
 * then fall back to the tracer's C-level current span, normally none).
 * A coroutine collected while inside a span discards that span (it is
 * never exported). */
#include <lauxlib.h>
#include <lua.h>
#include <string.h>

#include "binding.h"
#include "lua_trace.h"
#include "status.h"

#define SPAN_MT "lira.Span"

typedef struct lspan {
    lira_span sp;
} lspan;

static const char ctx_key = 'c';   /* registry: thread -> lspan userdata (weak keys) */

static void push_ctx_table(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &ctx_key) == LUA_TTABLE)
        return;
    lua_pop(L, 1);
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &ctx_key);
}

/* The lspan of L's innermost span, or NULL (nothing pushed). */
static lspan *own_span(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &ctx_key) != LUA_TTABLE) {
        lua_pop(L, 1);
        return NULL;
    }
    lua_pushthread(L);
    lua_rawget(L, -2);
    lspan *s = lua_touserdata(L, -1);
    lua_pop(L, 2);
    return s && s->sp.ctx.valid ? s : NULL;
}

int lira_lua_trace_current(lua_State *L, lira_span_ctx *out)
{
    lspan *s = own_span(L);
    if (s) {
        *out = s->sp.ctx;
        return 1;
    }
    const lira_span_ctx *c = NULL;
    lira_engine *e = lira_lua_engine(L);
    c = lira_tracer_current(lira_tracer_peek(e));
    if (c && c->valid) {
        *out = *c;
        return 1;
    }
    return 0;
}

int lira_lua_trace_enter(lua_State *L)
{
    lspan *s = own_span(L);
    if (!s)
        return 0;
    lira_tracer *t = lira_tracer_get(lira_lua_engine(L));
    return t && lira_tracer_push(t, &s->sp.ctx) == LIRA_OK;
}

void lira_lua_trace_leave(lua_State *L, int pushed)
{
    if (pushed)
        lira_tracer_pop(lira_tracer_peek(lira_lua_engine(L)));
}

/* ------------------------------------------------------------ span objects */

static int span_gc(lua_State *L)
{
    lspan *s = luaL_checkudata(L, 1, SPAN_MT);
    lira_span_discard(&s->sp);
    return 0;
}

static int span_set(lua_State *L)
{
    lspan *s = luaL_checkudata(L, 1, SPAN_MT);
    const char *k = luaL_checkstring(L, 2);
    size_t len;
    switch (lua_type(L, 3)) {
    case LUA_TSTRING: {
        const char *v = lua_tolstring(L, 3, &len);
        lira_span_set_str(&s->sp, k, v, len);
        break;
    }
    case LUA_TNUMBER:
        if (lua_isinteger(L, 3))
            lira_span_set_int(&s->sp, k, (int64_t)lua_tointeger(L, 3));
        else
            lira_span_set_double(&s->sp, k, lua_tonumber(L, 3));
        break;
    case LUA_TBOOLEAN:
        lira_span_set_bool(&s->sp, k, lua_toboolean(L, 3));
        break;
    default:
        return luaL_argerror(L, 3, "string, number or boolean expected");
    }
    return 0;
}

/* Push trace_id, span_id, traceparent of c. */
static int push_ids(lua_State *L, const lira_span_ctx *c)
{
    char tid[LIRA_TRACE_ID_HEX_SIZE], sid[LIRA_SPAN_ID_HEX_SIZE], tp[LIRA_TRACEPARENT_STR_SIZE];
    lira_trace_id_format(c->trace_id, tid, sizeof tid);
    lira_span_id_format(c->span_id, sid, sizeof sid);
    lira_span_ctx_traceparent(c, tp, sizeof tp);
    lua_pushstring(L, tid);
    lua_pushstring(L, sid);
    lua_pushstring(L, tp);
    return 3;
}

static int span_ids(lua_State *L)
{
    lspan *s = luaL_checkudata(L, 1, SPAN_MT);
    return push_ids(L, &s->sp.ctx);
}

/* ------------------------------------------------------------ span(name, fn) */

/* Stack of l_span while fn runs: 1 name, 2 fn, 3 ctx table, 4 span, 5 the
 * previous entry of this thread (or nil), then fn's results. */
static int finish_span(lua_State *L, int status, lua_KContext k)
{
    (void)k;
    lspan *s = lua_touserdata(L, 4);
    lua_pushthread(L);
    lua_pushvalue(L, 5);
    lua_rawset(L, 3);
    if (status != LUA_OK && status != LUA_YIELD) {
        const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "error";
        lira_span_set_str(&s->sp, "error.type", "lua_error", 9);
        lira_span_set_status(&s->sp, LIRA_STATUS_ERROR, msg);
        lira_span_end(&s->sp);
        return lua_error(L);
    }
    lira_span_end(&s->sp);
    return lua_gettop(L) - 5;
}

/* Run the function at 2 inside a span named by the string at 1 (the stack
 * holds exactly these two), child of `parent` (NULL: a root span). */
static int run_span(lua_State *L, lira_span_kind kind, const lira_span_ctx *parent)
{
    const char *name = lua_tostring(L, 1);
    lira_tracer *t = lira_tracer_get(lira_lua_engine(L));
    if (!t)
        return luaL_error(L, "lira.trace.span: no tracer (out of memory)");
    push_ctx_table(L);                                    /* 3 */
    lspan *s = lua_newuserdatauv(L, sizeof *s, 0);        /* 4 */
    memset(s, 0, sizeof *s);
    luaL_setmetatable(L, SPAN_MT);
    lua_pushthread(L);
    lua_rawget(L, 3);                                     /* 5: previous */
    if (lira_span_start(t, &s->sp, name, kind, parent) != LIRA_OK)
        return luaL_error(L, "lira.trace.span: cannot start a span");
    lua_pushthread(L);
    lua_pushvalue(L, 4);
    lua_rawset(L, 3);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 4);
    return finish_span(L, lua_pcallk(L, 1, LUA_MULTRET, 0, 0, finish_span), 0);
}

static int l_span(lua_State *L)
{
    luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_settop(L, 2);
    lira_span_ctx parent;
    int has = lira_lua_trace_current(L, &parent);
    return run_span(L, LIRA_SPAN_INTERNAL, has ? &parent : NULL);
}

/* core.trace_span_remote(name, traceparent, tracestate, fn): fn inside a
 * CONSUMER span continuing the trace of an inbound message (the runtime's
 * webhook deliveries). A missing or malformed traceparent is ignored, as
 * W3C Trace Context says: the span then starts a trace of its own. */
static int l_span_remote(lua_State *L)
{
    luaL_checkstring(L, 1);
    size_t tp_len = 0, ts_len = 0;
    const char *tp = luaL_optlstring(L, 2, NULL, &tp_len);
    const char *ts = luaL_optlstring(L, 3, NULL, &ts_len);
    luaL_checktype(L, 4, LUA_TFUNCTION);
    lira_span_ctx parent;
    int has = tp && lira_trace_extract(tp, tp_len, ts, ts ? ts_len : 0, &parent) == LIRA_OK;
    lua_settop(L, 4);
    lua_remove(L, 2);
    lua_remove(L, 2);                                     /* name fn */
    return run_span(L, LIRA_SPAN_CONSUMER, has ? &parent : NULL);
}

static int l_current(lua_State *L)
{
    lira_span_ctx c;
    if (!lira_lua_trace_current(L, &c)) {
        lua_pushnil(L);
        return 1;
    }
    return push_ids(L, &c);
}

/* core.trace_flush_step() -> spans still on their way to the collector,
 * having sent what was queued (lira_tracer_flush); lira.trace.flush
 * (lua/lira/trace.lua) waits on it. */
static int l_flush_step(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)lira_tracer_flush(lira_tracer_peek(lira_lua_engine(L))));
    return 1;
}

/* core.trace_sampler(name[, arg]): the engine's tracer samples the spans
 * started from now on as OTEL_TRACES_SAMPLER=name (OTEL_TRACES_SAMPLER_ARG
 * = arg) would have. Not part of lira.trace: scripts/bench_http's in-process
 * A/B of the telemetry switches it between blocks of calls. */
static int l_sampler(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    const char *arg = luaL_optstring(L, 2, NULL);
    lira_sampler s;
    if (lira_sampler_from_env(&s, name, arg) != LIRA_OK)
        return luaL_argerror(L, arg ? 2 : 1, "not an OTEL_TRACES_SAMPLER setting");
    lira_tracer *t = lira_tracer_get(lira_lua_engine(L));
    if (!t || lira_tracer_set_sampler(t, &s) != LIRA_OK)
        return luaL_error(L, "lira.trace: no tracer (out of memory)");
    return 0;
}

void lira_lua_open_trace(lua_State *L, int mod)
{
    static const luaL_Reg methods[] = {
        {"set", span_set}, {"ids", span_ids}, {NULL, NULL},
    };
    if (luaL_newmetatable(L, SPAN_MT)) {
        lua_pushcfunction(L, span_gc);
        lua_setfield(L, -2, "__gc");
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, l_span);
    lua_setfield(L, mod, "trace_span");
    lua_pushcfunction(L, l_span_remote);
    lua_setfield(L, mod, "trace_span_remote");
    lua_pushcfunction(L, l_current);
    lua_setfield(L, mod, "trace_current");
    lua_pushcfunction(L, l_flush_step);
    lua_setfield(L, mod, "trace_flush_step");
    lua_pushcfunction(L, l_sampler);
    lua_setfield(L, mod, "trace_sampler");
}
