/* lua_inbox.c — the store's webhook inbox (src/engine/store.h) for Lua: the
 * few raw functions lira.testing's t.runtime needs to deliver a webhook
 * through the same durable inbox and dedupe the runtime uses.
 *
 *   inbox_insert(route, id, headers, body) -> "inserted" | "duplicate", seq
 *   inbox_due(route | nil, limit)          -> { event, ... } (due now, arrival order)
 *   inbox_list(state | nil, after, limit)  -> { event, ... } (state "pending" | "done" | "dead")
 *   inbox_done(seq)
 *   inbox_fail(seq, error, delay, max_attempts) -> dead (boolean); next try in delay s
 *   inbox_counts(route | nil)              -> pending, done, dead
 *
 * An event is { seq, route, id, headers, body, received_at, state, attempts,
 * next_at, last_error }; headers are the bytes the caller stored (t.runtime
 * uses JSON). Times are wall-clock epoch SECONDS from the engine's clock
 * (virtual under lira.testing), as in lua_store.c.
 *
 * The store must already be open (lira.state / core.store_open open it):
 * this file does not choose a path. Store failures raise a lira error table
 * like lua_store.c's; a missing seq raises a "not_found" one.
 *
 * Registered on lira.core by lira_lua_open_inbox. */
#include <stdlib.h>
#include <string.h>

#include "binding.h"
#include "status.h"
#include "store.h"

#define LIMIT_MAX 1000


static const char *const state_names[] = {"pending", "done", "dead"};

static lira_store *open_store(lua_State *L, lira_engine **eout)
{
    lira_engine *e = lira_lua_engine(L);
    lira_store *s = lira_engine_slot(e, LIRA_SLOT_STORE);
    if (!s || !lira_store_is_open(s)) {
        lira_lua_push_error(L, "state", "lira: inbox: the store is not open (open it with "
                                        "lira.state(...) or lira.core.store_open(path) first)");
        lua_error(L);
    }
    if (eout)
        *eout = e;
    return s;
}

static int raise_store(lua_State *L, lira_store *s, int rc)
{
    if (rc == LIRA_ENOTFOUND) {
        lira_lua_push_error(L, "not_found", "lira: inbox: no event with that seq");
        return lua_error(L);
    }
    lira_lua_push_error(L, lira_store_kind_name(lira_store_errkind(s)), lira_store_errmsg(s));
    return lua_error(L);
}

static int64_t now_ms(lira_engine *e)
{
    return lira_engine_wall(e) / 1000000;
}

static const char *name_arg(lua_State *L, int i, const char *fname)
{
    if (lua_type(L, i) != LUA_TSTRING)
        luaL_error(L, "bad argument #%d to '%s' (string expected, got %s)", i, fname,
                   luaL_typename(L, i));
    size_t n;
    const char *v = lua_tolstring(L, i, &n);
    if (strlen(v) != n)
        luaL_error(L, "bad argument #%d to '%s' (must not contain NUL bytes)", i, fname);
    return v;
}

static int limit_arg(lua_State *L, int i)
{
    lua_Integer n = luaL_optinteger(L, i, 100);
    luaL_argcheck(L, n >= 1 && n <= LIMIT_MAX, i, "limit must be 1..1000");
    return (int)n;
}

/* ------------------------------------------------------------ collecting */

/* Rows are copied in the callback with malloc (no Lua call there: the
 * store's callbacks must not longjmp), then pushed once the store is done. */
typedef struct ev_copy {
    int64_t seq, received_at_ms, next_at_ms;
    int state, attempts;
    char *route, *id, *error, *headers, *body;
    size_t headers_len, body_len;
} ev_copy;

typedef struct collect {
    ev_copy *evs;
    int n, cap, oom;
} collect;

static char *dup_bytes(const void *p, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        if (n)
            memcpy(d, p, n);
        d[n] = '\0';
    }
    return d;
}

static void free_copies(collect *c)
{
    for (int i = 0; i < c->n; i++) {
        ev_copy *x = &c->evs[i];
        free(x->route);
        free(x->id);
        free(x->error);
        free(x->headers);
        free(x->body);
    }
    free(c->evs);
}

static int on_event(void *ud, const lira_store_event *ev)
{
    collect *c = ud;
    if (c->oom || c->n == c->cap)
        return LIRA_OK;
    ev_copy *x = &c->evs[c->n];
    memset(x, 0, sizeof *x);
    x->seq = ev->seq;
    x->received_at_ms = ev->received_at_ms;
    x->next_at_ms = ev->next_at_ms;
    x->state = ev->state;
    x->attempts = ev->attempts;
    x->route = dup_bytes(ev->route, strlen(ev->route));
    x->id = dup_bytes(ev->event_id, strlen(ev->event_id));
    x->error = dup_bytes(ev->last_error ? ev->last_error : "",
                         ev->last_error ? strlen(ev->last_error) : 0);
    x->headers = dup_bytes(ev->headers.ptr, ev->headers.len);
    x->headers_len = ev->headers.len;
    x->body = dup_bytes(ev->body.ptr, ev->body.len);
    x->body_len = ev->body.len;
    c->n++;
    if (!x->route || !x->id || !x->error || !x->headers || !x->body)
        c->oom = 1;
    return LIRA_OK;
}

static void set_num(lua_State *L, const char *k, lua_Number v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

static void push_copy(lua_State *L, const ev_copy *x)
{
    lua_createtable(L, 0, 10);
    lua_pushinteger(L, x->seq);
    lua_setfield(L, -2, "seq");
    lua_pushstring(L, x->route);
    lua_setfield(L, -2, "route");
    lua_pushstring(L, x->id);
    lua_setfield(L, -2, "id");
    lua_pushlstring(L, x->headers, x->headers_len);
    lua_setfield(L, -2, "headers");
    lua_pushlstring(L, x->body, x->body_len);
    lua_setfield(L, -2, "body");
    set_num(L, "received_at", (lua_Number)x->received_at_ms / 1000.0);
    set_num(L, "next_at", (lua_Number)x->next_at_ms / 1000.0);
    lua_pushstring(L, x->state >= 0 && x->state <= 2 ? state_names[x->state] : "unknown");
    lua_setfield(L, -2, "state");
    lua_pushinteger(L, x->attempts);
    lua_setfield(L, -2, "attempts");
    lua_pushstring(L, x->error);
    lua_setfield(L, -2, "last_error");
}

/* Push the collected rows as a list; frees them (also when a push raises:
 * the copies are then leaked only on a Lua memory error). */
static int push_collected(lua_State *L, collect *c, int rc, lira_store *s)
{
    if (rc != LIRA_OK || c->oom) {
        free_copies(c);
        if (rc != LIRA_OK)
            return raise_store(L, s, rc);
        return luaL_error(L, "lira: inbox: out of memory");
    }
    lua_createtable(L, c->n, 0);
    for (int i = 0; i < c->n; i++) {
        push_copy(L, &c->evs[i]);
        lua_rawseti(L, -2, i + 1);
    }
    free_copies(c);
    return 1;
}

static void collect_init(lua_State *L, collect *c, int limit)
{
    memset(c, 0, sizeof *c);
    c->evs = calloc((size_t)limit, sizeof *c->evs);
    if (!c->evs)
        luaL_error(L, "lira: inbox: out of memory");
    c->cap = limit;
}

/* ------------------------------------------------------------ functions */

static int l_insert(lua_State *L)
{
    lira_store_event_in ev;
    memset(&ev, 0, sizeof ev);
    ev.route = name_arg(L, 1, "inbox_insert");
    ev.event_id = name_arg(L, 2, "inbox_insert");
    ev.headers = luaL_checklstring(L, 3, &ev.headers_len);
    ev.body = luaL_checklstring(L, 4, &ev.body_len);
    lira_engine *e;
    lira_store *s = open_store(L, &e);
    ev.received_at_ms = now_ms(e);
    int result = 0;
    int64_t seq = 0;
    int rc = lira_store_inbox_insert(s, &ev, &result, &seq);
    if (rc != LIRA_OK)
        return raise_store(L, s, rc);
    lua_pushstring(L, result == LIRA_STORE_DUPLICATE ? "duplicate" : "inserted");
    lua_pushinteger(L, seq);
    return 2;
}

static int l_due(lua_State *L)
{
    const char *route = lua_isnoneornil(L, 1) ? NULL : name_arg(L, 1, "inbox_due");
    int limit = limit_arg(L, 2);
    lira_engine *e;
    lira_store *s = open_store(L, &e);
    collect c;
    collect_init(L, &c, limit);
    int count = 0;
    int rc = lira_store_inbox_due(s, route, now_ms(e), limit, on_event, &c, &count);
    return push_collected(L, &c, rc, s);
}

static int l_list(lua_State *L)
{
    int state = -1;
    if (!lua_isnoneornil(L, 1)) {
        static const char *const opts[] = {"pending", "done", "dead", NULL};
        state = luaL_checkoption(L, 1, NULL, opts);
    }
    lua_Integer after = luaL_optinteger(L, 2, 0);
    int limit = limit_arg(L, 3);
    lira_store *s = open_store(L, NULL);
    collect c;
    collect_init(L, &c, limit);
    int count = 0;
    int rc = lira_store_inbox_list(s, state, after, limit, on_event, &c, &count);
    return push_collected(L, &c, rc, s);
}

static int l_done(lua_State *L)
{
    lua_Integer seq = luaL_checkinteger(L, 1);
    lira_engine *e;
    lira_store *s = open_store(L, &e);
    int rc = lira_store_inbox_done(s, seq, now_ms(e));
    if (rc != LIRA_OK)
        return raise_store(L, s, rc);
    return 0;
}

static int l_fail(lua_State *L)
{
    lua_Integer seq = luaL_checkinteger(L, 1);
    const char *msg = luaL_checkstring(L, 2);
    lua_Number delay = luaL_checknumber(L, 3);
    lua_Integer max = luaL_optinteger(L, 4, 0);
    luaL_argcheck(L, delay >= 0 && delay < 1e9, 3, "delay must be seconds >= 0");
    luaL_argcheck(L, max >= 0 && max <= 1000000, 4, "max_attempts must be 0..1000000");
    lira_engine *e;
    lira_store *s = open_store(L, &e);
    int dead = 0;
    int64_t at = now_ms(e) + (int64_t)(delay * 1000.0);
    int rc = lira_store_inbox_fail(s, seq, msg, at, (int)max, &dead);
    if (rc != LIRA_OK)
        return raise_store(L, s, rc);
    lua_pushboolean(L, dead);
    return 1;
}

static int l_counts(lua_State *L)
{
    const char *route = lua_isnoneornil(L, 1) ? NULL : name_arg(L, 1, "inbox_counts");
    lira_store *s = open_store(L, NULL);
    int64_t p = 0, d = 0, x = 0;
    int rc = lira_store_inbox_counts(s, route, &p, &d, &x);
    if (rc != LIRA_OK)
        return raise_store(L, s, rc);
    lua_pushinteger(L, p);
    lua_pushinteger(L, d);
    lua_pushinteger(L, x);
    return 3;
}

static const luaL_Reg inbox_funcs[] = {
    {"inbox_insert", l_insert}, {"inbox_due", l_due},       {"inbox_list", l_list},
    {"inbox_done", l_done},     {"inbox_fail", l_fail},     {"inbox_counts", l_counts},
    {NULL, NULL}
};

void lira_lua_open_inbox(lua_State *L, int mod)
{
    mod = lua_absindex(L, mod);
    lua_pushvalue(L, mod);
    luaL_setfuncs(L, inbox_funcs, 0);
    lua_pop(L, 1);
}
