/* lua_engine.c — the per-state engine and scheduler box.
 *
 * Each lua_State gets one lira_sched, stored inside a full userdata in the
 * registry. A plain host's lua_close runs the box's __gc, which aborts every
 * pending wait and frees the engine if this state created it; the runtime
 * installs a shared engine with lira_lua_set_engine() and frees it itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lua_sched.h"
#include "status.h"
#include "telemetry.h"

#define SCHED_MT "lira.Scheduler"

/* Its address is the registry key; it is never written. */
static const char k_sched = 0;

static int sched_gc(lua_State *L)
{
    lira_sched *s = luaL_checkudata(L, 1, SCHED_MT);
    if (s->closed)
        return 0;
    s->closed = 1;
    /* Readers are gone: abort what can be aborted while the engine lives,
     * then let the engine complete (and so free) whatever is still in it. */
    lira_sched_close_waits(s);
    if (s->owned && s->e)
        lira_engine_free(s->e);
    lira_sched_free_waits(s, !s->owned);
    s->e = NULL;
    return 0;
}

/* A private engine serves a plain `require "lira"` host, a library user who
 * wants failures in the log, not a line per call: its threshold is warn
 * unless LIRA_LOG_LEVEL says otherwise (the runtime's engine logs at info).
 * The hub is created now, first, so it also outlives every other layer. */
static void private_log_level(lira_engine *e)
{
    lira_telemetry *t = NULL;
    if (lira_telemetry_get(e, &t) == LIRA_OK && !getenv("LIRA_LOG_LEVEL"))
        lira_log_set_level(lira_telemetry_log(t), LIRA_LOG_WARN);
}

lira_sched *lira_sched_peek(lua_State *L)
{
    lira_sched *s = NULL;
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &k_sched) == LUA_TUSERDATA)
        s = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return s;
}

lira_sched *lira_sched_get(lua_State *L)
{
    lira_sched *s = lira_sched_peek(L);
    if (s)
        return s;
    luaL_checkstack(L, 3, "lira: out of stack");
    s = lua_newuserdatauv(L, sizeof *s, 0);
    memset(s, 0, sizeof *s);   /* born empty: __gc on it is harmless */
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    s->L = lua_tothread(L, -1);
    lua_pop(L, 1);
    s->next_id = 1;
    if (luaL_newmetatable(L, SCHED_MT)) {
        lua_pushcfunction(L, sched_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &k_sched);
    return s;
}

lira_engine *lira_lua_engine(lua_State *L)
{
    lira_sched *s = lira_sched_get(L);
    if (s->closed)
        luaL_error(L, "lira: the engine of this state is closed");
    if (!s->e) {
        lira_engine *e = NULL;
        int rc = lira_engine_new(NULL, &e);
        if (rc != LIRA_OK)
            luaL_error(L, "lira: cannot create the engine: %s", lira_strerror(rc));
        s->e = e;
        s->owned = 1;
        private_log_level(e);
    }
    return s->e;
}

void lira_lua_set_engine(lua_State *L, lira_engine *e)
{
    lira_sched *s = lira_sched_get(L);
    if (s->e == e || s->closed)
        return;
    /* Replacing an engine under running tasks or pending waits would strand
     * them; the runtime calls this before anything ran, so refuse quietly. */
    if (s->live > 0 || s->waits)
        return;
    if (s->owned && s->e)
        lira_engine_free(s->e);
    s->e = e;
    s->owned = 0;
}

/* core._reset_engine([virtual_clock]) — INTERNAL, for tests only: replace
 * this state's private engine with a fresh one (on a virtual clock starting
 * at 0 when the argument is true). Refused while tasks or waits are alive,
 * or when the engine was installed by the runtime. lira.testing will offer
 * the supported way to simulate time. */
static int l_reset_engine(lua_State *L)
{
    int virt = lua_toboolean(L, 1);
    lira_sched *s = lira_sched_get(L);
    if (s->e && !s->owned)
        return luaL_error(L, "lira: _reset_engine: the engine belongs to the runtime");
    if (s->live > 0 || s->waits)
        return luaL_error(L, "lira: _reset_engine: %d task(s) unfinished or waits pending",
                          (int)s->live);
    lira_engine_options opt = {.virtual_clock = virt};
    lira_engine *e = NULL;
    int rc = lira_engine_new(&opt, &e);
    if (rc != LIRA_OK)
        return luaL_error(L, "lira: cannot create the engine: %s", lira_strerror(rc));
    if (s->e)
        lira_engine_free(s->e);
    s->e = e;
    s->owned = 1;
    private_log_level(e);
    return 0;
}

/* core._use_virtual_clock() — INTERNAL, for tests: switch the running
 * engine to a virtual clock from now on (timers then fire without waiting). */
static int l_use_virtual_clock(lua_State *L)
{
    int rc = lira_engine_use_virtual_clock(lira_lua_engine(L));
    if (rc != LIRA_OK)
        return luaL_error(L, "lira: cannot switch to a virtual clock: %s", lira_strerror(rc));
    return 0;
}

void lira_engine_open_hooks(lua_State *L, int mod)
{
    lua_pushcfunction(L, l_reset_engine);
    lua_setfield(L, mod, "_reset_engine");
    lua_pushcfunction(L, l_use_virtual_clock);
    lua_setfield(L, mod, "_use_virtual_clock");
}
