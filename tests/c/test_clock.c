#include "check.h"

#include "clock.h"
#include "status.h"

static void test_virtual_clock_moves_only_when_told(void)
{
    lira_clock c;
    CHECK_EQ(lira_clock_init_virtual(&c, 5, 1000), LIRA_OK);
    CHECK_EQ(lira_clock_now(&c), 5);
    CHECK_EQ(lira_clock_now(&c), 5);
    CHECK_EQ(lira_clock_wall(&c), 1000);
    CHECK_EQ(lira_clock_advance(&c, 10), LIRA_OK);
    CHECK_EQ(lira_clock_now(&c), 15);
    CHECK_EQ(lira_clock_wall(&c), 1010);
    CHECK_EQ(lira_clock_set(&c, 100), LIRA_OK);
    CHECK_EQ(lira_clock_now(&c), 100);
}

static void test_virtual_clock_never_goes_back(void)
{
    lira_clock c;
    lira_clock_init_virtual(&c, 100, 0);
    CHECK_EQ(lira_clock_advance(&c, -1), LIRA_EINVAL);
    CHECK_EQ(lira_clock_set(&c, 99), LIRA_EINVAL);
    CHECK_EQ(lira_clock_now(&c), 100);
    CHECK_EQ(lira_clock_advance(&c, INT64_MAX), LIRA_ERANGE);
    CHECK_EQ(lira_clock_now(&c), 100);
}

static void test_system_clock_is_monotonic(void)
{
    lira_clock c;
    CHECK_EQ(lira_clock_init_system(&c), LIRA_OK);
    int64_t prev = lira_clock_now(&c);
    for (int i = 0; i < 1000; i++) {
        int64_t t = lira_clock_now(&c);
        CHECK_INT(t, >=, prev);
        prev = t;
    }
    CHECK_INT(lira_clock_wall(&c), >, INT64_C(1600000000) * LIRA_NS_PER_SEC);
    CHECK_EQ(lira_clock_advance(&c, 1), LIRA_EINVAL);
}

static void test_wall_at_virtual_is_exact(void)
{
    lira_clock c;
    lira_clock_init_virtual(&c, 5, 1000);
    CHECK_EQ(lira_clock_wall_at(&c, 5), 1000);
    CHECK_EQ(lira_clock_wall_at(&c, 3), 998);   /* an earlier now the clock gave */
    lira_clock_advance(&c, 7 * LIRA_NS_PER_MS);
    CHECK_EQ(lira_clock_wall_at(&c, lira_clock_now(&c)), lira_clock_wall(&c));
}

/* The system clock's wall_at lies between wall reads taken around it (to
 * the microsecond that reading both clocks costs at most), keeps one offset
 * within a millisecond and samples a new one past it. */
static void test_wall_at_system_tracks_wall(void)
{
    lira_clock c;
    lira_clock_init_system(&c);
    const int64_t slack = 1000 * 1000;   /* 1 ms: scheduling between the reads */
    for (int i = 0; i < 100; i++) {
        int64_t w0 = lira_clock_wall(NULL);
        int64_t x = lira_clock_wall_at(&c, lira_clock_now(&c));
        int64_t w1 = lira_clock_wall(NULL);
        CHECK_INT(x, >=, w0 - slack);
        CHECK_INT(x, <=, w1 + slack);
    }
    int64_t n = lira_clock_now(&c), x = lira_clock_wall_at(&c, n);
    int64_t off = c.wall_ns;
    CHECK_EQ(lira_clock_wall_at(&c, n + 1000), x + 1000);   /* same offset */
    CHECK_EQ(lira_clock_wall_at(&c, n - 1000), x - 1000);
    CHECK_EQ(c.wall_ns, off);
    int64_t sampled = c.mono_ns;
    lira_clock_wall_at(&c, sampled + 2 * LIRA_NS_PER_MS);   /* past 1 ms: a new sample */
    CHECK_INT(c.mono_ns, >, sampled);
    CHECK_INT(lira_clock_wall_at(NULL, 0), >, INT64_C(1600000000) * LIRA_NS_PER_SEC);
}

static void test_bad_arguments(void)
{
    CHECK_EQ(lira_clock_init_system(NULL), LIRA_EINVAL);
    CHECK_EQ(lira_clock_init_virtual(NULL, 0, 0), LIRA_EINVAL);
    lira_clock c;
    CHECK_EQ(lira_clock_init_virtual(&c, -1, 0), LIRA_EINVAL);
    CHECK_EQ(lira_clock_advance(NULL, 1), LIRA_EINVAL);
    CHECK_INT(lira_clock_now(NULL), >, 0);
    CHECK_STR(lira_strerror(LIRA_EINVAL), "invalid argument");
    CHECK_STR(lira_strerror(12345), "unknown status");
}

int main(void)
{
    RUN(test_virtual_clock_moves_only_when_told);
    RUN(test_virtual_clock_never_goes_back);
    RUN(test_system_clock_is_monotonic);
    RUN(test_wall_at_virtual_is_exact);
    RUN(test_wall_at_system_tracks_wall);
    RUN(test_bad_arguments);
    return check_summary();
}
