/* test_log.c — log lines: exact JSON, escaping, redaction, levels, rate
 * limiting on an injected clock, truncation, the text format, reopen,
 * batches of whole lines (file and pipe). */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"
#include "log.h"
#include "status.h"

#define SEC INT64_C(1000000000)
#define WALL (INT64_C(1700000000) * SEC + INT64_C(123456789))   /* 2023-11-14T22:13:20.123Z */

static char tmpl[64];

/* A log writing to a fresh temporary file. */
static lira_log *open_tmp(lira_log_options *o)
{
    snprintf(tmpl, sizeof tmpl, "/tmp/lira_test_log_XXXXXX");
    int fd = mkstemp(tmpl);
    close(fd);
    o->path = tmpl;
    lira_log *l = NULL;
    CHECK_EQ(lira_log_new(o, &l), LIRA_OK);
    return l;
}

static char *slurp(void)
{
    static char buf[1 << 20];
    FILE *f = fopen(tmpl, "rb");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    return buf;
}

static void done(lira_log *l)
{
    lira_log_free(l);
    unlink(tmpl);
}

static lira_log_field s_(const char *k, const char *v)
{
    return (lira_log_field){.key = k, .type = LIRA_LOGF_STR, .s = v, .len = SIZE_MAX};
}

static void test_ts(void)
{
    char b[32];
    CHECK_EQ(lira_log_format_ts(0, b, sizeof b), LIRA_OK);
    CHECK_STR(b, "1970-01-01T00:00:00.000Z");
    CHECK_EQ(lira_log_format_ts(WALL, b, sizeof b), LIRA_OK);
    CHECK_STR(b, "2023-11-14T22:13:20.123Z");
    CHECK_EQ(lira_log_format_ts(INT64_C(951782400) * SEC, b, sizeof b), LIRA_OK);
    CHECK_STR(b, "2000-02-29T00:00:00.000Z");   /* a leap day */
    CHECK_EQ(lira_log_format_ts(-1, b, sizeof b), LIRA_EINVAL);
    CHECK_EQ(lira_log_format_ts(0, b, 24), LIRA_EINVAL);
}

/* Each line's ts is its own wall time to the millisecond, whatever the
 * line before it had: the same millisecond, the next, the next second, and
 * back. */
static void test_ts_per_line(void)
{
    lira_log_options o;
    lira_log_options_default(&o);
    lira_log *l = open_tmp(&o);
    const int64_t ms = 1000000;
    const int64_t at[] = {WALL, WALL + 1, WALL + ms, WALL + SEC, WALL - SEC, 0, WALL + 877 * ms};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++)
        CHECK_EQ(lira_log_write(l, LIRA_LOG_INFO, 0, at[i], "t", NULL, 0), LIRA_OK);
    const char *want[] = {"2023-11-14T22:13:20.123Z", "2023-11-14T22:13:20.123Z",
                          "2023-11-14T22:13:20.124Z", "2023-11-14T22:13:21.123Z",
                          "2023-11-14T22:13:19.123Z", "1970-01-01T00:00:00.000Z",
                          "2023-11-14T22:13:21.000Z"};
    const char *p = slurp();
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char ts[40];
        snprintf(ts, sizeof ts, "{\"ts\":\"%s\"", want[i]);
        CHECK(strncmp(p, ts, strlen(ts)) == 0);
        p = strchr(p, '\n');
        if (!p)
            break;
        p++;
    }
    done(l);
}

static void test_json_line_exact(void)
{
    lira_log_options o;
    lira_log_options_default(&o);
    lira_log *l = open_tmp(&o);
    lira_log_field f[] = {
        s_("client", "shop"),
        {.key = "status", .type = LIRA_LOGF_INT, .i = 200},
        {.key = "latency_ms", .type = LIRA_LOGF_NUM, .d = 12.5},
        {.key = "ok", .type = LIRA_LOGF_BOOL, .i = 1},
        {.key = "nan", .type = LIRA_LOGF_NUM, .d = NAN},
        {.key = NULL, .type = LIRA_LOGF_STR, .s = "skipped"},
        {.key = "absent", .type = LIRA_LOGF_STR, .s = NULL},
        {.key = "obj", .type = LIRA_LOGF_JSON, .s = "{\"a\":[1,2]}", .len = SIZE_MAX},
    };
    CHECK_EQ(lira_log_write(l, LIRA_LOG_INFO, 0, WALL, "call", f, 8), LIRA_OK);
    CHECK_STR(slurp(), "{\"ts\":\"2023-11-14T22:13:20.123Z\",\"level\":\"info\",\"msg\":\"call\","
                       "\"client\":\"shop\",\"status\":200,\"latency_ms\":12.5,\"ok\":true,"
                       "\"nan\":null,\"obj\":{\"a\":[1,2]}}\n");
    done(l);
}

static void test_numbers(void)
{
    lira_log_options o;
    lira_log_options_default(&o);
    lira_log *l = open_tmp(&o);
    const double d[] = {12.345, 0.001, 250, -0.5, -1.25, 1.0 / 3, 1e20, 0.1 + 0.2};
    lira_log_field f[9];
    const char *k[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
    for (int i = 0; i < 8; i++)
        f[i] = (lira_log_field){.key = k[i], .type = LIRA_LOGF_NUM, .d = d[i]};
    f[8] = (lira_log_field){.key = "i", .type = LIRA_LOGF_INT, .i = INT64_MIN};
    CHECK_EQ(lira_log_write(l, LIRA_LOG_INFO, 0, WALL, "n", f, 9), LIRA_OK);
    CHECK(strstr(slurp(), "\"a\":12.345,\"b\":0.001,\"c\":250,\"d\":-0.5,\"e\":-1.25,"
                          "\"f\":0.333333333333333,\"g\":1e+20,\"h\":0.3,"
                          "\"i\":-9223372036854775808}"));
    done(l);
}

static void test_escaping(void)
{
    lira_log_options o;
    lira_log_options_default(&o);
    lira_log *l = open_tmp(&o);
    /* quote, backslash, newline, tab, a control byte, valid UTF-8 (é, 😀),
     * and invalid bytes (a lone continuation, a truncated sequence, an
     * overlong '/', a surrogate) */
    const char v[] = "a\"b\\c\nd\te\x01" "f\xc3\xa9\xf0\x9f\x98\x80g\x80h\xe2\x82" "i\xc0\xafj"
                     "\xed\xa0\x80k";
    lira_log_field f[] = {{.key = "k\"ey", .type = LIRA_LOGF_STR, .s = v, .len = sizeof v - 1},
                          {.key = "nul", .type = LIRA_LOGF_STR, .s = "x\0y", .len = 3}};
    CHECK_EQ(lira_log_write(l, LIRA_LOG_INFO, 0, WALL, "m\n", f, 2), LIRA_OK);
    const char *want = "{\"ts\":\"2023-11-14T22:13:20.123Z\",\"level\":\"info\",\"msg\":\"m\\n\","
                       "\"k\\\"ey\":\"a\\\"b\\\\c\\nd\\te\\u0001f\xc3\xa9\xf0\x9f\x98\x80g\\ufffdh"
                       "\\ufffd\\ufffdi\\ufffd\\ufffdj\\ufffd\\ufffd\\ufffdk\","
                       "\"nul\":\"x\\u0000y\"}\n";
    CHECK_STR(slurp(), want);
    done(l);
}

#define PAD10 "pppppppppp"
#define PAD70 PAD10 PAD10 PAD10 PAD10 PAD10 PAD10 PAD10

/* Every kind of field through the unchecked path (a short line) and the
 * checked one (max_line too small for the worst case): the same bytes. */
static void test_fast_and_checked_agree(void)
{
    lira_log_field f[] = {
        {.key = "client", .type = LIRA_LOGF_STR, .flags = LIRA_LOGF_KEYOK, .s = "sh\"op",
         .len = SIZE_MAX},
        {.key = "trace_id", .type = LIRA_LOGF_STR, .flags = LIRA_LOGF_KEYOK | LIRA_LOGF_PLAIN,
         .s = "4bf92f35", .len = SIZE_MAX},
        {.key = "skipped", .type = LIRA_LOGF_STR, .s = NULL},
        {.key = NULL, .type = LIRA_LOGF_INT, .i = 1},
        {.key = "n", .type = LIRA_LOGF_INT, .i = -42},
        {.key = "ms", .type = LIRA_LOGF_NUM, .d = 12.345},
        {.key = "g", .type = LIRA_LOGF_NUM, .d = 1.0 / 3},
        {.key = "inf", .type = LIRA_LOGF_NUM, .d = INFINITY},
        {.key = "b", .type = LIRA_LOGF_BOOL, .i = 0},
        {.key = "k\tey", .type = LIRA_LOGF_STR, .s = "v\x01", .len = SIZE_MAX},
        /* 6 bytes per byte at worst: past 512 in all, though the line is not */
        {.key = "pad", .type = LIRA_LOGF_STR, .s = PAD70, .len = SIZE_MAX},
    };
    char first[1024];
    for (int round = 0; round < 2; round++) {
        lira_log_options o;
        lira_log_options_default(&o);
        o.max_line = round == 0 ? 8192 : 512;
        lira_log *l = open_tmp(&o);
        CHECK_EQ(lira_log_write(l, LIRA_LOG_INFO, 0, WALL, "call", f, 11), LIRA_OK);
        if (round == 0)
            snprintf(first, sizeof first, "%s", slurp());
        else
            CHECK_STR(slurp(), first);
        done(l);
    }
    CHECK_STR(first, "{\"ts\":\"2023-11-14T22:13:20.123Z\",\"level\":\"info\",\"msg\":\"call\","
                     "\"client\":\"sh\\\"op\",\"trace_id\":\"4bf92f35\",\"n\":-42,\"ms\":12.345,"
                     "\"g\":0.333333333333333,\"inf\":null,\"b\":false,\"k\\tey\":\"v\\u0001\","
                     "\"pad\":\"" PAD70 "\"}\n");
}

/* Microseconds as milliseconds, exactly, through both paths. */
static void test_micros(void)
{
    const int64_t us[] = {0, 1, 2130, 2000, 12345, -500, -1250, 999999, INT64_MAX, INT64_MIN};
    lira_log_field f[11];
    const char *k[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};
    for (int i = 0; i < 10; i++)
        f[i] = (lira_log_field){.key = k[i], .type = LIRA_LOGF_MICROS, .i = us[i]};
    /* 6 bytes per byte at worst: with max_line 512, the checked path */
    f[10] = s_("pad", PAD70);
    for (int round = 0; round < 2; round++) {
        lira_log_options o;
        lira_log_options_default(&o);
        o.max_line = round == 0 ? 8192 : 512;
        lira_log *l = open_tmp(&o);
        CHECK_EQ(lira_log_write(l, LIRA_LOG_INFO, 0, WALL, "n", f, 11), LIRA_OK);
        CHECK(strstr(slurp(), "\"a\":0,\"b\":0.001,\"c\":2.13,\"d\":2,\"e\":12.345,"
                              "\"f\":-0.5,\"g\":-1.25,\"h\":999.999,"
                              "\"i\":9223372036854775.807,\"j\":-9223372036854775.808,"
                              "\"pad\":\"" PAD70 "\"}\n"));
        done(l);
    }
}

/* Fields rendered once as pairs and passed as one PAIRS field make the same
 * line as the fields themselves, through both paths; the rendering redacts
 * as a line does; what does not fit (or a text log) renders nothing; a text
 * line leaves PAIRS out. */
static void test_pairs(void)
{
    lira_log_options o;
    lira_log_options_default(&o);
    lira_log *l = open_tmp(&o);
    lira_log_field head[] = {
        s_("client", "sh\"op"),
        {.key = "method", .type = LIRA_LOGF_STR, .flags = LIRA_LOGF_KEYOK | LIRA_LOGF_PLAIN,
         .s = "GET", .len = 3},
        {.key = "url", .type = LIRA_LOGF_URL, .s = "https://u:p@h/x?token=t0k&a=1",
         .len = SIZE_MAX},
        {.key = "authorization", .type = LIRA_LOGF_STR, .flags = LIRA_LOGF_CHECK, .s = "Bearer t0k",
         .len = SIZE_MAX},
        {.key = "absent", .type = LIRA_LOGF_STR, .s = NULL},
        s_("endpoint", "/x"),
    };
    char pairs[512];
    size_t n = lira_log_render_pairs(l, head, 6, pairs, sizeof pairs);
    CHECK(n > 0);
    pairs[n] = '\0';
    CHECK_STR(pairs, ",\"client\":\"sh\\\"op\",\"method\":\"GET\","
                     "\"url\":\"https://REDACTED@h/x?token=REDACTED&a=1\","
                     "\"authorization\":\"REDACTED\",\"endpoint\":\"/x\"");
    CHECK_EQ(lira_log_render_pairs(l, head, 6, pairs, n - 1), 0);   /* one byte short */
    CHECK_EQ(lira_log_render_pairs(l, head, 6, pairs, n), n);
    CHECK_EQ(lira_log_render_pairs(NULL, head, 6, pairs, sizeof pairs), 0);
    done(l);

    lira_log_field tail = {.key = "status", .type = LIRA_LOGF_INT, .flags = LIRA_LOGF_KEYOK,
                           .i = 200};
    lira_log_field whole[8], packed[3] = {
        {.key = "", .type = LIRA_LOGF_PAIRS, .s = pairs, .len = n}, tail, s_("pad", PAD70)};
    memcpy(whole, head, sizeof head);
    whole[6] = tail;
    whole[7] = packed[2];
    for (int round = 0; round < 2; round++) {
        lira_log_options_default(&o);
        o.max_line = round == 0 ? 8192 : 512;   /* 512: the checked path (the pad) */
        l = open_tmp(&o);
        CHECK_EQ(lira_log_write(l, LIRA_LOG_INFO, 0, WALL, "call", whole, 8), LIRA_OK);
        char want[1024];
        const char *got = slurp();
        CHECK(strlen(got) < sizeof want);
        memcpy(want, got, strlen(got) < sizeof want ? strlen(got) + 1 : 1);
        done(l);
        l = open_tmp(&o);
        CHECK_EQ(lira_log_write(l, LIRA_LOG_INFO, 0, WALL, "call", packed, 3), LIRA_OK);
        CHECK_STR(slurp(), want);
        CHECK(strstr(want, "\"endpoint\":\"/x\",\"status\":200,\"pad\"") != NULL);
        done(l);
    }

    lira_log_options_default(&o);
    o.format = LIRA_LOG_TEXT;
    l = open_tmp(&o);
    CHECK(!lira_log_is_json(l));
    CHECK_EQ(lira_log_render_pairs(l, head, 6, pairs, sizeof pairs), 0);
    CHECK_EQ(lira_log_write(l, LIRA_LOG_INFO, 0, WALL, "call", packed, 2), LIRA_OK);
    CHECK_STR(slurp(), "2023-11-14T22:13:20.123Z INFO  call status=200\n");
    done(l);
}

static int nlines(const char *s);

/* A rendered line is the same bytes lira_log_write gives for the same
 * members; it batches like any line, is refused whole (ERANGE, nothing
 * written) when it would not fit, and only takes JSON lines below warn. */
static void test_rendered(void)
{
    static const char head[] = ",\"client\":\"shop\",\"method\":\"GET\"";
    static const char tail[] = ",\"status\":200,\"attempts\":1";
    const lira_log_piece p[2] = {{head, sizeof head - 1}, {tail, sizeof tail - 1}};
    lira_log_options o;
    lira_log_options_default(&o);
    o.flush_ns = 0;
    lira_log *l = open_tmp(&o);
    lira_log_field f[2] = {{.key = "", .type = LIRA_LOGF_PAIRS, .s = head, .len = sizeof head - 1},
                           {.key = "", .type = LIRA_LOGF_PAIRS, .s = tail, .len = sizeof tail - 1}};
    CHECK_EQ(lira_log_write(l, LIRA_LOG_INFO, 0, WALL, "call", f, 2), LIRA_OK);
    lira_log_batch(l, 1);
    CHECK_EQ(lira_log_write_rendered(l, LIRA_LOG_INFO, WALL, "call", p, 2), LIRA_OK);
    CHECK_EQ(nlines(slurp()), 1);   /* kept in the batch */
    lira_log_batch(l, 0);
    const char *line = "{\"ts\":\"2023-11-14T22:13:20.123Z\",\"level\":\"info\",\"msg\":\"call\","
                       "\"client\":\"shop\",\"method\":\"GET\",\"status\":200,\"attempts\":1}\n";
    char want[512];
    snprintf(want, sizeof want, "%s%s", line, line);
    CHECK_STR(slurp(), want);
    lira_log_stats st;
    lira_log_get_stats(l, &st);
    CHECK_U64(st.lines, ==, 2);

    CHECK_EQ(lira_log_write_rendered(l, LIRA_LOG_WARN, WALL, "call", p, 2), LIRA_EINVAL);
    CHECK_EQ(lira_log_write_rendered(NULL, LIRA_LOG_INFO, WALL, "call", p, 2), LIRA_EINVAL);
    CHECK_EQ(lira_log_write_rendered(l, LIRA_LOG_INFO, WALL, "call", NULL, 2), LIRA_EINVAL);
    CHECK_EQ(lira_log_write_rendered(l, LIRA_LOG_INFO, WALL, NULL, p, 2), LIRA_EINVAL);
    lira_log_set_level(l, LIRA_LOG_WARN);
    CHECK_EQ(lira_log_write_rendered(l, LIRA_LOG_INFO, WALL, "call", p, 2), LIRA_EDENIED);
    done(l);

    /* One byte over max_line: refused whole; at max_line exactly: written. */
    lira_log_options_default(&o);
    o.max_line = LIRA_LOG_MIN_LINE;
    l = open_tmp(&o);
    /* {"ts":"<24>","level":"info","msg":"call" + head + ,"pad":"x...x" + }\n */
    size_t lm = strlen("\",\"level\":\"info\",\"msg\":\"call\"");
    size_t pl = LIRA_LOG_MIN_LINE - (7 + 24) - lm - (sizeof head - 1) - 2;
    char pad[LIRA_LOG_MIN_LINE];
    memset(pad, 'x', sizeof pad);
    memcpy(pad, ",\"pad\":\"", 8);
    pad[pl - 1] = '"';
    pad[pl] = '"';
    lira_log_piece q[2] = {p[0], {pad, pl + 1}};
    CHECK_EQ(lira_log_write_rendered(l, LIRA_LOG_INFO, WALL, "call", q, 2), LIRA_ERANGE);
    CHECK_STR(slurp(), "");
    lira_log_get_stats(l, &st);
    CHECK_U64(st.lines, ==, 0);
    q[1].len = pl;
    CHECK_EQ(lira_log_write_rendered(l, LIRA_LOG_INFO, WALL, "call", q, 2), LIRA_OK);
    CHECK_EQ(strlen(slurp()), (size_t)LIRA_LOG_MIN_LINE);
    done(l);

    lira_log_options_default(&o);
    o.format = LIRA_LOG_TEXT;
    l = open_tmp(&o);
    CHECK_EQ(lira_log_write_rendered(l, LIRA_LOG_INFO, WALL, "call", p, 2), LIRA_EINVAL);
    done(l);
}

static void test_redaction(void)
{
    lira_log_options o;
    lira_log_options_default(&o);
    const char *deny[] = {"X-Shop-Key"};
    o.deny = deny;
    o.ndeny = 1;
    lira_log *l = open_tmp(&o);
    lira_log_field f[] = {
        {.key = "url", .type = LIRA_LOGF_URL,
         .s = "https://bob:hunter2@api.example/x?access_token=S3CRET1&page=2", .len = SIZE_MAX},
        {.key = "authorization", .type = LIRA_LOGF_STR, .flags = LIRA_LOGF_CHECK,
         .s = "Bearer S3CRET2", .len = SIZE_MAX},
        {.key = "x-shop-key", .type = LIRA_LOGF_STR, .flags = LIRA_LOGF_CHECK, .s = "S3CRET3",
         .len = SIZE_MAX},
        {.key = "callback_url", .type = LIRA_LOGF_STR, .flags = LIRA_LOGF_CHECK,
         .s = "https://h/cb?sig=S3CRET4", .len = SIZE_MAX},
        {.key = "cookie", .type = LIRA_LOGF_INT, .flags = LIRA_LOGF_CHECK, .i = 424242},
        {.key = "order", .type = LIRA_LOGF_STR, .flags = LIRA_LOGF_CHECK, .s = "o-1",
         .len = SIZE_MAX},
    };
    CHECK_EQ(lira_log_write(l, LIRA_LOG_INFO, 0, WALL, "x", f, 6), LIRA_OK);
    const char *out = slurp();
    CHECK(!strstr(out, "S3CRET"));
    CHECK(!strstr(out, "hunter2"));
    CHECK(!strstr(out, "424242"));
    CHECK(strstr(out, "\"url\":\"https://REDACTED@api.example/x?access_token=REDACTED&page=2\""));
    CHECK(strstr(out, "\"authorization\":\"REDACTED\""));
    CHECK(strstr(out, "\"x-shop-key\":\"REDACTED\""));
    CHECK(strstr(out, "\"callback_url\":\"https://h/cb?sig=REDACTED\""));
    CHECK(strstr(out, "\"order\":\"o-1\""));
    done(l);
}

static void test_levels(void)
{
    lira_log_options o;
    lira_log_options_default(&o);
    o.level = LIRA_LOG_WARN;
    lira_log *l = open_tmp(&o);
    CHECK(!lira_log_enabled(l, LIRA_LOG_INFO));
    CHECK(lira_log_enabled(l, LIRA_LOG_ERROR));
    CHECK_EQ(lira_log_write(l, LIRA_LOG_DEBUG, 0, WALL, "d", NULL, 0), LIRA_EDENIED);
    CHECK_EQ(lira_log_write(l, LIRA_LOG_INFO, 0, WALL, "i", NULL, 0), LIRA_EDENIED);
    CHECK_EQ(lira_log_write(l, LIRA_LOG_WARN, 0, WALL, "w", NULL, 0), LIRA_OK);
    lira_log_set_level(l, LIRA_LOG_OFF);
    CHECK_EQ(lira_log_write(l, LIRA_LOG_ERROR, 0, WALL, "e", NULL, 0), LIRA_EDENIED);
    CHECK_STR(slurp(), "{\"ts\":\"2023-11-14T22:13:20.123Z\",\"level\":\"warn\",\"msg\":\"w\"}\n");
    lira_log_level lv;
    CHECK_EQ(lira_log_level_parse("WARNING", &lv), LIRA_OK);
    CHECK_EQ(lv, LIRA_LOG_WARN);
    CHECK_EQ(lira_log_level_parse("Debug", &lv), LIRA_OK);
    CHECK_EQ(lv, LIRA_LOG_DEBUG);
    CHECK_EQ(lira_log_level_parse("loud", &lv), LIRA_EPARSE);
    CHECK_EQ(lira_log_write(l, LIRA_LOG_OFF, 0, WALL, "e", NULL, 0), LIRA_EINVAL);
    done(l);
}

static int count_lines(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void test_rate_limit(void)
{
    lira_log_options o;
    lira_log_options_default(&o);   /* 5 per 10 s per key */
    lira_log *l = open_tmp(&o);
    lira_log_field a[] = {{.key = "client", .type = LIRA_LOGF_STR, .flags = LIRA_LOGF_DEDUPE,
                           .s = "shop", .len = SIZE_MAX},
                          {.key = "request_id", .type = LIRA_LOGF_STR, .s = "r", .len = 1}};
    lira_log_field b[] = {{.key = "client", .type = LIRA_LOGF_STR, .flags = LIRA_LOGF_DEDUPE,
                           .s = "crm", .len = SIZE_MAX}};
    int written = 0;
    for (int i = 0; i < 10000; i++)   /* request_id differs, but is not in the key */
        written += lira_log_write(l, LIRA_LOG_WARN, i * 1000, WALL, "call failed", a, 2) ==
                   LIRA_OK;
    CHECK_EQ(written, 5);
    CHECK_EQ(lira_log_write(l, LIRA_LOG_WARN, 0, WALL, "call failed", b, 1), LIRA_OK);
    CHECK_EQ(lira_log_write(l, LIRA_LOG_INFO, 0, WALL, "call failed", a, 2), LIRA_OK);
    lira_log_stats st;
    lira_log_get_stats(l, &st);
    CHECK_U64(st.suppressed, ==, 9995);
    /* the next window: the first line says how many were dropped */
    CHECK_EQ(lira_log_write(l, LIRA_LOG_WARN, 10 * SEC, WALL, "call failed", a, 2), LIRA_OK);
    const char *out = slurp();
    CHECK_EQ(count_lines(out, "\n"), 8);
    CHECK_EQ(count_lines(out, "\"suppressed\":9995}"), 1);
    done(l);
}

static void test_rate_limit_bounded_keys(void)
{
    lira_log_options o;
    lira_log_options_default(&o);
    o.ratelimit_keys = 8;
    o.ratelimit_burst = 1;
    lira_log *l = open_tmp(&o);
    char v[16];
    lira_log_field f = {.key = "k", .type = LIRA_LOGF_STR, .s = v, .len = SIZE_MAX};
    for (int i = 0; i < 1000; i++) {   /* 1000 distinct keys through 8 slots */
        snprintf(v, sizeof v, "%d", i);
        CHECK_EQ(lira_log_write(l, LIRA_LOG_ERROR, 0, WALL, "e", &f, 1), LIRA_OK);
    }
    snprintf(v, sizeof v, "%d", 999);   /* the latest key is remembered */
    CHECK_EQ(lira_log_write(l, LIRA_LOG_ERROR, 1, WALL, "e", &f, 1), LIRA_EDENIED);
    done(l);
}

static void test_truncation(void)
{
    lira_log_options o;
    lira_log_options_default(&o);
    o.max_line = 512;
    lira_log *l = open_tmp(&o);
    char big[1000];
    memset(big, 'x', sizeof big);
    lira_log_field f[] = {s_("a", "1"), {.key = "big", .type = LIRA_LOGF_STR, .s = big,
                                         .len = sizeof big}, s_("b", "2")};
    CHECK_EQ(lira_log_write(l, LIRA_LOG_INFO, 0, WALL, "t", f, 3), LIRA_OK);
    CHECK_STR(slurp(), "{\"ts\":\"2023-11-14T22:13:20.123Z\",\"level\":\"info\",\"msg\":\"t\","
                       "\"a\":\"1\",\"b\":\"2\",\"truncated\":true}\n");
    lira_log_stats st;
    lira_log_get_stats(l, &st);
    CHECK_U64(st.truncated, ==, 1);
    done(l);
}

/* KEYOK/PLAIN fields are copied as they are, in both formats, and are
 * dropped whole when they do not fit, like escaped ones. */
static void test_plain_fields(void)
{
    lira_log_options o;
    lira_log_options_default(&o);
    o.max_line = 512;
    lira_log *l = open_tmp(&o);
    char big[600];
    memset(big, 'y', sizeof big);
    const unsigned ok = LIRA_LOGF_KEYOK | LIRA_LOGF_PLAIN;
    lira_log_field f[] = {
        {.key = "trace_id", .type = LIRA_LOGF_STR, .flags = ok, .s = "4bf9", .len = SIZE_MAX},
        {.key = "attempts", .type = LIRA_LOGF_INT, .flags = LIRA_LOGF_KEYOK, .i = 2},
        {.key = "client", .type = LIRA_LOGF_STR, .flags = LIRA_LOGF_KEYOK, .s = "a\"b",
         .len = SIZE_MAX},
        {.key = "big", .type = LIRA_LOGF_STR, .flags = ok, .s = big, .len = sizeof big},
        {.key = "stop", .type = LIRA_LOGF_STR, .flags = ok, .s = "budget", .len = 6},
    };
    CHECK_EQ(lira_log_write(l, LIRA_LOG_INFO, 0, WALL, "call", f, 5), LIRA_OK);
    CHECK_STR(slurp(), "{\"ts\":\"2023-11-14T22:13:20.123Z\",\"level\":\"info\",\"msg\":\"call\","
                       "\"trace_id\":\"4bf9\",\"attempts\":2,\"client\":\"a\\\"b\","
                       "\"stop\":\"budget\",\"truncated\":true}\n");
    done(l);
    o.format = LIRA_LOG_TEXT;
    o.max_line = 8192;
    l = open_tmp(&o);
    lira_log_field g = {.key = "stop", .type = LIRA_LOGF_STR, .flags = ok, .s = "two words",
                        .len = SIZE_MAX};
    CHECK_EQ(lira_log_write(l, LIRA_LOG_INFO, 0, WALL, "t", &g, 1), LIRA_OK);
    CHECK_STR(slurp(), "2023-11-14T22:13:20.123Z INFO  t stop=\"two words\"\n");
    done(l);
}

static void test_text_format(void)
{
    lira_log_options o;
    lira_log_options_default(&o);
    o.format = LIRA_LOG_TEXT;
    lira_log *l = open_tmp(&o);
    lira_log_field f[] = {s_("client", "shop"), s_("note", "two words"),
                          {.key = "status", .type = LIRA_LOGF_INT, .i = 503}};
    CHECK_EQ(lira_log_write(l, LIRA_LOG_WARN, 0, WALL, "call failed", f, 3), LIRA_OK);
    CHECK_STR(slurp(), "2023-11-14T22:13:20.123Z WARN  call failed client=shop "
                       "note=\"two words\" status=503\n");
    done(l);
}

static void test_reopen_and_options(void)
{
    lira_log_options o;
    lira_log_options_default(&o);
    lira_log *l = open_tmp(&o);
    char moved[80];
    snprintf(moved, sizeof moved, "%s.1", tmpl);
    CHECK_EQ(lira_log_write(l, LIRA_LOG_INFO, 0, WALL, "before", NULL, 0), LIRA_OK);
    CHECK_EQ(rename(tmpl, moved), 0);   /* logrotate */
    CHECK_EQ(lira_log_reopen(l), LIRA_OK);
    CHECK_EQ(lira_log_write(l, LIRA_LOG_INFO, 0, WALL, "after", NULL, 0), LIRA_OK);
    CHECK(strstr(slurp(), "\"after\"") && !strstr(slurp(), "\"before\""));
    unlink(moved);
    done(l);

    lira_log_options_default(&o);
    o.max_line = 10;
    CHECK_EQ(lira_log_new(&o, &l), LIRA_EINVAL);
    lira_log_options_default(&o);
    o.path = "/nonexistent-dir/x.log";
    CHECK_EQ(lira_log_new(&o, &l), LIRA_ESTATE);
    setenv("LIRA_LOG_LEVEL", "error", 1);
    setenv("LIRA_LOG_FORMAT", "text", 1);
    CHECK_EQ(lira_log_options_from_env(&o), LIRA_OK);
    CHECK_EQ(o.level, LIRA_LOG_ERROR);
    CHECK_EQ(o.format, LIRA_LOG_TEXT);
    setenv("LIRA_LOG_LEVEL", "chatty", 1);
    CHECK_EQ(lira_log_options_from_env(&o), LIRA_EPARSE);
    CHECK_EQ(o.level, LIRA_LOG_INFO);
    unsetenv("LIRA_LOG_LEVEL");
    unsetenv("LIRA_LOG_FORMAT");
    CHECK_EQ(lira_log_write(NULL, LIRA_LOG_INFO, 0, 0, "x", NULL, 0), LIRA_EINVAL);
}

static int nlines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void write_info(lira_log *l, const char *msg)
{
    CHECK_EQ(lira_log_write(l, LIRA_LOG_INFO, 0, WALL, msg, NULL, 0), LIRA_OK);
}

/* In a batch, info lines wait and leave together; a warning takes them out
 * first, in order, and itself at once; a full batch leaves whole lines. */
static void test_batch_file(void)
{
    lira_log_options o;
    lira_log_options_default(&o);
    o.flush_ns = 0;   /* a batch's lines leave when it ends */
    lira_log *l = open_tmp(&o);
    lira_log_batch(l, 1);
    lira_log_batch(l, 1);   /* nested: a callback that runs a turn */
    write_info(l, "one");
    write_info(l, "two");
    CHECK_STR(slurp(), "");
    CHECK_EQ(lira_log_write(l, LIRA_LOG_WARN, 0, WALL, "three", NULL, 0), LIRA_OK);
    const char *out = slurp();
    CHECK_EQ(nlines(out), 3);
    CHECK(strstr(out, "\"one\"") < strstr(out, "\"two\"") &&
          strstr(out, "\"two\"") < strstr(out, "\"three\""));
    write_info(l, "four");
    lira_log_batch(l, 0);
    CHECK_EQ(nlines(slurp()), 3);   /* the outer batch still runs */
    lira_log_batch(l, 0);
    CHECK_EQ(nlines(slurp()), 4);
    lira_log_batch(l, 0);           /* an unmatched end is harmless */
    write_info(l, "five");          /* outside a batch: at once */
    CHECK_EQ(nlines(slurp()), 5);

    char big[301];
    memset(big, 'x', 300);
    big[300] = '\0';
    lira_log_field f = {.key = "v", .type = LIRA_LOGF_STR, .s = big, .len = SIZE_MAX};
    lira_log_batch(l, 1);
    for (int i = 0; i < 400; i++)   /* ~140 KB: more than one batch */
        CHECK_EQ(lira_log_write(l, LIRA_LOG_INFO, 0, WALL, "big", &f, 1), LIRA_OK);
    out = slurp();
    size_t len = strlen(out);
    CHECK(nlines(out) > 5 && nlines(out) < 405 && out[len - 1] == '\n');
    lira_log_batch(l, 0);
    CHECK_EQ(nlines(slurp()), 405);

    lira_log_batch(l, 1);
    write_info(l, "at free");
    lira_log_free(l);               /* free writes what waits */
    CHECK(strstr(slurp(), "\"at free\""));
    CHECK_EQ(nlines(slurp()), 406);
    unlink(tmpl);
}

/* On a pipe a batch stays within PIPE_BUF, so another writer's lines never
 * land inside it; each write carries whole lines. */
static void test_batch_pipe(void)
{
    int p[2];
    CHECK_EQ(pipe(p), 0);
    CHECK_EQ(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
    lira_log_options o;
    lira_log_options_default(&o);
    o.fd = p[1];
    o.flush_ns = 0;
    lira_log *l = NULL;
    CHECK_EQ(lira_log_new(&o, &l), LIRA_OK);
    char val[251];
    memset(val, 'y', 250);
    val[250] = '\0';
    lira_log_field f = {.key = "v", .type = LIRA_LOGF_STR, .s = val, .len = SIZE_MAX};
    lira_log_batch(l, 1);
    for (int i = 0; i < 20; i++)    /* ~6.6 KB */
        CHECK_EQ(lira_log_write(l, LIRA_LOG_INFO, 0, WALL, "piped", &f, 1), LIRA_OK);
    static char buf[1 << 16];
    ssize_t n = read(p[0], buf, sizeof buf);
    CHECK(n > 0 && n <= PIPE_BUF && buf[n - 1] == '\n');
    lira_log_batch(l, 0);
    ssize_t m = read(p[0], buf + n, sizeof buf - (size_t)n - 1);
    CHECK(m > 0 && buf[n + m - 1] == '\n');
    buf[n + m] = '\0';
    CHECK_EQ(nlines(buf), 20);
    lira_log_free(l);
    close(p[0]);
    close(p[1]);
}

/* With flush_ns, lines stay after their batch ends and the batches that
 * follow join them, in one write; anything that is not an info or debug
 * line in a batch (a warning, a line outside a batch) writes them first,
 * in order; so do flush and free. */
static void test_batch_linger(void)
{
    lira_log_options o;
    lira_log_options_default(&o);
    CHECK_EQ(o.flush_ns, 20 * LIRA_NS_PER_MS);   /* the default */
    lira_log *l = open_tmp(&o);
    CHECK_EQ(lira_log_flush_ns(l), 20 * LIRA_NS_PER_MS);
    for (int turn = 0; turn < 3; turn++) {
        lira_log_batch(l, 1);
        write_info(l, "turn");
        lira_log_batch(l, 0);
    }
    CHECK_STR(slurp(), "");
    CHECK(lira_log_waiting(l) > 0);
    CHECK_EQ(lira_log_flush(l), LIRA_OK);
    CHECK_EQ(nlines(slurp()), 3);
    CHECK_EQ(lira_log_waiting(l), 0);

    lira_log_batch(l, 1);
    write_info(l, "before warn");
    lira_log_batch(l, 0);
    CHECK_EQ(lira_log_write(l, LIRA_LOG_WARN, 0, WALL, "warned", NULL, 0), LIRA_OK);
    const char *out = slurp();
    CHECK_EQ(nlines(out), 5);
    CHECK(strstr(out, "\"before warn\"") < strstr(out, "\"warned\""));

    lira_log_batch(l, 1);
    write_info(l, "before outside");
    lira_log_batch(l, 0);
    write_info(l, "outside");       /* from Lua, outside a turn: at once, in order */
    out = slurp();
    CHECK_EQ(nlines(out), 7);
    CHECK(strstr(out, "\"before outside\"") < strstr(out, "\"outside\""));

    lira_log_batch(l, 1);
    write_info(l, "at free");
    lira_log_batch(l, 0);
    lira_log_free(l);
    CHECK(strstr(slurp(), "\"at free\""));
    unlink(tmpl);

    lira_log_options_default(&o);
    o.flush_ns = -1;
    CHECK_EQ(lira_log_new(&o, &l), LIRA_EINVAL);
    o.flush_ns = (LIRA_LOG_MAX_FLUSH_MS + 1) * LIRA_NS_PER_MS;
    CHECK_EQ(lira_log_new(&o, &l), LIRA_EINVAL);
}

/* LIRA_LOG_FLUSH_MS: whole milliseconds, 0..10000; anything else keeps
 * the default and says so. */
static void test_flush_env(void)
{
    lira_log_options o;
    setenv("LIRA_LOG_FLUSH_MS", "0", 1);
    CHECK_EQ(lira_log_options_from_env(&o), LIRA_OK);
    CHECK_EQ(o.flush_ns, 0);
    setenv("LIRA_LOG_FLUSH_MS", "250", 1);
    CHECK_EQ(lira_log_options_from_env(&o), LIRA_OK);
    CHECK_EQ(o.flush_ns, 250 * LIRA_NS_PER_MS);
    const char *bad[] = {"-1", "10001", "5ms", "1.5", "x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        setenv("LIRA_LOG_FLUSH_MS", bad[i], 1);
        CHECK_EQ(lira_log_options_from_env(&o), LIRA_EPARSE);
        CHECK_EQ(o.flush_ns, 20 * LIRA_NS_PER_MS);
    }
    unsetenv("LIRA_LOG_FLUSH_MS");
}

int main(void)
{
    RUN(test_ts);
    RUN(test_ts_per_line);
    RUN(test_json_line_exact);
    RUN(test_numbers);
    RUN(test_escaping);
    RUN(test_fast_and_checked_agree);
    RUN(test_micros);
    RUN(test_pairs);
    RUN(test_rendered);
    RUN(test_redaction);
    RUN(test_levels);
    RUN(test_rate_limit);
    RUN(test_rate_limit_bounded_keys);
    RUN(test_truncation);
    RUN(test_plain_fields);
    RUN(test_text_format);
    RUN(test_reopen_and_options);
    RUN(test_batch_file);
    RUN(test_batch_pipe);
    RUN(test_batch_linger);
    RUN(test_flush_env);
    return check_summary();
}
