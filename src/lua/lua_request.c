/* lua_request.c — cclient:request(method, path, opts, fname): the per-call
 * path. One Lua->C call builds the URL (template, RFC 3986 escaping, sorted
 * query), the header lines and the body into the client's reused scratch
 * buffer, starts the engine pipeline (call.h, which copies the spec) and
 * waits through the binding's wait protocol. Per call, the only C
 * allocation is the lc_call record; no Lua callback runs unless the user
 * configured one (retry.on, breaker.failure). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lua_client.h"
#include "lua_json.h"
#include "lua_trace.h"
#include "status.h"

#define ARG_METHOD 2
#define ARG_PATH 2
#define ARG_OPTS 3
#define MAX_CALL_HEADERS 100

enum { O_PARAMS, O_QUERY, O_HEADERS, O_JSON, O_BODY, O_TIMEOUT, O_RETRY, O_IDEM, O_DEADLINE,
       O_COUNT };
static const char *const opt_names[O_COUNT] = {
    "params", "query", "headers", "json", "body", "timeout", "retry", "idempotency_key",
    "deadline"
};

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
        unsigned char ch = (unsigned char)path[i];
        if (ch != '{') {
            if (ch <= ' ' || ch == 0x7f)
                lc_argerror(L, ARG_PATH, fname, "path must not contain spaces or control "
                            "characters");
            buf_addc(L, b, (char)ch);
            i++;
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

static size_t build_url(lua_State *L, lc_client *c, const char *path, size_t plen,
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

typedef struct hdr_state {
    size_t nlines;               /* offsets collected in c->offs */
    int has_content_type, has_idem;
    const char *request_id;      /* per-call X-Request-Id, if any */
    size_t request_id_len;
} hdr_state;

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

static void add_line(lua_State *L, lc_client *c, hdr_state *hs, const char *n, size_t nl,
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
static size_t scan_call_headers(lua_State *L, lc_client *c, int h, hdr_state *hs,
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

static void build_headers(lua_State *L, lc_client *c, int h, hdr_state *hs, const char *fname)
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

/* ------------------------------------------------------------ options */

static void collect_opts(lua_State *L, int slots, const char *fname)
{
    lua_pushnil(L);
    while (lua_next(L, ARG_OPTS + 1)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            lc_argerror(L, ARG_OPTS, fname, "options keys must be strings");
        const char *k = lua_tostring(L, -2);
        int i = 0;
        while (i < O_COUNT && strcmp(k, opt_names[i]) != 0)
            i++;
        if (i == O_COUNT)
            lc_argerror(L, ARG_OPTS, fname, "unknown option '%s'", k);
        lua_replace(L, slots + i);
    }
}

static void check_keys(lua_State *L, int t, const char *const *allowed, const char *prefix,
                       const char *fname)
{
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        int ok = 0;
        for (int i = 0; k && allowed[i] && !ok; i++)
            ok = strcmp(k, allowed[i]) == 0;
        if (!ok)
            lc_argerror(L, ARG_OPTS, fname, "unknown option %s%s", prefix,
                        k ? k : "(not a string)");
    }
}

static void apply_timeouts(lua_State *L, lc_client *c, int t, lira_call_spec *s,
                           int64_t *deadline_rel, const char *fname)
{
    s->req.connect_timeout_ns = c->connect_ns;
    s->read_timeout_ns = c->read_ns;
    *deadline_rel = c->deadline_ns;
    if (!t)
        return;
    static const char *const keys[] = {"connect", "read", "deadline", NULL};
    if (!lua_istable(L, t))
        lc_argerror(L, ARG_OPTS, fname, "options.timeout must be a table");
    check_keys(L, t, keys, "timeout.", fname);
    char who[96];
    snprintf(who, sizeof who, "bad argument #%d to '%s' (options.timeout.", ARG_OPTS, fname);
    s->req.connect_timeout_ns = lc_seconds_to_ns(
        lc_field_num(L, t, who, "connect", (double)c->connect_ns / LC_NS_PER_S, 0, 1));
    s->read_timeout_ns = lc_seconds_to_ns(
        lc_field_num(L, t, who, "read", (double)c->read_ns / LC_NS_PER_S, 0, 1));
    lua_getfield(L, t, "deadline");
    int has = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (has)
        *deadline_rel = lc_seconds_to_ns(lc_field_num(L, t, who, "deadline", 0, 0, 1));
}

/* Returns the per-call retry.on ref, or LUA_NOREF. */
static int apply_retry(lua_State *L, lc_client *c, int t, lira_call_spec *s, const char *fname)
{
    s->retry = c->retry;
    if (!t)
        return LUA_NOREF;
    if (lua_isboolean(L, t)) {
        if (lua_toboolean(L, t))
            lc_argerror(L, ARG_OPTS, fname, "options.retry must be a table or false");
        s->retry.attempts = 1;
        return LUA_NOREF;
    }
    if (!lua_istable(L, t))
        lc_argerror(L, ARG_OPTS, fname, "options.retry must be a table or false");
    static const char *const keys[] = {"attempts", "base", "cap", "jitter", "max_elapsed",
                                       "on", NULL};
    check_keys(L, t, keys, "retry.", fname);
    char who[96];
    snprintf(who, sizeof who, "bad argument #%d to '%s' (options.retry.", ARG_OPTS, fname);
    if (s->retry.attempts < 1)
        s->retry.attempts = 1;
    if (!lc_parse_retry(L, t, who, &s->retry))
        return LUA_NOREF;
    if (!c->hookL) {
        c->hookL = lua_newthread(L);
        c->thread_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

static int64_t apply_deadline(lua_State *L, lc_client *c, int d, int64_t rel, const char *fname)
{
    if (d) {
        int isnum = 0;
        lua_Number v = lua_tonumberx(L, d, &isnum);
        if (!isnum || lua_type(L, d) != LUA_TNUMBER || !(v > 0))
            lc_argerror(L, ARG_OPTS, fname, "options.deadline must be a lira.now() time "
                        "(seconds)");
        int64_t ns = lc_seconds_to_ns(v);
        return ns > 0 ? ns : 1;
    }
    if (rel <= 0)
        return 0;
    int64_t now = lira_engine_now(c->engine);
    return rel > INT64_MAX - now ? 0 : now + rel;
}

/* ------------------------------------------------------------ the call */

static void on_done(void *ud, lira_call_result *r)
{
    lc_call *k = ud;
    k->call = NULL;
    k->res = r->res;
    r->res = NULL;
    k->kind = r->kind;
    k->retryable = r->retryable;
    k->attempts = r->attempts;
    k->status = r->status;
    k->elapsed_ns = r->elapsed_ns;
    k->retry_after_ns = r->retry_after_ns;
    memcpy(k->message, r->message, sizeof k->message);
    k->message[sizeof k->message - 1] = '\0';
    lira_wait_complete(k->w, lc_push_call, lc_free_call, k);
}

static void cancel_call(void *op)
{
    lc_call *k = op;
    if (k->call)
        lira_call_cancel(k->call);
}

static lc_call *new_record(const char *method, size_t mlen, const char *url, size_t ulen,
                           const char *tmpl, size_t tlen)
{
    size_t size = sizeof(lc_call) + mlen + ulen + tlen + 3;
    lc_call *k = malloc(size);
    if (!k)
        return NULL;
    memset(k, 0, sizeof *k);
    k->size = size;
    k->on_ref = LUA_NOREF;
    char *p = k->tail;
    memcpy(p, method, mlen + 1);
    k->method = p;
    p += mlen + 1;
    memcpy(p, url, ulen + 1);
    k->url = p;
    p += ulen + 1;
    memcpy(p, tmpl, tlen);
    p[tlen] = '\0';
    k->endpoint = p;
    return k;
}

static const char *check_method(lua_State *L, size_t *mlen, const char *fname)
{
    const char *m = lua_type(L, 2) == LUA_TSTRING ? lua_tolstring(L, 2, mlen) : NULL;
    int ok = m && *mlen > 0 && *mlen <= 16;
    for (size_t i = 0; ok && i < *mlen; i++)
        ok = (m[i] >= 'A' && m[i] <= 'Z');
    if (!ok)
        lc_argerror(L, ARG_METHOD, fname, "method must be an upper-case HTTP method name");
    return m;
}

static void add_generated(lua_State *L, lc_client *c, hdr_state *hs, int idem, char *rid,
                          int *has_key, const char *fname)
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

static const void *build_body(lua_State *L, lc_client *c, hdr_state *hs, int json, int body,
                              size_t *len, const char *fname)
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

int lc_client_request(lua_State *L)
{
    lc_client *c = lc_check_client(L, 1);
    const char *fname = luaL_optstring(L, 5, "request");
    size_t mlen, plen;
    const char *method = check_method(L, &mlen, fname);
    if (lua_type(L, 3) != LUA_TSTRING)
        lc_argerror(L, ARG_PATH, fname, "path must be a string");
    const char *path = lua_tolstring(L, 3, &plen);
    if (!lua_isnoneornil(L, 4) && !lua_istable(L, 4))
        lc_argerror(L, ARG_OPTS, fname, "options must be a table");
    lua_settop(L, 5);
    luaL_checkstack(L, O_COUNT + 16, "lira.client");
    int slots = 6;
    for (int i = 0; i < O_COUNT; i++)
        lua_pushnil(L);
    if (lua_istable(L, 4))
        collect_opts(L, slots, fname);
#define SLOT(i) (lua_isnil(L, slots + (i)) ? 0 : slots + (i))
    size_t ulen = build_url(L, c, path, plen, SLOT(O_PARAMS), SLOT(O_QUERY), fname);
    hdr_state hs = {0};
    build_headers(L, c, SLOT(O_HEADERS), &hs, fname);
    lira_call_spec spec;
    memset(&spec, 0, sizeof spec);
    char rid[LIRA_UUID_STR_SIZE + 64];
    add_generated(L, c, &hs, SLOT(O_IDEM), rid, &spec.has_idempotency_key, fname);
    spec.req.body = build_body(L, c, &hs, SLOT(O_JSON), SLOT(O_BODY), &spec.req.body_len, fname);
    int64_t deadline_rel;
    apply_timeouts(L, c, SLOT(O_TIMEOUT), &spec, &deadline_rel, fname);
    spec.deadline_ns = apply_deadline(L, c, SLOT(O_DEADLINE), deadline_rel, fname);
    int on_ref = apply_retry(L, c, SLOT(O_RETRY), &spec, fname);
#undef SLOT
    /* The scratch buffer no longer moves: turn offsets into pointers. */
    offs_reserve(L, c, hs.nlines + 1);
    for (size_t i = 0; i < hs.nlines; i++)
        c->hdrs[i] = c->offs[i] >= c->scratch.len ? c->lines[SIZE_MAX - c->offs[i]]
                                                   : c->scratch.p + c->offs[i];
    c->hdrs[hs.nlines] = NULL;
    spec.req.method = method;
    spec.req.url = c->scratch.p;
    spec.req.headers = c->hdrs;
    spec.req.max_redirects = c->redirects;
    spec.req.max_body = c->max_body;
    spec.req.max_host_connections = c->connections;
    spec.req.ca_file = c->ca_file;
    spec.req.insecure = c->insecure;
    spec.idempotent = lira_method_is_idempotent(method);
    if (on_ref != LUA_NOREF || c->retry_on_ref != LUA_NOREF)
        spec.retry_hook = lc_retry_hook;
    if (c->failure_ref != LUA_NOREF)
        spec.failure_hook = lc_failure_hook;

    lira_wait *w = lira_wait_new(L);
    lc_call *k = new_record(method, mlen, c->scratch.p, ulen, path, plen);
    if (!k) {
        if (on_ref != LUA_NOREF)
            luaL_unref(L, LUA_REGISTRYINDEX, on_ref);
        return lira_wait_fail(L, w, "invalid", "out of memory");
    }
    k->w = w;
    k->client = c;
    k->on_ref = on_ref;
    memcpy(k->request_id, rid, sizeof k->request_id);
    spec.hook_ud = k;
    spec.endpoint = path;      /* the template, before filling */
    spec.request_id = rid;
    int pushed = lira_lua_trace_enter(L);   /* a call inside lira.trace.span is its child */
    int rc = lira_call_start(c->engine, c->up, &spec, on_done, k, &k->call);
    lira_lua_trace_leave(L, pushed);
    if (rc != LIRA_OK) {
        char msg[128];
        snprintf(msg, sizeof msg, "cannot start the call: %s", lira_strerror(rc));
        if (on_ref != LUA_NOREF)
            luaL_unref(L, LUA_REGISTRYINDEX, on_ref);
        free(k);
        return lira_wait_fail(L, w, "invalid", msg);
    }
    lira_wait_on_cancel(w, cancel_call, k);
    return lira_wait_finish(L, w);
}
