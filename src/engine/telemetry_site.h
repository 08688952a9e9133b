/* telemetry_site.h — the hub's cache of metric series per client and per
 * (client, endpoint) pair (internal to the hub: telemetry.c, telemetry_hub.c).
 *
 * Why: a call touches about ten series; looking each up hashes and
 * compares every label value again. The pipeline's strings are fresh copies
 * per call (the endpoint is copied into the call record), so the cache is
 * keyed by content: one hash of client and endpoint at call_start finds the
 * pair's entry, whose series pointers (stable until the registry is freed)
 * the rest of the call uses directly. The latest entry found is compared
 * first, byte for byte: a client calling one endpoint over and over skips
 * the hash (−46 instructions a call).
 *
 * Each pointer is filled on first use, exactly when the lookup it replaces
 * would have created the series, so the exposition is unchanged. The
 * overflow series ("other") is never cached: every update to it must still
 * be counted in lira_metrics_label_overflow_total. Entries live as long as
 * the hub; past the caps, calls fall back to plain lookups. */
#ifndef LIRA_TELEMETRY_SITE_H
#define LIRA_TELEMETRY_SITE_H

#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

#define TEL_HOST_KEEP 256        /* = LIRA_TEL_HOST_MAX */
#define TEL_METHOD_KEEP 16

typedef struct tel_client {
    uint64_t hash;
    lira_series *in_flight, *limiter_wait, *limiter_tokens;
    char name[];
} tel_client;

typedef struct tel_site {
    uint64_t hash;
    tel_client *client;
    lira_series *attempts, *call_duration;
    lira_series *requests[6];    /* by status class: 0 none, 1 1xx .. 5 5xx */
    /* The latest http_client_request_duration_seconds series of this pair
     * and its labels (method, code or error, server). */
    lira_series *http;
    int http_code;
    const char *http_err;        /* a static name: compared by pointer */
    char http_method[TEL_METHOD_KEEP];
    char http_server[TEL_HOST_KEEP];
    size_t http_method_len, http_server_len;
    /* The head of this pair's call lines (telemetry.c, call_fields): a copy
     * of the URL memo's, for the URL memo's filling head_gen (unique across
     * its entries) and the method head_method. */
    uint64_t head_gen;
    char head_method[TEL_METHOD_KEEP];
    size_t head_method_len;
    char *head;
    size_t head_len, head_cap;
    size_t client_len, endpoint_len;
    char key[];                  /* client NUL endpoint NUL */
} tel_site;

typedef struct tel_sites tel_sites;

tel_sites *lira__tel_sites_new(void);
void lira__tel_sites_free(tel_sites *c);
/* The entry of `client` (or of client and endpoint, el = strlen(endpoint):
 * the pipeline has counted it), created on first use; NULL past the cap or
 * out of memory (the caller then looks series up). */
tel_client *lira__tel_sites_client(tel_sites *c, const char *client);
tel_site *lira__tel_sites_site(tel_sites *c, const char *client, const char *endpoint,
                               size_t el);

/* The head st keeps for (gen, method), or NULL; *len its length. */
const char *lira__tel_site_head(const tel_site *st, uint64_t gen, const char *method, size_t ml,
                                size_t *len);
/* Keep a copy of head h for (gen, method) on st; nothing when it cannot
 * (out of memory, a method longer than TEL_METHOD_KEEP - 1). */
void lira__tel_site_keep_head(tel_site *st, uint64_t gen, const char *method, size_t ml,
                              const char *h, size_t hl);

/* *slot, or the series for v (filling *slot unless it is the overflow
 * series). slot may be NULL. NULL when the lookup fails. */
lira_series *lira__tel_series(lira_series **slot, lira_metric *m, const char *const *v, size_t n);

#endif
