/* sandbox_internal.h — what the sandbox's files share with each other.
 *
 * One sb_server per process, passed to every callback as MHD's cls; there is
 * no other global state except the signal-handling in sandbox.c. All mutable
 * state in sb_server (the log ring, the keyed tables, scenario cursors, the
 * rng) is guarded by sb_server.mu. Handlers run in MHD's thread-per-
 * connection threads, so a handler may block (delay, trickle, timeout) but
 * only through sb_sleep_ms(), which wakes at once when the server stops.
 *
 * Caps (all documented in docs/sandbox.md) are the SB_* constants below;
 * reaching one is a 4xx for the request, never a crash. */
#ifndef LIRA_SANDBOX_INTERNAL_H
#define LIRA_SANDBOX_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "core/buf.h"
#include "core/rng.h"

#define SB_BODY_MAX        (1024 * 1024)      /* request body bytes kept */
#define SB_BYTES_MAX       (10 * 1024 * 1024) /* /bytes/{n} */
#define SB_DELAY_MAX_MS    60000              /* /delay, scenario delay_ms */
#define SB_HOLD_MAX_MS     60000              /* /flaky status=timeout */
#define SB_TRICKLE_MAX     (1024 * 1024)      /* /trickle bytes */
#define SB_TRICKLE_MAX_MS  120000             /* /trickle total duration */
#define SB_REDIRECT_MAX    100
#define SB_LOG_CAP         4096               /* log ring entries */
#define SB_KEY_MAX         128                /* bytes of a flaky/ratelimit/idempotency key */
#define SB_KEYS_MAX        4096               /* keys per table */
#define SB_PAGE_TOTAL_MAX  1000000
#define SB_PAGE_SIZE_MAX   1000
#define SB_CONN_MAX        512                /* concurrent connections */

/* ------------------------------------------------------------ state --- */

typedef struct sb_flaky {
    char key[SB_KEY_MAX + 1];
    int64_t seen;              /* requests for this key since the last reset */
} sb_flaky;

typedef struct sb_rate {
    char key[SB_KEY_MAX + 1];
    int64_t window_end_ns;     /* monotonic end of the current window */
    int64_t count;             /* requests in the current window */
    int64_t reset_epoch_s;     /* wall-clock end of the window, epoch s */
} sb_rate;

typedef struct sb_payment {
    char key[SB_KEY_MAX + 1];
    int64_t effects;           /* effects recorded under this key */
    int64_t fail_left;         /* 503s still to answer (fail_first) */
    uint64_t body_hash;        /* FNV-1a of the first request's body */
    int status;                /* the stored response */
    char *body;                /* owned, NUL-terminated JSON */
} sb_payment;

typedef struct sb_table {      /* a capped array of keyed records */
    void *rows;
    size_t stride, len, cap;
} sb_table;

typedef struct sb_step {       /* one scripted response of a scenario route */
    int status;
    int64_t repeat;
    int delay_ms;
    bool reset;                /* close the connection without a response */
    cJSON *headers;            /* owned object of string values, or NULL */
    char *body;                /* owned, or NULL */
    size_t body_len;
    bool body_is_json;
} sb_step;

typedef struct sb_route {
    char *method;              /* owned; NULL = any method */
    char *path;                /* owned; exact match */
    bool cycle;                /* after the last step: restart (else repeat it) */
    sb_step *steps;
    size_t nsteps;
    size_t cur;                /* guarded by sb_server.mu */
    int64_t cur_used;          /* repeats of steps[cur] already served */
    int64_t hits;
} sb_route;

typedef struct sb_scenario {
    sb_route *routes;
    size_t nroutes;
} sb_scenario;

typedef struct sb_server {
    pthread_mutex_t mu;          /* guards everything below it */
    pthread_cond_t  wake;        /* broadcast on stop; sleepers wait on it */
    bool stopping;
    lira_rng rng;
    uint64_t seed;
    uint64_t next_conn_id;
    uint64_t next_seq;           /* the last log seq handed out */
    cJSON *log[SB_LOG_CAP];      /* ring of owned entries; seq = log index + 1 */
    uint64_t log_first;          /* seq of the oldest entry still in the ring */
    uint64_t log_dropped;        /* entries overwritten since the last reset */
    sb_table flaky, rate, pay;
    int64_t pay_unkeyed;         /* effects of POST /payments without a key */
    int64_t pay_unkeyed_seen;    /* requests without a key since reset */
    uint64_t pay_next_id;
    sb_scenario scenario;
    char host[64];               /* "127.0.0.1:PORT", for absolute links */
} sb_server;

/* ---------------------------------------------------------- request --- */

typedef struct sb_req {
    sb_server *srv;
    struct MHD_Connection *conn;
    char *uri;                   /* owned raw request-target, query included */
    const char *query;           /* into uri, after '?', or "" */
    const char *method;
    const char *path;            /* MHD's decoded path */
    lira_buf body;               /* the first SB_BODY_MAX bytes; p NULL, or NUL-terminated */
    uint64_t body_total;         /* bytes received */
    bool started;
    uint64_t conn_id;
    int64_t t_ns;                /* monotonic arrival of the complete request */
} sb_req;

/* ------------------------------------------------------ sandbox_state.c */

int  sb_state_init(sb_server *s, uint64_t seed);
void sb_state_free(sb_server *s);
/* Clear the log, the tables and the scenario cursors. Caller holds no lock. */
void sb_state_reset(sb_server *s);
/* Append the request to the log ring (drops the oldest when full). */
void sb_log_request(sb_server *s, sb_req *r);
/* A new JSON document of the entries with seq > since (the oldest `limit`
 * of them): {"entries":[...], "last": seq of the last entry returned (or
 * newest when none), "newest", "first" (oldest kept), "dropped",
 * "capacity"}. NULL when out of memory. */
cJSON *sb_log_snapshot(sb_server *s, uint64_t since, uint64_t limit);
/* Find the row whose key equals `key` or, when `create`, append a zeroed row
 * with it. NULL when absent (or the table is full). Caller holds s->mu. */
void *sb_table_get(sb_table *t, const char *key, bool create);
/* Sleep up to ms, waking early when the server stops. Returns 0 after the
 * full sleep, -1 when stopping. */
int  sb_sleep_ms(sb_server *s, int64_t ms);
bool sb_stopping(sb_server *s);

/* ------------------------------------------------------- sandbox_http.c */

/* Queue a response with a copy of body; headers is a NULL-terminated list of
 * name, value pairs (or NULL). Returns what MHD_queue_response returned. */
enum MHD_Result sb_reply(sb_req *r, unsigned status, const char *ctype,
                         const char *body, size_t len, const char *const *headers);
/* Queue `doc` (consumed) as application/json. */
enum MHD_Result sb_reply_json(sb_req *r, unsigned status, cJSON *doc,
                              const char *const *headers);
/* Queue {"error": msg, "status": status}. */
enum MHD_Result sb_reply_error(sb_req *r, unsigned status, const char *msg);
/* A query parameter (decoded), or NULL. */
const char *sb_arg(sb_req *r, const char *name);
/* Parse a query parameter as an integer in [lo, hi]; *out = dflt when
 * absent. Returns 0, or -1 when present but not such an integer. */
int sb_arg_int(sb_req *r, const char *name, int64_t lo, int64_t hi, int64_t dflt, int64_t *out);
/* Parse all of s (decimal, optional leading '-') as an integer in [lo, hi]. */
int sb_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out);
/* The path segment after `prefix` (e.g. "/status/"), or NULL when the path
 * does not start with it. The segment may contain further slashes. */
const char *sb_path_tail(const sb_req *r, const char *prefix);
/* The request headers as a JSON object (repeated names joined by ", "). */
cJSON *sb_headers_json(struct MHD_Connection *c, enum MHD_ValueKind kind);
/* ?retry_after=N (delay-seconds) or ?retry_after=date:+N (an IMF-fixdate N
 * seconds ahead) into buf (>= 32 bytes); "" when absent. -1 when malformed. */
int sb_retry_after_value(sb_req *r, char *buf, size_t cap);
/* IMF-fixdate of wall-clock now + delta_s into buf (>= 30 bytes). */
int sb_http_date(int64_t delta_s, char *buf, size_t cap);
/* Monotonic and wall time, ns. */
int64_t sb_now_ns(void);
int64_t sb_wall_ns(void);

/* ----------------------------------------------------- route handlers --- */
/* Each returns the MHD result of answering r, or MHD_NO to drop the
 * connection without a response. */
enum MHD_Result sb_route_dispatch(sb_req *r);
/* Close the connection with a TCP RST and no response. */
enum MHD_Result sb_drop_connection(sb_req *r);
enum MHD_Result sb_route_anything(sb_req *r);
enum MHD_Result sb_route_status(sb_req *r);
enum MHD_Result sb_route_flaky(sb_req *r);
enum MHD_Result sb_route_delay(sb_req *r);
enum MHD_Result sb_route_trickle(sb_req *r);
enum MHD_Result sb_route_bytes(sb_req *r);
enum MHD_Result sb_route_redirect(sb_req *r);
enum MHD_Result sb_route_json_invalid(sb_req *r);
enum MHD_Result sb_route_headers(sb_req *r);
enum MHD_Result sb_route_ratelimit(sb_req *r);
enum MHD_Result sb_route_paginate(sb_req *r);
enum MHD_Result sb_route_payments(sb_req *r);
enum MHD_Result sb_route_effects(sb_req *r);

/* --------------------------------------------------- sandbox_scenario.c */

/* Load a scenario file into s->scenario. Returns 0, or -1 with a message
 * (naming the file and the problem) written into err. */
int  sb_scenario_load(sb_server *s, const char *file, char *err, size_t errcap);
void sb_scenario_free(sb_scenario *sc);
/* Rewind every route's cursor. Caller holds s->mu. */
void sb_scenario_rewind(sb_scenario *sc);
/* Answer r from the scenario when a route matches: sets *handled. */
enum MHD_Result sb_scenario_serve(sb_req *r, bool *handled);

#endif
