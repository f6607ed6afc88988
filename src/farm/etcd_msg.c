/* etcd_msg: building and reading the JSON gateway's messages. The gateway
 * is grpc-gateway over etcd's protobuf API, so every 64-bit number is a
 * decimal string and every field at its zero value (false, 0, "") is left
 * out: absent means zero throughout. */
#include "farm/etcd_msg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/alloc.h"

/* ---- scalars ---- */

char *etcd_msg_b64(const void *p, size_t n)
{
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *out = xmalloc(cap);

    sodium_bin2base64(out, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
    return out;
}

char *etcd_msg_unb64(const char *s, size_t max, size_t *n)
{
    size_t len = strlen(s), room = len / 4 * 3 + 3, got = 0;
    const char *end = NULL;
    char *out;

    if (len / 4 * 3 > max + 3) /* cannot decode to at most MAX bytes */
        return NULL;
    out = xmalloc(room + 1);
    if (sodium_base642bin((unsigned char *)out, room, s, len, NULL, &got, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != s + len || got > max) {
        free(out);
        return NULL;
    }
    out[got] = '\0';
    *n = got;
    return out;
}

char *etcd_msg_prefix_end(const char *prefix)
{
    size_t n = strlen(prefix);
    char *end = xstrdup(prefix);

    /* The first key after every key with the prefix: the last byte below 0xff plus one. */
    while (n > 0 && (unsigned char)end[n - 1] == 0xff)
        end[--n] = '\0';
    if (n == 0) {
        free(end);
        return xstrdup(""); /* cannot happen for our prefixes: "/..." */
    }
    end[n - 1] = (char)((unsigned char)end[n - 1] + 1);
    return end;
}

int etcd_msg_int(const json_t *v, int64_t *out)
{
    const char *s;
    char *end;
    long long x;

    *out = 0;
    if (v == NULL)
        return 0;
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return 0;
    }
    s = json_string_value(v);
    if (s == NULL || !((*s >= '0' && *s <= '9') || *s == '-'))
        return -1;
    errno = 0;
    x = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || end == s)
        return -1;
    *out = (int64_t)x;
    return 0;
}

/* ---- key-value pairs ---- */

void etcd_kv_free(struct etcd_kv *kv)
{
    free(kv->key);
    free(kv->value);
    memset(kv, 0, sizeof(*kv));
}

static int kv_b64(const json_t *v, size_t max, char **out, size_t *n)
{
    const char *s = json_string_value(v);

    if (v == NULL) { /* left out: empty */
        *out = xstrdup("");
        *n = 0;
        return 0;
    }
    if (s == NULL || (*out = etcd_msg_unb64(s, max, n)) == NULL)
        return -1;
    return 0;
}

static int kv_parse(const json_t *o, struct etcd_kv *kv, const char **why)
{
    size_t klen;

    memset(kv, 0, sizeof(*kv));
    if (!json_is_object(o))
        return *why = "a key-value pair is not an object", -1;
    if (kv_b64(json_object_get(o, "key"), ETCD_KEY_MAX, &kv->key, &klen) == -1 ||
        strlen(kv->key) != klen)
        return *why = "a key is not base64 of at most 1024 bytes without NUL", -1;
    if (kv_b64(json_object_get(o, "value"), ETCD_MSG_MAX, &kv->value, &kv->value_len) == -1)
        return *why = "a value is not base64", -1;
    if (etcd_msg_int(json_object_get(o, "create_revision"), &kv->create_revision) == -1 ||
        etcd_msg_int(json_object_get(o, "mod_revision"), &kv->mod_revision) == -1 ||
        etcd_msg_int(json_object_get(o, "version"), &kv->version) == -1 ||
        etcd_msg_int(json_object_get(o, "lease"), &kv->lease) == -1)
        return *why = "a key-value pair has a malformed number", -1;
    return 0;
}

static int header_revision(const json_t *resp, int64_t *rev, const char **why)
{
    const json_t *h = json_object_get(resp, "header");

    if (h != NULL && !json_is_object(h))
        return *why = "the header is not an object", -1;
    if (etcd_msg_int(json_object_get(h, "revision"), rev) == -1 || *rev < 0)
        return *why = "the header's revision is malformed", -1;
    return 0;
}

void etcd_range_free(struct etcd_range *r)
{
    for (size_t i = 0; i < r->n; i++)
        etcd_kv_free(&r->kvs[i]);
    free(r->kvs);
    memset(r, 0, sizeof(*r));
}

int etcd_msg_range(const json_t *resp, struct etcd_range *out, const char **why)
{
    const json_t *kvs = json_object_get(resp, "kvs"), *more = json_object_get(resp, "more");
    size_t i;
    const json_t *kv;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(resp))
        return *why = "the answer is not an object", -1;
    if (header_revision(resp, &out->revision, why) == -1)
        return -1;
    if ((kvs != NULL && !json_is_array(kvs)) || (more != NULL && !json_is_boolean(more)))
        return *why = "\"kvs\" or \"more\" is malformed", -1;
    out->more = json_is_true(more);
    out->kvs = xcalloc(json_array_size(kvs) + 1, sizeof(*out->kvs));
    json_array_foreach (kvs, i, kv) {
        if (kv_parse(kv, &out->kvs[out->n], why) == -1) {
            etcd_kv_free(&out->kvs[out->n]);
            etcd_range_free(out);
            return -1;
        }
        out->n++;
    }
    return 0;
}

int etcd_msg_txn(const json_t *resp, bool *succeeded, int64_t *revision, const json_t **responses,
                 const char **why)
{
    const json_t *ok = json_object_get(resp, "succeeded"), *rs = json_object_get(resp, "responses");

    if (!json_is_object(resp))
        return *why = "the answer is not an object", -1;
    if (header_revision(resp, revision, why) == -1)
        return -1;
    if ((ok != NULL && !json_is_boolean(ok)) || (rs != NULL && !json_is_array(rs)))
        return *why = "\"succeeded\" or \"responses\" is malformed", -1;
    *succeeded = json_is_true(ok);
    *responses = rs;
    return 0;
}

bool etcd_msg_error(const json_t *body, char *out, size_t cap, int *code)
{
    const json_t *e = json_object_get(body, "error"), *msg, *c;
    int64_t n = 0;

    if (e == NULL)
        return false;
    if (json_is_object(e)) { /* inside a stream: {"error": {"grpc_code", "message", ...}} */
        msg = json_object_get(e, "message");
        c = json_object_get(e, "grpc_code");
    } else {
        msg = json_object_get(body, "message");
        c = json_object_get(body, "code");
        if (msg == NULL)
            msg = e;
    }
    if (etcd_msg_int(c, &n) == -1 || n < 0 || n > 1000)
        n = 2; /* gRPC "unknown" */
    *code = (int)n;
    snprintf(out, cap, "%s", json_is_string(msg) ? json_string_value(msg) : "etcd error");
    /* never let a server's text forge a log line */
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    return true;
}

/* ---- requests ---- */

static json_t *b64_string(const char *s, size_t n)
{
    char *b = etcd_msg_b64(s, n);
    json_t *v = json_string(b);

    free(b);
    return v;
}

static json_t *key_json(const char *key)
{
    return b64_string(key, strlen(key));
}

json_t *etcd_msg_range_req(const char *key, const char *end, int64_t limit, bool keys_only)
{
    json_t *o = json_pack("{s:o}", "key", key_json(key));

    if (end != NULL)
        json_object_set_new(o, "range_end", key_json(end));
    if (limit > 0)
        json_object_set_new(o, "limit", json_integer((json_int_t)limit));
    if (keys_only)
        json_object_set_new(o, "keys_only", json_true());
    return o;
}

json_t *etcd_msg_put_op(const char *key, const char *value, size_t len, int64_t lease)
{
    json_t *put = json_pack("{s:o, s:o}", "key", key_json(key), "value", b64_string(value, len));
    char id[24];

    if (lease != 0) {
        snprintf(id, sizeof(id), "%lld", (long long)lease);
        json_object_set_new(put, "lease", json_string(id));
    }
    return json_pack("{s:o}", "request_put", put);
}

json_t *etcd_msg_delete_op(const char *key)
{
    return json_pack("{s:{s:o}}", "request_delete_range", "key", key_json(key));
}

json_t *etcd_msg_range_op(const char *key)
{
    return json_pack("{s:{s:o}}", "request_range", "key", key_json(key));
}

json_t *etcd_msg_cmp_value(const char *key, const char *value)
{
    if (value == NULL) /* never created: its create_revision is 0 */
        return json_pack("{s:o, s:s, s:s, s:s}", "key", key_json(key), "target", "CREATE", "result",
                         "EQUAL", "create_revision", "0");
    return json_pack("{s:o, s:s, s:s, s:o}", "key", key_json(key), "target", "VALUE", "result",
                     "EQUAL", "value", b64_string(value, strlen(value)));
}

json_t *etcd_msg_txn_req(json_t *cmp, json_t *ok, json_t *fail)
{
    return json_pack("{s:o, s:o, s:o}", "compare", cmp ? cmp : json_array(), "success",
                     ok ? ok : json_array(), "failure", fail ? fail : json_array());
}

json_t *etcd_msg_watch_req(const char *prefix, int64_t revision)
{
    char *end = etcd_msg_prefix_end(prefix), rev[24];
    json_t *o;

    snprintf(rev, sizeof(rev), "%lld", (long long)(revision > 0 ? revision : 0));
    o = json_pack("{s:{s:o, s:o, s:s}}", "create_request", "key", key_json(prefix), "range_end",
                  key_json(end), "start_revision", rev);
    free(end);
    return o;
}

/* ---- the watch stream ---- */

void etcd_stream_free(struct etcd_stream *s)
{
    buf_free(&s->buf);
    memset(s, 0, sizeof(*s));
}

/* One byte inside a message: track strings and nesting. True when it closes the message. */
static bool stream_byte(struct etcd_stream *s, char c)
{
    if (s->in_str) {
        if (s->esc)
            s->esc = false;
        else if (c == '\\')
            s->esc = true;
        else if (c == '"')
            s->in_str = false;
        return false;
    }
    if (c == '"') {
        s->in_str = true;
    } else if (c == '{' || c == '[') {
        if (s->depth == ETCD_STREAM_DEPTH)
            return s->bad = true, false;
        s->open[s->depth++] = c == '{' ? '}' : ']';
    } else if (c == '}' || c == ']') {
        if (s->open[s->depth - 1] != c)
            return s->bad = true, false;
        return --s->depth == 0;
    }
    return false;
}

static int stream_deliver(struct etcd_stream *s, int (*cb)(void *, const char *, size_t), void *arg)
{
    size_t len = s->buf.len;
    int rc;

    buf_append(&s->buf, "", 1);
    rc = cb(arg, s->buf.data, len);
    buf_reset(&s->buf);
    return rc;
}

int etcd_stream_feed(struct etcd_stream *s, const char *p, size_t n,
                     int (*cb)(void *arg, const char *msg, size_t len), void *arg)
{
    size_t i = 0;

    while (i < n) {
        if (s->depth == 0) { /* between messages: only white space, then '{' */
            if (strchr(" \t\r\n", p[i]) != NULL && p[i] != '\0') {
                i++;
                continue;
            }
            if (p[i] != '{')
                return -1;
        }
        size_t start = i;
        bool done = false;
        while (i < n && !done && !s->bad)
            done = stream_byte(s, p[i++]);
        if (s->bad || s->buf.len + (i - start) > ETCD_MSG_MAX)
            return -1;
        buf_append(&s->buf, p + start, i - start);
        if (done && stream_deliver(s, cb, arg) == -1)
            return -1;
    }
    return 0;
}

void etcd_watch_msg_free(struct etcd_watch_msg *m)
{
    for (size_t i = 0; i < m->n; i++)
        etcd_kv_free(&m->events[i].kv);
    free(m->events);
    memset(m, 0, sizeof(*m));
}

static int watch_events(const json_t *events, struct etcd_watch_msg *m, const char **why)
{
    size_t i;
    const json_t *e;

    if (events != NULL && !json_is_array(events))
        return *why = "\"events\" is not an array", -1;
    m->events = xcalloc(json_array_size(events) + 1, sizeof(*m->events));
    json_array_foreach (events, i, e) {
        const char *type = json_string_value(json_object_get(e, "type"));
        if (!json_is_object(e) || (json_object_get(e, "type") != NULL && type == NULL))
            return *why = "an event is malformed", -1;
        if (type != NULL && strcmp(type, "PUT") != 0 && strcmp(type, "DELETE") != 0)
            return *why = "an event has an unknown type", -1;
        m->events[m->n].deleted = type != NULL && strcmp(type, "DELETE") == 0;
        if (kv_parse(json_object_get(e, "kv"), &m->events[m->n].kv, why) == -1) {
            etcd_kv_free(&m->events[m->n].kv);
            return -1;
        }
        m->n++;
    }
    return 0;
}

static int watch_result(const json_t *r, struct etcd_watch_msg *m, const char **why)
{
    const json_t *created = json_object_get(r, "created"),
                 *canceled = json_object_get(r, "canceled");

    if (!json_is_object(r))
        return *why = "\"result\" is not an object", -1;
    if ((created && !json_is_boolean(created)) || (canceled && !json_is_boolean(canceled)))
        return *why = "\"created\" or \"canceled\" is malformed", -1;
    m->created = json_is_true(created);
    m->canceled = json_is_true(canceled);
    if (json_is_string(json_object_get(r, "cancel_reason"))) {
        snprintf(m->error, sizeof(m->error), "%s",
                 json_string_value(json_object_get(r, "cancel_reason")));
        for (char *p = m->error; *p; p++) /* it ends up in logs */
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                *p = ' ';
    }
    if (header_revision(r, &m->revision, why) == -1 ||
        etcd_msg_int(json_object_get(r, "compact_revision"), &m->compact_revision) == -1 ||
        m->compact_revision < 0)
        return *why = *why ? *why : "the compact revision is malformed", -1;
    return watch_events(json_object_get(r, "events"), m, why);
}

int etcd_msg_watch(const char *text, size_t len, struct etcd_watch_msg *m, const char **why)
{
    json_error_t je;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    int code, rc = 0;

    memset(m, 0, sizeof(*m));
    *why = NULL;
    if (!json_is_object(o)) {
        json_decref(o);
        return *why = "a watch message is not a JSON object", -1;
    }
    if (etcd_msg_error(o, m->error, sizeof(m->error), &code))
        m->canceled = true;
    else if (json_object_get(o, "result") == NULL)
        rc = (*why = "a watch message has no result", -1);
    else
        rc = watch_result(json_object_get(o, "result"), m, why);
    json_decref(o);
    if (rc == -1)
        etcd_watch_msg_free(m);
    return rc;
}
