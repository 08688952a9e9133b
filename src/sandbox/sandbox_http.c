/* sandbox_http.c — small HTTP helpers the route handlers share: building and
 * queueing responses, reading query parameters, dates and times. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/httpdate.h"
#include "core/status.h"
#include "sandbox/sandbox_internal.h"

/* --------------------------------------------------------- responses --- */

enum MHD_Result sb_reply(sb_req *r, unsigned status, const char *ctype,
                         const char *body, size_t len, const char *const *headers)
{
    /* HEAD gets the headers of the GET answer; MHD then sends no body but
     * keeps the Content-Length, as RFC 9110 allows. 204 and 304 must not
     * have a body at all. */
    if (status == 204 || status == 304) len = 0;
    /* MHD_RESPMEM_MUST_COPY never writes through the pointer; the cast only
     * satisfies its void * parameter. */
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, (void *)(uintptr_t)(len > 0 ? body : ""), MHD_RESPMEM_MUST_COPY);
    if (resp == NULL) return MHD_NO;
    if (ctype != NULL && len > 0) MHD_add_response_header(resp, "Content-Type", ctype);
    for (size_t i = 0; headers != NULL && headers[i] != NULL && headers[i + 1] != NULL; i += 2)
        MHD_add_response_header(resp, headers[i], headers[i + 1]);
    enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result sb_reply_json(sb_req *r, unsigned status, cJSON *doc,
                              const char *const *headers)
{
    char *text = doc != NULL ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    if (text == NULL)
        return sb_reply(r, 500, "application/json",
                        "{\"error\":\"out of memory\",\"status\":500}", 38, NULL);
    enum MHD_Result ret = sb_reply(r, status, "application/json", text, strlen(text), headers);
    cJSON_free(text);
    return ret;
}

enum MHD_Result sb_reply_error(sb_req *r, unsigned status, const char *msg)
{
    cJSON *doc = cJSON_CreateObject();
    if (doc != NULL) {
        cJSON_AddStringToObject(doc, "error", msg);
        cJSON_AddNumberToObject(doc, "status", status);
    }
    return sb_reply_json(r, status, doc, NULL);
}

/* ------------------------------------------------------- parameters --- */

const char *sb_arg(sb_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

int sb_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    if (s == NULL || *s == '\0') return -1;
    const char *p = s;
    bool neg = false;
    if (*p == '-') { neg = true; p++; }
    if (*p == '\0') return -1;
    int64_t v = 0;
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') return -1;
        int d = *p - '0';
        if (v > (INT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    if (neg) v = -v;
    if (v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int sb_arg_int(sb_req *r, const char *name, int64_t lo, int64_t hi, int64_t dflt, int64_t *out)
{
    const char *v = sb_arg(r, name);
    if (v == NULL) { *out = dflt; return 0; }
    return sb_parse_int(v, lo, hi, out);
}

const char *sb_path_tail(const sb_req *r, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(r->path, prefix, n) != 0) return NULL;
    return r->path + n;
}

/* ---------------------------------------------------------- headers --- */

static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind,
                                  const char *key, const char *value)
{
    (void)kind;
    cJSON *obj = cls;
    if (key == NULL) return MHD_YES;
    if (value == NULL) value = "";
    cJSON *old = cJSON_GetObjectItem(obj, key);   /* case-insensitive */
    if (old == NULL) {
        cJSON_AddStringToObject(obj, key, value);
        return MHD_YES;
    }
    /* A repeated field is one list-valued field (RFC 9110 §5.3). */
    const char *prev = cJSON_GetStringValue(old);
    size_t n = strlen(prev != NULL ? prev : "") + strlen(value) + 3;
    char *joined = malloc(n);
    if (joined == NULL) return MHD_YES;
    snprintf(joined, n, "%s, %s", prev != NULL ? prev : "", value);
    cJSON *item = cJSON_CreateString(joined);
    free(joined);
    if (item != NULL) cJSON_ReplaceItemViaPointer(obj, old, item);
    return MHD_YES;
}

cJSON *sb_headers_json(struct MHD_Connection *c, enum MHD_ValueKind kind)
{
    cJSON *obj = cJSON_CreateObject();
    if (obj != NULL) MHD_get_connection_values(c, kind, add_header, obj);
    return obj;
}

/* ?retry_after=N (delay-seconds) or ?retry_after=date:+N (an IMF-fixdate N
 * seconds ahead) into buf; "" when absent. -1 when malformed. */
int sb_retry_after_value(sb_req *r, char *buf, size_t cap)
{
    const char *v = sb_arg(r, "retry_after");
    int64_t n;
    buf[0] = '\0';
    if (v == NULL) return 0;
    if (strncmp(v, "date:+", 6) == 0 || strncmp(v, "date: ", 6) == 0) {
        /* A literal '+' in a query decodes to ' ', so accept both. */
        if (sb_parse_int(v + 6, 0, 31536000, &n) != 0) return -1;
        return sb_http_date(n, buf, cap) == 0 ? 0 : -1;
    }
    if (sb_parse_int(v, 0, 31536000, &n) != 0) return -1;
    snprintf(buf, cap, "%lld", (long long)n);
    return 0;
}

/* ------------------------------------------------------------- time --- */

int64_t sb_now_ns(void)
{
    return lira_clock_now(NULL);
}

int64_t sb_wall_ns(void)
{
    return lira_clock_wall(NULL);
}

int sb_http_date(int64_t delta_s, char *buf, size_t cap)
{
    return lira_httpdate_format(sb_wall_ns() / LIRA_NS_PER_SEC + delta_s, buf, cap);
}
