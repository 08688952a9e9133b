/* lira_json_plain_run: the run of bytes a JSON string carries as they are
 * ends at every byte that needs escaping or a UTF-8 check, wherever it
 * falls (inside the eight-byte word scan or the byte-by-byte tail). */
#include <string.h>

#include "check.h"

#include "json_plain.h"

static size_t run(const char *s, size_t from)
{
    return lira_json_plain_run((const unsigned char *)s, from, strlen(s));
}

static void test_all_plain(void)
{
    CHECK_EQ(run("", 0), 0);
    CHECK_EQ(run("abc", 0), 3);
    CHECK_EQ(run("GET /orders/{id}?page=2 HTTP/1.1 ~!#$%&'()*+,-./:;<=>@[]^_`", 0),
             strlen("GET /orders/{id}?page=2 HTTP/1.1 ~!#$%&'()*+,-./:;<=>@[]^_`"));
    CHECK_EQ(run("abcdefghijklmnop", 16), 16);
}

static void test_stops_at_each_special_byte_at_every_offset(void)
{
    static const char stops[] = {'"', '\\', '\n', '\t', 0x01, 0x1f, 0};
    char s[40];
    for (size_t k = 0; k + 1 < sizeof stops; k++) {
        for (size_t at = 0; at < 20; at++) {
            memset(s, 'x', sizeof s - 1);
            s[sizeof s - 1] = '\0';
            s[at] = stops[k];
            CHECK_EQ(run(s, 0), at);
            CHECK_EQ(run(s, at + 1), sizeof s - 1);
        }
    }
    memset(s, 'x', sizeof s - 1);
    s[sizeof s - 1] = '\0';
    s[9] = 0x7f;   /* DEL is a plain byte in JSON */
    CHECK_EQ(run(s, 0), sizeof s - 1);
}

static void test_stops_at_non_ascii(void)
{
    CHECK_EQ(run("abcdefgh\xc3\xa9", 0), 8);
    CHECK_EQ(run("ab\xe2\x82\xac", 0), 2);
    CHECK_EQ(run("abcdefghijk\xff", 0), 11);
}

int main(void)
{
    RUN(test_all_plain);
    RUN(test_stops_at_each_special_byte_at_every_offset);
    RUN(test_stops_at_non_ascii);
    return check_summary();
}
