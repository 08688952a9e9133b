/* rt_modules.h — which files an integration's `require` loaded, and the
 * process-wide cache of lira's own precompiled Lua modules (rt_modules.c).
 *
 * Every version's state gets a Lua searcher in place of Lua's own file
 * searcher: a module found in the integration's own folder (or below it)
 * is loaded from its file, as Lua would, and recorded, so that a change to
 * it reloads exactly the integrations that use it (rt_reload.c); any other
 * module (lira's library) is compiled once per process and each later
 * state loads the cached bytecode instead of parsing the file again. */
#ifndef LIRA_RT_MODULES_H
#define LIRA_RT_MODULES_H

#include "runtime/runtime.h"

/* Whether v's state loaded the local module `path` (absolute). */
int rt_version_uses(rt_version *v, const char *path);
/* Call fn for each local module file v's state loaded (absolute paths). */
void rt_version_modules(rt_version *v, void (*fn)(void *ud, const char *path), void *ud);
/* rt_reload.c: watch the folders of the local modules v loaded (a module
 * outside the watched folders is seen too). No-op with --no-reload. */
void rt_reload_watch_modules(rt *r, rt_version *v);
/* Free the bytecode cache (at exit; the next load fills it again). */
void rt_chunk_cache_free(void);

#endif
