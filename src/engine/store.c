/* store.c — opening, closing and checking lira's state file; errors that
 * name the file and say what to do; the statement cache and transactions
 * shared by store_kv.c, store_journal.c and store_inbox.c (transactions:
 * store_txn.c; schema: store_schema.c).
 *
 * Opening never writes before it has read the file successfully: a file that
 * is not a database, is corrupt, is another program's, or comes from a newer
 * lira is reported and left byte-for-byte as it was. */
#define _POSIX_C_SOURCE 200809L
#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_BUSY_MS        5000
#define DEFAULT_RETENTION_MS   (3LL * 24 * 3600 * 1000)
#define DEFAULT_CACHE_ROWS     1000
#define DEFAULT_CACHE_BYTES    (64LL << 20)
#define BUF_MAX  ((size_t)2 * LIRA_STORE_VALUE_MAX + 4 * LIRA_STORE_KEY_MAX + 4096)

/* ------------------------------------------------------------- errors */

static const char *const kind_names[] = {
    "ok", "invalid", "too_big", "not_found", "locked", "read_only", "corrupt",
    "newer_schema", "not_lira", "cannot_open", "disk_full", "io", "no_memory", "store",
};

const char *lira_store_kind_name(int kind)
{
    if (kind < 0 || kind > LIRA_STORE_KOTHER)
        return "store";
    return kind_names[kind];
}

static const char *path_of(const lira_store *s)
{
    return s->path ? s->path : "(none)";
}

int lira_store__error(lira_store *s, int status, int kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->msg, sizeof s->msg, fmt, ap);
    va_end(ap);
    s->kind = kind;
    s->status = status;
    return status;
}

int lira_store__kind_of(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY: case SQLITE_LOCKED:     return LIRA_STORE_KLOCKED;
    case SQLITE_READONLY: case SQLITE_PERM:
    case SQLITE_AUTH:                         return LIRA_STORE_KREADONLY;
    case SQLITE_CORRUPT: case SQLITE_NOTADB:  return LIRA_STORE_KCORRUPT;
    case SQLITE_CANTOPEN:                     return LIRA_STORE_KCANTOPEN;
    case SQLITE_FULL:                         return LIRA_STORE_KFULL;
    case SQLITE_NOMEM:                        return LIRA_STORE_KNOMEM;
    case SQLITE_TOOBIG:                       return LIRA_STORE_KTOOBIG;
    case SQLITE_IOERR:
        return rc == SQLITE_IOERR_NOMEM ? LIRA_STORE_KNOMEM : LIRA_STORE_KIO;
    default:                                  return LIRA_STORE_KOTHER;
    }
}

static int status_of(int kind)
{
    switch (kind) {
    case LIRA_STORE_KLOCKED: case LIRA_STORE_KREADONLY:
    case LIRA_STORE_KCANTOPEN:                 return LIRA_EDENIED;
    case LIRA_STORE_KCORRUPT:                  return LIRA_EPARSE;
    case LIRA_STORE_KNOMEM:                    return LIRA_ENOMEM;
    case LIRA_STORE_KTOOBIG:                   return LIRA_ETOOBIG;
    default:                                   return LIRA_ERANGE;
    }
}

int lira_store__fail(lira_store *s, int rc, const char *doing)
{
    int kind = lira_store__kind_of(rc);
    const char *p = path_of(s);
    const char *why = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
    switch (kind) {
    case LIRA_STORE_KLOCKED:
        return lira_store__error(s, LIRA_EDENIED, kind,
            "lira: state file %s is locked: still busy after %d ms while %s (another "
            "process or connection holds it); stop the other program using this file, "
            "or point LIRA_STATE at another file", p, s->busy_ms, doing);
    case LIRA_STORE_KREADONLY:
        return lira_store__error(s, LIRA_EDENIED, kind,
            "lira: state file %s cannot be written while %s (%s); make the file and "
            "its folder writable by this user, or point LIRA_STATE at a writable file",
            p, doing, why);
    case LIRA_STORE_KCORRUPT:
        return lira_store__error(s, LIRA_EPARSE, kind,
            "lira: state file %s is corrupt (%s, while %s); lira left it untouched: "
            "restore a backup (docs/state.md), or move it aside and lira starts an "
            "empty one", p, why, doing);
    case LIRA_STORE_KCANTOPEN:
        return lira_store__error(s, LIRA_EDENIED, kind,
            "lira: cannot open state file %s while %s (%s); check the path and that "
            "its folder exists and is writable, or point LIRA_STATE elsewhere",
            p, doing, why);
    case LIRA_STORE_KFULL:
        return lira_store__error(s, LIRA_ERANGE, kind,
            "lira: the disk holding state file %s is full (while %s); nothing of this "
            "write was kept: free some space", p, doing);
    case LIRA_STORE_KIO:
        return lira_store__error(s, LIRA_ERANGE, kind,
            "lira: I/O error on state file %s while %s (%s); check the disk and file "
            "system", p, doing, why);
    default:
        return lira_store__error(s, status_of(kind), kind,
            "lira: state file %s: %s while %s (SQLite error %d)", p, why, doing, rc);
    }
}

const char *lira_store_errmsg(const lira_store *s)
{
    return s ? s->msg : "lira: no store handle";
}

int lira_store_errkind(const lira_store *s)
{
    return s ? s->kind : LIRA_STORE_KINVAL;
}

int lira_store__enter(lira_store *s)
{
    if (!s)
        return LIRA_EINVAL;
    s->msg[0] = '\0';
    s->kind = LIRA_STORE_KOK;
    s->status = LIRA_OK;
    if (!s->db)
        return lira_store__error(s, LIRA_EINVAL, LIRA_STORE_KINVAL,
                                 "lira: the state store %s is not open", path_of(s));
    return LIRA_OK;
}

int lira_store__check_name(lira_store *s, const char *what, const char *v, size_t max)
{
    if (!v || !*v)
        return lira_store__error(s, LIRA_EINVAL, LIRA_STORE_KINVAL,
                                 "lira: state store: %s must be a non-empty string", what);
    size_t n = strnlen(v, max + 1);
    if (n > max)
        return lira_store__error(s, LIRA_ETOOBIG, LIRA_STORE_KTOOBIG,
                                 "lira: state store: %s is longer than %zu bytes", what, max);
    return LIRA_OK;
}

int lira_store__check_value(lira_store *s, const char *what, const void *p, size_t len)
{
    if (!p && len)
        return lira_store__error(s, LIRA_EINVAL, LIRA_STORE_KINVAL,
                                 "lira: state store: %s is NULL with length %zu", what, len);
    if (len > LIRA_STORE_VALUE_MAX)
        return lira_store__error(s, LIRA_ETOOBIG, LIRA_STORE_KTOOBIG,
                                 "lira: state store: %s is %zu bytes, over the cap of %u",
                                 what, len, LIRA_STORE_VALUE_MAX);
    return LIRA_OK;
}

/* ----------------------------------------------------- statement cache */

sqlite3_stmt *lira_store__stmt(lira_store *s, int slot, const char *sql)
{
    sqlite3_stmt *st = s->stmt[slot];
    if (st) {
        sqlite3_reset(st);   /* normally already reset; a longjmp may have skipped it */
        sqlite3_clear_bindings(st);
        return st;
    }
    int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(st);
        lira_store__fail(s, rc, "preparing a statement");
        return NULL;
    }
    s->stmt[slot] = st;
    return st;
}

void lira_store__reset(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

int lira_store__exec(lira_store *s, sqlite3_stmt *st, const char *doing)
{
    int rc = sqlite3_step(st);
    lira_store__reset(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return lira_store__fail(s, rc, doing);
    return LIRA_OK;
}

int lira_store__bind_text(sqlite3_stmt *st, int idx, const char *text)
{
    return sqlite3_bind_text(st, idx, text, -1, SQLITE_STATIC);
}

int lira_store__bind_blob(sqlite3_stmt *st, int idx, const void *p, size_t len)
{
    if (len == 0)
        return sqlite3_bind_zeroblob(st, idx, 0);
    return sqlite3_bind_blob64(st, idx, p, len, SQLITE_STATIC);
}

static int vbind(sqlite3_stmt *st, const char *types, va_list ap)
{
    int src = SQLITE_OK;
    for (int i = 0; types[i] && src == SQLITE_OK; i++) {
        const char *text;
        const void *p;
        switch (types[i]) {
        case 't':
            text = va_arg(ap, const char *);
            if (text)
                src = lira_store__bind_text(st, i + 1, text);
            break;
        case 'b':
            p = va_arg(ap, const void *);
            src = lira_store__bind_blob(st, i + 1, p, va_arg(ap, size_t));
            break;
        case 'I':
            src = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
            break;
        case 'i':
            src = sqlite3_bind_int(st, i + 1, va_arg(ap, int));
            break;
        case '-':
            break;   /* bound by the caller, or left NULL: takes no argument */
        default:
            src = SQLITE_MISUSE;   /* a typo in a types string, not user input */
        }
    }
    return src;
}

int lira_store__bind(sqlite3_stmt *st, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    int src = vbind(st, types, ap);
    va_end(ap);
    return src;
}

int lira_store__query(sqlite3_stmt *st, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    int src = vbind(st, types, ap);
    va_end(ap);
    return src == SQLITE_OK ? sqlite3_step(st) : src;
}

int lira_store__run(lira_store *s, int slot, const char *sql, const char *doing,
                    const char *types, ...)
{
    sqlite3_stmt *st = lira_store__stmt(s, slot, sql);
    if (!st)
        return s->status;
    va_list ap;
    va_start(ap, types);
    int src = vbind(st, types, ap);
    va_end(ap);
    if (src != SQLITE_OK) {
        lira_store__reset(st);
        return lira_store__fail(s, src, doing);
    }
    return lira_store__exec(s, st, doing);
}

static void finalize_all(lira_store *s)
{
    for (int i = 0; i < SQ_COUNT_; i++) {
        sqlite3_finalize(s->stmt[i]);
        s->stmt[i] = NULL;
    }
}

/* ------------------------------------------------------ result buffer */

unsigned char *lira_store__buf(lira_store *s, size_t need)
{
    if (need < 64)
        need = 64;
    if (need <= s->bufcap)
        return s->buf;
    if (need > BUF_MAX) {
        lira_store__error(s, LIRA_ETOOBIG, LIRA_STORE_KTOOBIG,
                          "lira: state file %s holds a row of %zu bytes, over what lira "
                          "reads back (%zu)", path_of(s), need, BUF_MAX);
        return NULL;
    }
    size_t cap = s->bufcap ? s->bufcap : 256;
    while (cap < need)
        cap *= 2;
    unsigned char *p = realloc(s->buf, cap);
    if (!p) {
        lira_store__error(s, LIRA_ENOMEM, LIRA_STORE_KNOMEM,
                          "lira: out of memory reading state file %s", path_of(s));
        return NULL;
    }
    s->buf = p;
    s->bufcap = cap;
    return p;
}

size_t lira_store__col_size(sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_TEXT)
        (void)sqlite3_column_text(st, col);
    else
        (void)sqlite3_column_blob(st, col);
    return (size_t)sqlite3_column_bytes(st, col) + 1;
}

lira_store_bytes lira_store__col_copy(sqlite3_stmt *st, int col, unsigned char **cursor)
{
    const void *src = sqlite3_column_type(st, col) == SQLITE_TEXT
                          ? (const void *)sqlite3_column_text(st, col)
                          : sqlite3_column_blob(st, col);
    size_t len = (size_t)sqlite3_column_bytes(st, col);
    lira_store_bytes out = { *cursor, len };
    if (len)
        memcpy(*cursor, src, len);
    (*cursor)[len] = '\0';
    *cursor += len + 1;
    return out;
}

/* ---------------------------------------------------------- lifecycle */

int lira_store_new(lira_store **out)
{
    if (!out)
        return LIRA_EINVAL;
    lira_store *s = calloc(1, sizeof *s);
    if (!s)
        return LIRA_ENOMEM;
    *out = s;
    return LIRA_OK;
}

int lira_store_is_open(const lira_store *s) { return s && s->db; }
const char *lira_store_path(const lira_store *s) { return s && s->path ? s->path : ""; }
int lira_store_schema_version(const lira_store *s) { return s && s->db ? s->schema : 0; }

void lira_store_close(lira_store *s)
{
    if (!s || !s->db)
        return;
    finalize_all(s);
    /* With every statement finalized, close only fails on misuse; _v2 then
     * still frees the connection once it can. */
    sqlite3_close_v2(s->db);
    s->db = NULL;
    s->txn = 0;
}

void lira_store_free(lira_store *s)
{
    if (!s)
        return;
    lira_store_close(s);
    free(s->path);
    free(s->buf);
    free(s);
}

/* mkdir -p of the folders above the file, 0700: state is private. */
static int make_parents(lira_store *s)
{
    char *dir = strdup(s->path);
    if (!dir)
        return lira_store__error(s, LIRA_ENOMEM, LIRA_STORE_KNOMEM, "lira: out of memory");
    char *slash = strrchr(dir, '/');
    int rc = LIRA_OK;
    for (char *p = dir + 1; slash && p <= slash && rc == LIRA_OK; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            rc = lira_store__error(s, LIRA_EDENIED, LIRA_STORE_KCANTOPEN,
                                   "lira: cannot create the folder %s for state file %s "
                                   "(%s); create it or point LIRA_STATE elsewhere",
                                   dir, s->path, strerror(errno));
        *p = '/';
    }
    free(dir);
    return rc;
}

/* Create a missing file as 0600 before SQLite does (it would use 0644 less
 * the umask): webhook bodies and tokens in the state are private. SQLite
 * gives the -wal and -shm files the same mode. An empty file is an empty
 * database. */
static int make_private_file(lira_store *s)
{
    int fd = open(s->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
        return LIRA_OK;
    }
    if (errno == EEXIST)
        return LIRA_OK;
    return lira_store__error(s, errno == EACCES || errno == EROFS ? LIRA_EDENIED : LIRA_ERANGE,
                             errno == EACCES || errno == EROFS ? LIRA_STORE_KREADONLY
                                                               : LIRA_STORE_KCANTOPEN,
                             "lira: cannot create state file %s (%s); check that its "
                             "folder is writable, or point LIRA_STATE elsewhere",
                             s->path, strerror(errno));
}

static void apply_options(lira_store *s, const lira_store_options *o)
{
    static const lira_store_options zero;
    if (!o)
        o = &zero;
    s->readonly = o->readonly != 0;
    s->busy_ms = o->busy_timeout_ms > 0 ? o->busy_timeout_ms : DEFAULT_BUSY_MS;
    s->inbox_retention_ms = o->inbox_retention_ms > 0 ? o->inbox_retention_ms
                                                       : DEFAULT_RETENTION_MS;
    s->cache_max_rows = o->cache_max_rows > 0 ? o->cache_max_rows : DEFAULT_CACHE_ROWS;
    s->cache_max_bytes = o->cache_max_bytes > 0 ? o->cache_max_bytes : DEFAULT_CACHE_BYTES;
    s->schema = o->schema > 0 && o->schema < LIRA_STORE_SCHEMA ? o->schema : LIRA_STORE_SCHEMA;
}

static int pragma(lira_store *s, const char *sql, const char *doing)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? LIRA_OK : lira_store__fail(s, rc, doing);
}

static int set_wal(lira_store *s)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    int wal = rc == SQLITE_ROW && sqlite3_column_text(st, 0) &&
              strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return lira_store__fail(s, rc, "switching to WAL mode");
    if (!wal)
        return lira_store__error(s, LIRA_ERANGE, LIRA_STORE_KOTHER,
                                 "lira: state file %s cannot use WAL mode (is it on a "
                                 "network file system?); put it on a local disk", s->path);
    return LIRA_OK;
}

static int configure(lira_store *s, const lira_store_options *o)
{
    int rc = pragma(s, "PRAGMA foreign_keys=ON", "configuring");
    if (rc == LIRA_OK && !s->readonly)
        rc = set_wal(s);
    if (rc == LIRA_OK)
        rc = pragma(s, o && o->sync_full ? "PRAGMA synchronous=FULL"
                                         : "PRAGMA synchronous=NORMAL", "configuring");
    /* Keep a checkpointed WAL from staying at its high-water mark. */
    if (rc == LIRA_OK && !s->readonly)
        rc = pragma(s, "PRAGMA journal_size_limit=67108864", "configuring");
    if (rc == LIRA_OK && o && o->manual_wal_checkpoint)
        rc = pragma(s, "PRAGMA wal_autocheckpoint=0", "configuring");
    return rc;
}

static int open_db(lira_store *s)
{
    int flags = SQLITE_OPEN_NOMUTEX | (s->readonly ? SQLITE_OPEN_READONLY
                                                   : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    if (!sqlite3_threadsafe())
        return lira_store__error(s, LIRA_ESTATE, LIRA_STORE_KOTHER,
                                 "lira: this SQLite library was built without thread "
                                 "support; lira needs SQLITE_THREADSAFE=1 or 2");
    int rc = sqlite3_open_v2(s->path, &s->db, flags, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_extended_result_codes(s->db, 1);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(s->db, s->busy_ms);
    if (rc != SQLITE_OK)
        return lira_store__fail(s, rc, "opening");
    /* SQLite silently falls back to read-only when the file is not
     * writable: never report such a file as open for writing. */
    if (!s->readonly && sqlite3_db_readonly(s->db, "main") == 1)
        return lira_store__error(s, LIRA_EDENIED, LIRA_STORE_KREADONLY,
                                 "lira: state file %s is read-only for this user; make it "
                                 "writable (and its folder), or point LIRA_STATE at a "
                                 "writable file", s->path);
    return LIRA_OK;
}

/* A read-only handle cannot migrate: it serves only a file that is already
 * at the schema this build writes. */
static int readonly_version(lira_store *s, int version)
{
    if (version != s->schema)
        return lira_store__error(s, LIRA_ESTATE, LIRA_STORE_KREADONLY,
                                 "lira: state file %s has schema %d and this build needs %d; "
                                 "open it once read-write so lira can migrate it",
                                 s->path, version, s->schema);
    return LIRA_OK;
}

int lira_store_open(lira_store *s, const char *path, const lira_store_options *opt)
{
    if (!s)
        return LIRA_EINVAL;
    s->msg[0] = '\0';
    s->kind = LIRA_STORE_KOK;
    if (s->db)
        return lira_store__error(s, LIRA_ESTATE, LIRA_STORE_KINVAL,
                                 "lira: state store already open on %s", s->path);
    if (!path || !*path)
        return lira_store__error(s, LIRA_EINVAL, LIRA_STORE_KINVAL,
                                 "lira: state store: empty path");
    char *copy = strdup(path);
    if (!copy)
        return lira_store__error(s, LIRA_ENOMEM, LIRA_STORE_KNOMEM, "lira: out of memory");
    free(s->path);
    s->path = copy;
    apply_options(s, opt);
    int version = 0;
    int rc = s->readonly ? LIRA_OK : make_parents(s);
    if (rc == LIRA_OK && !s->readonly)
        rc = make_private_file(s);
    if (rc == LIRA_OK)
        rc = open_db(s);
    if (rc == LIRA_OK)
        rc = lira_store__inspect(s, &version);   /* reads before any write */
    if (rc == LIRA_OK && opt && opt->quick_check)
        rc = lira_store_check(s);
    if (rc == LIRA_OK)
        rc = configure(s, opt);
    if (rc == LIRA_OK && !s->readonly)
        rc = lira_store__migrate(s);
    if (rc == LIRA_OK && s->readonly)
        rc = readonly_version(s, version);
    if (rc != LIRA_OK) {
        char keep[sizeof s->msg];
        memcpy(keep, s->msg, sizeof keep);
        lira_store_close(s);
        memcpy(s->msg, keep, sizeof keep);
    }
    return rc;
}
