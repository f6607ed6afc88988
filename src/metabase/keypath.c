/* keypath: parsing and validating key paths into their kind and service. */
#include <stdio.h>
#include <string.h>

#include "metabase/mb_int.h"

static const struct {
    const char *name;
    unsigned bit;
} services[] = {{"www", MB_SVC_WWW}, {"ftp", MB_SVC_FTP}, {"gopher", MB_SVC_GOPHER}};

const char *mb_kind_name(enum mb_kind kind)
{
    switch (kind) {
    case MB_KIND_MACHINE:
        return "machine";
    case MB_KIND_SERVICE:
        return "service";
    case MB_KIND_SITE:
        return "site";
    case MB_KIND_VDIR:
        return "vdir";
    case MB_KIND_SITES:
        return "sites";
    case MB_KIND_USERS:
        return "users";
    case MB_KIND_USER:
        return "user";
    }
    return "unknown";
}

static bool site_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > MB_SITE_MAX ||
        !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789_-", s[i]))
            return false;
    return true;
}

/* FTP user names: what USER may carry, without anything a path or log could misread. */
static bool user_name_ok(const char *s, size_t n)
{
    bool first_ok = n > 0 && ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
                              (s[0] >= '0' && s[0] <= '9'));

    if (!first_ok || n > MB_USER_MAX)
        return false;
    for (size_t i = 1; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@", s[i]) ||
            s[i] == '\0')
            return false;
    return true;
}

/* RFC 3986 pchar without '%' (aliases are matched against decoded paths). */
static bool alias_ok(const char *s, size_t n)
{
    static const char extra[] = "-._~!$&'()*+,;=:@";

    if (n == 0 || n > MB_ALIAS_MAX || (n == 1 && s[0] == '.') ||
        (n == 2 && s[0] == '.' && s[1] == '.'))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (c == '\0' || !strchr(extra, c)))
            return false;
    }
    return true;
}

static int bad_key(struct mb_error *err, const char *key, const char *why)
{
    return mb_fail(err, MB_E_INVALID_KEY, key, NULL, "invalid key \"%s\": %s", key, why);
}

/* Check segment I (0-based, after the leading slash) of a key and set the
 * kind the key has when it ends there. */
static int segment(struct mb_key *k, size_t i, const char *s, size_t n, struct mb_error *err)
{
    if (i == 0) {
        for (size_t j = 0; j < sizeof(services) / sizeof(services[0]); j++)
            if (strlen(services[j].name) == n && memcmp(services[j].name, s, n) == 0) {
                k->service = services[j].bit, k->kind = MB_KIND_SERVICE;
                return 0;
            }
        return bad_key(err, k->path, "the first segment must be www, ftp or gopher");
    }
    if (i == 1 && n == 5 && memcmp(s, "sites", 5) == 0)
        return k->kind = MB_KIND_SITES, 0;
    if (i == 1 && n == 5 && memcmp(s, "users", 5) == 0 && k->service == MB_SVC_FTP)
        return k->kind = MB_KIND_USERS, 0;
    if (i == 1)
        return bad_key(err, k->path, k->service == MB_SVC_FTP
                                         ? "below /ftp only \"sites\" and \"users\" exist"
                                         : "below a service only \"sites\" exists");
    if (i == 2 && k->kind == MB_KIND_USERS && user_name_ok(s, n))
        return k->kind = MB_KIND_USER, 0;
    if (i == 2 && k->kind == MB_KIND_USERS)
        return bad_key(err, k->path, "an FTP user name is 1-64 of a-z, A-Z, 0-9, '.', '_', '-' "
                                     "and '@', starting with a letter or digit");
    if (k->kind == MB_KIND_USER)
        return bad_key(err, k->path, "an FTP user has no keys below it");
    if (i == 2 && site_name_ok(s, n))
        return k->kind = MB_KIND_SITE, 0;
    if (i == 2)
        return bad_key(err, k->path,
                       "a site name is 1-63 of a-z, 0-9, '_' and '-', starting with a-z or 0-9");
    if (i == 3 && n == 4 && memcmp(s, "root", 4) == 0)
        return k->kind = MB_KIND_VDIR, k->root = true, 0;
    if (i == 3)
        return bad_key(err, k->path, "below a site only \"root\" (its home directory) exists");
    if (!alias_ok(s, n))
        return bad_key(err, k->path,
                       "a virtual directory name is 1-128 URL path characters (no '/' or '%'), "
                       "not \".\" or \"..\"");
    return k->kind = MB_KIND_VDIR, k->root = false, 0;
}

static int copy_path(struct mb_key *k, const char *s, struct mb_error *err)
{
    size_t n = strlen(s);

    if (n > 2 && s[n - 1] == '/' && s[n - 2] != '/') /* one trailing slash is tolerated */
        n--;
    if (n > MB_KEY_MAX) {
        snprintf(k->path, sizeof(k->path), "%.*s", MB_KEY_MAX, s);
        return bad_key(err, k->path, "key paths are limited to 255 bytes");
    }
    memcpy(k->path, s, n);
    k->path[n] = '\0';
    if (n == 0 || s[0] != '/')
        return bad_key(err, k->path, "a key path starts with '/'");
    return 0;
}

int mb_key_parse(const char *s, struct mb_key *k, struct mb_error *err)
{
    const char *p, *slash;
    size_t i = 0;

    memset(k, 0, sizeof(*k));
    if (s == NULL)
        return bad_key(err, "", "no key given");
    if (copy_path(k, s, err) == -1)
        return -1;
    k->kind = MB_KIND_MACHINE;
    if (k->path[1] == '\0')
        return 0;
    for (p = k->path + 1;; p = slash + 1, i++) {
        slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 0)
            return bad_key(err, k->path, "empty path segment");
        if (segment(k, i, p, n, err) == -1)
            return -1;
        if (slash == NULL)
            return 0;
    }
}

bool mb_key_parent(const struct mb_key *k, struct mb_key *parent)
{
    char buf[MB_KEY_MAX + 1];
    const char *slash;

    if (k->kind == MB_KIND_MACHINE)
        return false;
    slash = strrchr(k->path, '/');
    if (slash == k->path)
        return mb_key_parse("/", parent, NULL) == 0;
    snprintf(buf, sizeof(buf), "%.*s", (int)(slash - k->path), k->path);
    return mb_key_parse(buf, parent, NULL) == 0;
}

bool mb_key_implicit(const struct mb_key *k)
{
    return k->kind == MB_KIND_MACHINE || k->kind == MB_KIND_SERVICE || k->kind == MB_KIND_SITES ||
           k->kind == MB_KIND_USERS;
}
