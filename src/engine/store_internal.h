/* store_internal.h — what the store_*.c files share: the handle, the
 * statement cache and the error helpers. Not part of the API (lira_store__
 * names, libuv's uv__ convention). */
#ifndef LIRA_STORE_INTERNAL_H
#define LIRA_STORE_INTERNAL_H

#include <sqlite3.h>

#include "status.h"
#include "store.h"

/* One slot per cached statement. The SQL text sits at the call site
 * (lira_store__stmt), prepared on first use and kept for the handle's life. */
enum lira_store_sq {
    SQ_BEGIN, SQ_COMMIT, SQ_ROLLBACK, SQ_SAVEPOINT, SQ_RELEASE, SQ_ROLLBACK_TO,
    SQ_CP_GET, SQ_CP_SET, SQ_CP_RESET,
    SQ_KV_GET, SQ_KV_SET, SQ_KV_DELETE, SQ_KV_LIST, SQ_KV_LIST_TO, SQ_KV_PURGE,
    SQ_IDEM_GET, SQ_IDEM_PUT, SQ_IDEM_DONE, SQ_IDEM_FORGET, SQ_IDEM_PURGE,
    SQ_CACHE_GET, SQ_CACHE_PUT, SQ_CACHE_DELETE, SQ_CACHE_USAGE, SQ_CACHE_EVICT,
    SQ_IN_INSERT, SQ_IN_FIND, SQ_IN_DROP, SQ_IN_DUE, SQ_IN_DUE_ROUTE, SQ_IN_HEAD, SQ_IN_LIST,
    SQ_IN_LIST_ANY, SQ_IN_NEXT, SQ_IN_DONE, SQ_IN_STATE, SQ_IN_FAIL, SQ_IN_REPLAY,
    SQ_IN_REPLAY_DEAD, SQ_IN_PURGE, SQ_IN_COUNTS, SQ_IN_COUNTS_ROUTE,
    SQ_COUNT_
};

struct lira_store {
    sqlite3 *db;                 /* NULL while closed */
    char *path;
    int readonly, busy_ms, schema;
    int txn;                     /* a lira_store_begin() transaction is open */
    int64_t inbox_retention_ms, cache_max_rows, cache_max_bytes;
    int kind;                    /* of the last error */
    int status;                  /* LIRA_E code of the last error */
    char msg[1024];
    sqlite3_stmt *stmt[SQ_COUNT_];
    unsigned char *buf;          /* borrowed results live here */
    size_t bufcap;
};

/* Start of every public call on an open handle: clears the last error.
 * LIRA_EINVAL (with a message) when s is NULL or closed. */
int lira_store__enter(lira_store *s);

/* A set error: message formatted, kind recorded, `status` returned. */
int lira_store__error(lira_store *s, int status, int kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The LIRA_STORE_K* kind of a SQLite result code. */
int lira_store__kind_of(int sqlite_rc);

/* Map a SQLite result code to kind + message naming the file and `doing`
 * ("writing a checkpoint"); returns the LIRA_E code. */
int lira_store__fail(lira_store *s, int sqlite_rc, const char *doing);

/* The cached statement for `slot`, prepared from `sql` on first use, reset
 * and unbound. NULL (error set) when preparing fails. */
sqlite3_stmt *lira_store__stmt(lira_store *s, int slot, const char *sql);

/* Reset and clear bindings after a use (errors were seen by step). */
void lira_store__reset(sqlite3_stmt *st);

/* Step a statement that returns no rows, then reset it. */
int lira_store__exec(lira_store *s, sqlite3_stmt *st, const char *doing);

/* Bind helpers: SQLite codes, chainable with `rc = rc ? rc : ...`. A blob
 * of length 0 binds as an empty blob (never NULL). */
int lira_store__bind_text(sqlite3_stmt *st, int idx, const char *text);
int lira_store__bind_blob(sqlite3_stmt *st, int idx, const void *p, size_t len);

/* Bind ?1, ?2, ... in order, one letter of `types` each (SQLite's own
 * format-string habit, as in sqlite3_mprintf): 't' const char * (NULL
 * leaves the parameter unbound, i.e. SQL NULL, and lets a query that lacks
 * that parameter share the call), 'b' const void *, size_t (as
 * lira_store__bind_blob), 'I' int64_t, 'i' int. Arguments must have exactly
 * these types: write a literal as (int64_t)0. '-' skips a parameter and
 * takes no argument. Returns a SQLite code. */
int lira_store__bind(sqlite3_stmt *st, const char *types, ...);

/* Bind as lira_store__bind, then step once: SQLITE_ROW / SQLITE_DONE, or
 * the bind or step error. The caller reads the row, then resets. */
int lira_store__query(sqlite3_stmt *st, const char *types, ...);

/* A whole write: the cached statement for `slot` (prepared from `sql`),
 * bound as lira_store__bind, stepped and reset. LIRA_OK, or the LIRA_E
 * code with the error set naming `doing`; sqlite3_changes(s->db) then
 * counts the rows it touched. */
int lira_store__run(lira_store *s, int slot, const char *sql, const char *doing,
                    const char *types, ...);

/* Argument checks: NULL/empty/over-cap names, over-cap values. */
int lira_store__check_name(lira_store *s, const char *what, const char *v, size_t max);
int lira_store__check_value(lira_store *s, const char *what, const void *p, size_t len);

/* An operation's own atomicity: BEGIN IMMEDIATE, or a savepoint inside the
 * caller's transaction. op_end commits (status == LIRA_OK) or rolls back,
 * and returns status, or the commit's error. */
int lira_store__op_begin(lira_store *s, const char *doing);
int lira_store__op_end(lira_store *s, int status, const char *doing);

/* The handle's result buffer, grown to at least `need` bytes (NULL + error
 * set when it cannot grow). */
unsigned char *lira_store__buf(lira_store *s, size_t need);

/* Copy column `col` (blob or text) to *cursor, NUL-terminated, and advance.
 * The caller sized the buffer with lira_store__col_size(). */
size_t lira_store__col_size(sqlite3_stmt *st, int col);
lira_store_bytes lira_store__col_copy(sqlite3_stmt *st, int col, unsigned char **cursor);

/* Schema (store_schema.c). inspect reads, never writes: the file's schema
 * version, refusing newer and foreign files. migrate takes the write lock
 * (so it also proves the file writable), re-inspects and runs the missing
 * steps up to s->schema, one transaction each; s->schema is then the file's
 * version. */
int lira_store__inspect(lira_store *s, int *version);
int lira_store__migrate(lira_store *s);

#endif
