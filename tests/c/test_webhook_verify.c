#include "check.h"
#include "testdata.h"

#include <stdint.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "signature.h"
#include "status.h"
#include "webhook_verify.h"

#define STD_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define STD_OTHER "whsec_c2Vjb25kLXNlY3JldC1mb3Itcm90YXRpb24="
#define STRIPE_SECRET "whsec_test_secret"
#define GH_SECRET "It's a Secret to Everybody"
#define NOW 1700000000

#define H(n, v) { (n), strlen(n), (v), strlen(v) }

/* ----------------------------------------------------------- helpers --- */


static lira_webhook_config cfg_of(lira_webhook_scheme scheme, const char *const *secrets,
                                  size_t n)
{
    lira_webhook_config c = { .scheme = scheme, .secrets = secrets, .nsecrets = n };
    return c;
}

/* Whether text holds needle (needles shorter than 6 bytes are too common
 * to mean anything). */
static int leaks(const char *text, const char *needle, size_t len)
{
    if (len < 6)
        return 0;
    size_t tl = strlen(text);
    for (size_t i = 0; i + len <= tl; i++)
        if (memcmp(text + i, needle, len) == 0)
            return 1;
    return 0;
}

/* Verify, check the call itself succeeded and that the message quotes no
 * secret and no received header value; return the verdict's kind. */
static lira_webhook_kind verify(const lira_webhook_config *c, const lira_webhook_header *hs,
                                size_t n, const char *body, size_t blen, int64_t now,
                                lira_webhook_verdict *v)
{
    lira_webhook_verdict local;
    if (!v)
        v = &local;
    int rc = lira_webhook_verify(c, hs, n, body, blen, now, v);
    CHECK_EQ(rc, LIRA_OK);
    for (size_t i = 0; i < c->nsecrets; i++)
        CHECK(!leaks(v->message, c->secrets[i], strlen(c->secrets[i])));
    for (size_t i = 0; i < n; i++)
        if (hs[i].value_len >= 20)
            CHECK(!leaks(v->message, hs[i].value, hs[i].value_len < 40 ? hs[i].value_len : 40));
    if (v->kind == LIRA_WEBHOOK_VALID)
        CHECK_STR(v->message, "");
    else
        CHECK(v->message[0] != '\0');
    return v->kind;
}

#define VERIFY(c, hs, body, now) \
    verify((c), (hs), sizeof(hs) / sizeof((hs)[0]), (body), strlen(body), (now), NULL)

/* ------------------------------------------------- published vectors --- */

static lira_webhook_scheme scheme_of(const char *name)
{
    if (strcmp(name, "standard-webhooks") == 0 || strcmp(name, "svix") == 0)
        return LIRA_WEBHOOK_STANDARD;
    lira_webhook_scheme s = 0;
    CHECK_EQ(lira_webhook_scheme_parse(name, &s), LIRA_OK);
    return s;
}

static void run_case(const cJSON *c, int *valid, int *invalid)
{
    const char *id = jstr(c, "id"), *secret = jstr(c, "secret"), *body = jstr(c, "body");
    const char *scheme = jstr(c, "scheme");
    CHECK(id && secret && body && scheme);
    if (!id || !secret || !body || !scheme)
        return;
    lira_webhook_header hs[8];
    size_t n = 0;
    const cJSON *h;
    cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(c, "headers")) {
        if (n < 8 && cJSON_IsString(h))
            hs[n++] = (lira_webhook_header)H(h->string, h->valuestring);
    }
    const cJSON *now = cJSON_GetObjectItemCaseSensitive(c, "now");
    const cJSON *tol = cJSON_GetObjectItemCaseSensitive(c, "tolerance_s");
    lira_webhook_config cfg = cfg_of(scheme_of(scheme), &secret, 1);
    cfg.tolerance_s = cJSON_IsNumber(tol) ? (int64_t)tol->valuedouble : 0;
    lira_webhook_verdict v;
    lira_webhook_kind got = verify(&cfg, hs, n, body, strlen(body),
                                   cJSON_IsNumber(now) ? (int64_t)now->valuedouble : 0, &v);
    lira_webhook_kind want = LIRA_WEBHOOK_VALID;
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "expect_valid")))
        want = strstr(id, "too-old") ? LIRA_WEBHOOK_EXPIRED : LIRA_WEBHOOK_BAD_SIGNATURE;
    if (got != want)
        fprintf(stderr, "case %s: %s (%s), expected %s\n", id, lira_webhook_kind_name(got),
                v.message, lira_webhook_kind_name(want));
    CHECK_EQ(got, want);
    *valid += want == LIRA_WEBHOOK_VALID;
    *invalid += want != LIRA_WEBHOOK_VALID;
}

static void test_published_vectors(void)
{
    cJSON *doc = load_json(LIRA_TESTDATA "/vectors/webhooks-published.json");
    CHECK(doc != NULL);
    if (!doc)
        return;
    int valid = 0, invalid = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(doc, "cases"))
        run_case(c, &valid, &invalid);
    CHECK_EQ(valid, 4);
    CHECK_EQ(invalid, 4);
    cJSON_Delete(doc);
}

/* ------------------------------------------------ standard webhooks --- */

static const char *const std_secrets[] = { STD_SECRET };
#define STD_BODY "{\"test\": 2432232314}"
#define STD_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define STD_TS "1614265330"
#define STD_SIG "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
#define STD_NOW 1614265330

static void test_standard_several_signatures(void)
{
    lira_webhook_config c = cfg_of(LIRA_WEBHOOK_STANDARD, std_secrets, 1);
    /* Wrong v1, an asymmetric v1a (skipped), garbage, then the right one. */
    lira_webhook_header hs[] = {
        H("webhook-id", STD_ID), H("webhook-timestamp", STD_TS),
        H("webhook-signature", "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= "
                               "v1a,aGVsbG8= v1,%%%  " STD_SIG),
    };
    CHECK_EQ(VERIFY(&c, hs, STD_BODY, STD_NOW), LIRA_WEBHOOK_VALID);
    /* The same without the right one: a real mismatch. */
    lira_webhook_header bad[] = {
        H("webhook-id", STD_ID), H("webhook-timestamp", STD_TS),
        H("webhook-signature", "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= v1a,aGVsbG8="),
    };
    lira_webhook_verdict v;
    CHECK_EQ(verify(&c, bad, 3, STD_BODY, strlen(STD_BODY), STD_NOW, &v),
             LIRA_WEBHOOK_BAD_SIGNATURE);
    CHECK_STR(v.header, "webhook-signature");
    CHECK_EQ(v.timestamp, STD_NOW);
}

static void test_standard_names_any_case_and_svix(void)
{
    lira_webhook_config c = cfg_of(LIRA_WEBHOOK_STANDARD, std_secrets, 1);
    lira_webhook_header upper[] = {
        H("Content-Type", "application/json"), H("WEBHOOK-ID", STD_ID),
        H("Webhook-Timestamp", "  " STD_TS "\t"), H("webhook-SIGNATURE", STD_SIG),
    };
    CHECK_EQ(VERIFY(&c, upper, STD_BODY, STD_NOW), LIRA_WEBHOOK_VALID);
    lira_webhook_header svix[] = {
        H("Svix-Id", STD_ID), H("Svix-Timestamp", STD_TS), H("Svix-Signature", STD_SIG),
    };
    CHECK_EQ(VERIFY(&c, svix, STD_BODY, STD_NOW), LIRA_WEBHOOK_VALID);
    /* The raw base64 secret without whsec_ is the same key. */
    const char *raw = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    lira_webhook_config r = cfg_of(LIRA_WEBHOOK_STANDARD, &raw, 1);
    CHECK_EQ(VERIFY(&r, upper, STD_BODY, STD_NOW), LIRA_WEBHOOK_VALID);
}

static void test_rotation(void)
{
    const char *old_first[] = { STD_OTHER, STD_SECRET };
    const char *new_first[] = { STD_SECRET, STD_OTHER };
    const char *neither[] = { STD_OTHER, "whsec_dGhpcmQ=" };
    lira_webhook_header hs[] = {
        H("webhook-id", STD_ID), H("webhook-timestamp", STD_TS), H("webhook-signature", STD_SIG),
    };
    lira_webhook_config c = cfg_of(LIRA_WEBHOOK_STANDARD, old_first, 2);
    CHECK_EQ(VERIFY(&c, hs, STD_BODY, STD_NOW), LIRA_WEBHOOK_VALID);
    c.secrets = new_first;
    CHECK_EQ(VERIFY(&c, hs, STD_BODY, STD_NOW), LIRA_WEBHOOK_VALID);
    c.secrets = neither;
    CHECK_EQ(VERIFY(&c, hs, STD_BODY, STD_NOW), LIRA_WEBHOOK_BAD_SIGNATURE);

    /* Stripe during a roll: two v1 entries, one per secret, either works. */
    char v1a[65], v1b[65], header[200];
    CHECK_EQ(lira_sign_stripe_v1("whsec_old", NOW, "{}", 2, v1a, sizeof v1a), LIRA_OK);
    CHECK_EQ(lira_sign_stripe_v1("whsec_new", NOW, "{}", 2, v1b, sizeof v1b), LIRA_OK);
    snprintf(header, sizeof header, "t=%d,v1=%s,v1=%s,v0=deadbeef", NOW, v1a, v1b);
    lira_webhook_header sh[] = { H("stripe-signature", header) };
    const char *only_new[] = { "whsec_new" }, *only_old[] = { "whsec_old" };
    const char *other[] = { "whsec_other", "whsec_another" };
    lira_webhook_config s = cfg_of(LIRA_WEBHOOK_STRIPE, only_new, 1);
    CHECK_EQ(VERIFY(&s, sh, "{}", NOW), LIRA_WEBHOOK_VALID);
    s.secrets = only_old;
    CHECK_EQ(VERIFY(&s, sh, "{}", NOW), LIRA_WEBHOOK_VALID);
    s.secrets = other;
    s.nsecrets = 2;
    CHECK_EQ(VERIFY(&s, sh, "{}", NOW), LIRA_WEBHOOK_BAD_SIGNATURE);
}

static void test_standard_missing_headers(void)
{
    lira_webhook_config c = cfg_of(LIRA_WEBHOOK_STANDARD, std_secrets, 1);
    static const char *const names[] = { "webhook-id", "webhook-timestamp", "webhook-signature" };
    static const char *const values[] = { STD_ID, STD_TS, STD_SIG };
    for (size_t drop = 0; drop < 3; drop++) {
        lira_webhook_header hs[3];
        size_t n = 0;
        for (size_t i = 0; i < 3; i++)
            if (i != drop)
                hs[n++] = (lira_webhook_header)H(names[i], values[i]);
        lira_webhook_verdict v;
        CHECK_EQ(verify(&c, hs, n, STD_BODY, strlen(STD_BODY), STD_NOW, &v),
                 LIRA_WEBHOOK_MISSING_HEADER);
        CHECK_STR(v.header, names[drop]);
        /* Present but empty (or blank) counts as missing too. */
        hs[n++] = (lira_webhook_header)H(names[drop], "  ");
        CHECK_EQ(verify(&c, hs, n, STD_BODY, strlen(STD_BODY), STD_NOW, &v),
                 LIRA_WEBHOOK_MISSING_HEADER);
    }
    CHECK_EQ(verify(&c, NULL, 0, STD_BODY, strlen(STD_BODY), STD_NOW, NULL),
             LIRA_WEBHOOK_MISSING_HEADER);
}

/* The signature header replaced by `sig` (length len) must be malformed. */
static void expect_std_malformed(const char *sig, size_t len, const char *what)
{
    lira_webhook_config c = cfg_of(LIRA_WEBHOOK_STANDARD, std_secrets, 1);
    lira_webhook_header hs[] = {
        H("webhook-id", STD_ID), H("webhook-timestamp", STD_TS),
        { "webhook-signature", 17, sig, len },
    };
    lira_webhook_verdict v;
    lira_webhook_kind k = verify(&c, hs, 3, STD_BODY, strlen(STD_BODY), STD_NOW, &v);
    if (k != LIRA_WEBHOOK_MALFORMED)
        fprintf(stderr, "%s: got %s (%s)\n", what, lira_webhook_kind_name(k), v.message);
    CHECK_EQ(k, LIRA_WEBHOOK_MALFORMED);
}

static void test_standard_malformed_signatures(void)
{
    static const char *const bad[] = {
        "garbage",
        "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",        /* no v1, */
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1O",        /* truncated */
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=AAAA",  /* too long for a MAC */
        "v1,g0hM9SsE-OTPJTGt_tmIKtSyZlE3uFJELVlNIOLJ1OE=",      /* base64url */
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE",       /* no padding */
        "v1,",
        "v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",     /* only other versions */
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=\xc3\xa9", /* non-ASCII */
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=\r\nX: y",  /* CR LF */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_std_malformed(bad[i], strlen(bad[i]), bad[i]);
    expect_std_malformed(STD_SIG "\0", sizeof STD_SIG, "NUL byte");

    /* Huge: over the value cap, even though a valid signature is in it. */
    size_t big = LIRA_WEBHOOK_MAX_VALUE + 100;
    char *huge = malloc(big + 1);
    CHECK(huge != NULL);
    if (!huge)
        return;
    memset(huge, ' ', big);
    memcpy(huge + big - strlen(STD_SIG), STD_SIG, strlen(STD_SIG));
    huge[0] = 'x';
    expect_std_malformed(huge, big, "huge");
    /* Too many signatures (each well-formed). */
    size_t n = 0;
    for (int i = 0; i <= LIRA_WEBHOOK_MAX_SIGS && n + 60 < big; i++)
        n += (size_t)snprintf(huge + n, big - n, "%s ", STD_SIG);
    expect_std_malformed(huge, n, "too many signatures");
    free(huge);
}

static void test_standard_malformed_other_headers(void)
{
    lira_webhook_config c = cfg_of(LIRA_WEBHOOK_STANDARD, std_secrets, 1);
    static const char *const bad_ts[] = { "abc", "-5", "1614265330.5", "0x10",
                                          "1234567890123456789", "16142 65330" };
    for (size_t i = 0; i < sizeof bad_ts / sizeof bad_ts[0]; i++) {
        lira_webhook_header hs[] = {
            H("webhook-id", STD_ID), H("webhook-timestamp", bad_ts[i]),
            H("webhook-signature", STD_SIG),
        };
        CHECK_EQ(VERIFY(&c, hs, STD_BODY, STD_NOW), LIRA_WEBHOOK_MALFORMED);
    }
    /* The same header twice, in different case: which one was signed? */
    lira_webhook_header dup[] = {
        H("webhook-id", STD_ID), H("webhook-timestamp", STD_TS),
        H("webhook-signature", STD_SIG), H("Webhook-Signature", STD_SIG),
    };
    CHECK_EQ(VERIFY(&c, dup, STD_BODY, STD_NOW), LIRA_WEBHOOK_MALFORMED);
    /* An id longer than the cap. */
    char id[LIRA_WEBHOOK_MAX_ID + 2];
    memset(id, 'a', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    lira_webhook_header long_id[] = {
        H("webhook-id", id), H("webhook-timestamp", STD_TS), H("webhook-signature", STD_SIG),
    };
    CHECK_EQ(VERIFY(&c, long_id, STD_BODY, STD_NOW), LIRA_WEBHOOK_MALFORMED);
    /* Too many headers in the delivery. */
    lira_webhook_header *many = calloc(LIRA_WEBHOOK_MAX_HEADERS + 1, sizeof *many);
    CHECK(many != NULL);
    if (!many)
        return;
    for (size_t i = 0; i < LIRA_WEBHOOK_MAX_HEADERS + 1; i++)
        many[i] = (lira_webhook_header)H("x-filler", "1");
    many[0] = (lira_webhook_header)H("webhook-id", STD_ID);
    many[1] = (lira_webhook_header)H("webhook-timestamp", STD_TS);
    many[2] = (lira_webhook_header)H("webhook-signature", STD_SIG);
    CHECK_EQ(verify(&c, many, LIRA_WEBHOOK_MAX_HEADERS, STD_BODY, strlen(STD_BODY),
                    STD_NOW, NULL), LIRA_WEBHOOK_VALID);
    CHECK_EQ(verify(&c, many, LIRA_WEBHOOK_MAX_HEADERS + 1, STD_BODY, strlen(STD_BODY),
                    STD_NOW, NULL), LIRA_WEBHOOK_MALFORMED);
    free(many);
}

static void test_tolerance_both_directions(void)
{
    lira_webhook_config c = cfg_of(LIRA_WEBHOOK_STANDARD, std_secrets, 1);
    lira_webhook_header hs[] = {
        H("webhook-id", STD_ID), H("webhook-timestamp", STD_TS), H("webhook-signature", STD_SIG),
    };
    lira_webhook_verdict v;
    CHECK_EQ(VERIFY(&c, hs, STD_BODY, STD_NOW + 300), LIRA_WEBHOOK_VALID);
    CHECK_EQ(VERIFY(&c, hs, STD_BODY, STD_NOW - 300), LIRA_WEBHOOK_VALID);
    CHECK_EQ(verify(&c, hs, 3, STD_BODY, strlen(STD_BODY), STD_NOW + 301, &v),
             LIRA_WEBHOOK_EXPIRED);
    CHECK_STR(v.header, "webhook-timestamp");
    CHECK(strstr(v.message, "301 s before now") != NULL);
    /* From the future (the sender's clock ahead, or a forged date). */
    CHECK_EQ(verify(&c, hs, 3, STD_BODY, strlen(STD_BODY), STD_NOW - 301, &v),
             LIRA_WEBHOOK_EXPIRED);
    CHECK(strstr(v.message, "after now") != NULL);
    CHECK_EQ(VERIFY(&c, hs, STD_BODY, 0), LIRA_WEBHOOK_EXPIRED);
    c.tolerance_s = 5;
    CHECK_EQ(VERIFY(&c, hs, STD_BODY, STD_NOW + 5), LIRA_WEBHOOK_VALID);
    CHECK_EQ(VERIFY(&c, hs, STD_BODY, STD_NOW + 6), LIRA_WEBHOOK_EXPIRED);
    CHECK_EQ(VERIFY(&c, hs, STD_BODY, STD_NOW - 6), LIRA_WEBHOOK_EXPIRED);
    /* A forgery is bad_signature, however old: expired means authentic. */
    CHECK_EQ(VERIFY(&c, hs, STD_BODY "x", STD_NOW + 10000), LIRA_WEBHOOK_BAD_SIGNATURE);
}

/* ------------------------------------------------------------ stripe --- */

static void test_stripe(void)
{
    const char *secrets[] = { STRIPE_SECRET };
    lira_webhook_config c = cfg_of(LIRA_WEBHOOK_STRIPE, secrets, 1);
    char v1[65], upper[65], header[256];
    CHECK_EQ(lira_sign_stripe_v1(STRIPE_SECRET, NOW, "{}", 2, v1, sizeof v1), LIRA_OK);
    for (size_t i = 0; i < sizeof v1; i++)
        upper[i] = (char)(v1[i] >= 'a' && v1[i] <= 'f' ? v1[i] - 32 : v1[i]);

    snprintf(header, sizeof header, "v0=abc, t=%d , v1=%s", NOW, upper);
    lira_webhook_header hs[] = { H("STRIPE-SIGNATURE", header) };
    CHECK_EQ(VERIFY(&c, hs, "{}", NOW), LIRA_WEBHOOK_VALID);
    CHECK_EQ(VERIFY(&c, hs, "{ }", NOW), LIRA_WEBHOOK_BAD_SIGNATURE);
    CHECK_EQ(VERIFY(&c, hs, "{}", NOW + 301), LIRA_WEBHOOK_EXPIRED);
    CHECK_EQ(VERIFY(&c, hs, "{}", NOW - 301), LIRA_WEBHOOK_EXPIRED);
    /* The timestamp is signed: moving it breaks the signature. */
    snprintf(header, sizeof header, "t=%d,v1=%s", NOW + 1, v1);
    hs[0].value_len = strlen(header);
    CHECK_EQ(VERIFY(&c, hs, "{}", NOW), LIRA_WEBHOOK_BAD_SIGNATURE);

    char sigs_only[80], short_sig[80];
    snprintf(sigs_only, sizeof sigs_only, "v1=%s", v1);
    snprintf(short_sig, sizeof short_sig, "t=%d,v1=%.63s", NOW, v1);
    const char *bad[] = {
        "garbage", sigs_only, "t=1700000000", "t=1700000000,v0=abc",
        "t=abc,v1=00", short_sig, "t=1700000000,t=1700000000,v1=00",
        "t=1700000000,v1", "t=1700000000,v1=zz",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lira_webhook_header b[] = { H("Stripe-Signature", bad[i]) };
        CHECK_EQ(VERIFY(&c, b, "{}", NOW), LIRA_WEBHOOK_MALFORMED);
    }
    lira_webhook_header none[] = { H("X-Other", "1") };
    CHECK_EQ(VERIFY(&c, none, "{}", NOW), LIRA_WEBHOOK_MISSING_HEADER);
}

/* ------------------------------------------------------------ github --- */

static void test_github(void)
{
    const char *secrets[] = { GH_SECRET };
    lira_webhook_config c = cfg_of(LIRA_WEBHOOK_GITHUB, secrets, 1);
    static const char sig[] =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    lira_webhook_header hs[] = { H("x-hub-signature-256", sig) };
    /* No timestamp: `now` plays no part. */
    CHECK_EQ(VERIFY(&c, hs, "Hello, World!", 0), LIRA_WEBHOOK_VALID);
    CHECK_EQ(VERIFY(&c, hs, "Hello, World!", INT64_MAX), LIRA_WEBHOOK_VALID);
    lira_webhook_header up[] = {
        H("X-Hub-Signature-256",
          "sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17"),
    };
    CHECK_EQ(VERIFY(&c, up, "Hello, World!", 0), LIRA_WEBHOOK_VALID);
    CHECK_EQ(VERIFY(&c, hs, "Hello, World?", 0), LIRA_WEBHOOK_BAD_SIGNATURE);
    const char *bad[] = {
        "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        "sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1g",
        "sha256=", "SHA256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lira_webhook_header b[] = { H("X-Hub-Signature-256", bad[i]) };
        CHECK_EQ(VERIFY(&c, b, "Hello, World!", 0), LIRA_WEBHOOK_MALFORMED);
    }
    /* The legacy SHA-1 header alone is not enough for this scheme. */
    lira_webhook_header legacy[] = {
        H("X-Hub-Signature", "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59"),
    };
    CHECK_EQ(VERIFY(&c, legacy, "Hello, World!", 0), LIRA_WEBHOOK_MISSING_HEADER);
}

/* -------------------------------------------------------------- hmac --- */

/* Expected values computed independently with Python's hmac module. */
static void test_hmac_generic(void)
{
    const char *gh[] = { GH_SECRET };
    lira_webhook_config c = cfg_of(LIRA_WEBHOOK_HMAC, gh, 1);
    c.header = "X-Hub-Signature";
    c.alg = LIRA_HMAC_SHA1;
    c.encoding = LIRA_WEBHOOK_HEX;
    c.prefix = "sha1=";
    lira_webhook_header a[] = {
        H("x-hub-signature", "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59"),
    };
    CHECK_EQ(VERIFY(&c, a, "Hello, World!", 0), LIRA_WEBHOOK_VALID);
    CHECK_EQ(VERIFY(&c, a, "Hello, World?", 0), LIRA_WEBHOOK_BAD_SIGNATURE);
    lira_webhook_header a_noprefix[] = {
        H("x-hub-signature", "01dc10d0c83e72ed246219cdd91669667fe2ca59"),
    };
    CHECK_EQ(VERIFY(&c, a_noprefix, "Hello, World!", 0), LIRA_WEBHOOK_MALFORMED);

    const char *shop[] = { "shpss_secret" };
    c = cfg_of(LIRA_WEBHOOK_HMAC, shop, 1);
    c.header = "X-Shopify-Hmac-Sha256";
    c.alg = LIRA_HMAC_SHA256;
    c.encoding = LIRA_WEBHOOK_BASE64;
    lira_webhook_header b[] = {
        H("X-Shopify-Hmac-Sha256", "xocA3LkeJ/RvNrkxep1EUtFHuj7rIoIqZYaLU26LyPQ="),
    };
    CHECK_EQ(VERIFY(&c, b, "{\"id\":1}", 0), LIRA_WEBHOOK_VALID);
    lira_webhook_header b_hex[] = {
        H("X-Shopify-Hmac-Sha256",
          "c68a00dcb91e27f46f36b9317a9d4452d147ba3eeb22822a65868b536e8bc8f4"),
    };
    CHECK_EQ(VERIFY(&c, b_hex, "{\"id\":1}", 0), LIRA_WEBHOOK_MALFORMED);

    const char *k512[] = { "k512" };
    c = cfg_of(LIRA_WEBHOOK_HMAC, k512, 1);
    c.header = "X-Signature";
    c.alg = LIRA_HMAC_SHA512;
    c.encoding = LIRA_WEBHOOK_HEX;
    lira_webhook_header d[] = {
        H("X-Signature", "71bcb1576a71bd7737a565867455564e04e68de19cbea1d871413978bcc161f0"
                         "62af295617f426717f01234c093aede205396a2db868c71bef9da23c20989ed4"),
    };
    CHECK_EQ(VERIFY(&c, d, "abc", 0), LIRA_WEBHOOK_VALID);
    c.alg = LIRA_HMAC_SHA256;   /* right key, wrong algorithm: wrong length */
    CHECK_EQ(VERIFY(&c, d, "abc", 0), LIRA_WEBHOOK_MALFORMED);

    const char *k[] = { "k" };
    c = cfg_of(LIRA_WEBHOOK_HMAC, k, 1);
    c.header = "X-Sig";
    c.alg = LIRA_HMAC_SHA1;
    c.encoding = LIRA_WEBHOOK_BASE64;
    lira_webhook_header f[] = { H("X-Sig", "ywATH87GAqj8hEE6KnAVTYwGoNI=") };
    CHECK_EQ(VERIFY(&c, f, "x", 0), LIRA_WEBHOOK_VALID);
    lira_webhook_header f_bad[] = { H("X-Sig", "ywATH87GAqj8hEE6KnAVTYwGoNI") };
    CHECK_EQ(VERIFY(&c, f_bad, "x", 0), LIRA_WEBHOOK_MALFORMED);
}

static void test_hmac_timestamp_templates(void)
{
    /* Slack's shape: v0=hex(HMAC-SHA256("v0:<ts>:<body>")). */
    const char *slack[] = { "8f742231b10e8888abcd99yyyzzz85a5" };
    lira_webhook_config c = cfg_of(LIRA_WEBHOOK_HMAC, slack, 1);
    c.header = "X-Slack-Signature";
    c.alg = LIRA_HMAC_SHA256;
    c.encoding = LIRA_WEBHOOK_HEX;
    c.prefix = "v0=";
    c.timestamp_header = "X-Slack-Request-Timestamp";
    c.signed_content = "v0:{timestamp}:{body}";
    lira_webhook_header hs[] = {
        H("X-Slack-Request-Timestamp", "1531420618"),
        H("X-Slack-Signature", "v0=3eeaac3070533b0f5536145f88159d8e50277d9f01e4865f87e2d749f4789397"),
    };
    lira_webhook_verdict v;
    CHECK_EQ(VERIFY(&c, hs, "token=x", 1531420618), LIRA_WEBHOOK_VALID);
    CHECK_EQ(verify(&c, hs, 2, "token=x", 7, 1531420618 + 301, &v), LIRA_WEBHOOK_EXPIRED);
    CHECK_STR(v.header, "X-Slack-Request-Timestamp");
    CHECK_EQ(VERIFY(&c, hs, "token=y", 1531420618), LIRA_WEBHOOK_BAD_SIGNATURE);
    CHECK_EQ(verify(&c, hs + 1, 1, "token=x", 7, 1531420618, &v), LIRA_WEBHOOK_MISSING_HEADER);
    CHECK_STR(v.header, "X-Slack-Request-Timestamp");
    lira_webhook_header bad_ts[] = {
        H("X-Slack-Request-Timestamp", "soon"), hs[1],
    };
    CHECK_EQ(VERIFY(&c, bad_ts, "token=x", 1531420618), LIRA_WEBHOOK_MALFORMED);

    /* The default template with a timestamp header is "{timestamp}.{body}". */
    const char *k[] = { "k" };
    c = cfg_of(LIRA_WEBHOOK_HMAC, k, 1);
    c.header = "X-Sig";
    c.alg = LIRA_HMAC_SHA512;
    c.encoding = LIRA_WEBHOOK_BASE64;
    c.prefix = "sha512=";
    c.timestamp_header = "X-Ts";
    lira_webhook_header e[] = {
        H("X-Ts", "1700000000"),
        H("X-Sig", "sha512=kb/rLEGzAPd8tf8OECrc2Swj6ECkvToBQ2Aqj3a90buV54IQnLZhwmDGFMIBtKH/"
                   "tEJkvFSQTgX3Pp/zdbTFAg=="),
    };
    CHECK_EQ(VERIFY(&c, e, "{}", NOW), LIRA_WEBHOOK_VALID);
    c.signed_content = "{timestamp}.{body}";
    CHECK_EQ(VERIFY(&c, e, "{}", NOW), LIRA_WEBHOOK_VALID);
    c.signed_content = "{timestamp}:{body}";
    CHECK_EQ(VERIFY(&c, e, "{}", NOW), LIRA_WEBHOOK_BAD_SIGNATURE);
}

/* ------------------------------------------------------------ config --- */

static void expect_bad_config(const lira_webhook_config *c, const char *why_has)
{
    char why[160];
    CHECK_EQ(lira_webhook_config_check(c, why, sizeof why), LIRA_EINVAL);
    if (!strstr(why, why_has))
        fprintf(stderr, "reason \"%s\" lacks \"%s\"\n", why, why_has);
    CHECK(strstr(why, why_has) != NULL);
    lira_webhook_verdict v;
    lira_webhook_header h = H("x", "y");
    CHECK_EQ(lira_webhook_verify(c, &h, 1, "", 0, NOW, &v), LIRA_EINVAL);
    CHECK_EQ(v.kind, LIRA_WEBHOOK_MALFORMED);
    CHECK_STR(v.message, why);
}

static void test_config_errors(void)
{
    const char *ok[] = { "k" };
    const char *many[LIRA_WEBHOOK_MAX_SECRETS + 1];
    for (size_t i = 0; i < sizeof many / sizeof many[0]; i++)
        many[i] = "k";
    const char *bad_std[] = { STD_SECRET, "whsec_not base64!" };
    const char *empty[] = { "" };
    const char *null[] = { NULL };

    lira_webhook_config c = cfg_of(LIRA_WEBHOOK_GITHUB, ok, 1);
    CHECK_EQ(lira_webhook_config_check(&c, NULL, 0), LIRA_OK);
    c.nsecrets = 0;
    expect_bad_config(&c, "secrets");
    c = cfg_of(LIRA_WEBHOOK_GITHUB, many, LIRA_WEBHOOK_MAX_SECRETS + 1);
    expect_bad_config(&c, "secrets");
    c = cfg_of(LIRA_WEBHOOK_GITHUB, empty, 1);
    expect_bad_config(&c, "secret 1 of 1");
    c = cfg_of(LIRA_WEBHOOK_GITHUB, null, 1);
    expect_bad_config(&c, "secret 1 of 1");
    c = cfg_of(LIRA_WEBHOOK_STANDARD, bad_std, 2);
    char why[160];
    CHECK_EQ(lira_webhook_config_check(&c, why, sizeof why), LIRA_EINVAL);
    CHECK(strstr(why, "secret 2 of 2: not whsec_<base64>") != NULL);
    /* verify skips the trial signing: the bad secret fails when reached. */
    const char *bad_first[] = { "whsec_not base64!", STD_SECRET };
    c.secrets = bad_first;
    lira_webhook_header hs[] = {
        H("webhook-id", STD_ID), H("webhook-timestamp", STD_TS), H("webhook-signature", STD_SIG),
    };
    lira_webhook_verdict v;
    CHECK_EQ(lira_webhook_verify(&c, hs, 3, STD_BODY, strlen(STD_BODY), STD_NOW, &v),
             LIRA_EINVAL);
    CHECK(strstr(v.message, "secret 1 of 2 is unusable") != NULL);
    c = cfg_of(0, ok, 1);
    expect_bad_config(&c, "scheme");
    c = cfg_of(LIRA_WEBHOOK_STRIPE, ok, 1);
    c.tolerance_s = -1;
    expect_bad_config(&c, "tolerance");

    lira_webhook_config h = cfg_of(LIRA_WEBHOOK_HMAC, ok, 1);
    h.header = "X-Sig";
    h.alg = LIRA_HMAC_SHA256;
    h.encoding = LIRA_WEBHOOK_HEX;
    CHECK_EQ(lira_webhook_config_check(&h, NULL, 0), LIRA_OK);
    c = h, c.header = NULL;
    expect_bad_config(&c, "header");
    c = h, c.header = "X Sig:";
    expect_bad_config(&c, "header");
    c = h, c.alg = 0;
    expect_bad_config(&c, "algorithm");
    c = h, c.encoding = 7;
    expect_bad_config(&c, "encoding");
    c = h, c.prefix = "sha256 =";
    expect_bad_config(&c, "prefix");
    c = h, c.signed_content = "{timestamp}";
    expect_bad_config(&c, "template");
    c = h, c.signed_content = "{timestamp}.{body}";
    expect_bad_config(&c, "needs a timestamp_header");
    c = h, c.timestamp_header = "X-Ts", c.signed_content = "{body}";
    expect_bad_config(&c, "must contain {timestamp}");
    c = h, c.signed_content = "{id}.{body}";
    expect_bad_config(&c, "only {body} and {timestamp}");
    c = h, c.signed_content = "{body";
    expect_bad_config(&c, "template");
    c = h, c.timestamp_header = "bad header";
    expect_bad_config(&c, "timestamp_header");

    lira_webhook_scheme s;
    lira_webhook_encoding e;
    CHECK_EQ(lira_webhook_scheme_parse("stripe", &s), LIRA_OK);
    CHECK_EQ(s, LIRA_WEBHOOK_STRIPE);
    CHECK_EQ(lira_webhook_scheme_parse("Stripe", &s), LIRA_ENOTFOUND);
    CHECK_EQ(lira_webhook_scheme_parse(NULL, &s), LIRA_EINVAL);
    CHECK_EQ(lira_webhook_encoding_parse("base64", &e), LIRA_OK);
    CHECK_EQ(e, LIRA_WEBHOOK_BASE64);
    CHECK_EQ(lira_webhook_encoding_parse("b64", &e), LIRA_ENOTFOUND);
    CHECK_STR(lira_webhook_kind_name(LIRA_WEBHOOK_EXPIRED), "expired");
    CHECK_STR(lira_webhook_kind_name((lira_webhook_kind)99), "unknown");
}

static void test_bad_arguments(void)
{
    const char *ok[] = { GH_SECRET };
    lira_webhook_config c = cfg_of(LIRA_WEBHOOK_GITHUB, ok, 1);
    lira_webhook_verdict v;
    lira_webhook_header h = H("x", "y");
    CHECK_EQ(lira_webhook_verify(&c, &h, 1, "", 0, NOW, NULL), LIRA_EINVAL);
    CHECK_EQ(lira_webhook_verify(NULL, &h, 1, "", 0, NOW, &v), LIRA_EINVAL);
    CHECK_EQ(lira_webhook_verify(&c, NULL, 1, "", 0, NOW, &v), LIRA_EINVAL);
    CHECK_EQ(lira_webhook_verify(&c, &h, 1, NULL, 1, NOW, &v), LIRA_EINVAL);
    CHECK_EQ(lira_webhook_verify(&c, &h, 1, "", 0, -1, &v), LIRA_EINVAL);
    CHECK_EQ(v.kind, LIRA_WEBHOOK_MALFORMED);
    /* A header with a NULL name or value is simply not the one we want. */
    lira_webhook_header odd[] = { { NULL, 3, "abc", 3 }, { "X-Hub-Signature-256", 19, NULL, 5 } };
    CHECK_EQ(verify(&c, odd, 2, NULL, 0, NOW, NULL), LIRA_WEBHOOK_MISSING_HEADER);
}

/* ------------------------------------------------------ body and leaks --- */

static void test_huge_body_with_nul_bytes(void)
{
    size_t len = (size_t)8 << 20;
    char *body = malloc(len);
    CHECK(body != NULL);
    if (!body)
        return;
    for (size_t i = 0; i < len; i++)
        body[i] = (char)(i * 131 % 251);   /* NUL bytes included */
    char sig[LIRA_SIGN_MAX];
    CHECK_EQ(lira_sign_standard(STD_SECRET, "msg_big", NOW, body, len, sig, sizeof sig), 0);
    lira_webhook_config c = cfg_of(LIRA_WEBHOOK_STANDARD, std_secrets, 1);
    lira_webhook_header hs[] = {
        H("webhook-id", "msg_big"), H("webhook-timestamp", "1700000000"), H("webhook-signature", sig),
    };
    CHECK_EQ(verify(&c, hs, 3, body, len, NOW, NULL), LIRA_WEBHOOK_VALID);
    body[len - 1] ^= 1;
    CHECK_EQ(verify(&c, hs, 3, body, len, NOW, NULL), LIRA_WEBHOOK_BAD_SIGNATURE);
    free(body);
}

/* A failed verdict never quotes what the signature should have been. */
static void test_messages_never_hold_the_expected_signature(void)
{
    const char *secrets[] = { STRIPE_SECRET };
    lira_webhook_config c = cfg_of(LIRA_WEBHOOK_STRIPE, secrets, 1);
    char v1[65], header[128];
    CHECK_EQ(lira_sign_stripe_v1(STRIPE_SECRET, NOW, "{}", 2, v1, sizeof v1), LIRA_OK);
    snprintf(header, sizeof header, "t=%d,v1=%064d", NOW, 0);
    lira_webhook_header hs[] = { H("Stripe-Signature", header) };
    lira_webhook_verdict v;
    CHECK_EQ(verify(&c, hs, 1, "{}", 2, NOW, &v), LIRA_WEBHOOK_BAD_SIGNATURE);
    CHECK(!leaks(v.message, v1, 16));
    CHECK(strstr(v.message, "Stripe-Signature") != NULL);
}

int main(void)
{
    RUN(test_published_vectors);
    RUN(test_standard_several_signatures);
    RUN(test_standard_names_any_case_and_svix);
    RUN(test_rotation);
    RUN(test_standard_missing_headers);
    RUN(test_standard_malformed_signatures);
    RUN(test_standard_malformed_other_headers);
    RUN(test_tolerance_both_directions);
    RUN(test_stripe);
    RUN(test_github);
    RUN(test_hmac_generic);
    RUN(test_hmac_timestamp_templates);
    RUN(test_config_errors);
    RUN(test_bad_arguments);
    RUN(test_huge_body_with_nul_bytes);
    RUN(test_messages_never_hold_the_expected_signature);
    return check_summary();
}
