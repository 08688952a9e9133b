/* transport_script.h — a transport whose answers are scripted: the call
 * pipeline (call.h) runs for real on top of it — retries, breakers,
 * limiters, budgets — while no byte leaves the process. For the C tests and
 * for lira.testing's t.mock.
 *
 *   lira_transport *t;
 *   lira_script_install(e, &t);                   // the engine owns t now
 *   lira_script_step s503 = { .status = 503 };
 *   lira_script_push(t, "GET /orders/42", &s503); // twice 503 ...
 *   lira_script_push(t, "GET /orders/42", &s503);
 *   lira_script_step ok = { .status = 200, .body = "{}", .repeat = 1 };
 *   lira_script_push(t, "GET /orders/42", &ok);   // ... then 200 for ever
 *   ... run calls ...
 *   lira_script_count(t), lira_script_request_at(t, i)->at_ns, ...
 *
 * Routes. A request is served by the first non-empty step queue among:
 * "METHOD /path" (exact method and path), "/path" (any method), and the
 * default queue (route NULL or ""). The path is the URL's path without its
 * query or fragment. Steps of a queue are served in the order pushed; each
 * is consumed, except a step with `repeat` set, which serves every later
 * request of its queue (steps pushed after it are never reached). A request
 * that no queue serves completes with failure TRANSPORT and an error that
 * names it ("no scripted step for GET /x"), and counts as unmatched.
 *
 * Time. A step completes `delay_ns` of engine time after the attempt
 * started, through a lira_timer, so on a virtual clock every delay is
 * instant in real time. A request's timeout_ns (> 0) cuts a longer delay:
 * the attempt then completes at the timeout with failure TIMEOUT, the way a
 * real transport would. LIRA_SCRIPT_HANG never completes on its own (only
 * by timeout or cancel); while such an attempt with no timeout is in
 * flight, the engine is held (it stands for real I/O in flight), so
 * lira_engine_busy() stays true. Completion never happens inside start.
 *
 * A response body longer than the request's max_body (0 = 10 MiB) completes
 * with failure TOO_LARGE, keeping the step's status.
 *
 * The record. Every request that reached start is recorded, in order, with
 * deep copies of method, URL, headers and body, the engine time it started
 * at, the options it carried and (once it completed) its outcome, up to
 * `max_records` (further requests are served but only counted).
 *
 * Threading: the engine's loop thread only, like every transport. */
#ifndef LIRA_TRANSPORT_SCRIPT_H
#define LIRA_TRANSPORT_SCRIPT_H

#include <stddef.h>
#include <stdint.h>

#include "transport.h"

#define LIRA_SCRIPT_HANG INT64_C(-1)     /* delay_ns: never completes by itself */
#define LIRA_SCRIPT_DEFAULT_MAX_RECORDS 100000
#define LIRA_SCRIPT_MAX_HEADERS 256      /* header lines per step */

typedef struct lira_script_step {
    int status;                   /* 100..999 when failure == NONE */
    lira_failure failure;         /* NONE: a final response; else this failure
                                     (DNS, CONNECT, TLS, TIMEOUT, TRANSPORT, TOO_LARGE) */
    const char *const *headers;   /* "Name: value" lines, NULL-terminated; or NULL */
    const char *body;             /* NULL = empty */
    size_t body_len;              /* 0 with a body = strlen(body) */
    const char *error;            /* message for a failure; NULL = a default one */
    int64_t delay_ns;             /* engine time until completion (>= 0), or LIRA_SCRIPT_HANG */
    int repeat;                   /* 1 = never consumed: serves every later request */
} lira_script_step;

/* One recorded request. Strings are NUL-terminated copies owned by the
 * transport; valid until lira_script_reset() or the transport is destroyed. */
typedef struct lira_script_request {
    char *method;
    char *url;
    char **headers;               /* "Name: value" lines as sent */
    size_t nheaders;
    char *body;                   /* NULL when the request had none */
    size_t body_len;
    int64_t at_ns;                /* engine time at start */
    int64_t timeout_ns, connect_timeout_ns;
    int max_redirects;
    size_t max_body;
    /* the outcome, filled when the attempt completed */
    int done;                     /* 0 while in flight */
    int64_t done_ns;
    int status;
    lira_failure failure;
    int unmatched;                /* 1: no step served it */
} lira_script_request;

typedef struct lira_script_options {
    size_t max_records;           /* 0 = LIRA_SCRIPT_DEFAULT_MAX_RECORDS */
} lira_script_options;

/* Create a scripted transport for `e` (`opt` may be NULL). The caller owns
 * it until it gives it to lira_engine_set_transport(), which destroys it
 * with the engine. LIRA_EINVAL (NULL e/out), LIRA_ENOMEM. */
int lira_script_new(lira_engine *e, const lira_script_options *opt, lira_transport **out);

/* lira_script_new + lira_engine_set_transport: `*out` stays usable for
 * pushes and assertions until the engine is freed (or replaces it). */
int lira_script_install(lira_engine *e, const lira_script_options *opt, lira_transport **out);

/* Append a copy of `step` to the queue of `route` (see Routes; NULL or ""
 * = the default queue). LIRA_EINVAL for NULL t/step, t not a scripted
 * transport, a status outside 100..999 with no failure, failure CANCELLED,
 * DEADLINE or unknown, a negative delay other than LIRA_SCRIPT_HANG, a header
 * line without ':', or a non-empty route without a '/' ("GET" alone);
 * LIRA_ETOOBIG for more than LIRA_SCRIPT_MAX_HEADERS header lines;
 * LIRA_ENOMEM. Nothing is queued on error. */
int lira_script_push(lira_transport *t, const char *route, const lira_script_step *step);

/* Requests recorded so far (at most max_records), and one of them (NULL
 * when i is out of range or t is not a scripted transport). */
size_t lira_script_count(const lira_transport *t);
const lira_script_request *lira_script_request_at(const lira_transport *t, size_t i);

/* The value of the last header `name` (case-insensitive) that request `r`
 * carried, or NULL. The returned pointer points into r's line. */
const char *lira_script_request_header(const lira_script_request *r, const char *name);

/* Counters: every request started (recorded or not), requests no step
 * served, attempts in flight now, and steps still queued (repeat steps
 * count as one each). */
size_t lira_script_started(const lira_transport *t);
size_t lira_script_unmatched(const lira_transport *t);
size_t lira_script_in_flight(const lira_transport *t);
size_t lira_script_steps_left(const lira_transport *t);

/* Forget the record and every queued step (attempts in flight keep the step
 * they were given). */
void lira_script_reset(lira_transport *t);

#endif
