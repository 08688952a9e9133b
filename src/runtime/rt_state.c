/* rt_state.c — one lua_State per integration version.
 *
 * A version's state has its own allocator (counting bytes against a limit:
 * past it an allocation fails, so the task that asked gets Lua's "not
 * enough memory" instead of the process dying) and a count hook (the
 * watchdog: a resume that burns more than the CPU budget without yielding
 * gets an error raised inside it). `lira.core` is preloaded from this
 * binary, so the engine the runtime created is the one every state uses;
 * the Lua half is found next to the binary (installed layout) or in the
 * source tree (build tree, LIRA_SOURCE_LUA_DIR).
 *
 * Size: `require` goes through a searcher of ours (rt_modules.h) that
 * loads lira's modules from bytecode compiled once per process and records
 * the integration's local modules; after loading, a full collection and the
 * generational collector keep an idle state small. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lualib.h>

#include "core/status.h"
#include "engine/log.h"
#include "runtime/rt_modules.h"
#include "runtime/runtime.h"

int luaopen_lira_core(lua_State *L);

#define WD_COUNT 10000   /* instructions between watchdog checks */

static const char *const kind_fn[3] = {"sync", "start", "stop"};
static const char *const kind_label[3] = {"run", "start", "stop"};

/* ------------------------------------------------------------ allocator */

static void *rt_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    rt_version *v = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        v->mem_used -= old;
        free(ptr);
        return NULL;
    }
    if (v->mem_limit && nsize > old && v->mem_used + (nsize - old) > v->mem_limit) {
        v->mem_exceeded = 1;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (!p)
        return NULL;
    v->mem_used = v->mem_used - old + nsize;
    return p;
}

/* ------------------------------------------------------------ watchdog */

static int64_t cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Each resume batch has a generation; the first check in a (thread,
 * generation) pair starts the clock. Once over budget, every later check
 * of the same resume raises again, so a pcall around the loop cannot keep
 * it alive for long. */
static void wd_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    void *ud = NULL;
    lua_getallocf(L, &ud);
    rt_version *v = ud;
    if (!v || !v->r)
        return;
    int64_t now = cpu_now();
    if (v->wd_thread != (const void *)L || v->wd_gen != v->r->wd_gen) {
        v->wd_thread = L;
        v->wd_gen = v->r->wd_gen;
        v->wd_start = now;
        return;
    }
    if (now - v->wd_start > v->r->wd_budget_ns) {
        char msg[160];
        snprintf(msg, sizeof msg, "lira: watchdog: stopped a task that ran %.2f s of CPU "
                 "without yielding (budget %.2f s; --cpu-budget)",
                 (double)(now - v->wd_start) / 1e9, (double)v->r->wd_budget_ns / 1e9);
        luaL_error(L, "%s", msg);
    }
}

/* ------------------------------------------------------------ paths */

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* package.path / cpath: the integration's folder, then the installed
 * modules (bin/../share/lua/5.4), then the source tree, then Lua's own. */
static void set_paths(lua_State *L, const char *bin_dir, const char *file)
{
    char dir[4096], buf[4096];
    snprintf(dir, sizeof dir, "%s", file);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    luaL_Buffer b;
    lua_getglobal(L, "package");
    luaL_buffinit(L, &b);
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", dir, dir);
    luaL_addvalue(&b);
    snprintf(buf, sizeof buf, "%s/../share/lua/5.4/lira/init.lua", bin_dir);
    if (exists(buf)) {
        lua_pushfstring(L, "%s/../share/lua/5.4/?.lua;%s/../share/lua/5.4/?/init.lua;", bin_dir,
                        bin_dir);
        luaL_addvalue(&b);
    }
#ifdef LIRA_SOURCE_LUA_DIR
    lua_pushliteral(L, LIRA_SOURCE_LUA_DIR "/?.lua;" LIRA_SOURCE_LUA_DIR "/?/init.lua;");
    luaL_addvalue(&b);
#endif
    lua_getfield(L, -2, "path");
    luaL_addvalue(&b);
    luaL_pushresult(&b);
    lua_setfield(L, -2, "path");
    lua_pushfstring(L, "%s/?.so;%s/../lib/lua/5.4/?.so;%s/lib/?.so;", dir, bin_dir, bin_dir);
    lua_getfield(L, -2, "cpath");
    lua_concat(L, 2);
    lua_setfield(L, -2, "cpath");
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, luaopen_lira_core);
    lua_setfield(L, -2, "lira.core");
    lua_pop(L, 2);
}

/* ------------------------------------------------------------ modules */

/* The bytecode cache: lira's library modules, compiled once per process
 * (with debug info: tracebacks keep their lines). Lua runs on the loop
 * thread only, so it needs no lock. A file whose size or mtime changed is
 * compiled again. */
typedef struct bc_chunk {
    char *path;
    off_t size;
    int64_t mtime_ns;
    char *code;
    size_t len, cap;
    struct bc_chunk *next;
} bc_chunk;

static bc_chunk *chunk_cache;

void rt_chunk_cache_free(void)
{
    while (chunk_cache) {
        bc_chunk *c = chunk_cache;
        chunk_cache = c->next;
        free(c->path);
        free(c->code);
        free(c);
    }
}

static int chunk_write(lua_State *L, const void *p, size_t sz, void *ud)
{
    (void)L;
    bc_chunk *c = ud;
    if (c->len + sz > c->cap) {
        size_t cap = (c->len + sz) * 2;
        char *n = realloc(c->code, cap);
        if (!n)
            return 1;
        c->code = n;
        c->cap = cap;
    }
    memcpy(c->code + c->len, p, sz);
    c->len += sz;
    return 0;
}

/* Push the loaded chunk of a library file (from the cache when it is
 * current, else compiled and cached); LUA_OK or an error pushed. */
static int load_cached(lua_State *L, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return luaL_loadfilex(L, path, "t");
    int64_t mt = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    bc_chunk *c = chunk_cache;
    while (c && strcmp(c->path, path) != 0)
        c = c->next;
    if (c && c->size == st.st_size && c->mtime_ns == mt) {
        lua_pushfstring(L, "@%s", path);
        int rc = luaL_loadbufferx(L, c->code, c->len, lua_tostring(L, -1), "b");
        lua_remove(L, -2);
        return rc;
    }
    int rc = luaL_loadfilex(L, path, "t");
    if (rc != LUA_OK)
        return rc;
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c || !(c->path = strdup(path))) {
            free(c);
            return LUA_OK;   /* not cached: the next state parses it again */
        }
        c->next = chunk_cache;
        chunk_cache = c;
    }
    c->len = 0;
    if (lua_dump(L, chunk_write, c, 0) != 0)
        c->size = -1;        /* never matches: compiled again next time */
    else
        c->size = st.st_size;
    c->mtime_ns = mt;
    return LUA_OK;
}

#define MODULES_KEY "lira.rt.modules"

/* package.searchers[2], ours: upvalue 1 is the integration's folder with a
 * trailing slash. Same contract as Lua's file searcher. */
static int l_searcher(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    const char *dir = lua_tostring(L, lua_upvalueindex(1));
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "searchpath");
    lua_pushstring(L, name);
    lua_getfield(L, -3, "path");
    lua_call(L, 2, 2);
    if (lua_isnil(L, -2))
        return 1;            /* the "no file ..." message */
    lua_pop(L, 1);
    const char *path = lua_tostring(L, -1);
    int local = strncmp(path, dir, strlen(dir)) == 0;
    int rc;
    if (local) {
        char real[PATH_MAX];
        lua_getfield(L, LUA_REGISTRYINDEX, MODULES_KEY);
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, realpath(path, real) ? real : path);
        lua_pop(L, 1);
        rc = luaL_loadfilex(L, path, "t");
    } else {
        rc = load_cached(L, path);
    }
    if (rc != LUA_OK)
        return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s", name, path,
                          lua_tostring(L, -1));
    lua_pushvalue(L, -2);
    return 2;
}

static void set_searcher(lua_State *L, const char *file)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", file);
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[1] = '\0';
    else
        snprintf(dir, sizeof dir, "./");
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, MODULES_KEY);
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "searchers");
    lua_pushstring(L, dir);
    lua_pushcclosure(L, l_searcher, 1);
    lua_rawseti(L, -2, 2);
    lua_pop(L, 2);
}

int rt_version_uses(rt_version *v, const char *path)
{
    lua_State *L = v->L;
    int top = lua_gettop(L);
    lua_getfield(L, LUA_REGISTRYINDEX, MODULES_KEY);
    int used = lua_istable(L, -1) && lua_getfield(L, -1, path) != LUA_TNIL;
    lua_settop(L, top);
    return used;
}

void rt_version_modules(rt_version *v, void (*fn)(void *ud, const char *path), void *ud)
{
    lua_State *L = v->L;
    int top = lua_gettop(L);
    lua_getfield(L, LUA_REGISTRYINDEX, MODULES_KEY);
    if (lua_istable(L, -1)) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            lua_pop(L, 1);
            if (lua_type(L, -1) == LUA_TSTRING)
                fn(ud, lua_tostring(L, -1));
        }
    }
    lua_settop(L, top);
}

/* ------------------------------------------------------------ loading */

typedef struct load_args {
    rt_version *v;
    const char *file;
    int check;
} load_args;

static int l_stopping(lua_State *L)
{
    rt_version *v = lua_touserdata(L, lua_upvalueindex(1));
    lua_pushboolean(L, v->stopping);
    return 1;
}

static int l_report(lua_State *L)
{
    rt_version *v = lua_touserdata(L, lua_upvalueindex(1));
    int kind = (int)lua_tointeger(L, lua_upvalueindex(2));
    int ok = lua_toboolean(L, 1);
    const char *msg = lua_tostring(L, 2);
    const char *tb = lua_tostring(L, 3);
    luaL_unref(L, LUA_REGISTRYINDEX, v->task_ref[kind]);
    v->task_ref[kind] = LUA_NOREF;
    rt_on_report(v, kind, ok, msg, tb);
    return 0;
}

static int traceback(lua_State *L)
{
    const char *m = lua_tostring(L, 1);
    luaL_traceback(L, L, m ? m : "(error object is not a string)", 1);
    return 1;
}

static int ref_field(lua_State *L, int t, const char *k)
{
    lua_getfield(L, t, k);
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

static int load_body(lua_State *L)
{
    load_args *a = lua_touserdata(L, 1);
    rt_version *v = a->v;
    luaL_openlibs(L);
    set_paths(L, v->r ? v->r->search_dir : ".", a->file);
    set_searcher(L, a->file);
    if (v->r && v->r->e)
        lira_lua_set_engine(L, v->r->e);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "lira.runtime");
    lua_call(L, 1, 1);
    int rtm = lua_gettop(L);
    lua_getfield(L, rtm, "prepare");
    lua_pushboolean(L, a->check);
    lua_call(L, 1, 0);
    lua_pushcfunction(L, traceback);
    int h = lua_gettop(L);
    int st = luaL_loadfilex(L, a->file, "t");
    if (st == LUA_OK)
        st = lua_pcall(L, 0, 1, h);
    if (st != LUA_OK)
        return lua_error(L);
    int spec = lua_gettop(L);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "lira.integration");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "is");
    lua_pushvalue(L, spec);
    lua_call(L, 1, 1);
    if (!lua_toboolean(L, -1))
        return luaL_error(L, "%s: the file must return lira.integration{...} (it returned a %s)",
                          a->file, luaL_typename(L, spec));
    lua_pop(L, 2);
    lua_getfield(L, spec, "name");
    v->name = strdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    if (!v->name)
        return luaL_error(L, "out of memory");
    lua_getfield(L, spec, "every");
    v->every = lua_tonumber(L, -1);
    lua_pop(L, 1);
    for (int k = 0; k < 3; k++) {
        lua_getfield(L, spec, kind_fn[k]);
        v->has[k] = lua_isfunction(L, -1);
        lua_pop(L, 1);
    }
    v->runner_ref = ref_field(L, rtm, "runner");
    lua_getfield(L, rtm, "ctx");
    lua_pushvalue(L, spec);
    lua_pushlightuserdata(L, v);
    lua_pushcclosure(L, l_stopping, 1);
    lua_call(L, 2, 1);
    v->ctx_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    for (int k = 0; k < 3; k++) {
        lua_pushlightuserdata(L, v);
        lua_pushinteger(L, k);
        lua_pushcclosure(L, l_report, 2);
        v->report_ref[k] = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_pushvalue(L, spec);
    v->spec_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    /* What loading left behind is garbage; an idle state then stays near
     * its live size (generational: young garbage goes in minor steps). */
    lua_settop(L, 0);
    lua_gc(L, LUA_GCCOLLECT);
    lua_gc(L, LUA_GCGEN, 0, 0);
    return 0;
}

/* The line of the last "lira.integration" in file (1 when none): an error
 * raised by lira.integration{...} in `return lira.integration{...}` (a tail
 * call) carries no position of its own. */
static int integration_line(const char *file)
{
    FILE *f = fopen(file, "rb");
    if (!f)
        return 1;
    char buf[4096];
    int line = 1, found = 1;
    while (fgets(buf, sizeof buf, f)) {
        if (strstr(buf, "lira.integration"))
            found = line;
        if (strchr(buf, '\n'))
            line++;
    }
    fclose(f);
    return found;
}

/* "file:line: message" out of a Lua error (usually positioned already; the
 * first line only: the traceback stays in the logs). */
static void format_error(const char *file, const char *msg, char *err, size_t cap)
{
    if (!msg)
        msg = "(error object is not a string)";
    const char *nl = strchr(msg, '\n');
    int first = nl ? (int)(nl - msg) : (int)strlen(msg);
    const char *pos = strstr(msg, ".lua:");
    if (pos && pos < msg + first)
        snprintf(err, cap, "%.*s", first, msg);
    else if (strncmp(msg, file, strlen(file)) == 0)
        snprintf(err, cap, "%.*s", first, msg);
    else if (strncmp(msg, "lira.integration", 16) == 0)
        snprintf(err, cap, "%s:%d: %.*s", file, integration_line(file), first, msg);
    else
        snprintf(err, cap, "%s: %.*s", file, first, msg);
}

rt_version *rt_version_load(rt *r, const char *file, int check, char *err, size_t cap)
{
    rt_version *v = calloc(1, sizeof *v);
    if (!v) {
        snprintf(err, cap, "%s: out of memory", file);
        return NULL;
    }
    v->r = r;
    v->mem_limit = r ? r->o.mem_limit : 0;
    for (int k = 0; k < 3; k++)
        v->task_ref[k] = v->report_ref[k] = LUA_NOREF;
    v->spec_ref = v->ctx_ref = v->runner_ref = LUA_NOREF;
    v->L = lua_newstate(rt_alloc, v);
    if (!v->L) {
        snprintf(err, cap, "%s: cannot create a Lua state (out of memory)", file);
        free(v);
        return NULL;
    }
    if (r)
        lua_sethook(v->L, wd_hook, LUA_MASKCOUNT, WD_COUNT);
    rt_hash_file(file, v->hash);
    if (r)
        r->wd_gen++;
    load_args a = {v, file, check};
    lua_pushcfunction(v->L, load_body);
    lua_pushlightuserdata(v->L, &a);
    if (lua_pcall(v->L, 1, 0, 0) != LUA_OK) {
        const char *m = lua_tostring(v->L, -1);
        if (v->mem_exceeded)
            snprintf(err, cap, "%s: memory limit of %zu bytes exceeded while loading", file,
                     v->mem_limit);
        else
            format_error(file, m, err, cap);
        rt_version_close(v);
        return NULL;
    }
    return v;
}

void rt_version_close(rt_version *v)
{
    if (!v)
        return;
    if (v->L)
        lua_close(v->L);
    free(v->name);
    free(v);
}

/* ------------------------------------------------------------ running */

int rt_version_run_ready(rt_version *v)
{
    v->r->wd_gen++;
    return lira_lua_run_ready(v->L);
}

int rt_version_has_ready(rt_version *v)
{
    return lira_lua_has_ready(v->L);
}

/* Call `rtm.<fn>()` of lira.runtime; leaves its one result on the stack. */
static int call_runtime(lua_State *L, const char *fn)
{
    lua_getglobal(L, "require");
    lua_pushliteral(L, "lira.runtime");
    if (lua_pcall(L, 1, 1, 0) != LUA_OK)
        return -1;
    lua_getfield(L, -1, fn);
    lua_remove(L, -2);
    return 0;
}

int rt_version_tasks(rt_version *v)
{
    lua_State *L = v->L;
    int top = lua_gettop(L);
    int n = 0;
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "loaded");
    lua_getfield(L, -1, "lira.core");
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "loop");
        lua_getfield(L, -1, "count");
        lua_pushvalue(L, -2);
        if (lua_pcall(L, 1, 1, 0) == LUA_OK)
            n = (int)lua_tointeger(L, -1);
    }
    lua_settop(L, top);
    return n;
}

int rt_version_spawn(rt_version *v, int kind)
{
    lua_State *L = v->L;
    int top = lua_gettop(L);
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "loaded");
    lua_getfield(L, -1, "lira.core");
    lua_getfield(L, -1, "spawn");
    lua_rawgeti(L, LUA_REGISTRYINDEX, v->runner_ref);
    lua_pushstring(L, kind_label[kind]);
    lua_rawgeti(L, LUA_REGISTRYINDEX, v->spec_ref);
    lua_getfield(L, -1, kind_fn[kind]);
    lua_remove(L, -2);
    lua_rawgeti(L, LUA_REGISTRYINDEX, v->ctx_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, v->report_ref[kind]);
    if (lua_pcall(L, 5, 1, 0) != LUA_OK) {
        rt_log(v->r, LIRA_LOG_ERROR, "integration: cannot spawn a task", v->name, "error",
               lua_tostring(L, -1), NULL, NULL);
        lua_settop(L, top);
        return LIRA_ENOMEM;
    }
    v->task_ref[kind] = luaL_ref(L, LUA_REGISTRYINDEX);
    v->active[kind] = 1;
    lua_settop(L, top);
    return LIRA_OK;
}

/* Call task:<method>() for the task at the top; leaves one result. */
static void task_method(lua_State *L, const char *method)
{
    lua_getfield(L, -1, method);
    lua_insert(L, -2);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        lua_pop(L, 1);
        lua_pushnil(L);
    }
}

void rt_version_cancel(rt_version *v)
{
    lua_State *L = v->L;
    for (int k = 0; k < 3; k++) {
        if (v->task_ref[k] == LUA_NOREF)
            continue;
        lua_rawgeti(L, LUA_REGISTRYINDEX, v->task_ref[k]);
        task_method(L, "cancel");
        lua_pop(L, 1);
    }
}

void rt_version_check_tasks(rt_version *v)
{
    lua_State *L = v->L;
    for (int k = 0; k < 3; k++) {
        if (!v->active[k] || v->task_ref[k] == LUA_NOREF)
            continue;
        lua_rawgeti(L, LUA_REGISTRYINDEX, v->task_ref[k]);
        task_method(L, "status");
        const char *s = lua_tostring(L, -1);
        int over = s && (strcmp(s, "done") == 0 || strcmp(s, "failed") == 0 ||
                         strcmp(s, "cancelled") == 0);
        lua_pop(L, 1);
        if (!over)
            continue;
        luaL_unref(L, LUA_REGISTRYINDEX, v->task_ref[k]);
        v->task_ref[k] = LUA_NOREF;
        rt_on_report(v, k, 0, "the task ended without reporting its outcome", NULL);
    }
}

/* ------------------------------------------------------------ admin, lint */

char *rt_version_clients_json(rt_version *v)
{
    lua_State *L = v->L;
    int top = lua_gettop(L);
    char *out = NULL;
    if (call_runtime(L, "clients_json") == 0 && lua_pcall(L, 0, 1, 0) == LUA_OK &&
        lua_isstring(L, -1))
        out = strdup(lua_tostring(L, -1));
    lua_settop(L, top);
    return out;
}

int rt_version_lint(rt_version *v, const char *file, void (*fn)(void *ud, const char *line),
                    void *ud)
{
    lua_State *L = v->L;
    int top = lua_gettop(L);
    int n = 0;
    FILE *f = fopen(file, "rb");
    if (call_runtime(L, "lint") != 0)
        goto out;
    lua_pushstring(L, file);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    if (f) {
        char chunk[4096];
        size_t got;
        while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
            luaL_addlstring(&b, chunk, got);
    }
    luaL_pushresult(&b);
    if (lua_pcall(L, 2, 1, 0) != LUA_OK || !lua_istable(L, -1))
        goto out;
    n = (int)luaL_len(L, -1);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        lua_getfield(L, -1, "line");
        lua_getfield(L, -2, "msg");
        char line[2048];
        snprintf(line, sizeof line, "%s:%d: warning: %s", file, (int)lua_tointeger(L, -2),
                 lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
        fn(ud, line);
        lua_pop(L, 3);
    }
out:
    if (f)
        fclose(f);
    lua_settop(L, top);
    return n;
}

/* ------------------------------------------------------------ hashing */

void rt_hash_file(const char *file, char out[17])
{
    uint64_t h = 1469598103934665603ULL;   /* FNV-1a 64 */
    FILE *f = fopen(file, "rb");
    if (f) {
        unsigned char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0)
            for (size_t i = 0; i < n; i++)
                h = (h ^ buf[i]) * 1099511628211ULL;
        fclose(f);
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}
