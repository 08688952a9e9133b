/* rt_wh_due.h — the loop's window on a route's oldest pending events
 * (rt_wh_due.c). */
#ifndef LIRA_RT_WH_DUE_H
#define LIRA_RT_WH_DUE_H

#include <stdint.h>

#include "engine/store.h"

typedef struct rt_wh_due rt_wh_due;

rt_wh_due *rt_wh_due_new(void);
void rt_wh_due_free(rt_wh_due *c);
/* The route's due event with the lowest seq (what lira_store_inbox_due
 * with limit 1 answers), or NULL (nothing due, or a store error). `gen`
 * changes whenever new events may have been committed. The event stays
 * valid until the next call on c. */
const lira_store_event *rt_wh_due_next(rt_wh_due *c, lira_store *s, const char *route,
                                       int64_t now_ms, uint64_t gen);
/* The event is done or dead: it leaves the window. */
void rt_wh_due_drop(rt_wh_due *c, int64_t seq);
/* A failed attempt was recorded (still pending): as the store has it. */
void rt_wh_due_failed(rt_wh_due *c, int64_t seq, int64_t next_at_ms);

#endif
