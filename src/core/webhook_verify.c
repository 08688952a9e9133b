/* webhook_verify.c — verify received webhooks against their signatures:
 * reading the scheme's headers, each scheme's parsing and matching, the
 * timestamp check, and the verdict. The contract is in webhook_verify.h;
 * the signing is signature.c's; checking the config and parsing the generic
 * scheme's template are webhook_config.c's. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "status.h"
#include "webhook_verify_impl.h"

#define TS_MAX_DIGITS 18   /* up to 10^18 - 1: no overflow, far beyond any date */
#define HEX256_LEN 64

/* Signatures found in a header: the whole text each is compared as. */
typedef struct sig_list {
    span sig[LIRA_WEBHOOK_MAX_SIGS];
    size_t n;
} sig_list;

static const char STD_ID[] = "webhook-id", STD_TS[] = "webhook-timestamp",
                  STD_SIG[] = "webhook-signature", SVIX_ID[] = "svix-id",
                  SVIX_TS[] = "svix-timestamp", SVIX_SIG[] = "svix-signature",
                  STRIPE_SIG[] = "Stripe-Signature", GITHUB_SIG[] = "X-Hub-Signature-256";

/* --------------------------------------------------------------- verdicts */

__attribute__((format(printf, 4, 5)))
static int verdict(lira_webhook_verdict *out, lira_webhook_kind kind, const char *header,
                   const char *fmt, ...)
{
    out->kind = kind;
    out->header = header;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof out->message, fmt, ap);
    va_end(ap);
    return LIRA_OK;
}

static int malformed(lira_webhook_verdict *out, const char *header, const char *why)
{
    return verdict(out, LIRA_WEBHOOK_MALFORMED, header, "malformed header %s: %s", header, why);
}

const char *lira_webhook_kind_name(lira_webhook_kind kind)
{
    switch (kind) {
    case LIRA_WEBHOOK_VALID:          return "valid";
    case LIRA_WEBHOOK_MISSING_HEADER: return "missing_header";
    case LIRA_WEBHOOK_MALFORMED:      return "malformed";
    case LIRA_WEBHOOK_BAD_SIGNATURE:  return "bad_signature";
    case LIRA_WEBHOOK_EXPIRED:        return "expired";
    }
    return "unknown";
}

/* ---------------------------------------------------------------- headers */

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static int name_is(const lira_webhook_header *h, const char *name)
{
    size_t n = strlen(name);
    if (!h->name || h->name_len != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)h->name[i]) != lower((unsigned char)name[i]))
            return 0;
    return 1;
}

static int has_header(const lira_webhook_header *hs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (name_is(&hs[i], name))
            return 1;
    return 0;
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static span trim(span s)
{
    while (s.len > 0 && is_ows(s.p[0])) {
        s.p++;
        s.len--;
    }
    while (s.len > 0 && is_ows(s.p[s.len - 1]))
        s.len--;
    return s;
}

/* The trimmed value of header `name` into *val; 1 when usable, else 0
 * with the verdict set (missing, duplicated, too long, not visible ASCII). */
static int get_header(const lira_webhook_header *hs, size_t n, const char *name,
                      span *val, lira_webhook_verdict *out)
{
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        if (!name_is(&hs[i], name))
            continue;
        if (found)
            return malformed(out, name, "present more than once"), 0;
        found = 1;
        *val = trim((span){ hs[i].value, hs[i].value ? hs[i].value_len : 0 });
    }
    if (!found || val->len == 0) {
        verdict(out, LIRA_WEBHOOK_MISSING_HEADER, name, "missing header %s", name);
        return 0;
    }
    if (val->len > LIRA_WEBHOOK_MAX_VALUE)
        return malformed(out, name, "value too long"), 0;
    for (size_t i = 0; i < val->len; i++) {
        unsigned char c = (unsigned char)val->p[i];
        if ((c < 0x20 && c != '\t') || c > 0x7e)
            return malformed(out, name, "not printable ASCII"), 0;
    }
    return 1;
}

/* Strict unix seconds: 1..TS_MAX_DIGITS decimal digits. */
static int parse_ts(span s, int64_t *ts)
{
    int64_t v = 0;
    if (s.len == 0 || s.len > TS_MAX_DIGITS)
        return -1;
    for (size_t i = 0; i < s.len; i++) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return -1;
        v = v * 10 + (s.p[i] - '0');
    }
    *ts = v;
    return 0;
}

static int is_hex_text(span s, size_t want)
{
    if (s.len != want)
        return 0;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.p[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return 1;
}

/* Strict base64 that decodes to exactly `want` bytes. */
static int is_b64_text(span s, size_t want)
{
    uint8_t buf[LIRA_HMAC_MAX];
    size_t got = 0;
    if (s.len != lira_base64_encoded_size(want) - 1)
        return 0;
    return lira_base64_decode(s.p, s.len, buf, sizeof buf, &got) == LIRA_OK && got == want;
}

/* Constant-time comparison of expected text with a received one whose hex
 * part (from `hex_from` on) may be upper case: the received text is not
 * secret, so lower-casing a copy of it first leaks nothing. */
static int sig_matches(const char *expected, span got, size_t hex_from)
{
    char buf[LIRA_WEBHOOK_MAX_PREFIX + 2 * LIRA_HMAC_MAX + 8];
    if (got.len > sizeof buf)
        return 0;
    for (size_t i = 0; i < got.len; i++)
        buf[i] = (char)(i >= hex_from ? lower((unsigned char)got.p[i]) : got.p[i]);
    return lira_sig_equal(expected, strlen(expected), buf, got.len);
}

/* Any signature of the list equal to expected. Every entry is compared,
 * so the time taken does not depend on which one matched. */
static int any_matches(const char *expected, const sig_list *sigs, size_t hex_from)
{
    int hit = 0;
    for (size_t i = 0; i < sigs->n; i++)
        hit |= sig_matches(expected, sigs->sig[i], hex_from);
    return hit;
}

/* A signing failure on a secret is a configuration error, not a verdict. */
static int secret_error(lira_webhook_verdict *out, int rc, size_t i, size_t n)
{
    if (rc == LIRA_ECRYPTO) {
        verdict(out, LIRA_WEBHOOK_MALFORMED, NULL, "crypto library failure");
        return LIRA_ECRYPTO;
    }
    verdict(out, LIRA_WEBHOOK_MALFORMED, NULL, "secret %zu of %zu is unusable (%s)", i + 1,
            n, lira_strerror(rc));
    return LIRA_EINVAL;
}

static int no_match(lira_webhook_verdict *out, const char *header, const sig_list *sigs,
                    size_t nsecrets)
{
    return verdict(out, LIRA_WEBHOOK_BAD_SIGNATURE, header,
                   "no signature in %s matches (%zu signature%s, %zu secret%s)", header,
                   sigs->n, sigs->n == 1 ? "" : "s", nsecrets, nsecrets == 1 ? "" : "s");
}

/* The timestamp check of step 3, both directions. */
static int check_time(const lira_webhook_config *cfg, const char *header, int64_t ts,
                      int64_t now, lira_webhook_verdict *out)
{
    int64_t tol = cfg->tolerance_s ? cfg->tolerance_s : LIRA_WEBHOOK_DEFAULT_TOLERANCE;
    int64_t age = now - ts;   /* both in [0, 10^18]: no overflow */
    if (age > tol)
        return verdict(out, LIRA_WEBHOOK_EXPIRED, header,
                       "timestamp %" PRId64 " is %" PRId64 " s before now (tolerance %" PRId64
                       " s)", ts, age, tol);
    if (-age > tol)
        return verdict(out, LIRA_WEBHOOK_EXPIRED, header,
                       "timestamp %" PRId64 " is %" PRId64 " s after now (tolerance %" PRId64
                       " s)", ts, -age, tol);
    return verdict(out, LIRA_WEBHOOK_VALID, NULL, "%s", "");
}

/* --------------------------------------------------------------- schemes */

static int verify_standard(const lira_webhook_config *cfg, const lira_webhook_header *hs,
                           size_t n, const void *body, size_t blen, int64_t now,
                           lira_webhook_verdict *out)
{
    /* Svix sends the same scheme under svix-* names. */
    int svix = !has_header(hs, n, STD_ID) && !has_header(hs, n, STD_TS) &&
               !has_header(hs, n, STD_SIG) && has_header(hs, n, SVIX_SIG);
    const char *hid = svix ? SVIX_ID : STD_ID, *hts = svix ? SVIX_TS : STD_TS;
    const char *hsig = svix ? SVIX_SIG : STD_SIG;
    span id, tsv, sv;
    if (!get_header(hs, n, hid, &id, out) || !get_header(hs, n, hts, &tsv, out) ||
        !get_header(hs, n, hsig, &sv, out))
        return LIRA_OK;
    if (id.len > LIRA_WEBHOOK_MAX_ID)
        return malformed(out, hid, "id too long");
    if (parse_ts(tsv, &out->timestamp) != 0)
        return malformed(out, hts, "not unix seconds");

    /* Space-separated "version,signature"; other versions (v1a) are skipped. */
    sig_list sigs = { .n = 0 };
    size_t i = 0, entries = 0;
    while (i < sv.len) {
        size_t j = i;
        while (j < sv.len && sv.p[j] != ' ')
            j++;
        span e = { sv.p + i, j - i };
        i = j + 1;
        if (e.len == 0)
            continue;
        if (++entries > LIRA_WEBHOOK_MAX_SIGS)
            return malformed(out, hsig, "too many signatures");
        if (e.len > 3 && memcmp(e.p, "v1,", 3) == 0 &&
            is_b64_text((span){ e.p + 3, e.len - 3 }, 32))
            sigs.sig[sigs.n++] = e;
    }
    if (sigs.n == 0)
        return malformed(out, hsig, "no v1,<base64> signature");

    char idz[LIRA_WEBHOOK_MAX_ID + 1], expected[LIRA_SIGN_MAX];
    memcpy(idz, id.p, id.len);
    idz[id.len] = '\0';
    int hit = 0;
    for (size_t k = 0; k < cfg->nsecrets && !hit; k++) {
        int rc = lira_sign_standard(cfg->secrets[k], idz, out->timestamp, body, blen,
                                    expected, sizeof expected);
        if (rc != LIRA_OK)
            return secret_error(out, rc, k, cfg->nsecrets);
        hit = any_matches(expected, &sigs, SIZE_MAX);
    }
    OPENSSL_cleanse(expected, sizeof expected);
    if (!hit)
        return no_match(out, hsig, &sigs, cfg->nsecrets);
    return check_time(cfg, hts, out->timestamp, now, out);
}

/* Stripe-Signature: comma-separated key=value items; one t, any number of
 * v1 (several during a secret roll), other keys (v0) ignored. */
static int parse_stripe(span sv, int64_t *ts, sig_list *sigs, lira_webhook_verdict *out)
{
    int have_t = 0;
    size_t i = 0, items = 0;
    while (i < sv.len) {
        size_t j = i;
        while (j < sv.len && sv.p[j] != ',')
            j++;
        span item = trim((span){ sv.p + i, j - i });
        i = j + 1;
        if (item.len == 0)
            continue;
        if (++items > 2 * LIRA_WEBHOOK_MAX_SIGS)
            return malformed(out, STRIPE_SIG, "too many items"), -1;
        const char *eq = memchr(item.p, '=', item.len);
        if (!eq)
            return malformed(out, STRIPE_SIG, "an item is not key=value"), -1;
        span key = { item.p, (size_t)(eq - item.p) };
        span val = { eq + 1, item.len - key.len - 1 };
        if (key.len == 1 && key.p[0] == 't') {
            if (have_t || parse_ts(val, ts) != 0)
                return malformed(out, STRIPE_SIG, "bad or repeated t="), -1;
            have_t = 1;
        } else if (key.len == 2 && memcmp(key.p, "v1", 2) == 0 && is_hex_text(val, HEX256_LEN)) {
            if (sigs->n == LIRA_WEBHOOK_MAX_SIGS)
                return malformed(out, STRIPE_SIG, "too many signatures"), -1;
            sigs->sig[sigs->n++] = val;
        }
    }
    if (!have_t)
        return malformed(out, STRIPE_SIG, "no t= timestamp"), -1;
    if (sigs->n == 0)
        return malformed(out, STRIPE_SIG, "no v1=<hex> signature"), -1;
    return 0;
}

static int verify_stripe(const lira_webhook_config *cfg, const lira_webhook_header *hs,
                         size_t n, const void *body, size_t blen, int64_t now,
                         lira_webhook_verdict *out)
{
    span sv;
    if (!get_header(hs, n, STRIPE_SIG, &sv, out))
        return LIRA_OK;
    sig_list sigs = { .n = 0 };
    if (parse_stripe(sv, &out->timestamp, &sigs, out) != 0) {
        out->timestamp = -1;
        return LIRA_OK;
    }
    char expected[HEX256_LEN + 1];
    int hit = 0;
    for (size_t k = 0; k < cfg->nsecrets && !hit; k++) {
        int rc = lira_sign_stripe_v1(cfg->secrets[k], out->timestamp, body, blen,
                                     expected, sizeof expected);
        if (rc != LIRA_OK)
            return secret_error(out, rc, k, cfg->nsecrets);
        hit = any_matches(expected, &sigs, 0);
    }
    OPENSSL_cleanse(expected, sizeof expected);
    if (!hit)
        return no_match(out, STRIPE_SIG, &sigs, cfg->nsecrets);
    return check_time(cfg, STRIPE_SIG, out->timestamp, now, out);
}

static int verify_github(const lira_webhook_config *cfg, const lira_webhook_header *hs,
                         size_t n, const void *body, size_t blen, lira_webhook_verdict *out)
{
    static const char prefix[] = "sha256=";
    const size_t plen = sizeof prefix - 1;
    span sv;
    if (!get_header(hs, n, GITHUB_SIG, &sv, out))
        return LIRA_OK;
    if (sv.len <= plen || memcmp(sv.p, prefix, plen) != 0 ||
        !is_hex_text((span){ sv.p + plen, sv.len - plen }, HEX256_LEN))
        return malformed(out, GITHUB_SIG, "not sha256=<hex>");
    sig_list sigs = { .sig = { sv }, .n = 1 };
    char expected[LIRA_SIGN_MAX];
    int hit = 0;
    for (size_t k = 0; k < cfg->nsecrets && !hit; k++) {
        int rc = lira_sign_github(cfg->secrets[k], body, blen, expected, sizeof expected);
        if (rc != LIRA_OK)
            return secret_error(out, rc, k, cfg->nsecrets);
        hit = any_matches(expected, &sigs, plen);
    }
    OPENSSL_cleanse(expected, sizeof expected);
    if (!hit)
        return no_match(out, GITHUB_SIG, &sigs, cfg->nsecrets);
    return verdict(out, LIRA_WEBHOOK_VALID, NULL, "%s", "");
}

/* ---------------------------------------------------------- generic hmac */

static int encode_mac(lira_webhook_encoding enc, const uint8_t *mac, size_t maclen,
                      char *out, size_t cap)
{
    if (enc == LIRA_WEBHOOK_HEX)
        return lira_hex_encode(mac, maclen, out, cap);
    return lira_base64_encode(mac, maclen, out, cap, NULL);
}

static int verify_hmac(const lira_webhook_config *cfg, const lira_webhook_header *hs,
                       size_t n, const void *body, size_t blen, int64_t now,
                       lira_webhook_verdict *out)
{
    span sv, tsv = { "", 0 };
    if (!get_header(hs, n, cfg->header, &sv, out))
        return LIRA_OK;
    if (cfg->timestamp_header) {
        if (!get_header(hs, n, cfg->timestamp_header, &tsv, out))
            return LIRA_OK;
        if (parse_ts(tsv, &out->timestamp) != 0)
            return malformed(out, cfg->timestamp_header, "not unix seconds");
    }
    size_t plen = cfg->prefix ? strlen(cfg->prefix) : 0, maclen = lira_hmac_len(cfg->alg);
    if (sv.len < plen || memcmp(sv.p, cfg->prefix ? cfg->prefix : "", plen) != 0)
        return malformed(out, cfg->header, "the prefix is missing");
    span enc = { sv.p + plen, sv.len - plen };
    if (cfg->encoding == LIRA_WEBHOOK_HEX ? !is_hex_text(enc, 2 * maclen)
                                          : !is_b64_text(enc, maclen))
        return malformed(out, cfg->header, "not an encoded MAC of the configured algorithm");

    lira_bytes parts[WEBHOOK_TEMPLATE_MAX_PARTS];
    int has_body, has_ts;
    const char *why = NULL;
    int np = lira__webhook_template_parts(lira__webhook_template(cfg), (span){ body, blen },
                                           tsv, parts, &has_body, &has_ts, &why);
    if (np < 0)   /* the config check ran first: unreachable */
        return verdict(out, LIRA_WEBHOOK_MALFORMED, NULL, "template %s", why), LIRA_EINVAL;

    sig_list sigs = { .sig = { sv }, .n = 1 };
    char expected[LIRA_WEBHOOK_MAX_PREFIX + 2 * LIRA_HMAC_MAX + 1];
    if (plen > 0)
        memcpy(expected, cfg->prefix, plen);
    uint8_t mac[LIRA_HMAC_MAX];
    int hit = 0, rc = LIRA_OK;
    for (size_t k = 0; k < cfg->nsecrets && !hit && rc == LIRA_OK; k++) {
        size_t got = 0;
        rc = lira_hmac_parts(cfg->alg, cfg->secrets[k], strlen(cfg->secrets[k]), parts,
                             (size_t)np, mac, sizeof mac, &got);
        if (rc == LIRA_OK)
            rc = encode_mac(cfg->encoding, mac, got, expected + plen, sizeof expected - plen);
        if (rc == LIRA_OK)
            hit = any_matches(expected, &sigs,
                              cfg->encoding == LIRA_WEBHOOK_HEX ? plen : SIZE_MAX);
        else
            rc = secret_error(out, rc, k, cfg->nsecrets);
    }
    OPENSSL_cleanse(mac, sizeof mac);
    OPENSSL_cleanse(expected, sizeof expected);
    if (rc != LIRA_OK)
        return rc;
    if (!hit)
        return no_match(out, cfg->header, &sigs, cfg->nsecrets);
    if (!cfg->timestamp_header)
        return verdict(out, LIRA_WEBHOOK_VALID, NULL, "%s", "");
    return check_time(cfg, cfg->timestamp_header, out->timestamp, now, out);
}

/* ---------------------------------------------------------------- verify */

int lira_webhook_verify(const lira_webhook_config *cfg,
                        const lira_webhook_header *headers, size_t nheaders,
                        const void *body, size_t bodylen, int64_t now,
                        lira_webhook_verdict *out)
{
    if (!out)
        return LIRA_EINVAL;
    out->kind = LIRA_WEBHOOK_MALFORMED;
    out->header = NULL;
    out->timestamp = -1;
    out->message[0] = '\0';
    if (!cfg || (!headers && nheaders > 0) || (!body && bodylen > 0) || now < 0) {
        snprintf(out->message, sizeof out->message, "invalid argument");
        return LIRA_EINVAL;
    }
    /* The config is borrowed and may have changed since it was checked:
     * check again, all but the trial signings (a secret that does not
     * decode fails when its turn comes to sign). */
    int rc = lira__webhook_config_check(cfg, 0, out->message, sizeof out->message);
    if (rc != LIRA_OK)
        return rc;
    if (nheaders > LIRA_WEBHOOK_MAX_HEADERS)
        return verdict(out, LIRA_WEBHOOK_MALFORMED, NULL, "more than %d headers",
                       LIRA_WEBHOOK_MAX_HEADERS);
    switch (cfg->scheme) {
    case LIRA_WEBHOOK_STANDARD:
        return verify_standard(cfg, headers, nheaders, body, bodylen, now, out);
    case LIRA_WEBHOOK_STRIPE:
        return verify_stripe(cfg, headers, nheaders, body, bodylen, now, out);
    case LIRA_WEBHOOK_GITHUB:
        return verify_github(cfg, headers, nheaders, body, bodylen, out);
    case LIRA_WEBHOOK_HMAC:
        return verify_hmac(cfg, headers, nheaders, body, bodylen, now, out);
    }
    return LIRA_EINVAL;
}
