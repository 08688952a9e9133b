/* upstream_impl.h — what call*.c and upstream.c share about an upstream.
 * Internal to src/engine: other layers use call.h. */
#ifndef LIRA_UPSTREAM_IMPL_H
#define LIRA_UPSTREAM_IMPL_H

#include <stdint.h>

#include "call.h"

struct lira_upstream {
    lira_engine *engine;          /* NULL once the engine is gone */
    char *name;
    int refs;                     /* the registry's own + lira_upstream_get's + calls' */
    lira_upstream_config cfg;
    int has_breaker, has_limiter, has_budget;
    lira_breaker breaker;
    lira_limiter limiter;
    lira_budget budget;
    /* Bumped when a part is re-created, so that a call holding a permit or a
     * token from the old one never gives it back to the new one. */
    uint32_t breaker_epoch, limiter_epoch;
    struct lira_call *calls;      /* live calls, so engine free can cancel them */
    struct lira_call *pool;       /* ended call records kept for reuse (call_start.c) */
    size_t npool;                 /* <= LIRA_CALL_POOL_MAX */
};

/* Take a reference (a call holds one while it is live). */
void lira__upstream_ref(lira_upstream *u);

/* Cancel every live call of `u` (done runs with CANCELLED): the engine is
 * going away. Defined in call_cancel.c. */
void lira__calls_cancel_all(lira_upstream *u);

/* Free the records kept for reuse (the upstream is being destroyed).
 * Defined in call_start.c. */
void lira__calls_pool_free(lira_upstream *u);

#endif
