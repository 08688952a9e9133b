#define _POSIX_C_SOURCE 200809L
#include "clock.h"

#include <time.h>

#include "status.h"

static int64_t read_clock(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * LIRA_NS_PER_SEC + ts.tv_nsec;
}

int lira_clock_init_system(lira_clock *c)
{
    if (!c)
        return LIRA_EINVAL;
    c->kind = LIRA_CLOCK_SYSTEM;
    c->mono_ns = 0;
    c->wall_ns = 0;
    return LIRA_OK;
}

int lira_clock_init_virtual(lira_clock *c, int64_t start_ns, int64_t wall_start_ns)
{
    if (!c || start_ns < 0 || wall_start_ns < 0)
        return LIRA_EINVAL;
    c->kind = LIRA_CLOCK_VIRTUAL;
    c->mono_ns = start_ns;
    c->wall_ns = wall_start_ns - start_ns;
    return LIRA_OK;
}

int64_t lira_clock_now(const lira_clock *c)
{
    if (c && c->kind == LIRA_CLOCK_VIRTUAL)
        return c->mono_ns;
    return read_clock(CLOCK_MONOTONIC);
}

int64_t lira_clock_wall(const lira_clock *c)
{
    if (c && c->kind == LIRA_CLOCK_VIRTUAL)
        return c->wall_ns + c->mono_ns;
    return read_clock(CLOCK_REALTIME);
}

#define WALL_SAMPLE_NS LIRA_NS_PER_MS

int64_t lira_clock_wall_at(lira_clock *c, int64_t now)
{
    if (!c)
        return read_clock(CLOCK_REALTIME);
    if (c->kind == LIRA_CLOCK_VIRTUAL)
        return c->wall_ns + now;
    int64_t d = now - c->mono_ns;
    if (c->mono_ns == 0 || d >= WALL_SAMPLE_NS || d <= -WALL_SAMPLE_NS) {
        int64_t wall = read_clock(CLOCK_REALTIME), mono = read_clock(CLOCK_MONOTONIC);
        c->wall_ns = wall - mono;
        c->mono_ns = mono > 0 ? mono : 1;
    }
    return c->wall_ns + now;
}

int lira_clock_advance(lira_clock *c, int64_t delta_ns)
{
    if (!c || c->kind != LIRA_CLOCK_VIRTUAL || delta_ns < 0)
        return LIRA_EINVAL;
    if (c->mono_ns > INT64_MAX - delta_ns)
        return LIRA_ERANGE;
    c->mono_ns += delta_ns;
    return LIRA_OK;
}

int lira_clock_set(lira_clock *c, int64_t to_ns)
{
    if (!c || c->kind != LIRA_CLOCK_VIRTUAL || to_ns < c->mono_ns)
        return LIRA_EINVAL;
    c->mono_ns = to_ns;
    return LIRA_OK;
}
