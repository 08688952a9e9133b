/* sandbox.c — `lira sandbox`: flags, the libmicrohttpd daemon, the request
 * life cycle (body collection, logging) and signal-driven shutdown.
 *
 * Threading: MHD runs one thread per connection (capped at SB_CONN_MAX), so a
 * handler that sleeps (delay, trickle, held request) blocks only its own
 * connection. SIGTERM/SIGINT are blocked in every thread and taken with
 * sigwait() by the main thread, which then wakes all sleepers and stops the
 * daemon; nothing runs in a signal handler. */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/rng.h"
#include "core/status.h"
#include "sandbox/sandbox.h"
#include "sandbox/sandbox_internal.h"

typedef struct sb_opts {
    struct sockaddr_in addr;
    char host[32];
    const char *scenario;
    uint64_t seed;
    bool have_seed;
} sb_opts;

static const char USAGE[] =
    "usage: lira sandbox [--listen 127.0.0.1:PORT] [--scenario FILE] [--seed N]\n"
    "       lira sandbox send-webhook --to URL --scheme standard|stripe|github --secret S ...\n"
    "\n"
    "A local fault-injecting fake API. Prints 'listening on http://HOST:PORT'\n"
    "when ready and serves until SIGTERM or SIGINT.\n"
    "\n"
    "  --listen HOST:PORT  IPv4 address and port (default 127.0.0.1:8080; port 0\n"
    "                      picks a free one)\n"
    "  --scenario FILE     JSON file of scripted routes (see docs/sandbox.md)\n"
    "  --seed N            seed for everything random (default: from entropy)\n"
    "  -h, --help          this text\n"
    "\n"
    "Endpoints: /anything /status/{code} /flaky/{key} /delay/{ms} /trickle\n"
    "/bytes/{n} /redirect/{n} /json/invalid /headers /ratelimit/{key}\n"
    "/paginate/{cursor|link|offset|page} POST /payments GET /payments/_effects\n"
    "GET /_log POST /_reset — see docs/sandbox.md.\n";

/* ------------------------------------------------------------- flags --- */

static int parse_listen(const char *v, sb_opts *o)
{
    const char *colon = strrchr(v, ':');
    if (colon == NULL || colon == v || (size_t)(colon - v) >= sizeof o->host) return -1;
    memcpy(o->host, v, (size_t)(colon - v));
    o->host[colon - v] = '\0';
    int64_t port;
    if (sb_parse_int(colon + 1, 0, 65535, &port) != 0) return -1;
    memset(&o->addr, 0, sizeof o->addr);
    o->addr.sin_family = AF_INET;
    o->addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, o->host, &o->addr.sin_addr) != 1) return -1;
    return 0;
}

static int parse_seed(const char *v, uint64_t *out)
{
    uint64_t x = 0;
    if (v == NULL || *v == '\0') return -1;
    for (const char *p = v; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') return -1;
        unsigned d = (unsigned)(*p - '0');
        if (x > (UINT64_MAX - d) / 10) return -1;
        x = x * 10 + d;
    }
    *out = x;
    return 0;
}

static int bad_flag(const char *what, const char *arg)
{
    fprintf(stderr, "lira sandbox: %s '%s'\nTry 'lira sandbox --help'.\n", what, arg);
    return 2;
}

/* Returns -1 to go on, or an exit status (0 for --help, 2 for bad flags). */
static int parse_flags(int argc, char **argv, sb_opts *o)
{
    memset(o, 0, sizeof *o);
    parse_listen("127.0.0.1:8080", o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(USAGE, stdout);
            return 0;
        }
        bool takes = strcmp(a, "--listen") == 0 || strcmp(a, "--scenario") == 0 ||
                     strcmp(a, "--seed") == 0;
        if (!takes) return bad_flag("unknown argument", a);
        if (i + 1 >= argc) return bad_flag("missing value for", a);
        const char *v = argv[++i];
        if (strcmp(a, "--listen") == 0 && parse_listen(v, o) != 0)
            return bad_flag("--listen wants IPV4:PORT (e.g. 127.0.0.1:0), not", v);
        if (strcmp(a, "--seed") == 0) {
            if (parse_seed(v, &o->seed) != 0)
                return bad_flag("--seed wants an unsigned integer, not", v);
            o->have_seed = true;
        }
        if (strcmp(a, "--scenario") == 0) o->scenario = v;
    }
    return -1;
}

/* ------------------------------------------------------ MHD callbacks --- */

/* Called by MHD with the raw request-target before parsing: the only place
 * that sees the query exactly as sent, so the per-request context is born
 * here. Its return value becomes *con_cls. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    sb_req *r = calloc(1, sizeof *r);
    if (r == NULL) return NULL;
    r->srv = cls;
    r->conn = c;
    lira_buf_init(&r->body, SB_BODY_MAX);
    r->uri = strdup(uri != NULL ? uri : "");
    if (r->uri == NULL) { free(r); return NULL; }
    char *q = strchr(r->uri, '?');
    r->query = q != NULL ? q + 1 : "";
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls; (void)c; (void)toe;
    sb_req *r = *con_cls;
    if (r == NULL) return;
    free(r->uri);
    lira_buf_free(&r->body);
    free(r);
    *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    (void)c;
    sb_server *s = cls;
    if (toe != MHD_CONNECTION_NOTIFY_STARTED) return;
    pthread_mutex_lock(&s->mu);
    uint64_t id = ++s->next_conn_id;
    pthread_mutex_unlock(&s->mu);
    /* The id itself is the context: nothing to free when it closes. */
    *socket_context = (void *)(uintptr_t)id;
}

static int body_append(sb_req *r, const char *data, size_t n)
{
    r->body_total += n;
    size_t room = r->body.max - r->body.len;   /* past the cap: counted, not kept */
    return lira_buf_add(&r->body, data, n < room ? n : room) == LIRA_OK ? 0 : -1;
}

static bool is_unlogged(const sb_req *r)
{
    return (strcmp(r->path, "/_log") == 0 && strcmp(r->method, "GET") == 0) ||
           (strcmp(r->path, "/_reset") == 0 && strcmp(r->method, "POST") == 0);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)cls; (void)version;
    sb_req *r = *con_cls;
    if (r == NULL) return MHD_NO;
    if (!r->started) {
        r->started = true;
        r->method = method;
        r->path = url;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        r->conn_id = ci != NULL ? (uint64_t)(uintptr_t)ci->socket_context : 0;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (body_append(r, upload_data, *upload_data_size) != 0) return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    r->t_ns = sb_now_ns();
    if (!is_unlogged(r)) sb_log_request(r->srv, r);
    if (r->body_total > SB_BODY_MAX)
        return sb_reply_error(r, 413, "request body larger than 1048576 bytes");
    return sb_route_dispatch(r);
}

/* ------------------------------------------------------------ server --- */

/* MHD reports every connection we drop on purpose (flaky reset/timeout, a
 * trickle cut by shutdown) as an error; those lines would bury real ones. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    static const char *const expected[] = {
        "Application reported internal error", "application reported error generating data",
        "Connection socket is closed", NULL };
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    for (size_t i = 0; expected[i] != NULL; i++)
        if (strstr(msg, expected[i]) != NULL) return;
    size_t n = strlen(msg);
    fprintf(stderr, "lira sandbox: %s%s", msg, n > 0 && msg[n - 1] == '\n' ? "" : "\n");
}

/* Bind and listen ourselves, so that the port (and s->host, read by the
 * handlers) is known before the first connection can arrive. Returns the
 * socket, or -1 with errno set. */
static int open_listener(const sb_opts *o, int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    if (bind(fd, (const struct sockaddr *)&o->addr, sizeof o->addr) != 0 ||
        listen(fd, 128) != 0 || getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

static struct MHD_Daemon *start_daemon(sb_server *s, int listen_fd)
{
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    return MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
        MHD_OPTION_LISTEN_SOCKET, listen_fd,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)SB_CONN_MAX,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
        MHD_OPTION_THREAD_STACK_SIZE, (size_t)(512 * 1024),
        MHD_OPTION_END);
}

static void wait_for_signal(sb_server *s, const sigset_t *set)
{
    int sig = 0;
    while (sigwait(set, &sig) != 0) {}
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->mu);
}

static int serve(sb_server *s, const sb_opts *o)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    /* Block before MHD starts its threads so that they inherit the mask
     * and only sigwait() below ever takes these signals. */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    int port = 0;
    int fd = open_listener(o, &port);
    if (fd < 0) {
        fprintf(stderr, "lira sandbox: cannot listen on %s:%u: %s\n", o->host,
                (unsigned)ntohs(o->addr.sin_port), strerror(errno));
        return 1;
    }
    snprintf(s->host, sizeof s->host, "%s:%d", o->host, port);
    struct MHD_Daemon *d = start_daemon(s, fd);
    if (d == NULL) {
        fprintf(stderr, "lira sandbox: cannot start the HTTP server\n");
        close(fd);
        return 1;
    }
    printf("listening on http://%s:%d\n", o->host, port);
    fflush(stdout);
    wait_for_signal(s, &set);
    MHD_stop_daemon(d);
    return 0;
}

int lira_sandbox_main(int argc, char **argv)
{
    sb_opts o;
    int rc = parse_flags(argc, argv, &o);
    if (rc >= 0) return rc;
    if (!o.have_seed) {
        /* Draw one seed so that POST /_reset replays the same sequence. */
        lira_rng tmp;
        lira_rng_seed_entropy(&tmp);
        o.seed = lira_rng_next(&tmp);
    }
    static sb_server srv;   /* large (the log ring); one per process */
    if (sb_state_init(&srv, o.seed) != LIRA_OK) {
        fprintf(stderr, "lira sandbox: out of memory\n");
        return 1;
    }
    if (o.scenario != NULL) {
        char err[512];
        if (sb_scenario_load(&srv, o.scenario, err, sizeof err) != 0) {
            fprintf(stderr, "lira sandbox: %s\n", err);
            sb_state_free(&srv);
            return 2;
        }
    }
    rc = serve(&srv, &o);
    sb_state_free(&srv);
    return rc;
}
