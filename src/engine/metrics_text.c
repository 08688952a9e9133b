/* metrics_text.c — reading the registry: the sorted visit and the
 * Prometheus text exposition format 0.0.4 (metrics.h).
 *
 * Everything here works without allocating (a stack buffer flushed through
 * the caller's writer), so a writer that raises a Lua error leaks nothing. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "metrics_impl.h"
#include "status.h"

size_t lira_metrics_format_value(double v, char *out, size_t cap)
{
    if (!out || cap < 32)
        return 0;
    if (isnan(v))
        return (size_t)snprintf(out, cap, "NaN");
    if (isinf(v))
        return (size_t)snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
    if (v == floor(v) && fabs(v) < 1e15)
        return (size_t)snprintf(out, cap, "%.0f", v);
    for (int prec = 15; prec <= 17; prec++) {
        int k = snprintf(out, cap, "%.*g", prec, v);
        if (prec == 17 || strtod(out, NULL) == v)
            return (size_t)k;
    }
    return 0;
}

/* ------------------------------------------------------------ sorting */

static int cmp_series(const void *a, const void *b)
{
    const lira_series *x = *(lira_series *const *)a, *y = *(lira_series *const *)b;
    for (size_t i = 0; i < x->f->nlabels; i++) {
        int c = strcmp(x->values[i], y->values[i]);
        if (c)
            return c;
    }
    return 0;
}

void lira__metric_sort(lira_metric *f)
{
    if (f->sorted)
        return;
    if (f->nseries > 1)
        qsort(f->order, f->nseries, sizeof *f->order, cmp_series);
    f->sorted = 1;
}

static int visit_series(const lira_metric *f, const lira_series *s, int first,
                        lira_metrics_visit_fn fn, void *ud)
{
    lira_series_view v = {
        .name = f->name, .help = f->help, .type = f->type, .nlabels = f->nlabels,
        .label_names = (const char *const *)f->labels,
        .label_values = s ? s->values : NULL,
        .value = s ? s->value : 0.0, .hist = s ? s->h : NULL,
        .bounds = f->bounds, .bounds_ns = f->bounds_ns, .nbounds = f->nbounds,
        .first = first,
    };
    return fn(ud, &v);
}

int lira_metrics_visit(lira_metrics *m, lira_metrics_visit_fn fn, void *ud)
{
    if (!m || !fn)
        return LIRA_EINVAL;
    for (size_t i = 0; i < m->n; i++) {
        lira_metric *f = m->fams[i];
        lira__metric_sort(f);
        int rc = 0, first = 1;
        if (f->nseries == 0 && !f->other)
            rc = visit_series(f, NULL, 1, fn, ud);
        for (size_t k = 0; rc == 0 && k < f->nseries; k++, first = 0)
            rc = visit_series(f, f->order[k], first, fn, ud);
        if (rc == 0 && f->other)
            rc = visit_series(f, f->other, first, fn, ud);
        if (rc)
            return rc;
    }
    return LIRA_OK;
}

/* ------------------------------------------------------------ text */

typedef struct tw {
    char buf[4096];
    size_t len;
    lira_metrics_out_fn out;
    void *ud;
    int rc;
} tw;

static void flush(tw *w)
{
    if (w->len && w->rc == 0)
        w->rc = w->out(w->ud, w->buf, w->len);
    w->len = 0;
}

static void put(tw *w, const char *s, size_t n)
{
    while (n > 0 && w->rc == 0) {
        if (w->len == sizeof w->buf)
            flush(w);
        size_t k = sizeof w->buf - w->len < n ? sizeof w->buf - w->len : n;
        memcpy(w->buf + w->len, s, k);
        w->len += k;
        s += k;
        n -= k;
    }
}

static void puts_(tw *w, const char *s)
{
    put(w, s, strlen(s));
}

/* Label values escape \ " and newline; HELP escapes \ and newline. */
static void put_escaped(tw *w, const char *s, int quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            put(w, "\\\\", 2);
        else if (*s == '\n')
            put(w, "\\n", 2);
        else if (quote && *s == '"')
            put(w, "\\\"", 2);
        else
            put(w, s, 1);
    }
}

static void put_value(tw *w, double v)
{
    char num[32];
    put(w, num, lira_metrics_format_value(v, num, sizeof num));
}

/* name{labels[,le="x"]} value\n */
static void put_sample(tw *w, const lira_series_view *v, const char *suffix, const char *le,
                       double value)
{
    puts_(w, v->name);
    puts_(w, suffix);
    if (v->nlabels || le) {
        put(w, "{", 1);
        for (size_t i = 0; i < v->nlabels; i++) {
            if (i)
                put(w, ",", 1);
            puts_(w, v->label_names[i]);
            put(w, "=\"", 2);
            put_escaped(w, v->label_values[i], 1);
            put(w, "\"", 1);
        }
        if (le) {
            puts_(w, v->nlabels ? ",le=\"" : "le=\"");
            puts_(w, le);
            put(w, "\"", 1);
        }
        put(w, "}", 1);
    }
    put(w, " ", 1);
    put_value(w, value);
    put(w, "\n", 1);
}

static void put_histogram(tw *w, const lira_series_view *v)
{
    uint64_t cum[LIRA_METRICS_MAX_BOUNDS];
    if (lira_series_hist_cumulative(v->hist, v->nbounds, cum) != LIRA_OK)
        memset(cum, 0, sizeof cum);
    char le[32];
    for (size_t i = 0; i < v->nbounds; i++) {
        lira_metrics_format_value(v->bounds[i], le, sizeof le);
        put_sample(w, v, "_bucket", le, (double)cum[i]);
    }
    uint64_t count = lira_series_hist_count(v->hist);
    put_sample(w, v, "_bucket", "+Inf", (double)count);
    put_sample(w, v, "_sum", NULL, (double)lira_series_hist_sum(v->hist) / 1e9);
    put_sample(w, v, "_count", NULL, (double)count);
}

static int text_visit(void *ud, const lira_series_view *v)
{
    tw *w = ud;
    if (v->first) {
        puts_(w, "# HELP ");
        puts_(w, v->name);
        put(w, " ", 1);
        put_escaped(w, v->help, 0);
        puts_(w, "\n# TYPE ");
        puts_(w, v->name);
        put(w, " ", 1);
        puts_(w, lira_metric_type_name(v->type));
        put(w, "\n", 1);
    }
    if (!v->label_values && v->nlabels)
        return w->rc;   /* a metric with no series yet: HELP and TYPE only */
    if (v->type == LIRA_METRIC_HISTOGRAM) {
        if (v->hist)
            put_histogram(w, v);
    } else {
        put_sample(w, v, "", NULL, v->value);   /* a label-less metric reads 0 until set */
    }
    return w->rc;
}

int lira_metrics_write_text(lira_metrics *m, lira_metrics_out_fn out, void *ud)
{
    if (!m || !out)
        return LIRA_EINVAL;
    tw w;
    w.len = 0;
    w.out = out;
    w.ud = ud;
    w.rc = 0;
    int rc = lira_metrics_visit(m, text_visit, &w);
    flush(&w);
    return rc ? rc : w.rc;
}

static int grow_out(void *ud, const char *p, size_t n)
{
    return lira_buf_add(ud, p, n);
}

int lira_metrics_text(lira_metrics *m, char **text, size_t *len)
{
    if (!m || !text)
        return LIRA_EINVAL;
    lira_buf g;
    lira_buf_init(&g, SIZE_MAX);   /* bounded by the registry's own caps */
    int rc = lira_metrics_write_text(m, grow_out, &g);
    if (rc == LIRA_OK && !g.p)
        rc = lira_buf_add(&g, "", 0);
    if (rc != LIRA_OK) {
        lira_buf_free(&g);
        return rc < 0 ? rc : LIRA_ENOMEM;
    }
    *text = g.p;
    if (len)
        *len = g.len;
    return LIRA_OK;
}
