/* lua_json_decode.c — the one-pass JSON decoder behind res:json().
 *
 * lua_json.c's checked path (a lexical pass, cJSON's tree, then a walk
 * that turns the tree into Lua values) costs three passes and one malloc
 * per JSON value; for a 200-byte API answer that was most of a request's
 * decoding time. This decoder reads the text once, straight into Lua
 * values, and accepts exactly what the checked path accepts: RFC 8259 text
 * of at most LIRA_JSON_MAX_DEPTH levels, surrounded by space/tab/CR/LF,
 * after an optional UTF-8 BOM (only in texts of 5+ bytes, as cJSON reads
 * it), with numbers of at most 63 characters (cJSON reads no more).
 *
 * It never explains a failure: on anything it does not accept it returns
 * LIRA_EPARSE with the stack as it found it, and the caller runs the
 * checked path, whose messages (byte offsets, cJSON's "near" positions)
 * are the documented ones. Nothing here allocates outside Lua, so a Lua
 * memory error mid-way leaks nothing.
 *
 * Object keys repeat: within a body (an array of records) and from one
 * body of an API to the next. Short plain keys come from a per-state cache
 * (KEY_SLOTS strings, direct-mapped, kept alive by a table in the
 * registry), so a repeated key costs a compare and an array read instead
 * of Lua's hashing and interning in lua_pushlstring. */
#include <locale.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "lua_json.h"
#include "status.h"

/* Values of a container collected on the stack before they are stored, so
 * that most tables are created at their final size (no rehash). */
#define BATCH 32
#define MAX_NUMBER 63

/* The key cache: KEY_SLOTS entries (a power of two) of keys up to KEY_MAX
 * bytes; slot i's Lua string is at [i + 1] of the table that is the
 * cache userdata's user value. */
#define KEY_SLOTS 256
#define KEY_MAX   24

typedef struct key_cache {
    unsigned char len[KEY_SLOTS];         /* 0: empty (the empty key is not cached) */
    char bytes[KEY_SLOTS][KEY_MAX];
} key_cache;

static const char cache_key = 'k';      /* its address keys the registry */

/* 1 for a byte a string's plain run goes on over: not a quote, not a
 * backslash, not a control character (one load and test per byte). */
#define R16(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v
static const unsigned char plain[256] = {
    R16(0), R16(0),
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,   /* 0x20: '"' at 0x22 */
    R16(1), R16(1),
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,   /* 0x50: '\\' at 0x5C */
    R16(1), R16(1), R16(1), R16(1), R16(1), R16(1), R16(1), R16(1), R16(1), R16(1),
};
#undef R16

typedef struct dec {
    lua_State *L;
    const unsigned char *p, *end;
    int null_idx, mt_idx, keys_idx;     /* keys_idx: the cache's string table */
    key_cache *keys;
} dec;

static int dec_value(dec *d, int depth);

static void skip_ws(dec *d)
{
    const unsigned char *p = d->p, *end = d->end;
    if (p < end && *p > ' ')
        return;   /* compact JSON: no space between tokens */
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    d->p = p;
}

static int hex4(const unsigned char *s, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned c = s[k], h;
        if (c >= '0' && c <= '9')
            h = c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            h = (c | 0x20) - 'a' + 10;
        else
            return 0;
        v = v * 16 + h;
    }
    *out = v;
    return 1;
}

static void add_utf8(luaL_Buffer *b, unsigned long cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12)), u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18)), u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
    }
    luaL_addlstring(b, u, n);
}

/* One escape at d->p (just past the backslash) into b. */
static int dec_escape(dec *d, luaL_Buffer *b)
{
    const unsigned char *p = d->p;
    if (p >= d->end)
        return LIRA_EPARSE;
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *hit = *p ? strchr(from, *p) : NULL;
    if (hit) {
        luaL_addchar(b, to[hit - from]);
        d->p = p + 1;
        return LIRA_OK;
    }
    unsigned hi, lo;
    if (*p != 'u' || d->end - p < 5 || !hex4(p + 1, &hi) || (hi >= 0xDC00 && hi <= 0xDFFF))
        return LIRA_EPARSE;
    p += 5;
    unsigned long cp = hi;
    if (hi >= 0xD800 && hi <= 0xDBFF) {
        if (d->end - p < 6 || p[0] != '\\' || p[1] != 'u' || !hex4(p + 2, &lo) ||
            lo < 0xDC00 || lo > 0xDFFF)
            return LIRA_EPARSE;
        cp = 0x10000 + (((unsigned long)hi - 0xD800) << 10) + (lo - 0xDC00);
        p += 6;
    }
    add_utf8(b, cp);
    d->p = p;
    return LIRA_OK;
}

/* A string at d->p (on the opening quote), pushed. */
static int dec_string(dec *d)
{
    const unsigned char *start = d->p + 1, *p = start, *end = d->end;
    while (p < end && plain[*p])
        p++;
    if (p < end && *p == '"') {   /* the common case: nothing to unescape */
        lua_pushlstring(d->L, (const char *)start, (size_t)(p - start));
        d->p = p + 1;
        return LIRA_OK;
    }
    luaL_Buffer b;
    luaL_buffinit(d->L, &b);
    luaL_addlstring(&b, (const char *)start, (size_t)(p - start));
    while (p < end && *p != '"') {
        if (*p < 0x20)
            return LIRA_EPARSE;   /* the buffer's stack slot goes with the caller's settop */
        if (*p == '\\') {
            d->p = p + 1;
            if (dec_escape(d, &b) != LIRA_OK)
                return LIRA_EPARSE;
            p = d->p;
            continue;
        }
        const unsigned char *run = p;
        while (p < end && plain[*p])
            p++;
        luaL_addlstring(&b, (const char *)run, (size_t)(p - run));
    }
    if (p >= end)
        return LIRA_EPARSE;
    luaL_pushresult(&b);
    d->p = p + 1;
    return LIRA_OK;
}

/* Keys are short: a byte loop beats a call to memcmp. */
static int same_bytes(const char *a, const unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)a[i] != b[i])
            return 0;
    return 1;
}

static unsigned key_slot(const unsigned char *s, size_t n)
{
    unsigned h = (unsigned)n * 0x9E37u ^ s[0] * 0x3Bu ^ s[n - 1] * 0x7Fu ^ s[n >> 1] * 0x1F1u;
    return (h ^ (h >> 8)) & (KEY_SLOTS - 1);
}

/* An object key at d->p (on the opening quote), pushed: from the cache
 * when it is there, else as dec_string reads it (and cached when short
 * and plain). *slot gets its cache slot, or -1 for a key not cached. */
static int dec_key(dec *d, int *slot_out)
{
    *slot_out = -1;
    const unsigned char *start = d->p + 1, *p = start, *end = d->end;
    const unsigned char *stop = end - start > KEY_MAX ? start + KEY_MAX + 1 : end;
    while (p < stop && plain[*p])
        p++;
    size_t n = (size_t)(p - start);
    if (p >= end || *p != '"' || n == 0 || n > KEY_MAX)
        return dec_string(d);
    key_cache *kc = d->keys;
    unsigned slot = key_slot(start, n);
    if (kc->len[slot] == n && same_bytes(kc->bytes[slot], start, n)) {
        lua_rawgeti(d->L, d->keys_idx, (lua_Integer)slot + 1);
    } else {
        lua_pushlstring(d->L, (const char *)start, n);
        lua_pushvalue(d->L, -1);
        lua_rawseti(d->L, d->keys_idx, (lua_Integer)slot + 1);
        kc->len[slot] = (unsigned char)n;
        memcpy(kc->bytes[slot], start, n);
    }
    *slot_out = (int)slot;
    d->p = p + 1;
    return LIRA_OK;
}

/* RFC 8259 number; an integer token that fits int64 becomes an integer,
 * anything else a float through strtod (as cJSON, with the C locale's
 * decimal point). */
static int dec_number(dec *d)
{
    const unsigned char *s = d->p, *p = s, *end = d->end;
    int neg = 0, is_int = 1;
    if (*p == '-')
        neg = 1, p++;
    if (p == end || *p < '0' || *p > '9' || (*p == '0' && p + 1 < end && p[1] >= '0' &&
                                             p[1] <= '9'))
        return LIRA_EPARSE;
    uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    const unsigned char *digits = p;
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        unsigned dg = (unsigned)(*p - '0');
        if (p - digits < 18)   /* below 10^18: cannot pass int64, no check */
            v = v * 10 + dg;
        else if (v > (limit - dg) / 10)
            is_int = 0;
        else
            v = v * 10 + dg;
    }
    if (p < end && *p == '.') {
        is_int = 0;
        if (++p == end || *p < '0' || *p > '9')
            return LIRA_EPARSE;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        is_int = 0;
        if (++p < end && (*p == '+' || *p == '-'))
            p++;
        if (p == end || *p < '0' || *p > '9')
            return LIRA_EPARSE;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    size_t n = (size_t)(p - s);
    if (n > MAX_NUMBER)
        return LIRA_EPARSE;
    d->p = p;
    if (is_int) {
        lua_pushinteger(d->L, neg ? (lua_Integer)(0 - v) : (lua_Integer)v);
        return LIRA_OK;
    }
    char tmp[MAX_NUMBER + 1];
    char point = localeconv()->decimal_point[0];
    for (size_t i = 0; i < n; i++)
        tmp[i] = s[i] == '.' ? point : (char)s[i];
    tmp[n] = '\0';
    lua_pushnumber(d->L, (lua_Number)strtod(tmp, NULL));
    return LIRA_OK;
}

/* Store the `pending` values (arrays) or key/value pairs (objects) above
 * the container's slot (base + 1: a nil placeholder until the first flush
 * creates the table there, sized for what is pending; lua_replace, not a
 * rotation of everything pending) and pop them. Pairs whose keys are known
 * distinct (!in_order) are stored from the top down, each lua_rawset
 * popping its own pair; otherwise in order, so that a repeated key's last
 * value wins. */
static void flush(dec *d, int is_array, int base, int *tbl, int pending, lua_Integer *n,
                  int in_order)
{
    lua_State *L = d->L;
    if (!*tbl) {
        lua_createtable(L, is_array ? pending : 0, is_array ? 0 : pending);
        lua_replace(L, base + 1);
        *tbl = base + 1;
    }
    if (is_array) {
        for (int i = pending; i > 0; i--)
            lua_rawseti(L, *tbl, *n + i);   /* pops the top: the last value first */
        *n += pending;
        return;
    }
    if (!in_order) {
        for (int i = 0; i < pending; i++)
            lua_rawset(L, *tbl);
        return;
    }
    for (int i = 0; i < pending; i++) {     /* in order: a repeated key's last value wins */
        lua_pushvalue(L, *tbl + 1 + 2 * i);
        lua_pushvalue(L, *tbl + 2 + 2 * i);
        lua_rawset(L, *tbl);
    }
    lua_settop(L, *tbl);
}

/* An array or object at d->p (on the opening bracket), pushed. */
static int dec_container(dec *d, int depth)
{
    lua_State *L = d->L;
    int is_array = *d->p == '[';
    unsigned char close = is_array ? ']' : '}';
    if (depth > LIRA_JSON_MAX_DEPTH)
        return LIRA_EPARSE;
    luaL_checkstack(L, 2 * BATCH + 8, "json: nesting too deep");
    int base = lua_gettop(L), tbl = 0, pending = 0;
    /* an object's pending keys: their cache slots (a slot seen twice may be
     * the same key), and whether some key was not cached */
    uint64_t seen[KEY_SLOTS / 64] = {0};
    int in_order = 0;
    lua_pushnil(L);   /* the table's slot */
    lua_Integer n = 0;
    d->p++;
    skip_ws(d);
    if (d->p < d->end && *d->p == close) {
        d->p++;
    } else {
        for (;;) {
            if (!is_array) {
                int slot;
                if (d->p >= d->end || *d->p != '"' || dec_key(d, &slot) != LIRA_OK)
                    return LIRA_EPARSE;
                if (slot < 0 || (seen[slot >> 6] >> (slot & 63) & 1))
                    in_order = 1;
                else
                    seen[slot >> 6] |= (uint64_t)1 << (slot & 63);
                skip_ws(d);
                if (d->p >= d->end || *d->p != ':')
                    return LIRA_EPARSE;
                d->p++;
            }
            if (dec_value(d, depth) != LIRA_OK)
                return LIRA_EPARSE;
            if (++pending == BATCH) {
                flush(d, is_array, base, &tbl, pending, &n, in_order);
                pending = 0;
                memset(seen, 0, sizeof seen);
                in_order = 0;
            }
            if (d->p >= d->end)
                return LIRA_EPARSE;
            unsigned char c = *d->p++;
            if (c == close)
                break;
            if (c != ',')
                return LIRA_EPARSE;
        }
    }
    if (pending || !tbl)
        flush(d, is_array, base, &tbl, pending, &n, in_order);
    if (is_array) {
        lua_pushvalue(L, d->mt_idx);
        lua_setmetatable(L, -2);
    }
    return LIRA_OK;
}

/* A value with the whitespace around it; `depth` counts open containers. */
static int dec_value(dec *d, int depth)
{
    skip_ws(d);
    if (d->p >= d->end)
        return LIRA_EPARSE;
    const unsigned char *p = d->p;
    size_t left = (size_t)(d->end - p);
    int rc = LIRA_OK;
    switch (*p) {
    case '{': case '[':
        rc = dec_container(d, depth + 1);
        break;
    case '"':
        rc = dec_string(d);
        break;
    case 't':
        if (left < 4 || memcmp(p, "true", 4) != 0)
            return LIRA_EPARSE;
        lua_pushboolean(d->L, 1);
        d->p += 4;
        break;
    case 'f':
        if (left < 5 || memcmp(p, "false", 5) != 0)
            return LIRA_EPARSE;
        lua_pushboolean(d->L, 0);
        d->p += 5;
        break;
    case 'n':
        if (left < 4 || memcmp(p, "null", 4) != 0)
            return LIRA_EPARSE;
        lua_pushvalue(d->L, d->null_idx);
        d->p += 4;
        break;
    default:
        if (*p != '-' && (*p < '0' || *p > '9'))
            return LIRA_EPARSE;
        rc = dec_number(d);
        break;
    }
    if (rc == LIRA_OK)
        skip_ws(d);
    return rc;
}

/* Push the state's key cache's string table; returns the cache. Made on
 * first use: a full userdata in the registry with the table as its user
 * value (sized so a slot's rawseti never resizes it). */
static key_cache *push_key_cache(lua_State *L)
{
    key_cache *kc;
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &cache_key) == LUA_TUSERDATA) {
        kc = lua_touserdata(L, -1);
        lua_getiuservalue(L, -1, 1);
    } else {
        lua_pop(L, 1);
        kc = lua_newuserdatauv(L, sizeof *kc, 1);
        memset(kc->len, 0, sizeof kc->len);
        lua_createtable(L, KEY_SLOTS, 0);
        lua_pushvalue(L, -1);
        lua_setiuservalue(L, -3, 1);
        lua_rotate(L, -2, 1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &cache_key);
        return kc;
    }
    lua_remove(L, -2);
    return kc;
}

int lira__json_decode_fast(lua_State *L, const char *buf, size_t len)
{
    if (!buf)
        return LIRA_EPARSE;
    luaL_checkstack(L, 2 * BATCH + 8, "json decode");
    int top = lua_gettop(L);
    lira_json_push_null(L);
    luaL_newmetatable(L, LIRA_JSON_ARRAY_MT);
    key_cache *kc = push_key_cache(L);
    dec d = {L, (const unsigned char *)buf, (const unsigned char *)buf + len,
             top + 1, top + 2, top + 3, kc};
    if (len >= 5 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        d.p += 3;
    if (dec_value(&d, 0) != LIRA_OK || d.p != d.end) {
        lua_settop(L, top);
        return LIRA_EPARSE;
    }
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
    return LIRA_OK;
}
