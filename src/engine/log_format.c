/* log_format.c — one log line into a bounded buffer: JSON string escaping
 * (always valid UTF-8 out), redaction, the text format; ts comes from
 * log_time.c.
 *
 * Every append either fits whole or leaves the buffer as it was, so a line
 * that reaches the cap loses whole fields, never half a value. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "decimal.h"
#include "log_impl.h"
#include "redact.h"
#include "short_bytes.h"
#include "json_plain.h"
#include "status.h"

#define URL_CAP 2048             /* a redacted URL longer than this is cut */
#define TAIL_RESERVE 40          /* room kept for ,"truncated":true}\n */
#define LINE_MAX_FAST (1u << 20) /* past this a length is never worth a fast bound */

typedef struct lbuf {
    char *p;
    size_t len, cap;   /* cap excludes TAIL_RESERVE */
    int full;
} lbuf;

static int put(lbuf *b, const char *s, size_t n)
{
    if (b->full || n > b->cap - b->len) {
        b->full = 1;
        return -1;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

static int putc_(lbuf *b, char c)
{
    return put(b, &c, 1);
}

/* ------------------------------------------------------------ time */

/* ts (log_time.c): 24 bytes, no NUL. */
static void put_ts(lira_log *l, lbuf *b, int64_t wall_ns)
{
    put(b, lira__log_ts(l, wall_ns), 24);
}

/* ------------------------------------------------------------ escaping */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t need;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        need = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        need = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        need = 4, min = 0x10000;
    else
        return 0;
    if (n < need)
        return 0;
    unsigned cp = c & (0x3F >> (need - 1));
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return need;
}

/* Append s as the inside of a JSON string: quotes, backslashes and control
 * characters escaped, invalid UTF-8 replaced by U+FFFD. */
static int put_escaped(lbuf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t run = lira_json_plain_run(u, i, n);
        if (run > i && put(b, s + i, run - i) < 0)
            return -1;
        i = run;
        if (i >= n)
            break;
        unsigned c = u[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c;
            if (put(b, esc, 2) < 0)
                return -1;
            i++;
        } else if (c < 0x20) {
            const char *named = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
            if (named ? put(b, named, 2) < 0
                      : (snprintf(esc, sizeof esc, "\\u%04x", c), put(b, esc, 6) < 0))
                return -1;
            i++;
        } else {
            size_t k = utf8_len(u + i, n - i);
            if (k == 0) {
                if (put(b, "\\ufffd", 6) < 0)
                    return -1;
                i++;
            } else {
                if (put(b, s + i, k) < 0)
                    return -1;
                i += k;
            }
        }
    }
    return 0;
}

/* put_escaped in one pass straight into the buffer, for when the worst case
 * (6 bytes out per byte in: \u00XX, or U+FFFD for a bad byte) fits: no
 * room check per run. Returns the bytes written. */
static size_t escape_into(char *p, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, o = 0;
    while (i < n) {
        size_t run = lira_json_plain_run(u, i, n);
        lira_short_copy(p + o, s + i, run - i);
        o += run - i;
        if ((i = run) >= n)
            break;
        unsigned c = u[i];
        if (c == '"' || c == '\\') {
            p[o++] = '\\', p[o++] = (char)c, i++;
        } else if (c < 0x20) {
            static const char hex[] = "0123456789abcdef";
            char named = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : 0;
            p[o++] = '\\';
            if (named) {
                p[o++] = named;
            } else {
                memcpy(p + o, "u00", 3);
                p[o + 3] = hex[c >> 4], p[o + 4] = hex[c & 15];
                o += 5;
            }
            i++;
        } else {
            size_t k = utf8_len(u + i, n - i);
            if (k == 0) {
                memcpy(p + o, "\\ufffd", 6), o += 6, i++;
            } else {
                memcpy(p + o, s + i, k), o += k, i += k;
            }
        }
    }
    return o;
}

static int put_jstr(lbuf *b, const char *s, size_t n)
{
    if (!b->full && n <= LINE_MAX_FAST && 6 * n + 2 <= b->cap - b->len) {
        char *p = b->p + b->len;
        p[0] = '"';
        size_t o = escape_into(p + 1, s, n);
        p[o + 1] = '"';
        b->len += o + 2;
        return 0;
    }
    if (putc_(b, '"') < 0 || put_escaped(b, s, n) < 0)
        return -1;
    return putc_(b, '"');
}

/* Text format: bare when the value is a plain word, JSON-quoted otherwise. */
static int put_tstr(lbuf *b, const char *s, size_t n)
{
    int bare = n > 0;
    for (size_t i = 0; bare && i < n; i++)
        bare = (unsigned char)s[i] > 0x20 && s[i] != '"' && s[i] != '=' && s[i] != '\\' &&
               (unsigned char)s[i] < 0x7f;
    return bare ? put(b, s, n) : put_jstr(b, s, n);
}

/* ------------------------------------------------------------ fields */

/* Decimal digits of v into out (>= 21 bytes); returns the length. */
static size_t format_int(int64_t v, char *out)
{
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    size_t k = v < 0;
    out[0] = '-';   /* overwritten by the first digit when v >= 0 */
    return k + lira_dec(out + k, u);
}

/* us microseconds as milliseconds with at most 3 decimals (2130 -> 2.13,
 * 2000 -> 2, -500 -> -0.5): integer digits only. out needs 26 bytes. */
size_t lira_log_micros(int64_t us, char *out)
{
    uint64_t u = us < 0 ? (uint64_t)0 - (uint64_t)us : (uint64_t)us;
    size_t k = 0;
    if (us < 0)
        out[k++] = '-';
    k += format_int((int64_t)(u / 1000), out + k);
    unsigned frac = (unsigned)(u % 1000);
    if (frac) {
        out[k++] = '.';
        out[k++] = (char)('0' + frac / 100);
        if (frac % 100) {
            out[k++] = (char)('0' + frac / 10 % 10);
            if (frac % 10)
                out[k++] = (char)('0' + frac % 10);
        }
    }
    return k;
}

/* The common number in a line is a duration with at most 3 decimals
 * (latency_ms): print it without printf's float machinery. 0 when d is not
 * such a number (the caller then uses %.15g). */
static size_t format_millis(double d, char *out)
{
    double scaled = d * 1000.0;
    if (!(scaled > -1e9 && scaled < 1e9))
        return 0;
    int64_t th = (int64_t)(scaled < 0 ? scaled - 0.5 : scaled + 0.5);
    double off = scaled - (double)th;
    if (off > 1e-6 || off < -1e-6)   /* more than 3 decimals: not ours */
        return 0;
    return lira_log_micros(th, out);
}

static int key_is_url(const char *k)
{
    size_t n = strlen(k);
    return strcmp(k, "url") == 0 || (n > 4 && strcmp(k + n - 4, "_url") == 0);
}

static int put_value(lira_log *l, lbuf *b, const lira_log_field *f, int text)
{
    char tmp[URL_CAP];
    int (*str)(lbuf *, const char *, size_t) = text ? put_tstr : put_jstr;
    size_t len = f->s && f->len == SIZE_MAX ? strlen(f->s) : f->len;
    int type = f->type;
    if (f->flags & LIRA_LOGF_CHECK) {
        if (lira_redact_header_is_secret(f->key, (const char *const *)l->deny, l->ndeny) == 1)
            return str(b, LIRA_REDACTED, sizeof LIRA_REDACTED - 1);
        if (type == LIRA_LOGF_STR && key_is_url(f->key))
            type = LIRA_LOGF_URL;
    }
    switch (type) {
    case LIRA_LOGF_STR:
        return str(b, f->s, len);
    case LIRA_LOGF_URL: {
        size_t full = 0;
        int rc = lira_redact_url(f->s, len, tmp, sizeof tmp, &full);
        if (rc != LIRA_OK && rc != LIRA_ETOOBIG)
            return str(b, LIRA_REDACTED, sizeof LIRA_REDACTED - 1);
        return str(b, tmp, strlen(tmp));
    }
    case LIRA_LOGF_JSON:
        return put(b, f->s, len);
    case LIRA_LOGF_BOOL:
        return f->i ? put(b, "true", 4) : put(b, "false", 5);
    case LIRA_LOGF_INT:
        return put(b, tmp, format_int(f->i, tmp));
    case LIRA_LOGF_MICROS:
        return put(b, tmp, lira_log_micros(f->i, tmp));
    default: {
        if (!isfinite(f->d))
            return put(b, "null", 4);
        size_t k = format_millis(f->d, tmp);
        if (k == 0)
            k = (size_t)snprintf(tmp, sizeof tmp, "%.15g", f->d);
        return put(b, tmp, k);
    }
    }
}

/* ,"key": for a key known to need no escaping (LIRA_LOGF_KEYOK). */
static int put_plain_key(lbuf *b, const char *key)
{
    size_t kn = strlen(key);
    if (b->full || kn + 4 > b->cap - b->len) {
        b->full = 1;
        return -1;
    }
    char *p = b->p + b->len;
    p[0] = ',', p[1] = '"';
    memcpy(p + 2, key, kn);
    p[kn + 2] = '"', p[kn + 3] = ':';
    b->len += kn + 4;
    return 0;
}

/* "value" for a STR value known to need no escaping (LIRA_LOGF_PLAIN). */
static int put_plain_str(lbuf *b, const lira_log_field *f)
{
    size_t n = f->len == SIZE_MAX ? strlen(f->s) : f->len;
    if (b->full || n + 2 > b->cap - b->len) {
        b->full = 1;
        return -1;
    }
    char *p = b->p + b->len;
    p[0] = '"';
    memcpy(p + 1, f->s, n);
    p[n + 1] = '"';
    b->len += n + 2;
    return 0;
}

static int put_field(lira_log *l, lbuf *b, const lira_log_field *f)
{
    size_t mark = b->len;
    int text = l->format == LIRA_LOG_TEXT, rc;
    if (f->type == LIRA_LOGF_PAIRS)
        return text ? 0 : put(b, f->s, f->len);
    if (!text && (f->flags & LIRA_LOGF_KEYOK)) {
        rc = put_plain_key(b, f->key);
    } else {
        rc = text ? putc_(b, ' ') : putc_(b, ',');
        if (rc == 0)
            rc = text ? put_escaped(b, f->key, strlen(f->key))
                      : put_jstr(b, f->key, strlen(f->key));
        if (rc == 0)
            rc = putc_(b, text ? '=' : ':');
    }
    if (rc == 0)
        rc = !text && (f->flags & LIRA_LOGF_PLAIN) && f->type == LIRA_LOGF_STR
                 ? put_plain_str(b, f)
                 : put_value(l, b, f, text);
    if (rc < 0) {
        b->len = mark;   /* the field goes whole or not at all */
        b->full = 0;
        return -1;
    }
    return 0;
}

static const char *const upper_names[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};

/* ------------------------------------------------------------ fast path */

/* The most bytes field f can take in a JSON line ("," key ":" value), with
 * its key's and value's lengths; 0 when the field is skipped, SIZE_MAX when
 * the checked path must write it (a URL to redact, a user's field to check,
 * an embedded JSON value, anything huge). */
static size_t field_bound(const lira_log_field *f, size_t *klen, size_t *vlen)
{
    if (!f->key || (f->flags & LIRA_LOGF_CHECK))
        return f->key ? SIZE_MAX : 0;
    size_t v;
    switch (f->type) {
    case LIRA_LOGF_STR:
        if (!f->s)
            return 0;
        *vlen = f->len == SIZE_MAX ? strlen(f->s) : f->len;
        if (*vlen > LINE_MAX_FAST)
            return SIZE_MAX;
        v = (f->flags & LIRA_LOGF_PLAIN ? *vlen : 6 * *vlen) + 2;
        break;
    case LIRA_LOGF_PAIRS:
        if (!f->s)
            return 0;
        *vlen = f->len;
        return f->len > LINE_MAX_FAST ? SIZE_MAX : f->len;
    case LIRA_LOGF_INT:
    case LIRA_LOGF_BOOL:
    case LIRA_LOGF_MICROS:
        v = 28;
        break;
    case LIRA_LOGF_NUM:
        v = 40;   /* %.15g: at most 23 */
        break;
    default:
        return SIZE_MAX;
    }
    *klen = f->klen ? f->klen : strlen(f->key);
    if (*klen > LINE_MAX_FAST)
        return SIZE_MAX;
    return v + (f->flags & LIRA_LOGF_KEYOK ? *klen : 6 * *klen) + 4;
}

static size_t value_into(char *p, const lira_log_field *f, size_t vlen)
{
    size_t o = 0;
    switch (f->type) {
    case LIRA_LOGF_STR:
        p[o++] = '"';
        if (f->flags & LIRA_LOGF_PLAIN)
            lira_short_copy(p + o, f->s, vlen), o += vlen;
        else
            o += escape_into(p + o, f->s, vlen);
        p[o++] = '"';
        return o;
    case LIRA_LOGF_INT:
        return format_int(f->i, p);
    case LIRA_LOGF_MICROS:
        return lira_log_micros(f->i, p);
    case LIRA_LOGF_BOOL:
        return f->i ? (memcpy(p, "true", 4), 4) : (memcpy(p, "false", 5), 5);
    default:
        if (!isfinite(f->d))
            return memcpy(p, "null", 4), 4;
        if ((o = format_millis(f->d, p)) == 0)
            o = (size_t)snprintf(p, 40, "%.15g", f->d);
        return o;
    }
}

/* A JSON line whose worst case fits, written with no room checks; 0 when
 * it may not fit or has a field only the checked path writes (then the
 * checked path produces it, field by field). The output is the same. */
static size_t fast_json(lira_log *l, lira_log_level lv, int64_t wall_ns, const char *msg,
                        const lira_log_field *f, size_t n)
{
    const char *ln = lira_log_level_name(lv);
    size_t ml = strlen(msg), lnl = strlen(ln), cap = l->max_line - TAIL_RESERVE;
    if (ml > LINE_MAX_FAST || 64 + lnl + 6 * ml > cap)
        return 0;
    char *p = l->line;
    lbuf b = {p, 0, l->max_line, 0};
    put(&b, "{\"ts\":\"", 7);
    put_ts(l, &b, wall_ns);
    size_t o = b.len;
    memcpy(p + o, "\",\"level\":\"", 11), o += 11;
    lira_short_copy(p + o, ln, lnl), o += lnl;
    memcpy(p + o, "\",\"msg\":\"", 9), o += 9;
    o += escape_into(p + o, msg, ml);
    p[o++] = '"';
    /* One pass: each field is written once its worst case is known to fit;
     * one that may not (or that only the checked path writes) sends the
     * whole line there, which then writes these same bytes. */
    for (size_t i = 0; i < n; i++) {
        size_t klen = 0, vlen = 0, bound = field_bound(&f[i], &klen, &vlen);
        if (bound == 0)
            continue;
        if (bound == SIZE_MAX || bound > cap - o)
            return 0;
        if (f[i].type == LIRA_LOGF_PAIRS) {
            memcpy(p + o, f[i].s, vlen), o += vlen;
            continue;
        }
        p[o++] = ',', p[o++] = '"';
        if (f[i].flags & LIRA_LOGF_KEYOK)
            lira_short_copy(p + o, f[i].key, klen), o += klen;
        else
            o += escape_into(p + o, f[i].key, klen);
        p[o++] = '"', p[o++] = ':';
        o += value_into(p + o, &f[i], vlen);
    }
    p[o++] = '}', p[o++] = '\n';
    return o;
}

size_t lira__log_format_rendered(lira_log *l, lira_log_level lv, int64_t wall_ns,
                                 const char *msg, const lira_log_piece *p, size_t n)
{
    const char *ln = lira_log_level_name(lv);
    size_t lnl = strlen(ln), ml = strlen(msg), cap = l->max_line;
    /* {"ts":" ts ","level":" ln ","msg":" msg " ... }\n */
    size_t total = 7 + 24 + 11 + lnl + 9 + 1 + 2;
    if (ml > cap - total)
        return 0;
    total += ml;
    for (size_t i = 0; i < n; i++) {
        if (p[i].len > cap - total)
            return 0;
        total += p[i].len;
    }
    lbuf b = {l->line, 0, cap, 0};
    put(&b, "{\"ts\":\"", 7);
    put_ts(l, &b, wall_ns);
    char *o = b.p + b.len;
    memcpy(o, "\",\"level\":\"", 11), o += 11;
    lira_short_copy(o, ln, lnl), o += lnl;
    memcpy(o, "\",\"msg\":\"", 9), o += 9;
    lira_short_copy(o, msg, ml), o += ml;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        lira_short_copy(o, p[i].s, p[i].len);
        o += p[i].len;
    }
    *o++ = '}', *o++ = '\n';
    return (size_t)(o - b.p);
}

/* An optional field left out: no key, or no value where one is a string. */
static int skipped(const lira_log_field *f)
{
    return !f->key || (!f->s && (f->type == LIRA_LOGF_STR || f->type == LIRA_LOGF_URL ||
                                 f->type == LIRA_LOGF_JSON || f->type == LIRA_LOGF_PAIRS));
}

size_t lira_log_render_pairs(lira_log *l, const lira_log_field *f, size_t n, char *out,
                             size_t cap)
{
    if (!l || l->format != LIRA_LOG_JSON || !out || (n && !f))
        return 0;
    lbuf b = {out, 0, cap, 0};
    for (size_t i = 0; i < n; i++)
        if (!skipped(&f[i]) && put_field(l, &b, &f[i]) < 0)
            return 0;
    return b.len;
}

size_t lira__log_format(lira_log *l, lira_log_level lv, int64_t wall_ns, const char *msg,
                        const lira_log_field *f, size_t n, uint64_t suppressed)
{
    int text = l->format == LIRA_LOG_TEXT, truncated = 0;
    size_t fast = text || suppressed ? 0 : fast_json(l, lv, wall_ns, msg, f, n);
    if (fast)
        return fast;
    lbuf b = {l->line, 0, l->max_line - TAIL_RESERVE, 0};
    if (text) {
        put_ts(l, &b, wall_ns);
        putc_(&b, ' ');
        put(&b, upper_names[lv], 5);
        putc_(&b, ' ');
        put_escaped(&b, msg, strlen(msg));
    } else {
        put(&b, "{\"ts\":\"", 7);
        put_ts(l, &b, wall_ns);
        put(&b, "\",\"level\":\"", 11);
        const char *ln = lira_log_level_name(lv);
        put(&b, ln, strlen(ln));
        put(&b, "\",\"msg\":", 8);
        if (put_jstr(&b, msg, strlen(msg)) < 0) {   /* an enormous message: cut it */
            b.full = 0;
            b.len = 0;
            put(&b, "{\"msg\":\"(message too long)\"", 27);
            truncated = 1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (skipped(&f[i]))
            continue;
        if (put_field(l, &b, &f[i]) < 0)
            truncated = 1;
    }
    b.cap = l->max_line;   /* the reserve is for the tail */
    char tail[TAIL_RESERVE];
    int k = 0;
    if (suppressed)
        k = snprintf(tail, sizeof tail, text ? " suppressed=%llu" : ",\"suppressed\":%llu",
                     (unsigned long long)suppressed);
    if (truncated) {
        l->stats.truncated++;
        put(&b, tail, (size_t)k);
        k = snprintf(tail, sizeof tail, "%s", text ? " truncated=true" : ",\"truncated\":true");
    }
    put(&b, tail, (size_t)k);
    if (!text)
        putc_(&b, '}');
    putc_(&b, '\n');
    return b.len;
}
