/* lua_log.c — lira.log: structured log lines from Lua through the engine's
 * telemetry hub (telemetry.h, docs/observability.md).
 *
 *   lira.log.info("message", { order = 42, ok = true })  -- also debug/warn/error
 *   lira.log.context{ correlation_id = "sync-7" }        -- carried by later lines/calls
 *   lira.log.configure{ level = "debug", file = path, format = "text", deny = {...},
 *                       flush_ms = 20 }
 *
 * Fields are a flat table: string keys, values string/number/boolean.
 * Nested tables are refused: redaction works by key, and a nested table's
 * keys would escape it. Keys are written sorted, so lines are stable. */
#include <stdlib.h>
#include <string.h>

#include "binding.h"
#include "lua_trace.h"
#include "status.h"
#include "telemetry.h"

#define MAX_FIELDS 64
#define MAX_KEY 128

static const char *const reserved[] = {"ts", "level", "msg", "correlation_id", "trace_id",
                                       "span_id", "suppressed", "truncated"};

static lira_telemetry *hub(lua_State *L)
{
    lira_telemetry *t = NULL;
    int rc = lira_telemetry_get(lira_lua_engine(L), &t);
    if (rc != LIRA_OK)
        luaL_error(L, "lira.log: cannot set up logging: %s", lira_strerror(rc));
    return t;
}

static int cmp_field(const void *a, const void *b)
{
    return strcmp(((const lira_log_field *)a)->key, ((const lira_log_field *)b)->key);
}

static void check_key(lua_State *L, const char *fname, const char *k, size_t kl)
{
    if (kl == 0 || kl > MAX_KEY || strlen(k) != kl)
        luaL_error(L, "bad argument #2 to '%s' (field names must be 1..%d bytes without NUL)",
                   fname, MAX_KEY);
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strcmp(k, reserved[i]) == 0)
            luaL_error(L, "bad argument #2 to '%s' (fields.%s is reserved)", fname, k);
}

/* Read the fields table at index 2 into f (strings stay anchored by it). */
static size_t read_fields(lua_State *L, const char *fname, lira_log_field *f)
{
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "bad argument #2 to '%s' (field names must be strings)", fname);
        if (n == MAX_FIELDS)
            luaL_error(L, "bad argument #2 to '%s' (at most %d fields)", fname, MAX_FIELDS);
        size_t kl;
        const char *k = lua_tolstring(L, -2, &kl);
        check_key(L, fname, k, kl);
        lira_log_field *x = &f[n++];
        memset(x, 0, sizeof *x);
        x->key = k;
        switch (lua_type(L, -1)) {
        case LUA_TSTRING:
            x->type = LIRA_LOGF_STR;
            x->s = lua_tolstring(L, -1, &x->len);
            break;
        case LUA_TBOOLEAN:
            x->type = LIRA_LOGF_BOOL;
            x->i = lua_toboolean(L, -1);
            break;
        case LUA_TNUMBER:
            if (lua_isinteger(L, -1)) {
                x->type = LIRA_LOGF_INT;
                x->i = (int64_t)lua_tointeger(L, -1);
            } else {
                x->type = LIRA_LOGF_NUM;
                x->d = lua_tonumber(L, -1);
            }
            break;
        default:
            luaL_error(L, "bad argument #2 to '%s' (fields.%s must be a string, number or "
                       "boolean, not a %s: log flat fields)", fname, k, luaL_typename(L, -1));
        }
        lua_pop(L, 1);
    }
    qsort(f, n, sizeof *f, cmp_field);
    return n;
}

static int log_at(lua_State *L, lira_log_level lv, const char *fname)
{
    if (lua_type(L, 1) != LUA_TSTRING)
        return luaL_error(L, "bad argument #1 to '%s' (message must be a string)", fname);
    if (!lua_isnoneornil(L, 2) && !lua_istable(L, 2))
        return luaL_error(L, "bad argument #2 to '%s' (fields must be a table)", fname);
    lira_telemetry *t = hub(L);
    if (!lira_log_enabled(lira_telemetry_log(t), lv)) {
        lua_pushboolean(L, 0);
        return 1;
    }
    lira_log_field f[MAX_FIELDS];
    size_t n = lua_istable(L, 2) ? read_fields(L, fname, f) : 0;
    lira_engine *e = lira_lua_engine(L);
    int pushed = lira_lua_trace_enter(L);   /* the line carries this coroutine's span */
    int rc = lira_telemetry_log_user(t, lv, lua_tostring(L, 1), f, n, lira_engine_now(e),
                                     lira_engine_wall(e));
    lira_lua_trace_leave(L, pushed);
    lua_pushboolean(L, rc == LIRA_OK);
    return 1;
}

static int l_debug(lua_State *L) { return log_at(L, LIRA_LOG_DEBUG, "debug"); }
static int l_info(lua_State *L) { return log_at(L, LIRA_LOG_INFO, "info"); }
static int l_warn(lua_State *L) { return log_at(L, LIRA_LOG_WARN, "warn"); }
static int l_error(lua_State *L) { return log_at(L, LIRA_LOG_ERROR, "error"); }

/* context{correlation_id = s|nil} sets; context() reads. Returns the
 * context as it is after the call. */
static int l_context(lua_State *L)
{
    lira_telemetry *t = hub(L);
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        lua_pushnil(L);
        while (lua_next(L, 1)) {
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
            if (strcmp(k, "correlation_id") != 0)
                return luaL_error(L, "bad argument #1 to 'context' (unknown key '%s')", k);
            lua_pop(L, 1);
        }
        lua_getfield(L, 1, "correlation_id");
        size_t len = 0;
        const char *id = lua_isnil(L, -1) ? NULL : lua_tolstring(L, -1, &len);
        if ((!id && !lua_isnil(L, -1)) || lua_type(L, -1) == LUA_TNUMBER ||
            len >= LIRA_TEL_ID_MAX || (id && strlen(id) != len))
            return luaL_error(L, "bad argument #1 to 'context' (correlation_id must be a "
                              "string of at most %d bytes, or nil)", LIRA_TEL_ID_MAX - 1);
        lira_telemetry_set_correlation_id(t, id);
        lua_pop(L, 1);
    }
    lua_createtable(L, 0, 1);
    const char *cid = lira_telemetry_correlation_id(t);
    if (*cid) {
        lua_pushstring(L, cid);
        lua_setfield(L, -2, "correlation_id");
    }
    return 1;
}

/* level() reads; level("warn") sets. */
static int l_level(lua_State *L)
{
    lira_log *lg = lira_telemetry_log(hub(L));
    if (!lua_isnoneornil(L, 1)) {
        lira_log_level lv;
        if (lira_log_level_parse(luaL_checkstring(L, 1), &lv) != LIRA_OK)
            return luaL_error(L, "bad argument #1 to 'level' (debug, info, warn, error or off)");
        lira_log_set_level(lg, lv);
    }
    lua_pushstring(L, lira_log_level_name(lira_log_get_level(lg)));
    return 1;
}

static const char *opt_string(lua_State *L, const char *key)
{
    lua_getfield(L, 1, key);
    const char *s = NULL;
    if (lua_type(L, -1) == LUA_TSTRING)
        s = lua_tostring(L, -1);
    else if (!lua_isnil(L, -1))
        luaL_error(L, "bad argument #1 to 'configure' (%s must be a string)", key);
    lua_pop(L, 1);   /* still anchored by the options table */
    return s;
}

static void configure_options(lua_State *L, lira_log_options *o, const char **deny)
{
    static const char *const keys[] = {"level", "file", "format", "deny", "flush_ms", NULL};
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
        int known = 0;
        for (int i = 0; keys[i]; i++)
            known |= strcmp(k, keys[i]) == 0;
        if (!known)
            luaL_error(L, "bad argument #1 to 'configure' (unknown key '%s')", k);
        lua_pop(L, 1);
    }
    const char *lv = opt_string(L, "level"), *fmt = opt_string(L, "format");
    if (lv && lira_log_level_parse(lv, &o->level) != LIRA_OK)
        luaL_error(L, "bad argument #1 to 'configure' (level: debug, info, warn, error or off)");
    if (fmt && strcmp(fmt, "json") && strcmp(fmt, "text"))
        luaL_error(L, "bad argument #1 to 'configure' (format: json or text)");
    if (fmt)
        o->format = strcmp(fmt, "text") == 0 ? LIRA_LOG_TEXT : LIRA_LOG_JSON;
    o->path = opt_string(L, "file");
    if (!o->path)
        o->fd = 2;
    lua_getfield(L, 1, "flush_ms");
    if (!lua_isnil(L, -1)) {
        lua_Number ms = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : -1;
        if (!(ms >= 0 && ms <= LIRA_LOG_MAX_FLUSH_MS))
            luaL_error(L, "bad argument #1 to 'configure' (flush_ms must be a number of "
                          "milliseconds from 0 to %d)", LIRA_LOG_MAX_FLUSH_MS);
        o->flush_ns = (int64_t)(ms * 1e6);
    }
    lua_pop(L, 1);
    lua_getfield(L, 1, "deny");
    if (lua_istable(L, -1)) {
        size_t n = lua_rawlen(L, -1);
        if (n > LIRA_LOG_MAX_DENY)
            luaL_error(L, "bad argument #1 to 'configure' (deny: at most %d names)",
                       LIRA_LOG_MAX_DENY);
        for (size_t i = 0; i < n; i++) {
            lua_rawgeti(L, -1, (lua_Integer)i + 1);
            if (lua_type(L, -1) != LUA_TSTRING || lua_rawlen(L, -1) == 0)
                luaL_error(L, "bad argument #1 to 'configure' (deny[%d] must be a header name)",
                           (int)i + 1);
            deny[i] = lua_tostring(L, -1);
            lua_pop(L, 1);   /* anchored by the deny table */
        }
        o->deny = deny;
        o->ndeny = n;
    } else if (!lua_isnil(L, -1)) {
        luaL_error(L, "bad argument #1 to 'configure' (deny must be a list of header names)");
    }
    lua_pop(L, 1);
}

/* configure{...}: a new log from the environment's defaults plus these
 * settings replaces the engine's. Returns true, or nil, message. */
static int l_configure(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lira_telemetry *t = hub(L);
    lira_log_options o;
    lira_log_options_from_env(&o);
    const char *deny[LIRA_LOG_MAX_DENY];
    configure_options(L, &o, deny);
    lira_log *lg = NULL;
    int rc = lira_log_new(&o, &lg);
    if (rc != LIRA_OK) {
        lua_pushnil(L);
        lua_pushfstring(L, "cannot open the log%s%s: %s", o.path ? " " : "",
                        o.path ? o.path : "", lira_strerror(rc));
        return 2;
    }
    lira_telemetry_set_log(t, lg);
    lua_pushboolean(L, 1);
    return 1;
}

/* reopen(): after logrotate. true, or nil, message. */
static int l_reopen(lua_State *L)
{
    int rc = lira_log_reopen(lira_telemetry_log(hub(L)));
    if (rc == LIRA_OK) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushnil(L);
    lua_pushstring(L, lira_strerror(rc));
    return 2;
}

void lira_lua_open_log(lua_State *L, int mod)
{
    static const luaL_Reg fns[] = {
        {"debug", l_debug}, {"info", l_info}, {"warn", l_warn}, {"error", l_error},
        {"context", l_context}, {"level", l_level}, {"configure", l_configure},
        {"reopen", l_reopen}, {NULL, NULL},
    };
    luaL_newlib(L, fns);
    lua_setfield(L, mod, "log");
}
