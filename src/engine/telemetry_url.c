/* telemetry_url.c — the hub's memo of redacted URLs (telemetry_url.h). */
#include "telemetry_url.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json_plain.h"
#include "redact.h"
#include "short_bytes.h"
#include "status.h"

#define MEMO_SLOTS 16     /* calls in flight to distinct URLs that still hit */
#define MEMO_KEY 256      /* longest URL kept */
#define MEMO_RED 512      /* longest redacted form kept, NUL included */
#define MEMO_HOST 256     /* LIRA_TEL_HOST_MAX */

/* A log-line head and what it was made from: client, method and endpoint
 * (their bytes, back to back) then the head's bytes. */
typedef struct memo_head {
    size_t cl, ml, el, len;
    char data[];
} memo_head;

typedef struct memo_entry {
    size_t klen;          /* 0 = empty */
    memo_head *head;      /* NULL = none; belongs to this URL */
    lira_url_info info;   /* pointing into red and host */
    char key[MEMO_KEY + 1];   /* NUL-terminated */
    char red[MEMO_RED];
    char host[MEMO_HOST];
} memo_entry;

struct lira_url_memo {
    memo_entry e[MEMO_SLOTS];
    uint64_t gen;         /* fillings so far */
};

lira_url_memo *lira__url_memo_new(void)
{
    return calloc(1, sizeof(lira_url_memo));
}

void lira__url_memo_free(lira_url_memo *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < MEMO_SLOTS; i++)
        free(m->e[i].head);
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

static int all_plain(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    return lira_json_plain_run(u, 0, n) == n;
}

const lira_url_info *lira__url_memo_info(lira_url_memo *m, const char *url, size_t len)
{
    if (!m || !url || len == 0 || len > MEMO_KEY)
        return NULL;
    memo_entry *e = &m->e[slot_of(url, len)];
    if (e->klen == len && memcmp(e->key, url, len) == 0)
        return &e->info;
    size_t full = 0;
    e->klen = 0;
    e->info.gen = 0;      /* what a call kept of the old URL no longer holds */
    free(e->head);
    e->head = NULL;
    if (lira_redact_url(url, len, e->red, sizeof e->red, &full) != LIRA_OK)
        return NULL;
    memcpy(e->key, url, len);
    e->klen = len;
    e->key[len] = '\0';
    lira__url_host(e->key, e->host, sizeof e->host);
    e->info = (lira_url_info){.red = e->red, .red_len = full,
                              .red_plain = all_plain(e->red, full), .host = e->host,
                              .host_len = strlen(e->host), .gen = ++m->gen};
    lira_url_info *in = &e->info;
    in->srv_ok = lira__url_server(e->key, &in->srv_host, &in->srv_host_len, &in->srv_port);
    in->srv_plain = in->srv_ok && all_plain(in->srv_host, in->srv_host_len);
    return in;
}

/* The entry whose info `in` is (NULL when it is none of m's). */
static memo_entry *entry_of(lira_url_memo *m, const lira_url_info *in)
{
    uintptr_t p = (uintptr_t)in, first = (uintptr_t)&m->e[0].info;
    if (p < first || (p - first) % sizeof(memo_entry) != 0 ||
        (p - first) / sizeof(memo_entry) >= MEMO_SLOTS)
        return NULL;
    return &m->e[(p - first) / sizeof(memo_entry)];
}

const char *lira__url_memo_head(lira_url_memo *m, const lira_url_info *in,
                                const lira_url_head_key *k, size_t *len)
{
    const memo_entry *e = m && in && k ? entry_of(m, in) : NULL;
    const memo_head *h = e ? e->head : NULL;
    if (!h || h->cl != k->client_len || h->ml != k->method_len || h->el != k->endpoint_len)
        return NULL;
    const char *p = h->data;
    if (!lira_short_equal(p, k->client, h->cl) || !lira_short_equal(p + h->cl, k->method, h->ml) ||
        !lira_short_equal(p + h->cl + h->ml, k->endpoint, h->el))
        return NULL;
    *len = h->len;
    return p + h->cl + h->ml + h->el;
}

const char *lira__url_memo_set_head(lira_url_memo *m, const lira_url_info *in,
                                    const lira_url_head_key *k, const char *head, size_t len)
{
    memo_entry *e = m && in && k && head ? entry_of(m, in) : NULL;
    if (!e)
        return NULL;
    size_t keys = k->client_len + k->method_len + k->endpoint_len;
    memo_head *h = malloc(sizeof *h + keys + len);
    if (!h)
        return NULL;
    h->cl = k->client_len, h->ml = k->method_len, h->el = k->endpoint_len, h->len = len;
    char *p = h->data;
    if (h->cl)
        memcpy(p, k->client, h->cl);
    if (h->ml)
        memcpy(p + h->cl, k->method, h->ml);
    if (h->el)
        memcpy(p + h->cl + h->ml, k->endpoint, h->el);
    memcpy(p + keys, head, len);
    free(e->head);
    e->head = h;
    return p + keys;
}

const lira_url_info *lira__url_memo_kept(lira_url_memo *m, const char *url, size_t len,
                                         const lira_url_info **kept, uint64_t *gen)
{
    const lira_url_info *in = lira__url_memo_again(*kept, *gen);
    if (in)
        return in;
    in = lira__url_memo_info(m, url, len);
    *kept = in;
    *gen = in ? in->gen : 0;
    return in;
}

const lira_url_info *lira__url_memo_again(const lira_url_info *in, uint64_t gen)
{
    return in && gen && in->gen == gen ? in : NULL;
}

const char *lira__url_memo_get(lira_url_memo *m, const char *url, size_t len, size_t *red_len)
{
    const lira_url_info *in = lira__url_memo_info(m, url, len);
    if (!in)
        return NULL;
    *red_len = in->red_len;
    return in->red;
}

/* ------------------------------------------------------------ host */

/* Where the authority of url starts: after "scheme://" (read directly, as
 * almost every URL has one), else after the first "://", else at 0. */
static const char *authority_of(const char *url)
{
    size_t i = 0;
    if ((url[0] | 0x20) >= 'a' && (url[0] | 0x20) <= 'z')
        while (((url[i] | 0x20) >= 'a' && (url[i] | 0x20) <= 'z') ||
               (url[i] >= '0' && url[i] <= '9') || url[i] == '+' || url[i] == '-' ||
               url[i] == '.')
            i++;
    if (i && url[i] == ':' && url[i + 1] == '/' && url[i + 2] == '/')
        return url + i + 3;
    const char *p = strstr(url, "://");
    return p ? p + 3 : url;
}

/* The authority of url without its userinfo: *a and the length returned.
 * It ends at '/', '?', '#' or the end of url, and starts after its last
 * '@'. *start is where it began before the userinfo (authority_of). */
static size_t server_part(const char *url, const char **start, const char **a)
{
    static const unsigned char stop[256] = {[0] = 1, ['/'] = 1, ['?'] = 1, ['#'] = 1,
                                            ['@'] = 2};
    const char *p = authority_of(url), *host = p;
    size_t k = 0;
    for (; stop[(unsigned char)p[k]] != 1; k++)
        if (p[k] == '@')
            host = p + k + 1;
    *start = p;
    *a = host;
    return (size_t)(p + k - host);
}

/* The host of an absolute URL (no userinfo, no port; an IPv6 literal with
 * its brackets) into out. */
void lira__url_host(const char *url, char *out, size_t cap)
{
    out[0] = '\0';
    if (!url)
        return;
    const char *start, *host;
    size_t auth = server_part(url, &start, &host), n = 0;
    if (auth && host[0] == '[') {
        while (n < auth && host[n] != ']')
            n++;
        n += n < auth;
    } else {
        while (n < auth && host[n] != ':')
            n++;
    }
    if (n >= cap)
        n = cap - 1;
    memcpy(out, host, n);
    out[n] = '\0';
}

/* ------------------------------------------------------------ server */

int lira__url_server(const char *url, const char **host, size_t *hlen, long *port)
{
    const char *start, *a;
    size_t alen = server_part(url, &start, &a);
    if (start == url)
        return 0;   /* no "://" */
    int https = (size_t)(start - 3 - url) == 5 && strncasecmp(url, "https", 5) == 0;
    const char *colon = NULL;
    if (alen && a[0] == '[') {
        const char *close = memchr(a, ']', alen);
        if (!close)
            return 0;
        *host = a + 1, *hlen = (size_t)(close - a - 1);
        if (close + 1 < a + alen && close[1] == ':')
            colon = close + 1;
    } else {
        colon = memchr(a, ':', alen);
        *host = a, *hlen = colon ? (size_t)(colon - a) : alen;
    }
    *port = https ? 443 : 80;
    if (colon && colon + 1 < a + alen) {
        long v = 0;
        for (const char *q = colon + 1; q < a + alen; q++) {
            if (*q < '0' || *q > '9' || v > 65535)
                return *hlen > 0;
            v = v * 10 + (*q - '0');
        }
        if (v <= 65535)
            *port = v;
    }
    return *hlen > 0;
}
