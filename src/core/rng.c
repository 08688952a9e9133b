#include "rng.h"

#include <openssl/rand.h>

#include "clock.h"
#include "status.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

int lira_rng_seed(lira_rng *r, uint64_t seed)
{
    if (!r)
        return LIRA_EINVAL;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
    return LIRA_OK;
}

int lira_rng_seed_entropy(lira_rng *r)
{
    if (!r)
        return LIRA_EINVAL;
    uint64_t seed;
    if (RAND_bytes((unsigned char *)&seed, (int)sizeof seed) == 1)
        return lira_rng_seed(r, seed);
    /* No entropy: still never leave a zero state (xoshiro's one bad state). */
    lira_rng_seed(r, (uint64_t)lira_clock_wall(NULL) ^ (uint64_t)(uintptr_t)r);
    return LIRA_ECRYPTO;
}

uint64_t lira_rng_next(lira_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double lira_rng_uniform(lira_rng *r)
{
    return (double)(lira_rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t lira_rng_below(lira_rng *r, uint64_t bound)
{
    if (bound == 0)
        return 0;
    /* Lemire's rejection method: reject the few values that would bias. */
    uint64_t threshold = (0 - bound) % bound;
    for (;;) {
        uint64_t x = lira_rng_next(r);
        if (x >= threshold)
            return x % bound;
    }
}

int64_t lira_rng_range(lira_rng *r, int64_t lo, int64_t hi)
{
    if (hi <= lo)
        return lo;
    uint64_t span = (uint64_t)hi - (uint64_t)lo;
    if (span == UINT64_MAX)
        return (int64_t)lira_rng_next(r);
    return (int64_t)((uint64_t)lo + lira_rng_below(r, span + 1));
}
