/* raw_curl_bench — the baseline every HTTP figure is a ratio of.
 *
 * The least a C program can do to make N keep-alive GETs with libcurl: at
 * c=1 one easy handle reused for every request; at c>1 a multi with c easy
 * handles, each re-added as soon as its transfer completes, so c connections
 * stay open and busy. Bodies are copied into a per-handle buffer (the least
 * any real client does with them) and the status is checked; nothing else.
 *
 * Client CPU is getrusage(RUSAGE_SELF) user+sys around the request loop
 * only (set-up and the first connect are outside it, as for every client the
 * driver compares), wall time is CLOCK_MONOTONIC around the same loop, peak
 * RSS is the process's VmHWM.
 * The result is one machine-readable line on stdout:
 *
 *   BENCH client=raw_curl c=<c> n=<n> ok=<2xx count> wall=<s> cpu=<s> rss_kb=<peak>
 *
 *   raw_curl_bench [--same-work | --lua] <url> <n> [c]   c defaults to 1; exit 1 if any request failed
 *
 * --same-work (client=raw_same): the work lira's benchmark script asks of
 * lira.client besides the transfer, done the cheapest way C allows, so the
 * report can split lira's ratio into what any client doing that work pays
 * and what lira adds: the four request headers lira sends (Accept,
 * X-Request-Id with a fresh UUIDv4, a fresh traceparent, Accept-Encoding:
 * gzip with curl decoding), written in place into a fixed curl_slist (no
 * allocation), and every body parsed with cJSON (the tree freed at once)
 * and checked for an "id".
 *
 * --lua (client=raw_lua): the same work, but each body goes to a Lua
 * function that decodes it with lira's JSON decoder (`lira.json.decode`,
 * what `res:json()` runs) and checks for an "id": the least any Lua client
 * on libcurl does per response — one call from C into Lua, the body as a Lua
 * string, Lua tables for the document — with no tasks, no pipeline, no
 * telemetry. `require "lira"` must resolve (LUA_PATH / LUA_CPATH). */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#define MAX_CONC 1024
#define BODY_CAP 65536

typedef struct xfer {
    CURL *easy;
    size_t len;
    char body[BODY_CAP];
    /* --same-work: header lines rewritten in place before each transfer */
    struct curl_slist hdr[4];
    char request_id[64], traceparent[80];
} xfer;

static int same_work;            /* --same-work or --lua */
static lua_State *lua;           /* --lua: the state, with the check function on top */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

typedef struct run {
    const char *url;
    long n;       /* requests to make */
    long c;       /* concurrency */
    long ok;      /* final 2xx responses */
    long failed;
} run;

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* VmHWM, not ru_maxrss: Linux carries ru_maxrss across execve, so a child
 * of a big parent (the Python driver) would report the parent's size. */
static long peak_rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    if (!f) return -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}

/* Parses a positive decimal count; 0 on anything else. */
static long parse_count(const char *s)
{
    long v = 0;
    if (!s || !*s) return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > 100000000L) return 0;
        v = v * 10 + (*s - '0');
    }
    return v;
}

/* xorshift64*: ids only need to differ, not to be secret, here. */
static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1du;
}

static void hex(char *out, uint64_t v, int digits)
{
    static const char d[] = "0123456789abcdef";
    for (int i = digits - 1; i >= 0; i--, v >>= 4) out[i] = d[v & 15];
}

/* Fresh X-Request-Id (UUIDv4 layout) and traceparent lines, in place. */
static void fresh_ids(xfer *x)
{
    uint64_t a = rng_next(), b = rng_next(), s = rng_next();
    char u[33];
    hex(u, a, 16);
    hex(u + 16, b, 16);
    u[12] = '4';
    u[16] = "89ab"[b >> 62];
    memcpy(x->request_id, "X-Request-Id: ", 14);
    char *p = x->request_id + 14;
    memcpy(p, u, 8); p[8] = '-';
    memcpy(p + 9, u + 8, 4); p[13] = '-';
    memcpy(p + 14, u + 12, 4); p[18] = '-';
    memcpy(p + 19, u + 16, 4); p[23] = '-';
    memcpy(p + 24, u + 20, 12); p[36] = '\0';
    memcpy(x->traceparent, "traceparent: 00-", 16);
    hex(x->traceparent + 16, a ^ s, 16);
    hex(x->traceparent + 32, b ^ s, 16);
    x->traceparent[48] = '-';
    hex(x->traceparent + 49, s, 16);
    memcpy(x->traceparent + 65, "-01", 4);
}

/* The body parsed as lira's script does with res:json(): 1 when it is a
 * JSON object with an "id". */
static int body_has_id(xfer *x)
{
    cJSON *doc = cJSON_ParseWithLength(x->body, x->len);
    int ok = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(doc, "id"));
    cJSON_Delete(doc);
    return ok;
}

/* --lua: the body handed to the Lua function on top of the stack, which
 * decodes it; 1 when it found an "id". A decode error counts as a failure. */
static int lua_body_has_id(xfer *x)
{
    lua_pushvalue(lua, -1);
    lua_pushlstring(lua, x->body, x->len);
    if (lua_pcall(lua, 1, 1, 0) != LUA_OK) {
        lua_pop(lua, 1);
        return 0;
    }
    int ok = lua_toboolean(lua, -1);
    lua_pop(lua, 1);
    return ok;
}

static const char LUA_CHECK[] =
    "local decode = require(\"lira\").json.decode\n"
    "return function(body) return decode(body).id ~= nil end\n";

/* --lua: a state whose stack top is the check function; NULL with a
 * message on stderr when lira cannot be loaded. */
static lua_State *lua_open_check(void)
{
    lua_State *L = luaL_newstate();
    if (!L) return NULL;
    luaL_openlibs(L);
    lua_gc(L, LUA_GCGEN, 0, 0);   /* as lira_client.lua and `lira run` (see there) */
    if (luaL_loadstring(L, LUA_CHECK) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK) {
        fprintf(stderr, "raw_curl_bench: --lua: %s\n", lua_tostring(L, -1));
        lua_close(L);
        return NULL;
    }
    return L;
}

/* Before each transfer: reset the body, and with --same-work new ids. */
static void prepare(xfer *x)
{
    x->len = 0;
    if (same_work) fresh_ids(x);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    if (n > BODY_CAP - x->len) return 0;   /* abort: bigger than any bench body */
    memcpy(x->body + x->len, data, n);
    x->len += n;
    return n;
}

static int xfer_init(xfer *x, const char *url)
{
    x->len = 0;
    x->easy = curl_easy_init();
    if (!x->easy) return -1;
    curl_easy_setopt(x->easy, CURLOPT_URL, url);
    curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
    curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
    if (same_work) {
        static char accept[] = "Accept: application/json", ae[] = "Accept-Encoding: gzip";
        char *lines[4] = { accept, x->request_id, x->traceparent, ae };
        for (int i = 0; i < 4; i++) {
            x->hdr[i].data = lines[i];
            x->hdr[i].next = i < 3 ? &x->hdr[i + 1] : NULL;
        }
        fresh_ids(x);
        curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->hdr);
        curl_easy_setopt(x->easy, CURLOPT_ACCEPT_ENCODING, "gzip");   /* decode; our line is sent */
    }
    return 0;
}

static void count(run *r, xfer *x, CURLcode rc)
{
    long status = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    int ok = rc == CURLE_OK && status >= 200 && status < 300;
    if (ok && same_work) ok = lua ? lua_body_has_id(x) : body_has_id(x);
    if (ok) r->ok++;
    else r->failed++;
}

/* ------------------------------------------------------------- c = 1 --- */

static int run_serial(run *r, xfer *x, double *cpu, double *wall)
{
    /* First request outside the measurement: it pays for the connect. */
    prepare(x);
    if (curl_easy_perform(x->easy) != CURLE_OK) return -1;
    double c0 = cpu_s(), w0 = mono_s();
    for (long i = 0; i < r->n; i++) {
        prepare(x);
        count(r, x, curl_easy_perform(x->easy));
    }
    *wall = mono_s() - w0;
    *cpu = cpu_s() - c0;
    return 0;
}

/* ------------------------------------------------------------- c > 1 --- */

/* Drives the multi until every added transfer is done; re-adds a finished
 * handle while *issued < target, so the c connections stay busy. When
 * `record` is 0 the transfers are a warm-up and are not counted. */
static int drive(run *r, CURLM *multi, long *issued, long target, int record)
{
    int running = 1;
    while (running) {
        if (curl_multi_perform(multi, &running) != CURLM_OK) return -1;
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(multi, &left))) {
            if (m->msg != CURLMSG_DONE) continue;
            CURL *easy = m->easy_handle;
            char *priv = NULL;
            curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
            xfer *x = (xfer *)(void *)priv;
            if (record) count(r, x, m->data.result);
            curl_multi_remove_handle(multi, easy);
            if (*issued < target) {
                prepare(x);
                curl_multi_add_handle(multi, easy);
                (*issued)++;
                running = 1;
            }
        }
        if (running && curl_multi_poll(multi, NULL, 0, 1000, NULL) != CURLM_OK) return -1;
    }
    return 0;
}

static int run_multi(run *r, xfer *xs, double *cpu, double *wall)
{
    CURLM *multi = curl_multi_init();
    if (!multi) return -1;
    long issued = 0;
    /* Warm-up: one transfer per handle opens the c connections. */
    for (long i = 0; i < r->c; i++) curl_multi_add_handle(multi, xs[i].easy);
    issued = r->c;
    int rc = drive(r, multi, &issued, r->c, 0);
    double c0 = cpu_s(), w0 = mono_s();
    if (rc == 0) {
        issued = 0;
        long first = r->c < r->n ? r->c : r->n;
        for (long i = 0; i < first; i++) {
            prepare(&xs[i]);
            curl_multi_add_handle(multi, xs[i].easy);
        }
        issued = first;
        rc = drive(r, multi, &issued, r->n, 1);
    }
    *wall = mono_s() - w0;
    *cpu = cpu_s() - c0;
    curl_multi_cleanup(multi);
    return rc;
}

int main(int argc, char **argv)
{
    int want_lua = 0;
    if (argc > 1 && (strcmp(argv[1], "--same-work") == 0 || strcmp(argv[1], "--lua") == 0)) {
        same_work = 1;
        want_lua = strcmp(argv[1], "--lua") == 0;
        argv++, argc--;
    }
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: raw_curl_bench [--same-work | --lua] <url> <n> [c]\n");
        return 2;
    }
    run r = { .url = argv[1], .n = parse_count(argv[2]), .c = argc > 3 ? parse_count(argv[3]) : 1 };
    if (r.n <= 0 || r.c <= 0 || r.c > MAX_CONC) {
        fprintf(stderr, "raw_curl_bench: n must be > 0 and c in 1..%d\n", MAX_CONC);
        return 2;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return 1;
    if (want_lua && !(lua = lua_open_check())) return 1;
    xfer *xs = calloc((size_t)r.c, sizeof *xs);
    if (!xs) return 1;
    for (long i = 0; i < r.c; i++) {
        if (xfer_init(&xs[i], r.url) != 0) return 1;
    }
    double cpu = 0, wall = 0;
    int rc = r.c == 1 ? run_serial(&r, &xs[0], &cpu, &wall) : run_multi(&r, xs, &cpu, &wall);
    if (rc != 0) {
        fprintf(stderr, "raw_curl_bench: transfer loop failed (is %s up?)\n", r.url);
        return 1;
    }
    printf("BENCH client=%s c=%ld n=%ld ok=%ld wall=%.6f cpu=%.6f rss_kb=%ld\n",
           lua ? "raw_lua" : same_work ? "raw_same" : "raw_curl", r.c, r.n, r.ok, wall, cpu, peak_rss_kb());
    for (long i = 0; i < r.c; i++) curl_easy_cleanup(xs[i].easy);
    free(xs);
    if (lua) lua_close(lua);
    curl_global_cleanup();
    return r.failed ? 1 : 0;
}
