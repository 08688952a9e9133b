/* log_impl.h — what log.c and log_format.c share (internal to the log). */
#ifndef LIRA_LOG_IMPL_H
#define LIRA_LOG_IMPL_H

#include "log.h"

typedef struct rl_entry {
    uint64_t key;            /* 0 = empty */
    int64_t window_start;    /* monotonic ns */
    uint32_t in_window;      /* lines written in this window */
    uint64_t pending;        /* suppressed since the last written line */
} rl_entry;

struct lira_log {
    lira_log_level level;
    lira_log_format format;
    int fd;
    int own_fd;
    char *path;
    char **deny;
    size_t ndeny;
    char *buf;               /* a turn's lines (batch_cap) + room for one more line */
    char *line;              /* where the next line is formatted: buf + used */
    size_t used;             /* bytes of whole lines waiting in buf */
    size_t batch_cap;        /* bytes one write(2) of a batch may carry */
    int batch_depth;         /* > 0: inside an engine turn, lines wait in buf */
    int64_t flush_ns;        /* how long they may wait after it (log.h, Batching) */
    lira_log *next_live;     /* in log.c's list of logs written at exit */
    size_t max_line;
    int64_t window_ns;
    uint32_t burst;
    rl_entry *rl;
    uint32_t rl_sets;        /* rl holds rl_sets * RL_WAYS entries */
    lira_log_stats stats;
    int64_t ts_sec, ts_ms;   /* the second and millisecond ts_buf holds, or -1 */
    char ts_buf[25];         /* "YYYY-MM-DDTHH:MM:SS.mmmZ" (and a NUL) */
};

#define RL_WAYS 4
#define LOG_BATCH_FILE (16 * 1024)   /* batch_cap for a regular file: ~40 lines, and
                                        small enough to stay in cache while it fills */

/* Format a whole line (with its '\n') into l->line; returns its length.
 * `suppressed` > 0 adds the "suppressed" field. */
size_t lira__log_format(lira_log *l, lira_log_level lv, int64_t wall_ns, const char *msg,
                        const lira_log_field *f, size_t n, uint64_t suppressed);

/* ts for wall_ns (< 0 reads as 0): "YYYY-MM-DDTHH:MM:SS.mmmZ", 24 bytes (no
 * NUL) in l's cache, valid until the next call (log_time.c). */
const char *lira__log_ts(lira_log *l, int64_t wall_ns);

/* The line of lira_log_write_rendered, with its '\n', at l->line; 0 when it
 * would not fit max_line. */
size_t lira__log_format_rendered(lira_log *l, lira_log_level lv, int64_t wall_ns,
                                 const char *msg, const lira_log_piece *p, size_t n);

#endif
