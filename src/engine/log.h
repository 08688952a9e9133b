/* log.h — structured log lines: JSON (or plain text for a terminal), whole
 * lines in one write(2) each (or a loop turn's lines in one, see Batching),
 * secrets redacted, repeated warnings rate-limited.
 *
 * A lira_log belongs to one thread (the engine's loop): it formats into its
 * own line buffer, so two threads must not share one. Several processes or
 * logs may append to the same file: a line never spans two write(2) calls
 * on the O_APPEND descriptor, which POSIX keeps whole.
 *
 * Lines (docs/observability.md lists every field):
 *   {"ts":"2024-05-01T12:00:00.123Z","level":"info","msg":"...",<fields>}
 * ts is RFC 3339 UTC with milliseconds, from the wall-clock time the caller
 * passes. Fields keep the caller's order. A line longer than the cap drops
 * the fields that do not fit and ends with "truncated":true; it is never cut
 * inside a value.
 *
 * Secrets. Nothing here ever sees a body. A URL field (LIRA_LOGF_URL) goes
 * through lira_redact_url. A field marked LIRA_LOGF_CHECK (values that came
 * from a user, e.g. lira.log.info's table) whose key names a secret header
 * (lira_redact_header_is_secret with the log's deny list: authorization,
 * cookie, anything with token/secret/password...) is written as "REDACTED",
 * and a CHECK string field named "url" or "*_url" is redacted as a URL.
 *
 * Rate limiting. Lines at warn and error are grouped by a key: the level,
 * the message and the values of the fields marked LIRA_LOGF_DEDUPE (all
 * fields of a CHECK line when none is marked). Per key, at most `burst` lines
 * are written per window; the rest are counted, and the next line written for
 * that key carries "suppressed":N. Keys live in a fixed table (`max_keys`):
 * when it is full the stalest key is forgotten (its pending count is lost
 * from the lines but stays in the stats). Debug and info are never dropped. */
#ifndef LIRA_LOG_H
#define LIRA_LOG_H

#include <stddef.h>
#include <stdint.h>

typedef enum lira_log_level {
    LIRA_LOG_DEBUG = 0,
    LIRA_LOG_INFO,
    LIRA_LOG_WARN,
    LIRA_LOG_ERROR,
    LIRA_LOG_OFF        /* as a threshold: write nothing */
} lira_log_level;

typedef enum lira_log_format {
    LIRA_LOG_JSON = 0,
    LIRA_LOG_TEXT       /* "ts LEVEL msg key=value ..." for humans */
} lira_log_format;

#define LIRA_LOG_MAX_DENY 64          /* deny-list entries */
#define LIRA_LOG_MIN_LINE 512         /* smallest line cap, bytes */
#define LIRA_LOG_MAX_LINE (1 << 20)   /* largest line cap, bytes */
#define LIRA_LOG_MAX_FLUSH_MS 10000   /* longest flush_ns, ms */

typedef struct lira_log_options {
    lira_log_level level;          /* threshold; default info */
    lira_log_format format;        /* default JSON */
    const char *path;              /* append to this file; NULL = write to fd */
    int fd;                        /* used when path is NULL; default 2 (not closed) */
    const char *const *deny;       /* extra secret header/field names (copied) */
    size_t ndeny;                  /* 0..LIRA_LOG_MAX_DENY */
    size_t max_line;               /* line cap, bytes; default 8192 */
    int64_t ratelimit_window_ns;   /* default 10 s; 0 = no rate limiting */
    uint32_t ratelimit_burst;      /* lines per key per window; default 5 */
    uint32_t ratelimit_keys;       /* keys remembered; default 256, max 65536 */
    int64_t flush_ns;              /* how long a batch's lines may wait after it ends
                                      (Batching); default 20 ms, 0..10 s */
} lira_log_options;

/* The defaults above. LIRA_EINVAL for NULL. */
int lira_log_options_default(lira_log_options *o);

/* The defaults, then the environment: LIRA_LOG_LEVEL (debug, info, warn,
 * warning, error, off; any case), LIRA_LOG_FILE (a path), LIRA_LOG_FORMAT
 * (json, text), LIRA_LOG_FLUSH_MS (whole milliseconds, 0..10000). The strings
 * point into the environment. LIRA_EPARSE when a variable holds something
 * else (that setting keeps its default, the rest are applied); LIRA_EINVAL
 * for NULL. */
int lira_log_options_from_env(lira_log_options *o);

/* "debug" ... "error", "off" -> level; any case. LIRA_EPARSE / LIRA_EINVAL. */
int lira_log_level_parse(const char *s, lira_log_level *out);
const char *lira_log_level_name(lira_log_level lv);   /* "info"; "?" when bad */

typedef struct lira_log lira_log;

/* Open a log (copies every string of `o`; NULL = the defaults). With a path
 * the file is opened O_APPEND|O_CREAT (0644). LIRA_EINVAL (bad options),
 * LIRA_ENOMEM, LIRA_ESTATE (the file cannot be opened; errno says why).
 * *out is set only on LIRA_OK. */
int lira_log_new(const lira_log_options *o, lira_log **out);

/* Close the file (not a caller's fd) and free. NULL is a no-op. */
void lira_log_free(lira_log *l);

/* Reopen the file by its path (after logrotate; SIGHUP). The old descriptor
 * is kept when the new open fails (LIRA_ESTATE). LIRA_OK without a path. */
int lira_log_reopen(lira_log *l);

void lira_log_set_level(lira_log *l, lira_log_level lv);
lira_log_level lira_log_get_level(const lira_log *l);   /* OFF for NULL */

/* Batching. Between lira_log_batch(l, 1) and lira_log_batch(l, 0) (they
 * nest; the engine's telemetry brackets every loop turn with them), debug and
 * info lines wait in the log's buffer and leave together, whole, in one
 * write(2) (or earlier, when the batch is full: 16 KiB for a regular file,
 * PIPE_BUF for a pipe, socket or terminal, so that a batch is never split by
 * another writer). With flush_ns == 0 they leave when the batch ends. With
 * flush_ns > 0 they stay after it, so that the lines of many short batches
 * (a loop turn per call at low concurrency) share one write: the owner
 * calls lira_log_flush at most flush_ns after lira_log_waiting turned
 * non-zero (the telemetry hub arms a timer). A warn or error line first
 * writes the waiting lines and then itself, at once; so does any line
 * outside a batch. lira_log_flush writes what waits now (free and reopen do
 * it too); LIRA_ESTATE when write(2) failed. */
void lira_log_batch(lira_log *l, int begin);
int lira_log_flush(lira_log *l);
size_t lira_log_waiting(const lira_log *l);      /* bytes of whole lines waiting */
int64_t lira_log_flush_ns(const lira_log *l);    /* the option; 0 for NULL */

/* Whether a line at `lv` would be written (check before building fields). */
int lira_log_enabled(const lira_log *l, lira_log_level lv);

/* ------------------------------------------------------------ lines */

enum {
    LIRA_LOGF_STR = 0,   /* v.s (v.len bytes, or strlen when len == SIZE_MAX) */
    LIRA_LOGF_INT,       /* v.i */
    LIRA_LOGF_NUM,       /* v.d; NaN and infinities are written as null */
    LIRA_LOGF_BOOL,      /* v.i != 0 */
    LIRA_LOGF_URL,       /* v.s, written through lira_redact_url */
    LIRA_LOGF_JSON,      /* v.s is already valid JSON (an encoded table) */
    LIRA_LOGF_MICROS,    /* v.i microseconds, written as milliseconds (2130 -> 2.13) */
    /* v.s (v.len bytes) is a run of ,"key":value pairs already written by
     * lira_log_render_pairs: copied as is (the key, non-NULL as for every
     * field, is not written). JSON lines only (a text line leaves it out):
     * check lira_log_is_json first. */
    LIRA_LOGF_PAIRS
};

enum {
    LIRA_LOGF_DEDUPE = 1,   /* part of the rate-limit key */
    LIRA_LOGF_CHECK = 2,    /* a user's field: redact by key (see the top) */
    /* For the engine's own lines, written for every call: the key (and, with
     * PLAIN, a STR value) is printable ASCII without '"' or '\\', so it is
     * copied without escaping (the text format still quotes a PLAIN value
     * with spaces). Breaking the promise breaks the line: only for literal
     * keys and values the engine itself produced (hex ids, enum names);
     * lira_telemetry_log_user clears both on a user's fields. */
    LIRA_LOGF_KEYOK = 4,
    LIRA_LOGF_PLAIN = 8
};

typedef struct lira_log_field {
    const char *key;         /* NULL: the field is skipped (optional fields) */
    unsigned char type;      /* LIRA_LOGF_STR ... */
    unsigned char flags;     /* LIRA_LOGF_DEDUPE | LIRA_LOGF_CHECK | ... */
    uint16_t klen;           /* strlen(key) when known (a literal); 0 = count it */
    const char *s;           /* STR, URL, JSON; NULL: the field is skipped */
    size_t len;              /* of s; SIZE_MAX = NUL-terminated */
    int64_t i;               /* INT, BOOL */
    double d;                /* NUM */
} lira_log_field;

/* Write one line at `lv`: `now_ns` (monotonic) drives the rate limiter,
 * `wall_ns` (epoch) gives ts. Keys are written as given (escaped); a key of
 * a CHECK field must be 1..128 bytes. Returns LIRA_OK when written,
 * LIRA_EDENIED when filtered by level or suppressed by the rate limiter,
 * LIRA_EINVAL (NULL l/msg, fields NULL with n > 0), LIRA_ESTATE (write(2)
 * failed; counted in the stats; in a batch, the failure may be found when
 * the batch goes out). Never allocates. */
int lira_log_write(lira_log *l, lira_log_level lv, int64_t now_ns, int64_t wall_ns,
                   const char *msg, const lira_log_field *fields, size_t n);

/* One already-rendered piece of a JSON line: object members, each piece
 * starting with a comma (,"client":"shop",...). */
typedef struct lira_log_piece {
    const char *s;
    size_t len;
} lira_log_piece;

/* Write the JSON line {"ts":..,"level":..,"msg":"<msg>"<pieces>}: for lines
 * a caller renders itself because it writes the same shape for every call
 * (telemetry's call line: its head and its tail), without the dispatch per
 * field of lira_log_write. msg is written unescaped: a literal that needs
 * none ("call"). The pieces are copied as they are (the caller escaped
 * them). Below warn only (no rate limit applies), JSON logs only:
 * LIRA_EINVAL otherwise, or for a NULL l, msg or pieces. LIRA_ERANGE when
 * the line would not fit max_line whole (nothing written: the caller writes
 * it the generic way, which shortens it). Otherwise as lira_log_write
 * (LIRA_EDENIED below the level; batching, stats). */
int lira_log_write_rendered(lira_log *l, lira_log_level lv, int64_t wall_ns, const char *msg,
                            const lira_log_piece *pieces, size_t n);

/* Whether lines are JSON (not the text format); 0 for NULL. */
int lira_log_is_json(const lira_log *l);

/* How a LIRA_LOGF_MICROS value is written: us microseconds as milliseconds
 * with at most 3 decimals (2130 -> 2.13, 2000 -> 2, -500 -> -0.5), into out
 * (26 bytes at least, no NUL); returns the length. For pairs rendered by
 * hand that must read as the log's own. */
size_t lira_log_micros(int64_t us, char *out);

/* Write fields as the run of ,"key":value pairs a JSON line would carry
 * (what a LIRA_LOGF_PAIRS field then copies, for fields that repeat line
 * after line) into out[0..cap). Returns the length; 0 when l is NULL or not
 * JSON, or when they do not fit whole. */
size_t lira_log_render_pairs(lira_log *l, const lira_log_field *f, size_t n, char *out,
                             size_t cap);

typedef struct lira_log_stats {
    uint64_t lines;         /* written */
    uint64_t suppressed;    /* dropped by the rate limiter */
    uint64_t truncated;     /* lines that lost fields to the cap */
    uint64_t write_errors;
} lira_log_stats;

void lira_log_get_stats(const lira_log *l, lira_log_stats *out);

/* Format ts for `wall_ns` (epoch ns, >= 0) as "YYYY-MM-DDTHH:MM:SS.mmmZ".
 * out needs 25 bytes. LIRA_EINVAL for NULL, cap < 25 or a negative time. */
int lira_log_format_ts(int64_t wall_ns, char *out, size_t cap);

#endif
