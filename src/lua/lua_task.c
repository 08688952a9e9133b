/* lua_task.c — lira tasks: spawn, join, cancel, status, run, and the
 * scheduler that resumes them.
 *
 * A task is a full userdata (lira.Task) with three user values: 1 its
 * coroutine, 2 the error it raised, 3 that error's traceback. While
 * unfinished it is pinned by a registry ref; when it finishes the pin goes,
 * so an unreferenced finished task is collected. A returned task keeps its
 * results on its dead coroutine's stack until then.
 *
 * The scheduler resumes ready tasks from a loop (lira_sched_run_batch),
 * never from inside another resume, so the C stack does not grow with the
 * number of resumes. lira.run lives with the other loop drivers in
 * lua_loop.c.
 *
 * Semantics (docs/lua-api.md §2 is written from these):
 * - spawn queues the task; it starts when the loop runs (FIFO).
 * - join -> true, every result of fn | false, err, traceback (err is the
 *   raised value itself; traceback a string) | false, err for a task
 *   cancelled before it started. Joining again returns the same.
 * - status: "ready", "running" (asked by itself), "waiting", "done",
 *   "failed", "cancelled" (cancel() came before it finished, whatever fn
 *   then did; join still tells what it did).
 * - cancel -> true if the task was unfinished. A task that never started
 *   never runs. A waiting one has its wait aborted (nil, err kind
 *   "cancelled"); a running one gets that from its next wait. Sticky: every
 *   later wait of a cancelled task ends at once the same way.
 * - A failure nobody joined is written to stderr once, when the task is
 *   collected or the state closes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua_sched.h"
#include "status.h"

#define TASK_MT "lira.Task"

enum { UV_THREAD = 1, UV_ERROR = 2, UV_TRACE = 3 };

/* Registry key of a weak-valued table: lightuserdata(task) -> task userdata,
 * so a C record holding a task pointer can find its Lua values again. */
static const char k_by_ptr = 0;

typedef struct lira_join {
    lira_task *target;
    lira_wait *w;
    struct lira_join *prev, *next;
} lira_join;

int lira_task_finished(const lira_task *t)
{
    return t->state == LIRA_TASK_DONE || t->state == LIRA_TASK_FAILED ||
           t->state == LIRA_TASK_CANCELLED;
}

/* ------------------------------------------------------------ queues */

void lira_task_enqueue(lira_sched *s, lira_task *t)
{
    t->state = LIRA_TASK_READY;
    if (t->queued)
        return;
    t->queued = 1;
    t->rnext = NULL;
    t->rprev = s->rtail;
    if (s->rtail)
        s->rtail->rnext = t;
    else
        s->rhead = t;
    s->rtail = t;
    s->nready++;
}

static void unqueue(lira_sched *s, lira_task *t)
{
    if (!t->queued)
        return;
    if (t->rprev)
        t->rprev->rnext = t->rnext;
    else
        s->rhead = t->rnext;
    if (t->rnext)
        t->rnext->rprev = t->rprev;
    else
        s->rtail = t->rprev;
    t->rprev = t->rnext = NULL;
    t->queued = 0;
    s->nready--;
}

static void track(lira_sched *s, lira_task *t)
{
    t->aprev = NULL;
    t->anext = s->tasks;
    if (s->tasks)
        s->tasks->aprev = t;
    s->tasks = t;
}

static void untrack(lira_sched *s, lira_task *t)
{
    if (t->aprev)
        t->aprev->anext = t->anext;
    else if (s->tasks == t)
        s->tasks = t->anext;
    if (t->anext)
        t->anext->aprev = t->aprev;
    t->aprev = t->anext = NULL;
}

/* ------------------------------------------------------------ results */

static int push_by_ptr(lua_State *L, const lira_task *t)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &k_by_ptr);
    lua_rawgetp(L, -1, t);
    lua_remove(L, -2);
    return lua_type(L, -1) == LUA_TUSERDATA;
}

/* Push `true, results...` or `false, err[, traceback]` of finished task t
 * whose userdata is at index ud. */
int lira_task_push_outcome(lua_State *L, lira_task *t, int ud)
{
    ud = lua_absindex(L, ud);
    t->joined = 1;
    if (t->ok) {
        lua_State *co = t->co;
        int n = co ? t->nres : 0;
        luaL_checkstack(L, n + 1, "lira: too many results to join");
        lua_pushboolean(L, 1);
        if (n > 0) {
            if (!lua_checkstack(co, n))
                return luaL_error(L, "lira: too many results to join");
            int top = lua_gettop(co);
            for (int i = top - n + 1; i <= top; i++)
                lua_pushvalue(co, i);
            lua_xmove(co, L, n);
        }
        return n + 1;
    }
    luaL_checkstack(L, 3, "lira: out of stack");
    lua_pushboolean(L, 0);
    lua_getiuservalue(L, ud, UV_ERROR);
    if (lua_getiuservalue(L, ud, UV_TRACE) == LUA_TNIL) {
        lua_pop(L, 1);
        return 2;
    }
    return 3;
}

/* A readable line for an error value, without running any user code. */
static const char *error_text(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) == LUA_TSTRING || lua_type(L, idx) == LUA_TNUMBER) {
        lua_pushvalue(L, idx);
        return lua_tostring(L, -1);
    }
    if (lua_type(L, idx) == LUA_TTABLE && lua_getmetatable(L, idx)) {
        luaL_getmetatable(L, "lira.Error");
        int is_err = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
        if (is_err) {
            lua_getfield(L, idx, "kind");
            lua_getfield(L, idx, "message");
            lua_pushfstring(L, "%s: %s", lua_tostring(L, -2) ? lua_tostring(L, -2) : "error",
                            lua_tostring(L, -1) ? lua_tostring(L, -1) : "");
            lua_replace(L, -3);
            lua_pop(L, 1);
            return lua_tostring(L, -1);
        }
    }
    return lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, idx));
}

/* Keep a raised error and its traceback on the task (user values), close the
 * coroutine's pending to-be-closed variables, and drop the coroutine. */
static void keep_failure(lua_State *L, lira_task *t, int ud)
{
    lua_State *co = t->co;
    luaL_checkstack(L, 4, "lira: out of stack");
    if (!lua_checkstack(co, 1))
        luaL_error(L, "lira: out of stack");
    lua_pushvalue(co, -1);
    lua_xmove(co, L, 1);
    const char *msg = error_text(L, -1);
    luaL_traceback(L, co, msg, 0);
    lua_remove(L, -2);
    lua_setiuservalue(L, ud, UV_TRACE);
    lua_setiuservalue(L, ud, UV_ERROR);
#if LUA_VERSION_RELEASE_NUM >= 50406
    lua_closethread(co, L);
#else
    lua_resetthread(co);
#endif
    lua_pushnil(L);
    lua_setiuservalue(L, ud, UV_THREAD);
    t->co = NULL;
}

static void wake_joiners(lira_task *t);

/* Bookkeeping of a task that is over: unpin it, wake its joiners. The task's
 * userdata is at index ud. */
static void task_over(lua_State *L, lira_sched *s, lira_task *t, int ok)
{
    t->ok = (unsigned char)ok;
    t->state = t->cancelled ? LIRA_TASK_CANCELLED : ok ? LIRA_TASK_DONE : LIRA_TASK_FAILED;
    unqueue(s, t);
    untrack(s, t);
    luaL_unref(L, LUA_REGISTRYINDEX, t->ref);
    t->ref = LUA_NOREF;
    s->live--;
    if (t->in_run)
        s->run_live--;
    t->in_run = 0;
    wake_joiners(t);
}

static void finish_task(lua_State *L, lira_sched *s, lira_task *t, int ok)
{
    luaL_checkstack(L, 2, "lira: out of stack");
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->ref);
    int ud = lua_gettop(L);
    if (!ok)
        keep_failure(L, t, ud);
    task_over(L, s, t, ok);
    lua_settop(L, ud - 1);
}

/* ------------------------------------------------------------ scheduler */

static void resume_task(lua_State *L, lira_sched *s, lira_task *t)
{
    int nargs = 0;
    if (!t->started) {
        t->started = 1;
        nargs = t->nargs;
    }
    t->state = LIRA_TASK_RUNNING;
    lira_task *prev = s->current;
    s->current = t;
    int nres = 0;
    int st = lua_resume(t->co, L, nargs, &nres);
    s->current = prev;
    if (st == LUA_YIELD) {
        lua_pop(t->co, nres);
        /* A bare coroutine.yield() in a task: treat it like sleep(0). */
        if (t->state == LIRA_TASK_RUNNING)
            lira_task_enqueue(s, t);
        return;
    }
    t->nres = nres;
    finish_task(L, s, t, st == LUA_OK);
}

int lira_sched_run_batch(lua_State *L, lira_sched *s)
{
    size_t n = s->nready;
    int ran = 0;
    while (n-- > 0 && s->rhead) {
        lira_task *t = s->rhead;
        unqueue(s, t);
        resume_task(L, s, t);
        ran++;
    }
    return ran;
}

int lira_lua_run_ready(lua_State *L)
{
    lira_sched *s = lira_sched_peek(L);
    return s && !s->closed ? lira_sched_run_batch(L, s) : 0;
}

int lira_lua_has_ready(lua_State *L)
{
    lira_sched *s = lira_sched_peek(L);
    return s && !s->closed && s->nready > 0;
}

lira_task *lira_task_yieldable(lua_State *L, lira_sched *s)
{
    lira_task *t = s->current;
    return t && t->co == L && lua_isyieldable(L) ? t : NULL;
}

int lira_lua_in_task(lua_State *L)
{
    lira_sched *s = lira_sched_peek(L);
    return s && s->current && s->current->co == L;
}

/* ------------------------------------------------------------ sleep(0) */

static int push_cancelled(lua_State *L)
{
    lua_pushnil(L);
    lira_lua_push_error(L, "cancelled", "the task was cancelled");
    return 2;
}

static int sleep0_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    lira_task *t = (lira_task *)ctx;
    if (t->s->current != t)   /* a foreign coroutine.resume(): ignore it */
        return lua_yieldk(L, 0, ctx, sleep0_k);
    if (t->cancelled)
        return push_cancelled(L);
    lua_pushboolean(L, 1);
    return 1;
}

int lira_sleep_zero(lua_State *L, lira_sched *s)
{
    if (s->current && s->current->cancelled)
        return push_cancelled(L);
    lira_task *t = lira_task_yieldable(L, s);
    if (t) {
        lira_task_enqueue(s, t);
        return lua_yieldk(L, 0, (lua_KContext)t, sleep0_k);
    }
    lira_sched_run_batch(L, s);
    lira_sched_poll_nowait(s);
    lua_pushboolean(L, 1);
    return 1;
}

/* ------------------------------------------------------------ join */

static int push_join(lua_State *L, void *data)
{
    lira_join *j = data;
    if (!push_by_ptr(L, j->target))
        return luaL_error(L, "lira: joined task vanished");
    int n = lira_task_push_outcome(L, j->target, -1);
    lua_remove(L, -n - 1);
    return n;
}

static int push_join_cancelled(lua_State *L, void *data)
{
    (void)data;
    lua_pushboolean(L, 0);
    lira_lua_push_error(L, "cancelled", "the task was cancelled");
    return 2;
}

static void unlink_join(lira_join *j)
{
    if (!j->target)
        return;
    if (j->prev)
        j->prev->next = j->next;
    else if (j->target->joiners == j)
        j->target->joiners = j->next;
    if (j->next)
        j->next->prev = j->prev;
    j->prev = j->next = NULL;
}

static void join_cancel(void *op)
{
    lira_join *j = op;
    unlink_join(j);
    j->target = NULL;
    lira_wait_complete(j->w, push_join_cancelled, free, j);
}

static void wake_joiners(lira_task *t)
{
    lira_join *j;
    while ((j = t->joiners) != NULL) {
        t->joiners = j->next;
        j->prev = j->next = NULL;
        if (t->joiners)
            t->joiners->prev = NULL;
        lira_wait_on_cancel(j->w, NULL, NULL);
        lira_wait_complete(j->w, push_join, free, j);
    }
}

static lira_task *check_task(lua_State *L, int idx)
{
    return luaL_checkudata(L, idx, TASK_MT);
}

static int l_join(lua_State *L)
{
    lira_task *t = check_task(L, 1);
    lua_settop(L, 1);
    if (lira_task_finished(t))
        return lira_task_push_outcome(L, t, 1);
    lira_sched *s = t->s;
    if (s->current == t)
        return luaL_error(L, "lira: a task cannot join itself");
    lira_wait *w = lira_wait_new(L);
    lira_join *j = calloc(1, sizeof *j);
    if (!j) {
        lira_wait_fail(L, w, "invalid", NULL);
        return luaL_error(L, "lira: join: out of memory");
    }
    j->target = t;
    j->w = w;
    j->next = t->joiners;
    if (t->joiners)
        t->joiners->prev = j;
    t->joiners = j;
    lira_wait_on_cancel(w, join_cancel, j);
    return lira_wait_finish(L, w);
}

/* ------------------------------------------------------------ spawn */

/* Push a new task running the function at index fn with the `nargs` values
 * above it (all popped). */
lira_task *lira_task_spawn(lua_State *L, lira_sched *s, int nargs)
{
    luaL_checkstack(L, 4, "lira: out of stack");
    lira_task *t = lua_newuserdatauv(L, sizeof *t, 3);
    memset(t, 0, sizeof *t);   /* born finished-looking: __gc on it is harmless */
    t->s = s;
    t->ref = LUA_NOREF;
    t->state = LIRA_TASK_DONE;
    luaL_setmetatable(L, TASK_MT);
    lua_State *co = lua_newthread(L);
    lua_setiuservalue(L, -2, UV_THREAD);
    if (!lua_checkstack(co, nargs + 1))
        luaL_error(L, "lira: spawn: too many arguments");
    lua_insert(L, -(nargs + 2));        /* task below fn and its arguments */
    lua_xmove(L, co, nargs + 1);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &k_by_ptr);
    lua_pushvalue(L, -2);
    lua_rawsetp(L, -2, t);
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    t->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    t->co = co;
    t->nargs = nargs;
    t->id = s->next_id++;
    s->live++;
    if (s->run_active) {
        t->in_run = 1;
        s->run_live++;
    }
    track(s, t);
    lira_task_enqueue(s, t);
    return t;
}

static int l_spawn(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lira_lua_engine(L);
    lira_task_spawn(L, lira_sched_get(L), lua_gettop(L) - 1);
    return 1;
}

/* ------------------------------------------------------------ cancel */

static int l_cancel(lua_State *L)
{
    lira_task *t = check_task(L, 1);
    if (lira_task_finished(t)) {
        lua_pushboolean(L, 0);
        return 1;
    }
    lira_sched *s = t->s;
    t->cancelled = 1;
    if (!t->started) {
        /* It never ran, so it never will: it ends now, as cancelled. */
        lira_lua_push_error(L, "cancelled", "the task was cancelled before it started");
        lua_setiuservalue(L, 1, UV_ERROR);
        lua_pushnil(L);
        lua_setiuservalue(L, 1, UV_THREAD);
        t->co = NULL;
        task_over(L, s, t, 0);
    } else if (t->wait) {
        lira_wait_cancel(t->wait);
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* fn of run() failed: the tasks it spawned would wait for a result that
 * never comes, so cancel them (structured concurrency) before re-raising. */
void lira_task_cancel_run(lua_State *L, lira_sched *s)
{
    for (lira_task *t = s->tasks, *next; t; t = next) {
        next = t->anext;
        if (!t->in_run)
            continue;
        lua_pushcfunction(L, l_cancel);
        push_by_ptr(L, t);
        lua_call(L, 1, 0);
    }
}

/* ------------------------------------------------------------ status */

static const char *status_name(const lira_task *t)
{
    switch (t->state) {
    case LIRA_TASK_READY: return "ready";
    case LIRA_TASK_RUNNING: return t->wait ? "waiting" : "running";
    case LIRA_TASK_WAITING: return "waiting";
    case LIRA_TASK_DONE: return "done";
    case LIRA_TASK_FAILED: return "failed";
    default: return "cancelled";
    }
}

static int l_status(lua_State *L)
{
    lua_pushstring(L, status_name(check_task(L, 1)));
    return 1;
}

static int l_tostring(lua_State *L)
{
    lira_task *t = check_task(L, 1);
    lua_pushfstring(L, "lira.Task %d (%s)", (int)t->id, status_name(t));
    return 1;
}

/* A failure nobody joined is written to stderr once, when the task is
 * collected (or when the state closes). */
static int l_gc(lua_State *L)
{
    lira_task *t = lua_touserdata(L, 1);
    if (t->state == LIRA_TASK_FAILED && !t->joined && !t->reported) {
        t->reported = 1;
        lua_getiuservalue(L, 1, UV_TRACE);
        const char *tb = lua_tostring(L, -1);
        fprintf(stderr, "lira: task %d failed and was never joined: %s\n", (int)t->id,
                tb ? tb : "?");
        fflush(stderr);
        lua_pop(L, 1);
    }
    return 0;
}

/* ------------------------------------------------------------ open */

static const luaL_Reg task_methods[] = {
    {"join", l_join},
    {"cancel", l_cancel},
    {"status", l_status},
    {NULL, NULL},
};

static const luaL_Reg task_meta[] = {
    {"__gc", l_gc},
    {"__tostring", l_tostring},
    {NULL, NULL},
};


void lira_lua_open_tasks(lua_State *L, int mod)
{
    mod = lua_absindex(L, mod);
    lira_sched_get(L);
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &k_by_ptr) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushliteral(L, "v");
        lua_setfield(L, -2, "__mode");
        lua_pushvalue(L, -1);
        lua_setmetatable(L, -2);
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &k_by_ptr);
    }
    lua_pop(L, 1);
    luaL_newmetatable(L, TASK_MT);
    luaL_setfuncs(L, task_meta, 0);
    luaL_newlib(L, task_methods);
    lua_pushvalue(L, -1);
    lua_setfield(L, mod, "Task");
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    lua_pushcfunction(L, l_spawn);
    lua_setfield(L, mod, "spawn");
    lira_wait_open(L, mod);
    lira_loop_open(L, mod);
    lira_engine_open_hooks(L, mod);
}
