/* trace_impl.h — the tracer record that trace.c and trace_sink.c share.
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

/* Free t once nothing can reach it any more: the engine's hook ran, the hub
 * let go of it and no record is open. */
void lira__tracer_maybe_free(lira_tracer *t);

/* Flush the exporter (bounded, synchronous) and stop recording. */
void lira__tracer_close(lira_tracer *t);

/* trace_sink.c: register t as the hub's sink; free the per-call pool. */
int lira__trace_sink_attach(lira_tracer *t);
void lira__trace_sink_pool_free(lira_tracer *t);

#endif
