/* otlp_config.c — the exporter's configuration from the standard
 * OpenTelemetry environment variables (otlp.h lists them). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mem.h"
#include "otlp.h"
#include "status.h"

#define DEFAULT_SERVICE "unknown_service:lira"

static int kv_set(lira_otlp_kv *kv, size_t *n, size_t cap, const char *key, const char *value)
{
    if (!key || !*key || !value)
        return LIRA_EINVAL;
    size_t i = 0;
    while (i < *n && strcmp(kv[i].key, key) != 0)
        i++;
    if (i == cap)
        return LIRA_ETOOBIG;
    char *v = lira_strndup(value, strlen(value));
    char *k = i < *n ? NULL : lira_strndup(key, strlen(key));
    if (!v || (i == *n && !k)) {
        free(v), free(k);
        return LIRA_ENOMEM;
    }
    if (i < *n) {
        free(kv[i].value);
    } else {
        kv[i].key = k;
        (*n)++;
    }
    kv[i].value = v;
    return LIRA_OK;
}

int lira_otlp_config_set_resource(lira_otlp_config *c, const char *key, const char *value)
{
    return c ? kv_set(c->resource, &c->nresource, LIRA_OTLP_MAX_RESOURCE, key, value)
             : LIRA_EINVAL;
}

int lira_otlp_config_set_header(lira_otlp_config *c, const char *key, const char *value)
{
    if (!c || !key || strpbrk(key, "\r\n:") || (value && strpbrk(value, "\r\n")))
        return LIRA_EINVAL;
    return kv_set(c->headers, &c->nheaders, LIRA_OTLP_MAX_HEADERS, key, value);
}

int lira_otlp_config_set_url(lira_otlp_config *c, const char *url)
{
    if (!c)
        return LIRA_EINVAL;
    if (url && strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
        return LIRA_EINVAL;
    char *u = url ? lira_strndup(url, strlen(url)) : NULL;
    if (url && !u)
        return LIRA_ENOMEM;
    free(c->url);
    c->url = u;
    return LIRA_OK;
}

void lira_otlp_config_free(lira_otlp_config *c)
{
    if (!c)
        return;
    free(c->url);
    for (size_t i = 0; i < c->nheaders; i++)
        free(c->headers[i].key), free(c->headers[i].value);
    for (size_t i = 0; i < c->nresource; i++)
        free(c->resource[i].key), free(c->resource[i].value);
    memset(c, 0, sizeof *c);
}

int lira_otlp_config_default(lira_otlp_config *c)
{
    if (!c)
        return LIRA_EINVAL;
    memset(c, 0, sizeof *c);
    c->max_queue = 2048;
    c->max_batch = 512;
    c->delay_ns = 5 * LIRA_NS_PER_SEC;
    c->timeout_ns = 10 * LIRA_NS_PER_SEC;
    c->shutdown_timeout_ns = 2 * LIRA_NS_PER_SEC;
    c->max_retries = 5;
    c->backoff = (lira_backoff_config){.base_ns = LIRA_NS_PER_SEC,
                                       .cap_ns = 30 * LIRA_NS_PER_SEC,
                                       .multiplier = 2.0,
                                       .jitter = LIRA_JITTER_FULL};
    return lira_otlp_config_set_resource(c, "service.name", DEFAULT_SERVICE);
}

/* ------------------------------------------------------------ parsing */

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Trim, then percent-decode `n` bytes of s into a new string. NULL on
 * ENOMEM; *bad set for a malformed escape or a decoded NUL/CR/LF. */
static char *decode(const char *s, size_t n, int *bad)
{
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            c = (char)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]));
            i += 2;
        } else if (c == '%') {
            *bad = 1;
        }
        if (c == '\0' || c == '\r' || c == '\n') {
            *bad = 1;
            continue;
        }
        out[k++] = c;
    }
    out[k] = '\0';
    return out;
}

typedef int (*kv_sink)(lira_otlp_config *c, const char *k, const char *v);

static int sink_resource(lira_otlp_config *c, const char *k, const char *v)
{
    return lira_otlp_config_set_resource(c, k, v);
}

static int sink_header(lira_otlp_config *c, const char *k, const char *v)
{
    return lira_otlp_config_set_header(c, k, v);
}

/* "k=v,k2=v2": each member trimmed, its value percent-decoded. Malformed
 * members are skipped (LIRA_EPARSE at the end); ENOMEM stops. */
static int parse_list(lira_otlp_config *c, const char *s, kv_sink sink)
{
    int rc = LIRA_OK;
    while (s && *s) {
        size_t n = strcspn(s, ",");
        const char *eq = memchr(s, '=', n);
        int bad = 0;
        char *k = eq ? decode(s, (size_t)(eq - s), &bad) : NULL;
        char *v = eq ? decode(eq + 1, n - (size_t)(eq - s) - 1, &bad) : NULL;
        if (eq && (!k || !v)) {
            free(k), free(v);
            return LIRA_ENOMEM;
        }
        int r = !eq || bad || !*k ? LIRA_EPARSE : sink(c, k, v);
        free(k), free(v);
        if (r == LIRA_ENOMEM)
            return r;
        if (r != LIRA_OK && strspn(s, " \t") < n)   /* an empty member is no mistake */
            rc = LIRA_EPARSE;
        s += n + (s[n] == ',');
    }
    return rc;
}

/* A non-negative integer of milliseconds or a count; *ok = 0 when malformed. */
static int64_t parse_num(const char *s, int *ok)
{
    int64_t v = 0;
    *ok = s && *s;
    for (; *ok && *s; s++) {
        if (*s < '0' || *s > '9' || v > INT64_MAX / 10 / LIRA_NS_PER_MS)
            *ok = 0;
        else
            v = v * 10 + (*s - '0');
    }
    return v;
}

static const char *get(lira_getenv_fn fn, void *ud, const char *name)
{
    const char *v = fn ? fn(ud, name) : getenv(name);
    return v && *v ? v : NULL;
}

static int apply_numbers(lira_otlp_config *c, lira_getenv_fn fn, void *ud)
{
    int rc = LIRA_OK, ok;
    const char *v;
    if ((v = get(fn, ud, "OTEL_BSP_MAX_QUEUE_SIZE"))) {
        int64_t n = parse_num(v, &ok);
        if (ok && n > 0 && n <= 1000000) c->max_queue = (size_t)n; else rc = LIRA_EPARSE;
    }
    if ((v = get(fn, ud, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"))) {
        int64_t n = parse_num(v, &ok);
        if (ok && n > 0) c->max_batch = (size_t)n; else rc = LIRA_EPARSE;
    }
    if (c->max_batch > c->max_queue)
        c->max_batch = c->max_queue;
    if ((v = get(fn, ud, "OTEL_BSP_SCHEDULE_DELAY"))) {
        int64_t n = parse_num(v, &ok);
        if (ok) c->delay_ns = n * LIRA_NS_PER_MS; else rc = LIRA_EPARSE;
    }
    v = get(fn, ud, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT");
    if (!v)
        v = get(fn, ud, "OTEL_EXPORTER_OTLP_TIMEOUT");
    if (v) {
        int64_t n = parse_num(v, &ok);
        if (ok && n > 0) c->timeout_ns = n * LIRA_NS_PER_MS; else rc = LIRA_EPARSE;
    }
    return rc;
}

static int apply_url(lira_otlp_config *c, lira_getenv_fn fn, void *ud)
{
    const char *full = get(fn, ud, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
    if (full)
        return lira_otlp_config_set_url(c, full) == LIRA_ENOMEM ? LIRA_ENOMEM
             : c->url ? LIRA_OK : LIRA_EPARSE;
    const char *base = get(fn, ud, "OTEL_EXPORTER_OTLP_ENDPOINT");
    if (!base)
        return LIRA_OK;
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    char *u = malloc(n + sizeof "/v1/traces");
    if (!u)
        return LIRA_ENOMEM;
    memcpy(u, base, n);
    memcpy(u + n, "/v1/traces", sizeof "/v1/traces");
    int rc = lira_otlp_config_set_url(c, u);
    free(u);
    return rc == LIRA_EINVAL ? LIRA_EPARSE : rc;
}

int lira_otlp_config_from_env(lira_otlp_config *c, lira_getenv_fn fn, void *ud)
{
    if (!c)
        return LIRA_EINVAL;
    int rc = lira_otlp_config_default(c);
    int r[5] = {rc, LIRA_OK, LIRA_OK, LIRA_OK, LIRA_OK};
    if (rc == LIRA_OK) {
        r[1] = parse_list(c, get(fn, ud, "OTEL_RESOURCE_ATTRIBUTES"), sink_resource);
        const char *svc = get(fn, ud, "OTEL_SERVICE_NAME");
        if (svc && r[1] != LIRA_ENOMEM)
            r[1] = lira_otlp_config_set_resource(c, "service.name", svc) == LIRA_ENOMEM
                 ? LIRA_ENOMEM : r[1];
        r[2] = parse_list(c, get(fn, ud, "OTEL_EXPORTER_OTLP_HEADERS"), sink_header);
        int h2 = parse_list(c, get(fn, ud, "OTEL_EXPORTER_OTLP_TRACES_HEADERS"), sink_header);
        if (h2 != LIRA_OK)
            r[2] = h2;
        r[3] = apply_numbers(c, fn, ud);
        r[4] = apply_url(c, fn, ud);
    }
    int worst = LIRA_OK;
    for (int i = 0; i < 5; i++) {
        if (r[i] == LIRA_ENOMEM) {
            lira_otlp_config_free(c);
            return LIRA_ENOMEM;
        }
        if (r[i] != LIRA_OK)
            worst = LIRA_EPARSE;
    }
    return worst;
}
