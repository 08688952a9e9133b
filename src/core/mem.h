/* mem.h — the two allocation helpers every layer kept writing again. */
#ifndef LIRA_MEM_H
#define LIRA_MEM_H

#include <stddef.h>

/* A NUL-terminated copy of the n bytes at s (s may be NULL when n is 0).
 * The caller frees it. NULL when memory runs out. */
char *lira_strndup(const char *s, size_t n);

/* Free n strings and the array that holds them. NULL is a no-op. */
void lira_lines_free(char **lines, size_t n);

#endif
