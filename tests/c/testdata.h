/* testdata.h — reading the outside test data (../shared/testdata) from C
 * tests: a whole JSON file, and a string member of an object. */
#ifndef LIRA_TESTDATA_H
#define LIRA_TESTDATA_H

#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

/* The parsed file, or NULL (with a message) when it cannot be read or
 * parsed. The caller deletes it with cJSON_Delete. */
static inline cJSON *load_json(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, cap);
            if (!nb)
                break;
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    fclose(f);
    cJSON *j = buf ? cJSON_ParseWithLength(buf, len) : NULL;
    free(buf);
    return j;
}

/* o[key] when it is a string, else NULL. */
static inline const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

#endif
