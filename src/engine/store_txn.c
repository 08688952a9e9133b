/* store_txn.c — transactions (the caller's, and each operation's own
 * atomicity as a savepoint inside it), and maintenance: integrity check,
 * WAL checkpoint, online backup. */
#include "store_internal.h"

#include <string.h>

/* ------------------------------------------------------- transactions */

static int run(lira_store *s, int slot, const char *sql, const char *doing)
{
    return lira_store__run(s, slot, sql, doing, "");
}

int lira_store__op_begin(lira_store *s, const char *doing)
{
    if (s->txn)
        return run(s, SQ_SAVEPOINT, "SAVEPOINT lira_op", doing);
    return run(s, SQ_BEGIN, "BEGIN IMMEDIATE", doing);
}

/* SQLite rolls a whole transaction back by itself on some errors (disk
 * full, I/O); then there is no savepoint to release and no transaction to
 * commit, and the caller's lira_store_begin() transaction is gone too. */
static int lost_txn(lira_store *s)
{
    if (!sqlite3_get_autocommit(s->db))
        return 0;
    s->txn = 0;
    return 1;
}

int lira_store__op_end(lira_store *s, int status, const char *doing)
{
    if (status == LIRA_OK) {
        int rc = s->txn ? run(s, SQ_RELEASE, "RELEASE lira_op", doing)
                        : run(s, SQ_COMMIT, "COMMIT", doing);
        if (rc == LIRA_OK)
            return LIRA_OK;
        status = rc;
    }
    /* Keep the first error's message: the rollback's own is secondary. */
    char keep[sizeof s->msg];
    int kind = s->kind;
    memcpy(keep, s->msg, sizeof keep);
    if (lost_txn(s)) {
        /* nothing left to roll back */
    } else if (s->txn) {
        run(s, SQ_ROLLBACK_TO, "ROLLBACK TO lira_op", doing);
        run(s, SQ_RELEASE, "RELEASE lira_op", doing);
    } else {
        run(s, SQ_ROLLBACK, "ROLLBACK", doing);
    }
    memcpy(s->msg, keep, sizeof keep);
    s->kind = kind;
    return status;
}

int lira_store_begin(lira_store *s)
{
    int rc = lira_store__enter(s);
    if (rc)
        return rc;
    if (s->txn)
        return lira_store__error(s, LIRA_ESTATE, LIRA_STORE_KINVAL,
                                 "lira: state store %s: a transaction is already open",
                                 s->path);
    rc = run(s, SQ_BEGIN, "BEGIN IMMEDIATE", "starting a transaction");
    if (rc == LIRA_OK)
        s->txn = 1;
    return rc;
}

static int end_txn(lira_store *s, int commit)
{
    int rc = lira_store__enter(s);
    if (rc)
        return rc;
    if (!s->txn || lost_txn(s))
        return lira_store__error(s, LIRA_ESTATE, LIRA_STORE_KINVAL,
                                 "lira: state store %s: no transaction is open", s->path);
    s->txn = 0;
    if (!commit)
        return run(s, SQ_ROLLBACK, "ROLLBACK", "rolling back");
    rc = run(s, SQ_COMMIT, "COMMIT", "committing");
    if (rc != LIRA_OK && !sqlite3_get_autocommit(s->db)) {
        char keep[sizeof s->msg];
        int kind = s->kind;
        memcpy(keep, s->msg, sizeof keep);
        run(s, SQ_ROLLBACK, "ROLLBACK", "rolling back a failed commit");
        memcpy(s->msg, keep, sizeof keep);
        s->kind = kind;
    }
    return rc;
}

int lira_store_commit(lira_store *s) { return end_txn(s, 1); }
int lira_store_rollback(lira_store *s) { return end_txn(s, 0); }
int lira_store_in_txn(const lira_store *s) { return s && s->db && s->txn; }

/* ------------------------------------------------------ maintenance */

int lira_store_check(lira_store *s)
{
    int rc = lira_store__enter(s);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    rc = sqlite3_prepare_v2(s->db, "PRAGMA quick_check(1)", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return lira_store__fail(s, rc, "checking integrity");
    }
    const char *res = (const char *)sqlite3_column_text(st, 0);
    if (res && strcmp(res, "ok") == 0) {
        sqlite3_finalize(st);
        return LIRA_OK;
    }
    rc = lira_store__error(s, LIRA_EPARSE, LIRA_STORE_KCORRUPT,
                           "lira: state file %s is corrupt (integrity check: %s); lira "
                           "left it untouched: restore a backup (docs/state.md), or move "
                           "it aside and lira starts an empty one",
                           s->path, res ? res : "no answer");
    sqlite3_finalize(st);
    return rc;
}

int lira_store_wal_checkpoint(lira_store *s, int *wal_pages, int *moved)
{
    int rc = lira_store__enter(s);
    if (rc)
        return rc;
    int log = 0, done = 0;
    int src = sqlite3_wal_checkpoint_v2(s->db, "main", SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    if (src != SQLITE_OK)
        return lira_store__fail(s, src, "checkpointing the WAL");
    if (wal_pages)
        *wal_pages = log;
    if (moved)
        *moved = done;
    return LIRA_OK;
}

int lira_store_backup(lira_store *s, const char *dest_path)
{
    int rc = lira_store__enter(s);
    if (rc)
        return rc;
    rc = lira_store__check_name(s, "backup path", dest_path, 4096);
    if (rc)
        return rc;
    if (s->txn)
        return lira_store__error(s, LIRA_ESTATE, LIRA_STORE_KINVAL,
                                 "lira: cannot back up %s inside a transaction", s->path);
    sqlite3_stmt *st = NULL;
    rc = sqlite3_prepare_v2(s->db, "VACUUM INTO ?1", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = lira_store__query(st, "t", dest_path);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return lira_store__error(s, LIRA_ERANGE, lira_store__kind_of(rc),
                                 "lira: backup of state file %s to %s failed (%s); the "
                                 "destination must not exist and its folder must be "
                                 "writable", s->path, dest_path, sqlite3_errmsg(s->db));
    return LIRA_OK;
}
