/* lua_client.h — what the files of the client binding share (lua_client.c,
 * lua_request*.c, lua_response.c, lua_objects.c). Internal to src/lua.
 *
 * Ownership, in one place:
 *  - lc_client lives in a "lira.Client" userdata: it holds one reference on
 *    its engine upstream and the strings of its normalized config. Born
 *    closed (all NULL), so a config error half-way leaves nothing to leak.
 *  - lc_call is the per-call record: one malloc holding the result slot and
 *    the strings res/err report (URL, endpoint, method). The wait protocol
 *    hands it to lc_push_call (which copies it and its C response into a
 *    "lira.Response" or an error table), then to lc_free_call. The
 *    request's own strings (URL, header lines, body) are built in the
 *    client's scratch buffer: lira_call_start copies them. */
#ifndef LIRA_LUA_CLIENT_H
#define LIRA_LUA_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "binding.h"
#include "call.h"
#include "ids.h"

#define LC_CLIENT_MT   "lira.Client"
#define LC_RESPONSE_MT "lira.Response"
#define LC_BREAKER_MT  "lira.Breaker"
#define LC_LIMITER_MT  "lira.Limiter"
#define LC_HEADERS_MT  "lira.Headers"

#define LC_NS_PER_S 1e9

/* A growable byte buffer owned by a C struct that a Lua value owns, so a
 * Lua error mid-build leaks nothing (STYLE.md "The Lua binding"). */
typedef struct lc_buf {
    char *p;
    size_t len, cap;
} lc_buf;

typedef struct lc_client {
    lira_upstream *up;          /* NULL: closed */
    lira_engine *engine;
    char *name;
    char *base;                 /* base_url + version path, no trailing '/' */
    size_t base_len;
    char **lines;               /* default header lines "Name: value" */
    size_t *name_lens;          /* length of each line's name */
    size_t nlines;
    char *idem_header;          /* "Idempotency-Key" */
    int64_t connect_ns, read_ns, deadline_ns;   /* deadline 0 = none */
    lira_retry_config retry;    /* attempts 1 when retry = false */
    int retry_on_ref;           /* retry.on, or LUA_NOREF */
    int failure_ref;            /* breaker.failure, or LUA_NOREF */
    int thread_ref;             /* the hook thread, or LUA_NOREF */
    lua_State *hookL;           /* where retry.on / breaker.failure run */
    int redirects;
    size_t max_body;
    long connections;             /* per-host cap of this client's requests */
    char *ca_file;
    int insecure;
    /* per-call scratch, reused */
    lc_buf scratch;
    size_t *offs;               /* header line offsets into scratch */
    const char **hdrs;          /* the NULL-terminated line array */
    size_t hdrs_cap;
    const char **names;         /* per-call header names / query keys */
    size_t *name_len;
    size_t names_cap;
} lc_client;

typedef struct lc_call {
    lira_wait *w;
    lira_call *call;            /* valid until the done callback */
    lc_client *client;          /* alive while the call is: the waiting
                                   coroutine holds the client on its stack */
    int on_ref;                 /* per-call retry.on, or LUA_NOREF */
    int hook_reported;          /* a hook raised: reported once */
    size_t size;                /* of this allocation (a response copies its tail) */
    /* the outcome */
    lira_http_response *res;    /* owned; NULL when err */
    lira_error_kind kind;
    int retryable, attempts, status;
    int64_t elapsed_ns, retry_after_ns;
    char message[256];
    char request_id[LIRA_UUID_STR_SIZE + 64];
    /* strings in the tail of the allocation */
    const char *method, *url, *endpoint;
    char tail[];
} lc_call;

/* --- lua_client.c */
/* luaL_checkudata(L, idx, tname), with the metatable first compared with
 * upvalue `up` of the running C function: the per-call methods carry their
 * class's metatable there, which spares a registry read by name (a string
 * lookup) on every call. A function without that upvalue (an invalid
 * index: never equal) gets the by-name check, and so does every failure,
 * so the error stays luaL_checkudata's own. */
void *lc_check_udata_up(lua_State *L, int idx, int up, const char *tname);
/* The client at idx; raises when it is not one or closed. Cheapest from
 * the client's methods (the metatable is their upvalue 1). */
lc_client *lc_check_client(lua_State *L, int idx);
/* Raise "bad argument #argn to 'fname' (msg)" (the public numbering). */
int lc_argerror(lua_State *L, int argn, const char *fname, const char *fmt, ...);

int lc_valid_header_name(const char *s, size_t n);
int lc_valid_header_value(const char *s, size_t n);
/* Parse a retry table at t over *r (fields absent keep their value). A
 * function in t.on is left pushed (returns 1); else nothing (0). */
int lc_parse_retry(lua_State *L, int t, const char *who, lira_retry_config *r);
/* Raise "<who><key> must be <what>"; a `who` that opens a "bad argument
 * (" message gets its closing parenthesis. */
int lc_field_error(lua_State *L, const char *who, const char *key, const char *what);

/* --- lua_request.c */
int lc_client_request(lua_State *L);                   /* cclient:request */
/* --- lua_request_build.c */
void lc_buf_free(lc_buf *b);

/* --- lua_response.c */
void lc_open_response(lua_State *L);                   /* metatables */
int lc_push_call(lua_State *L, void *data);            /* the wait's push */
void lc_free_call(void *data);                         /* the wait's free */
/* Push a snapshot of an attempt for a hook: (res, nil) for a response,
 * (nil, err) for a failure. Always two values. */
void lc_push_attempt(lua_State *L, const lc_call *k, const lira_http_response *r, int attempt);
/* Push a lira error table for a call outcome. */
void lc_push_call_error(lua_State *L, const lc_call *k);
/* call.h hooks running retry.on / breaker.failure on the hook thread. */
int lc_retry_hook(void *ud, const lira_http_response *res, int attempt);
int lc_failure_hook(void *ud, const lira_http_response *res);

/* --- lua_objects.c */
void lc_open_objects(lua_State *L, int mod);
int lc_client_breaker(lua_State *L);                   /* cclient:breaker() */
int lc_client_limiter(lua_State *L);                   /* cclient:limiter() */
/* Parse a normalized breaker / limit table at idx into cfg; raise
 * "<who>: <field> ..." on a malformed field. */
void lc_parse_breaker(lua_State *L, int idx, const char *who, lira_breaker_config *cfg);
void lc_parse_limiter(lua_State *L, int idx, const char *who, lira_limiter_config *cfg,
                      int *read_headers);

/* Field readers for normalized tables: raise "<who>: <prefix><key> must be ...".
 * `def` is returned when the field is nil. */
double lc_field_num(lua_State *L, int t, const char *who, const char *key, double def,
                    double min, int min_exclusive);
int64_t lc_field_int(lua_State *L, int t, const char *who, const char *key, int64_t def,
                     int64_t min, int64_t max);
int64_t lc_seconds_to_ns(double s);

#endif
