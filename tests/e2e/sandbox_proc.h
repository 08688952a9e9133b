/* sandbox_proc.h — run `lira sandbox` as a child process in an e2e test.
 *
 * Include this first in the test file (it asks for POSIX 2008 before any
 * system header is seen), or define _POSIX_C_SOURCE 200809L yourself.
 *
 *   sandbox_proc sb;
 *   const char *extra[] = { "--seed", "7", NULL };
 *   if (sandbox_start(&sb, extra) != 0) ...fail...
 *   ... requests against sb.url ("http://127.0.0.1:PORT", no trailing slash) ...
 *   CHECK(sandbox_stop(&sb) == 0);   // SIGTERM, then exit status 0 expected
 *
 * The binary is $LIRA_BIN (ctest sets it). The child's stdout is a pipe that
 * stays open until sandbox_stop(), so the sandbox never gets SIGPIPE; its
 * stderr is the test's stderr, so its complaints show up in the test log.
 * Every wait is bounded: SANDBOX_START_TIMEOUT_MS for the "listening on"
 * line, SANDBOX_STOP_TIMEOUT_MS for the exit after SIGTERM (then SIGKILL).
 * Messages about failures go to stderr. Not thread-safe (fork); start
 * sandboxes from the main thread before spawning any. */
#ifndef LIRA_E2E_SANDBOX_PROC_H
#define LIRA_E2E_SANDBOX_PROC_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SANDBOX_START_TIMEOUT_MS 10000
#define SANDBOX_STOP_TIMEOUT_MS  5000
#define SANDBOX_MAX_ARGS         32

typedef struct sandbox_proc {
    pid_t pid;          /* the child, or -1 */
    int   out_fd;       /* read end of the child's stdout, or -1 */
    int   port;         /* the port it listens on */
    char  url[64];      /* "http://127.0.0.1:PORT" */
} sandbox_proc;

static inline long long sandbox_proc_now_ms_(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void sandbox_proc_sleep_ms_(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* Wait up to timeout_ms for the child to exit. Returns 1 and fills *status
 * when it did, 0 when it is still running, -1 on a waitpid error. */
static inline int sandbox_proc_wait_(pid_t pid, int *status, long timeout_ms)
{
    long long deadline = sandbox_proc_now_ms_() + timeout_ms;
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid) return 1;
        if (r < 0 && errno != EINTR) return -1;
        if (sandbox_proc_now_ms_() >= deadline) return 0;
        sandbox_proc_sleep_ms_(10);
    }
}

/* Kill and reap a child that is misbehaving; used on every failure path. */
static inline void sandbox_proc_kill_(sandbox_proc *p)
{
    int st;
    if (p->pid > 0) {
        kill(p->pid, SIGKILL);
        while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR) {}
    }
    if (p->out_fd >= 0) close(p->out_fd);
    p->pid = -1;
    p->out_fd = -1;
}

/* Read one line (without '\n') from fd into buf within the deadline.
 * Returns 0, or -1 on timeout, EOF, error or a line longer than cap-1. */
static inline int sandbox_proc_read_line_(int fd, char *buf, size_t cap, long long deadline)
{
    size_t n = 0;
    while (n + 1 < cap) {
        long long left = deadline - sandbox_proc_now_ms_();
        if (left <= 0) return -1;
        struct pollfd pfd = { fd, POLLIN, 0 };
        int pr = poll(&pfd, 1, (int)left);
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) return -1;
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        if (c == '\n') { buf[n] = '\0'; return 0; }
        buf[n++] = c;
    }
    return -1;
}

/* Fork and exec the child; fills p->pid and p->out_fd. */
static inline int sandbox_proc_spawn_(sandbox_proc *p, const char *bin, char **argv)
{
    int fds[2];
    if (pipe(fds) != 0) { perror("sandbox_proc: pipe"); return -1; }
    /* Close-on-exec so that a second sandbox does not inherit the first's
     * pipe; dup2 below clears the flag on the child's stdout. */
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) { perror("sandbox_proc: fork"); close(fds[0]); close(fds[1]); return -1; }
    if (pid == 0) {
        if (dup2(fds[1], STDOUT_FILENO) < 0) _exit(127);
        execv(bin, argv);
        fprintf(stderr, "sandbox_proc: exec %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    p->pid = pid;
    p->out_fd = fds[0];
    return 0;
}

/* Start `$LIRA_BIN sandbox --listen 127.0.0.1:0 [extra...]`. extra is a
 * NULL-terminated list (or NULL). Returns 0 with p filled in, or -1 (with a
 * message on stderr and no child left behind). */
static inline int sandbox_start(sandbox_proc *p, const char *const *extra)
{
    char *argv[SANDBOX_MAX_ARGS + 5];
    int argc = 0;
    const char *bin = getenv("LIRA_BIN");
    p->pid = -1;
    p->out_fd = -1;
    p->port = 0;
    p->url[0] = '\0';
    if (bin == NULL || bin[0] == '\0') {
        fprintf(stderr, "sandbox_proc: LIRA_BIN is not set\n");
        return -1;
    }
    /* execv takes char *const[]; the strings are never written to. */
    argv[argc++] = (char *)(uintptr_t)bin;
    argv[argc++] = (char *)(uintptr_t)"sandbox";
    argv[argc++] = (char *)(uintptr_t)"--listen";
    argv[argc++] = (char *)(uintptr_t)"127.0.0.1:0";
    for (int i = 0; extra != NULL && extra[i] != NULL; i++) {
        if (i >= SANDBOX_MAX_ARGS) {
            fprintf(stderr, "sandbox_proc: too many arguments\n");
            return -1;
        }
        argv[argc++] = (char *)(uintptr_t)extra[i];
    }
    argv[argc] = NULL;
    if (sandbox_proc_spawn_(p, bin, argv) != 0) return -1;

    char line[128];
    long long deadline = sandbox_proc_now_ms_() + SANDBOX_START_TIMEOUT_MS;
    if (sandbox_proc_read_line_(p->out_fd, line, sizeof line, deadline) != 0) {
        fprintf(stderr, "sandbox_proc: it exited, or printed no 'listening on' line "
                "within %d ms\n", SANDBOX_START_TIMEOUT_MS);
        sandbox_proc_kill_(p);
        return -1;
    }
    const char *prefix = "listening on http://127.0.0.1:";
    size_t plen = strlen(prefix);
    char *end = NULL;
    long port = 0;
    if (strncmp(line, prefix, plen) == 0) {
        errno = 0;
        port = strtol(line + plen, &end, 10);
    }
    if (end == NULL || end == line + plen || *end != '\0' || errno != 0 ||
        port <= 0 || port > 65535) {
        fprintf(stderr, "sandbox_proc: unexpected first line: '%s'\n", line);
        sandbox_proc_kill_(p);
        return -1;
    }
    p->port = (int)port;
    snprintf(p->url, sizeof p->url, "http://127.0.0.1:%d", p->port);
    return 0;
}

/* Send `sig` to the sandbox and wait (bounded) for it to exit. Returns 0 when
 * it exited normally with status 0; otherwise -1 (it is SIGKILLed if still
 * running after SANDBOX_STOP_TIMEOUT_MS). p is reset either way. */
static inline int sandbox_stop_with(sandbox_proc *p, int sig)
{
    int st = 0, rc = -1;
    if (p->pid <= 0) return -1;
    if (kill(p->pid, sig) != 0) { perror("sandbox_proc: kill"); sandbox_proc_kill_(p); return -1; }
    int w = sandbox_proc_wait_(p->pid, &st, SANDBOX_STOP_TIMEOUT_MS);
    if (w == 1) {
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) rc = 0;
        else if (WIFEXITED(st)) fprintf(stderr, "sandbox_proc: exit status %d\n", WEXITSTATUS(st));
        else if (WIFSIGNALED(st)) fprintf(stderr, "sandbox_proc: killed by signal %d\n", WTERMSIG(st));
        p->pid = -1;
    } else {
        fprintf(stderr, "sandbox_proc: still running %d ms after signal %d; killing\n",
                SANDBOX_STOP_TIMEOUT_MS, sig);
    }
    sandbox_proc_kill_(p);
    return rc;
}

/* SIGTERM and expect exit status 0 (see sandbox_stop_with). */
static inline int sandbox_stop(sandbox_proc *p)
{
    return sandbox_stop_with(p, SIGTERM);
}

#endif
