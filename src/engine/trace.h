/* trace.h — OpenTelemetry spans, sampling and W3C Trace Context.
 *
 * One tracer per engine (lira_tracer_get). A span is a small struct the
 * caller embeds (lira_span): its context (ids, flags, tracestate) is always
 * filled, so context propagates even when nothing is recorded; the
 * recording part (name, times, attributes, status) is a separate block that
 * exists only when the span is sampled AND an OTLP endpoint is configured.
 * Without an endpoint, starting and ending a span draws one span id from
 * the engine's rng and allocates nothing.
 *
 * Sampling (OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG): always_on,
 * always_off, traceidratio, parentbased_always_on (the default),
 * parentbased_always_off, parentbased_traceidratio. traceidratio samples a
 * trace when the lower 8 bytes of its trace id, read big-endian, are below
 * ratio * 2^64, so every span of a trace gets the same answer. The
 * parent-based ones follow the parent's sampled flag when there is a parent
 * (remote or local alike) and use the named root sampler otherwise.
 *
 * Current span. The tracer keeps a small stack of contexts (push/pop) for
 * code that runs on the loop with no Lua coroutine of its own (the runtime's
 * integration runs and webhook deliveries). The Lua binding keeps its own
 * current span per coroutine (lua_trace.c) and falls back to this stack.
 *
 * Pipeline integration goes through the telemetry hub (telemetry.h): the
 * tracer registers itself as the hub's sink (trace_sink.c), so the pipeline
 * makes the hub's calls and nothing here directly:
 *
 *   lira_telemetry_call_start     -> the context of a logical-call span
 *                                    (INTERNAL), child of lira_tracer_current()
 *   lira_telemetry_attempt_start  -> a CLIENT span per attempt, child of the
 *                                    call span; fills the traceparent buffer
 *                                    (send "traceparent: <value>" when non-empty)
 *   lira_trace_call_tracestate    -> the tracestate to send too (NULL = none)
 *   lira_telemetry_attempt_end    -> ends the attempt span with its outcome
 *   lira_telemetry_call_end       -> ends the call (and an attempt span still
 *                                    open, as cancelled)
 *
 * The call span is recorded only for a call of several attempts (or none);
 * a single attempt's span stands for the call, re-parented to the call's
 * parent (trace_sink.c), so most calls record one span, not two.
 *
 * The caller's current span must be on the tracer's stack while
 * lira_telemetry_call_start runs: the Lua binding wraps lira_call_start in
 * lira_lua_trace_enter/leave (lua_trace.h).
 *
 * Threading: the engine's loop thread only. */
#ifndef LIRA_TRACE_H
#define LIRA_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "ids.h"
#include "transport.h"

/* ------------------------------------------------------------ context */

#define LIRA_TRACESTATE_MAX 512   /* bytes of tracestate kept and propagated */

/* A span context: what travels in traceparent/tracestate. `valid` is 0 for
 * "no context" (all other fields are then meaningless). Plain data: copy it
 * with `=`. */
typedef struct lira_span_ctx {
    uint8_t trace_id[LIRA_TRACE_ID_SIZE];
    uint8_t span_id[LIRA_SPAN_ID_SIZE];
    uint8_t flags;                /* LIRA_TRACE_FLAG_SAMPLED or 0 */
    uint8_t valid;                /* 1: a context */
    uint8_t remote;               /* 1: extracted from an inbound request */
    uint16_t tracestate_len;      /* 0 = none */
    char tracestate[LIRA_TRACESTATE_MAX + 1];   /* NUL-terminated */
} lira_span_ctx;

/* Extract the context of an inbound request from its traceparent (required)
 * and tracestate (NULL or ts_len 0 = none) header values. A tracestate that
 * is not printable ASCII is ignored (the traceparent still counts); one
 * longer than LIRA_TRACESTATE_MAX keeps its leading list members that fit.
 * LIRA_EINVAL (NULL traceparent/out), LIRA_EPARSE (traceparent rejected by
 * lira_traceparent_parse; *out is then set to no context). */
int lira_trace_extract(const char *traceparent, size_t tp_len, const char *tracestate,
                       size_t ts_len, lira_span_ctx *out);

/* The version-00 traceparent value of a context (55 characters + NUL).
 * LIRA_EINVAL (NULL, no context), LIRA_ETOOBIG (cap < LIRA_TRACEPARENT_STR_SIZE). */
int lira_span_ctx_traceparent(const lira_span_ctx *c, char *out, size_t cap);

/* ------------------------------------------------------------ sampler */

typedef enum lira_sampler_kind {
    LIRA_SAMPLER_ALWAYS_ON = 0,
    LIRA_SAMPLER_ALWAYS_OFF,
    LIRA_SAMPLER_TRACEIDRATIO,
    LIRA_SAMPLER_PARENT_ALWAYS_ON,
    LIRA_SAMPLER_PARENT_ALWAYS_OFF,
    LIRA_SAMPLER_PARENT_TRACEIDRATIO
} lira_sampler_kind;

typedef struct lira_sampler {
    lira_sampler_kind kind;
    double ratio;                 /* [0, 1]; for the traceidratio kinds */
    uint64_t bound;               /* ratio * 2^64 (saturated) */
    int all;                      /* ratio >= 1: every trace */
} lira_sampler;

/* LIRA_EINVAL: NULL s, unknown kind, ratio NaN or outside [0, 1]. */
int lira_sampler_init(lira_sampler *s, lira_sampler_kind kind, double ratio);

/* From the environment's values (either may be NULL). The default is
 * parentbased_always_on; a missing or bad ratio means 1.0. Returns
 * LIRA_EPARSE for an unknown sampler name or a bad argument, after filling
 * *s with the default (unknown name) or ratio 1.0 (bad argument), as the
 * OpenTelemetry spec asks of an SDK: warn, then go on with the default. */
int lira_sampler_from_env(lira_sampler *s, const char *name, const char *arg);

/* 1 = sample, 0 = do not. `parent` NULL or !parent->valid = a root span. */
int lira_sampler_decide(const lira_sampler *s, const lira_span_ctx *parent,
                        const uint8_t trace_id[LIRA_TRACE_ID_SIZE]);

/* "parentbased_always_on", ... (static). */
const char *lira_sampler_name(lira_sampler_kind k);

/* ------------------------------------------------------------ spans */

/* OTLP's SpanKind numbers. */
typedef enum lira_span_kind {
    LIRA_SPAN_INTERNAL = 1,
    LIRA_SPAN_SERVER = 2,
    LIRA_SPAN_CLIENT = 3,
    LIRA_SPAN_PRODUCER = 4,
    LIRA_SPAN_CONSUMER = 5
} lira_span_kind;

/* OTLP's Status.code numbers. */
typedef enum lira_span_status {
    LIRA_STATUS_UNSET = 0,
    LIRA_STATUS_OK = 1,
    LIRA_STATUS_ERROR = 2
} lira_span_status;

#define LIRA_SPAN_MAX_ATTRS     32    /* attributes per span; more are dropped (counted) */
#define LIRA_SPAN_ARENA        3072   /* bytes of name, keys and string values per span */
/* What a record holds in itself (an HTTP span fits); a span that sets more
 * gets one block of the maximum for its attributes or its arena. */
#define LIRA_SPAN_INLINE_ATTRS  12
#define LIRA_SPAN_INLINE_ARENA 512
#define LIRA_SPAN_MAX_VALUE    1024   /* a string value is cut to this many bytes */
#define LIRA_SPAN_MAX_NAME      256   /* a span name is cut to this many bytes */

typedef enum lira_attr_type { LIRA_ATTR_STR = 1, LIRA_ATTR_INT, LIRA_ATTR_DOUBLE, LIRA_ATTR_BOOL } lira_attr_type;

/* One attribute of a recorded span; strings live in the span's arena
 * (offsets: the arena moves when it grows). */
/* lira_span_attr.plain: what its writer knew to need no JSON escaping
 * (printable ASCII without '"' or '\\'), so the encoder copies it as it
 * is; a string not marked is checked there. */
#define LIRA_ATTR_PLAIN_KEY   1
#define LIRA_ATTR_PLAIN_VALUE 2

typedef struct lira_span_attr {
    uint16_t key_off, key_len;
    uint8_t type;                 /* lira_attr_type */
    uint8_t plain;                /* LIRA_ATTR_PLAIN_* */
    union {
        int64_t i;
        double d;
        int b;
        struct { uint16_t off, len; } s;
    } v;
} lira_span_attr;

typedef struct lira_tracer lira_tracer;

/* What is recorded of a sampled span, handed to the exporter at its end.
 * Readers (the OTLP encoder, tests) use the fields; only trace.c writes. */
typedef struct lira_span_data {
    struct lira_span_data *next;  /* the exporter's queue link */
    lira_tracer *tracer;          /* the tracer it returns to at its end */
    uint8_t trace_id[LIRA_TRACE_ID_SIZE];
    uint8_t span_id[LIRA_SPAN_ID_SIZE];
    uint8_t parent_span_id[LIRA_SPAN_ID_SIZE];
    uint8_t has_parent;
    uint8_t flags;
    lira_span_kind kind;
    int64_t start_unix_ns, end_unix_ns;
    lira_span_status status;
    uint16_t name_off, name_len;
    uint16_t msg_off, msg_len;    /* status message (msg_len 0 = none) */
    uint16_t ts_off, ts_len;      /* tracestate (ts_len 0 = none) */
    uint32_t dropped_attrs;       /* over LIRA_SPAN_MAX_ATTRS or the arena */
    size_t nattrs;
    lira_span_attr *attrs;        /* attrs_inline, or a block of LIRA_SPAN_MAX_ATTRS */
    size_t arena_len;
    char *arena;                  /* arena_inline, or a block of LIRA_SPAN_ARENA */
    lira_span_attr attrs_inline[LIRA_SPAN_INLINE_ATTRS];
    char arena_inline[LIRA_SPAN_INLINE_ARENA];
} lira_span_data;

/* A span, embedded by its owner. Zero it (or let start fill it) before use;
 * start it once, end it once. */
typedef struct lira_span {
    lira_span_ctx ctx;            /* this span's context: what children and
                                     outbound requests propagate */
    uint8_t parent_span_id[LIRA_SPAN_ID_SIZE];
    uint8_t has_parent;
    uint8_t started;              /* 1 between start and end */
    lira_span_data *rec;          /* NULL = not recorded (unsampled or no exporter) */
} lira_span;

/* Start a span as a child of `parent` (NULL or !valid: a root span with a new
 * trace id). The child gets the parent's trace id and tracestate and a new
 * span id; the sampler decides its flags; it is recorded when sampled and
 * the tracer exports. `name` (NULL = "span") is cut to LIRA_SPAN_MAX_NAME.
 * Start time: lira_engine_wall() now. sp is overwritten.
 * LIRA_EINVAL (NULL t/sp, bad kind). Never fails for lack of memory: a record
 * that cannot be allocated leaves the span unrecorded (counted in stats). */
int lira_span_start(lira_tracer *t, lira_span *sp, const char *name, lira_span_kind kind,
                    const lira_span_ctx *parent);

/* Attributes. A no-op on an unrecorded or ended span. Setting a key that is
 * already there replaces it; past LIRA_SPAN_MAX_ATTRS, or when the arena is
 * full, the attribute is dropped and counted (droppedAttributesCount).
 * String values are cut to LIRA_SPAN_MAX_VALUE bytes. key must be
 * NUL-terminated and non-empty; `len` is the value's length in bytes. */
void lira_span_set_str(lira_span *sp, const char *key, const char *val, size_t len);
void lira_span_set_int(lira_span *sp, const char *key, int64_t v);
void lira_span_set_double(lira_span *sp, const char *key, double v);
void lira_span_set_bool(lira_span *sp, const char *key, int v);

/* Status: ERROR with a message (NULL = none), OK, or UNSET. No-op when
 * unrecorded. */
void lira_span_set_status(lira_span *sp, lira_span_status st, const char *msg);

/* End the span now (lira_engine_wall). A recorded span goes to the
 * exporter's queue (or is dropped and counted when the queue is full, or
 * freed when its tracer is shutting down). Idempotent; no-op on a span
 * never started. */
void lira_span_end(lira_span *sp);

/* Forget a span without exporting it (a Lua span collected while still
 * open). Frees its record; never touches an engine. */
void lira_span_discard(lira_span *sp);

/* Give back a record the exporter is done with (sent or dropped): its
 * tracer keeps up to LIRA_SPAN_SPARE_MAX for reuse and frees the rest. The
 * cap is a default batch (512): a batch that comes back all at once feeds
 * the next batch's spans without a malloc each, as with a 64 cap it had
 * malloc'd 7 in 8 of them again. At about 0.8 KB a record (its blocks for
 * a larger span freed first) that is ~0.4 MB kept at most.
 * NULL is a no-op. Only the exporter (otlp.c) and trace.c call it. */
#define LIRA_SPAN_SPARE_MAX 512
void lira_span_data_release(lira_span_data *d);

/* The traceparent of the span's context (what to send with an outbound
 * request this span stands for). Errors as lira_span_ctx_traceparent. */
int lira_span_traceparent(const lira_span *sp, char *out, size_t cap);

/* The tracestate to send along, or NULL when there is none. */
const char *lira_span_tracestate(const lira_span *sp);

/* ------------------------------------------------------------ HTTP client spans */

/* Start the CLIENT span of one HTTP attempt, child of `parent`, with the
 * OpenTelemetry HTTP client attributes: http.request.method (upper-case;
 * a method outside the well-known set becomes "_OTHER" with
 * http.request.method_original), url.full (passed through lira_redact_url),
 * server.address and server.port (from the URL; the scheme's default port
 * when none is written), and http.request.resend_count when resend_count >
 * 0 (attempt 2 sends 1). The name is `name` when given (e.g. "GET
 * /orders/{id}"), else the method. Errors as lira_span_start, plus
 * LIRA_EINVAL for NULL method/url. */
int lira_span_start_http(lira_tracer *t, lira_span *sp, const lira_span_ctx *parent,
                         const char *method, const char *url, int resend_count,
                         const char *name);

/* End an attempt's span with its outcome: http.response.status_code when a
 * status arrived; error.type = the failure's kind ("timeout", "connect",
 * ...) on a failure, or the status code as text for a 4xx/5xx; status ERROR
 * in both cases. res NULL = the attempt was abandoned (error.type
 * "cancelled"). Then lira_span_end. */
void lira_span_end_http(lira_span *sp, const lira_http_response *res);

/* ------------------------------------------------------------ tracer */

typedef struct lira_otlp lira_otlp;
struct lira_tel_call;

/* The tracestate to send with the attempt of `tc` that the hub's
 * attempt_start just began, or NULL (none, or tracing is not attached). */
const char *lira_trace_call_tracestate(const struct lira_tel_call *tc);

typedef struct lira_trace_stats {
    uint64_t started;             /* spans started (recorded or not) */
    uint64_t recorded;            /* spans with a record */
    uint64_t no_memory;           /* sampled spans left unrecorded for lack of memory */
    uint64_t discarded;           /* records freed without export (discard, shutdown) */
} lira_trace_stats;

/* The engine's tracer, created on first use from the environment
 * (OTEL_TRACES_SAMPLER[_ARG], OTEL_SDK_DISABLED=true or
 * OTEL_TRACES_EXPORTER=none turn export off, and the OTLP variables of
 * otlp.h) and freed with the engine; its exporter, if any, is flushed when
 * the engine is freed (otlp.h). It registers itself as the sink of the
 * engine's telemetry hub (creating the hub). NULL when it cannot be created
 * (no memory). */
lira_tracer *lira_tracer_get(lira_engine *e);

/* The engine's tracer if it exists, else NULL (never creates one). */
lira_tracer *lira_tracer_peek(const lira_engine *e);

/* Create a tracer for `e` with `sampler` (NULL = parentbased_always_on) and
 * exporter `x` (NULL = record nothing; else the tracer owns it), and make it
 * the engine's tracer (the hub's sink), replacing an earlier one (which is
 * flushed — synchronously, bounded — and stops recording). Tests and the
 * runtime use it to pick a configuration without environment variables.
 * When no hub can be created (LIRA_LOG_FILE cannot be opened) the tracer
 * still works for explicit spans, but calls are not traced.
 * LIRA_EINVAL (NULL e, x of another engine), LIRA_ENOMEM (x is then freed). */
int lira_tracer_install(lira_engine *e, const lira_sampler *sampler, lira_otlp *x,
                        lira_tracer **out);

lira_engine *lira_tracer_engine(const lira_tracer *t);
const lira_sampler *lira_tracer_sampler(const lira_tracer *t);

/* Use `s` (copied) for the spans started from now on; a span keeps the
 * decision it was started with. LIRA_EINVAL for NULL. */
int lira_tracer_set_sampler(lira_tracer *t, const lira_sampler *s);

/* The exporter, or NULL when nothing is exported (then nothing is recorded). */
lira_otlp *lira_tracer_exporter(const lira_tracer *t);

void lira_tracer_stats(const lira_tracer *t, lira_trace_stats *out);

/* OpenTelemetry's ForceFlush, one step: send the ended spans now instead of
 * at the batch delay (asynchronous, as lira_otlp_flush) and return how many
 * are still on their way (lira_otlp_pending). 0 with no exporter or NULL.
 * Called again while spans are pending it sends the next batch as soon as
 * the one in flight is answered; lira.trace.flush loops on it. */
size_t lira_tracer_flush(lira_tracer *t);

/* The C-level current span (see the top): push a context (copied; depth is
 * capped at LIRA_TRACE_STACK_MAX: LIRA_ETOOBIG), pop it, read the top (NULL
 * when empty). */
#define LIRA_TRACE_STACK_MAX 16
int lira_tracer_push(lira_tracer *t, const lira_span_ctx *c);
void lira_tracer_pop(lira_tracer *t);
const lira_span_ctx *lira_tracer_current(const lira_tracer *t);

#endif
