/* transport_script_impl.h — what transport_script.c (the transport: its
 * attempts and the record) and transport_script_steps.c (the routes and
 * their step queues) share. Internal to src/engine: other layers use
 * transport_script.h. */
#ifndef LIRA_TRANSPORT_SCRIPT_IMPL_H
#define LIRA_TRANSPORT_SCRIPT_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "transport_script.h"

typedef struct step_node {
    struct step_node *next;
    int status;
    lira_failure failure;
    char **headers;
    size_t nheaders;
    char *body;
    size_t body_len;
    char *error;
    int64_t delay_ns;
    int repeat;
} step_node;

typedef struct route {
    char *key;               /* "GET /x", "/x", or "" for the default queue */
    step_node *head, *tail;
} route;

typedef struct script_tp script_tp;
typedef struct sxfer sxfer;   /* one attempt in flight (transport_script.c) */

struct script_tp {
    lira_transport base;      /* first: a lira_transport * is a script_tp * */
    route *routes;
    size_t nroutes;
    lira_script_request **recs;
    size_t nrecs, caprecs, max_records;
    uint64_t rec_gen;         /* bumped by reset, so late completions skip old records */
    size_t started, unmatched, in_flight;
    sxfer *flying;
};

/* ------------------------------------------------- transport_script.c */

/* t as a scripted transport, or NULL when it is not one. */
script_tp *lira__script_of(const lira_transport *t);

/* A copy of s (NULL for NULL or no memory). */
char *lira__script_dup(const char *s);

/* Copy a NULL-terminated list of lines into *out (NULL when empty), *n of
 * them; LIRA_ETOOBIG past `cap` lines, LIRA_ENOMEM. */
int lira__script_copy_lines(const char *const *in, size_t cap, char ***out, size_t *n);

/* ------------------------------------------- transport_script_steps.c */

/* The path of an absolute URL, without query or fragment: [*p, *p + *n). */
void lira__script_url_path(const char *url, const char **p, size_t *n);

/* The step that serves `req`, or NULL. *consumed tells whether the caller
 * now owns it (it was taken off its queue; free it with
 * lira__script_free_step). */
step_node *lira__script_take_step(script_tp *tp, const lira_http_request *req, int *consumed);

void lira__script_free_step(step_node *s);

/* Free every route and queued step (attempts in flight own theirs). */
void lira__script_drop_steps(script_tp *tp);

#endif
