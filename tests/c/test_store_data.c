/* test_store_data.c — checkpoints, kv state, the idempotency journal and
 * the response cache, on real SQLite files. */
#define _GNU_SOURCE
#include "check.h"

#include "status.h"
#include "store.h"
#include "store_testutil.h"

static lira_store *open_at(const char *name, const lira_store_options *o)
{
    lira_store *s = NULL;
    CHECK_EQ(lira_store_new(&s), LIRA_OK);
    CHECK_EQ(lira_store_open(s, tu_path(name), o), LIRA_OK);
    return s;
}

static int bytes_are(lira_store_bytes b, const char *want)
{
    return b.ptr && b.len == strlen(want) && memcmp(b.ptr, want, b.len) == 0;
}

static void test_checkpoint_get_set_reset(void)
{
    lira_store *s = open_at("cp.db", NULL);
    lira_store_bytes v;
    int64_t at = 0;
    CHECK_EQ(lira_store_checkpoint_get(s, "orders", &v, &at), LIRA_ENOTFOUND);
    CHECK_EQ(lira_store_errkind(s), LIRA_STORE_KNOTFOUND);
    const char *j1 = "{\"cursor\":\"abc\",\"page\":3}";
    CHECK_EQ(lira_store_checkpoint_set(s, "orders", j1, strlen(j1), 1700000000000), LIRA_OK);
    CHECK_EQ(lira_store_checkpoint_get(s, "orders", &v, &at), LIRA_OK);
    CHECK(bytes_are(v, j1));
    CHECK_EQ(((const char *)v.ptr)[v.len], '\0');   /* NUL after the bytes */
    CHECK_U64(at, ==, 1700000000000);
    CHECK_EQ(lira_store_checkpoint_set(s, "orders", "{}", 2, 1700000000001), LIRA_OK);
    CHECK_EQ(lira_store_checkpoint_get(s, "orders", &v, NULL), LIRA_OK);
    CHECK(bytes_are(v, "{}"));
    CHECK_EQ(lira_store_checkpoint_set(s, "empty", NULL, 0, 1), LIRA_OK);
    CHECK_EQ(lira_store_checkpoint_get(s, "empty", &v, NULL), LIRA_OK);
    CHECK(v.ptr != NULL && v.len == 0);
    CHECK_EQ(lira_store_checkpoint_reset(s, "orders"), LIRA_OK);
    CHECK_EQ(lira_store_checkpoint_reset(s, "orders"), LIRA_OK);
    CHECK_EQ(lira_store_checkpoint_get(s, "orders", &v, NULL), LIRA_ENOTFOUND);
    lira_store_free(s);
}

static void test_caps_give_etoobig(void)
{
    lira_store *s = open_at("caps.db", NULL);
    size_t big = (size_t)LIRA_STORE_VALUE_MAX + 1;
    char *p = calloc(1, big);
    CHECK(p != NULL);
    CHECK_EQ(lira_store_checkpoint_set(s, "c", p, big, 1), LIRA_ETOOBIG);
    CHECK_EQ(lira_store_errkind(s), LIRA_STORE_KTOOBIG);
    CHECK_EQ(lira_store_kv_set(s, "n", "k", p, big, 0, 1), LIRA_ETOOBIG);
    CHECK_EQ(lira_store_checkpoint_set(s, "c", p, big - 1, 1), LIRA_OK);   /* at the cap */
    lira_store_bytes v;
    CHECK_EQ(lira_store_checkpoint_get(s, "c", &v, NULL), LIRA_OK);
    CHECK_EQ(v.len, big - 1);
    memset(p, 'n', LIRA_STORE_NAME_MAX + 1);
    p[LIRA_STORE_NAME_MAX + 1] = '\0';
    CHECK_EQ(lira_store_checkpoint_set(s, p, "x", 1, 1), LIRA_ETOOBIG);
    p[LIRA_STORE_NAME_MAX] = '\0';
    CHECK_EQ(lira_store_checkpoint_set(s, p, "x", 1, 1), LIRA_OK);
    CHECK_EQ(lira_store_kv_set(s, "n", "k", NULL, 3, 0, 1), LIRA_EINVAL);
    free(p);
    lira_store_free(s);
}

static void test_kv_get_set_delete_expiry(void)
{
    lira_store *s = open_at("kv.db", NULL);
    lira_store_bytes v;
    int64_t exp = -1;
    CHECK_EQ(lira_store_kv_set(s, "orders", "last_id", "42", 2, 0, 1000), LIRA_OK);
    CHECK_EQ(lira_store_kv_set(s, "other", "last_id", "7", 1, 0, 1000), LIRA_OK);
    CHECK_EQ(lira_store_kv_get(s, "orders", "last_id", 1000, &v, &exp), LIRA_OK);
    CHECK(bytes_are(v, "42"));
    CHECK_EQ(exp, 0);
    CHECK_EQ(lira_store_kv_set(s, "orders", "token", "t", 1, 5000, 1000), LIRA_OK);
    CHECK_EQ(lira_store_kv_get(s, "orders", "token", 4999, &v, &exp), LIRA_OK);
    CHECK_EQ(exp, 5000);
    CHECK_EQ(lira_store_kv_get(s, "orders", "token", 5000, &v, NULL), LIRA_ENOTFOUND);
    int64_t removed = 0;
    CHECK_EQ(lira_store_kv_purge(s, 4000, &removed), LIRA_OK);
    CHECK_EQ(removed, 0);
    CHECK_EQ(lira_store_kv_purge(s, 6000, &removed), LIRA_OK);
    CHECK_EQ(removed, 1);
    CHECK_EQ(lira_store_kv_delete(s, "orders", "last_id"), LIRA_OK);
    CHECK_EQ(lira_store_kv_delete(s, "orders", "last_id"), LIRA_ENOTFOUND);
    CHECK_EQ(lira_store_kv_get(s, "other", "last_id", 1000, &v, NULL), LIRA_OK);
    CHECK(bytes_are(v, "7"));
    CHECK_EQ(lira_store_kv_set(s, "orders", "k", "v", 1, -5, 1), LIRA_EINVAL);
    lira_store_free(s);
}

typedef struct keys {
    char got[16][32];
    int n, stop_at;
} keys;

static int collect(void *ud, const lira_store_kv_row *row)
{
    keys *k = ud;
    if (k->n < 16)
        snprintf(k->got[k->n], sizeof k->got[0], "%s", row->key);
    k->n++;
    return k->stop_at && k->n >= k->stop_at;
}

static void test_kv_list_by_prefix_pages(void)
{
    lira_store *s = open_at("list.db", NULL);
    const char *names[] = { "user:1", "user:2", "user:3", "user", "userx", "team:1",
                            "\xff\xff", "\xff\xfe" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        CHECK_EQ(lira_store_kv_set(s, "ns", names[i], "v", 1, 0, 1), LIRA_OK);
    CHECK_EQ(lira_store_kv_set(s, "ns", "user:9", "v", 1, 50, 1), LIRA_OK);  /* expires */
    CHECK_EQ(lira_store_kv_set(s, "ns2", "user:4", "v", 1, 0, 1), LIRA_OK);  /* other ns */

    keys k = { .n = 0 };
    int count = 0;
    CHECK_EQ(lira_store_kv_list(s, "ns", "user:", NULL, 100, 100, collect, &k, &count), LIRA_OK);
    CHECK_EQ(count, 3);
    CHECK_STR(k.got[0], "user:1");
    CHECK_STR(k.got[2], "user:3");

    /* pages of 2: resume after the last key seen */
    memset(&k, 0, sizeof k);
    CHECK_EQ(lira_store_kv_list(s, "ns", "user", NULL, 2, 100, collect, &k, &count), LIRA_OK);
    CHECK_EQ(count, 2);
    CHECK_STR(k.got[0], "user");
    CHECK_STR(k.got[1], "user:1");
    keys k2 = { .n = 0 };
    CHECK_EQ(lira_store_kv_list(s, "ns", "user", k.got[1], 10, 100, collect, &k2, &count), LIRA_OK);
    CHECK_EQ(count, 3);
    CHECK_STR(k2.got[0], "user:2");
    CHECK_STR(k2.got[2], "userx");

    memset(&k, 0, sizeof k);
    CHECK_EQ(lira_store_kv_list(s, "ns", "\xff", NULL, 10, 100, collect, &k, &count), LIRA_OK);
    CHECK_EQ(count, 2);
    memset(&k, 0, sizeof k);
    CHECK_EQ(lira_store_kv_list(s, "ns", "", NULL, 100, 0, collect, &k, &count), LIRA_OK);
    CHECK_EQ(count, 9);   /* every key of ns, the one expiring later too */
    memset(&k, 0, sizeof k);
    k.stop_at = 2;
    CHECK_EQ(lira_store_kv_list(s, "ns", "", NULL, 100, 0, collect, &k, &count), LIRA_OK);
    CHECK_EQ(count, 2);
    CHECK_EQ(lira_store_kv_list(s, "ns", "", NULL, 0, 0, collect, &k, NULL), LIRA_EINVAL);
    CHECK_EQ(lira_store_kv_list(s, "ns", "", NULL, LIRA_STORE_LIST_MAX + 1, 0, collect, &k,
                                NULL), LIRA_EINVAL);
    lira_store_free(s);
}

static void test_idempotency_same_key_across_reopen(void)
{
    lira_store *s = open_at("idem.db", NULL);
    lira_store_idem k;
    const int64_t day = 86400000;
    CHECK_EQ(lira_store_idem_get_or_create(s, "payments", "order-17",
                                           "0b6c5f3e-1111-4aaa-8bbb-000000000001", day, 1000, &k),
             LIRA_OK);
    CHECK_EQ(k.created, 1);
    CHECK_STR(k.key, "0b6c5f3e-1111-4aaa-8bbb-000000000001");
    CHECK_EQ(lira_store_idem_get_or_create(s, "payments", "order-17", "other-candidate", day,
                                           2000, &k), LIRA_OK);
    CHECK_EQ(k.created, 0);
    CHECK_STR(k.key, "0b6c5f3e-1111-4aaa-8bbb-000000000001");
    CHECK_U64(k.created_at_ms, ==, 1000);
    CHECK_U64(k.expires_at_ms, ==, 1000 + day);
    lira_store_free(s);

    /* a rerun in a new process gets the same key */
    s = open_at("idem.db", NULL);
    CHECK_EQ(lira_store_idem_get_or_create(s, "payments", "order-17", "third", day, 3000, &k),
             LIRA_OK);
    CHECK_EQ(k.created, 0);
    CHECK_STR(k.key, "0b6c5f3e-1111-4aaa-8bbb-000000000001");
    CHECK_EQ(k.done, 0);
    CHECK_EQ(lira_store_idem_done(s, "payments", "order-17"), LIRA_OK);
    CHECK_EQ(lira_store_idem_get_or_create(s, "payments", "order-17", "fourth", day, 4000, &k),
             LIRA_OK);
    CHECK(k.done && !k.created);
    CHECK_STR(k.key, "0b6c5f3e-1111-4aaa-8bbb-000000000001");
    CHECK_EQ(lira_store_idem_done(s, "payments", "nope"), LIRA_ENOTFOUND);

    /* expired: a new key replaces it; purge removes expired rows */
    CHECK_EQ(lira_store_idem_get_or_create(s, "payments", "order-17", "fresh", day,
                                           1000 + day, &k), LIRA_OK);
    CHECK(k.created && !k.done);
    CHECK_STR(k.key, "fresh");
    CHECK_EQ(lira_store_idem_get_or_create(s, "refunds", "r1", "r-key", 10, 0, &k), LIRA_OK);
    int64_t removed = 0;
    CHECK_EQ(lira_store_idem_purge(s, 10, &removed), LIRA_OK);
    CHECK_EQ(removed, 1);
    CHECK_EQ(lira_store_idem_forget(s, "payments", "order-17"), LIRA_OK);
    CHECK_EQ(lira_store_idem_forget(s, "payments", "order-17"), LIRA_ENOTFOUND);
    CHECK_EQ(lira_store_idem_get_or_create(s, "p", "i", "k", 0, 0, &k), LIRA_EINVAL);
    CHECK_EQ(lira_store_idem_get_or_create(s, "p", "i", "", 5, 0, &k), LIRA_EINVAL);
    lira_store_free(s);
}

static void test_cache_put_get_replace(void)
{
    lira_store *s = open_at("cache.db", NULL);
    lira_store_cached c;
    CHECK_EQ(lira_store_cache_get(s, "shop", "GET", "/orders?page=1", &c), LIRA_ENOTFOUND);
    CHECK_EQ(lira_store_cache_put(s, "shop", "GET", "/orders?page=1", 200, "h: 1", 4,
                                  "[1,2]", 5, 1000), LIRA_OK);
    CHECK_EQ(lira_store_cache_get(s, "shop", "GET", "/orders?page=1", &c), LIRA_OK);
    CHECK_EQ(c.status, 200);
    CHECK(bytes_are(c.headers, "h: 1"));
    CHECK(bytes_are(c.body, "[1,2]"));
    CHECK_U64(c.stored_at_ms, ==, 1000);
    CHECK_EQ(lira_store_cache_put(s, "shop", "GET", "/orders?page=1", 203, "", 0, "[3]", 3,
                                  2000), LIRA_OK);
    CHECK_EQ(lira_store_cache_get(s, "shop", "GET", "/orders?page=1", &c), LIRA_OK);
    CHECK_EQ(c.status, 203);
    CHECK(bytes_are(c.body, "[3]"));
    CHECK(c.headers.ptr && c.headers.len == 0);
    int64_t rows = 0, bytes = 0;
    CHECK_EQ(lira_store_cache_usage(s, "shop", &rows, &bytes), LIRA_OK);
    CHECK_EQ(rows, 1);
    CHECK_EQ(bytes, 3);
    CHECK_EQ(lira_store_cache_delete(s, "shop", "GET", "/orders?page=1"), LIRA_OK);
    CHECK_EQ(lira_store_cache_delete(s, "shop", "GET", "/orders?page=1"), LIRA_ENOTFOUND);
    CHECK_EQ(lira_store_cache_usage(s, "shop", &rows, &bytes), LIRA_OK);
    CHECK(rows == 0 && bytes == 0);
    lira_store_free(s);
}

static void test_cache_evicts_oldest_per_client(void)
{
    lira_store_options o = { .cache_max_rows = 3, .cache_max_bytes = 100 };
    lira_store *s = open_at("evict.db", &o);
    char url[32];
    for (int i = 0; i < 5; i++) {
        snprintf(url, sizeof url, "/r/%d", i);
        CHECK_EQ(lira_store_cache_put(s, "a", "GET", url, 200, "", 0, "0123456789", 10,
                                      1000 + i), LIRA_OK);
    }
    CHECK_EQ(lira_store_cache_put(s, "b", "GET", "/r/0", 200, "", 0, "x", 1, 1), LIRA_OK);
    int64_t rows = 0, bytes = 0;
    CHECK_EQ(lira_store_cache_usage(s, "a", &rows, &bytes), LIRA_OK);
    CHECK(rows == 3 && bytes == 30);
    lira_store_cached c;
    CHECK_EQ(lira_store_cache_get(s, "a", "GET", "/r/0", &c), LIRA_ENOTFOUND);
    CHECK_EQ(lira_store_cache_get(s, "a", "GET", "/r/1", &c), LIRA_ENOTFOUND);
    CHECK_EQ(lira_store_cache_get(s, "a", "GET", "/r/4", &c), LIRA_OK);
    CHECK_EQ(lira_store_cache_get(s, "b", "GET", "/r/0", &c), LIRA_OK);   /* other client */

    /* bytes cap: a 90-byte body pushes out the oldest until <= 100 bytes */
    char body[90];
    memset(body, 'b', sizeof body);
    CHECK_EQ(lira_store_cache_put(s, "a", "GET", "/big", 200, "", 0, body, 90, 2000), LIRA_OK);
    CHECK_EQ(lira_store_cache_usage(s, "a", &rows, &bytes), LIRA_OK);
    CHECK(rows == 2 && bytes == 100);   /* /r/4 (10) + /big (90) */
    CHECK_EQ(lira_store_cache_get(s, "a", "GET", "/r/3", &c), LIRA_ENOTFOUND);
    char huge[101];
    memset(huge, 'h', sizeof huge);
    CHECK_EQ(lira_store_cache_put(s, "a", "GET", "/big", 200, "", 0, huge, 101, 3000),
             LIRA_ETOOBIG);
    CHECK_EQ(lira_store_cache_get(s, "a", "GET", "/big", &c), LIRA_OK);   /* old one kept */
    CHECK_EQ(c.body.len, 90);
    lira_store_free(s);
}

int main(void)
{
    tu_mkdtemp();
    RUN(test_checkpoint_get_set_reset);
    RUN(test_caps_give_etoobig);
    RUN(test_kv_get_set_delete_expiry);
    RUN(test_kv_list_by_prefix_pages);
    RUN(test_idempotency_same_key_across_reopen);
    RUN(test_cache_put_get_replace);
    RUN(test_cache_evicts_oldest_per_client);
    tu_rmtree();
    return check_summary();
}
