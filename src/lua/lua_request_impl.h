/* lua_request_impl.h — what lua_request.c (the options and the call) and
 * lua_request_build.c (the URL, header lines and body in the client's
 * scratch buffer) share. Internal to those two files: the rest of the
 * client binding uses lua_client.h.
 *
 * Every function here raises a Lua error on misuse ("bad argument #n to
 * 'fname' (...)", the public numbering below) and on out of memory; what
 * it built stays in the client's scratch arrays, which the client owns, so
 * an error leaks nothing. */
#ifndef LIRA_LUA_REQUEST_IMPL_H
#define LIRA_LUA_REQUEST_IMPL_H

#include <stddef.h>

#include "lua_client.h"

/* The argument numbers messages name: the public client:get(path, opts)
 * numbering, not cclient:request's own stack slots. */
#define ARG_METHOD 2
#define ARG_PATH 2
#define ARG_OPTS 3

/* The header lines of the call being built. */
typedef struct lira__req_hdrs {
    size_t nlines;               /* offsets collected in c->offs */
    int has_content_type, has_idem;
    const char *request_id;      /* per-call X-Request-Id, if any */
    size_t request_id_len;
} lira__req_hdrs;

/* Write the full URL into c->scratch (from offset 0, NUL-terminated) and
 * return its length. path: the template (absolute, or below the client's
 * base); params, query: stack indices of options.params / options.query,
 * or 0. */
size_t lira__req_build_url(lua_State *L, lc_client *c, const char *path, size_t plen,
                           int params, int query, const char *fname);

/* Append the header lines after the URL: the client's defaults that the
 * per-call table at stack index h (0: none) does not override, then the
 * per-call ones (a false value drops a default). Fills *hs. */
void lira__req_build_headers(lua_State *L, lc_client *c, int h, lira__req_hdrs *hs,
                             const char *fname);

/* Add X-Request-Id unless the caller gave one (rid receives the id, at
 * least LIRA_UUID_STR_SIZE + 64 bytes) and the idempotency key for the
 * options.idempotency_key at stack index idem (0: none). *has_key: the
 * request carries a key. */
void lira__req_add_generated(lua_State *L, lc_client *c, lira__req_hdrs *hs, int idem,
                             char *rid, int *has_key, const char *fname);

/* The body from options.json (encoded; the string replaces the table in
 * its slot, which anchors it) or options.body (stack indices, 0: none);
 * adds Content-Type for JSON unless set. NULL with *len 0: no body. */
const void *lira__req_build_body(lua_State *L, lc_client *c, lira__req_hdrs *hs, int json,
                                 int body, size_t *len, const char *fname);

/* Once nothing more is appended: the NULL-terminated header line array
 * (c->hdrs), pointing into c->scratch and the client's default lines. */
const char **lira__req_header_array(lua_State *L, lc_client *c, const lira__req_hdrs *hs);

#endif
