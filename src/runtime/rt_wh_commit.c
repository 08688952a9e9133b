/* rt_wh_commit.c — the committer: one thread that stores received webhook
 * events in the inbox, many per transaction (group commit), and only then
 * lets their requests be answered (docs/webhooks.md, "Receiving").
 *
 * A request that reached the insert is queued here and its connection is
 * suspended (MHD_suspend_connection), so the listener's few polling
 * threads never sleep on a commit. The committer takes everything queued,
 * inserts it in one transaction, records each result, and resumes the
 * connections; MHD then calls the handler again, which answers. Requests
 * that arrive during a commit form the next batch, so under load one
 * fsync (FULL) or one WAL append (NORMAL) covers many acks.
 *
 * The loop thread's done marks (rt_wh_mark_done) ride in the same
 * batches; that caller waits on a condition variable. */
#define _GNU_SOURCE
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "runtime/rt_webhook.h"

#define BATCH_MAX 512

struct rt_wh_batcher {
    pthread_mutex_t mu;
    pthread_cond_t work;          /* the committer waits for items */
    pthread_cond_t done;          /* synchronous callers and quiesce wait here */
    rt_wh_item *head, **tail;
    int stop;                     /* the committer exits once the queue is empty */
    int closing;                  /* no new suspended request (shutdown) */
    int suspended;                /* connections queued and not yet resumed */
    pthread_t th;
    lira_store *s;
    rt_wh *w;
};

/* One transaction: the batch's new events, then the delivered events' done
 * marks. Nothing else writes the inbox at this rate, so the committer
 * never waits on SQLite's lock (its busy handler sleeps, which is what a
 * p99 would show). */
static void commit_batch(rt_wh_batcher *b, rt_wh_item *list)
{
    lira_store_event_in evs[BATCH_MAX];
    int results[BATCH_MAX];
    size_t n = 0, ndone = 0;
    for (rt_wh_item *it = list; it; it = it->next) {
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
    for (rt_wh_item *it = list; ndone && rc == LIRA_OK && it; it = it->next) {
        if (it->done_seq) {
            int d = lira_store_inbox_done(b->s, it->done_seq, it->ev.received_at_ms);
            if (d != LIRA_OK && d != LIRA_ENOTFOUND)
                rc = d;
        }
    }
    if (ndone)
        rc = rc == LIRA_OK ? lira_store_commit(b->s) : (lira_store_rollback(b->s), rc);
    size_t i = 0;
    for (rt_wh_item *it = list; it; it = it->next) {
        if (it->done_seq) {
            it->rc = rc < 0 ? rc : LIRA_OK;
            continue;
        }
        it->rc = rc < 0 ? rc : results[i] < 0 ? results[i] : LIRA_OK;
        it->result = rc < 0 ? 0 : results[i];
        i++;
    }
}

/* Under b->mu: detach up to BATCH_MAX queued items. */
static rt_wh_item *take_batch(rt_wh_batcher *b)
{
    rt_wh_item *list = b->head, *last = list;
    for (int k = 1; k < BATCH_MAX && last->next; k++)
        last = last->next;
    b->head = last->next;
    if (!b->head)
        b->tail = &b->head;
    last->next = NULL;
    return list;
}

/* Marks the batch done and resumes its connections. An item's memory
 * belongs to its request, which MHD does not touch while the connection
 * is suspended: everything read from an item is read before its resume. */
static void finish_batch(rt_wh_batcher *b, rt_wh_item *list)
{
    struct MHD_Connection *conns[BATCH_MAX];
    int n = 0, accepted = 0;
    pthread_mutex_lock(&b->mu);
    for (rt_wh_item *it = list; it;) {
        rt_wh_item *nx = it->next;
        if (it->conn) {
            conns[n++] = it->conn;
            accepted |= it->rc == LIRA_OK && it->result == LIRA_STORE_INSERTED;
        }
        it->done = 1;
        it = nx;
    }
    pthread_cond_broadcast(&b->done);
    pthread_mutex_unlock(&b->mu);
    for (int i = 0; i < n; i++)
        MHD_resume_connection(conns[i]);
    if (accepted)
        rt_wh_wake(b->w->r);
    if (n) {
        pthread_mutex_lock(&b->mu);
        b->suspended -= n;
        if (b->closing)
            pthread_cond_broadcast(&b->done);
        pthread_mutex_unlock(&b->mu);
    }
}

static void *committer(void *ud)
{
    rt_wh_batcher *b = ud;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (!b->head && !b->stop)
            pthread_cond_wait(&b->work, &b->mu);
        if (!b->head)
            break;
        rt_wh_item *list = take_batch(b);
        pthread_mutex_unlock(&b->mu);
        commit_batch(b, list);
        finish_batch(b, list);
        pthread_mutex_lock(&b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

static void enqueue(rt_wh_batcher *b, rt_wh_item *it)
{
    it->next = NULL;
    it->done = 0;
    *b->tail = it;
    b->tail = &it->next;
    pthread_cond_signal(&b->work);
}

/* ------------------------------------------------------------ calls */

int rt_wh_commit_async(rt_wh *w, rt_wh_item *it, struct MHD_Connection *c)
{
    rt_wh_batcher *b = w->batcher;
    pthread_mutex_lock(&b->mu);
    if (b->closing) {
        pthread_mutex_unlock(&b->mu);
        return LIRA_ESTATE;
    }
    /* Suspended before it is visible to the committer: a resume must
     * never come before its suspend. */
    MHD_suspend_connection(c);
    it->conn = c;
    b->suspended++;
    enqueue(b, it);
    pthread_mutex_unlock(&b->mu);
    return LIRA_OK;
}

int rt_wh_mark_done(rt_wh *w, int64_t seq, int64_t now_ms)
{
    rt_wh_batcher *b = w->batcher;
    if (!b)
        return LIRA_ESTATE;
    rt_wh_item it;
    memset(&it, 0, sizeof it);
    it.done_seq = seq;
    it.ev.received_at_ms = now_ms;
    pthread_mutex_lock(&b->mu);
    enqueue(b, &it);
    while (!it.done)
        pthread_cond_wait(&b->done, &b->mu);
    pthread_mutex_unlock(&b->mu);
    return it.rc;
}

void rt_wh_http_quiesce(rt_wh *w)
{
    rt_wh_batcher *b = w ? w->batcher : NULL;
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    b->closing = 1;
    while (b->suspended > 0)
        pthread_cond_wait(&b->done, &b->mu);
    pthread_mutex_unlock(&b->mu);
}

/* ------------------------------------------------------------ start / stop */

static int open_store(rt_wh_batcher *b, rt_wh *w, char *err, size_t cap)
{
    if (lira_store_new(&b->s) != LIRA_OK) {
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
        return LIRA_ESTATE;
    }
    return LIRA_OK;
}

int rt_wh_http_start(rt_wh *w, char *err, size_t cap)
{
    rt_wh_batcher *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, cap, "out of memory");
        return LIRA_ENOMEM;
    }
    int rc = open_store(b, w, err, cap);
    if (rc != LIRA_OK) {
        free(b);
        return rc;
    }
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->work, NULL);
    pthread_cond_init(&b->done, NULL);
    b->tail = &b->head;
    b->w = w;
    if (pthread_create(&b->th, NULL, committer, b) != 0) {
        snprintf(err, cap, "webhooks: cannot start the committer thread");
        lira_store_free(b->s);
        pthread_cond_destroy(&b->done);
        pthread_cond_destroy(&b->work);
        pthread_mutex_destroy(&b->mu);
        free(b);
        return LIRA_ESTATE;
    }
    w->batcher = b;
    return LIRA_OK;
}

/* After the listener stopped: what is queued is still committed. */
void rt_wh_http_stop(rt_wh *w)
{
    rt_wh_batcher *b = w->batcher;
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    b->stop = 1;
    pthread_cond_signal(&b->work);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->th, NULL);
    lira_store_free(b->s);
    pthread_cond_destroy(&b->done);
    pthread_cond_destroy(&b->work);
    pthread_mutex_destroy(&b->mu);
    free(b);
    w->batcher = NULL;
}
