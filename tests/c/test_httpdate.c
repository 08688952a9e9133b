#include "check.h"

#include <stdlib.h>

#include "httpdate.h"
#include "status.h"

#define SEC INT64_C(1000000000)

/* 1994-11-06T08:49:37Z, the RFC's example. */
#define RFC_EXAMPLE INT64_C(784111777)
/* 2026-11-29T00:00:00Z, "now" for the two-digit-year rule. */
#define NOW_2026 INT64_C(1795910400)

static int64_t parse(const char *s, int *rc)
{
    int64_t t = -12345;
    *rc = lira_httpdate_parse(s, strlen(s), NOW_2026, &t);
    return t;
}

static void test_days_from_civil_known_dates(void)
{
    CHECK_EQ(lira_days_from_civil(1970, 1, 1), 0);
    CHECK_EQ(lira_days_from_civil(1969, 12, 31), -1);
    CHECK_EQ(lira_days_from_civil(2000, 3, 1), 11017);
    CHECK_EQ(lira_days_from_civil(2000, 2, 29), 11016);
    CHECK_EQ(lira_days_from_civil(1994, 11, 6), 784111777 / 86400);
    CHECK_EQ(lira_days_from_civil(0, 1, 1), -719528);
    CHECK_EQ(lira_days_from_civil(9999, 12, 31), 2932896);
}

/* Round trip every day of 1600-2400 (leap rules of all kinds) and every 7th
 * day of years 0-9999. */
static void test_civil_round_trip(void)
{
    int64_t y;
    int m, d, bad = 0;
    int64_t first = lira_days_from_civil(0, 1, 1), last = lira_days_from_civil(9999, 12, 31);
    int64_t dense_lo = lira_days_from_civil(1600, 1, 1);
    int64_t dense_hi = lira_days_from_civil(2400, 12, 31);
    for (int64_t z = first; z <= last; z += (z >= dense_lo && z <= dense_hi) ? 1 : 7) {
        if (lira_civil_from_days(z, &y, &m, &d) != LIRA_OK || lira_days_from_civil(y, m, d) != z)
            bad++;
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(lira_civil_from_days(INT64_C(1) << 50, &y, &m, &d), LIRA_ERANGE);
    CHECK_EQ(lira_civil_from_days(0, NULL, &m, &d), LIRA_EINVAL);
}

typedef struct date_case {
    const char *text;
    int rc;
    int64_t epoch;
} date_case;

static void test_parse_table(void)
{
    static const date_case cases[] = {
        /* the three forms of the RFC example */
        {"Sun, 06 Nov 1994 08:49:37 GMT", LIRA_OK, RFC_EXAMPLE},
        {"Sunday, 06-Nov-94 08:49:37 GMT", LIRA_OK, RFC_EXAMPLE},
        {"Sun Nov  6 08:49:37 1994", LIRA_OK, RFC_EXAMPLE},
        {"Sun Nov 06 08:49:37 1994", LIRA_OK, RFC_EXAMPLE},
        /* weekday names are checked, not matched against the date */
        {"Mon, 06 Nov 1994 08:49:37 GMT", LIRA_OK, RFC_EXAMPLE},
        {"Wednesday, 06-Nov-94 08:49:37 GMT", LIRA_OK, RFC_EXAMPLE},
        {"Thu, 01 Jan 1970 00:00:00 GMT", LIRA_OK, 0},
        {"Wed, 31 Dec 1969 23:59:59 GMT", LIRA_OK, -1},
        {"Tue, 29 Feb 2000 12:00:00 GMT", LIRA_OK, 951825600},
        {"Fri, 31 Dec 9999 23:59:59 GMT", LIRA_OK, INT64_C(253402300799)},
        {"Sat, 01 Jan 0000 00:00:00 GMT", LIRA_OK, INT64_C(-62167219200)},
        {"Thu Dec 31 23:59:60 1998", LIRA_OK, 915148800}, /* leap second */
        /* two-digit years around now = 2026 */
        {"Monday, 01-Jan-30 00:00:00 GMT", LIRA_OK, INT64_C(1893456000)},  /* 2030 */
        {"Monday, 01-Jan-76 00:00:00 GMT", LIRA_OK, INT64_C(3345062400)},  /* 2076 */
        {"Monday, 01-Jan-77 00:00:00 GMT", LIRA_OK, INT64_C(220924800)},   /* 1977 */
        {"Monday, 01-Jan-00 00:00:00 GMT", LIRA_OK, INT64_C(946684800)},   /* 2000 */
        /* malformed */
        {"", LIRA_EPARSE, 0},
        {"Sun", LIRA_EPARSE, 0},
        {"Sun, 06 Nov 1994 08:49:37", LIRA_EPARSE, 0},
        {"Sun, 06 Nov 1994 08:49:37 GMT ", LIRA_EPARSE, 0},
        {" Sun, 06 Nov 1994 08:49:37 GMT", LIRA_EPARSE, 0},
        {"Sun, 06 Nov 1994 08:49:37 UTC", LIRA_EPARSE, 0},
        {"Sun, 06 Nov 1994 08:49:37 gmt", LIRA_EPARSE, 0},
        {"sun, 06 Nov 1994 08:49:37 GMT", LIRA_EPARSE, 0},
        {"Sun, 06 nov 1994 08:49:37 GMT", LIRA_EPARSE, 0},
        {"Sun, 6 Nov 1994 08:49:37 GMT", LIRA_EPARSE, 0},
        {"Sun, 06 Nov 94 08:49:37 GMT", LIRA_EPARSE, 0},
        {"Sun, 06 Nov 1994 8:49:37 GMT", LIRA_EPARSE, 0},
        {"Sun, 06 Nov 1994 24:00:00 GMT", LIRA_EPARSE, 0},
        {"Sun, 06 Nov 1994 23:60:00 GMT", LIRA_EPARSE, 0},
        {"Sun, 06 Nov 1994 23:59:61 GMT", LIRA_EPARSE, 0},
        {"Sun, 31 Nov 1994 08:49:37 GMT", LIRA_EPARSE, 0},
        {"Sun, 29 Feb 1900 08:49:37 GMT", LIRA_EPARSE, 0},
        {"Sun, 00 Nov 1994 08:49:37 GMT", LIRA_EPARSE, 0},
        {"Sun, 06 Foo 1994 08:49:37 GMT", LIRA_EPARSE, 0},
        {"Sunday, 06 Nov 1994 08:49:37 GMT", LIRA_EPARSE, 0},
        {"Sun, 06-Nov-94 08:49:37 GMT", LIRA_EPARSE, 0},
        {"Sunday, 06-Nov-1994 08:49:37 GMT", LIRA_EPARSE, 0},
        {"Sun Nov 6 08:49:37 1994", LIRA_EPARSE, 0},
        {"Sun Nov  6 08:49:37 94", LIRA_EPARSE, 0},
        {"Sun Nov  6 08:49:37 1994 GMT", LIRA_EPARSE, 0},
        {"Sun,\t06 Nov 1994 08:49:37 GMT", LIRA_EPARSE, 0},
        {"Sun, 06 Nov 1994 08:49:37 GMT\xff", LIRA_EPARSE, 0},
        {"Sun, \xd9\xa0\xd9\xa6 Nov 1994 08:49:37 GMT", LIRA_EPARSE, 0},
        {"Sun, -6 Nov 1994 08:49:37 GMT", LIRA_EPARSE, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc;
        int64_t t = parse(cases[i].text, &rc);
        if (rc != cases[i].rc || (rc == LIRA_OK && t != cases[i].epoch))
            CHECK_FAIL_("case %zu \"%s\": rc %d t %lld, want rc %d t %lld", i, cases[i].text, rc,
                        (long long)t, cases[i].rc, (long long)cases[i].epoch);
        if (rc != LIRA_OK)
            CHECK_EQ(t, -12345); /* untouched */
    }
}

/* Every prefix of a valid date is truncated, and none may parse or overread
 * (the buffer is exactly the prefix, so ASan catches a read past it). */
static void test_truncated_dates(void)
{
    const char *full[] = {"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
                          "Sun Nov  6 08:49:37 1994"};
    for (int k = 0; k < 3; k++) {
        size_t n = strlen(full[k]);
        for (size_t len = 0; len < n; len++) {
            char *copy = malloc(len ? len : 1);
            memcpy(copy, full[k], len);
            int64_t t;
            CHECK_EQ(lira_httpdate_parse(copy, len, NOW_2026, &t), LIRA_EPARSE);
            free(copy);
        }
    }
}

static void test_two_digit_year_follows_now(void)
{
    int64_t t;
    /* In 1994, "94" is 1994 and "50" is 2050 (not more than 50 years on). */
    const char *s = "Sunday, 06-Nov-94 08:49:37 GMT";
    CHECK_EQ(lira_httpdate_parse(s, strlen(s), RFC_EXAMPLE, &t), LIRA_OK);
    CHECK_EQ(t, RFC_EXAMPLE);
    s = "Sunday, 01-Jan-44 00:00:00 GMT";
    CHECK_EQ(lira_httpdate_parse(s, strlen(s), RFC_EXAMPLE, &t), LIRA_OK);
    CHECK_EQ(t, lira_days_from_civil(2044, 1, 1) * 86400);
    s = "Sunday, 01-Jan-45 00:00:00 GMT";
    CHECK_EQ(lira_httpdate_parse(s, strlen(s), RFC_EXAMPLE, &t), LIRA_OK);
    CHECK_EQ(t, lira_days_from_civil(1945, 1, 1) * 86400);
    /* In 2090, "10" is 2110 (20 years on), not 2010 (80 back). */
    int64_t now2090 = lira_days_from_civil(2090, 6, 1) * 86400;
    s = "Sunday, 01-Jan-10 00:00:00 GMT";
    CHECK_EQ(lira_httpdate_parse(s, strlen(s), now2090, &t), LIRA_OK);
    CHECK_EQ(t, lira_days_from_civil(2110, 1, 1) * 86400);
}

static void test_format(void)
{
    char buf[LIRA_HTTPDATE_SIZE];
    CHECK_EQ(lira_httpdate_format(RFC_EXAMPLE, buf, sizeof buf), LIRA_OK);
    CHECK_STR(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK_EQ(lira_httpdate_format(0, buf, sizeof buf), LIRA_OK);
    CHECK_STR(buf, "Thu, 01 Jan 1970 00:00:00 GMT");
    CHECK_EQ(lira_httpdate_format(-1, buf, sizeof buf), LIRA_OK);
    CHECK_STR(buf, "Wed, 31 Dec 1969 23:59:59 GMT");
    CHECK_EQ(lira_httpdate_format(951782400, buf, sizeof buf), LIRA_OK);
    CHECK_STR(buf, "Tue, 29 Feb 2000 00:00:00 GMT");
    CHECK_EQ(lira_httpdate_format(INT64_C(253402300799), buf, sizeof buf), LIRA_OK);
    CHECK_STR(buf, "Fri, 31 Dec 9999 23:59:59 GMT");
    CHECK_EQ(lira_httpdate_format(INT64_C(253402300800), buf, sizeof buf), LIRA_ERANGE);
    CHECK_STR(buf, "");
    CHECK_EQ(lira_httpdate_format(INT64_C(-62167219201), buf, sizeof buf), LIRA_ERANGE);
    CHECK_EQ(lira_httpdate_format(INT64_MAX, buf, sizeof buf), LIRA_ERANGE);
    CHECK_EQ(lira_httpdate_format(INT64_MIN, buf, sizeof buf), LIRA_ERANGE);
    CHECK_EQ(lira_httpdate_format(0, buf, LIRA_HTTPDATE_SIZE - 1), LIRA_ETOOBIG);
    CHECK_EQ(lira_httpdate_format(0, buf, 0), LIRA_ETOOBIG);
    CHECK_EQ(lira_httpdate_format(0, NULL, 30), LIRA_EINVAL);
}

/* format then parse gives back the same second, weekday included, across
 * the whole range (a step that is prime to 7 days so every weekday shows). */
static void test_format_parse_round_trip(void)
{
    char buf[LIRA_HTTPDATE_SIZE];
    int bad = 0;
    const int64_t step = INT64_C(86400) * 61 + 3727;
    for (int64_t t = INT64_C(-62167219200); t <= INT64_C(253402300799); t += step) {
        int64_t back;
        if (lira_httpdate_format(t, buf, sizeof buf) != LIRA_OK ||
            lira_httpdate_parse(buf, strlen(buf), NOW_2026, &back) != LIRA_OK || back != t)
            bad++;
    }
    CHECK_EQ(bad, 0);
    /* 2026-11-29 is a Sunday. */
    CHECK_EQ(lira_httpdate_format(NOW_2026, buf, sizeof buf), LIRA_OK);
    CHECK_STR(buf, "Sun, 29 Nov 2026 00:00:00 GMT");
}

typedef struct ra_case {
    const char *text;
    size_t len; /* 0 = strlen */
    int rc;
    int64_t delay_ns;
} ra_case;

static void test_retry_after_table(void)
{
    static const ra_case cases[] = {
        {"120", 0, LIRA_OK, 120 * SEC},
        {"0", 0, LIRA_OK, 0},
        {"007", 0, LIRA_OK, 7 * SEC},
        {"  5\t", 0, LIRA_OK, 5 * SEC},
        {"\t \t", 0, LIRA_EPARSE, 0},
        {"", 0, LIRA_EPARSE, 0},
        {"-1", 0, LIRA_EPARSE, 0},
        {"+1", 0, LIRA_EPARSE, 0},
        {"1.5", 0, LIRA_EPARSE, 0},
        {"1e3", 0, LIRA_EPARSE, 0},
        {"0x10", 0, LIRA_EPARSE, 0},
        {"12 34", 0, LIRA_EPARSE, 0},
        {"soon", 0, LIRA_EPARSE, 0},
        {"\xef\xbc\x91", 0, LIRA_EPARSE, 0}, /* fullwidth digit one */
        {"\xff\xfe", 0, LIRA_EPARSE, 0},
        {"1\0" "0", 3, LIRA_EPARSE, 0},        /* embedded NUL */
        {"\0" "5", 2, LIRA_EPARSE, 0},
        {"5\0", 2, LIRA_EPARSE, 0},
        {"9223372036", 0, LIRA_OK, LIRA_RETRY_AFTER_MAX_NS},
        {"9223372037", 0, LIRA_OK, LIRA_RETRY_AFTER_MAX_NS},
        {"99999999999999999999999999999999999999", 0, LIRA_OK, LIRA_RETRY_AFTER_MAX_NS},
        {"99999999999999999999999999999999999999x", 0, LIRA_EPARSE, 0},
        {"9223372035", 0, LIRA_OK, INT64_C(9223372035) * SEC},
        /* dates, relative to now = 2026-11-29T00:00:00Z */
        {"Sun, 29 Nov 2026 00:01:00 GMT", 0, LIRA_OK, 60 * SEC},
        {" Sun, 29 Nov 2026 00:01:00 GMT ", 0, LIRA_OK, 60 * SEC},
        {"Sunday, 29-Nov-26 00:00:30 GMT", 0, LIRA_OK, 30 * SEC},
        {"Sun Nov 29 01:00:00 2026", 0, LIRA_OK, 3600 * SEC},
        {"Sun, 29 Nov 2026 00:00:00 GMT", 0, LIRA_OK, 0},
        {"Sun, 06 Nov 1994 08:49:37 GMT", 0, LIRA_OK, 0}, /* past */
        {"Fri, 31 Dec 9999 23:59:59 GMT", 0, LIRA_OK, LIRA_RETRY_AFTER_MAX_NS}, /* clamps */
        {"Sat, 01 Jan 2100 00:00:00 GMT", 0, LIRA_OK, (INT64_C(4102444800) - NOW_2026) * SEC},
        {"Sun, 29 Nov 2026 00:01:00", 0, LIRA_EPARSE, 0},
        {"Sun, 29 Nov 2026 00:01:00 GMT", 20, LIRA_EPARSE, 0}, /* truncated by len */
        {"Sun, 29 Nov 2026\0" "00:01:00 GMT", 29, LIRA_EPARSE, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].text);
        int64_t d = -777;
        int rc = lira_retry_after_parse(cases[i].text, len, NOW_2026, &d);
        if (rc != cases[i].rc || (rc == LIRA_OK && d != cases[i].delay_ns))
            CHECK_FAIL_("case %zu: rc %d delay %lld, want rc %d delay %lld", i, rc, (long long)d,
                        cases[i].rc, (long long)cases[i].delay_ns);
        if (rc != LIRA_OK)
            CHECK_EQ(d, -777);
    }
}

static void test_retry_after_extremes(void)
{
    int64_t d = -1;
    const char *date = "Fri, 31 Dec 9999 23:59:59 GMT";
    CHECK_EQ(lira_retry_after_parse(date, strlen(date), INT64_MIN, &d), LIRA_OK);
    CHECK_EQ(d, LIRA_RETRY_AFTER_MAX_NS);
    CHECK_EQ(lira_retry_after_parse(date, strlen(date), INT64_MAX, &d), LIRA_OK);
    CHECK_EQ(d, 0);
    CHECK_EQ(lira_retry_after_parse(NULL, 0, 0, &d), LIRA_EINVAL);
    CHECK_EQ(lira_retry_after_parse("5", 1, 0, NULL), LIRA_EINVAL);
    /* an RFC 850 date cannot resolve its year from an absurd now */
    const char *old = "Sunday, 06-Nov-94 08:49:37 GMT";
    CHECK_EQ(lira_retry_after_parse(old, strlen(old), INT64_MAX, &d), LIRA_EPARSE);
    CHECK_EQ(lira_httpdate_parse(old, strlen(old), INT64_MAX, &d), LIRA_EINVAL);
    /* a long garbage value is scanned without trouble */
    char big[4096];
    memset(big, '7', sizeof big);
    CHECK_EQ(lira_retry_after_parse(big, sizeof big, 0, &d), LIRA_OK);
    CHECK_EQ(d, LIRA_RETRY_AFTER_MAX_NS);
    big[2000] = 'x';
    CHECK_EQ(lira_retry_after_parse(big, sizeof big, 0, &d), LIRA_EPARSE);
    memset(big, 'S', sizeof big);
    CHECK_EQ(lira_retry_after_parse(big, sizeof big, 0, &d), LIRA_EPARSE);
}

/* Every single-byte value in every position of a valid date must either parse
 * or give LIRA_EPARSE — never crash or read outside the buffer. */
static void test_byte_mutations_never_crash(void)
{
    const char *src = "Sun, 06 Nov 1994 08:49:37 GMT";
    size_t n = strlen(src);
    char *buf = malloc(n);
    int odd = 0;
    for (size_t pos = 0; pos < n; pos++) {
        for (int b = 0; b < 256; b++) {
            memcpy(buf, src, n);
            buf[pos] = (char)b;
            int64_t d;
            int rc = lira_retry_after_parse(buf, n, NOW_2026, &d);
            odd += rc != LIRA_OK && rc != LIRA_EPARSE;
        }
    }
    free(buf);
    CHECK_EQ(odd, 0);
}

int main(void)
{
    RUN(test_days_from_civil_known_dates);
    RUN(test_civil_round_trip);
    RUN(test_parse_table);
    RUN(test_truncated_dates);
    RUN(test_two_digit_year_follows_now);
    RUN(test_format);
    RUN(test_format_parse_round_trip);
    RUN(test_retry_after_table);
    RUN(test_retry_after_extremes);
    RUN(test_byte_mutations_never_crash);
    return check_summary();
}
