/* test_sandbox_robust.c — `lira sandbox` under abuse: malformed raw requests
 * over a plain socket (after each the server must still answer), the body
 * cap, 64 concurrent keep-alive connections with zero errors, and a prompt
 * exit 0 on SIGTERM/SIGINT while connections are held open. */
#include "sandbox_proc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "check.h"
#include "e2e_http.h"

static sandbox_proc sb;

#define LIT(s) s, sizeof(s) - 1

/* ------------------------------------------------------ raw sockets --- */

static int raw_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = { 5, 0 };
    if (fd < 0) return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) { close(fd); return -1; }
    return fd;
}

static void raw_send(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n <= 0) return;   /* the server may close on us: that is allowed */
        data += n;
        len -= (size_t)n;
    }
}

/* Read until the server closes or 5 s pass; returns bytes read into buf. */
static size_t raw_read_all(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    while (len + 1 < cap) {
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n <= 0) break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return len;
}

static void still_answers(const char *what)
{
    http_res r;
    http_get(sb.url, "/anything", &r);
    if (r.status != 200) fprintf(stderr, "  no answer after: %s\n", what);
    CHECK_EQ(r.status, 200);
    http_free(&r);
    CHECK_EQ(kill(sb.pid, 0), 0);
}

static void test_malformed_requests(void)
{
    static char big[200 * 1024];
    memset(big, 'a', sizeof big);
    memcpy(big, "GET /anything HTTP/1.1\r\nHost: x\r\nX-Big: ", 40);
    memcpy(big + sizeof big - 4, "\r\n\r\n", 4);
    struct { const char *name; const char *data; size_t len; bool half_close; } cases[] = {
        { "garbage", LIT("\x00\x01\xff\xfe garbage \x7f\r\n\r\n"), true },
        { "huge header line", big, sizeof big, false },
        { "truncated head", LIT("GET /anything HTTP/1.1\r\nHost: x\r\nX-A"), true },
        { "truncated body", LIT("POST /anything HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc"), true },
        { "bad content-length", LIT("POST /anything HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"), false },
        { "bad chunk", LIT("POST /anything HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n"), false },
        { "no version", LIT("GET /\r\n\r\n"), false },
        { "bad version", LIT("GET / HTTP/9.9\r\nHost: x\r\n\r\n"), false },
        { "space-y path", LIT("GET /any thing here HTTP/1.1\r\nHost: x\r\n\r\n"), true },
        { "bare LF and NUL", LIT("GET /anything HTTP/1.1\nHost: \0x\n\n"), true },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[4096];
        int fd = raw_connect(sb.port);
        CHECK(fd >= 0);
        if (fd < 0) continue;
        raw_send(fd, cases[i].data, cases[i].len);
        /* Half-close where the server would otherwise wait for more (or
         * keep the connection alive), so that each case ends at once. */
        if (cases[i].half_close) shutdown(fd, SHUT_WR);
        size_t n = raw_read_all(fd, buf, sizeof buf);
        /* Whatever came back must be HTTP (or nothing at all). */
        if (n > 0) CHECK(strncmp(buf, "HTTP/1.", 7) == 0);
        close(fd);
        still_answers(cases[i].name);
    }
}

static void test_pipelined_keepalive(void)
{
    char buf[8192];
    int fd = raw_connect(sb.port);
    static const char two[] = "GET /status/201 HTTP/1.1\r\nHost: x\r\n\r\n"
                              "GET /status/202 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    raw_send(fd, two, sizeof two - 1);
    raw_read_all(fd, buf, sizeof buf);
    close(fd);
    CHECK(strstr(buf, "HTTP/1.1 201") != NULL);
    CHECK(strstr(buf, "HTTP/1.1 202") != NULL);
}

static void test_body_cap_413(void)
{
    size_t n = 2 * 1024 * 1024;
    char *body = malloc(n + 1);
    CHECK(body != NULL);
    if (body == NULL) return;
    memset(body, 'b', n);
    body[n] = '\0';
    char url[256];
    http_res r;
    snprintf(url, sizeof url, "%s/anything", sb.url);
    http_do(NULL, "POST", url, body, NULL, &r);
    CHECK_EQ(r.status, 413);
    http_free(&r);
    free(body);
    still_answers("a 2 MiB body");
}

/* ------------------------------------------------------------ load --- */

#define CONC 64
#define PER_CONN 25

/* Distinct connection ids in the log among requests for path; *nreq gets
 * how many requests for path it holds. */
static int distinct_connections(const char *path, int *nreq)
{
    static double ids[CONC * PER_CONN];
    int nids = 0;
    cJSON *log = sandbox_log(sb.url, 0);
    const cJSON *e;
    *nreq = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(log, "entries")) {
        if (strcmp(json_str(e, "path"), path) != 0) continue;
        (*nreq)++;
        double id = json_num(e, "connection", 0);
        bool seen = false;
        for (int k = 0; k < nids; k++) seen = seen || ids[k] == id;
        if (!seen && nids < CONC * PER_CONN) ids[nids++] = id;
    }
    cJSON_Delete(log);
    return nids;
}

static void test_64_concurrent_keepalive(void)
{
    CHECK_EQ(sandbox_reset(sb.url), 0);
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)CONC);
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)CONC);
    CURL *h[CONC];
    int left[CONC], errors = 0, done = 0;
    char url[256];
    snprintf(url, sizeof url, "%s/anything/load", sb.url);
    for (int i = 0; i < CONC; i++) {
        h[i] = curl_easy_init();
        curl_easy_setopt(h[i], CURLOPT_URL, url);
        curl_easy_setopt(h[i], CURLOPT_WRITEFUNCTION, http_on_body);
        curl_easy_setopt(h[i], CURLOPT_TIMEOUT_MS, 20000L);
        curl_easy_setopt(h[i], CURLOPT_PRIVATE, (void *)(intptr_t)i);
        left[i] = PER_CONN;
        curl_multi_add_handle(m, h[i]);
    }
    http_buf sink[CONC];
    memset(sink, 0, sizeof sink);
    for (int i = 0; i < CONC; i++) curl_easy_setopt(h[i], CURLOPT_WRITEDATA, &sink[i]);
    long long deadline = sandbox_proc_now_ms_() + 60000;
    int running = 1;
    while ((running > 0 || done < CONC * PER_CONN) && sandbox_proc_now_ms_() < deadline) {
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int q;
        while ((msg = curl_multi_info_read(m, &q)) != NULL) {
            if (msg->msg != CURLMSG_DONE) continue;
            void *priv = NULL;
            long status = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
            int i = (int)(intptr_t)priv;
            if (msg->data.result != CURLE_OK || status != 200) errors++;
            done++;
            curl_multi_remove_handle(m, h[i]);
            sink[i].len = 0;
            if (--left[i] > 0) { curl_multi_add_handle(m, h[i]); running++; }
        }
        if (running > 0) curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    CHECK_EQ(done, CONC * PER_CONN);
    CHECK_EQ(errors, 0);
    for (int i = 0; i < CONC; i++) { curl_easy_cleanup(h[i]); free(sink[i].p); }
    curl_multi_cleanup(m);
    /* Keep-alive: the server saw no more connections than clients. */
    int nreq = 0;
    int nids = distinct_connections("/anything/load", &nreq);
    CHECK_EQ(nreq, CONC * PER_CONN);
    CHECK_INT(nids, <=, CONC);
}

/* -------------------------------------------------------- shutdown --- */

static void hold_connections(int port, int *fds, int n)
{
    static const char *const reqs[] = {
        "GET /flaky/held?status=timeout HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /delay/60000 HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /trickle?bytes=1000&interval_ms=100 HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /anything HTTP/1.1\r\nHost: x\r\n\r\n",        /* then idle keep-alive */
        "GET /anything HTTP/1.1\r\nHost: x\r\nX-Half",       /* half a request */
    };
    for (int i = 0; i < n; i++) {
        fds[i] = raw_connect(port);
        if (fds[i] >= 0) raw_send(fds[i], reqs[i % 5], strlen(reqs[i % 5]));
    }
    sandbox_proc_sleep_ms_(200);   /* let every request reach its handler */
}

static void test_signal_exits_0_with_held_connections(void)
{
    static const int sigs[] = { SIGTERM, SIGINT };
    for (int s = 0; s < 2; s++) {
        sandbox_proc p;
        int fds[10];
        CHECK_EQ(sandbox_start(&p, NULL), 0);
        hold_connections(p.port, fds, 10);
        long long t0 = sandbox_proc_now_ms_();
        CHECK_EQ(sandbox_stop_with(&p, sigs[s]), 0);
        CHECK_INT(sandbox_proc_now_ms_() - t0, <, 3000);
        for (int i = 0; i < 10; i++) if (fds[i] >= 0) close(fds[i]);
    }
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (sandbox_start(&sb, NULL) != 0) {
        fprintf(stderr, "cannot start the sandbox\n");
        return 1;
    }
    RUN(test_malformed_requests);
    RUN(test_pipelined_keepalive);
    RUN(test_body_cap_413);
    RUN(test_64_concurrent_keepalive);
    int stop = sandbox_stop(&sb);
    RUN(test_signal_exits_0_with_held_connections);
    curl_global_cleanup();
    if (stop != 0) {
        fprintf(stderr, "sandbox did not exit 0 on SIGTERM\n");
        return 1;
    }
    return check_summary();
}
