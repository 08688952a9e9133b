/* ratelimit.h — what a server says about its rate limit, parsed from
 * response headers into one struct that lira_limiter_observe consumes.
 *
 * Forms understood, lowest precedence first (a field found in a later form
 * overwrites the same field from an earlier one; other fields stay):
 *   1. X-RateLimit-Limit / -Remaining / -Reset (GitHub, Twitter, many).
 *      Reset is epoch seconds, epoch milliseconds, or seconds-to-reset; see
 *      "Reset rule" below.
 *   2. RateLimit-Limit / -Remaining / -Reset (IETF drafts 00-06; reset is
 *      delta-seconds). An old-style quota policy in RateLimit-Limit
 *      ("10, 10;w=1, 50;w=60") gives the limit (its first integer) and the
 *      window (the `w` of the item whose value equals it).
 *   3. RateLimit-Policy + RateLimit (IETF drafts):
 *      dictionary form   RateLimit: limit=100, remaining=50, reset=30
 *                        RateLimit-Policy: 100;w=60   (or "10;w=1, 50;w=60")
 *      structured form   RateLimit: "default";r=50;t=30
 *                        RateLimit-Policy: "default";q=100;w=60
 *      With several policies the most restrictive one is chosen: in the
 *      structured RateLimit the item with the lowest r (ties: longest t);
 *      its limit and window come from the policy of the same name. With no
 *      RateLimit item, the policy with the lowest q/w (quota per second).
 *
 * Reset rule (applied to every reset value: the drafts say delta seconds,
 * but servers send epochs there too; v is the integer part of the value, now_wall_s
 * the caller's wall clock in epoch seconds, or <= 0 if unknown):
 *   half = now_wall_s > 0 ? now_wall_s / 2 : 1e9
 *   v >  half x 1000   -> epoch milliseconds
 *   v >  half          -> epoch seconds
 *   otherwise          -> seconds until the reset (fractions allowed)
 * No rate-limit window lasts decades, and no epoch reset lies decades in the
 * past, so "more than half of now" cannot be mistaken. An epoch reset in the
 * past (clock skew) reads as 0 (already reset).
 *
 * Garbage in one header leaves the fields from the others intact: each
 * header is parsed on its own and a malformed one contributes nothing.
 * Numbers: limit and remaining are integers 0..10^15; times are seconds
 * with an optional fraction, up to ~292 years. */
#ifndef LIRA_RATELIMIT_H
#define LIRA_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct lira_ratelimit {
    bool has_limit;       int64_t limit;          /* requests per window */
    bool has_remaining;   int64_t remaining;      /* left in this window */
    bool has_reset;       int64_t reset_ns;       /* ns from now to the reset, >= 0 */
    bool has_window;      int64_t window_ns;      /* window length from a policy */
    /* Not parsed here (RFC 9110 dates live in httpdate.h): the caller sets
     * these from Retry-After before lira_limiter_observe. */
    bool has_retry_after; int64_t retry_after_ns; /* ns from now, >= 0 */
    int malformed;        /* how many present headers contributed nothing */
} lira_ratelimit;

/* The header values a response carried; NULL for a header that was absent.
 * Values are NUL-terminated (as curl and Lua hand them over); a value longer
 * than LIRA_RATELIMIT_MAX_VALUE bytes counts as malformed (no byte past the
 * cap is read). */
typedef struct lira_ratelimit_headers {
    const char *x_limit, *x_remaining, *x_reset;   /* X-RateLimit-* */
    const char *limit, *remaining, *reset;         /* RateLimit-*   */
    const char *ratelimit;                          /* RateLimit     */
    const char *policy;                             /* RateLimit-Policy */
} lira_ratelimit_headers;

#define LIRA_RATELIMIT_MAX_VALUE 4096

/* Parse `h` into *out (always fully overwritten, Retry-After fields
 * cleared). `now_wall_s` (epoch seconds) resolves epoch resets, see above.
 * Returns LIRA_OK when at least one field was found; LIRA_ENOTFOUND when
 * none was (no headers, or only malformed ones: out->malformed tells);
 * LIRA_EINVAL when h or out is NULL. */
int lira_ratelimit_parse(const lira_ratelimit_headers *h, int64_t now_wall_s,
                         lira_ratelimit *out);

#endif
