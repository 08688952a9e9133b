/* lua_client.c — core.client_new: a normalized client config (the Lua side
 * validated and defaulted it, client_iface.md) becomes a "lira.Client"
 * userdata holding its engine upstream and everything a call reuses:
 * base URL, pre-formatted default header lines, timeouts, retry config.
 * Also the module registration and two small helpers (uuid4, redact_url). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lua_client.h"
#include "redact.h"
#include "status.h"
#include "trace.h"

/* ------------------------------------------------------------ helpers */

int lc_argerror(lua_State *L, int argn, const char *fname, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return luaL_error(L, "bad argument #%d to '%s' (%s)", argn, fname, msg);
}

int64_t lc_seconds_to_ns(double s)
{
    if (!(s > 0))
        return 0;
    if (s > 9.2e9)   /* ~292 years: beyond int64 ns */
        return INT64_MAX;
    return (int64_t)(s * LC_NS_PER_S);
}

int lc_field_error(lua_State *L, const char *who, const char *key, const char *what)
{
    int paren = strncmp(who, "bad argument", 12) == 0;
    return luaL_error(L, "%s%s must be %s%s", who, key, what, paren ? ")" : "");
}

double lc_field_num(lua_State *L, int t, const char *who, const char *key, double def,
                    double min, int min_exclusive)
{
    double v = def;
    if (lua_getfield(L, t, key) != LUA_TNIL) {
        int isnum = 0;
        v = lua_tonumberx(L, -1, &isnum);
        if (!isnum || lua_type(L, -1) != LUA_TNUMBER || !isfinite(v) ||
            (min_exclusive ? !(v > min) : !(v >= min)))
            lc_field_error(L, who, key, min_exclusive && min == 0 ? "a positive number"
                                                                  : "a non-negative number");
    }
    lua_pop(L, 1);
    return v;
}

int64_t lc_field_int(lua_State *L, int t, const char *who, const char *key, int64_t def,
                     int64_t min, int64_t max)
{
    int64_t v = def;
    if (lua_getfield(L, t, key) != LUA_TNIL) {
        int isint = 0;
        lua_Integer i = lua_tointegerx(L, -1, &isint);
        if (!isint || lua_type(L, -1) != LUA_TNUMBER || i < min || i > max) {
            char what[96];
            snprintf(what, sizeof what, "an integer from %lld to %lld", (long long)min,
                     (long long)max);
            lc_field_error(L, who, key, what);
        }
        v = i;
    }
    lua_pop(L, 1);
    return v;
}

/* Field t[key] as a table index on the stack (pushed), or 0 (nothing
 * pushed) when nil or false. Raises when it is anything else. */
static int opt_table(lua_State *L, int t, const char *who, const char *key)
{
    int ty = lua_getfield(L, t, key);
    if (ty == LUA_TNIL || (ty == LUA_TBOOLEAN && !lua_toboolean(L, -1))) {
        lua_pop(L, 1);
        return 0;
    }
    if (ty != LUA_TTABLE)
        luaL_error(L, "%s%s must be a table or false", who, key);
    return lua_gettop(L);
}

static const char *opt_string(lua_State *L, int t, const char *who, const char *key,
                              const char *def)
{
    int ty = lua_getfield(L, t, key);
    const char *s = def;
    if (ty == LUA_TSTRING)
        s = lua_tostring(L, -1);
    else if (ty != LUA_TNIL)
        luaL_error(L, "%s%s must be a string", who, key);
    lua_pop(L, 1);   /* the string stays alive in the config table */
    return s;
}

static char *dup_or_raise(lua_State *L, const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p)
        luaL_error(L, "lira.client: out of memory");
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* A header name is an RFC 9110 token; a value holds no CR, LF or NUL. */
static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

int lc_valid_header_name(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)s[i]))
            return 0;
    return 1;
}

int lc_valid_header_value(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
            return 0;
    return 1;
}

/* ------------------------------------------------------------ the client */

static lc_client *to_client(lua_State *L, int idx)
{
    return luaL_checkudata(L, idx, LC_CLIENT_MT);
}

void *lc_check_udata_up(lua_State *L, int idx, int up, const char *tname)
{
    void *p = lua_touserdata(L, idx);
    if (p && lua_getmetatable(L, idx)) {
        int same = lua_rawequal(L, -1, lua_upvalueindex(up));
        lua_pop(L, 1);
        if (same)
            return p;
    }
    return luaL_checkudata(L, idx, tname);
}

lc_client *lc_check_client(lua_State *L, int idx)
{
    lc_client *c = lc_check_udata_up(L, idx, 1, LC_CLIENT_MT);
    if (!c->up)
        luaL_error(L, "lira.Client: the client is closed");
    return c;
}

static void unref(lua_State *L, int *ref)
{
    if (*ref != LUA_NOREF && *ref != LUA_REFNIL)
        luaL_unref(L, LUA_REGISTRYINDEX, *ref);
    *ref = LUA_NOREF;
}

/* __gc and __close: release everything; harmless twice. */
static int client_close(lua_State *L)
{
    lc_client *c = to_client(L, 1);
    if (c->up)
        lira_upstream_release(c->up);
    c->up = NULL;
    for (size_t i = 0; i < c->nlines; i++)
        free(c->lines[i]);
    free(c->lines);
    free(c->name_lens);
    c->lines = NULL;
    c->name_lens = NULL;
    c->nlines = 0;
    free(c->name);
    free(c->base);
    free(c->idem_header);
    free(c->ca_file);
    c->name = c->base = c->idem_header = c->ca_file = NULL;
    unref(L, &c->retry_on_ref);
    unref(L, &c->failure_ref);
    unref(L, &c->thread_ref);
    c->hookL = NULL;
    lc_buf_free(&c->scratch);
    free(c->offs);
    free(c->hdrs);
    free(c->names);
    free(c->name_len);
    c->offs = NULL;
    c->hdrs = NULL;
    c->names = NULL;
    c->name_len = NULL;
    c->hdrs_cap = c->names_cap = 0;
    return 0;
}

/* The thread where hooks run: never the waiting coroutine. */
static void ensure_hook_thread(lua_State *L, lc_client *c)
{
    if (c->hookL)
        return;
    c->hookL = lua_newthread(L);
    c->thread_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

static int add_line(lua_State *L, lc_client *c, const char *name, size_t nlen,
                    const char *value, size_t vlen)
{
    if (!lc_valid_header_name(name, nlen))
        return luaL_error(L, "lira.client: headers: '%s' is not a valid header name", name);
    if (!lc_valid_header_value(value, vlen))
        return luaL_error(L, "lira.client: headers.%s must not contain CR, LF or NUL", name);
    for (size_t i = 0; i < c->nlines; i++)
        if (c->name_lens[i] == nlen && strncasecmp(c->lines[i], name, nlen) == 0)
            return 0;   /* already set: the first (more specific) wins */
    char **lines = realloc(c->lines, (c->nlines + 1) * sizeof *lines);
    if (!lines)
        return luaL_error(L, "lira.client: out of memory");
    c->lines = lines;
    size_t *lens = realloc(c->name_lens, (c->nlines + 1) * sizeof *lens);
    if (!lens)
        return luaL_error(L, "lira.client: out of memory");
    c->name_lens = lens;
    char *line = malloc(nlen + vlen + 3);
    if (!line)
        return luaL_error(L, "lira.client: out of memory");
    memcpy(line, name, nlen);
    memcpy(line + nlen, ": ", 2);
    memcpy(line + nlen + 2, value, vlen);
    line[nlen + 2 + vlen] = '\0';
    c->lines[c->nlines] = line;
    c->name_lens[c->nlines] = nlen;
    c->nlines++;
    return 0;
}

static void parse_headers(lua_State *L, lc_client *c, int cfg, int *version_tbl)
{
    int t = opt_table(L, cfg, "lira.client: ", "headers");
    if (t) {
        lua_pushnil(L);
        while (lua_next(L, t)) {
            if (lua_type(L, -2) != LUA_TSTRING ||
                (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER))
                luaL_error(L, "lira.client: headers must map names to strings");
            size_t nl, vl;
            const char *n = lua_tolstring(L, -2, &nl);
            lua_pushvalue(L, -1);
            const char *v = lua_tolstring(L, -1, &vl);
            add_line(L, c, n, nl, v, vl);
            lua_pop(L, 2);
        }
        lua_pop(L, 1);
    }
    if (*version_tbl) {
        const char *h = opt_string(L, *version_tbl, "lira.client: version.", "header", NULL);
        if (h) {
            const char *v = opt_string(L, *version_tbl, "lira.client: version.", "value", NULL);
            if (!v)
                luaL_error(L, "lira.client: version.value must be a string");
            add_line(L, c, h, strlen(h), v, strlen(v));
        }
    }
    const char *ua = opt_string(L, cfg, "lira.client: ", "user_agent", "lira/" LIRA_VERSION);
    add_line(L, c, "User-Agent", 10, ua, strlen(ua));
    add_line(L, c, "Accept", 6, "application/json", 16);
}

static void parse_base(lua_State *L, lc_client *c, int cfg, int version_tbl)
{
    const char *base = opt_string(L, cfg, "lira.client: ", "base_url", NULL);
    if (!base || (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0))
        luaL_error(L, "lira.client: base_url must be an http:// or https:// URL");
    size_t n = strlen(base);
    while (n > 8 && base[n - 1] == '/')
        n--;
    const char *vp = version_tbl ? opt_string(L, version_tbl, "lira.client: version.", "path",
                                              NULL) : NULL;
    size_t vn = vp ? strlen(vp) : 0;
    while (vn > 0 && vp[vn - 1] == '/')
        vn--;
    if (vp && vn > 0 && vp[0] != '/')
        luaL_error(L, "lira.client: version.path must start with '/'");
    c->base = malloc(n + vn + 1);
    if (!c->base)
        luaL_error(L, "lira.client: out of memory");
    memcpy(c->base, base, n);
    if (vn)
        memcpy(c->base + n, vp, vn);
    c->base[n + vn] = '\0';
    c->base_len = n + vn;
    for (size_t i = 0; i < c->base_len; i++)
        if ((unsigned char)c->base[i] <= ' ')
            luaL_error(L, "lira.client: base_url must not contain spaces or control characters");
}

static void parse_timeouts(lua_State *L, lc_client *c, int cfg)
{
    c->connect_ns = INT64_C(2000000000);
    c->read_ns = INT64_C(10000000000);
    c->deadline_ns = INT64_C(30000000000);
    int t = opt_table(L, cfg, "lira.client: ", "timeout");
    if (!t)
        return;
    c->connect_ns = lc_seconds_to_ns(lc_field_num(L, t, "lira.client: timeout.", "connect", 2, 0, 1));
    c->read_ns = lc_seconds_to_ns(lc_field_num(L, t, "lira.client: timeout.", "read", 10, 0, 1));
    lua_getfield(L, t, "deadline");
    int off = lua_isboolean(L, -1) && !lua_toboolean(L, -1);
    lua_pop(L, 1);
    c->deadline_ns = off ? 0 : lc_seconds_to_ns(
        lc_field_num(L, t, "lira.client: timeout.", "deadline", 30, 0, 1));
    lua_pop(L, 1);
}

int lc_parse_retry(lua_State *L, int t, const char *who, lira_retry_config *r)
{
    r->attempts = (int)lc_field_int(L, t, who, "attempts", r->attempts, 1,
                                    LIRA_RETRY_MAX_ATTEMPTS);
    double base = lc_field_num(L, t, who, "base", (double)r->backoff.base_ns / LC_NS_PER_S, 0, 1);
    double cap = lc_field_num(L, t, who, "cap", (double)r->backoff.cap_ns / LC_NS_PER_S, 0, 1);
    if (cap < base)
        lc_field_error(L, who, "cap", ">= base");
    if (cap > 86400)
        lc_field_error(L, who, "cap", "at most 86400 seconds");
    r->backoff.base_ns = lc_seconds_to_ns(base);
    r->backoff.cap_ns = lc_seconds_to_ns(cap);
    if (r->backoff.base_ns < 1)
        r->backoff.base_ns = 1;
    int ty = lua_getfield(L, t, "jitter");
    if (ty != LUA_TNIL) {
        size_t n;
        const char *j = lua_tolstring(L, -1, &n);
        if (ty != LUA_TSTRING || lira_jitter_parse(j, n, &r->backoff.jitter) != LIRA_OK)
            lc_field_error(L, who, "jitter", "\"full\", \"none\" or \"decorrelated\"");
    }
    lua_pop(L, 1);
    ty = lua_getfield(L, t, "max_elapsed");
    lua_pop(L, 1);
    if (ty == LUA_TBOOLEAN) {
        lua_getfield(L, t, "max_elapsed");
        int on = lua_toboolean(L, -1);
        lua_pop(L, 1);
        if (on)
            lc_field_error(L, who, "max_elapsed", "a positive number or false");
        r->max_elapsed_ns = 0;
    } else if (ty != LUA_TNIL) {
        r->max_elapsed_ns = lc_seconds_to_ns(lc_field_num(L, t, who, "max_elapsed", 0, 0, 1));
    }
    ty = lua_getfield(L, t, "on");
    if (ty == LUA_TFUNCTION)
        return 1;
    if (ty != LUA_TNIL)
        lc_field_error(L, who, "on", "a function");
    lua_pop(L, 1);
    return 0;
}

static void parse_retry(lua_State *L, lc_client *c, int cfg, lira_upstream_config *uc)
{
    lira_retry_config_default(&c->retry);
    int t = opt_table(L, cfg, "lira.client: ", "retry");
    if (!t) {
        lua_getfield(L, cfg, "retry");
        int off = lua_isboolean(L, -1);
        lua_pop(L, 1);
        if (off)
            c->retry.attempts = 1;
    } else {
        if (lc_parse_retry(L, t, "lira.client: retry.", &c->retry)) {
            ensure_hook_thread(L, c);
            c->retry_on_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        }
        lua_pop(L, 1);
    }
    int b = opt_table(L, cfg, "lira.client: ", "budget");
    lua_getfield(L, cfg, "budget");
    int budget_off = lua_isboolean(L, -1) && !lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (budget_off)
        uc->budget_on = 0;
    if (b) {
        uc->budget_ratio = lc_field_num(L, b, "lira.client: budget.", "ratio",
                                        uc->budget_ratio, 0, 0);
        uc->budget_min_per_second = (int)lc_field_int(L, b, "lira.client: budget.",
            "min_per_second", uc->budget_min_per_second, 0, LIRA_BUDGET_MAX_MIN_PER_SECOND);
        lua_pop(L, 1);
    }
}

static void parse_resilience(lua_State *L, lc_client *c, int cfg, lira_upstream_config *uc)
{
    lua_getfield(L, cfg, "breaker");
    int breaker_off = lua_isboolean(L, -1) && !lua_toboolean(L, -1);
    lua_pop(L, 1);
    int t = opt_table(L, cfg, "lira.client: ", "breaker");
    if (breaker_off)
        uc->breaker_on = 0;
    if (t) {
        lc_parse_breaker(L, t, "lira.client: breaker.", &uc->breaker);
        int ty = lua_getfield(L, t, "failure");
        if (ty == LUA_TFUNCTION) {
            ensure_hook_thread(L, c);
            c->failure_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        } else {
            if (ty != LUA_TNIL)
                luaL_error(L, "lira.client: breaker.failure must be a function");
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    lua_getfield(L, cfg, "limit");
    int limit_off = lua_isboolean(L, -1) && !lua_toboolean(L, -1);
    lua_pop(L, 1);
    t = opt_table(L, cfg, "lira.client: ", "limit");
    if (limit_off) {
        uc->limiter_on = 0;
        uc->read_headers = 0;
    }
    if (t) {
        lc_parse_limiter(L, t, "lira.client: limit.", &uc->limiter, &uc->read_headers);
        lua_pop(L, 1);
    }
}

static void parse_misc(lua_State *L, lc_client *c, int cfg)
{
    c->redirects = (int)lc_field_int(L, cfg, "lira.client: ", "redirects", 5, 0, 100);
    c->max_body = (size_t)lc_field_int(L, cfg, "lira.client: ", "max_body", 10485760, 1,
                                       INT64_C(1) << 40);
    c->connections = (long)lc_field_int(L, cfg, "lira.client: ", "connections", 16, 1, 1024);
    const char *ih = opt_string(L, cfg, "lira.client: ", "idempotency_header", "Idempotency-Key");
    if (!lc_valid_header_name(ih, strlen(ih)))
        luaL_error(L, "lira.client: idempotency_header must be a header name");
    c->idem_header = dup_or_raise(L, ih, strlen(ih));
    int t = opt_table(L, cfg, "lira.client: ", "tls");
    if (t) {
        const char *ca = opt_string(L, t, "lira.client: tls.", "ca_file", NULL);
        if (ca)
            c->ca_file = dup_or_raise(L, ca, strlen(ca));
        int ty = lua_getfield(L, t, "insecure");
        if (ty != LUA_TNIL && ty != LUA_TBOOLEAN)
            luaL_error(L, "lira.client: tls.insecure must be a boolean");
        c->insecure = lua_toboolean(L, -1);   /* lira.client warns about it, once */
        lua_pop(L, 2);
    }
}

/* core.client_new(cfg) */
static int l_client_new(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lira_engine *e = lira_lua_engine(L);
    lc_client *c = lua_newuserdatauv(L, sizeof *c, 0);
    memset(c, 0, sizeof *c);
    c->retry_on_ref = c->failure_ref = c->thread_ref = LUA_NOREF;
    luaL_setmetatable(L, LC_CLIENT_MT);
    c->engine = e;
    const char *name = opt_string(L, 1, "lira.client: ", "name", NULL);
    if (!name || !*name)
        luaL_error(L, "lira.client: name must be a non-empty string");
    c->name = dup_or_raise(L, name, strlen(name));
    int version = opt_table(L, 1, "lira.client: ", "version");
    parse_base(L, c, 1, version);
    parse_headers(L, c, 1, &version);
    if (version)
        lua_pop(L, 1);
    parse_timeouts(L, c, 1);
    lira_upstream_config uc;
    lira_upstream_config_default(&uc);
    parse_retry(L, c, 1, &uc);
    parse_resilience(L, c, 1, &uc);
    parse_misc(L, c, 1);
    /* The engine's tracer (and its telemetry hub) before the upstreams, so
     * calls get spans and a traceparent even outside lira.trace.span, and
     * both outlive the upstream registry when the engine is freed. */
    (void)lira_tracer_get(e);
    lira_upstream *up = NULL;
    int rc = lira_upstream_get(e, c->name, &uc, &up);
    if (rc != LIRA_OK)
        return luaL_error(L, "lira.client: cannot create upstream '%s': %s", c->name,
                          lira_strerror(rc));
    c->up = up;
    return 1;
}

static int l_client_name(lua_State *L)
{
    lc_client *c = lc_check_client(L, 1);
    lua_pushstring(L, c->name);
    return 1;
}

static int l_client_tostring(lua_State *L)
{
    lc_client *c = to_client(L, 1);
    if (c->up)
        lua_pushfstring(L, "lira.Client (%s, %s)", c->name, c->base);
    else
        lua_pushliteral(L, "lira.Client (closed)");
    return 1;
}

/* ------------------------------------------------------------ helpers */

static int l_uuid4(lua_State *L)
{
    char id[LIRA_UUID_STR_SIZE];
    if (lira_uuid4(lira_engine_rng(lira_lua_engine(L)), id, sizeof id) != LIRA_OK)
        return luaL_error(L, "uuid4: no random generator");
    lua_pushstring(L, id);
    return 1;
}

static int l_redact_url(lua_State *L)
{
    size_t n;
    const char *url = luaL_checklstring(L, 1, &n);
    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, n + 64);
    size_t need = 0;
    int rc = lira_redact_url(url, n, out, n + 64, &need);
    if (rc == LIRA_ETOOBIG) {
        out = luaL_prepbuffsize(&b, need + 1);
        rc = lira_redact_url(url, n, out, need + 1, &need);
    }
    if (rc != LIRA_OK)
        return luaL_error(L, "redact_url: %s", lira_strerror(rc));
    luaL_pushresultsize(&b, need);
    return 1;
}

static const luaL_Reg client_methods[] = {
    {"request", lc_client_request},
    {"breaker", lc_client_breaker},
    {"limiter", lc_client_limiter},
    {"name", l_client_name},
    {"close", client_close},
    {NULL, NULL}
};

static const luaL_Reg client_meta[] = {
    {"__gc", client_close},
    {"__close", client_close},
    {"__tostring", l_client_tostring},
    {"__index", NULL},
    {NULL, NULL}
};

static const luaL_Reg module_funcs[] = {
    {"client_new", l_client_new},
    {"uuid4", l_uuid4},
    {"redact_url", l_redact_url},
    {NULL, NULL}
};

void lira_lua_open_client(lua_State *L, int mod)
{
    mod = lua_absindex(L, mod);
    luaL_newmetatable(L, LC_CLIENT_MT);
    luaL_setfuncs(L, client_meta, 0);
    luaL_newlibtable(L, client_methods);
    lua_pushvalue(L, -2);   /* the methods' upvalue: lc_check_client */
    luaL_setfuncs(L, client_methods, 1);
    lua_setfield(L, -2, "__index");
    lua_setfield(L, mod, "Client");
    lc_open_response(L);
    lc_open_objects(L, mod);
    lua_pushvalue(L, mod);
    luaL_setfuncs(L, module_funcs, 0);
    lua_pop(L, 1);
}
