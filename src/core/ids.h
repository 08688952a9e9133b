/* ids.h — request ids (UUIDv4) and W3C Trace Context ids.
 *
 * UUIDv4 (RFC 9562 §5.4): 122 random bits with the version nibble 4 and the
 * variant bits 10, written as 36 lower-case characters (8-4-4-4-12). Used for
 * X-Request-Id and generated Idempotency-Keys.
 *
 * Trace Context level 1 (https://www.w3.org/TR/trace-context/): a trace-id is
 * 16 bytes, a span-id (parent-id) 8 bytes, neither may be all zero; the
 * traceparent header is "00-<32 hex>-<16 hex>-<2 hex flags>" (55 characters).
 *
 * Randomness comes from a caller-owned lira_rng (xoshiro256**): these ids must
 * be unique, not unguessable. Nothing here allocates; every text output goes
 * into a caller buffer of explicit size and is NUL-terminated. When the buffer
 * is too small the call returns LIRA_ETOOBIG and leaves an empty string there
 * (when cap > 0), never a partial id. */
#ifndef LIRA_IDS_H
#define LIRA_IDS_H

#include <stddef.h>
#include <stdint.h>

#include "rng.h"

#define LIRA_UUID_STR_SIZE        37  /* 36 characters + NUL */
#define LIRA_TRACE_ID_SIZE        16  /* bytes */
#define LIRA_SPAN_ID_SIZE          8  /* bytes */
#define LIRA_TRACE_ID_HEX_SIZE    33  /* 32 hex + NUL */
#define LIRA_SPAN_ID_HEX_SIZE     17  /* 16 hex + NUL */
#define LIRA_TRACEPARENT_LEN      55  /* characters of a version-00 header */
#define LIRA_TRACEPARENT_STR_SIZE 56  /* 55 characters + NUL */

#define LIRA_TRACE_FLAG_SAMPLED 0x01

/* A parsed or to-be-sent traceparent. `version` is what a parse saw (a
 * future version's extra fields are dropped); format always writes 00. */
typedef struct lira_traceparent {
    uint8_t version;
    uint8_t trace_id[LIRA_TRACE_ID_SIZE];
    uint8_t span_id[LIRA_SPAN_ID_SIZE];
    uint8_t flags;
} lira_traceparent;

/* Format 16 random bytes as a UUIDv4: the version and variant bits are forced
 * (the caller's bytes are not modified). out needs cap >= LIRA_UUID_STR_SIZE.
 * LIRA_EINVAL when bytes or out is NULL; LIRA_ETOOBIG when cap is too small. */
int lira_uuid4_from_bytes(const uint8_t bytes[16], char *out, size_t cap);

/* A new UUIDv4 from 16 bytes drawn from rng. Errors as lira_uuid4_from_bytes,
 * plus LIRA_EINVAL when rng is NULL (rng is not advanced on any error). */
int lira_uuid4(lira_rng *rng, char *out, size_t cap);

/* Draw a new trace-id / span-id from rng into id; redraws until it is not all
 * zero. LIRA_EINVAL when rng or id is NULL. */
int lira_trace_id_new(lira_rng *rng, uint8_t id[LIRA_TRACE_ID_SIZE]);
int lira_span_id_new(lira_rng *rng, uint8_t id[LIRA_SPAN_ID_SIZE]);

/* The lower-case hex of b[0..n): 2n characters into out, no NUL (the
 * writers that put ids straight into a line or a body). */
void lira_hex_lower(const uint8_t *b, size_t n, char *out);

/* Lower-case hex of a trace-id (32 chars) / span-id (16 chars) into out.
 * LIRA_EINVAL when id or out is NULL; LIRA_ETOOBIG when cap is below
 * LIRA_TRACE_ID_HEX_SIZE / LIRA_SPAN_ID_HEX_SIZE. All-zero ids are formatted
 * as they are (the caller decides whether it has a trace). */
int lira_trace_id_format(const uint8_t id[LIRA_TRACE_ID_SIZE], char *out, size_t cap);
int lira_span_id_format(const uint8_t id[LIRA_SPAN_ID_SIZE], char *out, size_t cap);

/* Write the version-00 traceparent of tp (tp->version is ignored: we only
 * speak level 1, as the spec asks of a forwarder that saw a higher version).
 * LIRA_EINVAL when tp or out is NULL or either id is all zero; LIRA_ETOOBIG
 * when cap < LIRA_TRACEPARENT_STR_SIZE. */
int lira_traceparent_format(const lira_traceparent *tp, char *out, size_t cap);

/* Parse a traceparent header value of `len` bytes (no NUL needed; optional
 * spaces/tabs around it are ignored, as HTTP field values allow).
 * Version 00 must be exactly 55 characters. A higher version (01..fe) must be
 * at least 55 characters, followed by the end or '-' (extra fields are
 * ignored, per the spec's forward-compatibility rule). Rejected with
 * LIRA_EPARSE (and *out untouched): version ff, upper-case or non-hex digits,
 * wrong lengths or separators, an all-zero trace-id or span-id.
 * LIRA_EINVAL when s or out is NULL. */
int lira_traceparent_parse(const char *s, size_t len, lira_traceparent *out);

#endif
