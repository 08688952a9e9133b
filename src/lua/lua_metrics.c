/* lua_metrics.c — lira.metrics: user metrics from Lua in the engine's
 * registry (metrics.h), its Prometheus text, and a snapshot table.
 *
 *   local c = lira.metrics.counter("orders_synced_total", { shop = "eu" }, "help")
 *   c:inc()      c:inc(3)
 *   lira.metrics.gauge("queue_depth"):set(12)    -- also :inc([n]) / :dec([n])
 *   lira.metrics.histogram("sync_seconds", { job = "orders" }):observe(0.25)
 *   lira.metrics.text()       -- the Prometheus exposition of everything
 *   lira.metrics.snapshot()   -- { [name] = { type, help, series = {...} } }
 *
 * A handle is a full userdata holding its series; series live as long as
 * the engine's hub, which outlives every Lua state using the engine. */
#include <stdlib.h>
#include <string.h>

#include "binding.h"
#include "status.h"
#include "telemetry.h"

#define COUNTER_MT "lira.Counter"
#define GAUGE_MT "lira.Gauge"
#define HISTOGRAM_MT "lira.Histogram"
#define DEFAULT_HELP "A metric defined from Lua (lira.metrics)"

typedef struct metric_handle {
    lira_series *s;
} metric_handle;

static lira_telemetry *hub(lua_State *L)
{
    lira_telemetry *t = NULL;
    int rc = lira_telemetry_get(lira_lua_engine(L), &t);
    if (rc != LIRA_OK)
        luaL_error(L, "lira.metrics: cannot set up metrics: %s", lira_strerror(rc));
    return t;
}

static lira_metrics *registry(lua_State *L)
{
    return lira_telemetry_metrics(hub(L));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Label names (sorted) and values from the table at index 2. Strings stay
 * anchored: names by the table, values converted in place on the stack
 * (pushed after `base`). */
static size_t read_labels(lua_State *L, const char *fname, const char **names,
                          const char **values)
{
    if (lua_isnoneornil(L, 2))
        return 0;
    if (!lua_istable(L, 2))
        luaL_error(L, "bad argument #2 to '%s' (labels must be a table)", fname);
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING || !lira_metrics_valid_label(lua_tostring(L, -1)))
            luaL_error(L, "bad argument #2 to '%s' (label names must match "
                       "[a-zA-Z_][a-zA-Z0-9_]* and not start with __)", fname);
        if (n == LIRA_METRICS_MAX_LABELS)
            luaL_error(L, "bad argument #2 to '%s' (at most %d labels)", fname,
                       LIRA_METRICS_MAX_LABELS);
        names[n++] = lua_tostring(L, -1);
    }
    qsort(names, n, sizeof *names, cmp_str);
    luaL_checkstack(L, (int)n + 4, "lira.metrics");
    for (size_t i = 0; i < n; i++) {
        lua_getfield(L, 2, names[i]);
        int ty = lua_type(L, -1);
        if (ty == LUA_TBOOLEAN) {
            lua_pushstring(L, lua_toboolean(L, -1) ? "true" : "false");
            lua_remove(L, -2);
        } else if (ty != LUA_TSTRING && ty != LUA_TNUMBER) {
            luaL_error(L, "bad argument #2 to '%s' (labels.%s must be a string, number or "
                       "boolean)", fname, names[i]);
        }
        size_t len;
        values[i] = lua_tolstring(L, -1, &len);   /* a number becomes a string in place */
        if (len > LIRA_METRICS_MAX_VALUE || strlen(values[i]) != len)
            luaL_error(L, "bad argument #2 to '%s' (labels.%s: at most %d bytes, no NUL)", fname,
                       names[i], LIRA_METRICS_MAX_VALUE);
    }
    return n;
}

static void shape_error(lua_State *L, const char *fname, const char *name, lira_metric *f)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < lira_metric_nlabels(f); i++) {
        if (i)
            luaL_addstring(&b, ", ");
        luaL_addstring(&b, lira_metric_label(f, i));
    }
    luaL_pushresult(&b);
    luaL_error(L, "bad argument #1 to '%s' (%s is already a %s with labels {%s}: use the "
               "same type and label names)", fname, name,
               lira_metric_type_name(lira_metric_get_type(f)), lua_tostring(L, -1));
}

static int make(lua_State *L, lira_metric_type type, const char *fname, const char *mt)
{
    const char *name = lua_type(L, 1) == LUA_TSTRING ? lua_tostring(L, 1) : NULL;
    if (!name || !lira_metrics_valid_name(name))
        return luaL_error(L, "bad argument #1 to '%s' (name must match "
                          "[a-zA-Z_:][a-zA-Z0-9_:]*, at most %d bytes)", fname,
                          LIRA_METRICS_MAX_NAME);
    const char *help = luaL_optstring(L, 3, DEFAULT_HELP);
    if (strlen(help) > LIRA_METRICS_MAX_HELP)
        return luaL_error(L, "bad argument #3 to '%s' (help: at most %d bytes)", fname,
                          LIRA_METRICS_MAX_HELP);
    lua_settop(L, 3);
    const char *names[LIRA_METRICS_MAX_LABELS], *values[LIRA_METRICS_MAX_LABELS];
    size_t n = read_labels(L, fname, names, values);
    for (size_t i = 0; type == LIRA_METRIC_HISTOGRAM && i < n; i++)
        if (strcmp(names[i], "le") == 0)
            return luaL_error(L, "bad argument #2 to '%s' (a histogram cannot have an 'le' "
                              "label)", fname);
    lira_metrics *m = registry(L);
    lira_metric_def d = {name, help, type, names, n, NULL, 0};
    lira_metric *f = NULL;
    int rc = lira_metrics_define(m, &d, &f);
    if (rc == LIRA_ESTATE)
        shape_error(L, fname, name, lira_metrics_find(m, name));
    if (rc != LIRA_OK)
        return luaL_error(L, "%s: cannot define %s: %s", fname, name, lira_strerror(rc));
    metric_handle *h = lua_newuserdatauv(L, sizeof *h, 0);
    h->s = NULL;
    luaL_setmetatable(L, mt);
    rc = lira_metric_series(f, values, n, &h->s);
    if (rc != LIRA_OK)
        return luaL_error(L, "%s: %s", fname, lira_strerror(rc));
    return 1;
}

static int l_counter(lua_State *L) { return make(L, LIRA_METRIC_COUNTER, "counter", COUNTER_MT); }
static int l_gauge(lua_State *L) { return make(L, LIRA_METRIC_GAUGE, "gauge", GAUGE_MT); }
static int l_histogram(lua_State *L)
{
    return make(L, LIRA_METRIC_HISTOGRAM, "histogram", HISTOGRAM_MT);
}

/* ------------------------------------------------------------ methods */

static double amount(lua_State *L, const char *fname, int nonneg)
{
    double v = luaL_optnumber(L, 2, 1);
    if (!(v == v) || v - v != 0 || (nonneg && v < 0))
        luaL_error(L, "bad argument #1 to '%s' (must be a finite number%s)", fname,
                   nonneg ? " >= 0" : "");
    return v;
}

static int c_inc(lua_State *L)
{
    metric_handle *h = luaL_checkudata(L, 1, COUNTER_MT);
    lira_series_add(h->s, amount(L, "inc", 1));
    return 0;
}

static int g_inc(lua_State *L)
{
    metric_handle *h = luaL_checkudata(L, 1, GAUGE_MT);
    lira_series_add(h->s, amount(L, "inc", 0));
    return 0;
}

static int g_dec(lua_State *L)
{
    metric_handle *h = luaL_checkudata(L, 1, GAUGE_MT);
    lira_series_add(h->s, -amount(L, "dec", 0));
    return 0;
}

static int g_set(lua_State *L)
{
    metric_handle *h = luaL_checkudata(L, 1, GAUGE_MT);
    double v = luaL_checknumber(L, 2);
    if (v != v)
        return luaL_error(L, "bad argument #1 to 'set' (NaN)");
    lira_series_set(h->s, v);
    return 0;
}

static int h_observe(lua_State *L)
{
    metric_handle *h = luaL_checkudata(L, 1, HISTOGRAM_MT);
    double v = luaL_checknumber(L, 2);
    if (lira_series_observe(h->s, v) != LIRA_OK)
        return luaL_error(L, "bad argument #1 to 'observe' (seconds must be a number >= 0)");
    return 0;
}

static int m_value(lua_State *L)
{
    metric_handle *h = luaL_testudata(L, 1, COUNTER_MT);
    if (!h)
        h = luaL_testudata(L, 1, GAUGE_MT);
    if (!h)
        h = luaL_checkudata(L, 1, HISTOGRAM_MT);
    const lira_series_hist *hist = lira_series_histogram(h->s);
    if (hist)
        lua_pushinteger(L, (lua_Integer)lira_series_hist_count(hist));
    else
        lua_pushnumber(L, lira_series_value(h->s));
    return 1;
}

/* ------------------------------------------------------------ reading */

static int add_chunk(void *ud, const char *p, size_t n)
{
    luaL_addlstring(ud, p, n);
    return 0;
}

static int l_text(lua_State *L)
{
    lira_telemetry *t = hub(L);
    lira_telemetry_collect(t);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    lira_metrics_write_text(lira_telemetry_metrics(t), add_chunk, &b);
    luaL_pushresult(&b);
    return 1;
}

static void set_num(lua_State *L, const char *k, double v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

static void push_hist(lua_State *L, const lira_series_hist *h)
{
    static const double ps[] = {50, 90, 95, 99};
    static const char *const names[] = {"p50", "p90", "p95", "p99"};
    lua_pushinteger(L, (lua_Integer)lira_series_hist_count(h));
    lua_setfield(L, -2, "count");
    set_num(L, "sum", (double)lira_series_hist_sum(h) / 1e9);
    set_num(L, "min", (double)lira_series_hist_min(h) / 1e9);
    set_num(L, "max", (double)lira_series_hist_max(h) / 1e9);
    set_num(L, "mean", lira_series_hist_mean(h) / 1e9);
    for (int i = 0; i < 4; i++) {
        int64_t v = 0;
        lira_series_hist_percentile(h, ps[i], &v);
        set_num(L, names[i], (double)v / 1e9);
    }
}

/* The snapshot table is at index 1; one metric's entry is made on its first
 * series and appended to. */
static int snap_visit(void *ud, const lira_series_view *v)
{
    lua_State *L = ud;
    if (v->first) {
        lua_createtable(L, 0, 3);
        lua_pushstring(L, lira_metric_type_name(v->type));
        lua_setfield(L, -2, "type");
        lua_pushstring(L, v->help);
        lua_setfield(L, -2, "help");
        lua_newtable(L);
        lua_setfield(L, -2, "series");
        lua_setfield(L, 1, v->name);
    }
    if (!v->label_values && (v->nlabels || v->type == LIRA_METRIC_HISTOGRAM))
        return 0;
    lua_getfield(L, 1, v->name);
    lua_getfield(L, -1, "series");
    lua_createtable(L, 0, 8);
    lua_createtable(L, 0, (int)v->nlabels);
    for (size_t i = 0; i < v->nlabels; i++) {
        lua_pushstring(L, v->label_values[i]);
        lua_setfield(L, -2, v->label_names[i]);
    }
    lua_setfield(L, -2, "labels");
    if (v->hist)
        push_hist(L, v->hist);
    else
        set_num(L, "value", v->value);
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    lua_pop(L, 2);
    return 0;
}

static int l_snapshot(lua_State *L)
{
    lira_telemetry *t = hub(L);
    lira_telemetry_collect(t);
    lua_settop(L, 0);
    lua_newtable(L);
    lira_metrics_visit(lira_telemetry_metrics(t), snap_visit, L);
    return 1;
}

static void new_mt(lua_State *L, const char *name, const luaL_Reg *methods)
{
    luaL_newmetatable(L, name);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_pushcfunction(L, m_value);
    lua_setfield(L, -2, "value");
    lua_setfield(L, -2, "__index");
    lua_pushstring(L, name);
    lua_setfield(L, -2, "__name");
    lua_pop(L, 1);
}

/* core.metrics_builtin([on]) -> whether the built-in per-call metrics are
 * updated, after turning them on or off when `on` is given (a boolean).
 * Not part of lira.metrics: scripts/bench_http's in-process A/B of the
 * telemetry switches it between blocks of calls (bench/README.md). */
static int l_builtin(lua_State *L)
{
    lira_telemetry *t = hub(L);
    if (!lua_isnoneornil(L, 1)) {
        luaL_argexpected(L, lua_isboolean(L, 1), 1, "boolean");
        lira_telemetry_set_metrics(t, lua_toboolean(L, 1));
    }
    lua_pushboolean(L, lira_telemetry_metrics_on(t));
    return 1;
}

void lira_lua_open_metrics(lua_State *L, int mod)
{
    static const luaL_Reg counter_m[] = {{"inc", c_inc}, {NULL, NULL}};
    static const luaL_Reg gauge_m[] = {{"inc", g_inc}, {"dec", g_dec}, {"set", g_set},
                                       {NULL, NULL}};
    static const luaL_Reg hist_m[] = {{"observe", h_observe}, {NULL, NULL}};
    static const luaL_Reg fns[] = {
        {"counter", l_counter}, {"gauge", l_gauge}, {"histogram", l_histogram},
        {"text", l_text}, {"snapshot", l_snapshot}, {NULL, NULL},
    };
    new_mt(L, COUNTER_MT, counter_m);
    new_mt(L, GAUGE_MT, gauge_m);
    new_mt(L, HISTOGRAM_MT, hist_m);
    luaL_newlib(L, fns);
    lua_setfield(L, mod, "metrics");
    lua_pushcfunction(L, l_builtin);
    lua_setfield(L, mod, "metrics_builtin");
}
