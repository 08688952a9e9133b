#include "ids.h"

#include "status.h"

static const char hex_digits[] = "0123456789abcdef";

/* Writes 2n hex characters, no NUL. */
static void hex_encode(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex_digits[b[i] >> 4];
        out[2 * i + 1] = hex_digits[b[i] & 0x0f];
    }
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

static int all_zero(const uint8_t *b, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= b[i];
    return acc == 0;
}

static void fill_random(lira_rng *rng, uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        uint64_t x = lira_rng_next(rng);
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
        hex_encode(b + start, (size_t)(group_end[g] - start), out + o);
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
    hex_encode(id, n, out);
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
    hex_encode(tp->trace_id, LIRA_TRACE_ID_SIZE, out + 3);
    out[35] = '-';
    hex_encode(tp->span_id, LIRA_SPAN_ID_SIZE, out + 36);
    out[52] = '-';
    hex_encode(&tp->flags, 1, out + 53);
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
