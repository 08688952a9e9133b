/* telemetry_site.c — the hub's series cache (telemetry_site.h). */
#include "telemetry_site.h"

#include <stdlib.h>
#include <string.h>

#include "short_bytes.h"
#include "status.h"

#define CLIENT_SLOTS 128         /* open addressing, powers of two, half full at most */
#define CLIENT_MAX 64
#define SITE_SLOTS 512
#define SITE_MAX 256

struct tel_sites {
    tel_client *clients[CLIENT_SLOTS];
    size_t nclients;
    tel_site *sites[SITE_SLOTS];
    size_t nsites;
    tel_site *last;              /* the latest found: most calls repeat it */
};

tel_sites *lira__tel_sites_new(void)
{
    return calloc(1, sizeof(tel_sites));
}

void lira__tel_sites_free(tel_sites *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < CLIENT_SLOTS; i++)
        free(c->clients[i]);
    for (size_t i = 0; i < SITE_SLOTS; i++) {
        if (c->sites[i])
            free(c->sites[i]->head);
        free(c->sites[i]);
    }
    free(c);
}

tel_client *lira__tel_sites_client(tel_sites *c, const char *client)
{
    if (!c || !client)
        return NULL;
    size_t len = strlen(client);
    uint64_t h = lira_short_hash(0, client, len);
    size_t j = (size_t)h & (CLIENT_SLOTS - 1);
    for (; c->clients[j]; j = (j + 1) & (CLIENT_SLOTS - 1)) {
        tel_client *e = c->clients[j];
        if (e->hash == h && lira_short_equal(e->name, client, len + 1))
            return e;
    }
    if (c->nclients >= CLIENT_MAX)
        return NULL;
    tel_client *e = calloc(1, sizeof *e + len + 1);
    if (!e)
        return NULL;
    e->hash = h;
    memcpy(e->name, client, len + 1);
    c->clients[j] = e;
    c->nclients++;
    return e;
}

tel_site *lira__tel_sites_site(tel_sites *c, const char *client, const char *endpoint,
                               size_t el)
{
    if (!c || !client || !endpoint)
        return NULL;
    size_t cl = strlen(client);
    tel_site *e = c->last;
    if (e && e->client_len == cl && e->endpoint_len == el &&
        lira_short_equal(e->key, client, cl) && lira_short_equal(e->key + cl + 1, endpoint, el))
        return e;   /* compared whole, as below, without the hash */
    uint64_t h = lira_short_hash(lira_short_hash(0, client, cl), endpoint, el);
    size_t j = (size_t)h & (SITE_SLOTS - 1);
    for (; c->sites[j]; j = (j + 1) & (SITE_SLOTS - 1)) {
        e = c->sites[j];
        if (e->hash == h && e->client_len == cl && e->endpoint_len == el &&
            lira_short_equal(e->key, client, cl) && lira_short_equal(e->key + cl + 1, endpoint, el))
            return c->last = e;
    }
    if (c->nsites >= SITE_MAX)
        return NULL;
    tel_client *owner = lira__tel_sites_client(c, client);
    if (!owner)
        return NULL;
    e = calloc(1, sizeof *e + cl + el + 2);
    if (!e)
        return NULL;
    e->hash = h;
    e->client = owner;
    e->client_len = cl;
    e->endpoint_len = el;
    memcpy(e->key, client, cl + 1);
    memcpy(e->key + cl + 1, endpoint, el + 1);
    c->sites[j] = e;
    c->nsites++;
    return c->last = e;
}

const char *lira__tel_site_head(const tel_site *st, uint64_t gen, const char *method, size_t ml,
                                size_t *len)
{
    if (!st || !st->head_len || st->head_gen != gen ||
        st->head_method_len != ml || !lira_short_equal(st->head_method, method, ml))
        return NULL;
    *len = st->head_len;
    return st->head;
}

void lira__tel_site_keep_head(tel_site *st, uint64_t gen, const char *method, size_t ml,
                              const char *h, size_t hl)
{
    if (!st || !hl || ml >= sizeof st->head_method)
        return;
    st->head_len = 0;   /* no valid copy until the new one is whole */
    if (hl > st->head_cap) {
        char *p = realloc(st->head, hl);
        if (!p)
            return;
        st->head = p;
        st->head_cap = hl;
    }
    memcpy(st->head, h, hl);
    memcpy(st->head_method, method, ml);
    st->head_method_len = ml;
    st->head_gen = gen;
    st->head_len = hl;
}

lira_series *lira__tel_series(lira_series **slot, lira_metric *m, const char *const *v, size_t n)
{
    if (slot && *slot)
        return *slot;
    lira_series *s;
    if (lira_metric_series(m, v, n, &s) != LIRA_OK)
        return NULL;
    if (slot && !lira_series_is_overflow(s))
        *slot = s;
    return s;
}
