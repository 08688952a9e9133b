/* otlp_json.c — ExportTraceServiceRequest in OTLP's JSON encoding.
 *
 * A small bounded writer rather than a cJSON tree: a batch of 512 spans is
 * written once, straight into one growing buffer, with no node per field
 * (this runs for every exported span). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otlp.h"
#include "decimal.h"
#include "ids.h"
#include "json_plain.h"
#include "short_bytes.h"
#include "status.h"

typedef struct jbuf {
    char *p;                      /* owned until handed out; NUL-terminated */
    size_t len, cap;
    size_t max;                   /* content bytes allowed (the NUL not counted) */
    int err;                      /* sticky: the first error */
} jbuf;

/* Room for n more bytes and the NUL; 0 (and err set) when there is none. */
static int jb_grow(jbuf *b, size_t n)
{
    if (b->err)
        return 0;
    if (n > b->max - b->len) {
        b->err = LIRA_ETOOBIG;
        return 0;
    }
    size_t need = b->len + n + 1, cap = b->cap ? b->cap : 4096;
    if (need <= b->cap)
        return 1;
    while (cap < need)
        cap = cap > (b->max + 1) / 2 ? b->max + 1 : cap * 2;
    char *np = realloc(b->p, cap);
    if (!np) {
        b->err = LIRA_ENOMEM;
        return 0;
    }
    b->p = np;
    b->cap = cap;
    return 1;
}

/* The hot path is a compare and a memcpy (inlined for the literals): this
 * runs a few dozen times per exported span. */
static inline void jb_put(jbuf *b, const char *s, size_t n)
{
    if (b->len + n >= b->cap && !jb_grow(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

#define JB_LIT(b, s) jb_put((b), (s), sizeof(s) - 1)

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is not one
 * (overlong forms, surrogates and code points past U+10FFFF are invalid). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    if (c >= 0xf5 || len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0) ||
        (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
        return 0;
    return len;
}

/* A JSON string; control characters escaped, invalid UTF-8 as U+FFFD. */
static void jb_str(jbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t i = lira_json_plain_run(u, 0, n);
    if (i == n && !b->err && n + 2 < b->cap - b->len) {   /* the usual string, as it is */
        char *p = b->p + b->len;
        p[0] = '"';
        lira_short_copy(p + 1, s, n);
        p[n + 1] = '"';
        b->len += n + 2;
        return;
    }
    JB_LIT(b, "\"");
    jb_put(b, s, i);   /* the plain run already scanned */
    while (i < n) {
        size_t run = lira_json_plain_run(u, i, n);
        jb_put(b, s + i, run - i);
        if ((i = run) == n)
            break;
        unsigned c = u[i];
        size_t k = c < 0x80 ? 1 : utf8_seq(u + i, n - i);
        if (k > 1) {
            jb_put(b, s + i, k);   /* valid multi-byte UTF-8: as it is */
        } else if (k == 0) {
            JB_LIT(b, "\xef\xbf\xbd");
        } else if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            jb_put(b, e, 2);
        } else {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            jb_put(b, e, 6);
        }
        i += k ? k : 1;
    }
    JB_LIT(b, "\"");
}

/* A JSON string its writer knew to need no escaping (LIRA_ATTR_PLAIN_*). */
static void jb_plain(jbuf *b, const char *s, size_t n)
{
    if (b->len + n + 2 >= b->cap && !jb_grow(b, n + 2))
        return;
    char *p = b->p + b->len;
    p[0] = '"';
    lira_short_copy(p + 1, s, n);
    p[n + 1] = '"';
    b->len += n + 2;
}

/* {"key":"<k>","value": for a key known plain: one room check, one copy. */
static void jb_key_plain(jbuf *b, const char *k, size_t n)
{
    static const char open[] = "{\"key\":\"", close[] = "\",\"value\":";
    const size_t ol = sizeof open - 1, cl = sizeof close - 1;
    if (b->len + ol + n + cl >= b->cap && !jb_grow(b, ol + n + cl))
        return;
    char *p = b->p + b->len;
    memcpy(p, open, ol);
    lira_short_copy(p + ol, k, n);
    memcpy(p + ol + n, close, cl);
    b->len += ol + n + cl;
}

/* An id as a JSON string of lowercase hex, straight into the body. */
static void jb_hex(jbuf *b, const uint8_t *id, size_t n)
{
    if (b->len + 2 * n + 2 >= b->cap && !jb_grow(b, 2 * n + 2))
        return;
    char *p = b->p + b->len;
    p[0] = '"';
    lira_hex_lower(id, n, p + 1);
    p[2 * n + 1] = '"';
    b->len += 2 * n + 2;
}

/* Decimal digits straight into the buffer (decimal.h): snprintf cost more
 * than the rest of a span. quoted: as a JSON string (OTLP's int64s). */
static void jb_fmt_u64(jbuf *b, uint64_t v, int quoted)
{
    size_t n = lira_dec_len(v), q = quoted ? 1 : 0;
    if (b->len + n + 2 >= b->cap && !jb_grow(b, n + 2))
        return;
    char *p = b->p + b->len;
    p[0] = '"';   /* overwritten by the first digit when not quoted */
    lira_dec_write(p + q, v, n);
    p[q + n] = '"';
    b->len += n + 2 * q;
}

/* {"key":"k","value":{"stringValue":"v"}} */
static void kv_string(jbuf *b, const char *k, size_t klen, const char *v, size_t vlen)
{
    JB_LIT(b, "{\"key\":");
    jb_str(b, k, klen);
    JB_LIT(b, ",\"value\":{\"stringValue\":");
    jb_str(b, v, vlen);
    JB_LIT(b, "}}");
}

static void attr_value(jbuf *b, const lira_span_data *d, const lira_span_attr *a)
{
    char num[40];
    int n;
    switch (a->type) {
    case LIRA_ATTR_INT:
        JB_LIT(b, "{\"intValue\":");
        if (a->v.i < 0) {
            JB_LIT(b, "\"-");
            jb_fmt_u64(b, (uint64_t)0 - (uint64_t)a->v.i, 0);
            JB_LIT(b, "\"}");
        } else {
            jb_fmt_u64(b, (uint64_t)a->v.i, 1);
            JB_LIT(b, "}");
        }
        return;
    case LIRA_ATTR_DOUBLE:
        /* JSON has no NaN or infinities; the protobuf mapping spells them so. */
        if (isnan(a->v.d))
            JB_LIT(b, "{\"doubleValue\":\"NaN\"}");
        else if (a->v.d > 0 && isinf(a->v.d))
            JB_LIT(b, "{\"doubleValue\":\"Infinity\"}");
        else if (isinf(a->v.d))
            JB_LIT(b, "{\"doubleValue\":\"-Infinity\"}");
        else
            n = snprintf(num, sizeof num, "{\"doubleValue\":%.17g}", a->v.d),
            jb_put(b, num, (size_t)n);
        return;
    case LIRA_ATTR_BOOL:
        if (a->v.b)
            JB_LIT(b, "{\"boolValue\":true}");
        else
            JB_LIT(b, "{\"boolValue\":false}");
        return;
    default:
        JB_LIT(b, "{\"stringValue\":");
        if (a->plain & LIRA_ATTR_PLAIN_VALUE)
            jb_plain(b, d->arena + a->v.s.off, a->v.s.len);
        else
            jb_str(b, d->arena + a->v.s.off, a->v.s.len);
        JB_LIT(b, "}");
    }
}

static void encode_span(jbuf *b, const lira_span_data *d)
{
    JB_LIT(b, "{\"traceId\":");
    jb_hex(b, d->trace_id, sizeof d->trace_id);
    JB_LIT(b, ",\"spanId\":");
    jb_hex(b, d->span_id, sizeof d->span_id);
    if (d->ts_len) {
        JB_LIT(b, ",\"traceState\":");
        jb_str(b, d->arena + d->ts_off, d->ts_len);
    }
    if (d->has_parent) {
        JB_LIT(b, ",\"parentSpanId\":");
        jb_hex(b, d->parent_span_id, sizeof d->parent_span_id);
    }
    JB_LIT(b, ",\"name\":");
    jb_str(b, d->arena + d->name_off, d->name_len);
    JB_LIT(b, ",\"kind\":");
    jb_fmt_u64(b, (uint64_t)d->kind, 0);
    JB_LIT(b, ",\"startTimeUnixNano\":");
    jb_fmt_u64(b, d->start_unix_ns > 0 ? (uint64_t)d->start_unix_ns : 0, 1);
    JB_LIT(b, ",\"endTimeUnixNano\":");
    jb_fmt_u64(b, d->end_unix_ns > 0 ? (uint64_t)d->end_unix_ns : 0, 1);
    if (d->nattrs)
        JB_LIT(b, ",\"attributes\":[");
    for (size_t i = 0; i < d->nattrs; i++) {
        const lira_span_attr *a = &d->attrs[i];
        if (i)
            JB_LIT(b, ",");
        if (a->plain & LIRA_ATTR_PLAIN_KEY) {
            jb_key_plain(b, d->arena + a->key_off, a->key_len);
        } else {
            JB_LIT(b, "{\"key\":");
            jb_str(b, d->arena + a->key_off, a->key_len);
            JB_LIT(b, ",\"value\":");
        }
        attr_value(b, d, a);
        JB_LIT(b, "}");
    }
    if (d->nattrs)
        JB_LIT(b, "]");
    if (d->dropped_attrs) {
        JB_LIT(b, ",\"droppedAttributesCount\":");
        jb_fmt_u64(b, d->dropped_attrs, 0);
    }
    if (d->status != LIRA_STATUS_UNSET) {
        JB_LIT(b, ",\"status\":{");
        if (d->msg_len) {
            JB_LIT(b, "\"message\":");
            jb_str(b, d->arena + d->msg_off, d->msg_len);
            JB_LIT(b, ",");
        }
        JB_LIT(b, "\"code\":");
        jb_fmt_u64(b, (uint64_t)d->status, 0);
        JB_LIT(b, "}");
    }
    JB_LIT(b, "}");
}

int lira_otlp_encode_into(const lira_otlp_config *c, lira_span_data *const *spans, size_t n,
                          char **buf, size_t *cap, size_t *len)
{
    if (!c || !buf || !cap || !len || (n && !spans))
        return LIRA_EINVAL;
    jbuf b = {.p = *buf, .cap = *buf ? *cap : 0, .max = LIRA_OTLP_MAX_BODY - 2,
              .err = LIRA_OK};   /* body + NUL below the cap */
    /* Sized for the batch up front (an HTTP span is ~1 KB): growing by
     * doubling from 4 KB copied a 512-span body ~7 times. */
    size_t guess = 1024 + n * 1024;
    jb_grow(&b, guess < b.max ? guess : b.max);
    JB_LIT(&b, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[");
    for (size_t i = 0; i < c->nresource; i++) {
        if (i)
            JB_LIT(&b, ",");
        kv_string(&b, c->resource[i].key, strlen(c->resource[i].key), c->resource[i].value,
                  strlen(c->resource[i].value));
    }
    JB_LIT(&b, "]},\"scopeSpans\":[{\"scope\":{\"name\":\"lira\"");
#ifdef LIRA_VERSION
    JB_LIT(&b, ",\"version\":\"" LIRA_VERSION "\"");
#endif
    JB_LIT(&b, "},\"spans\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            JB_LIT(&b, ",");
        encode_span(&b, spans[i]);
    }
    JB_LIT(&b, "]}]}]}");
    *buf = b.p;   /* grown or not, still the caller's */
    *cap = b.cap;
    if (b.err)
        return b.err;
    b.p[b.len] = '\0';   /* jb_grow always left room for it */
    *len = b.len;
    return LIRA_OK;
}

int lira_otlp_encode(const lira_otlp_config *c, lira_span_data *const *spans, size_t n,
                     char **out, size_t *len)
{
    if (!out)
        return LIRA_EINVAL;
    char *buf = NULL;
    size_t cap = 0;
    int rc = lira_otlp_encode_into(c, spans, n, &buf, &cap, len);
    if (rc != LIRA_OK) {
        free(buf);
        return rc;
    }
    *out = buf;
    return LIRA_OK;
}
