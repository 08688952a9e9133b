/* trace_tracer.c — the per-engine tracer (trace.h, "Tracer"): made from
 * the environment or installed, closed and freed with its engine (after its
 * last open span: trace.c), its stats, ForceFlush, and the C-level stack of
 * current span contexts. */
#include <stdlib.h>
#include <string.h>

#include "otlp.h"
#include "status.h"
#include "trace.h"
#include "trace_impl.h"

/* ------------------------------------------------------------ tracer */

void lira__tracer_maybe_free(lira_tracer *t)
{
    if (!t->engine_gone || t->sink_attached || t->live)
        return;
    lira_otlp_free(t->exporter);
    lira__trace_sink_pool_free(t);
    while (t->spare) {
        lira_span_data *d = t->spare;
        t->spare = d->next;
        free(d);
    }
    free(t);
}

void lira__tracer_close(lira_tracer *t)
{
    if (t->closed)
        return;
    t->closed = 1;
    if (t->exporter)
        lira_otlp_shutdown(t->exporter, lira_otlp_get_config(t->exporter)->shutdown_timeout_ns);
}

static void on_engine_free(void *ud)
{
    lira_tracer *t = ud;
    lira__tracer_close(t);
    t->engine_gone = 1;
    lira__tracer_maybe_free(t);
}

static const char *env_get(void *ud, const char *name)
{
    (void)ud;
    return getenv(name);
}

static int env_true(const char *v)
{
    return v && (strcmp(v, "true") == 0 || strcmp(v, "TRUE") == 0 || strcmp(v, "True") == 0);
}

/* The exporter the environment asks for, or NULL (none, or it cannot be). */
static lira_otlp *exporter_from_env(lira_engine *e)
{
    const char *which = getenv("OTEL_TRACES_EXPORTER");
    if (env_true(getenv("OTEL_SDK_DISABLED")) || (which && strcmp(which, "none") == 0))
        return NULL;
    lira_otlp_config c;
    lira_otlp *x = NULL;
    if (lira_otlp_config_from_env(&c, env_get, NULL) == LIRA_ENOMEM)
        return NULL;
    if (c.url)
        lira_otlp_new(e, &c, &x);
    lira_otlp_config_free(&c);
    return x;
}

lira_tracer *lira_tracer_get(lira_engine *e)
{
    lira_tracer *t = lira_tracer_peek(e);
    if (t || !e)
        return t;
    lira_sampler s;
    lira_sampler_from_env(&s, getenv("OTEL_TRACES_SAMPLER"), getenv("OTEL_TRACES_SAMPLER_ARG"));
    lira_tracer_install(e, &s, exporter_from_env(e), &t);
    return t;
}

int lira_tracer_install(lira_engine *e, const lira_sampler *sampler, lira_otlp *x,
                        lira_tracer **out)
{
    if (!e || (x && lira_otlp_engine(x) != e)) {
        lira_otlp_free(x);
        return LIRA_EINVAL;
    }
    /* The transport's close hook must be registered before ours: hooks run
     * latest first, and the flush at engine free needs the transport. */
    if (x)
        (void)lira_engine_transport(e);
    lira_tracer *t = calloc(1, sizeof *t);
    if (!t || lira_engine_on_free(e, on_engine_free, t) != LIRA_OK) {
        free(t);
        lira_otlp_free(x);
        return LIRA_ENOMEM;
    }
    t->e = e;
    t->exporter = x;
    if (sampler)
        t->sampler = *sampler;
    else
        lira_sampler_init(&t->sampler, LIRA_SAMPLER_PARENT_ALWAYS_ON, 1.0);
    /* Without a hub (it could not be created) spans still work for Lua;
     * calls are then simply not traced. */
    lira__trace_sink_attach(t);
    if (out)
        *out = t;
    return LIRA_OK;
}

lira_engine *lira_tracer_engine(const lira_tracer *t) { return t ? t->e : NULL; }
const lira_sampler *lira_tracer_sampler(const lira_tracer *t) { return t ? &t->sampler : NULL; }

int lira_tracer_set_sampler(lira_tracer *t, const lira_sampler *s)
{
    if (!t || !s)
        return LIRA_EINVAL;
    t->sampler = *s;
    return LIRA_OK;
}
lira_otlp *lira_tracer_exporter(const lira_tracer *t) { return t ? t->exporter : NULL; }

void lira_tracer_stats(const lira_tracer *t, lira_trace_stats *out)
{
    if (t && out)
        *out = t->stats;
}

size_t lira_tracer_flush(lira_tracer *t)
{
    if (!t || !t->exporter || t->closed)
        return 0;
    lira_otlp_flush(t->exporter);
    return lira_otlp_pending(t->exporter);
}

int lira_tracer_push(lira_tracer *t, const lira_span_ctx *c)
{
    if (!t || !c)
        return LIRA_EINVAL;
    if (t->depth == LIRA_TRACE_STACK_MAX)
        return LIRA_ETOOBIG;
    t->stack[t->depth++] = *c;
    return LIRA_OK;
}

void lira_tracer_pop(lira_tracer *t)
{
    if (t && t->depth)
        t->depth--;
}

const lira_span_ctx *lira_tracer_current(const lira_tracer *t)
{
    return t && t->depth ? &t->stack[t->depth - 1] : NULL;
}
