/* call_cancel.c — cancelling calls: one (lira_call_cancel), or every live
 * call of an upstream when its engine goes away.
 *
 * A call owns exactly one pending thing in its phase (call.c), so cancel
 * is a switch on the phase: stop that one thing, then end the call through
 * the pipeline's own stop (done runs with CANCELLED). */
#include "call_impl.h"

void lira_call_cancel(lira_call *c)
{
    if (!c || c->ph == PH_DONE || c->cancelling)
        return;
    int64_t now = lira_engine_now(c->e);
    c->cancelling = 1;
    switch (c->ph) {
    case PH_TOKEN:
        lira_timer_stop(c->e, &c->timer);
        lira__call_give_back_token(c, now);
        break;
    case PH_BACKOFF:
        lira_timer_stop(c->e, &c->timer);
        break;
    case PH_DELIVER:
        lira_timer_stop(c->e, &c->timer);
        lira_http_response_free(c->r.res);
        c->r.res = NULL;
        break;
    case PH_ATTEMPT:
        if (c->xfer)   /* done(CANCELLED) runs inside: see call.c's on_attempt_done */
            c->tp->ops->cancel(c->tp, c->xfer);
        break;
    default:
        break;
    }
    lira__call_stop(c, now, LIRA_STOP_CANCELLED, LIRA_KIND_CANCELLED, -1);
}

void lira__calls_cancel_all(lira_upstream *u)
{
    while (u->calls)
        lira_call_cancel(u->calls);
}
