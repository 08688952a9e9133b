/* store_bench.c — what lira's durable store costs, with synchronous=NORMAL
 * and FULL (WAL mode both), on a real file:
 *
 *   checkpoint   BEGIN IMMEDIATE + one ~150-byte checkpoint + COMMIT, the
 *                cost a paginated sync pays per page (goal: < 0.2 ms median
 *                in NORMAL)
 *   kv set       one value per statement, each its own commit
 *   kv get       point reads of existing keys
 *   inbox 1      one webhook (1 KiB body) per commit: an ack without batching
 *   inbox x64    64 webhooks per commit (lira_store_inbox_insert_batch): the
 *                group commit the receiver can do across concurrent requests
 *   ... manual   the same with manual_wal_checkpoint on the inserting handle
 *                and a second handle checkpointing every 16 batches (not
 *                timed: the loop thread's job), so no commit pays for
 *                copying the WAL into the main file
 *
 * Per-op latencies give the median and p99; ops/s is ops over the whole
 * run's wall time. The folder (default /tmp) must be on the disk whose
 * fsync you want to measure: a tmpfs makes FULL look free.
 *
 * usage: store_bench [--dir PATH] [--ops N] */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "status.h"
#include "store.h"

typedef struct result {
    double median_us, p99_us, ops_per_s;
} result;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static result summarize(double *lat, long n, double total_us, long items)
{
    qsort(lat, (size_t)n, sizeof *lat, cmp_double);
    result r = { lat[n / 2], lat[(size_t)((double)n * 0.99)], (double)items / (total_us / 1e6) };
    return r;
}

static void die(lira_store *s, const char *what)
{
    fprintf(stderr, "store_bench: %s: %s\n", what, lira_store_errmsg(s));
    exit(1);
}

static result bench_checkpoint(lira_store *s, long ops, double *lat)
{
    char json[192];
    double t0 = now_us();
    for (long i = 0; i < ops; i++) {
        int n = snprintf(json, sizeof json, "{\"cursor\":\"c_%08ld_abcdefghijklmnop\","
                         "\"page\":%ld,\"items\":%ld,\"bookmark\":\"2026-11-29T12:00:00Z\","
                         "\"done\":false}", i, i, i * 100);
        double a = now_us();
        if (lira_store_begin(s) || lira_store_checkpoint_set(s, "orders-sync", json,
                                                             (size_t)n, 1000 + i) ||
            lira_store_commit(s))
            die(s, "checkpoint");
        lat[i] = now_us() - a;
    }
    return summarize(lat, ops, now_us() - t0, ops);
}

static result bench_kv_set(lira_store *s, long ops, double *lat)
{
    char key[32], val[100];
    memset(val, 'v', sizeof val);
    double t0 = now_us();
    for (long i = 0; i < ops; i++) {
        snprintf(key, sizeof key, "key-%06ld", i % 1000);
        double a = now_us();
        if (lira_store_kv_set(s, "bench", key, val, sizeof val, 0, 1000 + i))
            die(s, "kv set");
        lat[i] = now_us() - a;
    }
    return summarize(lat, ops, now_us() - t0, ops);
}

static result bench_kv_get(lira_store *s, long ops, double *lat)
{
    char key[32];
    lira_store_bytes v;
    double t0 = now_us();
    for (long i = 0; i < ops; i++) {
        snprintf(key, sizeof key, "key-%06ld", (i * 7919) % 1000);
        double a = now_us();
        if (lira_store_kv_get(s, "bench", key, 5000, &v, NULL))
            die(s, "kv get");
        lat[i] = now_us() - a;
    }
    return summarize(lat, ops, now_us() - t0, ops);
}

static result bench_inbox(lira_store *s, long ops, double *lat, size_t batch, long *seq,
                          lira_store *checkpointer)
{
    static char body[1024];
    static const char headers[] = "webhook-id: x\nwebhook-timestamp: 1\nwebhook-signature: v1,abc";
    memset(body, 'b', sizeof body);
    lira_store_event_in evs[64];
    char ids[64][32];
    int results[64];
    double t0 = now_us();
    for (long i = 0; i < ops; i++) {
        for (size_t j = 0; j < batch; j++) {
            snprintf(ids[j], sizeof ids[j], "evt_%09ld", (*seq)++);
            lira_store_event_in e = { "/hooks/shop", ids[j], headers, sizeof headers - 1,
                                      body, sizeof body, 1000 + i };
            evs[j] = e;
        }
        double a = now_us();
        if (lira_store_inbox_insert_batch(s, evs, batch, results, NULL) != LIRA_OK ||
            results[0] != LIRA_STORE_INSERTED)
            die(s, "inbox insert");
        lat[i] = now_us() - a;
        if (checkpointer && i % 16 == 15) {
            double c = now_us();
            if (lira_store_wal_checkpoint(checkpointer, NULL, NULL))
                die(checkpointer, "wal checkpoint");
            t0 += now_us() - c;   /* not part of the inserting thread's time */
        }
    }
    return summarize(lat, ops, now_us() - t0, ops * (long)batch);
}

static void row(const char *name, const char *mode, result r, const char *unit)
{
    printf("| %s | %s | %.1f | %.1f | %.0f %s |\n", name, mode, r.median_us, r.p99_us,
           r.ops_per_s, unit);
}

static void run_mode(const char *dir, int full, long ops, double *lat)
{
    char tmpl[512], path[600];
    snprintf(tmpl, sizeof tmpl, "%s/lira_store_bench.XXXXXX", dir);
    if (!mkdtemp(tmpl)) {
        perror(tmpl);
        exit(1);
    }
    snprintf(path, sizeof path, "%s/state.db", tmpl);
    lira_store_options o = { .sync_full = full };
    lira_store *s = NULL;
    if (lira_store_new(&s) || lira_store_open(s, path, &o))
        die(s, "open");
    const char *mode = full ? "FULL" : "NORMAL";
    long seq = 0;
    row("checkpoint write+commit", mode, bench_checkpoint(s, ops, lat), "commits/s");
    row("kv set (1 per commit)", mode, bench_kv_set(s, ops, lat), "ops/s");
    row("kv get", mode, bench_kv_get(s, ops * 10, lat), "ops/s");
    row("inbox insert, 1 per commit", mode, bench_inbox(s, ops, lat, 1, &seq, NULL),
        "events/s");
    row("inbox insert, 64 per commit", mode, bench_inbox(s, ops / 8, lat, 64, &seq, NULL),
        "events/s");
    lira_store_options m = { .sync_full = full, .manual_wal_checkpoint = 1 };
    lira_store *w = NULL;
    if (lira_store_new(&w) || lira_store_open(w, path, &m))
        die(w, "open");
    row("inbox insert, 64 per commit, manual ckpt", mode,
        bench_inbox(w, ops / 8, lat, 64, &seq, s), "events/s");
    lira_store_free(w);
    lira_store_free(s);
    char side[640];
    const char *suffix[] = { "", "-wal", "-shm" };
    for (int i = 0; i < 3; i++) {
        snprintf(side, sizeof side, "%s%s", path, suffix[i]);
        unlink(side);
    }
    rmdir(tmpl);
}

int main(int argc, char **argv)
{
    const char *dir = "/tmp";
    long ops = 2000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc)
            ops = strtol(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: store_bench [--dir PATH] [--ops N]\n");
            return 2;
        }
    }
    if (ops < 8 || ops > 10000000) {
        fprintf(stderr, "store_bench: --ops must be 8..10000000\n");
        return 2;
    }
    double *lat = malloc((size_t)ops * 10 * sizeof *lat);
    if (!lat)
        return 1;
    printf("| op | synchronous | median µs | p99 µs | throughput |\n");
    printf("| --- | --- | ---: | ---: | ---: |\n");
    run_mode(dir, 0, ops, lat);
    run_mode(dir, 1, ops, lat);
    printf("(%ld ops per row, kv get x10; WAL; files under %s)\n", ops, dir);
    free(lat);
    return 0;
}
