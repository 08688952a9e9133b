#include "ids.h"

#include <string.h>

#include "status.h"

/* The two hex digits of every byte: one 2-byte copy per byte, as ids are
 * formatted for every outbound request (traceparent) and log line. */
static const char hex_pairs[513] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
    "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
    "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
    "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
    "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

void lira_hex_lower(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        memcpy(out + 2 * i, hex_pairs + 2 * b[i], 2);
}

/* Lower-case hex only: the spec makes upper case invalid, not equivalent. */
static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int hex_decode(const char *s, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return LIRA_EPARSE;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return LIRA_OK;
}

/* Ids are 8 or 16 bytes: a word at a time (this runs for every id drawn
 * and every traceparent written). */
static int all_zero(const uint8_t *b, size_t n)
{
    uint64_t acc = 0, w;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, b + i, 8);
        acc |= w;
    }
    for (; i < n; i++)
        acc |= b[i];
    return acc == 0;
}

static void fill_random(lira_rng *rng, uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        uint64_t x = lira_rng_next(rng);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        if (n - i >= 8) {   /* the same bytes as the loop below, in one store */
            memcpy(b + i, &x, 8);
            continue;
        }
#endif
        for (size_t k = 0; k < 8 && i + k < n; k++)
            b[i + k] = (uint8_t)(x >> (8 * k));
    }
}

/* Check the buffer first so a too-small one ends up empty, never partial. */
static int check_out(char *out, size_t cap, size_t need)
{
    if (!out)
        return LIRA_EINVAL;
    if (cap < need) {
        if (cap > 0)
            out[0] = '\0';
        return LIRA_ETOOBIG;
    }
    return LIRA_OK;
}

/* ------------------------------------------------------------ UUIDv4 --- */

int lira_uuid4_from_bytes(const uint8_t bytes[16], char *out, size_t cap)
{
    int rc = check_out(out, cap, LIRA_UUID_STR_SIZE);
    if (rc != LIRA_OK)
        return rc;
    if (!bytes) {
        out[0] = '\0';
        return LIRA_EINVAL;
    }
    uint8_t b[16];
    for (int i = 0; i < 16; i++)
        b[i] = bytes[i];
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* variant 10 (RFC 9562) */
    /* Groups of 4-2-2-2-6 bytes separated by dashes. */
    static const int group_end[] = {4, 6, 8, 10, 16};
    size_t o = 0;
    int start = 0;
    for (int g = 0; g < 5; g++) {
        if (g > 0)
            out[o++] = '-';
        lira_hex_lower(b + start, (size_t)(group_end[g] - start), out + o);
        o += 2 * (size_t)(group_end[g] - start);
        start = group_end[g];
    }
    out[o] = '\0';
    return LIRA_OK;
}

int lira_uuid4(lira_rng *rng, char *out, size_t cap)
{
    int rc = check_out(out, cap, LIRA_UUID_STR_SIZE);
    if (rc != LIRA_OK)
        return rc;
    if (!rng) {
        out[0] = '\0';
        return LIRA_EINVAL;
    }
    uint8_t b[16];
    fill_random(rng, b, sizeof b);
    return lira_uuid4_from_bytes(b, out, cap);
}

/* ------------------------------------------------------ trace context --- */

int lira_trace_id_new(lira_rng *rng, uint8_t id[LIRA_TRACE_ID_SIZE])
{
    if (!rng || !id)
        return LIRA_EINVAL;
    do
        fill_random(rng, id, LIRA_TRACE_ID_SIZE);
    while (all_zero(id, LIRA_TRACE_ID_SIZE));
    return LIRA_OK;
}

int lira_span_id_new(lira_rng *rng, uint8_t id[LIRA_SPAN_ID_SIZE])
{
    if (!rng || !id)
        return LIRA_EINVAL;
    do
        fill_random(rng, id, LIRA_SPAN_ID_SIZE);
    while (all_zero(id, LIRA_SPAN_ID_SIZE));
    return LIRA_OK;
}

static int format_hex_id(const uint8_t *id, size_t n, char *out, size_t cap)
{
    int rc = check_out(out, cap, 2 * n + 1);
    if (rc != LIRA_OK)
        return rc;
    if (!id) {
        out[0] = '\0';
        return LIRA_EINVAL;
    }
    lira_hex_lower(id, n, out);
    out[2 * n] = '\0';
    return LIRA_OK;
}

int lira_trace_id_format(const uint8_t id[LIRA_TRACE_ID_SIZE], char *out, size_t cap)
{
    return format_hex_id(id, LIRA_TRACE_ID_SIZE, out, cap);
}

int lira_span_id_format(const uint8_t id[LIRA_SPAN_ID_SIZE], char *out, size_t cap)
{
    return format_hex_id(id, LIRA_SPAN_ID_SIZE, out, cap);
}

int lira_traceparent_format(const lira_traceparent *tp, char *out, size_t cap)
{
    int rc = check_out(out, cap, LIRA_TRACEPARENT_STR_SIZE);
    if (rc != LIRA_OK)
        return rc;
    if (!tp || all_zero(tp->trace_id, LIRA_TRACE_ID_SIZE)
        || all_zero(tp->span_id, LIRA_SPAN_ID_SIZE)) {
        out[0] = '\0';
        return LIRA_EINVAL;
    }
    /* 00-<trace 32>-<span 16>-<flags 2>: dashes at 2, 35, 52. */
    out[0] = '0';
    out[1] = '0';
    out[2] = '-';
    lira_hex_lower(tp->trace_id, LIRA_TRACE_ID_SIZE, out + 3);
    out[35] = '-';
    lira_hex_lower(tp->span_id, LIRA_SPAN_ID_SIZE, out + 36);
    out[52] = '-';
    lira_hex_lower(&tp->flags, 1, out + 53);
    out[55] = '\0';
    return LIRA_OK;
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

int lira_traceparent_parse(const char *s, size_t len, lira_traceparent *out)
{
    if (!s || !out)
        return LIRA_EINVAL;
    while (len > 0 && is_ows(s[0])) {
        s++;
        len--;
    }
    while (len > 0 && is_ows(s[len - 1]))
        len--;
    if (len < LIRA_TRACEPARENT_LEN)
        return LIRA_EPARSE;

    lira_traceparent tp;
    if (hex_decode(s, 1, &tp.version) != LIRA_OK || tp.version == 0xff)
        return LIRA_EPARSE;
    if (tp.version == 0 && len != LIRA_TRACEPARENT_LEN)
        return LIRA_EPARSE;
    /* A future version may append fields, but only after a dash. */
    if (len > LIRA_TRACEPARENT_LEN && s[LIRA_TRACEPARENT_LEN] != '-')
        return LIRA_EPARSE;
    if (s[2] != '-' || s[35] != '-' || s[52] != '-')
        return LIRA_EPARSE;
    if (hex_decode(s + 3, LIRA_TRACE_ID_SIZE, tp.trace_id) != LIRA_OK
        || hex_decode(s + 36, LIRA_SPAN_ID_SIZE, tp.span_id) != LIRA_OK
        || hex_decode(s + 53, 1, &tp.flags) != LIRA_OK)
        return LIRA_EPARSE;
    if (all_zero(tp.trace_id, LIRA_TRACE_ID_SIZE) || all_zero(tp.span_id, LIRA_SPAN_ID_SIZE))
        return LIRA_EPARSE;
    *out = tp;
    return LIRA_OK;
}
