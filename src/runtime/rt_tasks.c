/* rt_tasks.c — the tasks inside a version's state: spawning sync / start /
 * stop through lira.runtime's runner, resuming the ready ones under the
 * watchdog, counting, cancelling, and noticing one that ended without
 * reporting. When to spawn and what an outcome means is rt_super.c's;
 * creating the state is rt_state.c's. */
#define _GNU_SOURCE
#include <string.h>

#include <lauxlib.h>

#include "core/status.h"
#include "engine/log.h"
#include "runtime/rt_state_impl.h"

static const char *const kind_label[3] = {"run", "start", "stop"};

int rt_version_run_ready(rt_version *v)
{
    v->r->wd_gen++;
    return lira_lua_run_ready(v->L);
}

int rt_version_has_ready(rt_version *v)
{
    return lira_lua_has_ready(v->L);
}

int rt_version_tasks(rt_version *v)
{
    lua_State *L = v->L;
    int top = lua_gettop(L);
    int n = 0;
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "loaded");
    lua_getfield(L, -1, "lira.core");
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "loop");
        lua_getfield(L, -1, "count");
        lua_pushvalue(L, -2);
        if (lua_pcall(L, 1, 1, 0) == LUA_OK)
            n = (int)lua_tointeger(L, -1);
    }
    lua_settop(L, top);
    return n;
}

int rt_version_spawn(rt_version *v, int kind)
{
    lua_State *L = v->L;
    int top = lua_gettop(L);
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "loaded");
    lua_getfield(L, -1, "lira.core");
    lua_getfield(L, -1, "spawn");
    lua_rawgeti(L, LUA_REGISTRYINDEX, v->runner_ref);
    lua_pushstring(L, kind_label[kind]);
    lua_rawgeti(L, LUA_REGISTRYINDEX, v->spec_ref);
    lua_getfield(L, -1, lira__rt_kind_fn[kind]);
    lua_remove(L, -2);
    lua_rawgeti(L, LUA_REGISTRYINDEX, v->ctx_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, v->report_ref[kind]);
    if (lua_pcall(L, 5, 1, 0) != LUA_OK) {
        rt_log(v->r, LIRA_LOG_ERROR, "integration: cannot spawn a task", v->name, "error",
               lua_tostring(L, -1), NULL, NULL);
        lua_settop(L, top);
        return LIRA_ENOMEM;
    }
    v->task_ref[kind] = luaL_ref(L, LUA_REGISTRYINDEX);
    v->active[kind] = 1;
    lua_settop(L, top);
    return LIRA_OK;
}

/* Call task:<method>() for the task at the top; leaves one result. */
static void task_method(lua_State *L, const char *method)
{
    lua_getfield(L, -1, method);
    lua_insert(L, -2);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        lua_pop(L, 1);
        lua_pushnil(L);
    }
}

void rt_version_cancel(rt_version *v)
{
    lua_State *L = v->L;
    for (int k = 0; k < 3; k++) {
        if (v->task_ref[k] == LUA_NOREF)
            continue;
        lua_rawgeti(L, LUA_REGISTRYINDEX, v->task_ref[k]);
        task_method(L, "cancel");
        lua_pop(L, 1);
    }
}

void rt_version_check_tasks(rt_version *v)
{
    lua_State *L = v->L;
    for (int k = 0; k < 3; k++) {
        if (!v->active[k] || v->task_ref[k] == LUA_NOREF)
            continue;
        lua_rawgeti(L, LUA_REGISTRYINDEX, v->task_ref[k]);
        task_method(L, "status");
        const char *s = lua_tostring(L, -1);
        int over = s && (strcmp(s, "done") == 0 || strcmp(s, "failed") == 0 ||
                         strcmp(s, "cancelled") == 0);
        lua_pop(L, 1);
        if (!over)
            continue;
        luaL_unref(L, LUA_REGISTRYINDEX, v->task_ref[k]);
        v->task_ref[k] = LUA_NOREF;
        rt_on_report(v, k, 0, "the task ended without reporting its outcome", NULL);
    }
}
