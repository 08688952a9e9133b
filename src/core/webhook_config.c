/* webhook_config.c — check a webhook verification config before any
 * delivery is verified against it: scheme and encoding names, the secrets,
 * the generic HMAC scheme's fields, and the signed-content template that
 * scheme MACs (parsed here for the check and, per delivery, for
 * webhook_verify.c). The contract is in webhook_verify.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "status.h"
#include "webhook_verify_impl.h"

/* -------------------------------------------------------------- template */

const char *lira__webhook_template(const lira_webhook_config *cfg)
{
    if (cfg->signed_content)
        return cfg->signed_content;
    return cfg->timestamp_header ? "{timestamp}.{body}" : "{body}";
}

/* Split the template into MAC parts: literal text points into it, {body}
 * and {timestamp} become body and ts. Returns the number of parts, or -1
 * with *why set; *has_ts and *has_body tell which placeholders were seen. */
int lira__webhook_template_parts(const char *t, span bodyv, span tsv, lira_bytes *parts,
                                 int *has_body, int *has_ts, const char **why)
{
    static const char PB[] = "{body}", PT[] = "{timestamp}";
    size_t np = 0, holes = 0, len = strlen(t);
    *has_body = *has_ts = 0;
    if (len > LIRA_WEBHOOK_MAX_TEMPLATE)
        return *why = "longer than 256 bytes", -1;
    for (size_t i = 0; i < len;) {
        const char *brace = strchr(t + i, '{');
        size_t lit = brace ? (size_t)(brace - (t + i)) : len - i;
        if (lit > 0)
            parts[np++] = (lira_bytes){ t + i, lit };
        i += lit;
        if (!brace)
            break;
        if (++holes > 16)
            return *why = "more than 16 placeholders", -1;
        if (strncmp(brace, PB, sizeof PB - 1) == 0) {
            parts[np++] = (lira_bytes){ bodyv.p, bodyv.len };
            *has_body = 1;
            i += sizeof PB - 1;
        } else if (strncmp(brace, PT, sizeof PT - 1) == 0) {
            parts[np++] = (lira_bytes){ tsv.p, tsv.len };
            *has_ts = 1;
            i += sizeof PT - 1;
        } else {
            return *why = "only {body} and {timestamp} may follow a {", -1;
        }
    }
    if (!*has_body)
        return *why = "does not contain {body}", -1;
    return (int)np;
}

/* ---------------------------------------------------------------- config */

int lira_webhook_scheme_parse(const char *name, lira_webhook_scheme *out)
{
    static const char *const names[] = { "standard", "stripe", "github", "hmac" };
    if (!name || !out)
        return LIRA_EINVAL;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0) {
            *out = (lira_webhook_scheme)(i + 1);
            return LIRA_OK;
        }
    return LIRA_ENOTFOUND;
}

int lira_webhook_encoding_parse(const char *name, lira_webhook_encoding *out)
{
    if (!name || !out)
        return LIRA_EINVAL;
    if (strcmp(name, "hex") == 0)
        *out = LIRA_WEBHOOK_HEX;
    else if (strcmp(name, "base64") == 0)
        *out = LIRA_WEBHOOK_BASE64;
    else
        return LIRA_ENOTFOUND;
    return LIRA_OK;
}

__attribute__((format(printf, 3, 4)))
static int bad_config(char *why, size_t cap, const char *fmt, ...)
{
    if (why && cap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, cap, fmt, ap);
        va_end(ap);
    }
    return LIRA_EINVAL;
}

/* An HTTP field name (RFC 9110 token characters). */
static int is_header_name(const char *s)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if (!s || !s[0] || strlen(s) > 256)
        return 0;
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              strchr(extra, c)))
            return 0;
    }
    return 1;
}

/* Whether s is longer than max bytes, reading at most max + 1 of them. */
static int too_long(const char *s, size_t max)
{
    for (size_t i = 0; i <= max; i++)
        if (s[i] == '\0')
            return 0;
    return 1;
}

/* trial: also sign once with each standard secret to prove it decodes. */
static int check_secrets(const lira_webhook_config *cfg, int trial, char *why, size_t cap)
{
    if (!cfg->secrets || cfg->nsecrets == 0 || cfg->nsecrets > LIRA_WEBHOOK_MAX_SECRETS)
        return bad_config(why, cap, "secret: give 1 to %d secrets", LIRA_WEBHOOK_MAX_SECRETS);
    for (size_t i = 0; i < cfg->nsecrets; i++) {
        const char *s = cfg->secrets[i];
        if (!s || !s[0] || too_long(s, LIRA_WEBHOOK_MAX_SECRET))
            return bad_config(why, cap, "secret %zu of %zu: empty or longer than %d bytes",
                              i + 1, cfg->nsecrets, LIRA_WEBHOOK_MAX_SECRET);
        if (cfg->scheme != LIRA_WEBHOOK_STANDARD || !trial)
            continue;
        /* A trial signing proves the key decodes, with signature.c's rules. */
        char sig[LIRA_SIGN_MAX];
        int rc = lira_sign_standard(s, "x", 0, NULL, 0, sig, sizeof sig);
        if (rc == LIRA_ECRYPTO)
            return bad_config(why, cap, "crypto library failure"), LIRA_ECRYPTO;
        if (rc != LIRA_OK)
            return bad_config(why, cap, "secret %zu of %zu: not whsec_<base64> of at most %d "
                              "bytes", i + 1, cfg->nsecrets, LIRA_SIGN_MAX_KEY);
    }
    return LIRA_OK;
}

static int check_hmac(const lira_webhook_config *cfg, char *why, size_t cap)
{
    if (!is_header_name(cfg->header))
        return bad_config(why, cap, "header: not an HTTP header name");
    if (lira_hmac_len(cfg->alg) == 0)
        return bad_config(why, cap, "algorithm: not sha1, sha256 or sha512");
    if (cfg->encoding != LIRA_WEBHOOK_HEX && cfg->encoding != LIRA_WEBHOOK_BASE64)
        return bad_config(why, cap, "encoding: not hex or base64");
    if (cfg->prefix) {
        size_t n = strlen(cfg->prefix);
        if (n > LIRA_WEBHOOK_MAX_PREFIX)
            return bad_config(why, cap, "prefix: longer than %d bytes", LIRA_WEBHOOK_MAX_PREFIX);
        for (size_t i = 0; i < n; i++)
            if (cfg->prefix[i] < 0x21 || cfg->prefix[i] > 0x7e)
                return bad_config(why, cap, "prefix: not visible ASCII");
    }
    if (cfg->timestamp_header && !is_header_name(cfg->timestamp_header))
        return bad_config(why, cap, "timestamp_header: not an HTTP header name");
    lira_bytes parts[WEBHOOK_TEMPLATE_MAX_PARTS];
    int has_body, has_ts;
    const char *reason = NULL;
    if (lira__webhook_template_parts(lira__webhook_template(cfg), (span){ "", 0 },
                                     (span){ "", 0 }, parts, &has_body, &has_ts, &reason) < 0)
        return bad_config(why, cap, "template: %s", reason);
    if (has_ts && !cfg->timestamp_header)
        return bad_config(why, cap, "template: {timestamp} needs a timestamp_header");
    if (!has_ts && cfg->timestamp_header)
        return bad_config(why, cap, "template: must contain {timestamp} when a "
                          "timestamp_header is checked");
    return LIRA_OK;
}

int lira__webhook_config_check(const lira_webhook_config *cfg, int trial, char *why,
                               size_t whycap)
{
    if (why && whycap > 0)
        why[0] = '\0';
    if (!cfg)
        return bad_config(why, whycap, "no configuration");
    if (cfg->scheme < LIRA_WEBHOOK_STANDARD || cfg->scheme > LIRA_WEBHOOK_HMAC)
        return bad_config(why, whycap, "scheme: not standard, stripe, github or hmac");
    if (cfg->tolerance_s < 0 || cfg->tolerance_s > LIRA_WEBHOOK_MAX_TOLERANCE)
        return bad_config(why, whycap, "tolerance: not 1..%d seconds",
                          LIRA_WEBHOOK_MAX_TOLERANCE);
    int rc = check_secrets(cfg, trial, why, whycap);
    if (rc == LIRA_OK && cfg->scheme == LIRA_WEBHOOK_HMAC)
        rc = check_hmac(cfg, why, whycap);
    return rc;
}

int lira_webhook_config_check(const lira_webhook_config *cfg, char *why, size_t whycap)
{
    return lira__webhook_config_check(cfg, 1, why, whycap);
}
