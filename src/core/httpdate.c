#include "httpdate.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "status.h"

#define SECS_PER_DAY INT64_C(86400)
#define MAX_ABS_DAYS (INT64_C(1) << 40)

static const char *const month_names[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char *const day_names[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const day_names_long[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                              "Thursday", "Friday", "Saturday"};

/* ---------------------------------------------------------------- calendar */

/* Division rounding toward minus infinity, for instants before 1970. */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Eras of 400 years repeat exactly, so the arithmetic works within one era
 * counted from March (leap day last) and adds whole eras. */
int64_t lira_days_from_civil(int64_t year, int month, int day)
{
    int64_t y = year - (month <= 2);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int lira_civil_from_days(int64_t days, int64_t *year, int *month, int *day)
{
    if (!year || !month || !day)
        return LIRA_EINVAL;
    if (days > MAX_ABS_DAYS || days < -MAX_ABS_DAYS)
        return LIRA_ERANGE;
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = m;
    *year = yoe + era * 400 + (m <= 2);
    return LIRA_OK;
}

/* ------------------------------------------------------------------ parsing */

typedef struct cursor {
    const char *s;
    size_t len, i;
} cursor;

static bool lit(cursor *c, const char *text)
{
    size_t n = strlen(text);
    if (c->len - c->i < n || memcmp(c->s + c->i, text, n) != 0)
        return false;
    c->i += n;
    return true;
}

/* Exactly `count` ASCII digits. */
static bool digits(cursor *c, int count, int *out)
{
    int v = 0;
    for (int k = 0; k < count; k++) {
        if (c->i >= c->len || c->s[c->i] < '0' || c->s[c->i] > '9')
            return false;
        v = v * 10 + (c->s[c->i++] - '0');
    }
    *out = v;
    return true;
}

/* One of `n` names, taking the longest match; its index into *out. */
static bool name(cursor *c, const char *const *names, int n, int *out)
{
    int best = -1;
    size_t best_len = 0;
    for (int k = 0; k < n; k++) {
        size_t l = strlen(names[k]);
        if (l > best_len && c->len - c->i >= l && memcmp(c->s + c->i, names[k], l) == 0) {
            best = k;
            best_len = l;
        }
    }
    if (best < 0)
        return false;
    c->i += best_len;
    *out = best;
    return true;
}

typedef struct fields {
    int64_t year;
    int month, day, hour, min, sec;
} fields;

static bool time_of_day(cursor *c, fields *f)
{
    return digits(c, 2, &f->hour) && lit(c, ":") && digits(c, 2, &f->min) && lit(c, ":") &&
           digits(c, 2, &f->sec);
}

static bool month(cursor *c, fields *f)
{
    int m;
    if (!name(c, month_names, 12, &m))
        return false;
    f->month = m + 1;
    return true;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" after the day name. */
static bool imf_fixdate(cursor *c, fields *f)
{
    int y;
    if (!(lit(c, ", ") && digits(c, 2, &f->day) && lit(c, " ") && month(c, f) && lit(c, " ") &&
          digits(c, 4, &y) && lit(c, " ") && time_of_day(c, f) && lit(c, " GMT")))
        return false;
    f->year = y;
    return true;
}

/* "Sunday, 06-Nov-94 08:49:37 GMT" after the day name; the year is resolved
 * by the caller. */
static bool rfc850_date(cursor *c, fields *f)
{
    int y;
    if (!(lit(c, ", ") && digits(c, 2, &f->day) && lit(c, "-") && month(c, f) && lit(c, "-") &&
          digits(c, 2, &y) && lit(c, " ") && time_of_day(c, f) && lit(c, " GMT")))
        return false;
    f->year = y;
    return true;
}

/* "Sun Nov  6 08:49:37 1994" after the day name; the day is two digits or a
 * space and one digit. */
static bool asctime_date(cursor *c, fields *f)
{
    int y;
    if (!(lit(c, " ") && month(c, f) && lit(c, " ")))
        return false;
    if (!(lit(c, " ") ? digits(c, 1, &f->day) : digits(c, 2, &f->day)))
        return false;
    if (!(lit(c, " ") && time_of_day(c, f) && lit(c, " ") && digits(c, 4, &y)))
        return false;
    f->year = y;
    return true;
}

/* RFC 9110: a two-digit year more than 50 years in the future is the most
 * recent past year with those digits; otherwise take the nearest such year. */
static int64_t resolve_two_digit_year(int yy, int64_t now_year)
{
    int64_t y = floor_div(now_year, 100) * 100 + yy;
    if (y > now_year + 50)
        y -= 100;
    else if (y + 100 <= now_year + 50)
        y += 100;
    return y;
}

static int year_of(int64_t epoch_s, int64_t *year)
{
    int m, d;
    return lira_civil_from_days(floor_div(epoch_s, SECS_PER_DAY), year, &m, &d);
}

static bool valid(const fields *f)
{
    return f->year >= LIRA_HTTPDATE_MIN_YEAR && f->year <= LIRA_HTTPDATE_MAX_YEAR &&
           f->month >= 1 && f->month <= 12 && f->day >= 1 &&
           f->day <= days_in_month(f->year, f->month) && f->hour <= 23 && f->min <= 59 &&
           f->sec <= 60;
}

int lira_httpdate_parse(const char *s, size_t len, int64_t now_wall_s, int64_t *epoch_s)
{
    if (!s || !epoch_s)
        return LIRA_EINVAL;
    cursor c = {s, len, 0};
    fields f = {0, 0, 0, 0, 0, 0};
    int wd;
    bool ok;
    if (name(&c, day_names_long, 7, &wd)) {
        ok = rfc850_date(&c, &f);
        if (ok) {
            int64_t now_year;
            if (year_of(now_wall_s, &now_year) != LIRA_OK)
                return LIRA_EINVAL;
            f.year = resolve_two_digit_year((int)f.year, now_year);
        }
    } else if (name(&c, day_names, 7, &wd)) {
        ok = c.i < c.len && c.s[c.i] == ',' ? imf_fixdate(&c, &f) : asctime_date(&c, &f);
    } else {
        return LIRA_EPARSE;
    }
    if (!ok || c.i != c.len || !valid(&f))
        return LIRA_EPARSE;
    *epoch_s = lira_days_from_civil(f.year, f.month, f.day) * SECS_PER_DAY + f.hour * 3600 +
               f.min * 60 + f.sec;
    return LIRA_OK;
}

/* --------------------------------------------------------------- formatting */

int lira_httpdate_format(int64_t epoch_s, char *buf, size_t cap)
{
    if (!buf)
        return LIRA_EINVAL;
    if (cap >= 1)
        buf[0] = '\0';
    if (cap < LIRA_HTTPDATE_SIZE)
        return LIRA_ETOOBIG;
    int64_t days = floor_div(epoch_s, SECS_PER_DAY), year;
    int month_no, day;
    if (lira_civil_from_days(days, &year, &month_no, &day) != LIRA_OK ||
        year < LIRA_HTTPDATE_MIN_YEAR || year > LIRA_HTTPDATE_MAX_YEAR)
        return LIRA_ERANGE;
    int64_t sod = epoch_s - days * SECS_PER_DAY;
    int wd = (int)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday (4) */
    int n = snprintf(buf, cap, "%s, %02d %s %04d %02d:%02d:%02d GMT", day_names[wd], day,
                     month_names[month_no - 1], (int)year, (int)(sod / 3600),
                     (int)(sod / 60 % 60), (int)(sod % 60));
    if (n != LIRA_HTTPDATE_SIZE - 1) {
        buf[0] = '\0';
        return LIRA_ERANGE;
    }
    return LIRA_OK;
}

/* -------------------------------------------------------------- Retry-After */

static bool is_ows(char ch)
{
    return ch == ' ' || ch == '\t';
}

static int delay_seconds(const char *s, size_t len, int64_t *delay_ns)
{
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return LIRA_EPARSE;
        /* Keep scanning after saturating: "99999999999x" is still garbage. */
        if (v <= (LIRA_RETRY_AFTER_MAX_S - (s[i] - '0')) / 10)
            v = v * 10 + (s[i] - '0');
        else
            v = LIRA_RETRY_AFTER_MAX_S;
    }
    *delay_ns = v * INT64_C(1000000000);
    return LIRA_OK;
}

int lira_retry_after_parse(const char *value, size_t len, int64_t now_wall_s, int64_t *delay_ns)
{
    if (!value || !delay_ns)
        return LIRA_EINVAL;
    while (len > 0 && is_ows(value[0])) {
        value++;
        len--;
    }
    while (len > 0 && is_ows(value[len - 1]))
        len--;
    if (len == 0)
        return LIRA_EPARSE;
    if (value[0] >= '0' && value[0] <= '9')
        return delay_seconds(value, len, delay_ns);

    int64_t at;
    int rc = lira_httpdate_parse(value, len, now_wall_s, &at);
    if (rc != LIRA_OK)
        return rc == LIRA_EINVAL ? LIRA_EPARSE : rc;
    /* Both sides are far from overflow except an absurd now, so compare first. */
    if (at <= now_wall_s)
        *delay_ns = 0;
    else if (now_wall_s <= at - LIRA_RETRY_AFTER_MAX_S)
        *delay_ns = LIRA_RETRY_AFTER_MAX_NS;
    else
        *delay_ns = (at - now_wall_s) * INT64_C(1000000000);
    return LIRA_OK;
}
