/* log.c — the log object: options, the file, level filtering, the rate
 * limiter for repeated warnings, and writing whole lines: one write(2) per
 * line, or per batch of engine turns for their info and debug lines (log.h).
 * Formatting is in log_format.c. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "log_impl.h"
#include "status.h"

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

const char *lira_log_level_name(lira_log_level lv)
{
    return lv >= LIRA_LOG_DEBUG && lv <= LIRA_LOG_OFF ? level_names[lv] : "?";
}

int lira_log_level_parse(const char *s, lira_log_level *out)
{
    if (!s || !out)
        return LIRA_EINVAL;
    for (int i = 0; i <= LIRA_LOG_OFF; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (lira_log_level)i;
            return LIRA_OK;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = LIRA_LOG_WARN;
        return LIRA_OK;
    }
    return LIRA_EPARSE;
}

int lira_log_options_default(lira_log_options *o)
{
    if (!o)
        return LIRA_EINVAL;
    memset(o, 0, sizeof *o);
    o->level = LIRA_LOG_INFO;
    o->format = LIRA_LOG_JSON;
    o->fd = 2;
    o->max_line = 8192;
    o->ratelimit_window_ns = 10 * LIRA_NS_PER_SEC;
    o->ratelimit_burst = 5;
    o->ratelimit_keys = 256;
    o->flush_ns = 20 * LIRA_NS_PER_MS;   /* docs/observability.md: why 20 */
    return LIRA_OK;
}

int lira_log_options_from_env(lira_log_options *o)
{
    if (lira_log_options_default(o) != LIRA_OK)
        return LIRA_EINVAL;
    int rc = LIRA_OK;
    const char *v = getenv("LIRA_LOG_LEVEL");
    if (v && *v && lira_log_level_parse(v, &o->level) != LIRA_OK)
        rc = LIRA_EPARSE;
    v = getenv("LIRA_LOG_FILE");
    if (v && *v)
        o->path = v;
    v = getenv("LIRA_LOG_FORMAT");
    if (v && *v) {
        if (strcasecmp(v, "text") == 0)
            o->format = LIRA_LOG_TEXT;
        else if (strcasecmp(v, "json") == 0)
            o->format = LIRA_LOG_JSON;
        else
            rc = LIRA_EPARSE;
    }
    v = getenv("LIRA_LOG_FLUSH_MS");
    if (v && *v) {
        char *end;
        errno = 0;
        long ms = strtol(v, &end, 10);
        if (errno || *end || ms < 0 || ms > LIRA_LOG_MAX_FLUSH_MS)
            rc = LIRA_EPARSE;
        else
            o->flush_ns = ms * LIRA_NS_PER_MS;
    }
    return rc;
}

static int check_options(const lira_log_options *o)
{
    if (o->level < LIRA_LOG_DEBUG || o->level > LIRA_LOG_OFF || o->format < LIRA_LOG_JSON ||
        o->format > LIRA_LOG_TEXT || (!o->path && o->fd < 0) ||
        o->ndeny > LIRA_LOG_MAX_DENY || (o->ndeny && !o->deny) ||
        o->max_line < LIRA_LOG_MIN_LINE || o->max_line > LIRA_LOG_MAX_LINE ||
        o->ratelimit_window_ns < 0 || o->ratelimit_keys > 65536 || o->flush_ns < 0 ||
        o->flush_ns > LIRA_LOG_MAX_FLUSH_MS * LIRA_NS_PER_MS ||
        (o->ratelimit_window_ns > 0 && (o->ratelimit_burst == 0 || o->ratelimit_keys == 0)))
        return LIRA_EINVAL;
    for (size_t i = 0; i < o->ndeny; i++)
        if (!o->deny[i] || !*o->deny[i] || strlen(o->deny[i]) > 256)
            return LIRA_EINVAL;
    return LIRA_OK;
}

static int open_path(const char *path)
{
    int fd;
    do
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    while (fd < 0 && errno == EINTR);
    return fd;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* A regular file opened O_APPEND takes a batch of whole lines in one write;
 * a pipe, socket or terminal keeps a write whole only up to PIPE_BUF, so
 * batches stay that small there and lines from other writers never land
 * inside one of ours. */
static void set_batch_cap(lira_log *l)
{
    struct stat st;
    l->batch_cap = fstat(l->fd, &st) == 0 && S_ISREG(st.st_mode) ? LOG_BATCH_FILE : PIPE_BUF;
}

static int copy_config(lira_log *l, const lira_log_options *o)
{
    l->max_line = o->max_line;
    l->flush_ns = o->flush_ns;
    l->buf = malloc(LOG_BATCH_FILE + o->max_line);
    l->line = l->buf;
    if (!l->buf || (o->path && !(l->path = dup_str(o->path))))
        return LIRA_ENOMEM;
    if (o->ndeny && !(l->deny = calloc(o->ndeny, sizeof *l->deny)))
        return LIRA_ENOMEM;
    for (; l->ndeny < o->ndeny; l->ndeny++)
        if (!(l->deny[l->ndeny] = dup_str(o->deny[l->ndeny])))
            return LIRA_ENOMEM;
    if (o->ratelimit_window_ns > 0) {
        uint32_t sets = 1;
        while (sets * RL_WAYS < o->ratelimit_keys)
            sets *= 2;
        l->rl_sets = sets;
        l->rl = calloc((size_t)sets * RL_WAYS, sizeof *l->rl);
        if (!l->rl)
            return LIRA_ENOMEM;
    }
    return LIRA_OK;
}

/* ------------------------------------------------------------ at exit */

/* Lines may wait up to flush_ns after their turn (log.h, Batching). A plain
 * Lua host that ends with os.exit() does not close its state, so no free
 * would write them: exit(3) does, for every log that lets lines wait. In a
 * dlopen()ed core.so the handler belongs to the library and runs (over an
 * empty list by then) when lua_close unloads it. A log belongs to one
 * thread, so this is sound for the usual exit from that thread. */
static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t live_once = PTHREAD_ONCE_INIT;
static lira_log *live;   /* logs with flush_ns > 0, through next_live */

static void flush_live(void)
{
    pthread_mutex_lock(&live_mu);
    for (lira_log *l = live; l; l = l->next_live)
        lira_log_flush(l);
    pthread_mutex_unlock(&live_mu);
}

static void register_flush_live(void)
{
    atexit(flush_live);
}

static void live_link(lira_log *l, int add)
{
    pthread_mutex_lock(&live_mu);
    lira_log **pp = &live;
    while (*pp && *pp != l)
        pp = &(*pp)->next_live;
    if (add && !*pp)
        *pp = l;
    else if (!add && *pp)
        *pp = l->next_live;
    pthread_mutex_unlock(&live_mu);
}

/* ------------------------------------------------------------ the log */

int lira_log_new(const lira_log_options *o, lira_log **out)
{
    lira_log_options def;
    if (!o) {
        lira_log_options_default(&def);
        o = &def;
    }
    if (!out || check_options(o) != LIRA_OK)
        return LIRA_EINVAL;
    lira_log *l = calloc(1, sizeof *l);
    if (!l)
        return LIRA_ENOMEM;
    l->fd = -1;
    l->level = o->level;
    l->format = o->format;
    l->window_ns = o->ratelimit_window_ns;
    l->burst = o->ratelimit_burst;
    l->ts_sec = l->ts_ms = -1;
    int rc = copy_config(l, o);
    if (rc == LIRA_OK) {
        l->fd = o->path ? open_path(o->path) : o->fd;
        l->own_fd = o->path != NULL;
        if (l->fd < 0)
            rc = LIRA_ESTATE;
        else
            set_batch_cap(l);
    }
    if (rc != LIRA_OK) {
        int saved = errno;
        lira_log_free(l);
        errno = saved;
        return rc;
    }
    if (l->flush_ns > 0) {
        pthread_once(&live_once, register_flush_live);
        live_link(l, 1);
    }
    *out = l;
    return LIRA_OK;
}

void lira_log_free(lira_log *l)
{
    if (!l)
        return;
    if (l->flush_ns > 0)
        live_link(l, 0);
    lira_log_flush(l);
    if (l->own_fd && l->fd >= 0)
        close(l->fd);
    for (size_t i = 0; i < l->ndeny; i++)
        free(l->deny[i]);
    free(l->deny);
    free(l->path);
    free(l->buf);
    free(l->rl);
    free(l);
}

int lira_log_reopen(lira_log *l)
{
    if (!l)
        return LIRA_EINVAL;
    if (!l->path)
        return LIRA_OK;
    int fd = open_path(l->path);
    if (fd < 0)
        return LIRA_ESTATE;
    lira_log_flush(l);
    if (l->own_fd && l->fd >= 0)
        close(l->fd);
    l->fd = fd;
    l->own_fd = 1;
    set_batch_cap(l);
    return LIRA_OK;
}

void lira_log_set_level(lira_log *l, lira_log_level lv)
{
    if (l && lv >= LIRA_LOG_DEBUG && lv <= LIRA_LOG_OFF)
        l->level = lv;
}

lira_log_level lira_log_get_level(const lira_log *l)
{
    return l ? l->level : LIRA_LOG_OFF;
}

int lira_log_enabled(const lira_log *l, lira_log_level lv)
{
    return l && lv >= l->level && lv < LIRA_LOG_OFF && l->level != LIRA_LOG_OFF;
}

int lira_log_is_json(const lira_log *l)
{
    return l && l->format == LIRA_LOG_JSON;
}

void lira_log_get_stats(const lira_log *l, lira_log_stats *out)
{
    if (!out)
        return;
    if (l)
        *out = l->stats;
    else
        memset(out, 0, sizeof *out);
}

/* ------------------------------------------------------------ rate limit */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ULL;
    return h;
}

static uint64_t line_key(lira_log_level lv, const char *msg, const lira_log_field *f, size_t n)
{
    uint64_t h = fnv(0xcbf29ce484222325ULL, &lv, sizeof lv);
    h = fnv(h, msg, strlen(msg) + 1);
    int any = 0;
    for (size_t i = 0; i < n; i++)
        any |= f[i].key && (f[i].flags & LIRA_LOGF_DEDUPE);
    for (size_t i = 0; i < n; i++) {
        if (!f[i].key || (any && !(f[i].flags & LIRA_LOGF_DEDUPE)))
            continue;
        h = fnv(h, f[i].key, strlen(f[i].key) + 1);
        if (f[i].s)
            h = fnv(h, f[i].s, f[i].len == SIZE_MAX ? strlen(f[i].s) : f[i].len);
        h = fnv(h, &f[i].i, sizeof f[i].i);
        h = fnv(h, &f[i].d, sizeof f[i].d);
    }
    return h ? h : 1;
}

/* The entry for `key`: found, else an empty way, else the stalest of the
 * set (forgotten). */
static rl_entry *rl_slot(lira_log *l, uint64_t key)
{
    rl_entry *set = l->rl + (size_t)(key & (l->rl_sets - 1)) * RL_WAYS, *victim = set;
    for (int w = 0; w < RL_WAYS; w++) {
        if (set[w].key == key)
            return &set[w];
        if (set[w].key == 0) {
            victim = &set[w];
            break;
        }
        if (set[w].window_start < victim->window_start)
            victim = &set[w];
    }
    memset(victim, 0, sizeof *victim);
    victim->key = key;
    victim->window_start = INT64_MIN;
    return victim;
}

/* 1 when the line may go out (with *pending lines suppressed before it). */
static int rl_admit(lira_log *l, uint64_t key, int64_t now, uint64_t *pending)
{
    rl_entry *e = rl_slot(l, key);
    if (e->window_start == INT64_MIN || now - e->window_start >= l->window_ns) {
        e->window_start = now;
        e->in_window = 0;
    }
    if (e->in_window >= l->burst) {
        e->pending++;
        return 0;
    }
    e->in_window++;
    *pending = e->pending;
    e->pending = 0;
    return 1;
}

/* ------------------------------------------------------------ writing */

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Whole lines out; a failed write is counted. */
static int write_out(lira_log *l, const char *p, size_t n)
{
    if (write_all(l->fd, p, n) == 0)
        return LIRA_OK;
    l->stats.write_errors++;
    return LIRA_ESTATE;
}

int lira_log_flush(lira_log *l)
{
    if (!l || l->used == 0)
        return LIRA_OK;
    int rc = write_out(l, l->buf, l->used);
    l->used = 0;
    l->line = l->buf;
    return rc;
}

void lira_log_batch(lira_log *l, int begin)
{
    if (!l)
        return;
    if (begin) {
        l->batch_depth++;
        return;
    }
    if (l->batch_depth > 0)
        l->batch_depth--;
    if (l->batch_depth == 0 && l->flush_ns == 0)
        lira_log_flush(l);
}

size_t lira_log_waiting(const lira_log *l)
{
    return l ? l->used : 0;
}

int64_t lira_log_flush_ns(const lira_log *l)
{
    return l ? l->flush_ns : 0;
}

/* The line just formatted at l->line joins the batch; the lines before it
 * go out first when together they would pass the batch cap. */
static int keep_line(lira_log *l, size_t len)
{
    int rc = LIRA_OK;
    if (l->used > 0 && l->used + len > l->batch_cap) {
        rc = write_out(l, l->buf, l->used);
        memmove(l->buf, l->line, len);
        l->used = 0;
    }
    l->used += len;
    l->line = l->buf + l->used;
    if (l->used >= l->batch_cap)
        return lira_log_flush(l) == LIRA_OK ? rc : LIRA_ESTATE;
    return rc;
}

int lira_log_write_rendered(lira_log *l, lira_log_level lv, int64_t wall_ns, const char *msg,
                            const lira_log_piece *pieces, size_t n)
{
    if (!l || !msg || (n && !pieces) || lv < LIRA_LOG_DEBUG || lv >= LIRA_LOG_WARN ||
        l->format != LIRA_LOG_JSON)
        return LIRA_EINVAL;
    if (!lira_log_enabled(l, lv))
        return LIRA_EDENIED;
    int batch = l->batch_depth > 0;
    if (!batch)
        lira_log_flush(l);
    size_t len = lira__log_format_rendered(l, lv, wall_ns, msg, pieces, n);
    if (len == 0)
        return LIRA_ERANGE;
    l->stats.lines++;
    return batch ? keep_line(l, len) : write_out(l, l->line, len);
}

int lira_log_write(lira_log *l, lira_log_level lv, int64_t now_ns, int64_t wall_ns,
                   const char *msg, const lira_log_field *fields, size_t n)
{
    if (!l || !msg || (n && !fields) || lv < LIRA_LOG_DEBUG || lv >= LIRA_LOG_OFF)
        return LIRA_EINVAL;
    if (!lira_log_enabled(l, lv))
        return LIRA_EDENIED;
    uint64_t pending = 0;
    if (lv >= LIRA_LOG_WARN && l->rl &&
        !rl_admit(l, line_key(lv, msg, fields, n), now_ns, &pending)) {
        l->stats.suppressed++;
        return LIRA_EDENIED;
    }
    /* Warnings and errors go out at once, after the lines before them. */
    int batch = l->batch_depth > 0 && lv < LIRA_LOG_WARN;
    if (!batch)
        lira_log_flush(l);
    size_t len = lira__log_format(l, lv, wall_ns, msg, fields, n, pending);
    l->stats.lines++;
    return batch ? keep_line(l, len) : write_out(l, l->line, len);
}
