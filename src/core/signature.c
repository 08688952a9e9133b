/* signature.c — HMAC, hex/base64 and the webhook signing schemes.
 * The contract is in signature.h. */
#include "signature.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "status.h"

#define STANDARD_PREFIX "whsec_"

/* EVP_EncodeBlock/EVP_DecodeBlock take int lengths: work in chunks well
 * below INT_MAX that keep 3-byte groups (encode) and 4-char groups (decode)
 * whole, so any size_t input works. */
#define B64_ENC_CHUNK ((size_t)3 * 16384)
#define B64_DEC_CHUNK ((size_t)4 * 16384)

/* Leave a failed text output as "" so a caller that ignores the status
 * never reads stale or half-written bytes. */
static int fail_text(char *out, size_t cap, int status)
{
    if (out && cap > 0)
        out[0] = '\0';
    return status;
}

/* ------------------------------------------------------------------ HMAC */

static const char *alg_digest(lira_hmac_alg alg)
{
    switch (alg) {
    case LIRA_HMAC_SHA1:   return "SHA1";
    case LIRA_HMAC_SHA256: return "SHA256";
    case LIRA_HMAC_SHA512: return "SHA512";
    }
    return NULL;
}

size_t lira_hmac_len(lira_hmac_alg alg)
{
    switch (alg) {
    case LIRA_HMAC_SHA1:   return 20;
    case LIRA_HMAC_SHA256: return 32;
    case LIRA_HMAC_SHA512: return 64;
    }
    return 0;
}

int lira_hmac_alg_parse(const char *name, lira_hmac_alg *alg)
{
    if (!name || !alg)
        return LIRA_EINVAL;
    if (strcmp(name, "sha1") == 0)
        *alg = LIRA_HMAC_SHA1;
    else if (strcmp(name, "sha256") == 0)
        *alg = LIRA_HMAC_SHA256;
    else if (strcmp(name, "sha512") == 0)
        *alg = LIRA_HMAC_SHA512;
    else
        return LIRA_ENOTFOUND;
    return LIRA_OK;
}

int lira_hmac_parts(lira_hmac_alg alg, const void *key, size_t keylen,
                    const lira_bytes *parts, size_t nparts,
                    uint8_t *out, size_t cap, size_t *outlen)
{
    if (!out || !outlen)
        return LIRA_EINVAL;
    *outlen = 0;
    const char *digest = alg_digest(alg);
    size_t maclen = lira_hmac_len(alg);
    if (!digest || !key || keylen == 0 || (!parts && nparts > 0))
        return LIRA_EINVAL;
    for (size_t i = 0; i < nparts; i++)
        if (!parts[i].p && parts[i].len > 0)
            return LIRA_EINVAL;
    if (cap < maclen)
        return LIRA_ETOOBIG;

    /* Fetched per call: caching the EVP_MAC would be global state. */
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *)(uintptr_t)digest, 0);
    params[1] = OSSL_PARAM_construct_end();
    int ok = ctx && EVP_MAC_init(ctx, key, keylen, params);
    for (size_t i = 0; ok && i < nparts; i++)
        if (parts[i].len > 0)
            ok = EVP_MAC_update(ctx, parts[i].p, parts[i].len);
    size_t got = 0;
    ok = ok && EVP_MAC_final(ctx, out, &got, cap) && got == maclen;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    if (!ok)
        return LIRA_ECRYPTO;
    *outlen = got;
    return LIRA_OK;
}

int lira_hmac(lira_hmac_alg alg, const void *key, size_t keylen,
              const void *data, size_t datalen,
              uint8_t *out, size_t cap, size_t *outlen)
{
    lira_bytes part = { data, datalen };
    if (!data && datalen > 0) {
        if (outlen)
            *outlen = 0;
        return LIRA_EINVAL;
    }
    return lira_hmac_parts(alg, key, keylen, &part, 1, out, cap, outlen);
}

int lira_sig_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    if ((!a && alen > 0) || (!b && blen > 0) || alen != blen)
        return 0;
    if (alen == 0)
        return 1;
    return CRYPTO_memcmp(a, b, alen) == 0;
}

/* ------------------------------------------------------------------- hex */

size_t lira_hex_encoded_size(size_t len)
{
    if (len > (SIZE_MAX - 1) / 2)
        return 0;
    return 2 * len + 1;
}

int lira_hex_encode(const void *in, size_t len, char *out, size_t cap)
{
    static const char digits[] = "0123456789abcdef";
    if (!out || (!in && len > 0))
        return fail_text(out, cap, LIRA_EINVAL);
    size_t need = lira_hex_encoded_size(len);
    if (need == 0 || cap < need)
        return fail_text(out, cap, LIRA_ETOOBIG);
    const uint8_t *p = in;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 0x0f];
    }
    out[2 * len] = '\0';
    return LIRA_OK;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int lira_hex_decode(const char *in, size_t inlen,
                    uint8_t *out, size_t cap, size_t *outlen)
{
    if (!out || !outlen || (!in && inlen > 0))
        return LIRA_EINVAL;
    *outlen = 0;
    if (inlen % 2 != 0)
        return LIRA_EPARSE;
    if (cap < inlen / 2)
        return LIRA_ETOOBIG;
    for (size_t i = 0; i < inlen; i += 2) {
        int hi = hex_value(in[i]), lo = hex_value(in[i + 1]);
        if (hi < 0 || lo < 0)
            return LIRA_EPARSE;
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    *outlen = inlen / 2;
    return LIRA_OK;
}

/* ---------------------------------------------------------------- base64 */

size_t lira_base64_encoded_size(size_t len)
{
    size_t groups = len / 3 + (len % 3 != 0);
    if (groups > (SIZE_MAX - 1) / 4)
        return 0;
    return 4 * groups + 1;
}

int lira_base64_encode(const void *in, size_t len,
                       char *out, size_t cap, size_t *outlen)
{
    if (outlen)
        *outlen = 0;
    if (!out || (!in && len > 0))
        return fail_text(out, cap, LIRA_EINVAL);
    size_t need = lira_base64_encoded_size(len);
    if (need == 0 || cap < need)
        return fail_text(out, cap, LIRA_ETOOBIG);
    const unsigned char *p = in;
    size_t done = 0, written = 0;
    while (done < len) {
        size_t n = len - done < B64_ENC_CHUNK ? len - done : B64_ENC_CHUNK;
        /* Writes 4*ceil(n/3) characters and a NUL: within need, checked above. */
        int w = EVP_EncodeBlock((unsigned char *)out + written, p + done, (int)n);
        if (w < 0)
            return fail_text(out, cap, LIRA_ECRYPTO);
        written += (size_t)w;
        done += n;
    }
    out[written] = '\0';
    if (outlen)
        *outlen = written;
    return LIRA_OK;
}

static int is_b64_alpha(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Strict RFC 4648 check, because EVP_DecodeBlock itself skips whitespace,
 * keeps padding bytes in its output and accepts "=" mid-text. Returns the
 * number of padding characters (0..2) or -1. */
static int b64_validate(const char *in, size_t inlen)
{
    if (inlen % 4 != 0)
        return -1;
    int pad = 0;
    if (inlen > 0 && in[inlen - 1] == '=')
        pad = (inlen > 1 && in[inlen - 2] == '=') ? 2 : 1;
    for (size_t i = 0; i < inlen - (size_t)pad; i++)
        if (!is_b64_alpha(in[i]))
            return -1;
    return pad;
}

int lira_base64_decode(const char *in, size_t inlen,
                       uint8_t *out, size_t cap, size_t *outlen)
{
    if (!out || !outlen || (!in && inlen > 0))
        return LIRA_EINVAL;
    *outlen = 0;
    int pad = b64_validate(in, inlen);
    if (pad < 0)
        return LIRA_EPARSE;
    if (inlen == 0)
        return LIRA_OK;
    size_t total = inlen / 4 * 3 - (size_t)pad;
    if (cap < total)
        return LIRA_ETOOBIG;
    /* Everything but the last group goes straight into out; the last group
     * decodes into a scratch triple, because EVP_DecodeBlock writes all 3
     * bytes even where they are padding and out may have room for fewer. */
    size_t body = inlen - 4, done = 0, written = 0;
    while (done < body) {
        size_t n = body - done < B64_DEC_CHUNK ? body - done : B64_DEC_CHUNK;
        int w = EVP_DecodeBlock(out + written, (const unsigned char *)in + done,
                                (int)n);
        if (w != (int)(n / 4 * 3))
            return LIRA_ECRYPTO;
        written += (size_t)w;
        done += n;
    }
    unsigned char last[3];
    if (EVP_DecodeBlock(last, (const unsigned char *)in + body, 4) != 3)
        return LIRA_ECRYPTO;
    memcpy(out + written, last, 3 - (size_t)pad);
    *outlen = total;
    return LIRA_OK;
}

/* ------------------------------------------------------ webhook schemes */

/* Format ts as decimal into buf; the length, or -1 for a negative ts. */
static int format_ts(int64_t ts, char *buf, size_t cap)
{
    if (ts < 0)
        return -1;
    int n = snprintf(buf, cap, "%" PRId64, ts);
    return (n < 0 || (size_t)n >= cap) ? -1 : n;
}

static int sha256_hex(const void *key, size_t keylen,
                      const lira_bytes *parts, size_t nparts,
                      char *hex, size_t cap)
{
    uint8_t mac[LIRA_HMAC_MAX];
    size_t maclen;
    int rc = lira_hmac_parts(LIRA_HMAC_SHA256, key, keylen, parts, nparts,
                             mac, sizeof mac, &maclen);
    if (rc == LIRA_OK)
        rc = lira_hex_encode(mac, maclen, hex, cap);
    OPENSSL_cleanse(mac, sizeof mac);
    return rc;
}

/* Decode a Standard Webhooks secret ("whsec_" optional) into key. */
static int standard_key(const char *secret, uint8_t *key, size_t cap,
                        size_t *keylen)
{
    size_t plen = strlen(STANDARD_PREFIX);
    if (strncmp(secret, STANDARD_PREFIX, plen) == 0)
        secret += plen;
    size_t slen = strlen(secret);
    if (slen == 0)
        return LIRA_EPARSE;
    int rc = lira_base64_decode(secret, slen, key, cap, keylen);
    if (rc == LIRA_OK && *keylen == 0)
        rc = LIRA_EPARSE;
    return rc;
}

int lira_sign_standard(const char *secret, const char *id, int64_t ts,
                       const void *body, size_t bodylen,
                       char *out, size_t cap)
{
    if (!secret || !id || !out || !secret[0] || !id[0] ||
        (!body && bodylen > 0))
        return fail_text(out, cap, LIRA_EINVAL);
    char tsbuf[24];
    int tslen = format_ts(ts, tsbuf, sizeof tsbuf);
    if (tslen < 0)
        return fail_text(out, cap, LIRA_EINVAL);

    uint8_t key[LIRA_SIGN_MAX_KEY];
    size_t keylen = 0;
    int rc = standard_key(secret, key, sizeof key, &keylen);
    uint8_t mac[LIRA_HMAC_MAX];
    size_t maclen = 0;
    if (rc == LIRA_OK) {
        lira_bytes parts[5] = {
            { id, strlen(id) }, { ".", 1 }, { tsbuf, (size_t)tslen },
            { ".", 1 }, { body, bodylen },
        };
        rc = lira_hmac_parts(LIRA_HMAC_SHA256, key, keylen, parts, 5,
                             mac, sizeof mac, &maclen);
    }
    OPENSSL_cleanse(key, sizeof key);
    if (rc != LIRA_OK)
        return fail_text(out, cap, rc);
    if (cap < 3)
        return fail_text(out, cap, LIRA_ETOOBIG);
    memcpy(out, "v1,", 3);
    rc = lira_base64_encode(mac, maclen, out + 3, cap - 3, NULL);
    return rc == LIRA_OK ? LIRA_OK : fail_text(out, cap, rc);
}

int lira_sign_stripe_v1(const char *secret, int64_t ts,
                        const void *body, size_t bodylen,
                        char *out, size_t cap)
{
    if (!secret || !out || !secret[0] || (!body && bodylen > 0))
        return fail_text(out, cap, LIRA_EINVAL);
    char tsbuf[24];
    int tslen = format_ts(ts, tsbuf, sizeof tsbuf);
    if (tslen < 0)
        return fail_text(out, cap, LIRA_EINVAL);
    lira_bytes parts[3] = {
        { tsbuf, (size_t)tslen }, { ".", 1 }, { body, bodylen },
    };
    int rc = sha256_hex(secret, strlen(secret), parts, 3, out, cap);
    return rc == LIRA_OK ? LIRA_OK : fail_text(out, cap, rc);
}

int lira_sign_stripe(const char *secret, int64_t ts,
                     const void *body, size_t bodylen,
                     char *out, size_t cap)
{
    if (!out)
        return LIRA_EINVAL;
    char hex[2 * 32 + 1];
    int rc = lira_sign_stripe_v1(secret, ts, body, bodylen, hex, sizeof hex);
    if (rc != LIRA_OK)
        return fail_text(out, cap, rc);
    int n = snprintf(out, cap, "t=%" PRId64 ",v1=%s", ts, hex);
    if (n < 0 || (size_t)n >= cap)
        return fail_text(out, cap, LIRA_ETOOBIG);
    return LIRA_OK;
}

int lira_sign_github(const char *secret, const void *body, size_t bodylen,
                     char *out, size_t cap)
{
    if (!secret || !out || !secret[0] || (!body && bodylen > 0))
        return fail_text(out, cap, LIRA_EINVAL);
    static const char prefix[] = "sha256=";
    size_t plen = sizeof prefix - 1;
    if (cap < plen)
        return fail_text(out, cap, LIRA_ETOOBIG);
    memcpy(out, prefix, plen);
    lira_bytes part = { body, bodylen };
    int rc = sha256_hex(secret, strlen(secret), &part, 1, out + plen, cap - plen);
    return rc == LIRA_OK ? LIRA_OK : fail_text(out, cap, rc);
}
