/* metrics_impl.h — what metrics.c and metrics_text.c share (internal). */
#ifndef LIRA_METRICS_IMPL_H
#define LIRA_METRICS_IMPL_H

#include "metrics.h"

/* 2^42 ns is the top tracked value: powers of two 7..41, plus 0..127. */
#define LIRA__HIST_BLOCKS 36

struct lira_series_hist {
    uint64_t count;
    int64_t sum, min, max;      /* ns; sum saturates; min INT64_MAX while empty */
    uint64_t *le;               /* per `le` bound (not cumulative), in the series' allocation */
    uint64_t *block[LIRA__HIST_BLOCKS];   /* 128 counters each, allocated on first use */
    uint64_t lost;              /* values a block allocation failed for */
};

struct lira_series {
    lira_metric *f;
    uint64_t hash;
    const char **values;        /* nlabels pointers into this allocation */
    double value;
    lira_series_hist *h;        /* histograms only, in this allocation */
};

/* metrics_hist.c: the histogram storage. init: empty, `le` counting into
 * le[0..nbounds) (zeroed by the caller); free: its blocks (not h itself);
 * record: one value in ns (LIRA_EINVAL when negative). */
void lira__hist_init(lira_series_hist *h, uint64_t *le);
void lira__hist_free(lira_series_hist *h);
int lira__hist_record(lira_series_hist *h, const int64_t *bounds_ns, size_t nbounds, int64_t v);

struct lira_metric {
    lira_metrics *m;
    char *name, *help;
    lira_metric_type type;
    char *labels[LIRA_METRICS_MAX_LABELS];
    size_t nlabels;
    double bounds[LIRA_METRICS_MAX_BOUNDS];     /* seconds */
    int64_t bounds_ns[LIRA_METRICS_MAX_BOUNDS];
    size_t nbounds;
    lira_series **table;        /* open addressing, tcap a power of two */
    size_t tcap;
    lira_series **order;        /* every series but the overflow one */
    size_t nseries, ocap;
    int sorted;
    lira_series *other;         /* the overflow series, once needed */
    int is_overflow_metric;     /* lira_metrics_label_overflow_total itself */
};

struct lira_metrics {
    lira_metric **fams;         /* sorted by name */
    size_t n, cap;
    size_t max_series, max_metrics;
    lira_metric *overflow;      /* defined on first overflow */
};

/* Sort f->order (if needed) by label values. */
void lira__metric_sort(lira_metric *f);

#endif
