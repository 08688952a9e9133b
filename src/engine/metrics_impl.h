/* metrics_impl.h — what metrics.c and metrics_text.c share (internal). */
#ifndef LIRA_METRICS_IMPL_H
#define LIRA_METRICS_IMPL_H

#include "metrics.h"

struct lira_series {
    lira_metric *f;
    uint64_t hash;
    const char **values;        /* nlabels pointers into this allocation */
    double value;
    lira_histogram *h;          /* histograms only */
};

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
