/* status.h — the status codes every lira C function returns.
 *
 * A function returns LIRA_OK (0) or a negative LIRA_E* code; lira_strerror()
 * names it. The core never aborts, never longjmps, and never trusts its input:
 * NULL pointers, zero or negative rates, absurd sizes and malformed text all
 * come back as one of these codes. */
#ifndef LIRA_STATUS_H
#define LIRA_STATUS_H

enum lira_status {
    LIRA_OK        =  0,
    LIRA_EINVAL    = -1,  /* an argument is NULL, out of range or inconsistent */
    LIRA_ENOMEM    = -2,  /* an allocation failed (only at creation time) */
    LIRA_ERANGE    = -3,  /* a number overflowed or is outside what can be represented */
    LIRA_EPARSE    = -4,  /* text is malformed; nothing was taken from it */
    LIRA_ENOTFOUND = -5,  /* the thing asked for is not there (a header, a link rel) */
    LIRA_ETOOBIG   = -6,  /* a cap chosen at creation was reached; output buffer too small */
    LIRA_ESTATE    = -7,  /* the object is in a state where this call makes no sense */
    LIRA_EDENIED   = -8,  /* refused by policy: breaker open, budget spent, no token */
    LIRA_ECRYPTO   = -9   /* the crypto library failed (OpenSSL) */
};

/* The static, never-NULL name of a status code, e.g. "invalid argument". */
const char *lira_strerror(int status);

#endif
