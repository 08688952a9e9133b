/* lua_trace.h — what the rest of the binding needs from lira.trace.
 *
 * The current span is kept per coroutine (lua_trace.c). C code that starts
 * work on behalf of a coroutine — lira_call_start in lua_client.c, a
 * lira.log line — brackets it so that the tracer's C-level current span is
 * the coroutine's while it runs:
 *
 *     int pushed = lira_lua_trace_enter(L);
 *     rc = lira_call_start(...);     // the hub's call_start reads it
 *     lira_lua_trace_leave(L, pushed);
 */
#ifndef LIRA_LUA_TRACE_H
#define LIRA_LUA_TRACE_H

#include <lua.h>

#include "trace.h"

/* The current span context of the running coroutine L (its innermost
 * lira.trace.span, else the tracer's C-level current span). 1 and *out
 * filled, or 0 when there is none. Never raises. */
int lira_lua_trace_current(lua_State *L, lira_span_ctx *out);

/* Push L's own current span on the tracer's stack (see the top). Returns
 * 1 when it pushed, 0 when there was nothing to push. Never raises. */
int lira_lua_trace_enter(lua_State *L);
void lira_lua_trace_leave(lua_State *L, int pushed);

#endif
