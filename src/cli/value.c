/* value: VALUE text to JSON for `set`. */
#include "cli/value.h"

#include <string.h>

#include "core/alloc.h"

static json_t *parse_json(const char *text)
{
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);

    /* "null" is not a way to unset (that is `infoadm unset`): keep it a string. */
    if (json_is_null(v)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

static json_t *trimmed_string(const char *s, size_t n)
{
    while (n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return json_stringn(s, n);
}

/* "a, b,c" → ["a","b","c"]; "" → []. Empty items stay, so the server names them. */
static json_t *split_list(const char *text)
{
    json_t *arr = json_array();
    const char *p = text;

    if (*text == '\0')
        return arr;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
        json_array_append_new(arr, trimmed_string(p, n));
        if (comma == NULL)
            return arr;
        p = comma + 1;
    }
}

/* "k=v,k2=v2" → {"k":"v","k2":"v2"}; NULL when an item has no "=". */
static json_t *split_map(const char *text)
{
    json_t *list = split_list(text);
    json_t *map = json_object();
    size_t i;
    json_t *item;

    json_array_foreach (list, i, item) {
        const char *s = json_string_value(item);
        const char *eq = strchr(s, '=');
        if (eq == NULL || eq == s) {
            json_decref(map);
            map = NULL;
            break;
        }
        char *k = xstrndup(s, (size_t)(eq - s));
        json_object_set_new(map, k, json_string(eq + 1));
        free(k);
    }
    json_decref(list);
    return map;
}

static json_t *as_list(const char *text, json_t *parsed)
{
    json_t *out;

    if (json_is_array(parsed))
        return parsed;
    out = split_list(json_is_string(parsed) ? json_string_value(parsed) : text);
    json_decref(parsed);
    return out;
}

static json_t *as_map(const char *text, json_t *parsed)
{
    json_t *out;

    if (json_is_object(parsed))
        return parsed;
    json_decref(parsed);
    out = split_map(text);
    return out != NULL ? out : json_string(text);
}

json_t *cli_value_parse(const char *text, const json_t *current)
{
    json_t *parsed, *probe = json_string(text);

    if (probe == NULL)
        return NULL; /* not UTF-8: nothing sensible to send */
    json_decref(probe);
    parsed = parse_json(text);

    if (json_is_array(current))
        return as_list(text, parsed);
    if (json_is_object(current))
        return as_map(text, parsed);
    if (json_is_string(current)) {
        if (json_is_string(parsed))
            return parsed;
        json_decref(parsed);
        return json_string(text);
    }
    return parsed != NULL ? parsed : json_string(text);
}

int cli_value_split(const char *arg, char **name, const char **value)
{
    const char *eq = strchr(arg, '=');

    if (eq == NULL || eq == arg)
        return -1;
    *name = xstrndup(arg, (size_t)(eq - arg));
    *value = eq + 1;
    return 0;
}
