/* rt_wh_spawn.c — start one webhook delivery: the event table handed to
 * handle(event, ctx) (json decoded lazily, headers by lower-case name), run
 * as a task by lira.runtime's runner in the integration's current state,
 * continuing the sender's trace when the stored headers carry a
 * traceparent (docs/webhooks.md, "Delivery"). rt_webhook_deliver.c decides
 * what to deliver and when. */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <lauxlib.h>

#include "core/status.h"
#include "runtime/rt_webhook.h"

static const char MAKER[] =
    "local json = require('lira').json\n"
    "local mt = { __index = function(t, k)\n"
    "  if k == 'json' then local v = json.decode(rawget(t, 'body')); rawset(t, 'json', v);"
    " return v end end }\n"
    "return function(handle, ev)\n"
    "  setmetatable(ev, mt)\n"
    "  return function(ctx) return handle(ev, ctx) end\n"
    "end\n";

/* The pair at *i of the stored header blob (name NUL value NUL, repeated);
 * 0 at the end (or a truncated pair). */
static int next_pair(const char *b, size_t n, size_t *i, const char **k, size_t *kl,
                     const char **v, size_t *vl)
{
    if (*i >= n)
        return 0;
    *k = b + *i;
    *kl = strnlen(*k, n - *i);
    *i += *kl + 1;
    if (*i > n)
        return 0;
    *v = b + *i;
    *vl = strnlen(*v, n - *i);
    *i += *vl + 1;
    return 1;
}

/* event.headers: every stored header by its lower-case name. */
static void push_headers(lua_State *Ls, const char *b, size_t n)
{
    lua_newtable(Ls);
    size_t i = 0, kl, vl;
    const char *k, *v;
    char name[256];
    while (next_pair(b, n, &i, &k, &kl, &v, &vl)) {
        if (kl >= sizeof name)
            continue;
        for (size_t j = 0; j < kl; j++)
            name[j] = (char)tolower((unsigned char)k[j]);
        lua_pushlstring(Ls, name, kl);
        lua_pushlstring(Ls, v, vl);
        lua_rawset(Ls, -3);
    }
}

/* The value of header `name` (any case) from the stored blob, or nil. */
static void push_header_value(lua_State *Ls, const char *b, size_t n, const char *name)
{
    size_t i = 0, kl, vl, nl = strlen(name);
    const char *k, *v;
    while (next_pair(b, n, &i, &k, &kl, &v, &vl)) {
        if (kl == nl && strncasecmp(k, name, nl) == 0) {
            lua_pushlstring(Ls, v, vl);
            return;
        }
    }
    lua_pushnil(Ls);
}

typedef struct spawn_args {
    rt *r;
    rt_version *v;
    const char *path, *id;
    const lira_store_event *ev;
    lua_CFunction report;
} spawn_args;

static int spawn_body(lua_State *Ls)
{
    spawn_args *a = lua_touserdata(Ls, 1);
    const lira_store_event *ev = a->ev;
    lua_getglobal(Ls, "package");
    lua_getfield(Ls, -1, "loaded");
    lua_getfield(Ls, -1, "lira.core");
    lua_getfield(Ls, -1, "spawn");                            /* spawn */
    lua_rawgeti(Ls, LUA_REGISTRYINDEX, a->v->runner_ref);     /* runner */
    lua_pushliteral(Ls, "webhook");
    if (lua_getfield(Ls, LUA_REGISTRYINDEX, "lira.rt.webhook_maker") != LUA_TFUNCTION) {
        lua_pop(Ls, 1);
        if (luaL_loadstring(Ls, MAKER) != LUA_OK)
            return lua_error(Ls);
        lua_call(Ls, 0, 1);
        lua_pushvalue(Ls, -1);
        lua_setfield(Ls, LUA_REGISTRYINDEX, "lira.rt.webhook_maker");
    }
    lua_rawgeti(Ls, LUA_REGISTRYINDEX, a->v->spec_ref);
    lua_getfield(Ls, -1, "webhooks");
    lua_getfield(Ls, -1, a->path);
    lua_getfield(Ls, -1, "handle");
    lua_replace(Ls, -4);
    lua_pop(Ls, 2);                                          /* maker handle */
    lua_createtable(Ls, 0, 8);
    lua_pushstring(Ls, a->id);
    lua_setfield(Ls, -2, "id");
    lua_pushlstring(Ls, ev->body.len ? ev->body.ptr : "", ev->body.len);
    lua_setfield(Ls, -2, "body");
    push_headers(Ls, ev->headers.ptr, ev->headers.len);
    lua_setfield(Ls, -2, "headers");
    lua_pushnumber(Ls, (lua_Number)ev->received_at_ms / 1000.0);
    lua_setfield(Ls, -2, "received_at");
    lua_pushinteger(Ls, ev->attempts + 1);
    lua_setfield(Ls, -2, "attempt");
    lua_pushstring(Ls, a->path);
    lua_setfield(Ls, -2, "route");
    lua_pushinteger(Ls, ev->seq);
    lua_setfield(Ls, -2, "seq");
    lua_call(Ls, 2, 1);                                      /* fn */
    lua_rawgeti(Ls, LUA_REGISTRYINDEX, a->v->ctx_ref);
    lua_pushlightuserdata(Ls, a->r);
    lua_pushstring(Ls, a->path);
    lua_pushinteger(Ls, ev->seq);
    lua_pushstring(Ls, a->id);
    lua_pushcclosure(Ls, a->report, 4);
    /* the sender's trace context: the delivery span continues it */
    push_header_value(Ls, ev->headers.ptr, ev->headers.len, "traceparent");
    push_header_value(Ls, ev->headers.ptr, ev->headers.len, "tracestate");
    lua_call(Ls, 7, 0);
    return 0;
}

int rt_wh_spawn(rt *r, rt_version *v, const char *path, const lira_store_event *ev,
                lua_CFunction report, char *err, size_t cap)
{
    spawn_args a = {r, v, path, ev->event_id, ev, report};
    lua_State *Ls = v->L;
    int top = lua_gettop(Ls);
    lua_pushcfunction(Ls, spawn_body);
    lua_pushlightuserdata(Ls, &a);
    int rc = LIRA_OK;
    if (lua_pcall(Ls, 1, 0, 0) != LUA_OK) {
        const char *m = lua_tostring(Ls, -1);
        snprintf(err, cap, "%s", m ? m : "error object is not a string");
        rc = LIRA_EINVAL;
    }
    lua_settop(Ls, top);
    return rc;
}
