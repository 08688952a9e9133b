#include "check.h"

#include <stdlib.h>

#include "link.h"
#include "rng.h"
#include "status.h"

/* lira_link_find(header, rel) -> status and URI. */
typedef struct find_case {
    const char *name, *header, *rel;
    int rc;
    const char *uri; /* expected on LIRA_OK */
} find_case;

static const find_case find_cases[] = {
    /* RFC 8288 §3.5 examples */
    {"rfc 3.5 a", "<http://example.com/TheBook/chapter2>; rel=\"previous\"; title=\"previous chapter\"",
     "previous", LIRA_OK, "http://example.com/TheBook/chapter2"},
    {"rfc 3.5 b", "</>; rel=\"http://example.net/foo\"", "http://example.net/foo", LIRA_OK, "/"},
    {"rfc 3.5 c", "</terms>; rel=\"copyright\"; anchor=\"#foo\"", "copyright", LIRA_OK, "/terms"},
    {"rfc 3.5 d prev",
     "</TheBook/chapter2>; rel=\"previous\"; title*=UTF-8'de'letztes%20Kapitel, "
     "</TheBook/chapter4>; rel=\"next\"; title*=UTF-8'de'n%c3%a4chstes%20Kapitel",
     "previous", LIRA_OK, "/TheBook/chapter2"},
    {"rfc 3.5 d next",
     "</TheBook/chapter2>; rel=\"previous\"; title*=UTF-8'de'letztes%20Kapitel, "
     "</TheBook/chapter4>; rel=\"next\"; title*=UTF-8'de'n%c3%a4chstes%20Kapitel",
     "next", LIRA_OK, "/TheBook/chapter4"},
    {"rfc 3.5 e start", "<http://example.org/>; rel=\"start http://example.net/relation/other\"",
     "start", LIRA_OK, "http://example.org/"},
    {"rfc 3.5 e other", "<http://example.org/>; rel=\"start http://example.net/relation/other\"",
     "http://example.net/relation/other", LIRA_OK, "http://example.org/"},
    /* GitHub's documented pagination header */
    {"github next",
     "<https://api.github.com/repositories/1300192/issues?page=2>; rel=\"prev\", "
     "<https://api.github.com/repositories/1300192/issues?page=4>; rel=\"next\", "
     "<https://api.github.com/repositories/1300192/issues?page=515>; rel=\"last\", "
     "<https://api.github.com/repositories/1300192/issues?page=1>; rel=\"first\"",
     "next", LIRA_OK, "https://api.github.com/repositories/1300192/issues?page=4"},
    {"github last",
     "<https://api.github.com/repositories/1300192/issues?page=2>; rel=\"prev\", "
     "<https://api.github.com/repositories/1300192/issues?page=515>; rel=\"last\"",
     "last", LIRA_OK, "https://api.github.com/repositories/1300192/issues?page=515"},
    /* variations */
    {"unquoted rel", "<https://a/2>; rel=next", "next", LIRA_OK, "https://a/2"},
    {"case-insensitive", "<https://a/2>; REL=\"NeXt\"", "next", LIRA_OK, "https://a/2"},
    {"rel list next last", "<https://a/9>; rel=\"next last\"", "last", LIRA_OK, "https://a/9"},
    {"rel list tabs", "<https://a/9>; rel=\" next\tlast \"", "next", LIRA_OK, "https://a/9"},
    {"comma in uri", "<https://a/x?ids=1,2,3>; rel=next, <https://a/y>; rel=last", "next",
     LIRA_OK, "https://a/x?ids=1,2,3"},
    {"comma in quoted param", "<https://a/1>; title=\"a, b; c\"; rel=prev, <https://a/3>; rel=next",
     "next", LIRA_OK, "https://a/3"},
    {"escaped quote", "<https://a/1>; title=\"say \\\"hi\\\", ok\"; rel=next", "next", LIRA_OK,
     "https://a/1"},
    {"whitespace everywhere", "  ,  < https://a/1 >  ;  rel  =  \"next\"  ,  ", "next", LIRA_OK,
     " https://a/1 "},
    {"empty elements", ",,<https://a/1>;rel=next,,", "next", LIRA_OK, "https://a/1"},
    {"no rel", "<https://a/1>; title=x", "next", LIRA_ENOTFOUND, NULL},
    {"other rel only", "<https://a/1>; rel=prev", "next", LIRA_ENOTFOUND, NULL},
    {"prefix is not a match", "<https://a/1>; rel=nextpage", "next", LIRA_ENOTFOUND, NULL},
    {"only first rel counts", "<https://a/1>; rel=prev; rel=next", "next", LIRA_ENOTFOUND, NULL},
    {"first of two matches", "<https://a/1>; rel=next, <https://a/2>; rel=next", "next", LIRA_OK,
     "https://a/1"},
    {"valueless param", "<https://a/1>; crossorigin; rel=next", "next", LIRA_OK, "https://a/1"},
    {"non-ascii in uri", "<https://a/\xc3\xa9\xff>; rel=next", "next", LIRA_OK,
     "https://a/\xc3\xa9\xff"},
    {"empty", "", "next", LIRA_ENOTFOUND, NULL},
    {"only whitespace", "   \t ", "next", LIRA_ENOTFOUND, NULL},
    /* garbage */
    {"truncated uri", "<https://a", "next", LIRA_EPARSE, NULL},
    {"truncated rel=", "<https://a/1>; rel=", "next", LIRA_EPARSE, NULL},
    {"unterminated quote", "<https://a/1>; rel=\"next", "next", LIRA_EPARSE, NULL},
    {"backslash at end", "<https://a/1>; rel=\"next\\", "next", LIRA_EPARSE, NULL},
    {"missing semicolon", "<https://a/1> rel=next", "next", LIRA_EPARSE, NULL},
    {"missing <", "https://a/1; rel=next", "next", LIRA_EPARSE, NULL},
    {"empty param", "<https://a/1>; ; rel=next", "next", LIRA_EPARSE, NULL},
    {"trailing semicolon", "<https://a/1>; rel=next;", "next", LIRA_EPARSE, NULL},
    {"control byte in uri", "<https://a/\x01>; rel=next", "next", LIRA_EPARSE, NULL},
    {"junk after value", "<https://a/1>; rel=next\"x\"", "next", LIRA_EPARSE, NULL},
    {"bad link after match", "<https://a/1>; rel=next, garbage", "next", LIRA_EPARSE, NULL},
    {"non-ascii junk", "\xff\xfe\x80", "next", LIRA_EPARSE, NULL},
};

static void test_find_table(void)
{
    for (size_t i = 0; i < sizeof find_cases / sizeof find_cases[0]; i++) {
        const find_case *t = &find_cases[i];
        const char *uri = NULL;
        size_t n = 0;
        int rc = lira_link_find(t->header, strlen(t->header), t->rel, &uri, &n);
        if (rc != t->rc) {
            CHECK_FAIL_("case \"%s\": rc %d (%s), want %d", t->name, rc, lira_strerror(rc), t->rc);
            continue;
        }
        if (rc == LIRA_OK && (n != strlen(t->uri) || memcmp(uri, t->uri, n) != 0))
            CHECK_FAIL_("case \"%s\": uri \"%.*s\", want \"%s\"", t->name, (int)n, uri, t->uri);
    }
}

static void test_find_respects_len(void)
{
    /* The buffer is not NUL-terminated past len: the second link is out. */
    const char h[] = "<https://a/1>; rel=prev, <https://a/2>; rel=next";
    const char *uri;
    size_t n;
    CHECK_EQ(lira_link_find(h, 23, "prev", &uri, &n), LIRA_OK);
    CHECK_EQ(lira_link_find(h, 23, "next", &uri, &n), LIRA_ENOTFOUND);
    CHECK_EQ(lira_link_find(h, 5, "prev", &uri, &n), LIRA_EPARSE);
}

static void test_iterate_links_and_params(void)
{
    const char *h = "</TheBook/chapter2>; rel=\"previous\"; title*=UTF-8'de'letztes%20Kapitel, "
                    "</TheBook/chapter4>; rel=\"next\"; crossorigin";
    lira_link_iter it;
    lira_link l;
    lira_link_param p;
    size_t pos = 0;
    CHECK_EQ(lira_link_iter_init(&it, h, strlen(h)), LIRA_OK);

    CHECK_EQ(lira_link_next(&it, &l), LIRA_OK);
    CHECK(l.uri_len == 17 && memcmp(l.uri, "/TheBook/chapter2", 17) == 0);
    CHECK_EQ(lira_link_param_next(&l, &pos, &p), LIRA_OK);
    CHECK(p.name_len == 3 && memcmp(p.name, "rel", 3) == 0);
    CHECK(p.quoted && p.value_len == 8 && memcmp(p.value, "previous", 8) == 0);
    CHECK_EQ(lira_link_param_next(&l, &pos, &p), LIRA_OK);
    CHECK(p.name_len == 6 && memcmp(p.name, "title*", 6) == 0);
    CHECK(!p.quoted && p.value_len == 26 && memcmp(p.value, "UTF-8'de'letztes%20Kapitel", 26) == 0);
    CHECK_EQ(lira_link_param_next(&l, &pos, &p), LIRA_ENOTFOUND);

    CHECK_EQ(lira_link_next(&it, &l), LIRA_OK);
    CHECK(l.uri_len == 17 && memcmp(l.uri, "/TheBook/chapter4", 17) == 0);
    pos = 0;
    CHECK_EQ(lira_link_param_next(&l, &pos, &p), LIRA_OK);
    CHECK(lira_link_rel_has(&p, "NEXT"));
    CHECK(!lira_link_rel_has(&p, "nex"));
    CHECK_EQ(lira_link_param_next(&l, &pos, &p), LIRA_OK);
    CHECK(p.name_len == 11 && p.value == NULL);
    CHECK_EQ(lira_link_param_next(&l, &pos, &p), LIRA_ENOTFOUND);

    CHECK_EQ(lira_link_next(&it, &l), LIRA_ENOTFOUND);
    CHECK_EQ(lira_link_next(&it, &l), LIRA_ENOTFOUND);
}

static void test_iterator_stops_after_parse_error(void)
{
    const char *h = "<https://a/1>; rel=next, <broken";
    lira_link_iter it;
    lira_link l;
    CHECK_EQ(lira_link_iter_init(&it, h, strlen(h)), LIRA_OK);
    CHECK_EQ(lira_link_next(&it, &l), LIRA_OK);
    CHECK_EQ(lira_link_next(&it, &l), LIRA_EPARSE);
    CHECK_EQ(lira_link_next(&it, &l), LIRA_ENOTFOUND);
}

static void test_huge_headers(void)
{
    /* 10 kB of links, the wanted one last; and 10 kB of garbage. */
    size_t cap = 12 * 1024, n = 0;
    char *h = malloc(cap);
    CHECK(h != NULL);
    if (!h)
        return;
    while (n < 10 * 1024)
        n += (size_t)snprintf(h + n, cap - n, "<https://a/p%zu>; rel=\"item\", ", n);
    n += (size_t)snprintf(h + n, cap - n, "<https://a/end>; rel=last");
    const char *uri;
    size_t ul;
    CHECK_EQ(lira_link_find(h, n, "last", &uri, &ul), LIRA_OK);
    CHECK(ul == 13 && memcmp(uri, "https://a/end", 13) == 0);

    for (size_t i = 0; i < 10 * 1024; i++)
        h[i] = (char)(0x80 + (i * 7) % 128);
    CHECK_EQ(lira_link_find(h, 10 * 1024, "next", &uri, &ul), LIRA_EPARSE);
    memset(h, '<', 10 * 1024);
    CHECK_EQ(lira_link_find(h, 10 * 1024, "next", &uri, &ul), LIRA_EPARSE);
    memset(h, '"', 10 * 1024);
    CHECK_EQ(lira_link_find(h, 10 * 1024, "next", &uri, &ul), LIRA_EPARSE);
    free(h);
}

static void test_every_truncation_is_safe(void)
{
    /* Every prefix of a valid header parses or fails cleanly (ASan checks
     * that nothing reads past len). */
    const char *full = "<https://a/x?q=1,2>; rel=\"next last\"; title=\"a \\\"b\\\", c\", </y>; rel=prev";
    size_t len = strlen(full);
    for (size_t i = 0; i <= len; i++) {
        char *copy = malloc(i ? i : 1);
        if (!copy)
            continue;
        memcpy(copy, full, i);
        const char *uri;
        size_t ul;
        int rc = lira_link_find(copy, i, "next", &uri, &ul);
        CHECK(rc == LIRA_OK || rc == LIRA_ENOTFOUND || rc == LIRA_EPARSE);
        free(copy);
    }
}

static void test_bad_arguments(void)
{
    const char *uri;
    size_t n;
    lira_link_iter it;
    lira_link l = {0};
    lira_link_param p;
    size_t pos = 0;
    CHECK_EQ(lira_link_find(NULL, 3, "next", &uri, &n), LIRA_EINVAL);
    CHECK_EQ(lira_link_find(NULL, 0, "next", &uri, &n), LIRA_ENOTFOUND);
    CHECK_EQ(lira_link_find("<a>", 3, NULL, &uri, &n), LIRA_EINVAL);
    CHECK_EQ(lira_link_find("<a>", 3, "next", NULL, &n), LIRA_EINVAL);
    CHECK_EQ(lira_link_find("<a>", 3, "next", &uri, NULL), LIRA_EINVAL);
    CHECK_EQ(lira_link_iter_init(NULL, "", 0), LIRA_EINVAL);
    CHECK_EQ(lira_link_iter_init(&it, NULL, 1), LIRA_EINVAL);
    CHECK_EQ(lira_link_next(NULL, &l), LIRA_EINVAL);
    CHECK_EQ(lira_link_param_next(NULL, &pos, &p), LIRA_EINVAL);
    CHECK_EQ(lira_link_param_next(&l, NULL, &p), LIRA_EINVAL);
    pos = 5;
    CHECK_EQ(lira_link_param_next(&l, &pos, &p), LIRA_EINVAL);
    CHECK_EQ(lira_link_rel_has(NULL, "next"), 0);
}

static void test_random_garbage(void)
{
    /* Random strings over the bytes that matter: never a crash, never a
     * URI outside the input. */
    static const char alphabet[] = "<>;,=\" \\\trelnxt/\xff\x01" "a";
    char buf[64];
    lira_rng r;
    lira_rng_seed(&r, 1);
    for (int i = 0; i < 20000; i++) {
        size_t n = (size_t)lira_rng_below(&r, sizeof buf);
        for (size_t k = 0; k < n; k++)
            buf[k] = alphabet[lira_rng_below(&r, sizeof alphabet - 1)];
        const char *uri = NULL;
        size_t ul = 0;
        int rc = lira_link_find(buf, n, "next", &uri, &ul);
        CHECK(rc == LIRA_OK || rc == LIRA_ENOTFOUND || rc == LIRA_EPARSE);
        if (rc == LIRA_OK)
            CHECK(uri >= buf && uri + ul <= buf + n);
    }
}

int main(void)
{
    RUN(test_find_table);
    RUN(test_find_respects_len);
    RUN(test_iterate_links_and_params);
    RUN(test_iterator_stops_after_parse_error);
    RUN(test_huge_headers);
    RUN(test_every_truncation_is_safe);
    RUN(test_bad_arguments);
    RUN(test_random_garbage);
    return check_summary();
}
