/* short_bytes.h — comparing, copying and hashing short byte strings:
 * client names, methods, endpoints, the keys of the telemetry hub's caches
 * looked up on every call, a log line's keys. At these lengths (3..40 bytes) memcmp's and a byte-at-a-time
 * hash's set-up and loop cost more than the work, so both go a word at a
 * time: whole 8-byte words, then one last word that overlaps the one before
 * (never a byte past n, never a byte before s). Header-only: they inline
 * into their callers. */
#ifndef LIRA_SHORT_BYTES_H
#define LIRA_SHORT_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* a[0..n) == b[0..n). */
static inline int lira_short_equal(const void *a, const void *b, size_t n)
{
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    uint64_t u, v;
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8) {
            memcpy(&u, x + i, 8), memcpy(&v, y + i, 8);
            if (u != v)
                return 0;
        }
        memcpy(&u, x + n - 8, 8), memcpy(&v, y + n - 8, 8);
        return u == v;
    }
    if (n >= 4) {
        uint32_t p, q, r, s;
        memcpy(&p, x, 4), memcpy(&q, y, 4), memcpy(&r, x + n - 4, 4), memcpy(&s, y + n - 4, 4);
        return p == q && r == s;
    }
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return 0;
    return 1;
}

/* memcpy(d, s, n) without a call for n <= 32 (moves that overlap), and
 * memcpy's own for longer: for keys and small values copied into a line. */
static inline void lira_short_copy(void *d, const void *s, size_t n)
{
    unsigned char *o = (unsigned char *)d;
    const unsigned char *p = (const unsigned char *)s;
    if (n > 32) {
        memcpy(o, p, n);
    } else if (n > 16) {
        unsigned char a[16], b[16];
        memcpy(a, p, 16), memcpy(b, p + n - 16, 16);
        memcpy(o, a, 16), memcpy(o + n - 16, b, 16);
    } else if (n >= 8) {
        uint64_t a, b;
        memcpy(&a, p, 8), memcpy(&b, p + n - 8, 8);
        memcpy(o, &a, 8), memcpy(o + n - 8, &b, 8);
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, p, 4), memcpy(&b, p + n - 4, 4);
        memcpy(o, &a, 4), memcpy(o + n - 4, &b, 4);
    } else {
        for (size_t i = 0; i < n; i++)
            o[i] = p[i];
    }
}

/* Mixes s[0..n) (and n, so "ab"+"c" and "a"+"bc" differ) into h: a table
 * index, not a defence against chosen keys (the caches cap their entries
 * and compare the bytes). */
static inline uint64_t lira_short_hash(uint64_t h, const void *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    const uint64_t k = 0x9E3779B97F4A7C15ULL;
    uint64_t w;
    h ^= (uint64_t)n * k;
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8) {
            memcpy(&w, p + i, 8);
            h = (h ^ w) * k;
            h ^= h >> 29;
        }
        memcpy(&w, p + n - 8, 8);
    } else if (n >= 4) {
        uint32_t lo, hi;
        memcpy(&lo, p, 4), memcpy(&hi, p + n - 4, 4);
        w = (uint64_t)lo | (uint64_t)hi << 32;
    } else {
        w = n ? (uint64_t)p[0] | (uint64_t)p[n / 2] << 8 | (uint64_t)p[n - 1] << 16 : 0;
    }
    h = (h ^ w) * k;
    return h ^ (h >> 32);
}

#endif
