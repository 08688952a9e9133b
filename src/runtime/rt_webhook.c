/* rt_webhook.c — webhook routes: read from Lua at load, published to the
 * MHD threads as an immutable refcounted table (rt_webhook.h).
 *
 * Everything the receiving threads need (the verify config with its
 * secrets, the event id rule, the limits) is copied out of the Lua state
 * here, on the loop thread, so no Lua ever runs on an MHD thread. Reading
 * uses raw table access only: a user table with an __index function
 * cannot raise outside a protected call. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "core/status.h"
#include "engine/log.h"
#include "runtime/rt_webhook.h"

static const char *const result_names[RT_WH_NRESULTS] = {
    "accepted", "duplicate", "bad_signature", "expired", "malformed", "missing_header",
    "too_large", "missing_id", "not_found", "bad_method", "store_error"};

const char *rt_wh_result_name(int result)
{
    return result >= 0 && result < RT_WH_NRESULTS ? result_names[result] : "unknown";
}

void rt_wh_count(rt_wh_stats *s, int result)
{
    if (s && result >= 0 && result < RT_WH_NRESULTS)
        __atomic_add_fetch(&s->received[result], 1, __ATOMIC_RELAXED);
}

int rt_wh_init(rt *r)
{
    rt_wh *w = calloc(1, sizeof *w);
    if (!w)
        return LIRA_ENOMEM;
    w->r = r;
    const char *p = getenv("LIRA_STATE");
    snprintf(w->state_path, sizeof w->state_path, "%s", p && *p ? p : ".lira/state.db");
    const char *sy = getenv("LIRA_STATE_SYNC");
    w->sync_full = sy && strcmp(sy, "full") == 0;
    const char *ret = getenv("LIRA_WEBHOOK_RETENTION");
    char *end = NULL;
    double d = ret && *ret ? strtod(ret, &end) : 0;
    if (ret && *ret && end && *end == '\0' && d > 0 && d < 1e9)
        w->retention_ms = (int64_t)(d * 1000);
    pthread_mutex_init(&w->mu, NULL);
    r->webhooks = w;
    return LIRA_OK;
}

static void table_free(rt_wh_table *t)
{
    if (!t)
        return;
    rt_wh_routes_free(t->routes, t->n);
    free(t);
}

void rt_wh_free(rt *r)
{
    rt_wh *w = r->webhooks;
    if (!w)
        return;
    rt_wh_http_stop(w);
    table_free(w->table);
    while (w->stats) {
        rt_wh_stats *s = w->stats;
        w->stats = s->next;
        free(s->route);
        free(s);
    }
    pthread_mutex_destroy(&w->mu);
    free(w);
    r->webhooks = NULL;
}

/* ------------------------------------------------------------ reading Lua */

static void route_free(rt_wh_route *rt_)
{
    free(rt_->path);
    free(rt_->integ);
    if (rt_->secrets)
        for (size_t i = 0; i < rt_->cfg.nsecrets; i++)
            free(rt_->secrets[i]);
    free(rt_->secrets);
    free(rt_->header);
    free(rt_->prefix);
    free(rt_->timestamp_header);
    free(rt_->signed_content);
    free(rt_->id_key);
}

void rt_wh_routes_free(rt_wh_route *routes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        route_free(&routes[i]);
    free(routes);
}

/* t[k] as an owned string (raw access); NULL when absent. -1: wrong type. */
static int raw_str(lua_State *L, int t, const char *k, char **out)
{
    lua_pushstring(L, k);
    int ty = lua_rawget(L, t);
    int rc = 0;
    *out = NULL;
    if (ty == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        if (strlen(s) != n || !(*out = strdup(s)))
            rc = -1;
    } else if (ty != LUA_TNIL) {
        rc = -1;
    }
    lua_pop(L, 1);
    return rc;
}

/* t[k] as an integer in [lo, hi]; def when absent. -1: wrong. */
static int raw_int(lua_State *L, int t, const char *k, int64_t lo, int64_t hi, int64_t def,
                   int64_t *out)
{
    lua_pushstring(L, k);
    int ty = lua_rawget(L, t);
    int rc = 0;
    *out = def;
    if (ty == LUA_TNUMBER && lua_isinteger(L, -1)) {
        lua_Integer v = lua_tointeger(L, -1);
        if (v < lo || v > hi)
            rc = -1;
        else
            *out = (int64_t)v;
    } else if (ty != LUA_TNIL) {
        rc = -1;
    }
    lua_pop(L, 1);
    return rc;
}

static int read_secrets(lua_State *L, int vt, rt_wh_route *ro)
{
    lua_pushliteral(L, "secret");
    int ty = lua_rawget(L, vt);
    int sec = lua_gettop(L);
    size_t n = ty == LUA_TSTRING ? 1 : ty == LUA_TTABLE ? lua_rawlen(L, sec) : 0;
    if (n == 0 || n > LIRA_WEBHOOK_MAX_SECRETS || !(ro->secrets = calloc(n, sizeof(char *)))) {
        lua_pop(L, 1);
        return -1;
    }
    ro->cfg.nsecrets = n;
    for (size_t i = 0; i < n; i++) {
        if (ty == LUA_TTABLE)
            lua_rawgeti(L, sec, (lua_Integer)i + 1);
        else
            lua_pushvalue(L, sec);
        const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        ro->secrets[i] = s ? strdup(s) : NULL;
        lua_pop(L, 1);
        if (!ro->secrets[i]) {
            lua_pop(L, 1);
            return -1;
        }
    }
    lua_pop(L, 1);
    ro->cfg.secrets = (const char *const *)ro->secrets;
    return 0;
}

/* h.verify (a table at vt) -> ro->cfg. Writes a reason into why. */
static int read_verify(lua_State *L, int vt, rt_wh_route *ro, char *why, size_t cap)
{
    char *scheme = NULL, *alg = NULL, *enc = NULL;
    int64_t tol;
    int rc = -1;
    if (raw_str(L, vt, "scheme", &scheme) || !scheme ||
        lira_webhook_scheme_parse(scheme, &ro->cfg.scheme) != LIRA_OK) {
        snprintf(why, cap, "verify.scheme must be standard, stripe, github or hmac");
        goto out;
    }
    if (read_secrets(L, vt, ro) != 0) {
        snprintf(why, cap, "verify.secret must be a string or a list of 1 to %d strings",
                 LIRA_WEBHOOK_MAX_SECRETS);
        goto out;
    }
    if (raw_int(L, vt, "tolerance", 1, LIRA_WEBHOOK_MAX_TOLERANCE, 0, &tol)) {
        snprintf(why, cap, "verify.tolerance must be an integer from 1 to %d",
                 LIRA_WEBHOOK_MAX_TOLERANCE);
        goto out;
    }
    ro->cfg.tolerance_s = tol;
    if (raw_str(L, vt, "header", &ro->header) || raw_str(L, vt, "prefix", &ro->prefix) ||
        raw_str(L, vt, "timestamp_header", &ro->timestamp_header) ||
        raw_str(L, vt, "template", &ro->signed_content) || raw_str(L, vt, "algorithm", &alg) ||
        raw_str(L, vt, "encoding", &enc)) {
        snprintf(why, cap, "verify: header, prefix, timestamp_header, template, algorithm "
                           "and encoding must be strings");
        goto out;
    }
    ro->cfg.header = ro->header;
    ro->cfg.prefix = ro->prefix;
    ro->cfg.timestamp_header = ro->timestamp_header;
    ro->cfg.signed_content = ro->signed_content;
    if (ro->cfg.scheme == LIRA_WEBHOOK_HMAC) {
        ro->cfg.alg = !alg || strcmp(alg, "sha256") == 0 ? LIRA_HMAC_SHA256
                      : strcmp(alg, "sha1") == 0         ? LIRA_HMAC_SHA1
                      : strcmp(alg, "sha512") == 0       ? LIRA_HMAC_SHA512
                                                         : (lira_hmac_alg)0;
        if (lira_webhook_encoding_parse(enc ? enc : "hex", &ro->cfg.encoding) != LIRA_OK) {
            snprintf(why, cap, "verify.encoding must be hex or base64");
            goto out;
        }
    }
    char reason[256];
    if (lira_webhook_config_check(&ro->cfg, reason, sizeof reason) != LIRA_OK) {
        snprintf(why, cap, "verify: %s", reason);
        goto out;
    }
    rc = 0;
out:
    free(scheme);
    free(alg);
    free(enc);
    return rc;
}

static int read_id(lua_State *L, int h, rt_wh_route *ro, char *why, size_t cap)
{
    char *id = NULL;
    if (raw_str(L, h, "id", &id)) {
        snprintf(why, cap, "id must be \"header:<name>\" or \"json:<path>\"");
        return -1;
    }
    if (!id) {
        const char *def = !ro->verify                              ? NULL
                          : ro->cfg.scheme == LIRA_WEBHOOK_STANDARD ? "header:webhook-id"
                          : ro->cfg.scheme == LIRA_WEBHOOK_GITHUB   ? "header:X-GitHub-Delivery"
                          : ro->cfg.scheme == LIRA_WEBHOOK_STRIPE   ? "json:id"
                                                                    : NULL;
        if (!def) {
            snprintf(why, cap, "id is required with this verify scheme (\"header:<name>\" or "
                               "\"json:<path>\"): it is the de-duplication key");
            return -1;
        }
        id = strdup(def);
        if (!id)
            return -1;
    }
    int ok = 0;
    if (strncmp(id, "header:", 7) == 0 && id[7]) {
        ro->id_json = 0;
        ok = (ro->id_key = strdup(id + 7)) != NULL;
    } else if (strncmp(id, "json:", 5) == 0 && id[5]) {
        ro->id_json = 1;
        ok = (ro->id_key = strdup(id + 5)) != NULL;
    }
    free(id);
    if (!ok)
        snprintf(why, cap, "id must be \"header:<name>\" or \"json:<path>\"");
    return ok ? 0 : -1;
}

static int read_route(lua_State *L, int h, rt_wh_route *ro, char *why, size_t cap)
{
    int64_t v;
    if (raw_int(L, h, "max_attempts", 1, 1000, RT_WH_MAX_ATTEMPTS_DEFAULT, &v)) {
        snprintf(why, cap, "max_attempts must be an integer from 1 to 1000");
        return -1;
    }
    ro->max_attempts = (int)v;
    if (raw_int(L, h, "max_body", 1, LIRA_STORE_VALUE_MAX, (int64_t)RT_WH_MAX_BODY_DEFAULT,
                &v)) {
        snprintf(why, cap, "max_body must be an integer number of bytes from 1 to %u",
                 LIRA_STORE_VALUE_MAX);
        return -1;
    }
    ro->max_body = (size_t)v;
    lua_pushliteral(L, "verify");
    int ty = lua_rawget(L, h);
    int vt = lua_gettop(L);
    int rc = 0;
    ro->verify = ty == LUA_TTABLE;
    if (ty == LUA_TTABLE)
        rc = read_verify(L, vt, ro, why, cap);
    lua_pop(L, 1);
    if (rc == 0)
        rc = read_id(L, h, ro, why, cap);
    return rc;
}

static int cmp_route(const void *a, const void *b)
{
    return strcmp(((const rt_wh_route *)a)->path, ((const rt_wh_route *)b)->path);
}

/* A path is one integration's: v may keep its own routes, not take another
 * integration's (as the served table has them now). */
static int check_owners(rt *r, const rt_version *v, const char *file, const rt_wh_route *rs,
                        size_t k, char *err, size_t cap)
{
    int rc = LIRA_OK;
    rt_wh *w = r->webhooks;
    if (w) {
        rt_wh_table *t = rt_wh_table_get(w);
        for (size_t i = 0; t && i < k && rc == LIRA_OK; i++) {
            const rt_wh_route *o = rt_wh_find(t, rs[i].path);
            if (o && strcmp(o->integ, v->name) != 0) {
                snprintf(err, cap, "%s:1: webhooks[\"%s\"]: the route already belongs to the "
                         "integration '%s'", file, rs[i].path, o->integ);
                rc = LIRA_EINVAL;
            }
        }
        rt_wh_table_put(w, t);
    }
    return rc;
}

int rt_wh_routes_read(rt *r, rt_version *v, const char *file, rt_wh_route **out, size_t *n,
                      char *err, size_t cap)
{
    lua_State *L = v->L;
    int top = lua_gettop(L);
    rt_wh_route *rs = NULL;
    size_t k = 0, have = 0;
    int rc = LIRA_OK;
    *out = NULL;
    *n = 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, v->spec_ref);
    lua_pushliteral(L, "webhooks");
    if (lua_rawget(L, -2) != LUA_TTABLE)
        goto done;
    int hooks = lua_gettop(L);
    lua_pushnil(L);
    while (rc == LIRA_OK && lua_next(L, hooks)) {
        char why[512] = "";
        if (k == have) {
            size_t nh = have ? have * 2 : 4;
            rt_wh_route *nr = realloc(rs, nh * sizeof *nr);
            if (!nr) {
                lua_pop(L, 2);
                rc = LIRA_ENOMEM;
                snprintf(err, cap, "%s:1: out of memory", file);
                break;
            }
            rs = nr;
            have = nh;
        }
        rt_wh_route *ro = &rs[k];
        memset(ro, 0, sizeof *ro);
        k++;
        ro->path = lua_type(L, -2) == LUA_TSTRING ? strdup(lua_tostring(L, -2)) : NULL;
        ro->integ = strdup(v->name);
        if (!ro->path || !ro->integ || lua_type(L, -1) != LUA_TTABLE)
            snprintf(why, sizeof why, "bad route");
        else
            read_route(L, lua_gettop(L), ro, why, sizeof why);
        if (why[0]) {
            snprintf(err, cap, "%s:1: webhooks[\"%s\"]: %s", file, ro->path ? ro->path : "?",
                     why);
            rc = LIRA_EINVAL;
        }
        lua_pop(L, 1);
    }
done:
    lua_settop(L, top);
    if (rc == LIRA_OK && k > 1)
        qsort(rs, k, sizeof *rs, cmp_route);
    if (rc == LIRA_OK)
        rc = check_owners(r, v, file, rs, k, err, cap);
    if (rc != LIRA_OK) {
        rt_wh_routes_free(rs, k);
        return rc;
    }
    *out = rs;
    *n = k;
    return LIRA_OK;
}

/* ------------------------------------------------------------ the table */

static rt_wh_stats *stats_for(rt_wh *w, const char *route)
{
    for (rt_wh_stats *s = w->stats; s; s = s->next)
        if (strcmp(s->route, route) == 0)
            return s;
    rt_wh_stats *s = calloc(1, sizeof *s);
    if (!s || !(s->route = strdup(route))) {
        free(s);
        return NULL;
    }
    s->next = w->stats;
    w->stats = s;
    return s;
}

int rt_wh_install(rt *r, const char *integ, rt_wh_route *routes, size_t n)
{
    rt_wh *w = r->webhooks;
    if (!w) {
        rt_wh_routes_free(routes, n);
        return LIRA_OK;
    }
    /* Routes go away at shutdown: a sender is told to retry (503), not
     * that the route does not exist. */
    if (r->phase != 0)
        __atomic_store_n(&w->stopping, 1, __ATOMIC_RELEASE);
    if (n > 0 && !w->batcher) {
        char err[1024];
        if (rt_wh_http_start(w, err, sizeof err) != LIRA_OK) {
            rt_log(r, LIRA_LOG_ERROR, "webhooks: cannot open the inbox; the routes answer 404",
                   integ, "error", err, NULL, NULL);
            rt_wh_routes_free(routes, n);
            return LIRA_ESTATE;
        }
    }
    pthread_mutex_lock(&w->mu);
    rt_wh_table *old = w->table;
    size_t keep = 0;
    for (size_t i = 0; old && i < old->n; i++)
        keep += strcmp(old->routes[i].integ, integ) != 0;
    rt_wh_table *t = calloc(1, sizeof *t);
    rt_wh_route *all = calloc(keep + n + 1, sizeof *all);
    if (!t || !all) {
        pthread_mutex_unlock(&w->mu);
        free(t);
        free(all);
        rt_wh_routes_free(routes, n);
        return LIRA_ENOMEM;
    }
    size_t k = 0;
    /* Other integrations' routes move over (ownership of their strings
     * goes with them; the old table keeps empty shells). */
    for (size_t i = 0; old && i < old->n; i++) {
        if (strcmp(old->routes[i].integ, integ) != 0) {
            all[k++] = old->routes[i];
            memset(&old->routes[i], 0, sizeof old->routes[i]);
        }
    }
    for (size_t i = 0; i < n; i++) {
        routes[i].stats = stats_for(w, routes[i].path);
        all[k++] = routes[i];
    }
    free(routes);
    qsort(all, k, sizeof *all, cmp_route);
    t->routes = all;
    t->n = k;
    t->refs = 1;
    w->table = t;
    int drop = old && --old->refs == 0;
    pthread_mutex_unlock(&w->mu);
    if (drop)
        table_free(old);
    return LIRA_OK;
}

rt_wh_table *rt_wh_table_get(rt_wh *w)
{
    pthread_mutex_lock(&w->mu);
    rt_wh_table *t = w->table;
    if (t)
        t->refs++;
    pthread_mutex_unlock(&w->mu);
    return t;
}

void rt_wh_table_put(rt_wh *w, rt_wh_table *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&w->mu);
    int drop = --t->refs == 0;
    pthread_mutex_unlock(&w->mu);
    if (drop)
        table_free(t);
}

const rt_wh_route *rt_wh_find(const rt_wh_table *t, const char *path)
{
    size_t lo = 0, hi = t ? t->n : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(path, t->routes[mid].path);
        if (c == 0)
            return &t->routes[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}
