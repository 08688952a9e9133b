/* lua_loop.c — the loop drivers: the one every waiting call uses outside a
 * task (drive until my wait is over), and the pollable `lira.loop` for hosts
 * that own an event loop (the cqueues convention: pollfd/events/timeout/step).
 *
 * The only place lira blocks is lira_engine_step(), and only when no task
 * is ready to run. */
#include <math.h>

#include "lua_sched.h"
#include "status.h"
#include "telemetry.h"

#define LOOP_MT "lira.Loop"

void lira_sched_poll_nowait(lira_sched *s)
{
    if (!s->e)
        return;
    /* Holding the engine keeps a virtual clock from jumping to the next
     * timer: ready tasks run at the current time first. */
    lira_engine_hold(s->e);
    lira_engine_step(s->e, 0);
    lira_engine_release(s->e);
}

/* The driver until `done`, then the log lines its turns left waiting
 * (telemetry.h), so the host finds them written when control comes back. */
static int drive(lua_State *L, lira_sched *s, int (*done)(void *ud), void *ud)
{
    for (;;) {
        if (done(ud))
            return LIRA_OK;
        if (s->nready > 0) {
            lira_sched_run_batch(L, s);
            if (done(ud))
                return LIRA_OK;
            /* Tasks still ready (a yield, a sleep(0)): let due I/O and
             * timers in before they run again. None ready: the blocking
             * step below does the same poll, so one epoll_wait a turn. */
            if (s->nready > 0)
                lira_sched_poll_nowait(s);
            continue;
        }
        if (!s->e || !lira_engine_busy(s->e))
            return LIRA_ESTATE;
        int rc = lira_engine_step(s->e, -1);
        if (rc < 0)
            return rc;
    }
}

int lira_sched_drive(lua_State *L, lira_sched *s, int (*done)(void *ud), void *ud)
{
    int rc = drive(L, s, done, ud);
    lira_telemetry_flush(s->e);
    return rc;
}

int lira_sched_deadlock(lua_State *L, lira_sched *s, const char *what)
{
    const char *who;
    if (lua_pushthread(L))
        who = "the main thread";
    else if (s->current && s->current->co == L)
        who = "a task (in a non-yieldable call)";
    else
        who = "a coroutine lira did not create";
    lua_pop(L, 1);
    return luaL_error(L,
                      "lira: deadlock: %s waits%s but nothing is pending "
                      "(%d unfinished task(s), none can run)",
                      who, what ? what : "", (int)s->live);
}

/* ------------------------------------------------------------ run */

typedef struct run_ctx {
    lira_sched *s;
    lira_task *t;
    int cancelled_rest;
} run_ctx;

static int run_done(void *ud)
{
    run_ctx *c = ud;
    if (!lira_task_finished(c->t))
        return 0;
    return c->s->run_live == 0 || (!c->t->ok && !c->cancelled_rest);
}

static int run_body(lua_State *L)
{
    run_ctx *c = lua_touserdata(L, 1);
    lua_remove(L, 1);
    c->t = lira_task_spawn(L, c->s, lua_gettop(L) - 1);
    int ud = lua_gettop(L);
    for (;;) {
        int rc = lira_sched_drive(L, c->s, run_done, c);
        if (rc == LIRA_ESTATE)
            return lira_sched_deadlock(L, c->s, " for run()'s tasks");
        if (rc != LIRA_OK)
            return luaL_error(L, "lira: the loop failed: %s", lira_strerror(rc));
        if (c->s->run_live == 0)
            break;
        lira_task_cancel_run(L, c->s);
        c->cancelled_rest = 1;
    }
    int n = lira_task_push_outcome(L, c->t, ud);
    if (c->t->ok)
        return n - 1;   /* fn's results, without the leading true */
    /* Re-raise: a string error comes back with its traceback; any other
     * value is raised as it was (a lira error table keeps its fields). */
    if (n == 3 && lua_type(L, -2) == LUA_TSTRING)
        lua_remove(L, -2);
    else
        lua_pop(L, n - 2);
    return lua_error(L);
}

static int l_run(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lira_lua_engine(L);
    lira_sched *s = lira_sched_get(L);
    if (s->current)
        return luaL_error(L, "lira.run: cannot be called inside a lira task "
                             "(use spawn and join there)");
    if (s->run_active)
        return luaL_error(L, "lira.run: already running (nested run is not supported)");
    run_ctx c = {.s = s};
    int nargs = lua_gettop(L);
    lua_pushcfunction(L, run_body);
    lua_pushlightuserdata(L, &c);
    lua_rotate(L, 1, 2);
    s->run_active = 1;
    int st = lua_pcall(L, nargs + 1, LUA_MULTRET, 0);
    s->run_active = 0;
    s->run_live = 0;
    for (lira_task *t = s->tasks; t; t = t->anext)
        t->in_run = 0;
    if (st != LUA_OK)
        return lua_error(L);
    return lua_gettop(L);
}

/* ------------------------------------------------------------ lira.loop */

static lira_sched *loop_sched(lua_State *L)
{
    luaL_checkudata(L, 1, LOOP_MT);
    lira_lua_engine(L);
    return lira_sched_get(L);
}

static int l_pollfd(lua_State *L)
{
    lira_sched *s = loop_sched(L);
    lua_pushinteger(L, lira_engine_pollfd(s->e));
    return 1;
}

static int l_events(lua_State *L)
{
    luaL_checkudata(L, 1, LOOP_MT);
    lua_pushliteral(L, "r");
    return 1;
}

static int l_timeout(lua_State *L)
{
    lira_sched *s = loop_sched(L);
    if (s->nready > 0) {
        lua_pushnumber(L, 0);
        return 1;
    }
    int64_t ns = lira_engine_timeout(s->e);
    if (ns < 0)
        lua_pushnil(L);
    else
        lua_pushnumber(L, (lua_Number)ns / 1e9);
    return 1;
}

static int64_t check_wait(lua_State *L, int idx)
{
    if (lua_isnoneornil(L, idx))
        return -1;
    if (lua_type(L, idx) != LUA_TNUMBER)
        return luaL_typeerror(L, idx, "number or nil");
    double d = lua_tonumber(L, idx);
    if (isnan(d) || d < 0)
        return luaL_argerror(L, idx, lua_pushfstring(L, "timeout must be >= 0, got %f", d));
    return d * 1e9 >= 9.2e18 ? INT64_MAX : (int64_t)(d * 1e9);
}

/* loop:step([timeout]) — run what is ready, wait for I/O or a timer at most
 * `timeout` seconds (nil: until something happens, but never when nothing
 * is pending), run what became ready. Returns true, or nil, message. */
static int l_step(lua_State *L)
{
    lira_sched *s = loop_sched(L);
    int64_t wait = check_wait(L, 2);
    if (s->current)
        return luaL_error(L, "lira: loop:step() is for the host's event loop, "
                             "not for code inside a lira task");
    lira_sched_run_batch(L, s);
    int rc;
    if (s->nready > 0) {
        lira_engine_hold(s->e);
        rc = lira_engine_step(s->e, 0);
        lira_engine_release(s->e);
    } else {
        if (wait < 0 && !lira_engine_busy(s->e))
            wait = 0;
        rc = lira_engine_step(s->e, wait);
    }
    lira_sched_run_batch(L, s);
    lira_telemetry_flush(s->e);
    if (rc < 0) {
        lua_pushnil(L);
        lua_pushstring(L, lira_strerror(rc));
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* loop:count() — unfinished tasks. */
static int l_count(lua_State *L)
{
    lira_sched *s = loop_sched(L);
    lua_pushinteger(L, (lua_Integer)s->live);
    return 1;
}

/* loop:empty() — nothing left to do: no unfinished task, no pending work. */
static int l_empty(lua_State *L)
{
    lira_sched *s = loop_sched(L);
    lua_pushboolean(L, s->live == 0 && s->nready == 0 && !lira_engine_busy(s->e));
    return 1;
}

static int l_loop_tostring(lua_State *L)
{
    lira_sched *s = loop_sched(L);
    lua_pushfstring(L, "lira.Loop (%d task(s))", (int)s->live);
    return 1;
}

static const luaL_Reg loop_methods[] = {
    {"pollfd", l_pollfd},
    {"events", l_events},
    {"timeout", l_timeout},
    {"step", l_step},
    {"count", l_count},
    {"empty", l_empty},
    {NULL, NULL},
};

void lira_loop_open(lua_State *L, int mod)
{
    mod = lua_absindex(L, mod);
    lua_newuserdatauv(L, 0, 0);
    if (luaL_newmetatable(L, LOOP_MT)) {
        luaL_newlib(L, loop_methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_loop_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_setmetatable(L, -2);
    lua_setfield(L, mod, "loop");
    lua_pushcfunction(L, l_run);
    lua_setfield(L, mod, "run");
}
