/* sandbox_routes_fault.c — endpoints that misbehave on purpose: /flaky (fail
 * N times by status, reset or hang), /trickle (a slow body) and /bytes (a
 * large seeded body, streamed so that it costs no big allocation). */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/rng.h"

#include "sandbox/sandbox_internal.h"

/* ------------------------------------------------------------ /flaky --- */

typedef enum { FAIL_STATUS, FAIL_RESET, FAIL_TIMEOUT } fail_mode;

/* Drop the connection with a TCP RST (SO_LINGER 0) rather than a FIN, so
 * the client sees "connection reset", the way a crashing upstream looks. */
enum MHD_Result sb_drop_connection(sb_req *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci != NULL) {
        struct linger lg = { 1, 0 };
        setsockopt(ci->connect_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    return MHD_NO;
}

static int parse_fail_mode(const char *v, fail_mode *mode, int64_t *status)
{
    *status = 503;
    *mode = FAIL_STATUS;
    if (v == NULL) return 0;
    if (strcmp(v, "reset") == 0) { *mode = FAIL_RESET; return 0; }
    if (strcmp(v, "timeout") == 0) { *mode = FAIL_TIMEOUT; return 0; }
    return sb_parse_int(v, 400, 599, status);
}

/* ?p=X: a probability in [0, 1], strictly parsed. -1 when absent, -2 when
 * malformed. */
static double parse_p(const char *v)
{
    if (v == NULL) return -1;
    char *end = NULL;
    double p = strtod(v, &end);
    if (end == v || *end != '\0' || !(p >= 0.0 && p <= 1.0)) return -2;
    return p;
}

/* The attempt number of this request for key (1-based), or -1 when the
 * table is full. With p >= 0, *fail_now is a seeded coin flip (so --seed
 * makes a run of random failures repeatable); else attempt <= fail. */
static int64_t flaky_attempt(sb_server *s, const char *key, double p, int64_t fail,
                             bool *fail_now)
{
    pthread_mutex_lock(&s->mu);
    sb_flaky *row = sb_table_get(&s->flaky, key, true);
    int64_t n = row != NULL ? ++row->seen : -1;
    *fail_now = p >= 0 ? lira_rng_uniform(&s->rng) < p : n <= fail;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static enum MHD_Result flaky_fail(sb_req *r, fail_mode mode, int64_t status,
                                  int64_t hold_ms, const char *ra, cJSON *doc)
{
    if (mode == FAIL_RESET) { cJSON_Delete(doc); return sb_drop_connection(r); }
    if (mode == FAIL_TIMEOUT) {
        /* Hold the request (bounded), then drop it: no client waits this
         * long, and a stopping server lets go at once. */
        cJSON_Delete(doc);
        sb_sleep_ms(r->srv, hold_ms);
        return MHD_NO;
    }
    cJSON_AddBoolToObject(doc, "failed", 1);
    const char *hdrs[] = { "Retry-After", ra, NULL };
    return sb_reply_json(r, (unsigned)status, doc, ra[0] != '\0' ? hdrs : NULL);
}

enum MHD_Result sb_route_flaky(sb_req *r)
{
    const char *key = sb_path_tail(r, "/flaky/");
    int64_t fail, status, hold_ms;
    fail_mode mode;
    char ra[64];
    if (key[0] == '\0' || strlen(key) > SB_KEY_MAX)
        return sb_reply_error(r, 400, "key must be 1..128 bytes");
    if (sb_arg_int(r, "fail", 0, INT32_MAX, 1, &fail) != 0)
        return sb_reply_error(r, 400, "fail must be an integer >= 0");
    if (parse_fail_mode(sb_arg(r, "status"), &mode, &status) != 0)
        return sb_reply_error(r, 400, "status must be 400..599, reset or timeout");
    if (sb_arg_int(r, "hold_ms", 0, SB_HOLD_MAX_MS, SB_HOLD_MAX_MS, &hold_ms) != 0)
        return sb_reply_error(r, 400, "hold_ms must be an integer 0..60000");
    if (sb_retry_after_value(r, ra, sizeof ra) != 0)
        return sb_reply_error(r, 400, "retry_after must be N or date:+N");
    double p = parse_p(sb_arg(r, "p"));
    if (p < -1.5) return sb_reply_error(r, 400, "p must be a probability 0..1");
    bool fail_now = false;
    int64_t attempt = flaky_attempt(r->srv, key, p, fail, &fail_now);
    if (attempt < 0) return sb_reply_error(r, 507, "too many keys; POST /_reset");
    cJSON *doc = cJSON_CreateObject();
    if (doc == NULL) return sb_reply_error(r, 500, "out of memory");
    cJSON_AddStringToObject(doc, "key", key);
    cJSON_AddNumberToObject(doc, "attempt", (double)attempt);
    if (fail_now) return flaky_fail(r, mode, status, hold_ms, ra, doc);
    cJSON_AddBoolToObject(doc, "failed", 0);
    return sb_reply_json(r, 200, doc, NULL);
}

/* ---------------------------------------------------------- /trickle --- */

typedef struct trickle {
    sb_server *srv;
    uint64_t total, chunk;
    int64_t interval_ms;
} trickle;

static ssize_t trickle_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    trickle *t = cls;
    if (pos >= t->total) return MHD_CONTENT_READER_END_OF_STREAM;
    /* MHD asks for more only once what it had is sent, so each sleep sits
     * between two chunks on the wire. */
    if (pos > 0 && sb_sleep_ms(t->srv, t->interval_ms) != 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    uint64_t n = t->total - pos;
    if (n > t->chunk) n = t->chunk;
    if (n > max) n = max;
    memset(buf, '*', (size_t)n);
    return (ssize_t)n;
}

enum MHD_Result sb_route_trickle(sb_req *r)
{
    int64_t bytes, interval, chunk;
    if (sb_arg_int(r, "bytes", 0, SB_TRICKLE_MAX, 64, &bytes) != 0 ||
        sb_arg_int(r, "interval_ms", 0, SB_DELAY_MAX_MS, 100, &interval) != 0 ||
        sb_arg_int(r, "chunk", 1, SB_TRICKLE_MAX, 1, &chunk) != 0)
        return sb_reply_error(r, 400, "bytes 0..1048576, interval_ms 0..60000, chunk >= 1");
    int64_t chunks = (bytes + chunk - 1) / chunk;
    if (chunks > 1 && (chunks - 1) * interval > SB_TRICKLE_MAX_MS)
        return sb_reply_error(r, 400, "trickle would take more than 120 s");
    trickle *t = malloc(sizeof *t);
    if (t == NULL) return sb_reply_error(r, 500, "out of memory");
    *t = (trickle){ r->srv, (uint64_t)bytes, (uint64_t)chunk, interval };
    struct MHD_Response *resp = MHD_create_response_from_callback(
        (uint64_t)bytes, 4096, trickle_read, t, free);
    if (resp == NULL) { free(t); return MHD_NO; }
    MHD_add_response_header(resp, "Content-Type", "application/octet-stream");
    enum MHD_Result ret = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* ------------------------------------------------------------ /bytes --- */

typedef struct bytes_src {
    uint64_t seed;
    uint64_t total;
} bytes_src;

/* splitmix64 of the 8-byte block index: byte p of the body depends only on
 * (seed, p), however MHD happens to slice the reads. */
static uint64_t block_word(uint64_t seed, uint64_t block)
{
    uint64_t z = seed + (block + 1) * UINT64_C(0x9E3779B97F4A7C15);
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static ssize_t bytes_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    bytes_src *b = cls;
    if (pos >= b->total) return MHD_CONTENT_READER_END_OF_STREAM;
    uint64_t n = b->total - pos;
    if (n > max) n = max;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t p = pos + i;
        buf[i] = (char)(block_word(b->seed, p / 8) >> (8 * (p % 8)));
    }
    return (ssize_t)n;
}

enum MHD_Result sb_route_bytes(sb_req *r)
{
    int64_t n, seed;
    if (sb_parse_int(sb_path_tail(r, "/bytes/"), 0, SB_BYTES_MAX, &n) != 0)
        return sb_reply_error(r, 400, "n must be an integer 0..10485760");
    if (sb_arg_int(r, "seed", 0, INT64_MAX, (int64_t)(r->srv->seed & INT64_MAX), &seed) != 0)
        return sb_reply_error(r, 400, "seed must be an integer >= 0");
    bytes_src *b = malloc(sizeof *b);
    if (b == NULL) return sb_reply_error(r, 500, "out of memory");
    b->seed = (uint64_t)seed;
    b->total = (uint64_t)n;
    struct MHD_Response *resp = MHD_create_response_from_callback(
        (uint64_t)n, 32 * 1024, bytes_read, b, free);
    if (resp == NULL) { free(b); return MHD_NO; }
    MHD_add_response_header(resp, "Content-Type", "application/octet-stream");
    enum MHD_Result ret = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}
