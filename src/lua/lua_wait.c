/* lua_wait.c — the wait protocol (binding.h), lira errors, and the first
 * waiting call built on them: sleep.
 *
 * A record has two owners: the operation, until it calls
 * lira_wait_complete(), and the reader (the waiting coroutine), until it
 * pushed the results or gave up on them. Whichever finishes last frees it,
 * so neither a Lua error in the reader nor an operation that outlives its
 * reader can touch freed memory. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lua_sched.h"
#include "status.h"

#define ERROR_MT "lira.Error"
#define POOL_MAX 64

/* ------------------------------------------------------------ records */

static void link_wait(lira_sched *s, lira_wait *w)
{
    w->prev = NULL;
    w->next = s->waits;
    if (s->waits)
        s->waits->prev = w;
    s->waits = w;
}

static void unlink_wait(lira_wait *w)
{
    lira_sched *s = w->s;
    if (!s)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else if (s->waits == w)
        s->waits = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
}

static void detach_owner(lira_wait *w)
{
    if (w->owner && w->owner->wait == w)
        w->owner->wait = NULL;
    w->owner = NULL;
}

/* Free an unlinked record, keeping a few for the next waits. */
static void release(lira_wait *w)
{
    lira_sched *s = w->s;
    detach_owner(w);
    if (s && !s->closed && s->npool < POOL_MAX) {
        w->next = s->pool;
        s->pool = w;
        s->npool++;
        return;
    }
    free(w);
}

static void drop_data(lira_wait *w)
{
    if (w->free_data)
        w->free_data(w->data);
    w->free_data = NULL;
    w->data = NULL;
}

lira_wait *lira_wait_new(lua_State *L)
{
    lira_sched *s = lira_sched_get(L);
    if (s->closed || !s->e)
        lira_lua_engine(L);   /* raises if there can be none, else makes it */
    lira_wait *w = s->pool;
    if (w) {
        s->pool = w->next;
        s->npool--;
    } else if (!(w = malloc(sizeof *w))) {
        luaL_error(L, "lira: out of memory");
        return NULL;
    }
    memset(w, 0, sizeof *w);
    lira_timer_init(&w->timer);
    w->s = s;
    w->owner = s->current;
    link_wait(s, w);
    return w;
}

void lira_wait_on_cancel(lira_wait *w, lira_wait_cancel_fn cancel_op, void *op)
{
    if (!w)
        return;
    w->cancel_op = cancel_op;
    w->op = op;
}

void lira_wait_complete(lira_wait *w, lira_wait_push_fn push, lira_wait_free_fn free_data,
                        void *data)
{
    if (!w || w->completed) {   /* a second completion breaks the contract: keep the first */
        if (free_data)
            free_data(data);
        return;
    }
    w->completed = 1;
    w->push = push;
    w->free_data = free_data;
    w->data = data;
    if (!w->s) {                /* orphaned: its state is gone */
        drop_data(w);
        free(w);
        return;
    }
    if (w->reader_gone) {
        unlink_wait(w);
        drop_data(w);
        release(w);
        return;
    }
    lira_task *t = w->owner;
    if (w->yielded && t && t->wait == w && t->state == LIRA_TASK_WAITING)
        lira_task_enqueue(w->s, t);
}

static void run_cancel_op(lira_wait *w)
{
    if (w->completed || !w->cancel_op)
        return;
    lira_wait_cancel_fn fn = w->cancel_op;
    w->cancel_op = NULL;
    fn(w->op);
}

void lira_wait_abandon(lira_wait *w)
{
    detach_owner(w);
    run_cancel_op(w);
    if (w->completed) {
        unlink_wait(w);
        drop_data(w);
        release(w);
    } else {
        w->reader_gone = 1;   /* lira_wait_complete frees it */
    }
}

void lira_wait_cancel(lira_wait *w)
{
    run_cancel_op(w);
    lira_task *t = w->owner;
    if (!w->completed && w->yielded && t && t->wait == w && t->state == LIRA_TASK_WAITING)
        lira_task_enqueue(w->s, t);
}

void lira_sched_close_waits(lira_sched *s)
{
    for (lira_wait *w = s->waits; w; w = w->next) {
        w->reader_gone = 1;
        w->owner = NULL;
    }
    /* A cancel_op completes its own record (and so frees it, nobody reads). */
    lira_wait *w = s->waits;
    while (w) {
        lira_wait *next = w->next;
        run_cancel_op(w);
        w = next;
    }
}

void lira_sched_free_waits(lira_sched *s, int orphan_pending)
{
    lira_wait *w;
    while ((w = s->waits) != NULL) {
        unlink_wait(w);
        if (w->completed) {
            drop_data(w);
            free(w);
        } else if (orphan_pending) {
            w->s = NULL;      /* the foreign engine completes it later; that frees it */
            w->owner = NULL;
        } else {
            free(w);          /* its engine is gone: nothing can complete it */
        }
    }
    while ((w = s->pool) != NULL) {
        s->pool = w->next;
        free(w);
    }
    s->npool = 0;
}

/* ------------------------------------------------------------ the reader */

static int push_cancelled(lua_State *L)
{
    lua_pushnil(L);
    lira_lua_push_error(L, "cancelled", "the task was cancelled");
    return 2;
}

static int push_trampoline(lua_State *L)
{
    lira_wait *w = lua_touserdata(L, 1);
    lua_settop(L, 0);
    return w->push ? w->push(L, w->data) : 0;
}

/* Push w's results (or nil, cancelled when the owner was cancelled before
 * the operation ended) and let go of w. */
static int wait_consume(lua_State *L, lira_wait *w)
{
    detach_owner(w);
    if (!w->completed) {
        lira_wait_abandon(w);
        return push_cancelled(L);
    }
    luaL_checkstack(L, 3, "lira: out of stack");
    unlink_wait(w);
    int base = lua_gettop(L);
    lua_pushcfunction(L, push_trampoline);
    lua_pushlightuserdata(L, w);
    int st = lua_pcall(L, 1, LUA_MULTRET, 0);
    drop_data(w);
    release(w);
    if (st != LUA_OK)
        return lua_error(L);
    return lua_gettop(L) - base;
}

static int wait_done(void *ud)
{
    lira_wait *w = ud;
    return w->completed || (w->owner && w->owner->cancelled);
}

static int wait_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    lira_task *t = (lira_task *)ctx;
    lira_wait *w = t->wait;
    /* Only the scheduler resumes a waiting task; a coroutine.resume() of
     * its thread from elsewhere is ignored (it yields straight back). */
    if (t->s->current != t || !w || !wait_done(w))
        return lua_yieldk(L, 0, ctx, wait_k);
    return wait_consume(L, w);
}

int lira_wait_finish(lua_State *L, lira_wait *w)
{
    lira_sched *s = w->s;
    lira_task *owner = w->owner;
    if (owner && owner->cancelled)
        run_cancel_op(w);   /* cancellation is sticky: every later wait ends at once */
    if (wait_done(w))
        return wait_consume(L, w);
    lira_task *t = lira_task_yieldable(L, s);
    if (t && t == owner) {
        t->wait = w;
        t->state = LIRA_TASK_WAITING;
        w->yielded = 1;
        return lua_yieldk(L, 0, (lua_KContext)t, wait_k);
    }
    /* Not ours to yield: the main thread, or a coroutine lira did not
     * create (its resumer is not the scheduler). Run the loop here. */
    if (owner)
        owner->wait = w;
    int rc = lira_sched_drive(L, s, wait_done, w);
    if (rc != LIRA_OK) {
        lira_wait_abandon(w);
        if (rc == LIRA_ESTATE)
            return lira_sched_deadlock(L, s, NULL);
        return luaL_error(L, "lira: the loop failed: %s", lira_strerror(rc));
    }
    return wait_consume(L, w);
}

int lira_wait_fail(lua_State *L, lira_wait *w, const char *kind, const char *message)
{
    if (w) {
        unlink_wait(w);
        drop_data(w);
        release(w);
    }
    lua_pushnil(L);
    lira_lua_push_error(L, kind ? kind : "invalid", message);
    return 2;
}

/* ------------------------------------------------------------ errors */

static int error_tostring(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "kind");
    lua_getfield(L, 1, "message");
    const char *kind = lua_tostring(L, 2);
    const char *msg = lua_tostring(L, 3);
    if (msg)
        lua_pushfstring(L, "%s: %s", kind ? kind : "error", msg);
    else
        lua_pushstring(L, kind ? kind : "error");
    return 1;
}

static void push_error_mt(lua_State *L)
{
    if (luaL_newmetatable(L, ERROR_MT)) {
        lua_pushcfunction(L, error_tostring);
        lua_setfield(L, -2, "__tostring");
    }
}

void lira_lua_push_error(lua_State *L, const char *kind, const char *message)
{
    luaL_checkstack(L, 4, "lira: out of stack");
    lua_createtable(L, 0, 4);
    lua_pushstring(L, kind ? kind : "error");
    lua_setfield(L, -2, "kind");
    if (message) {
        lua_pushstring(L, message);
        lua_setfield(L, -2, "message");
    }
    push_error_mt(L);
    lua_setmetatable(L, -2);
}

/* ------------------------------------------------------------ sleep */

static int push_true(lua_State *L, void *data)
{
    (void)data;
    lua_pushboolean(L, 1);
    return 1;
}

static int push_cancelled_fn(lua_State *L, void *data)
{
    (void)data;
    return push_cancelled(L);
}

static void sleep_fired(lira_timer *t, void *ud)
{
    (void)t;
    lira_wait_complete(ud, push_true, NULL, NULL);
}

static void sleep_cancel(void *op)
{
    lira_wait *w = op;
    if (w->s && w->s->e)
        lira_timer_stop(w->s->e, &w->timer);
    lira_wait_complete(w, push_cancelled_fn, NULL, NULL);
}

/* seconds -> ns from now, saturating (math.huge sleeps until cancelled). */
static int64_t deadline_after(lira_engine *e, double seconds)
{
    int64_t now = lira_engine_now(e);
    double ns = seconds * 1e9;
    if (ns >= (double)(INT64_MAX - now))
        return INT64_MAX;
    return now + (int64_t)ns;
}

static int l_sleep(lua_State *L)
{
    if (lua_type(L, 1) != LUA_TNUMBER)
        return luaL_typeerror(L, 1, "number");
    double d = lua_tonumber(L, 1);
    if (isnan(d) || d < 0)
        return luaL_argerror(L, 1, lua_pushfstring(L, "seconds must be >= 0, got %f", d));
    lira_engine *e = lira_lua_engine(L);
    if (d == 0)
        return lira_sleep_zero(L, lira_sched_get(L));
    lira_wait *w = lira_wait_new(L);
    if (lira_timer_start(e, &w->timer, deadline_after(e, d), sleep_fired, w) != LIRA_OK) {
        lira_wait_fail(L, w, "invalid", NULL);
        return luaL_error(L, "lira: sleep: out of memory");
    }
    lira_wait_on_cancel(w, sleep_cancel, w);
    return lira_wait_finish(L, w);
}

static int l_now(lua_State *L)
{
    lua_pushnumber(L, (lua_Number)lira_engine_now(lira_lua_engine(L)) / 1e9);
    return 1;
}

void lira_wait_open(lua_State *L, int mod)
{
    push_error_mt(L);
    lua_setfield(L, mod, "Error");
    lua_pushcfunction(L, l_sleep);
    lua_setfield(L, mod, "sleep");
    lua_pushcfunction(L, l_now);
    lua_setfield(L, mod, "now");
}
