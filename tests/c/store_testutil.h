/* store_testutil.h — temp dirs and file snapshots for the test_store*
 * files: real SQLite files under a mkdtemp() folder, removed at the end. */
#ifndef LIRA_STORE_TESTUTIL_H
#define LIRA_STORE_TESTUTIL_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tu_dir[256];

static inline void tu_mkdtemp(void)
{
    snprintf(tu_dir, sizeof tu_dir, "/tmp/lira_store_test.XXXXXX");
    if (!mkdtemp(tu_dir)) {
        perror("mkdtemp");
        exit(1);
    }
}

static inline int tu_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    remove(p);
    return 0;
}

static inline void tu_rmtree(void)
{
    nftw(tu_dir, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* tu_dir + "/" + name, in a static ring of buffers (a few live at once). */
static inline const char *tu_path(const char *name)
{
    static char ring[4][512];
    static int next;
    char *p = ring[next++ & 3];
    snprintf(p, 512, "%s/%s", tu_dir, name);
    return p;
}

/* Whole file in a malloc'd buffer (NULL when absent); *len its size. */
static inline unsigned char *tu_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    *len = 0;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(n > 0 ? (size_t)n : 1);
    if (b && n > 0 && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = b ? (size_t)n : 0;
    return b;
}

static inline void tu_write(const char *path, const void *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, len, f) != len) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

static inline int tu_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

#endif
