/* trace_sampler.c — the OpenTelemetry samplers of trace.h: always_on,
 * always_off, traceidratio and their parent-based forms, from the
 * environment's names. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"
#include "trace.h"

/* ------------------------------------------------------------ sampler */

static const char *const sampler_names[] = {
    "always_on", "always_off", "traceidratio",
    "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio",
};

const char *lira_sampler_name(lira_sampler_kind k)
{
    return (unsigned)k < sizeof sampler_names / sizeof *sampler_names ? sampler_names[k]
                                                                      : "unknown";
}

int lira_sampler_init(lira_sampler *s, lira_sampler_kind kind, double ratio)
{
    if (!s || (unsigned)kind > LIRA_SAMPLER_PARENT_TRACEIDRATIO || isnan(ratio) || ratio < 0.0 ||
        ratio > 1.0)
        return LIRA_EINVAL;
    const double two64 = 18446744073709551616.0;
    s->kind = kind;
    s->ratio = ratio;
    s->all = ratio * two64 >= two64;
    s->bound = s->all ? UINT64_MAX : (uint64_t)(ratio * two64);
    return LIRA_OK;
}

static int parse_ratio(const char *arg, double *out)
{
    if (!arg || !*arg)
        return LIRA_EPARSE;
    char *end = NULL;
    double r = strtod(arg, &end);
    while (end && (*end == ' ' || *end == '\t'))
        end++;
    if (!end || end == arg || *end || isnan(r) || r < 0.0 || r > 1.0)
        return LIRA_EPARSE;
    *out = r;
    return LIRA_OK;
}

int lira_sampler_from_env(lira_sampler *s, const char *name, const char *arg)
{
    if (!s)
        return LIRA_EINVAL;
    lira_sampler_init(s, LIRA_SAMPLER_PARENT_ALWAYS_ON, 1.0);
    if (!name || !*name)
        return LIRA_OK;
    for (size_t k = 0; k < sizeof sampler_names / sizeof *sampler_names; k++) {
        if (strcmp(name, sampler_names[k]) != 0)
            continue;
        double r = 1.0;
        int rc = LIRA_OK;
        if (k == LIRA_SAMPLER_TRACEIDRATIO || k == LIRA_SAMPLER_PARENT_TRACEIDRATIO)
            if (arg && parse_ratio(arg, &r) != LIRA_OK)
                r = 1.0, rc = LIRA_EPARSE;
        lira_sampler_init(s, (lira_sampler_kind)k, r);
        return rc;
    }
    return LIRA_EPARSE;
}

static int ratio_decide(const lira_sampler *s, const uint8_t id[LIRA_TRACE_ID_SIZE])
{
    if (s->all)
        return 1;
    uint64_t low = 0;
    for (int i = 8; i < 16; i++)
        low = low << 8 | id[i];
    return low < s->bound;
}

int lira_sampler_decide(const lira_sampler *s, const lira_span_ctx *parent,
                        const uint8_t trace_id[LIRA_TRACE_ID_SIZE])
{
    if (!s || !trace_id)
        return 0;
    int has_parent = parent && parent->valid;
    switch (s->kind) {
    case LIRA_SAMPLER_ALWAYS_ON: return 1;
    case LIRA_SAMPLER_ALWAYS_OFF: return 0;
    case LIRA_SAMPLER_TRACEIDRATIO: return ratio_decide(s, trace_id);
    case LIRA_SAMPLER_PARENT_ALWAYS_ON:
        return has_parent ? (parent->flags & LIRA_TRACE_FLAG_SAMPLED) != 0 : 1;
    case LIRA_SAMPLER_PARENT_ALWAYS_OFF:
        return has_parent ? (parent->flags & LIRA_TRACE_FLAG_SAMPLED) != 0 : 0;
    case LIRA_SAMPLER_PARENT_TRACEIDRATIO:
        return has_parent ? (parent->flags & LIRA_TRACE_FLAG_SAMPLED) != 0
                          : ratio_decide(s, trace_id);
    }
    return 0;
}
