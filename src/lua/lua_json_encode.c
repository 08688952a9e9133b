/* lua_json_encode.c — Lua value -> JSON text (see lua_json.h).
 *
 * Written straight into a buffer on the C stack, moved to a Lua userdata
 * (grown by replacing it in its stack slot) when it outgrows that, so
 * raising mid-way leaks nothing. Not through cJSON's printer: that would
 * cost a tree of mallocs to free on every error, and it prints numbers from
 * a double, losing int64 values above 2^53. */
#include "lua_json.h"

#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#define STR_(x) #x
#define STR(x) STR_(x)
#define DEPTH_TEXT STR(LIRA_JSON_MAX_DEPTH)

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

struct path_part {
    const char *key; /* NULL for an array index */
    size_t klen;
    lua_Integer idx;
};

struct enc {
    lua_State *L;
    char *p; /* the output: the caller's small array, later a userdata at buf_idx */
    size_t len, cap;
    int buf_idx, null_idx, mt_idx;
    int depth;
    struct path_part path[LIRA_JSON_MAX_DEPTH + 1];
    const void *open[LIRA_JSON_MAX_DEPTH + 1]; /* tables being encoded */
};

static void add_path(luaL_Buffer *b, const char *k, size_t n)
{
    int ident = n > 0 && n <= 64 && !is_digit((unsigned char)k[0]);
    for (size_t i = 0; i < n && ident; i++) {
        unsigned char c = (unsigned char)k[i];
        ident = c == '_' || is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    }
    if (ident) {
        luaL_addchar(b, '.');
        luaL_addlstring(b, k, n);
        return;
    }
    luaL_addstring(b, "[\"");
    for (size_t i = 0; i < n && i < 64; i++) {
        unsigned char c = (unsigned char)k[i];
        if (c == '"' || c == '\\') luaL_addchar(b, '\\');
        if (c < 0x20 || c == 0x7f) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\x%02x", c);
            luaL_addstring(b, esc);
        } else {
            luaL_addchar(b, (char)c);
        }
    }
    luaL_addstring(b, n > 64 ? "...\"]" : "\"]");
}

/* Raise "json: <what> at <path of the first n components>". */
static int enc_fail(struct enc *e, int n, const char *what)
{
    lua_State *L = e->L;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "json: ");
    luaL_addstring(&b, what);
    luaL_addstring(&b, n == 0 ? " at the top level" : " at ");
    for (int i = 0; i < n; i++) {
        if (e->path[i].key) {
            add_path(&b, e->path[i].key, e->path[i].klen);
        } else {
            lua_pushfstring(L, "[%I]", (LUAI_UACINT)e->path[i].idx);
            luaL_addvalue(&b);
        }
    }
    luaL_pushresult(&b);
    return lua_error(L);
}

static void reserve(struct enc *e, size_t n)
{
    if (e->cap - e->len >= n) return;
    if (n > SIZE_MAX / 2 - e->len) luaL_error(e->L, "json: output too large");
    size_t cap = e->cap * 2;
    if (cap < e->len + n) cap = e->len + n;
    char *p = lua_newuserdatauv(e->L, cap, 0);
    memcpy(p, e->p, e->len);
    lua_replace(e->L, e->buf_idx); /* the old block becomes garbage */
    e->p = p;
    e->cap = cap;
}

static void put(struct enc *e, const char *s, size_t n)
{
    reserve(e, n);
    memcpy(e->p + e->len, s, n);
    e->len += n;
}

static void put_string(struct enc *e, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    put(e, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        put(e, s + run, i - run);
        run = i + 1;
        char esc[6] = {'\\', (char)c, 0, 0, 0, 0};
        size_t k = 2;
        switch (c) {
        case '"': case '\\': break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            k = 6;
        }
        put(e, esc, k);
    }
    put(e, s + run, n - run);
    put(e, "\"", 1);
}

/* The shortest of %.15g/%.16g/%.17g that reads back to v, written with a
 * '.' whatever the locale, and with ".0" added to an integral value so it
 * decodes as a float again. */
static void put_float(struct enc *e, double v)
{
    char s[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(s, sizeof s, "%.*g", prec, v);
        if (strtod(s, NULL) == v) break;
    }
    char point = localeconv()->decimal_point[0];
    int has_mark = 0;
    for (char *c = s; *c; c++) {
        if (*c == point && point != '.') *c = '.';
        if (*c == '.' || *c == 'e') has_mark = 1;
    }
    put(e, s, strlen(s));
    if (!has_mark) put(e, ".0", 2);
}

static void put_number(struct enc *e, int idx)
{
    lua_State *L = e->L;
    char s[32];
    if (lua_isinteger(L, idx)) {
        int n = snprintf(s, sizeof s, LUA_INTEGER_FMT, (LUAI_UACINT)lua_tointeger(L, idx));
        put(e, s, (size_t)n);
        return;
    }
    double v = (double)lua_tonumber(L, idx);
    if (isnan(v)) enc_fail(e, e->depth, "cannot encode NaN");
    if (isinf(v)) enc_fail(e, e->depth, v > 0 ? "cannot encode inf" : "cannot encode -inf");
    put_float(e, v);
}

static void put_value(struct enc *e, int idx);

/* Counts keys: the table is an array when its keys are exactly 1..n. */
static lua_Integer classify(struct enc *e, int idx, int marked)
{
    lua_State *L = e->L;
    lua_Integer nint = 0, nstr = 0, max = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING) {
            nstr++;
        } else if (lua_isinteger(L, -1)) {
            lua_Integer k = lua_tointeger(L, -1);
            if (k < 1) enc_fail(e, e->depth - 1, "array index below 1 (arrays need keys 1..n)");
            nint++;
            if (k > max) max = k;
        } else {
            const char *t = lua_isnumber(L, -1) ? "float" : luaL_typename(L, -1);
            lua_pushfstring(L, "cannot encode a table with a %s key (keys must be strings, "
                               "or 1..n for an array)", t);
            enc_fail(e, e->depth - 1, lua_tostring(L, -1));
        }
    }
    if (nstr > 0 && (nint > 0 || marked))
        enc_fail(e, e->depth - 1, marked ? "lira.array table has string keys"
                                         : "cannot encode a table mixing string and "
                                           "integer keys");
    if (nint > 0 && max != nint)
        enc_fail(e, e->depth - 1, "cannot encode a sparse array (keys must be 1..n "
                                  "without holes)");
    return nstr > 0 ? -1 : nint;
}

static void put_table(struct enc *e, int idx)
{
    lua_State *L = e->L;
    const void *self = lua_topointer(L, idx);
    if (e->depth == LIRA_JSON_MAX_DEPTH)
        enc_fail(e, e->depth, "nesting deeper than " DEPTH_TEXT);
    for (int i = 0; i < e->depth; i++)
        if (e->open[i] == self) enc_fail(e, e->depth, "cannot encode a cycle");
    luaL_checkstack(L, 6, "json encode");
    int marked = 0;
    if (lua_getmetatable(L, idx)) {
        marked = lua_rawequal(L, -1, e->mt_idx);
        lua_pop(L, 1);
    }
    e->open[e->depth++] = self;
    lua_Integer n = classify(e, idx, marked);
    struct path_part *at = &e->path[e->depth - 1];
    if (n < 0) {
        char sep = '{';
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            at->key = lua_tolstring(L, -2, &at->klen);
            put(e, &sep, 1);
            sep = ',';
            put_string(e, at->key, at->klen);
            put(e, ":", 1);
            put_value(e, lua_gettop(L));
            lua_pop(L, 1);
        }
        put(e, "}", 1);
    } else if (n > 0 || marked) {
        put(e, "[", 1);
        at->key = NULL;
        for (lua_Integer i = 1; i <= n; i++) {
            at->idx = i;
            if (i > 1) put(e, ",", 1);
            lua_rawgeti(L, idx, i);
            put_value(e, lua_gettop(L));
            lua_pop(L, 1);
        }
        put(e, "]", 1);
    } else {
        put(e, "{}", 2);
    }
    e->depth--;
}

static void put_value(struct enc *e, int idx)
{
    lua_State *L = e->L;
    switch (lua_type(L, idx)) {
    case LUA_TNIL: put(e, "null", 4); return;
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, idx)) put(e, "true", 4);
        else put(e, "false", 5);
        return;
    case LUA_TNUMBER: put_number(e, idx); return;
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        put_string(e, s, n);
        return;
    }
    case LUA_TTABLE: put_table(e, idx); return;
    default: break;
    }
    if (lua_rawequal(L, idx, e->null_idx)) {
        put(e, "null", 4);
        return;
    }
    lua_pushfstring(L, "cannot encode a %s", luaL_typename(L, idx));
    enc_fail(e, e->depth, lua_tostring(L, -1));
}

const char *lira_json_encode(lua_State *L, int idx, size_t *len)
{
    /* path[] and open[] (a few KB) live on the C stack: nothing in them
     * needs freeing when we raise. Small outputs stay in `small`; a larger
     * one moves to a userdata in the slot reserved below. */
    struct enc e;
    char small[512];
    idx = lua_absindex(L, idx);
    luaL_checkstack(L, 8, "json encode");
    e.L = L;
    e.p = small;
    e.len = 0;
    e.cap = sizeof small;
    e.depth = 0;
    lua_pushnil(L);
    e.buf_idx = lua_gettop(L);
    lira_json_push_null(L);
    e.null_idx = lua_gettop(L);
    luaL_newmetatable(L, LIRA_JSON_ARRAY_MT);
    e.mt_idx = lua_gettop(L);
    put_value(&e, idx);
    lua_pushlstring(L, e.p, e.len);
    lua_replace(L, e.buf_idx);
    lua_settop(L, e.buf_idx);
    return lua_tolstring(L, -1, len);
}
