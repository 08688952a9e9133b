/* lua_json.c — JSON text -> Lua values, lira.null, lira.array and the Lua
 * functions (see lua_json.h; encoding is in lua_json_encode.c).
 *
 * Valid text is decoded in one pass by lua_json_decode.c; what it refuses
 * comes here, to the checked path, which finds and words the error (and
 * would decode anything the fast pass wrongly refused). The checked path
 * is three linear passes over the text: a lexical check (cJSON is
 * lenient about numbers, whitespace and string contents, and recurses to
 * depth 1000 before it says no), cJSON's parse (structure, escapes,
 * surrogates), then the walk that builds Lua values. The walk keeps a cursor
 * in the text: cJSON's tree is in document order, so the n-th string or
 * number node is the n-th string or number token. The token gives what cJSON
 * loses: the exact digits of an integer (cJSON keeps a double) and the
 * length of a string holding \u0000 (cJSON keeps a C string). */
#include "lua_json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <lauxlib.h>

#include "status.h"

#define TREE_MT "lira.json.tree"

/* Registry key of lira.null: the address of this object is unique. */
static const char null_key = 0;

/* ------------------------------------------------------------ sentinels --- */

static int null_tostring(lua_State *L)
{
    lua_pushliteral(L, "lira.null");
    return 1;
}

void lira_json_push_null(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &null_key) != LUA_TNIL)
        return;
    lua_pop(L, 1);
    lua_newuserdatauv(L, 0, 0);
    if (luaL_newmetatable(L, LIRA_JSON_NULL_MT)) {
        lua_pushcfunction(L, null_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable"); /* nobody swaps its identity */
    }
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &null_key);
}

int lira_json_is_null(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    lira_json_push_null(L);
    int is = lua_rawequal(L, idx, -1);
    lua_pop(L, 1);
    return is;
}

static void push_array_mt(lua_State *L)
{
    luaL_newmetatable(L, LIRA_JSON_ARRAY_MT); /* sets __name; no-op if made */
}

/* ---------------------------------------------------- the lexical check --- */

struct lex {
    const unsigned char *b;
    size_t len, i;
    char *err;
    size_t errcap;
    int open; /* containers still open at the end of the text */
};

static int lex_fail(struct lex *x, int status, size_t at, const char *why)
{
    if (x->err && x->errcap > 0)
        snprintf(x->err, x->errcap, "json decode error at byte %zu: %s", at, why);
    return status;
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static int is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static int hex_value(unsigned char c)
{
    if (is_digit(c)) return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* RFC 8259 number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int lex_number(struct lex *x)
{
    const unsigned char *b = x->b;
    size_t i = x->i, n = x->len;
    if (b[i] == '-') i++;
    if (i == n || !is_digit(b[i]))
        return lex_fail(x, LIRA_EPARSE, i, "digit expected in number");
    if (b[i] == '0' && i + 1 < n && is_digit(b[i + 1]))
        return lex_fail(x, LIRA_EPARSE, i, "leading zero in number");
    while (i < n && is_digit(b[i])) i++;
    if (i < n && b[i] == '.') {
        if (++i == n || !is_digit(b[i]))
            return lex_fail(x, LIRA_EPARSE, i, "digit expected after '.' in number");
        while (i < n && is_digit(b[i])) i++;
    }
    if (i < n && (b[i] == 'e' || b[i] == 'E')) {
        if (++i < n && (b[i] == '+' || b[i] == '-')) i++;
        if (i == n || !is_digit(b[i]))
            return lex_fail(x, LIRA_EPARSE, i, "digit expected in exponent");
        while (i < n && is_digit(b[i])) i++;
    }
    x->i = i;
    return LIRA_OK;
}

/* The code unit of a "\\u" escape (four hex digits) at b[i], or -1 when there is none. */
static long lex_hex4(const unsigned char *b, size_t i, size_t n)
{
    long v = 0;
    if (i + 6 > n || b[i] != '\\' || b[i + 1] != 'u') return -1;
    for (size_t k = 2; k < 6; k++) {
        int h = hex_value(b[i + k]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

static int lex_string(struct lex *x)
{
    const unsigned char *b = x->b;
    size_t i = x->i + 1, n = x->len;
    char why[64];
    while (i < n) {
        unsigned char c = b[i];
        if (c == '"') {
            x->i = i + 1;
            return LIRA_OK;
        }
        if (c < 0x20) {
            snprintf(why, sizeof why, "unescaped control character 0x%02x in string", c);
            return lex_fail(x, LIRA_EPARSE, i, why);
        }
        if (c != '\\') {
            i++;
            continue;
        }
        if (i + 1 == n) break;
        c = b[i + 1];
        if (c == 'u') {
            long cp = lex_hex4(b, i, n), lo;
            if (cp < 0) return lex_fail(x, LIRA_EPARSE, i, "\\u needs four hex digits");
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return lex_fail(x, LIRA_EPARSE, i, "lone low surrogate in \\u escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                lo = lex_hex4(b, i + 6, n);
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return lex_fail(x, LIRA_EPARSE, i, "high surrogate in \\u escape "
                                                       "not followed by a low one");
                i += 6;
            }
            i += 6;
        } else if (strchr("\"\\/bfnrt", c) && c != 0) {
            i += 2;
        } else {
            return lex_fail(x, LIRA_EPARSE, i, "invalid escape in string");
        }
    }
    return lex_fail(x, LIRA_EPARSE, n, "unterminated string");
}

/* Token-level validity plus the depth limit; structure is cJSON's job. */
static int lex_check(struct lex *x)
{
    int depth = 0, rc;
    char why[64];
    while (x->i < x->len) {
        unsigned char c = x->b[x->i];
        if (c == '"') {
            if ((rc = lex_string(x)) != LIRA_OK) return rc;
        } else if (c == '-' || is_digit(c)) {
            if ((rc = lex_number(x)) != LIRA_OK) return rc;
        } else if (c == '[' || c == '{') {
            if (++depth > LIRA_JSON_MAX_DEPTH) {
                snprintf(why, sizeof why, "nesting deeper than %d", LIRA_JSON_MAX_DEPTH);
                return lex_fail(x, LIRA_ETOOBIG, x->i, why);
            }
            x->i++;
        } else if (c == ']' || c == '}') {
            if (depth > 0) depth--;
            x->i++;
        } else if (c < 0x20 && !is_space(c)) {
            snprintf(why, sizeof why, "unexpected byte 0x%02x", c);
            return lex_fail(x, LIRA_EPARSE, x->i, why);
        } else {
            x->i++; /* whitespace, , : and letters: cJSON judges them */
        }
    }
    x->open = depth;
    return LIRA_OK;
}

/* ------------------------------------------------ the cJSON -> Lua walk --- */

struct walk {
    lua_State *L;
    const unsigned char *p, *end; /* the token cursor */
    int null_idx, mt_idx;
};

/* Advance to the next string or number token. Returns '"' (s..s+n is the
 * text between the quotes, *escaped says whether it holds a backslash),
 * '0' for a number, or 0 when the text runs out (never, on checked text). */
static int next_token(struct walk *w, const unsigned char **s, size_t *n, int *escaped)
{
    const unsigned char *p = w->p, *end = w->end;
    while (p < end && *p != '"' && *p != '-' && !is_digit(*p)) p++;
    if (p == end) return 0;
    if (*p == '"') {
        const unsigned char *start = ++p;
        int esc = 0;
        while (p < end && *p != '"') {
            if (*p == '\\') {
                esc = 1;
                p++;
            }
            p++;
        }
        if (p >= end) return 0;
        *s = start;
        *n = (size_t)(p - start);
        *escaped = esc;
        w->p = p + 1;
        return '"';
    }
    const unsigned char *start = p;
    while (p < end && (is_digit(*p) || *p == '-' || *p == '+' || *p == '.' || *p == 'e' ||
                       *p == 'E'))
        p++;
    *s = start;
    *n = (size_t)(p - start);
    w->p = p;
    return '0';
}

/* Bytes cJSON wrote for the escaped token s..s+n (checked, accepted text):
 * lets a string holding \u0000 keep its full length. */
static size_t decoded_length(const unsigned char *s, size_t n)
{
    size_t out = 0, i = 0;
    while (i < n) {
        if (s[i] != '\\') {
            out++, i++;
        } else if (s[i + 1] != 'u') {
            out++, i += 2;
        } else {
            unsigned cp = 0;
            for (size_t k = 2; k < 6; k++) cp = cp * 16 + (unsigned)hex_value(s[i + k]);
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                out += 4, i += 12; /* cJSON refuses an unpaired surrogate */
            } else {
                out += cp < 0x80 ? 1 : cp < 0x800 ? 2 : 3;
                i += 6;
            }
        }
    }
    return out;
}

static int push_string(struct walk *w, const char *decoded)
{
    const unsigned char *s;
    size_t n;
    int esc = 0;
    if (next_token(w, &s, &n, &esc) != '"' || decoded == NULL) return LIRA_EPARSE;
    if (!esc)
        lua_pushlstring(w->L, (const char *)s, n);
    else
        lua_pushlstring(w->L, decoded, decoded_length(s, n));
    return LIRA_OK;
}

/* An integer token that fits int64 becomes a Lua integer, exactly. */
static int token_integer(const unsigned char *s, size_t n, lua_Integer *out)
{
    int neg = n > 0 && s[0] == '-';
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
    for (size_t i = (size_t)neg; i < n; i++) {
        if (!is_digit(s[i])) return 0;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (limit - d) / 10) return 0;
        v = v * 10 + d;
    }
    *out = neg ? (lua_Integer)(0 - v) : (lua_Integer)v;
    return 1;
}

static int push_number(struct walk *w, const cJSON *it)
{
    const unsigned char *s;
    size_t n;
    int esc;
    lua_Integer v;
    if (next_token(w, &s, &n, &esc) != '0') return LIRA_EPARSE;
    if (token_integer(s, n, &v))
        lua_pushinteger(w->L, v);
    else
        lua_pushnumber(w->L, (lua_Number)it->valuedouble);
    return LIRA_OK;
}

static int push_item(struct walk *w, const cJSON *it);

static int push_container(struct walk *w, const cJSON *it, int is_array)
{
    lua_State *L = w->L;
    int n = 0, rc;
    for (const cJSON *c = it->child; c; c = c->next) n++;
    luaL_checkstack(L, 4, "json: nesting too deep");
    lua_createtable(L, is_array ? n : 0, is_array ? 0 : n);
    lua_Integer i = 0;
    for (const cJSON *c = it->child; c; c = c->next) {
        if (is_array) {
            if ((rc = push_item(w, c)) != LIRA_OK) return rc;
            lua_rawseti(L, -2, ++i);
        } else {
            if ((rc = push_string(w, c->string)) != LIRA_OK) return rc;
            if ((rc = push_item(w, c)) != LIRA_OK) return rc;
            lua_rawset(L, -3); /* a repeated key: the last one wins */
        }
    }
    if (is_array) {
        lua_pushvalue(L, w->mt_idx);
        lua_setmetatable(L, -2);
    }
    return LIRA_OK;
}

static int push_item(struct walk *w, const cJSON *it)
{
    switch (it->type & 0xFF) {
    case cJSON_False: lua_pushboolean(w->L, 0); return LIRA_OK;
    case cJSON_True: lua_pushboolean(w->L, 1); return LIRA_OK;
    case cJSON_NULL: lua_pushvalue(w->L, w->null_idx); return LIRA_OK;
    case cJSON_Number: return push_number(w, it);
    case cJSON_String: return push_string(w, it->valuestring);
    case cJSON_Array: return push_container(w, it, 1);
    case cJSON_Object: return push_container(w, it, 0);
    default: return LIRA_EPARSE;
    }
}

/* ------------------------------------------------------------- decoding --- */

static int tree_gc(lua_State *L)
{
    cJSON **box = luaL_checkudata(L, 1, TREE_MT);
    cJSON_Delete(*box);
    *box = NULL;
    return 0;
}

static cJSON **push_tree_box(lua_State *L)
{
    cJSON **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = NULL; /* born empty: a failed parse leaves nothing to free */
    if (luaL_newmetatable(L, TREE_MT)) {
        lua_pushcfunction(L, tree_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return box;
}

/* cJSON's error position is near the fault, not always on it (for "[1,2"
 * it points at the 2), hence "near", plus a word when the text was cut. */
static int cjson_failure(struct lex *x, const char *end)
{
    size_t at = end ? (size_t)((const unsigned char *)end - x->b) : 0;
    char near[16], why[96];
    while (at < x->len && is_space(x->b[at])) at++;
    if (at >= x->len)
        return lex_fail(x, LIRA_EPARSE, x->len, "unexpected end of input");
    unsigned char c = x->b[at];
    if (c > 0x20 && c < 0x7f)
        snprintf(near, sizeof near, "'%c'", c);
    else
        snprintf(near, sizeof near, "byte 0x%02x", c);
    if (x->open > 0)
        snprintf(why, sizeof why, "syntax error near %s (the input ends inside %d unclosed "
                 "array or object%s)", near, x->open, x->open > 1 ? "s" : "");
    else
        snprintf(why, sizeof why, "syntax error near %s", near);
    return lex_fail(x, LIRA_EPARSE, at, why);
}

/* The checked path: lexical pass, cJSON, walk. */
static int checked_decode(lua_State *L, const char *buf, size_t len, char *err, size_t errcap)
{
    struct lex x = {(const unsigned char *)buf, len, 0, err, errcap, 0};
    if (err && errcap > 0) err[0] = '\0';
    if (buf == NULL && len > 0) return lex_fail(&x, LIRA_EINVAL, 0, "no buffer");
    if (buf == NULL) {
        buf = "";
        x.b = (const unsigned char *)buf;
    }
    int rc = lex_check(&x);
    if (rc != LIRA_OK) return rc;

    luaL_checkstack(L, 8, "json decode");
    cJSON **box = push_tree_box(L);
    const char *end = NULL;
    *box = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    if (*box == NULL) {
        lua_pop(L, 1);
        return cjson_failure(&x, end);
    }
    size_t at = (size_t)((const unsigned char *)end - x.b);
    while (at < len && is_space(x.b[at])) at++;
    if (at < len) {
        lua_pop(L, 1); /* the box's __gc frees the tree */
        return lex_fail(&x, LIRA_EPARSE, at, "trailing characters after the JSON value");
    }

    lira_json_push_null(L);
    push_array_mt(L);
    struct walk w = {L, x.b, x.b + len, lua_gettop(L) - 1, lua_gettop(L)};
    rc = push_item(&w, *box);
    cJSON_Delete(*box);
    *box = NULL;
    if (rc != LIRA_OK) {
        lua_settop(L, w.null_idx - 2);
        return lex_fail(&x, LIRA_EPARSE, (size_t)(w.p - x.b), "internal token mismatch");
    }
    lua_replace(L, w.null_idx - 1); /* the value takes the box's slot */
    lua_pop(L, 2);
    return LIRA_OK;
}

int lira_json_push_decode(lua_State *L, const char *buf, size_t len,
                          char *err, size_t errcap)
{
    if (buf && lira__json_decode_fast(L, buf, len) == LIRA_OK) {
        if (err && errcap > 0) err[0] = '\0';
        return LIRA_OK;
    }
    return checked_decode(L, buf, len, err, errcap);
}

void lira_json_decode_or_raise(lua_State *L, const char *buf, size_t len)
{
    char err[160];
    if (lira_json_push_decode(L, buf, len, err, sizeof err) != LIRA_OK) {
        lua_pushstring(L, err);
        lua_error(L);
    }
}

/* ------------------------------------------------------ Lua functions --- */

static int l_json_decode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    lira_json_decode_or_raise(L, s, n);
    return 1;
}

/* core._json_decode_checked(s) — INTERNAL, for tests: the checked path
 * alone, so a spec can hold the one-pass decoder to the same results. */
static int l_json_decode_checked(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    char err[160];
    if (checked_decode(L, s, n, err, sizeof err) != LIRA_OK) {
        lua_pushstring(L, err);
        return lua_error(L);
    }
    return 1;
}

static int l_json_encode(lua_State *L)
{
    luaL_checkany(L, 1);
    lira_json_encode(L, 1, NULL);
    return 1;
}

/* lira.array() -> new empty array; lira.array(t) marks t and returns it. */
static int l_array(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    } else {
        luaL_checktype(L, 1, LUA_TTABLE);
        lua_settop(L, 1);
    }
    push_array_mt(L);
    if (lua_getmetatable(L, 1)) {
        if (!lua_rawequal(L, -1, -2))
            return luaL_argerror(L, 1, "table already has a metatable");
        lua_pop(L, 2);
        return 1;
    }
    lua_setmetatable(L, 1);
    return 1;
}

void lira_lua_json_open(lua_State *L, int module_index)
{
    module_index = lua_absindex(L, module_index);
    lua_pushcfunction(L, l_json_decode);
    lua_setfield(L, module_index, "json_decode");
    lua_pushcfunction(L, l_json_decode_checked);
    lua_setfield(L, module_index, "_json_decode_checked");
    lua_pushcfunction(L, l_json_encode);
    lua_setfield(L, module_index, "json_encode");
    lua_pushcfunction(L, l_array);
    lua_setfield(L, module_index, "array");
    lira_json_push_null(L);
    lua_setfield(L, module_index, "null");
}
