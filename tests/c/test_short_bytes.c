/* short_bytes.h: lira_short_equal agrees with memcmp at every length from 0
 * to 40 with a difference at every offset; lira_short_copy copies exactly n
 * bytes; all three read (and write) only the n bytes they are given (every buffer here is exactly n bytes on the heap,
 * so ASan reports a byte past the end); the hash tells those strings apart
 * and depends on where a part ends. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#include "short_bytes.h"

#define MAXLEN 40

static unsigned char *exact(size_t n, unsigned char fill)
{
    unsigned char *p = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(fill + i * 7);
    return p;
}

static void test_equal_agrees_with_memcmp(void)
{
    for (size_t n = 0; n <= MAXLEN; n++) {
        unsigned char *a = exact(n, 'a'), *b = exact(n, 'a');
        CHECK(lira_short_equal(a, b, n));
        for (size_t at = 0; at < n; at++) {
            for (int bit = 0; bit < 8; bit++) {
                b[at] ^= (unsigned char)(1u << bit);
                CHECK_EQ(lira_short_equal(a, b, n), memcmp(a, b, n) == 0);
                CHECK(!lira_short_equal(a, b, n));
                b[at] ^= (unsigned char)(1u << bit);
            }
        }
        CHECK(lira_short_equal(a, b, n));
        free(a);
        free(b);
    }
}

static void test_copy_exactly_n(void)
{
    for (size_t n = 0; n <= MAXLEN; n++) {
        unsigned char *src = exact(n, 'k'), *dst = malloc(n + 2);
        memset(dst, '#', n + 2);
        lira_short_copy(dst + 1, src, n);
        CHECK_EQ(dst[0], '#');
        CHECK(memcmp(dst + 1, src, n) == 0);
        CHECK_EQ(dst[n + 1], '#');
        unsigned char *to = malloc(n ? n : 1);   /* exactly n: ASan sees a byte past it */
        lira_short_copy(to, src, n);
        CHECK(memcmp(to, src, n) == 0);
        free(src);
        free(dst);
        free(to);
    }
}

static void test_hash_tells_strings_apart(void)
{
    uint64_t seen[(MAXLEN + 1) * (MAXLEN + 1)];
    size_t k = 0;
    for (size_t n = 0; n <= MAXLEN; n++) {
        unsigned char *a = exact(n, 'a'), *b = exact(n, 'a');
        uint64_t h = lira_short_hash(0, a, n);
        CHECK_EQ(lira_short_hash(0, b, n), h);   /* the same bytes elsewhere */
        seen[k++] = h;
        for (size_t at = 0; at < n; at++) {   /* one byte changed, at each offset */
            b[at] ^= 0x20;
            seen[k++] = lira_short_hash(0, b, n);
            b[at] ^= 0x20;
        }
        free(a);
        free(b);
    }
    size_t dup = 0;
    for (size_t i = 0; i < k; i++)
        for (size_t j = i + 1; j < k; j++)
            dup += seen[i] == seen[j];
    CHECK_EQ(dup, 0);
}

/* A site's key is client then endpoint: where the client ends matters. */
static void test_hash_of_parts(void)
{
    uint64_t ab_c = lira_short_hash(lira_short_hash(0, "ab", 2), "c", 1);
    uint64_t a_bc = lira_short_hash(lira_short_hash(0, "a", 1), "bc", 2);
    uint64_t abc_ = lira_short_hash(lira_short_hash(0, "abc", 3), "", 0);
    CHECK(ab_c != a_bc);
    CHECK(ab_c != abc_);
    CHECK(a_bc != abc_);
    CHECK(lira_short_hash(0, "", 0) != lira_short_hash(1, "", 0));
}

int main(void)
{
    RUN(test_equal_agrees_with_memcmp);
    RUN(test_copy_exactly_n);
    RUN(test_hash_tells_strings_apart);
    RUN(test_hash_of_parts);
    return check_summary();
}
