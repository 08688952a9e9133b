/* rt_admin.c — the listener of `lira run --listen`: /metrics, /healthz,
 * /readyz, /admin/integrations, /admin/webhooks (docs/runtime.md), and the
 * integrations' webhook routes, handed to rt_webhook_http.c.
 *
 * libmicrohttpd runs a small pool of polling threads (epoll where there is
 * one) that serve every connection, so none of them may sleep: a handler
 * never touches the runtime and never waits. An admin request posts a job
 * to the loop thread (lira_engine_post) and suspends its connection; the
 * loop builds the answer there and resumes it, and MHD calls the handler
 * again to send it. A job the loop does not answer within a few seconds is
 * answered 503 by the reaper thread. The job is shared by the threads and
 * freed by whichever lets go last, so an answer that comes too late is
 * simply dropped. Webhook requests suspend the same way while their event
 * is committed (rt_wh_commit.c). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/status.h"
#include "engine/telemetry.h"
#include "runtime/rt_webhook.h"
#include "runtime/runtime.h"

#define ANSWER_TIMEOUT_NS (5 * 1000000000LL)
#define CONNECTION_LIMIT 512      /* concurrent connections (then refused) */
#define CONNECTION_TIMEOUT_S 10   /* idle or slow-sending connections are closed */
#define POOL_THREADS 2            /* polling threads; handlers never block them */
#define DRAIN_WAIT_MS 2000        /* at stop: for parked requests' answers to go out */

enum { J_METRICS, J_HEALTH, J_READY, J_INTEGS, J_WEBHOOKS, J_NOTFOUND };
enum { JOB_PENDING, JOB_DONE, JOB_CANCELLED };

/* An admin request's answer, built on the loop thread. state, conn and
 * the answer fields are under mu; prev/next/linked under the admin's mu
 * (lock order: admin, then job). */
typedef struct job {
    pthread_mutex_t mu;
    int refs, state, kind, status;
    char *body;
    size_t len;
    const char *ctype;
    const char *refusal;          /* JOB_CANCELLED: the 503 text */
    rt *r;
    struct MHD_Connection *conn;
    int64_t deadline_ns;          /* CLOCK_MONOTONIC */
    int linked;
    struct job *prev, *next;
} job;

/* con_cls of every request: a webhook request, or an admin job once
 * posted. parked: the connection was suspended at least once and the
 * request is not over yet (what shutdown waits for). */
typedef struct areq {
    void *wh;
    job *j;
    int parked;
} areq;

typedef struct admin {
    struct MHD_Daemon *d;
    rt *r;
    int closing;                  /* atomic; set under mu */
    int parked;                   /* atomic: areq.parked count */
    pthread_mutex_t mu;
    pthread_cond_t cv;            /* the reaper's */
    job *head, *tail;             /* pending jobs, oldest first (deadline order) */
    int stop;
    pthread_t reaper;
} admin;

static void job_release(job *j)
{
    pthread_mutex_lock(&j->mu);
    int left = --j->refs;
    pthread_mutex_unlock(&j->mu);
    if (left > 0)
        return;
    pthread_mutex_destroy(&j->mu);
    free(j->body);
    free(j);
}

/* ------------------------------------------------------------ answers (loop thread) */

static void add_time(cJSON *o, const char *k, int64_t wall_ns)
{
    cJSON_AddItemToObject(o, k, wall_ns ? cJSON_CreateNumber((double)wall_ns / 1e9)
                                        : cJSON_CreateNull());
}

static void add_str(cJSON *o, const char *k, const char *v)
{
    cJSON_AddItemToObject(o, k, v ? cJSON_CreateString(v) : cJSON_CreateNull());
}

static cJSON *integ_json(rt *r, rt_integ *in)
{
    cJSON *o = cJSON_CreateObject();
    rt_version *v = in->cur;
    cJSON_AddStringToObject(o, "name", in->name);
    cJSON_AddStringToObject(o, "file", in->file);
    add_str(o, "version", v ? v->hash : NULL);
    cJSON_AddStringToObject(o, "status", rt_status_name(in->status));
    cJSON_AddNumberToObject(o, "generation", (double)in->generation);
    cJSON *rl = cJSON_AddObjectToObject(o, "last_reload");
    add_time(rl, "at", in->last_reload_wall);
    cJSON_AddStringToObject(rl, "result", in->last_reload_error ? "error" : "ok");
    add_str(rl, "error", in->last_reload_error);
    if (in->every > 0)
        cJSON_AddNumberToObject(o, "every", in->every);
    cJSON *lr = cJSON_AddObjectToObject(o, "last_run");
    add_time(lr, "start", in->last_start_wall);
    if (in->last_result[0] && strcmp(in->last_result, "running") != 0)
        cJSON_AddNumberToObject(lr, "duration", (double)in->last_dur_ns / 1e9);
    else
        cJSON_AddNullToObject(lr, "duration");
    add_str(lr, "result", in->last_result[0] ? in->last_result : NULL);
    add_time(o, "next_run", in->every > 0 ? in->next_wall : 0);
    add_time(o, "restart_at", in->restart_at_wall);
    cJSON_AddNumberToObject(o, "runs", (double)in->runs);
    cJSON_AddNumberToObject(o, "run_errors", (double)in->run_errors);
    cJSON_AddNumberToObject(o, "skipped", (double)in->skipped);
    cJSON_AddNumberToObject(o, "restarts", (double)in->restarts);
    cJSON_AddNumberToObject(o, "crashes", (double)in->crashes);
    cJSON_AddBoolToObject(o, "start_running", v && v->active[RT_START]);
    cJSON_AddBoolToObject(o, "run_in_progress", v && v->active[RT_RUN]);
    if (in->last_error) {
        cJSON *e = cJSON_AddObjectToObject(o, "last_error");
        cJSON_AddStringToObject(e, "message", in->last_error);
        add_str(e, "traceback", in->last_traceback);
        add_time(e, "at", in->last_error_wall);
    } else {
        cJSON_AddNullToObject(o, "last_error");
    }
    cJSON_AddNumberToObject(o, "memory_bytes", v ? (double)v->mem_used : 0);
    int draining = 0;
    for (rt_version *d = r->draining; d; d = d->next)
        draining += v && d->name && strcmp(d->name, in->name) == 0;
    cJSON_AddNumberToObject(o, "draining_versions", draining);
    char *cl = v ? rt_version_clients_json(v) : NULL;
    cJSON *clients = cl ? cJSON_Parse(cl) : NULL;
    free(cl);
    cJSON_AddItemToObject(o, "clients", clients ? clients : cJSON_CreateArray());
    return o;
}

static char *integrations_json(rt *r)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddBoolToObject(root, "ready", r->ready && !r->broken);
    cJSON *arr = cJSON_AddArrayToObject(root, "integrations");
    for (rt_integ *in = r->integs; in; in = in->next)
        cJSON_AddItemToArray(arr, integ_json(r, in));
    cJSON *bad = cJSON_AddArrayToObject(root, "errors");
    for (rt_broken *b = r->broken; b; b = b->next) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "file", b->file);
        cJSON_AddStringToObject(o, "status", "failed");
        cJSON_AddStringToObject(o, "error", b->error);
        cJSON_AddItemToArray(bad, o);
    }
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

/* The answer to `kind` (malloc'd text, NULL when out of memory). */
static char *make_answer(rt *r, int kind, int *status, const char **ctype)
{
    lira_telemetry *t = NULL;
    char *text = NULL;
    size_t len = 0;
    *status = 200;
    *ctype = "text/plain";
    switch (kind) {
    case J_METRICS:
        if (lira_telemetry_get(r->e, &t) == LIRA_OK) {
            lira_telemetry_collect(t);
            lira_metrics_text(lira_telemetry_metrics(t), &text, &len);
        }
        *status = text ? 200 : 500;
        *ctype = "text/plain; version=0.0.4; charset=utf-8";
        return text ? text : strdup("metrics unavailable\n");
    case J_HEALTH:
        return strdup(r->phase == 0 ? "ok\n" : "stopping\n");
    case J_READY: {
        int ok = r->ready && !r->broken && r->phase == 0;
        *status = ok ? 200 : 503;
        return strdup(ok ? "ready\n" : "not ready\n");
    }
    case J_INTEGS:
        *ctype = "application/json";
        return integrations_json(r);
    case J_WEBHOOKS:
        *ctype = "application/json";
        return rt_wh_admin_json(r);
    default:
        *status = 404;
        return strdup("not found: try /metrics /healthz /readyz "
                      "/admin/integrations /admin/webhooks\n");
    }
}

static void build(void *ud)
{
    job *j = ud;
    int status;
    const char *ctype;
    char *text = make_answer(j->r, j->kind, &status, &ctype);
    /* A job refused meanwhile (timeout, shutdown) was resumed already and
     * may be answered: its connection is not ours to touch any more. */
    pthread_mutex_lock(&j->mu);
    if (j->state == JOB_PENDING) {
        j->status = status;
        j->ctype = ctype;
        j->body = text;
        j->len = text ? strlen(text) : 0;
        j->state = JOB_DONE;
        MHD_resume_connection(j->conn);
    } else {
        free(text);
    }
    pthread_mutex_unlock(&j->mu);
    job_release(j);
}

/* ------------------------------------------------------------ MHD thread */

/* J_* of the path (in enum order), -1 for a wrong method on one. */
static int route(const char *method, const char *url)
{
    static const struct { const char *path; int slash; } paths[] = {
        {"/metrics", 0}, {"/healthz", 0}, {"/readyz", 0},
        {"/admin/integrations", 1}, {"/admin/webhooks", 1}};
    for (int k = 0; k < (int)(sizeof paths / sizeof paths[0]); k++) {
        size_t n = strlen(paths[k].path);
        if (strncmp(url, paths[k].path, n) == 0 &&
            (url[n] == '\0' || (paths[k].slash && strcmp(url + n, "/") == 0)))
            return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ? k : -1;
    }
    return J_NOTFOUND;
}

static enum MHD_Result reply(struct MHD_Connection *c, int status, const char *ctype,
                             const char *body, size_t len)
{
    struct MHD_Response *res =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    if (!res)
        return MHD_NO;
    MHD_add_response_header(res, "Content-Type", ctype);
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)status, res);
    MHD_destroy_response(res);
    return rc;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int is_closing(admin *a) { return __atomic_load_n(&a->closing, __ATOMIC_ACQUIRE); }

/* Under a->mu. */
static void unlink_job(admin *a, job *j)
{
    if (!j->linked)
        return;
    *(j->prev ? &j->prev->next : &a->head) = j->next;
    *(j->next ? &j->next->prev : &a->tail) = j->prev;
    j->prev = j->next = NULL;
    j->linked = 0;
}

/* Under a->mu: answer a job that is still pending with 503 `text` now
 * (the loop's answer, if it comes, is dropped). */
static void refuse_job(admin *a, job *j, const char *text)
{
    unlink_job(a, j);
    pthread_mutex_lock(&j->mu);
    if (j->state == JOB_PENDING) {
        j->state = JOB_CANCELLED;
        j->refusal = text;
        MHD_resume_connection(j->conn);
    }
    pthread_mutex_unlock(&j->mu);
}

/* Jobs are queued in deadline order, so the reaper only looks at the
 * oldest one. */
static void *reaper(void *ud)
{
    admin *a = ud;
    pthread_mutex_lock(&a->mu);
    while (!a->stop) {
        job *j = a->head;
        if (!j) {
            pthread_cond_wait(&a->cv, &a->mu);
            continue;
        }
        int64_t now = mono_ns();
        if (j->deadline_ns <= now) {
            refuse_job(a, j, "the loop did not answer in time\n");
            continue;
        }
        struct timespec ts = {(time_t)(j->deadline_ns / 1000000000LL),
                              (long)(j->deadline_ns % 1000000000LL)};
        pthread_cond_timedwait(&a->cv, &a->mu, &ts);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

/* Post the job to the loop and park the connection until it answers. */
static enum MHD_Result start_job(admin *a, areq *q, struct MHD_Connection *c, int kind)
{
    job *j = calloc(1, sizeof *j);
    if (!j)
        return MHD_NO;
    pthread_mutex_init(&j->mu, NULL);
    j->refs = 2;
    j->kind = kind;
    j->r = a->r;
    j->conn = c;
    j->deadline_ns = mono_ns() + ANSWER_TIMEOUT_NS;
    pthread_mutex_lock(&a->mu);
    if (a->closing) {
        pthread_mutex_unlock(&a->mu);
        pthread_mutex_destroy(&j->mu);
        free(j);
        return reply(c, 503, "text/plain", "stopping\n", 9);
    }
    /* Suspended before the loop can see the job: its resume must come
     * after this suspend. */
    MHD_suspend_connection(c);
    j->prev = a->tail;
    *(a->tail ? &a->tail->next : &a->head) = j;
    a->tail = j;
    j->linked = 1;
    q->j = j;
    q->parked = 1;
    __atomic_add_fetch(&a->parked, 1, __ATOMIC_ACQ_REL);
    if (a->head == j)
        pthread_cond_signal(&a->cv);
    if (lira_engine_post(a->r->e, build, j) != LIRA_OK) {
        j->refs = 1;
        refuse_job(a, j, "busy\n");
    }
    pthread_mutex_unlock(&a->mu);
    return MHD_YES;
}

/* Called again after the resume: send what the loop (or a refusal) left. */
static enum MHD_Result answer_job(admin *a, areq *q, struct MHD_Connection *c)
{
    job *j = q->j;
    pthread_mutex_lock(&a->mu);
    unlink_job(a, j);
    pthread_mutex_unlock(&a->mu);
    pthread_mutex_lock(&j->mu);
    int state = j->state;
    enum MHD_Result rc = MHD_YES;
    if (state == JOB_DONE)
        rc = reply(c, j->status, j->ctype, j->body ? j->body : "", j->len);
    else if (state == JOB_CANCELLED)
        rc = reply(c, 503, "text/plain", j->refusal, strlen(j->refusal));
    pthread_mutex_unlock(&j->mu);
    if (state == JOB_PENDING)   /* not resumed by us: keep waiting */
        return MHD_YES;
    q->j = NULL;
    job_release(j);
    return rc;
}

static enum MHD_Result first_call(admin *a, struct MHD_Connection *c, const char *url,
                                  const char *method, size_t *upload_size, void **con_cls)
{
    areq *q = calloc(1, sizeof *q);
    if (!q)
        return MHD_NO;
    *con_cls = q;
    q->wh = is_closing(a) ? NULL : rt_wh_http_begin(a->r->webhooks, c, url, method);
    /* A refusal known from the headers (405, 413) is sent now, before
     * the body: a client that asked "Expect: 100-continue" sends none. */
    return q->wh ? rt_wh_http_step(a->r->webhooks, q->wh, c, NULL, upload_size) : MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    admin *a = cls;
    areq *q = *con_cls;
    if (!q)
        return first_call(a, c, url, method, upload_size, con_cls);
    if (q->wh) {
        enum MHD_Result rc = rt_wh_http_step(a->r->webhooks, q->wh, c, upload, upload_size);
        if (!q->parked && rt_wh_http_parked(q->wh)) {
            q->parked = 1;
            __atomic_add_fetch(&a->parked, 1, __ATOMIC_ACQ_REL);
        }
        return rc;
    }
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (q->j)
        return answer_job(a, q, c);
    int kind = route(method, url);
    if (kind < 0)
        return reply(c, 405, "text/plain", "method not allowed\n", 19);
    rt_wh *w = a->r->webhooks;
    if (is_closing(a) || (kind == J_NOTFOUND && w && __atomic_load_n(&w->stopping,
                                                                      __ATOMIC_ACQUIRE)))
        return reply(c, 503, "text/plain", "stopping\n", 9);
    return start_job(a, q, c, kind);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)c;
    (void)toe;
    admin *a = cls;
    areq *q = *con_cls;
    *con_cls = NULL;
    if (!q)
        return;
    if (q->wh)
        rt_wh_http_end(a->r->webhooks, q->wh);
    if (q->j) {   /* ended without its answer: the loop's must not resume it */
        pthread_mutex_lock(&a->mu);
        unlink_job(a, q->j);
        pthread_mutex_lock(&q->j->mu);
        if (q->j->state == JOB_PENDING)
            q->j->state = JOB_CANCELLED;
        pthread_mutex_unlock(&q->j->mu);
        pthread_mutex_unlock(&a->mu);
        job_release(q->j);
    }
    if (q->parked)
        __atomic_sub_fetch(&a->parked, 1, __ATOMIC_ACQ_REL);
    free(q);
}

/* ------------------------------------------------------------ start / stop */

static int parse_listen(const char *v, struct sockaddr_in *sa, char *host, size_t cap)
{
    const char *colon = strrchr(v, ':');
    const char *port = colon ? colon + 1 : v;
    size_t hl = colon ? (size_t)(colon - v) : 0;
    if (hl >= cap)
        return -1;
    if (hl)
        memcpy(host, v, hl);
    host[hl] = '\0';
    if (!hl)
        snprintf(host, cap, "127.0.0.1");
    char *end = NULL;
    errno = 0;
    long p = strtol(port, &end, 10);
    if (errno || !*port || *end || p < 0 || p > 65535)
        return -1;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)p);
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

static admin *admin_new(rt *r)
{
    admin *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->r = r;
    pthread_mutex_init(&a->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&a->reaper, NULL, reaper, a) != 0) {
        pthread_cond_destroy(&a->cv);
        pthread_mutex_destroy(&a->mu);
        free(a);
        return NULL;
    }
    return a;
}

static void admin_free(admin *a)
{
    pthread_mutex_lock(&a->mu);
    a->stop = 1;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->reaper, NULL);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

int rt_admin_start(rt *r, const char *addr, char *err, size_t cap)
{
    struct sockaddr_in sa;
    char host[64];
    if (parse_listen(addr, &sa, host, sizeof host) != 0) {
        snprintf(err, cap, "--listen wants [IPV4:]PORT (e.g. 127.0.0.1:9090 or 9090), not '%s'",
                 addr);
        return LIRA_EINVAL;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    socklen_t len = sizeof sa;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        snprintf(err, cap, "cannot listen on %s: %s", addr, strerror(errno));
        if (fd >= 0)
            close(fd);
        return LIRA_ESTATE;
    }
    admin *a = admin_new(r);
    if (!a) {
        close(fd);
        snprintf(err, cap, "out of memory");
        return LIRA_ENOMEM;
    }
    if (rt_wh_init(r) != LIRA_OK || rt_wh_loop_start(r) != LIRA_OK) {
        close(fd);
        admin_free(a);
        rt_wh_free(r);
        snprintf(err, cap, "out of memory");
        return LIRA_ENOMEM;
    }
    /* A pool of polling threads, epoll where available, and handlers that
     * park (suspend) instead of waiting: 64 connections cost 2 threads,
     * not 64 that the 2 cores must schedule around every commit. */
    a->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
                                MHD_ALLOW_SUSPEND_RESUME,
                            0, NULL, NULL, on_request, a, MHD_OPTION_LISTEN_SOCKET, fd,
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)POOL_THREADS,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, a,
                            MHD_OPTION_THREAD_STACK_SIZE, (size_t)(256 * 1024), MHD_OPTION_END);
    if (!a->d) {
        close(fd);
        admin_free(a);
        rt_wh_loop_stop(r);
        rt_wh_free(r);
        snprintf(err, cap, "cannot start the HTTP listener");
        return LIRA_ESTATE;
    }
    r->admin = a;
    printf("listening on http://%s:%d\n", host, ntohs(sa.sin_port));
    fflush(stdout);
    return LIRA_OK;
}

/* Shutdown without losing an answer: refuse new work, answer every parked
 * request (admin jobs 503, webhook events once committed), give those
 * answers a moment to go out, and only then stop MHD — which must not
 * find a suspended connection. */
void rt_admin_stop(rt *r)
{
    admin *a = r->admin;
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    __atomic_store_n(&a->closing, 1, __ATOMIC_RELEASE);
    while (a->head)
        refuse_job(a, a->head, "stopping\n");
    pthread_mutex_unlock(&a->mu);
    rt_wh_http_quiesce(r->webhooks);
    for (int ms = 0; ms < DRAIN_WAIT_MS && __atomic_load_n(&a->parked, __ATOMIC_ACQUIRE) > 0;
         ms += 2)
        nanosleep(&(struct timespec){0, 2000000L}, NULL);
    MHD_stop_daemon(a->d);
    admin_free(a);
    r->admin = NULL;
    /* No request is left: the webhook stores can close. */
    rt_wh_loop_stop(r);
    rt_wh_free(r);
}
