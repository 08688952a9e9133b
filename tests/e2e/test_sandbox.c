/* test_sandbox.c — `lira sandbox`: the CLI and the simple endpoints' contracts
 * (/anything, /status, /flaky, /delay, /trickle, /bytes, /redirect,
 * /json/invalid, /headers, errors) and the request log. The API-like
 * endpoints are in test_sandbox_api.c; malformed input, load and shutdown in
 * test_sandbox_robust.c. */
#include "sandbox_proc.h"

#include "check.h"
#include "core/httpdate.h"
#include "e2e_http.h"

static sandbox_proc sb;

static double now_s(void)
{
    return (double)sandbox_proc_now_ms_() / 1000.0;
}

/* Run `$LIRA_BIN args...`, capturing stdout+stderr into out. Returns the exit
 * status, or -1 when it did not exit within 10 s or died by a signal. */
static int run_cli(const char *const *args, char *out, size_t cap)
{
    char *argv[16];
    int n = 0;
    argv[n++] = getenv("LIRA_BIN");
    for (size_t i = 0; args[i] != NULL && n < 15; i++) argv[n++] = (char *)(uintptr_t)args[i];
    argv[n] = NULL;
    int fds[2];
    if (argv[0] == NULL || pipe(fds) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    size_t len = 0;
    long long deadline = sandbox_proc_now_ms_() + 10000;
    for (;;) {
        struct pollfd p = { fds[0], POLLIN, 0 };
        long long left = deadline - sandbox_proc_now_ms_();
        if (left <= 0 || poll(&p, 1, (int)left) <= 0) break;
        ssize_t r = read(fds[0], out + len, cap - 1 - len);
        if (r <= 0) break;
        len += (size_t)r;
        if (len == cap - 1) break;
    }
    out[len] = '\0';
    close(fds[0]);
    int st;
    if (sandbox_proc_wait_(pid, &st, 10000) != 1) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ------------------------------------------------------------- CLI --- */

static void test_cli_help_and_version(void)
{
    char out[8192];
    const char *help[] = { "--help", NULL };
    CHECK_EQ(run_cli(help, out, sizeof out), 0);
    CHECK(strstr(out, "sandbox") != NULL);
    const char *ver[] = { "version", NULL };
    CHECK_EQ(run_cli(ver, out, sizeof out), 0);
    CHECK_STR(out, "lira 0.1.0\n");
    const char *sbhelp[] = { "sandbox", "--help", NULL };
    CHECK_EQ(run_cli(sbhelp, out, sizeof out), 0);
    CHECK(strstr(out, "--listen") != NULL && strstr(out, "--scenario") != NULL &&
          strstr(out, "--seed") != NULL);
}

static void test_cli_bad_flags_exit_2(void)
{
    static const char *const cases[][5] = {
        { "sandbox", "--bogus", NULL },
        { "sandbox", "--listen", NULL },
        { "sandbox", "--listen", "nowhere", NULL },
        { "sandbox", "--listen", "127.0.0.1:70000", NULL },
        { "sandbox", "--listen", "127.0.0.1:0", "--seed", "x1" },
        { "sandbox", "--scenario", "/nonexistent/scenario.json", NULL },
        { "frobnicate", NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[4096];
        const char *args[6] = { 0 };
        for (size_t j = 0; j < 5 && cases[i][j] != NULL; j++) args[j] = cases[i][j];
        CHECK_EQ(run_cli(args, out, sizeof out), 2);
        CHECK(strstr(out, "lira") != NULL);   /* a message, not silence */
    }
}

/* ------------------------------------------------------- endpoints --- */

static void test_anything_echoes(void)
{
    char url[256];
    http_res r;
    snprintf(url, sizeof url, "%s/anything/deep/path?a=1&b=two", sb.url);
    const char *hdrs[] = { "X-Test: yes", "Content-Type: application/json", NULL };
    CHECK_EQ(http_do(NULL, "PATCH", url, "{\"k\":42}", hdrs, &r), CURLE_OK);
    CHECK_EQ(r.status, 200);
    cJSON *doc = http_json(&r);
    CHECK(doc != NULL);
    CHECK_STR(json_str(doc, "method"), "PATCH");
    CHECK_STR(json_str(doc, "path"), "/anything/deep/path");
    CHECK_STR(json_str(doc, "query"), "a=1&b=two");
    CHECK_STR(json_str(cJSON_GetObjectItem(doc, "args"), "b"), "two");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "headers"), "x-test")), "yes");
    CHECK_STR(json_str(doc, "body"), "{\"k\":42}");
    CHECK_EQ(json_num(cJSON_GetObjectItem(doc, "json"), "k", 0), 42);
    CHECK_EQ(json_num(doc, "body_length", 0), 8);
    cJSON_Delete(doc);
    http_free(&r);
}

static void test_status_and_retry_after(void)
{
    http_res r;
    CHECK_EQ(http_get(sb.url, "/status/418", &r), CURLE_OK);
    CHECK_EQ(r.status, 418);
    http_free(&r);
    http_get(sb.url, "/status/204", &r);
    CHECK_EQ(r.status, 204);
    CHECK_EQ(r.body.len, 0);
    http_free(&r);
    http_get(sb.url, "/status/503?retry_after=5", &r);
    CHECK_EQ(r.status, 503);
    CHECK_EQ(http_header_ll(&r, "Retry-After", -1), 5);
    http_free(&r);
    http_get(sb.url, "/status/429?retry_after=date:%2B30", &r);
    char date[64];
    CHECK(http_header(&r, "Retry-After", date, sizeof date) != NULL);
    int64_t epoch = 0, wall = (int64_t)time(NULL);
    CHECK_EQ(lira_httpdate_parse(date, strlen(date), wall, &epoch), 0);
    CHECK_INT(epoch - wall, >=, 28);
    CHECK_INT(epoch - wall, <=, 31);
    http_free(&r);
    static const char *const bad[] = { "/status/99", "/status/600", "/status/abc",
                                       "/status/200?retry_after=-1", "/status/200?retry_after=date:x" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        http_get(sb.url, bad[i], &r);
        CHECK_EQ(r.status, 400);
        cJSON *doc = http_json(&r);
        CHECK(json_str(doc, "error") != NULL);
        cJSON_Delete(doc);
        http_free(&r);
    }
}

static void test_flaky_status_reset_timeout(void)
{
    http_res r;
    long want[] = { 503, 503, 200, 200 };
    for (int i = 0; i < 4; i++) {
        http_get(sb.url, "/flaky/fs?fail=2&status=503&retry_after=1", &r);
        CHECK_EQ(r.status, want[i]);
        if (i < 2) CHECK_EQ(http_header_ll(&r, "Retry-After", -1), 1);
        http_free(&r);
    }
    CURLcode rc = http_get(sb.url, "/flaky/fr?fail=1&status=reset", &r);
    CHECK(rc == CURLE_GOT_NOTHING || rc == CURLE_RECV_ERROR);
    CHECK_EQ(r.status, 0);
    http_free(&r);
    CHECK_EQ(http_get_status(sb.url, "/flaky/fr?fail=1&status=reset"), 200);
    double t0 = now_s();
    rc = http_get(sb.url, "/flaky/ft?fail=1&status=timeout&hold_ms=300", &r);
    CHECK(rc != CURLE_OK);
    CHECK(now_s() - t0 >= 0.29);
    http_free(&r);
    CHECK_EQ(http_get_status(sb.url, "/flaky/ft?fail=1&status=timeout&hold_ms=300"), 200);
    CHECK_EQ(http_get_status(sb.url, "/flaky/x?status=teapot"), 400);
}

/* ?p= failures come from the --seed generator: the same after a reset. */
static void test_flaky_probability_is_seeded(void)
{
    long first[20];
    int fails = 0;
    for (int round = 0; round < 2; round++) {
        CHECK_EQ(sandbox_reset(sb.url), 0);
        for (int i = 0; i < 20; i++) {
            http_res r;
            http_get(sb.url, "/flaky/coin?p=0.5", &r);
            CHECK(r.status == 200 || r.status == 503);
            if (round == 0) { first[i] = r.status; fails += r.status == 503; }
            else CHECK_EQ(r.status, first[i]);
            http_free(&r);
        }
    }
    CHECK(fails > 0 && fails < 20);
}

static void test_delay_and_trickle(void)
{
    http_res r;
    double t0 = now_s();
    http_get(sb.url, "/delay/150", &r);
    CHECK_EQ(r.status, 200);
    CHECK(now_s() - t0 >= 0.149);
    http_free(&r);
    CHECK_EQ(http_get_status(sb.url, "/delay/60001"), 400);
    t0 = now_s();
    http_get(sb.url, "/trickle?bytes=5&interval_ms=50", &r);
    CHECK_EQ(r.status, 200);
    CHECK_STR(r.body.p, "*****");
    CHECK_EQ(http_header_ll(&r, "Content-Length", -1), 5);
    CHECK(now_s() - t0 >= 0.199);
    http_free(&r);
    http_get(sb.url, "/trickle?bytes=1000&interval_ms=1000", &r);   /* 999 s: over the cap */
    CHECK_EQ(r.status, 400);
    http_free(&r);
}

static void test_bytes_seeded(void)
{
    http_res a, b, c;
    http_get(sb.url, "/bytes/100003", &a);
    http_get(sb.url, "/bytes/100003", &b);
    http_get(sb.url, "/bytes/100003?seed=99", &c);
    CHECK_EQ(a.status, 200);
    CHECK_EQ(a.body.len, 100003);
    CHECK(a.body.len == b.body.len && memcmp(a.body.p, b.body.p, a.body.len) == 0);
    CHECK(c.body.len == a.body.len && memcmp(a.body.p, c.body.p, a.body.len) != 0);
    http_free(&a);
    http_free(&b);
    http_free(&c);
    http_get(sb.url, "/bytes/0", &a);
    CHECK_EQ(a.status, 200);
    CHECK_EQ(a.body.len, 0);
    http_free(&a);
    CHECK_EQ(http_get_status(sb.url, "/bytes/20000000"), 400);
}

static void test_redirect_chain(void)
{
    http_res r;
    char loc[128];
    http_get(sb.url, "/redirect/3", &r);
    CHECK_EQ(r.status, 302);
    CHECK_STR(http_header(&r, "Location", loc, sizeof loc), "/redirect/2");
    http_free(&r);
    CURL *h = curl_easy_init();
    char url[256];
    snprintf(url, sizeof url, "%s/redirect/3", sb.url);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    http_do(h, "GET", url, NULL, NULL, &r);
    long redirects = -1;
    curl_easy_getinfo(h, CURLINFO_REDIRECT_COUNT, &redirects);
    CHECK_EQ(r.status, 200);
    CHECK_EQ(redirects, 3);
    http_free(&r);
    curl_easy_cleanup(h);
}

static void test_json_invalid_and_headers(void)
{
    http_res r;
    char v[64];
    http_get(sb.url, "/json/invalid", &r);
    CHECK_EQ(r.status, 200);
    CHECK(r.body.len > 0);
    cJSON *doc = http_json(&r);
    CHECK(doc == NULL);
    cJSON_Delete(doc);
    http_free(&r);
    http_get(sb.url, "/headers?X-One=1&Cache-Control=no-store", &r);
    CHECK_EQ(r.status, 200);
    CHECK_STR(http_header(&r, "X-One", v, sizeof v), "1");
    CHECK_STR(http_header(&r, "Cache-Control", v, sizeof v), "no-store");
    http_free(&r);
    CHECK_EQ(http_get_status(sb.url, "/headers?Content-Length=3"), 400);
    CHECK_EQ(http_get_status(sb.url, "/headers?X-Bad=a%0d%0aInjected:%201"), 400);
}

static void test_unknown_and_wrong_method(void)
{
    http_res r;
    char allow[32];
    CHECK_EQ(http_get_status(sb.url, "/no/such/thing"), 404);
    http_get(sb.url, "/payments", &r);
    CHECK_EQ(r.status, 405);
    CHECK_STR(http_header(&r, "Allow", allow, sizeof allow), "POST");
    http_free(&r);
}

/* ------------------------------------------------------------- log --- */

static void test_log_records_what_arrived(void)
{
    CHECK_EQ(sandbox_reset(sb.url), 0);
    cJSON *before = sandbox_log(sb.url, 0);
    double since = json_num(before, "last", 0);
    CHECK_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(before, "entries")), 0);
    cJSON_Delete(before);

    CURL *h = curl_easy_init();
    char url[256];
    http_res r;
    const char *hdrs[] = { "X-Attempt-Id: abc", NULL };
    snprintf(url, sizeof url, "%s/anything/one?q=1", sb.url);
    http_do(h, "GET", url, NULL, hdrs, &r);
    http_free(&r);
    snprintf(url, sizeof url, "%s/anything/two", sb.url);
    http_do(h, "POST", url, "hello", hdrs, &r);
    http_free(&r);
    curl_easy_cleanup(h);
    http_get(sb.url, "/anything/three", &r);   /* a fresh handle: a new connection */
    http_free(&r);

    cJSON *log = sandbox_log(sb.url, (unsigned long long)since);
    cJSON *e = cJSON_GetObjectItem(log, "entries");
    CHECK_EQ(cJSON_GetArraySize(e), 3);
    cJSON *e0 = cJSON_GetArrayItem(e, 0), *e1 = cJSON_GetArrayItem(e, 1), *e2 = cJSON_GetArrayItem(e, 2);
    CHECK_STR(json_str(e0, "method"), "GET");
    CHECK_STR(json_str(e0, "path"), "/anything/one");
    CHECK_STR(json_str(e0, "query"), "q=1");
    CHECK_STR(json_str(cJSON_GetObjectItem(e0, "headers"), "X-Attempt-Id"), "abc");
    CHECK_STR(json_str(e1, "method"), "POST");
    CHECK_EQ(json_num(e1, "body_length", -1), 5);
    CHECK_STR(json_str(cJSON_GetObjectItem(e1, "headers"), "X-Attempt-Id"), "abc");
    CHECK(json_num(e0, "connection", 0) > 0);
    CHECK_EQ(json_num(e0, "connection", 0), json_num(e1, "connection", -1));
    CHECK(json_num(e2, "connection", 0) != json_num(e1, "connection", 0));
    CHECK(json_num(e0, "mono_ns", 0) <= json_num(e1, "mono_ns", 0));
    CHECK(json_num(e1, "mono_ns", 0) <= json_num(e2, "mono_ns", 0));
    CHECK_EQ(json_num(e1, "seq", 0), json_num(e0, "seq", 0) + 1);
    /* since = seq of the second: only the third comes back */
    cJSON *tail = sandbox_log(sb.url, (unsigned long long)json_num(e1, "seq", 0));
    CHECK_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(tail, "entries")), 1);
    cJSON_Delete(tail);
    cJSON_Delete(log);
}

static void test_sigterm_exits_0(void)
{
    CHECK_EQ(sandbox_stop(&sb), 0);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    RUN(test_cli_help_and_version);
    RUN(test_cli_bad_flags_exit_2);
    const char *extra[] = { "--seed", "7", NULL };
    if (sandbox_start(&sb, extra) != 0) {
        fprintf(stderr, "cannot start the sandbox\n");
        return 1;
    }
    RUN(test_anything_echoes);
    RUN(test_status_and_retry_after);
    RUN(test_flaky_status_reset_timeout);
    RUN(test_flaky_probability_is_seeded);
    RUN(test_delay_and_trickle);
    RUN(test_bytes_seeded);
    RUN(test_redirect_chain);
    RUN(test_json_invalid_and_headers);
    RUN(test_unknown_and_wrong_method);
    RUN(test_log_records_what_arrived);
    RUN(test_sigterm_exits_0);
    curl_global_cleanup();
    return check_summary();
}
