/*
 * etcd_msg: the messages of etcd's v3 JSON gateway (etcd 3.4: /v3/kv/range,
 * /v3/kv/txn, /v3/watch, /v3/lease/...), without any I/O — building request
 * bodies, reading answers, and splitting a watch stream into its messages.
 * Keys and values travel as base64; 64-bit numbers as decimal strings, and
 * fields equal to their zero value are left out. Every json_t returned is a
 * new reference; every struct is freed with its *_free. Pure: any thread.
 */
#ifndef FARM_ETCD_MSG_H
#define FARM_ETCD_MSG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define ETCD_MSG_MAX (8u << 20) /* bytes in one answer or watch message */
#define ETCD_KEY_MAX 1024       /* bytes in a key this client writes or reads */

/** P[0..N) as standard base64 (new string). */
char *etcd_msg_b64(const void *p, size_t n);
/**
 * Standard base64 S decoded into a new NUL-terminated buffer (*N its length,
 * without the NUL); NULL when S is not base64 or decodes to more than MAX bytes.
 */
char *etcd_msg_unb64(const char *s, size_t max, size_t *n);
/** The range end that covers every key starting with PREFIX (non-empty): a new string. */
char *etcd_msg_prefix_end(const char *prefix);
/** A gateway integer (a decimal string, a JSON integer, or absent = 0) into *OUT; -1 if malformed.
 */
int etcd_msg_int(const json_t *v, int64_t *out);

/** One key-value pair. KEY and VALUE are NUL-terminated (VALUE may hold NULs: see value_len). */
struct etcd_kv {
    char *key;
    char *value;
    size_t value_len;
    int64_t create_revision, mod_revision, version, lease;
};

/** Release what KV holds. */
void etcd_kv_free(struct etcd_kv *kv);

/** A range answer: the store's revision and the pairs found. */
struct etcd_range {
    int64_t revision;
    struct etcd_kv *kvs;
    size_t n;
    bool more;
};

/** Read a /v3/kv/range answer (or a txn's response_range); -1 with *WHY when malformed. */
int etcd_msg_range(const json_t *resp, struct etcd_range *out, const char **why);
/** Release what R holds. */
void etcd_range_free(struct etcd_range *r);

/** Read a /v3/kv/txn answer: *SUCCEEDED, *REVISION and its responses (borrowed from RESP). */
int etcd_msg_txn(const json_t *resp, bool *succeeded, int64_t *revision, const json_t **responses,
                 const char **why);

/**
 * When BODY is a gateway error ({"error": ..., "message": ..., "code": N}, or
 * {"error": {"message", "grpc_code"}} inside a stream), its message into OUT
 * and its gRPC code into *CODE, and true; false otherwise.
 */
bool etcd_msg_error(const json_t *body, char *out, size_t cap, int *code);

/* ---- requests ---- */

/** {"key", "range_end"?, "limit"?, "keys_only"?} for /v3/kv/range (END NULL: one key). */
json_t *etcd_msg_range_req(const char *key, const char *end, int64_t limit, bool keys_only);
/** {"request_put": {"key", "value", "lease"?}} for a txn (LEASE 0: none). */
json_t *etcd_msg_put_op(const char *key, const char *value, size_t len, int64_t lease);
/** {"request_delete_range": {"key"}} for a txn. */
json_t *etcd_msg_delete_op(const char *key);
/** {"request_range": {"key"}} for a txn. */
json_t *etcd_msg_range_op(const char *key);
/** A compare that KEY's value equals VALUE, or (VALUE NULL) that KEY does not exist. */
json_t *etcd_msg_cmp_value(const char *key, const char *value);
/** {"compare": CMP, "success": OK, "failure": FAIL} (all stolen; NULL means []). */
json_t *etcd_msg_txn_req(json_t *cmp, json_t *ok, json_t *fail);
/** The create_request of a watch of every key starting with PREFIX from REVISION on. */
json_t *etcd_msg_watch_req(const char *prefix, int64_t revision);

/* ---- the watch stream ---- */

/**
 * Splits a stream of JSON objects (the gateway writes one per line) into
 * whole messages, scanning each byte once across feeds. Zero-initialise it;
 * free it with etcd_stream_free.
 */
#define ETCD_STREAM_DEPTH 64 /* nesting of a message; etcd's go three levels deep */

struct etcd_stream {
    struct buf buf;               /* the message being received */
    int depth;                    /* of braces and brackets outside strings */
    char open[ETCD_STREAM_DEPTH]; /* the closer each level waits for */
    bool in_str, esc, bad;
};

/**
 * Feed P[0..N): CB gets each complete message (NUL-terminated at LEN) and
 * may stop the feed by returning -1. -1 also when a message grows past
 * ETCD_MSG_MAX or ETCD_STREAM_DEPTH, closes a bracket it did not open, or
 * something other than an object comes between messages; the stream is
 * unusable then.
 */
int etcd_stream_feed(struct etcd_stream *s, const char *p, size_t n,
                     int (*cb)(void *arg, const char *msg, size_t len), void *arg);
/** Release the stream's buffer. */
void etcd_stream_free(struct etcd_stream *s);

struct etcd_event {
    bool deleted; /* DELETE; else PUT */
    struct etcd_kv kv;
};

/** One watch message. */
struct etcd_watch_msg {
    int64_t revision;         /* the header's */
    int64_t compact_revision; /* > 0 when etcd compacted past the revision asked for */
    bool created, canceled;
    struct etcd_event *events;
    size_t n;
    char error[256]; /* a stream error's message or the reason of a cancel, or "" */
};

/** Parse one message of the stream; -1 with *WHY when malformed. */
int etcd_msg_watch(const char *text, size_t len, struct etcd_watch_msg *m, const char **why);
/** Release what M holds. */
void etcd_watch_msg_free(struct etcd_watch_msg *m);

#endif
