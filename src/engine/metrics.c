/* metrics.c — the registry: metrics, series, label-set hashing and the
 * cardinality cap (metrics.h). Exposition is in metrics_text.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_impl.h"
#include "status.h"

#define OVERFLOW_NAME "lira_metrics_label_overflow_total"

const char *lira_metric_type_name(lira_metric_type t)
{
    switch (t) {
    case LIRA_METRIC_COUNTER: return "counter";
    case LIRA_METRIC_GAUGE: return "gauge";
    case LIRA_METRIC_HISTOGRAM: return "histogram";
    default: return "untyped";
    }
}

int lira_metrics_new(const lira_metrics_options *o, lira_metrics **out)
{
    lira_metrics_options def = {500, 256};
    if (!o)
        o = &def;
    if (!out || o->max_series == 0 || o->max_metrics == 0 || o->max_series > 1000000 ||
        o->max_metrics > 1000000)
        return LIRA_EINVAL;
    lira_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return LIRA_ENOMEM;
    m->max_series = o->max_series;
    m->max_metrics = o->max_metrics;
    *out = m;
    return LIRA_OK;
}

static void free_metric(lira_metric *f)
{
    for (size_t i = 0; i < f->nseries; i++) {
        if (f->order[i]->h)
            lira__hist_free(f->order[i]->h);
        free(f->order[i]);
    }
    if (f->other) {
        if (f->other->h)
            lira__hist_free(f->other->h);
        free(f->other);
    }
    for (size_t i = 0; i < f->nlabels; i++)
        free(f->labels[i]);
    free(f->order);
    free(f->table);
    free(f->name);
    free(f->help);
    free(f);
}

void lira_metrics_free(lira_metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        free_metric(m->fams[i]);
    free(m->fams);
    free(m);
}

/* ------------------------------------------------------------ names */

static int name_char(char c, int first, int colon)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (colon && c == ':') || (!first && c >= '0' && c <= '9');
}

static int valid(const char *s, int colon)
{
    if (!s || !*s || strlen(s) > LIRA_METRICS_MAX_NAME)
        return 0;
    for (size_t i = 0; s[i]; i++)
        if (!name_char(s[i], i == 0, colon))
            return 0;
    return 1;
}

int lira_metrics_valid_name(const char *s)
{
    return valid(s, 1);
}

int lira_metrics_valid_label(const char *s)
{
    return valid(s, 0) && strncmp(s, "__", 2) != 0;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* ------------------------------------------------------------ metrics */

static size_t find_pos(const lira_metrics *m, const char *name, int *found)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(m->fams[mid]->name, name);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

lira_metric *lira_metrics_find(lira_metrics *m, const char *name)
{
    int found = 0;
    if (!m || !name)
        return NULL;
    size_t i = find_pos(m, name, &found);
    return found ? m->fams[i] : NULL;
}

static int check_def(const lira_metric_def *d)
{
    if (!lira_metrics_valid_name(d->name) || d->nlabels > LIRA_METRICS_MAX_LABELS ||
        (d->nlabels && !d->labels) || (d->help && strlen(d->help) > LIRA_METRICS_MAX_HELP) ||
        d->type < LIRA_METRIC_COUNTER || d->type > LIRA_METRIC_HISTOGRAM)
        return LIRA_EINVAL;
    for (size_t i = 0; i < d->nlabels; i++) {
        if (!lira_metrics_valid_label(d->labels[i]) ||
            (d->type == LIRA_METRIC_HISTOGRAM && strcmp(d->labels[i], "le") == 0))
            return LIRA_EINVAL;
        for (size_t j = 0; j < i; j++)
            if (strcmp(d->labels[i], d->labels[j]) == 0)
                return LIRA_EINVAL;
    }
    if (d->type == LIRA_METRIC_HISTOGRAM && d->bounds) {
        if (d->nbounds == 0 || d->nbounds > LIRA_METRICS_MAX_BOUNDS)
            return LIRA_EINVAL;
        for (size_t i = 0; i < d->nbounds; i++)
            if (!(d->bounds[i] > 0 && d->bounds[i] < 9e9) ||
                (i && !(d->bounds[i] > d->bounds[i - 1])))
                return LIRA_EINVAL;
    }
    return LIRA_OK;
}

static int same_shape(const lira_metric *f, const lira_metric_def *d)
{
    if (f->type != d->type || f->nlabels != d->nlabels)
        return 0;
    for (size_t i = 0; i < d->nlabels; i++)
        if (strcmp(f->labels[i], d->labels[i]) != 0)
            return 0;
    return 1;
}

static lira_metric *new_metric(const lira_metric_def *d)
{
    lira_metric *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->type = d->type;
    f->sorted = 1;
    f->name = dup_str(d->name);
    f->help = dup_str(d->help ? d->help : "");
    int ok = f->name && f->help;
    for (; ok && f->nlabels < d->nlabels; f->nlabels++)
        ok = (f->labels[f->nlabels] = dup_str(d->labels[f->nlabels])) != NULL;
    if (!ok) {
        free_metric(f);
        return NULL;
    }
    static const double http[] = LIRA_METRICS_HTTP_BUCKETS;
    const double *b = d->bounds ? d->bounds : http;
    f->nbounds = d->bounds ? d->nbounds : LIRA_METRICS_HTTP_NBUCKETS;
    for (size_t i = 0; i < f->nbounds; i++) {
        f->bounds[i] = b[i];
        f->bounds_ns[i] = (int64_t)llround(b[i] * 1e9);
    }
    return f;
}

int lira_metrics_define(lira_metrics *m, const lira_metric_def *d, lira_metric **out)
{
    if (!m || !d || !out || check_def(d) != LIRA_OK)
        return LIRA_EINVAL;
    int found;
    size_t pos = find_pos(m, d->name, &found);
    if (found) {
        if (!same_shape(m->fams[pos], d))
            return LIRA_ESTATE;
        *out = m->fams[pos];
        return LIRA_OK;
    }
    if (m->n >= m->max_metrics)
        return LIRA_ETOOBIG;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        lira_metric **p = realloc(m->fams, cap * sizeof *p);
        if (!p)
            return LIRA_ENOMEM;
        m->fams = p;
        m->cap = cap;
    }
    lira_metric *f = new_metric(d);
    if (!f)
        return LIRA_ENOMEM;
    f->m = m;
    memmove(m->fams + pos + 1, m->fams + pos, (m->n - pos) * sizeof *m->fams);
    m->fams[pos] = f;
    m->n++;
    *out = f;
    return LIRA_OK;
}

lira_metric_type lira_metric_get_type(const lira_metric *f)
{
    return f ? f->type : LIRA_METRIC_COUNTER;
}

size_t lira_metric_nlabels(const lira_metric *f)
{
    return f ? f->nlabels : 0;
}

const char *lira_metric_label(const lira_metric *f, size_t i)
{
    return f && i < f->nlabels ? f->labels[i] : NULL;
}

/* ------------------------------------------------------------ series */

static uint64_t hash_values(const char *const *v, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        for (const unsigned char *p = (const unsigned char *)v[i]; *p; p++)
            h = (h ^ *p) * 0x100000001b3ULL;
        h = (h ^ 0xff) * 0x100000001b3ULL;
    }
    return h;
}

static int same_values(const lira_series *s, const char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s->values[i], v[i]) != 0)
            return 0;
    return 1;
}

static size_t hist_off(size_t text_end)
{
    size_t a = _Alignof(lira_series_hist);
    return (text_end + a - 1) / a * a;
}

static lira_series *new_series(lira_metric *f, const char *const *v, size_t n, uint64_t h)
{
    size_t bytes = sizeof(lira_series) + n * sizeof(char *);
    size_t lens[LIRA_METRICS_MAX_LABELS];
    for (size_t i = 0; i < n; i++) {
        lens[i] = strlen(v[i]) + 1;
        bytes += lens[i];
    }
    size_t text_end = bytes;
    if (f->type == LIRA_METRIC_HISTOGRAM)   /* then the histogram, aligned, and its le counters */
        bytes = hist_off(text_end) + sizeof(lira_series_hist) + f->nbounds * sizeof(uint64_t);
    lira_series *s = calloc(1, bytes);
    if (!s)
        return NULL;
    s->f = f;
    s->hash = h;
    s->values = (const char **)(s + 1);
    char *p = (char *)(s->values + n);
    for (size_t i = 0; i < n; i++) {
        memcpy(p, v[i], lens[i]);
        s->values[i] = p;
        p += lens[i];
    }
    if (f->type == LIRA_METRIC_HISTOGRAM) {
        /* The histogram and its `le` counters follow the values, aligned. */
        s->h = (lira_series_hist *)(void *)((char *)s + hist_off(text_end));
        lira__hist_init(s->h, (uint64_t *)(void *)(s->h + 1));
    }
    return s;
}

static int grow_table(lira_metric *f)
{
    size_t cap = f->tcap ? f->tcap * 2 : 16;
    lira_series **t = calloc(cap, sizeof *t);
    if (!t)
        return LIRA_ENOMEM;
    for (size_t i = 0; i < f->tcap; i++) {
        lira_series *s = f->table[i];
        if (!s)
            continue;
        size_t j = (size_t)s->hash & (cap - 1);
        while (t[j])
            j = (j + 1) & (cap - 1);
        t[j] = s;
    }
    free(f->table);
    f->table = t;
    f->tcap = cap;
    return LIRA_OK;
}

static void count_overflow(lira_metric *f);

static int overflow_series(lira_metric *f, lira_series **out)
{
    if (!f->other) {
        const char *v[LIRA_METRICS_MAX_LABELS];
        for (size_t i = 0; i < f->nlabels; i++)
            v[i] = LIRA_METRICS_OTHER;
        f->other = new_series(f, v, f->nlabels, 0);
        if (!f->other)
            return LIRA_ENOMEM;
    }
    if (!f->is_overflow_metric)
        count_overflow(f);
    *out = f->other;
    return LIRA_OK;
}

static int insert(lira_metric *f, const char *const *v, size_t n, uint64_t h, lira_series **out)
{
    if (f->nseries >= f->m->max_series)
        return overflow_series(f, out);
    if ((f->nseries + 1) * 2 > f->tcap && grow_table(f) != LIRA_OK)
        return LIRA_ENOMEM;
    if (f->nseries == f->ocap) {
        size_t cap = f->ocap ? f->ocap * 2 : 8;
        lira_series **o = realloc(f->order, cap * sizeof *o);
        if (!o)
            return LIRA_ENOMEM;
        f->order = o;
        f->ocap = cap;
    }
    lira_series *s = new_series(f, v, n, h);
    if (!s)
        return LIRA_ENOMEM;
    size_t j = (size_t)h & (f->tcap - 1);
    while (f->table[j])
        j = (j + 1) & (f->tcap - 1);
    f->table[j] = s;
    f->order[f->nseries++] = s;
    f->sorted = 0;
    *out = s;
    return LIRA_OK;
}

int lira_metric_series(lira_metric *f, const char *const *values, size_t n, lira_series **out)
{
    if (!f || !out || n != f->nlabels || (n && !values))
        return LIRA_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!values[i] || strlen(values[i]) > LIRA_METRICS_MAX_VALUE)
            return LIRA_EINVAL;
    uint64_t h = hash_values(values, n);
    if (f->tcap) {
        for (size_t j = (size_t)h & (f->tcap - 1); f->table[j]; j = (j + 1) & (f->tcap - 1)) {
            lira_series *s = f->table[j];
            if (s->hash == h && same_values(s, values, n)) {
                *out = s;
                return LIRA_OK;
            }
        }
    }
    return insert(f, values, n, h, out);
}

static void count_overflow(lira_metric *f)
{
    lira_metrics *m = f->m;
    if (!m->overflow) {
        static const char *const labels[] = {"metric"};
        lira_metric_def d = {OVERFLOW_NAME,
                             "Updates whose label set was collapsed into \"other\" because the "
                             "metric reached its series cap",
                             LIRA_METRIC_COUNTER, labels, 1, NULL, 0};
        if (lira_metrics_define(m, &d, &m->overflow) != LIRA_OK)
            return;
        m->overflow->is_overflow_metric = 1;
    }
    const char *v[1] = {f->name};
    lira_series *s;
    if (lira_metric_series(m->overflow, v, 1, &s) == LIRA_OK)
        s->value += 1;
}

/* ------------------------------------------------------------ updates */

int lira_series_add(lira_series *s, double v)
{
    if (!s || !isfinite(v) || s->f->type == LIRA_METRIC_HISTOGRAM ||
        (s->f->type == LIRA_METRIC_COUNTER && v < 0))
        return LIRA_EINVAL;
    s->value += v;
    return LIRA_OK;
}

int lira_series_set(lira_series *s, double v)
{
    if (!s || isnan(v) || s->f->type != LIRA_METRIC_GAUGE)
        return LIRA_EINVAL;
    s->value = v;
    return LIRA_OK;
}

int lira_series_observe_ns(lira_series *s, int64_t ns)
{
    if (!s || !s->h)
        return LIRA_EINVAL;
    return lira__hist_record(s->h, s->f->bounds_ns, s->f->nbounds, ns);
}

int lira_series_observe(lira_series *s, double seconds)
{
    if (!s || !s->h || !(seconds >= 0) || seconds > 9.2e9)
        return LIRA_EINVAL;
    return lira__hist_record(s->h, s->f->bounds_ns, s->f->nbounds,
                             (int64_t)llround(seconds * 1e9));
}

int lira_series_is_overflow(const lira_series *s)
{
    return s && s == s->f->other;
}

double lira_series_value(const lira_series *s)
{
    return s ? s->value : 0.0;
}

const lira_series_hist *lira_series_histogram(const lira_series *s)
{
    return s ? s->h : NULL;
}
