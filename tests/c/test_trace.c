/* test_trace.c — sampler decisions, W3C context round trips, spans and
 * their attributes (trace.h). */
#include "check.h"

#include <stdlib.h>

#include <cjson/cJSON.h>

#include "otlp.h"
#include "status.h"
#include "telemetry_url.h"
#include "trace.h"
#include "trace_impl.h"
#include "transport_script.h"

static void id_with_low(uint8_t id[16], uint64_t low)
{
    memset(id, 0xab, 8);
    for (int i = 15; i >= 8; i--, low >>= 8)
        id[i] = (uint8_t)low;
}

static void test_ratio_sampler(void)
{
    lira_sampler s;
    uint8_t id[16];
    CHECK_EQ(lira_sampler_init(&s, LIRA_SAMPLER_TRACEIDRATIO, 0.25), LIRA_OK);
    id_with_low(id, UINT64_C(0x3fffffffffffffff));   /* just below 2^64 / 4 */
    CHECK_EQ(lira_sampler_decide(&s, NULL, id), 1);
    id_with_low(id, UINT64_C(0x4000000000000000));   /* exactly the bound: not below */
    CHECK_EQ(lira_sampler_decide(&s, NULL, id), 0);
    id_with_low(id, 0);
    CHECK_EQ(lira_sampler_decide(&s, NULL, id), 1);
    CHECK_EQ(lira_sampler_init(&s, LIRA_SAMPLER_TRACEIDRATIO, 0.0), LIRA_OK);
    CHECK_EQ(lira_sampler_decide(&s, NULL, id), 0);
    CHECK_EQ(lira_sampler_init(&s, LIRA_SAMPLER_TRACEIDRATIO, 1.0), LIRA_OK);
    id_with_low(id, UINT64_MAX);
    CHECK_EQ(lira_sampler_decide(&s, NULL, id), 1);
    CHECK_EQ(lira_sampler_init(&s, LIRA_SAMPLER_TRACEIDRATIO, 1.5), LIRA_EINVAL);
    CHECK_EQ(lira_sampler_init(&s, LIRA_SAMPLER_TRACEIDRATIO, -0.1), LIRA_EINVAL);
    CHECK_EQ(lira_sampler_init(&s, LIRA_SAMPLER_TRACEIDRATIO, NAN), LIRA_EINVAL);
    /* the upper 8 bytes do not matter */
    CHECK_EQ(lira_sampler_init(&s, LIRA_SAMPLER_TRACEIDRATIO, 0.5), LIRA_OK);
    id_with_low(id, 1);
    memset(id, 0xff, 8);
    CHECK_EQ(lira_sampler_decide(&s, NULL, id), 1);
}

static void test_parent_based(void)
{
    lira_sampler s;
    uint8_t id[16];
    id_with_low(id, UINT64_MAX);   /* a ratio sampler below 1 says no to this one */
    lira_span_ctx on = {.valid = 1, .flags = LIRA_TRACE_FLAG_SAMPLED, .remote = 1};
    lira_span_ctx off = {.valid = 1, .flags = 0};
    lira_span_ctx none = {.valid = 0, .flags = LIRA_TRACE_FLAG_SAMPLED};
    struct { lira_sampler_kind k; double r; const lira_span_ctx *p; int want; } cases[] = {
        {LIRA_SAMPLER_ALWAYS_ON, 1, &off, 1},
        {LIRA_SAMPLER_ALWAYS_OFF, 1, &on, 0},
        {LIRA_SAMPLER_TRACEIDRATIO, 0.5, &on, 0},            /* ignores the parent */
        {LIRA_SAMPLER_PARENT_ALWAYS_ON, 1, NULL, 1},
        {LIRA_SAMPLER_PARENT_ALWAYS_ON, 1, &none, 1},
        {LIRA_SAMPLER_PARENT_ALWAYS_ON, 1, &off, 0},
        {LIRA_SAMPLER_PARENT_ALWAYS_ON, 1, &on, 1},
        {LIRA_SAMPLER_PARENT_ALWAYS_OFF, 1, NULL, 0},
        {LIRA_SAMPLER_PARENT_ALWAYS_OFF, 1, &on, 1},
        {LIRA_SAMPLER_PARENT_TRACEIDRATIO, 0.5, NULL, 0},    /* root: ratio */
        {LIRA_SAMPLER_PARENT_TRACEIDRATIO, 0.5, &on, 1},     /* parent wins */
        {LIRA_SAMPLER_PARENT_TRACEIDRATIO, 1.0, &off, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        CHECK_EQ(lira_sampler_init(&s, cases[i].k, cases[i].r), LIRA_OK);
        if (lira_sampler_decide(&s, cases[i].p, id) != cases[i].want)
            CHECK_FAIL_("case %zu (%s) wanted %d", i, lira_sampler_name(cases[i].k), cases[i].want);
    }
}

static void test_sampler_env(void)
{
    lira_sampler s;
    CHECK_EQ(lira_sampler_from_env(&s, NULL, NULL), LIRA_OK);
    CHECK_EQ(s.kind, LIRA_SAMPLER_PARENT_ALWAYS_ON);
    CHECK_EQ(lira_sampler_from_env(&s, "traceidratio", "0.125"), LIRA_OK);
    CHECK_EQ(s.kind, LIRA_SAMPLER_TRACEIDRATIO);
    CHECK_NEAR(s.ratio, 0.125, 1e-12);
    CHECK_EQ(lira_sampler_from_env(&s, "parentbased_traceidratio", "2"), LIRA_EPARSE);
    CHECK_EQ(s.kind, LIRA_SAMPLER_PARENT_TRACEIDRATIO);
    CHECK_NEAR(s.ratio, 1.0, 0);
    CHECK_EQ(lira_sampler_from_env(&s, "parentbased_always_off", NULL), LIRA_OK);
    CHECK_EQ(s.kind, LIRA_SAMPLER_PARENT_ALWAYS_OFF);
    CHECK_EQ(lira_sampler_from_env(&s, "jaeger_remote", NULL), LIRA_EPARSE);
    CHECK_EQ(s.kind, LIRA_SAMPLER_PARENT_ALWAYS_ON);
    CHECK_EQ(lira_sampler_from_env(&s, "always_off", "junk"), LIRA_OK);   /* arg unused */
    CHECK_EQ(s.kind, LIRA_SAMPLER_ALWAYS_OFF);
}

static void test_extract_round_trip(void)
{
    const char *tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const char *ts = " congo=t61rcWkgMzE, rojo=00f067aa0ba902b7 ";
    lira_span_ctx c;
    CHECK_EQ(lira_trace_extract(tp, strlen(tp), ts, strlen(ts), &c), LIRA_OK);
    CHECK_EQ(c.valid, 1);
    CHECK_EQ(c.remote, 1);
    CHECK_EQ(c.flags, 1);
    CHECK_STR(c.tracestate, "congo=t61rcWkgMzE, rojo=00f067aa0ba902b7");
    char out[LIRA_TRACEPARENT_STR_SIZE];
    CHECK_EQ(lira_span_ctx_traceparent(&c, out, sizeof out), LIRA_OK);
    CHECK_STR(out, tp);
    CHECK_EQ(lira_span_ctx_traceparent(&c, out, 10), LIRA_ETOOBIG);
    /* a bad traceparent: no context; a bad tracestate alone is dropped */
    CHECK_EQ(lira_trace_extract("00-xyz", 6, NULL, 0, &c), LIRA_EPARSE);
    CHECK_EQ(c.valid, 0);
    CHECK_EQ(lira_trace_extract(tp, strlen(tp), "a=\x01", 3, &c), LIRA_OK);
    CHECK_EQ(c.tracestate_len, 0);
    /* a long tracestate keeps the whole members that fit */
    char big[700];
    size_t n = 0;
    for (int i = 0; n + 12 < sizeof big - 1; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, "%sk%03d=vvvvv", i ? "," : "", i);
    CHECK_EQ(lira_trace_extract(tp, strlen(tp), big, n, &c), LIRA_OK);
    CHECK_INT(c.tracestate_len, <=, LIRA_TRACESTATE_MAX);
    CHECK_INT(c.tracestate_len, >, 400);
    CHECK(c.tracestate[c.tracestate_len - 1] == 'v');
    CHECK_EQ(lira_span_ctx_traceparent(NULL, out, sizeof out), LIRA_EINVAL);
    lira_span_ctx none = {0};
    CHECK_EQ(lira_span_ctx_traceparent(&none, out, sizeof out), LIRA_EINVAL);
}

static lira_engine *engine(void)
{
    lira_engine_options o = {.virtual_clock = 1, .seeded = 1, .seed = 7};
    lira_engine *e = NULL;
    CHECK_EQ(lira_engine_new(&o, &e), LIRA_OK);
    return e;
}

/* A tracer that records into an exporter nobody flushes (a long delay). */
static lira_tracer *recording_tracer(lira_engine *e, lira_sampler_kind k, double ratio)
{
    lira_transport *t;
    CHECK_EQ(lira_script_install(e, NULL, &t), LIRA_OK);
    lira_otlp_config c;
    CHECK_EQ(lira_otlp_config_default(&c), LIRA_OK);
    CHECK_EQ(lira_otlp_config_set_url(&c, "http://collector.test/v1/traces"), LIRA_OK);
    c.delay_ns = INT64_C(3600) * LIRA_NS_PER_SEC;
    c.shutdown_timeout_ns = 0;
    lira_otlp *x = NULL;
    CHECK_EQ(lira_otlp_new(e, &c, &x), LIRA_OK);
    lira_otlp_config_free(&c);
    lira_sampler s;
    CHECK_EQ(lira_sampler_init(&s, k, ratio), LIRA_OK);
    lira_tracer *tr = NULL;
    CHECK_EQ(lira_tracer_install(e, &s, x, &tr), LIRA_OK);
    return tr;
}

static void test_unrecorded_spans_propagate(void)
{
    lira_engine *e = engine();
    lira_tracer *tr = NULL;
    CHECK_EQ(lira_tracer_install(e, NULL, NULL, &tr), LIRA_OK);   /* no exporter */
    lira_span root, child;
    CHECK_EQ(lira_span_start(tr, &root, "root", LIRA_SPAN_INTERNAL, NULL), LIRA_OK);
    CHECK(root.rec == NULL);
    CHECK_EQ(root.ctx.flags, LIRA_TRACE_FLAG_SAMPLED);
    CHECK_EQ(lira_span_start(tr, &child, "c", LIRA_SPAN_CLIENT, &root.ctx), LIRA_OK);
    CHECK(memcmp(child.ctx.trace_id, root.ctx.trace_id, 16) == 0);
    CHECK(memcmp(child.parent_span_id, root.ctx.span_id, 8) == 0);
    CHECK(memcmp(child.ctx.span_id, root.ctx.span_id, 8) != 0);
    char tp[LIRA_TRACEPARENT_STR_SIZE];
    CHECK_EQ(lira_span_traceparent(&child, tp, sizeof tp), LIRA_OK);
    lira_span_ctx back;
    CHECK_EQ(lira_trace_extract(tp, strlen(tp), NULL, 0, &back), LIRA_OK);
    CHECK(memcmp(back.span_id, child.ctx.span_id, 8) == 0);
    lira_span_set_str(&child, "k", "v", 1);   /* a no-op, not a crash */
    lira_span_end(&child);
    lira_span_end(&root);
    lira_span_end(&root);   /* idempotent */
    /* an unsampled remote parent: children say 00 and still carry its trace */
    lira_span_ctx remote;
    const char *in = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";
    CHECK_EQ(lira_trace_extract(in, strlen(in), "x=1", 3, &remote), LIRA_OK);
    CHECK_EQ(lira_span_start(tr, &child, "c", LIRA_SPAN_CLIENT, &remote), LIRA_OK);
    CHECK_EQ(lira_span_traceparent(&child, tp, sizeof tp), LIRA_OK);
    CHECK(strncmp(tp, "00-0af7651916cd43dd8448eb211c80319c-", 36) == 0);
    CHECK_STR(tp + 53, "00");
    CHECK_STR(lira_span_tracestate(&child), "x=1");
    lira_span_end(&child);
    lira_trace_stats st;
    lira_tracer_stats(tr, &st);
    CHECK_EQ(st.started, 3);
    CHECK_EQ(st.recorded, 0);
    lira_engine_free(e);
}

static const lira_span_attr *find_attr(const lira_span_data *d, const char *key)
{
    for (size_t i = 0; i < d->nattrs; i++)
        if (d->attrs[i].key_len == strlen(key) &&
            memcmp(d->arena + d->attrs[i].key_off, key, d->attrs[i].key_len) == 0)
            return &d->attrs[i];
    return NULL;
}

static int attr_is(const lira_span_data *d, const char *key, const char *want)
{
    const lira_span_attr *a = find_attr(d, key);
    return a && a->type == LIRA_ATTR_STR && a->v.s.len == strlen(want) &&
           memcmp(d->arena + a->v.s.off, want, a->v.s.len) == 0;
}

static void test_http_span_attributes(void)
{
    lira_engine *e = engine();
    lira_tracer *tr = recording_tracer(e, LIRA_SAMPLER_ALWAYS_ON, 1);
    lira_span sp;
    CHECK_EQ(lira_span_start_http(tr, &sp, NULL, "GET",
                                  "https://u:pw@api.test:8443/orders/42?token=s3cret&x=1", 2,
                                  NULL), LIRA_OK);
    CHECK(sp.rec != NULL);
    lira_span_data *d = sp.rec;
    CHECK_EQ(d->kind, LIRA_SPAN_CLIENT);
    CHECK(attr_is(d, "http.request.method", "GET"));
    CHECK(attr_is(d, "url.full", "https://REDACTED@api.test:8443/orders/42?token=REDACTED&x=1"));
    CHECK(attr_is(d, "server.address", "api.test"));
    CHECK(find_attr(d, "server.port") && find_attr(d, "server.port")->v.i == 8443);
    CHECK(find_attr(d, "http.request.resend_count") &&
          find_attr(d, "http.request.resend_count")->v.i == 2);
    lira_http_response *res = lira_http_response_new();
    res->status = 503;
    lira_span_end_http(&sp, res);
    CHECK(find_attr(d, "http.response.status_code")->v.i == 503);
    CHECK(attr_is(d, "error.type", "503"));
    CHECK_EQ(d->status, LIRA_STATUS_ERROR);
    CHECK(sp.rec == NULL);   /* handed to the exporter */
    /* a failure, an unknown method, an IPv6 host with the default port */
    CHECK_EQ(lira_span_start_http(tr, &sp, NULL, "PURGE", "http://[::1]/x", 0, NULL), LIRA_OK);
    d = sp.rec;
    CHECK(attr_is(d, "http.request.method", "_OTHER"));
    CHECK(attr_is(d, "http.request.method_original", "PURGE"));
    CHECK(attr_is(d, "server.address", "::1"));
    CHECK(find_attr(d, "server.port")->v.i == 80);
    CHECK(find_attr(d, "http.request.resend_count") == NULL);
    res->status = 0;
    res->failure = LIRA_FAIL_TIMEOUT;
    snprintf(res->error, sizeof res->error, "timed out");
    lira_span_end_http(&sp, res);
    CHECK(attr_is(d, "error.type", "timeout"));
    CHECK(find_attr(d, "http.response.status_code") == NULL);
    CHECK_EQ(d->msg_len, 9);
    lira_http_response_free(res);
    lira_engine_free(e);
}

/* The engine adds its HTTP attributes without looking for an existing key;
 * a later lira_span_set_* of the same key still replaces it, never adds a
 * second one. */
static void test_http_attributes_replaceable(void)
{
    lira_engine *e = engine();
    lira_tracer *tr = recording_tracer(e, LIRA_SAMPLER_ALWAYS_ON, 1);
    lira_span sp;
    CHECK_EQ(lira_span_start_http(tr, &sp, NULL, "GET", "https://api.test/x", 1, NULL), LIRA_OK);
    lira_span_data *d = sp.rec;
    size_t n = d->nattrs;
    lira_span_set_str(&sp, "url.full", "https://api.test/y", 18);
    lira_span_set_int(&sp, "server.port", 8443);
    lira_span_set_int(&sp, "http.request.resend_count", 3);
    CHECK_EQ(d->nattrs, n);
    CHECK(attr_is(d, "url.full", "https://api.test/y"));
    CHECK(find_attr(d, "server.port")->v.i == 8443);
    CHECK(find_attr(d, "http.request.resend_count")->v.i == 3);
    for (size_t i = 0; i < d->nattrs; i++)
        for (size_t k = i + 1; k < d->nattrs; k++)
            CHECK(d->attrs[i].key_len != d->attrs[k].key_len ||
                  memcmp(d->arena + d->attrs[i].key_off, d->arena + d->attrs[k].key_off,
                         d->attrs[i].key_len) != 0);
    lira_span_discard(&sp);
    lira_engine_free(e);
}

/* Two spans' attributes are the same, in the same order. */
static void same_attrs(const lira_span_data *a, const lira_span_data *b)
{
    CHECK_EQ(a->nattrs, b->nattrs);
    for (size_t i = 0; i < a->nattrs && i < b->nattrs; i++) {
        const lira_span_attr *x = &a->attrs[i], *y = &b->attrs[i];
        CHECK(x->key_len == y->key_len &&
              memcmp(a->arena + x->key_off, b->arena + y->key_off, x->key_len) == 0);
        CHECK_EQ(x->type, y->type);
        if (x->type == LIRA_ATTR_STR)
            CHECK(x->v.s.len == y->v.s.len &&
                  memcmp(a->arena + x->v.s.off, b->arena + y->v.s.off, x->v.s.len) == 0);
        else
            CHECK(x->v.i == y->v.i);
    }
}

/* The span's url.full as the encoder writes it, read back by cJSON. */
static char *encoded_url_full(lira_span_data *d)
{
    lira_otlp_config c;
    CHECK_EQ(lira_otlp_config_default(&c), LIRA_OK);
    char *body = NULL, *got = NULL;
    size_t len = 0;
    CHECK_EQ(lira_otlp_encode(&c, &d, 1, &body, &len), LIRA_OK);
    cJSON *root = cJSON_Parse(body);
    cJSON *rs = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "resourceSpans"), 0);
    cJSON *ss = cJSON_GetArrayItem(cJSON_GetObjectItem(rs, "scopeSpans"), 0);
    cJSON *sp = cJSON_GetArrayItem(cJSON_GetObjectItem(ss, "spans"), 0), *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItem(sp, "attributes"))
        if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(a, "key")), "url.full") == 0) {
            const char *v = cJSON_GetStringValue(
                cJSON_GetObjectItem(cJSON_GetObjectItem(a, "value"), "stringValue"));
            if (v && (got = malloc(strlen(v) + 1)))
                memcpy(got, v, strlen(v) + 1);
        }
    cJSON_Delete(root);
    free(body);
    lira_otlp_config_free(&c);
    return got;
}

/* The pipeline's spans take url.full, server.address and server.port from
 * the hub's memo entry for the URL: the same attributes as a span that
 * works them out itself. The engine's keys, a known method and a redacted
 * URL or host with nothing to escape are marked plain, so the encoder
 * copies them as they are; a URL with '"' and '\\' is not, and is escaped. */
static void test_http_span_from_memo(void)
{
    static const char *const urls[] = {
        "https://u:pw@api.test:8443/orders/42?token=s3cret&x=1",
        "http://[::1]/x",
        "HTTPS://api.test/x",
        "http://api.test:99999/x",
        "no-authority",
        "http://api.test/a\"b\\c?q=1",
    };
    lira_engine *e = engine();
    lira_tracer *tr = recording_tracer(e, LIRA_SAMPLER_ALWAYS_ON, 1);
    lira_url_memo *m = lira__url_memo_new();
    for (size_t i = 0; i < sizeof urls / sizeof *urls; i++) {
        const lira_url_info *in = lira__url_memo_info(m, urls[i], strlen(urls[i]));
        CHECK(in != NULL);
        lira_span a, b;
        CHECK_EQ(lira_span_start_http(tr, &a, NULL, "GET", urls[i], 1, NULL), LIRA_OK);
        CHECK_EQ(lira__span_start_http_url(tr, &b, NULL, "GET", urls[i], 1, NULL, in), LIRA_OK);
        same_attrs(a.rec, b.rec);
        const lira_span_attr *method = find_attr(b.rec, "http.request.method"),
                             *url = find_attr(b.rec, "url.full"),
                             *host = find_attr(b.rec, "server.address");
        CHECK_EQ(method->plain, LIRA_ATTR_PLAIN_KEY | LIRA_ATTR_PLAIN_VALUE);
        CHECK_EQ(url->plain, LIRA_ATTR_PLAIN_KEY | (i < 5 ? LIRA_ATTR_PLAIN_VALUE : 0));
        CHECK_EQ(find_attr(a.rec, "url.full")->plain, LIRA_ATTR_PLAIN_KEY);
        CHECK_EQ(host != NULL, i != 4);
        if (host)
            CHECK_EQ(host->plain, LIRA_ATTR_PLAIN_KEY | LIRA_ATTR_PLAIN_VALUE);
        CHECK_EQ(find_attr(b.rec, "server.port") != NULL, i != 4);
        lira_span_data *da = lira__span_end_hold(&a), *db = lira__span_end_hold(&b);
        char *wa = encoded_url_full(da), *wb = encoded_url_full(db);
        CHECK(wa && wb && strcmp(wa, wb) == 0);
        CHECK(wb && strlen(wb) == in->red_len && memcmp(wb, in->red, in->red_len) == 0);
        free(wa);
        free(wb);
        lira__span_data_submit(da, 0);
        lira__span_data_submit(db, 0);
    }
    /* a value set over the engine's one loses its mark; the key keeps it */
    lira_span sp;
    const lira_url_info *in = lira__url_memo_info(m, urls[0], strlen(urls[0]));
    CHECK_EQ(lira__span_start_http_url(tr, &sp, NULL, "GET", urls[0], 0, NULL, in), LIRA_OK);
    lira_span_set_str(&sp, "url.full", "x\"y", 3);
    CHECK_EQ(find_attr(sp.rec, "url.full")->plain, LIRA_ATTR_PLAIN_KEY);
    lira_span_data *d = lira__span_end_hold(&sp);
    char *w = encoded_url_full(d);
    CHECK(w && strcmp(w, "x\"y") == 0);
    free(w);
    lira__span_data_submit(d, 0);
    lira__url_memo_free(m);
    lira_engine_free(e);
}

static void test_attribute_caps(void)
{
    lira_engine *e = engine();
    lira_tracer *tr = recording_tracer(e, LIRA_SAMPLER_ALWAYS_ON, 1);
    lira_span sp;
    CHECK_EQ(lira_span_start(tr, &sp, "caps", LIRA_SPAN_INTERNAL, NULL), LIRA_OK);
    char key[32];
    for (int i = 0; i < LIRA_SPAN_MAX_ATTRS + 5; i++) {
        snprintf(key, sizeof key, "k%d", i);
        lira_span_set_int(&sp, key, i);
    }
    CHECK_EQ(sp.rec->nattrs, LIRA_SPAN_MAX_ATTRS);
    CHECK_EQ(sp.rec->dropped_attrs, 5);
    /* past what the record holds in itself, the slots moved to a block
     * and none was lost on the way */
    CHECK(sp.rec->attrs != sp.rec->attrs_inline);
    for (int i = 0; i < LIRA_SPAN_MAX_ATTRS; i++) {
        snprintf(key, sizeof key, "k%d", i);
        CHECK(find_attr(sp.rec, key) && find_attr(sp.rec, key)->v.i == i);
    }
    CHECK(sp.rec->name_len == 4 && memcmp(sp.rec->arena + sp.rec->name_off, "caps", 4) == 0);
    lira_span_set_int(&sp, "k3", 99);   /* replacing needs no new slot */
    CHECK_EQ(find_attr(sp.rec, "k3")->v.i, 99);
    lira_span_discard(&sp);
    /* its record comes back for the next span as small as a new one */
    CHECK_EQ(lira_span_start(tr, &sp, "again", LIRA_SPAN_INTERNAL, NULL), LIRA_OK);
    CHECK(sp.rec->attrs == sp.rec->attrs_inline && sp.rec->arena == sp.rec->arena_inline);
    CHECK_EQ(sp.rec->nattrs, 0);
    lira_span_end(&sp);
    /* long values are cut; the arena bounds the rest */
    CHECK_EQ(lira_span_start(tr, &sp, "long", LIRA_SPAN_INTERNAL, NULL), LIRA_OK);
    static char big[5000];
    memset(big, 'x', sizeof big);
    for (int i = 0; i < 4; i++) {
        snprintf(key, sizeof key, "v%d", i);
        lira_span_set_str(&sp, key, big, sizeof big);
    }
    CHECK_EQ(find_attr(sp.rec, "v0")->v.s.len, LIRA_SPAN_MAX_VALUE);
    CHECK_INT(sp.rec->dropped_attrs, >=, 1);
    CHECK_INT(sp.rec->arena_len, <=, LIRA_SPAN_ARENA);
    CHECK(sp.rec->arena != sp.rec->arena_inline);   /* grew into a block, content kept */
    CHECK(sp.rec->name_len == 4 && memcmp(sp.rec->arena + sp.rec->name_off, "long", 4) == 0);
    for (int i = 0; i < LIRA_SPAN_MAX_VALUE; i++)
        if (sp.rec->arena[find_attr(sp.rec, "v1")->v.s.off + (size_t)i] != 'x')
            CHECK(!"v1 kept whole");
    lira_span_discard(&sp);
    lira_trace_stats st;
    lira_tracer_stats(tr, &st);
    CHECK_EQ(st.discarded, 2);
    CHECK_EQ(lira_span_start(tr, &sp, "k", (lira_span_kind)9, NULL), LIRA_EINVAL);
    lira_engine_free(e);
}

/* Released records wait for the next spans, up to LIRA_SPAN_SPARE_MAX (a
 * default batch); past that they are freed. */
static void test_spare_records_bounded(void)
{
    lira_engine *e = engine();
    lira_tracer *tr = recording_tracer(e, LIRA_SAMPLER_ALWAYS_ON, 1);
    enum { N = LIRA_SPAN_SPARE_MAX + 10 };
    static lira_span sp[N];
    CHECK_INT(LIRA_SPAN_SPARE_MAX, >=, 512);   /* OTEL_BSP_MAX_EXPORT_BATCH_SIZE's default */
    for (int i = 0; i < N; i++)
        CHECK_EQ(lira_span_start(tr, &sp[i], "s", LIRA_SPAN_INTERNAL, NULL), LIRA_OK);
    CHECK_EQ(tr->nspare, 0);
    for (int i = 0; i < N; i++)
        lira_span_discard(&sp[i]);
    CHECK_EQ(tr->nspare, LIRA_SPAN_SPARE_MAX);
    lira_span_data *first = tr->spare;
    CHECK_EQ(lira_span_start(tr, &sp[0], "again", LIRA_SPAN_INTERNAL, NULL), LIRA_OK);
    CHECK(sp[0].rec == first);
    CHECK_EQ(tr->nspare, LIRA_SPAN_SPARE_MAX - 1);
    lira_span_discard(&sp[0]);
    lira_engine_free(e);
}

static void test_ratio_consistent_within_trace(void)
{
    lira_engine *e = engine();
    lira_tracer *tr = recording_tracer(e, LIRA_SAMPLER_TRACEIDRATIO, 0.5);
    int sampled = 0;
    for (int i = 0; i < 400; i++) {
        lira_span root, child;
        lira_span_start(tr, &root, "r", LIRA_SPAN_INTERNAL, NULL);
        lira_span_start(tr, &child, "c", LIRA_SPAN_CLIENT, &root.ctx);
        CHECK_EQ(root.ctx.flags, child.ctx.flags);
        CHECK_EQ(root.rec != NULL, root.ctx.flags == 1);
        sampled += root.ctx.flags;
        lira_span_discard(&child);
        lira_span_discard(&root);
    }
    CHECK_INT(sampled, >, 140);
    CHECK_INT(sampled, <, 260);
    lira_engine_free(e);
}

static void test_current_stack(void)
{
    lira_engine *e = engine();
    lira_tracer *tr = NULL;
    CHECK_EQ(lira_tracer_install(e, NULL, NULL, &tr), LIRA_OK);
    CHECK(lira_tracer_current(tr) == NULL);
    lira_span a;
    lira_span_start(tr, &a, "a", LIRA_SPAN_SERVER, NULL);
    for (int i = 0; i < LIRA_TRACE_STACK_MAX; i++)
        CHECK_EQ(lira_tracer_push(tr, &a.ctx), LIRA_OK);
    CHECK_EQ(lira_tracer_push(tr, &a.ctx), LIRA_ETOOBIG);
    CHECK(memcmp(lira_tracer_current(tr)->span_id, a.ctx.span_id, 8) == 0);
    for (int i = 0; i < LIRA_TRACE_STACK_MAX + 2; i++)
        lira_tracer_pop(tr);
    CHECK(lira_tracer_current(tr) == NULL);
    lira_span_end(&a);
    lira_engine_free(e);
}

int main(void)
{
    RUN(test_ratio_sampler);
    RUN(test_parent_based);
    RUN(test_sampler_env);
    RUN(test_extract_round_trip);
    RUN(test_unrecorded_spans_propagate);
    RUN(test_http_span_attributes);
    RUN(test_http_attributes_replaceable);
    RUN(test_http_span_from_memo);
    RUN(test_attribute_caps);
    RUN(test_spare_records_bounded);
    RUN(test_ratio_consistent_within_trace);
    RUN(test_current_stack);
    return check_summary();
}
