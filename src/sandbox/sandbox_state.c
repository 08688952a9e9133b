/* sandbox_state.c — the sandbox's shared state: the request log (a ring),
 * the keyed tables (flaky counters, rate-limit windows, idempotency records)
 * and interruptible sleeping. Everything here is guarded by sb_server.mu. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/status.h"
#include "sandbox/sandbox_internal.h"

/* ----------------------------------------------------------- tables --- */

static int table_init(sb_table *t, size_t stride, size_t cap)
{
    t->rows = calloc(cap, stride);
    t->stride = stride;
    t->len = 0;
    t->cap = cap;
    return t->rows == NULL ? LIRA_ENOMEM : LIRA_OK;
}

void *sb_table_get(sb_table *t, const char *key, bool create)
{
    size_t klen = strlen(key);
    if (klen > SB_KEY_MAX) return NULL;
    char *base = t->rows;
    /* Every row type starts with its key, so a row is addressable as a
     * string. Linear search: tables are small in practice and capped. */
    for (size_t i = 0; i < t->len; i++) {
        char *row = base + i * t->stride;
        if (strcmp(row, key) == 0) return row;
    }
    if (!create || t->len == t->cap) return NULL;
    char *row = base + t->len * t->stride;
    memset(row, 0, t->stride);
    memcpy(row, key, klen + 1);
    t->len++;
    return row;
}

static void payments_clear(sb_server *s)
{
    sb_payment *p = s->pay.rows;
    for (size_t i = 0; i < s->pay.len; i++) free(p[i].body);
    s->pay.len = 0;
    s->pay_unkeyed = 0;
    s->pay_unkeyed_seen = 0;
}

/* ------------------------------------------------------------ init --- */

int sb_state_init(sb_server *s, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    s->seed = seed;
    lira_rng_seed(&s->rng, seed);
    s->log_first = 1;
    if (pthread_mutex_init(&s->mu, NULL) != 0) return LIRA_ENOMEM;
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0) return LIRA_ENOMEM;
    /* Sleep deadlines are monotonic: a wall-clock step must not stretch a
     * /delay or a held request. */
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&s->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0) return LIRA_ENOMEM;
    if (table_init(&s->flaky, sizeof(sb_flaky), SB_KEYS_MAX) != LIRA_OK ||
        table_init(&s->rate, sizeof(sb_rate), SB_KEYS_MAX) != LIRA_OK ||
        table_init(&s->pay, sizeof(sb_payment), SB_KEYS_MAX) != LIRA_OK)
        return LIRA_ENOMEM;
    return LIRA_OK;
}

static void log_clear(sb_server *s)
{
    for (size_t i = 0; i < SB_LOG_CAP; i++) {
        cJSON_Delete(s->log[i]);
        s->log[i] = NULL;
    }
    s->log_first = s->next_seq + 1;
    s->log_dropped = 0;
}

void sb_state_free(sb_server *s)
{
    log_clear(s);
    payments_clear(s);
    free(s->flaky.rows);
    free(s->rate.rows);
    free(s->pay.rows);
    sb_scenario_free(&s->scenario);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->mu);
}

void sb_state_reset(sb_server *s)
{
    pthread_mutex_lock(&s->mu);
    log_clear(s);
    payments_clear(s);
    s->flaky.len = 0;
    s->rate.len = 0;
    sb_scenario_rewind(&s->scenario);
    lira_rng_seed(&s->rng, s->seed);
    pthread_mutex_unlock(&s->mu);
}

/* -------------------------------------------------------------- log --- */

static cJSON *log_entry(sb_req *r, uint64_t seq)
{
    cJSON *e = cJSON_CreateObject();
    if (e == NULL) return NULL;
    cJSON_AddNumberToObject(e, "seq", (double)seq);
    cJSON_AddNumberToObject(e, "mono_ns", (double)r->t_ns);
    cJSON_AddStringToObject(e, "method", r->method);
    cJSON_AddStringToObject(e, "path", r->path);
    cJSON_AddStringToObject(e, "query", r->query);
    cJSON *h = sb_headers_json(r->conn, MHD_HEADER_KIND);
    if (h != NULL) cJSON_AddItemToObject(e, "headers", h);
    cJSON_AddNumberToObject(e, "connection", (double)r->conn_id);
    cJSON_AddNumberToObject(e, "body_length", (double)r->body_total);
    return e;
}

void sb_log_request(sb_server *s, sb_req *r)
{
    /* Build outside the lock (header iteration and allocation), then only
     * swap a pointer under it; seq is patched in under the lock. */
    cJSON *e = log_entry(r, 0);
    if (e == NULL) return;
    pthread_mutex_lock(&s->mu);
    uint64_t seq = ++s->next_seq;
    cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(e, "seq"), (double)seq);
    size_t slot = (size_t)((seq - 1) % SB_LOG_CAP);
    if (s->log[slot] != NULL) {
        cJSON_Delete(s->log[slot]);
        s->log_dropped++;
    }
    s->log[slot] = e;
    if (seq - s->log_first >= SB_LOG_CAP) s->log_first = seq - SB_LOG_CAP + 1;
    pthread_mutex_unlock(&s->mu);
}

cJSON *sb_log_snapshot(sb_server *s, uint64_t since, uint64_t limit)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(doc, "entries");
    if (doc == NULL || arr == NULL) { cJSON_Delete(doc); return NULL; }
    pthread_mutex_lock(&s->mu);
    uint64_t from = since + 1 > s->log_first ? since + 1 : s->log_first;
    uint64_t n = 0;
    for (uint64_t seq = from; seq <= s->next_seq && n < limit; seq++, n++) {
        cJSON *e = s->log[(seq - 1) % SB_LOG_CAP];
        cJSON *copy = e != NULL ? cJSON_Duplicate(e, 1) : NULL;
        if (copy != NULL) cJSON_AddItemToArray(arr, copy);
    }
    cJSON_AddNumberToObject(doc, "last", (double)(n > 0 ? from + n - 1 : s->next_seq));
    cJSON_AddNumberToObject(doc, "newest", (double)s->next_seq);
    cJSON_AddNumberToObject(doc, "first", (double)s->log_first);
    cJSON_AddNumberToObject(doc, "dropped", (double)s->log_dropped);
    cJSON_AddNumberToObject(doc, "capacity", (double)SB_LOG_CAP);
    pthread_mutex_unlock(&s->mu);
    return doc;
}

/* ---------------------------------------------------------- sleeping --- */

int sb_sleep_ms(sb_server *s, int64_t ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += (time_t)(ms / 1000);
    dl.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) { dl.tv_sec++; dl.tv_nsec -= 1000000000L; }
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        int w = pthread_cond_timedwait(&s->wake, &s->mu, &dl);
        if (w == ETIMEDOUT) break;
    }
    if (s->stopping) rc = -1;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

bool sb_stopping(sb_server *s)
{
    pthread_mutex_lock(&s->mu);
    bool st = s->stopping;
    pthread_mutex_unlock(&s->mu);
    return st;
}
