/* store_journal.c — the idempotency journal (a logical operation keeps its
 * Idempotency-Key across crashes and reruns) and the response cache that
 * stale fallback serves from. */
#include "store_internal.h"

#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------- idempotency */

static int idem_args(lira_store *s, const char *scope, const char *id)
{
    int rc = lira_store__enter(s);
    if (rc == LIRA_OK)
        rc = lira_store__check_name(s, "idempotency scope", scope, LIRA_STORE_NAME_MAX);
    if (rc == LIRA_OK)
        rc = lira_store__check_name(s, "idempotency id", id, LIRA_STORE_KEY_MAX);
    return rc;
}

/* The row of (scope, id) when it exists and has not expired: *found. */
static int idem_read(lira_store *s, const char *scope, const char *id, int64_t now_ms,
                     lira_store_idem *out, int *found)
{
    sqlite3_stmt *st = lira_store__stmt(s, SQ_IDEM_GET,
        "SELECT key, created_at, expires_at, done FROM idempotency"
        " WHERE scope = ?1 AND id = ?2 AND expires_at > ?3");
    if (!st)
        return s->status;
    int src = lira_store__query(st, "ttI", scope, id, now_ms);
    *found = src == SQLITE_ROW;
    if (*found) {
        const unsigned char *k = sqlite3_column_text(st, 0);
        snprintf(out->key, sizeof out->key, "%s", k ? (const char *)k : "");
        out->created_at_ms = sqlite3_column_int64(st, 1);
        out->expires_at_ms = sqlite3_column_int64(st, 2);
        out->done = sqlite3_column_int(st, 3) != 0;
        out->created = 0;
    }
    lira_store__reset(st);
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        return lira_store__fail(s, src, "reading the idempotency journal");
    return LIRA_OK;
}

static int idem_write(lira_store *s, const char *scope, const char *id, const char *key,
                      int64_t now_ms, int64_t expires_ms)
{
    return lira_store__run(s, SQ_IDEM_PUT,
        "INSERT INTO idempotency(scope, id, key, created_at, expires_at, done)"
        " VALUES (?1, ?2, ?3, ?4, ?5, 0) ON CONFLICT(scope, id) DO UPDATE SET"
        " key = excluded.key, created_at = excluded.created_at,"
        " expires_at = excluded.expires_at, done = 0",
        "writing the idempotency journal", "tttII", scope, id, key, now_ms, expires_ms);
}

int lira_store_idem_get_or_create(lira_store *s, const char *scope, const char *id,
                                  const char *candidate, int64_t ttl_ms, int64_t now_ms,
                                  lira_store_idem *out)
{
    int rc = idem_args(s, scope, id);
    if (rc == LIRA_OK)
        rc = lira_store__check_name(s, "idempotency key", candidate, LIRA_STORE_IDEM_KEY_MAX);
    if (rc == LIRA_OK && (!out || ttl_ms <= 0 || now_ms > INT64_MAX - ttl_ms))
        rc = lira_store__error(s, LIRA_EINVAL, LIRA_STORE_KINVAL,
                               "lira: idempotency: needs an output and a positive ttl");
    if (rc)
        return rc;
    /* The write lock comes first: two processes asking at once must not
     * both see "absent" and store two different keys. */
    rc = lira_store__op_begin(s, "starting an idempotency lookup");
    if (rc)
        return rc;
    int found = 0;
    rc = idem_read(s, scope, id, now_ms, out, &found);
    if (rc == LIRA_OK && !found) {
        rc = idem_write(s, scope, id, candidate, now_ms, now_ms + ttl_ms);
        if (rc == LIRA_OK) {
            snprintf(out->key, sizeof out->key, "%s", candidate);
            out->created_at_ms = now_ms;
            out->expires_at_ms = now_ms + ttl_ms;
            out->done = 0;
            out->created = 1;
        }
    }
    return lira_store__op_end(s, rc, "committing an idempotency key");
}

static int idem_by_key(lira_store *s, int slot, const char *sql, const char *scope,
                       const char *id, const char *doing)
{
    int rc = idem_args(s, scope, id);
    if (rc)
        return rc;
    rc = lira_store__run(s, slot, sql, doing, "tt", scope, id);
    if (rc == LIRA_OK && sqlite3_changes(s->db) == 0)
        rc = lira_store__error(s, LIRA_ENOTFOUND, LIRA_STORE_KNOTFOUND,
                               "lira: no idempotency key for '%s' / '%s'", scope, id);
    return rc;
}

int lira_store_idem_done(lira_store *s, const char *scope, const char *id)
{
    return idem_by_key(s, SQ_IDEM_DONE,
                       "UPDATE idempotency SET done = 1 WHERE scope = ?1 AND id = ?2",
                       scope, id, "marking an idempotency key done");
}

int lira_store_idem_forget(lira_store *s, const char *scope, const char *id)
{
    return idem_by_key(s, SQ_IDEM_FORGET,
                       "DELETE FROM idempotency WHERE scope = ?1 AND id = ?2",
                       scope, id, "forgetting an idempotency key");
}

int lira_store_idem_purge(lira_store *s, int64_t now_ms, int64_t *removed)
{
    if (removed)
        *removed = 0;
    int rc = lira_store__enter(s);
    if (rc)
        return rc;
    rc = lira_store__run(s, SQ_IDEM_PURGE, "DELETE FROM idempotency WHERE expires_at <= ?1",
                         "purging the idempotency journal", "I", now_ms);
    if (rc == LIRA_OK && removed)
        *removed = sqlite3_changes64(s->db);
    return rc;
}

/* ------------------------------------------------------ response cache */

static int cache_args(lira_store *s, const char *client, const char *method, const char *url)
{
    int rc = lira_store__enter(s);
    if (rc == LIRA_OK)
        rc = lira_store__check_name(s, "cache client", client, LIRA_STORE_NAME_MAX);
    if (rc == LIRA_OK)
        rc = lira_store__check_name(s, "cache method", method, LIRA_STORE_NAME_MAX);
    if (rc == LIRA_OK)
        rc = lira_store__check_name(s, "cache url", url, LIRA_STORE_KEY_MAX);
    return rc;
}

static int cache_write(lira_store *s, const char *client, const char *method, const char *url,
                       int status, const void *h, size_t hlen, const void *b, size_t blen,
                       int64_t now_ms)
{
    return lira_store__run(s, SQ_CACHE_PUT,
        "INSERT INTO response_cache(client, method, url, status, headers, body, stored_at, size)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(client, method, url) DO UPDATE"
        " SET status = excluded.status, headers = excluded.headers, body = excluded.body,"
        " stored_at = excluded.stored_at, size = excluded.size",
        "writing the response cache", "tttibbII", client, method, url, status, h, hlen,
        b, blen, now_ms, (int64_t)(hlen + blen));
}

static int usage(lira_store *s, const char *client, int64_t *rows, int64_t *bytes)
{
    sqlite3_stmt *st = lira_store__stmt(s, SQ_CACHE_USAGE,
        "SELECT rows, bytes FROM response_cache_usage WHERE client = ?1");
    if (!st)
        return s->status;
    int src = lira_store__query(st, "t", client);
    *rows = src == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    *bytes = src == SQLITE_ROW ? sqlite3_column_int64(st, 1) : 0;
    lira_store__reset(st);
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        return lira_store__fail(s, src, "reading the response cache size");
    return LIRA_OK;
}

/* Evict the oldest entries of `client` until both caps hold. Each round
 * removes one row; the loop is bounded by the rows there are. */
static int evict(lira_store *s, const char *client)
{
    for (;;) {
        int64_t rows, bytes;
        int rc = usage(s, client, &rows, &bytes);
        if (rc || (rows <= s->cache_max_rows && bytes <= s->cache_max_bytes) || rows <= 0)
            return rc;
        rc = lira_store__run(s, SQ_CACHE_EVICT,
            "DELETE FROM response_cache WHERE rowid = (SELECT rowid FROM response_cache"
            " WHERE client = ?1 ORDER BY stored_at, rowid LIMIT 1)",
            "evicting from the response cache", "t", client);
        if (rc == LIRA_OK && sqlite3_changes(s->db) == 0)
            return LIRA_OK;   /* totals out of step with rows: nothing left to drop */
        if (rc)
            return rc;
    }
}

int lira_store_cache_put(lira_store *s, const char *client, const char *method,
                         const char *url, int status, const void *headers, size_t headers_len,
                         const void *body, size_t body_len, int64_t now_ms)
{
    int rc = cache_args(s, client, method, url);
    if (rc == LIRA_OK)
        rc = lira_store__check_value(s, "cached headers", headers, headers_len);
    if (rc == LIRA_OK)
        rc = lira_store__check_value(s, "cached body", body, body_len);
    if (rc == LIRA_OK && (int64_t)(headers_len + body_len) > s->cache_max_bytes)
        rc = lira_store__error(s, LIRA_ETOOBIG, LIRA_STORE_KTOOBIG,
                               "lira: response of %zu bytes is over the cache cap of %lld "
                               "bytes per client", headers_len + body_len,
                               (long long)s->cache_max_bytes);
    if (rc)
        return rc;
    rc = lira_store__op_begin(s, "starting a response cache write");
    if (rc)
        return rc;
    rc = cache_write(s, client, method, url, status, headers, headers_len, body, body_len,
                     now_ms);
    if (rc == LIRA_OK)
        rc = evict(s, client);
    return lira_store__op_end(s, rc, "committing the response cache");
}

int lira_store_cache_get(lira_store *s, const char *client, const char *method,
                         const char *url, lira_store_cached *out)
{
    int rc = cache_args(s, client, method, url);
    if (rc == LIRA_OK && !out)
        rc = lira_store__error(s, LIRA_EINVAL, LIRA_STORE_KINVAL, "lira: cache_get: NULL out");
    if (rc)
        return rc;
    sqlite3_stmt *st = lira_store__stmt(s, SQ_CACHE_GET,
        "SELECT status, headers, body, stored_at FROM response_cache"
        " WHERE client = ?1 AND method = ?2 AND url = ?3");
    if (!st)
        return s->status;
    int src = lira_store__query(st, "ttt", client, method, url);
    if (src == SQLITE_ROW) {
        unsigned char *cur = lira_store__buf(s, lira_store__col_size(st, 1) +
                                                lira_store__col_size(st, 2));
        if (cur) {
            out->status = sqlite3_column_int(st, 0);
            out->headers = lira_store__col_copy(st, 1, &cur);
            out->body = lira_store__col_copy(st, 2, &cur);
            out->stored_at_ms = sqlite3_column_int64(st, 3);
        } else {
            rc = s->status;
        }
    } else if (src == SQLITE_DONE) {
        rc = lira_store__error(s, LIRA_ENOTFOUND, LIRA_STORE_KNOTFOUND,
                               "lira: no cached response for %s %s", method, url);
    } else {
        rc = lira_store__fail(s, src, "reading the response cache");
    }
    lira_store__reset(st);
    return rc;
}

int lira_store_cache_delete(lira_store *s, const char *client, const char *method,
                            const char *url)
{
    int rc = cache_args(s, client, method, url);
    if (rc)
        return rc;
    rc = lira_store__run(s, SQ_CACHE_DELETE,
        "DELETE FROM response_cache WHERE client = ?1 AND method = ?2 AND url = ?3",
        "deleting from the response cache", "ttt", client, method, url);
    if (rc == LIRA_OK && sqlite3_changes(s->db) == 0)
        rc = lira_store__error(s, LIRA_ENOTFOUND, LIRA_STORE_KNOTFOUND,
                               "lira: no cached response for %s %s", method, url);
    return rc;
}

int lira_store_cache_usage(lira_store *s, const char *client, int64_t *rows, int64_t *bytes)
{
    int rc = lira_store__enter(s);
    if (rc == LIRA_OK)
        rc = lira_store__check_name(s, "cache client", client, LIRA_STORE_NAME_MAX);
    if (rc)
        return rc;
    int64_t r = 0, b = 0;
    rc = usage(s, client, &r, &b);
    if (rows)
        *rows = r;
    if (bytes)
        *bytes = b;
    return rc;
}
