/* lua_request_build.c — the bytes of one request, built into the client's
 * reused scratch buffer (lc_client.scratch) for lua_request.c: the URL
 * (template, RFC 3986 escaping, sorted query), the header lines (defaults,
 * per-call overrides, X-Request-Id, the idempotency key) and the body.
 * Kept apart from the options and the call itself, but every byte-level
 * helper stays here, static, next to the loops that call it per character:
 * this runs once per request on the hot path. No allocation once the
 * scratch arrays have grown to size; a Lua error mid-build leaks nothing
 * because the client owns the buffers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lua_json.h"
#include "lua_request_impl.h"

#define MAX_CALL_HEADERS 100

/* ------------------------------------------------------------ buffer */

void lc_buf_free(lc_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static void buf_reserve(lua_State *L, lc_buf *b, size_t extra)
{
    if (b->len + extra <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + extra)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        luaL_error(L, "lira.client: out of memory");
    b->p = p;
    b->cap = cap;
}

static void buf_add(lua_State *L, lc_buf *b, const char *s, size_t n)
{
    buf_reserve(L, b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void buf_addc(lua_State *L, lc_buf *b, char ch)
{
    buf_reserve(L, b, 1);
    b->p[b->len++] = ch;
}

/* RFC 3986: unreserved characters stay, every other byte is %XX. */
static void buf_escape(lua_State *L, lc_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    buf_reserve(L, b, n * 3);
    char *o = b->p + b->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            *o++ = (char)ch;
        } else {
            *o++ = '%';
            *o++ = hex[ch >> 4];
            *o++ = hex[ch & 15];
        }
    }
    b->len = (size_t)(o - b->p);
}

/* The text of a scalar (string, number, boolean) at idx, or NULL. Numbers
 * are written without Lua's ".0" (42.0 -> "42"). */
static const char *scalar_text(lua_State *L, int idx, char *tmp, size_t cap, size_t *n)
{
    switch (lua_type(L, idx)) {
    case LUA_TSTRING:
        return lua_tolstring(L, idx, n);
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx))
            *n = (size_t)snprintf(tmp, cap, "%lld", (long long)lua_tointeger(L, idx));
        else
            *n = (size_t)snprintf(tmp, cap, "%.14g", (double)lua_tonumber(L, idx));
        return tmp;
    case LUA_TBOOLEAN:
        *n = lua_toboolean(L, idx) ? 4 : 5;
        return lua_toboolean(L, idx) ? "true" : "false";
    default:
        return NULL;
    }
}

static void names_reserve(lua_State *L, lc_client *c, size_t n)
{
    if (n <= c->names_cap)
        return;
    size_t cap = c->names_cap ? c->names_cap * 2 : 16;
    while (cap < n)
        cap *= 2;
    const char **names = realloc((void *)c->names, cap * sizeof *names);
    if (!names)
        luaL_error(L, "lira.client: out of memory");
    c->names = names;
    size_t *lens = realloc(c->name_len, cap * sizeof *lens);
    if (!lens)
        luaL_error(L, "lira.client: out of memory");
    c->name_len = lens;
    c->names_cap = cap;
}

/* ------------------------------------------------------------ the URL */

static void fill_template(lua_State *L, lc_client *c, const char *path, size_t plen,
                          int params, const char *fname)
{
    lc_buf *b = &c->scratch;
    char tmp[64];
    for (size_t i = 0; i < plen;) {
        if (path[i] != '{') {   /* a run of literal text, copied at once */
            size_t j = i;
            for (; j < plen && path[j] != '{'; j++) {
                unsigned char ch = (unsigned char)path[j];
                if (ch <= ' ' || ch == 0x7f)
                    lc_argerror(L, ARG_PATH, fname, "path must not contain spaces or control "
                                "characters");
            }
            buf_add(L, b, path + i, j - i);
            i = j;
            continue;
        }
        const char *end = memchr(path + i + 1, '}', plen - i - 1);
        if (!end)
            lc_argerror(L, ARG_PATH, fname, "path has a '{' without '}'");
        size_t nlen = (size_t)(end - (path + i + 1));
        if (!params)
            lc_argerror(L, ARG_OPTS, fname, "options.params.%.*s is missing (path %s)",
                        (int)nlen, path + i + 1, path);
        lua_pushlstring(L, path + i + 1, nlen);
        lua_rawget(L, params);
        size_t vlen;
        const char *v = lua_type(L, -1) == LUA_TBOOLEAN ? NULL
                        : scalar_text(L, -1, tmp, sizeof tmp, &vlen);
        if (!v)
            lc_argerror(L, ARG_OPTS, fname, lua_isnil(L, -1)
                        ? "options.params.%.*s is missing (path %s)"
                        : "options.params.%.*s must be a string or a number (path %s)",
                        (int)nlen, path + i + 1, path);
        buf_escape(L, b, v, vlen);
        lua_pop(L, 1);
        i = (size_t)(end - path) + 1;
    }
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void add_pair(lua_State *L, lc_client *c, const char *k, size_t klen, int idx,
                     int *sep, const char *fname)
{
    char tmp[64];
    size_t vlen;
    const char *v = scalar_text(L, idx, tmp, sizeof tmp, &vlen);
    if (!v)
        lc_argerror(L, ARG_OPTS, fname, "options.query.%s must be a string, number, boolean "
                    "or an array of them", k);
    buf_addc(L, &c->scratch, (char)*sep);
    *sep = '&';
    buf_escape(L, &c->scratch, k, klen);
    buf_addc(L, &c->scratch, '=');
    buf_escape(L, &c->scratch, v, vlen);
}

static void encode_query(lua_State *L, lc_client *c, int q, int sep, const char *fname)
{
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, q)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            lc_argerror(L, ARG_OPTS, fname, "options.query keys must be strings");
        names_reserve(L, c, n + 1);
        c->names[n] = lua_tolstring(L, -1, &c->name_len[n]);   /* anchored by q */
        n++;
    }
    if (n > 1)
        qsort((void *)c->names, n, sizeof *c->names, cmp_keys);
    for (size_t i = 0; i < n; i++) {
        const char *k = c->names[i];
        size_t klen = strlen(k);
        lua_getfield(L, q, k);
        if (lua_type(L, -1) == LUA_TTABLE) {
            lua_Integer len = (lua_Integer)lua_rawlen(L, -1);
            for (lua_Integer j = 1; j <= len; j++) {
                lua_rawgeti(L, -1, j);
                add_pair(L, c, k, klen, -1, &sep, fname);
                lua_pop(L, 1);
            }
        } else {
            add_pair(L, c, k, klen, -1, &sep, fname);
        }
        lua_pop(L, 1);
    }
}

size_t lira__req_build_url(lua_State *L, lc_client *c, const char *path, size_t plen,
                           int params, int query, const char *fname)
{
    c->scratch.len = 0;
    if (params && !lua_istable(L, params))
        lc_argerror(L, ARG_OPTS, fname, "options.params must be a table");
    int absolute = strncmp(path, "http://", 7) == 0 || strncmp(path, "https://", 8) == 0;
    if (!absolute) {
        if (plen > 0 && path[0] != '/' && path[0] != '?')
            lc_argerror(L, ARG_PATH, fname, "path must start with '/' (got '%s')", path);
        buf_add(L, &c->scratch, c->base, c->base_len);
    }
    fill_template(L, c, path, plen, params, fname);
    if (query) {
        if (!lua_istable(L, query))
            lc_argerror(L, ARG_OPTS, fname, "options.query must be a table");
        encode_query(L, c, query, memchr(path, '?', plen) ? '&' : '?', fname);
    }
    buf_addc(L, &c->scratch, '\0');
    return c->scratch.len - 1;
}

/* ------------------------------------------------------------ headers */

static void offs_reserve(lua_State *L, lc_client *c, size_t n)
{
    if (n + 1 <= c->hdrs_cap)
        return;
    size_t cap = c->hdrs_cap ? c->hdrs_cap * 2 : 32;
    while (cap < n + 1)
        cap *= 2;
    size_t *offs = realloc(c->offs, cap * sizeof *offs);
    if (!offs)
        luaL_error(L, "lira.client: out of memory");
    c->offs = offs;
    const char **h = realloc((void *)c->hdrs, cap * sizeof *h);
    if (!h)
        luaL_error(L, "lira.client: out of memory");
    c->hdrs = h;
    c->hdrs_cap = cap;
}

static void add_line(lua_State *L, lc_client *c, lira__req_hdrs *hs, const char *n, size_t nl,
                     const char *v, size_t vl)
{
    offs_reserve(L, c, hs->nlines + 1);
    c->offs[hs->nlines++] = c->scratch.len;
    buf_reserve(L, &c->scratch, nl + vl + 3);
    buf_add(L, &c->scratch, n, nl);
    buf_add(L, &c->scratch, ": ", 2);
    buf_add(L, &c->scratch, v, vl);
    buf_addc(L, &c->scratch, '\0');
}

static int name_is(const char *n, size_t nl, const char *want)
{
    return strlen(want) == nl && strncasecmp(n, want, nl) == 0;
}

/* Collect the per-call header names (validated) into c->names; returns how
 * many. A false value removes a default header. */
static size_t scan_call_headers(lua_State *L, lc_client *c, int h, lira__req_hdrs *hs,
                                const char *fname)
{
    if (!lua_istable(L, h))
        lc_argerror(L, ARG_OPTS, fname, "options.headers must be a table");
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, h)) {
        size_t nl, vl = 0;
        if (lua_type(L, -2) != LUA_TSTRING)
            lc_argerror(L, ARG_OPTS, fname, "options.headers keys must be header names");
        const char *name = lua_tolstring(L, -2, &nl);
        if (!lc_valid_header_name(name, nl))
            lc_argerror(L, ARG_OPTS, fname, "options.headers: '%s' is not a valid header name",
                        name);
        int ty = lua_type(L, -1);
        if (ty == LUA_TSTRING || ty == LUA_TNUMBER) {
            lua_pushvalue(L, -1);
            const char *v = lua_tolstring(L, -1, &vl);
            if (!lc_valid_header_value(v, vl))
                lc_argerror(L, ARG_OPTS, fname, "options.headers.%s must not contain CR, LF "
                            "or NUL", name);
            lua_pop(L, 1);
        } else if (!(ty == LUA_TBOOLEAN && !lua_toboolean(L, -1))) {
            lc_argerror(L, ARG_OPTS, fname, "options.headers.%s must be a string, a number "
                        "or false", name);
        }
        if (++n > MAX_CALL_HEADERS)
            lc_argerror(L, ARG_OPTS, fname, "options.headers has more than %d headers",
                        MAX_CALL_HEADERS);
        names_reserve(L, c, n);
        c->names[n - 1] = name;
        c->name_len[n - 1] = nl;
        lua_pop(L, 1);
    }
    (void)hs;
    return n;
}

void lira__req_build_headers(lua_State *L, lc_client *c, int h, lira__req_hdrs *hs,
                             const char *fname)
{
    size_t ncall = h ? scan_call_headers(L, c, h, hs, fname) : 0;
    for (size_t i = 0; i < c->nlines; i++) {
        const char *line = c->lines[i];
        size_t nl = c->name_lens[i];
        int overridden = 0;
        for (size_t j = 0; j < ncall && !overridden; j++)
            overridden = c->name_len[j] == nl && strncasecmp(c->names[j], line, nl) == 0;
        if (overridden)
            continue;
        if (name_is(line, nl, c->idem_header))
            hs->has_idem = 1;
        if (name_is(line, nl, "Content-Type"))
            hs->has_content_type = 1;
        offs_reserve(L, c, hs->nlines + 1);
        c->offs[hs->nlines++] = SIZE_MAX - i;   /* a default line, by index */
    }
    for (size_t j = 0; j < ncall; j++) {
        const char *n = c->names[j];
        size_t nl = c->name_len[j], vl;
        lua_getfield(L, h, n);
        if (lua_type(L, -1) == LUA_TBOOLEAN) {
            lua_pop(L, 1);
            continue;
        }
        const char *v = lua_tolstring(L, -1, &vl);   /* a number becomes a string: fine */
        if (name_is(n, nl, "X-Request-Id")) {
            hs->request_id = v;
            hs->request_id_len = vl;
        }
        if (name_is(n, nl, c->idem_header))
            hs->has_idem = 1;
        if (name_is(n, nl, "Content-Type"))
            hs->has_content_type = 1;
        add_line(L, c, hs, n, nl, v, vl);
        lua_pop(L, 1);   /* the value stays anchored in h */
    }
}

/* ------------------------------------------------------------ generated headers, body */

void lira__req_add_generated(lua_State *L, lc_client *c, lira__req_hdrs *hs, int idem,
                             char *rid, int *has_key, const char *fname)
{
    lira_rng *rng = lira_engine_rng(c->engine);
    if (hs->request_id) {
        snprintf(rid, LIRA_UUID_STR_SIZE + 64, "%.*s", (int)hs->request_id_len,
                 hs->request_id);
    } else {
        lira_uuid4(rng, rid, LIRA_UUID_STR_SIZE);
        add_line(L, c, hs, "X-Request-Id", 12, rid, LIRA_UUID_STR_SIZE - 1);
    }
    *has_key = hs->has_idem;
    if (!idem)
        return;
    if (lua_type(L, idem) == LUA_TSTRING) {
        size_t kl;
        const char *key = lua_tolstring(L, idem, &kl);
        if (kl == 0 || !lc_valid_header_value(key, kl))
            lc_argerror(L, ARG_OPTS, fname, "options.idempotency_key must be a non-empty "
                        "string without CR, LF or NUL, or true");
        add_line(L, c, hs, c->idem_header, strlen(c->idem_header), key, kl);
        *has_key = 1;
    } else if (lua_isboolean(L, idem)) {
        if (!lua_toboolean(L, idem))
            return;
        char key[LIRA_UUID_STR_SIZE];
        lira_uuid4(rng, key, sizeof key);
        add_line(L, c, hs, c->idem_header, strlen(c->idem_header), key, sizeof key - 1);
        *has_key = 1;
    } else {
        lc_argerror(L, ARG_OPTS, fname, "options.idempotency_key must be a string or true");
    }
}

const void *lira__req_build_body(lua_State *L, lc_client *c, lira__req_hdrs *hs, int json,
                                 int body, size_t *len, const char *fname)
{
    *len = 0;
    if (json && body)
        lc_argerror(L, ARG_OPTS, fname, "options.json and options.body cannot both be given");
    if (body) {
        if (lua_type(L, body) != LUA_TSTRING)
            lc_argerror(L, ARG_OPTS, fname, "options.body must be a string");
        return lua_tolstring(L, body, len);
    }
    if (!json)
        return NULL;
    const char *s = lira_json_encode(L, json, len);
    lua_replace(L, json);   /* keep the encoded string anchored in its slot */
    if (!hs->has_content_type)
        add_line(L, c, hs, "Content-Type", 12, "application/json", 16);
    return s;
}

/* The scratch buffer no longer moves: turn offsets into pointers. */
const char **lira__req_header_array(lua_State *L, lc_client *c, const lira__req_hdrs *hs)
{
    offs_reserve(L, c, hs->nlines + 1);
    for (size_t i = 0; i < hs->nlines; i++)
        c->hdrs[i] = c->offs[i] >= c->scratch.len ? c->lines[SIZE_MAX - c->offs[i]]
                                                   : c->scratch.p + c->offs[i];
    c->hdrs[hs->nlines] = NULL;
    return c->hdrs;
}
