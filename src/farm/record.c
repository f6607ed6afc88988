/* record: farm revision records and member entries, and the rules around
 * them. A record is checked whole before anything reads it: another member
 * (or anyone who can write to etcd) wrote it. */
#include "farm/record.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/alloc.h"
#include "metabase/props.h"

static int why_set(char *why, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int why_set(char *why, size_t cap, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return -1;
}

static json_t *unconst(const json_t *v)
{
    return (json_t *)(uintptr_t)v;
}

/* ---- shared trees ---- */

bool record_key_shared(const char *path)
{
    return path != NULL && path[0] == '/' && path[1] != '\0';
}

json_t *record_shared(const json_t *tree)
{
    json_t *out = json_object(), *props;
    const char *path;

    json_object_foreach (unconst(tree), path, props)
        if (record_key_shared(path))
            json_object_set(out, path, props);
    return out;
}

json_t *record_merge(const json_t *shared, const json_t *local)
{
    json_t *out = record_shared(shared), *machine = json_object_get(local, "/");

    json_object_set_new(out, "/", machine ? json_deep_copy(machine) : json_object());
    return out;
}

void record_hash(const json_t *shared, char out[RECORD_HASH_LEN + 1])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    char *text = json_dumps(shared, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);

    crypto_hash_sha256(h, (const unsigned char *)(text ? text : ""), text ? strlen(text) : 0);
    sodium_bin2hex(out, RECORD_HASH_LEN + 1, h, sizeof(h));
    free(text);
}

static void add_unique(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;

    json_array_foreach (arr, i, v)
        if (strcmp(json_string_value(v), s) == 0)
            return;
    json_array_append_new(arr, json_string(s));
}

static int cmp_strings(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

/* ARR sorted in place (its items are strings). */
static void sort_strings(json_t *arr)
{
    size_t n = json_array_size(arr);
    json_t **items = xcalloc(n ? n : 1, sizeof(*items));

    for (size_t i = 0; i < n; i++)
        items[i] = json_incref(json_array_get(arr, i));
    qsort(items, n, sizeof(*items), cmp_strings);
    json_array_clear(arr);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, items[i]);
    free(items);
}

json_t *record_requires(const json_t *shared)
{
    json_t *caps = json_pack("[s]", "farm"), *props, *v;
    const char *path, *name;

    json_object_foreach (unconst(shared), path, props) {
        json_object_foreach (props, name, v) {
            const struct prop *p = props_find(name);
            if (p && p->capability)
                add_unique(caps, p->capability);
        }
    }
    sort_strings(caps);
    return caps;
}

static bool has_string(const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;

    json_array_foreach (unconst(arr), i, v)
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    return false;
}

/* The first property of STATE this build does not know, or NULL. */
static const char *unknown_property(const json_t *state, const char **where)
{
    json_t *props, *v;
    const char *path, *name;

    json_object_foreach (unconst(state), path, props) {
        json_object_foreach (props, name, v) {
            if (props_find(name) == NULL) {
                *where = path;
                return name;
            }
        }
    }
    return NULL;
}

int record_check(const struct record *r, const json_t *caps, const char *version, char *why,
                 size_t cap)
{
    const char *where = "", *prop;
    size_t i;
    json_t *c;

    if (r->format > RECORD_FORMAT)
        return why_set(why, cap,
                       "farm revision %" PRIu64 " is in record format %d; infosrv %s reads up to "
                       "format %d",
                       r->revision, r->format, version, RECORD_FORMAT);
    json_array_foreach (r->requires, i, c) {
        if (!has_string(caps, json_string_value(c)))
            return why_set(why, cap,
                           "farm revision %" PRIu64 " needs capability %s, which infosrv %s "
                           "lacks",
                           r->revision, json_string_value(c), version);
    }
    if ((prop = unknown_property(r->state, &where)) != NULL)
        return why_set(why, cap,
                       "farm revision %" PRIu64 " sets property \"%.64s\" on %.200s, which "
                       "infosrv %s does not know",
                       r->revision, prop, where, version);
    return 0;
}

/* ---- records ---- */

char *record_encode(const struct record *r)
{
    json_t *o = json_pack(
        "{s:i, s:I, s:s, s:I, s:s, s:s, s:s, s:s, s:O, s:s, s:O}", "format",
        r->format ? r->format : RECORD_FORMAT, "revision", (json_int_t)r->revision, "id", r->id,
        "time", (json_int_t)r->time, "member", r->member, "identity",
        r->identity ? r->identity : "", "address", r->address ? r->address : "", "comment",
        r->comment ? r->comment : "", "requires", r->requires, "hash", r->hash, "state", r->state);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

    json_decref(o);
    if (text && strlen(text) > RECORD_MAX) {
        free(text);
        return NULL;
    }
    return text;
}

void record_free(struct record *r)
{
    free(r->identity);
    free(r->address);
    free(r->comment);
    json_decref(r->requires);
    json_decref(r->state);
    memset(r, 0, sizeof(*r));
}

static bool is_hex(const char *s, size_t n)
{
    if (s == NULL || strlen(s) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* A string of at most MAX bytes without control characters (they end up in logs). */
static const char *text_field(const json_t *o, const char *name, size_t max)
{
    const char *s = json_string_value(json_object_get(o, name));

    if (s == NULL || strlen(s) > max || strlen(s) != json_string_length(json_object_get(o, name)))
        return NULL;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return NULL;
    return s;
}

static bool strings_only(const json_t *arr, size_t max)
{
    size_t i;
    json_t *v;

    if (!json_is_array(arr) || json_array_size(arr) > max)
        return false;
    json_array_foreach (unconst(arr), i, v)
        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 64)
            return false;
    return true;
}

/* Every key a path, every key's properties an object. */
static int check_state(const json_t *state, char *why, size_t cap)
{
    const char *path;
    json_t *props;

    if (!json_is_object(state))
        return why_set(why, cap, "its state is not an object");
    json_object_foreach (unconst(state), path, props) {
        if (!record_key_shared(path))
            return why_set(why, cap, "its state holds key \"%.64s\", which is not shared", path);
        if (!json_is_object(props))
            return why_set(why, cap, "the properties of %.200s are not an object", path);
    }
    return 0;
}

static int decode_head(const json_t *o, struct record *r, char *why, size_t cap)
{
    const json_t *fmt = json_object_get(o, "format"), *rev = json_object_get(o, "revision");
    const json_t *t = json_object_get(o, "time");
    const char *id = json_string_value(json_object_get(o, "id"));
    const char *member = text_field(o, "member", RECORD_NAME_MAX);
    const char *hash = json_string_value(json_object_get(o, "hash"));

    if (!json_is_integer(fmt) || json_integer_value(fmt) < 1 || json_integer_value(fmt) > 1000)
        return why_set(why, cap, "its \"format\" is not a positive integer");
    r->format = (int)json_integer_value(fmt);
    if (!json_is_integer(rev) || json_integer_value(rev) < 1)
        return why_set(why, cap, "its \"revision\" is not a positive integer");
    r->revision = (uint64_t)json_integer_value(rev);
    if (!json_is_integer(t))
        return why_set(why, cap, "its \"time\" is not an integer");
    r->time = (int64_t)json_integer_value(t);
    if (!is_hex(id, RECORD_ID_LEN) || !is_hex(hash, RECORD_HASH_LEN) || member == NULL)
        return why_set(why, cap, "its \"id\", \"hash\" or \"member\" is malformed");
    memcpy(r->id, id, RECORD_ID_LEN + 1);
    memcpy(r->hash, hash, RECORD_HASH_LEN + 1);
    snprintf(r->member, sizeof(r->member), "%s", member);
    return 0;
}

static int decode_body(const json_t *o, struct record *r, char *why, size_t cap)
{
    const char *identity = text_field(o, "identity", RECORD_TEXT_MAX);
    const char *address = text_field(o, "address", RECORD_TEXT_MAX);
    const char *comment = text_field(o, "comment", RECORD_TEXT_MAX);
    const json_t *req = json_object_get(o, "requires"), *state = json_object_get(o, "state");
    char hash[RECORD_HASH_LEN + 1];

    if (identity == NULL || address == NULL || comment == NULL)
        return why_set(why, cap, "its \"identity\", \"address\" or \"comment\" is malformed");
    if (!strings_only(req, 256))
        return why_set(why, cap, "its \"requires\" is not a list of capability names");
    if (check_state(state, why, cap) == -1)
        return -1;
    record_hash(state, hash);
    if (strcmp(hash, r->hash) != 0)
        return why_set(why, cap, "its state does not match its hash");
    r->identity = xstrdup(identity);
    r->address = xstrdup(address);
    r->comment = xstrdup(comment);
    r->requires = json_incref(unconst(req));
    r->state = json_incref(unconst(state));
    return 0;
}

int record_decode(const char *text, size_t n, struct record *r, char *why, size_t cap)
{
    json_error_t je;
    json_t *o;
    int rc;

    memset(r, 0, sizeof(*r));
    if (n > RECORD_MAX)
        return why_set(why, cap, "the record is larger than %u bytes", RECORD_MAX);
    o = json_loadb(text, n, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return why_set(why, cap, "the record is not a JSON object");
    }
    rc = decode_head(o, r, why, cap);
    if (rc == 0 && r->format <= RECORD_FORMAT)
        rc = decode_body(o, r, why, cap);
    else if (rc == 0) { /* a newer layout: keep what record_check needs to say so */
        r->requires = json_array();
        r->state = json_object();
    }
    json_decref(o);
    if (rc == -1)
        record_free(r);
    return rc;
}

/* ---- keys ---- */

void record_rev_key(const char *prefix, uint64_t n, char *out, size_t cap)
{
    snprintf(out, cap, "%s/revisions/%020" PRIu64, prefix, n);
}

int record_rev_parse(const char *prefix, const char *key, uint64_t *n)
{
    size_t plen = strlen(prefix);
    const char *p = key + plen + strlen("/revisions/");
    uint64_t v = 0;

    if (strncmp(key, prefix, plen) != 0 || strncmp(key + plen, "/revisions/", 11) != 0 ||
        strlen(p) != 20)
        return -1;
    for (size_t i = 0; i < 20; i++) {
        if (p[i] < '0' || p[i] > '9' || v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    *n = v;
    return 0;
}

void record_member_key(const char *prefix, const char *sub, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s/%s", prefix, sub, name);
}

const char *record_member_parse(const char *prefix, const char *sub, const char *key)
{
    size_t plen = strlen(prefix), slen = strlen(sub);
    const char *name = key + plen + slen + 2;

    if (strncmp(key, prefix, plen) != 0 || key[plen] != '/' ||
        strncmp(key + plen + 1, sub, slen) != 0 || key[plen + 1 + slen] != '/')
        return NULL;
    if (*name == '\0' || strlen(name) > RECORD_NAME_MAX)
        return NULL;
    for (const char *p = name; *p; p++) /* it is shown in tables and logs */
        if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '/')
            return NULL;
    return name;
}

/* ---- bookkeeping ---- */

enum record_step record_next(uint64_t applied, uint64_t incoming)
{
    if (incoming <= applied)
        return RECORD_SKIP;
    return incoming == applied + 1 ? RECORD_APPLY : RECORD_GAP;
}

/* ---- members ---- */

char *member_encode(const struct member *m)
{
    json_t *caps = m->capabilities ? json_incref(m->capabilities) : json_array();
    json_t *o =
        json_pack("{s:s, s:s, s:o, s:I, s:s, s:s, s:s?, s:I, s:s, s:I, s:I}", "name", m->name,
                  "version", m->version, "capabilities", caps, "revision", (json_int_t)m->revision,
                  "hash", m->hash, "farm_hash", m->farm_hash, "error", m->error, "error_revision",
                  (json_int_t)m->error_revision, "admin", m->admin, "started",
                  (json_int_t)m->started, "updated", (json_int_t)m->updated);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

    json_decref(o);
    return text;
}

void member_free(struct member *m)
{
    json_decref(m->capabilities);
    free(m->error);
    memset(m, 0, sizeof(*m));
}

static uint64_t uint_field(const json_t *o, const char *name, bool *ok)
{
    const json_t *v = json_object_get(o, name);

    if (!json_is_integer(v) || json_integer_value(v) < 0)
        *ok = false;
    return json_is_integer(v) && json_integer_value(v) >= 0 ? (uint64_t)json_integer_value(v) : 0;
}

static bool copy_field(const json_t *o, const char *name, size_t max, char *out, size_t cap)
{
    const char *s = text_field(o, name, max);

    if (s == NULL)
        return false;
    snprintf(out, cap, "%s", s);
    return true;
}

int member_decode(const char *text, size_t n, struct member *m, char *why, size_t cap)
{
    json_t *o = json_loadb(text, n, JSON_REJECT_DUPLICATES, NULL);
    const json_t *err = json_object_get(o, "error"), *caps = json_object_get(o, "capabilities");

    if (json_is_null(err))
        err = NULL;
    bool ok = json_is_object(o);
    const char *e;

    memset(m, 0, sizeof(*m));
    ok = ok && copy_field(o, "name", RECORD_NAME_MAX, m->name, sizeof(m->name)) &&
         copy_field(o, "version", 31, m->version, sizeof(m->version)) &&
         copy_field(o, "hash", RECORD_HASH_LEN, m->hash, sizeof(m->hash)) &&
         copy_field(o, "farm_hash", RECORD_HASH_LEN, m->farm_hash, sizeof(m->farm_hash)) &&
         copy_field(o, "admin", 127, m->admin, sizeof(m->admin)) && strings_only(caps, 256);
    m->revision = uint_field(o, "revision", &ok);
    m->error_revision = uint_field(o, "error_revision", &ok);
    m->started = (int64_t)uint_field(o, "started", &ok);
    m->updated = (int64_t)uint_field(o, "updated", &ok);
    e = err ? text_field(o, "error", RECORD_TEXT_MAX) : NULL;
    ok = ok && (err == NULL || e != NULL) && m->name[0] != '\0';
    if (ok) {
        m->capabilities = json_incref(unconst(caps));
        m->error = e ? xstrdup(e) : NULL;
    }
    json_decref(o);
    if (!ok) {
        member_free(m);
        return why_set(why, cap, "a member entry is malformed");
    }
    return 0;
}
