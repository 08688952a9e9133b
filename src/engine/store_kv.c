/* store_kv.c — checkpoints (name -> bytes) and namespaced key-value state
 * with optional expiry. Each write is one statement, hence atomic on its
 * own; a caller groups several with lira_store_begin()/commit(). */
#define _POSIX_C_SOURCE 200809L
#include "store_internal.h"

#include <string.h>

/* Copy one blob column into the handle's buffer as a borrowed result. */
static int take_blob(lira_store *s, sqlite3_stmt *st, int col, lira_store_bytes *out)
{
    unsigned char *cur = lira_store__buf(s, lira_store__col_size(st, col));
    if (!cur)
        return s->status;
    *out = lira_store__col_copy(st, col, &cur);
    return LIRA_OK;
}

/* ---------------------------------------------------------- checkpoints */

int lira_store_checkpoint_get(lira_store *s, const char *name,
                              lira_store_bytes *value, int64_t *updated_at_ms)
{
    int rc = lira_store__enter(s);
    if (rc == LIRA_OK)
        rc = lira_store__check_name(s, "checkpoint name", name, LIRA_STORE_NAME_MAX);
    if (rc == LIRA_OK && !value)
        rc = lira_store__error(s, LIRA_EINVAL, LIRA_STORE_KINVAL, "lira: checkpoint_get: NULL value");
    if (rc)
        return rc;
    sqlite3_stmt *st = lira_store__stmt(s, SQ_CP_GET,
        "SELECT value, updated_at FROM checkpoint WHERE name = ?1");
    if (!st)
        return s->status;
    int src = lira_store__query(st, "t", name);
    if (src == SQLITE_ROW) {
        rc = take_blob(s, st, 0, value);
        if (rc == LIRA_OK && updated_at_ms)
            *updated_at_ms = sqlite3_column_int64(st, 1);
    } else if (src == SQLITE_DONE) {
        rc = lira_store__error(s, LIRA_ENOTFOUND, LIRA_STORE_KNOTFOUND,
                               "lira: no checkpoint named '%s'", name);
    } else {
        rc = lira_store__fail(s, src, "reading a checkpoint");
    }
    lira_store__reset(st);
    return rc;
}

int lira_store_checkpoint_set(lira_store *s, const char *name,
                              const void *value, size_t len, int64_t now_ms)
{
    int rc = lira_store__enter(s);
    if (rc == LIRA_OK)
        rc = lira_store__check_name(s, "checkpoint name", name, LIRA_STORE_NAME_MAX);
    if (rc == LIRA_OK)
        rc = lira_store__check_value(s, "checkpoint value", value, len);
    if (rc)
        return rc;
    return lira_store__run(s, SQ_CP_SET,
        "INSERT INTO checkpoint(name, value, updated_at) VALUES (?1, ?2, ?3)"
        " ON CONFLICT(name) DO UPDATE SET value = excluded.value,"
        " updated_at = excluded.updated_at",
        "writing a checkpoint", "tbI", name, value, len, now_ms);
}

int lira_store_checkpoint_reset(lira_store *s, const char *name)
{
    int rc = lira_store__enter(s);
    if (rc == LIRA_OK)
        rc = lira_store__check_name(s, "checkpoint name", name, LIRA_STORE_NAME_MAX);
    if (rc)
        return rc;
    return lira_store__run(s, SQ_CP_RESET, "DELETE FROM checkpoint WHERE name = ?1",
                           "resetting a checkpoint", "t", name);
}

/* ------------------------------------------------------------------- kv */

static int kv_args(lira_store *s, const char *ns, const char *key)
{
    int rc = lira_store__enter(s);
    if (rc == LIRA_OK)
        rc = lira_store__check_name(s, "state namespace", ns, LIRA_STORE_NAME_MAX);
    if (rc == LIRA_OK)
        rc = lira_store__check_name(s, "state key", key, LIRA_STORE_KEY_MAX);
    return rc;
}

int lira_store_kv_get(lira_store *s, const char *ns, const char *key, int64_t now_ms,
                      lira_store_bytes *value, int64_t *expires_at_ms)
{
    int rc = kv_args(s, ns, key);
    if (rc == LIRA_OK && !value)
        rc = lira_store__error(s, LIRA_EINVAL, LIRA_STORE_KINVAL, "lira: kv_get: NULL value");
    if (rc)
        return rc;
    sqlite3_stmt *st = lira_store__stmt(s, SQ_KV_GET,
        "SELECT value, expires_at FROM kv WHERE ns = ?1 AND key = ?2"
        " AND (expires_at = 0 OR expires_at > ?3)");
    if (!st)
        return s->status;
    int src = lira_store__query(st, "ttI", ns, key, now_ms);
    if (src == SQLITE_ROW) {
        rc = take_blob(s, st, 0, value);
        if (rc == LIRA_OK && expires_at_ms)
            *expires_at_ms = sqlite3_column_int64(st, 1);
    } else if (src == SQLITE_DONE) {
        rc = lira_store__error(s, LIRA_ENOTFOUND, LIRA_STORE_KNOTFOUND,
                               "lira: no state key '%s' in '%s'", key, ns);
    } else {
        rc = lira_store__fail(s, src, "reading state");
    }
    lira_store__reset(st);
    return rc;
}

int lira_store_kv_set(lira_store *s, const char *ns, const char *key,
                      const void *value, size_t len, int64_t expires_at_ms, int64_t now_ms)
{
    int rc = kv_args(s, ns, key);
    if (rc == LIRA_OK)
        rc = lira_store__check_value(s, "state value", value, len);
    if (rc == LIRA_OK && expires_at_ms < 0)
        rc = lira_store__error(s, LIRA_EINVAL, LIRA_STORE_KINVAL,
                               "lira: kv_set: negative expiry %lld", (long long)expires_at_ms);
    if (rc)
        return rc;
    return lira_store__run(s, SQ_KV_SET,
        "INSERT INTO kv(ns, key, value, updated_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)"
        " ON CONFLICT(ns, key) DO UPDATE SET value = excluded.value,"
        " updated_at = excluded.updated_at, expires_at = excluded.expires_at",
        "writing state", "ttbII", ns, key, value, len, now_ms, expires_at_ms);
}

int lira_store_kv_delete(lira_store *s, const char *ns, const char *key)
{
    int rc = kv_args(s, ns, key);
    if (rc)
        return rc;
    rc = lira_store__run(s, SQ_KV_DELETE, "DELETE FROM kv WHERE ns = ?1 AND key = ?2",
                         "deleting state", "tt", ns, key);
    if (rc == LIRA_OK && sqlite3_changes(s->db) == 0)
        rc = lira_store__error(s, LIRA_ENOTFOUND, LIRA_STORE_KNOTFOUND,
                               "lira: no state key '%s' in '%s'", key, ns);
    return rc;
}

/* The smallest string above every string starting with `prefix` (byte
 * order): drop trailing 0xff bytes, add one to the last. 0 when none exists
 * (empty, or all 0xff): the range is then open-ended. */
static size_t prefix_end(const char *prefix, char *out, size_t cap)
{
    size_t n = strlen(prefix);
    while (n > 0 && (unsigned char)prefix[n - 1] == 0xff)
        n--;
    if (n == 0 || n >= cap)
        return 0;
    memcpy(out, prefix, n);
    out[n - 1] = (char)((unsigned char)out[n - 1] + 1);
    out[n] = '\0';
    return n;
}

static int kv_emit(lira_store *s, sqlite3_stmt *st, lira_store_kv_fn fn, void *ud, int *stop)
{
    unsigned char *cur = lira_store__buf(s, lira_store__col_size(st, 0) +
                                            lira_store__col_size(st, 1));
    if (!cur)
        return s->status;
    lira_store_kv_row row;
    row.key = (const char *)lira_store__col_copy(st, 0, &cur).ptr;
    row.value = lira_store__col_copy(st, 1, &cur);
    row.updated_at_ms = sqlite3_column_int64(st, 2);
    row.expires_at_ms = sqlite3_column_int64(st, 3);
    *stop = fn(ud, &row) != 0;
    return LIRA_OK;
}

int lira_store_kv_list(lira_store *s, const char *ns, const char *prefix, const char *after,
                       int limit, int64_t now_ms, lira_store_kv_fn fn, void *ud, int *count)
{
    if (count)
        *count = 0;
    int rc = lira_store__enter(s);
    if (rc == LIRA_OK)
        rc = lira_store__check_name(s, "state namespace", ns, LIRA_STORE_NAME_MAX);
    if (rc == LIRA_OK && (!prefix || !fn || limit < 1 || limit > LIRA_STORE_LIST_MAX ||
                          strnlen(prefix, LIRA_STORE_KEY_MAX + 1) > LIRA_STORE_KEY_MAX))
        rc = lira_store__error(s, LIRA_EINVAL, LIRA_STORE_KINVAL,
                               "lira: kv_list: needs a prefix (<= %d bytes), a callback "
                               "and 1 <= limit <= %d", LIRA_STORE_KEY_MAX, LIRA_STORE_LIST_MAX);
    if (rc)
        return rc;
    char end[LIRA_STORE_KEY_MAX + 1];
    int bounded = prefix_end(prefix, end, sizeof end) > 0;
    const char *from = after && strcmp(after, prefix) > 0 ? after : prefix;
    /* (key > from) misses the prefix itself as a key; (key >= prefix) with
     * the `after` test in a second term keeps both cases on the index. */
    sqlite3_stmt *st = bounded
        ? lira_store__stmt(s, SQ_KV_LIST_TO,
              "SELECT key, value, updated_at, expires_at FROM kv WHERE ns = ?1"
              " AND key >= ?2 AND (?3 IS NULL OR key > ?3) AND key < ?4"
              " AND (expires_at = 0 OR expires_at > ?5) ORDER BY key LIMIT ?6")
        : lira_store__stmt(s, SQ_KV_LIST,
              "SELECT key, value, updated_at, expires_at FROM kv WHERE ns = ?1"
              " AND key >= ?2 AND (?3 IS NULL OR key > ?3) AND ?4 IS NULL"
              " AND (expires_at = 0 OR expires_at > ?5) ORDER BY key LIMIT ?6");
    if (!st)
        return s->status;
    int src = lira_store__bind(st, "ttttIi", ns, prefix, from != prefix ? from : NULL,
                               bounded ? end : NULL, now_ms, limit);
    int stop = 0, n = 0;
    while (src == SQLITE_OK && !stop && (src = sqlite3_step(st)) == SQLITE_ROW) {
        rc = kv_emit(s, st, fn, ud, &stop);
        if (rc)
            break;
        n++;
        src = SQLITE_OK;
    }
    if (rc == LIRA_OK && src != SQLITE_OK && src != SQLITE_DONE)
        rc = lira_store__fail(s, src, "listing state");
    lira_store__reset(st);
    if (count)
        *count = n;
    return rc;
}

int lira_store_kv_purge(lira_store *s, int64_t now_ms, int64_t *removed)
{
    if (removed)
        *removed = 0;
    int rc = lira_store__enter(s);
    if (rc)
        return rc;
    rc = lira_store__run(s, SQ_KV_PURGE,
                         "DELETE FROM kv WHERE expires_at > 0 AND expires_at <= ?1",
                         "purging expired state", "I", now_ms);
    if (rc == LIRA_OK && removed)
        *removed = sqlite3_changes64(s->db);
    return rc;
}
