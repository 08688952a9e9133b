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

#include "buf.h"
#include "otlp.h"
#include "status.h"

typedef struct jbuf {
    lira_buf buf;
    int err;                      /* sticky: the first error */
} jbuf;

static void jb_put(jbuf *b, const char *s, size_t n)
{
    if (!b->err)
        b->err = lira_buf_add(&b->buf, s, n);
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
    JB_LIT(b, "\"");
    size_t run = 0;   /* bytes copied as they are, flushed in one go */
    for (size_t i = 0; i < n;) {
        unsigned c = u[i];
        size_t k = c < 0x80 ? 1 : utf8_seq(u + i, n - i);
        if (k > 0 && c >= 0x20 && c != '"' && c != '\\') {
            run += k, i += k;
            continue;
        }
        jb_put(b, s + i - run, run);
        run = 0;
        if (k == 0) {
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
    jb_put(b, s + n - run, run);
    JB_LIT(b, "\"");
}

static void jb_cstr(jbuf *b, const char *s)
{
    jb_str(b, s, strlen(s));
}

static void jb_hex(jbuf *b, const uint8_t *id, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char out[2 * 16 + 2];
    size_t k = 0;
    out[k++] = '"';
    for (size_t i = 0; i < n; i++)
        out[k++] = hex[id[i] >> 4], out[k++] = hex[id[i] & 15];
    out[k++] = '"';
    jb_put(b, out, k);
}

static void jb_fmt_u64(jbuf *b, uint64_t v, int quoted)
{
    char num[32];
    int n = snprintf(num, sizeof num, quoted ? "\"%" PRIu64 "\"" : "%" PRIu64, v);
    jb_put(b, num, (size_t)n);
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
        n = snprintf(num, sizeof num, "{\"intValue\":\"%" PRId64 "\"}", a->v.i);
        jb_put(b, num, (size_t)n);
        return;
    case LIRA_ATTR_DOUBLE:
        /* JSON has no NaN or infinities; the protobuf mapping spells them so. */
        if (isnan(a->v.d))
            JB_LIT(b, "{\"doubleValue\":\"NaN\"}");
        else if (isinf(a->v.d))
            jb_cstr(b, a->v.d > 0 ? "{\"doubleValue\":\"Infinity\"}" : "{\"doubleValue\":\"-Infinity\"}");
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
        JB_LIT(b, "{\"key\":");
        jb_str(b, d->arena + a->key_off, a->key_len);
        JB_LIT(b, ",\"value\":");
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

int lira_otlp_encode(const lira_otlp_config *c, lira_span_data *const *spans, size_t n,
                     char **out, size_t *len)
{
    if (!c || !out || !len || (n && !spans))
        return LIRA_EINVAL;
    jbuf b = { .err = LIRA_OK };
    lira_buf_init(&b.buf, LIRA_OTLP_MAX_BODY - 2);   /* body + NUL below the cap, as ever */
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
    if (b.err) {
        lira_buf_free(&b.buf);
        return b.err;
    }
    *out = b.buf.p;
    *len = b.buf.len;
    return LIRA_OK;
}
