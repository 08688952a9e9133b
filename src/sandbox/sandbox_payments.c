/* sandbox_payments.c — POST /payments with Idempotency-Key semantics, and
 * GET /payments/_effects, which counts what really happened.
 *
 * With a key: the first request records one effect and stores its response;
 * every later request with that key gets the stored response (marked
 * Idempotent-Replayed: true) and records nothing. ?fail_first=N on the first
 * request makes the first N answers for that key 503 *after* the effect was
 * recorded: the lost-response case a retrying client must survive. The same
 * key with a different body is a 422 (draft-ietf-httpapi-idempotency-key).
 * Without a key every request is a new effect; the n-th keyless request
 * since the last reset answers 503 when n <= its fail_first. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/sandbox_internal.h"

typedef struct pay_answer {
    int status;
    char *body;       /* owned */
    bool replayed;
} pay_answer;

static uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

/* The JSON of a new payment. Caller holds s->mu (for the id counter). */
static char *payment_json(sb_server *s, const sb_req *r, const char *key)
{
    char id[32];
    snprintf(id, sizeof id, "pay_%llu", (unsigned long long)++s->pay_next_id);
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "id", id);
    cJSON_AddStringToObject(doc, "status", "succeeded");
    cJSON_AddItemToObject(doc, "idempotency_key",
                          key != NULL ? cJSON_CreateString(key) : cJSON_CreateNull());
    cJSON *req = r->body.len > 0 ? cJSON_ParseWithLength(r->body.p, r->body.len) : NULL;
    cJSON *amount = cJSON_GetObjectItemCaseSensitive(req, "amount");
    cJSON_AddItemToObject(doc, "amount", amount != NULL ? cJSON_Duplicate(amount, 1)
                                                        : cJSON_CreateNull());
    cJSON_Delete(req);
    char *text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    return text;
}

static char *dup_text(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

/* Decide the answer for a keyed request. Returns 0, 422 (body mismatch) or
 * 507 (key table full). */
static int pay_keyed(sb_server *s, const sb_req *r, const char *key, int64_t fail_first,
                     pay_answer *a)
{
    uint64_t hash = fnv1a(r->body.p != NULL ? r->body.p : "", r->body.len);
    pthread_mutex_lock(&s->mu);
    sb_payment *p = sb_table_get(&s->pay, key, false);
    if (p == NULL) {
        p = sb_table_get(&s->pay, key, true);
        if (p == NULL) { pthread_mutex_unlock(&s->mu); return 507; }
        p->effects = 1;
        p->fail_left = fail_first;
        p->body_hash = hash;
        p->status = 201;
        p->body = payment_json(s, r, key);
    } else if (p->body_hash != hash) {
        pthread_mutex_unlock(&s->mu);
        return 422;
    } else {
        a->replayed = true;
    }
    if (p->fail_left > 0) {
        p->fail_left--;
        a->status = 503;
    } else {
        a->status = p->status;
        a->body = dup_text(p->body);
    }
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static void pay_unkeyed(sb_server *s, const sb_req *r, int64_t fail_first, pay_answer *a)
{
    pthread_mutex_lock(&s->mu);
    s->pay_unkeyed++;
    int64_t seen = ++s->pay_unkeyed_seen;
    char *body = payment_json(s, r, NULL);
    pthread_mutex_unlock(&s->mu);
    if (seen <= fail_first) {
        free(body);
        a->status = 503;
    } else {
        a->status = 201;
        a->body = body;
    }
}

enum MHD_Result sb_route_payments(sb_req *r)
{
    const char *key = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Idempotency-Key");
    int64_t fail_first;
    if (sb_arg_int(r, "fail_first", 0, 1000, 0, &fail_first) != 0)
        return sb_reply_error(r, 400, "fail_first must be an integer 0..1000");
    if (key != NULL && (key[0] == '\0' || strlen(key) > SB_KEY_MAX))
        return sb_reply_error(r, 400, "Idempotency-Key must be 1..128 bytes");
    pay_answer a = { 0, NULL, false };
    if (key != NULL) {
        int rc = pay_keyed(r->srv, r, key, fail_first, &a);
        if (rc == 422)
            return sb_reply_error(r, 422, "Idempotency-Key reused with a different body");
        if (rc == 507) return sb_reply_error(r, 507, "too many keys; POST /_reset");
    } else {
        pay_unkeyed(r->srv, r, fail_first, &a);
    }
    if (a.status == 503) return sb_reply_error(r, 503, "payment recorded, response lost");
    if (a.body == NULL) return sb_reply_error(r, 500, "out of memory");
    const char *hdrs[] = { "Idempotent-Replayed", "true", NULL };
    enum MHD_Result ret = sb_reply(r, (unsigned)a.status, "application/json", a.body,
                                   strlen(a.body), a.replayed ? hdrs : NULL);
    free(a.body);
    return ret;
}

enum MHD_Result sb_route_effects(sb_req *r)
{
    sb_server *s = r->srv;
    cJSON *doc = cJSON_CreateObject();
    cJSON *keys = cJSON_AddObjectToObject(doc, "keys");
    if (doc == NULL || keys == NULL) { cJSON_Delete(doc); return sb_reply_error(r, 500, "out of memory"); }
    pthread_mutex_lock(&s->mu);
    int64_t total = s->pay_unkeyed;
    const sb_payment *p = s->pay.rows;
    for (size_t i = 0; i < s->pay.len; i++) {
        cJSON_AddNumberToObject(keys, p[i].key, (double)p[i].effects);
        total += p[i].effects;
    }
    cJSON_AddNumberToObject(doc, "unkeyed", (double)s->pay_unkeyed);
    pthread_mutex_unlock(&s->mu);
    cJSON_AddNumberToObject(doc, "total", (double)total);
    return sb_reply_json(r, 200, doc, NULL);
}
