/* telemetry_url.h — a call's URL redacted once (internal to src/engine).
 *
 * Why: a call's URL goes through lira_redact_url for its log line and for
 * every attempt span it records; redaction parses the query and checks every
 * parameter name against the policy. lira_redact_url is a pure function of
 * the URL's bytes, so the hub keeps the latest results, keyed by content, and
 * the log line and the spans of a call share one. (Calls to the same URL —
 * a poller, a paginated list — share it too.) The entry also keeps the host
 * (the metrics' server_address) and whether the redacted form can go into a
 * JSON line without escaping.
 *
 * A small direct-mapped table: an entry is replaced by the next URL that
 * maps to its slot. Long URLs (or long results) are not kept: the caller
 * then redacts as before. Loop thread only, like the hub. */
#ifndef LIRA_TELEMETRY_URL_H
#define LIRA_TELEMETRY_URL_H

#include <stddef.h>
#include <stdint.h>

typedef struct lira_url_memo lira_url_memo;

lira_url_memo *lira__url_memo_new(void);     /* NULL: no memory (callers then redact) */
void lira__url_memo_free(lira_url_memo *m);

/* What the hub needs from a call's URL, worked out once per URL. */
typedef struct lira_url_info {
    const char *red;       /* the redacted URL, NUL-terminated */
    size_t red_len;
    int red_plain;         /* red needs no JSON escaping (printable ASCII, no '"' or '\\') */
    const char *host;      /* the server_address label (lira__url_host), cut at 255 bytes */
    size_t host_len;
    /* server.address and server.port of the URL's spans (lira__url_server):
     * srv_ok 0 when the URL has none; srv_plain: srv_host needs no JSON
     * escaping */
    const char *srv_host;
    size_t srv_host_len;
    long srv_port;
    int srv_ok, srv_plain;
    uint64_t gen;          /* which filling of its entry this is (never 0) */
} lira_url_info;

/* The facts about url[0..len) (valid until the next call), or NULL when m
 * is NULL or the URL or its redacted form is too long to keep: work them
 * out yourself. */
const lira_url_info *lira__url_memo_info(lira_url_memo *m, const char *url, size_t len);

/* The head of a call's log line: the pairs its first fields (client,
 * method, the redacted URL, endpoint) render to (lira_log_render_pairs),
 * kept on the URL's entry with the client, method and endpoint they were
 * made from. A line about the next call to that URL from the same client,
 * method and endpoint copies them instead of writing four fields again.
 * `in` comes from lira__url_memo_info on m, just before; each string comes
 * with its length (a NULL one with 0, and read as ""). Get: the head (*len
 * its length), or NULL when none was kept for these three. Set: keeps a copy
 * of head[0..len), replacing the entry's; NULL when it cannot (no memory). */
typedef struct lira_url_head_key {
    const char *client, *method, *endpoint;
    size_t client_len, method_len, endpoint_len;
} lira_url_head_key;

const char *lira__url_memo_head(lira_url_memo *m, const lira_url_info *in,
                                const lira_url_head_key *k, size_t *len);
const char *lira__url_memo_set_head(lira_url_memo *m, const lira_url_info *in,
                                    const lira_url_head_key *k, const char *head, size_t len);

/* The same facts again, later in the same call, without the lookup: `in`
 * as lira__url_memo_info returned it, `gen` its gen then. NULL when its
 * entry has been given to another URL since (then look it up again). */
const lira_url_info *lira__url_memo_again(const lira_url_info *in, uint64_t gen);

/* The facts a call keeps about its URL: *kept as this returned it before
 * (with *gen), while its entry still holds; else looked up and kept (both
 * NULL and 0 when not kept). NULL as lira__url_memo_info. */
const lira_url_info *lira__url_memo_kept(lira_url_memo *m, const char *url, size_t len,
                                         const lira_url_info **kept, uint64_t *gen);

/* The redacted form alone (lira__url_memo_info's red and red_len). */
const char *lira__url_memo_get(lira_url_memo *m, const char *url, size_t len, size_t *red_len);

/* The host of an absolute URL (no userinfo, no port; an IPv6 literal keeps
 * its brackets) into out (cap > 0, always NUL-terminated, cut to fit): the
 * server_address label. "" for NULL. */
void lira__url_host(const char *url, char *out, size_t cap);

/* server.address and server.port from an absolute URL (NUL-terminated):
 * the host after any userinfo (an IPv6 literal without its brackets, *host
 * pointing into url) and the written port or the scheme's default. 0 when
 * the URL has no authority. */
int lira__url_server(const char *url, const char **host, size_t *hlen, long *port);

/* The memo of the engine's hub (NULL when none): for the trace sink. */
struct lira_engine;
lira_url_memo *lira__telemetry_url_memo(const struct lira_engine *e);

#endif
