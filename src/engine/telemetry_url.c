/* telemetry_url.c — the hub's memo of redacted URLs (telemetry_url.h). */
#include "telemetry_url.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "redact.h"
#include "status.h"

#define MEMO_SLOTS 16     /* calls in flight to distinct URLs that still hit */
#define MEMO_KEY 256      /* longest URL kept */
#define MEMO_RED 512      /* longest redacted form kept, NUL included */

typedef struct memo_entry {
    size_t klen;          /* 0 = empty */
    size_t rlen;
    char key[MEMO_KEY];
    char red[MEMO_RED];
} memo_entry;

struct lira_url_memo {
    memo_entry e[MEMO_SLOTS];
};

lira_url_memo *lira__url_memo_new(void)
{
    return calloc(1, sizeof(lira_url_memo));
}

void lira__url_memo_free(lira_url_memo *m)
{
    free(m);
}

/* The slot: the length and the last bytes (the path's id, the query) tell
 * URLs of one API apart; a collision only costs a redaction. */
static size_t slot_of(const char *url, size_t len)
{
    uint64_t tail = 0;
    size_t n = len < 8 ? len : 8;
    memcpy(&tail, url + len - n, n);
    tail ^= (uint64_t)len * 0x9E3779B97F4A7C15ULL;
    tail *= 0xFF51AFD7ED558CCDULL;
    return (size_t)(tail >> 60) % MEMO_SLOTS;
}

const char *lira__url_memo_get(lira_url_memo *m, const char *url, size_t len, size_t *red_len)
{
    if (!m || !url || len == 0 || len > MEMO_KEY)
        return NULL;
    memo_entry *e = &m->e[slot_of(url, len)];
    if (e->klen == len && memcmp(e->key, url, len) == 0) {
        *red_len = e->rlen;
        return e->red;
    }
    size_t full = 0;
    e->klen = 0;
    if (lira_redact_url(url, len, e->red, sizeof e->red, &full) != LIRA_OK)
        return NULL;
    memcpy(e->key, url, len);
    e->klen = len;
    e->rlen = full;
    *red_len = full;
    return e->red;
}
