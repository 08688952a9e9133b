/* webhook_verify_impl.h — what webhook_verify.c (verifying a delivery) and
 * webhook_config.c (checking the config, parsing the template) share.
 * Internal to webhook verification: other code uses webhook_verify.h. */
#ifndef LIRA_WEBHOOK_VERIFY_IMPL_H
#define LIRA_WEBHOOK_VERIFY_IMPL_H

#include <stddef.h>

#include "signature.h"
#include "webhook_verify.h"

/* Literal runs between at most 16 placeholders, and the placeholders. */
#define WEBHOOK_TEMPLATE_MAX_PARTS (2 * 16 + 1)

/* A piece of a received or configured text; not NUL-terminated. */
typedef struct span {
    const char *p;
    size_t len;
} span;

/* The config's check: every field, and with `trial` one signing per
 * Standard Webhooks secret to prove it decodes (lira_webhook_verify skips
 * that: a secret that does not decode fails when its turn comes to sign).
 * LIRA_OK, or LIRA_EINVAL / LIRA_ECRYPTO with the reason in why. */
int lira__webhook_config_check(const lira_webhook_config *cfg, int trial, char *why,
                               size_t whycap);

/* The generic scheme's template: signed_content, or its default. */
const char *lira__webhook_template(const lira_webhook_config *cfg);

/* Split template t into at most WEBHOOK_TEMPLATE_MAX_PARTS MAC parts:
 * literal text points into t, {body} and {timestamp} become bodyv and tsv.
 * Returns the number of parts, or -1 with *why set (a static string);
 * *has_body and *has_ts tell which placeholders were seen. */
int lira__webhook_template_parts(const char *t, span bodyv, span tsv, lira_bytes *parts,
                                 int *has_body, int *has_ts, const char **why);

#endif
