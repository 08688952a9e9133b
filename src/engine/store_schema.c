/* store_schema.c — the schema of lira's state file and its forward
 * migrations.
 *
 * PRAGMA user_version is the number of steps applied; application_id marks
 * the file as lira's, so lira never writes into another program's SQLite
 * file that LIRA_STATE happens to point at. Steps only ever get appended:
 * a released step is never edited (a file that ran it would not run it
 * again). Each step runs in its own transaction together with the bump of
 * user_version, so a crash leaves the file at a whole step. */
#include "store_internal.h"

#include <string.h>

#define LIRA_APP_ID 0x6c697261   /* "lira" */

static const char *const steps[LIRA_STORE_SCHEMA] = {
    /* 1: checkpoints, kv, idempotency journal, stale-response cache */
    "PRAGMA application_id=1818849889;"
    "CREATE TABLE checkpoint ("
    "  name TEXT PRIMARY KEY, value BLOB NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE TABLE kv ("
    "  ns TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,"
    "  updated_at INTEGER NOT NULL, expires_at INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (ns, key));"
    "CREATE INDEX kv_expiry ON kv(expires_at) WHERE expires_at > 0;"
    "CREATE TABLE idempotency ("
    "  scope TEXT NOT NULL, id TEXT NOT NULL, key TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
    "  done INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (scope, id));"
    "CREATE INDEX idempotency_expiry ON idempotency(expires_at);"
    "CREATE TABLE response_cache ("
    "  client TEXT NOT NULL, method TEXT NOT NULL, url TEXT NOT NULL,"
    "  status INTEGER NOT NULL, headers BLOB NOT NULL, body BLOB NOT NULL,"
    "  stored_at INTEGER NOT NULL, size INTEGER NOT NULL,"
    "  PRIMARY KEY (client, method, url));"
    "CREATE INDEX response_cache_age ON response_cache(client, stored_at);"
    /* Per-client totals kept by triggers, so the caps cost O(1) per put. */
    "CREATE TABLE response_cache_usage ("
    "  client TEXT PRIMARY KEY, rows INTEGER NOT NULL, bytes INTEGER NOT NULL);"
    "CREATE TRIGGER response_cache_ins AFTER INSERT ON response_cache BEGIN"
    "  INSERT INTO response_cache_usage(client, rows, bytes) VALUES (NEW.client, 1, NEW.size)"
    "  ON CONFLICT(client) DO UPDATE SET rows = rows + 1, bytes = bytes + NEW.size;"
    "END;"
    "CREATE TRIGGER response_cache_del AFTER DELETE ON response_cache BEGIN"
    "  UPDATE response_cache_usage SET rows = rows - 1, bytes = bytes - OLD.size"
    "  WHERE client = OLD.client;"
    "END;"
    "CREATE TRIGGER response_cache_upd AFTER UPDATE OF size ON response_cache BEGIN"
    "  UPDATE response_cache_usage SET bytes = bytes - OLD.size + NEW.size"
    "  WHERE client = NEW.client;"
    "END;"
    "PRAGMA user_version=1;",

    /* 2: the webhook inbox. AUTOINCREMENT: a seq is never reused, even after
     * the newest rows were purged, so a seq held by the loop or the CLI can
     * never name another event. */
    "CREATE TABLE inbox ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  route TEXT NOT NULL, event_id TEXT NOT NULL,"
    "  headers BLOB NOT NULL, body BLOB NOT NULL, received_at INTEGER NOT NULL,"
    "  state INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_at INTEGER NOT NULL, last_error TEXT NOT NULL DEFAULT '',"
    "  done_at INTEGER NOT NULL DEFAULT 0,"
    "  UNIQUE (route, event_id));"
    "CREATE INDEX inbox_state ON inbox(state, next_at);"
    "PRAGMA user_version=2;",

    /* 3: the pending events of a route in seq order. The loop asks for a
     * route's oldest due event after every delivery; through inbox_state
     * that read every due row of the backlog and sorted it (a backlog of
     * 200k cost ~ms per event). Partial: done events, most of the table
     * for the 3 days of retention, are not in it. */
    "CREATE INDEX inbox_due ON inbox(route, seq) WHERE state = 0;"
    "PRAGMA user_version=3;",
};

static int read_int(lira_store *s, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? LIRA_OK : lira_store__fail(s, rc, "reading the schema");
}

int lira_store__inspect(lira_store *s, int *version)
{
    int64_t app = 0, ver = 0, objects = 0;
    int rc = read_int(s, "PRAGMA application_id", &app);
    if (rc == LIRA_OK)
        rc = read_int(s, "PRAGMA user_version", &ver);
    if (rc == LIRA_OK)
        rc = read_int(s, "SELECT count(*) FROM sqlite_master", &objects);
    if (rc != LIRA_OK)
        return rc;
    if (app != LIRA_APP_ID && (app != 0 || ver != 0 || objects != 0))
        return lira_store__error(s, LIRA_ESTATE, LIRA_STORE_KFOREIGN,
            "lira: %s is a SQLite file that lira did not create (application_id %lld, "
            "user_version %lld, %lld schema objects); lira will not write into it: "
            "point LIRA_STATE at another file",
            s->path, (long long)app, (long long)ver, (long long)objects);
    if (ver > LIRA_STORE_SCHEMA)
        return lira_store__error(s, LIRA_ESTATE, LIRA_STORE_KNEWER,
            "lira: state file %s was written by a newer lira (schema %lld, this build "
            "knows %d); upgrade lira or point LIRA_STATE at another file",
            s->path, (long long)ver, LIRA_STORE_SCHEMA);
    if (ver < 0)
        return lira_store__error(s, LIRA_EPARSE, LIRA_STORE_KCORRUPT,
            "lira: state file %s has a negative schema version (%lld); lira left it "
            "untouched: restore a backup or point LIRA_STATE at another file",
            s->path, (long long)ver);
    *version = (int)ver;
    return LIRA_OK;
}

static int exec(lira_store *s, const char *sql, const char *doing)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? LIRA_OK : lira_store__fail(s, rc, doing);
}

/* One transaction: re-read the version under the write lock (another
 * process may have migrated meanwhile), then run the next step, if any.
 * *more says whether a step ran. */
static int step_once(lira_store *s, int target, int *version, int *more)
{
    int rc = exec(s, "BEGIN IMMEDIATE", "taking the write lock");
    if (rc != LIRA_OK)
        return rc;
    rc = lira_store__inspect(s, version);
    *more = rc == LIRA_OK && *version < target;
    if (*more)
        rc = exec(s, steps[*version], "migrating the schema");
    if (rc == LIRA_OK)
        rc = exec(s, "COMMIT", "committing the schema");
    if (rc != LIRA_OK) {
        char keep[sizeof s->msg];
        int kind = s->kind, status = s->status;
        memcpy(keep, s->msg, sizeof keep);
        if (!sqlite3_get_autocommit(s->db))
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        memcpy(s->msg, keep, sizeof keep);
        s->kind = kind;
        s->status = status;
        return rc;
    }
    if (*more)
        (*version)++;
    return LIRA_OK;
}

int lira_store__migrate(lira_store *s)
{
    int target = s->schema, version = 0, more = 1, rc = LIRA_OK;
    while (more && rc == LIRA_OK)
        rc = step_once(s, target, &version, &more);
    if (rc == LIRA_OK)
        s->schema = version;
    return rc;
}
