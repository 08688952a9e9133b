/* log_time.c — a log line's ts: "YYYY-MM-DDTHH:MM:SS.mmmZ" (RFC 3339, UTC,
 * milliseconds) from epoch nanoseconds, without libc's time zone machinery,
 * cached per log for the second and the millisecond it holds. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "log_impl.h"
#include "status.h"

/* Days since 1970-01-01 -> civil date (H. Hinnant's algorithm): no libc
 * time zone machinery, no locale, no locks. */
static void civil(int64_t days, int *y, unsigned *m, unsigned *d)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    unsigned doe = (unsigned)(days - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static void digits(char *p, unsigned v, int n)
{
    while (n-- > 0) {
        p[n] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* "YYYY-MM-DDTHH:MM:SS" + NUL for an epoch second (>= 0). */
static void format_second(int64_t sec, char out[20])
{
    int y;
    unsigned mo, d;
    civil(sec / 86400, &y, &mo, &d);
    unsigned s = (unsigned)(sec % 86400);
    memcpy(out, "0000-00-00T00:00:00", 20);
    digits(out, (unsigned)y % 10000, 4);
    digits(out + 5, mo, 2);
    digits(out + 8, d, 2);
    digits(out + 11, s / 3600, 2);
    digits(out + 14, s / 60 % 60, 2);
    digits(out + 17, s % 60, 2);
}

int lira_log_format_ts(int64_t wall_ns, char *out, size_t cap)
{
    if (!out || cap < 25 || wall_ns < 0)
        return LIRA_EINVAL;
    char sec[20];
    format_second(wall_ns / 1000000000, sec);
    snprintf(out, cap, "%s.%03dZ", sec, (int)(wall_ns / 1000000 % 1000));
    return LIRA_OK;
}

/* The date part changes once a second, the whole of ts once a millisecond
 * (at c=32 a millisecond holds ~20 calls' lines): both are cached. */
const char *lira__log_ts(lira_log *l, int64_t wall_ns)
{
    if (wall_ns < 0)
        wall_ns = 0;
    int64_t ms = wall_ns / 1000000;
    if (ms != l->ts_ms) {
        int64_t sec = ms / 1000;
        if (sec != l->ts_sec) {
            format_second(sec, l->ts_buf);
            l->ts_sec = sec;
        }
        char *p = l->ts_buf + 19;
        p[0] = '.';
        digits(p + 1, (unsigned)(ms % 1000), 3);
        p[4] = 'Z';
        l->ts_ms = ms;
    }
    return l->ts_buf;
}
