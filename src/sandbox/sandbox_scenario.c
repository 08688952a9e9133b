/* sandbox_scenario.c — `--scenario FILE`: routes with a scripted sequence of
 * responses, e.g. "three 503s, a 429 with Retry-After 2, then 200s".
 *
 * The file is JSON (format in docs/sandbox.md), validated strictly at start:
 * an unknown key, a wrong type or a value out of range is an error naming
 * the route and step, so a typo never silently becomes a default. Routes
 * are matched before the built-in endpoints, by exact path (query ignored)
 * and optional method. Steps are immutable after loading; only each route's
 * cursor moves, under sb_server.mu. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sandbox/sandbox_internal.h"

#define SC_FILE_MAX   (1024 * 1024)
#define SC_ROUTES_MAX 256
#define SC_STEPS_MAX  1024

/* ------------------------------------------------------------ loading --- */

static char *read_file(const char *file, size_t *len, char *err, size_t errcap)
{
    FILE *f = fopen(file, "rb");
    if (f == NULL) { snprintf(err, errcap, "cannot open scenario '%s'", file); return NULL; }
    char *buf = malloc(SC_FILE_MAX + 1);
    size_t n = buf != NULL ? fread(buf, 1, SC_FILE_MAX + 1, f) : 0;
    bool bad = buf == NULL || ferror(f) || n > SC_FILE_MAX;
    fclose(f);
    if (bad) {
        snprintf(err, errcap, "scenario '%s': unreadable or larger than 1 MiB", file);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static bool only_keys(const cJSON *obj, const char *const *allowed, const char **bad)
{
    for (const cJSON *it = obj->child; it != NULL; it = it->next) {
        bool ok = false;
        for (size_t i = 0; allowed[i] != NULL; i++)
            if (strcmp(it->string, allowed[i]) == 0) ok = true;
        if (!ok) { *bad = it->string; return false; }
    }
    return true;
}

/* An integer-valued JSON number in [lo, hi], or dflt when absent. */
static int get_int(const cJSON *obj, const char *name, int64_t lo, int64_t hi,
                   int64_t dflt, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (v == NULL) { *out = dflt; return 0; }
    if (!cJSON_IsNumber(v) || v->valuedouble < (double)lo || v->valuedouble > (double)hi ||
        v->valuedouble != (double)(int64_t)v->valuedouble)
        return -1;
    *out = (int64_t)v->valuedouble;
    return 0;
}

static int check_headers(const cJSON *h)
{
    if (h == NULL) return 0;
    if (!cJSON_IsObject(h)) return -1;
    for (const cJSON *it = h->child; it != NULL; it = it->next) {
        if (!cJSON_IsString(it) || it->string[0] == '\0' ||
            strpbrk(it->string, " \t\r\n:") != NULL || strpbrk(it->valuestring, "\r\n") != NULL ||
            strcasecmp(it->string, "Content-Length") == 0 ||
            strcasecmp(it->string, "Transfer-Encoding") == 0)
            return -1;
    }
    return 0;
}

static int load_step(sb_step *st, const cJSON *js, char *err, size_t errcap, const char *where)
{
    static const char *const keys[] = { "status", "repeat", "delay_ms", "reset",
                                        "headers", "body", NULL };
    const char *bad = NULL;
    int64_t status, repeat, delay;
    if (!cJSON_IsObject(js)) { snprintf(err, errcap, "%s: must be an object", where); return -1; }
    if (!only_keys(js, keys, &bad)) {
        snprintf(err, errcap, "%s: unknown key '%s'", where, bad);
        return -1;
    }
    const cJSON *reset = cJSON_GetObjectItemCaseSensitive(js, "reset");
    const cJSON *headers = cJSON_GetObjectItemCaseSensitive(js, "headers");
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(js, "body");
    if (get_int(js, "status", 200, 599, 200, &status) != 0 ||
        get_int(js, "repeat", 1, 1000000000, 1, &repeat) != 0 ||
        get_int(js, "delay_ms", 0, SB_DELAY_MAX_MS, 0, &delay) != 0 ||
        (reset != NULL && !cJSON_IsBool(reset)) || check_headers(headers) != 0) {
        snprintf(err, errcap, "%s: status 200..599, repeat >= 1, delay_ms 0..60000, "
                 "reset true/false, headers an object of one-line strings", where);
        return -1;
    }
    st->status = (int)status;
    st->repeat = repeat;
    st->delay_ms = (int)delay;
    st->reset = cJSON_IsTrue(reset);
    st->headers = headers != NULL ? cJSON_Duplicate(headers, 1) : NULL;
    if (body != NULL) {
        st->body_is_json = !cJSON_IsString(body);
        st->body = st->body_is_json ? cJSON_PrintUnformatted(body) : strdup(body->valuestring);
        if (st->body == NULL) { snprintf(err, errcap, "out of memory"); return -1; }
        st->body_len = strlen(st->body);
    }
    return 0;
}

static int load_route(sb_route *rt, const cJSON *js, size_t idx, char *err, size_t errcap)
{
    static const char *const keys[] = { "path", "method", "then", "responses", NULL };
    const char *bad = NULL;
    char where[96];
    snprintf(where, sizeof where, "routes[%zu]", idx);
    if (!cJSON_IsObject(js)) { snprintf(err, errcap, "%s: must be an object", where); return -1; }
    if (!only_keys(js, keys, &bad)) {
        snprintf(err, errcap, "%s: unknown key '%s'", where, bad);
        return -1;
    }
    const cJSON *path = cJSON_GetObjectItemCaseSensitive(js, "path");
    const cJSON *method = cJSON_GetObjectItemCaseSensitive(js, "method");
    const cJSON *then = cJSON_GetObjectItemCaseSensitive(js, "then");
    const cJSON *resp = cJSON_GetObjectItemCaseSensitive(js, "responses");
    int nsteps = cJSON_GetArraySize(resp);
    if (!cJSON_IsString(path) || path->valuestring[0] != '/' ||
        (method != NULL && !cJSON_IsString(method)) ||
        (then != NULL && (!cJSON_IsString(then) || (strcmp(then->valuestring, "cycle") != 0 &&
                                                     strcmp(then->valuestring, "repeat_last") != 0))) ||
        !cJSON_IsArray(resp) || nsteps < 1 || nsteps > SC_STEPS_MAX) {
        snprintf(err, errcap, "%s: needs \"path\" starting with '/', a non-empty \"responses\" "
                 "array (<= 1024), optional \"method\" string and \"then\": "
                 "\"repeat_last\"|\"cycle\"", where);
        return -1;
    }
    rt->path = strdup(path->valuestring);
    rt->method = method != NULL ? strdup(method->valuestring) : NULL;
    rt->cycle = then != NULL && strcmp(then->valuestring, "cycle") == 0;
    rt->steps = calloc((size_t)nsteps, sizeof *rt->steps);
    if (rt->path == NULL || (method != NULL && rt->method == NULL) || rt->steps == NULL) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    for (int i = 0; i < nsteps; i++) {
        char w[128];
        snprintf(w, sizeof w, "%s.responses[%d]", where, i);
        rt->nsteps = (size_t)i + 1;   /* so that a failure frees what was made */
        if (load_step(&rt->steps[i], cJSON_GetArrayItem(resp, i), err, errcap, w) != 0)
            return -1;
    }
    return 0;
}

static int load_doc(sb_scenario *sc, const cJSON *doc, char *err, size_t errcap)
{
    static const char *const keys[] = { "routes", NULL };
    const char *bad = NULL;
    const cJSON *routes = cJSON_GetObjectItemCaseSensitive(doc, "routes");
    if (!cJSON_IsObject(doc) || !only_keys(doc, keys, &bad) || !cJSON_IsArray(routes) ||
        cJSON_GetArraySize(routes) > SC_ROUTES_MAX) {
        snprintf(err, errcap, "the top level must be {\"routes\": [...]} (<= 256 routes)%s%s",
                 bad != NULL ? "; unknown key " : "", bad != NULL ? bad : "");
        return -1;
    }
    int n = cJSON_GetArraySize(routes);
    sc->routes = calloc(n > 0 ? (size_t)n : 1, sizeof *sc->routes);
    if (sc->routes == NULL) { snprintf(err, errcap, "out of memory"); return -1; }
    for (int i = 0; i < n; i++) {
        sc->nroutes = (size_t)i + 1;
        if (load_route(&sc->routes[i], cJSON_GetArrayItem(routes, i), (size_t)i, err, errcap) != 0)
            return -1;
    }
    return 0;
}

int sb_scenario_load(sb_server *s, const char *file, char *err, size_t errcap)
{
    size_t len = 0;
    char *text = read_file(file, &len, err, errcap);
    if (text == NULL) return -1;
    cJSON *doc = cJSON_ParseWithLength(text, len);
    free(text);
    if (doc == NULL) {
        snprintf(err, errcap, "scenario '%s' is not valid JSON", file);
        return -1;
    }
    char inner[400];
    int rc = load_doc(&s->scenario, doc, inner, sizeof inner);
    cJSON_Delete(doc);
    if (rc != 0) {
        snprintf(err, errcap, "scenario '%s': %s", file, inner);
        sb_scenario_free(&s->scenario);
    }
    return rc;
}

void sb_scenario_free(sb_scenario *sc)
{
    for (size_t i = 0; i < sc->nroutes; i++) {
        sb_route *rt = &sc->routes[i];
        for (size_t j = 0; j < rt->nsteps && rt->steps != NULL; j++) {
            cJSON_Delete(rt->steps[j].headers);
            free(rt->steps[j].body);
        }
        free(rt->steps);
        free(rt->path);
        free(rt->method);
    }
    free(sc->routes);
    sc->routes = NULL;
    sc->nroutes = 0;
}

void sb_scenario_rewind(sb_scenario *sc)
{
    for (size_t i = 0; i < sc->nroutes; i++) {
        sc->routes[i].cur = 0;
        sc->routes[i].cur_used = 0;
        sc->routes[i].hits = 0;
    }
}

/* ------------------------------------------------------------ serving --- */

/* The step to serve now for rt, advancing the cursor. Caller holds mu. */
static const sb_step *next_step(sb_route *rt)
{
    const sb_step *st = &rt->steps[rt->cur];
    rt->hits++;
    if (++rt->cur_used >= st->repeat) {
        if (rt->cur + 1 < rt->nsteps) { rt->cur++; rt->cur_used = 0; }
        else if (rt->cycle) { rt->cur = 0; rt->cur_used = 0; }
        /* else stay on the last step for good */
    }
    return st;
}

static enum MHD_Result serve_step(sb_req *r, const sb_step *st)
{
    if (st->delay_ms > 0 && sb_sleep_ms(r->srv, st->delay_ms) != 0) return MHD_NO;
    if (st->reset) return sb_drop_connection(r);
    /* The step outlives the response (immutable until exit); MHD copies. */
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        st->body_len, (void *)(uintptr_t)(st->body != NULL ? st->body : ""),
        MHD_RESPMEM_MUST_COPY);
    if (resp == NULL) return MHD_NO;
    if (st->body_len > 0)
        MHD_add_response_header(resp, "Content-Type",
                                st->body_is_json ? "application/json" : "text/plain");
    for (const cJSON *h = st->headers != NULL ? st->headers->child : NULL; h != NULL; h = h->next) {
        if (strcasecmp(h->string, "Content-Type") == 0)
            MHD_del_response_header(resp, "Content-Type",
                                    st->body_is_json ? "application/json" : "text/plain");
        MHD_add_response_header(resp, h->string, h->valuestring);
    }
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)st->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result sb_scenario_serve(sb_req *r, bool *handled)
{
    sb_scenario *sc = &r->srv->scenario;
    *handled = false;
    for (size_t i = 0; i < sc->nroutes; i++) {
        sb_route *rt = &sc->routes[i];
        if (strcmp(rt->path, r->path) != 0) continue;
        if (rt->method != NULL && strcasecmp(rt->method, r->method) != 0) continue;
        *handled = true;
        pthread_mutex_lock(&r->srv->mu);
        const sb_step *st = next_step(rt);
        pthread_mutex_unlock(&r->srv->mu);
        return serve_step(r, st);
    }
    return MHD_NO;
}
