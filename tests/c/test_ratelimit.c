#include "check.h"

#include <stdlib.h>

#include "clock.h"
#include "ratelimit.h"
#include "rng.h"
#include "status.h"

#define S(x) ((int64_t)((x) * 1e9)) /* seconds -> ns, for the table */
#define NOW INT64_C(1700000000)     /* 2023-11-14, the default wall clock */

/* One response's headers and what must come out. -1 = field absent. */
typedef struct rl_case {
    const char *name;
    lira_ratelimit_headers h;
    int64_t now_wall_s; /* 0 -> NOW */
    int rc;
    int64_t limit, remaining, reset_ns, window_ns;
    int malformed;
} rl_case;

static const rl_case cases[] = {
    /* GitHub's documented example (reset is epoch seconds) */
    {"github", {.x_limit = "5000", .x_remaining = "4999", .x_reset = "1372700873"},
     1372700873 - 3600, LIRA_OK, 5000, 4999, S(3600), -1, 0},
    {"x reset as delta seconds", {.x_reset = "60"}, 0, LIRA_OK, -1, -1, S(60), -1, 0},
    {"x reset as delta with fraction", {.x_reset = " 1.5 "}, 0, LIRA_OK, -1, -1, S(1.5), -1, 0},
    {"x reset as epoch ms", {.x_reset = "1700000030500"}, 0, LIRA_OK, -1, -1, S(30.5), -1, 0},
    {"x reset epoch in the past", {.x_reset = "1699999000"}, 0, LIRA_OK, -1, -1, 0, -1, 0},
    {"x reset, unknown wall clock", {.x_reset = "30"}, -1, LIRA_OK, -1, -1, S(30), -1, 0},
    {"x reset, absurd wall clock", {.x_reset = "30"}, INT64_MAX, LIRA_OK, -1, -1, S(30), -1, 0},
    {"x reset epoch too far", {.x_reset = "999999999999999"}, 1000, LIRA_ENOTFOUND, -1, -1, -1, -1, 1},
    /* IETF draft <= 06: separate fields, policy in RateLimit-Limit or -Policy */
    {"draft06 separate", {.limit = "10", .remaining = "1", .reset = "7"}, 0, LIRA_OK, 10, 1, S(7),
     -1, 0},
    {"draft limit with policies", {.limit = "10, 10;w=1, 50;w=60"}, 0, LIRA_OK, 10, -1, -1, S(1), 0},
    {"draft06 policy matched by limit", {.limit = "50", .policy = "10;w=1, 50;w=60"}, 0, LIRA_OK,
     50, -1, -1, S(60), 0},
    /* dictionary form */
    {"dict", {.ratelimit = "limit=100, remaining=50, reset=30"}, 0, LIRA_OK, 100, 50, S(30), -1, 0},
    {"dict with policy", {.ratelimit = "limit=10, remaining=1, reset=7", .policy = "10;w=1"}, 0,
     LIRA_OK, 10, 1, S(7), S(1), 0},
    {"dict unknown key ignored", {.ratelimit = "limit=100,policy=x,remaining=5"}, 0, LIRA_OK, 100, 5,
     -1, -1, 0},
    {"dict trailing comma", {.ratelimit = "limit=100,", .x_limit = "7"}, 0, LIRA_OK, 7, -1, -1, -1, 1},
    /* structured form (draft 08+) */
    {"sf default", {.ratelimit = "\"default\";r=50;t=30", .policy = "\"default\";q=100;w=60"}, 0,
     LIRA_OK, 100, 50, S(30), S(60), 0},
    {"sf two policies, tightest remaining",
     {.ratelimit = "\"burst\";r=80;t=40, \"daily\";r=20;t=3600",
      .policy = "\"burst\";q=100;w=60, \"daily\";q=1000;w=86400"},
     0, LIRA_OK, 1000, 20, S(3600), S(86400), 0},
    {"sf policies only: lowest quota per second",
     {.policy = "\"burst\";q=100;w=60,\"daily\";q=1000;w=86400"}, 0, LIRA_OK, 1000, -1, -1, S(86400),
     0},
    {"sf name without policy", {.ratelimit = "\"a\";r=5;t=1", .policy = "\"b\";q=10;w=1"}, 0, LIRA_OK,
     -1, 5, S(1), -1, 0},
    {"sf extra params and spaces", {.ratelimit = " \"x\" ; r=3 ; t=2 ; pk=:AAE=: ; f=?1 "}, 0,
     LIRA_OK, -1, 3, S(2), -1, 0},
    {"sf unterminated string keeps policy",
     {.ratelimit = "\"default;r=50", .policy = "\"default\";q=100;w=60"}, 0, LIRA_OK, 100, -1, -1,
     S(60), 1},
    {"sf item without r", {.ratelimit = "\"default\";t=30"}, 0, LIRA_ENOTFOUND, -1, -1, -1, -1, 1},
    /* precedence: RateLimit > RateLimit-* > X-RateLimit-* */
    {"precedence",
     {.x_limit = "1", .x_remaining = "5", .x_reset = "9", .remaining = "6",
      .ratelimit = "remaining=7"},
     0, LIRA_OK, 1, 7, S(9), -1, 0},
    /* garbage */
    {"none", {0}, 0, LIRA_ENOTFOUND, -1, -1, -1, -1, 0},
    {"garbage limit keeps remaining", {.x_limit = "abc", .x_remaining = "10"}, 0, LIRA_OK, -1, 10, -1,
     -1, 1},
    {"all empty", {.x_limit = "", .x_remaining = " ", .ratelimit = "", .policy = "\t"}, 0,
     LIRA_ENOTFOUND, -1, -1, -1, -1, 4},
    {"negative remaining", {.x_remaining = "-1"}, 0, LIRA_ENOTFOUND, -1, -1, -1, -1, 1},
    {"fractional count", {.x_limit = "10.5"}, 0, LIRA_ENOTFOUND, -1, -1, -1, -1, 1},
    {"overlong number", {.x_limit = "12345678901234567"}, 0, LIRA_ENOTFOUND, -1, -1, -1, -1, 1},
    {"non-ascii", {.x_limit = "\xff\xfe", .ratelimit = "\xc3\xa9=1", .policy = "\"\xff\";q=1"}, 0,
     LIRA_OK, 1, -1, -1, -1, 2},
    {"junk after number", {.x_remaining = "10 apples"}, 0, LIRA_ENOTFOUND, -1, -1, -1, -1, 1},
    {"bare dot", {.x_reset = "5."}, 0, LIRA_ENOTFOUND, -1, -1, -1, -1, 1},
    {"truncated param", {.ratelimit = "\"a\";r=", .policy = "10;w="}, 0, LIRA_ENOTFOUND, -1, -1, -1,
     -1, 2},
};

static void check_field(const rl_case *t, const char *what, bool has, int64_t got, int64_t want)
{
    if (want < 0 && has)
        CHECK_FAIL_("case \"%s\": %s = %lld, want absent", t->name, what, (long long)got);
    else if (want >= 0 && (!has || got != want))
        CHECK_FAIL_("case \"%s\": %s = %s%lld, want %lld", t->name, what, has ? "" : "absent ",
                    (long long)got, (long long)want);
}

static void test_table(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const rl_case *t = &cases[i];
        lira_ratelimit r;
        memset(&r, 0x5a, sizeof r);
        int rc = lira_ratelimit_parse(&t->h, t->now_wall_s ? t->now_wall_s : NOW, &r);
        if (rc != t->rc)
            CHECK_FAIL_("case \"%s\": rc %d, want %d", t->name, rc, t->rc);
        check_field(t, "limit", r.has_limit, r.limit, t->limit);
        check_field(t, "remaining", r.has_remaining, r.remaining, t->remaining);
        check_field(t, "reset_ns", r.has_reset, r.reset_ns, t->reset_ns);
        check_field(t, "window_ns", r.has_window, r.window_ns, t->window_ns);
        if (r.malformed != t->malformed)
            CHECK_FAIL_("case \"%s\": malformed %d, want %d", t->name, r.malformed, t->malformed);
        if (r.has_retry_after)
            CHECK_FAIL_("case \"%s\": retry_after set", t->name);
    }
}

static void test_huge_header_is_malformed_others_kept(void)
{
    size_t n = 10 * 1024;
    char *big = malloc(n + 1);
    CHECK(big != NULL);
    if (!big)
        return;
    memset(big, '9', n);
    big[n] = '\0';
    lira_ratelimit_headers h = {.x_limit = big, .x_remaining = "3", .ratelimit = big, .policy = big};
    lira_ratelimit r;
    CHECK_EQ(lira_ratelimit_parse(&h, NOW, &r), LIRA_OK);
    CHECK(r.has_remaining && r.remaining == 3);
    CHECK(!r.has_limit);
    CHECK_EQ(r.malformed, 3);

    /* Just under the cap, a long but valid list of policies. */
    size_t len = 0;
    while (len + 16 < LIRA_RATELIMIT_MAX_VALUE)
        len += (size_t)snprintf(big + len, n + 1 - len, "%s5;w=10", len ? ", " : "");
    h = (lira_ratelimit_headers){.policy = big};
    CHECK_EQ(lira_ratelimit_parse(&h, NOW, &r), LIRA_OK);
    CHECK(r.has_limit && r.limit == 5 && r.has_window && r.window_ns == S(10));
    free(big);
}

static void test_every_truncation_is_safe(void)
{
    const char *full = "\"burst\";r=80;t=40, \"daily\";r=20;t=3600;pk=:AAE=:";
    size_t len = strlen(full);
    for (size_t i = 0; i <= len; i++) {
        char *copy = malloc(i + 1);
        if (!copy)
            continue;
        memcpy(copy, full, i);
        copy[i] = '\0';
        lira_ratelimit_headers h = {.ratelimit = copy, .policy = copy, .limit = copy};
        lira_ratelimit r;
        int rc = lira_ratelimit_parse(&h, NOW, &r);
        CHECK(rc == LIRA_OK || rc == LIRA_ENOTFOUND);
        free(copy);
    }
}

static void test_bad_arguments(void)
{
    lira_ratelimit_headers h = {0};
    lira_ratelimit r;
    CHECK_EQ(lira_ratelimit_parse(NULL, NOW, &r), LIRA_EINVAL);
    CHECK_EQ(lira_ratelimit_parse(&h, NOW, NULL), LIRA_EINVAL);
}

static void test_random_garbage(void)
{
    static const char alphabet[] = "\";=,:?* \t\\-.0123456789rtqwlimt\xff";
    char buf[4][48];
    lira_rng r;
    lira_rng_seed(&r, 2);
    for (int i = 0; i < 20000; i++) {
        for (int h = 0; h < 4; h++) {
            size_t n = (size_t)lira_rng_below(&r, sizeof buf[h]);
            for (size_t k = 0; k < n; k++)
                buf[h][k] = alphabet[lira_rng_below(&r, sizeof alphabet - 1)];
            buf[h][n] = '\0';
        }
        lira_ratelimit_headers hs = {.x_reset = buf[0], .limit = buf[1], .ratelimit = buf[2],
                                     .policy = buf[3]};
        lira_ratelimit out;
        int rc = lira_ratelimit_parse(&hs, NOW, &out);
        CHECK(rc == LIRA_OK || rc == LIRA_ENOTFOUND);
        CHECK(!out.has_reset || out.reset_ns >= 0);
        CHECK(!out.has_window || out.window_ns >= 0);
        CHECK(!out.has_remaining || out.remaining >= 0);
    }
}

int main(void)
{
    RUN(test_table);
    RUN(test_huge_header_is_malformed_others_kept);
    RUN(test_every_truncation_is_safe);
    RUN(test_bad_arguments);
    RUN(test_random_garbage);
    return check_summary();
}
