/* lua_store.c — the durable store (src/engine/store.h) for Lua: the raw
 * functions lua/lira/state.lua and lua/lira/fallback.lua build on.
 *
 * One store handle per engine, in lira_engine_slot(e, LIRA_SLOT_STORE), so
 * every Lua state sharing an engine (the runtime's integrations) shares one
 * connection, and the handle survives a hot reload. It is created and
 * opened on first use — from LIRA_STATE, else .lira/state.db; synchronous
 * NORMAL unless LIRA_STATE_SYNC=full — and freed with the engine
 * (lira_engine_on_free). A runtime may install its own open handle in the
 * slot first; it is then used as it is.
 *
 * Values cross as bytes: JSON encoding/decoding is state.lua's job. Every
 * time crosses as wall-clock epoch SECONDS (Lua numbers); the store takes
 * epoch ms from the engine's wall clock (virtual under lira.testing).
 *
 * Errors: misuse (a name that is not a string, an embedded NUL) raises a
 * "bad argument" string; a store failure raises a lira error table
 * { kind = "locked" | "corrupt" | "newer_schema" | ..., message = <the
 * store's message, naming the file and what to do>, path = <file> }. A
 * missing row is not an error: the getter returns nil.
 *
 * Store calls are synchronous on the loop thread (SQLite has no async
 * API); a locked file blocks for at most the busy timeout. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h"
#include "status.h"
#include "store.h"

#define DEFAULT_PATH ".lira/state.db"
#define LIST_PAGE_MAX 1000          /* keys per store_kv_list call */
#define BOX_MT "lira.store.box"

/* ------------------------------------------------------------ the handle */

static void free_store(void *ud)
{
    lira_store_free(ud);
}

/* The engine's handle, created (closed) on first use. */
static lira_store *handle(lua_State *L, lira_engine **eout)
{
    lira_engine *e = lira_lua_engine(L);
    if (eout)
        *eout = e;
    lira_store *s = lira_engine_slot(e, LIRA_SLOT_STORE);
    if (s)
        return s;
    if (lira_store_new(&s) != LIRA_OK)
        luaL_error(L, "lira: state store: out of memory");
    if (lira_engine_on_free(e, free_store, s) != LIRA_OK) {
        lira_store_free(s);
        luaL_error(L, "lira: state store: out of memory");
    }
    lira_engine_set_slot(e, LIRA_SLOT_STORE, s);
    return s;
}

/* Raise the store's last error as a lira error table. */
static int raise_store(lua_State *L, lira_store *s)
{
    lira_lua_push_error(L, lira_store_kind_name(lira_store_errkind(s)), lira_store_errmsg(s));
    const char *p = lira_store_path(s);
    if (p && *p) {
        lua_pushstring(L, p);
        lua_setfield(L, -2, "path");
    }
    return lua_error(L);
}

static int env_sync_full(lua_State *L)
{
    const char *v = getenv("LIRA_STATE_SYNC");
    if (!v || !*v || strcmp(v, "normal") == 0 || strcmp(v, "NORMAL") == 0)
        return 0;
    if (strcmp(v, "full") == 0 || strcmp(v, "FULL") == 0)
        return 1;
    return luaL_error(L, "lira: LIRA_STATE_SYNC must be 'normal' or 'full' (got '%s')", v);
}

static int64_t now_ms(lira_engine *e)
{
    return lira_engine_wall(e) / 1000000;
}

static lua_Number secs(int64_t ms)
{
    return (lua_Number)ms / 1000.0;
}

/* The open handle (opened lazily from the environment). */
static lira_store *store(lua_State *L, lira_engine **e)
{
    lira_store *s = handle(L, e);
    if (lira_store_is_open(s))
        return s;
    const char *path = getenv("LIRA_STATE");
    if (!path || !*path)
        path = DEFAULT_PATH;
    lira_store_options o;
    memset(&o, 0, sizeof o);
    o.sync_full = env_sync_full(L);
    if (lira_store_open(s, path, &o) != LIRA_OK)
        raise_store(L, s);
    return s;
}

/* ------------------------------------------------------------ arguments */

/* A name argument: a Lua string without NUL bytes (the store takes C
 * strings, and a silently cut name would address another row). */
static const char *name_arg(lua_State *L, int i, const char *fname, const char *what)
{
    if (lua_type(L, i) != LUA_TSTRING)
        luaL_error(L, "bad argument #%d to '%s' (%s must be a string, got %s)", i, fname,
                   what, luaL_typename(L, i));
    size_t n;
    const char *v = lua_tolstring(L, i, &n);
    if (strlen(v) != n)
        luaL_error(L, "bad argument #%d to '%s' (%s must not contain NUL bytes)", i, fname,
                   what);
    return v;
}

static const char *bytes_arg(lua_State *L, int i, const char *fname, size_t *n)
{
    if (lua_type(L, i) != LUA_TSTRING)
        luaL_error(L, "bad argument #%d to '%s' (string expected, got %s)", i, fname,
                   luaL_typename(L, i));
    return lua_tolstring(L, i, n);
}

/* Seconds (> 0, finite) -> ms, at least 1. */
static int64_t ttl_ms_arg(lua_State *L, int i, const char *fname)
{
    lua_Number t = lua_tonumber(L, i);
    if (lua_type(L, i) != LUA_TNUMBER || !(t > 0) || t > 1e12)
        luaL_error(L, "bad argument #%d to '%s' (ttl must be a positive number of seconds)", i,
                   fname);
    int64_t ms = (int64_t)(t * 1000.0 + 0.5);
    return ms > 0 ? ms : 1;
}

static void push_bytes(lua_State *L, lira_store_bytes b)
{
    lua_pushlstring(L, b.len ? b.ptr : "", b.len);
}

/* ------------------------------------------------------------ open/close */

static int opt_int(lua_State *L, int t, const char *k, lua_Number scale, lua_Number max)
{
    int ty = lua_getfield(L, t, k);
    lua_Number v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (ty == LUA_TNIL)
        return 0;
    if (ty != LUA_TNUMBER || v < 0 || v * scale > max)
        luaL_error(L, "bad argument #2 to 'store_open' (option %s must be a number from 0 "
                   "to %f)", k, (double)(max / scale));
    return (int)(v * scale);
}

static void open_options(lua_State *L, int t, lira_store_options *o)
{
    memset(o, 0, sizeof *o);
    o->sync_full = env_sync_full(L);
    if (lua_isnoneornil(L, t))
        return;
    luaL_checktype(L, t, LUA_TTABLE);
    if (lua_getfield(L, t, "sync") != LUA_TNIL) {
        const char *v = lua_tostring(L, -1);
        if (!v || (strcmp(v, "full") != 0 && strcmp(v, "normal") != 0))
            luaL_error(L, "bad argument #2 to 'store_open' (option sync must be 'normal' or "
                       "'full')");
        o->sync_full = strcmp(v, "full") == 0;
    }
    lua_pop(L, 1);
    o->busy_timeout_ms = opt_int(L, t, "busy_timeout", 1000, 86400000);
    if (lua_getfield(L, t, "busy_timeout") != LUA_TNIL && o->busy_timeout_ms == 0)
        o->busy_timeout_ms = 1;   /* 0 in the store means the default */
    lua_pop(L, 1);
    o->schema = opt_int(L, t, "schema", 1, 1000);
    o->cache_max_rows = opt_int(L, t, "cache_max_rows", 1, 2147483647);
    o->cache_max_bytes = opt_int(L, t, "cache_max_bytes", 1, 2147483647);
    o->readonly = lua_getfield(L, t, "readonly") == LUA_TBOOLEAN && lua_toboolean(L, -1);
    lua_pop(L, 1);
    o->quick_check = lua_getfield(L, t, "quick_check") == LUA_TBOOLEAN && lua_toboolean(L, -1);
    lua_pop(L, 1);
}

/* store_open([path[, opts]]) -> path: (re)open the engine's store
 * explicitly (tests, tools, and hosts that pick the file in code). An open
 * handle is closed first. opts: sync ("normal"|"full"), busy_timeout
 * (seconds), readonly, quick_check, cache_max_rows, cache_max_bytes,
 * schema (tests only: build an old file). */
static int l_store_open(lua_State *L)
{
    const char *path = lua_isnoneornil(L, 1) ? NULL : name_arg(L, 1, "store_open", "path");
    lira_store_options o;
    open_options(L, 2, &o);
    if (!path) {
        path = getenv("LIRA_STATE");
        if (!path || !*path)
            path = DEFAULT_PATH;
    }
    lira_store *s = handle(L, NULL);
    lira_store_close(s);
    if (lira_store_open(s, path, &o) != LIRA_OK)
        return raise_store(L, s);
    lua_pushstring(L, lira_store_path(s));
    return 1;
}

/* store_close(): close the engine's store (the next use opens it again). */
static int l_store_close(lua_State *L)
{
    lira_store_close(handle(L, NULL));
    return 0;
}

/* store_info() -> { path =, schema =, open = } without opening anything. */
static int l_store_info(lua_State *L)
{
    lira_store *s = handle(L, NULL);
    lua_createtable(L, 0, 3);
    lua_pushboolean(L, lira_store_is_open(s));
    lua_setfield(L, -2, "open");
    if (lira_store_is_open(s)) {
        lua_pushstring(L, lira_store_path(s));
        lua_setfield(L, -2, "path");
        lua_pushinteger(L, lira_store_schema_version(s));
        lua_setfield(L, -2, "schema");
    }
    return 1;
}

/* ------------------------------------------------------------ checkpoints */

/* checkpoint_get(name) -> bytes, updated_at | nil */
static int l_checkpoint_get(lua_State *L)
{
    const char *name = name_arg(L, 1, "checkpoint_get", "name");
    lira_store *s = store(L, NULL);
    lira_store_bytes v;
    int64_t at = 0;
    int rc = lira_store_checkpoint_get(s, name, &v, &at);
    if (rc == LIRA_ENOTFOUND)
        return 0;
    if (rc != LIRA_OK)
        return raise_store(L, s);
    push_bytes(L, v);
    lua_pushnumber(L, secs(at));
    return 2;
}

static int l_checkpoint_set(lua_State *L)
{
    const char *name = name_arg(L, 1, "checkpoint_set", "name");
    size_t n;
    const char *v = bytes_arg(L, 2, "checkpoint_set", &n);
    lira_engine *e;
    lira_store *s = store(L, &e);
    if (lira_store_checkpoint_set(s, name, v, n, now_ms(e)) != LIRA_OK)
        return raise_store(L, s);
    return 0;
}

static int l_checkpoint_reset(lua_State *L)
{
    const char *name = name_arg(L, 1, "checkpoint_reset", "name");
    lira_store *s = store(L, NULL);
    if (lira_store_checkpoint_reset(s, name) != LIRA_OK)
        return raise_store(L, s);
    return 0;
}

/* ------------------------------------------------------------------- kv */

/* kv_get(ns, key) -> bytes, expires_at (0 = never) | nil */
static int l_kv_get(lua_State *L)
{
    const char *ns = name_arg(L, 1, "kv_get", "namespace");
    const char *key = name_arg(L, 2, "kv_get", "key");
    lira_engine *e;
    lira_store *s = store(L, &e);
    lira_store_bytes v;
    int64_t exp = 0;
    int rc = lira_store_kv_get(s, ns, key, now_ms(e), &v, &exp);
    if (rc == LIRA_ENOTFOUND)
        return 0;
    if (rc != LIRA_OK)
        return raise_store(L, s);
    push_bytes(L, v);
    lua_pushnumber(L, secs(exp));
    return 2;
}

/* kv_set(ns, key, bytes[, ttl_seconds]) */
static int l_kv_set(lua_State *L)
{
    const char *ns = name_arg(L, 1, "kv_set", "namespace");
    const char *key = name_arg(L, 2, "kv_set", "key");
    size_t n;
    const char *v = bytes_arg(L, 3, "kv_set", &n);
    int64_t ttl = lua_isnoneornil(L, 4) ? 0 : ttl_ms_arg(L, 4, "kv_set");
    lira_engine *e;
    lira_store *s = store(L, &e);
    int64_t now = now_ms(e);
    if (lira_store_kv_set(s, ns, key, v, n, ttl ? now + ttl : 0, now) != LIRA_OK)
        return raise_store(L, s);
    return 0;
}

/* kv_delete(ns, key) -> whether a row was there */
static int l_kv_delete(lua_State *L)
{
    const char *ns = name_arg(L, 1, "kv_delete", "namespace");
    const char *key = name_arg(L, 2, "kv_delete", "key");
    lira_store *s = store(L, NULL);
    int rc = lira_store_kv_delete(s, ns, key);
    if (rc != LIRA_OK && rc != LIRA_ENOTFOUND)
        return raise_store(L, s);
    lua_pushboolean(L, rc == LIRA_OK);
    return 1;
}

/* The list callback runs inside SQLite's step, where a Lua error must not
 * unwind: keys are copied into this box (a userdata, so a later memory
 * error while pushing them leaks nothing) with plain malloc. */
typedef struct key_box {
    char *buf;
    size_t len, cap;
    size_t *offs;
    int n, failed;
} key_box;

static int box_gc(lua_State *L)
{
    key_box *b = luaL_checkudata(L, 1, BOX_MT);
    free(b->buf);
    free(b->offs);
    memset(b, 0, sizeof *b);
    return 0;
}

static int collect_key(void *ud, const lira_store_kv_row *row)
{
    key_box *b = ud;
    size_t n = strlen(row->key) + 1;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        char *p = realloc(b->buf, cap);
        if (!p) {
            b->failed = 1;
            return 1;
        }
        b->buf = p;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, row->key, n);
    b->offs[b->n++] = b->len;
    b->len += n;
    return 0;
}

/* kv_list(ns, prefix, after|nil, limit) -> { keys... } (one page, byte order) */
static int l_kv_list(lua_State *L)
{
    const char *ns = name_arg(L, 1, "kv_list", "namespace");
    const char *prefix = name_arg(L, 2, "kv_list", "prefix");
    const char *after = lua_isnoneornil(L, 3) ? NULL : name_arg(L, 3, "kv_list", "after");
    lua_Integer limit = luaL_checkinteger(L, 4);
    luaL_argcheck(L, limit >= 1 && limit <= LIST_PAGE_MAX, 4, "limit must be 1..1000");
    lira_engine *e;
    lira_store *s = store(L, &e);
    key_box *b = lua_newuserdatauv(L, sizeof *b, 0);
    memset(b, 0, sizeof *b);
    luaL_setmetatable(L, BOX_MT);
    b->offs = malloc((size_t)limit * sizeof *b->offs);
    if (!b->offs)
        return luaL_error(L, "lira: state store: out of memory");
    int rc = lira_store_kv_list(s, ns, prefix, after, (int)limit, now_ms(e), collect_key, b,
                                NULL);
    if (b->failed)
        return luaL_error(L, "lira: state store: out of memory");
    if (rc != LIRA_OK)
        return raise_store(L, s);
    lua_createtable(L, b->n, 0);
    for (int i = 0; i < b->n; i++) {
        lua_pushstring(L, b->buf + b->offs[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* -------------------------------------------------- idempotency journal */

/* idem_key(scope, id, candidate, ttl_seconds)
 *   -> key, created, created_at, expires_at, done */
static int l_idem_key(lua_State *L)
{
    const char *scope = name_arg(L, 1, "idem_key", "scope");
    const char *id = name_arg(L, 2, "idem_key", "id");
    const char *cand = name_arg(L, 3, "idem_key", "candidate");
    int64_t ttl = ttl_ms_arg(L, 4, "idem_key");
    lira_engine *e;
    lira_store *s = store(L, &e);
    lira_store_idem out;
    if (lira_store_idem_get_or_create(s, scope, id, cand, ttl, now_ms(e), &out) != LIRA_OK)
        return raise_store(L, s);
    lua_pushstring(L, out.key);
    lua_pushboolean(L, out.created);
    lua_pushnumber(L, secs(out.created_at_ms));
    lua_pushnumber(L, secs(out.expires_at_ms));
    lua_pushboolean(L, out.done);
    return 5;
}

/* idem_done(scope, id) / idem_forget(scope, id) -> whether the entry was there */
static int idem_op(lua_State *L, const char *fname,
                   int (*op)(lira_store *, const char *, const char *))
{
    const char *scope = name_arg(L, 1, fname, "scope");
    const char *id = name_arg(L, 2, fname, "id");
    lira_store *s = store(L, NULL);
    int rc = op(s, scope, id);
    if (rc != LIRA_OK && rc != LIRA_ENOTFOUND)
        return raise_store(L, s);
    lua_pushboolean(L, rc == LIRA_OK);
    return 1;
}

static int l_idem_done(lua_State *L)
{
    return idem_op(L, "idem_done", lira_store_idem_done);
}

static int l_idem_forget(lua_State *L)
{
    return idem_op(L, "idem_forget", lira_store_idem_forget);
}

/* ------------------------------------------------------ response cache */

/* cache_put(client, method, url, status, headers, body) -> true, or false
 * when the response is over the cache's byte cap (not cached). */
static int l_cache_put(lua_State *L)
{
    const char *client = name_arg(L, 1, "cache_put", "client");
    const char *method = name_arg(L, 2, "cache_put", "method");
    const char *url = name_arg(L, 3, "cache_put", "url");
    lua_Integer status = luaL_checkinteger(L, 4);
    luaL_argcheck(L, status >= 100 && status <= 999, 4, "status must be 100..999");
    size_t hn, bn;
    const char *h = bytes_arg(L, 5, "cache_put", &hn);
    const char *body = bytes_arg(L, 6, "cache_put", &bn);
    lira_engine *e;
    lira_store *s = store(L, &e);
    int rc = lira_store_cache_put(s, client, method, url, (int)status, h, hn, body, bn,
                                  now_ms(e));
    if (rc == LIRA_ETOOBIG) {
        lua_pushboolean(L, 0);
        return 1;
    }
    if (rc != LIRA_OK)
        return raise_store(L, s);
    lua_pushboolean(L, 1);
    return 1;
}

/* cache_get(client, method, url) -> status, headers, body, age_seconds | nil */
static int l_cache_get(lua_State *L)
{
    const char *client = name_arg(L, 1, "cache_get", "client");
    const char *method = name_arg(L, 2, "cache_get", "method");
    const char *url = name_arg(L, 3, "cache_get", "url");
    lira_engine *e;
    lira_store *s = store(L, &e);
    lira_store_cached c;
    int rc = lira_store_cache_get(s, client, method, url, &c);
    if (rc == LIRA_ENOTFOUND)
        return 0;
    if (rc != LIRA_OK)
        return raise_store(L, s);
    int64_t age = now_ms(e) - c.stored_at_ms;
    lua_pushinteger(L, c.status);
    push_bytes(L, c.headers);
    push_bytes(L, c.body);
    lua_pushnumber(L, secs(age > 0 ? age : 0));
    return 4;
}

/* cache_usage(client) -> rows, bytes */
static int l_cache_usage(lua_State *L)
{
    const char *client = name_arg(L, 1, "cache_usage", "client");
    lira_store *s = store(L, NULL);
    int64_t rows = 0, bytes = 0;
    if (lira_store_cache_usage(s, client, &rows, &bytes) != LIRA_OK)
        return raise_store(L, s);
    lua_pushinteger(L, rows);
    lua_pushinteger(L, bytes);
    return 2;
}

/* ------------------------------------------------------------ registration */

static const luaL_Reg store_funcs[] = {
    {"store_open", l_store_open},
    {"store_close", l_store_close},
    {"store_info", l_store_info},
    {"checkpoint_get", l_checkpoint_get},
    {"checkpoint_set", l_checkpoint_set},
    {"checkpoint_reset", l_checkpoint_reset},
    {"kv_get", l_kv_get},
    {"kv_set", l_kv_set},
    {"kv_delete", l_kv_delete},
    {"kv_list", l_kv_list},
    {"idem_key", l_idem_key},
    {"idem_done", l_idem_done},
    {"idem_forget", l_idem_forget},
    {"cache_put", l_cache_put},
    {"cache_get", l_cache_get},
    {"cache_usage", l_cache_usage},
    {NULL, NULL}
};

void lira_lua_open_store(lua_State *L, int mod)
{
    mod = lua_absindex(L, mod);
    if (luaL_newmetatable(L, BOX_MT)) {
        lua_pushcfunction(L, box_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    lua_pushvalue(L, mod);
    luaL_setfuncs(L, store_funcs, 0);
    lua_pop(L, 1);
    lua_pushinteger(L, LIST_PAGE_MAX);
    lua_setfield(L, mod, "store_list_max");
}
