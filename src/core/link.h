/* link.h — the HTTP Link header (RFC 8288 §3), for "link" pagination.
 *
 *   Link: <https://api.example.com/items?page=2>; rel="next",
 *         <https://api.example.com/items?page=9>; rel="last"
 *
 * Nothing is allocated and nothing is copied: every pointer handed out
 * points into the caller's header text, which must outlive its use. The
 * text need not be NUL-terminated (lengths are explicit). Several Link
 * header lines may be joined with "," before parsing (RFC 9110 §5.3).
 *
 * Accepted: links separated by commas (empty list elements are skipped);
 * commas inside <URI> and inside quoted values; optional whitespace around
 * every ";", "," and "="; parameter values quoted (with \ escapes) or not
 * (an unquoted value runs to the next whitespace, ";" or ","; a parameter
 * may have no value); any byte >= 0x80 inside the URI and in values.
 * Malformed (LIRA_EPARSE): no "<" where a link must start, a URI without
 * its ">", a control byte in the URI, text after ">" or a value that is not
 * ";" or ",", a parameter without a name, "name=" with no value, an
 * unterminated quoted string. */
#ifndef LIRA_LINK_H
#define LIRA_LINK_H

#include <stddef.h>

/* One link: its target and the raw text of its parameters. */
typedef struct lira_link {
    const char *uri;      /* between < and >, unresolved, never NULL */
    size_t uri_len;
    const char *params;   /* text after ">": "; rel=next; title=\"x\"" */
    size_t params_len;
} lira_link;

/* One parameter of a link. A quoted value is given without its quotes but
 * with its backslash escapes still in (quoted == 1 says so); a parameter
 * without "=" has value NULL. */
typedef struct lira_link_param {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
    int quoted;
} lira_link_param;

/* Iteration state over one header; fields private. */
typedef struct lira_link_iter {
    const char *p, *end;
} lira_link_iter;

/* Find the first link whose rel has `rel` among its space-separated values,
 * compared case-insensitively (RFC 8288 §2.1.1); only a link's first rel
 * parameter counts (§3.3). The whole header is checked: LIRA_EPARSE if any
 * link in it is malformed, even one after the match (the header is then
 * not trusted). On LIRA_OK *uri / *uri_len point into `header`.
 * LIRA_ENOTFOUND when no link has that rel (also for an empty header);
 * LIRA_EINVAL when rel, uri or uri_len is NULL, or header is NULL with
 * len > 0. */
int lira_link_find(const char *header, size_t len, const char *rel,
                   const char **uri, size_t *uri_len);

/* Start iterating over `header` (len bytes; NULL allowed when len is 0).
 * LIRA_EINVAL when it is NULL otherwise. */
int lira_link_iter_init(lira_link_iter *it, const char *header, size_t len);

/* The next link into *out: LIRA_OK; LIRA_ENOTFOUND when there are no more;
 * LIRA_EPARSE when the next link is malformed (the iterator then stays at
 * the end, so a loop stops). LIRA_EINVAL when it or out is NULL. */
int lira_link_next(lira_link_iter *it, lira_link *out);

/* The parameter at *pos (start with *pos = 0) of a link returned by
 * lira_link_next, advancing *pos: LIRA_OK; LIRA_ENOTFOUND after the last.
 * LIRA_EINVAL when an argument is NULL; LIRA_EPARSE only for a link that
 * lira_link_next did not produce. */
int lira_link_param_next(const lira_link *link, size_t *pos, lira_link_param *out);

/* Does the rel-style value (a space-separated list, possibly quoted with
 * escapes) contain `rel`, case-insensitively? 1 or 0; 0 for NULL. */
int lira_link_rel_has(const lira_link_param *p, const char *rel);

#endif
