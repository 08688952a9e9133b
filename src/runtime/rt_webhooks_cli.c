/* rt_webhooks_cli.c — `lira webhooks list|replay`: look into the webhook
 * inbox of a state file and put dead letters back (docs/webhooks.md).
 *
 * It opens the store like any other handle, so it works while `lira run`
 * uses the same file: a replayed event is pending again and the runtime
 * picks it up at its next tick (100 ms). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/status.h"
#include "runtime/rt_webhook.h"

static const char USAGE[] =
    "usage: lira webhooks list [--dead | --all] [--state PATH]\n"
    "       lira webhooks replay ID | --seq N | --dead [--state PATH]\n"
    "\n"
    "The webhook inbox of a state file (docs/webhooks.md).\n"
    "  list            events not yet handled: pending and dead (--dead: dead only,\n"
    "                  --all: done ones too); one line each: seq, state, route,\n"
    "                  id, attempts, received at, last error\n"
    "  replay ID       make every event with this id pending again, attempts 0\n"
    "  replay --seq N  the one event with seq N\n"
    "  replay --dead   every dead-lettered event\n"
    "  --state PATH    the state file (default: LIRA_STATE or .lira/state.db)\n";

static const char *const state_names[] = {"pending", "done", "dead"};

typedef struct cli {
    const char *id;
    int64_t *seqs;
    size_t n, cap;
    int64_t last;
} cli;

static int print_event(void *ud, const lira_store_event *ev)
{
    cli *c = ud;
    c->last = ev->seq;
    char when[32];
    time_t t = (time_t)(ev->received_at_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("%lld\t%s\t%s\t%s\t%d\t%s\t%s\n", (long long)ev->seq,
           ev->state >= 0 && ev->state <= 2 ? state_names[ev->state] : "?", ev->route,
           ev->event_id, ev->attempts, when, ev->last_error ? ev->last_error : "");
    return 0;
}

static int match_event(void *ud, const lira_store_event *ev)
{
    cli *c = ud;
    c->last = ev->seq;
    if (strcmp(ev->event_id, c->id) != 0 || ev->state == LIRA_STORE_EV_PENDING)
        return 0;
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 8;
        int64_t *ns = realloc(c->seqs, nc * sizeof *ns);
        if (!ns)
            return 1;
        c->seqs = ns;
        c->cap = nc;
    }
    c->seqs[c->n++] = ev->seq;
    return 0;
}

/* Page through events in `state` (-1 any) with fn. */
static int walk(lira_store *s, int state, lira_store_event_fn fn, cli *c)
{
    c->last = 0;
    for (;;) {
        int got = 0;
        int64_t before = c->last;
        int rc = lira_store_inbox_list(s, state, c->last, 1000, fn, c, &got);
        if (rc != LIRA_OK)
            return rc;
        if (got < 1000 || c->last == before)
            return LIRA_OK;
    }
}

static int fail(lira_store *s, const char *what)
{
    fprintf(stderr, "lira webhooks: %s: %s\n", what, lira_store_errmsg(s));
    return 1;
}

static int do_list(lira_store *s, int which)
{
    cli c = {0};
    printf("seq\tstate\troute\tid\tattempts\treceived_at\tlast_error\n");
    int rc = which == 1   ? walk(s, LIRA_STORE_EV_DEAD, print_event, &c)
             : which == 2 ? walk(s, -1, print_event, &c)
                          : walk(s, LIRA_STORE_EV_PENDING, print_event, &c);
    if (rc == LIRA_OK && which == 0)
        rc = walk(s, LIRA_STORE_EV_DEAD, print_event, &c);
    return rc == LIRA_OK ? 0 : fail(s, "list");
}

static int do_replay(lira_store *s, const char *id, int64_t seq, int dead)
{
    int64_t now = 0, n = 0, total = 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    if (dead || seq > 0) {
        int rc = lira_store_inbox_replay(s, dead ? 0 : seq, now, &total);
        if (rc == LIRA_ENOTFOUND) {
            fprintf(stderr, "lira webhooks: no event with seq %lld\n", (long long)seq);
            return 1;
        }
        if (rc != LIRA_OK)
            return fail(s, "replay");
    } else {
        cli c = {.id = id};
        if (walk(s, -1, match_event, &c) != LIRA_OK) {
            free(c.seqs);
            return fail(s, "replay");
        }
        for (size_t i = 0; i < c.n; i++) {
            if (lira_store_inbox_replay(s, c.seqs[i], now, &n) != LIRA_OK) {
                free(c.seqs);
                return fail(s, "replay");
            }
            total += n;
        }
        free(c.seqs);
        if (total == 0) {
            fprintf(stderr, "lira webhooks: no done or dead event with id '%s'\n", id);
            return 1;
        }
    }
    printf("replayed %lld event%s\n", (long long)total, total == 1 ? "" : "s");
    return 0;
}

int lira_webhooks_main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : NULL;
    const char *state = getenv("LIRA_STATE"), *id = NULL;
    int dead = 0, all = 0;
    int64_t seq = 0;
    if (!cmd || strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        fputs(USAGE, cmd ? stdout : stderr);
        return cmd ? 0 : 2;
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--dead") == 0) {
            dead = 1;
        } else if (strcmp(a, "--all") == 0) {
            all = 1;
        } else if ((strcmp(a, "--state") == 0 || strcmp(a, "--seq") == 0) && i + 1 < argc) {
            if (a[2] == 's' && a[3] == 't') {
                state = argv[++i];
            } else {
                char *end = NULL;
                seq = strtoll(argv[++i], &end, 10);
                if (!end || *end || seq <= 0) {
                    fprintf(stderr, "lira webhooks: --seq wants a positive number\n");
                    return 2;
                }
            }
        } else if (a[0] != '-' && !id) {
            id = a;
        } else {
            fprintf(stderr, "lira webhooks: unexpected '%s'\n%s", a, USAGE);
            return 2;
        }
    }
    int list = strcmp(cmd, "list") == 0, replay = strcmp(cmd, "replay") == 0;
    if ((!list && !replay) || (list && (id || seq)) ||
        (replay && (all || (!!id + !!seq + dead) != 1))) {
        fputs(USAGE, stderr);
        return 2;
    }
    lira_store *s = NULL;
    if (lira_store_new(&s) != LIRA_OK)
        return 1;
    lira_store_options o;
    memset(&o, 0, sizeof o);
    o.readonly = list;
    int rc;
    if (lira_store_open(s, state && *state ? state : ".lira/state.db", &o) != LIRA_OK)
        rc = fail(s, "cannot open the state file");
    else if (list)
        rc = do_list(s, dead ? 1 : all ? 2 : 0);
    else
        rc = do_replay(s, id, seq, dead);
    lira_store_free(s);
    return rc;
}
