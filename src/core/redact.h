/* redact.h — keep secrets out of logs, spans and error messages.
 *
 * Every URL and header that lira writes anywhere a human or a log pipeline
 * can read it goes through these first. The policy is deliberately generous:
 * a false positive costs a less useful log line, a false negative leaks a
 * credential.
 *
 * Nothing here allocates; no global state (the caller's deny list is passed
 * in each time). */
#ifndef LIRA_REDACT_H
#define LIRA_REDACT_H

#include <stddef.h>

/* The text that replaces a secret. */
#define LIRA_REDACTED "REDACTED"

/* Copy the `len` bytes of `url` (no NUL needed; any bytes, including non-ASCII
 * and NUL, are copied as they are) into `out` with its secrets replaced:
 *
 *  - userinfo: "https://user:pw@host/" -> "https://REDACTED@host/". The
 *    authority follows "scheme://" or a leading "//"; a URL with neither that
 *    does not start with '/', '?' or '#' is taken to start with its authority
 *    ("user:pw@host:8080/x"). The authority ends at the first '/', '?' or '#',
 *    and userinfo at its LAST '@' (passwords with a raw '@' are common), so an
 *    '@' in the path or query is left alone. Works for "[::1]" hosts.
 *  - query parameters (split on '&' only) whose name, percent-decoded and
 *    compared case-insensitively, is one of token, access_token,
 *    refresh_token, id_token, api_key, apikey, key, secret, client_secret,
 *    password, passwd, pwd, signature, sig, code, auth, or contains token,
 *    secret, password, passwd, signature, api_key, apikey or api-key: the
 *    value becomes REDACTED ("?Token=abc" -> "?Token=REDACTED"). The name is
 *    kept as written. An empty value ("key=") reveals nothing and is kept, as
 *    is a parameter without '='. A name longer than 256 bytes is treated as
 *    secret.
 *  - the fragment is kept, but the same parameter rule applies to it (OAuth's
 *    implicit flow returns "#access_token=..."), after its first '?' if it
 *    has one ("#/cb?token=x").
 *
 * Everything else is kept byte for byte.
 *
 * out receives at most cap - 1 bytes and is always NUL-terminated (when cap >
 * 0). *out_len (if out_len is not NULL) receives the length of the complete
 * redacted URL, excluding the NUL, even when it did not fit, so a caller can
 * retry with cap = *out_len + 1.
 *
 * Returns LIRA_OK; LIRA_ETOOBIG when the result did not fit (out then holds a
 * truncated prefix of the redacted URL, which never contains a redacted
 * secret); LIRA_EINVAL when url or out is NULL or cap is 0. */
int lira_redact_url(const char *url, size_t len, char *out, size_t cap, size_t *out_len);

/* Whether a header's value must be redacted, by the header's name
 * (NUL-terminated, compared case-insensitively): 1 for Authorization,
 * Proxy-Authorization, Cookie, Set-Cookie, X-Api-Key, X-Auth-Token, any name
 * containing token, secret, signature, password, passwd, api-key, api_key or
 * apikey, and any name equal to an entry of `deny` (ndeny NUL-terminated
 * names; NULL entries are skipped); 0 otherwise.
 * LIRA_EINVAL when name is NULL, or deny is NULL while ndeny > 0. */
int lira_redact_header_is_secret(const char *name, const char *const *deny, size_t ndeny);

#endif
