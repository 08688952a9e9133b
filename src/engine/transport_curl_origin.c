/* transport_curl_origin.c — the per-host cap of the curl transport
 * (transport_curl.c): http:// origins, the transfers each has inside curl,
 * and the FIFO queue of those waiting for a connection of their own.
 *
 * Each request carries its cap (its client's `connections`; the transport's
 * host_cap when it has none). On cleartext http:// a transfer holds its
 * connection for its whole life (HTTP/2 is only negotiated over TLS here,
 * and there is no pipelining), so at most cap of an origin's transfers
 * inside curl is exactly a per-host connection cap. Queuing the others here
 * costs a list append; curl's own pending queue costs a connection set-up
 * attempt (URL parse, connection struct, cache search) per queued transfer,
 * which with 32 tasks on 16 connections was ~30 us of client CPU per
 * request. https:// is left to curl (HTTP/2 multiplexes many transfers on
 * one connection); curl's cap, the largest any request asked for, stays set
 * as the backstop (https, redirects to other hosts). */
#include "transport_curl.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "status.h"

#define ORIGIN_KEY_MAX 320

/* host[:port] of an http:// URL, lower case, without userinfo or ":80";
 * 0 when the URL is not http:// or the key does not fit. */
static size_t origin_key(const char *url, char *out, size_t cap)
{
    if (strncasecmp(url, "http://", 7) != 0)
        return 0;
    const char *a = url + 7;
    size_t n = strcspn(a, "/?#");
    for (size_t i = n; i-- > 0;) {
        if (a[i] == '@') {
            a += i + 1;
            n -= i + 1;
            break;
        }
    }
    if (n >= 3 && memcmp(a + n - 3, ":80", 3) == 0)
        n -= 3;
    if (n == 0 || n >= cap)
        return 0;
    for (size_t i = 0; i < n; i++)
        out[i] = (a[i] >= 'A' && a[i] <= 'Z') ? (char)(a[i] + 32) : a[i];
    return n;
}

static lira_origin *origin_get(lira_curl *tp, const char *key, size_t klen)
{
    for (lira_origin *o = tp->origins; o; o = o->next)
        if (o->klen == klen && memcmp(o->key, key, klen) == 0)
            return o;
    /* At c=1 every request empties its origin, which is dropped, and the
     * next one makes it again: the spare saves that allocation pair. */
    lira_origin *o = tp->spare;
    if (o && o->kcap >= klen) {
        size_t kcap = o->kcap;
        tp->spare = NULL;
        memset(o, 0, sizeof *o);
        o->kcap = kcap;
    } else {
        o = calloc(1, sizeof *o + klen);
        if (!o)
            return NULL;
        o->kcap = klen;
    }
    memcpy(o->key, key, klen);
    o->klen = klen;
    o->next = tp->origins;
    tp->origins = o;
    return o;
}

static void origin_drop_if_idle(lira_curl *tp, lira_origin *o)
{
    if (o->inflight > 0 || o->qhead)
        return;
    for (lira_origin **pp = &tp->origins; *pp; pp = &(*pp)->next) {
        if (*pp == o) {
            *pp = o->next;
            free(tp->spare);
            tp->spare = o;
            return;
        }
    }
}

/* Into curl, or into its origin's queue when the origin is at x's cap.
 * Each request carries its client's cap; curl's own cap (the backstop) is
 * raised to the largest one seen. */
int lira__curl_submit(lira_curl *tp, lira_transfer *x, const char *url)
{
    if (x->host_cap > tp->curl_host_cap) {
        tp->curl_host_cap = x->host_cap;
        curl_multi_setopt(tp->multi, CURLMOPT_MAX_HOST_CONNECTIONS, tp->curl_host_cap);
    }
    char key[ORIGIN_KEY_MAX];
    size_t klen = origin_key(url, key, sizeof key);
    lira_origin *o = klen ? origin_get(tp, key, klen) : NULL;
    if (klen && !o)
        return LIRA_ENOMEM;
    if (o && (o->inflight >= x->host_cap || o->qhead)) {
        x->origin = o;
        x->queued = 1;
        x->qnext = NULL;
        if (o->qtail)
            o->qtail->qnext = x;
        else
            o->qhead = x;
        o->qtail = x;
        return LIRA_OK;
    }
    if (curl_multi_add_handle(tp->multi, x->easy) != CURLM_OK) {
        if (o)
            origin_drop_if_idle(tp, o);
        return LIRA_ENOMEM;
    }
    x->origin = o;
    if (o)
        o->inflight++;
    return LIRA_OK;
}

static void unqueue(lira_origin *o, lira_transfer *x)
{
    lira_transfer **pp = &o->qhead, *prev = NULL;
    while (*pp && *pp != x) {
        prev = *pp;
        pp = &(*pp)->qnext;
    }
    if (!*pp)
        return;
    *pp = x->qnext;
    if (o->qtail == x)
        o->qtail = prev;
    x->qnext = NULL;
    x->queued = 0;
}

/* x is done with its origin: let the next queued transfers into curl. One
 * that curl refuses (out of memory) goes on *failed, to be completed by the
 * caller once this bookkeeping is over. */
void lira__curl_leave_origin(lira_curl *tp, lira_transfer *x, lira_transfer **failed)
{
    lira_origin *o = x->origin;
    x->origin = NULL;
    if (!o)
        return;
    if (x->queued)
        unqueue(o, x);
    else
        o->inflight--;
    while (!tp->destroying && o->qhead && o->inflight < o->qhead->host_cap) {
        lira_transfer *y = o->qhead;
        unqueue(o, y);
        if (curl_multi_add_handle(tp->multi, y->easy) == CURLM_OK) {
            o->inflight++;
            continue;
        }
        y->origin = NULL;
        y->qnext = *failed;
        *failed = y;
    }
    origin_drop_if_idle(tp, o);
}

void lira__curl_origins_free(lira_curl *tp)
{
    while (tp->origins) {            /* none left in practice: every transfer ended */
        lira_origin *o = tp->origins;
        tp->origins = o->next;
        free(o);
    }
    free(tp->spare);
    tp->spare = NULL;
}
