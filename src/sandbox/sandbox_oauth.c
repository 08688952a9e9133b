/* sandbox_oauth.c — an OAuth2 client-credentials token endpoint (RFC 6749
 * §4.4) and a Bearer-protected resource (RFC 6750), so that a client's token
 * caching, refresh before expiry and refresh-on-401 can be tested against
 * what the server really issued and accepted.
 *
 * The issued tokens live in a fixed ring (SB_OAUTH_TOKENS_MAX): issuing one
 * more evicts the oldest, which then stops being valid, so memory is bounded
 * whatever a test does. The counters behind GET /oauth/_stats are what tests
 * assert caching on ("one token issued for ten calls").
 *
 * State: sb_server has no slot for this file's state and sandbox_internal.h
 * belongs to another module, so it is one static record — the sandbox runs
 * one server per process — and, like everything shared, only touched with
 * sb_server.mu held. POST /_reset does not clear it; POST /oauth/_reset
 * does. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "core/signature.h"
#include "sandbox/sandbox_oauth.h"

#define SB_OAUTH_TOKENS_MAX      1024      /* tokens remembered (a ring) */
#define SB_OAUTH_TOKEN_CAP       48        /* bytes of a token, NUL included */
#define SB_OAUTH_SCOPE_MAX       256       /* bytes of a requested scope */
#define SB_OAUTH_SECRET_MAX      128       /* bytes of a client secret */
#define SB_OAUTH_EXPIRES_DEFAULT 3600      /* seconds */
#define SB_OAUTH_EXPIRES_MAX     86400
#define SB_OAUTH_CLIENT_ID       "lira"
#define SB_OAUTH_CLIENT_SECRET   "lira-secret"

typedef struct sb_token {
    char token[SB_OAUTH_TOKEN_CAP];        /* "" = free slot */
    char client_id[SB_KEY_MAX + 1];
    char scope[SB_OAUTH_SCOPE_MAX + 1];
    int64_t expires_ns;                    /* monotonic */
    int64_t uses;                          /* accepted requests with it */
    bool revoked;
} sb_token;

typedef struct sb_oauth {
    sb_token tokens[SB_OAUTH_TOKENS_MAX];
    size_t next;                           /* ring slot of the next token */
    uint64_t issued, refused, accepted, rejected, revoked;
} sb_oauth;

static sb_oauth OAUTH;   /* guarded by sb_server.mu (see the top of the file) */

typedef struct client_creds {
    char id[SB_KEY_MAX + 1];
    char secret[SB_OAUTH_SECRET_MAX + 1];
    bool basic;                            /* came in an Authorization header */
} client_creds;

/* ------------------------------------------------------ form decoding --- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* application/x-www-form-urlencoded decoding of in[0..n) into out (cap
 * bytes, NUL-terminated). -1 when malformed, too long or it decodes a NUL. */
static int form_decode(const char *in, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)in[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= n) return -1;
            int hi = hexval(in[i + 1]), lo = hexval(in[i + 2]);
            if (hi < 0 || lo < 0) return -1;
            c = hi * 16 + lo;
            i += 2;
        }
        if (c == 0 || o + 1 >= cap) return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

/* Find form field `name` in body: 1 found (decoded into out), 0 absent,
 * -1 malformed, too long, or given more than once (RFC 6749 §3.2: a
 * parameter MUST NOT be included more than once). */
static int form_get(const char *body, size_t len, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    int found = 0;
    const char *p = body, *end = body + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *fe = amp != NULL ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(fe - p));
        const char *ke = eq != NULL ? eq : fe;
        if ((size_t)(ke - p) == nl && memcmp(p, name, nl) == 0) {
            if (found) return -1;
            const char *v = eq != NULL ? eq + 1 : fe;
            if (form_decode(v, (size_t)(fe - v), out, cap) != 0) return -1;
            found = 1;
        }
        p = fe + 1;
    }
    return found;
}

/* ------------------------------------------------------ token endpoint --- */

static enum MHD_Result oauth_error(sb_req *r, unsigned status, const char *code,
                                   const char *desc, bool basic_challenge)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "error", code);
    cJSON_AddStringToObject(doc, "error_description", desc);
    /* RFC 6749 §5.2: a 401 answers the scheme the client tried. */
    const char *hdrs[] = { "Cache-Control", "no-store", "Pragma", "no-cache",
                           status == 401 && basic_challenge ? "WWW-Authenticate" : NULL,
                           "Basic realm=\"lira sandbox\"", NULL };
    pthread_mutex_lock(&r->srv->mu);
    OAUTH.refused++;
    pthread_mutex_unlock(&r->srv->mu);
    return sb_reply_json(r, status, doc, hdrs);
}

/* Client credentials from `Authorization: Basic` (RFC 6749 §2.3.1: id and
 * secret form-encoded, then base64). 1 found, 0 none, -1 malformed. */
static int basic_creds(sb_req *r, client_creds *c)
{
    const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    if (h == NULL) return 0;
    if (strncasecmp(h, "Basic ", 6) != 0) return -1;
    h += 6;
    uint8_t raw[2 * (SB_KEY_MAX + SB_OAUTH_SECRET_MAX) + 8];
    size_t n;
    if (lira_base64_decode(h, strlen(h), raw, sizeof raw, &n) != 0) return -1;
    const uint8_t *colon = memchr(raw, ':', n);
    if (colon == NULL) return -1;
    size_t il = (size_t)(colon - raw);
    if (form_decode((const char *)raw, il, c->id, sizeof c->id) != 0 ||
        form_decode((const char *)colon + 1, n - il - 1, c->secret, sizeof c->secret) != 0)
        return -1;
    c->basic = true;
    return 1;
}

/* The credentials this token URL accepts: ?accept=ID:SECRET or the fixed
 * test pair. */
static int accepted_creds(sb_req *r, client_creds *want)
{
    const char *a = sb_arg(r, "accept");
    if (a == NULL) {
        snprintf(want->id, sizeof want->id, "%s", SB_OAUTH_CLIENT_ID);
        snprintf(want->secret, sizeof want->secret, "%s", SB_OAUTH_CLIENT_SECRET);
        return 0;
    }
    const char *colon = strchr(a, ':');
    if (colon == NULL || colon == a || (size_t)(colon - a) > SB_KEY_MAX ||
        strlen(colon + 1) > SB_OAUTH_SECRET_MAX)
        return -1;
    snprintf(want->id, sizeof want->id, "%.*s", (int)(colon - a), a);
    snprintf(want->secret, sizeof want->secret, "%s", colon + 1);
    return 0;
}

static bool creds_equal(const client_creds *a, const client_creds *b)
{
    /* Constant-time on the secret, as a real server must be. */
    return strcmp(a->id, b->id) == 0 &&
           lira_sig_equal(a->secret, strlen(a->secret), b->secret, strlen(b->secret));
}

/* RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), space-separated. */
static bool scope_valid(const char *s)
{
    if (*s == '\0' || *s == ' ') return false;
    for (const char *p = s; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == ' ') {
            if (p[1] == ' ' || p[1] == '\0') return false;
            continue;
        }
        if (c < 0x21 || c > 0x7e || c == 0x22 || c == 0x5c) return false;
    }
    return true;
}

/* Issue a token: fill tok, return its expiry. Caller holds s->mu. */
static void issue_token(sb_server *s, const char *client_id, const char *scope,
                        int64_t expires_in, char *tok, size_t cap)
{
    sb_token *t = &OAUTH.tokens[OAUTH.next];
    OAUTH.next = (OAUTH.next + 1) % SB_OAUTH_TOKENS_MAX;
    OAUTH.issued++;
    /* The count makes every token unique; the random part makes it
     * unguessable-looking, as clients should treat tokens as opaque. */
    snprintf(t->token, sizeof t->token, "sbx_%llu_%016llx", (unsigned long long)OAUTH.issued,
             (unsigned long long)lira_rng_next(&s->rng));
    snprintf(t->client_id, sizeof t->client_id, "%s", client_id);
    snprintf(t->scope, sizeof t->scope, "%s", scope);
    t->expires_ns = sb_now_ns() + expires_in * LIRA_NS_PER_SEC;
    t->uses = 0;
    t->revoked = false;
    snprintf(tok, cap, "%s", t->token);
}

/* Read the form: grant type, body credentials, scope. Returns NULL or the
 * RFC 6749 error code, with a description in *desc. */
static const char *read_token_form(sb_req *r, client_creds *got, char *scope, size_t scap,
                                   const char **desc)
{
    const char *body = r->body.p != NULL ? r->body.p : "";
    char grant[64];
    client_creds form = { "", "", false };
    int g = form_get(body, r->body.len, "grant_type", grant, sizeof grant);
    int fi = form_get(body, r->body.len, "client_id", form.id, sizeof form.id);
    int fs = form_get(body, r->body.len, "client_secret", form.secret, sizeof form.secret);
    int sc = form_get(body, r->body.len, "scope", scope, scap);
    int b = basic_creds(r, got);
    *desc = "malformed or repeated form parameter";
    if (g < 0 || fi < 0 || fs < 0 || sc < 0) return "invalid_request";
    *desc = "malformed Authorization header";
    if (b < 0) return "invalid_request";
    *desc = "grant_type is required";
    if (g == 0) return "invalid_request";
    *desc = "only grant_type=client_credentials is supported";
    if (strcmp(grant, "client_credentials") != 0) return "unsupported_grant_type";
    *desc = "use one client authentication method, not both Basic and the body";
    if (b == 1 && fs == 1) return "invalid_request";
    if (b == 0) {
        *desc = "client authentication is required (HTTP Basic or client_id/client_secret)";
        if (fi != 1 || fs != 1) return "invalid_client";
        *got = form;
    }
    if (sc == 0) scope[0] = '\0';
    *desc = "scope must be space-separated scope tokens";
    if (sc == 1 && !scope_valid(scope)) return "invalid_scope";
    return NULL;
}

static enum MHD_Result route_token(sb_req *r)
{
    int64_t expires_in;
    client_creds want, got = { "", "", false };
    if (sb_arg_int(r, "expires_in", 0, SB_OAUTH_EXPIRES_MAX, SB_OAUTH_EXPIRES_DEFAULT,
                   &expires_in) != 0 || accepted_creds(r, &want) != 0)
        return sb_reply_error(r, 400, "expires_in must be 0..86400 and accept ID:SECRET");
    char scope[SB_OAUTH_SCOPE_MAX + 1];
    const char *desc = NULL;
    const char *code = read_token_form(r, &got, scope, sizeof scope, &desc);
    if (code != NULL)
        return oauth_error(r, strcmp(code, "invalid_client") == 0 ? 401 : 400, code, desc,
                           got.basic);
    if (!creds_equal(&got, &want))
        return oauth_error(r, 401, "invalid_client", "unknown client or wrong secret", got.basic);
    char tok[SB_OAUTH_TOKEN_CAP];
    pthread_mutex_lock(&r->srv->mu);
    issue_token(r->srv, got.id, scope, expires_in, tok, sizeof tok);
    pthread_mutex_unlock(&r->srv->mu);
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "access_token", tok);
    cJSON_AddStringToObject(doc, "token_type", "Bearer");
    cJSON_AddNumberToObject(doc, "expires_in", (double)expires_in);
    if (scope[0] != '\0') cJSON_AddStringToObject(doc, "scope", scope);
    const char *hdrs[] = { "Cache-Control", "no-store", "Pragma", "no-cache", NULL };
    return sb_reply_json(r, 200, doc, hdrs);
}

/* ------------------------------------------------- protected resource --- */

/* The live token named by `tok`, or NULL. Caller holds s->mu. */
static sb_token *find_token(const char *tok, int64_t now)
{
    if (tok[0] == '\0') return NULL;
    for (size_t i = 0; i < SB_OAUTH_TOKENS_MAX; i++) {
        sb_token *t = &OAUTH.tokens[i];
        if (strcmp(t->token, tok) == 0)
            return !t->revoked && now < t->expires_ns ? t : NULL;
    }
    return NULL;
}

static enum MHD_Result deny(sb_req *r, bool had_token, const char *desc)
{
    /* RFC 6750 §3.1: no error code when the request carried no token. */
    const char *chal = had_token
        ? "Bearer realm=\"lira sandbox\", error=\"invalid_token\", "
          "error_description=\"the access token is unknown, expired or revoked\""
        : "Bearer realm=\"lira sandbox\"";
    const char *hdrs[] = { "WWW-Authenticate", chal, NULL };
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "error", had_token ? "invalid_token" : "unauthorized");
    cJSON_AddStringToObject(doc, "error_description", desc);
    return sb_reply_json(r, 401, doc, hdrs);
}

static enum MHD_Result route_protected(sb_req *r)
{
    const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    bool bearer = h != NULL && strncasecmp(h, "Bearer ", 7) == 0;
    const char *tok = bearer ? h + 7 : "";
    while (*tok == ' ') tok++;
    pthread_mutex_lock(&r->srv->mu);
    sb_token *t = bearer ? find_token(tok, sb_now_ns()) : NULL;
    cJSON *doc = NULL;
    if (t != NULL) {
        t->uses++;
        OAUTH.accepted++;
        doc = cJSON_CreateObject();
        cJSON_AddBoolToObject(doc, "ok", 1);
        cJSON_AddStringToObject(doc, "client_id", t->client_id);
        cJSON_AddStringToObject(doc, "scope", t->scope);
        cJSON_AddNumberToObject(doc, "expires_in",
                                (double)((t->expires_ns - sb_now_ns()) / LIRA_NS_PER_SEC));
        cJSON_AddNumberToObject(doc, "uses", (double)t->uses);
        cJSON_AddStringToObject(doc, "method", r->method);
        cJSON_AddStringToObject(doc, "path", r->path);
    } else {
        OAUTH.rejected++;
    }
    pthread_mutex_unlock(&r->srv->mu);
    if (doc != NULL) return sb_reply_json(r, 200, doc, NULL);
    return deny(r, bearer, bearer ? "the access token is unknown, expired or revoked"
                                  : "a Bearer token is required");
}

/* ------------------------------------------------------ test controls --- */

static enum MHD_Result route_revoke(sb_req *r)
{
    const char *only = sb_arg(r, "token");
    int64_t n = 0;
    pthread_mutex_lock(&r->srv->mu);
    for (size_t i = 0; i < SB_OAUTH_TOKENS_MAX; i++) {
        sb_token *t = &OAUTH.tokens[i];
        if (t->token[0] == '\0' || t->revoked) continue;
        if (only != NULL && strcmp(only, t->token) != 0) continue;
        t->revoked = true;
        n++;
    }
    OAUTH.revoked += (uint64_t)n;
    pthread_mutex_unlock(&r->srv->mu);
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddNumberToObject(doc, "revoked", (double)n);
    return sb_reply_json(r, 200, doc, NULL);
}

static enum MHD_Result route_stats(sb_req *r)
{
    cJSON *doc = cJSON_CreateObject();
    int64_t now = sb_now_ns(), active = 0;
    pthread_mutex_lock(&r->srv->mu);
    for (size_t i = 0; i < SB_OAUTH_TOKENS_MAX; i++) {
        const sb_token *t = &OAUTH.tokens[i];
        if (t->token[0] != '\0' && !t->revoked && now < t->expires_ns) active++;
    }
    cJSON_AddNumberToObject(doc, "issued", (double)OAUTH.issued);
    cJSON_AddNumberToObject(doc, "refused", (double)OAUTH.refused);
    cJSON_AddNumberToObject(doc, "accepted", (double)OAUTH.accepted);
    cJSON_AddNumberToObject(doc, "rejected", (double)OAUTH.rejected);
    cJSON_AddNumberToObject(doc, "revoked", (double)OAUTH.revoked);
    pthread_mutex_unlock(&r->srv->mu);
    cJSON_AddNumberToObject(doc, "active", (double)active);
    cJSON_AddNumberToObject(doc, "capacity", SB_OAUTH_TOKENS_MAX);
    return sb_reply_json(r, 200, doc, NULL);
}

static enum MHD_Result route_reset(sb_req *r)
{
    pthread_mutex_lock(&r->srv->mu);
    memset(&OAUTH, 0, sizeof OAUTH);
    pthread_mutex_unlock(&r->srv->mu);
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddBoolToObject(doc, "reset", 1);
    return sb_reply_json(r, 200, doc, NULL);
}

/* ----------------------------------------------------------- routing --- */

typedef struct oauth_route {
    const char *path;
    bool prefix;             /* also path + "/..." */
    const char *allow;       /* the methods, as an Allow header */
    enum MHD_Result (*fn)(sb_req *r);
} oauth_route;

static const oauth_route OAUTH_ROUTES[] = {
    { "/oauth/token",     false, "POST",      route_token },
    { "/oauth/protected", true,  "GET, POST", route_protected },
    { "/oauth/_revoke",   false, "POST",      route_revoke },
    { "/oauth/_stats",    false, "GET",       route_stats },
    { "/oauth/_reset",    false, "POST",      route_reset },
};

static bool method_allowed(const char *allow, const char *method)
{
    size_t ml = strlen(method);
    for (const char *p = allow; *p != '\0';) {
        size_t n = strcspn(p, ",");
        if (n == ml && strncmp(p, method, n) == 0) return true;
        p += n;
        while (*p == ',' || *p == ' ') p++;
    }
    return strcmp(method, "HEAD") == 0 && strstr(allow, "GET") != NULL;
}

enum MHD_Result sb_route_oauth(sb_req *r)
{
    for (size_t i = 0; i < sizeof OAUTH_ROUTES / sizeof OAUTH_ROUTES[0]; i++) {
        const oauth_route *rt = &OAUTH_ROUTES[i];
        size_t n = strlen(rt->path);
        bool match = strncmp(r->path, rt->path, n) == 0 &&
                     (r->path[n] == '\0' || (rt->prefix && r->path[n] == '/'));
        if (!match) continue;
        if (!method_allowed(rt->allow, r->method)) {
            static const char body[] = "{\"error\":\"method not allowed\",\"status\":405}";
            const char *hdrs[] = { "Allow", rt->allow, NULL };
            return sb_reply(r, 405, "application/json", body, sizeof body - 1, hdrs);
        }
        return rt->fn(r);
    }
    return sb_reply_error(r, 404, "no such endpoint");
}
