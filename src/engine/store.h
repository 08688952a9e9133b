/* store.h — lira's durable store: one SQLite 3 file in WAL mode holding
 * checkpoints, per-integration key-value state, the idempotency journal, the
 * stale-response cache and the webhook inbox (docs/state.md).
 *
 * Threading: a lira_store handle is one SQLite connection and belongs to one
 * thread at a time (it is opened SQLITE_OPEN_NOMUTEX). Other threads open
 * their own handle on the same file (the webhook receiver threads do); WAL
 * lets readers and one writer work at once, and writers wait for each other
 * up to the busy timeout.
 *
 * Time: every time value is an argument, in wall-clock epoch MILLISECONDS
 * (int64_t, "_ms"). Wall clock, not monotonic, because these values outlive
 * the process that wrote them. The store never reads a clock.
 *
 * Errors: a function returns LIRA_OK or a negative LIRA_E* code (status.h).
 * After any error lira_store_errmsg() holds a message that names the file
 * and says what to do, and lira_store_errkind() a LIRA_STORE_K* kind. The
 * codes used:
 *   LIRA_EINVAL    NULL argument, empty name, handle not open
 *   LIRA_ETOOBIG   a value, name or key over its cap (below); nothing written
 *   LIRA_ENOTFOUND the row asked for is not there (or has expired)
 *   LIRA_ESTATE    transaction misuse; file from a newer lira; not a lira file
 *   LIRA_EDENIED   the file is locked (busy past the timeout) or read-only
 *   LIRA_EPARSE    the file is corrupt (not a database, or malformed)
 *   LIRA_ENOMEM    out of memory
 *   LIRA_ERANGE    I/O error, disk full, or any other SQLite failure
 * A failed write changes nothing: each call is one atomic statement or
 * transaction (a savepoint inside a caller's lira_store_begin()).
 *
 * Borrowed results: bytes a get returns (lira_store_bytes, const char *)
 * point into the handle and stay valid until the next call on that handle.
 * Callbacks of the list functions get rows valid during the callback only;
 * a callback must not call the same handle and must not longjmp (a Lua
 * binding copies with non-raising calls, or collects first). */
#ifndef LIRA_STORE_H
#define LIRA_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct lira_store lira_store;

#define LIRA_STORE_SCHEMA     3                /* the schema this build writes */
#define LIRA_STORE_VALUE_MAX  (16u << 20)      /* bytes per value / body / headers */
#define LIRA_STORE_NAME_MAX   1024             /* bytes: names, namespaces, scopes,
                                                  routes, event ids, clients, methods */
#define LIRA_STORE_KEY_MAX    8192             /* bytes: kv keys, idempotency ids, URLs */
#define LIRA_STORE_IDEM_KEY_MAX 255            /* bytes of an idempotency key */
#define LIRA_STORE_LIST_MAX   10000            /* rows per list call */

/* What went wrong, for messages and Lua error kinds. */
enum lira_store_kind {
    LIRA_STORE_KOK = 0,
    LIRA_STORE_KINVAL,      /* bad argument or misuse */
    LIRA_STORE_KTOOBIG,     /* over a cap */
    LIRA_STORE_KNOTFOUND,
    LIRA_STORE_KLOCKED,     /* busy past the timeout: another process holds it */
    LIRA_STORE_KREADONLY,   /* file, folder or file system not writable */
    LIRA_STORE_KCORRUPT,    /* not a database / malformed */
    LIRA_STORE_KNEWER,      /* schema newer than this build */
    LIRA_STORE_KFOREIGN,    /* a SQLite file that is not lira's */
    LIRA_STORE_KCANTOPEN,   /* missing folder, no such file (read-only open) */
    LIRA_STORE_KFULL,       /* disk full */
    LIRA_STORE_KIO,         /* I/O error */
    LIRA_STORE_KNOMEM,
    LIRA_STORE_KOTHER
};

/* Opening. A zeroed struct means the defaults. */
typedef struct lira_store_options {
    int readonly;               /* 1: SQLITE_OPEN_READONLY; no create, no migration;
                                   writes fail with LIRA_EDENIED / KREADONLY */
    int sync_full;              /* 1: synchronous=FULL (survives power loss);
                                   0: NORMAL (survives process crash) */
    int busy_timeout_ms;        /* how long to wait for a lock; 0 = 5000 */
    int quick_check;            /* 1: PRAGMA quick_check at open (O(file size)) */
    int manual_wal_checkpoint;  /* 1: no automatic WAL checkpoint in this
                                   handle's commits (latency-critical writers,
                                   e.g. webhook acks); another handle calls
                                   lira_store_wal_checkpoint() instead */
    int64_t inbox_retention_ms; /* done events and their dedupe ids; 0 = 3 days */
    int64_t cache_max_rows;     /* stale cache rows per client; 0 = 1000 */
    int64_t cache_max_bytes;    /* stale cache bytes per client; 0 = 64 MiB */
    int schema;                 /* migrate up to this version; 0 = latest
                                   (tests build old files with it) */
} lira_store_options;

typedef struct lira_store_bytes {
    const void *ptr;            /* borrowed, see above; never NULL when len == 0 */
    size_t len;
} lira_store_bytes;

/* ------------------------------------------------------------ lifecycle */

/* A closed handle (born closed, like liolib's files). LIRA_EINVAL for NULL
 * out, LIRA_ENOMEM. */
int lira_store_new(lira_store **out);

/* Open `path` (created if missing, and its missing parent folders with mode
 * 0700; never truncated or recreated), switch it to WAL, check it, and
 * migrate it forward to the current schema, each step in one transaction.
 * Proves the write lock can be taken (unless readonly), so a file that is
 * locked or cannot be written is never reported open for writing.
 * LIRA_ESTATE when `s` is already open. On error the handle stays closed and
 * errmsg/errkind say why; the file is left as it was. */
int lira_store_open(lira_store *s, const char *path, const lira_store_options *opt);

/* Finalize statements and close the connection (rolling back an open
 * transaction). The handle can be opened again. Harmless when closed. */
void lira_store_close(lira_store *s);

/* Close and free. NULL is a no-op. */
void lira_store_free(lira_store *s);

int lira_store_is_open(const lira_store *s);
const char *lira_store_path(const lira_store *s);      /* "" when never opened */
int lira_store_schema_version(const lira_store *s);    /* of the open file */

/* The last error: never NULL ("" after a success). Valid until the next call. */
const char *lira_store_errmsg(const lira_store *s);
int lira_store_errkind(const lira_store *s);
const char *lira_store_kind_name(int kind);            /* "locked", "corrupt", ... */

/* --------------------------------------------------------- transactions */

/* BEGIN IMMEDIATE: calls until commit/rollback form one atomic commit (a
 * page's items and its checkpoint). No nesting: LIRA_ESTATE inside one.
 * LIRA_EDENIED when the write lock stays busy past the timeout. */
int lira_store_begin(lira_store *s);
/* On a commit failure the transaction is rolled back and the error returned.
 * Both return LIRA_ESTATE when no transaction is open (also after SQLite
 * rolled one back by itself on a disk error: the error said so then). */
int lira_store_commit(lira_store *s);
int lira_store_rollback(lira_store *s);
int lira_store_in_txn(const lira_store *s);

/* Integrity check of the whole file (PRAGMA quick_check): LIRA_OK or
 * LIRA_EPARSE / KCORRUPT with SQLite's first complaint in the message. */
int lira_store_check(lira_store *s);

/* Copy the WAL's committed pages into the main file (PASSIVE: never waits
 * for readers or writers, so it may move only part). SQLite does this
 * itself after commits that leave the WAL over 1000 pages, inside that
 * commit's latency, unless the committing handle set
 * manual_wal_checkpoint. *wal_pages / *moved (may be NULL): the WAL's size
 * and how much of it is now in the main file, in pages. */
int lira_store_wal_checkpoint(lira_store *s, int *wal_pages, int *moved);

/* Online copy into `dest_path` (VACUUM INTO: consistent, includes the WAL;
 * the destination must not exist). */
int lira_store_backup(lira_store *s, const char *dest_path);

/* ---------------------------------------------------------- checkpoints */

/* name -> value bytes (the binding stores JSON). get: LIRA_ENOTFOUND when
 * absent; *updated_at_ms may be NULL. reset deletes (LIRA_OK when absent). */
int lira_store_checkpoint_get(lira_store *s, const char *name,
                              lira_store_bytes *value, int64_t *updated_at_ms);
int lira_store_checkpoint_set(lira_store *s, const char *name,
                              const void *value, size_t len, int64_t now_ms);
int lira_store_checkpoint_reset(lira_store *s, const char *name);

/* ------------------------------------------------------------------- kv */

/* (ns, key) -> value bytes. expires_at_ms == 0: never expires. A row whose
 * expiry is <= now_ms reads as absent (LIRA_ENOTFOUND) and is removed by
 * lira_store_kv_purge(). delete: LIRA_ENOTFOUND when nothing was there. */
int lira_store_kv_get(lira_store *s, const char *ns, const char *key, int64_t now_ms,
                      lira_store_bytes *value, int64_t *expires_at_ms);
int lira_store_kv_set(lira_store *s, const char *ns, const char *key,
                      const void *value, size_t len, int64_t expires_at_ms, int64_t now_ms);
int lira_store_kv_delete(lira_store *s, const char *ns, const char *key);

typedef struct lira_store_kv_row {
    const char *key;
    lira_store_bytes value;
    int64_t updated_at_ms, expires_at_ms;
} lira_store_kv_row;
/* Return non-zero to stop early (the list then returns LIRA_OK). */
typedef int (*lira_store_kv_fn)(void *ud, const lira_store_kv_row *row);

/* Live keys of `ns` starting with `prefix` ("" = all), in byte order, after
 * `after` (NULL = from the start: pass the last key seen to page on), at most
 * `limit` rows (1..LIRA_STORE_LIST_MAX). *count (may be NULL) = rows given. */
int lira_store_kv_list(lira_store *s, const char *ns, const char *prefix, const char *after,
                       int limit, int64_t now_ms, lira_store_kv_fn fn, void *ud, int *count);
/* Delete expired rows of every namespace; *removed may be NULL. */
int lira_store_kv_purge(lira_store *s, int64_t now_ms, int64_t *removed);

/* -------------------------------------------------- idempotency journal */

typedef struct lira_store_idem {
    char key[LIRA_STORE_IDEM_KEY_MAX + 1];   /* the key to send, NUL-terminated */
    int64_t created_at_ms, expires_at_ms;
    int done;                                /* lira_store_idem_done() was called */
    int created;                             /* 1: `candidate` was stored now */
} lira_store_idem;

/* Atomically return the key stored for (scope, id), or store `candidate`
 * (the caller's fresh UUID) with expiry now_ms + ttl_ms (ttl_ms > 0) and
 * return it. An expired row counts as absent and is replaced. A rerun after
 * a crash therefore gets the same key. */
int lira_store_idem_get_or_create(lira_store *s, const char *scope, const char *id,
                                  const char *candidate, int64_t ttl_ms, int64_t now_ms,
                                  lira_store_idem *out);
/* Mark done (kept until expiry so late reruns still see it). LIRA_ENOTFOUND. */
int lira_store_idem_done(lira_store *s, const char *scope, const char *id);
/* Remove one entry (LIRA_ENOTFOUND) / every expired entry. */
int lira_store_idem_forget(lira_store *s, const char *scope, const char *id);
int lira_store_idem_purge(lira_store *s, int64_t now_ms, int64_t *removed);

/* ------------------------------------------- response cache (stale use) */

typedef struct lira_store_cached {
    int status;
    lira_store_bytes headers, body;          /* borrowed */
    int64_t stored_at_ms;                    /* age = now - stored_at_ms */
} lira_store_cached;

/* Replace the entry of (client, method, url). Per client at most
 * cache_max_rows rows and cache_max_bytes bytes (headers + body): the
 * oldest entries are evicted in the same transaction. An entry larger than
 * cache_max_bytes alone is LIRA_ETOOBIG (and any older entry for the same
 * URL is left as it was). */
int lira_store_cache_put(lira_store *s, const char *client, const char *method,
                         const char *url, int status, const void *headers, size_t headers_len,
                         const void *body, size_t body_len, int64_t now_ms);
/* LIRA_ENOTFOUND when absent; the caller judges the age against its ttl. */
int lira_store_cache_get(lira_store *s, const char *client, const char *method,
                         const char *url, lira_store_cached *out);
int lira_store_cache_delete(lira_store *s, const char *client, const char *method,
                            const char *url);
/* Rows and bytes held for `client` (either pointer may be NULL). */
int lira_store_cache_usage(lira_store *s, const char *client, int64_t *rows, int64_t *bytes);

/* -------------------------------------------------------- webhook inbox */

enum { LIRA_STORE_INSERTED = 1, LIRA_STORE_DUPLICATE = 2 };
enum { LIRA_STORE_EV_PENDING = 0, LIRA_STORE_EV_DONE = 1, LIRA_STORE_EV_DEAD = 2 };

typedef struct lira_store_event_in {
    const char *route, *event_id;
    const void *headers; size_t headers_len;  /* the binding's encoding */
    const void *body; size_t body_len;
    int64_t received_at_ms;
} lira_store_event_in;

typedef struct lira_store_event {
    int64_t seq;                    /* arrival order, unique, never reused */
    const char *route, *event_id;
    lira_store_bytes headers, body;
    int64_t received_at_ms;
    int state;                      /* LIRA_STORE_EV_* */
    int attempts;                   /* failed attempts so far */
    int64_t next_at_ms;             /* due time of the next attempt */
    const char *last_error;         /* "" when none */
} lira_store_event;
typedef int (*lira_store_event_fn)(void *ud, const lira_store_event *ev);

/* Durably insert one event (committed when this returns LIRA_OK, so the
 * caller may then acknowledge). *result = LIRA_STORE_INSERTED, or
 * LIRA_STORE_DUPLICATE when (route, event_id) is already held — pending,
 * dead, or done within the retention window; a done row older than the
 * window is replaced. *seq (may be NULL) = the event's seq either way. */
int lira_store_inbox_insert(lira_store *s, const lira_store_event_in *ev,
                            int *result, int64_t *seq);
/* Group commit: n events (1..LIRA_STORE_LIST_MAX) in one transaction.
 * results[i] = INSERTED, DUPLICATE, or a negative code for an event that
 * was invalid (EINVAL/ETOOBIG: skipped, the others still go in). A store
 * failure returns its code and nothing is inserted. seqs may be NULL. */
int lira_store_inbox_insert_batch(lira_store *s, const lira_store_event_in *evs, size_t n,
                                  int *results, int64_t *seqs);

/* Pending events due at now_ms (next_at <= now), in arrival order, of
 * `route` (NULL = every route), at most `limit`. */
int lira_store_inbox_due(lira_store *s, const char *route, int64_t now_ms, int limit,
                         lira_store_event_fn fn, void *ud, int *count);
/* The oldest pending events of `route`, due or not (a retrying event is
 * pending), in arrival order, at most `limit`: the loop reads a route's
 * next deliveries in one query (one read of the pages the committer's
 * last commit changed) instead of one query per event. */
int lira_store_inbox_head(lira_store *s, const char *route, int limit,
                          lira_store_event_fn fn, void *ud, int *count);
/* Events in `state` (-1 = any) with seq > after_seq, in order (admin, CLI). */
int lira_store_inbox_list(lira_store *s, int state, int64_t after_seq, int limit,
                          lira_store_event_fn fn, void *ud, int *count);
/* The earliest next_at of pending events (to arm a timer); LIRA_ENOTFOUND
 * when nothing is pending. */
int lira_store_inbox_next_due(lira_store *s, int64_t *at_ms);

/* Success: state done. LIRA_ENOTFOUND for an unknown seq. */
int lira_store_inbox_done(lira_store *s, int64_t seq, int64_t now_ms);
/* A failed attempt: attempts + 1, error text kept (truncated to 1 KiB),
 * next_at = next_at_ms; when attempts reaches max_attempts (> 0) the event
 * goes dead instead. *dead (may be NULL) says which. LIRA_ENOTFOUND; a done
 * event is LIRA_ESTATE. */
int lira_store_inbox_fail(lira_store *s, int64_t seq, const char *error, int64_t next_at_ms,
                          int max_attempts, int *dead);
/* Back to pending with attempts 0, due now_ms: one event (seq > 0) or every
 * dead event (seq == 0). *count (may be NULL) = events replayed. */
int lira_store_inbox_replay(lira_store *s, int64_t seq, int64_t now_ms, int64_t *count);
/* Delete done events received before now_ms - retention (their ids can then
 * be received again). Pending and dead events are never purged. */
int lira_store_inbox_purge(lira_store *s, int64_t now_ms, int64_t *removed);
/* Counts by state, for `route` (NULL = all); pointers may be NULL (a NULL
 * `done` skips counting every row of the route: cheaper at a backlog). */
int lira_store_inbox_counts(lira_store *s, const char *route, int64_t *pending,
                            int64_t *done, int64_t *dead);

#endif
