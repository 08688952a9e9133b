/* trace_impl.h — the tracer record that trace.c, trace_tracer.c and trace_sink.c share.
 * Internal to src/engine: other layers use trace.h. */
#ifndef LIRA_TRACE_IMPL_H
#define LIRA_TRACE_IMPL_H

#include "trace.h"

typedef struct trace_call trace_call;

struct lira_tracer {
    lira_engine *e;
    lira_sampler sampler;
    lira_otlp *exporter;           /* NULL: record nothing */
    int closed;                    /* flushed: records are freed at their end */
    int engine_gone;               /* the engine's close hook ran */
    int sink_attached;             /* the hub still holds it as its sink */
    size_t live;                   /* records not yet ended or discarded */
    lira_trace_stats stats;
    size_t depth;
    lira_span_ctx stack[LIRA_TRACE_STACK_MAX];
    trace_call *pool;              /* per-call objects for reuse */
    size_t npool;
    lira_span_data *spare;         /* released records for reuse (linked by next) */
    size_t nspare;
};

/* lira_span_start, but with `record` 0 the span gets its context (ids,
 * sampling) and no record even when sampled: lira__span_record_late can
 * add one afterwards (the call span of trace_sink.c, recorded only when a
 * call has a second attempt or none). LIRA__SPAN_LAZY_ID: an unsampled span
 * gets no span id yet (all zero) until lira__span_ensure_id draws one —
 * most calls' spans are never seen by anyone. */
#define LIRA__SPAN_RECORD 1
#define LIRA__SPAN_LAZY_ID 2
int lira__span_start_ex(lira_tracer *t, lira_span *sp, const char *name, lira_span_kind kind,
                        const lira_span_ctx *parent, int record);
void lira__span_ensure_id(lira_tracer *t, lira_span *sp);
int lira__span_wants_record(const lira_tracer *t, const lira_span *sp);
void lira__span_record_late(lira_tracer *t, lira_span *sp, const char *name, lira_span_kind kind,
                            int64_t start_unix_ns);

/* End sp now but keep its record (NULL: none) instead of exporting it; the
 * holder may still change it (its parent, attributes), then must submit it
 * (keep 1: export, 0: drop). The record counts as live until then. */
lira_span_data *lira__span_end_hold(lira_span *sp);
void lira__span_data_submit(lira_span_data *d, int keep);
void lira__span_data_set_str(lira_span_data *d, const char *key, const char *val, size_t len);

/* Attributes the engine sets once per span (never set before on it): no
 * scan for an existing key. Otherwise as lira_span_set_str/_int; klen is
 * the key's length; plain: LIRA_ATTR_PLAIN_* for what is known to need no
 * JSON escaping. ADD_STR/ADD_INT take a literal key (plain by
 * construction), ADD_PLAIN a value known plain too, ADD_MARKED one whose
 * plainness is given; DATA_ADD_STR is ADD_STR on a held record.
 * lira__span_set_int: a literal key that may have been set before (it is
 * replaced). */
void lira__span_data_add_str(lira_span_data *d, const char *key, size_t klen, const char *val,
                             size_t len, unsigned plain);
void lira__span_add_str(lira_span *sp, const char *key, size_t klen, const char *val,
                        size_t len, unsigned plain);
void lira__span_add_int(lira_span *sp, const char *key, size_t klen, int64_t v);
void lira__span_set_int(lira_span *sp, const char *key, size_t klen, int64_t v);
#define LIRA__ADD_MARKED(sp, k, v, n, vplain)                         \
    lira__span_add_str((sp), (k), sizeof(k) - 1, (v), (n),            \
                       LIRA_ATTR_PLAIN_KEY | ((vplain) ? LIRA_ATTR_PLAIN_VALUE : 0))
#define LIRA__ADD_STR(sp, k, v, n) LIRA__ADD_MARKED(sp, k, v, n, 0)
#define LIRA__ADD_PLAIN(sp, k, v, n) LIRA__ADD_MARKED(sp, k, v, n, 1)
#define LIRA__DATA_ADD_STR(d, k, v, n) \
    lira__span_data_add_str((d), (k), sizeof(k) - 1, (v), (n), LIRA_ATTR_PLAIN_KEY)
#define LIRA__ADD_INT(sp, k, v) lira__span_add_int((sp), (k), sizeof(k) - 1, (v))
#define LIRA__SET_INT(sp, k, v) lira__span_set_int((sp), (k), sizeof(k) - 1, (v))

/* trace_http.c: lira_span_start_http, with url.full, server.address and
 * server.port taken from the hub's memo entry for the URL (telemetry_url.h;
 * NULL = work them out here). */
struct lira_url_info;
int lira__span_start_http_url(lira_tracer *t, lira_span *sp, const lira_span_ctx *parent,
                              const char *method, const char *url, int resend_count,
                              const char *name, const struct lira_url_info *in);

/* trace_http.c: the outcome attributes and status of an attempt's span
 * (lira_span_end_http without the end). */
void lira__span_http_outcome(lira_span *sp, const lira_http_response *res);

/* Free t once nothing can reach it any more: the engine's hook ran, the hub
 * let go of it and no record is open. */
void lira__tracer_maybe_free(lira_tracer *t);

/* Flush the exporter (bounded, synchronous) and stop recording. */
void lira__tracer_close(lira_tracer *t);

/* trace_sink.c: register t as the hub's sink; free the per-call pool. */
int lira__trace_sink_attach(lira_tracer *t);
void lira__trace_sink_pool_free(lira_tracer *t);

#endif
