/* decimal.h: lira_dec_len and lira_dec agree with snprintf("%llu") at every
 * power of ten and its neighbours, at 0 and UINT64_MAX, and on 200 000
 * pseudo-random values of every magnitude; lira_dec_write writes exactly
 * n bytes (the buffer here is exactly n long, on the heap: ASan sees a
 * byte past it). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#include "decimal.h"

static void same_as_printf(uint64_t v)
{
    char want[32], got[LIRA_DEC_MAX + 1];
    int wl = snprintf(want, sizeof want, "%llu", (unsigned long long)v);
    size_t n = lira_dec_len(v);
    CHECK_EQ(n, (size_t)wl);
    memset(got, '#', sizeof got);
    CHECK_EQ(lira_dec(got, v), (size_t)wl);
    CHECK(memcmp(got, want, (size_t)wl) == 0);
    if ((size_t)wl < sizeof got)
        CHECK_EQ(got[wl], '#');   /* no byte past the digits */
    char *exact = malloc(n);
    lira_dec_write(exact, v, n);
    CHECK(memcmp(exact, want, n) == 0);
    free(exact);
}

static void test_edges(void)
{
    same_as_printf(0);
    same_as_printf(UINT64_MAX);
    same_as_printf(UINT64_MAX - 1);
    same_as_printf((uint64_t)INT64_MAX);
    same_as_printf((uint64_t)INT64_MAX + 1);
    uint64_t p = 1;
    for (int i = 0; i < 20; i++) {
        same_as_printf(p - 1);
        same_as_printf(p);
        same_as_printf(p + 1);
        same_as_printf(p * 2);
        same_as_printf(p * 9 + (p - 1));   /* 99..9 at the next length */
        if (i < 19)
            p *= 10;
    }
    for (int b = 0; b < 64; b++) {   /* every bit length, where the estimate changes */
        uint64_t x = (uint64_t)1 << b;
        same_as_printf(x - 1);
        same_as_printf(x);
        same_as_printf(x + 1);
    }
}

static void test_random(void)
{
    uint64_t s = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < 200000; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        same_as_printf(s >> (i % 64));   /* every magnitude */
    }
}

int main(void)
{
    RUN(test_edges);
    RUN(test_random);
    return check_summary();
}
