/* webhook_verify.h — verify a received webhook's signature: Standard
 * Webhooks (and Svix), Stripe, GitHub, and a generic HMAC scheme.
 *
 * Pure computation: no I/O, no clock (the caller passes `now` in unix
 * seconds), no allocation. The expected signatures are produced by the
 * signing functions of signature.h (lira_sign_standard, lira_sign_stripe_v1,
 * lira_sign_github, lira_hmac_parts) and compared with lira_sig_equal
 * (CRYPTO_memcmp), so signing and verifying can never disagree.
 *
 * Everything received (headers, body) is attacker input: it is bounded by
 * the caps below, never copied beyond small fixed stack buffers, and never
 * quoted in a verdict message (only header names and a parsed timestamp
 * are). The body is MACed in place, whatever its size.
 *
 * Order of the checks, and so which kind a delivery gets:
 *   1. the scheme's headers are present (missing_header) and parse
 *      (malformed: garbage, over-long, duplicated, no usable signature);
 *   2. some signature in the header matches some secret (bad_signature);
 *   3. the timestamp, for schemes that carry one, is within tolerance of
 *      now in both directions (expired).
 * The timestamp is checked after the signature, so `expired` is only ever
 * reported for an authentic delivery (a replay or a skewed clock), never
 * for a forgery. */
#ifndef LIRA_WEBHOOK_VERIFY_H
#define LIRA_WEBHOOK_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "signature.h"

/* ------------------------------------------------------------------ caps */

#define LIRA_WEBHOOK_MAX_SECRETS 16        /* secrets accepted at once (rotation) */
#define LIRA_WEBHOOK_MAX_SECRET 4096       /* bytes of one secret string */
#define LIRA_WEBHOOK_MAX_HEADERS 256       /* headers in one delivery */
#define LIRA_WEBHOOK_MAX_VALUE 4096        /* bytes of one header value we read */
#define LIRA_WEBHOOK_MAX_SIGS 32           /* signatures in one header */
#define LIRA_WEBHOOK_MAX_ID 256            /* bytes of a Standard Webhooks id */
#define LIRA_WEBHOOK_MAX_TEMPLATE 256      /* bytes of a generic template */
#define LIRA_WEBHOOK_MAX_PREFIX 64         /* bytes of a generic prefix */
#define LIRA_WEBHOOK_DEFAULT_TOLERANCE 300 /* seconds */
#define LIRA_WEBHOOK_MAX_TOLERANCE 31536000 /* seconds (a year) */
#define LIRA_WEBHOOK_MESSAGE_MAX 192       /* bytes of a verdict message, NUL included */

/* --------------------------------------------------------------- config */

typedef enum lira_webhook_scheme {
    LIRA_WEBHOOK_STANDARD = 1, /* webhook-id/-timestamp/-signature (svix-* too) */
    LIRA_WEBHOOK_STRIPE = 2,   /* Stripe-Signature: t=..,v1=..[,v1=..] */
    LIRA_WEBHOOK_GITHUB = 3,   /* X-Hub-Signature-256: sha256=<hex> */
    LIRA_WEBHOOK_HMAC = 4      /* generic, see the hmac fields below */
} lira_webhook_scheme;

typedef enum lira_webhook_encoding {
    LIRA_WEBHOOK_HEX = 1,      /* hex, either case */
    LIRA_WEBHOOK_BASE64 = 2    /* strict standard base64 with padding */
} lira_webhook_encoding;

/* What to verify against. Borrowed, not copied: every pointer must stay
 * valid during the call. Strings are NUL-terminated.
 *
 * secrets: nsecrets (1..LIRA_WEBHOOK_MAX_SECRETS) non-empty strings of at
 *   most LIRA_WEBHOOK_MAX_SECRET bytes; a delivery is authentic when it
 *   matches any of them (rotation). The key is
 *     standard: the base64 decoding of the secret after an optional
 *               "whsec_" (as the Standard Webhooks libraries do);
 *     stripe, github, hmac: the secret string's bytes as they are
 *               ("whsec_" included for Stripe).
 * tolerance_s: seconds a timestamp may differ from now either way,
 *   1..LIRA_WEBHOOK_MAX_TOLERANCE; 0 means LIRA_WEBHOOK_DEFAULT_TOLERANCE.
 *   Ignored by github and by hmac without a timestamp_header.
 *
 * hmac only (ignored otherwise):
 *   header: the signature header's name (required);
 *   alg, encoding: required;
 *   prefix: text before the encoded MAC, e.g. "sha256=" (NULL or "": none;
 *     at most LIRA_WEBHOOK_MAX_PREFIX bytes, compared exactly);
 *   timestamp_header: a header holding unix seconds (NULL: none);
 *   signed_content: a template of what is MACed: literal text with the
 *     placeholders {body} (required, the raw body) and {timestamp} (the
 *     timestamp header's value as received; required exactly when
 *     timestamp_header is set, so a timestamp that is checked is also
 *     authenticated). Any other "{" is an error. NULL: "{body}", or "{timestamp}.{body}" with a
 *     timestamp_header. At most LIRA_WEBHOOK_MAX_TEMPLATE bytes and 16
 *     placeholders. */
typedef struct lira_webhook_config {
    lira_webhook_scheme scheme;
    const char *const *secrets;
    size_t nsecrets;
    int64_t tolerance_s;
    const char *header;
    lira_hmac_alg alg;
    lira_webhook_encoding encoding;
    const char *prefix;
    const char *timestamp_header;
    const char *signed_content;
} lira_webhook_config;

/* LIRA_OK when cfg is usable; else LIRA_EINVAL with a reason naming the
 * field written to why (NUL-terminated, truncated to whycap; why may be
 * NULL when whycap is 0), e.g. "secret 2 of 3: not whsec_<base64> ...".
 * Fields are named as the options of lira.webhook.verify (secret, header,
 * algorithm, encoding, prefix, timestamp_header, and template for
 * signed_content). The reason never contains a secret.
 * It signs once with each standard secret to prove the secret decodes:
 * call it when loading a configuration. lira_webhook_verify repeats the
 * other checks on every call; a standard secret that does not decode is
 * reported there (LIRA_EINVAL) only when its turn to sign comes.
 * LIRA_ECRYPTO: OpenSSL failed during a trial signing. */
int lira_webhook_config_check(const lira_webhook_config *cfg, char *why, size_t whycap);

/* Parse "standard", "stripe", "github", "hmac" / "hex", "base64" (exact).
 * LIRA_EINVAL on NULL, LIRA_ENOTFOUND for any other name. */
int lira_webhook_scheme_parse(const char *name, lira_webhook_scheme *out);
int lira_webhook_encoding_parse(const char *name, lira_webhook_encoding *out);

/* -------------------------------------------------------------- verify */

/* One received header; name and value need not be NUL-terminated (they
 * may contain NUL bytes, which makes a value we read malformed). Names
 * match case-insensitively (ASCII); values are trimmed of surrounding
 * spaces and tabs. A header we read that appears twice is malformed (which
 * copy was signed is ambiguous); an empty one counts as missing. */
typedef struct lira_webhook_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} lira_webhook_header;

typedef enum lira_webhook_kind {
    LIRA_WEBHOOK_VALID = 0,
    LIRA_WEBHOOK_MISSING_HEADER = 1,
    LIRA_WEBHOOK_MALFORMED = 2,
    LIRA_WEBHOOK_BAD_SIGNATURE = 3,
    LIRA_WEBHOOK_EXPIRED = 4
} lira_webhook_kind;

typedef struct lira_webhook_verdict {
    lira_webhook_kind kind;
    /* The header the verdict is about (a static or config string), or NULL. */
    const char *header;
    /* The delivery's timestamp in unix seconds once parsed, else -1. */
    int64_t timestamp;
    /* One line for logs and errors: names and numbers only, never a
     * received value, an expected signature or a secret. "" when valid. */
    char message[LIRA_WEBHOOK_MESSAGE_MAX];
} lira_webhook_verdict;

/* Verify one delivery: headers[0..nheaders) as received, the raw body
 * body[0..bodylen) (NULL when bodylen is 0), now in unix seconds (>= 0).
 * A delivery with more than LIRA_WEBHOOK_MAX_HEADERS headers is malformed.
 * Returns LIRA_OK when a verdict was reached — authentic or not: read
 * out->kind. Otherwise out->kind is LIRA_WEBHOOK_MALFORMED and:
 *   LIRA_EINVAL: NULL cfg/out, NULL headers with nheaders > 0, NULL body
 *     with bodylen > 0, now < 0, or cfg is unusable (see
 *     lira_webhook_config_check; the reason is in out->message);
 *   LIRA_ECRYPTO: OpenSSL failed. */
int lira_webhook_verify(const lira_webhook_config *cfg,
                        const lira_webhook_header *headers, size_t nheaders,
                        const void *body, size_t bodylen, int64_t now,
                        lira_webhook_verdict *out);

/* "valid", "missing_header", "malformed", "bad_signature", "expired"
 * (static, never NULL; "unknown" for anything else). */
const char *lira_webhook_kind_name(lira_webhook_kind kind);

#endif
