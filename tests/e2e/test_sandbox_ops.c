/* test_sandbox_ops.c — `lira sandbox`'s long-running operations (/ops):
 * POST starts one (202 + Location/Operation-Location + Retry-After), the
 * first N polls answer 202 "running", then 200 with the result or a 303 to
 * /ops/{id}/result; operations are independent; bad parameters are 400 and
 * unknown ids 404. What the server counted is checked in its body and /_log. */
#include "sandbox_proc.h"

#include "check.h"
#include "e2e_http.h"

static sandbox_proc sb;

static void post_ops(const char *query, http_res *r)
{
    char url[512];
    snprintf(url, sizeof url, "%s/ops%s", sb.url, query);
    http_do(NULL, "POST", url, "", NULL, r);
}

static void test_ops_poll_until_done(void)
{
    http_res r;
    char loc[128], ra[16];
    post_ops("?polls=2&retry_after=3", &r);
    CHECK_EQ(r.status, 202);
    CHECK(http_header(&r, "Location", loc, sizeof loc) != NULL);
    CHECK(strncmp(loc, "/ops/op_", 8) == 0);
    CHECK_STR(http_header(&r, "Retry-After", ra, sizeof ra), "3");
    CHECK(http_header(&r, "Operation-Location", ra, sizeof ra) == NULL);
    cJSON *doc = http_json(&r);
    CHECK_STR(json_str(doc, "status"), "running");
    CHECK_STR(json_str(doc, "href"), loc);
    CHECK_EQ(json_num(doc, "polls", -1), 0);
    cJSON_Delete(doc);
    http_free(&r);
    for (int i = 1; i <= 3; i++) {
        http_get(sb.url, loc, &r);
        doc = http_json(&r);
        CHECK_EQ(r.status, i <= 2 ? 202 : 200);
        CHECK_STR(json_str(doc, "status"), i <= 2 ? "running" : "succeeded");
        CHECK_EQ(json_num(doc, "polls", -1), i);
        CHECK_EQ(http_header_ll(&r, "Retry-After", -1), i <= 2 ? 3 : -1);
        if (i == 3)
            CHECK_EQ(json_num(cJSON_GetObjectItemCaseSensitive(doc, "result"), "rows", -1), 42);
        cJSON_Delete(doc);
        http_free(&r);
    }
    http_get(sb.url, loc, &r);            /* done stays done */
    CHECK_EQ(r.status, 200);
    http_free(&r);
}

static void test_ops_303_and_headers(void)
{
    http_res r;
    char loc[160], op[160];
    post_ops("?polls=0&then=303&header=both&absolute=1", &r);
    CHECK_EQ(r.status, 202);
    CHECK(http_header(&r, "Location", loc, sizeof loc) != NULL);
    CHECK(http_header(&r, "Operation-Location", op, sizeof op) != NULL);
    CHECK_STR(loc, op);
    CHECK(strncmp(loc, sb.url, strlen(sb.url)) == 0);     /* absolute */
    CHECK(http_header(&r, "Retry-After", op, sizeof op) == NULL);
    http_free(&r);
    char path[160];
    snprintf(path, sizeof path, "%s/result", loc + strlen(sb.url));
    http_get(sb.url, path, &r);                             /* not done yet: 409 */
    CHECK_EQ(r.status, 409);
    http_free(&r);
    http_get(sb.url, loc + strlen(sb.url), &r);
    CHECK_EQ(r.status, 303);
    char to[200];
    CHECK(http_header(&r, "Location", to, sizeof to) != NULL);
    CHECK(strstr(to, "/result") != NULL);
    http_free(&r);
    http_get(sb.url, path, &r);
    CHECK_EQ(r.status, 200);
    cJSON *doc = http_json(&r);
    CHECK_EQ(json_num(cJSON_GetObjectItemCaseSensitive(doc, "result"), "rows", -1), 42);
    cJSON_Delete(doc);
    http_free(&r);
    post_ops("?polls=1&header=operation-location", &r);
    CHECK(http_header(&r, "Location", loc, sizeof loc) == NULL);
    CHECK(http_header(&r, "Operation-Location", op, sizeof op) != NULL);
    http_free(&r);
}

static void test_ops_independent_and_logged(void)
{
    sandbox_reset(sb.url);
    http_res a, b, r;
    char la[128], lb[128];
    post_ops("?polls=1", &a);
    post_ops("?polls=3", &b);
    http_header(&a, "Location", la, sizeof la);
    http_header(&b, "Location", lb, sizeof lb);
    CHECK(strcmp(la, lb) != 0);
    http_free(&a);
    http_free(&b);
    CHECK_EQ(http_get_status(sb.url, la), 202);
    http_get(sb.url, la, &r);
    CHECK_EQ(r.status, 200);              /* a's second poll */
    http_free(&r);
    http_get(sb.url, lb, &r);
    CHECK_EQ(r.status, 202);              /* b has its own count */
    http_free(&r);
    cJSON *log = sandbox_log(sb.url, 0);
    cJSON *entries = cJSON_GetObjectItemCaseSensitive(log, "entries");
    int posts = 0, gets = 0;
    cJSON *e;
    cJSON_ArrayForEach(e, entries) {
        const char *m = json_str(e, "method");
        if (strcmp(m, "POST") == 0) posts++;
        if (strcmp(m, "GET") == 0) gets++;
    }
    CHECK_EQ(posts, 2);
    CHECK_EQ(gets, 3);
    cJSON_Delete(log);
}

static void test_ops_errors(void)
{
    static const char *const bad[] = {
        "?polls=-1", "?polls=100001", "?polls=x", "?retry_after=3601", "?then=201",
        "?then=404", "?header=link", "?absolute=2",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        http_res r;
        post_ops(bad[i], &r);
        CHECK_EQ(r.status, 400);
        http_free(&r);
    }
    static const char *const missing[] = {
        "/ops/op_999999", "/ops/op_0", "/ops/op_", "/ops/1", "/ops/op_1x", "/ops/op_1/other",
        "/opsx",
    };
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++)
        CHECK_EQ(http_get_status(sb.url, missing[i]), 404);
    http_res r;
    CHECK_EQ(http_get_status(sb.url, "/ops"), 405);
    char url[256];
    snprintf(url, sizeof url, "%s/ops/op_1", sb.url);
    http_do(NULL, "DELETE", url, NULL, NULL, &r);
    CHECK_EQ(r.status, 405);
    http_free(&r);
}

int main(void)
{
    if (sandbox_test_begin(&sb, NULL) != 0)
        return 1;
    RUN(test_ops_poll_until_done);
    RUN(test_ops_303_and_headers);
    RUN(test_ops_independent_and_logged);
    RUN(test_ops_errors);
    return sandbox_test_end(&sb) == 0 ? check_summary() : 1;
}
