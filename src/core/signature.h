/* signature.h — HMAC, hex/base64 codecs and the webhook signing schemes of
 * Standard Webhooks, Stripe and GitHub.
 *
 * Everything here is computation: no I/O, no clock, no global state. HMAC is
 * OpenSSL 3's EVP_MAC; base64 is OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock
 * behind a strict validator. Every output goes into a caller buffer with an
 * explicit capacity; a buffer that is too small is LIRA_ETOOBIG, never a
 * truncated result. On any error a text output (cap > 0) is left as "".
 *
 * The lira_sign_* functions produce exactly the header value a provider
 * sends, so a verifier is "sign what you received, compare in constant time
 * with lira_sig_equal": nothing else about the schemes lives elsewhere.
 *
 * Timestamps are unix seconds (wall clock) passed in by the caller; they are
 * formatted as plain decimal, as the providers' own libraries do after
 * parsing the header. */
#ifndef LIRA_SIGNATURE_H
#define LIRA_SIGNATURE_H

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ HMAC */

typedef enum lira_hmac_alg {
    LIRA_HMAC_SHA1 = 1,
    LIRA_HMAC_SHA256 = 2,
    LIRA_HMAC_SHA512 = 3
} lira_hmac_alg;

/* Largest MAC any lira_hmac_alg produces (SHA-512), in bytes. */
#define LIRA_HMAC_MAX 64

/* One piece of a message that is MACed as the concatenation of its pieces
 * (so "id.timestamp.body" never has to be copied into one buffer). p may be
 * NULL only when len is 0. */
typedef struct lira_bytes {
    const void *p;
    size_t len;
} lira_bytes;

/* MAC length of alg in bytes (20, 32, 64); 0 for an unknown alg. */
size_t lira_hmac_len(lira_hmac_alg alg);

/* Parse "sha1", "sha256" or "sha512" (exact, lower case) into *alg.
 * LIRA_EINVAL on NULL, LIRA_ENOTFOUND for any other name. */
int lira_hmac_alg_parse(const char *name, lira_hmac_alg *alg);

/* HMAC-alg(key, data) into out (binary, lira_hmac_len(alg) bytes); *outlen
 * gets that length. data may be NULL when datalen is 0.
 * LIRA_EINVAL: NULL out/outlen/key, keylen 0 (an empty key authenticates
 *   nothing, so it is treated as a configuration error), unknown alg.
 * LIRA_ETOOBIG: cap < lira_hmac_len(alg).
 * LIRA_ECRYPTO: OpenSSL failed (out is then unspecified, *outlen is 0). */
int lira_hmac(lira_hmac_alg alg, const void *key, size_t keylen,
              const void *data, size_t datalen,
              uint8_t *out, size_t cap, size_t *outlen);

/* As lira_hmac, over the concatenation of nparts pieces (nparts may be 0:
 * the empty message). LIRA_EINVAL also when parts is NULL with nparts > 0
 * or a piece has p == NULL and len > 0. */
int lira_hmac_parts(lira_hmac_alg alg, const void *key, size_t keylen,
                    const lira_bytes *parts, size_t nparts,
                    uint8_t *out, size_t cap, size_t *outlen);

/* 1 when a[0..alen) equals b[0..blen), else 0, in time that depends only on
 * the lengths (CRYPTO_memcmp): use it for every signature comparison.
 * Lengths are not secret: different lengths return 0 at once. NULL with a
 * zero length is the empty string; NULL with a non-zero length returns 0. */
int lira_sig_equal(const void *a, size_t alen, const void *b, size_t blen);

/* ------------------------------------------------------------- encodings */

/* Bytes of text (with the NUL) that encoding len bytes needs, or 0 when that
 * would overflow size_t. */
size_t lira_hex_encoded_size(size_t len);
size_t lira_base64_encoded_size(size_t len);

/* Lower-case hex of in[0..len) into out as a NUL-terminated string of 2*len
 * characters. in may be NULL when len is 0.
 * LIRA_EINVAL: NULL out, or NULL in with len > 0.
 * LIRA_ETOOBIG: cap < lira_hex_encoded_size(len) (or it overflowed). */
int lira_hex_encode(const void *in, size_t len, char *out, size_t cap);

/* Decode hex text in[0..inlen) (upper or lower case, no separators) into
 * out; *outlen gets inlen / 2.
 * LIRA_EINVAL: NULL out/outlen, or NULL in with inlen > 0.
 * LIRA_EPARSE: odd length or a non-hex character (nothing is promised
 *   about out then).
 * LIRA_ETOOBIG: cap < inlen / 2. */
int lira_hex_decode(const char *in, size_t inlen,
                    uint8_t *out, size_t cap, size_t *outlen);

/* Standard base64 (RFC 4648 section 4, "+/" alphabet, "=" padding) of
 * in[0..len) into out, NUL-terminated; *outlen (may be NULL) gets the number
 * of characters without the NUL.
 * LIRA_EINVAL: NULL out, or NULL in with len > 0.
 * LIRA_ETOOBIG: cap < lira_base64_encoded_size(len). */
int lira_base64_encode(const void *in, size_t len,
                       char *out, size_t cap, size_t *outlen);

/* Decode strict standard base64: length a multiple of 4, only alphabet
 * characters, "=" only as one or two final padding characters, no
 * whitespace. *outlen gets the exact decoded length (padding removed).
 * LIRA_EINVAL: NULL out/outlen, or NULL in with inlen > 0.
 * LIRA_EPARSE: anything else than the above.
 * LIRA_ETOOBIG: cap smaller than the decoded length.
 * LIRA_ECRYPTO: OpenSSL rejected text the validator accepted (a bug). */
int lira_base64_decode(const char *in, size_t inlen,
                       uint8_t *out, size_t cap, size_t *outlen);

/* ------------------------------------------------------ webhook schemes */

/* Room for any header value the lira_sign_* functions produce, NUL
 * included; buffers of this size never get LIRA_ETOOBIG. */
#define LIRA_SIGN_MAX 128

/* Longest Standard Webhooks key accepted, in decoded bytes (real secrets are
 * 24 to 64 bytes). */
#define LIRA_SIGN_MAX_KEY 512

/* Standard Webhooks (and Svix): the webhook-signature value
 * "v1,<base64 HMAC-SHA256(key, "<id>.<ts>.<body>")>", where key is the
 * base64 decoding of secret after an optional "whsec_" prefix.
 * id: the webhook-id header, non-empty NUL-terminated text; ts: the
 * webhook-timestamp, unix seconds >= 0; body may be NULL when bodylen is 0.
 * LIRA_EINVAL: NULL secret/id/out, empty secret or id, ts < 0, NULL body
 *   with bodylen > 0.
 * LIRA_EPARSE: the secret is not strict base64 (see lira_base64_decode) or
 *   decodes to nothing.
 * LIRA_ETOOBIG: key longer than LIRA_SIGN_MAX_KEY, or cap too small.
 * LIRA_ECRYPTO: OpenSSL failed. */
int lira_sign_standard(const char *secret, const char *id, int64_t ts,
                       const void *body, size_t bodylen,
                       char *out, size_t cap);

/* Stripe: the Stripe-Signature value "t=<ts>,v1=<hex>" (see below).
 * Errors as lira_sign_stripe_v1. */
int lira_sign_stripe(const char *secret, int64_t ts,
                     const void *body, size_t bodylen,
                     char *out, size_t cap);

/* Stripe's v1 signature alone: lower-case hex of HMAC-SHA256(secret,
 * "<ts>.<body>"), keyed with the whole secret string, "whsec_" included.
 * A verifier compares it with each "v1=" entry of the header.
 * LIRA_EINVAL: NULL secret/out, empty secret, ts < 0, NULL body with
 *   bodylen > 0. LIRA_ETOOBIG: cap < 65. LIRA_ECRYPTO: OpenSSL failed. */
int lira_sign_stripe_v1(const char *secret, int64_t ts,
                        const void *body, size_t bodylen,
                        char *out, size_t cap);

/* GitHub: the X-Hub-Signature-256 value "sha256=<hex HMAC-SHA256(secret,
 * body)>". Errors as lira_sign_stripe_v1 (without ts); cap >= 72. */
int lira_sign_github(const char *secret, const void *body, size_t bodylen,
                     char *out, size_t cap);

#endif
