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

/* The module's one exported symbol (the build hides every other). */
__attribute__((visibility("default"))) int luaopen_lira_core(lua_State *L);

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
    lira_lua_open_store(L, mod);
    lira_lua_open_util(L, mod);
    lira_lua_open_log(L, mod);
    lira_lua_open_metrics(L, mod);
    lira_lua_open_trace(L, mod);
    lira_lua_open_testing(L, mod);
    lira_lua_open_webhook(L, mod);
    lira_lua_open_inbox(L, mod);
    return 1;
}
