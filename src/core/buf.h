/* buf.h — a growable byte buffer with a cap chosen at creation (curl's
 * curlx_dyn_init(buf, toobig)): request and response bodies, rendered
 * text. Reaching the cap is an ordinary error, not a crash.
 *
 * Once anything was added (even zero bytes) the content is NUL-terminated,
 * so text users may read b->p as a C string; before that p is NULL. The
 * struct's fields are for reading; change them only through these calls. */
#ifndef LIRA_BUF_H
#define LIRA_BUF_H

#include <stddef.h>

typedef struct lira_buf {
    char *p;        /* owned; NULL until the first add */
    size_t len;     /* bytes of content, the NUL not counted */
    size_t cap;     /* bytes allocated */
    size_t max;     /* the most content bytes it may hold */
} lira_buf;

/* An empty buffer that will hold at most `max` bytes. Allocates nothing, so
 * it needs no lira_buf_free() until the first add. */
void lira_buf_init(lira_buf *b, size_t max);

/* Append n bytes of data, growing the allocation (doubling) as needed.
 * Returns LIRA_OK; LIRA_EINVAL when b is NULL or data is NULL with n > 0;
 * LIRA_ETOOBIG when len + n would pass max; LIRA_ENOMEM. On an error
 * nothing was appended and the content is as it was. */
int lira_buf_add(lira_buf *b, const void *data, size_t n);

/* Frees the content; b is empty again, with the same max. NULL is a no-op. */
void lira_buf_free(lira_buf *b);

#endif
