/* lira_http_response on its own: the one-pass lookup of several headers
 * (what the pipeline reads for the limiter) agrees with the single lookup,
 * the last of repeated headers wins, and a response with more headers and
 * bytes than fit inline grows into the heap (ASan checks the moves). */
#include "check.h"

#include <stdio.h>
#include <string.h>

#include "status.h"
#include "transport.h"

static void add(lira_http_response *r, const char *name, const char *value)
{
    CHECK_INT(lira_http_response_add_header(r, name, strlen(name), value, strlen(value)), ==,
              LIRA_OK);
}

static void test_headers_one_pass(void)
{
    lira_http_response *r = lira_http_response_new();
    CHECK(r != NULL);
    add(r, "Server", "nginx");          /* no name starts with s: never measured */
    add(r, "Content-Type", "application/json");
    add(r, "Retry-After", "5");         /* an r, but none of the names */
    add(r, "x-ratelimit-limit", "100");
    add(r, "RateLimit", "limit=10, remaining=5, reset=3");
    add(r, "X-RATELIMIT-LIMIT", "200");
    add(r, "RateLimit-Policy", "10;w=1");
    static const char *const names[] = { "X-RateLimit-Limit", "RateLimit", "RateLimit-Reset",
                                         "ratelimit-policy", "content-type" };
    const char *v[17];
    CHECK_INT(lira_http_response_headers(r, names, 5, v), ==, LIRA_OK);
    CHECK_STR(v[0], "200");
    CHECK_STR(v[1], "limit=10, remaining=5, reset=3");
    CHECK(v[2] == NULL);
    CHECK_STR(v[3], "10;w=1");
    CHECK_STR(v[4], "application/json");
    for (size_t i = 0; i < 5; i++)
        CHECK(v[i] == lira_http_response_header(r, names[i]));
    CHECK_INT(lira_http_response_headers(r, names, 0, v), ==, LIRA_OK);
    CHECK_INT(lira_http_response_headers(NULL, names, 5, v), ==, LIRA_EINVAL);
    CHECK(v[0] == NULL && v[4] == NULL);
    CHECK_INT(lira_http_response_headers(r, NULL, 5, v), ==, LIRA_EINVAL);
    CHECK_INT(lira_http_response_headers(r, names, 17, v), ==, LIRA_EINVAL);
    CHECK_INT(lira_http_response_headers(r, names, 1, NULL), ==, LIRA_EINVAL);
    lira_http_response_free(r);
}

static void test_grows_past_inline(void)
{
    lira_http_response *r = lira_http_response_new();
    CHECK(r != NULL);
    char name[32], value[64];
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof name, "X-Header-%d", i);
        snprintf(value, sizeof value, "value-%d-padding-padding-padding", i);
        add(r, name, value);
    }
    CHECK_INT(lira_http_response_set_effective_url(r, "http://h/x", 10), ==, LIRA_OK);
    CHECK_INT((int)r->nheaders, ==, 40);
    CHECK_STR(lira_http_response_header(r, "x-header-0"), "value-0-padding-padding-padding");
    CHECK_STR(lira_http_response_header(r, "X-Header-39"), "value-39-padding-padding-padding");
    CHECK_STR(r->effective_url, "http://h/x");
    lira_http_response_free(r);
}

int main(void)
{
    RUN(test_headers_one_pass);
    RUN(test_grows_past_inline);
    return check_summary();
}
