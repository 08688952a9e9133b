/* check.h — lira's tiny C test harness.
 *
 * One test file is one executable registered with ctest. Write tests as
 * `static void test_x(void)` functions and run them from main() with RUN():
 *
 *     int main(void) { RUN(test_x); RUN(test_y); return check_summary(); }
 *
 * A failing CHECK prints file:line, the expression and both values, marks the
 * current test failed and carries on (so one run shows every failure). The
 * last line a file prints is "N passed, N failed". */
#ifndef LIRA_CHECK_H
#define LIRA_CHECK_H

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static int check_failures_in_test;
static int check_tests_passed;
static int check_tests_failed;
static const char *check_current_test = "";

#define CHECK_FAIL_(...)                                                     \
    do {                                                                     \
        fprintf(stderr, "%s:%d: in %s: ", __FILE__, __LINE__,               \
                check_current_test);                                         \
        fprintf(stderr, __VA_ARGS__);                                        \
        fputc('\n', stderr);                                                 \
        check_failures_in_test++;                                            \
    } while (0)

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond))                                                         \
            CHECK_FAIL_("CHECK(%s) failed", #cond);                          \
    } while (0)

#define CHECK_INT(a, op, b)                                                  \
    do {                                                                     \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);      \
        if (!(check_a_ op check_b_))                                         \
            CHECK_FAIL_("CHECK_INT(%s %s %s) failed: %lld vs %lld", #a, #op, \
                        #b, check_a_, check_b_);                             \
    } while (0)

#define CHECK_EQ(a, b) CHECK_INT(a, ==, b)

#define CHECK_U64(a, op, b)                                                  \
    do {                                                                     \
        unsigned long long check_a_ = (unsigned long long)(a);               \
        unsigned long long check_b_ = (unsigned long long)(b);               \
        if (!(check_a_ op check_b_))                                         \
            CHECK_FAIL_("CHECK_U64(%s %s %s) failed: %llu vs %llu", #a, #op, \
                        #b, check_a_, check_b_);                             \
    } while (0)

#define CHECK_NEAR(a, b, eps)                                                \
    do {                                                                     \
        double check_a_ = (double)(a), check_b_ = (double)(b);               \
        if (!(fabs(check_a_ - check_b_) <= (double)(eps)))                   \
            CHECK_FAIL_("CHECK_NEAR(%s, %s, %s) failed: %.17g vs %.17g",     \
                        #a, #b, #eps, check_a_, check_b_);                   \
    } while (0)

#define CHECK_STR(a, b)                                                      \
    do {                                                                     \
        const char *check_a_ = (a), *check_b_ = (b);                         \
        if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0)       \
            CHECK_FAIL_("CHECK_STR(%s, %s) failed: \"%s\" vs \"%s\"", #a,    \
                        #b, check_a_ ? check_a_ : "(null)",                  \
                        check_b_ ? check_b_ : "(null)");                     \
    } while (0)

#define RUN(fn)                                                              \
    do {                                                                     \
        check_current_test = #fn;                                            \
        check_failures_in_test = 0;                                          \
        fn();                                                                \
        if (check_failures_in_test) {                                        \
            check_tests_failed++;                                            \
            fprintf(stderr, "FAIL %s\n", #fn);                               \
        } else {                                                             \
            check_tests_passed++;                                            \
        }                                                                    \
    } while (0)

static inline int check_summary(void)
{
    printf("%d passed, %d failed\n", check_tests_passed, check_tests_failed);
    return check_tests_failed ? 1 : 0;
}

#endif
