/* lua_testing_tp_mocks.c — the mocks and recorders a lira.testing
 * transport dispatches to (lua_testing_tp.c): creating them, a mock's routes
 * and scripted steps, stopping them, and reading back what they served or
 * captured (lua_testing.h). */
#include "lua_testing_tp_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "status.h"

/* ------------------------------------------------------------ lookup */

static mock *find_mock(const lira_ttp *tp, int id)
{
    for (size_t i = 0; tp && i < tp->nmocks; i++)
        if (tp->mocks[i]->id == id)
            return tp->mocks[i];
    return NULL;
}

static recorder *find_rec(const lira_ttp *tp, int id)
{
    for (size_t i = 0; tp && i < tp->nrecs; i++)
        if (tp->recs[i]->id == id)
            return tp->recs[i];
    return NULL;
}

/* ------------------------------------------------------------ mocks */

void lira__ttp_mock_free(mock *m)
{
    if (m->script)
        m->script->ops->destroy(m->script);
    for (size_t i = 0; i < m->nroutes; i++) {
        free(m->routes[i].method);
        free(m->routes[i].path);
        free(m->routes[i].query);
        free(m->routes[i].label);
    }
    for (size_t i = 0; i < m->nsides; i++) {
        free(m->sides[i].url);
        free(m->sides[i].message);
    }
    free(m->routes);
    free(m->sides);
    free(m->label);
    lira__ttp_scope_free(m->scope);
    free(m);
}

int lira_ttp_mock_new(lira_ttp *tp, int id, const char *label, const char *scope_url, int redact)
{
    if (!tp || !label || find_mock(tp, id))
        return LIRA_EINVAL;
    mock *m = calloc(1, sizeof *m);
    if (!m)
        return LIRA_ENOMEM;
    m->id = id;
    m->active = 1;
    m->redact = redact != 0;
    int rc = lira__ttp_scope_new(scope_url, &m->scope);
    if (rc == LIRA_OK && !(m->label = lira_strndup(label, strlen(label))))
        rc = LIRA_ENOMEM;
    if (rc == LIRA_OK)
        rc = lira_script_new(tp->base.engine, NULL, &m->script);
    mock **g = rc == LIRA_OK ? realloc(tp->mocks, (tp->nmocks + 1) * sizeof *g) : NULL;
    if (rc == LIRA_OK && !g)
        rc = LIRA_ENOMEM;
    if (rc != LIRA_OK) {
        lira__ttp_mock_free(m);
        return rc;
    }
    tp->mocks = g;
    tp->mocks[tp->nmocks++] = m;
    return LIRA_OK;
}

int lira_ttp_mock_route(lira_ttp *tp, int id, const char *method, const char *path,
                        size_t *index)
{
    mock *m = find_mock(tp, id);
    if (!m || !path || path[0] != '/' || !index)
        return LIRA_EINVAL;
    mroute *g = realloc(m->routes, (m->nroutes + 1) * sizeof *g);
    if (!g)
        return LIRA_ENOMEM;
    m->routes = g;
    mroute *r = &g[m->nroutes];
    memset(r, 0, sizeof *r);
    size_t plen = strcspn(path, "?");
    size_t llen = (method ? strlen(method) + 1 : 0) + strlen(path) + 1;
    r->method = method ? lira_strndup(method, strlen(method)) : NULL;
    r->path = lira_strndup(path, plen);
    r->query = path[plen] == '?' ? lira_strndup(path + plen + 1, strlen(path + plen + 1)) : NULL;
    r->label = malloc(llen);
    if ((method && !r->method) || !r->path || (path[plen] == '?' && !r->query) || !r->label) {
        free(r->method);
        free(r->path);
        free(r->query);
        free(r->label);
        return LIRA_ENOMEM;
    }
    snprintf(r->label, llen, "%s%s%s", method ? method : "", method ? " " : "", path);
    *index = m->nroutes++;
    return LIRA_OK;
}

int lira_ttp_mock_push(lira_ttp *tp, int id, size_t route, const lira_script_step *step)
{
    mock *m = find_mock(tp, id);
    if (!m || route >= m->nroutes || !step)
        return LIRA_EINVAL;
    mroute *r = &m->routes[route];
    if (r->forever)
        return LIRA_ESTATE;   /* nothing after a step that repeats for ever is reached */
    char key[64];
    snprintf(key, sizeof key, "/~r%zu", route);
    int rc = lira_script_push(m->script, key, step);
    if (rc != LIRA_OK)
        return rc;
    if (step->repeat)
        r->forever = 1;
    else
        r->finite_left++;
    return LIRA_OK;
}

int lira_ttp_mock_stop(lira_ttp *tp, int id)
{
    mock *m = find_mock(tp, id);
    if (!m)
        return LIRA_EINVAL;
    m->active = 0;
    return LIRA_OK;
}

const lira_transport *lira_ttp_mock_script(const lira_ttp *tp, int id)
{
    mock *m = find_mock(tp, id);
    return m ? m->script : NULL;
}

const lira_ttp_side *lira_ttp_mock_side(const lira_ttp *tp, int id, size_t i)
{
    mock *m = find_mock(tp, id);
    return m && i < m->nsides ? &m->sides[i] : NULL;
}

size_t lira_ttp_mock_nroutes(const lira_ttp *tp, int id)
{
    mock *m = find_mock(tp, id);
    return m ? m->nroutes : 0;
}

int lira_ttp_mock_route_info(const lira_ttp *tp, int id, size_t route, lira_ttp_route_info *out)
{
    mock *m = find_mock(tp, id);
    if (!m || route >= m->nroutes || !out)
        return LIRA_EINVAL;
    const mroute *r = &m->routes[route];
    *out = (lira_ttp_route_info){r->label, r->served, r->finite_left, r->forever,
                                 r->forever_served};
    return LIRA_OK;
}

/* ------------------------------------------------------------ recorders */

int lira_ttp_rec_new(lira_ttp *tp, int id, const char *scope_url)
{
    if (!tp || find_rec(tp, id))
        return LIRA_EINVAL;
    recorder *r = calloc(1, sizeof *r);
    if (!r)
        return LIRA_ENOMEM;
    int rc = lira__ttp_scope_new(scope_url, &r->scope);
    recorder **g = rc == LIRA_OK ? realloc(tp->recs, (tp->nrecs + 1) * sizeof *g) : NULL;
    if (!g) {
        lira__ttp_scope_free(r->scope);
        free(r);
        return rc == LIRA_OK ? LIRA_ENOMEM : rc;
    }
    r->id = id;
    r->active = 1;
    tp->recs = g;
    tp->recs[tp->nrecs++] = r;
    return LIRA_OK;
}

int lira_ttp_rec_stop(lira_ttp *tp, int id)
{
    recorder *r = find_rec(tp, id);
    if (!r)
        return LIRA_EINVAL;
    r->active = 0;
    return LIRA_OK;
}

size_t lira_ttp_rec_count(const lira_ttp *tp, int id)
{
    recorder *r = find_rec(tp, id);
    return r ? r->n : 0;
}

const lira_ttp_capture *lira_ttp_rec_at(const lira_ttp *tp, int id, size_t i)
{
    recorder *r = find_rec(tp, id);
    return r && i < r->n ? r->caps[i] : NULL;
}
