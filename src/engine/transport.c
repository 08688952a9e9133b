/* transport.c — what every transport shares: the response object (headers,
 * body, effective URL), failure names, and the engine's transport slot.
 *
 * A response is one allocation in the common case: the struct carries
 * inline room for LIRA_HTTP_INLINE_HEADERS headers and
 * LIRA_HTTP_INLINE_ARENA bytes of header text (names, values and the
 * effective URL, NUL-terminated, packed in one arena), and an empty body
 * points at a static-free inline "". Only bigger header sets and non-empty
 * bodies go to the heap, each in one growing block. */
#include "transport.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "short_bytes.h"
#include "status.h"

/* Sized so the whole response_impl stays within glibc's tcache (chunks up to
 * 1032 usable bytes): a response is allocated per attempt, and a bigger block
 * went through the small bins and malloc_consolidate on every request. A
 * response with more headers or bytes grows into the heap as before. */
#define LIRA_HTTP_INLINE_HEADERS 16
#define LIRA_HTTP_INLINE_ARENA   352

typedef struct response_impl {
    lira_http_response pub;      /* first: the public view is the impl's address */
    size_t hcap;                 /* header slots available */
    size_t hbytes;               /* name + value bytes counted against the cap */
    char *arena;                 /* header text and effective URL */
    size_t alen, acap;
    size_t body_cap;             /* bytes allocated for body (0 = the inline "") */
    char empty_body[1];
    lira_http_header inline_headers[LIRA_HTTP_INLINE_HEADERS];
    char inline_arena[LIRA_HTTP_INLINE_ARENA];
} response_impl;

_Static_assert(sizeof(response_impl) <= 1032, "response_impl outgrew glibc's tcache");

static response_impl *impl_of(lira_http_response *r)
{
    return (response_impl *)r;
}

/* ------------------------------------------------------------ response */

lira_http_response *lira_http_response_new(void)
{
    response_impl *ri = malloc(sizeof *ri);
    if (!ri)
        return NULL;
    memset(&ri->pub, 0, sizeof ri->pub);
    ri->pub.headers = ri->inline_headers;
    ri->pub.body = ri->empty_body;
    ri->empty_body[0] = '\0';
    ri->hcap = LIRA_HTTP_INLINE_HEADERS;
    ri->hbytes = 0;
    ri->arena = ri->inline_arena;
    ri->alen = 0;
    ri->acap = LIRA_HTTP_INLINE_ARENA;
    ri->body_cap = 0;
    return &ri->pub;
}

void lira_http_response_free(lira_http_response *r)
{
    if (!r)
        return;
    response_impl *ri = impl_of(r);
    if (r->headers != ri->inline_headers)
        free(r->headers);
    if (ri->arena != ri->inline_arena)
        free(ri->arena);
    if (r->body != ri->empty_body)
        free(r->body);
    free(ri);
}

/* Move the arena to a block of at least `need` bytes, re-pointing every
 * string that lives in it (offsets are taken while the old block is live). */
static int arena_grow(response_impl *ri, size_t need)
{
    size_t cap = ri->acap * 2;
    while (cap < need)
        cap *= 2;
    char *old = ri->arena;
    char *arena = malloc(cap);
    if (!arena)
        return LIRA_ENOMEM;
    memcpy(arena, old, ri->alen);
    lira_http_response *r = &ri->pub;
    for (size_t i = 0; i < r->nheaders; i++) {
        r->headers[i].name = arena + (r->headers[i].name - old);
        r->headers[i].value = arena + (r->headers[i].value - old);
    }
    if (r->effective_url)
        r->effective_url = arena + (r->effective_url - old);
    if (old != ri->inline_arena)
        free(old);
    ri->arena = arena;
    ri->acap = cap;
    return LIRA_OK;
}

/* Make room for `len` more bytes in the arena. */
static int arena_reserve(response_impl *ri, size_t len)
{
    if (ri->acap - ri->alen >= len)
        return LIRA_OK;
    if (len > SIZE_MAX / 4 - ri->alen)
        return LIRA_ETOOBIG;
    return arena_grow(ri, ri->alen + len);
}

/* Copy `len` bytes plus a NUL into the arena, which has room (reserved). */
static char *arena_put(response_impl *ri, const char *s, size_t len)
{
    char *p = ri->arena + ri->alen;
    lira_short_copy(p, s, len);   /* header names and values: mostly short */
    p[len] = '\0';
    ri->alen += len + 1;
    return p;
}

static int headers_grow(response_impl *ri)
{
    lira_http_response *r = &ri->pub;
    size_t cap = ri->hcap * 2;
    if (cap > LIRA_HTTP_MAX_HEADERS)
        cap = LIRA_HTTP_MAX_HEADERS;
    lira_http_header *h = malloc(cap * sizeof *h);
    if (!h)
        return LIRA_ENOMEM;
    memcpy(h, r->headers, r->nheaders * sizeof *h);
    if (r->headers != ri->inline_headers)
        free(r->headers);
    r->headers = h;
    ri->hcap = cap;
    return LIRA_OK;
}

int lira_http_response_add_header(lira_http_response *r, const char *name, size_t nlen,
                                  const char *value, size_t vlen)
{
    if (!r || !name || (!value && vlen))
        return LIRA_EINVAL;
    response_impl *ri = impl_of(r);
    if (r->nheaders >= LIRA_HTTP_MAX_HEADERS || nlen > LIRA_HTTP_MAX_HEADER_BYTES ||
        vlen > LIRA_HTTP_MAX_HEADER_BYTES - nlen ||
        ri->hbytes + nlen + vlen > LIRA_HTTP_MAX_HEADER_BYTES)
        return LIRA_ETOOBIG;
    if (r->nheaders == ri->hcap && headers_grow(ri) != LIRA_OK)
        return LIRA_ENOMEM;
    /* Room for both strings first: a growth between the two copies would
     * move the first one. */
    int rc = arena_reserve(ri, nlen + vlen + 2);
    if (rc != LIRA_OK)
        return rc;
    char *n = arena_put(ri, name, nlen);
    char *v = arena_put(ri, value ? value : "", vlen);
    r->headers[r->nheaders].name = n;
    r->headers[r->nheaders].value = v;
    r->nheaders++;
    ri->hbytes += nlen + vlen;
    return LIRA_OK;
}

void lira_http_response_reset_headers(lira_http_response *r)
{
    if (!r)
        return;
    response_impl *ri = impl_of(r);
    r->nheaders = 0;
    r->effective_url = NULL;   /* lived in the arena too */
    ri->hbytes = 0;
    ri->alen = 0;
}

const char *lira_http_response_header(const lira_http_response *r, const char *name)
{
    if (!r || !name)
        return NULL;
    for (size_t i = r->nheaders; i-- > 0;)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

int lira_http_response_headers(const lira_http_response *r, const char *const *names, size_t n,
                               const char **out)
{
    size_t lens[16];
    uint32_t first[8] = {0};   /* the names' first letters, folded to lower case */
    if (!out || n > 16)
        return LIRA_EINVAL;
    for (size_t j = 0; j < n; j++)
        out[j] = NULL;
    if (!r || !names)
        return LIRA_EINVAL;
    for (size_t j = 0; j < n; j++) {
        if (!names[j])
            return LIRA_EINVAL;
        unsigned char c = (unsigned char)names[j][0] | 0x20;
        first[c >> 5] |= 1u << (c & 31);
        lens[j] = SIZE_MAX;   /* measured when a header may match */
    }
    /* Forward, so a later header of the same name overwrites: the last wins.
     * Most headers share no first letter with any name (the rate-limit
     * names against a typical response): those are never measured. */
    for (size_t i = 0; i < r->nheaders; i++) {
        const char *hn = r->headers[i].name;
        unsigned char c = (unsigned char)hn[0] | 0x20;
        if (!(first[c >> 5] & (1u << (c & 31))))
            continue;
        size_t len = strlen(hn);
        for (size_t j = 0; j < n; j++) {
            if (lens[j] == SIZE_MAX)
                lens[j] = strlen(names[j]);
            if (lens[j] == len && strcasecmp(hn, names[j]) == 0)
                out[j] = r->headers[i].value;
        }
    }
    return LIRA_OK;
}

int lira_http_response_set_effective_url(lira_http_response *r, const char *url, size_t len)
{
    if (!r || (!url && len))
        return LIRA_EINVAL;
    if (!url) {
        r->effective_url = NULL;
        return LIRA_OK;
    }
    response_impl *ri = impl_of(r);
    int rc = arena_reserve(ri, len + 1);
    if (rc == LIRA_OK)
        r->effective_url = arena_put(ri, url, len);
    return rc;
}

/* ------------------------------------------------------------ body */

int lira_http_response_reserve_body(lira_http_response *r, size_t len)
{
    if (!r)
        return LIRA_EINVAL;
    response_impl *ri = impl_of(r);
    if (len == SIZE_MAX)
        return LIRA_ETOOBIG;
    if (len + 1 <= ri->body_cap)
        return LIRA_OK;
    char *old = r->body == ri->empty_body ? NULL : r->body;
    char *b = realloc(old, len + 1);
    if (!b)
        return LIRA_ENOMEM;
    if (!old)
        b[0] = '\0';
    r->body = b;
    ri->body_cap = len + 1;
    return LIRA_OK;
}

int lira_http_response_append_body(lira_http_response *r, const void *data, size_t len)
{
    if (!r || (!data && len))
        return LIRA_EINVAL;
    response_impl *ri = impl_of(r);
    if (len > SIZE_MAX / 2 - r->body_len)
        return LIRA_ETOOBIG;
    size_t need = r->body_len + len;
    if (need + 1 > ri->body_cap) {
        /* Geometric growth keeps a body of unknown length at O(log n)
         * reallocations; a known length was reserved exactly up front. */
        size_t cap = ri->body_cap < 512 ? 1024 : ri->body_cap * 2;
        if (cap < need + 1)
            cap = need + 1;
        int rc = lira_http_response_reserve_body(r, cap - 1);
        if (rc != LIRA_OK)
            return rc;
    }
    if (len)
        memcpy(r->body + r->body_len, data, len);
    r->body_len = need;
    r->body[need] = '\0';
    return LIRA_OK;
}

int lira_http_response_set_body(lira_http_response *r, const void *body, size_t len)
{
    if (!r || (!body && len))
        return LIRA_EINVAL;
    r->body_len = 0;
    if (r->body != impl_of(r)->empty_body)
        r->body[0] = '\0';
    return lira_http_response_append_body(r, body, len);
}

void lira_http_response_reset_body(lira_http_response *r)
{
    if (!r)
        return;
    response_impl *ri = impl_of(r);
    if (r->body != ri->empty_body)
        free(r->body);
    r->body = ri->empty_body;
    r->body_len = 0;
    ri->body_cap = 0;
}

/* ------------------------------------------------------------ failures */

const char *lira_failure_kind(lira_failure f)
{
    switch (f) {
    case LIRA_FAIL_NONE:      return "none";
    case LIRA_FAIL_DNS:       return "dns";
    case LIRA_FAIL_CONNECT:   return "connect";
    case LIRA_FAIL_TLS:       return "tls";
    case LIRA_FAIL_TIMEOUT:   return "timeout";
    case LIRA_FAIL_TRANSPORT: return "transport";
    case LIRA_FAIL_TOO_LARGE: return "too_large";
    case LIRA_FAIL_CANCELLED: return "cancelled";
    case LIRA_FAIL_DEADLINE:  return "deadline";
    default:                  return "unknown";
    }
}

/* ------------------------------------------------------------ the engine's transport */

/* The slot holds a box, not the transport itself, so that the on_free hook
 * is registered once per engine however often the transport is replaced. */
typedef struct transport_box {
    lira_engine *engine;
    lira_transport *t;
} transport_box;

static void transport_box_free(void *ud)
{
    transport_box *box = ud;
    lira_engine_set_slot(box->engine, LIRA_SLOT_TRANSPORT, NULL);
    if (box->t)
        box->t->ops->destroy(box->t);
    free(box);
}

static transport_box *transport_box_get(lira_engine *e)
{
    transport_box *box = lira_engine_slot(e, LIRA_SLOT_TRANSPORT);
    if (box)
        return box;
    box = calloc(1, sizeof *box);
    if (!box)
        return NULL;
    box->engine = e;
    if (lira_engine_on_free(e, transport_box_free, box) != LIRA_OK) {
        free(box);
        return NULL;
    }
    lira_engine_set_slot(e, LIRA_SLOT_TRANSPORT, box);
    return box;
}

lira_transport *lira_engine_transport(lira_engine *e)
{
    if (!e)
        return NULL;
    transport_box *box = transport_box_get(e);
    if (!box)
        return NULL;
    if (!box->t && lira_transport_curl_new(e, NULL, &box->t) != LIRA_OK)
        box->t = NULL;
    return box->t;
}

int lira_engine_set_transport(lira_engine *e, lira_transport *t)
{
    if (!e || (t && (!t->ops || !t->ops->destroy || (t->engine && t->engine != e))))
        return LIRA_EINVAL;
    transport_box *box = transport_box_get(e);
    if (!box)
        return LIRA_ENOMEM;
    if (t)
        t->engine = e;
    lira_transport *old = box->t;
    box->t = t;
    if (old && old != t)
        old->ops->destroy(old);
    return LIRA_OK;
}
