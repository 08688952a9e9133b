/* lua_testing_tp_impl.h — the dispatching transport's own records, shared
 * by lua_testing_tp.c (dispatch and lifetime) and lua_testing_tp_mocks.c
 * (the mocks and recorders it dispatches to, and their records). Internal
 * to those two files: the binding sees only the opaque lira_ttp of
 * lua_testing.h. Loop thread only. */
#ifndef LIRA_LUA_TESTING_TP_IMPL_H
#define LIRA_LUA_TESTING_TP_IMPL_H

#include <stddef.h>

#include "lua_testing.h"

typedef struct txfer txfer;   /* one attempt in flight (lua_testing_tp.c) */

typedef struct mroute {
    char *method;          /* NULL: any */
    char *path;            /* template, without the query */
    char *query;           /* NULL: any query; else must be equal */
    char *label;
    size_t served, finite_left, forever_served;
    int forever;
} mroute;

typedef struct mock {
    int id, active, redact;
    char *label;
    lira__ttp_scope *scope;
    lira_transport *script;
    mroute *routes;
    size_t nroutes;
    lira_ttp_side *sides;
    size_t nsides, capsides;
} mock;

typedef struct recorder {
    int id, active;
    lira__ttp_scope *scope;
    lira_ttp_capture **caps;
    size_t n, cap;
} recorder;

struct lira_ttp {
    lira_transport base;       /* first */
    lira_ttp **backref;
    lira_transport *real;      /* created on first use */
    mock **mocks;
    size_t nmocks;
    recorder **recs;
    size_t nrecs;
    txfer *flying;
};

/* Free a mock: its scripted transport, routes, side notes and scope. */
void lira__ttp_mock_free(mock *m);

#endif
