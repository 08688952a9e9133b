/* rt_admin.c — the listener of `lira run --listen`: /metrics, /healthz,
 * /readyz, /admin/integrations, /admin/webhooks (docs/runtime.md), and the
 * integrations' webhook routes, handed to rt_webhook_http.c.
 *
 * libmicrohttpd runs its own threads; a handler never touches the runtime.
 * It posts a job to the loop thread (lira_engine_post) and waits for the
 * answer the loop builds there, up to a few seconds (then 503). The job is
 * shared by the two threads and freed by whichever lets go last, so an
 * answer that comes too late is simply dropped. */
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

#define ANSWER_TIMEOUT_MS 5000
#define CONNECTION_LIMIT 512      /* concurrent connections (then refused) */
#define CONNECTION_TIMEOUT_S 10   /* idle or slow-sending connections are closed */

static char admin_marker;         /* con_cls of an admin request */

enum { J_METRICS, J_HEALTH, J_READY, J_INTEGS, J_WEBHOOKS, J_NOTFOUND };

typedef struct job {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs, done, kind, status;
    char *body;
    size_t len;
    const char *ctype;
    rt *r;
} job;

typedef struct admin {
    struct MHD_Daemon *d;
    rt *r;
    volatile int closing;
} admin;

static void job_release(job *j)
{
    pthread_mutex_lock(&j->mu);
    int left = --j->refs;
    pthread_mutex_unlock(&j->mu);
    if (left > 0)
        return;
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j->body);
    free(j);
}

/* ------------------------------------------------------------ answers (loop thread) */

static double secs(int64_t wall_ns)
{
    return wall_ns ? (double)wall_ns / 1e9 : 0;
}

static void add_time(cJSON *o, const char *k, int64_t wall_ns)
{
    if (wall_ns)
        cJSON_AddNumberToObject(o, k, secs(wall_ns));
    else
        cJSON_AddNullToObject(o, k);
}

static void add_str(cJSON *o, const char *k, const char *v)
{
    if (v)
        cJSON_AddStringToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
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

static void answer(job *j, int status, const char *ctype, char *body)
{
    j->status = status;
    j->ctype = ctype;
    j->body = body;
    j->len = body ? strlen(body) : 0;
}

static void build(void *ud)
{
    job *j = ud;
    rt *r = j->r;
    lira_telemetry *t = NULL;
    char *text = NULL;
    size_t len = 0;
    switch (j->kind) {
    case J_METRICS:
        if (lira_telemetry_get(r->e, &t) == LIRA_OK) {
            lira_telemetry_collect(t);
            lira_metrics_text(lira_telemetry_metrics(t), &text, &len);
        }
        answer(j, text ? 200 : 500, "text/plain; version=0.0.4; charset=utf-8",
               text ? text : strdup("metrics unavailable\n"));
        break;
    case J_HEALTH:
        answer(j, 200, "text/plain", strdup(r->phase == 0 ? "ok\n" : "stopping\n"));
        break;
    case J_READY: {
        int ok = r->ready && !r->broken && r->phase == 0;
        answer(j, ok ? 200 : 503, "text/plain", strdup(ok ? "ready\n" : "not ready\n"));
        break;
    }
    case J_INTEGS:
        answer(j, 200, "application/json", integrations_json(r));
        break;
    case J_WEBHOOKS:
        answer(j, 200, "application/json", rt_wh_admin_json(r));
        break;
    default:
        answer(j, 404, "text/plain", strdup("not found: try /metrics /healthz /readyz "
                                            "/admin/integrations /admin/webhooks\n"));
    }
    pthread_mutex_lock(&j->mu);
    j->done = 1;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    job_release(j);
}

/* ------------------------------------------------------------ MHD thread */

static int route_path(const char *url);

static int route(const char *method, const char *url)
{
    int k = route_path(url);
    if (k != J_NOTFOUND && strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return -1;
    return k;
}

static int route_path(const char *url)
{
    if (strcmp(url, "/metrics") == 0)
        return J_METRICS;
    if (strcmp(url, "/healthz") == 0)
        return J_HEALTH;
    if (strcmp(url, "/readyz") == 0)
        return J_READY;
    if (strcmp(url, "/admin/integrations") == 0 || strcmp(url, "/admin/integrations/") == 0)
        return J_INTEGS;
    if (strcmp(url, "/admin/webhooks") == 0 || strcmp(url, "/admin/webhooks/") == 0)
        return J_WEBHOOKS;
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

static int wait_answer(admin *a, job *j)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    int waited = 0;
    pthread_mutex_lock(&j->mu);
    while (!j->done && !a->closing && waited < ANSWER_TIMEOUT_MS) {
        struct timespec ts = dl;
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&j->cv, &j->mu, &ts);
        dl = ts;
        waited += 50;
    }
    int done = j->done;
    pthread_mutex_unlock(&j->mu);
    return done;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    (void)upload;
    admin *a = cls;
    if (*con_cls == NULL) {
        void *q = a->closing ? NULL : rt_wh_http_begin(a->r->webhooks, c, url, method);
        *con_cls = q ? q : &admin_marker;
        /* A refusal known from the headers (405, 413) is sent now, before
         * the body: a client that asked "Expect: 100-continue" sends none. */
        return q ? rt_wh_http_step(a->r->webhooks, q, c, NULL, upload_size) : MHD_YES;
    }
    if (*con_cls != &admin_marker)
        return rt_wh_http_step(a->r->webhooks, *con_cls, c, upload, upload_size);
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    int kind = route(method, url);
    if (kind < 0)
        return reply(c, 405, "text/plain", "method not allowed\n", 19);
    if (a->closing)
        return reply(c, 503, "text/plain", "stopping\n", 9);
    job *j = calloc(1, sizeof *j);
    if (!j)
        return MHD_NO;
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    j->refs = 2;
    j->kind = kind;
    j->r = a->r;
    if (lira_engine_post(a->r->e, build, j) != LIRA_OK) {
        j->refs = 1;
        job_release(j);
        return reply(c, 503, "text/plain", "busy\n", 5);
    }
    enum MHD_Result rc;
    if (wait_answer(a, j))
        rc = reply(c, j->status, j->ctype, j->body ? j->body : "", j->len);
    else
        rc = reply(c, 503, "text/plain", "the loop did not answer in time\n", 32);
    job_release(j);
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)c;
    (void)toe;
    admin *a = cls;
    if (*con_cls && *con_cls != &admin_marker)
        rt_wh_http_end(a->r->webhooks, *con_cls);
    *con_cls = NULL;
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
    admin *a = calloc(1, sizeof *a);
    if (!a) {
        close(fd);
        snprintf(err, cap, "out of memory");
        return LIRA_ENOMEM;
    }
    a->r = r;
    if (rt_wh_init(r) != LIRA_OK || rt_wh_loop_start(r) != LIRA_OK) {
        close(fd);
        free(a);
        rt_wh_free(r);
        snprintf(err, cap, "out of memory");
        return LIRA_ENOMEM;
    }
    a->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                MHD_USE_POLL | MHD_USE_ITC,
                            0, NULL, NULL, on_request, a, MHD_OPTION_LISTEN_SOCKET, fd,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, a,
                            MHD_OPTION_THREAD_STACK_SIZE, (size_t)(256 * 1024), MHD_OPTION_END);
    if (!a->d) {
        close(fd);
        free(a);
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

void rt_admin_stop(rt *r)
{
    admin *a = r->admin;
    if (!a)
        return;
    a->closing = 1;
    /* Jobs already posted still run on the loop (the engine lives on), and
     * handlers waiting for them see `closing` within 50 ms. */
    MHD_stop_daemon(a->d);
    free(a);
    r->admin = NULL;
    /* No request thread is left: the webhook stores can close. */
    rt_wh_loop_stop(r);
    rt_wh_free(r);
}
