/* rt_webhook_http.c — one webhook request on an MHD thread: read the body
 * (capped), verify, take the event id, store it durably in the inbox, and
 * only then answer (docs/webhooks.md, "Receiving"). No Lua here.
 *
 * Group commit: every request thread hands its event to the batcher and
 * waits. Whoever finds no commit in progress becomes the leader: it takes
 * everything queued (its own event included), inserts it in one
 * transaction on the receivers' store handle, marks each waiter's result
 * and wakes them. Requests that arrive during a commit form the next
 * batch, so under load one fsync (FULL) or one WAL append (NORMAL) covers
 * many acks, and alone a request pays for one commit and no waiting. */
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

#define BATCH_MAX 512
#define MAX_HDRS (LIRA_WEBHOOK_MAX_HEADERS + 1)

typedef struct item {
    lira_store_event_in ev;
    int rc, result, done;
    int64_t done_seq;          /* > 0: not an insert but this event's done mark */
    pthread_cond_t cv;
    struct item *next;
} item;

struct rt_wh_batcher {
    pthread_mutex_t mu;
    item *head, **tail;
    int leader;
    lira_store *s;
};

typedef struct wh_req {
    rt_wh_table *t;
    const rt_wh_route *ro;
    int early;            /* a result decided before the body: too_large, bad_method */
    int answered, started;
    char *body;
    size_t len, cap;
} wh_req;

/* ------------------------------------------------------------ the batcher */

int rt_wh_http_start(rt_wh *w, char *err, size_t cap)
{
    rt_wh_batcher *b = calloc(1, sizeof *b);
    if (!b || lira_store_new(&b->s) != LIRA_OK) {
        free(b);
        snprintf(err, cap, "out of memory");
        return LIRA_ENOMEM;
    }
    lira_store_options o;
    memset(&o, 0, sizeof o);
    o.sync_full = w->sync_full;
    o.manual_wal_checkpoint = 1;
    o.inbox_retention_ms = w->retention_ms;
    if (lira_store_open(b->s, w->state_path, &o) != LIRA_OK) {
        snprintf(err, cap, "webhooks: %s", lira_store_errmsg(b->s));
        lira_store_free(b->s);
        free(b);
        return LIRA_ESTATE;
    }
    pthread_mutex_init(&b->mu, NULL);
    b->tail = &b->head;
    w->batcher = b;
    return LIRA_OK;
}

void rt_wh_http_stop(rt_wh *w)
{
    rt_wh_batcher *b = w->batcher;
    if (!b)
        return;
    lira_store_free(b->s);
    pthread_mutex_destroy(&b->mu);
    free(b);
    w->batcher = NULL;
}

static void submit(rt_wh_batcher *b, item *me);

/* One transaction: the batch's new events, then the delivered events' done
 * marks (rt_wh_mark_done). Nothing else writes the inbox at this rate, so
 * receivers never wait on SQLite's lock (its busy handler sleeps, which is
 * what a p99 would show). */
static void commit_batch(rt_wh_batcher *b, item *list)
{
    lira_store_event_in evs[BATCH_MAX];
    int results[BATCH_MAX];
    size_t n = 0, ndone = 0;
    for (item *it = list; it; it = it->next) {
        if (it->done_seq)
            ndone++;
        else
            evs[n++] = it->ev;
    }
    int rc = LIRA_OK;
    if (ndone)
        rc = lira_store_begin(b->s);
    if (rc == LIRA_OK && n)
        rc = lira_store_inbox_insert_batch(b->s, evs, n, results, NULL);
    for (item *it = list; ndone && rc == LIRA_OK && it; it = it->next) {
        if (it->done_seq) {
            int d = lira_store_inbox_done(b->s, it->done_seq, it->ev.received_at_ms);
            it->rc = d;
            if (d != LIRA_OK && d != LIRA_ENOTFOUND)
                rc = d;
        }
    }
    if (ndone)
        rc = rc == LIRA_OK ? lira_store_commit(b->s) : (lira_store_rollback(b->s), rc);
    size_t i = 0;
    for (item *it = list; it; it = it->next) {
        if (it->done_seq) {
            it->rc = rc < 0 ? rc : LIRA_OK;
            continue;
        }
        it->rc = rc < 0 ? rc : results[i] < 0 ? results[i] : LIRA_OK;
        it->result = rc < 0 ? 0 : results[i];
        i++;
    }
}

int rt_wh_mark_done(rt_wh *w, int64_t seq, int64_t now_ms)
{
    if (!w->batcher)
        return LIRA_ESTATE;
    item it;
    memset(&it, 0, sizeof it);
    it.done_seq = seq;
    it.ev.received_at_ms = now_ms;
    submit(w->batcher, &it);
    return it.rc;
}

/* Each waiter sleeps on its own condition variable: the leader wakes the
 * members of its batch and hands leadership to the head of the queue, so
 * a commit wakes exactly the threads that have something to do (no
 * thundering herd of 64 threads per commit). */
static void submit(rt_wh_batcher *b, item *me)
{
    pthread_cond_init(&me->cv, NULL);
    pthread_mutex_lock(&b->mu);
    me->next = NULL;
    *b->tail = me;
    b->tail = &me->next;
    while (!me->done) {
        if (b->leader || b->head != me) {
            pthread_cond_wait(&me->cv, &b->mu);
            continue;
        }
        b->leader = 1;
        item *list = b->head, *last = list;
        for (int k = 1; k < BATCH_MAX && last->next; k++)
            last = last->next;
        b->head = last->next;
        if (!b->head)
            b->tail = &b->head;
        last->next = NULL;
        pthread_mutex_unlock(&b->mu);
        commit_batch(b, list);
        pthread_mutex_lock(&b->mu);
        for (item *it = list; it;) {
            item *nx = it->next;
            it->done = 1;
            if (it != me)
                pthread_cond_signal(&it->cv);
            it = nx;
        }
        b->leader = 0;
        if (b->head)
            pthread_cond_signal(&b->head->cv);
    }
    pthread_mutex_unlock(&b->mu);
    pthread_cond_destroy(&me->cv);
}

/* ------------------------------------------------------------ headers */

typedef struct hdrs {
    lira_webhook_header h[MAX_HDRS];
    size_t n, total;
    char *blob;
    size_t blen, bcap;
    int oom;
} hdrs;

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

static int process(rt_wh *w, wh_req *q, struct MHD_Connection *c)
{
    hdrs *x = calloc(1, sizeof *x);
    if (!x)
        return MHD_NO;
    MHD_get_connection_values_n(c, MHD_HEADER_KIND, on_header, x);
    int rc;
    char msg[256], id[LIRA_STORE_NAME_MAX + 1];
    if (q->ro->verify) {
        lira_webhook_verdict v;
        int vr = lira_webhook_verify(&q->ro->cfg, x->h, x->total > LIRA_WEBHOOK_MAX_HEADERS
                                         ? LIRA_WEBHOOK_MAX_HEADERS + 1 : x->n,
                                     q->body, q->len, (int64_t)time(NULL), &v);
        if (vr != LIRA_OK || v.kind != LIRA_WEBHOOK_VALID) {
            snprintf(msg, sizeof msg, "%s: %s\n", lira_webhook_kind_name(v.kind), v.message);
            rc = finish(q, c, vr != LIRA_OK ? RT_WH_MALFORMED : verdict_result(v.kind), 401, msg);
            goto out;
        }
    }
    if (event_id(q, x, id, sizeof id) != 0) {
        snprintf(msg, sizeof msg, "missing event id (%s:%s)\n", q->ro->id_json ? "json" : "header",
                 q->ro->id_key);
        rc = finish(q, c, RT_WH_MISSING_ID, 400, msg);
        goto out;
    }
    if (x->oom) {
        rc = finish(q, c, RT_WH_STORE_ERROR, 503, "out of memory\n");
        goto out;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    item it;
    memset(&it, 0, sizeof it);
    it.ev = (lira_store_event_in){.route = q->ro->path, .event_id = id, .headers = x->blob,
                                  .headers_len = x->blen, .body = q->body ? q->body : "",
                                  .body_len = q->len,
                                  .received_at_ms = (int64_t)ts.tv_sec * 1000 +
                                                    ts.tv_nsec / 1000000};
    submit(w->batcher, &it);
    if (it.rc != LIRA_OK) {
        rc = finish(q, c, RT_WH_STORE_ERROR, 503, "could not store the event; retry\n");
    } else if (it.result == LIRA_STORE_DUPLICATE) {
        rc = finish(q, c, RT_WH_DUPLICATE, 200, "duplicate\n");
    } else {
        rc = finish(q, c, RT_WH_ACCEPTED, 202, "accepted\n");
        rt_wh_wake(w->r);
    }
out:
    free(x->blob);
    free(x);
    return rc;
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

void rt_wh_http_end(rt_wh *w, void *req)
{
    wh_req *q = req;
    if (!q)
        return;
    rt_wh_table_put(w, q->t);
    free(q->body);
    free(q);
}
