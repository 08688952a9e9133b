/* test_sandbox_oauth.c — `lira sandbox`'s OAuth2 endpoints: the client-
 * credentials token endpoint (body and HTTP Basic client authentication,
 * every RFC 6749 §5.2 error it answers), the Bearer-protected resource
 * (valid, missing, unknown, expired and revoked tokens), the test controls
 * (_revoke, _stats, _reset) and the bounded token ring. */
#include "sandbox_proc.h"

#include "check.h"
#include "core/signature.h"
#include "e2e_http.h"

static sandbox_proc sb;

#define GOOD_FORM "grant_type=client_credentials&client_id=lira&client_secret=lira-secret"

static void post(const char *path, const char *body, const char *const *hdrs, http_res *out)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", sb.url, path);
    http_do(NULL, "POST", url, body, hdrs, out);
}

/* "Authorization: Basic base64(user:pass)" into buf. */
static const char *basic_header(const char *user, const char *pass, char *buf, size_t cap)
{
    char raw[256], b64[400];
    int n = snprintf(raw, sizeof raw, "%s:%s", user, pass);
    lira_base64_encode(raw, (size_t)n, b64, sizeof b64, NULL);
    snprintf(buf, cap, "Authorization: Basic %s", b64);
    return buf;
}

/* POST a token request; the access token into tok ("" when refused). */
static long get_token(const char *path, const char *body, const char *const *hdrs,
                      char *tok, size_t cap)
{
    http_res r;
    post(path, body, hdrs, &r);
    cJSON *doc = http_json(&r);
    const char *t = json_str(doc, "access_token");
    snprintf(tok, cap, "%s", t != NULL ? t : "");
    long status = r.status;
    cJSON_Delete(doc);
    http_free(&r);
    return status;
}

static long use_token(const char *tok, const char *path, http_res *out)
{
    char auth[128], url[256];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok);
    snprintf(url, sizeof url, "%s%s", sb.url, path);
    const char *hdrs[] = { auth, NULL };
    http_do(NULL, "GET", url, NULL, hdrs, out);
    return out->status;
}

static double stat_of(const char *name)
{
    http_res r;
    http_get(sb.url, "/oauth/_stats", &r);
    cJSON *doc = http_json(&r);
    double v = json_num(doc, name, -1);
    cJSON_Delete(doc);
    http_free(&r);
    return v;
}

static void reset_oauth(void)
{
    http_res r;
    post("/oauth/_reset", "", NULL, &r);
    CHECK_EQ(r.status, 200);
    http_free(&r);
}

/* ------------------------------------------------------------ tokens --- */

static void test_token_body_credentials(void)
{
    reset_oauth();
    http_res r;
    post("/oauth/token?expires_in=120", GOOD_FORM "&scope=read%20write", NULL, &r);
    CHECK_EQ(r.status, 200);
    char cc[64];
    CHECK_STR(http_header(&r, "Cache-Control", cc, sizeof cc), "no-store");
    cJSON *doc = http_json(&r);
    CHECK_STR(json_str(doc, "token_type"), "Bearer");
    CHECK_EQ(json_num(doc, "expires_in", -1), 120);
    CHECK_STR(json_str(doc, "scope"), "read write");
    const char *tok = json_str(doc, "access_token");
    CHECK(tok != NULL && strncmp(tok, "sbx_", 4) == 0);
    char second[64];
    CHECK_EQ(get_token("/oauth/token", GOOD_FORM, NULL, second, sizeof second), 200);
    CHECK(tok != NULL && strcmp(tok, second) != 0);       /* tokens are unique */
    cJSON_Delete(doc);
    http_free(&r);
    CHECK_EQ(stat_of("issued"), 2);
    CHECK_EQ(stat_of("active"), 2);
}

static void test_token_basic_and_accept(void)
{
    reset_oauth();
    char auth[512], tok[64];
    const char *hdrs[] = { basic_header("lira", "lira-secret", auth, sizeof auth), NULL };
    CHECK_EQ(get_token("/oauth/token", "grant_type=client_credentials", hdrs, tok, sizeof tok), 200);
    CHECK(tok[0] != '\0');
    /* ?accept= sets the pair this token URL takes; ':' in a secret is
     * form-encoded inside Basic (RFC 6749 §2.3.1). */
    const char *h2[] = { basic_header("svc", "p%3Ass", auth, sizeof auth), NULL };
    CHECK_EQ(get_token("/oauth/token?accept=svc:p:ss", "grant_type=client_credentials", h2,
                       tok, sizeof tok), 200);
    CHECK_EQ(get_token("/oauth/token?accept=svc:p:ss", GOOD_FORM, NULL, tok, sizeof tok), 401);
    CHECK_EQ(stat_of("issued"), 2);
    CHECK_EQ(stat_of("refused"), 1);
}

typedef struct bad_case {
    const char *name, *path, *body, *basic_user, *basic_pass, *raw_auth;
    long status;
    const char *error;
} bad_case;

static const bad_case BAD[] = {
    { "no grant_type", "/oauth/token", "client_id=lira&client_secret=lira-secret",
      NULL, NULL, NULL, 400, "invalid_request" },
    { "password grant", "/oauth/token", "grant_type=password&username=a&password=b",
      NULL, NULL, NULL, 400, "unsupported_grant_type" },
    { "wrong secret", "/oauth/token",
      "grant_type=client_credentials&client_id=lira&client_secret=nope",
      NULL, NULL, NULL, 401, "invalid_client" },
    { "unknown client", "/oauth/token",
      "grant_type=client_credentials&client_id=who&client_secret=lira-secret",
      NULL, NULL, NULL, 401, "invalid_client" },
    { "no client auth", "/oauth/token", "grant_type=client_credentials",
      NULL, NULL, NULL, 401, "invalid_client" },
    { "wrong basic secret", "/oauth/token", "grant_type=client_credentials",
      "lira", "nope", NULL, 401, "invalid_client" },
    { "basic and body secret", "/oauth/token", GOOD_FORM,
      "lira", "lira-secret", NULL, 400, "invalid_request" },
    { "repeated parameter", "/oauth/token", GOOD_FORM "&grant_type=client_credentials",
      NULL, NULL, NULL, 400, "invalid_request" },
    { "bad percent-encoding", "/oauth/token", GOOD_FORM "&scope=%zz",
      NULL, NULL, NULL, 400, "invalid_request" },
    { "truncated percent", "/oauth/token", GOOD_FORM "&scope=a%2",
      NULL, NULL, NULL, 400, "invalid_request" },
    { "bad scope", "/oauth/token", GOOD_FORM "&scope=a%22b",
      NULL, NULL, NULL, 400, "invalid_scope" },
    { "double space scope", "/oauth/token", GOOD_FORM "&scope=a%20%20b",
      NULL, NULL, NULL, 400, "invalid_scope" },
    { "malformed basic", "/oauth/token", "grant_type=client_credentials",
      NULL, NULL, "Authorization: Basic !!notbase64", 400, "invalid_request" },
    { "not basic", "/oauth/token", "grant_type=client_credentials",
      NULL, NULL, "Authorization: Digest x", 400, "invalid_request" },
};

static void test_token_errors(void)
{
    reset_oauth();
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        const bad_case *c = &BAD[i];
        char auth[512];
        const char *hdrs[] = { NULL, NULL };
        if (c->basic_user != NULL) hdrs[0] = basic_header(c->basic_user, c->basic_pass, auth,
                                                          sizeof auth);
        if (c->raw_auth != NULL) hdrs[0] = c->raw_auth;
        http_res r;
        post(c->path, c->body, hdrs, &r);
        cJSON *doc = http_json(&r);
        if (r.status != c->status || json_str(doc, "error") == NULL ||
            strcmp(json_str(doc, "error"), c->error) != 0)
            fprintf(stderr, "case '%s': %ld %s\n", c->name, r.status, r.body.p);
        CHECK_EQ(r.status, c->status);
        CHECK_STR(json_str(doc, "error"), c->error);
        CHECK(json_str(doc, "error_description") != NULL);
        char www[128];
        bool challenged = http_header(&r, "WWW-Authenticate", www, sizeof www) != NULL;
        bool want_challenge = c->status == 401 && c->basic_user != NULL;
        CHECK_EQ(challenged, want_challenge);
        cJSON_Delete(doc);
        http_free(&r);
    }
    CHECK_EQ(stat_of("issued"), 0);
    CHECK_EQ(stat_of("refused"), (double)(sizeof BAD / sizeof BAD[0]));
}

static void test_token_bad_controls(void)
{
    http_res r;
    http_get(sb.url, "/oauth/token", &r);                 /* wrong method */
    char allow[32];
    CHECK_EQ(r.status, 405);
    CHECK_STR(http_header(&r, "Allow", allow, sizeof allow), "POST");
    http_free(&r);
    post("/oauth/token?expires_in=86401", GOOD_FORM, NULL, &r);
    CHECK_EQ(r.status, 400);
    http_free(&r);
    post("/oauth/token?accept=nocolon", GOOD_FORM, NULL, &r);
    CHECK_EQ(r.status, 400);
    http_free(&r);
    CHECK_EQ(http_get_status(sb.url, "/oauth/elsewhere"), 404);
}

/* ------------------------------------------------ protected resource --- */

static void test_protected(void)
{
    reset_oauth();
    char tok[64];
    CHECK_EQ(get_token("/oauth/token", GOOD_FORM "&scope=orders", NULL, tok, sizeof tok), 200);
    http_res r;
    for (int i = 1; i <= 2; i++) {
        CHECK_EQ(use_token(tok, "/oauth/protected/orders/7", &r), 200);
        cJSON *doc = http_json(&r);
        CHECK_STR(json_str(doc, "client_id"), "lira");
        CHECK_STR(json_str(doc, "scope"), "orders");
        CHECK_STR(json_str(doc, "path"), "/oauth/protected/orders/7");
        CHECK_EQ(json_num(doc, "uses", -1), i);
        CHECK_INT(json_num(doc, "expires_in", -1), >=, 3590);
        cJSON_Delete(doc);
        http_free(&r);
    }
    char www[256];
    http_get(sb.url, "/oauth/protected", &r);              /* no token: no error code */
    CHECK_EQ(r.status, 401);
    CHECK_STR(http_header(&r, "WWW-Authenticate", www, sizeof www), "Bearer realm=\"lira sandbox\"");
    http_free(&r);
    CHECK_EQ(use_token("sbx_nope", "/oauth/protected", &r), 401);
    CHECK(strstr(http_header(&r, "WWW-Authenticate", www, sizeof www), "error=\"invalid_token\"")
          != NULL);
    http_free(&r);
    /* expires_in=0: issued already expired. */
    CHECK_EQ(get_token("/oauth/token?expires_in=0", GOOD_FORM, NULL, tok, sizeof tok), 200);
    CHECK_EQ(use_token(tok, "/oauth/protected", &r), 401);
    http_free(&r);
    CHECK_EQ(stat_of("accepted"), 2);
    CHECK_EQ(stat_of("rejected"), 3);
    CHECK_EQ(stat_of("active"), 1);
}

static void test_revoke(void)
{
    reset_oauth();
    char a[64], b[64], path[128];
    get_token("/oauth/token", GOOD_FORM, NULL, a, sizeof a);
    get_token("/oauth/token", GOOD_FORM, NULL, b, sizeof b);
    http_res r;
    snprintf(path, sizeof path, "/oauth/_revoke?token=%s", a);
    post(path, "", NULL, &r);
    cJSON *doc = http_json(&r);
    CHECK_EQ(json_num(doc, "revoked", -1), 1);
    cJSON_Delete(doc);
    http_free(&r);
    CHECK_EQ(use_token(a, "/oauth/protected", &r), 401);
    http_free(&r);
    CHECK_EQ(use_token(b, "/oauth/protected", &r), 200);
    http_free(&r);
    post("/oauth/_revoke", "", NULL, &r);                  /* all the rest */
    doc = http_json(&r);
    CHECK_EQ(json_num(doc, "revoked", -1), 1);
    cJSON_Delete(doc);
    http_free(&r);
    CHECK_EQ(use_token(b, "/oauth/protected", &r), 401);
    http_free(&r);
    CHECK_EQ(stat_of("active"), 0);
    CHECK_EQ(stat_of("revoked"), 2);
}

static void test_ring_is_bounded_and_log_sees_requests(void)
{
    reset_oauth();
    CURL *h = curl_easy_init();
    char url[256], first[64] = "", last[64] = "";
    snprintf(url, sizeof url, "%s/oauth/token", sb.url);
    int cap = (int)stat_of("capacity");
    CHECK_EQ(cap, 1024);
    for (int i = 0; i <= cap; i++) {                        /* one more than it keeps */
        http_res r;
        http_do(h, "POST", url, GOOD_FORM, NULL, &r);
        cJSON *doc = http_json(&r);
        snprintf(i == 0 ? first : last, 64, "%s", json_str(doc, "access_token"));
        cJSON_Delete(doc);
        http_free(&r);
    }
    curl_easy_cleanup(h);
    http_res r;
    CHECK_EQ(use_token(first, "/oauth/protected", &r), 401);   /* evicted */
    http_free(&r);
    CHECK_EQ(use_token(last, "/oauth/protected", &r), 200);
    http_free(&r);
    CHECK_EQ(stat_of("issued"), cap + 1);
    CHECK_EQ(stat_of("active"), cap);
    /* The server's log saw the token requests like any other. */
    cJSON *log = sandbox_log(sb.url, 0);
    int tokens = 0;
    cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(log, "entries"))
        if (strcmp(json_str(e, "path"), "/oauth/token") == 0) tokens++;
    CHECK_INT(tokens, >=, cap + 1);
    cJSON_Delete(log);
}

int main(void)
{
    if (sandbox_test_begin(&sb, NULL) != 0)
        return 1;
    RUN(test_token_body_credentials);
    RUN(test_token_basic_and_accept);
    RUN(test_token_errors);
    RUN(test_token_bad_controls);
    RUN(test_protected);
    RUN(test_revoke);
    RUN(test_ring_is_bounded_and_log_sees_requests);
    return sandbox_test_end(&sb) == 0 ? check_summary() : 1;
}
