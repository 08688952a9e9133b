/* lira_core.c — luaopen_lira_core, the C half of `require "lira"`.
 *
 * Each part of the binding registers its own functions on the module table
 * (binding.h); this file only assembles them. */
#include <lauxlib.h>
#include <lua.h>

#include "binding.h"

#ifndef LIRA_VERSION
#error "LIRA_VERSION must be defined by the build"
#endif

int luaopen_lira_core(lua_State *L);

/* Parts still being written are skipped until they land. */
#pragma weak lira_lua_open_store
#pragma weak lira_lua_open_util
#pragma weak lira_lua_open_log
#pragma weak lira_lua_open_metrics
#pragma weak lira_lua_open_trace
#pragma weak lira_lua_open_testing
#pragma weak lira_lua_open_webhook

int luaopen_lira_core(lua_State *L)
{
    lua_newtable(L);
    int mod = lua_gettop(L);
    lua_pushliteral(L, LIRA_VERSION);
    lua_setfield(L, mod, "version");
    lua_pushliteral(L, LUA_VERSION_MAJOR "." LUA_VERSION_MINOR);
    lua_setfield(L, mod, "lua_version");
    lira_lua_json_open(L, mod);
    lira_lua_open_tasks(L, mod);
    lira_lua_open_client(L, mod);
    void (*const later[])(lua_State *, int) = {
        lira_lua_open_store, lira_lua_open_util, lira_lua_open_log,
        lira_lua_open_metrics, lira_lua_open_trace, lira_lua_open_testing,
        lira_lua_open_webhook,
    };
    for (size_t i = 0; i < sizeof later / sizeof later[0]; i++)
        if (later[i])
            later[i](L, mod);
    return 1;
}
