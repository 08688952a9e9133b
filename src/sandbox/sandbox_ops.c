/* sandbox_ops.c — an asynchronous operation API (the "202 Accepted + poll
 * the status URL" pattern), so that a client's await can be tested against
 * what the server really saw: how many operations were started, how often
 * and how soon each was polled.
 *
 *   POST /ops?polls=N[&retry_after=S][&then=200|303][&header=H][&absolute=1]
 *       -> 202 {"id","status":"running","polls":0,"href"} + Location
 *   GET  /ops/{id}         -> the first N polls: 202 running; then the final
 *                             answer: 200 succeeded, or 303 to .../result
 *   GET  /ops/{id}/result  -> 200 {"id","result"} once the operation is done
 *
 * State: sb_server has no slot for this file's state and sandbox_internal.h
 * belongs to another module, so (as in sandbox_oauth.c) it is one static
 * ring of SB_OPS_MAX operations — the sandbox runs one server per process —
 * only touched with sb_server.mu held. Ids keep counting for the life of
 * the process, so POST /_reset (which does not clear this ring) can never
 * make an old id name a new operation; the oldest operation is forgotten
 * (404) when a newer one needs its slot. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sandbox/sandbox_ops.h"

#define SB_OPS_MAX        1024     /* operations remembered (a ring) */
#define SB_OPS_POLLS_MAX  100000
#define SB_OPS_RA_MAX     3600     /* seconds of Retry-After */

enum { HDR_LOCATION = 1, HDR_OPERATION = 2 };

typedef struct sb_op {
    uint64_t id;                   /* 0 = free slot */
    int64_t polls_needed;          /* 202s before the final answer */
    int64_t polls_seen;
    int64_t retry_after;           /* seconds, -1 = no header */
    int then;                      /* 200 or 303 */
    int header;                    /* HDR_* bits */
    bool absolute;                 /* absolute URLs in Location */
} sb_op;

typedef struct sb_ops {
    sb_op ops[SB_OPS_MAX];
    uint64_t next_id;
} sb_ops;

static sb_ops OPS;   /* guarded by sb_server.mu (see the top of the file) */

/* The status URL of op (absolute when it asks for it) into buf. */
static void op_href(const sb_req *r, const sb_op *op, const char *suffix, char *buf, size_t cap)
{
    if (op->absolute)
        snprintf(buf, cap, "http://%s/ops/op_%llu%s", r->srv->host,
                 (unsigned long long)op->id, suffix);
    else
        snprintf(buf, cap, "/ops/op_%llu%s", (unsigned long long)op->id, suffix);
}

static cJSON *op_doc(const sb_op *op, const char *status, const char *href)
{
    char id[32];
    snprintf(id, sizeof id, "op_%llu", (unsigned long long)op->id);
    cJSON *doc = cJSON_CreateObject();
    if (doc == NULL) return NULL;
    cJSON_AddStringToObject(doc, "id", id);
    cJSON_AddStringToObject(doc, "status", status);
    cJSON_AddNumberToObject(doc, "polls", (double)op->polls_seen);
    if (href != NULL) cJSON_AddStringToObject(doc, "href", href);
    return doc;
}

/* 202 with the polling headers op asks for. */
static enum MHD_Result reply_running(sb_req *r, const sb_op *op)
{
    char href[160], ra[24];
    op_href(r, op, "", href, sizeof href);
    const char *hdrs[7] = { NULL };
    size_t n = 0;
    if (op->header & HDR_LOCATION) { hdrs[n++] = "Location"; hdrs[n++] = href; }
    if (op->header & HDR_OPERATION) { hdrs[n++] = "Operation-Location"; hdrs[n++] = href; }
    if (op->retry_after >= 0) {
        snprintf(ra, sizeof ra, "%lld", (long long)op->retry_after);
        hdrs[n++] = "Retry-After";
        hdrs[n++] = ra;
    }
    return sb_reply_json(r, 202, op_doc(op, "running", href), hdrs);
}

static int parse_header_mode(const char *v)
{
    if (v == NULL || strcasecmp(v, "location") == 0) return HDR_LOCATION;
    if (strcasecmp(v, "operation-location") == 0) return HDR_OPERATION;
    if (strcasecmp(v, "both") == 0) return HDR_LOCATION | HDR_OPERATION;
    return -1;
}

static enum MHD_Result ops_start(sb_req *r)
{
    int64_t polls, ra, then, absolute;
    int header = parse_header_mode(sb_arg(r, "header"));
    if (sb_arg_int(r, "polls", 0, SB_OPS_POLLS_MAX, 3, &polls) != 0 ||
        sb_arg_int(r, "retry_after", 0, SB_OPS_RA_MAX, -1, &ra) != 0 ||
        sb_arg_int(r, "then", 200, 303, 200, &then) != 0 || (then != 200 && then != 303) ||
        sb_arg_int(r, "absolute", 0, 1, 0, &absolute) != 0 || header < 0)
        return sb_reply_error(r, 400, "polls must be 0..100000, retry_after 0..3600, "
                                      "then 200 or 303, header location, "
                                      "operation-location or both, absolute 0 or 1");
    sb_server *s = r->srv;
    pthread_mutex_lock(&s->mu);
    uint64_t id = ++OPS.next_id;
    sb_op *op = &OPS.ops[(id - 1) % SB_OPS_MAX];
    *op = (sb_op){ id, polls, 0, ra, (int)then, header, absolute != 0 };
    sb_op copy = *op;
    pthread_mutex_unlock(&s->mu);
    return reply_running(r, &copy);
}

/* The operation named by "op_<id>" at the start of tail (up to '/' or the
 * end), counted as polled when `poll`; copied out under the lock. */
static bool ops_find(sb_server *s, const char *tail, bool poll, sb_op *out)
{
    if (strncmp(tail, "op_", 3) != 0) return false;
    char num[24];
    size_t n = strcspn(tail + 3, "/");
    if (n == 0 || n >= sizeof num) return false;
    memcpy(num, tail + 3, n);
    num[n] = '\0';
    int64_t id;
    if (sb_parse_int(num, 1, INT64_MAX, &id) != 0) return false;
    pthread_mutex_lock(&s->mu);
    sb_op *op = &OPS.ops[((uint64_t)id - 1) % SB_OPS_MAX];
    bool found = op->id == (uint64_t)id;
    if (found) {
        if (poll) op->polls_seen++;
        *out = *op;
    }
    pthread_mutex_unlock(&s->mu);
    return found;
}

/* 200 with the operation's (fixed) result. */
static enum MHD_Result reply_done(sb_req *r, const sb_op *op)
{
    cJSON *doc = op_doc(op, "succeeded", NULL);
    cJSON *res = cJSON_AddObjectToObject(doc, "result");
    if (res != NULL) cJSON_AddNumberToObject(res, "rows", 42);
    return sb_reply_json(r, 200, doc, NULL);
}

static enum MHD_Result ops_poll(sb_req *r, const char *tail)
{
    const char *slash = strchr(tail, '/');
    bool result = slash != NULL && strcmp(slash, "/result") == 0;
    if (slash != NULL && !result) return sb_reply_error(r, 404, "no such endpoint");
    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
        static const char body[] = "{\"error\":\"method not allowed\",\"status\":405}";
        const char *hdrs[] = { "Allow", "GET", NULL };
        return sb_reply(r, 405, "application/json", body, sizeof body - 1, hdrs);
    }
    sb_op op;
    if (!ops_find(r->srv, tail, !result, &op))
        return sb_reply_error(r, 404, "no such operation");
    if (result) {
        if (op.polls_seen <= op.polls_needed)
            return sb_reply_error(r, 409, "operation still running");
        return reply_done(r, &op);
    }
    if (op.polls_seen <= op.polls_needed) return reply_running(r, &op);
    if (op.then == 303) {
        char href[176];
        op_href(r, &op, "/result", href, sizeof href);
        const char *hdrs[] = { "Location", href, NULL };
        return sb_reply_json(r, 303, op_doc(&op, "succeeded", href), hdrs);
    }
    return reply_done(r, &op);
}

enum MHD_Result sb_route_ops(sb_req *r)
{
    if (strcmp(r->path, "/ops") == 0) {
        if (strcmp(r->method, "POST") == 0) return ops_start(r);
        static const char body[] = "{\"error\":\"method not allowed\",\"status\":405}";
        const char *hdrs[] = { "Allow", "POST", NULL };
        return sb_reply(r, 405, "application/json", body, sizeof body - 1, hdrs);
    }
    const char *tail = sb_path_tail(r, "/ops/");
    if (tail == NULL) return sb_reply_error(r, 404, "no such endpoint");
    return ops_poll(r, tail);
}
