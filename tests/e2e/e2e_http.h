/* e2e_http.h — libcurl helpers for the sandbox's end-to-end tests.
 *
 * http_do() runs one request on a caller's easy handle (so that tests can
 * reuse a connection) or on a fresh one, and collects status, body and the
 * header block of the last response. Everything it returns is owned by the
 * http_res and freed by http_free(). Requests time out after 20 s so a
 * broken server fails a test instead of hanging it. */
#ifndef LIRA_E2E_HTTP_H
#define LIRA_E2E_HTTP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "core/buf.h"
#include "core/status.h"
#include "sandbox_proc.h"

typedef lira_buf http_buf;

typedef struct http_res {
    long status;          /* 0 when no response */
    CURLcode rc;
    http_buf body;        /* NUL-terminated */
    http_buf head;        /* header lines of the last response, NUL-terminated */
} http_res;

/* 0 or -1. A zeroed http_buf (a memset http_res, a test's own sink) has
 * no cap: tests look at whatever the server sent. */
static inline int http_buf_add(http_buf *b, const char *data, size_t n)
{
    if (b->max == 0) b->max = SIZE_MAX;
    return lira_buf_add(b, data, n) == LIRA_OK ? 0 : -1;
}

static inline size_t http_on_body(char *data, size_t size, size_t n, void *ud)
{
    return http_buf_add(ud, data, size * n) == 0 ? size * n : 0;
}

static inline size_t http_on_header(char *data, size_t size, size_t n, void *ud)
{
    http_buf *b = ud;
    /* A new status line starts a new response (redirects, 100-continue). */
    if (size * n >= 5 && strncmp(data, "HTTP/", 5) == 0) b->len = 0;
    return http_buf_add(b, data, size * n) == 0 ? size * n : 0;
}

static inline void http_free(http_res *r)
{
    free(r->body.p);
    free(r->head.p);
    memset(r, 0, sizeof *r);
}

/* method: "GET", "POST", ...; body may be NULL; hdrs a NULL-terminated list
 * of "Name: value" lines or NULL. h may be NULL (a fresh handle is used). */
static inline CURLcode http_do(CURL *h, const char *method, const char *url, const char *body,
                               const char *const *hdrs, http_res *out)
{
    memset(out, 0, sizeof *out);
    CURL *own = NULL;
    if (h == NULL) h = own = curl_easy_init();
    if (h == NULL) return out->rc = CURLE_FAILED_INIT;
    struct curl_slist *list = NULL;
    for (size_t i = 0; hdrs != NULL && hdrs[i] != NULL; i++) list = curl_slist_append(list, hdrs[i]);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_NOBODY, strcmp(method, "HEAD") == 0 ? 1L : 0L);
    if (body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &out->body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, http_on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &out->head);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 20000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    out->rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
    curl_slist_free_all(list);
    if (own != NULL) curl_easy_cleanup(own);
    if (out->body.p == NULL) http_buf_add(&out->body, "", 0);
    if (out->head.p == NULL) http_buf_add(&out->head, "", 0);
    return out->rc;
}

/* GET on a fresh handle; url built from base + path. */
static inline CURLcode http_get(const char *base, const char *path, http_res *out)
{
    char url[2048];
    snprintf(url, sizeof url, "%s%s", base, path);
    return http_do(NULL, "GET", url, NULL, NULL, out);
}

/* The status of GET base + path (0 when no response), the response
 * dropped: for the checks that look at nothing else. */
static inline long http_get_status(const char *base, const char *path)
{
    http_res r;
    http_get(base, path, &r);
    long status = r.status;
    http_free(&r);
    return status;
}

/* The value of header `name` in the last response (trimmed) into buf, or
 * NULL when absent. */
static inline const char *http_header(const http_res *r, const char *name, char *buf, size_t cap)
{
    size_t nl = strlen(name);
    const char *line = r->head.p;
    while (line != NULL && *line != '\0') {
        const char *eol = strchr(line, '\n');
        size_t len = eol != NULL ? (size_t)(eol - line) : strlen(line);
        if (len > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
            const char *v = line + nl + 1;
            const char *end = line + len;
            while (v < end && (*v == ' ' || *v == '\t')) v++;
            while (end > v && (end[-1] == '\r' || end[-1] == ' ')) end--;
            size_t vl = (size_t)(end - v) < cap - 1 ? (size_t)(end - v) : cap - 1;
            memcpy(buf, v, vl);
            buf[vl] = '\0';
            return buf;
        }
        line = eol != NULL ? eol + 1 : NULL;
    }
    return NULL;
}

/* A header parsed as an integer, or `dflt` when absent or not a number. */
static inline long long http_header_ll(const http_res *r, const char *name, long long dflt)
{
    char buf[128];
    if (http_header(r, name, buf, sizeof buf) == NULL) return dflt;
    char *end;
    long long v = strtoll(buf, &end, 10);
    return (end == buf || *end != '\0') ? dflt : v;
}

/* The body parsed as JSON (caller frees with cJSON_Delete), or NULL. */
static inline cJSON *http_json(const http_res *r)
{
    return cJSON_ParseWithLength(r->body.p, r->body.len);
}

/* A number member of obj (dotted paths not supported), or dflt. */
static inline double json_num(const cJSON *obj, const char *name, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static inline const char *json_str(const cJSON *obj, const char *name)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, name));
}

/* GET base/_log?since=N as JSON (caller frees), or NULL. */
static inline cJSON *sandbox_log(const char *base, unsigned long long since)
{
    char path[64];
    http_res r;
    snprintf(path, sizeof path, "/_log?since=%llu", since);
    cJSON *doc = http_get(base, path, &r) == CURLE_OK && r.status == 200 ? http_json(&r) : NULL;
    http_free(&r);
    return doc;
}

/* POST base/_reset; 0 on success. */
static inline int sandbox_reset(const char *base)
{
    char url[256];
    http_res r;
    snprintf(url, sizeof url, "%s/_reset", base);
    int ok = http_do(NULL, "POST", url, "", NULL, &r) == CURLE_OK && r.status == 200;
    http_free(&r);
    return ok ? 0 : -1;
}

/* main()'s start in a sandbox test: curl, then the sandbox (extra flags as
 * for sandbox_start). 0, or -1 said on stderr: main then returns 1. */
static inline int sandbox_test_begin(sandbox_proc *p, const char *const *extra)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (sandbox_start(p, extra) != 0) {
        fprintf(stderr, "cannot start the sandbox\n");
        return -1;
    }
    return 0;
}

/* main()'s end: stop the sandbox, which must exit 0 on SIGTERM, and clean
 * up curl. 0, or -1 said on stderr: main then returns 1 whatever the
 * checks said. */
static inline int sandbox_test_end(sandbox_proc *p)
{
    int stop = sandbox_stop(p);
    curl_global_cleanup();
    if (stop != 0) {
        fprintf(stderr, "sandbox did not exit 0 on SIGTERM\n");
        return -1;
    }
    return 0;
}

#endif
