/* sandbox_routes_api.c — endpoints that behave like a real API: a fixed-
 * window rate limiter, four pagination styles, and POST /payments with
 * Idempotency-Key semantics (and the lost-response case). */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "sandbox/sandbox_internal.h"

/* -------------------------------------------------------- /ratelimit --- */

typedef struct rate_view {
    int64_t count, reset_in_s, reset_epoch_s;
} rate_view;

/* Count this request in key's window (opening a new window when the last
 * one ended). Returns -1 when the key table is full. */
static int rate_count(sb_server *s, const char *key, int64_t window_s, rate_view *v)
{
    int64_t now = sb_now_ns();
    pthread_mutex_lock(&s->mu);
    sb_rate *row = sb_table_get(&s->rate, key, true);
    if (row == NULL) { pthread_mutex_unlock(&s->mu); return -1; }
    if (now >= row->window_end_ns) {
        row->window_end_ns = now + window_s * LIRA_NS_PER_SEC;
        /* Fixed once per window, so every response in it names the same
         * epoch second; rounded up so that it is never early. */
        int64_t wall = sb_wall_ns();
        row->reset_epoch_s = (wall + LIRA_NS_PER_SEC - 1) / LIRA_NS_PER_SEC + window_s;
        row->count = 0;
    }
    v->count = ++row->count;
    v->reset_in_s = (row->window_end_ns - now + LIRA_NS_PER_SEC - 1) / LIRA_NS_PER_SEC;
    if (v->reset_in_s < 1) v->reset_in_s = 1;
    v->reset_epoch_s = row->reset_epoch_s;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

typedef struct rate_hdrs {
    char a[64], b[96], c[32], d[32], ra[32];
    const char *h[14];
} rate_hdrs;

/* The header list of one style (0 github, 1 ietf, 2 ietf-dict) into out. */
static void rate_headers(rate_hdrs *o, int style, int64_t limit, int64_t window,
                         int64_t remaining, bool over, const rate_view *v)
{
    size_t n = 0;
    if (style == 0) {
        snprintf(o->a, sizeof o->a, "%lld", (long long)limit);
        snprintf(o->b, sizeof o->b, "%lld", (long long)remaining);
        snprintf(o->c, sizeof o->c, "%lld", (long long)v->reset_epoch_s);
        snprintf(o->d, sizeof o->d, "%lld", (long long)(over ? limit : v->count));
        o->h[n++] = "X-RateLimit-Limit"; o->h[n++] = o->a;
        o->h[n++] = "X-RateLimit-Remaining"; o->h[n++] = o->b;
        o->h[n++] = "X-RateLimit-Reset"; o->h[n++] = o->c;
        o->h[n++] = "X-RateLimit-Used"; o->h[n++] = o->d;
        o->h[n++] = "X-RateLimit-Resource"; o->h[n++] = "sandbox";
    } else if (style == 1) {
        snprintf(o->a, sizeof o->a, "\"default\";q=%lld;w=%lld", (long long)limit, (long long)window);
        snprintf(o->b, sizeof o->b, "\"default\";r=%lld;t=%lld", (long long)remaining,
                 (long long)v->reset_in_s);
        o->h[n++] = "RateLimit-Policy"; o->h[n++] = o->a;
        o->h[n++] = "RateLimit"; o->h[n++] = o->b;
    } else {
        snprintf(o->a, sizeof o->a, "%lld;w=%lld", (long long)limit, (long long)window);
        snprintf(o->b, sizeof o->b, "limit=%lld, remaining=%lld, reset=%lld", (long long)limit,
                 (long long)remaining, (long long)v->reset_in_s);
        o->h[n++] = "RateLimit-Policy"; o->h[n++] = o->a;
        o->h[n++] = "RateLimit"; o->h[n++] = o->b;
    }
    if (over) {
        snprintf(o->ra, sizeof o->ra, "%lld", (long long)v->reset_in_s);
        o->h[n++] = "Retry-After"; o->h[n++] = o->ra;
    }
    o->h[n] = NULL;
}

enum MHD_Result sb_route_ratelimit(sb_req *r)
{
    const char *key = sb_path_tail(r, "/ratelimit/");
    const char *style = sb_arg(r, "style");
    int64_t limit, window;
    if (key[0] == '\0' || strlen(key) > SB_KEY_MAX)
        return sb_reply_error(r, 400, "key must be 1..128 bytes");
    if (sb_arg_int(r, "limit", 1, 1000000000, 10, &limit) != 0 ||
        sb_arg_int(r, "window", 1, 86400, 60, &window) != 0)
        return sb_reply_error(r, 400, "limit must be 1..1e9 and window 1..86400 (s)");
    if (style == NULL) style = "github";
    bool github = strcmp(style, "github") == 0, ietf = strcmp(style, "ietf") == 0;
    if (!github && !ietf && strcmp(style, "ietf-dict") != 0)
        return sb_reply_error(r, 400, "style must be github, ietf or ietf-dict");
    rate_view v;
    if (rate_count(r->srv, key, window, &v) != 0)
        return sb_reply_error(r, 507, "too many keys; POST /_reset");
    int64_t remaining = limit - v.count > 0 ? limit - v.count : 0;
    bool over = v.count > limit;
    rate_hdrs hb;
    rate_headers(&hb, github ? 0 : ietf ? 1 : 2, limit, window, remaining, over, &v);
    const char *const *h = hb.h;
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "key", key);
    cJSON_AddNumberToObject(doc, "limit", (double)limit);
    cJSON_AddNumberToObject(doc, "remaining", (double)remaining);
    cJSON_AddNumberToObject(doc, "count", (double)v.count);
    cJSON_AddNumberToObject(doc, "reset_in", (double)v.reset_in_s);
    if (over) cJSON_AddStringToObject(doc, "error", "rate limited");
    return sb_reply_json(r, over ? 429 : 200, doc, h);
}

/* --------------------------------------------------------- /paginate --- */

static cJSON *page_items(int64_t first, int64_t last)
{
    cJSON *arr = cJSON_CreateArray();
    for (int64_t i = first; arr != NULL && i <= last; i++) {
        cJSON *o = cJSON_CreateObject();
        if (o == NULL) break;
        cJSON_AddNumberToObject(o, "id", (double)i);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Page size: the style's own parameter, else size, else 10. */
static int page_size(sb_req *r, const char *own, int64_t *m)
{
    int64_t dflt;
    if (sb_arg_int(r, "size", 1, SB_PAGE_SIZE_MAX, 10, &dflt) != 0) return -1;
    return sb_arg_int(r, own, 1, SB_PAGE_SIZE_MAX, dflt, m);
}

static enum MHD_Result paginate_cursor(sb_req *r, int64_t total)
{
    int64_t m, after;
    if (page_size(r, "limit", &m) != 0 ||
        sb_arg_int(r, "starting_after", 0, total, 0, &after) != 0)
        return sb_reply_error(r, 400, "limit/size 1..1000, starting_after 0..total");
    int64_t last = min64(after + m, total);
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddItemToObject(doc, "data", page_items(after + 1, last));
    cJSON *meta = cJSON_AddObjectToObject(doc, "meta");
    char next[32];
    snprintf(next, sizeof next, "%lld", (long long)last);
    cJSON_AddItemToObject(meta, "next", last < total ? cJSON_CreateString(next) : cJSON_CreateNull());
    cJSON_AddBoolToObject(meta, "has_more", last < total);
    return sb_reply_json(r, 200, doc, NULL);
}

static enum MHD_Result paginate_link(sb_req *r, int64_t total)
{
    int64_t m, page;
    if (page_size(r, "per_page", &m) != 0 || sb_arg_int(r, "page", 1, INT32_MAX, 1, &page) != 0)
        return sb_reply_error(r, 400, "per_page/size 1..1000, page >= 1");
    int64_t pages = total > 0 ? (total + m - 1) / m : 1;
    int64_t first = (page - 1) * m + 1, last = min64(page * m, total);
    char link[768];
    const char *host = r->srv->host;
    int len = 0;
#define LINK_REL(p, rel)                                                                 \
    len += snprintf(link + len, sizeof link - (size_t)len,                               \
                    "%s<http://%s/paginate/link?total=%lld&per_page=%lld&page=%lld>; rel=\"%s\"", \
                    len > 0 ? ", " : "", host, (long long)total, (long long)m, (long long)(p), rel)
    if (page < pages) LINK_REL(page + 1, "next");
    if (page > 1 && page <= pages) LINK_REL(page - 1, "prev");
    LINK_REL(1, "first");
    LINK_REL(pages, "last");
#undef LINK_REL
    const char *h[] = { "Link", link, NULL };
    return sb_reply_json(r, 200, page_items(first, last), h);
}

static enum MHD_Result paginate_offset(sb_req *r, int64_t total)
{
    int64_t m, off;
    if (page_size(r, "limit", &m) != 0 || sb_arg_int(r, "offset", 0, INT64_MAX / 2, 0, &off) != 0)
        return sb_reply_error(r, 400, "limit/size 1..1000, offset >= 0");
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddItemToObject(doc, "items", page_items(off + 1, min64(off + m, total)));
    cJSON_AddNumberToObject(doc, "total", (double)total);
    cJSON_AddNumberToObject(doc, "offset", (double)off);
    cJSON_AddNumberToObject(doc, "limit", (double)m);
    return sb_reply_json(r, 200, doc, NULL);
}

static enum MHD_Result paginate_page(sb_req *r, int64_t total)
{
    int64_t m, page;
    if (page_size(r, "per_page", &m) != 0 || sb_arg_int(r, "page", 1, INT32_MAX, 1, &page) != 0)
        return sb_reply_error(r, 400, "per_page/size 1..1000, page >= 1");
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddItemToObject(doc, "items", page_items((page - 1) * m + 1, min64(page * m, total)));
    cJSON_AddNumberToObject(doc, "page", (double)page);
    cJSON_AddNumberToObject(doc, "per_page", (double)m);
    cJSON_AddNumberToObject(doc, "total", (double)total);
    cJSON_AddNumberToObject(doc, "total_pages", (double)((total + m - 1) / m));
    return sb_reply_json(r, 200, doc, NULL);
}

enum MHD_Result sb_route_paginate(sb_req *r)
{
    const char *style = sb_path_tail(r, "/paginate/");
    int64_t total;
    if (sb_arg_int(r, "total", 0, SB_PAGE_TOTAL_MAX, 100, &total) != 0)
        return sb_reply_error(r, 400, "total must be an integer 0..1000000");
    if (strcmp(style, "cursor") == 0) return paginate_cursor(r, total);
    if (strcmp(style, "link") == 0) return paginate_link(r, total);
    if (strcmp(style, "offset") == 0) return paginate_offset(r, total);
    if (strcmp(style, "page") == 0) return paginate_page(r, total);
    return sb_reply_error(r, 404, "pagination style must be cursor, link, offset or page");
}
