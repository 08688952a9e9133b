/* lua_testing_url.c — URL parts, scopes and path templates for the
 * lira.testing transport (lua_testing.h). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mem.h"
#include "lua_testing.h"
#include "status.h"




/* Split an absolute http(s) URL; LIRA_EINVAL for anything else. */
int lira__ttp_parse_url(const char *url, lira__ttp_url *u)
{
    memset(u, 0, sizeof *u);
    const char *s = url ? strstr(url, "://") : NULL;
    if (!s)
        return LIRA_EINVAL;
    u->scheme = url;
    u->scheme_len = (size_t)(s - url);
    int https = u->scheme_len == 5 && strncasecmp(url, "https", 5) == 0;
    if (!https && !(u->scheme_len == 4 && strncasecmp(url, "http", 4) == 0))
        return LIRA_EINVAL;
    const char *a = s + 3;
    size_t alen = strcspn(a, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < alen; i++)
        if (a[i] == '@')
            at = a + i;
    if (at) {
        alen -= (size_t)(at + 1 - a);
        a = at + 1;
    }
    const char *end = a + alen, *colon = NULL;
    const char *hend = a[0] == '[' ? memchr(a, ']', alen) : NULL;
    for (const char *p = hend ? hend : a; p < end; p++)
        if (*p == ':')
            colon = p;
    u->host = a;
    u->host_len = (size_t)((colon ? colon : end) - a);
    u->port = https ? 443 : 80;
    if (colon) {
        long port = 0;
        for (const char *p = colon + 1; p < end; p++) {
            if (*p < '0' || *p > '9' || port > 65535)
                return LIRA_EINVAL;
            port = port * 10 + (*p - '0');
        }
        if (colon + 1 < end)
            u->port = port;
    }
    if (u->host_len == 0)
        return LIRA_EINVAL;
    u->path = end;
    u->path_len = strcspn(end, "?#");
    if (end[u->path_len] == '?') {
        u->has_query = 1;
        u->query = end + u->path_len + 1;
        u->query_len = strcspn(u->query, "#");
    }
    if (u->path_len == 0)
        u->path = "/";
    u->path_len = u->path_len ? u->path_len : 1;
    return LIRA_OK;
}



void lira__ttp_scope_free(lira__ttp_scope *s)
{
    if (!s)
        return;
    free(s->scheme);
    free(s->host);
    free(s->prefix);
    free(s);
}

int lira__ttp_scope_new(const char *url, lira__ttp_scope **out)
{
    *out = NULL;
    if (!url)
        return LIRA_OK;
    lira__ttp_url u;
    if (lira__ttp_parse_url(url, &u) != LIRA_OK || u.has_query)
        return LIRA_EINVAL;
    lira__ttp_scope *s = calloc(1, sizeof *s);
    if (!s)
        return LIRA_ENOMEM;
    size_t plen = u.path_len;
    while (plen > 0 && u.path[plen - 1] == '/')
        plen--;
    s->scheme = lira_strndup(u.scheme, u.scheme_len);
    s->host = lira_strndup(u.host, u.host_len);
    s->prefix = lira_strndup(u.path, plen);
    s->port = u.port;
    if (!s->scheme || !s->host || !s->prefix) {
        lira__ttp_scope_free(s);
        return LIRA_ENOMEM;
    }
    *out = s;
    return LIRA_OK;
}

/* Whether `s` covers u; *rel (len *rlen) is the path below its prefix. */
int lira__ttp_scope_covers(const lira__ttp_scope *s, const lira__ttp_url *u, const char **rel, size_t *rlen)
{
    *rel = u->path;
    *rlen = u->path_len;
    if (!s)
        return 1;
    size_t pl = strlen(s->prefix);
    if (strlen(s->scheme) != u->scheme_len || strncasecmp(s->scheme, u->scheme, u->scheme_len) ||
        strlen(s->host) != u->host_len || strncasecmp(s->host, u->host, u->host_len) ||
        s->port != u->port || u->path_len < pl || memcmp(u->path, s->prefix, pl) != 0)
        return 0;
    if (u->path_len > pl && u->path[pl] != '/')
        return 0;   /* "/v2" covers "/v2/x", not "/v20" */
    *rel = u->path_len > pl ? u->path + pl : "/";
    *rlen = u->path_len > pl ? u->path_len - pl : 1;
    return 1;
}

/* Template "/a/{id}/b" against path p: "{...}" takes one non-empty segment,
 * a last segment "*" takes the rest. */
int lira__ttp_tmpl_match(const char *t, size_t tlen, const char *p, size_t plen)
{
    size_t i = 1, j = 1;   /* both start with '/' */
    if (plen == 0 || p[0] != '/' || tlen == 0)
        return 0;
    for (;;) {
        size_t tl = 0, pl = 0;
        while (j + tl < tlen && t[j + tl] != '/')
            tl++;
        while (i + pl < plen && p[i + pl] != '/')
            pl++;
        if (tl == 1 && t[j] == '*' && j + 1 == tlen)
            return 1;
        if (tl >= 2 && t[j] == '{' && t[j + tl - 1] == '}') {
            if (pl == 0)
                return 0;
        } else if (tl != pl || memcmp(t + j, p + i, tl) != 0) {
            return 0;
        }
        j += tl;
        i += pl;
        if (j == tlen)
            return i == plen;
        if (i == plen)
            return 0;
        j++, i++;   /* both at a '/' */
    }
}

