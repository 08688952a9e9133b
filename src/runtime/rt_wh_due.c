/* rt_wh_due.c — the loop's window on a route's oldest pending events.
 *
 * Asking the store for "the route's oldest due event" after every delivery
 * cost a read transaction per event, and each one re-read the pages the
 * committer's last commit (new events, the previous done mark) had changed.
 * The window holds the route's WINDOW oldest pending events (due or
 * retrying), read in one query, and answers from memory what that query
 * would answer: the due event with the lowest seq.
 *
 * Why that stays exact: only this loop marks events done, failed or dead,
 * and it updates the window as it does; new events get higher seqs than
 * any held (AUTOINCREMENT), so they can only come after the window, which
 * is read again once it has nothing due left or `gen` (new events
 * committed) moved. When the window was full and nothing in it is due,
 * the events beyond it are asked for directly. An operator's replay (the
 * CLI, another process) is seen within MAX_AGE_MS, as the periodic pump
 * re-reads the window at that age. */
#define _GNU_SOURCE
#include "runtime/rt_wh_due.h"

#include <stdlib.h>
#include <string.h>

#include "core/status.h"

#define WINDOW 64
#define WINDOW_BYTES (1 << 20)     /* bodies are held in memory: bound them */
#define MAX_AGE_MS 1000

struct rt_wh_due {
    lira_store_event *ev[WINDOW + 1];   /* seq order; one block each */
    int n;
    int more;                           /* pending events may lie beyond */
    size_t bytes;
    uint64_t gen;
    int64_t read_ms;
    int valid;
};

rt_wh_due *rt_wh_due_new(void)
{
    return calloc(1, sizeof(rt_wh_due));
}

static void clear(rt_wh_due *c)
{
    for (int i = 0; i < c->n; i++)
        free(c->ev[i]);
    c->n = 0;
    c->more = 0;
    c->bytes = 0;
    c->valid = 0;
}

void rt_wh_due_free(rt_wh_due *c)
{
    if (!c)
        return;
    clear(c);
    free(c);
}

/* One block: the event, then its id, headers and body. */
static lira_store_event *copy_event(const lira_store_event *ev)
{
    size_t il = strlen(ev->event_id) + 1;
    lira_store_event *e = malloc(sizeof *e + il + ev->headers.len + ev->body.len + 2);
    if (!e)
        return NULL;
    *e = *ev;
    char *p = (char *)(e + 1);
    memcpy(p, ev->event_id, il);
    e->event_id = p;
    p += il;
    if (ev->headers.len)
        memcpy(p, ev->headers.ptr, ev->headers.len);
    e->headers.ptr = p;
    p += ev->headers.len;
    *p++ = '\0';
    if (ev->body.len)
        memcpy(p, ev->body.ptr, ev->body.len);
    e->body.ptr = p;
    p[ev->body.len] = '\0';
    e->route = NULL;
    e->last_error = NULL;
    return e;
}

static int add_one(void *ud, const lira_store_event *ev)
{
    rt_wh_due *c = ud;
    lira_store_event *e = c->n <= WINDOW ? copy_event(ev) : NULL;
    if (!e) {
        c->more = 1;
        return 1;
    }
    c->ev[c->n++] = e;
    c->bytes += ev->headers.len + ev->body.len;
    if (c->bytes >= WINDOW_BYTES) {
        c->more = 1;
        return 1;
    }
    return 0;
}

static int refill(rt_wh_due *c, lira_store *s, const char *route, int64_t now_ms, uint64_t gen)
{
    clear(c);
    int count = 0;
    if (lira_store_inbox_head(s, route, WINDOW, add_one, c, &count) != LIRA_OK) {
        clear(c);
        return LIRA_ESTATE;
    }
    if (count == WINDOW)
        c->more = 1;
    c->gen = gen;
    c->read_ms = now_ms;
    c->valid = 1;
    return LIRA_OK;
}

static const lira_store_event *first_due(const rt_wh_due *c, int64_t now_ms)
{
    for (int i = 0; i < c->n; i++)
        if (c->ev[i]->next_at_ms <= now_ms)
            return c->ev[i];
    return NULL;
}

const lira_store_event *rt_wh_due_next(rt_wh_due *c, lira_store *s, const char *route,
                                       int64_t now_ms, uint64_t gen)
{
    if (c->valid && now_ms - c->read_ms >= MAX_AGE_MS)
        clear(c);
    const lira_store_event *e = c->valid ? first_due(c, now_ms) : NULL;
    if (e)
        return e;
    /* Nothing due held: read again unless nothing can have changed. */
    if (!c->valid || c->more || c->gen != gen) {
        if (refill(c, s, route, now_ms, gen) != LIRA_OK)
            return NULL;
        if ((e = first_due(c, now_ms)) != NULL)
            return e;
    }
    if (!c->more || c->n > WINDOW)   /* room for one beyond the window */
        return NULL;
    /* The window is all retrying events: the first due one beyond it,
     * appended (its seq is above every one held). */
    int n0 = c->n, count = 0;
    if (lira_store_inbox_due(s, route, now_ms, 1, add_one, c, &count) != LIRA_OK || count == 0 ||
        c->n == n0)
        return NULL;
    return c->ev[c->n - 1];
}

void rt_wh_due_drop(rt_wh_due *c, int64_t seq)
{
    for (int i = 0; i < c->n; i++) {
        if (c->ev[i]->seq != seq)
            continue;
        c->bytes -= c->ev[i]->headers.len + c->ev[i]->body.len;
        free(c->ev[i]);
        memmove(&c->ev[i], &c->ev[i + 1], (size_t)(c->n - i - 1) * sizeof c->ev[0]);
        c->n--;
        return;
    }
}

void rt_wh_due_failed(rt_wh_due *c, int64_t seq, int64_t next_at_ms)
{
    for (int i = 0; i < c->n; i++) {
        if (c->ev[i]->seq == seq) {
            c->ev[i]->attempts++;
            c->ev[i]->next_at_ms = next_at_ms;
            return;
        }
    }
}
