/* lua_util.c — small header parsers of src/core for the Lua side
 * (lua/lira/paginate.lua, lua/lira/await.lua), so that Lua code never
 * re-implements a grammar the core already parses and tests:
 *
 *   core.link_find(header, rel)   -> uri | nil[, message]
 *   core.retry_after(value)       -> seconds | nil[, message]
 *
 * Misuse (a non-string argument) raises; a header that is absent or
 * malformed is an ordinary outcome and returns nil with a message. */
#define _POSIX_C_SOURCE 200809L

#include <time.h>

#include <lauxlib.h>
#include <lua.h>

#include "binding.h"
#include "httpdate.h"
#include "link.h"
#include "status.h"

/* core.link_find(header, rel): the target of the first link whose rel has
 * `rel` (RFC 8288, case-insensitive), unresolved, as written between < and
 * >; nil when there is none (header nil or empty included); nil, message
 * when the header is malformed (it is then not trusted at all). */
static int l_link_find(lua_State *L)
{
    size_t len = 0;
    const char *h = luaL_optlstring(L, 1, NULL, &len);
    const char *rel = luaL_checkstring(L, 2);
    if (h == NULL) {
        lua_pushnil(L);
        return 1;
    }
    const char *uri = NULL;
    size_t ulen = 0;
    int rc = lira_link_find(h, len, rel, &uri, &ulen);
    if (rc == LIRA_OK) {
        lua_pushlstring(L, uri, ulen);
        return 1;
    }
    lua_pushnil(L);
    if (rc == LIRA_ENOTFOUND)
        return 1;
    lua_pushfstring(L, "malformed Link header (%s)", lira_strerror(rc));
    return 2;
}

/* core.retry_after(value): the delay a Retry-After value asks for, in
 * seconds (delay-seconds, or an HTTP-date measured against the wall clock;
 * a date in the past is 0); nil when value is nil; nil, message when it is
 * neither form. */
static int l_retry_after(lua_State *L)
{
    size_t len = 0;
    const char *v = luaL_optlstring(L, 1, NULL, &len);
    if (v == NULL) {
        lua_pushnil(L);
        return 1;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t delay_ns = 0;
    int rc = lira_retry_after_parse(v, len, (int64_t)ts.tv_sec, &delay_ns);
    if (rc != LIRA_OK) {
        lua_pushnil(L);
        lua_pushfstring(L, "malformed Retry-After value (%s)", lira_strerror(rc));
        return 2;
    }
    lua_pushnumber(L, (lua_Number)delay_ns / 1e9);
    return 1;
}

void lira_lua_open_util(lua_State *L, int mod)
{
    static const luaL_Reg fns[] = {
        {"link_find", l_link_find},
        {"retry_after", l_retry_after},
        {NULL, NULL},
    };
    lua_pushvalue(L, mod);
    luaL_setfuncs(L, fns, 0);
    lua_pop(L, 1);
}
