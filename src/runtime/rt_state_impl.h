/* rt_state_impl.h — what the pieces of a version's state share: rt_state.c
 * (creating and loading it), rt_modules.c (its `require`) and rt_tasks.c
 * (the tasks run in it). Internal to src/runtime: other files use
 * runtime.h and rt_modules.h. */
#ifndef LIRA_RT_STATE_IMPL_H
#define LIRA_RT_STATE_IMPL_H

#include "runtime/runtime.h"

/* The spec field each task kind runs, indexed by RT_RUN / RT_START /
 * RT_STOP (rt_state.c). */
extern const char *const lira__rt_kind_fn[3];

/* rt_modules.c: put our searcher in package.searchers[2] of L and start an
 * empty record of local modules; `file` is the integration file (its folder
 * is what counts as local). Raises (out of memory) as any Lua API call. */
void lira__rt_set_searcher(lua_State *L, const char *file);

#endif
