/*
 * libFuzzer driver for what an etcd endpoint (or anyone who can write to
 * the farm's keys) may send a member: the watch stream, cut where the
 * input's first byte says (etcd_stream_feed must not care), each message
 * parsed by etcd_msg_watch, each event's value taken as a farm revision
 * record and as a member entry; the whole input also as a range answer.
 * Messages are whole, balanced objects within ETCD_MSG_MAX; a record that
 * decodes has a state matching its hash, bounded fields, and survives
 * encoding and decoding again unchanged.
 */
#include <string.h>

#include <jansson.h>

#include "farm/etcd_msg.h"
#include "farm/record.h"
#include "fuzz.h"

static void check_record(const struct etcd_kv *kv)
{
    struct record r, again;
    struct member m;
    char why[256], hash[RECORD_HASH_LEN + 1], *text;

    if (member_decode(kv->value, kv->value_len, &m, why, sizeof(why)) == 0) {
        CHECK(m.name[0] != '\0' && strlen(m.name) <= RECORD_NAME_MAX);
        CHECK(m.error == NULL || strlen(m.error) <= RECORD_TEXT_MAX);
        member_free(&m);
    }
    if (record_decode(kv->value, kv->value_len, &r, why, sizeof(why)) == -1) {
        CHECK(why[0] != '\0');
        return;
    }
    CHECK(r.revision >= 1 && strlen(r.id) == RECORD_ID_LEN);
    CHECK(strlen(r.identity) <= RECORD_TEXT_MAX && strlen(r.comment) <= RECORD_TEXT_MAX);
    if (r.format <= RECORD_FORMAT) {
        record_hash(r.state, hash);
        CHECK(strcmp(hash, r.hash) == 0);
        text = record_encode(&r);
        if (text != NULL) {
            CHECK(record_decode(text, strlen(text), &again, why, sizeof(why)) == 0);
            CHECK(again.revision == r.revision && json_equal(again.state, r.state));
            record_free(&again);
            free(text);
        }
    }
    record_free(&r);
}

static int on_message(void *arg, const char *msg, size_t len)
{
    struct etcd_watch_msg m;
    const char *why;

    (void)arg;
    CHECK(len >= 2 && len <= ETCD_MSG_MAX && msg[0] == '{' && msg[len - 1] == '}');
    CHECK(msg[len] == '\0');
    if (etcd_msg_watch(msg, len, &m, &why) == -1) {
        CHECK(why != NULL);
        return 0;
    }
    CHECK(m.compact_revision >= 0 && m.revision >= 0);
    for (size_t i = 0; i < m.n; i++) {
        CHECK(strlen(m.events[i].kv.key) <= ETCD_KEY_MAX);
        check_record(&m.events[i].kv);
    }
    etcd_watch_msg_free(&m);
    return 0;
}

static void as_range(const uint8_t *data, size_t size)
{
    json_t *j = json_loadb((const char *)data, size, 0, NULL);
    struct etcd_range r;
    const char *why;
    char msg[64];
    int code;

    if (j == NULL)
        return;
    if (etcd_msg_range(j, &r, &why) == 0) {
        for (size_t i = 0; i < r.n; i++)
            CHECK(r.kvs[i].key != NULL && r.kvs[i].value[r.kvs[i].value_len] == '\0');
        etcd_range_free(&r);
    }
    if (etcd_msg_error(j, msg, sizeof(msg), &code))
        for (const char *p = msg; *p; p++)
            CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct etcd_stream s = {0};
    size_t cut, off = 1;

    if (size == 0)
        return 0;
    cut = data[0] ? data[0] : 1;
    while (off < size) {
        size_t n = size - off < cut ? size - off : cut;
        if (etcd_stream_feed(&s, (const char *)data + off, n, on_message, NULL) == -1)
            break;
        off += n;
    }
    etcd_stream_free(&s);
    as_range(data + 1, size - 1);
    return 0;
}
