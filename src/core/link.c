/* link.c — RFC 8288 Link header parsing, in place and without allocation.
 *
 * The grammar (RFC 8288 §3, with RFC 9110 lists):
 *   Link       = #link-value
 *   link-value = "<" URI-Reference ">" *( OWS ";" OWS link-param )
 *   link-param = token BWS [ "=" BWS ( token / quoted-string ) ]
 * Unquoted values are read more loosely than `token` (servers put URIs and
 * "/" there unquoted), and CR/LF count as whitespace so joined or folded
 * header lines parse. */
#include "link.h"

#include <string.h>

#include "status.h"

typedef struct cur {
    const char *p, *end;
} cur;

static int is_ws(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static int is_ctl(char ch)
{
    unsigned char u = (unsigned char)ch;
    return u < 0x20 || u == 0x7f;
}

static int is_tchar(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static char lower(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

static void ows(cur *c)
{
    while (c->p < c->end && is_ws(*c->p))
        c->p++;
}

static int at(const cur *c, char ch)
{
    return c->p < c->end && *c->p == ch;
}

/* A quoted string, c->p on the opening quote; the value excludes quotes. */
static int parse_quoted(cur *c, lira_link_param *out)
{
    c->p++;
    out->value = c->p;
    out->quoted = 1;
    for (; c->p < c->end; c->p++) {
        if (*c->p == '"') {
            out->value_len = (size_t)(c->p - out->value);
            c->p++;
            return LIRA_OK;
        }
        if (*c->p == '\\' && ++c->p == c->end)
            break;
    }
    return LIRA_EPARSE; /* unterminated */
}

/* One link-param, c->p on its name (after ";" and whitespace). */
static int parse_param(cur *c, lira_link_param *out)
{
    memset(out, 0, sizeof *out);
    out->name = c->p;
    while (c->p < c->end && is_tchar(*c->p))
        c->p++;
    out->name_len = (size_t)(c->p - out->name);
    if (out->name_len == 0)
        return LIRA_EPARSE;
    const char *save = c->p;
    ows(c);
    if (!at(c, '=')) {
        c->p = save;
        return LIRA_OK;
    }
    c->p++;
    ows(c);
    if (at(c, '"'))
        return parse_quoted(c, out);
    out->value = c->p;
    while (c->p < c->end && !is_ws(*c->p) && !is_ctl(*c->p) && *c->p != ';' &&
           *c->p != ',' && *c->p != '"')
        c->p++;
    out->value_len = (size_t)(c->p - out->value);
    return out->value_len ? LIRA_OK : LIRA_EPARSE;
}

/* ";" and a parameter, if one follows: 1 parsed, 0 none, or LIRA_EPARSE. */
static int next_param(cur *c, lira_link_param *out)
{
    const char *save = c->p;
    ows(c);
    if (!at(c, ';')) {
        c->p = save;
        return 0;
    }
    c->p++;
    ows(c);
    int rc = parse_param(c, out);
    return rc == LIRA_OK ? 1 : rc;
}

/* One link-value, c->p on "<"; leaves c->p after it and its whitespace,
 * at "," or the end. */
static int parse_link(cur *c, lira_link *out)
{
    if (!at(c, '<'))
        return LIRA_EPARSE;
    const char *uri = ++c->p;
    while (c->p < c->end && *c->p != '>') {
        if (is_ctl(*c->p))
            return LIRA_EPARSE;
        c->p++;
    }
    if (c->p == c->end)
        return LIRA_EPARSE;
    out->uri = uri;
    out->uri_len = (size_t)(c->p - uri);
    c->p++;
    out->params = c->p;
    lira_link_param prm;
    int rc;
    while ((rc = next_param(c, &prm)) == 1)
        ;
    if (rc < 0)
        return rc;
    out->params_len = (size_t)(c->p - out->params);
    ows(c);
    return c->p == c->end || *c->p == ',' ? LIRA_OK : LIRA_EPARSE;
}

/* ---------------------------------------------------------------- API --- */

int lira_link_iter_init(lira_link_iter *it, const char *header, size_t len)
{
    if (!it || (!header && len > 0))
        return LIRA_EINVAL;
    it->p = header;
    it->end = header ? header + len : header;
    return LIRA_OK;
}

int lira_link_next(lira_link_iter *it, lira_link *out)
{
    if (!it || !out)
        return LIRA_EINVAL;
    cur c = {it->p, it->end};
    while (c.p < c.end && (is_ws(*c.p) || *c.p == ','))
        c.p++; /* empty list elements are allowed */
    if (c.p == c.end) {
        it->p = c.p;
        return LIRA_ENOTFOUND;
    }
    lira_link l;
    int rc = parse_link(&c, &l);
    if (rc != LIRA_OK) {
        it->p = it->end;
        return rc;
    }
    it->p = c.p;
    *out = l;
    return LIRA_OK;
}

int lira_link_param_next(const lira_link *link, size_t *pos, lira_link_param *out)
{
    if (!link || !pos || !out || (!link->params && link->params_len))
        return LIRA_EINVAL;
    if (*pos > link->params_len)
        return LIRA_EINVAL;
    cur c = {link->params + *pos, link->params + link->params_len};
    int rc = next_param(&c, out);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        ows(&c);
        return c.p == c.end ? LIRA_ENOTFOUND : LIRA_EPARSE;
    }
    *pos = (size_t)(c.p - link->params);
    return LIRA_OK;
}

int lira_link_rel_has(const lira_link_param *p, const char *rel)
{
    if (!p || !p->value || !rel || !*rel)
        return 0;
    size_t rlen = strlen(rel);
    const char *s = p->value, *e = p->value + p->value_len;
    while (s < e) {
        while (s < e && is_ws(*s))
            s++;
        size_t k = 0;
        int same = 1;
        while (s < e && !is_ws(*s)) {
            char ch = *s++;
            if (p->quoted && ch == '\\' && s < e)
                ch = *s++;
            if (k >= rlen || lower(ch) != lower(rel[k]))
                same = 0;
            k++;
        }
        if (same && k == rlen)
            return 1;
    }
    return 0;
}

static int name_is_rel(const lira_link_param *p)
{
    return p->name_len == 3 && lower(p->name[0]) == 'r' && lower(p->name[1]) == 'e' &&
           lower(p->name[2]) == 'l';
}

/* Only the first rel of a link counts (RFC 8288 §3.3). */
static int link_has_rel(const lira_link *l, const char *rel)
{
    size_t pos = 0;
    lira_link_param p;
    while (lira_link_param_next(l, &pos, &p) == LIRA_OK)
        if (name_is_rel(&p))
            return lira_link_rel_has(&p, rel);
    return 0;
}

int lira_link_find(const char *header, size_t len, const char *rel,
                   const char **uri, size_t *uri_len)
{
    if (!rel || !uri || !uri_len)
        return LIRA_EINVAL;
    lira_link_iter it;
    if (lira_link_iter_init(&it, header, len) != LIRA_OK)
        return LIRA_EINVAL;
    lira_link l, found = {0};
    int rc, have = 0;
    while ((rc = lira_link_next(&it, &l)) == LIRA_OK) {
        if (!have && link_has_rel(&l, rel)) {
            found = l;
            have = 1;
        }
    }
    if (rc != LIRA_ENOTFOUND)
        return rc;
    if (!have)
        return LIRA_ENOTFOUND;
    *uri = found.uri;
    *uri_len = found.uri_len;
    return LIRA_OK;
}
