#include "check.h"

#include <stdlib.h>

#include "ids.h"
#include "rng.h"
#include "status.h"

#define NUUID 100000

static char uuids[NUUID][LIRA_UUID_STR_SIZE];

static int is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static int is_uuid4_text(const char *s)
{
    if (strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !is_lower_hex(s[i]))
            return 0;
    }
    return s[14] == '4' && strchr("89ab", s[19]) != NULL;
}

static void test_uuid4_from_known_bytes(void)
{
    static const struct {
        uint8_t fill;  /* every byte, or 0xee for 00 01 .. 0f */
        const char *want;
    } cases[] = {
        {0x00, "00000000-0000-4000-8000-000000000000"},
        {0xff, "ffffffff-ffff-4fff-bfff-ffffffffffff"},
        {0xee, "00010203-0405-4607-8809-0a0b0c0d0e0f"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint8_t b[16];
        for (int i = 0; i < 16; i++)
            b[i] = cases[c].fill == 0xee ? (uint8_t)i : cases[c].fill;
        char out[LIRA_UUID_STR_SIZE];
        CHECK_EQ(lira_uuid4_from_bytes(b, out, sizeof out), LIRA_OK);
        CHECK_STR(out, cases[c].want);
        CHECK(b[6] == (cases[c].fill == 0xee ? 6 : cases[c].fill)); /* input untouched */
    }
}

static int cmp_uuid(const void *a, const void *b)
{
    return memcmp(a, b, LIRA_UUID_STR_SIZE);
}

static void test_uuid4_format_and_uniqueness(void)
{
    lira_rng r;
    lira_rng_seed(&r, 2026);
    int variants[4] = {0};
    int bad = 0;
    for (int i = 0; i < NUUID; i++) {
        CHECK_EQ(lira_uuid4(&r, uuids[i], sizeof uuids[i]), LIRA_OK);
        bad += !is_uuid4_text(uuids[i]);
        const char *p = strchr("89ab", uuids[i][19]);
        if (p)
            variants[p - "89ab"]++;
    }
    CHECK_EQ(bad, 0);
    for (int v = 0; v < 4; v++)
        CHECK_INT(variants[v], >, NUUID / 5);
    qsort(uuids, NUUID, sizeof uuids[0], cmp_uuid);
    int dups = 0;
    for (int i = 1; i < NUUID; i++)
        dups += memcmp(uuids[i - 1], uuids[i], LIRA_UUID_STR_SIZE) == 0;
    CHECK_EQ(dups, 0);
}

static void test_uuid4_small_buffer_and_null(void)
{
    lira_rng r;
    lira_rng_seed(&r, 1);
    uint8_t b[16] = {0};
    char out[LIRA_UUID_STR_SIZE];
    memset(out, 'x', sizeof out);
    CHECK_EQ(lira_uuid4_from_bytes(b, out, 36), LIRA_ETOOBIG);
    CHECK_EQ(out[0], '\0');
    CHECK_EQ(lira_uuid4_from_bytes(b, out, 0), LIRA_ETOOBIG);
    CHECK_EQ(lira_uuid4_from_bytes(NULL, out, sizeof out), LIRA_EINVAL);
    CHECK_EQ(lira_uuid4_from_bytes(b, NULL, 37), LIRA_EINVAL);
    lira_rng before = r;
    CHECK_EQ(lira_uuid4(&r, out, 10), LIRA_ETOOBIG);
    CHECK(memcmp(&before, &r, sizeof r) == 0); /* rng not advanced on error */
    CHECK_EQ(lira_uuid4(NULL, out, sizeof out), LIRA_EINVAL);
    CHECK_EQ(lira_uuid4(&r, NULL, sizeof out), LIRA_EINVAL);
}

/* Every byte value as two lower-case digits, exactly 2n characters. */
static void test_hex_lower(void)
{
    uint8_t b[256];
    char out[2 * 256 + 1], want[3];
    for (int i = 0; i < 256; i++)
        b[i] = (uint8_t)i;
    memset(out, '#', sizeof out);
    lira_hex_lower(b, 256, out);
    CHECK_EQ(out[512], '#');
    for (int i = 0; i < 256; i++) {
        snprintf(want, sizeof want, "%02x", i);
        CHECK(out[2 * i] == want[0] && out[2 * i + 1] == want[1]);
    }
    lira_hex_lower(b, 0, out);   /* nothing written */
    CHECK_EQ(out[0], '0');
}

static void test_trace_and_span_ids(void)
{
    lira_rng r;
    lira_rng_seed(&r, 3);
    uint8_t tid[LIRA_TRACE_ID_SIZE], sid[LIRA_SPAN_ID_SIZE];
    char th[LIRA_TRACE_ID_HEX_SIZE], sh[LIRA_SPAN_ID_HEX_SIZE];
    for (int i = 0; i < 1000; i++) {
        CHECK_EQ(lira_trace_id_new(&r, tid), LIRA_OK);
        CHECK_EQ(lira_span_id_new(&r, sid), LIRA_OK);
        CHECK_EQ(lira_trace_id_format(tid, th, sizeof th), LIRA_OK);
        CHECK_EQ(lira_span_id_format(sid, sh, sizeof sh), LIRA_OK);
        CHECK_EQ(strlen(th), 32);
        CHECK_EQ(strlen(sh), 16);
        CHECK(strspn(th, "0123456789abcdef") == 32);
        CHECK(strspn(sh, "0123456789abcdef") == 16);
        CHECK(strcmp(th, "00000000000000000000000000000000") != 0);
        CHECK(strcmp(sh, "0000000000000000") != 0);
    }
    static const uint8_t known[16] = {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
                                      0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};
    CHECK_EQ(lira_trace_id_format(known, th, sizeof th), LIRA_OK);
    CHECK_STR(th, "4bf92f3577b34da6a3ce929d0e0e4736");
    CHECK_EQ(lira_trace_id_format(known, th, 32), LIRA_ETOOBIG);
    CHECK_EQ(th[0], '\0');
    CHECK_EQ(lira_span_id_format(known, sh, 16), LIRA_ETOOBIG);
    CHECK_EQ(lira_trace_id_new(NULL, tid), LIRA_EINVAL);
    CHECK_EQ(lira_trace_id_new(&r, NULL), LIRA_EINVAL);
    CHECK_EQ(lira_span_id_new(NULL, sid), LIRA_EINVAL);
    CHECK_EQ(lira_span_id_format(NULL, sh, sizeof sh), LIRA_EINVAL);
}

#define TID "4bf92f3577b34da6a3ce929d0e0e4736"
#define SID "00f067aa0ba902b7"

/* Valid and invalid headers, after the W3C Trace Context spec and its test
 * suite (test/test.py: version, trace-id, parent-id and flags cases). */
static const struct {
    const char *header;
    int want;         /* LIRA_OK or LIRA_EPARSE */
    uint8_t version;
    uint8_t flags;
} tp_cases[] = {
    {"00-" TID "-" SID "-01", LIRA_OK, 0x00, 0x01},
    {"00-" TID "-" SID "-00", LIRA_OK, 0x00, 0x00},
    {"00-" TID "-" SID "-09", LIRA_OK, 0x00, 0x09},        /* unknown flags kept */
    {"  00-" TID "-" SID "-01\t", LIRA_OK, 0x00, 0x01},    /* OWS around the value */
    {"01-" TID "-" SID "-01", LIRA_OK, 0x01, 0x01},
    {"cc-" TID "-" SID "-01-what-the-future-will-be-like", LIRA_OK, 0xcc, 0x01},
    {"fe-" TID "-" SID "-03-", LIRA_OK, 0xfe, 0x03},
    {"ff-" TID "-" SID "-01", LIRA_EPARSE, 0, 0},           /* version ff forbidden */
    {"00-" TID "-" SID "-01-extra", LIRA_EPARSE, 0, 0},     /* 00 must be 55 chars */
    {"cc-" TID "-" SID "-01.what", LIRA_EPARSE, 0, 0},      /* extra needs a dash */
    {"cc-" TID "-" SID "-0", LIRA_EPARSE, 0, 0},
    {"00-00000000000000000000000000000000-" SID "-01", LIRA_EPARSE, 0, 0},
    {"00-" TID "-0000000000000000-01", LIRA_EPARSE, 0, 0},
    {"00-4BF92F3577B34DA6A3CE929D0E0E4736-" SID "-01", LIRA_EPARSE, 0, 0},
    {"00-" TID "-00F067AA0BA902B7-01", LIRA_EPARSE, 0, 0},
    {"0A-" TID "-" SID "-01", LIRA_EPARSE, 0, 0},
    {"00-" TID "-" SID "-0A", LIRA_EPARSE, 0, 0},
    {"0x-" TID "-" SID "-01", LIRA_EPARSE, 0, 0},
    {"00-" TID "-" SID "-0g", LIRA_EPARSE, 0, 0},
    {"00-4bf92f3577b34da6a3ce929d0e0e473g-" SID "-01", LIRA_EPARSE, 0, 0},
    {"0-" TID "-" SID "-01", LIRA_EPARSE, 0, 0},
    {"000-" TID "-" SID "-01", LIRA_EPARSE, 0, 0},
    {"00-4bf92f3577b34da6a3ce929d0e0e473-" SID "-01", LIRA_EPARSE, 0, 0},
    {"00-4bf92f3577b34da6a3ce929d0e0e47366-" SID "-01", LIRA_EPARSE, 0, 0},
    {"00-" TID "-00f067aa0ba902b-01", LIRA_EPARSE, 0, 0},
    {"00-" TID "-00f067aa0ba902b77-01", LIRA_EPARSE, 0, 0},
    {"00-" TID "-" SID "-1", LIRA_EPARSE, 0, 0},
    {"00-" TID "-" SID "-011", LIRA_EPARSE, 0, 0},
    {"00_" TID "-" SID "-01", LIRA_EPARSE, 0, 0},
    {"00-" TID "_" SID "-01", LIRA_EPARSE, 0, 0},
    {"00-" TID "-" SID "_01", LIRA_EPARSE, 0, 0},
    {"00 " TID " " SID " 01", LIRA_EPARSE, 0, 0},
    {"00-" TID "-" SID "-01 x", LIRA_EPARSE, 0, 0},
    {"", LIRA_EPARSE, 0, 0},
    {"   ", LIRA_EPARSE, 0, 0},
    {"00", LIRA_EPARSE, 0, 0},
};

static void test_traceparent_parse_table(void)
{
    static const uint8_t tid[16] = {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
                                    0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};
    static const uint8_t sid[8] = {0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7};
    for (size_t i = 0; i < sizeof tp_cases / sizeof tp_cases[0]; i++) {
        lira_traceparent tp;
        memset(&tp, 0x5a, sizeof tp);
        const char *h = tp_cases[i].header;
        int rc = lira_traceparent_parse(h, strlen(h), &tp);
        if (rc != tp_cases[i].want)
            fprintf(stderr, "case %zu: \"%s\" -> %d\n", i, h, rc);
        CHECK_EQ(rc, tp_cases[i].want);
        if (tp_cases[i].want == LIRA_OK && rc == LIRA_OK) {
            CHECK_EQ(tp.version, tp_cases[i].version);
            CHECK_EQ(tp.flags, tp_cases[i].flags);
            CHECK(memcmp(tp.trace_id, tid, 16) == 0);
            CHECK(memcmp(tp.span_id, sid, 8) == 0);
        } else if (rc != LIRA_OK) {
            CHECK_EQ(tp.version, 0x5a); /* untouched on error */
        }
    }
}

static void test_traceparent_parse_is_length_bounded(void)
{
    /* A valid header followed by bytes beyond len: only len bytes count. */
    const char *s = "00-" TID "-" SID "-01-garbage";
    lira_traceparent tp;
    CHECK_EQ(lira_traceparent_parse(s, LIRA_TRACEPARENT_LEN, &tp), LIRA_OK);
    CHECK_EQ(lira_traceparent_parse(s, LIRA_TRACEPARENT_LEN - 1, &tp), LIRA_EPARSE);
    /* An embedded NUL is a wrong length, not an early end. */
    char buf[57];
    memcpy(buf, s, LIRA_TRACEPARENT_LEN);
    buf[55] = '\0';
    CHECK_EQ(lira_traceparent_parse(buf, 56, &tp), LIRA_EPARSE);
    CHECK_EQ(lira_traceparent_parse(NULL, 55, &tp), LIRA_EINVAL);
    CHECK_EQ(lira_traceparent_parse(s, 55, NULL), LIRA_EINVAL);
}

static void test_traceparent_format_round_trip(void)
{
    lira_rng r;
    lira_rng_seed(&r, 4);
    for (int i = 0; i < 1000; i++) {
        lira_traceparent tp = {.version = 7, .flags = (uint8_t)(i & 1)}, back;
        lira_trace_id_new(&r, tp.trace_id);
        lira_span_id_new(&r, tp.span_id);
        char out[LIRA_TRACEPARENT_STR_SIZE];
        CHECK_EQ(lira_traceparent_format(&tp, out, sizeof out), LIRA_OK);
        CHECK_EQ(strlen(out), 55);
        CHECK(out[0] == '0' && out[1] == '0'); /* always level 1 */
        CHECK_EQ(lira_traceparent_parse(out, strlen(out), &back), LIRA_OK);
        CHECK_EQ(back.version, 0);
        CHECK_EQ(back.flags, tp.flags);
        CHECK(memcmp(back.trace_id, tp.trace_id, 16) == 0);
        CHECK(memcmp(back.span_id, tp.span_id, 8) == 0);
    }
    lira_traceparent tp = {0};
    char out[LIRA_TRACEPARENT_STR_SIZE];
    CHECK_EQ(lira_traceparent_format(&tp, out, sizeof out), LIRA_EINVAL); /* zero ids */
    tp.trace_id[15] = 1;
    CHECK_EQ(lira_traceparent_format(&tp, out, sizeof out), LIRA_EINVAL); /* zero span */
    tp.span_id[0] = 1;
    tp.flags = 1;
    CHECK_EQ(lira_traceparent_format(&tp, out, sizeof out), LIRA_OK);
    CHECK_STR(out, "00-00000000000000000000000000000001-0100000000000000-01");
    CHECK_EQ(lira_traceparent_format(&tp, out, 55), LIRA_ETOOBIG);
    CHECK_EQ(out[0], '\0');
    CHECK_EQ(lira_traceparent_format(NULL, out, sizeof out), LIRA_EINVAL);
    CHECK_EQ(lira_traceparent_format(&tp, NULL, sizeof out), LIRA_EINVAL);
}

int main(void)
{
    RUN(test_uuid4_from_known_bytes);
    RUN(test_uuid4_format_and_uniqueness);
    RUN(test_uuid4_small_buffer_and_null);
    RUN(test_hex_lower);
    RUN(test_trace_and_span_ids);
    RUN(test_traceparent_parse_table);
    RUN(test_traceparent_parse_is_length_bounded);
    RUN(test_traceparent_format_round_trip);
    return check_summary();
}
