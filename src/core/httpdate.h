/* httpdate.h — HTTP dates (RFC 9110 §5.6.7) and the Retry-After header
 * (RFC 9110 §10.2.3), with a hand-written proleptic-Gregorian calendar: no
 * timegm, no strptime, no locale, no time zone, no clock.
 *
 * Parsing accepts exactly the three forms a recipient MUST accept:
 *   IMF-fixdate  "Sun, 06 Nov 1994 08:49:37 GMT"
 *   RFC 850      "Sunday, 06-Nov-94 08:49:37 GMT"  (obsolete, two-digit year)
 *   asctime      "Sun Nov  6 08:49:37 1994"        (obsolete)
 * Names are case-sensitive as the grammar says. The weekday must be a valid
 * name but is not checked against the date (senders get it wrong, and the
 * date itself is unambiguous). Second 60 (a leap second) is accepted and
 * reads as the next minute's 00. Formatting always produces IMF-fixdate.
 *
 * Units: epoch values are int64_t seconds since 1970-01-01T00:00:00Z;
 * delays are int64_t nanoseconds. */
#ifndef LIRA_HTTPDATE_H
#define LIRA_HTTPDATE_H

#include <stddef.h>
#include <stdint.h>

/* Bytes an IMF-fixdate needs, including the terminating NUL. */
#define LIRA_HTTPDATE_SIZE 30

/* Years a date may have: the four digits of IMF-fixdate. */
#define LIRA_HTTPDATE_MIN_YEAR 0
#define LIRA_HTTPDATE_MAX_YEAR 9999

/* The largest delay Retry-After yields: whole seconds that still fit int64_t
 * nanoseconds (about 292 years). Larger values clamp to this. */
#define LIRA_RETRY_AFTER_MAX_S  (INT64_MAX / INT64_C(1000000000))
#define LIRA_RETRY_AFTER_MAX_NS (LIRA_RETRY_AFTER_MAX_S * INT64_C(1000000000))

/* Days from 1970-01-01 to year-month-day (proleptic Gregorian; month 1-12,
 * day 1-31; negative before 1970). The caller keeps the fields in range:
 * |year| below 2^40 cannot overflow. Howard Hinnant's days_from_civil. */
int64_t lira_days_from_civil(int64_t year, int month, int day);

/* The inverse: the civil date of `days` since 1970-01-01 into the outputs
 * (none may be NULL; LIRA_EINVAL then). LIRA_ERANGE when |days| > 2^40. */
int lira_civil_from_days(int64_t days, int64_t *year, int *month, int *day);

/* Parse one HTTP-date of exactly `len` bytes (no surrounding whitespace;
 * s need not be NUL-terminated) into *epoch_s. `now_wall_s` (epoch seconds)
 * resolves an RFC 850 two-digit year: the year with those digits nearest
 * now, except that one more than 50 years in the future means the century
 * before (RFC 9110). LIRA_EINVAL when s or epoch_s is NULL; LIRA_EPARSE for
 * anything that is not one of the three forms, or an impossible date or time
 * (31 Feb, hour 24); *epoch_s is untouched on error. */
int lira_httpdate_parse(const char *s, size_t len, int64_t now_wall_s, int64_t *epoch_s);

/* Write `epoch_s` as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT", 29
 * chars + NUL) into buf (caller-owned, `cap` bytes). LIRA_EINVAL when buf is
 * NULL; LIRA_ETOOBIG when cap < LIRA_HTTPDATE_SIZE; LIRA_ERANGE when the year
 * is outside [LIRA_HTTPDATE_MIN_YEAR, LIRA_HTTPDATE_MAX_YEAR]. On error buf
 * holds "" when cap >= 1. */
int lira_httpdate_format(int64_t epoch_s, char *buf, size_t cap);

/* Parse a Retry-After field value of `len` bytes (value need not be
 * NUL-terminated; spaces and tabs around it are ignored) into *delay_ns:
 *   delay-seconds  one or more ASCII digits; values above
 *                  LIRA_RETRY_AFTER_MAX_S clamp to it (never overflow)
 *   HTTP-date      the time from `now_wall_s` (epoch seconds) to that date;
 *                  0 when the date is now or in the past
 * LIRA_EINVAL when value or delay_ns is NULL; LIRA_EPARSE for anything else
 * (empty, a sign, a fraction, a NUL or non-ASCII byte, a truncated date);
 * *delay_ns is untouched on error. */
int lira_retry_after_parse(const char *value, size_t len, int64_t now_wall_s, int64_t *delay_ns);

#endif
