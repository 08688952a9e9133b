/* lira_core.c — luaopen_lira_core, the C half of `require "lira"`.
 *
 * The binding is the only layer (with src/runtime) that touches the Lua C
 * API. For now it carries the module's identity; the engine, clients and
 * tasks are bound here as they land. */
#include <lauxlib.h>
#include <lua.h>

#ifndef LIRA_VERSION
#error "LIRA_VERSION must be defined by the build"
#endif

int luaopen_lira_core(lua_State *L);

static const luaL_Reg core_functions[] = {
    {NULL, NULL},
};

int luaopen_lira_core(lua_State *L)
{
    luaL_newlib(L, core_functions);
    lua_pushliteral(L, LIRA_VERSION);
    lua_setfield(L, -2, "version");
    lua_pushliteral(L, LUA_VERSION_MAJOR "." LUA_VERSION_MINOR);
    lua_setfield(L, -2, "lua_version");
    return 1;
}
