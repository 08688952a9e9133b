/* test_send_webhook.c — `lira sandbox send-webhook` against a real receiver.
 *
 * A `lira sandbox` child is the receiver. Each delivery goes to /anything,
 * which echoes the body it received (printed by --show-response); the
 * headers are taken from the sandbox's own request log (GET /_log), so the
 * assertions are on what arrived, and every signature is recomputed with
 * src/core/signature from the received id, timestamp and body. */
#include "sandbox_proc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "check.h"
#include "core/signature.h"
#include "core/status.h"

#define RUN_TIMEOUT_MS 20000
#define OUT_CAP (256 * 1024)
#define STD_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define STRIPE_SECRET "whsec_test_secret"
#define GH_SECRET "It's a Secret to Everybody"

static sandbox_proc sb;
static char tmpdir[] = "/tmp/lira-send-webhook-XXXXXX";

/* ------------------------------------------------------ run the CLI --- */

typedef struct run_result {
    int status;           /* exit status, or -1 (signal, timeout, spawn error) */
    char out[OUT_CAP];    /* stdout, NUL-terminated */
    char err[8192];       /* stderr, NUL-terminated */
} run_result;

static run_result res;  /* big: static, reused by every run */

/* Drain one pipe into buf (up to cap-1 bytes, the rest dropped). */
static int drain(int fd, char *buf, size_t cap, size_t *len)
{
    char tmp[4096];
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    if (n == 0)
        return -1;
    size_t take = (size_t)n < cap - 1 - *len ? (size_t)n : cap - 1 - *len;
    memcpy(buf + *len, tmp, take);
    *len += take;
    buf[*len] = '\0';
    return 0;
}

static void collect(int ofd, int efd, pid_t pid)
{
    size_t olen = 0, elen = 0;
    long long deadline = sandbox_proc_now_ms_() + RUN_TIMEOUT_MS;
    struct pollfd p[2] = { { ofd, POLLIN, 0 }, { efd, POLLIN, 0 } };
    while ((p[0].fd >= 0 || p[1].fd >= 0) && sandbox_proc_now_ms_() < deadline) {
        int pr = poll(p, 2, 100);
        if (pr < 0 && errno != EINTR)
            break;
        for (int i = 0; pr > 0 && i < 2; i++)
            if (p[i].fd >= 0 && p[i].revents &&
                drain(p[i].fd, i ? res.err : res.out, i ? sizeof res.err : sizeof res.out,
                      i ? &elen : &olen) != 0)
                p[i].fd = -1;
    }
    int st = 0;
    int w = sandbox_proc_wait_(pid, &st, p[0].fd < 0 && p[1].fd < 0 ? RUN_TIMEOUT_MS : 0);
    if (w != 1) {
        fprintf(stderr, "send-webhook did not finish within %d ms\n", RUN_TIMEOUT_MS);
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        res.status = -1;
    } else {
        res.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    }
}

/* Run `$LIRA_BIN sandbox send-webhook args...` with stdin from stdin_path
 * (or /dev/null); fills res. args is NULL-terminated. */
static int run_send(const char *stdin_path, const char *const *args)
{
    char *argv[40];
    int argc = 0;
    const char *bin = getenv("LIRA_BIN");
    memset(&res, 0, sizeof res);
    res.status = -1;
    if (!bin)
        return -1;
    argv[argc++] = (char *)(uintptr_t)bin;
    argv[argc++] = (char *)(uintptr_t)"sandbox";
    argv[argc++] = (char *)(uintptr_t)"send-webhook";
    for (int i = 0; args[i] && argc < 39; i++)
        argv[argc++] = (char *)(uintptr_t)args[i];
    argv[argc] = NULL;
    int o[2], e[2];
    if (pipe(o) != 0 || pipe(e) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int in = open(stdin_path ? stdin_path : "/dev/null", O_RDONLY);
        if (in < 0 || dup2(in, 0) < 0 || dup2(o[1], 1) < 0 || dup2(e[1], 2) < 0)
            _exit(127);
        close(o[0]);
        close(e[0]);
        execv(bin, argv);
        _exit(127);
    }
    close(o[1]);
    close(e[1]);
    collect(o[0], e[0], pid);
    close(o[0]);
    close(e[0]);
    return res.status;
}

/* ------------------------------------------------------------ helpers --- */

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK_EQ(fwrite(data, 1, len, f), len);
    fclose(f);
}

static size_t on_get(char *data, size_t size, size_t n, void *ud)
{
    char *buf = ud;
    size_t have = strlen(buf), take = size * n;
    if (take > OUT_CAP - 1 - have)
        take = OUT_CAP - 1 - have;
    memcpy(buf + have, data, take);
    buf[have + take] = '\0';
    return size * n;
}

/* GET url+path and parse the JSON answer (NULL on any failure). */
static cJSON *get_json(const char *path)
{
    static char buf[OUT_CAP];
    char url[256];
    buf[0] = '\0';
    snprintf(url, sizeof url, "%s%s", sb.url, path);
    CURL *c = curl_easy_init();
    if (!c)
        return NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_get);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, buf);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    return rc == CURLE_OK ? cJSON_Parse(buf) : NULL;
}

/* The headers of the newest logged request (an owned copy), its path in
 * *path_out; or NULL. */
static cJSON *last_logged_headers(char *path_out, size_t cap, double *count)
{
    cJSON *log = get_json("/_log");
    cJSON *entries = cJSON_GetObjectItemCaseSensitive(log, "entries");
    int n = cJSON_GetArraySize(entries);
    *count = n;
    cJSON *last = n > 0 ? cJSON_GetArrayItem(entries, n - 1) : NULL;
    const char *p = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(last, "path"));
    snprintf(path_out, cap, "%s", p ? p : "");
    cJSON *h = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(last, "headers"), 1);
    cJSON_Delete(log);
    return h;
}

static int log_count(void)
{
    cJSON *log = get_json("/_log");
    int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(log, "entries"));
    cJSON_Delete(log);
    return log ? n : -1;
}

/* cJSON_GetObjectItem is case-insensitive, as header names are. */
static const char *hdr(const cJSON *h, const char *name)
{
    return cJSON_GetStringValue(cJSON_GetObjectItem(h, name));
}

/* What one delivery looked like on arrival. */
typedef struct delivery {
    cJSON *echo;          /* the /anything echo (owned) */
    cJSON *headers;       /* from /_log (owned) */
    const char *body;     /* the body the sandbox received (inside echo) */
} delivery;

static void delivery_free(delivery *d)
{
    cJSON_Delete(d->echo);
    cJSON_Delete(d->headers);
    memset(d, 0, sizeof *d);
}

/* Send with args (plus --to <sandbox>/anything --show-response) and collect
 * what arrived. Returns 0 when the run exited 0 with "HTTP 200". */
static int deliver(const char *stdin_path, const char *const *args, delivery *d)
{
    const char *all[32];
    char url[128];
    int n = 0;
    snprintf(url, sizeof url, "%s/anything", sb.url);
    all[n++] = "--to";
    all[n++] = url;
    all[n++] = "--show-response";
    for (int i = 0; args[i] && n < 31; i++)
        all[n++] = args[i];
    all[n] = NULL;
    memset(d, 0, sizeof *d);
    int rc = run_send(stdin_path, all);
    CHECK_EQ(rc, 0);
    CHECK(strncmp(res.out, "HTTP 200\n", 9) == 0);
    if (rc != 0 || strncmp(res.out, "HTTP 200\n", 9) != 0) {
        fprintf(stderr, "stdout: %s\nstderr: %s\n", res.out, res.err);
        return -1;
    }
    d->echo = cJSON_Parse(res.out + 9);
    d->body = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d->echo, "body"));
    char path[64];
    double count;
    d->headers = last_logged_headers(path, sizeof path, &count);
    CHECK(d->body != NULL);
    CHECK(d->headers != NULL);
    CHECK_STR(path, "/anything");
    CHECK_STR(hdr(d->headers, "Content-Type"), "application/json");
    return d->body && d->headers ? 0 : -1;
}

static int64_t parse_ts(const char *s)
{
    int64_t v = 0;
    if (!s || !*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > INT64_MAX / 10 - 1)
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v;
}

/* 8-4-4-4-12 lower-case hex, version 4. */
static int is_uuid4(const char *s)
{
    if (!s || strlen(s) != 36 || s[14] != '4')
        return 0;
    for (int i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !strchr("0123456789abcdef", s[i]))
            return 0;
    }
    return 1;
}

/* Recompute the signature of a delivery from what arrived. 1 = matches. */
static int standard_matches(const delivery *d, const char *secret, const char *body)
{
    char sig[LIRA_SIGN_MAX];
    int64_t ts = parse_ts(hdr(d->headers, "webhook-timestamp"));
    const char *id = hdr(d->headers, "webhook-id"), *got = hdr(d->headers, "webhook-signature");
    if (!id || !got || ts < 0 ||
        lira_sign_standard(secret, id, ts, body, strlen(body), sig, sizeof sig) != LIRA_OK)
        return 0;
    return lira_sig_equal(sig, strlen(sig), got, strlen(got));
}

static int stripe_matches(const delivery *d, const char *secret, const char *body)
{
    char sig[LIRA_SIGN_MAX], tsbuf[24];
    const char *got = hdr(d->headers, "Stripe-Signature");
    const char *comma = got ? strchr(got, ',') : NULL;
    if (!got || strncmp(got, "t=", 2) != 0 || !comma || (size_t)(comma - got - 2) >= sizeof tsbuf)
        return 0;
    memcpy(tsbuf, got + 2, (size_t)(comma - got - 2));
    tsbuf[comma - got - 2] = '\0';
    int64_t ts = parse_ts(tsbuf);
    if (ts < 0 || lira_sign_stripe(secret, ts, body, strlen(body), sig, sizeof sig) != LIRA_OK)
        return 0;
    return lira_sig_equal(sig, strlen(sig), got, strlen(got));
}

static int github_matches(const delivery *d, const char *secret, const char *body)
{
    char sig[LIRA_SIGN_MAX];
    const char *got = hdr(d->headers, "X-Hub-Signature-256");
    if (!got || lira_sign_github(secret, body, strlen(body), sig, sizeof sig) != LIRA_OK)
        return 0;
    return lira_sig_equal(sig, strlen(sig), got, strlen(got));
}

/* -------------------------------------------------------------- tests --- */

static void test_standard_reproduces_published_vector(void)
{
    /* The Standard Webhooks library vector, sent over the wire. */
    char path[300];
    snprintf(path, sizeof path, "%s/stdwh.json", tmpdir);
    write_file(path, "{\"test\": 2432232314}", 20);
    const char *args[] = { "--scheme", "standard", "--secret", STD_SECRET,
                           "--id", "msg_p5jXN8AQM9LWM0D4loKWxJek", "--timestamp", "1614265330",
                           "--body", path, NULL };
    delivery d;
    if (deliver(NULL, args, &d) == 0) {
        CHECK_STR(d.body, "{\"test\": 2432232314}");
        CHECK_STR(hdr(d.headers, "webhook-id"), "msg_p5jXN8AQM9LWM0D4loKWxJek");
        CHECK_STR(hdr(d.headers, "webhook-timestamp"), "1614265330");
        CHECK_STR(hdr(d.headers, "webhook-signature"),
                  "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        CHECK(standard_matches(&d, STD_SECRET, d.body));
    }
    delivery_free(&d);
}

static void test_standard_defaults(void)
{
    /* No --id, --timestamp or --body: a random UUID, now, a JSON event. */
    const char *args[] = { "--scheme", "standard", "--secret", STD_SECRET, NULL };
    int64_t before = (int64_t)time(NULL);
    delivery d;
    if (deliver(NULL, args, &d) == 0) {
        int64_t ts = parse_ts(hdr(d.headers, "webhook-timestamp"));
        CHECK_INT(ts, >=, before);
        CHECK_INT(ts, <=, (int64_t)time(NULL));
        CHECK(is_uuid4(hdr(d.headers, "webhook-id")));
        CHECK(standard_matches(&d, STD_SECRET, d.body));
        cJSON *ev = cJSON_Parse(d.body);
        CHECK(cJSON_IsObject(ev));
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(ev, "id")),
                  hdr(d.headers, "webhook-id"));
        cJSON_Delete(ev);
    }
    delivery_free(&d);
    /* Two runs, two ids. */
    char first[64];
    if (deliver(NULL, args, &d) == 0)
        snprintf(first, sizeof first, "%s", hdr(d.headers, "webhook-id"));
    delivery_free(&d);
    if (deliver(NULL, args, &d) == 0)
        CHECK(strcmp(first, hdr(d.headers, "webhook-id")) != 0);
    delivery_free(&d);
}

static void test_stripe_signs_with_whole_secret(void)
{
    const char *body = "{\n  \"id\": \"evt_test_webhook\",\n  \"object\": \"event\"\n}";
    char path[300];
    snprintf(path, sizeof path, "%s/stripe.json", tmpdir);
    write_file(path, body, strlen(body));
    /* --body - reads stdin. */
    const char *args[] = { "--scheme", "stripe", "--secret", STRIPE_SECRET,
                           "--timestamp", "1700000000", "--body", "-", NULL };
    delivery d;
    if (deliver(path, args, &d) == 0) {
        CHECK_STR(d.body, body);
        CHECK_STR(hdr(d.headers, "Stripe-Signature"),
                  "t=1700000000,v1=4f1cd7feda9826e746b7d482c4badebb657398df1099e1046364f6196a230150");
        CHECK(stripe_matches(&d, STRIPE_SECRET, d.body));
        CHECK(!stripe_matches(&d, "test_secret", d.body));
    }
    delivery_free(&d);
    const char *dflt[] = { "--scheme", "stripe", "--secret", STRIPE_SECRET, NULL };
    if (deliver(NULL, dflt, &d) == 0)
        CHECK(stripe_matches(&d, STRIPE_SECRET, d.body));
    delivery_free(&d);
}

static void test_github_headers(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/gh.txt", tmpdir);
    write_file(path, "Hello, World!", 13);
    const char *args[] = { "--scheme", "github", "--secret", GH_SECRET, "--body", path,
                           "--id", "72d3162e-cc78-11e3-81ab-4c9367dc0958",
                           "--event", "push", NULL };
    delivery d;
    if (deliver(NULL, args, &d) == 0) {
        CHECK_STR(d.body, "Hello, World!");
        CHECK_STR(hdr(d.headers, "X-Hub-Signature-256"),
                  "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
        CHECK_STR(hdr(d.headers, "X-GitHub-Delivery"), "72d3162e-cc78-11e3-81ab-4c9367dc0958");
        CHECK_STR(hdr(d.headers, "X-GitHub-Event"), "push");
        CHECK(github_matches(&d, GH_SECRET, d.body));
    }
    delivery_free(&d);
    const char *dflt[] = { "--scheme", "github", "--secret", GH_SECRET, NULL };
    if (deliver(NULL, dflt, &d) == 0) {
        CHECK(github_matches(&d, GH_SECRET, d.body));
        CHECK(is_uuid4(hdr(d.headers, "X-GitHub-Delivery")));
        CHECK_STR(hdr(d.headers, "X-GitHub-Event"), "ping");
    }
    delivery_free(&d);
}

static void test_tamper_breaks_every_scheme(void)
{
    const char *body = "{\"id\":\"evt_1\",\"amount\":4200}";
    char path[300];
    snprintf(path, sizeof path, "%s/tamper.json", tmpdir);
    write_file(path, body, strlen(body));
    const char *schemes[] = { "standard", "stripe", "github" };
    const char *secrets[] = { STD_SECRET, STRIPE_SECRET, GH_SECRET };
    for (int i = 0; i < 3; i++) {
        const char *args[] = { "--scheme", schemes[i], "--secret", secrets[i],
                               "--body", path, "--tamper", NULL };
        delivery d;
        if (deliver(NULL, args, &d) == 0) {
            /* Same length, exactly one byte changed, still JSON. */
            CHECK_EQ(strlen(d.body), strlen(body));
            int diff = 0;
            for (size_t k = 0; k < strlen(body) && k < strlen(d.body); k++)
                diff += d.body[k] != body[k];
            CHECK_EQ(diff, 1);
            cJSON *j = cJSON_Parse(d.body);
            CHECK(j != NULL);
            cJSON_Delete(j);
            /* Signed over the original, so it fails over what arrived. */
            int (*match)(const delivery *, const char *, const char *) =
                i == 0 ? standard_matches : i == 1 ? stripe_matches : github_matches;
            CHECK(match(&d, secrets[i], body));
            CHECK(!match(&d, secrets[i], d.body));
        }
        delivery_free(&d);
    }
}

static void test_bad_flags_exit_2_and_send_nothing(void)
{
    char url[128];
    snprintf(url, sizeof url, "%s/anything", sb.url);
    struct { const char *args[12]; const char *names; } cases[] = {
        { { "--scheme", "github", "--secret", "s", NULL }, "--to" },
        { { "--to", url, "--secret", "s", NULL }, "--scheme" },
        { { "--to", url, "--scheme", "github", NULL }, "--secret" },
        { { "--to", url, "--scheme", "paypal", "--secret", "s", NULL }, "--scheme" },
        { { "--to", "ftp://127.0.0.1/x", "--scheme", "github", "--secret", "s", NULL }, "--to" },
        { { "--to", url, "--scheme", "github", "--secret", "s", "--timestamp", "-5", NULL },
          "--timestamp" },
        { { "--to", url, "--scheme", "github", "--secret", "s", "--timestamp", "12x", NULL },
          "--timestamp" },
        { { "--to", url, "--scheme", "standard", "--secret", "whsec_!!not-base64", NULL },
          "--secret" },
        { { "--to", url, "--scheme", "github", "--secret", "s", "--body", "/nonexistent/x", NULL },
          "--body" },
        { { "--to", url, "--scheme", "github", "--secret", "s", "--id", "a b", NULL }, "--id" },
        { { "--to", url, "--scheme", "github", "--secret", "s", "--timeout", "0", NULL },
          "--timeout" },
        { { "--to", url, "--scheme", "github", "--secret", "s", "--frobnicate", NULL },
          "--frobnicate" },
        { { "--to", url, "--scheme", "github", "--secret", NULL }, "--secret" },
    };
    int before = log_count();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_EQ(run_send(NULL, cases[i].args), 2);
        if (!strstr(res.err, cases[i].names))
            fprintf(stderr, "case %zu: stderr does not name %s: %s\n", i, cases[i].names,
                    res.err);
        CHECK(strstr(res.err, cases[i].names) != NULL);
        CHECK_STR(res.out, "");
    }
    CHECK_EQ(log_count(), before);
    const char *help[] = { "--help", NULL };
    CHECK_EQ(run_send(NULL, help), 0);
    CHECK(strstr(res.out, "usage:") != NULL);
}

static void test_non_2xx_exits_1(void)
{
    char url[128];
    snprintf(url, sizeof url, "%s/status/500", sb.url);
    const char *args[] = { "--to", url, "--scheme", "github", "--secret", "s", NULL };
    CHECK_EQ(run_send(NULL, args), 1);
    CHECK_STR(res.out, "HTTP 500\n");
}

static void test_unreachable_exits_1(void)
{
    /* A port that was just free: bind, read the port, close. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof a;
    CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
          getsockname(fd, (struct sockaddr *)&a, &alen) == 0);
    close(fd);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/anything", ntohs(a.sin_port));
    const char *args[] = { "--to", url, "--scheme", "github", "--secret", "s", NULL };
    CHECK_EQ(run_send(NULL, args), 1);
    CHECK(strstr(res.out, "HTTP") == NULL);
    CHECK(res.err[0] != '\0');
}

int main(void)
{
    if (!mkdtemp(tmpdir) || sandbox_start(&sb, NULL) != 0) {
        fprintf(stderr, "cannot set up (tmpdir or sandbox)\n");
        return 1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    RUN(test_standard_reproduces_published_vector);
    RUN(test_standard_defaults);
    RUN(test_stripe_signs_with_whole_secret);
    RUN(test_github_headers);
    RUN(test_tamper_breaks_every_scheme);
    RUN(test_bad_flags_exit_2_and_send_nothing);
    RUN(test_non_2xx_exits_1);
    RUN(test_unreachable_exits_1);
    int stopped = sandbox_stop(&sb) == 0;
    if (!stopped)
        fprintf(stderr, "the sandbox did not exit cleanly\n");
    curl_global_cleanup();
    const char *names[] = { "stdwh.json", "stripe.json", "gh.txt", "tamper.json" };
    for (size_t i = 0; i < 4; i++) {
        char p[300];
        snprintf(p, sizeof p, "%s/%s", tmpdir, names[i]);
        unlink(p);
    }
    rmdir(tmpdir);
    int rc = check_summary();
    return stopped ? rc : 1;
}
