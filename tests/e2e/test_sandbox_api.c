/* test_sandbox_api.c — `lira sandbox`'s API-like endpoints: the rate limiter's
 * header arithmetic (github, ietf, ietf-dict), pagination walks for every
 * style with a total that is not a multiple of the page size, idempotent
 * POST /payments (checked against the effect counter and the log), and a
 * --scenario file's scripted sequences. */
#include "sandbox_proc.h"

#include "check.h"
#include "e2e_http.h"

static sandbox_proc sb;

/* ------------------------------------------------------- ratelimit --- */

static void test_ratelimit_github(void)
{
    long long reset0 = 0, wall = (long long)time(NULL);
    for (int i = 1; i <= 4; i++) {
        http_res r;
        http_get(sb.url, "/ratelimit/gh?limit=3&window=30&style=github", &r);
        CHECK_EQ(http_header_ll(&r, "X-RateLimit-Limit", -1), 3);
        CHECK_EQ(http_header_ll(&r, "X-RateLimit-Remaining", -1), i <= 3 ? 3 - i : 0);
        CHECK_EQ(http_header_ll(&r, "X-RateLimit-Used", -1), i <= 3 ? i : 3);
        long long reset = http_header_ll(&r, "X-RateLimit-Reset", -1);
        if (i == 1) reset0 = reset;
        CHECK_EQ(reset, reset0);                     /* one window, one reset */
        CHECK_INT(reset, >=, wall + 29);
        CHECK_INT(reset, <=, wall + 32);
        CHECK_EQ(r.status, i <= 3 ? 200 : 429);
        if (i == 4) {
            long long ra = http_header_ll(&r, "Retry-After", -1);
            CHECK_INT(ra, >=, 1);
            CHECK_INT(ra, <=, 30);
        } else {
            CHECK_EQ(http_header_ll(&r, "Retry-After", -1), -1);
        }
        http_free(&r);
    }
    http_res other;   /* keys are independent */
    http_get(sb.url, "/ratelimit/gh2?limit=3&window=30", &other);
    CHECK_EQ(other.status, 200);
    CHECK_EQ(http_header_ll(&other, "X-RateLimit-Remaining", -1), 2);
    http_free(&other);
}

static void test_ratelimit_ietf(void)
{
    for (int i = 1; i <= 3; i++) {
        http_res r;
        char pol[128], rl[128], want[64];
        http_get(sb.url, "/ratelimit/ietf?limit=2&window=20&style=ietf", &r);
        CHECK_EQ(r.status, i <= 2 ? 200 : 429);
        CHECK_STR(http_header(&r, "RateLimit-Policy", pol, sizeof pol), "\"default\";q=2;w=20");
        CHECK(http_header(&r, "RateLimit", rl, sizeof rl) != NULL);
        snprintf(want, sizeof want, "\"default\";r=%d;t=", i <= 2 ? 2 - i : 0);
        CHECK(strncmp(rl, want, strlen(want)) == 0);
        long t = strtol(rl + strlen(want), NULL, 10);
        CHECK_INT(t, >=, 1);
        CHECK_INT(t, <=, 20);
        if (i == 3) CHECK_EQ(http_header_ll(&r, "Retry-After", -1), t);
        http_free(&r);
    }
    http_res d;
    char rl[128], pol[64];
    http_get(sb.url, "/ratelimit/dict?limit=5&window=60&style=ietf-dict", &d);
    CHECK_STR(http_header(&d, "RateLimit-Policy", pol, sizeof pol), "5;w=60");
    http_header(&d, "RateLimit", rl, sizeof rl);
    CHECK(strncmp(rl, "limit=5, remaining=4, reset=", 28) == 0);
    http_free(&d);
    CHECK_EQ(http_get_status(sb.url, "/ratelimit/x?style=bogus"), 400);
    CHECK_EQ(http_get_status(sb.url, "/ratelimit/x?limit=0"), 400);
}

static void test_ratelimit_window_reopens(void)
{
    http_res r;
    CHECK_EQ(http_get_status(sb.url, "/ratelimit/short?limit=1&window=1"), 200);
    http_get(sb.url, "/ratelimit/short?limit=1&window=1", &r);
    CHECK_EQ(r.status, 429);
    CHECK_EQ(http_header_ll(&r, "Retry-After", -1), 1);
    http_free(&r);
    sandbox_proc_sleep_ms_(1100);
    http_get(sb.url, "/ratelimit/short?limit=1&window=1", &r);
    CHECK_EQ(r.status, 200);
    CHECK_EQ(http_header_ll(&r, "X-RateLimit-Remaining", -1), 0);
    http_free(&r);
}

/* -------------------------------------------------------- paginate --- */

#define T_MAX 64

/* Count each id of a page's items into seen[]; returns how many. */
static int count_items(const cJSON *items, int *seen, int total)
{
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, items) {
        int id = (int)json_num(it, "id", -1);
        CHECK(id >= 1 && id <= total);
        if (id >= 1 && id <= total) seen[id]++;
        n++;
    }
    return n;
}

static void check_all_once(const int *seen, int total, int pages, int want_pages)
{
    for (int i = 1; i <= total; i++) CHECK_EQ(seen[i], 1);
    CHECK_EQ(pages, want_pages);
}

/* The URL of rel="next" in a Link header into out, or 0 when absent. */
static int link_next(const char *link, char *out, size_t cap)
{
    const char *rel = strstr(link, "rel=\"next\"");
    if (rel == NULL) return 0;
    const char *lt = rel;
    while (lt > link && *lt != '<') lt--;
    const char *gt = strchr(lt, '>');
    if (*lt != '<' || gt == NULL || (size_t)(gt - lt) >= cap) return 0;
    memcpy(out, lt + 1, (size_t)(gt - lt - 1));
    out[gt - lt - 1] = '\0';
    return 1;
}

static void walk(const char *style, int total, int size)
{
    int seen[T_MAX + 1] = { 0 }, pages = 0;
    char url[1024], cursor[32] = "0";
    int offset = 0, page = 1;
    snprintf(url, sizeof url, "%s/paginate/link?total=%d&per_page=%d", sb.url, total, size);
    for (int guard = 0; guard < 100; guard++) {
        http_res r;
        char link[2048];
        if (strcmp(style, "cursor") == 0)
            snprintf(url, sizeof url, "%s/paginate/cursor?total=%d&limit=%d&starting_after=%s",
                     sb.url, total, size, cursor);
        else if (strcmp(style, "offset") == 0)
            snprintf(url, sizeof url, "%s/paginate/offset?total=%d&limit=%d&offset=%d",
                     sb.url, total, size, offset);
        else if (strcmp(style, "page") == 0)
            snprintf(url, sizeof url, "%s/paginate/page?total=%d&per_page=%d&page=%d",
                     sb.url, total, size, page);
        CHECK_EQ(http_do(NULL, "GET", url, NULL, NULL, &r), CURLE_OK);
        CHECK_EQ(r.status, 200);
        cJSON *doc = http_json(&r);
        pages++;
        bool more = false;
        if (strcmp(style, "cursor") == 0) {
            int n = count_items(cJSON_GetObjectItem(doc, "data"), seen, total);
            cJSON *meta = cJSON_GetObjectItem(doc, "meta");
            const cJSON *next = cJSON_GetObjectItem(meta, "next");
            more = cJSON_IsTrue(cJSON_GetObjectItem(meta, "has_more"));
            CHECK(more == cJSON_IsString(next));
            CHECK(n == size || !more);
            if (more) snprintf(cursor, sizeof cursor, "%s", next->valuestring);
        } else if (strcmp(style, "link") == 0) {
            count_items(doc, seen, total);
            CHECK(http_header(&r, "Link", link, sizeof link) != NULL);
            CHECK(strstr(link, "rel=\"last\"") != NULL);
            more = link_next(link, url, sizeof url);
        } else {
            int n = count_items(cJSON_GetObjectItem(doc, "items"), seen, total);
            CHECK_EQ(json_num(doc, "total", -1), total);
            if (strcmp(style, "page") == 0)
                CHECK_EQ(json_num(doc, "total_pages", -1), (total + size - 1) / size);
            offset += n;
            page++;
            more = strcmp(style, "offset") == 0 ? offset < total : page <= (total + size - 1) / size;
        }
        cJSON_Delete(doc);
        http_free(&r);
        if (!more) break;
    }
    check_all_once(seen, total, pages, total == 0 ? 1 : (total + size - 1) / size);
}

static void test_paginate_every_style_totals(void)
{
    static const char *const styles[] = { "cursor", "link", "offset", "page" };
    static const int cases[][2] = { { 23, 5 }, { 20, 5 }, { 1, 10 }, { 61, 7 } };
    for (size_t s = 0; s < 4; s++)
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            int before = check_failures_in_test;
            walk(styles[s], cases[c][0], cases[c][1]);
            if (check_failures_in_test != before)
                fprintf(stderr, "  (style %s, total %d, size %d)\n", styles[s], cases[c][0], cases[c][1]);
        }
    CHECK_EQ(http_get_status(sb.url, "/paginate/sideways"), 404);
    CHECK_EQ(http_get_status(sb.url, "/paginate/page?page=0"), 400);
}

/* -------------------------------------------------------- payments --- */

static long post_payment(const char *query, const char *key, const char *body, http_res *r)
{
    char url[256], hdr[160];
    snprintf(url, sizeof url, "%s/payments%s", sb.url, query);
    snprintf(hdr, sizeof hdr, "Idempotency-Key: %s", key != NULL ? key : "");
    const char *hdrs[] = { hdr, "Content-Type: application/json", NULL };
    http_do(NULL, "POST", url, body, key != NULL ? hdrs : hdrs + 1, r);
    return r->status;
}

static double effects_of(const char *key)
{
    http_res r;
    http_get(sb.url, "/payments/_effects", &r);
    cJSON *doc = http_json(&r);
    double v = key != NULL ? json_num(cJSON_GetObjectItem(doc, "keys"), key, 0)
                           : json_num(doc, "unkeyed", -1);
    cJSON_Delete(doc);
    http_free(&r);
    return v;
}

static void test_payments_idempotency(void)
{
    CHECK_EQ(sandbox_reset(sb.url), 0);
    http_res a, b;
    char rep[16];
    CHECK_EQ(post_payment("", "key-1", "{\"amount\":500}", &a), 201);
    CHECK_EQ(post_payment("", "key-1", "{\"amount\":500}", &b), 201);
    CHECK_STR(a.body.p, b.body.p);
    CHECK(http_header(&a, "Idempotent-Replayed", rep, sizeof rep) == NULL);
    CHECK_STR(http_header(&b, "Idempotent-Replayed", rep, sizeof rep), "true");
    cJSON *doc = http_json(&a);
    CHECK_EQ(json_num(doc, "amount", 0), 500);
    cJSON_Delete(doc);
    http_free(&a);
    http_free(&b);
    CHECK_EQ(effects_of("key-1"), 1);
    CHECK_EQ(post_payment("", "key-1", "{\"amount\":999}", &a), 422);
    http_free(&a);
    CHECK_EQ(effects_of("key-1"), 1);
}

static void test_payments_fail_first_lost_response(void)
{
    CHECK_EQ(sandbox_reset(sb.url), 0);
    http_res r;
    long want[] = { 503, 503, 201, 201 };
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(post_payment("?fail_first=2", "k-lost", "{\"amount\":7}", &r), want[i]);
        http_free(&r);
    }
    CHECK_EQ(effects_of("k-lost"), 1);   /* one effect, however many answers */
    /* Without a key every retry is a new payment: the duplicate-charge bug. */
    CHECK_EQ(post_payment("?fail_first=1", NULL, "{\"amount\":7}", &r), 503);
    http_free(&r);
    CHECK_EQ(post_payment("?fail_first=1", NULL, "{\"amount\":7}", &r), 201);
    http_free(&r);
    CHECK_EQ(effects_of(NULL), 2);
    /* The log saw every attempt, with the same key on each keyed one. */
    cJSON *log = sandbox_log(sb.url, 0);
    int keyed = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(log, "entries")) {
        const char *k = json_str(cJSON_GetObjectItem(e, "headers"), "Idempotency-Key");
        if (strcmp(json_str(e, "path"), "/payments") == 0 && k != NULL) {
            CHECK_STR(k, "k-lost");
            keyed++;
        }
    }
    CHECK_EQ(keyed, 4);
    cJSON_Delete(log);
    CHECK_EQ(post_payment("?fail_first=x", "k", "{}", &r), 400);
    http_free(&r);
}

/* -------------------------------------------------------- scenario --- */

static const char SCENARIO[] =
    "{\"routes\": ["
    " {\"path\": \"/orders\", \"method\": \"GET\", \"responses\": ["
    "   {\"status\": 503, \"repeat\": 3},"
    "   {\"status\": 429, \"headers\": {\"Retry-After\": \"2\"}},"
    "   {\"status\": 200, \"body\": {\"ok\": true}}]},"
    " {\"path\": \"/blip\", \"then\": \"cycle\", \"responses\": ["
    "   {\"reset\": true}, {\"status\": 202, \"body\": \"fine\", \"delay_ms\": 50}]}"
    "]}";

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) return -1;
    fputs(text, f);
    return fclose(f);
}

static void test_scenario_sequences(void)
{
    char path[] = "/tmp/lira-scenario-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    CHECK_EQ(write_file(path, SCENARIO), 0);
    sandbox_proc sc;
    const char *extra[] = { "--scenario", path, NULL };
    CHECK_EQ(sandbox_start(&sc, extra), 0);
    long want[] = { 503, 503, 503, 429, 200, 200 };
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 6; i++) {
            http_res r;
            http_get(sc.url, "/orders", &r);
            CHECK_EQ(r.status, want[i]);
            if (i == 3) CHECK_EQ(http_header_ll(&r, "Retry-After", -1), 2);
            if (i >= 4) CHECK_STR(r.body.p, "{\"ok\":true}");
            http_free(&r);
        }
        CHECK_EQ(sandbox_reset(sc.url), 0);   /* rewinds the sequence */
    }
    for (int i = 0; i < 4; i++) {
        http_res r;
        CURLcode rc = http_get(sc.url, "/blip", &r);
        if (i % 2 == 0) CHECK(rc == CURLE_GOT_NOTHING || rc == CURLE_RECV_ERROR);
        else { CHECK_EQ(r.status, 202); CHECK_STR(r.body.p, "fine"); }
        http_free(&r);
    }
    http_res r;
    http_do(NULL, "POST", sc.url, NULL, NULL, &r);   /* unscripted paths still work */
    http_free(&r);
    CHECK_EQ(http_get_status(sc.url, "/status/201"), 201);
    CHECK_EQ(sandbox_stop(&sc), 0);
    CHECK_EQ(write_file(path, "{\"routes\":[{\"path\":\"/x\",\"responses\":[{\"stauts\":200}]}]}"), 0);
    CHECK(sandbox_start(&sc, extra) != 0);   /* a typo is an error, not a default */
    unlink(path);
}

int main(void)
{
    if (sandbox_test_begin(&sb, NULL) != 0)
        return 1;
    RUN(test_ratelimit_github);
    RUN(test_ratelimit_ietf);
    RUN(test_ratelimit_window_reopens);
    RUN(test_paginate_every_style_totals);
    RUN(test_payments_idempotency);
    RUN(test_payments_fail_first_lost_response);
    RUN(test_scenario_sequences);
    return sandbox_test_end(&sb) == 0 ? check_summary() : 1;
}
