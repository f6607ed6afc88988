/* props_check: is a JSON value valid for a property of the table? */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/net.h"
#include "metabase/mb_int.h"

#define STRING_MAX 1024 /* bytes in a string property */
#define PATH_MAX_LEN 4095
#define ITEM_MAX 255 /* bytes in one list item or map value */
#define MAPKEY_MAX 64
#define LIST_MAX 64 /* items in a list */
#define MAP_MAX 256 /* entries in a map */

/* A JSON string of at most MAX bytes, without NUL or other control bytes. */
static bool text_ok(const json_t *v, size_t min, size_t max)
{
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);

    if (s == NULL || n < min || n > max || strlen(s) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

static int bad(const struct prop *p, const json_t *v, const char *key, const char *want,
               struct mb_error *err)
{
    char got[64];

    if (p->secret) /* never echo a secret, even a malformed one */
        snprintf(got, sizeof(got), "%s", MB_SECRET_MARK);
    else
        mb_json_brief(v, got, sizeof(got));
    return mb_fail(err, MB_E_INVALID_VALUE, key, p->name,
                   "property \"%s\" on %s must be %s, got %s", p->name, key, want, got);
}

static int check_int(const struct prop *p, const json_t *v, const char *key, struct mb_error *err)
{
    char want[96];

    if (json_is_integer(v) && json_integer_value(v) >= p->min && json_integer_value(v) <= p->max)
        return 0;
    snprintf(want, sizeof(want), "an integer from %" PRId64 " to %" PRId64, p->min, p->max);
    return bad(p, v, key, want, err);
}

static int check_enum(const struct prop *p, const json_t *v, const char *key, struct mb_error *err)
{
    char want[128] = "one of";
    size_t used = strlen(want);

    for (size_t i = 0; json_is_string(v) && p->values[i]; i++)
        if (strcmp(p->values[i], json_string_value(v)) == 0)
            return 0;
    for (size_t i = 0; p->values[i] && used < sizeof(want); i++) {
        int w = snprintf(want + used, sizeof(want) - used, "%s \"%s\"", i ? "," : "", p->values[i]);
        used += w > 0 ? (size_t)w : 0;
    }
    return bad(p, v, key, want, err);
}

static int check_strlist(const struct prop *p, const json_t *v, const char *key,
                         struct mb_error *err)
{
    size_t i;
    json_t *item;

    if (!json_is_array(v) || json_array_size(v) > LIST_MAX)
        return bad(p, v, key, "a list of at most 64 strings", err);
    json_array_foreach (v, i, item) {
        if (!text_ok(item, 1, ITEM_MAX))
            return bad(p, v, key,
                       "a list of non-empty strings of at most 255 bytes without control "
                       "characters",
                       err);
        if (p->values && check_enum(p, item, key, err) == -1)
            return -1;
        const char *want = p->item_check ? p->item_check(json_string_value(item)) : NULL;
        if (want)
            return bad(p, item, key, want, err);
        for (size_t j = 0; (p->values || p->item_check) && j < i; j++)
            if (json_equal(json_array_get(v, j), item))
                return mb_fail(err, MB_E_INVALID_VALUE, key, p->name,
                               "property \"%s\" on %s lists \"%s\" twice", p->name, key,
                               json_string_value(item));
    }
    return 0;
}

static int check_map(const struct prop *p, const json_t *v, const char *key, struct mb_error *err)
{
    const char *name;
    json_t *val;

    if (!json_is_object(v) || json_object_size(v) > MAP_MAX)
        return bad(p, v, key, "an object of at most 256 entries", err);
    json_object_foreach (mb_unconst(v), name, val) {
        json_t *kj = json_string(name);
        bool ok = text_ok(kj, 1, MAPKEY_MAX) && !strchr(name, ' ') && text_ok(val, 1, ITEM_MAX);
        json_decref(kj);
        if (!ok)
            return bad(p, v, key,
                       "an object mapping names (1-64 bytes, no spaces) to non-empty strings", err);
        const char *want = p->entry_check ? p->entry_check(name, json_string_value(val)) : NULL;
        if (want)
            return mb_fail(err, MB_E_INVALID_VALUE, key, p->name,
                           "property \"%s\" on %s: entry \"%s\": \"%.64s\" must be %s", p->name,
                           key, name, json_string_value(val), want);
    }
    return 0;
}

static int check_addr(const struct prop *p, const json_t *list, size_t i, const char *key,
                      struct mb_error *err)
{
    const json_t *item = json_array_get(list, i);
    struct net_addr a;
    const char *why = "expected a string";
    bool tls;

    if (text_ok(item, 1, 72) && net_parse_binding(json_string_value(item), &a, &tls, &why) == 0) {
        for (size_t j = 0; j < i; j++)
            if (json_equal(json_array_get(list, j), mb_unconst(item)))
                return mb_fail(err, MB_E_INVALID_VALUE, key, p->name,
                               "property \"%s\" on %s lists %s twice", p->name, key,
                               json_string_value(item));
        return 0;
    }
    char got[64];
    mb_json_brief(item, got, sizeof(got));
    return mb_fail(err, MB_E_INVALID_VALUE, key, p->name,
                   "property \"%s\" on %s must be a list of \"ADDR:PORT\" or \"https://ADDR:PORT\" "
                   "(ftps://, gophers://) strings; %s: %s", p->name,
                   key, got, why);
}

static int check_addrlist(const struct prop *p, const json_t *v, const char *key,
                          struct mb_error *err)
{
    if (!json_is_array(v) || json_array_size(v) > LIST_MAX)
        return bad(p, v, key, "a list of at most 64 \"ADDR:PORT\" or \"https://ADDR:PORT\" strings", err);
    for (size_t i = 0; i < json_array_size(v); i++)
        if (check_addr(p, v, i, key, err) == -1)
            return -1;
    return 0;
}

int props_check_value(const struct prop *p, const json_t *v, const char *key, struct mb_error *err)
{
    switch (p->type) {
    case PROP_INT:
        return check_int(p, v, key, err);
    case PROP_BOOL:
        return json_is_boolean(v) ? 0 : bad(p, v, key, "true or false", err);
    case PROP_ENUM:
        return check_enum(p, v, key, err);
    case PROP_STRING:
        if (!text_ok(v, 0, STRING_MAX))
            return bad(p, v, key, "a string of at most 1024 bytes without control characters",
                       err);
        if (p->item_check && p->item_check(json_string_value(v)))
            return bad(p, v, key, p->item_check(json_string_value(v)), err);
        return 0;
    case PROP_PATH:
        return text_ok(v, 1, PATH_MAX_LEN) && json_string_value(v)[0] == '/'
                   ? 0
                   : bad(p, v, key, "an absolute path (a string starting with \"/\")", err);
    case PROP_STRLIST:
        return check_strlist(p, v, key, err);
    case PROP_MAP:
        return check_map(p, v, key, err);
    case PROP_ADDRLIST:
        return check_addrlist(p, v, key, err);
    }
    return bad(p, v, key, "of a known type", err);
}
