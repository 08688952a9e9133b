/* decimal.h — an unsigned 64-bit integer's decimal digits, written in place.
 *
 * The JSON writers print integers on every line and every span: a span's
 * two times have 19 digits each, a log line's status, attempts and latency
 * a few. snprintf's machinery costs more than the rest of such a field, and
 * a digit-at-a-time loop divides 64-bit numbers 19 times; here the length
 * comes first (so the digits go straight to where they belong, no copy),
 * then eight digits at a time in 32-bit arithmetic, two per table lookup.
 * Header-only: it inlines into the writers. */
#ifndef LIRA_DECIMAL_H
#define LIRA_DECIMAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define LIRA_DEC_MAX 20   /* digits of UINT64_MAX */

static const char lira__dec_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* How many digits v has (1..20). */
static inline size_t lira_dec_len(uint64_t v)
{
    static const uint64_t pow10[20] = {
        1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
        100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL,
        10000000000000ULL, 100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
        100000000000000000ULL, 1000000000000000000ULL, 10000000000000000000ULL,
    };
    /* bits * log10(2), close enough (1233 / 4096), then one compare */
    unsigned bits = 64u - (unsigned)__builtin_clzll(v | 1);
    unsigned t = (bits * 1233u) >> 12;
    return t + ((v | 1) >= pow10[t]);   /* | 1: 0 has one digit too */
}

/* Exactly eight digits of v (< 10^8), ending just before end. */
static inline char *lira__dec8(char *end, uint32_t v)
{
    uint32_t hi = v / 10000, lo = v % 10000;
    memcpy(end - 2, lira__dec_pairs + 2 * (lo % 100), 2);
    memcpy(end - 4, lira__dec_pairs + 2 * (lo / 100), 2);
    memcpy(end - 6, lira__dec_pairs + 2 * (hi % 100), 2);
    memcpy(end - 8, lira__dec_pairs + 2 * (hi / 100), 2);
    return end - 8;
}

/* The digits of v into out[0..n), n being lira_dec_len(v); no NUL. */
static inline void lira_dec_write(char *out, uint64_t v, size_t n)
{
    char *e = out + n;
    while (v >= 100000000) {
        uint64_t q = v / 100000000;
        e = lira__dec8(e, (uint32_t)(v - q * 100000000));
        v = q;
    }
    uint32_t w = (uint32_t)v;
    while (w >= 100) {
        uint32_t q = w / 100;
        e -= 2;
        memcpy(e, lira__dec_pairs + 2 * (w - 100 * q), 2);
        w = q;
    }
    if (w >= 10)
        memcpy(e - 2, lira__dec_pairs + 2 * w, 2);
    else
        e[-1] = (char)('0' + w);
}

/* lira_dec_write with its length: out needs LIRA_DEC_MAX bytes. Returns n. */
static inline size_t lira_dec(char *out, uint64_t v)
{
    size_t n = lira_dec_len(v);
    lira_dec_write(out, v, n);
    return n;
}

#endif
