/* lua_testing.h — the transport under lira.testing (lua_testing_tp*.c) and
 * what its Lua binding (lua_testing.c) reads from it.
 *
 * lira.testing puts ONE dispatching transport under an engine (a "ttp").
 * For every attempt it picks, in this order:
 *  1. a mock (newest first) whose scope covers the URL: the attempt goes to
 *     that mock's own scripted transport (transport_script.h), so delays,
 *     timeouts and the record are the scripted transport's. Routes are path
 *     templates matched here ("/orders/{id}", a trailing "/" + "*"); the attempt
 *     is forwarded as "/~r<route>" so the scripted transport's exact routing
 *     serves the route's steps in order. A request no route takes (or a
 *     route whose scripted steps ran out) gets a TRANSPORT failure whose
 *     error lists the mock's routes, and is remembered as unmatched.
 *  2. a recorder whose scope covers the URL: the attempt goes to the real
 *     (curl) transport, and the request and its response are captured.
 *  3. otherwise the real transport, untouched.
 * A scope is "scheme://host[:port][/prefix]" (a client's base_url; userinfo
 * ignored, host case-insensitive, default ports filled in) or NULL for every
 * URL. Route paths are relative to the scope's prefix.
 *
 * Lifetime: the engine owns the ttp (lira_engine_set_transport); when it is
 * destroyed (engine freed or transport replaced) it clears `*backref`, so
 * the binding never holds a dangling pointer. Mocks and recorders live as
 * long as the ttp (stopping one only takes it out of dispatch; its record
 * stays readable). Loop thread only. */
#ifndef LIRA_LUA_TESTING_H
#define LIRA_LUA_TESTING_H

#include <stddef.h>
#include <stdint.h>

#include "transport.h"
#include "transport_script.h"

typedef struct lira_ttp lira_ttp;

/* What the dispatcher adds to a mock's scripted record i. */
typedef struct lira_ttp_side {
    char *url;          /* the request's real URL */
    long route;         /* 0-based route index, -1 when unmatched */
    char *message;      /* the unmatched error (NULL when matched) */
} lira_ttp_side;

typedef struct lira_ttp_route_info {
    const char *label;      /* "GET /orders/{id}" as given */
    size_t served;          /* requests this route took */
    size_t finite_left;     /* one-shot steps not served yet */
    int forever;            /* it has a step that repeats for ever */
    size_t forever_served;  /* requests that step served */
} lira_ttp_route_info;

/* One captured interaction of a recorder. */
typedef struct lira_ttp_capture {
    char *method, *url;
    char **headers;            /* request "Name: value" lines */
    size_t nheaders;
    char *body;                /* NULL: none */
    size_t body_len;
    int64_t at_ns, done_ns;    /* engine time at start / completion (-1 in flight) */
    int done, status;
    lira_failure failure;
    char *error;               /* the failure's message, or NULL */
    char **rheaders;           /* response "Name: value" lines */
    size_t nrheaders;
    char *rbody;
    size_t rbody_len;
} lira_ttp_capture;

/* Install a ttp as e's transport (replacing, and so destroying, the one it
 * had). *backref is set to the ttp now and to NULL when it is destroyed.
 * LIRA_EINVAL, LIRA_ENOMEM. */
int lira_ttp_install(lira_engine *e, lira_ttp **backref);

/* The binding is going away: stop writing to *backref. */
void lira_ttp_forget(lira_ttp *tp);

/* A new mock, id chosen by the caller (unique per ttp). `scope` NULL =
 * every URL. `redact` 1: match routes against the URL passed through
 * lira_redact_url (a cassette's recorded URLs are redacted). LIRA_EINVAL
 * (a scope that is not an http(s) URL), LIRA_ENOMEM. */
int lira_ttp_mock_new(lira_ttp *tp, int id, const char *label, const char *scope, int redact);

/* Add a route: method NULL = any; `path` starts with '/' and may end in
 * "?query" (then the query must be equal). Sets *index (0-based). */
int lira_ttp_mock_route(lira_ttp *tp, int id, const char *method, const char *path,
                        size_t *index);

/* Append a step to a route (step->repeat: served for ever). */
int lira_ttp_mock_push(lira_ttp *tp, int id, size_t route, const lira_script_step *step);

/* Take the mock out of dispatch (its record stays). LIRA_EINVAL: no such id. */
int lira_ttp_mock_stop(lira_ttp *tp, int id);

/* The mock's scripted transport (its record: lira_script_count/_request_at),
 * the side data of record i, its routes. NULL / 0 for an unknown id. */
const lira_transport *lira_ttp_mock_script(const lira_ttp *tp, int id);
const lira_ttp_side *lira_ttp_mock_side(const lira_ttp *tp, int id, size_t i);
size_t lira_ttp_mock_nroutes(const lira_ttp *tp, int id);
int lira_ttp_mock_route_info(const lira_ttp *tp, int id, size_t route, lira_ttp_route_info *out);

/* A recorder over `scope` (NULL = every URL not mocked). */
int lira_ttp_rec_new(lira_ttp *tp, int id, const char *scope);
int lira_ttp_rec_stop(lira_ttp *tp, int id);
size_t lira_ttp_rec_count(const lira_ttp *tp, int id);
const lira_ttp_capture *lira_ttp_rec_at(const lira_ttp *tp, int id, size_t i);

/* ------------------------------------------------ internal (lua_testing_url.c) */

typedef struct lira__ttp_url {
    const char *scheme, *host, *path, *query;
    size_t scheme_len, host_len, path_len, query_len;
    long port;
    int has_query;
} lira__ttp_url;

/* Split an absolute http(s) URL (no copy: the parts point into it).
 * LIRA_EINVAL for anything else. */
int lira__ttp_parse_url(const char *url, lira__ttp_url *u);

typedef struct lira__ttp_scope {
    char *scheme, *host, *prefix;   /* prefix: "" or "/v2" (no trailing '/') */
    long port;
} lira__ttp_scope;

/* A scope from a base URL (NULL url: *out = NULL, every URL); free it with
 * lira__ttp_scope_free. LIRA_EINVAL (not http(s), or has a query), LIRA_ENOMEM. */
int lira__ttp_scope_new(const char *url, lira__ttp_scope **out);
void lira__ttp_scope_free(lira__ttp_scope *s);

/* Whether `s` (NULL: every URL) covers u; *rel (length *rlen) is then the
 * path below its prefix ("/" at least). */
int lira__ttp_scope_covers(const lira__ttp_scope *s, const lira__ttp_url *u, const char **rel, size_t *rlen);

/* Path template t (tlen bytes) against path p: "{...}" takes one non-empty
 * segment, a last segment "*" takes the rest; other segments are literal. */
int lira__ttp_tmpl_match(const char *t, size_t tlen, const char *p, size_t plen);

#endif
