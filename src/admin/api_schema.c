/* GET /api/v1/schema: the property table, for clients that generate forms
 * from it (the web console's property sheets). */
#include <jansson.h>

#include "admin/api_int.h"
#include "metabase/props.h"

static const char *type_name(enum prop_type t)
{
    switch (t) {
    case PROP_STRING: return "string";
    case PROP_INT: return "integer";
    case PROP_BOOL: return "boolean";
    case PROP_ENUM: return "enum";
    case PROP_STRLIST: return "string_list";
    case PROP_MAP: return "map";
    case PROP_ADDRLIST: return "address_list";
    case PROP_PATH: return "path";
    }
    return "string";
}

static json_t *where_json(unsigned where)
{
    static const struct {
        unsigned bit;
        const char *name;
    } kinds[] = {{MB_KIND_MACHINE, "machine"}, {MB_KIND_SERVICE, "service"},
                 {MB_KIND_SITE, "site"},       {MB_KIND_VDIR, "vdir"},
                 {MB_KIND_USER, "user"}};
    json_t *a = json_array();

    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (where & kinds[i].bit)
            json_array_append_new(a, json_string(kinds[i].name));
    return a;
}

static json_t *services_json(unsigned services)
{
    json_t *a = json_array();

    if (services & MB_SVC_WWW)
        json_array_append_new(a, json_string("www"));
    if (services & MB_SVC_FTP)
        json_array_append_new(a, json_string("ftp"));
    if (services & MB_SVC_GOPHER)
        json_array_append_new(a, json_string("gopher"));
    return a;
}

static json_t *prop_json(const struct prop *p)
{
    json_t *o = json_object(), *def = props_default(p);

    json_object_set_new(o, "name", json_string(p->name));
    json_object_set_new(o, "type", json_string(type_name(p->type)));
    json_object_set_new(o, "default", def ? def : json_null());
    if (p->type == PROP_INT) {
        json_object_set_new(o, "min", json_integer(p->min));
        json_object_set_new(o, "max", json_integer(p->max));
    }
    if (p->values && (p->type == PROP_ENUM || p->type == PROP_STRLIST)) {
        json_t *v = json_array();
        for (const char *const *e = p->values; *e; e++)
            json_array_append_new(v, json_string(*e));
        json_object_set_new(o, "values", v);
    }
    json_object_set_new(o, "where", where_json(p->where));
    json_object_set_new(o, "services", services_json(p->services));
    json_object_set_new(o, "inherit", json_boolean(p->inherit));
    json_object_set_new(o, "secret", json_boolean(p->secret));
    json_object_set_new(o, "apply", json_string(p->apply == PROP_LIVE ? "live" : "restart"));
    json_object_set_new(o, "capability", p->capability ? json_string(p->capability) : json_null());
    json_object_set_new(o, "doc", json_string(p->doc ? p->doc : ""));
    return o;
}

json_t *api_schema_json(void)
{
    json_t *list = json_array();

    for (size_t i = 0; i < props_count(); i++)
        json_array_append_new(list, prop_json(props_at(i)));
    return json_pack("{s:[sssss],s:o}", "kinds", "machine", "service", "site", "vdir", "user",
                     "properties", list);
}
