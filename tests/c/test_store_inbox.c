/* test_store_inbox.c — the durable webhook inbox: dedupe by (route, event
 * id) within the retention window, group commit, delivery order, failed
 * attempts and dead letters, replay, purge, and pending events surviving a
 * reopen. */
#define _GNU_SOURCE
#include "check.h"

#include "status.h"
#include "store.h"
#include "store_testutil.h"

#define HOUR 3600000LL

static lira_store *open_at(const char *name)
{
    lira_store_options o = { .inbox_retention_ms = 24 * HOUR };
    lira_store *s = NULL;
    CHECK_EQ(lira_store_new(&s), LIRA_OK);
    CHECK_EQ(lira_store_open(s, tu_path(name), &o), LIRA_OK);
    return s;
}

static lira_store_event_in ev(const char *route, const char *id, int64_t at)
{
    lira_store_event_in e = { route, id, "webhook-id: x", 13, "{\"a\":1}", 7, at };
    return e;
}

typedef struct seen {
    int64_t seq[32];
    char id[32][16];
    int attempts[32];
    int n;
} seen;

static int take(void *ud, const lira_store_event *e)
{
    seen *s = ud;
    if (s->n < 32) {
        s->seq[s->n] = e->seq;
        snprintf(s->id[s->n], sizeof s->id[0], "%s", e->event_id);
        s->attempts[s->n] = e->attempts;
    }
    s->n++;
    return 0;
}

static void test_insert_and_duplicate(void)
{
    lira_store *s = open_at("dup.db");
    lira_store_event_in e = ev("/hooks/shop", "evt_1", 1000);
    int res = 0;
    int64_t seq1 = 0, seq2 = 0;
    CHECK_EQ(lira_store_inbox_insert(s, &e, &res, &seq1), LIRA_OK);
    CHECK_EQ(res, LIRA_STORE_INSERTED);
    CHECK_INT(seq1, >, 0);
    e.received_at_ms = 2000;
    CHECK_EQ(lira_store_inbox_insert(s, &e, &res, &seq2), LIRA_OK);
    CHECK_EQ(res, LIRA_STORE_DUPLICATE);
    CHECK_EQ(seq2, seq1);
    lira_store_event_in other = ev("/hooks/github", "evt_1", 2000);   /* same id, other route */
    CHECK_EQ(lira_store_inbox_insert(s, &other, &res, NULL), LIRA_OK);
    CHECK_EQ(res, LIRA_STORE_INSERTED);

    seen got = { .n = 0 };
    int count = 0;
    CHECK_EQ(lira_store_inbox_due(s, NULL, 5000, 10, take, &got, &count), LIRA_OK);
    CHECK_EQ(count, 2);
    lira_store_event_in bad = ev("/h", "", 1);
    CHECK_EQ(lira_store_inbox_insert(s, &bad, &res, NULL), LIRA_EINVAL);
    lira_store_free(s);
}

static void test_batch_is_one_commit_with_per_event_results(void)
{
    lira_store *s = open_at("batch.db");
    lira_store_event_in one = ev("/h", "a", 10);
    int res;
    CHECK_EQ(lira_store_inbox_insert(s, &one, &res, NULL), LIRA_OK);
    lira_store_event_in evs[5] = {
        ev("/h", "a", 20),   /* duplicate of an earlier one */
        ev("/h", "b", 20),
        ev("/h", "b", 20),   /* duplicate inside the batch */
        ev("/h", "", 20),    /* invalid: skipped, the others go in */
        ev("/h", "c", 20),
    };
    int results[5];
    int64_t seqs[5];
    CHECK_EQ(lira_store_inbox_insert_batch(s, evs, 5, results, seqs), LIRA_OK);
    CHECK_EQ(results[0], LIRA_STORE_DUPLICATE);
    CHECK_EQ(results[1], LIRA_STORE_INSERTED);
    CHECK_EQ(results[2], LIRA_STORE_DUPLICATE);
    CHECK_EQ(results[3], LIRA_EINVAL);
    CHECK_EQ(results[4], LIRA_STORE_INSERTED);
    CHECK_EQ(seqs[1], seqs[2]);
    CHECK_INT(seqs[4], >, seqs[1]);
    int64_t pending = 0;
    CHECK_EQ(lira_store_inbox_counts(s, "/h", &pending, NULL, NULL), LIRA_OK);
    CHECK_EQ(pending, 3);
    CHECK_EQ(lira_store_inbox_insert_batch(s, evs, 0, results, NULL), LIRA_EINVAL);

    /* inside a caller's transaction the batch is a savepoint; rollback drops it */
    lira_store_event_in more[2] = { ev("/h", "d", 30), ev("/h", "e", 30) };
    CHECK_EQ(lira_store_begin(s), LIRA_OK);
    CHECK_EQ(lira_store_inbox_insert_batch(s, more, 2, results, NULL), LIRA_OK);
    CHECK_EQ(lira_store_rollback(s), LIRA_OK);
    CHECK_EQ(lira_store_inbox_counts(s, NULL, &pending, NULL, NULL), LIRA_OK);
    CHECK_EQ(pending, 3);
    lira_store_free(s);
}

static void test_due_order_fail_backoff_dead_replay(void)
{
    lira_store *s = open_at("deliver.db");
    const char *ids[] = { "e1", "e2", "e3" };
    int64_t seq[3];
    int res;
    for (int i = 0; i < 3; i++) {
        lira_store_event_in e = ev(i == 1 ? "/b" : "/a", ids[i], 100 + i);
        CHECK_EQ(lira_store_inbox_insert(s, &e, &res, &seq[i]), LIRA_OK);
    }
    seen got = { .n = 0 };
    CHECK_EQ(lira_store_inbox_due(s, "/a", 200, 10, take, &got, NULL), LIRA_OK);
    CHECK_EQ(got.n, 2);
    CHECK_STR(got.id[0], "e1");
    CHECK_STR(got.id[1], "e3");
    int64_t at = 0;
    CHECK_EQ(lira_store_inbox_next_due(s, &at), LIRA_OK);
    CHECK_EQ(at, 100);

    int dead = -1;
    CHECK_EQ(lira_store_inbox_fail(s, seq[0], "HTTP 500 from handler", 5000, 3, &dead), LIRA_OK);
    CHECK_EQ(dead, 0);
    memset(&got, 0, sizeof got);
    CHECK_EQ(lira_store_inbox_due(s, NULL, 4999, 10, take, &got, NULL), LIRA_OK);
    CHECK_EQ(got.n, 2);   /* e1 waits for its next attempt */
    CHECK_STR(got.id[0], "e2");
    memset(&got, 0, sizeof got);
    CHECK_EQ(lira_store_inbox_due(s, NULL, 5000, 10, take, &got, NULL), LIRA_OK);
    CHECK_EQ(got.n, 3);
    CHECK_STR(got.id[0], "e1");
    CHECK_EQ(got.attempts[0], 1);

    CHECK_EQ(lira_store_inbox_fail(s, seq[0], "again", 6000, 3, &dead), LIRA_OK);
    CHECK_EQ(dead, 0);
    CHECK_EQ(lira_store_inbox_fail(s, seq[0], "third", 7000, 3, &dead), LIRA_OK);
    CHECK_EQ(dead, 1);
    CHECK_EQ(lira_store_inbox_fail(s, seq[0], "x", 8000, 3, &dead), LIRA_ESTATE);
    CHECK_EQ(lira_store_inbox_fail(s, 999, "x", 8000, 3, &dead), LIRA_ENOTFOUND);
    int64_t pending, done, ndead;
    CHECK_EQ(lira_store_inbox_counts(s, NULL, &pending, &done, &ndead), LIRA_OK);
    CHECK(pending == 2 && done == 0 && ndead == 1);

    memset(&got, 0, sizeof got);
    CHECK_EQ(lira_store_inbox_list(s, LIRA_STORE_EV_DEAD, 0, 10, take, &got, NULL), LIRA_OK);
    CHECK_EQ(got.n, 1);
    CHECK_EQ(got.attempts[0], 3);

    CHECK_EQ(lira_store_inbox_done(s, seq[1], 300), LIRA_OK);
    CHECK_EQ(lira_store_inbox_done(s, 999, 300), LIRA_ENOTFOUND);
    int64_t n = 0;
    CHECK_EQ(lira_store_inbox_replay(s, 0, 9000, &n), LIRA_OK);   /* every dead one */
    CHECK_EQ(n, 1);
    CHECK_EQ(lira_store_inbox_counts(s, NULL, &pending, &done, &ndead), LIRA_OK);
    CHECK(pending == 2 && done == 1 && ndead == 0);
    CHECK_EQ(lira_store_inbox_replay(s, seq[1], 9000, &n), LIRA_OK);   /* a done one */
    CHECK_EQ(lira_store_inbox_replay(s, 999, 9000, &n), LIRA_ENOTFOUND);
    memset(&got, 0, sizeof got);
    CHECK_EQ(lira_store_inbox_list(s, -1, seq[0], 10, take, &got, NULL), LIRA_OK);
    CHECK_EQ(got.n, 2);
    lira_store_free(s);
}

static void test_retention_purge_and_dedupe_window(void)
{
    lira_store *s = open_at("purge.db");
    lira_store_event_in e = ev("/h", "old", 0);
    int res;
    int64_t seq = 0, seq2 = 0, removed = 0;
    CHECK_EQ(lira_store_inbox_insert(s, &e, &res, &seq), LIRA_OK);
    lira_store_event_in p = ev("/h", "pending", 0);
    CHECK_EQ(lira_store_inbox_insert(s, &p, &res, NULL), LIRA_OK);
    CHECK_EQ(lira_store_inbox_done(s, seq, 10), LIRA_OK);

    /* inside the window a done id is still a duplicate */
    e.received_at_ms = 23 * HOUR;
    CHECK_EQ(lira_store_inbox_insert(s, &e, &res, &seq2), LIRA_OK);
    CHECK_EQ(res, LIRA_STORE_DUPLICATE);
    /* past it, the same id is a new event (a new seq) even before a purge */
    e.received_at_ms = 25 * HOUR;
    CHECK_EQ(lira_store_inbox_insert(s, &e, &res, &seq2), LIRA_OK);
    CHECK_EQ(res, LIRA_STORE_INSERTED);
    CHECK_INT(seq2, >, seq);
    CHECK_EQ(lira_store_inbox_done(s, seq2, 25 * HOUR), LIRA_OK);

    CHECK_EQ(lira_store_inbox_purge(s, 48 * HOUR, &removed), LIRA_OK);
    CHECK_EQ(removed, 0);
    CHECK_EQ(lira_store_inbox_purge(s, 49 * HOUR, &removed), LIRA_OK);
    CHECK_EQ(removed, 1);
    int64_t pending = 0;   /* pending events are never purged */
    CHECK_EQ(lira_store_inbox_counts(s, NULL, &pending, NULL, NULL), LIRA_OK);
    CHECK_EQ(pending, 1);
    lira_store_free(s);
}

static void test_pending_survives_reopen(void)
{
    lira_store *s = open_at("reopen.db");
    lira_store_event_in evs[3] = { ev("/h", "1", 1), ev("/h", "2", 2), ev("/h", "3", 3) };
    int results[3];
    int64_t seqs[3];
    CHECK_EQ(lira_store_inbox_insert_batch(s, evs, 3, results, seqs), LIRA_OK);
    CHECK_EQ(lira_store_inbox_done(s, seqs[0], 5), LIRA_OK);
    lira_store_free(s);
    s = open_at("reopen.db");
    seen got = { .n = 0 };
    CHECK_EQ(lira_store_inbox_due(s, NULL, 10, 10, take, &got, NULL), LIRA_OK);
    CHECK_EQ(got.n, 2);
    CHECK_STR(got.id[0], "2");
    CHECK_STR(got.id[1], "3");
    lira_store_free(s);
}

typedef struct copy {
    int n;
    unsigned char headers[2][32], body[2][32];
    size_t hlen[2], blen[2];
    int nonnull[2];
    int64_t received[2];
    char route[2][8];
} copy;

static int keep(void *ud, const lira_store_event *e)
{
    copy *c = ud;
    int i = c->n++;
    if (i >= 2 || e->headers.len > 32 || e->body.len > 32)
        return 1;
    memcpy(c->headers[i], e->headers.ptr, e->headers.len);
    memcpy(c->body[i], e->body.ptr, e->body.len);
    c->hlen[i] = e->headers.len;
    c->blen[i] = e->body.len;
    c->nonnull[i] = e->headers.ptr && e->body.ptr && e->last_error && !e->last_error[0];
    c->received[i] = e->received_at_ms;
    snprintf(c->route[i], sizeof c->route[i], "%s", e->route);
    return 0;
}

static void test_event_fields_round_trip(void)
{
    lira_store *s = open_at("fields.db");
    static const unsigned char body[] = { 0, 1, 2, 0xff, 0 };
    lira_store_event_in e = { "/r", "id-1", "a: b\r\nc: d", 10, body, sizeof body, 77 };
    int res;
    CHECK_EQ(lira_store_inbox_insert(s, &e, &res, NULL), LIRA_OK);
    lira_store_event_in empty = { "/r", "id-2", NULL, 0, NULL, 0, 78 };
    CHECK_EQ(lira_store_inbox_insert(s, &empty, &res, NULL), LIRA_OK);
    copy c = { .n = 0 };
    CHECK_EQ(lira_store_inbox_list(s, -1, 0, 10, keep, &c, NULL), LIRA_OK);
    CHECK_EQ(c.n, 2);
    CHECK(c.hlen[0] == 10 && memcmp(c.headers[0], "a: b\r\nc: d", 10) == 0);
    CHECK(c.blen[0] == sizeof body && memcmp(c.body[0], body, sizeof body) == 0);
    CHECK(c.hlen[1] == 0 && c.blen[1] == 0);
    CHECK(c.nonnull[0] && c.nonnull[1]);
    CHECK_EQ(c.received[1], 78);
    CHECK_STR(c.route[0], "/r");
    CHECK_EQ(lira_store_inbox_list(s, -1, 0, 10, NULL, &c, NULL), LIRA_EINVAL);
    lira_store_free(s);
}

static int64_t last_received;
static size_t last_body_len;
static int remember(void *ud, const lira_store_event *e)
{
    (void)ud;
    last_received = e->received_at_ms;
    last_body_len = e->body.len;
    return 1;   /* stop after the first */
}

/* head: a route's oldest pending events in seq order, retrying ones
 * included (the loop decides what is due), done and dead ones not. */
static void test_head_holds_retrying_events_in_order(void)
{
    lira_store *s = open_at("head.db");
    int64_t seq[4];
    int res;
    for (int i = 0; i < 4; i++) {
        char id[8];
        snprintf(id, sizeof id, "h%d", i);
        lira_store_event_in e = ev(i == 2 ? "/b" : "/a", id, 100 + i);
        CHECK_EQ(lira_store_inbox_insert(s, &e, &res, &seq[i]), LIRA_OK);
    }
    int dead = -1;
    CHECK_EQ(lira_store_inbox_fail(s, seq[0], "retry", 9000, 5, &dead), LIRA_OK);
    CHECK_EQ(lira_store_inbox_done(s, seq[1], 200), LIRA_OK);
    seen got = { .n = 0 };
    int count = 0;
    CHECK_EQ(lira_store_inbox_head(s, "/a", 10, take, &got, &count), LIRA_OK);
    CHECK_EQ(count, 2);
    CHECK_EQ(got.seq[0], seq[0]);
    CHECK_EQ(got.attempts[0], 1);
    CHECK_EQ(got.seq[1], seq[3]);
    memset(&got, 0, sizeof got);
    CHECK_EQ(lira_store_inbox_head(s, "/a", 1, take, &got, &count), LIRA_OK);
    CHECK_EQ(count, 1);
    CHECK_EQ(got.seq[0], seq[0]);
    CHECK_EQ(lira_store_inbox_head(s, "/a", 0, take, &got, &count), LIRA_EINVAL);
    lira_store_free(s);
}

static void test_list_stops_when_asked(void)
{
    lira_store *s = open_at("fields.db");
    int count = 0;
    CHECK_EQ(lira_store_inbox_list(s, -1, 0, 10, remember, NULL, &count), LIRA_OK);
    CHECK_EQ(count, 1);
    CHECK_EQ(last_received, 77);
    CHECK_EQ(last_body_len, 5);
    lira_store_free(s);
}

int main(void)
{
    tu_mkdtemp();
    RUN(test_insert_and_duplicate);
    RUN(test_batch_is_one_commit_with_per_event_results);
    RUN(test_due_order_fail_backoff_dead_replay);
    RUN(test_retention_purge_and_dedupe_window);
    RUN(test_pending_survives_reopen);
    RUN(test_event_fields_round_trip);
    RUN(test_head_holds_retrying_events_in_order);
    RUN(test_list_stops_when_asked);
    tu_rmtree();
    return check_summary();
}
