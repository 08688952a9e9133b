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
    RUN(test_bad_arguments);
    return check_summary();
}
