/* ratelimit.c — rate-limit headers into a lira_ratelimit.
 *
 * Every form is read with one small, tolerant parser for the Structured
 * Fields (RFC 8941) subset these headers use: lists and dictionaries of
 * numbers, strings and tokens with ";key=value" parameters. Tolerant means
 * optional whitespace is accepted wherever a sender might put it; anything
 * else that does not fit makes the whole header malformed. */
#include "ratelimit.h"

#include <stddef.h>
#include <string.h>

#include "clock.h"
#include "status.h"

/* ------------------------------------------------------------ scanner --- */

typedef struct cur {
    const char *p, *end;
} cur;

enum { V_NUM = 1, V_STR, V_TOKEN, V_BOOL, V_BYTES };

typedef struct sfval {
    int kind;
    int neg, is_int;
    int64_t ip;       /* V_NUM: integer part */
    int64_t frac_ns;  /* V_NUM: fraction, in billionths */
    const char *s;    /* V_STR / V_TOKEN: content (escapes kept) */
    size_t len;
} sfval;

/* Seconds that still fit int64_t nanoseconds. */
#define MAX_SECONDS (INT64_MAX / LIRA_NS_PER_SEC - 1)
#define MAX_COUNT INT64_C(1000000000000000)

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static int is_alpha(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static int is_tchar(char ch)
{
    return is_alpha(ch) || is_digit(ch) || (ch != '\0' && strchr("!#$%&'*+-.^_`|~:/", ch));
}

static int is_keychar(char ch)
{
    return is_alpha(ch) || is_digit(ch) || ch == '_' || ch == '-' || ch == '.' || ch == '*';
}

static void ows(cur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

static int at(const cur *c, char ch)
{
    return c->p < c->end && *c->p == ch;
}

static int parse_number(cur *c, sfval *v)
{
    v->kind = V_NUM;
    v->neg = at(c, '-');
    if (v->neg)
        c->p++;
    int digits = 0;
    v->ip = 0;
    for (; c->p < c->end && is_digit(*c->p); c->p++) {
        if (++digits > 15) /* RFC 8941's limit, far below overflow */
            return LIRA_EPARSE;
        v->ip = v->ip * 10 + (*c->p - '0');
    }
    if (digits == 0)
        return LIRA_EPARSE;
    v->is_int = 1;
    v->frac_ns = 0;
    if (!at(c, '.'))
        return LIRA_OK;
    c->p++;
    v->is_int = 0;
    int64_t scale = LIRA_NS_PER_SEC / 10;
    for (digits = 0; c->p < c->end && is_digit(*c->p); c->p++, digits++) {
        v->frac_ns += (*c->p - '0') * scale; /* digits past the 9th add 0 */
        scale /= 10;
    }
    return digits ? LIRA_OK : LIRA_EPARSE;
}

static int parse_string(cur *c, sfval *v)
{
    c->p++; /* the opening quote */
    v->kind = V_STR;
    v->s = c->p;
    for (; c->p < c->end; c->p++) {
        unsigned char ch = (unsigned char)*c->p;
        if (ch == '"') {
            v->len = (size_t)(c->p - v->s);
            c->p++;
            return LIRA_OK;
        }
        if (ch < 0x20 || ch == 0x7f)
            return LIRA_EPARSE;
        if (ch == '\\' && ++c->p == c->end)
            return LIRA_EPARSE;
    }
    return LIRA_EPARSE; /* unterminated */
}

static int parse_bare(cur *c, sfval *v)
{
    memset(v, 0, sizeof *v);
    if (c->p >= c->end)
        return LIRA_EPARSE;
    char ch = *c->p;
    if (ch == '-' || is_digit(ch))
        return parse_number(c, v);
    if (ch == '"')
        return parse_string(c, v);
    if (is_alpha(ch) || ch == '*') {
        v->kind = V_TOKEN;
        v->s = c->p;
        while (c->p < c->end && is_tchar(*c->p))
            c->p++;
        v->len = (size_t)(c->p - v->s);
        return LIRA_OK;
    }
    if (ch == '?' && c->end - c->p >= 2 && (c->p[1] == '0' || c->p[1] == '1')) {
        v->kind = V_BOOL;
        v->ip = c->p[1] - '0';
        c->p += 2;
        return LIRA_OK;
    }
    if (ch == ':') {
        const char *close = memchr(c->p + 1, ':', (size_t)(c->end - c->p - 1));
        if (!close)
            return LIRA_EPARSE;
        v->kind = V_BYTES;
        c->p = close + 1;
        return LIRA_OK;
    }
    return LIRA_EPARSE;
}

/* A key, then "=" and a value, or nothing (boolean true). */
static int parse_key_value(cur *c, const char **key, size_t *key_len, sfval *v)
{
    if (c->p >= c->end || !(is_alpha(*c->p) || *c->p == '*'))
        return LIRA_EPARSE;
    *key = c->p;
    while (c->p < c->end && is_keychar(*c->p))
        c->p++;
    *key_len = (size_t)(c->p - *key);
    ows(c);
    if (!at(c, '=')) {
        memset(v, 0, sizeof *v);
        v->kind = V_BOOL;
        v->ip = 1;
        return LIRA_OK;
    }
    c->p++;
    ows(c);
    return parse_bare(c, v);
}

/* Skip ";key[=value]" parameters, leaving their text in [*from, c->p). */
static int parse_params(cur *c, const char **from)
{
    *from = c->p;
    for (;;) {
        const char *save = c->p;
        ows(c);
        if (!at(c, ';')) {
            c->p = save;
            return LIRA_OK;
        }
        c->p++;
        ows(c);
        const char *k;
        size_t kl;
        sfval v;
        int rc = parse_key_value(c, &k, &kl, &v);
        if (rc != LIRA_OK)
            return rc;
    }
}

static int key_is(const char *k, size_t kl, const char *want)
{
    size_t n = strlen(want);
    if (kl != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char a = k[i];
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (a != want[i])
            return 0;
    }
    return 1;
}

/* The last value of parameter `want` in an already validated span. */
static int param_find(const char *from, const char *to, const char *want, sfval *out)
{
    cur c = {from, to};
    int found = 0;
    while (c.p < c.end) {
        ows(&c);
        if (!at(&c, ';'))
            break;
        c.p++;
        ows(&c);
        const char *k;
        size_t kl;
        sfval v;
        if (parse_key_value(&c, &k, &kl, &v) != LIRA_OK)
            break;
        if (key_is(k, kl, want)) {
            *out = v;
            found = 1;
        }
    }
    return found;
}

/* Between list members: "," or the end. 1 = another member follows. */
static int next_member(cur *c, int *more)
{
    ows(c);
    if (c->p == c->end) {
        *more = 0;
        return LIRA_OK;
    }
    if (*c->p != ',')
        return LIRA_EPARSE;
    c->p++;
    ows(c);
    if (c->p == c->end)
        return LIRA_EPARSE; /* a trailing comma: the sender truncated */
    *more = 1;
    return LIRA_OK;
}

/* --------------------------------------------------------- conversions --- */

static int to_count(const sfval *v, int64_t *n)
{
    if (v->kind != V_NUM || v->neg || !v->is_int || v->ip > MAX_COUNT)
        return 0;
    *n = v->ip;
    return 1;
}

static int to_seconds_ns(const sfval *v, int64_t *ns)
{
    if (v->kind != V_NUM || v->neg || v->ip > MAX_SECONDS)
        return 0;
    *ns = v->ip * LIRA_NS_PER_SEC + v->frac_ns;
    return 1;
}

/* The reset rule documented in ratelimit.h. */
static int to_reset_ns(const sfval *v, int64_t now_wall_s, int64_t *ns)
{
    if (v->kind != V_NUM || v->neg)
        return 0;
    /* An absurd wall clock is treated as unknown, which also keeps the
     * arithmetic below far from overflow (v->ip < 10^15). */
    int64_t now = now_wall_s > 0 && now_wall_s <= MAX_COUNT ? now_wall_s : 0;
    int64_t half = now > 0 ? now / 2 : INT64_C(1000000000);
    if (v->ip > half * 1000) {
        int64_t ms = v->ip - now * 1000;
        if (ms > INT64_MAX / LIRA_NS_PER_MS)
            return 0;
        *ns = ms > 0 ? ms * LIRA_NS_PER_MS : 0;
        return 1;
    }
    if (v->ip > half) {
        int64_t s = v->ip - now;
        if (s > MAX_SECONDS)
            return 0;
        *ns = s > 0 ? s * LIRA_NS_PER_SEC + v->frac_ns : 0;
        return 1;
    }
    return to_seconds_ns(v, ns);
}

/* Header text as a cursor; NULL and over-long values are refused. */
static int open_value(const char *s, cur *c)
{
    size_t n = 0;
    while (n <= LIRA_RATELIMIT_MAX_VALUE && s[n])
        n++;
    if (n > LIRA_RATELIMIT_MAX_VALUE)
        return LIRA_ETOOBIG;
    c->p = s;
    c->end = s + n;
    ows(c);
    while (c->end > c->p && (c->end[-1] == ' ' || c->end[-1] == '\t'))
        c->end--;
    return c->p < c->end ? LIRA_OK : LIRA_EPARSE;
}

/* -------------------------------------------------- separate headers --- */

/* X-RateLimit-Limit or RateLimit-Limit: a count, possibly followed by
 * old-style quota policies ("10, 10;w=1, 50;w=60") that give the window. */
static int parse_limit(const char *s, lira_ratelimit *out)
{
    cur c;
    int rc = open_value(s, &c);
    if (rc != LIRA_OK)
        return rc;
    int64_t limit = -1, window = 0;
    int more = 1;
    while (more) {
        sfval v, w;
        const char *pf;
        int64_t q;
        if (parse_bare(&c, &v) || parse_params(&c, &pf) || !to_count(&v, &q))
            return LIRA_EPARSE;
        if (limit < 0)
            limit = q;
        if (!window && q == limit && param_find(pf, c.p, "w", &w) && !to_seconds_ns(&w, &window))
            return LIRA_EPARSE;
        if (next_member(&c, &more))
            return LIRA_EPARSE;
    }
    out->has_limit = true;
    out->limit = limit;
    if (window > 0) {
        out->has_window = true;
        out->window_ns = window;
    }
    return LIRA_OK;
}

/* A header holding one number (parameters allowed and ignored). */
static int parse_single(const char *s, sfval *v)
{
    cur c;
    const char *pf;
    int rc = open_value(s, &c);
    if (rc != LIRA_OK)
        return rc;
    if (parse_bare(&c, v) || parse_params(&c, &pf) || c.p != c.end)
        return LIRA_EPARSE;
    return LIRA_OK;
}

static void parse_triple(const char *lim, const char *rem, const char *rst,
                         int64_t now_wall_s, lira_ratelimit *out)
{
    sfval v;
    if (lim && parse_limit(lim, out) != LIRA_OK)
        out->malformed++;
    if (rem) {
        int64_t n;
        if (parse_single(rem, &v) == LIRA_OK && to_count(&v, &n)) {
            out->has_remaining = true;
            out->remaining = n;
        } else {
            out->malformed++;
        }
    }
    if (rst) {
        int64_t ns;
        if (parse_single(rst, &v) == LIRA_OK && to_reset_ns(&v, now_wall_s, &ns)) {
            out->has_reset = true;
            out->reset_ns = ns;
        } else {
            out->malformed++;
        }
    }
}

/* ---------------------------------------- RateLimit + RateLimit-Policy --- */

/* RateLimit: limit=100, remaining=50, reset=30 (unknown keys ignored). */
static int parse_dict(cur *c, int64_t now_wall_s, lira_ratelimit *r)
{
    int more = 1;
    while (more) {
        const char *k, *pf;
        size_t kl;
        sfval v;
        if (parse_key_value(c, &k, &kl, &v) || parse_params(c, &pf))
            return LIRA_EPARSE;
        if (key_is(k, kl, "limit")) {
            if (!to_count(&v, &r->limit))
                return LIRA_EPARSE;
            r->has_limit = true;
        } else if (key_is(k, kl, "remaining")) {
            if (!to_count(&v, &r->remaining))
                return LIRA_EPARSE;
            r->has_remaining = true;
        } else if (key_is(k, kl, "reset")) {
            if (!to_reset_ns(&v, now_wall_s, &r->reset_ns))
                return LIRA_EPARSE;
            r->has_reset = true;
        }
        if (next_member(c, &more))
            return LIRA_EPARSE;
    }
    return r->has_limit || r->has_remaining || r->has_reset ? LIRA_OK : LIRA_EPARSE;
}

/* RateLimit: "burst";r=5;t=1, "daily";r=900;t=3600 — the item with the
 * lowest r (ties: the longest t) is the one that will bite first. */
static int parse_items(cur *c, int64_t now_wall_s, lira_ratelimit *r, sfval *name)
{
    int more = 1, found = 0;
    while (more) {
        sfval item, rv, tv;
        const char *pf;
        int64_t rem, t = 0;
        if (parse_bare(c, &item) || parse_params(c, &pf))
            return LIRA_EPARSE;
        if (item.kind != V_STR && item.kind != V_TOKEN)
            return LIRA_EPARSE;
        int has_t = param_find(pf, c->p, "t", &tv);
        if (has_t && !to_reset_ns(&tv, now_wall_s, &t))
            return LIRA_EPARSE;
        if (param_find(pf, c->p, "r", &rv)) {
            if (!to_count(&rv, &rem))
                return LIRA_EPARSE;
            if (!found || rem < r->remaining || (rem == r->remaining && t > r->reset_ns)) {
                found = 1;
                *name = item;
                r->has_remaining = true;
                r->remaining = rem;
                r->has_reset = has_t;
                r->reset_ns = t;
            }
        }
        if (next_member(c, &more))
            return LIRA_EPARSE;
    }
    return found ? LIRA_OK : LIRA_EPARSE;
}

typedef struct policy {
    int found;
    int64_t q, w_ns; /* w_ns 0 = no window given */
} policy;

static int same_name(const sfval *a, const sfval *b)
{
    return a->kind == b->kind && a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
}

/* Is quota p more restrictive (fewer requests per second) than best? */
static int tighter(const policy *p, const policy *best)
{
    double a = (double)p->q / (p->w_ns ? (double)p->w_ns : (double)LIRA_NS_PER_SEC);
    double b = (double)best->q / (best->w_ns ? (double)best->w_ns : (double)LIRA_NS_PER_SEC);
    return a < b;
}

/* RateLimit-Policy, both forms: "name";q=100;w=60 and 100;w=60. The policy
 * chosen is the one named `want` when given (found == 0 if none is), else
 * the one whose quota equals want_q when one does, else the tightest. */
static int parse_policy(const char *s, const sfval *want, int64_t want_q, policy *out)
{
    cur c;
    int rc = open_value(s, &c);
    if (rc != LIRA_OK)
        return rc;
    policy tight = {0}, match = {0};
    int more = 1;
    while (more) {
        sfval item, v;
        const char *pf;
        policy p = {1, 0, 0};
        if (parse_bare(&c, &item) || parse_params(&c, &pf))
            return LIRA_EPARSE;
        if (item.kind == V_NUM) {
            if (!to_count(&item, &p.q))
                return LIRA_EPARSE;
        } else if (item.kind != V_STR && item.kind != V_TOKEN) {
            return LIRA_EPARSE;
        } else if (!param_find(pf, c.p, "q", &v) || !to_count(&v, &p.q)) {
            return LIRA_EPARSE;
        }
        if (param_find(pf, c.p, "w", &v) && !to_seconds_ns(&v, &p.w_ns))
            return LIRA_EPARSE;
        if (!match.found && (want ? same_name(&item, want) : p.q == want_q))
            match = p;
        if (!tight.found || tighter(&p, &tight))
            tight = p;
        if (next_member(&c, &more))
            return LIRA_EPARSE;
    }
    *out = match.found ? match : want ? match : tight;
    return LIRA_OK;
}

static void merge(lira_ratelimit *out, const lira_ratelimit *r)
{
    if (r->has_limit) {
        out->has_limit = true;
        out->limit = r->limit;
    }
    if (r->has_remaining) {
        out->has_remaining = true;
        out->remaining = r->remaining;
    }
    if (r->has_reset) {
        out->has_reset = true;
        out->reset_ns = r->reset_ns;
    }
    if (r->has_window) {
        out->has_window = true;
        out->window_ns = r->window_ns;
    }
}

static void parse_draft(const lira_ratelimit_headers *h, int64_t now_wall_s,
                        lira_ratelimit *out)
{
    lira_ratelimit r = {0};
    sfval name = {0};
    if (h->ratelimit) {
        cur c;
        int rc = open_value(h->ratelimit, &c);
        if (rc == LIRA_OK)
            rc = *c.p == '"' ? parse_items(&c, now_wall_s, &r, &name)
                             : parse_dict(&c, now_wall_s, &r);
        if (rc != LIRA_OK) {
            out->malformed++;
            memset(&r, 0, sizeof r);
            name.kind = 0;
        }
    }
    if (h->policy) {
        policy p;
        /* The limit already known (from RateLimit or the separate headers)
         * says which of several draft-06 policies is in force. */
        int64_t want_q = r.has_limit ? r.limit : out->has_limit ? out->limit : -1;
        if (parse_policy(h->policy, name.kind ? &name : NULL, want_q, &p) != LIRA_OK) {
            out->malformed++;
        } else if (p.found) {
            if (!r.has_limit) {
                r.has_limit = true;
                r.limit = p.q;
            }
            if (p.w_ns > 0) {
                r.has_window = true;
                r.window_ns = p.w_ns;
            }
        }
    }
    merge(out, &r);
}

/* ---------------------------------------------------------------- API --- */

int lira_ratelimit_parse(const lira_ratelimit_headers *h, int64_t now_wall_s,
                         lira_ratelimit *out)
{
    if (!h || !out)
        return LIRA_EINVAL;
    memset(out, 0, sizeof *out);
    parse_triple(h->x_limit, h->x_remaining, h->x_reset, now_wall_s, out);
    parse_triple(h->limit, h->remaining, h->reset, now_wall_s, out);
    parse_draft(h, now_wall_s, out);
    if (out->has_limit || out->has_remaining || out->has_reset || out->has_window)
        return LIRA_OK;
    return LIRA_ENOTFOUND;
}
