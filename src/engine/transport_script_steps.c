/* transport_script_steps.c — the script of a scripted transport: the
 * routes, each a queue of steps that lira_script_push appends to and an
 * attempt takes from (the first non-empty queue of "METHOD /path", "/path"
 * and the default one; a repeat step is never consumed). What an attempt
 * does with its step is transport_script.c's. */
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "status.h"
#include "transport_script_impl.h"

/* ------------------------------------------------------------ routes */

/* The path of an absolute URL, without query or fragment: [*p, *p + *n). */
void lira__script_url_path(const char *url, const char **p, size_t *n)
{
    const char *s = strstr(url, "://");
    s = s ? s + 3 : url;
    s += strcspn(s, "/?#");
    if (*s != '/') {
        *p = "/";
        *n = 1;
        return;
    }
    *p = s;
    *n = strcspn(s, "?#");
}

static route *find_route(script_tp *tp, const char *key, size_t klen)
{
    for (size_t i = 0; i < tp->nroutes; i++)
        if (strlen(tp->routes[i].key) == klen && memcmp(tp->routes[i].key, key, klen) == 0)
            return &tp->routes[i];
    return NULL;
}

static int check_step(const lira_script_step *s)
{
    if (s->failure < LIRA_FAIL_NONE || s->failure >= LIRA_FAIL_COUNT_ ||
        s->failure == LIRA_FAIL_CANCELLED || s->failure == LIRA_FAIL_DEADLINE)
        return LIRA_EINVAL;
    if (s->failure == LIRA_FAIL_NONE && (s->status < 100 || s->status > 999))
        return LIRA_EINVAL;
    if (s->delay_ns < 0 && s->delay_ns != LIRA_SCRIPT_HANG)
        return LIRA_EINVAL;
    for (size_t i = 0; s->headers && s->headers[i]; i++)
        if (!strchr(s->headers[i], ':'))
            return LIRA_EINVAL;
    return LIRA_OK;
}

void lira__script_free_step(step_node *s)
{
    if (!s)
        return;
    lira_lines_free(s->headers, s->nheaders);
    free(s->body);
    free(s->error);
    free(s);
}

static int make_step(const lira_script_step *s, step_node **out)
{
    step_node *n = calloc(1, sizeof *n);
    if (!n)
        return LIRA_ENOMEM;
    n->status = s->status;
    n->failure = s->failure;
    n->delay_ns = s->delay_ns;
    n->repeat = s->repeat != 0;
    int rc = lira__script_copy_lines(s->headers, LIRA_SCRIPT_MAX_HEADERS, &n->headers,
                                     &n->nheaders);
    if (rc == LIRA_OK && s->body) {
        n->body_len = s->body_len ? s->body_len : strlen(s->body);
        if (!(n->body = lira_strndup(s->body, n->body_len)))
            rc = LIRA_ENOMEM;
    }
    if (rc == LIRA_OK && s->error && !(n->error = lira__script_dup(s->error)))
        rc = LIRA_ENOMEM;
    if (rc != LIRA_OK) {
        lira__script_free_step(n);
        return rc;
    }
    *out = n;
    return LIRA_OK;
}

int lira_script_push(lira_transport *t, const char *rkey, const lira_script_step *step)
{
    script_tp *tp = lira__script_of(t);
    if (!tp || !step)
        return LIRA_EINVAL;
    if (!rkey)
        rkey = "";
    if (*rkey && !strchr(rkey, '/'))
        return LIRA_EINVAL;
    int rc = check_step(step);
    step_node *n = NULL;
    if (rc != LIRA_OK || (rc = make_step(step, &n)) != LIRA_OK)
        return rc;
    route *r = find_route(tp, rkey, strlen(rkey));
    if (!r) {
        route *grown = realloc(tp->routes, (tp->nroutes + 1) * sizeof *grown);
        if (!grown) {
            lira__script_free_step(n);
            return LIRA_ENOMEM;
        }
        tp->routes = grown;
        r = &tp->routes[tp->nroutes];
        *r = (route){.key = lira__script_dup(rkey)};
        if (!r->key) {
            lira__script_free_step(n);
            return LIRA_ENOMEM;
        }
        tp->nroutes++;
    }
    if (r->tail)
        r->tail->next = n;
    else
        r->head = n;
    r->tail = n;
    return LIRA_OK;
}

/* The step that serves `req`, or NULL. *consumed tells whether the caller
 * now owns it (it was taken off its queue). */
step_node *lira__script_take_step(script_tp *tp, const lira_http_request *req, int *consumed)
{
    const char *path;
    size_t plen;
    lira__script_url_path(req->url, &path, &plen);
    char key[1024];
    size_t mlen = strlen(req->method);
    route *cand[3] = {NULL, NULL, find_route(tp, "", 0)};
    if (mlen + 1 + plen < sizeof key) {
        memcpy(key, req->method, mlen);
        key[mlen] = ' ';
        memcpy(key + mlen + 1, path, plen);
        cand[0] = find_route(tp, key, mlen + 1 + plen);
        cand[1] = find_route(tp, path, plen);
    }
    for (int i = 0; i < 3; i++) {
        route *r = cand[i];
        if (!r || !r->head)
            continue;
        step_node *s = r->head;
        *consumed = !s->repeat;
        if (*consumed) {
            r->head = s->next;
            if (!r->head)
                r->tail = NULL;
            s->next = NULL;
        }
        return s;
    }
    return NULL;
}

/* ------------------------------------------------------------ clearing */

void lira__script_drop_steps(script_tp *tp)
{
    for (size_t i = 0; i < tp->nroutes; i++) {
        step_node *s = tp->routes[i].head;
        while (s) {
            step_node *n = s->next;
            lira__script_free_step(s);
            s = n;
        }
        free(tp->routes[i].key);
    }
    free(tp->routes);
    tp->routes = NULL;
    tp->nroutes = 0;
}

size_t lira_script_steps_left(const lira_transport *t)
{
    script_tp *tp = lira__script_of(t);
    size_t n = 0;
    for (size_t i = 0; tp && i < tp->nroutes; i++)
        for (const step_node *s = tp->routes[i].head; s; s = s->next)
            n++;
    return n;
}
