/* telemetry_bench.c — what the telemetry hub costs per call: the events one
 * successful single-attempt call produces (call_start, limiter_wait,
 * attempt_start, attempt_end, call_end), with
 *   - everything off (log off, metrics off): the floor
 *   - metrics only
 *   - metrics + one info line per call to a file (the "everything on"
 *     minus tracing)
 *   - metrics + debug (a line per attempt as well)
 * and the cost of one Prometheus exposition of the resulting registry;
 * then the tracer on an engine's hub (log off, metrics on), exporting with
 * OTLP to a null transport that refuses every request, so a batch is encoded
 * and dropped (the encoding is measured per span, separately):
 *   - traces sampled (always_on): two recorded spans per call
 *   - traces unsampled (always_off): ids and traceparent only
 *
 *   telemetry_bench [calls [only]]   (default 200000; only = off, metrics,
 *                                     info, debug, traced or unsampled: that
 *                                     setup alone, for callgrind's per-setup
 *                                     counts) */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "otlp.h"
#include "status.h"
#include "telemetry.h"
#include "trace.h"

static int64_t mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const char *const endpoints[] = {"/orders/{id}", "/orders", "/customers/{id}",
                                        "/products"};

static void one_call(lira_telemetry *t, lira_http_response *res, int i, int64_t now)
{
    lira_tel_call tc = {0};
    tc.client = "shop";
    tc.method = "GET";
    tc.url = "https://api.shop.example/orders/123?access_token=abc&page=2";
    tc.endpoint = endpoints[i & 3];
    tc.request_id = "5f0c2b7e-1b7c-4c4e-9a57-2d0a8b1c9e11";
    char tp[LIRA_TRACEPARENT_STR_SIZE];
    int64_t wall = INT64_C(1700000000000000000) + now;
    lira_telemetry_call_start(t, &tc, now, wall);
    lira_telemetry_limiter_wait(t, &tc, 0, 10);
    lira_telemetry_attempt_start(t, &tc, 1, now, wall, tp, sizeof tp);
    lira_call_attempt a = {1, res, now, 12000000 + (i % 1000) * 10000, LIRA_RR_NONE, -1};
    lira_telemetry_attempt_end(t, &tc, &a, now + a.duration_ns, wall);
    lira_call_result r = {.res = res, .attempts = 1, .stop = LIRA_STOP_SUCCESS, .status = 200};
    lira_telemetry_call_end(t, &tc, &r, now + a.duration_ns, wall);
}

/* 1 000 warm-up calls (the series exist), then n timed ones; prints and
 * returns the CPU ns per call. */
static double timed_calls(lira_telemetry *t, const char *label, int n)
{
    lira_http_response *res = lira_http_response_new();
    res->status = 200;
    for (int i = 0; i < 1000; i++)
        one_call(t, res, i, i * 1000);
    int64_t c0 = cpu(), w0 = mono();
    for (int i = 0; i < n; i++)
        one_call(t, res, i, (int64_t)i * 1000000);
    int64_t c1 = cpu(), w1 = mono();
    double per = (double)(c1 - c0) / n;
    printf("%-34s %8.0f ns CPU/call  (%6.0f ns wall)\n", label, per, (double)(w1 - w0) / n);
    lira_http_response_free(res);
    return per;
}

static double run(const char *label, lira_log_level lv, int metrics_off, int n,
                  const char *path)
{
    lira_telemetry_options o;
    lira_telemetry_options_default(&o);
    o.log.level = lv;
    o.log.path = path;
    o.metrics_off = metrics_off;
    lira_telemetry *t;
    if (lira_telemetry_new(&o, &t) != 0) {
        fprintf(stderr, "cannot create the hub\n");
        exit(1);
    }
    double per = timed_calls(t, label, n);
    if (!metrics_off && lv == LIRA_LOG_INFO) {
        int64_t x0 = cpu();
        char *text = NULL;
        size_t len = 0;
        lira_telemetry_collect(t);
        lira_metrics_text(lira_telemetry_metrics(t), &text, &len);
        printf("%-34s %8.0f us CPU (%zu bytes)\n", "  one exposition of that registry",
               (double)(cpu() - x0) / 1000, len);
        free(text);
    }
    lira_telemetry_free(t);
    return per;
}

/* A transport that refuses every request: the exporter encodes each batch,
 * then drops it, and the bench never touches the network. */
static int null_start(lira_transport *t, const lira_http_request *req, lira_http_done_fn done,
                      void *ud, lira_transfer **out)
{
    (void)t, (void)req, (void)done, (void)ud, (void)out;
    return LIRA_ESTATE;
}
static void null_cancel(lira_transport *t, lira_transfer *x) { (void)t, (void)x; }
static void null_destroy(lira_transport *t) { free(t); }
static const lira_transport_ops null_ops = {null_start, null_cancel, null_destroy};

static double run_traced(const char *label, int sampled, int n)
{
    lira_engine *e;
    lira_telemetry *t;
    lira_otlp *x;
    lira_otlp_config c;
    lira_transport *tp = calloc(1, sizeof *tp);
    if (!tp || lira_engine_new(NULL, &e) != LIRA_OK)
        exit(1);
    tp->ops = &null_ops;
    lira_engine_set_transport(e, tp);
    lira_telemetry_options o;
    lira_telemetry_options_default(&o);
    o.log.level = LIRA_LOG_OFF;
    if (lira_telemetry_new(&o, &t) != LIRA_OK || lira_telemetry_install(e, t) != LIRA_OK)
        exit(1);
    lira_otlp_config_from_env(&c, NULL, NULL);
    lira_otlp_config_set_url(&c, "http://127.0.0.1:4318/v1/traces");
    lira_sampler s;
    lira_sampler_init(&s, sampled ? LIRA_SAMPLER_ALWAYS_ON : LIRA_SAMPLER_ALWAYS_OFF, 1.0);
    if (lira_otlp_new(e, &c, &x) != LIRA_OK || lira_tracer_install(e, &s, x, NULL) != LIRA_OK)
        exit(1);
    lira_otlp_config_free(&c);
    double per = timed_calls(t, label, n);
    lira_engine_free(e);
    return per;
}

/* The OTLP/JSON encoding per span: batches of 512 recorded attempt spans. */
static void encode_cost(int n)
{
    lira_engine *e;
    lira_otlp_config c;
    if (lira_engine_new(NULL, &e) != LIRA_OK)
        exit(1);
    lira_otlp_config_from_env(&c, NULL, NULL);
    lira_otlp_config_set_url(&c, "http://127.0.0.1:4318/v1/traces");
    lira_otlp *x;
    lira_tracer *tr;
    lira_sampler s;
    lira_sampler_init(&s, LIRA_SAMPLER_ALWAYS_ON, 1.0);
    if (lira_otlp_new(e, &c, &x) != LIRA_OK || lira_tracer_install(e, &s, x, &tr) != LIRA_OK)
        exit(1);
    enum { B = 512 };
    static lira_span sp[B];
    lira_span_data *d[B];
    for (int i = 0; i < B; i++) {
        lira_span_start_http(tr, &sp[i], NULL, "GET",
                             "https://api.shop.example/orders/123?access_token=abc&page=2", 0,
                             "GET /orders/{id}");
        lira_span_set_int(&sp[i], "http.response.status_code", 200);
        d[i] = sp[i].rec;
    }
    int rounds = n / B > 0 ? n / B : 1;
    size_t bytes = 0;
    int64_t c0 = cpu();
    for (int r = 0; r < rounds; r++) {
        char *body = NULL;
        if (lira_otlp_encode(&c, d, B, &body, &bytes) != LIRA_OK)
            exit(1);
        free(body);
    }
    printf("%-34s %8.0f ns CPU/span  (%zu bytes per span)\n", "  OTLP/JSON encoding",
           (double)(cpu() - c0) / ((double)rounds * B), bytes / B);
    for (int i = 0; i < B; i++)
        lira_span_discard(&sp[i]);
    lira_otlp_config_free(&c);
    lira_engine_free(e);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 200000;
    if (n <= 0)
        n = 200000;
    char path[] = "/tmp/lira_telemetry_bench_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 1;
    close(fd);
    printf("telemetry hub, %d calls (1 attempt each), log file %s\n", n, path);
    const char *only = argc > 2 ? argv[2] : NULL;
    if (only) {
        int lv = strcmp(only, "info") == 0 ? LIRA_LOG_INFO
                 : strcmp(only, "debug") == 0 ? LIRA_LOG_DEBUG : LIRA_LOG_OFF;
        if (strcmp(only, "traced") == 0 || strcmp(only, "unsampled") == 0)
            run_traced(only, strcmp(only, "traced") == 0, n);
        else if (strcmp(only, "encode") == 0)
            encode_cost(n);
        else
            run(only, (lira_log_level)lv, strcmp(only, "off") == 0, n, path);
        unlink(path);
        return 0;
    }
    double off = run("all off", LIRA_LOG_OFF, 1, n, path);
    double met = run("metrics", LIRA_LOG_OFF, 0, n, path);
    double info = run("metrics + info line per call", LIRA_LOG_INFO, 0, n, path);
    double dbg = run("metrics + debug (call + attempt)", LIRA_LOG_DEBUG, 0, n, path);
    printf("added over 'all off': metrics %.0f ns, metrics+info %.0f ns, debug %.0f ns\n",
           met - off, info - off, dbg - off);
    double tr = run_traced("metrics + traces sampled (OTLP)", 1, n);
    double un = run_traced("metrics + traces unsampled", 0, n);
    encode_cost(n);
    printf("tracing over 'metrics': sampled %.0f ns (encoding not included), unsampled %.0f ns\n",
           tr - met, un - met);
    unlink(path);
    return 0;
}
