/*
 * props: the declarative property table — the single place a setting is
 * declared (type, default, bounds, where it may be set, inheritance, secrecy,
 * how it applies, documentation). Validation, the API, CLI help and
 * docs/properties.md read it. Static and read-only: safe from any thread.
 */
#ifndef METABASE_PROPS_H
#define METABASE_PROPS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct mb_error;

/** Kinds of keys, as bits so a property can name several. */
enum mb_kind {
    MB_KIND_MACHINE = 1 << 0, /* "/" */
    MB_KIND_SERVICE = 1 << 1, /* /www, /ftp, /gopher */
    MB_KIND_SITE = 1 << 2,    /* /SVC/sites/NAME */
    MB_KIND_VDIR = 1 << 3,    /* /SVC/sites/NAME/root[/ALIAS...] */
    MB_KIND_SITES = 1 << 4,   /* /SVC/sites: an implicit container without properties */
    MB_KIND_USERS = 1 << 5,   /* /ftp/users: an implicit container without properties */
    MB_KIND_USER = 1 << 6,    /* /ftp/users/NAME: a named FTP user */
};

/** Services, as bits. */
enum mb_service {
    MB_SVC_WWW = 1 << 0,
    MB_SVC_FTP = 1 << 1,
    MB_SVC_GOPHER = 1 << 2,
    MB_SVC_ALL = MB_SVC_WWW | MB_SVC_FTP | MB_SVC_GOPHER,
};

enum prop_type {
    PROP_STRING, /* UTF-8, no control characters, at most 1024 bytes */
    PROP_INT,    /* JSON integer within [min, max] */
    PROP_BOOL,
    PROP_ENUM,     /* one of values */
    PROP_STRLIST,  /* array of non-empty strings */
    PROP_MAP,      /* object: string -> non-empty string */
    PROP_ADDRLIST, /* array of "ADDR:PORT" or "https://ADDR:PORT" (net_parse_binding) */
    PROP_PATH,     /* absolute path */
};

enum prop_apply { PROP_LIVE, PROP_RESTART };

/** Where a property is required (beyond "may be set"). */
enum prop_required { PROP_OPTIONAL, PROP_REQUIRED_ON_ROOT };

struct prop {
    const char *name;
    enum prop_type type;
    const char *def;           /* default as JSON text; NULL = none */
    int64_t min, max;          /* PROP_INT bounds */
    const char *const *values; /* PROP_ENUM, and PROP_STRLIST items when set: NULL-terminated */
    /* PROP_STRLIST items and PROP_STRING values: NULL when valid, else what it must be */
    const char *(*item_check)(const char *item);
    /* PROP_MAP entries: NULL when NAME -> VALUE is valid, else what it must be */
    const char *(*entry_check)(const char *name, const char *value);
    /* the admin API capability that came with the property, or NULL: a farm
       revision that sets it needs members that have the capability */
    const char *capability;
    unsigned where;            /* mask of enum mb_kind */
    unsigned services;         /* mask of enum mb_service (ignored on the machine key) */
    bool inherit;              /* keys below see the value unless they override it */
    bool secret;               /* write-only: never returned by reads */
    enum prop_apply apply;
    enum prop_required required;
    const char *doc; /* one line */
};

/** The property called NAME, or NULL. */
const struct prop *props_find(const char *name);
/** How many properties the table holds. */
size_t props_count(void);
/** Property I (0 <= I < props_count()), in table order. */
const struct prop *props_at(size_t i);
/** Whether P may be set on a key of KIND in SERVICE (0 for the machine key). */
bool props_valid_on(const struct prop *p, enum mb_kind kind, unsigned service);
/** 0 when P may be set on KEY, else -1 with MB_E_NOT_ALLOWED_HERE naming both. */
int props_check_where(const struct prop *p, enum mb_kind kind, unsigned service, const char *key,
                      struct mb_error *err);
/** 0 when V is a valid value of P, else -1 with MB_E_INVALID_VALUE naming P, KEY and V. */
int props_check_value(const struct prop *p, const json_t *v, const char *key, struct mb_error *err);
/** P's default as a new JSON value, or NULL when it has none. */
json_t *props_default(const struct prop *p);
/** "string", "integer", ... for messages and documentation. */
const char *props_type_name(enum prop_type t);
/** Human words for a mask of kinds: "sites and virtual directories". */
void props_where_text(unsigned where, char *out, size_t cap);
/** Write the property reference (docs/properties.md) as Markdown. */
void props_doc_markdown(FILE *f);

#endif
