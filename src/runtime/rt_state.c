/* rt_state.c — one lua_State per integration version.
 *
 * A version's state has its own allocator (counting bytes against a limit:
 * past it an allocation fails, so the task that asked gets Lua's "not
 * enough memory" instead of the process dying) and a count hook (the
 * watchdog: a resume that burns more than the CPU budget without yielding
 * gets an error raised inside it). `lira.core` is preloaded from this
 * binary, so the engine the runtime created is the one every state uses;
 * the Lua half is found next to the binary (installed layout) or in the
 * source tree (build tree, LIRA_SOURCE_LUA_DIR). Loading runs the file and
 * keeps what the runtime needs of its spec; the admin page and lira check
 * ask the loaded state through lira.runtime.
 *
 * Size: `require` goes through a searcher of ours (rt_modules.c) that
 * loads lira's modules from bytecode compiled once per process and records
 * the integration's local modules; after loading, a full collection and the
 * generational collector keep an idle state small. The tasks that run in
 * the state are rt_tasks.c's. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lualib.h>

#include "runtime/rt_state_impl.h"

int luaopen_lira_core(lua_State *L);

#define WD_COUNT 10000   /* instructions between watchdog checks */

const char *const lira__rt_kind_fn[3] = {"sync", "start", "stop"};

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

/* What the C side keeps of the spec at `spec`: its name, `every`, and
 * which of sync / start / stop it gives. */
static int read_spec(lua_State *L, rt_version *v, int spec)
{
    lua_getfield(L, spec, "name");
    v->name = strdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    if (!v->name)
        return luaL_error(L, "out of memory");
    lua_getfield(L, spec, "every");
    v->every = lua_tonumber(L, -1);
    lua_pop(L, 1);
    for (int k = 0; k < 3; k++) {
        lua_getfield(L, spec, lira__rt_kind_fn[k]);
        v->has[k] = lua_isfunction(L, -1);
        lua_pop(L, 1);
    }
    return 0;
}

static int load_body(lua_State *L)
{
    load_args *a = lua_touserdata(L, 1);
    rt_version *v = a->v;
    luaL_openlibs(L);
    set_paths(L, v->r ? v->r->search_dir : ".", a->file);
    lira__rt_set_searcher(L, a->file);
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
    read_spec(L, v, spec);
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

/* ------------------------------------------------------------ admin, lint */

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
