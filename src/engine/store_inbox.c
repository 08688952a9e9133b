/* store_inbox.c — the durable webhook inbox: insert with dedupe by
 * (route, event id), group commit, then delivery state per event.
 *
 * An event is acknowledged only after its insert committed, and it leaves
 * the table only when it is done and older than the retention window, so an
 * acknowledged event is never lost: pending and dead events stay until a
 * handler succeeds or an operator replays them. */
#define _POSIX_C_SOURCE 200809L
#include "store_internal.h"

#include <string.h>

#define ERROR_TEXT_MAX 1024

static int event_args(lira_store *s, const lira_store_event_in *ev)
{
    if (!ev)
        return lira_store__error(s, LIRA_EINVAL, LIRA_STORE_KINVAL, "lira: inbox: NULL event");
    int rc = lira_store__check_name(s, "webhook route", ev->route, LIRA_STORE_NAME_MAX);
    if (rc == LIRA_OK)
        rc = lira_store__check_name(s, "webhook event id", ev->event_id, LIRA_STORE_NAME_MAX);
    if (rc == LIRA_OK)
        rc = lira_store__check_value(s, "webhook headers", ev->headers, ev->headers_len);
    if (rc == LIRA_OK)
        rc = lira_store__check_value(s, "webhook body", ev->body, ev->body_len);
    if (rc == LIRA_OK && ev->received_at_ms < 0)
        rc = lira_store__error(s, LIRA_EINVAL, LIRA_STORE_KINVAL,
                               "lira: inbox: negative received_at");
    return rc;
}

static int try_insert(lira_store *s, const lira_store_event_in *ev, int *inserted, int64_t *seq)
{
    int rc = lira_store__run(s, SQ_IN_INSERT,
        "INSERT INTO inbox(route, event_id, headers, body, received_at, next_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT(route, event_id) DO NOTHING",
        "storing a webhook", "ttbbI", ev->route, ev->event_id, ev->headers, ev->headers_len,
        ev->body, ev->body_len, ev->received_at_ms);
    *inserted = rc == LIRA_OK && sqlite3_changes(s->db) == 1;
    if (*inserted)
        *seq = sqlite3_last_insert_rowid(s->db);
    return rc;
}

/* The held copy of a duplicate: its seq, and whether it is a done event
 * older than the retention window (then the new one replaces it). */
static int find_held(lira_store *s, const lira_store_event_in *ev, int64_t *seq, int *stale)
{
    sqlite3_stmt *st = lira_store__stmt(s, SQ_IN_FIND,
        "SELECT seq, state, received_at FROM inbox WHERE route = ?1 AND event_id = ?2");
    if (!st)
        return s->status;
    int src = lira_store__query(st, "tt", ev->route, ev->event_id);
    if (src == SQLITE_ROW) {
        *seq = sqlite3_column_int64(st, 0);
        *stale = sqlite3_column_int(st, 1) == LIRA_STORE_EV_DONE &&
                 sqlite3_column_int64(st, 2) <= ev->received_at_ms - s->inbox_retention_ms;
    }
    lira_store__reset(st);
    if (src != SQLITE_ROW)   /* DONE: the conflict vanished inside our own lock */
        return lira_store__fail(s, src == SQLITE_DONE ? SQLITE_CORRUPT : src,
                                "checking a webhook for duplicates");
    return LIRA_OK;
}

static int drop(lira_store *s, int64_t seq)
{
    return lira_store__run(s, SQ_IN_DROP, "DELETE FROM inbox WHERE seq = ?1",
                           "replacing an expired webhook id", "I", seq);
}

/* One event inside an open transaction. */
static int insert_one(lira_store *s, const lira_store_event_in *ev, int *result, int64_t *seq)
{
    int inserted = 0, stale = 0;
    int rc = try_insert(s, ev, &inserted, seq);
    if (rc == LIRA_OK && !inserted)
        rc = find_held(s, ev, seq, &stale);
    if (rc == LIRA_OK && stale) {
        rc = drop(s, *seq);
        if (rc == LIRA_OK)
            rc = try_insert(s, ev, &inserted, seq);
    }
    *result = inserted ? LIRA_STORE_INSERTED : LIRA_STORE_DUPLICATE;
    return rc;
}

int lira_store_inbox_insert(lira_store *s, const lira_store_event_in *ev,
                            int *result, int64_t *seq)
{
    int rc = lira_store__enter(s);
    if (rc == LIRA_OK)
        rc = event_args(s, ev);
    if (rc == LIRA_OK && !result)
        rc = lira_store__error(s, LIRA_EINVAL, LIRA_STORE_KINVAL, "lira: inbox: NULL result");
    if (rc)
        return rc;
    rc = lira_store__op_begin(s, "storing a webhook");
    if (rc)
        return rc;
    int64_t sq = 0;
    rc = insert_one(s, ev, result, &sq);
    rc = lira_store__op_end(s, rc, "committing a webhook");
    if (rc == LIRA_OK && seq)
        *seq = sq;
    return rc;
}

int lira_store_inbox_insert_batch(lira_store *s, const lira_store_event_in *evs, size_t n,
                                  int *results, int64_t *seqs)
{
    int rc = lira_store__enter(s);
    if (rc == LIRA_OK && (!evs || !results || n == 0 || n > LIRA_STORE_LIST_MAX))
        rc = lira_store__error(s, LIRA_EINVAL, LIRA_STORE_KINVAL,
                               "lira: inbox batch: needs 1..%d events and a results array",
                               LIRA_STORE_LIST_MAX);
    if (rc)
        return rc;
    size_t valid = 0;
    for (size_t i = 0; i < n; i++) {
        results[i] = event_args(s, &evs[i]);
        valid += results[i] == LIRA_OK;
        if (seqs)
            seqs[i] = 0;
    }
    s->msg[0] = '\0';   /* per-event problems are in results[] */
    s->kind = LIRA_STORE_KOK;
    if (valid == 0)
        return LIRA_OK;
    rc = lira_store__op_begin(s, "storing webhooks");
    if (rc)
        return rc;
    for (size_t i = 0; i < n && rc == LIRA_OK; i++) {
        if (results[i] != LIRA_OK)
            continue;
        int64_t sq = 0;
        rc = insert_one(s, &evs[i], &results[i], &sq);
        if (seqs)
            seqs[i] = sq;
    }
    rc = lira_store__op_end(s, rc, "committing webhooks");
    if (rc != LIRA_OK)
        for (size_t i = 0; i < n; i++)
            if (results[i] > 0)
                results[i] = rc;   /* rolled back: nothing was acknowledged */
    return rc;
}

/* ------------------------------------------------------------ reading */

static int emit(lira_store *s, sqlite3_stmt *st, lira_store_event_fn fn, void *ud, int *stop)
{
    size_t need = lira_store__col_size(st, 1) + lira_store__col_size(st, 2) +
                  lira_store__col_size(st, 3) + lira_store__col_size(st, 4) +
                  lira_store__col_size(st, 9);
    unsigned char *cur = lira_store__buf(s, need);
    if (!cur)
        return s->status;
    lira_store_event ev;
    ev.seq = sqlite3_column_int64(st, 0);
    ev.route = (const char *)lira_store__col_copy(st, 1, &cur).ptr;
    ev.event_id = (const char *)lira_store__col_copy(st, 2, &cur).ptr;
    ev.headers = lira_store__col_copy(st, 3, &cur);
    ev.body = lira_store__col_copy(st, 4, &cur);
    ev.received_at_ms = sqlite3_column_int64(st, 5);
    ev.state = sqlite3_column_int(st, 6);
    ev.attempts = sqlite3_column_int(st, 7);
    ev.next_at_ms = sqlite3_column_int64(st, 8);
    ev.last_error = (const char *)lira_store__col_copy(st, 9, &cur).ptr;
    *stop = fn(ud, &ev) != 0;
    return LIRA_OK;
}

/* Step a bound query, handing each row to fn; resets the statement. */
static int each(lira_store *s, sqlite3_stmt *st, int src, lira_store_event_fn fn, void *ud,
                int *count, const char *doing)
{
    int rc = LIRA_OK, stop = 0, n = 0;
    while (src == SQLITE_OK && !stop && (src = sqlite3_step(st)) == SQLITE_ROW) {
        rc = emit(s, st, fn, ud, &stop);
        if (rc)
            break;
        n++;
        src = SQLITE_OK;
    }
    if (rc == LIRA_OK && src != SQLITE_OK && src != SQLITE_DONE)
        rc = lira_store__fail(s, src, doing);
    lira_store__reset(st);
    if (count)
        *count = n;
    return rc;
}

#define EVENT_COLS "SELECT seq, route, event_id, headers, body, received_at, state," \
                   " attempts, next_at, last_error FROM inbox "

static int list_args(lira_store *s, int limit, lira_store_event_fn fn, int *count)
{
    if (count)
        *count = 0;
    int rc = lira_store__enter(s);
    if (rc == LIRA_OK && (!fn || limit < 1 || limit > LIRA_STORE_LIST_MAX))
        rc = lira_store__error(s, LIRA_EINVAL, LIRA_STORE_KINVAL,
                               "lira: inbox: needs a callback and 1 <= limit <= %d",
                               LIRA_STORE_LIST_MAX);
    return rc;
}

int lira_store_inbox_due(lira_store *s, const char *route, int64_t now_ms, int limit,
                         lira_store_event_fn fn, void *ud, int *count)
{
    int rc = list_args(s, limit, fn, count);
    if (rc == LIRA_OK && route)
        rc = lira_store__check_name(s, "webhook route", route, LIRA_STORE_NAME_MAX);
    if (rc)
        return rc;
    sqlite3_stmt *st = route
        /* INDEXED BY: the oldest first without a sort, whatever the
         * planner would guess for this file (schema step 3). */
        ? lira_store__stmt(s, SQ_IN_DUE_ROUTE, EVENT_COLS "INDEXED BY inbox_due"
              " WHERE state = 0 AND next_at <= ?1 AND route = ?3 ORDER BY seq LIMIT ?2")
        : lira_store__stmt(s, SQ_IN_DUE, EVENT_COLS
              "WHERE state = 0 AND next_at <= ?1 ORDER BY seq LIMIT ?2");
    if (!st)
        return s->status;
    int src = lira_store__bind(st, "Iit", now_ms, limit, route);
    return each(s, st, src, fn, ud, count, "reading due webhooks");
}

int lira_store_inbox_head(lira_store *s, const char *route, int limit,
                          lira_store_event_fn fn, void *ud, int *count)
{
    int rc = list_args(s, limit, fn, count);
    if (rc == LIRA_OK)
        rc = lira_store__check_name(s, "webhook route", route, LIRA_STORE_NAME_MAX);
    if (rc)
        return rc;
    sqlite3_stmt *st = lira_store__stmt(s, SQ_IN_HEAD, EVENT_COLS "INDEXED BY inbox_due"
                                        " WHERE state = 0 AND route = ?2 ORDER BY seq LIMIT ?1");
    if (!st)
        return s->status;
    int src = lira_store__bind(st, "it", limit, route);
    return each(s, st, src, fn, ud, count, "reading pending webhooks");
}

int lira_store_inbox_list(lira_store *s, int state, int64_t after_seq, int limit,
                          lira_store_event_fn fn, void *ud, int *count)
{
    int rc = list_args(s, limit, fn, count);
    if (rc)
        return rc;
    sqlite3_stmt *st = state >= 0
        ? lira_store__stmt(s, SQ_IN_LIST, EVENT_COLS
              "WHERE state = ?3 AND seq > ?1 ORDER BY seq LIMIT ?2")
        : lira_store__stmt(s, SQ_IN_LIST_ANY, EVENT_COLS "WHERE seq > ?1 ORDER BY seq LIMIT ?2");
    if (!st)
        return s->status;
    int src = lira_store__bind(st, state >= 0 ? "Iii" : "Ii", after_seq, limit, state);
    return each(s, st, src, fn, ud, count, "listing webhooks");
}

int lira_store_inbox_next_due(lira_store *s, int64_t *at_ms)
{
    int rc = lira_store__enter(s);
    if (rc == LIRA_OK && !at_ms)
        rc = lira_store__error(s, LIRA_EINVAL, LIRA_STORE_KINVAL, "lira: inbox: NULL at_ms");
    if (rc)
        return rc;
    sqlite3_stmt *st = lira_store__stmt(s, SQ_IN_NEXT,
        "SELECT min(next_at) FROM inbox WHERE state = 0");
    if (!st)
        return s->status;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        *at_ms = sqlite3_column_int64(st, 0);
    else if (src == SQLITE_ROW)
        rc = lira_store__error(s, LIRA_ENOTFOUND, LIRA_STORE_KNOTFOUND,
                               "lira: no pending webhooks");
    else
        rc = lira_store__fail(s, src, "reading the inbox");
    lira_store__reset(st);
    return rc;
}

/* ----------------------------------------------------- delivery state */

/* Run an UPDATE/DELETE bound to (i64 a, i64 b): types "II", or "I" when
 * the SQL has no ?2; *changes = rows touched. */
static int exec2(lira_store *s, int slot, const char *sql, const char *types, int64_t a,
                 int64_t b, int64_t *changes, const char *doing)
{
    int rc = lira_store__run(s, slot, sql, doing, types, a, b);
    if (rc == LIRA_OK && changes)
        *changes = sqlite3_changes64(s->db);
    return rc;
}

static int no_event(lira_store *s, int64_t seq)
{
    return lira_store__error(s, LIRA_ENOTFOUND, LIRA_STORE_KNOTFOUND,
                             "lira: no webhook event with seq %lld", (long long)seq);
}

int lira_store_inbox_done(lira_store *s, int64_t seq, int64_t now_ms)
{
    int rc = lira_store__enter(s);
    if (rc)
        return rc;
    int64_t n = 0;
    rc = exec2(s, SQ_IN_DONE, "UPDATE inbox SET state = 1, done_at = ?2 WHERE seq = ?1", "II",
               seq, now_ms, &n, "marking a webhook done");
    return rc == LIRA_OK && n == 0 ? no_event(s, seq) : rc;
}

static int fail_update(lira_store *s, int64_t seq, const char *error, int64_t next_at_ms,
                       int max_attempts, int *state)
{
    sqlite3_stmt *st = lira_store__stmt(s, SQ_IN_FAIL,
        "UPDATE inbox SET attempts = attempts + 1, last_error = ?2, next_at = ?3,"
        " state = CASE WHEN ?4 > 0 AND attempts + 1 >= ?4 THEN 2 ELSE 0 END"
        " WHERE seq = ?1 AND state = 0 RETURNING state");
    if (!st)
        return s->status;
    size_t n = error ? strnlen(error, ERROR_TEXT_MAX) : 0;
    while (n > 0 && n == ERROR_TEXT_MAX && ((unsigned char)error[n] & 0xc0) == 0x80)
        n--;   /* do not cut a UTF-8 sequence in half */
    int src = sqlite3_bind_text(st, 2, error ? error : "", (int)n, SQLITE_STATIC);
    if (src == SQLITE_OK)   /* ?2 is bound above: its length is capped */
        src = lira_store__query(st, "I-Ii", seq, next_at_ms, max_attempts);
    *state = src == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    if (src == SQLITE_ROW)
        src = sqlite3_step(st);   /* to DONE, so the change commits here */
    lira_store__reset(st);
    if (src != SQLITE_DONE)
        return lira_store__fail(s, src, "recording a failed webhook delivery");
    return LIRA_OK;
}

int lira_store_inbox_fail(lira_store *s, int64_t seq, const char *error, int64_t next_at_ms,
                          int max_attempts, int *dead)
{
    if (dead)
        *dead = 0;
    int rc = lira_store__enter(s);
    if (rc)
        return rc;
    int state = -1;
    rc = fail_update(s, seq, error, next_at_ms, max_attempts, &state);
    if (rc)
        return rc;
    if (state >= 0) {
        if (dead)
            *dead = state == LIRA_STORE_EV_DEAD;
        return LIRA_OK;
    }
    /* Nothing updated: unknown, or not pending. */
    sqlite3_stmt *st = lira_store__stmt(s, SQ_IN_STATE, "SELECT 1 FROM inbox WHERE seq = ?1");
    if (!st)
        return s->status;
    int src = lira_store__query(st, "I", seq);
    lira_store__reset(st);
    if (src == SQLITE_ROW)
        return lira_store__error(s, LIRA_ESTATE, LIRA_STORE_KINVAL,
                                 "lira: webhook event %lld is not pending (done or dead)",
                                 (long long)seq);
    return src == SQLITE_DONE ? no_event(s, seq) : lira_store__fail(s, src, "reading a webhook");
}

int lira_store_inbox_replay(lira_store *s, int64_t seq, int64_t now_ms, int64_t *count)
{
    if (count)
        *count = 0;
    int rc = lira_store__enter(s);
    if (rc)
        return rc;
    int64_t n = 0;
    if (seq > 0)
        rc = exec2(s, SQ_IN_REPLAY, "UPDATE inbox SET state = 0, attempts = 0, next_at = ?2,"
                   " last_error = '' WHERE seq = ?1", "II", seq, now_ms, &n,
                   "replaying a webhook");
    else
        rc = exec2(s, SQ_IN_REPLAY_DEAD, "UPDATE inbox SET state = 0, attempts = 0,"
                   " next_at = ?1, last_error = '' WHERE state = 2", "I", now_ms, 0, &n,
                   "replaying dead webhooks");
    if (rc == LIRA_OK && count)
        *count = n;
    return rc == LIRA_OK && seq > 0 && n == 0 ? no_event(s, seq) : rc;
}

int lira_store_inbox_purge(lira_store *s, int64_t now_ms, int64_t *removed)
{
    if (removed)
        *removed = 0;
    int rc = lira_store__enter(s);
    if (rc)
        return rc;
    int64_t cutoff = now_ms - s->inbox_retention_ms;
    return exec2(s, SQ_IN_PURGE, "DELETE FROM inbox WHERE state = 1 AND received_at <= ?1", "I",
                 cutoff, 0, removed, "purging the inbox");
}

/* One statement, so one snapshot: done = all - pending - dead. Each count
 * walks a narrow index (pending: inbox_due; dead: inbox_state, few rows),
 * never the table with its bodies, which the loop's per-second depth
 * gauge used to read whole through (route, event_id) (~0.1 s at 250k). */
int lira_store_inbox_counts(lira_store *s, const char *route, int64_t *pending,
                            int64_t *done, int64_t *dead)
{
    int rc = lira_store__enter(s);
    if (rc == LIRA_OK && route)
        rc = lira_store__check_name(s, "webhook route", route, LIRA_STORE_NAME_MAX);
    if (rc)
        return rc;
    sqlite3_stmt *st = route
        ? lira_store__stmt(s, SQ_IN_COUNTS_ROUTE,
              "SELECT (SELECT count(*) FROM inbox INDEXED BY inbox_due"
              "        WHERE route = ?1 AND state = 0),"
              " (SELECT count(*) FROM inbox INDEXED BY inbox_state"
              "        WHERE state = 2 AND route = ?1),"
              " CASE WHEN ?2 THEN (SELECT count(*) FROM inbox WHERE route = ?1) END")
        : lira_store__stmt(s, SQ_IN_COUNTS,
              "SELECT (SELECT count(*) FROM inbox WHERE state = 0),"
              " (SELECT count(*) FROM inbox WHERE state = 2),"
              " CASE WHEN ?2 THEN (SELECT count(*) FROM inbox) END");
    if (!st)
        return s->status;
    /* ?2: the total (a walk over every row of the route) only when the
     * done count is wanted; the depth gauge wants pending and dead. */
    int src = route ? lira_store__bind_text(st, 1, route) : SQLITE_OK;
    if (src == SQLITE_OK)
        src = sqlite3_bind_int(st, 2, done != NULL);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    int64_t c[3] = { 0, 0, 0 };
    for (int i = 0; src == SQLITE_ROW && i < 3; i++)
        c[i] = sqlite3_column_int64(st, i);
    lira_store__reset(st);
    if (src != SQLITE_ROW)
        return lira_store__fail(s, src, "counting webhooks");
    if (pending)
        *pending = c[0];
    if (done)
        *done = c[2] - c[0] - c[1];
    if (dead)
        *dead = c[1];
    return LIRA_OK;
}
