/* json_plain.h — where a run of bytes that need no JSON escaping ends.
 *
 * The JSON writers (the log line, the OTLP encoder) copy such runs whole
 * and escape only what stops them. Pure, no allocation. */
#ifndef LIRA_JSON_PLAIN_H
#define LIRA_JSON_PLAIN_H

#include <stddef.h>

/* The index of the first byte at or after i (i <= n) of u[0..n) that is
 * not plain printable ASCII inside a JSON string: a control byte (< 0x20),
 * '"', '\\', or a byte >= 0x80 (UTF-8, checked by the caller); n when all
 * are plain. */
size_t lira_json_plain_run(const unsigned char *u, size_t i, size_t n);

#endif
