/* json_plain.c — the plain-byte scan shared by lira's JSON writers. */
#include "json_plain.h"

#include <stdint.h>
#include <string.h>

static const unsigned char plain[256] = {
    [0x20] = 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,             /* 0x20-0x2f, no '"' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,                      /* 0x30-0x3f */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,                      /* 0x40-0x4f */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,                      /* 0x50-0x5f, no '\\' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,                      /* 0x60-0x6f */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,                      /* 0x70-0x7f */
};

/* Eight at a time while a whole word is plain (a byte < 0x20 or >= 0x80
 * sets a high bit of w or of w - 0x20..; '"' and '\\' make a zero byte of
 * w ^ c), then byte by byte. */
size_t lira_json_plain_run(const unsigned char *u, size_t i, size_t n)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    while (n - i >= 8) {
        uint64_t w, q, b;
        memcpy(&w, u + i, 8);
        q = w ^ (ones * '"');
        b = w ^ (ones * '\\');
        if ((w | (w - ones * 0x20) | ((q - ones) & ~q) | ((b - ones) & ~b)) & highs)
            break;
        i += 8;
    }
    while (i < n && plain[u[i]])
        i++;
    return i;
}
