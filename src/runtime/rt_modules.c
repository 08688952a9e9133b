/* rt_modules.c — what `require` does in a version's state (rt_modules.h):
 * our searcher in place of Lua's file searcher, the record of the
 * integration's local modules it loaded (so a change to one reloads the
 * integrations that use it), and the process-wide bytecode cache of lira's
 * own modules (so each new state skips parsing them). rt_state.c installs
 * the searcher while it loads a file. */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lauxlib.h>

#include "runtime/rt_modules.h"
#include "runtime/rt_state_impl.h"

/* ------------------------------------------------------------ bytecode cache */

/* The bytecode cache: lira's library modules, compiled once per process
 * (with debug info: tracebacks keep their lines). Lua runs on the loop
 * thread only, so it needs no lock. A file whose size or mtime changed is
 * compiled again. */
typedef struct bc_chunk {
    char *path;
    off_t size;
    int64_t mtime_ns;
    char *code;
    size_t len, cap;
    struct bc_chunk *next;
} bc_chunk;

static bc_chunk *chunk_cache;

void rt_chunk_cache_free(void)
{
    while (chunk_cache) {
        bc_chunk *c = chunk_cache;
        chunk_cache = c->next;
        free(c->path);
        free(c->code);
        free(c);
    }
}

static int chunk_write(lua_State *L, const void *p, size_t sz, void *ud)
{
    (void)L;
    bc_chunk *c = ud;
    if (c->len + sz > c->cap) {
        size_t cap = (c->len + sz) * 2;
        char *n = realloc(c->code, cap);
        if (!n)
            return 1;
        c->code = n;
        c->cap = cap;
    }
    memcpy(c->code + c->len, p, sz);
    c->len += sz;
    return 0;
}

/* Push the loaded chunk of a library file (from the cache when it is
 * current, else compiled and cached); LUA_OK or an error pushed. */
static int load_cached(lua_State *L, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return luaL_loadfilex(L, path, "t");
    int64_t mt = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    bc_chunk *c = chunk_cache;
    while (c && strcmp(c->path, path) != 0)
        c = c->next;
    if (c && c->size == st.st_size && c->mtime_ns == mt) {
        lua_pushfstring(L, "@%s", path);
        int rc = luaL_loadbufferx(L, c->code, c->len, lua_tostring(L, -1), "b");
        lua_remove(L, -2);
        return rc;
    }
    int rc = luaL_loadfilex(L, path, "t");
    if (rc != LUA_OK)
        return rc;
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c || !(c->path = strdup(path))) {
            free(c);
            return LUA_OK;   /* not cached: the next state parses it again */
        }
        c->next = chunk_cache;
        chunk_cache = c;
    }
    c->len = 0;
    if (lua_dump(L, chunk_write, c, 0) != 0)
        c->size = -1;        /* never matches: compiled again next time */
    else
        c->size = st.st_size;
    c->mtime_ns = mt;
    return LUA_OK;
}

/* ------------------------------------------------------------ the searcher */

#define MODULES_KEY "lira.rt.modules"

/* package.searchers[2], ours: upvalue 1 is the integration's folder with a
 * trailing slash. Same contract as Lua's file searcher. */
static int l_searcher(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    const char *dir = lua_tostring(L, lua_upvalueindex(1));
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "searchpath");
    lua_pushstring(L, name);
    lua_getfield(L, -3, "path");
    lua_call(L, 2, 2);
    if (lua_isnil(L, -2))
        return 1;            /* the "no file ..." message */
    lua_pop(L, 1);
    const char *path = lua_tostring(L, -1);
    int local = strncmp(path, dir, strlen(dir)) == 0;
    int rc;
    if (local) {
        char real[PATH_MAX];
        lua_getfield(L, LUA_REGISTRYINDEX, MODULES_KEY);
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, realpath(path, real) ? real : path);
        lua_pop(L, 1);
        rc = luaL_loadfilex(L, path, "t");
    } else {
        rc = load_cached(L, path);
    }
    if (rc != LUA_OK)
        return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s", name, path,
                          lua_tostring(L, -1));
    lua_pushvalue(L, -2);
    return 2;
}

void lira__rt_set_searcher(lua_State *L, const char *file)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", file);
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[1] = '\0';
    else
        snprintf(dir, sizeof dir, "./");
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, MODULES_KEY);
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "searchers");
    lua_pushstring(L, dir);
    lua_pushcclosure(L, l_searcher, 1);
    lua_rawseti(L, -2, 2);
    lua_pop(L, 2);
}

int rt_version_uses(rt_version *v, const char *path)
{
    lua_State *L = v->L;
    int top = lua_gettop(L);
    lua_getfield(L, LUA_REGISTRYINDEX, MODULES_KEY);
    int used = lua_istable(L, -1) && lua_getfield(L, -1, path) != LUA_TNIL;
    lua_settop(L, top);
    return used;
}

void rt_version_modules(rt_version *v, void (*fn)(void *ud, const char *path), void *ud)
{
    lua_State *L = v->L;
    int top = lua_gettop(L);
    lua_getfield(L, LUA_REGISTRYINDEX, MODULES_KEY);
    if (lua_istable(L, -1)) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            lua_pop(L, 1);
            if (lua_type(L, -1) == LUA_TSTRING)
                fn(ud, lua_tostring(L, -1));
        }
    }
    lua_settop(L, top);
}
