/* test_transport.c — the libcurl transport against a real `lira sandbox`
 * on 127.0.0.1, driven by lira_engine_step(); what the sandbox's /_log saw
 * is checked alongside what the transport reports. Every wait is bounded. */
#define _GNU_SOURCE
#include "sandbox_proc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>

#include "transport_e2e.h"

/* ------------------------------------------------------------ requests */

static void test_get_echo(void)
{
    lira_engine *e = engine();
    char url[256];
    url_of(url, sizeof url, "/anything/orders?expand=items");
    const char *hdrs[] = {"X-Test: one", "Accept: application/json", NULL};
    lira_http_request r = req_get(url);
    r.headers = hdrs;
    lira_http_response *res = run(e, &r);
    CHECK(res != NULL);
    if (res) {
        CHECK_EQ(res->failure, LIRA_FAIL_NONE);
        CHECK_EQ(res->status, 200);
        CHECK_EQ(res->body[res->body_len], '\0');
        cJSON *j = cJSON_ParseWithLength(res->body, res->body_len);
        CHECK_STR(json_str(j, "method"), "GET");
        CHECK_STR(json_str(j, "path"), "/anything/orders");
        CHECK_STR(json_str(j, "query"), "expand=items");
        const cJSON *h = cJSON_GetObjectItem(j, "headers");
        CHECK_STR(json_str(h, "X-Test"), "one");
        CHECK_STR(json_str(h, "Accept"), "application/json");
        CHECK(json_str(h, "User-Agent") && strncmp(json_str(h, "User-Agent"), "lira", 4) == 0);
        CHECK(json_str(h, "Expect") == NULL);
        CHECK_STR(json_str(h, "Accept-Encoding"), "gzip");   /* once: ours, not curl's too */
        CHECK(res->effective_url && strstr(res->effective_url, "/anything/orders"));
        CHECK_STR(lira_http_response_header(res, "content-type"), "application/json");
        cJSON_Delete(j);
    }
    lira_http_response_free(res);
    lira_engine_free(e);
}

static int count_in(const char *s, size_t len, const char *needle)
{
    int n = 0;
    size_t nl = strlen(needle);
    for (const char *p = s; (p = memmem(p, len - (size_t)(p - s), needle, nl)) != NULL; p += nl)
        n++;
    return n;
}

/* The User-Agent is a header line of the request's own or the transport's
 * default, sent once either way (curl's CURLOPT_USERAGENT line is not built
 * beside it); a default that would inject lines is refused. */
static void test_user_agent(void)
{
    lira_engine *e = engine();
    lira_transport_options opt = {.user_agent = "custom/1.0"};
    lira_transport *t = NULL;
    CHECK_EQ(lira_transport_curl_new(e, &opt, &t), LIRA_OK);
    CHECK_EQ(lira_engine_set_transport(e, t), LIRA_OK);
    char url[256];
    url_of(url, sizeof url, "/anything/ua");
    const char *own[] = {"user-agent: spec/2", NULL};
    for (int i = 0; i < 2; i++) {
        lira_http_request r = req_get(url);
        r.headers = i ? own : NULL;
        lira_http_response *res = run(e, &r);
        CHECK(res && res->status == 200);
        cJSON *j = res ? cJSON_ParseWithLength(res->body, res->body_len) : NULL;
        const cJSON *h = cJSON_GetObjectItem(j, "headers");
        const cJSON *ua = cJSON_GetObjectItem(h, "User-Agent");   /* any case */
        CHECK_STR(cJSON_GetStringValue(ua), i ? "spec/2" : "custom/1.0");
        CHECK_EQ(res ? count_in(res->body, res->body_len, "custom/1.0") : -1, i ? 0 : 1);
        CHECK_EQ(res ? count_in(res->body, res->body_len, "spec/2") : -1, i ? 1 : 0);
        cJSON_Delete(j);
        lira_http_response_free(res);
    }
    lira_engine_free(e);

    e = engine();
    opt.user_agent = "bad\r\nX-Injected: 1";
    t = NULL;
    CHECK_EQ(lira_transport_curl_new(e, &opt, &t), LIRA_EINVAL);
    CHECK(t == NULL);
    lira_engine_free(e);
}

static void check_echo(lira_engine *e, const char *method, const char *body, const char *ctype)
{
    char url[256], ct[128];
    url_of(url, sizeof url, "/anything/m");
    snprintf(ct, sizeof ct, "Content-Type: %s", ctype ? ctype : "");
    const char *hdrs[] = {ct, NULL};
    lira_http_request r = req_get(url);
    r.method = method;
    r.body = body;
    r.body_len = body ? strlen(body) : 0;
    r.headers = ctype ? hdrs : NULL;
    lira_http_response *res = run(e, &r);
    CHECK(res && res->status == 200);
    cJSON *j = res ? cJSON_ParseWithLength(res->body, res->body_len) : NULL;
    CHECK_STR(json_str(j, "method"), method);
    CHECK_STR(json_str(j, "body"), body ? body : "");
    CHECK_EQ(json_num(j, "body_length", -1), body ? (double)strlen(body) : 0);
    const cJSON *h = cJSON_GetObjectItem(j, "headers");
    CHECK(json_str(h, "Expect") == NULL);
    if (ctype)
        CHECK_STR(json_str(h, "Content-Type"), ctype);
    else
        CHECK(json_str(h, "Content-Type") == NULL);   /* not curl's form default */

    cJSON_Delete(j);
    lira_http_response_free(res);
}

static void test_methods_with_body(void)
{
    lira_engine *e = engine();
    check_echo(e, "POST", "{\"amount\": 5}", "application/json");
    check_echo(e, "PUT", "put-body", NULL);
    check_echo(e, "PATCH", "patch-body", "text/plain");
    check_echo(e, "DELETE", "delete-body", NULL);
    check_echo(e, "DELETE", NULL, NULL);
    check_echo(e, "POST", NULL, NULL);   /* Content-Length: 0 */
    check_echo(e, "GET", NULL, NULL);
    lira_engine_free(e);
}

/* A pooled handle skips the options that hold their value already
 * (lira_curl_configure): each request must still get its own method and
 * timeout, whatever the handle's previous request set. */
static void test_options_follow_each_request(void)
{
    lira_engine *e = engine();
    check_echo(e, "GET", NULL, NULL);
    check_echo(e, "GET", NULL, NULL);      /* a GET after a GET: nothing set again */
    check_echo(e, "DELETE", NULL, NULL);   /* no body: CUSTOMREQUEST after a plain GET */
    check_echo(e, "GET", NULL, NULL);
    check_echo(e, "POST", "p", NULL);
    check_echo(e, "GET", NULL, NULL);
    char url[256];
    url_of(url, sizeof url, "/delay/400");
    lira_http_request r = req_get(url);
    r.timeout_ns = 100 * LIRA_NS_PER_MS;
    lira_http_response *res = run(e, &r);
    CHECK(res && res->failure == LIRA_FAIL_TIMEOUT);
    lira_http_response_free(res);
    r.timeout_ns = 10 * LIRA_NS_PER_SEC;   /* the next request's own timeout */
    res = run(e, &r);
    CHECK(res && res->failure == LIRA_FAIL_NONE && res->status == 200);
    lira_http_response_free(res);
    lira_engine_free(e);
}

static void test_head(void)
{
    lira_engine *e = engine();
    unsigned long long since = log_newest();
    char url[256];
    url_of(url, sizeof url, "/anything/h");
    lira_http_request r = req_get(url);
    r.method = "HEAD";
    lira_http_response *res = run(e, &r);
    CHECK(res && res->failure == LIRA_FAIL_NONE && res->status == 200);
    CHECK(res && res->body_len == 0 && res->body[0] == '\0');
    CHECK(res && lira_http_response_header(res, "Content-Length") != NULL);
    cJSON *log = sandbox_log(sb.url, since);
    const cJSON *ent = cJSON_GetArrayItem(cJSON_GetObjectItem(log, "entries"), 0);
    CHECK_STR(json_str(ent, "method"), "HEAD");
    cJSON_Delete(log);
    lira_http_response_free(res);
    /* the handle serves a GET with a body afterwards (NOBODY was reset) */
    res = get(e, "/anything/after-head");
    CHECK(res && res->status == 200 && res->body_len > 0);
    lira_http_response_free(res);
    lira_engine_free(e);
}

static void test_response_headers(void)
{
    lira_engine *e = engine();
    lira_http_response *res = get(e, "/headers?X-Foo=bar&Cache-Control=no-store");
    CHECK(res && res->status == 200);
    if (res) {
        CHECK_STR(lira_http_response_header(res, "x-foo"), "bar");
        CHECK_STR(lira_http_response_header(res, "X-FOO"), "bar");
        CHECK_STR(lira_http_response_header(res, "cache-control"), "no-store");
        CHECK(lira_http_response_header(res, "x-absent") == NULL);
        int as_received = 0;
        for (size_t i = 0; i < res->nheaders; i++)
            as_received |= strcmp(res->headers[i].name, "X-Foo") == 0;
        CHECK(as_received);
    }
    lira_http_response_free(res);
    lira_engine_free(e);
}

static void test_status_codes(void)
{
    lira_engine *e = engine();
    lira_http_response *res = get(e, "/status/503?retry_after=2");
    CHECK(res && res->failure == LIRA_FAIL_NONE && res->status == 503);
    CHECK(res && lira_http_response_header(res, "retry-after") &&
          strcmp(lira_http_response_header(res, "retry-after"), "2") == 0);
    lira_http_response_free(res);
    res = get(e, "/status/404");
    CHECK(res && res->failure == LIRA_FAIL_NONE && res->status == 404);
    lira_http_response_free(res);
    lira_engine_free(e);
}

static void test_redirects(void)
{
    lira_engine *e = engine();
    char url[256];
    url_of(url, sizeof url, "/redirect/3");
    lira_http_request r = req_get(url);
    r.max_redirects = 5;
    lira_http_response *res = run(e, &r);
    CHECK(res && res->failure == LIRA_FAIL_NONE && res->status == 200);
    CHECK(res && res->redirects == 3);
    CHECK(res && lira_http_response_header(res, "location") == NULL);   /* final only */
    CHECK(res && res->effective_url && strstr(res->effective_url, "/redirect/0"));
    CHECK(res && strstr(res->body, "redirected"));
    lira_http_response_free(res);

    r.max_redirects = 2;
    res = run(e, &r);
    CHECK(res && res->failure == LIRA_FAIL_TRANSPORT && res->status == 0);
    CHECK(res && strstr(res->error, "more than 2 redirects"));
    lira_http_response_free(res);

    r.max_redirects = 0;
    res = run(e, &r);
    CHECK(res && res->failure == LIRA_FAIL_NONE && res->status == 302);
    CHECK(res && res->redirects == 0);
    CHECK_STR(res ? lira_http_response_header(res, "Location") : NULL, "/redirect/2");
    lira_http_response_free(res);
    lira_engine_free(e);
}

/* ------------------------------------------------------------ failures */

static void test_timeout_delay(void)
{
    lira_engine *e = engine();
    char url[256];
    url_of(url, sizeof url, "/delay/2000");
    lira_http_request r = req_get(url);
    r.timeout_ns = 200 * LIRA_NS_PER_MS;
    long long t0 = now_ms();
    lira_http_response *res = run(e, &r);
    long long took = now_ms() - t0;
    CHECK(res && res->failure == LIRA_FAIL_TIMEOUT && res->status == 0);
    CHECK_INT(took, >=, 190);
    CHECK_INT(took, <, 1200);
    CHECK(res && res->error[0] != '\0');
    CHECK_STR(lira_failure_kind(LIRA_FAIL_TIMEOUT), "timeout");
    lira_http_response_free(res);
    lira_engine_free(e);
}

static void test_timeout_trickle(void)
{
    lira_engine *e = engine();
    char url[256];
    url_of(url, sizeof url, "/trickle?bytes=30&interval_ms=100");   /* about 2.9 s */
    lira_http_request r = req_get(url);
    r.timeout_ns = 500 * LIRA_NS_PER_MS;
    long long t0 = now_ms();
    lira_http_response *res = run(e, &r);
    long long took = now_ms() - t0;
    CHECK(res && res->failure == LIRA_FAIL_TIMEOUT);
    CHECK_INT(took, >=, 490);
    CHECK_INT(took, <, 1500);
    lira_http_response_free(res);
    lira_engine_free(e);
}

static void test_reset(void)
{
    lira_engine *e = engine();
    lira_http_response *res = get(e, "/flaky/transport-reset?status=reset&fail=5");
    CHECK(res && res->failure == LIRA_FAIL_TRANSPORT && res->status == 0);
    CHECK(res && res->nheaders == 0 && res->body_len == 0);
    CHECK_STR(lira_failure_kind(LIRA_FAIL_TRANSPORT), "transport");
    lira_http_response_free(res);
    lira_engine_free(e);
}

static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    socklen_t len = sizeof a;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_connect_refused(void)
{
    lira_engine *e = engine();
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", closed_port());
    lira_http_request r = req_get(url);
    lira_http_response *res = run(e, &r);
    CHECK(res && res->failure == LIRA_FAIL_CONNECT && res->status == 0);
    CHECK_STR(lira_failure_kind(LIRA_FAIL_CONNECT), "connect");
    lira_http_response_free(res);
    lira_engine_free(e);
}

static void test_dns(void)
{
    lira_engine *e = engine();
    lira_http_request r = req_get("http://user:hunter2@nonexistent.invalid/x?token=abc");
    lira_http_response *res = run(e, &r);
    CHECK(res && res->failure == LIRA_FAIL_DNS);
    CHECK(res && strstr(res->error, "hunter2") == NULL && strstr(res->error, "abc") == NULL);
    CHECK_STR(lira_failure_kind(LIRA_FAIL_DNS), "dns");
    lira_http_response_free(res);
    lira_engine_free(e);
}

static void test_too_large_with_length(void)
{
    lira_engine *e = engine();
    char url[256];
    url_of(url, sizeof url, "/bytes/100000");
    lira_http_request r = req_get(url);
    r.max_body = 1000;
    lira_http_response *res = run(e, &r);
    CHECK(res && res->failure == LIRA_FAIL_TOO_LARGE);
    CHECK(res && res->status == 200);   /* kept */
    CHECK(res && res->body_len == 0);
    CHECK(res && strstr(res->error, "max_body"));
    lira_http_response_free(res);
    /* exactly at the cap is fine */
    url_of(url, sizeof url, "/bytes/1000");
    r.url = url;
    res = run(e, &r);
    CHECK(res && res->failure == LIRA_FAIL_NONE && res->body_len == 1000);
    lira_http_response_free(res);
    CHECK_STR(lira_failure_kind(LIRA_FAIL_TOO_LARGE), "too_large");
    lira_engine_free(e);
}

/* A one-shot server for what the sandbox never sends (bodies without a
 * Content-Length): answers one connection with `reply`, then closes. */
typedef struct oneshot {
    int fd, port;
    const char *reply;
    size_t reply_len;
    size_t extra;      /* bytes of 'x' after the reply */
    char req[4096];    /* the request's head as received */
    pthread_t th;
} oneshot;

static void *oneshot_main(void *ud)
{
    oneshot *s = ud;
    /* Bounded: if the client never connects (it failed first), give up
     * instead of blocking the test in accept() forever. */
    struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
    if (poll(&pfd, 1, 10000) != 1)
        return NULL;
    int c = accept(s->fd, NULL, NULL);
    if (c < 0)
        return NULL;
    char buf[4096];
    size_t got = 0;
    while (got < sizeof buf - 1) {
        ssize_t n = read(c, buf + got, sizeof buf - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        buf[got] = '\0';
        if (strstr(buf, "\r\n\r\n"))
            break;
    }
    memcpy(s->req, buf, got + 1);
    /* MSG_NOSIGNAL: the client hangs up mid-body on purpose (max_body);
     * that must be an EPIPE here, not a SIGPIPE that kills the test. */
    ssize_t w = send(c, s->reply, s->reply_len, MSG_NOSIGNAL);
    memset(buf, 'x', sizeof buf);
    for (size_t left = s->extra; w >= 0 && left > 0;) {
        size_t n = left < sizeof buf ? left : sizeof buf;
        w = send(c, buf, n, MSG_NOSIGNAL);
        left -= w > 0 ? (size_t)w : left;
    }
    close(c);
    return NULL;
}

static int oneshot_start_n(oneshot *s, const char *reply, size_t reply_len, size_t extra)
{
    s->reply = reply;
    s->reply_len = reply_len;
    s->extra = extra;
    s->req[0] = '\0';
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    socklen_t len = sizeof a;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s->fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(s->fd, 4) != 0 ||
        getsockname(s->fd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    s->port = ntohs(a.sin_port);
    return pthread_create(&s->th, NULL, oneshot_main, s);
}

static int oneshot_start(oneshot *s, const char *reply, size_t extra)
{
    return oneshot_start_n(s, reply, strlen(reply), extra);
}

static void oneshot_stop(oneshot *s)
{
    pthread_join(s->th, NULL);
    close(s->fd);
}

static lira_http_response *oneshot_get(lira_engine *e, const char *reply, size_t extra,
                                       size_t max_body)
{
    oneshot s;
    if (oneshot_start(&s, reply, extra) != 0) {
        CHECK(!"oneshot server");
        return NULL;
    }
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", s.port);
    lira_http_request r = req_get(url);
    r.max_body = max_body;
    lira_http_response *res = run(e, &r);
    oneshot_stop(&s);
    return res;
}

static void test_too_large_without_length(void)
{
    lira_engine *e = engine();
    const char *close_delimited = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
    lira_http_response *res = oneshot_get(e, close_delimited, 50000, 1000);
    CHECK(res && res->failure == LIRA_FAIL_TOO_LARGE && res->status == 200);
    lira_http_response_free(res);
    res = oneshot_get(e, close_delimited, 5000, 0);   /* under the default cap: grows */
    CHECK(res && res->failure == LIRA_FAIL_NONE && res->body_len == 5000);
    CHECK(res && res->body[4999] == 'x' && res->body[5000] == '\0');
    lira_http_response_free(res);
    const char *chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "400\r\n" /* 1024 bytes follow, more than max_body */;
    res = oneshot_get(e, chunked, 1024, 100);
    CHECK(res && res->failure == LIRA_FAIL_TOO_LARGE && res->status == 200);
    lira_http_response_free(res);
    lira_engine_free(e);
}

/* gzip is offered once (our line, not curl's too) and decoded; a request's
 * own Accept-Encoding replaces it. */
static void test_gzip(void)
{
    static const char gz[] = "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 28\r\n"
                             "Connection: close\r\n\r\n"
                             "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff\x01\x05\x00\xfa\xff"
                             "hello\x86\xa6\x10\x36\x05\x00\x00\x00";
    lira_engine *e = engine();
    for (int own = 0; own < 2; own++) {
        oneshot s;
        if (oneshot_start_n(&s, gz, sizeof gz - 1, 0) != 0) {
            CHECK(!"oneshot server");
            break;
        }
        char url[128];
        snprintf(url, sizeof url, "http://127.0.0.1:%d/z", s.port);
        const char *hdrs[] = {"Accept-Encoding: gzip, identity", NULL};
        lira_http_request r = req_get(url);
        r.headers = own ? hdrs : NULL;
        lira_http_response *res = run(e, &r);
        oneshot_stop(&s);
        CHECK(res && res->failure == LIRA_FAIL_NONE && res->status == 200);
        CHECK(res && res->body_len == 5 && memcmp(res->body, "hello", 5) == 0);
        const char *ae = strcasestr(s.req, "\r\naccept-encoding:");
        CHECK(ae != NULL);
        CHECK(ae && strcasestr(ae + 2, "\r\naccept-encoding:") == NULL);
        CHECK(ae && strncmp(ae + 2, own ? hdrs[0] : "Accept-Encoding: gzip\r\n",
                            strlen(own ? hdrs[0] : "Accept-Encoding: gzip\r\n")) == 0);
        lira_http_response_free(res);
    }
    lira_engine_free(e);
}

static void test_header_caps(void)
{
    lira_engine *e = engine();
    char path[4096];
    size_t o = (size_t)snprintf(path, sizeof path, "/headers?");
    for (int i = 0; i < LIRA_HTTP_MAX_HEADERS; i++)   /* + Date, Content-Type, ... */
        o += (size_t)snprintf(path + o, sizeof path - o, "%sX-H%d=v", i ? "&" : "", i);
    char url[4200];
    url_of(url, sizeof url, path);
    lira_http_request r = req_get(url);
    lira_http_response *res = run(e, &r);
    CHECK(res && res->failure == LIRA_FAIL_TOO_LARGE && res->status == 200);
    CHECK(res && strstr(res->error, "headers"));
    lira_http_response_free(res);
    /* just under the cap: every header kept */
    o = (size_t)snprintf(path, sizeof path, "/headers?");
    for (int i = 0; i < 100; i++)
        o += (size_t)snprintf(path + o, sizeof path - o, "%sX-H%d=v%d", i ? "&" : "", i, i);
    url_of(url, sizeof url, path);
    res = run(e, &r);
    CHECK(res && res->failure == LIRA_FAIL_NONE && res->nheaders >= 100);
    CHECK_STR(res ? lira_http_response_header(res, "x-h99") : NULL, "v99");
    lira_http_response_free(res);
    res = get(e, "/status/200");   /* the engine and pool stay usable */
    CHECK(res && res->status == 200);
    lira_http_response_free(res);
    lira_engine_free(e);
}

int main(void)
{
    if (sandbox_start(&sb, NULL) != 0)
        return 1;
    RUN(test_get_echo);
    RUN(test_user_agent);
    RUN(test_methods_with_body);
    RUN(test_options_follow_each_request);
    RUN(test_head);
    RUN(test_response_headers);
    RUN(test_status_codes);
    RUN(test_redirects);
    RUN(test_timeout_delay);
    RUN(test_timeout_trickle);
    RUN(test_reset);
    RUN(test_connect_refused);
    RUN(test_dns);
    RUN(test_too_large_with_length);
    RUN(test_too_large_without_length);
    RUN(test_header_caps);
    RUN(test_gzip);
    CHECK_EQ(sandbox_stop(&sb), 0);
    return check_summary();
}
