/* otlp.h — export spans with OTLP/HTTP, JSON encoding.
 *
 * Spans that end go into a bounded queue. A batch (up to max_batch spans)
 * leaves when the queue holds a full batch, or `delay` after the first span
 * of a batch was queued (a weak engine timer: it never keeps a plain host's
 * loop alive), one request in flight at a time, POSTed on the engine's own
 * transport (lira_engine_transport) — never blocking the loop. A full queue
 * drops the new span and counts it. A batch answered 429 or 5xx, or lost to
 * a network failure, is sent again after a backoff (full jitter, at least
 * the Retry-After the collector asked for, at most max_retries times), then
 * dropped and counted; any other answer (a 4xx: the collector will never take
 * it) drops it at once. The OTLP spec lists only 429/502/503/504 as
 * retryable; lira also retries 500 and the other 5xx, as the issue asks,
 * since a collector behind a proxy may say 500 for a passing overload.
 *
 * Shutdown: when the engine is freed, the exporter sends what is queued and
 * waits for it — stepping the engine itself, at most `shutdown_timeout`
 * of real time (default 2 s) — then drops and counts whatever is left.
 * Retries are not waited for during shutdown.
 *
 * The JSON is the protobuf JSON mapping of ExportTraceServiceRequest
 * (opentelemetry-proto collector/trace/v1) with OTLP's exceptions: trace and
 * span ids are lower-case hex strings, times are decimal strings of unix
 * nanoseconds, kind and status code are enum numbers, int attribute values
 * are decimal strings ("intValue":"200"). Strings are valid UTF-8 (an
 * invalid byte becomes U+FFFD).
 *
 * Configuration (lira_otlp_config_from_env), all standard OpenTelemetry
 * variables:
 *   OTEL_EXPORTER_OTLP_TRACES_ENDPOINT   the full URL, used as is
 *   OTEL_EXPORTER_OTLP_ENDPOINT          base URL; "/v1/traces" is appended
 *   OTEL_EXPORTER_OTLP_HEADERS           "k=v,k2=v2", values percent-decoded;
 *   OTEL_EXPORTER_OTLP_TRACES_HEADERS    the same, per key winning over the above
 *   OTEL_EXPORTER_OTLP[_TRACES]_TIMEOUT  ms per export request (default 10000)
 *   OTEL_SERVICE_NAME                    resource service.name (wins)
 *   OTEL_RESOURCE_ATTRIBUTES             "k=v,...", values percent-decoded
 *   OTEL_BSP_MAX_QUEUE_SIZE (2048), OTEL_BSP_MAX_EXPORT_BATCH_SIZE (512),
 *   OTEL_BSP_SCHEDULE_DELAY (ms, 5000)
 * Only http/json is spoken; OTEL_EXPORTER_OTLP[_TRACES]_PROTOCOL is ignored.
 *
 * Threading: the engine's loop thread only. */
#ifndef LIRA_OTLP_H
#define LIRA_OTLP_H

#include <stddef.h>
#include <stdint.h>

#include "backoff.h"
#include "engine.h"
#include "trace.h"

#define LIRA_OTLP_MAX_HEADERS    32
#define LIRA_OTLP_MAX_RESOURCE   32     /* resource attributes */
#define LIRA_OTLP_MAX_BODY (16u * 1024 * 1024)   /* one request's JSON, bytes */

typedef struct lira_otlp_kv {
    char *key;
    char *value;
} lira_otlp_kv;

typedef struct lira_otlp_config {
    char *url;                         /* full traces URL; NULL = export nothing */
    lira_otlp_kv headers[LIRA_OTLP_MAX_HEADERS];
    size_t nheaders;
    lira_otlp_kv resource[LIRA_OTLP_MAX_RESOURCE];   /* service.name included */
    size_t nresource;
    size_t max_queue;                  /* spans; >= 1 */
    size_t max_batch;                  /* spans per request; 1..max_queue */
    int64_t delay_ns;                  /* batch delay; >= 0 */
    int64_t timeout_ns;                /* per export request; > 0 */
    int64_t shutdown_timeout_ns;       /* real time spent flushing at engine free */
    int max_retries;                   /* resends of one batch; >= 0 */
    lira_backoff_config backoff;       /* between resends (default 1 s .. 30 s, full) */
} lira_otlp_config;

/* Reads a variable: return its value or NULL. */
typedef const char *(*lira_getenv_fn)(void *ud, const char *name);

/* Fill c with the defaults (no URL, service.name "unknown_service:lira") and
 * then the environment read through `get` (NULL = getenv). Owned strings:
 * release with lira_otlp_config_free. Malformed entries of a list variable
 * are skipped; malformed numbers keep the default; both are reported by
 * returning LIRA_EPARSE after the rest was applied (the config is usable).
 * LIRA_EINVAL (NULL c), LIRA_ENOMEM (c is then freed and empty). */
int lira_otlp_config_from_env(lira_otlp_config *c, lira_getenv_fn get, void *ud);

/* The defaults only (no URL). LIRA_EINVAL for NULL. */
int lira_otlp_config_default(lira_otlp_config *c);

/* Set a resource attribute / header (copies; replaces an existing key).
 * LIRA_EINVAL (NULL or empty key, NULL value), LIRA_ETOOBIG (full),
 * LIRA_ENOMEM. */
int lira_otlp_config_set_resource(lira_otlp_config *c, const char *key, const char *value);
int lira_otlp_config_set_header(lira_otlp_config *c, const char *key, const char *value);

/* Set the URL (copied; NULL clears). LIRA_EINVAL for a URL that is not
 * http(s)://, LIRA_ENOMEM. */
int lira_otlp_config_set_url(lira_otlp_config *c, const char *url);

void lira_otlp_config_free(lira_otlp_config *c);

/* ------------------------------------------------------------ encoding */

/* Encode n spans as one ExportTraceServiceRequest of c's resource into a new
 * NUL-terminated buffer (*out, malloc'd, the caller frees; *len without the
 * NUL). LIRA_EINVAL (NULL c/out/len, n > 0 with NULL spans), LIRA_ETOOBIG
 * (past LIRA_OTLP_MAX_BODY), LIRA_ENOMEM. */
int lira_otlp_encode(const lira_otlp_config *c, lira_span_data *const *spans, size_t n,
                     char **out, size_t *len);

/* The same into a buffer the caller keeps across batches: *buf (malloc'd,
 * NULL for none yet) of *cap bytes, grown as needed; both are updated
 * whatever the result, and the buffer stays the caller's to free. */
int lira_otlp_encode_into(const lira_otlp_config *c, lira_span_data *const *spans, size_t n,
                          char **buf, size_t *cap, size_t *len);

/* ------------------------------------------------------------ exporter */

typedef struct lira_otlp_stats {
    uint64_t queued;                   /* spans now in the queue */
    uint64_t exported;                 /* spans the collector accepted (2xx) */
    uint64_t dropped_queue_full;       /* spans dropped: the queue was full */
    uint64_t dropped_failed;           /* spans dropped: export failed for good
                                          (4xx, out of retries, shutdown) */
    uint64_t requests;                 /* export requests sent, resends included */
    uint64_t retries;                  /* resends */
    int64_t last_status;               /* HTTP status of the last request (0 = none) */
} lira_otlp_stats;

/* Create an exporter for `e` with a copy of c (c->url must be set). It does
 * not start anything until spans arrive. LIRA_EINVAL (NULL, no url, bad
 * sizes, a backoff config lira_backoff_config_check rejects), LIRA_ENOMEM. */
int lira_otlp_new(lira_engine *e, const lira_otlp_config *c, lira_otlp **out);

/* Take ownership of a span record (from trace.c): queue it, or drop (free)
 * it and count it when the queue is full (LIRA_ETOOBIG) or the exporter is
 * shutting down (LIRA_ESTATE). LIRA_EINVAL for NULL. */
int lira_otlp_enqueue(lira_otlp *x, lira_span_data *d);

/* Send what is queued now, without waiting for the batch delay (async). */
void lira_otlp_flush(lira_otlp *x);

/* Spans not yet delivered or dropped: queued, or in the batch being sent or
 * waiting to be resent. 0 for NULL. */
size_t lira_otlp_pending(const lira_otlp *x);

/* The synchronous, bounded flush of engine shutdown (see the top): at most
 * timeout_ns of real time. Afterwards the exporter accepts no more spans.
 * Returns LIRA_OK when everything was delivered or dropped by the
 * collector's answer, LIRA_ETOOBIG when the time ran out (the rest is
 * dropped and counted). */
int lira_otlp_shutdown(lira_otlp *x, int64_t timeout_ns);

void lira_otlp_stats_get(const lira_otlp *x, lira_otlp_stats *out);
lira_engine *lira_otlp_engine(const lira_otlp *x);
const lira_otlp_config *lira_otlp_get_config(const lira_otlp *x);

/* Free the exporter at once: the request in flight is cancelled, queued
 * spans are dropped (no flush: call lira_otlp_shutdown first). NULL no-op. */
void lira_otlp_free(lira_otlp *x);

#endif
