/* rt_webhook_http.c — one webhook request on an MHD thread: read the body
 * (capped), verify, take the event id, store it durably in the inbox, and
 * only then answer (docs/webhooks.md, "Receiving"). No Lua here.
 *
 * The MHD threads only do CPU work (body, verify, id); the durable insert
 * is the committer's (rt_wh_commit.c): the request is queued there with
 * its connection suspended, and answered when MHD calls the handler again
 * after the committer resumed it. A polling thread thus never waits for
 * a commit, and a few of them serve every connection. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/status.h"
#include "runtime/rt_webhook.h"

#define MAX_HDRS (LIRA_WEBHOOK_MAX_HEADERS + 1)

typedef struct hdrs {
    lira_webhook_header h[MAX_HDRS];
    size_t n, total;
    char *blob;
    size_t blen, bcap;
    int oom;
} hdrs;

typedef struct wh_req {
    rt_wh_table *t;
    const rt_wh_route *ro;
    int early;            /* a result decided before the body: too_large, bad_method */
    int answered, started, queued;
    char *body;
    size_t len, cap;
    hdrs *x;              /* kept until the end: the queued event points into it */
    rt_wh_item it;        /* the event handed to the committer (rt_wh_commit.c) */
    char id[LIRA_STORE_NAME_MAX + 1];
} wh_req;

/* ------------------------------------------------------------ headers */

static void blob_add(hdrs *x, const char *s, size_t n)
{
    if (x->oom)
        return;
    if (x->blen + n + 1 > x->bcap) {
        size_t nc = (x->blen + n + 1) * 2 + 256;
        char *nb = realloc(x->blob, nc);
        if (!nb) {
            x->oom = 1;
            return;
        }
        x->blob = nb;
        x->bcap = nc;
    }
    memcpy(x->blob + x->blen, s, n);
    x->blen += n;
    x->blob[x->blen++] = '\0';
}

static enum MHD_Result on_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                 size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    hdrs *x = cls;
    x->total++;
    if (x->n < MAX_HDRS)
        x->h[x->n++] = (lira_webhook_header){key, key_size, value ? value : "",
                                             value ? value_size : 0};
    blob_add(x, key, key_size);
    blob_add(x, value ? value : "", value ? value_size : 0);
    return MHD_YES;
}

/* ------------------------------------------------------------ the event id */

static int id_from_json(const char *body, size_t len, const char *path, char *out, size_t cap)
{
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root)
        return -1;
    const cJSON *cur = root;
    char seg[256];
    const char *p = path;
    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n == 0 || n >= sizeof seg) {
            cur = NULL;
            break;
        }
        memcpy(seg, p, n);
        seg[n] = '\0';
        cur = cJSON_IsObject(cur) ? cJSON_GetObjectItemCaseSensitive(cur, seg) : NULL;
        p += n + (dot ? 1 : 0);
    }
    int rc = -1;
    if (cJSON_IsString(cur) && cur->valuestring[0] && strlen(cur->valuestring) < cap) {
        snprintf(out, cap, "%s", cur->valuestring);
        rc = 0;
    } else if (cJSON_IsNumber(cur) && cur->valuedouble == (double)(long long)cur->valuedouble) {
        snprintf(out, cap, "%lld", (long long)cur->valuedouble);
        rc = 0;
    }
    cJSON_Delete(root);
    return rc;
}

static int event_id(const wh_req *q, const hdrs *x, char *out, size_t cap)
{
    if (q->ro->id_json)
        return id_from_json(q->body ? q->body : "", q->len, q->ro->id_key, out, cap);
    for (size_t i = 0; i < x->n; i++) {
        const lira_webhook_header *h = &x->h[i];
        if (strlen(q->ro->id_key) == h->name_len &&
            strncasecmp(h->name, q->ro->id_key, h->name_len) == 0) {
            if (h->value_len == 0 || h->value_len >= cap || memchr(h->value, 0, h->value_len))
                return -1;
            memcpy(out, h->value, h->value_len);
            out[h->value_len] = '\0';
            return 0;
        }
    }
    return -1;
}

/* ------------------------------------------------------------ answers */

static int send_text(struct MHD_Connection *c, int status, const char *text)
{
    struct MHD_Response *res = MHD_create_response_from_buffer(
        strlen(text), (void *)(uintptr_t)text, MHD_RESPMEM_MUST_COPY);
    if (!res)
        return MHD_NO;
    MHD_add_response_header(res, "Content-Type", "text/plain");
    if (status == 405)
        MHD_add_response_header(res, "Allow", "POST");
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)status, res);
    MHD_destroy_response(res);
    return rc;
}

static int finish(wh_req *q, struct MHD_Connection *c, int result, int status, const char *text)
{
    rt_wh_count(q->ro->stats, result);
    q->answered = 1;
    return send_text(c, status, text);
}

static int verdict_result(lira_webhook_kind k)
{
    switch (k) {
    case LIRA_WEBHOOK_MISSING_HEADER: return RT_WH_MISSING_HEADER;
    case LIRA_WEBHOOK_BAD_SIGNATURE: return RT_WH_BAD_SIGNATURE;
    case LIRA_WEBHOOK_EXPIRED: return RT_WH_EXPIRED;
    default: return RT_WH_MALFORMED;
    }
}

/* Verify and take the id on the MHD thread (CPU only), then hand the
 * event to the committer and suspend: the answer comes in `answer_stored`
 * when the committer resumed the connection. */
static int process(rt_wh *w, wh_req *q, struct MHD_Connection *c)
{
    /* Not calloc: h[] is 8 KiB and only its first n entries are read. */
    hdrs *x = q->x = malloc(sizeof *x);
    if (!x)
        return MHD_NO;
    x->n = x->total = x->blen = x->bcap = 0;
    x->blob = NULL;
    x->oom = 0;
    MHD_get_connection_values_n(c, MHD_HEADER_KIND, on_header, x);
    char msg[256];
    if (q->ro->verify) {
        lira_webhook_verdict v;
        int vr = lira_webhook_verify(&q->ro->cfg, x->h, x->total > LIRA_WEBHOOK_MAX_HEADERS
                                         ? LIRA_WEBHOOK_MAX_HEADERS + 1 : x->n,
                                     q->body, q->len, (int64_t)time(NULL), &v);
        if (vr != LIRA_OK || v.kind != LIRA_WEBHOOK_VALID) {
            snprintf(msg, sizeof msg, "%s: %s\n", lira_webhook_kind_name(v.kind), v.message);
            return finish(q, c, vr != LIRA_OK ? RT_WH_MALFORMED : verdict_result(v.kind), 401,
                          msg);
        }
    }
    if (event_id(q, x, q->id, sizeof q->id) != 0) {
        snprintf(msg, sizeof msg, "missing event id (%s:%s)\n", q->ro->id_json ? "json" : "header",
                 q->ro->id_key);
        return finish(q, c, RT_WH_MISSING_ID, 400, msg);
    }
    if (x->oom)
        return finish(q, c, RT_WH_STORE_ERROR, 503, "out of memory\n");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    q->it.ev = (lira_store_event_in){.route = q->ro->path, .event_id = q->id,
                                     .headers = x->blob, .headers_len = x->blen,
                                     .body = q->body ? q->body : "", .body_len = q->len,
                                     .received_at_ms = (int64_t)ts.tv_sec * 1000 +
                                                       ts.tv_nsec / 1000000};
    /* Refused during shutdown: nothing was stored, so the sender retries. */
    if (rt_wh_commit_async(w, &q->it, c) != LIRA_OK)
        return finish(q, c, RT_WH_STORE_ERROR, 503, "stopping; retry\n");
    q->queued = 1;
    return MHD_YES;
}

static int answer_stored(wh_req *q, struct MHD_Connection *c)
{
    if (q->it.rc != LIRA_OK)
        return finish(q, c, RT_WH_STORE_ERROR, 503, "could not store the event; retry\n");
    if (q->it.result == LIRA_STORE_DUPLICATE)
        return finish(q, c, RT_WH_DUPLICATE, 200, "duplicate\n");
    return finish(q, c, RT_WH_ACCEPTED, 202, "accepted\n");
}

/* ------------------------------------------------------------ MHD calls */

void *rt_wh_http_begin(rt_wh *w, struct MHD_Connection *c, const char *url, const char *method)
{
    if (!w)
        return NULL;
    /* A table with routes is published after the batcher exists (both
     * under w->mu), so a route found implies a batcher. */
    rt_wh_table *t = rt_wh_table_get(w);
    const rt_wh_route *ro = rt_wh_find(t, url);
    wh_req *q = ro ? calloc(1, sizeof *q) : NULL;
    if (!q) {
        rt_wh_table_put(w, t);
        return NULL;
    }
    q->t = t;
    q->ro = ro;
    q->early = -1;
    if (strcmp(method, "POST") != 0) {
        q->early = RT_WH_BAD_METHOD;
    } else {
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        char *end = NULL;
        unsigned long long n = cl ? strtoull(cl, &end, 10) : 0;
        if (cl && end && *end == '\0' && n > ro->max_body)
            q->early = RT_WH_TOO_LARGE;
    }
    return q;
}

static int early_answer(wh_req *q, struct MHD_Connection *c)
{
    if (q->early == RT_WH_BAD_METHOD)
        return finish(q, c, RT_WH_BAD_METHOD, 405, "method not allowed: POST\n");
    char msg[96];
    snprintf(msg, sizeof msg, "body too large (the limit is %zu bytes)\n", q->ro->max_body);
    return finish(q, c, RT_WH_TOO_LARGE, 413, msg);
}

int rt_wh_http_step(rt_wh *w, void *req, struct MHD_Connection *c, const char *upload,
                    size_t *upload_size)
{
    wh_req *q = req;
    if (!q->started) {   /* the first call: headers only */
        q->started = 1;
        return q->early >= 0 ? early_answer(q, c) : MHD_YES;
    }
    if (q->answered) {
        *upload_size = 0;   /* the rest of a refused body is dropped */
        return MHD_YES;
    }
    if (q->queued)   /* called again after the committer resumed us */
        return q->it.done ? answer_stored(q, c) : MHD_YES;
    if (q->early >= 0)
        return early_answer(q, c);
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (q->len + n > q->ro->max_body) {
            q->early = RT_WH_TOO_LARGE;
            free(q->body);
            q->body = NULL;
            return early_answer(q, c);
        }
        if (q->len + n > q->cap) {
            size_t nc = q->cap ? q->cap : 4096;
            while (nc < q->len + n)
                nc *= 2;
            char *nb = realloc(q->body, nc);
            if (!nb)
                return MHD_NO;
            q->body = nb;
            q->cap = nc;
        }
        memcpy(q->body + q->len, upload, n);
        q->len += n;
        return MHD_YES;
    }
    return process(w, q, c);
}

int rt_wh_http_parked(const void *req)
{
    const wh_req *q = req;
    return q->queued;
}

void rt_wh_http_end(rt_wh *w, void *req)
{
    wh_req *q = req;
    if (!q)
        return;
    rt_wh_table_put(w, q->t);
    if (q->x)
        free(q->x->blob);
    free(q->x);
    free(q->body);
    free(q);
}
