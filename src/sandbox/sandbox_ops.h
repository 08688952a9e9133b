/* sandbox_ops.h — the sandbox's long-running operations (sandbox_ops.c):
 * POST /ops starts one (202 + Location), GET /ops/{id} polls it (202 while
 * running, then 200, or 303 to GET /ops/{id}/result). docs/sandbox.md
 * describes them. */
#ifndef LIRA_SANDBOX_OPS_H
#define LIRA_SANDBOX_OPS_H

#include "sandbox/sandbox_internal.h"

/* Answer any request to /ops or under /ops/ (404/405 for what is not
 * served). */
enum MHD_Result sb_route_ops(sb_req *r);

#endif
