#include "check.h"

#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "status.h"

static void test_empty_then_text(void)
{
    lira_buf b;
    lira_buf_init(&b, 100);
    CHECK(b.p == NULL);
    CHECK_EQ(lira_buf_add(&b, NULL, 0), LIRA_OK);   /* "" is a valid result */
    CHECK_STR(b.p, "");
    CHECK_EQ(lira_buf_add(&b, "abc", 3), LIRA_OK);
    CHECK_EQ(lira_buf_add(&b, "de", 2), LIRA_OK);
    CHECK_STR(b.p, "abcde");
    CHECK_EQ(b.len, 5);
    lira_buf_free(&b);
    CHECK(b.p == NULL);
    CHECK_EQ(b.len, 0);
    CHECK_EQ(b.max, 100);
    lira_buf_free(&b);   /* twice is harmless */
    lira_buf_free(NULL);
}

static void test_grows_across_many_adds(void)
{
    lira_buf b;
    lira_buf_init(&b, 1 << 20);
    char chunk[1000];
    memset(chunk, 'x', sizeof chunk);
    for (int i = 0; i < 300; i++)
        CHECK_EQ(lira_buf_add(&b, chunk, sizeof chunk), LIRA_OK);
    CHECK_EQ(b.len, 300000);
    CHECK_EQ(b.p[b.len], '\0');
    CHECK(b.cap >= b.len + 1);
    CHECK(b.cap <= b.max + 1);
    lira_buf_free(&b);
}

static void test_cap_is_an_error_not_a_truncation(void)
{
    lira_buf b;
    lira_buf_init(&b, 5);
    CHECK_EQ(lira_buf_add(&b, "1234", 4), LIRA_OK);
    CHECK_EQ(lira_buf_add(&b, "56", 2), LIRA_ETOOBIG);
    CHECK_STR(b.p, "1234");              /* nothing of the refused add */
    CHECK_EQ(lira_buf_add(&b, "5", 1), LIRA_OK);
    CHECK_STR(b.p, "12345");
    CHECK_EQ(b.cap, 6);                   /* never more than max + NUL */
    CHECK_EQ(lira_buf_add(&b, "", 0), LIRA_OK);
    CHECK_EQ(lira_buf_add(&b, "x", 1), LIRA_ETOOBIG);
    lira_buf_free(&b);

    lira_buf_init(&b, 0);
    CHECK_EQ(lira_buf_add(&b, "", 0), LIRA_OK);
    CHECK_STR(b.p, "");
    CHECK_EQ(lira_buf_add(&b, "x", 1), LIRA_ETOOBIG);
    lira_buf_free(&b);
}

static void test_bad_input(void)
{
    lira_buf b;
    lira_buf_init(&b, 10);
    CHECK_EQ(lira_buf_add(NULL, "x", 1), LIRA_EINVAL);
    CHECK_EQ(lira_buf_add(&b, NULL, 1), LIRA_EINVAL);
    CHECK_EQ(lira_buf_add(&b, "x", SIZE_MAX), LIRA_ETOOBIG);
    CHECK(b.p == NULL);
    lira_buf_init(NULL, 10);
    lira_buf_init(&b, SIZE_MAX);          /* no cap: the size_t limit still holds */
    CHECK_EQ(lira_buf_add(&b, "x", SIZE_MAX), LIRA_ETOOBIG);
    CHECK_EQ(lira_buf_add(&b, "x", 1), LIRA_OK);
    CHECK_STR(b.p, "x");
    lira_buf_free(&b);
}

int main(void)
{
    RUN(test_empty_then_text);
    RUN(test_grows_across_many_adds);
    RUN(test_cap_is_an_error_not_a_truncation);
    RUN(test_bad_input);
    return check_summary();
}
