/* lua_json.h — JSON <-> Lua values, for the binding (res:json(), json= bodies).
 *
 * Decoding reads valid text in one pass straight into Lua values
 * (lua_json_decode.c). Text that pass does not accept goes through the
 * checked path, which explains the failure: a strict lexical pass of our
 * own that rejects what cJSON alone lets through (leading zeros, "1.", raw
 * control characters in strings, bad \u escapes, NUL or form feed as
 * whitespace) and enforces the depth limit before cJSON recurses, then
 * cJSON. Both accept exactly the same texts. Encoding writes straight
 * into a Lua-owned buffer, so a Lua error mid-way leaks nothing and int64
 * integers are written exactly (cJSON keeps numbers as double).
 *
 * The mapping (docs/json.md has the full text):
 *   object <-> table with string keys      array <-> sequence 1..n, no holes
 *   null   <-> lira.null (one full userdata per Lua state)
 *   number without '.'/exponent that fits int64 <-> Lua integer; else float
 *   string <-> Lua string (raw bytes; \u escapes decoded to UTF-8)
 * Decoded arrays carry the lira.array metatable so [] round-trips; an
 * unmarked empty table encodes as {}. */
#ifndef LIRA_LUA_JSON_H
#define LIRA_LUA_JSON_H

#include <stddef.h>

#include <lua.h>

/* Containers nested deeper than this are refused, decoding and encoding:
 * "[[1]]" has depth 2. Real API bodies stay far below; C recursion stays
 * bounded. */
#define LIRA_JSON_MAX_DEPTH 200

/* Registry/metatable names (luaL_getmetatable). */
#define LIRA_JSON_ARRAY_MT "lira.array"
#define LIRA_JSON_NULL_MT  "lira.null"

/* Decode exactly `len` bytes of `buf` (need not be NUL-terminated; leading
 * UTF-8 BOM and surrounding space/tab/CR/LF allowed) and push the value.
 * Returns LIRA_OK with one value pushed, or pushes nothing and returns
 *   LIRA_EPARSE  malformed text (err: "json decode error at byte N: why",
 *                N = 0-based offset of the offending byte),
 *   LIRA_ETOOBIG nesting deeper than LIRA_JSON_MAX_DEPTH,
 *   LIRA_EINVAL  buf NULL with len > 0.
 * err (may be NULL) receives a NUL-terminated message, truncated to errcap.
 * Raises only on a Lua memory error; the cJSON tree is owned by a Lua value
 * meanwhile, so nothing leaks. */
int lira_json_push_decode(lua_State *L, const char *buf, size_t len,
                          char *err, size_t errcap);

/* The one-pass decoder alone (internal to lua_json*.c): LIRA_OK with the
 * value pushed, or LIRA_EPARSE with nothing pushed for any text it does not
 * accept (no message: lira_json_push_decode then runs the checked path).
 * Raises only on a Lua memory error. */
int lira__json_decode_fast(lua_State *L, const char *buf, size_t len);

/* As lira_json_push_decode, but raises the message as a Lua error: the
 * shape res:json() and json_decode() want. Always pushes one value. */
void lira_json_decode_or_raise(lua_State *L, const char *buf, size_t len);

/* Encode the value at `idx` (compact, no spaces) and push the result as a
 * Lua string; returns its bytes (valid while that string stays on the
 * stack) and stores the length in *len when len is not NULL. Raises a Lua
 * error naming the path for what JSON cannot hold, e.g.
 *   "json: cannot encode a function at .items[3].cb"
 * (functions, threads, userdata other than lira.null, NaN/inf, cycles,
 * non-string keys in objects, sparse or mixed tables, depth). Object key
 * order is that of lua_next (unspecified). */
const char *lira_json_encode(lua_State *L, int idx, size_t *len);

/* Push lira.null (created on first use; the same value for the whole
 * state). */
void lira_json_push_null(lua_State *L);

/* 1 when the value at idx is lira.null, else 0. */
int lira_json_is_null(lua_State *L, int idx);

/* Set json_decode, json_encode, null and array on the table at
 * module_index (the lira.core module table). */
void lira_lua_json_open(lua_State *L, int module_index);

#endif
