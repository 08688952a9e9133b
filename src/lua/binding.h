/* binding.h — what the files of the Lua binding share: the per-state engine,
 * the task scheduler, and the wait protocol every waiting call uses.
 *
 * Only src/lua and src/runtime include this (they are the only layers that
 * touch the Lua C API).
 *
 * The wait protocol (ARCHITECTURE.md "The yield protocol"):
 *
 *     static int l_something(lua_State *L) {
 *         ...validate arguments (raise on misuse)...
 *         lira_wait *w = lira_wait_new(L);            // raises on ENOMEM
 *         int rc = engine_op_start(..., on_done, w);    // C callback + opaque pointer
 *         if (rc != LIRA_OK)
 *             return lira_wait_fail(L, w, "...");      // nothing started: nil, err
 *         lira_wait_on_cancel(w, cancel_op, op);         // optional: task:cancel()
 *         return lira_wait_finish(L, w);                // yields or drives the loop
 *     }
 *     static void on_done(void *ud, result *r) {       // engine callback, loop thread
 *         lira_wait_complete(ud, push_result, free_result, r_copy);
 *     }
 *
 * lira_wait_finish() inside a lira task yields with lua_yieldk; the
 * scheduler resumes the task once the wait completed, and the continuation
 * pushes the results with push_result(L, data). Anywhere else (the main
 * thread of a plain host, a coroutine lira did not create) it runs the loop
 * until this wait completes — resuming ready lira tasks meanwhile, never
 * the waiting coroutine — then pushes the results the same way.
 *
 * The record is owned by the binding: it stays alive until both the engine
 * has completed it and the results were pushed (or the waiting task died;
 * then free_result(data) releases the results nobody will read). */
#ifndef LIRA_LUA_BINDING_H
#define LIRA_LUA_BINDING_H

#include <lauxlib.h>
#include <lua.h>

#include "engine.h"

/* ---------------------------------------------------------- the engine */

/* The engine of this Lua state (shared by all its threads). Created on
 * first use (a private engine for a plain host) unless the runtime
 * installed one with lira_lua_set_engine(). Raises on failure. */
lira_engine *lira_lua_engine(lua_State *L);

/* Install `e` as this state's engine before `require "lira"` (the runtime
 * shares one engine between integrations). Not owned: the runtime frees it
 * after closing the states. */
void lira_lua_set_engine(lua_State *L, lira_engine *e);

/* ---------------------------------------------------------- waits */

typedef struct lira_wait lira_wait;

/* Push the results of a completed wait onto L; return how many. It only
 * reads `data` (it may move things out of it): the binding calls
 * free_data(data) right after, whether push returned or raised. */
typedef int (*lira_wait_push_fn)(lua_State *L, void *data);
typedef void (*lira_wait_free_fn)(void *data);
typedef void (*lira_wait_cancel_fn)(void *op);

/* A new wait record for the running coroutine L. Raises on ENOMEM. */
lira_wait *lira_wait_new(lua_State *L);

/* Tell the record how to abort the operation (task:cancel(), lira.run
 * tearing down, lua_close): cancel_op(op) must complete the wait
 * synchronously (the engine's cancel functions do), and complete only it.
 * Without a cancel_op, a cancelled waiter returns nil, err ("cancelled") at
 * once and the record is freed when the operation completes later; an
 * operation that can outlive its lua_State (the runtime's shared engine)
 * must therefore set one. Cancellation is sticky: a cancelled task's later
 * waits end at once (their cancel_op runs inside lira_wait_finish). */
void lira_wait_on_cancel(lira_wait *w, lira_wait_cancel_fn cancel_op, void *op);

/* Called once, on the loop thread, when the operation is over. `data` is
 * handed to push (when the waiter reads the results) or to free (when no one
 * will). Either function may be NULL (push NULL = no results). */
void lira_wait_complete(lira_wait *w, lira_wait_push_fn push, lira_wait_free_fn free_data,
                        void *data);

/* Wait for w (see the top of this file) and return its results. Nothing
 * may raise between lira_wait_new() and this call or lira_wait_fail(). When
 * driving finds nothing pending that could complete w, it raises
 * "lira: deadlock: ..." (after aborting w) instead of hanging. */
int lira_wait_finish(lua_State *L, lira_wait *w);

/* The operation could not start: free w and return `nil, err` with `kind`
 * (NULL: "invalid") and `message` (a lira error table, see
 * lira_lua_push_error). */
int lira_wait_fail(lua_State *L, lira_wait *w, const char *kind, const char *message);

/* ---------------------------------------------------------- errors */

/* Push a lira error table: { kind = kind, message = message } with the
 * lira.Error metatable (__tostring gives "kind: message"). Other fields
 * (attempts, retryable, status, retry_after, response) are set by callers. */
void lira_lua_push_error(lua_State *L, const char *kind, const char *message);

/* ---------------------------------------------------------- tasks */

/* Whether L is the thread of a lira task the scheduler may resume. */
int lira_lua_in_task(lua_State *L);

/* Resume the tasks that were ready on entry, once each, in FIFO order
 * (used by the loop drivers). Tasks made ready meanwhile wait for the next
 * call, so a task looping on sleep(0) cannot starve I/O: a driver steps the
 * engine with no wait while lira_lua_has_ready(). Returns the number
 * resumed. Errors raised by tasks are kept on the task (join returns them);
 * they never propagate here. */
int lira_lua_run_ready(lua_State *L);

/* Whether some task of L's state is ready to run (then step the engine with
 * max_wait 0). */
int lira_lua_has_ready(lua_State *L);

/* ---------------------------------------------------------- registration */

/* Each part of the binding sets its functions on the module table at
 * index `mod` (luaopen_lira_core calls them in turn). */
void lira_lua_open_tasks(lua_State *L, int mod);    /* spawn, sleep, now, run, loop, Task */
void lira_lua_open_client(lua_State *L, int mod);   /* client_new, Client, Breaker, Limiter */
void lira_lua_json_open(lua_State *L, int mod);     /* json_encode, json_decode, null, array */
void lira_lua_open_store(lua_State *L, int mod);    /* checkpoints, state, idempotency, cache */
void lira_lua_open_util(lua_State *L, int mod);     /* header parsers for the Lua side (link, ...) */
void lira_lua_open_log(lua_State *L, int mod);      /* lira.log */
void lira_lua_open_metrics(lua_State *L, int mod);  /* lira.metrics */
void lira_lua_open_trace(lua_State *L, int mod);    /* lira.trace */
void lira_lua_open_testing(lua_State *L, int mod);  /* lira.testing: scripted transport, clock */
void lira_lua_open_webhook(lua_State *L, int mod);  /* lira.webhook.verify */
void lira_lua_open_inbox(lua_State *L, int mod);    /* inbox_*: the webhook inbox (t.runtime) */

#endif
