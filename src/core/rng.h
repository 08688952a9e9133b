/* rng.h — a fast seedable pseudo-random generator, one per engine.
 *
 * xoshiro256** (Blackman & Vigna): 4 words of state, a few ns per draw, good
 * statistical quality; not for secrets (ids.c uses it only for jitter-grade
 * randomness; keys and secrets come from OpenSSL). Seeded from OpenSSL's
 * RAND_bytes by default, or from a fixed 64-bit seed in tests, expanded with
 * splitmix64 so that any seed (even 0) gives a usable state.
 *
 * There is no global generator: each engine owns its own. */
#ifndef LIRA_RNG_H
#define LIRA_RNG_H

#include <stdint.h>

typedef struct lira_rng {
    uint64_t s[4];
} lira_rng;

/* Seed deterministically. LIRA_EINVAL when r is NULL. */
int lira_rng_seed(lira_rng *r, uint64_t seed);

/* Seed from OpenSSL RAND_bytes. LIRA_ECRYPTO if OpenSSL has no entropy (the
 * state is then seeded from the clock and the address of r, never left zero). */
int lira_rng_seed_entropy(lira_rng *r);

/* The next 64 random bits. r must not be NULL. */
uint64_t lira_rng_next(lira_rng *r);

/* A uniform double in [0, 1), 53 bits of precision. */
double lira_rng_uniform(lira_rng *r);

/* A uniform integer in [0, bound) without modulo bias; 0 when bound is 0. */
uint64_t lira_rng_below(lira_rng *r, uint64_t bound);

/* A uniform integer in [lo, hi] (inclusive); lo when hi <= lo. */
int64_t lira_rng_range(lira_rng *r, int64_t lo, int64_t hi);

#endif
