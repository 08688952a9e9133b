#include "check.h"

#include <stdlib.h>

#include "redact.h"
#include "status.h"

static const struct {
    const char *in;
    const char *out;
} url_cases[] = {
    /* nothing to redact */
    {"", ""},
    {"https://api.example.com", "https://api.example.com"},
    {"https://api.example.com/v1/items", "https://api.example.com/v1/items"},
    {"https://api.example.com/v1?", "https://api.example.com/v1?"},
    {"https://h/?&&", "https://h/?&&"},
    {"https://h/?page=2&limit=50", "https://h/?page=2&limit=50"},
    {"/relative/path?q=1", "/relative/path?q=1"},
    {"https://h/p#section-2", "https://h/p#section-2"},
    {"https://h/?author=bob&keys=1&monkey=2", "https://h/?author=bob&keys=1&monkey=2"},
    /* userinfo */
    {"https://user:pw@api.example.com/x", "https://REDACTED@api.example.com/x"},
    {"https://user@h", "https://REDACTED@h"},
    {"https://u:p@ss@h/x", "https://REDACTED@h/x"},               /* raw '@' in password */
    {"https://h/path/@me?x=1", "https://h/path/@me?x=1"},         /* '@' in the path */
    {"https://h/?to=a@b.c", "https://h/?to=a@b.c"},               /* '@' in the query */
    {"http://u:p@[::1]:8080/x", "http://REDACTED@[::1]:8080/x"},  /* IPv6 host */
    {"http://[::1]:8080/x?token=t", "http://[::1]:8080/x?token=REDACTED"},
    {"//u:p@cdn.example.com/a", "//REDACTED@cdn.example.com/a"},   /* scheme-relative */
    {"u:p@host:8080/x", "REDACTED@host:8080/x"},                  /* no scheme */
    {"localhost:8080/x?key=k", "localhost:8080/x?key=REDACTED"},
    {"https://@h/", "https://@h/"},                               /* empty userinfo */
    /* query parameters */
    {"https://h/?token=abc", "https://h/?token=REDACTED"},
    {"https://h/?Token=ABC", "https://h/?Token=REDACTED"},
    {"https://h/?%74oken=x", "https://h/?%74oken=REDACTED"},
    {"https://h/?%54OKEN=x&a=1", "https://h/?%54OKEN=REDACTED&a=1"},
    {"https://h/?to%6ben=x", "https://h/?to%6ben=REDACTED"},
    {"https://h/?tok%zzen=x", "https://h/?tok%zzen=x"},           /* bad escape stays literal */
    {"https://h/?key=", "https://h/?key="},                       /* empty value kept */
    {"https://h/?key", "https://h/?key"},                         /* no '=' */
    {"https://h/?key=k&key=k2", "https://h/?key=REDACTED&key=REDACTED"},
    {"https://h/?a=1&&api_key=z&&b=2", "https://h/?a=1&&api_key=REDACTED&&b=2"},
    {"https://h/?access_token=a&refresh_token=b&id_token=c",
     "https://h/?access_token=REDACTED&refresh_token=REDACTED&id_token=REDACTED"},
    {"https://h/?apikey=1&secret=2&client_secret=3&password=4",
     "https://h/?apikey=REDACTED&secret=REDACTED&client_secret=REDACTED&password=REDACTED"},
    {"https://h/?passwd=1&pwd=2&signature=3&sig=4&code=5&auth=6",
     "https://h/?passwd=REDACTED&pwd=REDACTED&signature=REDACTED&sig=REDACTED&code=REDACTED"
     "&auth=REDACTED"},
    {"https://s3/o?X-Amz-Signature=ab&X-Amz-Security-Token=cd&X-Amz-Date=1",
     "https://s3/o?X-Amz-Signature=REDACTED&X-Amz-Security-Token=REDACTED&X-Amz-Date=1"},
    {"https://h/?user[password]=p&my_secret_thing=s",
     "https://h/?user[password]=REDACTED&my_secret_thing=REDACTED"},
    {"https://h/?token=a=b=c", "https://h/?token=REDACTED"},
    {"https://h/?q=a;token=b", "https://h/?q=a;token=b"},         /* only '&' separates */
    {"https://h/?x=1?token=2", "https://h/?x=1?token=2"},         /* name is "x" */
    {"?token=t", "?token=REDACTED"},
    {"https://h?token=t", "https://h?token=REDACTED"},
    /* fragment */
    {"https://h/?a=1#frag", "https://h/?a=1#frag"},
    {"https://h/cb#access_token=t&token_type=bearer&state=s",
     "https://h/cb#access_token=REDACTED&token_type=REDACTED&state=s"},
    {"https://h/#/route?token=x&a=1", "https://h/#/route?token=REDACTED&a=1"},
    {"https://h/?a=1#?token=x", "https://h/?a=1#?token=REDACTED"},
    {"https://h/?x=1#y?z#token=x", "https://h/?x=1#y?z#token=REDACTED"},
    /* non-ASCII bytes pass through */
    {"https://h/caf\xc3\xa9?n=\xe2\x82\xac&token=\xff\xfe",
     "https://h/caf\xc3\xa9?n=\xe2\x82\xac&token=REDACTED"},
    {"https://us\xc3\xa9r:p\xc3\xa4ss@h/", "https://REDACTED@h/"},
};

static void test_url_table(void)
{
    for (size_t i = 0; i < sizeof url_cases / sizeof url_cases[0]; i++) {
        char out[512];
        size_t n = 12345;
        const char *in = url_cases[i].in;
        int rc = lira_redact_url(in, strlen(in), out, sizeof out, &n);
        CHECK_EQ(rc, LIRA_OK);
        CHECK_STR(out, url_cases[i].out);
        CHECK_U64(n, ==, strlen(url_cases[i].out));
    }
}

/* A buffer of every size from 1 up: the result is a NUL-terminated prefix of
 * the full answer and the full length is always reported. */
static void test_every_buffer_size(void)
{
    const char *in = "https://u:p@h/x?token=abc&q=1#frag";
    const char *want = "https://REDACTED@h/x?token=REDACTED&q=1#frag";
    size_t wl = strlen(want);
    for (size_t cap = 1; cap <= wl + 2; cap++) {
        char out[64];
        memset(out, 'Z', sizeof out);
        size_t n = 0;
        int rc = lira_redact_url(in, strlen(in), out, cap, &n);
        CHECK_EQ(rc, cap > wl ? LIRA_OK : LIRA_ETOOBIG);
        CHECK_U64(n, ==, wl);
        size_t got = strlen(out);
        CHECK_U64(got, ==, cap > wl ? wl : cap - 1);
        CHECK(strncmp(out, want, got) == 0);
        CHECK(out[cap] == 'Z'); /* nothing written past cap */
        CHECK(strstr(out, "abc") == NULL);
    }
}

static void test_huge_input_small_buffer(void)
{
    size_t len = 100 * 1024;
    char *in = malloc(len);
    CHECK(in != NULL);
    if (!in)
        return;
    /* "https://h/?" then a repeating mix of plain and secret parameters. */
    size_t o = 0;
    const char *head = "https://user:hunter2@h/?";
    memcpy(in, head, strlen(head));
    o = strlen(head);
    const char *pat = "a=1&token=SECRETVALUE&";
    while (o + strlen(pat) <= len) {
        memcpy(in + o, pat, strlen(pat));
        o += strlen(pat);
    }
    while (o < len)
        in[o++] = 'x';

    char small[64];
    size_t n = 0;
    CHECK_EQ(lira_redact_url(in, len, small, sizeof small, &n), LIRA_ETOOBIG);
    CHECK_U64(strlen(small), ==, sizeof small - 1);
    CHECK(strstr(small, "hunter2") == NULL);
    CHECK(strstr(small, "SECRETVALUE") == NULL);

    char *big = malloc(n + 1);
    CHECK(big != NULL);
    if (big) {
        size_t n2 = 0;
        CHECK_EQ(lira_redact_url(in, len, big, n + 1, &n2), LIRA_OK);
        CHECK_U64(n2, ==, n);
        CHECK(strstr(big, "SECRETVALUE") == NULL);
        CHECK(strstr(big, "hunter2") == NULL);
        CHECK(strncmp(big, "https://REDACTED@h/?a=1&token=REDACTED&a=1", 42) == 0);
        free(big);
    }
    free(in);
}

static void test_long_param_name_is_treated_as_secret(void)
{
    char in[400], out[512];
    memcpy(in, "https://h/?", 11);
    memset(in + 11, 'n', 300);
    memcpy(in + 311, "=v", 3);
    CHECK_EQ(lira_redact_url(in, strlen(in), out, sizeof out, NULL), LIRA_OK);
    CHECK(strstr(out, "=REDACTED") != NULL);
}

static void test_embedded_nul_is_copied(void)
{
    const char in[] = "https://h/\0x?token=t";
    char out[64];
    size_t n = 0;
    CHECK_EQ(lira_redact_url(in, sizeof in - 1, out, sizeof out, &n), LIRA_OK);
    CHECK_U64(n, ==, sizeof "https://h/\0x?token=REDACTED" - 1);
    CHECK(memcmp(out, "https://h/\0x?token=REDACTED", n + 1) == 0);
}

static void test_url_bad_arguments(void)
{
    char out[16] = "zzz";
    size_t n = 0;
    CHECK_EQ(lira_redact_url(NULL, 3, out, sizeof out, &n), LIRA_EINVAL);
    CHECK_EQ(out[0], '\0');
    CHECK_EQ(lira_redact_url("abc", 3, NULL, 16, &n), LIRA_EINVAL);
    CHECK_EQ(lira_redact_url("abc", 3, out, 0, &n), LIRA_EINVAL);
    CHECK_EQ(lira_redact_url("abc", 3, out, sizeof out, NULL), LIRA_OK);
    CHECK_STR(out, "abc");
    CHECK_EQ(lira_redact_url("abcdef", 3, out, sizeof out, &n), LIRA_OK); /* len bounds it */
    CHECK_STR(out, "abc");
}

static void test_header_policy_table(void)
{
    static const struct {
        const char *name;
        int secret;
    } cases[] = {
        {"Authorization", 1},    {"authorization", 1},       {"AUTHORIZATION", 1},
        {"Proxy-Authorization", 1}, {"Cookie", 1},           {"Set-Cookie", 1},
        {"X-Api-Key", 1},        {"X-Auth-Token", 1},        {"X-CSRF-Token", 1},
        {"X-Webhook-Secret", 1}, {"X-Hub-Signature-256", 1}, {"Stripe-Signature", 1},
        {"X-Password", 1},       {"Api-Key", 1},             {"X-Apikey", 1},
        {"X-Shop-Api_Key", 1},   {"Content-Type", 0},        {"Accept", 0},
        {"User-Agent", 0},       {"X-Request-Id", 0},        {"traceparent", 0},
        {"Authorization-Hint", 0}, {"Cookies-Enabled", 0},   {"", 0},
        {"X-Session", 0},        {"X-Tenant", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = lira_redact_header_is_secret(cases[i].name, NULL, 0);
        if (got != cases[i].secret)
            fprintf(stderr, "header \"%s\" -> %d\n", cases[i].name, got);
        CHECK_EQ(got, cases[i].secret);
    }
}

static void test_header_deny_list(void)
{
    const char *const deny[] = {"X-Session", NULL, "x-tenant"};
    CHECK_EQ(lira_redact_header_is_secret("x-session", deny, 3), 1);
    CHECK_EQ(lira_redact_header_is_secret("X-TENANT", deny, 3), 1);
    CHECK_EQ(lira_redact_header_is_secret("X-Sessions", deny, 3), 0); /* exact names */
    CHECK_EQ(lira_redact_header_is_secret("X-Tenant", deny, 2), 0);   /* ndeny bounds it */
    CHECK_EQ(lira_redact_header_is_secret("Accept", deny, 3), 0);
    CHECK_EQ(lira_redact_header_is_secret("Cookie", deny, 3), 1);
    CHECK_EQ(lira_redact_header_is_secret(NULL, deny, 3), LIRA_EINVAL);
    CHECK_EQ(lira_redact_header_is_secret("Accept", NULL, 1), LIRA_EINVAL);
}

int main(void)
{
    RUN(test_url_table);
    RUN(test_every_buffer_size);
    RUN(test_huge_input_small_buffer);
    RUN(test_long_param_name_is_treated_as_secret);
    RUN(test_embedded_nul_is_copied);
    RUN(test_url_bad_arguments);
    RUN(test_header_policy_table);
    RUN(test_header_deny_list);
    return check_summary();
}
