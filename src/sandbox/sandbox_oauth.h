/* sandbox_oauth.h — the sandbox's OAuth2 endpoints (sandbox_oauth.c):
 * POST /oauth/token (client credentials, RFC 6749 §4.4), GET|POST
 * /oauth/protected[/...] (a Bearer-protected resource, RFC 6750), and the
 * test controls POST /oauth/_revoke, GET /oauth/_stats, POST /oauth/_reset.
 * docs/sandbox.md describes them. */
#ifndef LIRA_SANDBOX_OAUTH_H
#define LIRA_SANDBOX_OAUTH_H

#include "sandbox/sandbox_internal.h"

/* Answer any request under /oauth/ (404/405 for what is not served). */
enum MHD_Result sb_route_oauth(sb_req *r);

#endif
