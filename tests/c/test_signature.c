#include "check.h"
#include "testdata.h"

#include <stdint.h>
#include <stdlib.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "rng.h"
#include "signature.h"
#include "status.h"

#define STD_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

/* ----------------------------------------------------------- helpers --- */


/* A header's value by name, any case (headers are case-insensitive). */
static const char *jheader(const cJSON *headers, const char *name)
{
    const cJSON *h;
    cJSON_ArrayForEach(h, headers)
        if (h->string && strcasecmp(h->string, name) == 0 && cJSON_IsString(h))
            return h->valuestring;
    return NULL;
}

/* Strict decimal, as a verifier would parse a timestamp header. */
static int parse_i64(const char *s, size_t len, int64_t *out)
{
    int64_t v = 0;
    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int streq_ct(const char *a, const char *b)
{
    return lira_sig_equal(a, strlen(a), b, strlen(b));
}

/* ------------------------------------------------------------- HMAC --- */

static void test_rfc4231_vectors(void)
{
    cJSON *doc = load_json(LIRA_TESTDATA "/vectors/hmac_rfc4231.json");
    CHECK(doc != NULL);
    if (!doc)
        return;
    const cJSON *c;
    int n = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(doc, "cases")) {
        const char *key_hex = jstr(c, "key_hex"), *data_hex = jstr(c, "data_hex");
        const char *want = jstr(c, "expected_hex");
        CHECK(key_hex && data_hex && want);
        if (!key_hex || !data_hex || !want)
            continue;
        uint8_t key[256], data[256], mac[LIRA_HMAC_MAX];
        size_t klen, dlen, mlen;
        CHECK_EQ(lira_hex_decode(key_hex, strlen(key_hex), key, sizeof key, &klen), LIRA_OK);
        CHECK_EQ(lira_hex_decode(data_hex, strlen(data_hex), data, sizeof data, &dlen), LIRA_OK);
        CHECK_EQ(lira_hmac(LIRA_HMAC_SHA256, key, klen, data, dlen, mac, sizeof mac, &mlen),
                 LIRA_OK);
        CHECK_EQ(mlen, 32);
        const cJSON *tr = cJSON_GetObjectItemCaseSensitive(c, "truncate_to_bytes");
        if (cJSON_IsNumber(tr) && tr->valueint > 0 && tr->valueint < 32)
            mlen = (size_t)tr->valueint;
        char hex[2 * LIRA_HMAC_MAX + 1];
        CHECK_EQ(lira_hex_encode(mac, mlen, hex, sizeof hex), LIRA_OK);
        CHECK_STR(hex, want);
        n++;
    }
    CHECK_EQ(n, 7);
    cJSON_Delete(doc);
}

static void test_hmac_sha1_sha512(void)
{
    /* RFC 2202 case 1 (SHA-1) and RFC 4231 case 1 (SHA-512). */
    uint8_t key[20], mac[LIRA_HMAC_MAX];
    memset(key, 0x0b, sizeof key);
    char hex[2 * LIRA_HMAC_MAX + 1];
    size_t mlen;
    CHECK_EQ(lira_hmac(LIRA_HMAC_SHA1, key, 20, "Hi There", 8, mac, sizeof mac, &mlen), 0);
    CHECK_EQ(mlen, 20);
    lira_hex_encode(mac, mlen, hex, sizeof hex);
    CHECK_STR(hex, "b617318655057264e28bc0b6fb378c8ef146be00");
    CHECK_EQ(lira_hmac(LIRA_HMAC_SHA512, key, 20, "Hi There", 8, mac, sizeof mac, &mlen), 0);
    CHECK_EQ(mlen, 64);
    lira_hex_encode(mac, mlen, hex, sizeof hex);
    CHECK_STR(hex, "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
                   "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854");
}

static void test_hmac_parts_equal_concatenation(void)
{
    uint8_t a[LIRA_HMAC_MAX], b[LIRA_HMAC_MAX];
    size_t alen, blen;
    const char *msg = "msg_1.1614265330.{\"a\":1}";
    lira_bytes parts[] = { { "msg_1", 5 }, { ".", 1 }, { NULL, 0 },
                           { "1614265330.", 11 }, { "{\"a\":1}", 7 } };
    CHECK_EQ(lira_hmac_parts(LIRA_HMAC_SHA256, "k", 1, parts, 5, a, sizeof a, &alen), 0);
    CHECK_EQ(lira_hmac(LIRA_HMAC_SHA256, "k", 1, msg, strlen(msg), b, sizeof b, &blen), 0);
    CHECK(lira_sig_equal(a, alen, b, blen));
    /* No parts is the empty message. */
    CHECK_EQ(lira_hmac_parts(LIRA_HMAC_SHA256, "k", 1, NULL, 0, a, sizeof a, &alen), 0);
    CHECK_EQ(lira_hmac(LIRA_HMAC_SHA256, "k", 1, NULL, 0, b, sizeof b, &blen), 0);
    CHECK(lira_sig_equal(a, alen, b, blen));
}

static void test_hmac_rejects_garbage(void)
{
    uint8_t mac[LIRA_HMAC_MAX];
    size_t mlen = 99;
    CHECK_EQ(lira_hmac(LIRA_HMAC_SHA256, NULL, 1, "x", 1, mac, sizeof mac, &mlen), LIRA_EINVAL);
    CHECK_EQ(mlen, 0);
    CHECK_EQ(lira_hmac(LIRA_HMAC_SHA256, "k", 0, "x", 1, mac, sizeof mac, &mlen), LIRA_EINVAL);
    CHECK_EQ(lira_hmac((lira_hmac_alg)99, "k", 1, "x", 1, mac, sizeof mac, &mlen), LIRA_EINVAL);
    CHECK_EQ(lira_hmac(LIRA_HMAC_SHA256, "k", 1, NULL, 1, mac, sizeof mac, &mlen), LIRA_EINVAL);
    CHECK_EQ(lira_hmac(LIRA_HMAC_SHA256, "k", 1, "x", 1, NULL, 32, &mlen), LIRA_EINVAL);
    CHECK_EQ(lira_hmac(LIRA_HMAC_SHA256, "k", 1, "x", 1, mac, sizeof mac, NULL), LIRA_EINVAL);
    CHECK_EQ(lira_hmac(LIRA_HMAC_SHA256, "k", 1, "x", 1, mac, 31, &mlen), LIRA_ETOOBIG);
    CHECK_EQ(lira_hmac(LIRA_HMAC_SHA512, "k", 1, "x", 1, mac, 63, &mlen), LIRA_ETOOBIG);
    CHECK_EQ(lira_hmac(LIRA_HMAC_SHA1, "k", 1, "x", 1, mac, 20, &mlen), LIRA_OK);
    CHECK_EQ(lira_hmac_parts(LIRA_HMAC_SHA256, "k", 1, NULL, 2, mac, sizeof mac, &mlen),
             LIRA_EINVAL);
    lira_bytes bad[] = { { "a", 1 }, { NULL, 3 } };
    CHECK_EQ(lira_hmac_parts(LIRA_HMAC_SHA256, "k", 1, bad, 2, mac, sizeof mac, &mlen),
             LIRA_EINVAL);
    CHECK_EQ(lira_hmac_len((lira_hmac_alg)0), 0);
}

static void test_alg_parse(void)
{
    lira_hmac_alg a = LIRA_HMAC_SHA1;
    CHECK_EQ(lira_hmac_alg_parse("sha256", &a), LIRA_OK);
    CHECK_EQ(a, LIRA_HMAC_SHA256);
    CHECK_EQ(lira_hmac_alg_parse("sha512", &a), LIRA_OK);
    CHECK_EQ(a, LIRA_HMAC_SHA512);
    CHECK_EQ(lira_hmac_alg_parse("sha1", &a), LIRA_OK);
    CHECK_EQ(a, LIRA_HMAC_SHA1);
    CHECK_EQ(lira_hmac_alg_parse("md5", &a), LIRA_ENOTFOUND);
    CHECK_EQ(lira_hmac_alg_parse("SHA256", &a), LIRA_ENOTFOUND);
    CHECK_EQ(lira_hmac_alg_parse("", &a), LIRA_ENOTFOUND);
    CHECK_EQ(lira_hmac_alg_parse(NULL, &a), LIRA_EINVAL);
    CHECK_EQ(lira_hmac_alg_parse("sha1", NULL), LIRA_EINVAL);
}

static void test_sig_equal(void)
{
    CHECK(lira_sig_equal("abc", 3, "abc", 3));
    CHECK(!lira_sig_equal("abc", 3, "abd", 3));
    CHECK(!lira_sig_equal("abc", 3, "abcd", 4));
    CHECK(lira_sig_equal(NULL, 0, "", 0));
    CHECK(!lira_sig_equal(NULL, 1, "a", 1));
    CHECK(!lira_sig_equal("a", 1, NULL, 1));
}

/* ----------------------------------------------------------- codecs --- */

static void test_base64_rfc4648_vectors(void)
{
    static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
    static const char *const coded[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==",
                                         "Zm9vYmE=", "Zm9vYmFy" };
    for (int i = 0; i < 7; i++) {
        char out[16];
        size_t olen = 99;
        size_t plen = strlen(plain[i]);
        CHECK_EQ(lira_base64_encode(plain[i], plen, out, sizeof out, &olen), LIRA_OK);
        CHECK_STR(out, coded[i]);
        CHECK_EQ(olen, strlen(coded[i]));
        CHECK_EQ(lira_base64_encoded_size(plen), strlen(coded[i]) + 1);
        uint8_t dec[16];
        size_t dlen = 99;
        CHECK_EQ(lira_base64_decode(coded[i], strlen(coded[i]), dec, sizeof dec, &dlen), 0);
        CHECK_EQ(dlen, plen);
        CHECK(memcmp(dec, plain[i], plen) == 0);
        /* Exact caps pass and write nothing past the cap; one less fails. */
        memset(dec, 0xAA, sizeof dec);
        CHECK_EQ(lira_base64_decode(coded[i], strlen(coded[i]), dec, plen, &dlen), LIRA_OK);
        CHECK_EQ(dec[plen], 0xAA);
        if (plen > 0)
            CHECK_EQ(lira_base64_decode(coded[i], strlen(coded[i]), dec, plen - 1, &dlen),
                     LIRA_ETOOBIG);
        CHECK_EQ(lira_base64_encode(plain[i], plen, out, strlen(coded[i]) + 1, NULL), 0);
        out[0] = 'x';
        CHECK_EQ(lira_base64_encode(plain[i], plen, out, strlen(coded[i]), NULL),
                 LIRA_ETOOBIG);
        if (strlen(coded[i]) > 0)
            CHECK_EQ(out[0], '\0');
    }
}

static void test_base64_rejects_garbage(void)
{
    static const char *const bad[] = {
        "Zg=", "Z===", "Zg=a", "Zm 9v", "Zm9v\n", "\nZm9v", "=Zm9", "Zm9v====",
        "Zm$v", "Zm9v-_==", "Z", "Zm9vY", "Zm9\xc3\xa9", "====", "Zm=v",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t out[32];
        size_t olen = 99;
        int rc = lira_base64_decode(bad[i], strlen(bad[i]), out, sizeof out, &olen);
        if (rc != LIRA_EPARSE)
            fprintf(stderr, "accepted bad base64 #%zu \"%s\"\n", i, bad[i]);
        CHECK_EQ(rc, LIRA_EPARSE);
        CHECK_EQ(olen, 0);
    }
    uint8_t out[4];
    size_t olen;
    char text[8];
    CHECK_EQ(lira_base64_decode(NULL, 4, out, sizeof out, &olen), LIRA_EINVAL);
    CHECK_EQ(lira_base64_decode("Zm9v", 4, NULL, 4, &olen), LIRA_EINVAL);
    CHECK_EQ(lira_base64_decode("Zm9v", 4, out, 4, NULL), LIRA_EINVAL);
    CHECK_EQ(lira_base64_encode(NULL, 1, text, sizeof text, &olen), LIRA_EINVAL);
    CHECK_EQ(lira_base64_encode("a", 1, NULL, 8, &olen), LIRA_EINVAL);
    CHECK_EQ(lira_base64_encoded_size(SIZE_MAX), 0);
    CHECK_EQ(lira_base64_encode("abc", SIZE_MAX, text, sizeof text, &olen), LIRA_ETOOBIG);
}

static void test_codec_round_trips(void)
{
    lira_rng r;
    lira_rng_seed(&r, 4231);
    uint8_t in[300], back[300];
    char text[2 * 300 + 1];
    for (size_t len = 0; len < sizeof in; len++) {
        for (size_t i = 0; i < len; i++)
            in[i] = (uint8_t)lira_rng_next(&r);
        size_t tlen, blen;
        CHECK_EQ(lira_base64_encode(in, len, text, sizeof text, &tlen), LIRA_OK);
        CHECK_EQ(lira_base64_decode(text, tlen, back, len, &blen), LIRA_OK);
        CHECK_EQ(blen, len);
        CHECK(len == 0 || memcmp(in, back, len) == 0);
        CHECK_EQ(lira_hex_encode(in, len, text, sizeof text), LIRA_OK);
        CHECK_EQ(strlen(text), 2 * len);
        CHECK_EQ(lira_hex_decode(text, 2 * len, back, len, &blen), LIRA_OK);
        CHECK_EQ(blen, len);
        CHECK(len == 0 || memcmp(in, back, len) == 0);
    }
}

static void test_base64_large_crosses_chunks(void)
{
    /* Larger than the internal 48 KiB / 64 KiB chunks, not a multiple of 3. */
    size_t len = (size_t)1 << 20 | 1;
    uint8_t *in = malloc(len), *back = malloc(len);
    size_t tcap = lira_base64_encoded_size(len);
    char *text = malloc(tcap);
    CHECK(in && back && text);
    if (in && back && text) {
        lira_rng r;
        lira_rng_seed(&r, 1);
        for (size_t i = 0; i < len; i++)
            in[i] = (uint8_t)lira_rng_next(&r);
        size_t tlen, blen;
        CHECK_EQ(lira_base64_encode(in, len, text, tcap, &tlen), LIRA_OK);
        CHECK_EQ(tlen, tcap - 1);
        CHECK_EQ(strlen(text), tlen);
        CHECK_EQ(lira_base64_decode(text, tlen, back, len, &blen), LIRA_OK);
        CHECK_EQ(blen, len);
        CHECK(memcmp(in, back, len) == 0);
        text[tlen / 2] = '*';
        CHECK_EQ(lira_base64_decode(text, tlen, back, len, &blen), LIRA_EPARSE);
    }
    free(in);
    free(back);
    free(text);
}

static void test_hex_edges(void)
{
    uint8_t out[4];
    size_t olen;
    char text[9];
    CHECK_EQ(lira_hex_decode("DEADbeef", 8, out, sizeof out, &olen), LIRA_OK);
    CHECK_EQ(olen, 4);
    CHECK_EQ(lira_hex_encode(out, 4, text, sizeof text), LIRA_OK);
    CHECK_STR(text, "deadbeef");
    CHECK_EQ(lira_hex_decode("abc", 3, out, sizeof out, &olen), LIRA_EPARSE);
    CHECK_EQ(lira_hex_decode("zz", 2, out, sizeof out, &olen), LIRA_EPARSE);
    CHECK_EQ(lira_hex_decode("0g", 2, out, sizeof out, &olen), LIRA_EPARSE);
    CHECK_EQ(lira_hex_decode("0011223344", 10, out, sizeof out, &olen), LIRA_ETOOBIG);
    CHECK_EQ(lira_hex_decode(NULL, 2, out, sizeof out, &olen), LIRA_EINVAL);
    CHECK_EQ(lira_hex_encode(out, 4, text, 8), LIRA_ETOOBIG);
    CHECK_EQ(text[0], '\0');
    CHECK_EQ(lira_hex_encode(NULL, 4, text, sizeof text), LIRA_EINVAL);
    CHECK_EQ(lira_hex_encode(NULL, 0, text, 1), LIRA_OK);
    CHECK_STR(text, "");
    CHECK_EQ(lira_hex_encode("x", SIZE_MAX, text, sizeof text), LIRA_ETOOBIG);
}

/* ---------------------------------------------- published webhooks --- */

/* Does case c verify? Signature recomputed with lira_sign_*, compared in
 * constant time against each signature in the header; plus the timestamp
 * tolerance check every timestamped scheme does. Sets *sig_ok. */
static int verify_case(const cJSON *c, int *sig_ok)
{
    const char *scheme = jstr(c, "scheme"), *secret = jstr(c, "secret");
    const char *body = jstr(c, "body");
    const cJSON *headers = cJSON_GetObjectItemCaseSensitive(c, "headers");
    const cJSON *now = cJSON_GetObjectItemCaseSensitive(c, "now");
    const cJSON *tol = cJSON_GetObjectItemCaseSensitive(c, "tolerance_s");
    char sig[LIRA_SIGN_MAX];
    int64_t ts = -1;
    *sig_ok = 0;
    if (!scheme || !secret || !body)
        return -1;
    size_t blen = strlen(body);
    if (strcmp(scheme, "github") == 0) {
        const char *h = jheader(headers, "X-Hub-Signature-256");
        CHECK_EQ(lira_sign_github(secret, body, blen, sig, sizeof sig), LIRA_OK);
        *sig_ok = h && streq_ct(sig, h);
        return *sig_ok;
    }
    if (strcmp(scheme, "stripe") == 0) {
        const char *h = jheader(headers, "Stripe-Signature");
        const char *comma = h ? strchr(h, ',') : NULL;
        if (!h || strncmp(h, "t=", 2) != 0 || !comma ||
            parse_i64(h + 2, (size_t)(comma - h - 2), &ts) != 0)
            return -1;
        CHECK_EQ(lira_sign_stripe(secret, ts, body, blen, sig, sizeof sig), LIRA_OK);
        *sig_ok = streq_ct(sig, h);
        char v1[65];
        CHECK_EQ(lira_sign_stripe_v1(secret, ts, body, blen, v1, sizeof v1), LIRA_OK);
        CHECK_EQ(*sig_ok, strncmp(comma, ",v1=", 4) == 0 && streq_ct(v1, comma + 4));
    } else {
        /* standard-webhooks and svix: same scheme, svix-* header names. */
        int svix = strcmp(scheme, "svix") == 0;
        const char *id = jheader(headers, svix ? "svix-id" : "webhook-id");
        const char *t = jheader(headers, svix ? "svix-timestamp" : "webhook-timestamp");
        const char *h = jheader(headers, svix ? "svix-signature" : "webhook-signature");
        if (!id || !t || !h || parse_i64(t, strlen(t), &ts) != 0)
            return -1;
        CHECK_EQ(lira_sign_standard(secret, id, ts, body, blen, sig, sizeof sig), LIRA_OK);
        /* The header may list several space-separated signatures. */
        for (const char *p = h; *p;) {
            size_t n = strcspn(p, " ");
            *sig_ok |= lira_sig_equal(sig, strlen(sig), p, n);
            p += n + (p[n] == ' ');
        }
    }
    if (!cJSON_IsNumber(now) || !cJSON_IsNumber(tol))
        return -1;
    int64_t age = (int64_t)now->valuedouble - ts;
    return *sig_ok && age <= (int64_t)tol->valuedouble &&
           -age <= (int64_t)tol->valuedouble;
}

static void test_published_webhook_examples(void)
{
    cJSON *doc = load_json(LIRA_TESTDATA "/vectors/webhooks-published.json");
    CHECK(doc != NULL);
    if (!doc)
        return;
    const cJSON *c;
    int valid = 0, invalid = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(doc, "cases")) {
        const char *id = jstr(c, "id");
        int expect = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "expect_valid"));
        int sig_ok = 0;
        int got = verify_case(c, &sig_ok);
        if (got != expect)
            fprintf(stderr, "case %s: verified %d, expected %d\n", id ? id : "?", got, expect);
        CHECK_EQ(got, expect);
        /* Every valid example reproduces the published signature byte for
         * byte; the invalid ones that are not about time must not match. */
        if (expect)
            CHECK(sig_ok);
        else if (!strstr(id ? id : "", "too-old"))
            CHECK(!sig_ok);
        valid += expect;
        invalid += !expect;
    }
    CHECK_EQ(valid, 4);
    CHECK_EQ(invalid, 4);
    cJSON_Delete(doc);
}

/* ---------------------------------------------------- scheme details --- */

static void test_schemes_empty_body(void)
{
    /* Expected values computed independently with Python's hmac module. */
    char sig[LIRA_SIGN_MAX];
    CHECK_EQ(lira_sign_github("It's a Secret to Everybody", "", 0, sig, sizeof sig), 0);
    CHECK_STR(sig, "sha256=66a0c074deaa0f489ead6537e0d32f9a344b90bbeda705b6ed45ecd3b413fb40");
    CHECK_EQ(lira_sign_github("It's a Secret to Everybody", NULL, 0, sig, sizeof sig), 0);
    CHECK_STR(sig, "sha256=66a0c074deaa0f489ead6537e0d32f9a344b90bbeda705b6ed45ecd3b413fb40");
    CHECK_EQ(lira_sign_stripe("whsec_test_secret", 0, NULL, 0, sig, sizeof sig), 0);
    CHECK_STR(sig, "t=0,v1=e359a4b07054a77815d22548b11f4936e8b16e4160347fcbc7fbeac890d07c42");
    CHECK_EQ(lira_sign_standard(STD_SECRET, "msg_1", 0, NULL, 0, sig, sizeof sig), 0);
    CHECK_STR(sig, "v1,ij2G0S51rXTp+PMwqJOjeWFLEpktT32X6cQ9P08rbws=");
}

static void test_standard_secret_prefix_optional(void)
{
    char a[LIRA_SIGN_MAX], b[LIRA_SIGN_MAX];
    CHECK_EQ(lira_sign_standard(STD_SECRET, "m", 5, "x", 1, a, sizeof a), LIRA_OK);
    CHECK_EQ(lira_sign_standard(STD_SECRET + 6, "m", 5, "x", 1, b, sizeof b), LIRA_OK);
    CHECK_STR(a, b);
    /* Stripe keys with the whole string, so the prefix matters there. */
    CHECK_EQ(lira_sign_stripe_v1(STD_SECRET, 5, "x", 1, a, sizeof a), LIRA_OK);
    CHECK_EQ(lira_sign_stripe_v1(STD_SECRET + 6, 5, "x", 1, b, sizeof b), LIRA_OK);
    CHECK(strcmp(a, b) != 0);
}

static void test_schemes_reject_garbage(void)
{
    char sig[LIRA_SIGN_MAX];
    const char *s = STD_SECRET;
    CHECK_EQ(lira_sign_standard(NULL, "m", 1, "x", 1, sig, sizeof sig), LIRA_EINVAL);
    CHECK_EQ(sig[0], '\0');
    CHECK_EQ(lira_sign_standard(s, NULL, 1, "x", 1, sig, sizeof sig), LIRA_EINVAL);
    CHECK_EQ(lira_sign_standard(s, "", 1, "x", 1, sig, sizeof sig), LIRA_EINVAL);
    CHECK_EQ(lira_sign_standard("", "m", 1, "x", 1, sig, sizeof sig), LIRA_EINVAL);
    CHECK_EQ(lira_sign_standard(s, "m", -1, "x", 1, sig, sizeof sig), LIRA_EINVAL);
    CHECK_EQ(lira_sign_standard(s, "m", 1, NULL, 1, sig, sizeof sig), LIRA_EINVAL);
    CHECK_EQ(lira_sign_standard(s, "m", 1, "x", 1, NULL, 64), LIRA_EINVAL);
    CHECK_EQ(lira_sign_standard("whsec_", "m", 1, "x", 1, sig, sizeof sig), LIRA_EPARSE);
    CHECK_EQ(lira_sign_standard("whsec_!!!!", "m", 1, "x", 1, sig, sizeof sig), LIRA_EPARSE);
    CHECK_EQ(lira_sign_standard("whsec_MfKQ9r8", "m", 1, "x", 1, sig, sizeof sig),
             LIRA_EPARSE);
    CHECK_EQ(lira_sign_standard("whsec_ MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "m", 1, "x", 1,
                                sig, sizeof sig), LIRA_EPARSE);
    /* A key longer than LIRA_SIGN_MAX_KEY bytes. */
    char big[6 + 4 * (LIRA_SIGN_MAX_KEY / 3 + 2) + 1];
    memcpy(big, "whsec_", 6);
    size_t n = 4 * (LIRA_SIGN_MAX_KEY / 3 + 2);
    memset(big + 6, 'A', n);
    big[6 + n] = '\0';
    CHECK_EQ(lira_sign_standard(big, "m", 1, "x", 1, sig, sizeof sig), LIRA_ETOOBIG);

    CHECK_EQ(lira_sign_stripe(NULL, 1, "x", 1, sig, sizeof sig), LIRA_EINVAL);
    CHECK_EQ(lira_sign_stripe("", 1, "x", 1, sig, sizeof sig), LIRA_EINVAL);
    CHECK_EQ(lira_sign_stripe("k", -5, "x", 1, sig, sizeof sig), LIRA_EINVAL);
    CHECK_EQ(lira_sign_stripe("k", 1, NULL, 2, sig, sizeof sig), LIRA_EINVAL);
    CHECK_EQ(lira_sign_stripe("k", 1, "x", 1, NULL, 64), LIRA_EINVAL);
    CHECK_EQ(lira_sign_stripe_v1(NULL, 1, "x", 1, sig, sizeof sig), LIRA_EINVAL);
    CHECK_EQ(lira_sign_github(NULL, "x", 1, sig, sizeof sig), LIRA_EINVAL);
    CHECK_EQ(lira_sign_github("", "x", 1, sig, sizeof sig), LIRA_EINVAL);
    CHECK_EQ(lira_sign_github("k", NULL, 1, sig, sizeof sig), LIRA_EINVAL);
    CHECK_EQ(lira_sign_github("k", "x", 1, NULL, 80), LIRA_EINVAL);
}

static void test_schemes_exact_caps(void)
{
    char sig[LIRA_SIGN_MAX];
    int64_t ts = INT64_MAX;  /* the longest timestamp */
    for (int scheme = 0; scheme < 4; scheme++) {
        int rc = -1;
        for (size_t cap = 0; cap <= sizeof sig; cap++) {
            memset(sig, 'x', sizeof sig);
            char *out = cap ? sig : NULL;
            switch (scheme) {
            case 0: rc = lira_sign_standard(STD_SECRET, "m", ts, "b", 1, out, cap); break;
            case 1: rc = lira_sign_stripe("k", ts, "b", 1, out, cap); break;
            case 2: rc = lira_sign_stripe_v1("k", ts, "b", 1, out, cap); break;
            default: rc = lira_sign_github("k", "b", 1, out, cap); break;
            }
            if (rc == LIRA_OK) {
                CHECK_EQ(strlen(sig) + 1, cap);  /* the first cap that works is exact */
                break;
            }
            CHECK_EQ(rc, cap ? LIRA_ETOOBIG : LIRA_EINVAL);
            if (cap)
                CHECK_EQ(sig[0], '\0');
        }
        CHECK_EQ(rc, LIRA_OK);
    }
}

static void test_schemes_huge_body(void)
{
    size_t len = (size_t)16 << 20;
    const char *prefix = "msg_big.1700000000.";
    size_t plen = strlen(prefix);
    char *buf = malloc(plen + len);
    CHECK(buf != NULL);
    if (!buf)
        return;
    memcpy(buf, prefix, plen);
    for (size_t i = 0; i < len; i++)
        buf[plen + i] = (char)('a' + i % 26);
    char *body = buf + plen;

    char sig[LIRA_SIGN_MAX], want[LIRA_SIGN_MAX];
    uint8_t mac[LIRA_HMAC_MAX], key[64];
    size_t mlen, klen;
    CHECK_EQ(lira_sign_github("k", body, len, sig, sizeof sig), LIRA_OK);
    CHECK_EQ(lira_hmac(LIRA_HMAC_SHA256, "k", 1, body, len, mac, sizeof mac, &mlen), 0);
    memcpy(want, "sha256=", 7);
    lira_hex_encode(mac, mlen, want + 7, sizeof want - 7);
    CHECK_STR(sig, want);

    CHECK_EQ(lira_sign_standard(STD_SECRET, "msg_big", 1700000000, body, len, sig, sizeof sig),
             LIRA_OK);
    const char *b64 = STD_SECRET + 6;
    CHECK_EQ(lira_base64_decode(b64, strlen(b64), key, sizeof key, &klen), LIRA_OK);
    CHECK_EQ(lira_hmac(LIRA_HMAC_SHA256, key, klen, buf, plen + len, mac, sizeof mac, &mlen),
             LIRA_OK);
    memcpy(want, "v1,", 3);
    lira_base64_encode(mac, mlen, want + 3, sizeof want - 3, NULL);
    CHECK_STR(sig, want);
    free(buf);
}

int main(void)
{
    RUN(test_rfc4231_vectors);
    RUN(test_hmac_sha1_sha512);
    RUN(test_hmac_parts_equal_concatenation);
    RUN(test_hmac_rejects_garbage);
    RUN(test_alg_parse);
    RUN(test_sig_equal);
    RUN(test_base64_rfc4648_vectors);
    RUN(test_base64_rejects_garbage);
    RUN(test_codec_round_trips);
    RUN(test_base64_large_crosses_chunks);
    RUN(test_hex_edges);
    RUN(test_published_webhook_examples);
    RUN(test_schemes_empty_body);
    RUN(test_standard_secret_prefix_optional);
    RUN(test_schemes_reject_garbage);
    RUN(test_schemes_exact_caps);
    RUN(test_schemes_huge_body);
    return check_summary();
}
