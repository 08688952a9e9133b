/* lua_webhook.c — the C half of lira.webhook.verify (lua/lira/webhook.lua
 * validates the options and calls this with a normalized table):
 *
 *   core.webhook_verify {
 *     scheme = "standard"|"stripe"|"github"|"hmac", secrets = { s, ... },
 *     headers = { [name] = value, ... }, body = s, tolerance = seconds,
 *     now = unix seconds,
 *     header =, algorithm =, encoding =, prefix =, timestamp_header =,
 *     template =,                                      -- "hmac" only
 *   } -> true | nil, err
 *
 * err is a lira error table: kind "missing_header" | "malformed" |
 * "bad_signature" | "expired", message, and header (the header concerned,
 * when there is one). A configuration the core rejects raises, naming the
 * option. All of the work is src/core/webhook_verify.c. */
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "binding.h"
#include "status.h"
#include "webhook_verify.h"

#define WHO "lira.webhook.verify"

/* Field `name` of the table at 1 as a string without NUL bytes, or NULL
 * when it is nil. Leaves the value on the stack (it stays referenced by
 * the table anyway). */
static const char *opt_string(lua_State *L, const char *name, size_t *len)
{
    size_t n = 0;
    int t = lua_getfield(L, 1, name);
    if (t == LUA_TNIL)
        return NULL;
    if (t != LUA_TSTRING)
        luaL_error(L, WHO ": option %s must be a string", name);
    const char *s = lua_tolstring(L, -1, &n);
    if (len)
        *len = n;
    else if (strlen(s) != n)
        luaL_error(L, WHO ": option %s must not contain NUL bytes", name);
    return s;
}

static int64_t opt_integer(lua_State *L, const char *name)
{
    lua_getfield(L, 1, name);
    int ok = 0;
    lua_Integer v = lua_tointegerx(L, -1, &ok);
    if (!ok || v < 0)
        luaL_error(L, WHO ": option %s must be a non-negative integer", name);
    lua_pop(L, 1);
    return (int64_t)v;
}

static size_t get_secrets(lua_State *L, const char **secrets)
{
    if (lua_getfield(L, 1, "secrets") != LUA_TTABLE)
        luaL_error(L, WHO ": option secret must be a string or a list of strings");
    int idx = lua_gettop(L);
    size_t n = (size_t)luaL_len(L, idx);
    if (n == 0 || n > LIRA_WEBHOOK_MAX_SECRETS)
        luaL_error(L, WHO ": option secret: give 1 to %d secrets", LIRA_WEBHOOK_MAX_SECRETS);
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        lua_geti(L, idx, (lua_Integer)i + 1);
        const char *s = lua_tolstring(L, -1, &len);
        if (lua_type(L, -1) != LUA_TSTRING || len == 0 || strlen(s) != len)
            luaL_error(L, WHO ": option secret must hold non-empty strings without NUL bytes");
        secrets[i] = s;   /* kept alive by the secrets table, itself kept by arg 1 */
        lua_pop(L, 1);
    }
    return n;
}

/* The headers as name/value pairs; one more than the cap is enough for
 * the core to call the delivery malformed, so counting stops there. */
static size_t get_headers(lua_State *L, lira_webhook_header *hs)
{
    if (lua_getfield(L, 1, "headers") != LUA_TTABLE)
        luaL_error(L, WHO ": option headers must be a table");
    int idx = lua_gettop(L);
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, WHO ": option headers must map header names to strings");
        if (n <= LIRA_WEBHOOK_MAX_HEADERS) {
            hs[n].name = lua_tolstring(L, -2, &hs[n].name_len);
            hs[n].value = lua_tolstring(L, -1, &hs[n].value_len);
            n++;
        }
        lua_pop(L, 1);
    }
    return n;
}

static void get_hmac_options(lua_State *L, lira_webhook_config *c)
{
    const char *alg = opt_string(L, "algorithm", NULL);
    const char *enc = opt_string(L, "encoding", NULL);
    if (lira_hmac_alg_parse(alg ? alg : "sha256", &c->alg) != LIRA_OK)
        luaL_error(L, WHO ": option algorithm must be \"sha1\", \"sha256\" or \"sha512\"");
    if (lira_webhook_encoding_parse(enc ? enc : "hex", &c->encoding) != LIRA_OK)
        luaL_error(L, WHO ": option encoding must be \"hex\" or \"base64\"");
    c->header = opt_string(L, "header", NULL);
    c->prefix = opt_string(L, "prefix", NULL);
    c->timestamp_header = opt_string(L, "timestamp_header", NULL);
    c->signed_content = opt_string(L, "template", NULL);
}

static int push_verdict(lua_State *L, const lira_webhook_verdict *v)
{
    if (v->kind == LIRA_WEBHOOK_VALID) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushnil(L);
    lira_lua_push_error(L, lira_webhook_kind_name(v->kind), v->message);
    if (v->header) {
        lua_pushstring(L, v->header);
        lua_setfield(L, -2, "header");
    }
    return 2;
}

static int l_webhook_verify(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkstack(L, 32, WHO);   /* option values stay pushed until the end */
    lira_webhook_config c;
    memset(&c, 0, sizeof c);
    const char *scheme = opt_string(L, "scheme", NULL);
    if (!scheme || lira_webhook_scheme_parse(scheme, &c.scheme) != LIRA_OK)
        luaL_error(L, WHO ": option scheme must be \"standard\", \"stripe\", \"github\" or "
                      "\"hmac\"");
    const char *secrets[LIRA_WEBHOOK_MAX_SECRETS];
    c.secrets = secrets;
    c.nsecrets = get_secrets(L, secrets);
    c.tolerance_s = opt_integer(L, "tolerance");
    int64_t now = opt_integer(L, "now");
    if (c.scheme == LIRA_WEBHOOK_HMAC)
        get_hmac_options(L, &c);
    size_t bodylen = 0;
    const char *body = opt_string(L, "body", &bodylen);
    if (!body)
        luaL_error(L, WHO ": option body must be a string");

    char why[LIRA_WEBHOOK_MESSAGE_MAX];
    int rc = lira_webhook_config_check(&c, why, sizeof why);
    if (rc == LIRA_EINVAL)
        luaL_error(L, WHO ": option %s", why);
    if (rc != LIRA_OK)
        luaL_error(L, WHO ": %s", lira_strerror(rc));

    /* On the C stack: bounded by the cap, no allocation per delivery. */
    lira_webhook_header hs[LIRA_WEBHOOK_MAX_HEADERS + 1];
    size_t nh = get_headers(L, hs);
    lira_webhook_verdict v;
    rc = lira_webhook_verify(&c, hs, nh, body, bodylen, now, &v);
    if (rc != LIRA_OK)
        luaL_error(L, WHO ": %s (%s)", v.message, lira_strerror(rc));
    return push_verdict(L, &v);
}

void lira_lua_open_webhook(lua_State *L, int mod)
{
    static const luaL_Reg fns[] = {
        {"webhook_verify", l_webhook_verify},
        {NULL, NULL},
    };
    lua_pushvalue(L, mod);
    luaL_setfuncs(L, fns, 0);
    lua_pop(L, 1);
}
