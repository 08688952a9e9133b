/* lua_objects.c — "lira.Breaker" and "lira.Limiter" (LUA-API.md §3.3):
 * views of a client's upstream breaker/limiter (the client userdata is kept
 * as a user value, so the upstream outlives the view), or standalone ones
 * (core.breaker_new / core.limiter_new) embedding their own core struct.
 * b:call(fn, ...) may yield inside fn (lua_pcallk); l:acquire(n) waits on an
 * engine timer through the wait protocol. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lua_client.h"
#include "status.h"

/* ------------------------------------------------------------ config */

void lc_parse_breaker(lua_State *L, int t, const char *who, lira_breaker_config *cfg)
{
    double w = lc_field_num(L, t, who, "window", cfg->window, 0, 1);
    if (w < 1 || w > LIRA_BREAKER_MAX_WINDOW_SECONDS)
        lc_field_error(L, who, "window", "from 1 to 3600 seconds");
    cfg->window = (uint32_t)ceil(w);
    cfg->failure_rate = lc_field_num(L, t, who, "failure_rate", cfg->failure_rate, 0, 1);
    if (cfg->failure_rate > 1)
        lc_field_error(L, who, "failure_rate", "in (0, 1]");
    cfg->min_calls = (uint32_t)lc_field_int(L, t, who, "min_calls", cfg->min_calls, 1,
                                            INT32_MAX);
    cfg->cooldown_ns = lc_seconds_to_ns(lc_field_num(L, t, who, "cooldown",
        (double)cfg->cooldown_ns / LC_NS_PER_S, 0, 1));
    cfg->half_open_calls = (uint32_t)lc_field_int(L, t, who, "half_open", cfg->half_open_calls,
                                                  1, 1000000);
    int ty = lua_getfield(L, t, "slow_call");
    if (ty == LUA_TTABLE) {
        int s = lua_gettop(L);
        char sub[128];
        snprintf(sub, sizeof sub, "%sslow_call.", who);
        cfg->slow_call_ns = lc_seconds_to_ns(lc_field_num(L, s, sub, "threshold", 5, 0, 1));
        cfg->slow_call_rate = lc_field_num(L, s, sub, "rate", 0.8, 0, 1);
        if (cfg->slow_call_rate > 1)
            lc_field_error(L, sub, "rate", "in (0, 1]");
    } else if (!(ty == LUA_TNIL || (ty == LUA_TBOOLEAN && !lua_toboolean(L, -1)))) {
        lc_field_error(L, who, "slow_call", "a table or false");
    }
    lua_pop(L, 1);
    if (lira_breaker_config_validate(cfg) != LIRA_OK)
        luaL_error(L, "%s: invalid breaker configuration", who);
}

void lc_parse_limiter(lua_State *L, int t, const char *who, lira_limiter_config *cfg,
                      int *read_headers)
{
    int ty = lua_getfield(L, t, "rate");
    lua_pop(L, 1);
    if (ty == LUA_TBOOLEAN) {
        lua_getfield(L, t, "rate");
        int on = lua_toboolean(L, -1);
        lua_pop(L, 1);
        if (on)
            lc_field_error(L, who, "rate", "a positive number or false");
        cfg->rate = 0;
    } else if (ty != LUA_TNIL) {
        cfg->rate = lc_field_num(L, t, who, "rate", 0, 0, 1);
    }
    cfg->per = lc_field_num(L, t, who, "per", ty == LUA_TNUMBER ? 60 : cfg->per, 0, 1);
    cfg->burst = (uint32_t)lc_field_int(L, t, who, "burst", cfg->burst ? cfg->burst : 1, 1,
                                        UINT32_MAX);
    cfg->target = lc_field_num(L, t, who, "target", cfg->target, 0, 1);
    if (cfg->target > 1)
        lc_field_error(L, who, "target", "in (0, 1]");
    if (read_headers) {
        ty = lua_getfield(L, t, "headers");
        if (ty != LUA_TNIL && ty != LUA_TBOOLEAN)
            lc_field_error(L, who, "headers", "a boolean");
        if (ty == LUA_TBOOLEAN)
            *read_headers = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    lira_limiter lim;
    if (lira_limiter_init(&lim, cfg, 0) != LIRA_OK)
        luaL_error(L, "%s: invalid limiter configuration (rate/per/burst out of range)", who);
}

/* ------------------------------------------------------------ breakers */

typedef struct lc_breaker {
    lc_client *client;      /* a client's breaker (user value 1 anchors it) */
    lira_breaker own;       /* standalone */
    int live;               /* standalone: own is initialised */
    int failure_ref;        /* standalone failure(res, err), or LUA_NOREF */
    lira_engine *engine;
} lc_breaker;

static int64_t now_of(lira_engine *e)
{
    return lira_engine_now(e);
}

static lira_breaker *get_breaker(lua_State *L, lc_breaker **out)
{
    lc_breaker *b = luaL_checkudata(L, 1, LC_BREAKER_MT);
    *out = b;
    if (b->client) {
        if (!b->client->up)
            luaL_error(L, "lira.Breaker: its client is closed");
        lira_breaker *p = lira_upstream_breaker(b->client->up);
        if (!p)
            luaL_error(L, "lira.Breaker: the client's breaker is off");
        return p;
    }
    if (!b->live)
        luaL_error(L, "lira.Breaker: released");
    return &b->own;
}

static int breaker_state(lua_State *L)
{
    lc_breaker *b;
    lira_breaker *p = get_breaker(L, &b);
    lira_breaker_state s = LIRA_BREAKER_CLOSED;
    lira_breaker_get_state(p, now_of(b->engine), &s);
    lua_pushstring(L, lira_breaker_state_name(s));
    return 1;
}

static int breaker_op(lua_State *L, int (*op)(lira_breaker *, int64_t))
{
    lc_breaker *b;
    lira_breaker *p = get_breaker(L, &b);
    int rc = op(p, now_of(b->engine));
    if (rc != LIRA_OK)
        return luaL_error(L, "lira.Breaker: %s", lira_strerror(rc));
    lua_settop(L, 1);
    return 1;
}

static int breaker_force_open(lua_State *L) { return breaker_op(L, lira_breaker_force_open); }
static int breaker_reset(lua_State *L) { return breaker_op(L, lira_breaker_reset); }
static int breaker_disable(lua_State *L) { return breaker_op(L, lira_breaker_disable); }

static int breaker_stats(lua_State *L)
{
    lc_breaker *b;
    lira_breaker *p = get_breaker(L, &b);
    lira_breaker_stats st;
    lira_breaker_get_stats(p, now_of(b->engine), &st);
    lua_createtable(L, 0, 12);
    lua_pushstring(L, lira_breaker_state_name(st.state));
    lua_setfield(L, -2, "state");
#define SETI(f) (lua_pushinteger(L, (lua_Integer)st.f), lua_setfield(L, -2, #f))
    SETI(calls);
    SETI(failures);
    SETI(slow);
    SETI(trials_issued);
    SETI(trials_passed);
    SETI(trips);
    SETI(rejected);
#undef SETI
    lua_pushnumber(L, st.failure_rate);
    lua_setfield(L, -2, "failure_rate");
    lua_pushnumber(L, st.slow_rate);
    lua_setfield(L, -2, "slow_rate");
    lua_pushnumber(L, (lua_Number)st.cooldown_ns / LC_NS_PER_S);
    lua_setfield(L, -2, "cooldown");
    int64_t ra = lira_breaker_retry_after(p, now_of(b->engine));
    if (ra >= 0) {
        lua_pushnumber(L, (lua_Number)ra / LC_NS_PER_S);
        lua_setfield(L, -2, "retry_after");
    }
    return 1;
}

/* b:call continuation. Stack: b, gen, trial, start, results... */
static int breaker_call_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)ctx;
    lc_breaker *b;
    lira_breaker *p = get_breaker(L, &b);
    lira_breaker_permit permit = { (uint64_t)lua_tointeger(L, 2), (uint32_t)lua_tointeger(L, 3) };
    int64_t start = (int64_t)lua_tointeger(L, 4);
    int raised = status != LUA_OK && status != LUA_YIELD;
    int nres = lua_gettop(L) - 4;
    int failed = raised || (nres >= 2 && lua_isnil(L, 5) && !lua_isnil(L, 6));
    if (!raised && b->failure_ref != LUA_NOREF) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, b->failure_ref);
        lua_pushvalue(L, 5);
        lua_pushvalue(L, 6);
        if (lua_pcall(L, 2, 1, 0) == LUA_OK && !lua_isnil(L, -1))
            failed = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    int64_t now = now_of(b->engine);
    lira_breaker_record(p, now, &permit, failed, now > start ? now - start : 0);
    if (raised)
        return lua_error(L);   /* the error value is on top */
    return nres;
}

static int breaker_call(lua_State *L)
{
    lc_breaker *b;
    lira_breaker *p = get_breaker(L, &b);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    int64_t now = now_of(b->engine);
    lira_breaker_permit permit;
    if (lira_breaker_allow(p, now, &permit) != LIRA_OK) {
        int64_t ra = lira_breaker_retry_after(p, now);
        lua_pushnil(L);
        lira_lua_push_error(L, "breaker_open", "the circuit breaker is open");
        if (ra >= 0) {
            lua_pushnumber(L, (lua_Number)ra / LC_NS_PER_S);
            lua_setfield(L, -2, "retry_after");
        }
        return 2;
    }
    int nargs = lua_gettop(L) - 2;
    luaL_checkstack(L, 8, "lira.Breaker");
    lua_pushinteger(L, (lua_Integer)permit.gen);
    lua_pushinteger(L, permit.trial);
    lua_pushinteger(L, now);
    lua_rotate(L, 2, 3);   /* b, gen, trial, start, fn, args... */
    int st = lua_pcallk(L, nargs, LUA_MULTRET, 0, 0, breaker_call_k);
    return breaker_call_k(L, st, 0);
}

static int breaker_gc(lua_State *L)
{
    lc_breaker *b = luaL_checkudata(L, 1, LC_BREAKER_MT);
    if (b->live)
        lira_breaker_free(&b->own);
    b->live = 0;
    if (b->failure_ref != LUA_NOREF)
        luaL_unref(L, LUA_REGISTRYINDEX, b->failure_ref);
    b->failure_ref = LUA_NOREF;
    return 0;
}

static lc_breaker *new_breaker(lua_State *L)
{
    lc_breaker *b = lua_newuserdatauv(L, sizeof *b, 1);
    memset(b, 0, sizeof *b);
    b->failure_ref = LUA_NOREF;
    b->engine = lira_lua_engine(L);
    luaL_setmetatable(L, LC_BREAKER_MT);
    return b;
}

/* core.breaker_new(cfg) */
static int l_breaker_new(lua_State *L)
{
    if (!lua_isnoneornil(L, 1))
        luaL_checktype(L, 1, LUA_TTABLE);
    lira_breaker_config cfg = lira_breaker_config_default();
    if (lua_istable(L, 1))
        lc_parse_breaker(L, 1, "lira.breaker: ", &cfg);
    int fref = LUA_NOREF;
    if (lua_istable(L, 1)) {
        int ty = lua_getfield(L, 1, "failure");
        if (ty == LUA_TFUNCTION)
            fref = luaL_ref(L, LUA_REGISTRYINDEX);
        else if (ty != LUA_TNIL)
            return luaL_error(L, "lira.breaker: failure must be a function");
        else
            lua_pop(L, 1);
    }
    lc_breaker *b = new_breaker(L);
    b->failure_ref = fref;
    if (lira_breaker_init(&b->own, &cfg) != LIRA_OK)
        return luaL_error(L, "lira.breaker: cannot create the breaker");
    b->live = 1;
    return 1;
}

int lc_client_breaker(lua_State *L)
{
    lc_client *c = lc_check_client(L, 1);
    if (!lira_upstream_breaker(c->up)) {
        lua_pushnil(L);
        return 1;
    }
    lc_breaker *b = new_breaker(L);
    b->client = c;
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    return 1;
}

/* ------------------------------------------------------------ limiters */

typedef struct lc_limiter {
    lc_client *client;
    lira_limiter own;
    int live;
    uint32_t burst;         /* standalone: the configured burst */
    lira_engine *engine;
} lc_limiter;

static lira_limiter *get_limiter(lua_State *L, lc_limiter **out)
{
    lc_limiter *l = luaL_checkudata(L, 1, LC_LIMITER_MT);
    *out = l;
    if (l->client) {
        if (!l->client->up)
            luaL_error(L, "lira.Limiter: its client is closed");
        lira_limiter *p = lira_upstream_limiter(l->client->up);
        if (!p)
            luaL_error(L, "lira.Limiter: the client's limiter is off");
        return p;
    }
    if (!l->live)
        luaL_error(L, "lira.Limiter: released");
    return &l->own;
}

static int limiter_available(lua_State *L)
{
    lc_limiter *l;
    lira_limiter *p = get_limiter(L, &l);
    lua_pushnumber(L, lira_limiter_available(p, now_of(l->engine)));
    return 1;
}

typedef struct lc_acquire {
    lira_timer timer;
    lira_wait *w;
    lira_engine *engine;
    lira_limiter *lim;
    uint32_t n;
    int cancelled;
} lc_acquire;

/* The record is freed by the wait protocol (free), pushed or not. */
static int push_acquired(lua_State *L, void *data)
{
    lc_acquire *a = data;
    if (a->cancelled) {
        lua_pushnil(L);
        lira_lua_push_error(L, "cancelled", "the wait for a token was cancelled");
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static void acquire_fired(lira_timer *t, void *ud)
{
    (void)t;
    lc_acquire *a = ud;
    lira_wait_complete(a->w, push_acquired, free, a);
}

static void acquire_cancel(void *op)
{
    lc_acquire *a = op;
    if (!lira_timer_armed(&a->timer))
        return;
    lira_timer_stop(a->engine, &a->timer);
    lira_limiter_cancel(a->lim, lira_engine_now(a->engine), a->n);
    a->cancelled = 1;
    lira_wait_complete(a->w, push_acquired, free, a);
}

/* l:acquire([n [, deadline]]) -> true | nil, err ("rate_limited") */
static int limiter_acquire(lua_State *L)
{
    lc_limiter *l;
    lira_limiter *p = get_limiter(L, &l);
    lua_Integer n = luaL_optinteger(L, 2, 1);
    if (n < 1 || n > UINT32_MAX)
        return luaL_argerror(L, 2, "n must be a positive integer");
    int64_t now = now_of(l->engine), wait = 0;
    int64_t max_wait = INT64_MAX;
    if (!lua_isnoneornil(L, 3)) {
        lua_Number d = luaL_checknumber(L, 3);
        max_wait = lc_seconds_to_ns(d) - now;
    }
    int rc = lira_limiter_reserve_within(p, now, (uint32_t)n, max_wait, &wait);
    if (rc == LIRA_ERANGE)
        return luaL_argerror(L, 2, "n exceeds the limiter's burst");
    if (rc == LIRA_EDENIED) {
        lua_pushnil(L);
        lira_lua_push_error(L, "rate_limited", "no token before the deadline");
        lua_pushnumber(L, (lua_Number)wait / LC_NS_PER_S);
        lua_setfield(L, -2, "retry_after");
        return 2;
    }
    if (rc != LIRA_OK)
        return luaL_error(L, "lira.Limiter: %s", lira_strerror(rc));
    if (wait <= 0) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lira_wait *w = lira_wait_new(L);
    lc_acquire *a = calloc(1, sizeof *a);
    if (!a) {
        lira_limiter_cancel(p, now, (uint32_t)n);
        return lira_wait_fail(L, w, "invalid", "out of memory");
    }
    lira_timer_init(&a->timer);
    a->w = w;
    a->engine = l->engine;
    a->lim = p;
    a->n = (uint32_t)n;
    if (lira_timer_start(l->engine, &a->timer, now + wait, acquire_fired, a) != LIRA_OK) {
        lira_limiter_cancel(p, now, (uint32_t)n);
        free(a);
        return lira_wait_fail(L, w, "invalid", "out of memory");
    }
    lira_wait_on_cancel(w, acquire_cancel, a);
    return lira_wait_finish(L, w);
}

static int limiter_gc(lua_State *L)
{
    lc_limiter *l = luaL_checkudata(L, 1, LC_LIMITER_MT);
    l->live = 0;
    return 0;
}

static lc_limiter *new_limiter(lua_State *L)
{
    lc_limiter *l = lua_newuserdatauv(L, sizeof *l, 1);
    memset(l, 0, sizeof *l);
    l->engine = lira_lua_engine(L);
    luaL_setmetatable(L, LC_LIMITER_MT);
    return l;
}

/* core.limiter_new(cfg) */
static int l_limiter_new(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lira_limiter_config cfg;
    lira_limiter_config_default(&cfg);
    cfg.per = 1;
    lc_parse_limiter(L, 1, "lira.limiter: ", &cfg, NULL);
    if (!(cfg.rate > 0))
        return luaL_error(L, "lira.limiter: rate must be a positive number");
    lc_limiter *l = new_limiter(L);
    if (lira_limiter_init(&l->own, &cfg, now_of(l->engine)) != LIRA_OK)
        return luaL_error(L, "lira.limiter: invalid configuration");
    l->burst = cfg.burst;
    l->live = 1;
    return 1;
}

int lc_client_limiter(lua_State *L)
{
    lc_client *c = lc_check_client(L, 1);
    if (!lira_upstream_limiter(c->up)) {
        lua_pushnil(L);
        return 1;
    }
    lc_limiter *l = new_limiter(L);
    l->client = c;
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    return 1;
}

/* ------------------------------------------------------------ registration */

static const luaL_Reg breaker_methods[] = {
    {"state", breaker_state},
    {"force_open", breaker_force_open},
    {"reset", breaker_reset},
    {"disable", breaker_disable},
    {"stats", breaker_stats},
    {"call", breaker_call},
    {NULL, NULL}
};

static const luaL_Reg limiter_methods[] = {
    {"available", limiter_available},
    {"acquire", limiter_acquire},
    {NULL, NULL}
};

static void new_class(lua_State *L, const char *mt, const luaL_Reg *methods, lua_CFunction gc,
                      int mod, const char *field)
{
    luaL_newmetatable(L, mt);
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__gc");
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_setfield(L, mod, field);
}

void lc_open_objects(lua_State *L, int mod)
{
    mod = lua_absindex(L, mod);
    new_class(L, LC_BREAKER_MT, breaker_methods, breaker_gc, mod, "Breaker");
    new_class(L, LC_LIMITER_MT, limiter_methods, limiter_gc, mod, "Limiter");
    lua_pushcfunction(L, l_breaker_new);
    lua_setfield(L, mod, "breaker_new");
    lua_pushcfunction(L, l_limiter_new);
    lua_setfield(L, mod, "limiter_new");
}
