/* sandbox_routes.c — routing, and the simple endpoints: /anything, /status,
 * /delay, /redirect, /json/invalid, /headers, /_log, /_reset and the index. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "sandbox/sandbox_internal.h"
#include "sandbox/sandbox_oauth.h"
#include "sandbox/sandbox_ops.h"

/* ----------------------------------------------------------- simple --- */

enum MHD_Result sb_route_anything(sb_req *r)
{
    cJSON *doc = cJSON_CreateObject();
    if (doc == NULL) return sb_reply_error(r, 500, "out of memory");
    cJSON_AddStringToObject(doc, "method", r->method);
    cJSON_AddStringToObject(doc, "path", r->path);
    cJSON_AddStringToObject(doc, "query", r->query);
    cJSON *args = sb_headers_json(r->conn, MHD_GET_ARGUMENT_KIND);
    if (args != NULL) cJSON_AddItemToObject(doc, "args", args);
    cJSON *hdrs = sb_headers_json(r->conn, MHD_HEADER_KIND);
    if (hdrs != NULL) cJSON_AddItemToObject(doc, "headers", hdrs);
    cJSON_AddStringToObject(doc, "body", r->body.p != NULL ? r->body.p : "");
    cJSON_AddNumberToObject(doc, "body_length", (double)r->body_total);
    cJSON *json = r->body.len > 0 ? cJSON_ParseWithLength(r->body.p, r->body.len) : NULL;
    cJSON_AddItemToObject(doc, "json", json != NULL ? json : cJSON_CreateNull());
    cJSON_AddNumberToObject(doc, "connection", (double)r->conn_id);
    return sb_reply_json(r, 200, doc, NULL);
}

enum MHD_Result sb_route_status(sb_req *r)
{
    int64_t code;
    if (sb_parse_int(sb_path_tail(r, "/status/"), 200, 599, &code) != 0)
        return sb_reply_error(r, 400, "status code must be an integer 200..599");
    char ra[64];
    if (sb_retry_after_value(r, ra, sizeof ra) != 0)
        return sb_reply_error(r, 400, "retry_after must be N or date:+N (0..31536000)");
    const char *hdrs[] = { "Retry-After", ra, NULL };
    char body[64];
    int n = snprintf(body, sizeof body, "{\"status\":%d}", (int)code);
    return sb_reply(r, (unsigned)code, "application/json", body, (size_t)n,
                    ra[0] != '\0' ? hdrs : NULL);
}

enum MHD_Result sb_route_delay(sb_req *r)
{
    int64_t ms;
    if (sb_parse_int(sb_path_tail(r, "/delay/"), 0, SB_DELAY_MAX_MS, &ms) != 0)
        return sb_reply_error(r, 400, "delay must be an integer 0..60000 (ms)");
    int64_t t0 = sb_now_ns();
    if (sb_sleep_ms(r->srv, ms) != 0) return MHD_NO;
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddNumberToObject(doc, "delay_ms", (double)ms);
    cJSON_AddNumberToObject(doc, "slept_ms", (double)((sb_now_ns() - t0) / LIRA_NS_PER_MS));
    return sb_reply_json(r, 200, doc, NULL);
}

enum MHD_Result sb_route_redirect(sb_req *r)
{
    int64_t n;
    if (sb_parse_int(sb_path_tail(r, "/redirect/"), 0, SB_REDIRECT_MAX, &n) != 0)
        return sb_reply_error(r, 400, "redirect count must be an integer 0..100");
    if (n == 0) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddBoolToObject(doc, "redirected", 1);
        return sb_reply_json(r, 200, doc, NULL);
    }
    char loc[48];
    snprintf(loc, sizeof loc, "/redirect/%lld", (long long)(n - 1));
    const char *hdrs[] = { "Location", loc, NULL };
    char body[96];
    int len = snprintf(body, sizeof body, "{\"location\":\"%s\"}", loc);
    return sb_reply(r, 302, "application/json", body, (size_t)len, hdrs);
}

enum MHD_Result sb_route_json_invalid(sb_req *r)
{
    static const char bad[] = "{\"truncated\": [1, 2, ";
    return sb_reply(r, 200, "application/json", bad, sizeof bad - 1, NULL);
}

/* ---------------------------------------------------------- /headers --- */

static bool is_token(const char *s)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if (*s == '\0') return false;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                  (c >= 'A' && c <= 'Z') || (c != '\0' && strchr(extra, c) != NULL);
        if (!ok) return false;
    }
    return true;
}

static bool is_framing(const char *name)
{
    /* These would break message framing or keep-alive for the client. */
    static const char *const deny[] = { "content-length", "transfer-encoding",
                                        "connection", "keep-alive", "upgrade", NULL };
    for (size_t i = 0; deny[i] != NULL; i++)
        if (strcasecmp(name, deny[i]) == 0) return true;
    return false;
}

typedef struct hdr_ctx {
    struct MHD_Response *resp;
    cJSON *echo;
    const char *bad;
} hdr_ctx;

static enum MHD_Result add_arg_header(void *cls, enum MHD_ValueKind kind,
                                      const char *key, const char *value)
{
    (void)kind;
    hdr_ctx *h = cls;
    if (value == NULL) value = "";
    if (key == NULL || !is_token(key) || is_framing(key) || value[0] == '\0' ||
        strpbrk(value, "\r\n") != NULL || MHD_add_response_header(h->resp, key, value) != MHD_YES) {
        h->bad = key != NULL ? key : "";
        return MHD_NO;
    }
    cJSON_AddStringToObject(h->echo, key, value);
    return MHD_YES;
}

enum MHD_Result sb_route_headers(sb_req *r)
{
    hdr_ctx h = { MHD_create_response_from_buffer(0, (void *)(uintptr_t)"", MHD_RESPMEM_PERSISTENT),
                  cJSON_CreateObject(), NULL };
    if (h.resp == NULL || h.echo == NULL) {
        if (h.resp != NULL) MHD_destroy_response(h.resp);
        cJSON_Delete(h.echo);
        return sb_reply_error(r, 500, "out of memory");
    }
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, add_arg_header, &h);
    MHD_destroy_response(h.resp);
    if (h.bad != NULL) {
        cJSON_Delete(h.echo);
        return sb_reply_error(r, 400, "header names must be tokens, values non-empty "
                                      "single lines, and framing headers are not allowed");
    }
    /* Build the real response now that the list is known to be valid. */
    char *text = cJSON_PrintUnformatted(h.echo);
    cJSON_Delete(h.echo);
    if (text == NULL) return sb_reply_error(r, 500, "out of memory");
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), text,
                                                                MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) { cJSON_free(text); return MHD_NO; }
    h.resp = resp;
    h.echo = cJSON_CreateObject();
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, add_arg_header, &h);
    cJSON_Delete(h.echo);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* ------------------------------------------------------------- admin --- */

static enum MHD_Result route_log(sb_req *r)
{
    int64_t since, limit;
    if (sb_arg_int(r, "since", 0, INT64_MAX, 0, &since) != 0 ||
        sb_arg_int(r, "limit", 1, SB_LOG_CAP, SB_LOG_CAP, &limit) != 0)
        return sb_reply_error(r, 400, "since must be an integer >= 0, limit 1..4096");
    cJSON *doc = sb_log_snapshot(r->srv, (uint64_t)since, (uint64_t)limit);
    if (doc == NULL) return sb_reply_error(r, 500, "out of memory");
    return sb_reply_json(r, 200, doc, NULL);
}

static enum MHD_Result route_reset(sb_req *r)
{
    sb_state_reset(r->srv);
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddBoolToObject(doc, "reset", 1);
    return sb_reply_json(r, 200, doc, NULL);
}

static enum MHD_Result route_index(sb_req *r)
{
    static const char idx[] =
        "{\"name\":\"lira sandbox\",\"endpoints\":[\"/anything\",\"/status/{code}\","
        "\"/flaky/{key}\",\"/delay/{ms}\",\"/trickle\",\"/bytes/{n}\",\"/redirect/{n}\","
        "\"/json/invalid\",\"/headers\",\"/ratelimit/{key}\",\"/paginate/{style}\","
        "\"POST /payments\",\"GET /payments/_effects\",\"GET /_log\",\"POST /_reset\"]}";
    return sb_reply(r, 200, "application/json", idx, sizeof idx - 1, NULL);
}

/* ----------------------------------------------------------- routing --- */

typedef enum MHD_Result (*sb_handler)(sb_req *r);

typedef struct route {
    const char *path;
    bool prefix;          /* match path + "/..." (prefix ends with '/') */
    const char *method;   /* NULL = any */
    sb_handler fn;
} route;

static const route ROUTES[] = {
    { "/",                  false, NULL,   route_index },
    { "/anything",          false, NULL,   sb_route_anything },
    { "/anything/",         true,  NULL,   sb_route_anything },
    { "/status/",           true,  NULL,   sb_route_status },
    { "/flaky/",            true,  NULL,   sb_route_flaky },
    { "/delay/",            true,  NULL,   sb_route_delay },
    { "/trickle",           false, NULL,   sb_route_trickle },
    { "/bytes/",            true,  NULL,   sb_route_bytes },
    { "/redirect/",         true,  NULL,   sb_route_redirect },
    { "/json/invalid",      false, NULL,   sb_route_json_invalid },
    { "/headers",           false, NULL,   sb_route_headers },
    { "/ratelimit/",        true,  NULL,   sb_route_ratelimit },
    { "/paginate/",         true,  NULL,   sb_route_paginate },
    { "/payments",          false, "POST", sb_route_payments },
    { "/payments/_effects", false, "GET",  sb_route_effects },
    { "/_log",              false, "GET",  route_log },
    { "/_reset",            false, "POST", route_reset },
    { "/oauth/",            true,  NULL,   sb_route_oauth },
    { "/ops",               true,  NULL,   sb_route_ops },
};

enum MHD_Result sb_route_dispatch(sb_req *r)
{
    bool handled = false;
    enum MHD_Result ret = sb_scenario_serve(r, &handled);
    if (handled) return ret;
    for (size_t i = 0; i < sizeof ROUTES / sizeof ROUTES[0]; i++) {
        const route *rt = &ROUTES[i];
        bool match = rt->prefix ? sb_path_tail(r, rt->path) != NULL
                                : strcmp(r->path, rt->path) == 0;
        if (!match) continue;
        if (rt->method != NULL && strcmp(r->method, rt->method) != 0 &&
            !(strcmp(rt->method, "GET") == 0 && strcmp(r->method, "HEAD") == 0)) {
            static const char body[] = "{\"error\":\"method not allowed\",\"status\":405}";
            const char *hdrs[] = { "Allow", rt->method, NULL };
            return sb_reply(r, 405, "application/json", body, sizeof body - 1, hdrs);
        }
        return rt->fn(r);
    }
    return sb_reply_error(r, 404, "no such endpoint");
}
