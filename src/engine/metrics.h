/* metrics.h — a registry of counters, gauges and histograms with labels, and
 * its Prometheus text exposition (format 0.0.4).
 *
 * Model. A metric (family) has a name, a help text, a type and a fixed list
 * of label names. Each distinct list of label values is a series. Names
 * follow Prometheus: metric [a-zA-Z_:][a-zA-Z0-9_:]*, label
 * [a-zA-Z_][a-zA-Z0-9_]* and not starting with "__" (histograms also reserve
 * "le"); label values are any bytes but NUL, at most LIRA_METRICS_MAX_VALUE.
 *
 * Cardinality. A metric holds at most `max_series` series. Past that, an
 * update for a new label set goes to one overflow series whose every label
 * value is "other", and lira_metrics_label_overflow_total{metric="<name>"}
 * counts those updates. So memory is bounded whatever the label values are.
 *
 * Histograms record in nanoseconds. Each series counts the fixed `le` bounds
 * of its metric exactly (default LIRA_METRICS_HTTP_BUCKETS, the
 * OpenTelemetry HTTP duration boundaries), with exact count, sum, min and
 * max; exposition converts to seconds. Percentiles (snapshot) come from
 * the layout of src/core/histogram (within 0.8 %; values above 2^42 ns,
 * ~73 min, rank as 2^42) whose counters are allocated per power of two of
 * ns on first use (1 KB each): a series costs a few KB, not 37.
 *
 * Output is sorted: metrics by name, series by label values (bytewise), so
 * two expositions of the same state are identical.
 *
 * One thread (the engine's loop) owns a registry. Series pointers stay valid
 * until lira_metrics_free, so a hot caller may keep them (the telemetry hub
 * does, per client and endpoint) instead of looking its labels up again. */
#ifndef LIRA_METRICS_H
#define LIRA_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "histogram.h"

#define LIRA_METRICS_MAX_LABELS 8
#define LIRA_METRICS_MAX_NAME 200      /* bytes of a metric or label name */
#define LIRA_METRICS_MAX_VALUE 1024    /* bytes of a label value */
#define LIRA_METRICS_MAX_HELP 1024
#define LIRA_METRICS_MAX_BOUNDS 32
#define LIRA_METRICS_OTHER "other"

/* Seconds: 5 ms .. 10 s (OpenTelemetry's http.client.request.duration). */
#define LIRA_METRICS_HTTP_BUCKETS \
    {0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}
#define LIRA_METRICS_HTTP_NBUCKETS 14

typedef enum lira_metric_type {
    LIRA_METRIC_COUNTER = 0,
    LIRA_METRIC_GAUGE,
    LIRA_METRIC_HISTOGRAM
} lira_metric_type;

const char *lira_metric_type_name(lira_metric_type t);   /* "counter", ... */

typedef struct lira_metrics lira_metrics;
typedef struct lira_metric lira_metric;
typedef struct lira_series lira_series;

typedef struct lira_metrics_options {
    size_t max_series;     /* per metric, overflow series excluded; default 500 */
    size_t max_metrics;    /* default 256 */
} lira_metrics_options;

/* `o` NULL = the defaults. LIRA_EINVAL (NULL out, a zero cap, caps above
 * 1e6), LIRA_ENOMEM. *out set only on LIRA_OK. */
int lira_metrics_new(const lira_metrics_options *o, lira_metrics **out);
void lira_metrics_free(lira_metrics *m);   /* NULL is a no-op */

/* Whether s is a valid metric name (1) or label name (1); 0 otherwise. */
int lira_metrics_valid_name(const char *s);
int lira_metrics_valid_label(const char *s);

typedef struct lira_metric_def {
    const char *name;
    const char *help;                 /* NULL = "" */
    lira_metric_type type;
    const char *const *labels;        /* label names, in the order values come */
    size_t nlabels;                   /* 0..LIRA_METRICS_MAX_LABELS */
    const double *bounds;             /* histogram `le` bounds in seconds, ascending,
                                         > 0; NULL = LIRA_METRICS_HTTP_BUCKETS */
    size_t nbounds;                   /* 1..LIRA_METRICS_MAX_BOUNDS */
} lira_metric_def;

/* Find or create the metric `d->name` (everything copied). An existing one
 * is returned when type and label names match (help and bounds of the first
 * definition stay); otherwise LIRA_ESTATE. LIRA_EINVAL: an invalid name,
 * label name (or a duplicate), help, type or bounds. LIRA_ETOOBIG: the
 * registry holds max_metrics. LIRA_ENOMEM. */
int lira_metrics_define(lira_metrics *m, const lira_metric_def *d, lira_metric **out);

/* The metric named `name`, or NULL. */
lira_metric *lira_metrics_find(lira_metrics *m, const char *name);

lira_metric_type lira_metric_get_type(const lira_metric *f);
size_t lira_metric_nlabels(const lira_metric *f);
const char *lira_metric_label(const lira_metric *f, size_t i);   /* NULL past the end */

/* The series for `values` (n must equal the metric's label count; each value
 * NUL-terminated, copied on creation). Past the cap: the overflow series
 * (and the overflow counter counts this lookup). Hot path: a hash lookup, an
 * allocation only for a new series. LIRA_EINVAL (wrong n, NULL, a value too
 * long), LIRA_ENOMEM. */
int lira_metric_series(lira_metric *f, const char *const *values, size_t n, lira_series **out);

/* Updates. No allocation. Ignored (LIRA_EINVAL) on NULL or the wrong type:
 * add: counter (v >= 0, finite) or gauge; set: gauge; observe: histogram
 * (seconds >= 0, or ns). */
int lira_series_add(lira_series *s, double v);
int lira_series_set(lira_series *s, double v);
int lira_series_observe(lira_series *s, double seconds);
int lira_series_observe_ns(lira_series *s, int64_t ns);
/* (Exception to "no allocation": an observation landing in a power of two
 * of ns that the series has not seen yet allocates its 1 KB block, at most
 * 36 per series; if that fails the value still counts everywhere but in
 * the percentiles.) */

/* 1 when s is its metric's overflow series (the "other" label set): a
 * caller caching series pointers must not cache that one, so each update
 * still goes through lira_metric_series and is counted as an overflow. */
int lira_series_is_overflow(const lira_series *s);

double lira_series_value(const lira_series *s);                  /* counter/gauge */

/* A histogram series' data (NULL for other types). Times are ns. */
typedef struct lira_series_hist lira_series_hist;
const lira_series_hist *lira_series_histogram(const lira_series *s);
uint64_t lira_series_hist_count(const lira_series_hist *h);   /* NULL reads as empty */
int64_t lira_series_hist_sum(const lira_series_hist *h);
int64_t lira_series_hist_min(const lira_series_hist *h);      /* 0 while empty */
int64_t lira_series_hist_max(const lira_series_hist *h);
double lira_series_hist_mean(const lira_series_hist *h);
/* As lira_histogram_percentile: p in [0, 100] (LIRA_EINVAL otherwise or for
 * NULL); p 0 and 100 give the exact min and max, an empty series 0. */
int lira_series_hist_percentile(const lira_series_hist *h, double p, int64_t *out);
/* The cumulative `le` counts of the metric's nbounds bounds (exact: values
 * <= each bound). LIRA_EINVAL for NULL. */
int lira_series_hist_cumulative(const lira_series_hist *h, size_t nbounds, uint64_t *out);
/* Bytes of percentile counters allocated (for tests and the docs). */
size_t lira_series_hist_bytes(const lira_series_hist *h);

/* ------------------------------------------------------------ reading */

/* What a visit sees of one series. */
typedef struct lira_series_view {
    const char *name, *help;
    lira_metric_type type;
    size_t nlabels;
    const char *const *label_names;
    const char *const *label_values;
    double value;                     /* counter, gauge */
    const lira_series_hist *hist;     /* histogram (ns) */
    const double *bounds;             /* histogram le bounds (s) */
    const int64_t *bounds_ns;         /* the same in ns */
    size_t nbounds;
    int first;                        /* 1 for the first series of its metric */
} lira_series_view;

/* Call fn for each series in exposition order (the overflow series last);
 * a metric with no series gets one call with first = 1, label_values and
 * hist NULL and value 0. fn returning non-zero stops the visit and
 * that value is returned. Allocates nothing (it sorts in place), so fn may
 * longjmp (a Lua error) without leaking. */
typedef int (*lira_metrics_visit_fn)(void *ud, const lira_series_view *v);
int lira_metrics_visit(lira_metrics *m, lira_metrics_visit_fn fn, void *ud);

/* Write the exposition through `out` (chunks; out returns non-zero to
 * stop, which is returned). LIRA_EINVAL for NULL. Allocates nothing. */
typedef int (*lira_metrics_out_fn)(void *ud, const char *p, size_t n);
int lira_metrics_write_text(lira_metrics *m, lira_metrics_out_fn out, void *ud);

/* The exposition as one malloc'd NUL-terminated string (*len its length);
 * the caller frees it. LIRA_EINVAL, LIRA_ENOMEM. */
int lira_metrics_text(lira_metrics *m, char **text, size_t *len);

/* Format v as Prometheus does (shortest round-trip; +Inf, -Inf, NaN).
 * out needs 32 bytes; returns the length. */
size_t lira_metrics_format_value(double v, char *out, size_t cap);

#endif
