/* buf.c — see buf.h. */
#include "buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

#define FIRST_CAP 256

void lira_buf_init(lira_buf *b, size_t max)
{
    if (!b)
        return;
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

/* Room for len + n content bytes and the NUL (the caller checked that
 * len + n <= max), never more than max + 1 bytes. */
static int reserve(lira_buf *b, size_t n)
{
    size_t need = b->len + n + 1;
    if (need <= b->cap)
        return LIRA_OK;
    size_t limit = b->max < SIZE_MAX ? b->max + 1 : SIZE_MAX;
    size_t cap = b->cap ? b->cap : FIRST_CAP;
    while (cap < need)
        cap = cap > limit / 2 ? limit : cap * 2;
    if (cap > limit)
        cap = limit;
    char *p = realloc(b->p, cap);
    if (!p)
        return LIRA_ENOMEM;
    b->p = p;
    b->cap = cap;
    return LIRA_OK;
}

int lira_buf_add(lira_buf *b, const void *data, size_t n)
{
    if (!b || (!data && n) || b->len > b->max)
        return LIRA_EINVAL;
    if (n > b->max - b->len || n >= SIZE_MAX - b->len)
        return LIRA_ETOOBIG;   /* the second: no room for the NUL */
    int rc = reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return LIRA_OK;
}

void lira_buf_free(lira_buf *b)
{
    if (!b)
        return;
    free(b->p);
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
}
