#include "redact.h"

#include <string.h>

#include "status.h"

/* Decoded parameter names longer than this are treated as secret rather than
 * inspected: no real API uses them, and it keeps the check allocation-free. */
#define NAME_MAX_DECODED 256

/* A word and its length: the policy checks run for every query parameter of
 * every logged URL and recorded span, so lengths are not recounted. */
typedef struct {
    const char *w;
    size_t n;
} word;

#define W(s) {s, sizeof s - 1}

static const word secret_param_names[] = {
    W("token"), W("access_token"), W("refresh_token"), W("id_token"), W("api_key"),
    W("apikey"), W("key"), W("secret"), W("client_secret"), W("password"), W("passwd"),
    W("pwd"), W("signature"), W("sig"), W("code"), W("auth"),
};

static const word secret_param_parts[] = {
    W("token"), W("secret"), W("password"), W("passwd"), W("signature"), W("api_key"),
    W("apikey"), W("api-key"),
};

static const char *const secret_header_names[] = {
    "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-auth-token",
};

static const char *const secret_header_parts[] = {
    "token", "secret", "signature", "password", "passwd", "api-key", "api_key", "apikey",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------ text helpers --- */

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Case-insensitive equality of s[0..n) with the lower-case word w. */
static int ci_equal(const char *s, size_t n, const char *w)
{
    /* No strlen(w): most words differ at the first byte. */
    for (size_t i = 0; i < n; i++)
        if (w[i] == '\0' || lower((unsigned char)s[i]) != (unsigned char)w[i])
            return 0;
    return w[n] == '\0';
}

/* Case-insensitive: does s[0..n) contain the lower-case word w? */
static int ci_contains(const char *s, size_t n, const char *w)
{
    size_t wn = strlen(w);
    /* The first letter filters almost every position before the full
     * compare (this runs for every query parameter of every logged URL). */
    for (size_t i = 0; i + wn <= n; i++)
        if (lower((unsigned char)s[i]) == (unsigned char)w[0] && ci_equal(s + i, wn, w))
            return 1;
    return 0;
}

static int matches_policy(const char *s, size_t n, const char *const *names, size_t nnames,
                          const char *const *parts, size_t nparts)
{
    for (size_t i = 0; i < nnames; i++)
        if (ci_equal(s, n, names[i]))
            return 1;
    for (size_t i = 0; i < nparts; i++)
        if (ci_contains(s, n, parts[i]))
            return 1;
    return 0;
}

static int hex_nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)lower((unsigned char)c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Does the lower-case s[0..n) equal one of the words, or contain one of the
 * parts? Plain compares of known lengths: s is already lower case. */
static int lower_matches(const char *s, size_t n, const word *names, size_t nnames,
                         const word *parts, size_t nparts)
{
    for (size_t i = 0; i < nnames; i++)
        if (names[i].n == n && memcmp(s, names[i].w, n) == 0)
            return 1;
    for (size_t i = 0; i < nparts; i++) {
        size_t wn = parts[i].n;
        for (size_t k = 0; k + wn <= n; k++)
            if (s[k] == parts[i].w[0] && memcmp(s + k, parts[i].w, wn) == 0)
                return 1;
    }
    return 0;
}

/* Percent-decodes a parameter name so that "%74oken" is seen as "token"; a
 * malformed escape stays literal, as lenient servers treat it. Decoded in
 * lower case, so the policy compares bytes. */
static int param_name_is_secret(const char *s, size_t n)
{
    char dec[NAME_MAX_DECODED];
    size_t d = 0;
    for (size_t i = 0; i < n; i++) {
        if (d == sizeof dec)
            return 1;
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = hex_nibble(s[i + 1])) >= 0
            && (lo = hex_nibble(s[i + 2])) >= 0) {
            dec[d++] = (char)lower((unsigned char)(hi << 4 | lo));
            i += 2;
        } else {
            dec[d++] = (char)lower((unsigned char)s[i]);
        }
    }
    return lower_matches(dec, d, secret_param_names, COUNT(secret_param_names),
                         secret_param_parts, COUNT(secret_param_parts));
}

/* ------------------------------------------------------------ output --- */

/* Writes what fits (leaving room for the NUL) and counts everything, so the
 * caller learns the full length even when the buffer was too small. */
typedef struct {
    char *out;
    size_t cap;
    size_t len;
} writer;

static void put(writer *w, const char *s, size_t n)
{
    if (w->len < w->cap - 1) {
        size_t room = w->cap - 1 - w->len;
        memcpy(w->out + w->len, s, n < room ? n : room);
    }
    w->len += n;
}

/* -------------------------------------------------------------- URL --- */

/* Copies the '&'-separated parameters of s[0..n), redacting secret values. */
static void put_params(writer *w, const char *s, size_t n)
{
    size_t start = 0;
    while (start <= n) {
        const char *amp = memchr(s + start, '&', n - start);
        size_t end = amp ? (size_t)(amp - s) : n;
        const char *eq = memchr(s + start, '=', end - start);
        size_t q = eq ? (size_t)(eq - s) : end;
        if (eq && q + 1 < end && param_name_is_secret(s + start, q - start)) {
            put(w, s + start, q + 1 - start);
            put(w, LIRA_REDACTED, strlen(LIRA_REDACTED));
        } else {
            put(w, s + start, end - start);
        }
        if (!amp)
            break;
        put(w, "&", 1);
        start = end + 1;
    }
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_scheme_char(char c)
{
    return is_alpha(c) || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
}

/* Where the authority starts, or len when the URL has none. */
static size_t authority_start(const char *u, size_t len)
{
    if (len == 0 || u[0] == '/' || u[0] == '?' || u[0] == '#') {
        if (len >= 2 && u[0] == '/' && u[1] == '/')
            return 2;
        return len;
    }
    if (is_alpha(u[0])) {
        size_t j = 1;
        while (j < len && is_scheme_char(u[j]))
            j++;
        if (j + 2 < len && u[j] == ':' && u[j + 1] == '/' && u[j + 2] == '/')
            return j + 3;
    }
    return 0; /* no scheme: "user:pw@host/..." or "host:8080/..." */
}

/* The end of the authority: the first '/', '?' or '#' at or after `from`
 * (len when none). A byte table, not strchr per byte: every logged URL and
 * every recorded span passes here. */
static size_t find_authority_end(const char *s, size_t from, size_t len)
{
    static const unsigned char stop[256] = {['/'] = 1, ['?'] = 1, ['#'] = 1};
    for (size_t i = from; i < len; i++)
        if (stop[(unsigned char)s[i]])
            return i;
    return len;
}

/* The first c in s[from..len), or len. */
static size_t find_char(const char *s, size_t from, size_t len, char c)
{
    const char *p = from < len ? memchr(s + from, c, len - from) : NULL;
    return p ? (size_t)(p - s) : len;
}

/* Copies the fragment (after '#'): only the part after its first '?' is read
 * as parameters when it has one, so "#/route?token=x" is covered too. */
static void put_fragment(writer *w, const char *s, size_t n)
{
    const char *qm = memchr(s, '?', n);
    size_t p = qm ? (size_t)(qm - s) + 1 : 0;
    put(w, s, p);
    put_params(w, s + p, n - p);
}

int lira_redact_url(const char *url, size_t len, char *out, size_t cap, size_t *out_len)
{
    if (!url || !out || cap == 0) {
        if (out && cap > 0)
            out[0] = '\0';
        return LIRA_EINVAL;
    }
    writer w = {out, cap, 0};
    size_t a = authority_start(url, len), pos = 0;
    if (a < len) {
        size_t e = find_authority_end(url, a, len);
        size_t at = e;
        for (size_t i = a; i < e; i++)
            if (url[i] == '@')
                at = i;
        if (at < e && at > a) {
            put(&w, url, a);
            put(&w, LIRA_REDACTED, strlen(LIRA_REDACTED));
            pos = at;
        }
    }
    size_t hash = find_char(url, pos, len, '#');
    size_t qm = find_char(url, pos, hash, '?');
    put(&w, url + pos, qm - pos);
    if (qm < hash) {
        put(&w, "?", 1);
        put_params(&w, url + qm + 1, hash - qm - 1);
    }
    if (hash < len) {
        put(&w, "#", 1);
        put_fragment(&w, url + hash + 1, len - hash - 1);
    }
    out[w.len < cap ? w.len : cap - 1] = '\0';
    if (out_len)
        *out_len = w.len;
    return w.len < cap ? LIRA_OK : LIRA_ETOOBIG;
}

/* ----------------------------------------------------------- headers --- */

int lira_redact_header_is_secret(const char *name, const char *const *deny, size_t ndeny)
{
    if (!name || (!deny && ndeny > 0))
        return LIRA_EINVAL;
    size_t n = strlen(name);
    if (matches_policy(name, n, secret_header_names, COUNT(secret_header_names),
                       secret_header_parts, COUNT(secret_header_parts)))
        return 1;
    for (size_t i = 0; i < ndeny; i++) {
        if (!deny[i])
            continue;
        size_t dn = strlen(deny[i]);
        if (dn != n)
            continue;
        size_t k = 0;
        while (k < n && lower((unsigned char)name[k]) == lower((unsigned char)deny[i][k]))
            k++;
        if (k == n)
            return 1;
    }
    return 0;
}
