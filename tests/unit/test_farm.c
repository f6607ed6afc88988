/*
 * Unit tests for the pure parts of the farm: the etcd gateway's messages
 * (farm/etcd_msg.c: base64, numbers as strings, requests, range and txn
 * answers, errors, the watch stream and its messages), the farm's records
 * and member entries (farm/record.c: encode/decode, the checks an older
 * member makes, keys, revision bookkeeping) and binding_overrides
 * (runtime/config.c). The answers are shaped as etcd 3.4's gateway writes
 * them (captured from a real one).
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/net.h"
#include "farm/etcd_msg.h"
#include "farm/record.h"
#include "metabase/mb.h"
#include "metabase/props.h"
#include "runtime/config.h"

static json_t *parse(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);

    cr_assert_not_null(j, "bad test JSON: %s", je.text);
    return j;
}

/* ---- base64, numbers, range ends ---- */

Test(etcd_msg, base64_round_trip_and_refusals)
{
    char *b = etcd_msg_b64("/x/a", 4), *d;
    size_t n = 99;

    cr_assert_str_eq(b, "L3gvYQ==");
    d = etcd_msg_unb64(b, 100, &n);
    cr_assert_eq(n, 4);
    cr_assert_str_eq(d, "/x/a");
    free(d);
    free(b);
    d = etcd_msg_unb64("", 10, &n);
    cr_assert_eq(n, 0);
    free(d);
    cr_assert_null(etcd_msg_unb64("L3gvYQ", 10, &n), "no padding");
    cr_assert_null(etcd_msg_unb64("L3gv YQ==", 10, &n), "inner space");
    cr_assert_null(etcd_msg_unb64("L3gvYQ==x", 10, &n), "trailing garbage");
    cr_assert_null(etcd_msg_unb64("aGVsbG8=", 4, &n), "longer than allowed");
    d = etcd_msg_unb64("aGVsbG8=", 5, &n);
    cr_assert_str_eq(d, "hello");
    free(d);
    d = etcd_msg_unb64("AGEA", 10, &n); /* values may hold NUL bytes */
    cr_assert_eq(n, 3);
    cr_assert(d[0] == 0 && d[1] == 'a' && d[2] == 0);
    free(d);
}

Test(etcd_msg, gateway_numbers)
{
    int64_t v = 7;
    json_t *j;

    cr_assert_eq(etcd_msg_int(NULL, &v), 0);
    cr_assert_eq(v, 0, "absent is zero");
    j = json_string("4111120373895259914");
    cr_assert_eq(etcd_msg_int(j, &v), 0);
    cr_assert_eq(v, 4111120373895259914LL);
    json_decref(j);
    j = json_integer(12);
    cr_assert_eq(etcd_msg_int(j, &v), 0);
    cr_assert_eq(v, 12);
    json_decref(j);
    const char *bad[] = {"", "12x", "x", " 1", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        j = json_string(bad[i]);
        cr_assert_eq(etcd_msg_int(j, &v), -1, "\"%s\"", bad[i]);
        json_decref(j);
    }
    j = json_true();
    cr_assert_eq(etcd_msg_int(j, &v), -1);
    json_decref(j);
}

Test(etcd_msg, prefix_end_covers_the_prefix_only)
{
    char *e = etcd_msg_prefix_end("/infosrv/farms/web/");

    cr_assert_str_eq(e, "/infosrv/farms/web0");
    cr_assert_gt(strcmp("/infosrv/farms/web/zzz", "/infosrv/farms/web/"), 0);
    cr_assert_lt(strcmp("/infosrv/farms/web/zzz", e), 0);
    cr_assert_geq(strcmp("/infosrv/farms/web0", e), 0);
    free(e);
    e = etcd_msg_prefix_end("a\xff");
    cr_assert_str_eq(e, "b");
    free(e);
}

/* ---- requests ---- */

Test(etcd_msg, requests_are_what_the_gateway_takes)
{
    json_t *r = etcd_msg_range_req("/f/revisions/", "/f/revisions0", 0, true), *want;

    want = parse("{\"key\": \"L2YvcmV2aXNpb25zLw==\", \"range_end\": \"L2YvcmV2aXNpb25zMA==\","
                 " \"keys_only\": true}");
    cr_assert(json_equal(r, want));
    json_decref(r);
    json_decref(want);
    r = etcd_msg_put_op("/f/head", "12", 2, 4111120373895259914LL);
    want = parse("{\"request_put\": {\"key\": \"L2YvaGVhZA==\", \"value\": \"MTI=\","
                 " \"lease\": \"4111120373895259914\"}}");
    cr_assert(json_equal(r, want));
    json_decref(r);
    json_decref(want);
    r = etcd_msg_cmp_value("/f/head", NULL);
    want = parse("{\"key\": \"L2YvaGVhZA==\", \"target\": \"CREATE\", \"result\": \"EQUAL\","
                 " \"create_revision\": \"0\"}");
    cr_assert(json_equal(r, want), "an absent key has create_revision 0");
    json_decref(r);
    json_decref(want);
    r = etcd_msg_cmp_value("/f/head", "12");
    cr_assert_str_eq(json_string_value(json_object_get(r, "target")), "VALUE");
    cr_assert_str_eq(json_string_value(json_object_get(r, "value")), "MTI=");
    json_decref(r);
    r = etcd_msg_watch_req("/f/", 42);
    want = parse("{\"create_request\": {\"key\": \"L2Yv\", \"range_end\": \"L2Yw\","
                 " \"start_revision\": \"42\"}}");
    cr_assert(json_equal(r, want));
    json_decref(r);
    json_decref(want);
    r = etcd_msg_txn_req(NULL, NULL, NULL);
    want = parse("{\"compare\": [], \"success\": [], \"failure\": []}");
    cr_assert(json_equal(r, want));
    json_decref(r);
    json_decref(want);
}

/* ---- answers ---- */

#define HEADER                                                                                     \
    "\"header\":{\"cluster_id\":\"15118495548433857066\",\"member_id\":\"1366803315"               \
    "1171901709\",\"revision\":\"2\",\"raft_term\":\"2\"}"

Test(etcd_msg, range_answers)
{
    struct etcd_range r;
    const char *why = NULL;
    json_t *j = parse("{" HEADER ",\"kvs\":[{\"key\":\"L3gvYQ==\",\"create_revision\":\"2\","
                      "\"mod_revision\":\"2\",\"version\":\"1\",\"value\":\"aGVsbG8=\"}],"
                      "\"count\":\"1\"}");

    cr_assert_eq(etcd_msg_range(j, &r, &why), 0, "%s", why);
    cr_assert_eq(r.revision, 2);
    cr_assert_eq(r.n, 1);
    cr_assert_str_eq(r.kvs[0].key, "/x/a");
    cr_assert_str_eq(r.kvs[0].value, "hello");
    cr_assert_eq(r.kvs[0].value_len, 5);
    cr_assert_eq(r.kvs[0].mod_revision, 2);
    cr_assert_eq(r.kvs[0].version, 1);
    cr_assert(!r.more);
    etcd_range_free(&r);
    json_decref(j);
    j = parse("{" HEADER "}"); /* nothing found: no "kvs", no "count" */
    cr_assert_eq(etcd_msg_range(j, &r, &why), 0);
    cr_assert_eq(r.n, 0);
    etcd_range_free(&r);
    json_decref(j);
    const char *bad[] = {
        "[]",
        "{\"header\": 1}",
        "{\"header\": {\"revision\": \"-3\"}}",
        "{" HEADER ", \"kvs\": {}}",
        "{" HEADER ", \"kvs\": [{\"key\": \"not base64!\"}]}",
        "{" HEADER ", \"kvs\": [{\"key\": \"AGEA\"}]}", /* a NUL in a key */
        "{" HEADER ", \"kvs\": [{\"key\": \"YQ==\", \"version\": \"x\"}]}",
        "{" HEADER ", \"more\": \"yes\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        j = parse(bad[i]);
        cr_assert_eq(etcd_msg_range(j, &r, &why), -1, "%s", bad[i]);
        cr_assert_not_null(why);
        json_decref(j);
    }
}

Test(etcd_msg, txn_answers_and_errors)
{
    bool ok = true;
    int64_t rev = 0;
    const json_t *rs;
    const char *why;
    char msg[64];
    int code = 0;
    json_t *j = parse("{" HEADER ",\"succeeded\":true,\"responses\":[{\"response_put\":{}}]}");

    cr_assert_eq(etcd_msg_txn(j, &ok, &rev, &rs, &why), 0);
    cr_assert(ok);
    cr_assert_eq(rev, 2);
    cr_assert_eq(json_array_size(rs), 1);
    json_decref(j);
    j = parse("{" HEADER ",\"responses\":[{\"response_range\":{}}]}"); /* false is left out */
    cr_assert_eq(etcd_msg_txn(j, &ok, &rev, &rs, &why), 0);
    cr_assert(!ok);
    json_decref(j);
    cr_assert(!etcd_msg_error(j = parse("{" HEADER "}"), msg, sizeof(msg), &code));
    json_decref(j);
    j = parse("{\"error\":\"etcdserver: requested lease not found\",\"message\":\"etcdserver: "
              "requested lease not found\",\"code\":5}");
    cr_assert(etcd_msg_error(j, msg, sizeof(msg), &code));
    cr_assert_str_eq(msg, "etcdserver: requested lease not found");
    cr_assert_eq(code, 5);
    json_decref(j);
    j = parse("{\"error\":{\"grpc_code\":14,\"http_code\":503,\"message\":\"no\\nleader\"}}");
    cr_assert(etcd_msg_error(j, msg, sizeof(msg), &code));
    cr_assert_str_eq(msg, "no leader", "control characters never reach a log line");
    cr_assert_eq(code, 14);
    json_decref(j);
}

/* ---- the watch stream ---- */

struct collected {
    char msgs[8][256];
    size_t n;
    int stop_at;
};

static int collect(void *arg, const char *msg, size_t len)
{
    struct collected *c = arg;

    cr_assert_eq(strlen(msg), len);
    cr_assert_lt(c->n, 8);
    snprintf(c->msgs[c->n++], sizeof(c->msgs[0]), "%s", msg);
    return (int)c->n == c->stop_at ? -1 : 0;
}

Test(etcd_stream, splits_messages_across_any_feed_boundaries)
{
    const char *text = "{\"result\":{\"created\":true}}\n{\"result\":{\"events\":[{\"kv\":"
                       "{\"key\":\"YQ==\",\"value\":\"e30=\"}}],\"x\":\"} {\\\"\"}}\r\n";

    for (size_t step = 1; step <= strlen(text); step++) {
        struct etcd_stream s = {0};
        struct collected c = {.stop_at = -1};
        for (size_t i = 0; i < strlen(text); i += step) {
            size_t n = strlen(text) - i < step ? strlen(text) - i : step;
            cr_assert_eq(etcd_stream_feed(&s, text + i, n, collect, &c), 0, "step %zu", step);
        }
        cr_assert_eq(c.n, 2, "step %zu", step);
        cr_assert_str_eq(c.msgs[0], "{\"result\":{\"created\":true}}");
        cr_assert_str_eq(c.msgs[1], "{\"result\":{\"events\":[{\"kv\":{\"key\":\"YQ==\",\"value\":"
                                    "\"e30=\"}}],\"x\":\"} {\\\"\"}}");
        etcd_stream_free(&s);
    }
}

Test(etcd_stream, refuses_garbage_and_oversize_and_lets_the_reader_stop)
{
    struct etcd_stream s = {0};
    struct collected c = {.stop_at = 1};
    char *big;

    cr_assert_eq(etcd_stream_feed(&s, "  x{}", 5, collect, &c), -1);
    etcd_stream_free(&s);
    cr_assert_eq(etcd_stream_feed(&s, "{\"a\":[}]", 8, collect, &c), -1, "mismatched");
    cr_assert_eq(c.n, 0);
    etcd_stream_free(&s);
    big = malloc(ETCD_STREAM_DEPTH + 1);
    memset(big, '[', ETCD_STREAM_DEPTH + 1);
    big[0] = '{';
    cr_assert_eq(etcd_stream_feed(&s, big, ETCD_STREAM_DEPTH, collect, &c), 0);
    cr_assert_eq(etcd_stream_feed(&s, "[", 1, collect, &c), -1, "too deep");
    free(big);
    etcd_stream_free(&s);
    cr_assert_eq(etcd_stream_feed(&s, "{}{}", 4, collect, &c), -1, "the reader stopped it");
    cr_assert_eq(c.n, 1);
    etcd_stream_free(&s);
    big = malloc(ETCD_MSG_MAX + 2);
    big[0] = '{';
    memset(big + 1, ' ', ETCD_MSG_MAX + 1);
    cr_assert_eq(etcd_stream_feed(&s, big, ETCD_MSG_MAX + 2, collect, &c), -1);
    free(big);
    etcd_stream_free(&s);
}

Test(etcd_msg, watch_messages)
{
    struct etcd_watch_msg m;
    const char *why;
    const char *put = "{\"result\":{" HEADER ",\"events\":[{\"kv\":{\"key\":\"L3gvYg==\","
                      "\"create_revision\":\"4\",\"mod_revision\":\"4\",\"version\":\"1\","
                      "\"value\":\"aGVsbG8=\"}},{\"type\":\"DELETE\",\"kv\":{\"key\":\"L3gvYg==\","
                      "\"mod_revision\":\"5\"}}]}}";
    const char *compacted = "{\"result\":{\"header\":{\"raft_term\":\"2\"},\"canceled\":true,"
                            "\"compact_revision\":\"4\"}}";

    cr_assert_eq(etcd_msg_watch(put, strlen(put), &m, &why), 0, "%s", why);
    cr_assert_eq(m.n, 2);
    cr_assert(!m.events[0].deleted && m.events[1].deleted);
    cr_assert_str_eq(m.events[0].kv.key, "/x/b");
    cr_assert_str_eq(m.events[0].kv.value, "hello");
    cr_assert_eq(m.events[1].kv.mod_revision, 5);
    cr_assert_eq(m.revision, 2);
    etcd_watch_msg_free(&m);
    cr_assert_eq(etcd_msg_watch(compacted, strlen(compacted), &m, &why), 0);
    cr_assert(m.canceled);
    cr_assert_eq(m.compact_revision, 4);
    etcd_watch_msg_free(&m);
    const char *denied = "{\"result\":{\"header\":{},\"canceled\":true,\"cancel_reason\":"
                         "\"etcdserver: permission denied\"}}";
    cr_assert_eq(etcd_msg_watch(denied, strlen(denied), &m, &why), 0);
    cr_assert(m.canceled);
    cr_assert_str_eq(m.error, "etcdserver: permission denied");
    etcd_watch_msg_free(&m);
    const char *err = "{\"error\":{\"grpc_code\":14,\"message\":\"etcdserver: no leader\"}}";
    cr_assert_eq(etcd_msg_watch(err, strlen(err), &m, &why), 0);
    cr_assert(m.canceled);
    cr_assert_str_eq(m.error, "etcdserver: no leader");
    etcd_watch_msg_free(&m);
    const char *bad[] = {"[]",
                         "{}",
                         "{\"result\": 3}",
                         "{\"result\": {\"events\": [{\"type\": \"MOVE\", \"kv\": {}}]}}",
                         "{\"result\": {\"created\": \"yes\"}}",
                         "{\"result\": {\"events\": {}}}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(etcd_msg_watch(bad[i], strlen(bad[i]), &m, &why), -1, "%s", bad[i]);
}

/* ---- records ---- */

static const char *const caps_text = "[\"config\", \"farm\", \"www.auth\"]";

static void sample(struct record *r, uint64_t rev)
{
    memset(r, 0, sizeof(*r));
    r->format = RECORD_FORMAT;
    r->revision = rev;
    memset(r->id, 'a', RECORD_ID_LEN);
    r->time = 1700000000;
    snprintf(r->member, sizeof(r->member), "m1");
    r->identity = strdup("token:admin");
    r->address = strdup("192.0.2.1");
    r->comment = strdup("docs");
    r->state = parse("{\"/www\": {\"auth_basic\": true}, \"/www/sites/a\": {\"bindings\":"
                     " [\"0.0.0.0:80\"]}}");
    r->requires = record_requires(r->state);
    record_hash(r->state, r->hash);
}

Test(record, encode_decode_round_trip)
{
    struct record r, back;
    char why[128], *text;

    sample(&r, 7);
    text = record_encode(&r);
    cr_assert_not_null(text);
    cr_assert_eq(record_decode(text, strlen(text), &back, why, sizeof(why)), 0, "%s", why);
    cr_assert_eq(back.revision, 7);
    cr_assert_str_eq(back.id, r.id);
    cr_assert_str_eq(back.member, "m1");
    cr_assert_str_eq(back.identity, "token:admin");
    cr_assert_str_eq(back.comment, "docs");
    cr_assert_str_eq(back.hash, r.hash);
    cr_assert(json_equal(back.state, r.state));
    cr_assert(json_equal(back.requires, r.requires));
    record_free(&back);
    free(text);
    record_free(&r);
}

Test(record, requires_names_the_capabilities_of_the_properties_set)
{
    json_t *s = parse("{\"/www\": {\"auth_basic\": true, \"ip_default\": \"deny\"},"
                      " \"/ftp/users/a\": {\"home_directory\": \"/\"}, \"/www/x\": {\"nope\": 1}}");
    json_t *want = parse("[\"farm\", \"ftp.users\", \"www.auth\", \"www.ip_restrictions\"]");
    json_t *got = record_requires(s);

    cr_assert(json_equal(got, want), "%s", json_dumps(got, 0));
    json_decref(got);
    json_decref(want);
    json_decref(s);
}

Test(record, an_older_member_says_what_it_lacks)
{
    struct record r;
    json_t *caps = parse(caps_text), *few = parse("[\"farm\"]");
    char why[300];

    sample(&r, 9);
    cr_assert_eq(record_check(&r, caps, "0.7.0", why, sizeof(why)), 0, "%s", why);
    cr_assert_eq(record_check(&r, few, "0.7.0", why, sizeof(why)), -1);
    cr_assert_str_eq(why, "farm revision 9 needs capability www.auth, which infosrv 0.7.0 lacks");
    json_object_set_new(json_object_get(r.state, "/www"), "quic", json_true());
    cr_assert_eq(record_check(&r, caps, "0.7.0", why, sizeof(why)), -1);
    cr_assert_str_eq(why, "farm revision 9 sets property \"quic\" on /www, which infosrv 0.7.0 "
                          "does not know");
    r.format = RECORD_FORMAT + 1;
    cr_assert_eq(record_check(&r, caps, "0.7.0", why, sizeof(why)), -1);
    cr_assert_not_null(strstr(why, "record format 2"), "%s", why);
    record_free(&r);
    json_decref(caps);
    json_decref(few);
}

static void expect_refused(const char *text, const char *in_why)
{
    struct record r;
    char why[200];

    cr_assert_eq(record_decode(text, strlen(text), &r, why, sizeof(why)), -1, "%s", text);
    cr_assert_not_null(strstr(why, in_why), "\"%s\" lacks \"%s\"", why, in_why);
}

Test(record, malformed_records_are_refused_with_a_reason)
{
    struct record r;
    char *text, *p, why[200];
    json_t *o;

    sample(&r, 3);
    text = record_encode(&r);
    record_free(&r);
    o = parse(text);
    expect_refused("[]", "not a JSON object");
    expect_refused("{\"format\": 1}", "\"revision\"");
    /* a state that does not match its hash, as a tampered or truncated write would */
    p = strstr(text, "0.0.0.0:80");
    cr_assert_not_null(p);
    p[0] = '1';
    expect_refused(text, "does not match its hash");
    json_object_set_new(o, "identity", json_string("a\nb"));
    free(text);
    text = json_dumps(o, 0);
    expect_refused(text, "\"identity\"");
    json_object_set_new(o, "identity", json_string("x"));
    json_object_set_new(json_object_get(o, "state"), "/", json_object());
    free(text);
    text = json_dumps(o, 0);
    expect_refused(text, "not shared");
    json_object_del(json_object_get(o, "state"), "/");
    json_object_set_new(o, "requires", json_pack("[i]", 1));
    free(text);
    text = json_dumps(o, 0);
    expect_refused(text, "requires");
    /* a newer format decodes far enough for record_check to say so */
    json_object_set_new(o, "format", json_integer(2));
    json_object_set_new(o, "state", json_string("something else"));
    free(text);
    text = json_dumps(o, 0);
    cr_assert_eq(record_decode(text, strlen(text), &r, why, sizeof(why)), 0, "%s", why);
    cr_assert_eq(r.format, 2);
    record_free(&r);
    free(text);
    json_decref(o);
}

Test(record, shared_keys_hash_and_merge)
{
    json_t *tree = parse("{\"/\": {\"farm_name\": \"/f\"}, \"/www\": {}, \"/ftp\": {}}");
    json_t *local = parse("{\"/\": {\"binding_overrides\": {}}}");
    json_t *shared = record_shared(tree), *merged;
    char h1[RECORD_HASH_LEN + 1], h2[RECORD_HASH_LEN + 1];

    cr_assert(record_key_shared("/www/sites/a") && record_key_shared("/ftp/users/x"));
    cr_assert(!record_key_shared("/") && !record_key_shared("") && !record_key_shared(NULL));
    cr_assert_null(json_object_get(shared, "/"));
    cr_assert_eq(json_object_size(shared), 2);
    merged = record_merge(shared, local);
    cr_assert_not_null(json_object_get(json_object_get(merged, "/"), "binding_overrides"));
    cr_assert_not_null(json_object_get(merged, "/www"));
    record_hash(shared, h1);
    json_decref(shared);
    shared = parse("{\"/ftp\": {}, \"/www\": {}}"); /* key order does not matter */
    record_hash(shared, h2);
    cr_assert_str_eq(h1, h2);
    cr_assert_eq(strlen(h1), RECORD_HASH_LEN);
    json_object_set_new(json_object_get(shared, "/www"), "admin_name", json_string("x"));
    record_hash(shared, h2);
    cr_assert_str_neq(h1, h2);
    json_decref(shared);
    json_decref(merged);
    json_decref(local);
    json_decref(tree);
}

Test(record, keys_sort_by_revision_and_parse_back)
{
    char a[200], b[200];
    uint64_t n = 0;

    record_rev_key("/f", 9, a, sizeof(a));
    record_rev_key("/f", 10, b, sizeof(b));
    cr_assert_str_eq(a, "/f/revisions/00000000000000000009");
    cr_assert_lt(strcmp(a, b), 0);
    cr_assert_eq(record_rev_parse("/f", b, &n), 0);
    cr_assert_eq(n, 10);
    cr_assert_eq(record_rev_parse("/f", "/f/revisions/12", &n), -1);
    cr_assert_eq(record_rev_parse("/f", "/g/revisions/00000000000000000009", &n), -1);
    cr_assert_eq(record_rev_parse("/f", "/f/revisions/0000000000000000000x", &n), -1);
    cr_assert_eq(record_rev_parse("/f", "/f/head", &n), -1);
    record_member_key("/f", "members", "m1", a, sizeof(a));
    cr_assert_str_eq(a, "/f/members/m1");
    cr_assert_str_eq(record_member_parse("/f", "members", a), "m1");
    cr_assert_null(record_member_parse("/f", "roster", a));
    cr_assert_null(record_member_parse("/f", "members", "/f/members/"));
    cr_assert_null(record_member_parse("/f", "members", "/f/members/a/b"));
    cr_assert_null(record_member_parse("/fx", "members", "/f/members/m1"));
    cr_assert_null(record_member_parse("/f", "members", "/f/members/a\x1b[2J"), "shown in tables");
    cr_assert_null(record_member_parse("/f", "members", "/f/members/a b"));
}

Test(record, each_revision_once_and_in_order)
{
    cr_assert_eq(record_next(0, 1), RECORD_APPLY);
    cr_assert_eq(record_next(4, 5), RECORD_APPLY);
    cr_assert_eq(record_next(4, 4), RECORD_SKIP, "applied already");
    cr_assert_eq(record_next(4, 2), RECORD_SKIP, "older");
    cr_assert_eq(record_next(4, 7), RECORD_GAP, "5 and 6 first");
}

Test(record, member_entries_round_trip)
{
    struct member m = {0}, back;
    char why[100], *text;

    snprintf(m.name, sizeof(m.name), "m2");
    snprintf(m.version, sizeof(m.version), "0.7.0");
    m.capabilities = parse(caps_text);
    m.revision = 12;
    memset(m.hash, 'b', RECORD_HASH_LEN);
    memset(m.farm_hash, 'b', RECORD_HASH_LEN);
    m.error = strdup("cannot apply farm revision 13: port in use");
    m.error_revision = 13;
    m.started = 5;
    m.updated = 6;
    text = member_encode(&m);
    cr_assert_eq(member_decode(text, strlen(text), &back, why, sizeof(why)), 0, "%s", why);
    cr_assert_str_eq(back.name, "m2");
    cr_assert_eq(back.revision, 12);
    cr_assert_eq(back.error_revision, 13);
    cr_assert_str_eq(back.error, m.error);
    cr_assert(json_equal(back.capabilities, m.capabilities));
    member_free(&back);
    free(text);
    free(m.error);
    m.error = NULL;
    text = member_encode(&m);
    cr_assert_eq(member_decode(text, strlen(text), &back, why, sizeof(why)), 0, "%s", why);
    cr_assert_null(back.error);
    member_free(&back);
    free(text);
    member_free(&m);
    cr_assert_eq(member_decode("{\"name\": \"\"}", 12, &back, why, sizeof(why)), -1);
    cr_assert_eq(member_decode("nope", 4, &back, why, sizeof(why)), -1);
}

/* ---- binding_overrides ---- */

static void expect_override(const char *map, const char *binding, int rc, const char *after)
{
    json_t *m = map ? parse(map) : NULL;
    struct net_addr a;
    const char *why;
    char text[80];

    cr_assert_eq(net_parse_addr(binding, &a, &why), 0);
    cr_assert_eq(config_binding_override(m, &a), rc, "%s in %s", binding, map);
    net_addr_str((const struct sockaddr *)&a.ss, text, sizeof(text));
    cr_assert_str_eq(text, after);
    json_decref(m);
}

Test(config, binding_overrides_map_a_shared_address_to_this_host)
{
    const char *map = "{\"0.0.0.0:80\": \"10.1.2.3:80\", \"127.0.0.1:8080\": \"127.0.0.1:18080\","
                      " \"[::]:443\": \"[2001:db8::1]:8443\"}";

    expect_override(map, "0.0.0.0:80", 1, "10.1.2.3:80");
    expect_override(map, "127.0.0.1:8080", 1, "127.0.0.1:18080");
    expect_override(map, "[::]:443", 1, "[2001:db8::1]:8443");
    expect_override(map, "0.0.0.0:81", 0, "0.0.0.0:81");
    expect_override(NULL, "0.0.0.0:80", 0, "0.0.0.0:80");
    expect_override("{\"0.0.0.0:80\": \"nowhere\"}", "0.0.0.0:80", -1, "0.0.0.0:80");
}

Test(config, binding_overrides_are_checked_when_set)
{
    const struct prop *p = props_find("binding_overrides");
    struct mb_error err;
    json_t *v;

    cr_assert_not_null(p);
    v = parse("{\"0.0.0.0:80\": \"10.1.2.3:8080\"}");
    cr_assert_eq(props_check_value(p, v, "/", &err), 0, "%s", err.message);
    json_decref(v);
    const char *bad[] = {"{\"0.0.0.0:80\": \"10.1.2.3\"}", "{\"0.0.0.0\": \"10.1.2.3:80\"}",
                         "{\"0.0.0.0:0\": \"10.1.2.3:80\"}", "{\"host:80\": \"10.1.2.3:80\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = parse(bad[i]);
        cr_assert_eq(props_check_value(p, v, "/", &err), -1, "%s", bad[i]);
        cr_assert_str_eq(err.code, MB_E_INVALID_VALUE);
        cr_assert_not_null(strstr(err.message, "binding_overrides"), "%s", err.message);
        json_decref(v);
    }
}

Test(config, farm_settings_are_checked_when_set)
{
    struct mb_error err;
    struct {
        const char *name, *value;
        bool ok;
    } cases[] = {
        {"farm_endpoints", "[\"http://127.0.0.1:2379\", \"https://etcd.example:2379\"]", true},
        {"farm_endpoints", "[\"ftp://x:1\"]", false},
        {"farm_endpoints", "[\"http://x\"]", false},
        {"farm_endpoints", "[\"http://x:2379/v3\"]", false},
        {"farm_endpoints", "[\"http://u@x:2379\"]", false},
        {"farm_name", "\"/infosrv/farms/web\"", true},
        {"farm_name", "\"infosrv\"", false},
        {"farm_name", "\"/a//b\"", false},
        {"farm_name", "\"/a/\"", false},
        {"farm_name", "\"/a b\"", false},
        {"member_name", "\"web-1.example\"", true},
        {"member_name", "\"-web\"", false},
        {"member_name", "\"a/b\"", false},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *v = parse(cases[i].value);
        int rc = props_check_value(props_find(cases[i].name), v, "/", &err);
        cr_assert_eq(rc, cases[i].ok ? 0 : -1, "%s = %s", cases[i].name, cases[i].value);
        json_decref(v);
    }
    cr_assert(props_find("farm_password")->secret);
}
