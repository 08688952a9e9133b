/* send_webhook.c — `lira sandbox send-webhook`: sign a webhook exactly as
 * Standard Webhooks, Stripe or GitHub would and POST it, so a receiver
 * (a lira integration, or anything else) can be tested against real
 * provider-shaped deliveries, including a tampered one it must reject.
 *
 * The signatures come from src/core/signature, the same code the verifier
 * uses; this file only parses flags, builds the request and reports. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/rand.h>

#include "core/buf.h"
#include "core/ids.h"
#include "core/signature.h"
#include "core/status.h"
#include "sandbox/send_webhook.h"

#ifndef LIRA_VERSION
#define LIRA_VERSION "dev"
#endif

#define PROG "lira sandbox send-webhook"
#define BODY_CAP ((size_t)16 << 20)   /* bytes; a webhook bigger than this is a mistake */
#define TIMEOUT_DEFAULT_S 10
#define TIMEOUT_MAX_S 600
#define TOKEN_MAX 256                 /* --id / --event length cap, characters */
#define RESPONSE_CAP ((size_t)1 << 20) /* bytes of response body --show-response keeps */

enum scheme { SCHEME_STANDARD, SCHEME_STRIPE, SCHEME_GITHUB };

typedef struct opts {
    const char *to;
    const char *secret;
    const char *id;
    const char *event;
    const char *body_path;
    int scheme;          /* enum scheme, or -1 when not given */
    int64_t ts;          /* unix seconds, or -1 for "now" */
    long timeout_s;
    int tamper;
    int show_response;
} opts;

static const char usage[] =
    "usage: " PROG " --to URL --scheme standard|stripe|github --secret S\n"
    "         [--id ID] [--timestamp T] [--body FILE|-] [--event NAME]\n"
    "         [--timeout SECONDS] [--tamper] [--show-response]\n"
    "\n"
    "Sign a webhook the way the provider does and POST it to URL.\n"
    "  --scheme standard  webhook-id, webhook-timestamp, webhook-signature: v1,<base64>\n"
    "                     (secret: whsec_<base64>; the key is the decoded bytes)\n"
    "  --scheme stripe    Stripe-Signature: t=<T>,v1=<hex> (key: the whole secret)\n"
    "  --scheme github    X-Hub-Signature-256: sha256=<hex>, X-GitHub-Delivery: <ID>,\n"
    "                     X-GitHub-Event: <NAME>\n"
    "  --id ID            event id (default: a random UUID)\n"
    "  --timestamp T      unix seconds (default: now)\n"
    "  --body FILE|-      raw body from a file or stdin, at most 16 MiB\n"
    "                     (default: a small JSON event)\n"
    "  --event NAME       event type (default: ping for github, lira.test otherwise)\n"
    "  --timeout SECONDS  whole-request timeout, 1..600 (default 10)\n"
    "  --tamper           change one byte of the body after signing, so a\n"
    "                     correct receiver must reject the delivery\n"
    "  --show-response    print the response body (first 1 MiB) after the status\n"
    "Prints the status line (\"HTTP 200\"). Exit status: 0 on 2xx, 1 on any other\n"
    "answer or a transport failure, 2 on bad flags.\n";

/* ------------------------------------------------------------- flags --- */

static int bad_flag(const char *flag, const char *why)
{
    fprintf(stderr, PROG ": %s: %s (see --help)\n", flag, why);
    return -1;
}

/* Strict non-negative decimal; -1 on anything else or overflow. */
static int64_t parse_nonneg(const char *s)
{
    int64_t v = 0;
    if (!s[0])
        return -1;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || v > (INT64_MAX - (*p - '0')) / 10)
            return -1;
        v = v * 10 + (*p - '0');
    }
    return v;
}

/* Ids and event names go into header values: visible ASCII only, so no
 * flag can inject a header line. */
static int is_token(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > TOKEN_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] > 0x7e)
            return 0;
    return 1;
}

static int set_value(opts *o, const char *flag, const char *v)
{
    if (strcmp(flag, "--to") == 0) {
        if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
            return bad_flag(flag, "must be an http:// or https:// URL");
        o->to = v;
    } else if (strcmp(flag, "--scheme") == 0) {
        if (strcmp(v, "standard") == 0) o->scheme = SCHEME_STANDARD;
        else if (strcmp(v, "stripe") == 0) o->scheme = SCHEME_STRIPE;
        else if (strcmp(v, "github") == 0) o->scheme = SCHEME_GITHUB;
        else return bad_flag(flag, "must be standard, stripe or github");
    } else if (strcmp(flag, "--secret") == 0) {
        if (!v[0])
            return bad_flag(flag, "must not be empty");
        o->secret = v;
    } else if (strcmp(flag, "--id") == 0 || strcmp(flag, "--event") == 0) {
        if (!is_token(v))
            return bad_flag(flag, "must be 1-256 visible ASCII characters");
        if (strcmp(flag, "--id") == 0)
            o->id = v;
        else
            o->event = v;
    } else if (strcmp(flag, "--timestamp") == 0) {
        if ((o->ts = parse_nonneg(v)) < 0)
            return bad_flag(flag, "must be unix seconds (digits only)");
    } else if (strcmp(flag, "--timeout") == 0) {
        int64_t t = parse_nonneg(v);
        if (t < 1 || t > TIMEOUT_MAX_S)
            return bad_flag(flag, "must be whole seconds from 1 to 600");
        o->timeout_s = (long)t;
    } else if (strcmp(flag, "--body") == 0) {
        if (!v[0])
            return bad_flag(flag, "must be a file name or -");
        o->body_path = v;
    } else {
        return bad_flag(flag, "unknown flag");
    }
    return 0;
}

/* Returns 0 to go on, 1 after --help, -1 on a bad flag (message printed).
 * Accepts "--flag value" and "--flag=value". */
static int parse_args(int argc, char **argv, opts *o)
{
    *o = (opts){ .scheme = -1, .ts = -1, .timeout_s = TIMEOUT_DEFAULT_S };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 1;
        }
        if (strcmp(a, "--tamper") == 0) {
            o->tamper = 1;
            continue;
        }
        if (strcmp(a, "--show-response") == 0) {
            o->show_response = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0)
            return bad_flag(a, "unexpected argument");
        char flag[32];
        const char *eq = strchr(a, '=');
        size_t flen = eq ? (size_t)(eq - a) : strlen(a);
        if (flen >= sizeof flag)
            return bad_flag(a, "unknown flag");
        memcpy(flag, a, flen);
        flag[flen] = '\0';
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v)
            return bad_flag(flag, "needs a value");
        if (set_value(o, flag, v) != 0)
            return -1;
    }
    if (!o->to)
        return bad_flag("--to", "is required");
    if (o->scheme < 0)
        return bad_flag("--scheme", "is required");
    if (!o->secret)
        return bad_flag("--secret", "is required");
    return 0;
}

/* -------------------------------------------------------------- body --- */

/* Read all of f into a new buffer of at most BODY_CAP bytes. */
static int read_all(FILE *f, const char *name, char **out, size_t *outlen)
{
    size_t cap = 64 * 1024, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (len == cap) {
            if (cap > BODY_CAP) {
                free(buf);
                return bad_flag("--body", "larger than 16 MiB");
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                break;
            buf = nb;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f)) {
                fprintf(stderr, PROG ": --body: cannot read %s\n", name);
                free(buf);
                return -1;
            }
            if (len > BODY_CAP) {
                free(buf);
                return bad_flag("--body", "larger than 16 MiB");
            }
            *out = buf;
            *outlen = len;
            return 0;
        }
    }
    free(buf);
    fprintf(stderr, PROG ": out of memory reading the body\n");
    return -1;
}

static int load_body(const opts *o, const char *id, int64_t ts,
                     char **out, size_t *outlen)
{
    if (o->body_path && strcmp(o->body_path, "-") == 0)
        return read_all(stdin, "stdin", out, outlen);
    if (o->body_path) {
        FILE *f = fopen(o->body_path, "rb");
        if (!f) {
            fprintf(stderr, PROG ": --body: cannot open %s: %s\n", o->body_path,
                    strerror(errno));
            return -1;
        }
        int rc = read_all(f, o->body_path, out, outlen);
        fclose(f);
        return rc;
    }
    const char *event = o->event ? o->event
                        : o->scheme == SCHEME_GITHUB ? "ping" : "lira.test";
    /* id and event are visible ASCII; only '"' and '\\' could break the JSON. */
    if (strpbrk(id, "\"\\") || strpbrk(event, "\"\\"))
        return bad_flag("--id/--event", "must not contain '\"' or '\\' with the default body");
    char tmp[1024];
    int n = snprintf(tmp, sizeof tmp,
                     "{\"id\":\"%s\",\"type\":\"%s\",\"created\":%" PRId64 ","
                     "\"data\":{\"message\":\"hello from lira sandbox send-webhook\"}}",
                     id, event, ts);
    if (n < 0 || (size_t)n >= sizeof tmp || !(*out = malloc((size_t)n + 1)))
        return bad_flag("--id/--event", "too long for the default body");
    memcpy(*out, tmp, (size_t)n + 1);
    *outlen = (size_t)n;
    return 0;
}

/* Change one byte so the signature no longer matches, keeping a JSON body
 * parseable where possible: step a letter or digit (from the middle on),
 * else flip a bit of the last byte; an empty body gets one byte. */
static int tamper_body(char **body, size_t *len)
{
    if (*len == 0) {
        char *nb = realloc(*body, 1);
        if (!nb)
            return -1;
        nb[0] = '!';
        *body = nb;
        *len = 1;
        return 0;
    }
    char *b = *body;
    for (size_t k = 0; k < *len; k++) {
        size_t i = (*len / 2 + k) % *len;
        char c = b[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
            b[i] = c == 'z' ? 'a' : c == 'Z' ? 'A' : c == '9' ? '0' : (char)(c + 1);
            return 0;
        }
    }
    b[*len - 1] = (char)(b[*len - 1] ^ 0x01);
    return 0;
}

/* ------------------------------------------------------------ request --- */

static int random_id(char *out, size_t cap)
{
    uint8_t bytes[16];
    if (RAND_bytes(bytes, sizeof bytes) != 1)
        return LIRA_ECRYPTO;
    return lira_uuid4_from_bytes(bytes, out, cap);
}

static struct curl_slist *add_header(struct curl_slist *list, int *ok,
                                     const char *name, const char *value)
{
    char line[512];
    int n = snprintf(line, sizeof line, "%s: %s", name, value);
    struct curl_slist *next = NULL;
    if (*ok && n > 0 && (size_t)n < sizeof line)
        next = curl_slist_append(list, line);
    if (!next) {
        *ok = 0;
        return list;
    }
    return next;
}

/* The provider's headers for a body that has already been signed. */
static int build_headers(const opts *o, const char *id, int64_t ts,
                         const char *body, size_t len, struct curl_slist **out)
{
    char sig[LIRA_SIGN_MAX], tsbuf[24];
    int rc;
    snprintf(tsbuf, sizeof tsbuf, "%" PRId64, ts);
    if (o->scheme == SCHEME_STANDARD)
        rc = lira_sign_standard(o->secret, id, ts, body, len, sig, sizeof sig);
    else if (o->scheme == SCHEME_STRIPE)
        rc = lira_sign_stripe(o->secret, ts, body, len, sig, sizeof sig);
    else
        rc = lira_sign_github(o->secret, body, len, sig, sizeof sig);
    if (rc == LIRA_EPARSE || rc == LIRA_ETOOBIG)
        return bad_flag("--secret", "not a Standard Webhooks secret (whsec_ + base64, "
                                    "at most 512 bytes)");
    if (rc != LIRA_OK) {
        fprintf(stderr, PROG ": cannot sign: %s\n", lira_strerror(rc));
        return -1;
    }
    struct curl_slist *h = NULL;
    int ok = 1;
    h = add_header(h, &ok, "Content-Type", "application/json");
    h = add_header(h, &ok, "User-Agent", "lira-send-webhook/" LIRA_VERSION);
    if (o->scheme == SCHEME_STANDARD) {
        h = add_header(h, &ok, "webhook-id", id);
        h = add_header(h, &ok, "webhook-timestamp", tsbuf);
        h = add_header(h, &ok, "webhook-signature", sig);
    } else if (o->scheme == SCHEME_STRIPE) {
        h = add_header(h, &ok, "Stripe-Signature", sig);
    } else {
        h = add_header(h, &ok, "X-Hub-Signature-256", sig);
        h = add_header(h, &ok, "X-GitHub-Delivery", id);
        h = add_header(h, &ok, "X-GitHub-Event", o->event ? o->event : "ping");
    }
    h = add_header(h, &ok, "Expect", "");  /* no 100-continue round trip */
    if (!ok) {
        curl_slist_free_all(h);
        fprintf(stderr, PROG ": out of memory building headers\n");
        return -1;
    }
    *out = h;
    return 0;
}

/* The response body, kept only for --show-response and only up to
 * RESPONSE_CAP bytes; the rest is read and dropped. */
typedef struct response {
    int keep;
    lira_buf body;
    int truncated;
} response;

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    response *r = ud;
    size_t total = size * n, take = total;
    if (!r->keep)
        return total;
    if (take > r->body.max - r->body.len) {
        take = r->body.max - r->body.len;
        r->truncated = 1;
    }
    if (lira_buf_add(&r->body, data, take) != LIRA_OK)
        return 0;  /* makes curl fail with CURLE_WRITE_ERROR */
    return total;
}

/* POST and return the exit status: 0 on 2xx, 1 otherwise. */
static int post(const opts *o, struct curl_slist *headers, const char *body, size_t len)
{
    CURL *c = curl_easy_init();
    if (!c) {
        fprintf(stderr, PROG ": cannot initialise libcurl\n");
        return 1;
    }
    char err[CURL_ERROR_SIZE] = "";
    response resp = { .keep = o->show_response };
    lira_buf_init(&resp.body, RESPONSE_CAP);
    curl_easy_setopt(c, CURLOPT_URL, o->to);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, o->timeout_s);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        fprintf(stderr, PROG ": POST %s failed: %s\n", o->to,
                err[0] ? err : curl_easy_strerror(rc));
        lira_buf_free(&resp.body);
        return 1;
    }
    printf("HTTP %ld\n", status);
    if (resp.body.len > 0)
        fwrite(resp.body.p, 1, resp.body.len, stdout);
    if (resp.truncated)
        fprintf(stderr, PROG ": response body truncated at 1 MiB\n");
    lira_buf_free(&resp.body);
    fflush(stdout);
    return status >= 200 && status < 300 ? 0 : 1;
}

/* -------------------------------------------------------------- main --- */

int lira_sandbox_send_webhook_main(int argc, char **argv)
{
    opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    char idbuf[LIRA_UUID_STR_SIZE];
    const char *id = o.id;
    if (!id) {
        if (random_id(idbuf, sizeof idbuf) != LIRA_OK) {
            fprintf(stderr, PROG ": no randomness for the event id\n");
            return 1;
        }
        id = idbuf;
    }
    int64_t ts = o.ts >= 0 ? o.ts : (int64_t)time(NULL);
    char *body = NULL;
    size_t len = 0;
    struct curl_slist *headers = NULL;
    if (load_body(&o, id, ts, &body, &len) != 0)
        return 2;
    if (build_headers(&o, id, ts, body, len, &headers) != 0) {
        free(body);
        return 2;
    }
    if (o.tamper && tamper_body(&body, &len) != 0) {
        fprintf(stderr, PROG ": out of memory\n");
        rc = 1;
    } else if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, PROG ": cannot initialise libcurl\n");
        rc = 1;
    } else {
        rc = post(&o, headers, body, len);
        curl_global_cleanup();
    }
    curl_slist_free_all(headers);
    free(body);
    return rc;
}
