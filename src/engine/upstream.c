/* upstream.c — the per-engine registry of upstreams (call.h): breaker,
 * limiter and retry budget keyed by client name.
 *
 * Lifetime. The registry holds a reference to every upstream it created, so
 * an upstream's state survives a moment with no client (an integration's
 * old version released before the reload created the new one) and lives as
 * long as the engine. When the engine is freed, the registry cancels every
 * live call (their done callbacks run with CANCELLED), detaches its
 * upstreams from the engine and drops its references; an upstream still
 * referenced elsewhere (a Lua userdata not yet collected) stays readable
 * until its last lira_upstream_release(), but new calls on it fail. */
#include <stdlib.h>
#include <string.h>

#include "status.h"
#include "telemetry.h"
#include "upstream_impl.h"

#define MAX_NAME 256

typedef struct registry {
    lira_engine *engine;
    lira_upstream **items;
    size_t n, cap;
    int closing;
} registry;

void lira_upstream_config_default(lira_upstream_config *c)
{
    if (!c)
        return;
    memset(c, 0, sizeof *c);
    c->breaker_on = 1;
    c->breaker = lira_breaker_config_default();
    c->limiter_on = 1;
    lira_limiter_config_default(&c->limiter);
    c->read_headers = 1;
    c->budget_on = 1;
    c->budget_ratio = LIRA_BUDGET_DEFAULT_RATIO;
    c->budget_min_per_second = LIRA_BUDGET_DEFAULT_MIN_PER_SECOND;
}

static void upstream_destroy(lira_upstream *u)
{
    lira__calls_pool_free(u);
    if (u->has_breaker)
        lira_breaker_free(&u->breaker);
    free(u->name);
    free(u);
}

void lira__upstream_ref(lira_upstream *u)
{
    if (u)
        u->refs++;
}

void lira_upstream_release(lira_upstream *u)
{
    if (u && --u->refs == 0)
        upstream_destroy(u);
}

static void registry_close(void *ud)
{
    registry *r = ud;
    r->closing = 1;
    /* Detach first so that a done callback cannot start a new call here. */
    for (size_t i = 0; i < r->n; i++)
        r->items[i]->engine = NULL;
    for (size_t i = 0; i < r->n; i++)
        lira__calls_cancel_all(r->items[i]);
    for (size_t i = 0; i < r->n; i++)
        lira_upstream_release(r->items[i]);
    lira_engine_set_slot(r->engine, LIRA_SLOT_UPSTREAMS, NULL);
    free(r->items);
    free(r);
}

static int get_registry(lira_engine *e, registry **out)
{
    registry *r = lira_engine_slot(e, LIRA_SLOT_UPSTREAMS);
    if (!r) {
        /* The hub first: close hooks run latest first, so it outlives the
         * registry and sees the end of the calls cancelled at engine free.
         * Without one (LIRA_LOG_FILE cannot be opened) calls are not
         * reported; they still run. */
        lira_telemetry *t;
        (void)lira_telemetry_get(e, &t);
        if (!(r = calloc(1, sizeof *r)))
            return LIRA_ENOMEM;
        r->engine = e;
        if (lira_engine_on_free(e, registry_close, r) != LIRA_OK) {
            free(r);
            return LIRA_ENOMEM;
        }
        lira_engine_set_slot(e, LIRA_SLOT_UPSTREAMS, r);
    }
    if (r->closing)
        return LIRA_ESTATE;
    *out = r;
    return LIRA_OK;
}

/* ------------------------------------------------------------ config */

static int breaker_cfg_eq(const lira_breaker_config *a, const lira_breaker_config *b)
{
    return a->window_kind == b->window_kind && a->window == b->window &&
           a->failure_rate == b->failure_rate && a->slow_call_rate == b->slow_call_rate &&
           a->slow_call_ns == b->slow_call_ns && a->min_calls == b->min_calls &&
           a->cooldown_ns == b->cooldown_ns && a->half_open_calls == b->half_open_calls &&
           a->cooldown_multiplier == b->cooldown_multiplier &&
           a->max_cooldown_ns == b->max_cooldown_ns && a->on_transition == b->on_transition &&
           a->ud == b->ud;
}

static int limiter_cfg_eq(const lira_limiter_config *a, const lira_limiter_config *b)
{
    return a->rate == b->rate && a->per == b->per && a->burst == b->burst &&
           a->target == b->target;
}

/* The parts a config asks for, built fresh into `p` (only those in `want`). */
enum { PART_BREAKER = 1, PART_LIMITER = 2, PART_BUDGET = 4 };

typedef struct parts {
    lira_breaker breaker;
    lira_limiter limiter;
    lira_budget budget;
} parts;

/* Every breaker reports its transitions to telemetry, then to the user's
 * callback (kept in u->cfg, which is what config comparisons see). */
static void on_transition(void *ud, lira_breaker_state from, lira_breaker_state to, int64_t now)
{
    lira_upstream *u = ud;
    lira_telemetry *t = lira_telemetry_of(u->engine);
    if (t)
        lira_telemetry_breaker_transition(t, u->name, from, to, now, lira_engine_wall(u->engine));
    if (u->cfg.breaker.on_transition)
        u->cfg.breaker.on_transition(u->cfg.breaker.ud, from, to, now);
}

/* The breaker state gauge of a (re-)created breaker. */
static void report_state(lira_upstream *u)
{
    lira_telemetry *t = lira_telemetry_of(u->engine);
    if (t)
        lira_telemetry_breaker_state(t, u->name, u->cfg.breaker_on ? LIRA_BREAKER_CLOSED
                                                                   : LIRA_BREAKER_DISABLED);
}

static int build_parts(const lira_upstream_config *c, int want, int64_t now, lira_upstream *u,
                       parts *p)
{
    int rc = LIRA_OK;
    memset(p, 0, sizeof *p);
    if ((want & PART_LIMITER) && c->limiter_on)
        rc = lira_limiter_init(&p->limiter, &c->limiter, now);
    if (rc == LIRA_OK && (want & PART_BUDGET) && c->budget_on)
        rc = lira_budget_init(&p->budget, c->budget_ratio, c->budget_min_per_second,
                              LIRA_BUDGET_DEFAULT_WINDOW_NS, now);
    if (rc == LIRA_OK && (want & PART_BREAKER) && c->breaker_on) {
        lira_breaker_config bc = c->breaker;
        bc.on_transition = on_transition;
        bc.ud = u;
        rc = lira_breaker_init(&p->breaker, &bc);   /* last: it allocates */
    }
    return rc == LIRA_ERANGE ? LIRA_EINVAL : rc;
}

/* Which parts differ between the upstream's config and `c`. */
static int changed_parts(const lira_upstream_config *o, const lira_upstream_config *c)
{
    int m = 0;
    if (o->breaker_on != c->breaker_on || (c->breaker_on && !breaker_cfg_eq(&o->breaker, &c->breaker)))
        m |= PART_BREAKER;
    if (o->limiter_on != c->limiter_on || (c->limiter_on && !limiter_cfg_eq(&o->limiter, &c->limiter)))
        m |= PART_LIMITER;
    if (o->budget_on != c->budget_on ||
        (c->budget_on && (o->budget_ratio != c->budget_ratio ||
                          o->budget_min_per_second != c->budget_min_per_second)))
        m |= PART_BUDGET;
    return m;
}

/* Put the freshly built parts `m` of `p` in place of the old ones. */
static void swap_parts(lira_upstream *u, const lira_upstream_config *c, int m, parts *p)
{
    if (m & PART_BREAKER) {
        if (u->has_breaker)
            lira_breaker_free(&u->breaker);
        u->has_breaker = c->breaker_on;
        if (c->breaker_on)
            u->breaker = p->breaker;
        u->breaker_epoch++;
    }
    if (m & PART_LIMITER) {
        u->has_limiter = c->limiter_on;
        if (c->limiter_on)
            u->limiter = p->limiter;
        u->limiter_epoch++;
    }
    if (m & PART_BUDGET) {
        u->has_budget = c->budget_on;
        if (c->budget_on)
            u->budget = p->budget;
    }
    u->cfg = *c;
}

/* ------------------------------------------------------------ registry */

static lira_upstream *find(registry *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->items[i]->name, name) == 0)
            return r->items[i];
    return NULL;
}

static int create(registry *r, const char *name, const lira_upstream_config *c, lira_upstream **out)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 8;
        lira_upstream **g = realloc(r->items, cap * sizeof *g);
        if (!g)
            return LIRA_ENOMEM;
        r->items = g;
        r->cap = cap;
    }
    lira_upstream *u = calloc(1, sizeof *u);
    size_t len = strlen(name);
    char *nm = u ? malloc(len + 1) : NULL;
    if (!nm) {
        free(u);
        return LIRA_ENOMEM;
    }
    memcpy(nm, name, len + 1);
    parts p;
    int rc = build_parts(c, PART_BREAKER | PART_LIMITER | PART_BUDGET, lira_engine_now(r->engine),
                         u, &p);
    if (rc != LIRA_OK) {
        free(nm);
        free(u);
        return rc;
    }
    u->engine = r->engine;
    u->name = nm;
    u->refs = 2;   /* the registry's and the caller's */
    swap_parts(u, c, PART_BREAKER | PART_LIMITER | PART_BUDGET, &p);
    u->breaker_epoch = u->limiter_epoch = 0;
    r->items[r->n++] = u;
    report_state(u);
    *out = u;
    return LIRA_OK;
}

int lira_upstream_get(lira_engine *e, const char *name, const lira_upstream_config *cfg,
                      lira_upstream **out)
{
    if (!e || !name || !out || !*name || strlen(name) > MAX_NAME)
        return LIRA_EINVAL;
    lira_upstream_config def;
    if (!cfg) {
        lira_upstream_config_default(&def);
        cfg = &def;
    }
    if (cfg->breaker_on && lira_breaker_config_validate(&cfg->breaker) != LIRA_OK)
        return LIRA_EINVAL;
    registry *r = NULL;
    int rc = get_registry(e, &r);
    if (rc != LIRA_OK)
        return rc;
    lira_upstream *u = find(r, name);
    if (!u)
        return create(r, name, cfg, out);
    int m = changed_parts(&u->cfg, cfg);
    if (m) {
        parts p;
        if ((rc = build_parts(cfg, m, lira_engine_now(e), u, &p)) != LIRA_OK)
            return rc;
        swap_parts(u, cfg, m, &p);
        if (m & PART_BREAKER)
            report_state(u);
    }
    u->cfg.read_headers = cfg->read_headers;
    u->refs++;
    *out = u;
    return LIRA_OK;
}

const char *lira_upstream_name(const lira_upstream *u) { return u ? u->name : NULL; }

lira_breaker *lira_upstream_breaker(lira_upstream *u)
{
    return u && u->has_breaker ? &u->breaker : NULL;
}

lira_limiter *lira_upstream_limiter(lira_upstream *u)
{
    return u && u->has_limiter ? &u->limiter : NULL;
}

lira_budget *lira_upstream_budget(lira_upstream *u)
{
    return u && u->has_budget ? &u->budget : NULL;
}
