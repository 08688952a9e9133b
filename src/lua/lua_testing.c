/* lua_testing.c — core.testing, the C half of lira.testing (lua/lira/testing.lua):
 * the dispatching transport's mocks and recorders (lua_testing.h) seen from
 * Lua, and clock:advance on a virtual engine clock.
 *
 * Every function here is internal to lira.testing: the Lua module validates
 * arguments for script authors; these raise plain errors on misuse.
 *
 * Per lua_State, one box (a full userdata pinned in the registry) points at
 * the ttp installed on the state's engine. The ttp clears that pointer when
 * the engine frees it (core._reset_engine, lua_close), and the box's __gc
 * tells the ttp to stop writing it, whichever goes first. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "binding.h"
#include "lua_testing.h"
#include "redact.h"
#include "status.h"
#include "telemetry.h"

#define BOX_MT "lira.TestingBox"
#define NS_PER_S 1e9

typedef struct tbox {
    lira_ttp *tp;
    int next_id;
} tbox;

static const char k_box = 0;

static int box_gc(lua_State *L)
{
    tbox *b = luaL_checkudata(L, 1, BOX_MT);
    if (b->tp)
        lira_ttp_forget(b->tp);
    b->tp = NULL;
    return 0;
}

static tbox *box_get(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &k_box) == LUA_TUSERDATA) {
        tbox *b = lua_touserdata(L, -1);
        lua_pop(L, 1);
        return b;
    }
    lua_pop(L, 1);
    tbox *b = lua_newuserdatauv(L, sizeof *b, 0);
    memset(b, 0, sizeof *b);
    if (luaL_newmetatable(L, BOX_MT)) {
        lua_pushcfunction(L, box_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &k_box);
    return b;
}

/* The ttp of this state's engine, installed when `create`; else NULL. */
static lira_ttp *tp_get(lua_State *L, int create)
{
    tbox *b = box_get(L);
    if (!b->tp && create) {
        int rc = lira_ttp_install(lira_lua_engine(L), &b->tp);
        if (rc != LIRA_OK)
            luaL_error(L, "lira.testing: cannot install the test transport: %s",
                       lira_strerror(rc));
    }
    return b->tp;
}

static void check_rc(lua_State *L, int rc, const char *what)
{
    if (rc != LIRA_OK)
        luaL_error(L, "lira.testing: %s: %s", what, lira_strerror(rc));
}

static void set_str(lua_State *L, const char *k, const char *v, size_t n)
{
    if (!v)
        return;
    lua_pushlstring(L, v, n);
    lua_setfield(L, -2, k);
}

static void set_num(lua_State *L, const char *k, lua_Number v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

static void set_int(lua_State *L, const char *k, lua_Integer v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

static void set_lines(lua_State *L, const char *k, char *const *lines, size_t n)
{
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, lines[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, k);
}

static void set_failure(lua_State *L, const char *k, lira_failure f)
{
    if (f == LIRA_FAIL_NONE)
        return;
    lua_pushstring(L, lira_failure_kind(f));
    lua_setfield(L, -2, k);
}

/* ------------------------------------------------------------ mocks */

/* mock_new(label, scope|nil, redact) -> id */
static int l_mock_new(lua_State *L)
{
    const char *label = luaL_checkstring(L, 1);
    const char *scope = luaL_optstring(L, 2, NULL);
    int redact = lua_toboolean(L, 3);
    lira_ttp *tp = tp_get(L, 1);
    tbox *b = box_get(L);
    int id = ++b->next_id;
    int rc = lira_ttp_mock_new(tp, id, label, scope, redact);
    if (rc == LIRA_EINVAL)
        return luaL_error(L, "lira.testing: mock scope %s is not an http(s) base URL", scope);
    check_rc(L, rc, "mock");
    lua_pushinteger(L, id);
    return 1;
}

/* mock_route(id, method|nil, path) -> route (1-based) */
static int l_mock_route(lua_State *L)
{
    int id = (int)luaL_checkinteger(L, 1);
    const char *method = luaL_optstring(L, 2, NULL);
    const char *path = luaL_checkstring(L, 3);
    size_t idx = 0;
    check_rc(L, lira_ttp_mock_route(tp_get(L, 0), id, method, path, &idx), "route");
    lua_pushinteger(L, (lua_Integer)idx + 1);
    return 1;
}

static lira_failure failure_of(lua_State *L, const char *kind)
{
    static const char *const names[] = {"dns", "connect", "tls", "timeout", "transport",
                                        "too_large"};
    static const lira_failure codes[] = {LIRA_FAIL_DNS, LIRA_FAIL_CONNECT, LIRA_FAIL_TLS,
                                         LIRA_FAIL_TIMEOUT, LIRA_FAIL_TRANSPORT,
                                         LIRA_FAIL_TOO_LARGE};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(kind, names[i]) == 0)
            return codes[i];
    luaL_error(L, "lira.testing: unknown error kind '%s'", kind);
    return LIRA_FAIL_NONE;
}

/* mock_push(id, route, { status, error, message, headers = {lines}, body,
 * delay (s, or -1 = hang), forever }) */
static int l_mock_push(lua_State *L)
{
    int id = (int)luaL_checkinteger(L, 1);
    lua_Integer route = luaL_checkinteger(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    lira_script_step s = {0};
    lua_getfield(L, 3, "status");
    s.status = (int)luaL_optinteger(L, -1, 200);
    lua_getfield(L, 3, "error");
    if (!lua_isnil(L, -1))
        s.failure = failure_of(L, luaL_checkstring(L, -1));
    lua_getfield(L, 3, "message");
    s.error = luaL_optstring(L, -1, NULL);
    lua_getfield(L, 3, "body");
    s.body = luaL_optlstring(L, -1, NULL, &s.body_len);
    lua_getfield(L, 3, "delay");
    double d = luaL_optnumber(L, -1, 0);
    s.delay_ns = d < 0 ? LIRA_SCRIPT_HANG : (int64_t)llround(d * NS_PER_S);
    lua_getfield(L, 3, "forever");
    s.repeat = lua_toboolean(L, -1);
    lua_getfield(L, 3, "headers");
    size_t nh = lua_istable(L, -1) ? lua_rawlen(L, -1) : 0;
    if (nh > LIRA_SCRIPT_MAX_HEADERS)
        return luaL_error(L, "lira.testing: more than %d headers in one step",
                          LIRA_SCRIPT_MAX_HEADERS);
    const char *lines[LIRA_SCRIPT_MAX_HEADERS + 1];
    luaL_checkstack(L, (int)nh + 4, "lira.testing: too many headers");
    for (size_t i = 0; i < nh; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i + 1);
        lines[i] = luaL_checkstring(L, -1);   /* stays on the stack: kept alive */
        lua_insert(L, 4);
    }
    lines[nh] = NULL;
    s.headers = nh ? lines : NULL;
    if (s.body && s.body_len == 0)
        s.body = NULL;   /* 0 with a body means strlen(body) to the scripted transport */
    int rc = lira_ttp_mock_push(tp_get(L, 0), id, route < 1 ? SIZE_MAX : (size_t)route - 1, &s);
    if (rc == LIRA_ESTATE)
        return luaL_error(L, "lira.testing: a step after one that repeats for ever is never served");
    check_rc(L, rc, "mock step");
    return 0;
}

static int l_mock_stop(lua_State *L)
{
    lira_ttp *tp = tp_get(L, 0);
    if (tp)
        lira_ttp_mock_stop(tp, (int)luaL_checkinteger(L, 1));
    return 0;
}

static void push_record(lua_State *L, const lira_script_request *r, const lira_ttp_side *side)
{
    lua_createtable(L, 0, 12);
    set_str(L, "method", r->method, strlen(r->method));
    set_str(L, "url", side ? side->url : r->url, strlen(side ? side->url : r->url));
    set_lines(L, "headers", r->headers, r->nheaders);
    set_str(L, "body", r->body, r->body_len);
    set_num(L, "at", (lua_Number)r->at_ns / NS_PER_S);
    lua_pushboolean(L, r->done);
    lua_setfield(L, -2, "done");
    if (r->done) {
        set_num(L, "done_at", (lua_Number)r->done_ns / NS_PER_S);
        if (r->status)
            set_int(L, "status", r->status);
        set_failure(L, "failure", r->failure);
    }
    if (side && side->route >= 0)
        set_int(L, "route", side->route + 1);
    if (side && side->message)
        set_str(L, "message", side->message, strlen(side->message));
}

/* mock_calls(id, from) -> records from index `from` (1-based), or nil when
 * the mock is gone (its engine was reset). */
static int l_mock_calls(lua_State *L)
{
    int id = (int)luaL_checkinteger(L, 1);
    lua_Integer from = luaL_optinteger(L, 2, 1);
    const lira_transport *s = lira_ttp_mock_script(tp_get(L, 0), id);
    if (!s)
        return 0;
    size_t n = lira_script_count(s);
    lua_createtable(L, (int)n, 0);
    for (size_t i = from < 1 ? 0 : (size_t)from - 1; i < n; i++) {
        push_record(L, lira_script_request_at(s, i), lira_ttp_mock_side(tp_get(L, 0), id, i));
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* mock_routes(id) -> { {label, served, finite_left, forever, forever_served}, ... } | nil */
static int l_mock_routes(lua_State *L)
{
    int id = (int)luaL_checkinteger(L, 1);
    lira_ttp *tp = tp_get(L, 0);
    if (!lira_ttp_mock_script(tp, id))
        return 0;
    size_t n = lira_ttp_mock_nroutes(tp, id);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lira_ttp_route_info ri;
        if (lira_ttp_mock_route_info(tp, id, i, &ri) != LIRA_OK)
            break;
        lua_createtable(L, 0, 5);
        set_str(L, "label", ri.label, strlen(ri.label));
        set_int(L, "served", (lua_Integer)ri.served);
        set_int(L, "finite_left", (lua_Integer)ri.finite_left);
        lua_pushboolean(L, ri.forever);
        lua_setfield(L, -2, "forever");
        set_int(L, "forever_served", (lua_Integer)ri.forever_served);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* ------------------------------------------------------------ recorders */

static int l_rec_new(lua_State *L)
{
    const char *scope = luaL_optstring(L, 1, NULL);
    lira_ttp *tp = tp_get(L, 1);
    int id = ++box_get(L)->next_id;
    int rc = lira_ttp_rec_new(tp, id, scope);
    if (rc == LIRA_EINVAL)
        return luaL_error(L, "lira.testing: cassette scope %s is not an http(s) base URL", scope);
    check_rc(L, rc, "cassette");
    lua_pushinteger(L, id);
    return 1;
}

static int l_rec_stop(lua_State *L)
{
    lira_ttp *tp = tp_get(L, 0);
    if (tp)
        lira_ttp_rec_stop(tp, (int)luaL_checkinteger(L, 1));
    return 0;
}

/* rec_take(id) -> every capture so far (nil when the engine was reset). */
static int l_rec_take(lua_State *L)
{
    int id = (int)luaL_checkinteger(L, 1);
    lira_ttp *tp = tp_get(L, 0);
    if (!tp)
        return 0;
    size_t n = lira_ttp_rec_count(tp, id);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        const lira_ttp_capture *c = lira_ttp_rec_at(tp, id, i);
        lua_createtable(L, 0, 14);
        set_str(L, "method", c->method, strlen(c->method));
        set_str(L, "url", c->url, strlen(c->url));
        set_lines(L, "headers", c->headers, c->nheaders);
        set_str(L, "body", c->body, c->body_len);
        set_num(L, "at", (lua_Number)c->at_ns / NS_PER_S);
        lua_pushboolean(L, c->done);
        lua_setfield(L, -2, "done");
        if (c->status)
            set_int(L, "status", c->status);
        set_failure(L, "failure", c->failure);
        set_str(L, "error", c->error, c->error ? strlen(c->error) : 0);
        set_lines(L, "response_headers", c->rheaders, c->nrheaders);
        set_str(L, "response_body", c->rbody ? c->rbody : "", c->rbody_len);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* ------------------------------------------------------------ the clock */

static int is_virtual(lira_engine *e)
{
    return lira_engine_clock(e)->kind == LIRA_CLOCK_VIRTUAL;
}

static int l_is_virtual(lua_State *L)
{
    lua_pushboolean(L, is_virtual(lira_lua_engine(L)));
    return 1;
}

static void sentinel_fired(lira_timer *t, void *ud)
{
    (void)t;
    *(int *)ud = 1;
}

/* Run every ready task and every timer due now, without moving time:
 * holding the engine keeps a virtual clock where it is. */
static void drain_now(lua_State *L, lira_engine *e)
{
    do {
        lira_lua_run_ready(L);
        lira_engine_hold(e);
        lira_engine_step(e, 0);
        lira_engine_release(e);
    } while (lira_lua_has_ready(L));
}

typedef struct advance_ctx {
    lira_engine *e;
    lira_timer sentinel;
    int fired;
} advance_ctx;

/* The loop of clock:advance, run under lua_pcall so that the sentinel timer
 * on advance's C stack is always stopped before an error leaves. */
static int advance_body(lua_State *L)
{
    advance_ctx *c = lua_touserdata(L, 1);
    for (;;) {
        drain_now(L, c->e);
        if (c->fired)
            break;
        /* Nothing left at this instant: the step jumps to the next timer,
         * which is at the latest the sentinel (or waits for real I/O). */
        int rc = lira_engine_step(c->e, -1);
        if (rc < 0)
            return luaL_error(L, "lira.testing: clock:advance: %s", lira_strerror(rc));
    }
    drain_now(L, c->e);
    return 0;
}

/* advance(seconds): move the virtual clock forward, firing what falls due
 * in order and running the tasks it wakes. */
static int l_advance(lua_State *L)
{
    double s = luaL_checknumber(L, 1);
    if (!(s >= 0) || s > 1e9)
        return luaL_error(L, "lira.testing: clock:advance(seconds) needs 0 <= seconds <= 1e9");
    if (lira_lua_in_task(L))
        return luaL_error(L, "lira.testing: clock:advance() drives the loop: call it from the "
                             "test itself, not from a lira task (a task uses lira.sleep)");
    advance_ctx c = {.e = lira_lua_engine(L)};
    if (!is_virtual(c.e))
        return luaL_error(L, "lira.testing: clock:advance() needs virtual time: call t.clock() first");
    lira_timer_init(&c.sentinel);
    int64_t target = lira_engine_now(c.e) + (int64_t)llround(s * NS_PER_S);
    check_rc(L, lira_timer_start(c.e, &c.sentinel, target, sentinel_fired, &c.fired), "advance");
    lua_pushcfunction(L, advance_body);
    lua_pushlightuserdata(L, &c);
    int rc = lua_pcall(L, 1, 0, 0);
    lira_timer_stop(c.e, &c.sentinel);
    lira_telemetry_flush(c.e);   /* a driver returning: the lines it made are written */
    if (rc != LUA_OK)
        return lua_error(L);
    return 0;
}

/* header_is_secret(name [, {extra names}]) -> boolean (redact.h's policy). */
static int l_header_is_secret(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    const char *deny[64];
    size_t n = 0;
    if (lua_istable(L, 2)) {
        for (lua_Integer i = 1; n < 64 && lua_rawgeti(L, 2, i) == LUA_TSTRING; i++)
            deny[n++] = lua_tostring(L, -1);   /* kept on the stack */
    }
    lua_pushboolean(L, lira_redact_header_is_secret(name, n ? deny : NULL, n) == 1);
    return 1;
}

static const luaL_Reg testing_fns[] = {
    {"mock_new", l_mock_new},       {"mock_route", l_mock_route},
    {"mock_push", l_mock_push},     {"mock_stop", l_mock_stop},
    {"mock_calls", l_mock_calls},   {"mock_routes", l_mock_routes},
    {"rec_new", l_rec_new},         {"rec_stop", l_rec_stop},
    {"rec_take", l_rec_take},       {"advance", l_advance},
    {"is_virtual", l_is_virtual},   {"header_is_secret", l_header_is_secret},
    {NULL, NULL},
};

void lira_lua_open_testing(lua_State *L, int mod)
{
    luaL_newlib(L, testing_fns);
    lua_setfield(L, mod, "testing");
}
