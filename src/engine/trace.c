/* trace.c — span contexts, span records and their attributes, spans. The
 * per-engine tracer that owns them is trace_tracer.c.
 *
 * A record (lira_span_data) belongs to its span until the span ends, then
 * to the exporter. Records count against their tracer (`live`), so that a
 * tracer torn down with the engine while spans are still open (a Lua span
 * not yet collected, a call being cancelled) stays allocated until the last
 * of them ends or is discarded: ending a span never touches freed memory. */
#include "trace.h"

#include <stdlib.h>
#include <string.h>

#include "otlp.h"
#include "redact.h"
#include "status.h"
#include "short_bytes.h"
#include "trace_impl.h"


/* ------------------------------------------------------------ context */

/* Keep the leading members of a tracestate that fit in `cap` bytes, cutting
 * at a ',' (a list member is never cut in half). 0 when it is not printable
 * ASCII (the spec: a tracestate that cannot be parsed is dropped). */
static size_t tracestate_keep(const char *s, size_t len, size_t cap)
{
    while (len && (*s == ' ' || *s == '\t'))
        s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return 0;
    if (len <= cap)
        return len;
    size_t cut = cap;
    while (cut > 0 && s[cut] != ',')
        cut--;
    while (cut > 0 && (s[cut - 1] == ' ' || s[cut - 1] == '\t' || s[cut - 1] == ','))
        cut--;
    return cut;
}

static void ctx_set_tracestate(lira_span_ctx *c, const char *s, size_t len)
{
    size_t start = 0;
    while (start < len && (s[start] == ' ' || s[start] == '\t'))
        start++;
    size_t n = tracestate_keep(s + start, len - start, LIRA_TRACESTATE_MAX);
    memcpy(c->tracestate, s + start, n);
    c->tracestate[n] = '\0';
    c->tracestate_len = (uint16_t)n;
}

int lira_trace_extract(const char *traceparent, size_t tp_len, const char *tracestate,
                       size_t ts_len, lira_span_ctx *out)
{
    if (!traceparent || !out)
        return LIRA_EINVAL;
    lira_traceparent tp;
    out->valid = 0;
    out->tracestate_len = 0;
    out->tracestate[0] = '\0';
    int rc = lira_traceparent_parse(traceparent, tp_len, &tp);
    if (rc != LIRA_OK)
        return rc;
    memcpy(out->trace_id, tp.trace_id, sizeof out->trace_id);
    memcpy(out->span_id, tp.span_id, sizeof out->span_id);
    out->flags = tp.flags & LIRA_TRACE_FLAG_SAMPLED;
    out->valid = 1;
    out->remote = 1;
    if (tracestate && ts_len)
        ctx_set_tracestate(out, tracestate, ts_len);
    return LIRA_OK;
}

int lira_span_ctx_traceparent(const lira_span_ctx *c, char *out, size_t cap)
{
    if (!c || !out || !c->valid)
        return LIRA_EINVAL;
    lira_traceparent tp = {.version = 0, .flags = c->flags};
    memcpy(tp.trace_id, c->trace_id, sizeof tp.trace_id);
    memcpy(tp.span_id, c->span_id, sizeof tp.span_id);
    return lira_traceparent_format(&tp, out, cap);
}

/* ------------------------------------------------------------ records */

/* Room for len more bytes in an arena that has run out of it: the record's
 * own arena moves to one block of the maximum (0: past the maximum, or no
 * memory: the caller drops what did not fit). Out of line: arena_put runs
 * for every key and value, this for few spans. */
__attribute__((noinline)) static int arena_room(lira_span_data *d, size_t len)
{
    if (d->arena != d->arena_inline || len > LIRA_SPAN_ARENA - d->arena_len)
        return 0;
    char *b = malloc(LIRA_SPAN_ARENA);
    if (!b)
        return 0;
    memcpy(b, d->arena, d->arena_len);
    d->arena = b;
    return 1;
}

/* The same for the attribute slots. */
__attribute__((noinline)) static int grow_attrs(lira_span_data *d)
{
    lira_span_attr *b = malloc(LIRA_SPAN_MAX_ATTRS * sizeof *b);
    if (!b)
        return 0;
    memcpy(b, d->attrs, d->nattrs * sizeof *b);
    d->attrs = b;
    return 1;
}

/* Back to what the record holds in itself (its blocks freed), for reuse. */
static void record_shrink(lira_span_data *d)
{
    if (d->attrs != d->attrs_inline)
        free(d->attrs);
    if (d->arena != d->arena_inline)
        free(d->arena);
    d->attrs = d->attrs_inline;
    d->arena = d->arena_inline;
}

/* Copy up to `len` bytes into the arena; 0 when it does not fit. */
static inline int arena_put(lira_span_data *d, const char *s, size_t len, uint16_t *off, uint16_t *n)
{
    size_t cap = d->arena == d->arena_inline ? LIRA_SPAN_INLINE_ARENA : LIRA_SPAN_ARENA;
    if (len > cap - d->arena_len && !arena_room(d, len))
        return 0;
    lira_short_copy(d->arena + d->arena_len, s, len);   /* keys, short values: no call */
    *off = (uint16_t)d->arena_len;
    *n = (uint16_t)len;
    d->arena_len += len;
    return 1;
}

/* The slot for `key`: the existing one (replaced; an old string value stays
 * in the arena) when `dedupe`, else a new one — the engine's own keys are
 * set once per span, so they skip the scan over the attributes so far.
 * key_plain: the key needs no JSON escaping (LIRA_ATTR_PLAIN_KEY). */
static lira_span_attr *data_slot_ex(lira_span_data *d, const char *key, size_t klen, int dedupe,
                                    int key_plain)
{
    if (!d || !key || !klen)
        return NULL;
    for (size_t i = 0; dedupe && i < d->nattrs; i++)
        if (d->attrs[i].key_len == klen && memcmp(d->arena + d->attrs[i].key_off, key, klen) == 0)
            return &d->attrs[i];
    if (d->nattrs == LIRA_SPAN_INLINE_ATTRS && d->attrs == d->attrs_inline && !grow_attrs(d)) {
        d->dropped_attrs++;
        return NULL;
    }
    lira_span_attr *a = &d->attrs[d->nattrs];
    if (d->nattrs == LIRA_SPAN_MAX_ATTRS || klen > UINT16_MAX ||
        !arena_put(d, key, klen, &a->key_off, &a->key_len)) {
        d->dropped_attrs++;
        return NULL;
    }
    a->plain = key_plain ? LIRA_ATTR_PLAIN_KEY : 0;
    d->nattrs++;
    return a;
}

static lira_span_attr *data_slot(lira_span_data *d, const char *key)
{
    return key ? data_slot_ex(d, key, strlen(key), 1, 0) : NULL;
}

static lira_span_attr *attr_slot(lira_span *sp, const char *key)
{
    return sp->started ? data_slot(sp->rec, key) : NULL;
}

static void data_set_str(lira_span_data *d, lira_span_attr *a, const char *val, size_t len,
                         int val_plain)
{
    if (len > LIRA_SPAN_MAX_VALUE)
        len = LIRA_SPAN_MAX_VALUE;   /* a plain value's prefix is plain */
    if (!arena_put(d, val ? val : "", len, &a->v.s.off, &a->v.s.len)) {
        d->nattrs--;   /* only a new attribute can fail here: it is the last */
        d->dropped_attrs++;
        return;
    }
    a->type = LIRA_ATTR_STR;
    a->plain = (uint8_t)((a->plain & LIRA_ATTR_PLAIN_KEY) | (val_plain ? LIRA_ATTR_PLAIN_VALUE : 0));
}

static void set_int(lira_span_attr *a, int64_t v)
{
    if (a)
        a->type = LIRA_ATTR_INT, a->v.i = v;
}

void lira__span_data_set_str(lira_span_data *d, const char *key, const char *val, size_t len)
{
    lira_span_attr *a = (val || !len) ? data_slot(d, key) : NULL;
    if (a)
        data_set_str(d, a, val, len, 0);
}

void lira__span_data_add_str(lira_span_data *d, const char *key, size_t klen, const char *val,
                             size_t len, unsigned plain)
{
    lira_span_attr *a = (val || !len) ? data_slot_ex(d, key, klen, 0, plain & LIRA_ATTR_PLAIN_KEY)
                                      : NULL;
    if (a)
        data_set_str(d, a, val, len, plain & LIRA_ATTR_PLAIN_VALUE);
}

void lira__span_add_str(lira_span *sp, const char *key, size_t klen, const char *val, size_t len,
                        unsigned plain)
{
    if (sp && sp->started)
        lira__span_data_add_str(sp->rec, key, klen, val, len, plain);
}

void lira__span_add_int(lira_span *sp, const char *key, size_t klen, int64_t v)
{
    set_int(sp && sp->started ? data_slot_ex(sp->rec, key, klen, 0, 1) : NULL, v);
}

void lira__span_set_int(lira_span *sp, const char *key, size_t klen, int64_t v)
{
    set_int(sp && sp->started ? data_slot_ex(sp->rec, key, klen, 1, 1) : NULL, v);
}

void lira_span_set_str(lira_span *sp, const char *key, const char *val, size_t len)
{
    if (!sp || (!val && len))
        return;
    lira_span_attr *a = attr_slot(sp, key);
    if (a)
        data_set_str(sp->rec, a, val, len, 0);
}

void lira_span_set_int(lira_span *sp, const char *key, int64_t v)
{
    set_int(sp ? attr_slot(sp, key) : NULL, v);
}

void lira_span_set_double(lira_span *sp, const char *key, double v)
{
    lira_span_attr *a = sp ? attr_slot(sp, key) : NULL;
    if (a)
        a->type = LIRA_ATTR_DOUBLE, a->v.d = v;
}

void lira_span_set_bool(lira_span *sp, const char *key, int v)
{
    lira_span_attr *a = sp ? attr_slot(sp, key) : NULL;
    if (a)
        a->type = LIRA_ATTR_BOOL, a->v.b = v != 0;
}

void lira_span_set_status(lira_span *sp, lira_span_status st, const char *msg)
{
    if (!sp || !sp->rec || !sp->started || (unsigned)st > LIRA_STATUS_ERROR)
        return;
    lira_span_data *d = sp->rec;
    d->status = st;
    d->msg_len = 0;
    if (st == LIRA_STATUS_ERROR && msg && *msg) {
        size_t n = strlen(msg);
        arena_put(d, msg, n > LIRA_SPAN_MAX_VALUE ? LIRA_SPAN_MAX_VALUE : n, &d->msg_off,
                  &d->msg_len);
    }
}

/* ------------------------------------------------------------ spans */

/* A record is over (exported, dropped or discarded): the tracer may go. */
static void record_done(lira_tracer *t)
{
    if (t->live)
        t->live--;
    lira__tracer_maybe_free(t);
}

static lira_span_data *record_new(lira_tracer *t, const lira_span *sp, const char *name,
                                  lira_span_kind kind)
{
    lira_span_data *d = t->spare;
    if (d)
        t->spare = d->next, t->nspare--;
    else if (!(d = malloc(sizeof *d))) {
        t->stats.no_memory++;
        return NULL;
    }
    /* Only the header is cleared: the attribute slots and the arena are
     * written before they are read. */
    memset(d, 0, offsetof(lira_span_data, attrs));
    d->attrs = d->attrs_inline;   /* a spare record was shrunk when it came back */
    d->arena = d->arena_inline;
    d->arena_len = 0;
    d->tracer = t;
    memcpy(d->trace_id, sp->ctx.trace_id, sizeof d->trace_id);
    memcpy(d->span_id, sp->ctx.span_id, sizeof d->span_id);
    memcpy(d->parent_span_id, sp->parent_span_id, sizeof d->parent_span_id);
    d->has_parent = sp->has_parent;
    d->flags = sp->ctx.flags;
    d->kind = kind;
    d->start_unix_ns = lira_engine_wall(t->e);
    size_t n = strlen(name);
    arena_put(d, name, n > LIRA_SPAN_MAX_NAME ? LIRA_SPAN_MAX_NAME : n, &d->name_off, &d->name_len);
    if (sp->ctx.tracestate_len)
        arena_put(d, sp->ctx.tracestate, sp->ctx.tracestate_len, &d->ts_off, &d->ts_len);
    t->live++;
    t->stats.recorded++;
    return d;
}

int lira_span_start(lira_tracer *t, lira_span *sp, const char *name, lira_span_kind kind,
                    const lira_span_ctx *parent)
{
    return lira__span_start_ex(t, sp, name, kind, parent, LIRA__SPAN_RECORD);
}

int lira__span_start_ex(lira_tracer *t, lira_span *sp, const char *name, lira_span_kind kind,
                        const lira_span_ctx *parent, int record)
{
    if (!t || !sp || kind < LIRA_SPAN_INTERNAL || kind > LIRA_SPAN_CONSUMER)
        return LIRA_EINVAL;
    lira_rng *rng = lira_engine_rng(t->e);
    sp->rec = NULL;
    sp->started = 1;
    sp->ctx.valid = 1;
    sp->ctx.remote = 0;
    if (parent && parent->valid) {
        memcpy(sp->ctx.trace_id, parent->trace_id, sizeof sp->ctx.trace_id);
        memcpy(sp->parent_span_id, parent->span_id, sizeof sp->parent_span_id);
        sp->has_parent = 1;
        sp->ctx.tracestate_len = parent->tracestate_len;
        memcpy(sp->ctx.tracestate, parent->tracestate, (size_t)parent->tracestate_len + 1);
    } else {
        lira_trace_id_new(rng, sp->ctx.trace_id);
        memset(sp->parent_span_id, 0, sizeof sp->parent_span_id);
        sp->has_parent = 0;
        sp->ctx.tracestate_len = 0;
        sp->ctx.tracestate[0] = '\0';
        parent = NULL;
    }
    int sampled = lira_sampler_decide(&t->sampler, parent, sp->ctx.trace_id);
    sp->ctx.flags = sampled ? LIRA_TRACE_FLAG_SAMPLED : 0;
    if ((record & LIRA__SPAN_LAZY_ID) && !sampled)
        memset(sp->ctx.span_id, 0, sizeof sp->ctx.span_id);   /* lira__span_ensure_id */
    else
        lira_span_id_new(rng, sp->ctx.span_id);
    t->stats.started++;
    if ((record & LIRA__SPAN_RECORD) && sampled && t->exporter && !t->closed)
        sp->rec = record_new(t, sp, name ? name : "span", kind);
    return LIRA_OK;
}

void lira__span_ensure_id(lira_tracer *t, lira_span *sp)
{
    static const uint8_t none[LIRA_SPAN_ID_SIZE];
    if (memcmp(sp->ctx.span_id, none, sizeof none) == 0)
        lira_span_id_new(lira_engine_rng(t->e), sp->ctx.span_id);
}

int lira__span_wants_record(const lira_tracer *t, const lira_span *sp)
{
    return (sp->ctx.flags & LIRA_TRACE_FLAG_SAMPLED) && t->exporter && !t->closed;
}

void lira__span_record_late(lira_tracer *t, lira_span *sp, const char *name, lira_span_kind kind,
                            int64_t start_unix_ns)
{
    if (sp->started && !sp->rec && lira__span_wants_record(t, sp)) {
        sp->rec = record_new(t, sp, name ? name : "span", kind);
        if (sp->rec)
            sp->rec->start_unix_ns = start_unix_ns;
    }
}

/* A record leaves its span or its holder: to the exporter (`keep`, while
 * the tracer still has one) or dropped. */
static void submit(lira_span_data *d, int keep)
{
    lira_tracer *t = d->tracer;
    if (!keep || t->closed || !t->exporter) {
        t->stats.discarded++;
        lira_span_data_release(d);
    } else {
        lira_otlp_enqueue(t->exporter, d);   /* owns d now, even on error */
    }
    record_done(t);
}

/* End the span: its record goes to the exporter or is dropped. */
static void finish(lira_span *sp, int keep)
{
    sp->started = 0;
    lira_span_data *d = sp->rec;
    sp->rec = NULL;
    if (!d)
        return;
    lira_tracer *t = d->tracer;
    if (keep && !t->closed && t->exporter)   /* a closed tracer's engine may be gone */
        d->end_unix_ns = lira_engine_wall(t->e);
    submit(d, keep);
}

lira_span_data *lira__span_end_hold(lira_span *sp)
{
    if (!sp->started)
        return NULL;
    sp->started = 0;
    lira_span_data *d = sp->rec;
    sp->rec = NULL;
    if (d && !d->tracer->closed)   /* a closed tracer's engine may be gone */
        d->end_unix_ns = lira_engine_wall(d->tracer->e);
    return d;
}

void lira__span_data_submit(lira_span_data *d, int keep)
{
    if (d)
        submit(d, keep);
}

void lira_span_end(lira_span *sp)
{
    if (sp && sp->started)
        finish(sp, 1);
}

void lira_span_discard(lira_span *sp)
{
    if (sp)
        finish(sp, 0);
}

void lira_span_data_release(lira_span_data *d)
{
    if (!d)
        return;
    lira_tracer *t = d->tracer;
    record_shrink(d);
    /* A tracer whose engine is gone is about to free itself: no reuse. */
    if (t && t->nspare < LIRA_SPAN_SPARE_MAX && !t->engine_gone) {
        d->next = t->spare;
        t->spare = d;
        t->nspare++;
    } else {
        free(d);
    }
}

int lira_span_traceparent(const lira_span *sp, char *out, size_t cap)
{
    return sp ? lira_span_ctx_traceparent(&sp->ctx, out, cap) : LIRA_EINVAL;
}

const char *lira_span_tracestate(const lira_span *sp)
{
    return sp && sp->ctx.valid && sp->ctx.tracestate_len ? sp->ctx.tracestate : NULL;
}
