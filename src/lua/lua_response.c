/* lua_response.c — the result of a call in Lua: a "lira.Response" userdata
 * (a flat copy of the C response; the headers table, the body string and
 * the decoded JSON are made on first use and cached in user values) or a
 * lira error table; plus the hooks that run retry.on and
 * breaker.failure on the client's hook thread. */
#define _POSIX_C_SOURCE 200809L   /* stpcpy */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua_client.h"
#include "lua_json.h"
#include "redact.h"

enum { UV_HEADERS = 1, UV_JSON = 2, UV_BODY = 3, UV_COUNT = 3 };

/* A lira.Response userdata holds everything it reports in its one Lua
 * allocation: the status, the headers (an array, then their strings), the
 * body and the call's strings (request id, method, URL, endpoint), copied
 * from the C response, which the call record keeps and frees at once. So a
 * response has no finalizer, dies in the collection that finds it
 * unreachable, and the collector's pacing counts all of its bytes: a C
 * response held by a userdata was memory the collector never saw, and
 * garbage responses piled up between collections (bench/README.md, issue 4,
 * "Thirteenth pass"). The call record's error message, hooks and wait do not
 * outlive the call and are not copied. */
typedef struct lc_response {
    int status, redirects, attempts;
    int64_t elapsed_ns;
    const lira_http_header *headers;
    size_t nheaders, body_len;
    const char *body;           /* NUL-terminated */
    const char *request_id, *method, *url, *endpoint;
    char tail[];                /* headers[nheaders], then the strings */
} lc_response;

/* ------------------------------------------------------------ records */

/* The wait protocol frees the record after every completion, pushed or
 * not (lua_wait.c: push copies, free releases the record and the C
 * response). */
void lc_free_call(void *data)
{
    lc_call *k = data;
    if (!k)
        return;
    /* A per-call retry.on ref (rare) cannot be released without a Lua
     * state here; it goes with the registry when the state closes. */
    lira_http_response_free(k->res);
    free(k);
}

static char *put(char **p, const char *s, size_t n)
{
    char *at = *p;
    memcpy(at, s, n);
    at[n] = '\0';
    *p += n + 1;
    return at;
}

/* Push a lira.Response with record k's strings and a copy of response r. */
static lc_response *push_record(lua_State *L, const lc_call *k, const lira_http_response *r)
{
    size_t rid = strlen(k->request_id), strs = k->size - offsetof(lc_call, tail);
    size_t size = sizeof(lc_response) + r->nheaders * sizeof(lira_http_header) + rid + 1 + strs +
                  r->body_len + 1;
    for (size_t i = 0; i < r->nheaders; i++)
        size += strlen(r->headers[i].name) + strlen(r->headers[i].value) + 2;
    lc_response *u = lua_newuserdatauv(L, size, UV_COUNT);
    lira_http_header *h = (lira_http_header *)(void *)u->tail;
    char *p = (char *)(h + r->nheaders);
    for (size_t i = 0; i < r->nheaders; i++) {   /* sized above: no second strlen */
        h[i].name = p;
        p = stpcpy(p, r->headers[i].name) + 1;
        h[i].value = p;
        p = stpcpy(p, r->headers[i].value) + 1;
    }
    u->status = r->status;
    u->redirects = r->redirects;
    u->attempts = k->attempts;
    u->elapsed_ns = k->elapsed_ns;
    u->headers = h;
    u->nheaders = r->nheaders;
    u->body_len = r->body_len;
    u->body = put(&p, r->body ? r->body : "", r->body ? r->body_len : 0);
    u->request_id = put(&p, k->request_id, rid);
    memcpy(p, k->tail, strs);
    u->method = p + (k->method - k->tail);
    u->url = p + (k->url - k->tail);
    u->endpoint = p + (k->endpoint - k->tail);
    luaL_setmetatable(L, LC_RESPONSE_MT);
    return u;
}

static void release_on_ref(lua_State *L, lc_call *k)
{
    if (k->on_ref != LUA_NOREF) {
        luaL_unref(L, LUA_REGISTRYINDEX, k->on_ref);
        k->on_ref = LUA_NOREF;
    }
}

static void set_int(lua_State *L, const char *f, lua_Integer v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, f);
}

static void set_str(lua_State *L, const char *f, const char *v)
{
    lua_pushstring(L, v);
    lua_setfield(L, -2, f);
}

void lc_push_call_error(lua_State *L, const lc_call *k)
{
    lira_lua_push_error(L, lira_error_kind_name(k->kind), k->message);
    set_int(L, "attempts", k->attempts);
    lua_pushboolean(L, k->retryable);
    lua_setfield(L, -2, "retryable");
    if (k->retry_after_ns >= 0) {
        lua_pushnumber(L, (lua_Number)k->retry_after_ns / LC_NS_PER_S);
        lua_setfield(L, -2, "retry_after");
    }
    if (k->status > 0)
        set_int(L, "status", k->status);
    lua_pushnumber(L, (lua_Number)k->elapsed_ns / LC_NS_PER_S);
    lua_setfield(L, -2, "elapsed");
    set_str(L, "request_id", k->request_id);
    set_str(L, "method", k->method);
    set_str(L, "endpoint", k->endpoint);
}

int lc_push_call(lua_State *L, void *data)
{
    lc_call *k = data;
    release_on_ref(L, k);
    if (k->res) {
        push_record(L, k, k->res);   /* lc_free_call frees k->res after this */
        return 1;
    }
    lua_pushnil(L);
    lc_push_call_error(L, k);
    return 2;
}

/* ------------------------------------------------------------ snapshots */

void lc_push_attempt(lua_State *L, const lc_call *k, const lira_http_response *r, int attempt)
{
    if (r->failure == LIRA_FAIL_NONE) {
        lc_response *u = push_record(L, k, r);
        u->attempts = attempt;
        u->elapsed_ns = 0;
        lua_pushnil(L);
        return;
    }
    lua_pushnil(L);
    lira_lua_push_error(L, lira_failure_kind(r->failure), r->error);
    set_int(L, "attempts", attempt);
    set_str(L, "request_id", k->request_id);
    set_str(L, "method", k->method);
    set_str(L, "endpoint", k->endpoint);
}

/* ------------------------------------------------------------ hooks */

/* On the hook thread, inside lua_pcall: (k, r, attempt, ref, is_retry). */
static int run_hook(lua_State *T)
{
    const lc_call *k = lua_touserdata(T, 1);
    const lira_http_response *r = lua_touserdata(T, 2);
    int attempt = (int)lua_tointeger(T, 3);
    int is_retry = lua_toboolean(T, 5);
    lua_rawgeti(T, LUA_REGISTRYINDEX, (lua_Integer)lua_tointeger(T, 4));
    lc_push_attempt(T, k, r, attempt);
    if (is_retry) {
        lua_pushinteger(T, attempt);
        lua_call(T, 3, 1);
    } else {
        lua_call(T, 2, 1);
    }
    return 1;
}

static int invoke_hook(lc_call *k, const lira_http_response *r, int attempt, int ref,
                       int is_retry)
{
    lua_State *T = k->client ? k->client->hookL : NULL;
    if (!T || ref == LUA_NOREF || !r)
        return -1;
    int top = lua_gettop(T);
    if (!lua_checkstack(T, 8))
        return -1;
    lua_pushcfunction(T, run_hook);
    lua_pushlightuserdata(T, k);
    lua_pushlightuserdata(T, (void *)(uintptr_t)r);
    lua_pushinteger(T, attempt);
    lua_pushinteger(T, ref);
    lua_pushboolean(T, is_retry);
    int out = -1;
    if (lua_pcall(T, 5, 1, 0) != LUA_OK) {
        if (!k->hook_reported) {
            const char *msg = lua_tostring(T, -1);
            fprintf(stderr, "lira: client '%s': %s raised (the built-in rule applies): %s\n",
                    k->client->name, is_retry ? "retry.on" : "breaker.failure",
                    msg ? msg : "(error object is not a string)");
            k->hook_reported = 1;
        }
    } else if (!lua_isnil(T, -1)) {
        out = lua_toboolean(T, -1) ? 1 : 0;
    }
    lua_settop(T, top);
    return out;
}

int lc_retry_hook(void *ud, const lira_http_response *res, int attempt)
{
    lc_call *k = ud;
    int ref = k->on_ref != LUA_NOREF ? k->on_ref : k->client->retry_on_ref;
    return invoke_hook(k, res, attempt, ref, 1);
}

int lc_failure_hook(void *ud, const lira_http_response *res)
{
    lc_call *k = ud;
    return invoke_hook(k, res, 0, k->client->failure_ref, 0);
}

/* ------------------------------------------------------------ lira.Response */

/* The Response's metamethods and json carry the metatable as upvalue 1
 * (lc_open_response), res_index also json as upvalue 2. */
static lc_response *check_res(lua_State *L)
{
    return lc_check_udata_up(L, 1, 1, LC_RESPONSE_MT);
}

static void push_headers(lua_State *L, const lc_response *r)
{
    if (lua_getiuservalue(L, 1, UV_HEADERS) == LUA_TTABLE)
        return;
    lua_pop(L, 1);
    lua_createtable(L, 0, (int)r->nheaders);
    luaL_Buffer b;
    for (size_t i = 0; i < r->nheaders; i++) {
        const char *n = r->headers[i].name;
        size_t nl = strlen(n);
        char *p = luaL_buffinitsize(L, &b, nl);
        for (size_t j = 0; j < nl; j++)
            p[j] = (n[j] >= 'A' && n[j] <= 'Z') ? (char)(n[j] + 32) : n[j];
        luaL_pushresultsize(&b, nl);
        lua_pushvalue(L, -1);
        if (lua_rawget(L, -3) == LUA_TSTRING) {   /* repeated: join as RFC 9110 allows */
            lua_pushliteral(L, ", ");
            lua_pushstring(L, r->headers[i].value);
            lua_concat(L, 3);
        } else {
            lua_pop(L, 1);
            lua_pushstring(L, r->headers[i].value);
        }
        lua_rawset(L, -3);
    }
    luaL_setmetatable(L, LC_HEADERS_MT);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, 1, UV_HEADERS);
}

static void push_body(lua_State *L, const lc_response *r)
{
    if (lua_getiuservalue(L, 1, UV_BODY) == LUA_TSTRING)
        return;
    lua_pop(L, 1);
    lua_pushlstring(L, r->body, r->body_len);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, 1, UV_BODY);
}

static int res_json(lua_State *L)
{
    lc_response *k = check_res(L);
    if (lua_getiuservalue(L, 1, UV_JSON) != LUA_TNIL)
        return 1;
    lua_pop(L, 1);
    lira_json_decode_or_raise(L, k->body, k->body_len);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, 1, UV_JSON);
    return 1;
}

static void push_url(lua_State *L, const char *url)
{
    size_t n = strlen(url), need = 0;
    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, n + 16);
    if (lira_redact_url(url, n, out, n + 16, &need) != 0) {
        out = luaL_prepbuffsize(&b, need + 1);
        lira_redact_url(url, n, out, need + 1, &need);
    }
    luaL_pushresultsize(&b, need);
}

static int res_index(lua_State *L)
{
    const lc_response *k = check_res(L), *r = k;
    size_t n;
    const char *f = lua_tolstring(L, 2, &n);
    if (!f || lua_type(L, 2) != LUA_TSTRING)
        return 0;
    switch (f[0]) {
    case 's':
        if (strcmp(f, "status") == 0) { lua_pushinteger(L, r->status); return 1; }
        break;
    case 'o':
        if (strcmp(f, "ok") == 0) {
            lua_pushboolean(L, r->status >= 200 && r->status < 300);
            return 1;
        }
        break;
    case 'h':
        if (strcmp(f, "headers") == 0) { push_headers(L, r); return 1; }
        break;
    case 'b':
        if (strcmp(f, "body") == 0) { push_body(L, r); return 1; }
        break;
    case 'j':
        if (strcmp(f, "json") == 0) { lua_pushvalue(L, lua_upvalueindex(2)); return 1; }
        break;
    case 'a':
        if (strcmp(f, "attempts") == 0) { lua_pushinteger(L, k->attempts); return 1; }
        break;
    case 'e':
        if (strcmp(f, "elapsed") == 0) {
            lua_pushnumber(L, (lua_Number)k->elapsed_ns / LC_NS_PER_S);
            return 1;
        }
        if (strcmp(f, "endpoint") == 0) { lua_pushstring(L, k->endpoint); return 1; }
        break;
    case 'r':
        if (strcmp(f, "request_id") == 0) { lua_pushstring(L, k->request_id); return 1; }
        if (strcmp(f, "redirects") == 0) { lua_pushinteger(L, r->redirects); return 1; }
        break;
    case 'm':
        if (strcmp(f, "method") == 0) { lua_pushstring(L, k->method); return 1; }
        break;
    case 'u':
        if (strcmp(f, "url") == 0) { push_url(L, k->url); return 1; }
        break;
    default:
        break;
    }
    return 0;
}

static int res_newindex(lua_State *L)
{
    return luaL_error(L, "lira.Response is read-only (field '%s')", luaL_tolstring(L, 2, NULL));
}

static int res_tostring(lua_State *L)
{
    lc_response *u = luaL_checkudata(L, 1, LC_RESPONSE_MT);
    lua_pushfstring(L, "lira.Response (%d %s %s)", u->status, u->method, u->endpoint);
    return 1;
}

/* The headers table: lower-case keys; any-case reads. */
static int headers_index(lua_State *L)
{
    size_t n;
    const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tolstring(L, 2, &n) : NULL;
    if (!k)
        return 0;
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, n);
    for (size_t i = 0; i < n; i++)
        p[i] = (k[i] >= 'A' && k[i] <= 'Z') ? (char)(k[i] + 32) : k[i];
    luaL_pushresultsize(&b, n);
    lua_rawget(L, 1);
    return 1;
}

static const luaL_Reg res_meta[] = {
    {"__newindex", res_newindex},
    {"__tostring", res_tostring},
    {NULL, NULL}
};

void lc_open_response(lua_State *L)
{
    luaL_newmetatable(L, LC_RESPONSE_MT);
    lua_pushvalue(L, -1);
    luaL_setfuncs(L, res_meta, 1);
    lua_pushvalue(L, -1);
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, res_json, 1);
    lua_pushcclosure(L, res_index, 2);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    luaL_newmetatable(L, LC_HEADERS_MT);
    lua_pushcfunction(L, headers_index);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}
