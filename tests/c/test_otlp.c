/* test_otlp.c — OTLP/HTTP JSON export (otlp.h): configuration from the
 * environment, the JSON encoding field by field, batching on the batch timer,
 * resends on 503, queue drops and the flush at engine free — on a virtual
 * clock with the scripted transport. */
#include "check.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>

#include "otlp.h"
#include "status.h"
#include "telemetry.h"
#include "trace.h"
#include "trace_impl.h"
#include "transport_script.h"

#define MS (INT64_C(1000000))
#define SEC (INT64_C(1000000000))
#define URL "http://collector.test/v1/traces"

/* ------------------------------------------------------------ environment */

static const char *fake_env(void *ud, const char *name)
{
    const char *const *kv = ud;
    for (; *kv; kv += 2)
        if (strcmp(kv[0], name) == 0)
            return kv[1];
    return NULL;
}

static const char *kv_get(const lira_otlp_kv *kv, size_t n, const char *k)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].key, k) == 0)
            return kv[i].value;
    return NULL;
}

static void test_config_env(void)
{
    const char *env[] = {
        "OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4318/",
        "OTEL_EXPORTER_OTLP_HEADERS", "api-key=a%20b%3Dc, x-tenant = t1 ,bad,=v",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-tenant=t2",
        "OTEL_RESOURCE_ATTRIBUTES", "service.name=fromattrs,deployment.environment=prod%2Ceu",
        "OTEL_SERVICE_NAME", "shop-sync",
        "OTEL_BSP_MAX_QUEUE_SIZE", "10", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "50",
        "OTEL_BSP_SCHEDULE_DELAY", "250", "OTEL_EXPORTER_OTLP_TIMEOUT", "3000",
        NULL,
    };
    lira_otlp_config c;
    CHECK_EQ(lira_otlp_config_from_env(&c, fake_env, env), LIRA_EPARSE);   /* "bad", "=v" */
    CHECK_STR(c.url, "http://otel:4318/v1/traces");
    CHECK_STR(kv_get(c.headers, c.nheaders, "api-key"), "a b=c");
    CHECK_STR(kv_get(c.headers, c.nheaders, "x-tenant"), "t2");
    CHECK_EQ(c.nheaders, 2);
    CHECK_STR(kv_get(c.resource, c.nresource, "service.name"), "shop-sync");
    CHECK_STR(kv_get(c.resource, c.nresource, "deployment.environment"), "prod,eu");
    CHECK_EQ(c.max_queue, 10);
    CHECK_EQ(c.max_batch, 10);   /* never above the queue */
    CHECK_EQ(c.delay_ns, 250 * MS);
    CHECK_EQ(c.timeout_ns, 3 * SEC);
    lira_otlp_config_free(&c);

    const char *env2[] = {
        "OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:4318",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://traces.test/custom", NULL,
    };
    CHECK_EQ(lira_otlp_config_from_env(&c, fake_env, env2), LIRA_OK);
    CHECK_STR(c.url, "https://traces.test/custom");
    CHECK_STR(kv_get(c.resource, c.nresource, "service.name"), "unknown_service:lira");
    lira_otlp_config_free(&c);

    const char *env3[] = {NULL};
    CHECK_EQ(lira_otlp_config_from_env(&c, fake_env, env3), LIRA_OK);
    CHECK(c.url == NULL);   /* no endpoint: no export */
    lira_otlp_config_free(&c);
    const char *env4[] = {"OTEL_EXPORTER_OTLP_ENDPOINT", "otel:4318", NULL};
    CHECK_EQ(lira_otlp_config_from_env(&c, fake_env, env4), LIRA_EPARSE);
    CHECK(c.url == NULL);
    lira_otlp_config_free(&c);
}

/* ------------------------------------------------------------ fixture */

typedef struct fx {
    lira_engine *e;
    lira_transport *t;
    lira_tracer *tr;
    lira_otlp *x;
} fx;

static void fx_open(fx *f, size_t queue, size_t batch, int64_t delay, lira_sampler_kind k)
{
    lira_engine_options o = {.virtual_clock = 1, .seeded = 1, .seed = 3};
    memset(f, 0, sizeof *f);
    CHECK_EQ(lira_engine_new(&o, &f->e), LIRA_OK);
    CHECK_EQ(lira_script_install(f->e, NULL, &f->t), LIRA_OK);
    lira_otlp_config c;
    CHECK_EQ(lira_otlp_config_default(&c), LIRA_OK);
    CHECK_EQ(lira_otlp_config_set_url(&c, URL), LIRA_OK);
    CHECK_EQ(lira_otlp_config_set_header(&c, "Authorization", "Bearer tok"), LIRA_OK);
    CHECK_EQ(lira_otlp_config_set_resource(&c, "service.name", "svc"), LIRA_OK);
    CHECK_EQ(lira_otlp_config_set_resource(&c, "host.name", "h1"), LIRA_OK);
    c.max_queue = queue;
    c.max_batch = batch;
    c.delay_ns = delay;
    c.max_retries = 2;
    CHECK_EQ(lira_otlp_new(f->e, &c, &f->x), LIRA_OK);
    lira_otlp_config_free(&c);
    lira_sampler s;
    lira_sampler_init(&s, k, 1.0);
    CHECK_EQ(lira_tracer_install(f->e, &s, f->x, &f->tr), LIRA_OK);
}

static void push_ok(fx *f, int status, int n)
{
    for (int i = 0; i < n; i++) {
        lira_script_step st = {.status = status, .body = "{}", .delay_ns = 10 * MS};
        CHECK_EQ(lira_script_push(f->t, "POST /v1/traces", &st), LIRA_OK);
    }
}

static void spans(fx *f, int n)
{
    for (int i = 0; i < n; i++) {
        lira_span sp;
        CHECK_EQ(lira_span_start(f->tr, &sp, "work", LIRA_SPAN_INTERNAL, NULL), LIRA_OK);
        lira_span_end(&sp);
    }
}

/* Run the engine until no timer is left (on the virtual clock a turn with
 * nothing due jumps straight to the next timer). */
static void run_all(fx *f)
{
    for (int i = 0; i < 100000; i++)
        if (lira_engine_step(f->e, 0) == 0 && lira_engine_timeout(f->e) < 0)
            return;
}

static cJSON *request_json(fx *f, size_t i)
{
    const lira_script_request *r = lira_script_request_at(f->t, i);
    return r && r->body ? cJSON_Parse(r->body) : NULL;
}

static cJSON *spans_of(cJSON *root)
{
    cJSON *rs = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "resourceSpans"), 0);
    cJSON *ss = cJSON_GetArrayItem(cJSON_GetObjectItem(rs, "scopeSpans"), 0);
    return cJSON_GetObjectItem(ss, "spans");
}

/* ------------------------------------------------------------ encoding */

static cJSON *attr(cJSON *span, const char *key)
{
    cJSON *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItem(span, "attributes"))
        if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(a, "key")), key) == 0)
            return cJSON_GetObjectItem(a, "value");
    return NULL;
}

static void test_encoding_fields(void)
{
    fx f;
    fx_open(&f, 100, 100, SEC, LIRA_SAMPLER_ALWAYS_ON);
    lira_span parent, sp;
    lira_span_ctx remote;
    const char *tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    CHECK_EQ(lira_trace_extract(tp, strlen(tp), "vendor=x", 8, &remote), LIRA_OK);
    lira_span_start(f.tr, &parent, "par\"ent\n\xff", LIRA_SPAN_SERVER, &remote);
    lira_span_start_http(f.tr, &sp, &parent.ctx, "POST", "http://api.test/orders?api_key=k", 1,
                         "POST /orders");
    lira_span_set_double(&sp, "d", 0.5);
    lira_span_set_double(&sp, "inf", -INFINITY);
    lira_span_set_bool(&sp, "b", 1);
    lira_clock_advance(lira_engine_clock(f.e), 1500);
    lira_http_response *res = lira_http_response_new();
    res->status = 201;
    lira_span_end_http(&sp, res);
    lira_http_response_free(res);
    lira_span_end(&parent);
    lira_span_data *q[2];
    /* the queue's two records, in order: the attempt, then its parent */
    push_ok(&f, 200, 1);
    lira_otlp_flush(f.x);
    run_all(&f);
    (void)q;
    CHECK_EQ(lira_script_count(f.t), 1);
    const lira_script_request *r = lira_script_request_at(f.t, 0);
    CHECK_STR(r->method, "POST");
    CHECK_STR(r->url, URL);
    CHECK_STR(lira_script_request_header(r, "Content-Type"), "application/json");
    CHECK_STR(lira_script_request_header(r, "Authorization"), "Bearer tok");
    cJSON *root = request_json(&f, 0);
    CHECK(root != NULL);
    cJSON *rs = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "resourceSpans"), 0);
    cJSON *ra = cJSON_GetObjectItem(cJSON_GetObjectItem(rs, "resource"), "attributes");
    CHECK_EQ(cJSON_GetArraySize(ra), 2);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(ra, 0), "key")),
              "service.name");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(
                  cJSON_GetObjectItem(cJSON_GetArrayItem(ra, 0), "value"), "stringValue")),
              "svc");
    cJSON *ss = cJSON_GetArrayItem(cJSON_GetObjectItem(rs, "scopeSpans"), 0);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(ss, "scope"), "name")),
              "lira");
    cJSON *list = spans_of(root);
    CHECK_EQ(cJSON_GetArraySize(list), 2);
    cJSON *a = cJSON_GetArrayItem(list, 0), *p = cJSON_GetArrayItem(list, 1);
    char hex[33];
    lira_trace_id_format(sp.ctx.trace_id, hex, sizeof hex);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(a, "traceId")),
              "4bf92f3577b34da6a3ce929d0e0e4736");
    lira_span_id_format(sp.ctx.span_id, hex, sizeof hex);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(a, "spanId")), hex);
    lira_span_id_format(parent.ctx.span_id, hex, sizeof hex);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(a, "parentSpanId")), hex);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(p, "parentSpanId")), "00f067aa0ba902b7");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(a, "traceState")), "vendor=x");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(a, "name")), "POST /orders");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(p, "name")), "par\"ent\n\xef\xbf\xbd");
    CHECK_EQ(cJSON_GetObjectItem(a, "kind")->valueint, 3);
    CHECK_EQ(cJSON_GetObjectItem(p, "kind")->valueint, 2);
    const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(a, "startTimeUnixNano"));
    const char *en = cJSON_GetStringValue(cJSON_GetObjectItem(a, "endTimeUnixNano"));
    CHECK(st && en);
    if (st && en) {
        CHECK_EQ(strtoll(en, NULL, 10) - strtoll(st, NULL, 10), 1500);
        CHECK_INT(strtoll(st, NULL, 10), >, INT64_C(1600000000) * SEC);
    }
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(attr(a, "http.request.method"),
                                                       "stringValue")), "POST");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(attr(a, "url.full"), "stringValue")),
              "http://api.test/orders?api_key=REDACTED");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(attr(a, "http.response.status_code"),
                                                       "intValue")), "201");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(attr(a, "http.request.resend_count"),
                                                       "intValue")), "1");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(attr(a, "server.port"), "intValue")), "80");
    CHECK_NEAR(cJSON_GetObjectItem(attr(a, "d"), "doubleValue")->valuedouble, 0.5, 0);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(attr(a, "inf"), "doubleValue")),
              "-Infinity");
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(attr(a, "b"), "boolValue")));
    CHECK(cJSON_GetObjectItem(a, "status") == NULL);   /* unset */
    CHECK(cJSON_GetObjectItem(a, "droppedAttributesCount") == NULL);
    cJSON_Delete(root);
    lira_otlp_stats s;
    lira_otlp_stats_get(f.x, &s);
    CHECK_EQ(s.exported, 2);
    CHECK_EQ(s.requests, 1);
    lira_engine_free(f.e);
}

/* ------------------------------------------------------------ call shapes */

/* One call through the hub, as the pipeline makes it, with `n` attempts
 * (the last 200, the others 503); the traceparent of each attempt into tp. */
static void hub_call(fx *f, lira_span *root, int n, char tp[][LIRA_TRACEPARENT_STR_SIZE],
                     lira_tel_call *tc)
{
    lira_telemetry *hub = lira_telemetry_of(f->e);
    memset(tc, 0, sizeof *tc);
    tc->client = "shop", tc->method = "GET", tc->url = "http://api.test/orders/1";
    tc->endpoint = "/orders/{id}", tc->request_id = "r-1";
    lira_tracer_push(f->tr, &root->ctx);
    lira_telemetry_call_start(hub, tc, 0, 0);
    lira_tracer_pop(f->tr);
    lira_http_response *res = lira_http_response_new();
    for (int i = 1; i <= n; i++) {
        lira_telemetry_attempt_start(hub, tc, i, 0, 0, tp[i - 1], LIRA_TRACEPARENT_STR_SIZE);
        res->status = i < n ? 503 : 200;
        lira_call_attempt a = {.attempt = i, .res = res,
                               .retry_reason = i < n ? LIRA_RR_STATUS_5XX : LIRA_RR_NONE};
        lira_telemetry_attempt_end(hub, tc, &a, 0, 0);
    }
    lira_call_result r = {.res = res, .attempts = n, .status = 200};
    lira_telemetry_call_end(hub, tc, &r, 0, 0);
    lira_http_response_free(res);
}

static cJSON *span_by_id(cJSON *list, const char *id)
{
    cJSON *s;
    cJSON_ArrayForEach(s, list)
        if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(s, "spanId")), id) == 0)
            return s;
    return NULL;
}

/* One attempt: its CLIENT span is the call's span, under the caller's span,
 * and the call's log ids are its ids. Three attempts: an INTERNAL call span
 * under the caller's span, every attempt its child (attempt 1 included,
 * though it ended before the call knew it would retry). */
static void test_call_span_shapes(void)
{
    fx f;
    fx_open(&f, 100, 100, SEC, LIRA_SAMPLER_ALWAYS_ON);
    push_ok(&f, 200, 1);
    lira_span root;
    lira_span_start(f.tr, &root, "sync", LIRA_SPAN_INTERNAL, NULL);
    char rid[17];
    lira_span_id_format(root.ctx.span_id, rid, sizeof rid);
    char tp1[1][LIRA_TRACEPARENT_STR_SIZE], tp3[3][LIRA_TRACEPARENT_STR_SIZE];
    lira_tel_call one, three;
    hub_call(&f, &root, 1, tp1, &one);
    hub_call(&f, &root, 3, tp3, &three);
    lira_span_end(&root);
    lira_otlp_flush(f.x);
    run_all(&f);
    cJSON *body = request_json(&f, 0);
    cJSON *list = spans_of(body);
    CHECK_EQ(cJSON_GetArraySize(list), 1 + 1 + 4);   /* root, one, three + call */
    /* one attempt */
    CHECK(strncmp(tp1[0] + 36, one.span_id, 16) == 0);
    cJSON *s1 = span_by_id(list, one.span_id);
    CHECK(s1 != NULL);
    if (s1) {
        CHECK_EQ(cJSON_GetObjectItem(s1, "kind")->valueint, LIRA_SPAN_CLIENT);
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(s1, "parentSpanId")), rid);
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(attr(s1, "lira.client"),
                                                           "stringValue")), "shop");
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(attr(s1, "url.template"),
                                                           "stringValue")), "/orders/{id}");
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(attr(s1, "http.response.status_code"),
                                                           "intValue")), "200");
    }
    /* three attempts */
    cJSON *call = span_by_id(list, three.span_id);
    CHECK(call != NULL);
    if (call) {
        CHECK_EQ(cJSON_GetObjectItem(call, "kind")->valueint, LIRA_SPAN_INTERNAL);
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(call, "parentSpanId")), rid);
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(attr(call, "lira.attempts"),
                                                           "intValue")), "3");
    }
    for (int i = 0; i < 3; i++) {
        char id[17];
        memcpy(id, tp3[i] + 36, 16), id[16] = '\0';
        CHECK(strcmp(id, three.span_id) != 0);
        cJSON *a = span_by_id(list, id);
        CHECK(a != NULL);
        if (a) {
            CHECK_EQ(cJSON_GetObjectItem(a, "kind")->valueint, LIRA_SPAN_CLIENT);
            CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(a, "parentSpanId")),
                      three.span_id);
        }
    }
    cJSON_Delete(body);
    lira_engine_free(f.e);
}

/* ------------------------------------------------------------ batching */

static void test_batch_by_size_and_delay(void)
{
    fx f;
    fx_open(&f, 100, 4, 5 * SEC, LIRA_SAMPLER_ALWAYS_ON);
    push_ok(&f, 200, 10);
    spans(&f, 3);
    CHECK_EQ(lira_script_count(f.t), 0);   /* a partial batch waits for the delay */
    spans(&f, 1);                          /* the fourth fills the batch: it goes now */
    CHECK_EQ(lira_script_count(f.t), 1);
    CHECK_EQ(lira_script_request_at(f.t, 0)->at_ns, 0);
    run_all(&f);
    CHECK_EQ(lira_script_count(f.t), 1);
    int64_t t0 = lira_engine_now(f.e);
    spans(&f, 2);
    /* the batch timer is weak: nothing keeps the engine busy */
    CHECK(!lira_engine_busy(f.e));
    run_all(&f);
    CHECK_EQ(lira_script_count(f.t), 2);   /* the delay sent the two */
    CHECK_EQ(lira_script_request_at(f.t, 1)->at_ns - t0, 5 * SEC);
    cJSON *j = request_json(&f, 1);
    CHECK_EQ(cJSON_GetArraySize(spans_of(j)), 2);
    cJSON_Delete(j);
    lira_otlp_stats s;
    lira_otlp_stats_get(f.x, &s);
    CHECK_EQ(s.exported, 6);
    lira_engine_free(f.e);
}

/* The exporter encodes every batch into the one buffer it keeps: each
 * request still carries its own batch. Encoding into a kept buffer gives
 * the bytes a fresh one does, in place when it is big enough. */
static void test_body_buffer_reused(void)
{
    fx f;
    fx_open(&f, 100, 4, SEC, LIRA_SAMPLER_ALWAYS_ON);
    push_ok(&f, 200, 3);
    spans(&f, 4);
    run_all(&f);
    spans(&f, 4);
    run_all(&f);
    spans(&f, 1);
    run_all(&f);
    CHECK_EQ(lira_script_count(f.t), 3);
    const int want[] = {4, 4, 1};
    for (size_t i = 0; i < 3; i++) {
        cJSON *j = request_json(&f, i);
        CHECK(j != NULL);
        CHECK_EQ(cJSON_GetArraySize(spans_of(j)), want[i]);
        cJSON_Delete(j);
    }
    lira_span_data *d[3];
    const char *names[] = {"first", "second \"quoted\"", "third"};
    for (int i = 0; i < 3; i++) {
        lira_span sp;
        CHECK_EQ(lira_span_start(f.tr, &sp, names[i], LIRA_SPAN_INTERNAL, NULL), LIRA_OK);
        lira_span_set_int(&sp, "n", i);
        d[i] = lira__span_end_hold(&sp);
    }
    const lira_otlp_config *c = lira_otlp_get_config(f.x);
    char *buf = NULL, *ref = NULL;
    size_t cap = 0, len = 0, rlen = 0;
    for (size_t n = 3; n >= 1; n--) {   /* 3 spans, then fewer into the same buffer */
        char *before = buf;
        CHECK_EQ(lira_otlp_encode_into(c, d, n, &buf, &cap, &len), LIRA_OK);
        if (before)
            CHECK(buf == before);
        CHECK_EQ(lira_otlp_encode(c, d, n, &ref, &rlen), LIRA_OK);
        CHECK(len == rlen && memcmp(buf, ref, len + 1) == 0);
        free(ref);
    }
    CHECK_EQ(lira_otlp_encode_into(NULL, d, 1, &buf, &cap, &len), LIRA_EINVAL);
    free(buf);
    for (int i = 0; i < 3; i++)
        lira__span_data_submit(d[i], 0);
    lira_engine_free(f.e);
}

static void test_retry_on_503(void)
{
    fx f;
    fx_open(&f, 100, 2, SEC, LIRA_SAMPLER_ALWAYS_ON);
    const char *ra[] = {"Retry-After: 4", NULL};
    lira_script_step s503 = {.status = 503, .headers = ra, .delay_ns = MS};
    CHECK_EQ(lira_script_push(f.t, "POST /v1/traces", &s503), LIRA_OK);
    push_ok(&f, 200, 1);
    spans(&f, 2);
    run_all(&f);
    CHECK_EQ(lira_script_count(f.t), 2);
    const lira_script_request *r0 = lira_script_request_at(f.t, 0);
    const lira_script_request *r1 = lira_script_request_at(f.t, 1);
    CHECK_INT(r1->at_ns - r0->done_ns, >=, 4 * SEC);   /* at least Retry-After */
    CHECK_STR(r0->body, r1->body);                     /* the same batch again */
    lira_otlp_stats s;
    lira_otlp_stats_get(f.x, &s);
    CHECK_EQ(s.retries, 1);
    CHECK_EQ(s.exported, 2);
    CHECK_EQ(s.dropped_failed, 0);
    CHECK_EQ(s.last_status, 200);
    lira_engine_free(f.e);
}

static void test_retries_bounded_and_4xx_not_retried(void)
{
    fx f;
    fx_open(&f, 100, 1, SEC, LIRA_SAMPLER_ALWAYS_ON);
    lira_script_step s500 = {.status = 500, .delay_ns = MS};
    for (int i = 0; i < 3; i++)
        lira_script_push(f.t, "POST /v1/traces", &s500);
    lira_script_step s400 = {.status = 400, .delay_ns = MS};
    lira_script_push(f.t, "POST /v1/traces", &s400);
    spans(&f, 1);
    run_all(&f);
    CHECK_EQ(lira_script_count(f.t), 3);   /* one send + max_retries (2) */
    spans(&f, 1);
    run_all(&f);
    CHECK_EQ(lira_script_count(f.t), 4);   /* the 400 is not resent */
    lira_otlp_stats s;
    lira_otlp_stats_get(f.x, &s);
    CHECK_EQ(s.dropped_failed, 2);
    CHECK_EQ(s.exported, 0);
    CHECK_EQ(s.retries, 2);
    lira_engine_free(f.e);
}

static void test_queue_drops(void)
{
    fx f;
    fx_open(&f, 5, 5, SEC, LIRA_SAMPLER_ALWAYS_ON);
    lira_script_step hang = {.status = 200, .delay_ns = 30 * SEC};
    lira_script_push(f.t, "POST /v1/traces", &hang);
    push_ok(&f, 200, 5);
    spans(&f, 5);                 /* a full batch: in flight for 30 s */
    spans(&f, 8);                 /* 5 fit the queue, 3 are dropped */
    lira_otlp_stats s;
    lira_otlp_stats_get(f.x, &s);
    CHECK_EQ(s.queued, 5);
    CHECK_EQ(s.dropped_queue_full, 3);
    run_all(&f);
    lira_otlp_stats_get(f.x, &s);
    CHECK_EQ(s.exported, 10);
    CHECK_EQ(s.queued, 0);
    lira_engine_free(f.e);
}

static void test_unsampled_not_exported(void)
{
    fx f;
    fx_open(&f, 10, 10, SEC, LIRA_SAMPLER_ALWAYS_OFF);
    spans(&f, 3);
    run_all(&f);
    CHECK_EQ(lira_script_count(f.t), 0);
    lira_otlp_stats s;
    lira_otlp_stats_get(f.x, &s);
    CHECK_EQ(s.queued + s.exported, 0);
    lira_engine_free(f.e);
}

static void test_flush_on_engine_free(void)
{
    fx f;
    fx_open(&f, 100, 50, 60 * SEC, LIRA_SAMPLER_ALWAYS_ON);
    push_ok(&f, 200, 1);
    spans(&f, 3);
    lira_span open;
    lira_span_start(f.tr, &open, "still open", LIRA_SPAN_INTERNAL, NULL);
    CHECK_EQ(lira_script_count(f.t), 0);
    lira_transport *t = f.t;
    (void)t;
    /* The scripted transport's record dies with the engine: watch the
     * exporter's counters through the tracer's stats instead. */
    lira_engine_free(f.e);        /* flushes the three; the tracer waits for `open` */
    lira_span_end(&open);         /* freed, not exported: its engine is gone */
}

int main(void)
{
    RUN(test_config_env);
    RUN(test_encoding_fields);
    RUN(test_call_span_shapes);
    RUN(test_batch_by_size_and_delay);
    RUN(test_body_buffer_reused);
    RUN(test_retry_on_503);
    RUN(test_retries_bounded_and_4xx_not_retried);
    RUN(test_queue_drops);
    RUN(test_unsampled_not_exported);
    RUN(test_flush_on_engine_free);
    return check_summary();
}
