/* inventory: loading, changing and atomically saving servers.json. */
#include "cli/inventory.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/client.h"
#include "cli/output.h"
#include "core/alloc.h"
#include "core/fsutil.h"

#define INV_MAX_BYTES (4 << 20)

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 1;
    char *s = xmalloc(n);

    snprintf(s, n, "%s%s", a, b);
    return s;
}

char *inv_default_path(struct cli_err *err)
{
    const char *v = getenv("INFOADM_CONFIG");

    if (v != NULL && *v != '\0')
        return xstrdup(v);
    v = getenv("XDG_CONFIG_HOME");
    if (v != NULL && *v == '/')
        return join(v, "/infoadm/servers.json");
    v = getenv("HOME");
    if (v != NULL && *v != '\0')
        return join(v, "/.config/infoadm/servers.json");
    cli_err_set(err, CLI_EXIT_USAGE, "no_inventory",
                "cannot locate the inventory: set INFOADM_CONFIG or HOME");
    return NULL;
}

static int check_shape(const json_t *doc, const char *path, struct cli_err *err)
{
    const json_t *servers = json_object_get(doc, "servers");
    const char *name;
    const json_t *s;

    if (!json_is_object(doc) || !json_is_object(servers)) {
        cli_err_set(err, CLI_EXIT_USAGE, "bad_inventory",
                    "%s: expected {\"servers\": {NAME: {\"url\": ...}}}", path);
        return -1;
    }
    json_object_foreach (out_unconst(servers), name, s) {
        if (!json_is_string(json_object_get(s, "url"))) {
            cli_err_set(err, CLI_EXIT_USAGE, "bad_inventory",
                        "%s: server \"%s\" has no \"url\" string", path, name);
            return -1;
        }
    }
    return 0;
}

int inv_load(struct inv *inv, const char *path, struct cli_err *err)
{
    json_error_t je;
    struct stat st;

    inv->path = xstrdup(path);
    inv->doc = NULL;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT) {
            inv->doc = json_pack("{s:{}}", "servers");
            return 0;
        }
        cli_err_set(err, CLI_EXIT_USAGE, "bad_inventory", "cannot read %s: %s", path,
                    strerror(errno));
        return -1;
    }
    if (st.st_size > INV_MAX_BYTES) {
        cli_err_set(err, CLI_EXIT_USAGE, "bad_inventory", "%s: larger than %d bytes", path,
                    INV_MAX_BYTES);
        return -1;
    }
    inv->doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (inv->doc == NULL) {
        cli_err_set(err, CLI_EXIT_USAGE, "bad_inventory", "%s: line %d: %s", path, je.line,
                    je.text);
        return -1;
    }
    return check_shape(inv->doc, path, err);
}

void inv_free(struct inv *inv)
{
    free(inv->path);
    json_decref(inv->doc);
    inv->path = NULL;
    inv->doc = NULL;
}

/* mkdir -p for the directory part of PATH; directories we create are 0700. */
static int make_parents(const char *path, struct cli_err *err)
{
    char *dir = xstrdup(path);
    int rc = 0;

    for (char *p = dir + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            cli_err_set(err, CLI_EXIT_USAGE, "inventory_write", "cannot create %s: %s", dir,
                        strerror(errno));
            rc = -1;
            break;
        }
        *p = '/';
    }
    free(dir);
    return rc;
}

int inv_save(const struct inv *inv, struct cli_err *err)
{
    char *tmp = join(inv->path, ".XXXXXX");
    char *text = json_dumps(inv->doc, JSON_INDENT(2));
    int fd = -1, rc = -1;

    if (make_parents(inv->path, err) < 0)
        goto done;
    fd = mkstemp(tmp);
    if (fd < 0 || fchmod(fd, 0600) != 0 || fs_write_all(fd, text, strlen(text)) < 0 ||
        fs_write_all(fd, "\n", 1) < 0 || fsync(fd) != 0 || close(fd) != 0) {
        cli_err_set(err, CLI_EXIT_USAGE, "inventory_write", "cannot write %s: %s", inv->path,
                    strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        goto done;
    }
    if (rename(tmp, inv->path) != 0) {
        cli_err_set(err, CLI_EXIT_USAGE, "inventory_write", "cannot replace %s: %s", inv->path,
                    strerror(errno));
        unlink(tmp);
        goto done;
    }
    rc = 0;
done:
    free(text);
    free(tmp);
    return rc;
}

static const char *str_field(const json_t *obj, const char *name)
{
    const json_t *v = json_object_get(obj, name);
    return json_is_string(v) && json_string_length(v) > 0 ? json_string_value(v) : NULL;
}

static void fill(const char *name, const json_t *s, struct inv_server *out)
{
    out->name = name;
    out->url = str_field(s, "url");
    out->token = str_field(s, "token");
    out->pin = str_field(s, "pin");
    out->cacert = str_field(s, "cacert");
}

int inv_find(const struct inv *inv, const char *name, struct inv_server *out)
{
    const json_t *servers = json_object_get(inv->doc, "servers");
    void *it = json_object_iter_at(out_unconst(servers), name);

    if (it == NULL)
        return -1;
    fill(json_object_iter_key(it), json_object_iter_value(it), out);
    return 0;
}

int inv_find_url(const struct inv *inv, const char *url, struct inv_server *out)
{
    const json_t *servers = json_object_get(inv->doc, "servers");
    const char *name;
    const json_t *s;
    struct cli_err ignored;

    json_object_foreach (out_unconst(servers), name, s) {
        char *norm = NULL;
        bool same =
            cli_url_norm(json_string_value(json_object_get(s, "url")), &norm, &ignored) == 0 &&
            strcmp(norm, url) == 0;
        free(norm);
        if (same) {
            fill(name, s, out);
            return 0;
        }
    }
    return -1;
}

bool inv_name_valid(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > 64 || strchr("._-", name[0]) != NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

static void set_opt(json_t *obj, const char *name, const char *value)
{
    if (value != NULL && *value != '\0')
        json_object_set_new(obj, name, json_string(value));
}

int inv_add(struct inv *inv, const struct inv_server *s, struct cli_err *err)
{
    json_t *servers = json_object_get(inv->doc, "servers");
    json_t *entry;
    char *url = NULL;

    if (!inv_name_valid(s->name)) {
        cli_err_set(err, CLI_EXIT_USAGE, "invalid_name",
                    "invalid server name '%s': use letters, digits, '.', '_' and '-'", s->name);
        return -1;
    }
    if (json_object_get(servers, s->name) != NULL) {
        cli_err_set(err, CLI_EXIT_USAGE, "server_exists",
                    "server '%s' is already in %s; remove it first", s->name, inv->path);
        return -1;
    }
    if (cli_url_norm(s->url, &url, err) < 0)
        return -1;
    entry = json_pack("{s:s}", "url", url);
    free(url);
    set_opt(entry, "token", s->token);
    set_opt(entry, "pin", s->pin);
    set_opt(entry, "cacert", s->cacert);
    json_object_set_new(servers, s->name, entry);
    return 0;
}

int inv_remove(struct inv *inv, const char *name, struct cli_err *err)
{
    json_t *servers = json_object_get(inv->doc, "servers");

    if (json_object_del(servers, name) != 0) {
        cli_err_set(err, CLI_EXIT_USAGE, "no_such_server", "no server '%s' in %s", name, inv->path);
        return -1;
    }
    return 0;
}

int inv_set_pin(struct inv *inv, const char *name, const char *pin)
{
    json_t *entry = json_object_get(json_object_get(inv->doc, "servers"), name);

    if (!json_is_object(entry))
        return -1;
    return json_object_set_new(entry, "pin", json_string(pin));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **inv_names(const struct inv *inv, size_t *n)
{
    const json_t *servers = json_object_get(inv->doc, "servers");
    const char **names = xcalloc(json_object_size(servers) + 1, sizeof(char *));
    const char *name;
    const json_t *s;

    *n = 0;
    json_object_foreach (out_unconst(servers), name, s) {
        (void)s;
        names[(*n)++] = name;
    }
    qsort(names, *n, sizeof(char *), cmp_str);
    return names;
}
