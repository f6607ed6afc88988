/*
 * commands_config: the configuration tree and its revisions — get, set,
 * unset, history, show, diff, rollback, export, import, backups.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/value.h"
#include "core/alloc.h"
#ifndef INFOADM_NO_PROPS
#include "metabase/props.h"
#endif

#define MAX_DEPTH 32
#define MAX_WALK 1000
#define MAX_IMPORT (1 << 20) /* the admin API's body limit */

/* ---- get ---- */

/* Where a value comes from: "-" set here, an ancestor key, or "(default)". The
 * 0.1.0 server reports defaults as inherited from source "default". */
static char *prop_from(const json_t *p)
{
    const json_t *src = json_object_get(p, "source");
    bool dflt = json_is_true(json_object_get(p, "default")) ||
                (json_is_string(src) && strcmp(json_string_value(src), "default") == 0);

    if (dflt)
        return xstrdup("(default)");
    if (json_is_true(json_object_get(p, "inherited")))
        return json_is_string(src) ? out_cell(src) : xstrdup("(inherited)");
    return xstrdup("-");
}

static char *prop_cell(const json_t *p)
{
    if (!json_is_object(p))
        return out_cell(p);
    if (json_is_true(json_object_get(p, "secret")))
        return xstrdup(json_is_true(json_object_get(p, "set")) ? "(secret, set)"
                                                               : "(secret, not set)");
    return out_cell(json_object_get(p, "value"));
}

static struct out_table *props_table(const json_t *key)
{
    struct out_table *t = out_table_new(3, (const char *[]){"NAME", "VALUE", "INHERITED FROM"});
    const char *name;
    const json_t *p;

    json_object_foreach (out_unconst(json_object_get(key, "properties")), name, p) {
        char *v = prop_cell(p), *from = json_is_object(p) ? prop_from(p) : xstrdup("-");
        out_table_add(t, (const char *[]){name, v, from});
        free(v);
        free(from);
    }
    return t;
}

static void print_key(FILE *f, const json_t *key, const char *fallback_name)
{
    const json_t *name = json_object_get(key, "key"), *children = json_object_get(key, "children");
    char *kind = out_cell(json_object_get(key, "kind"));
    char *rev = out_cell(json_object_get(key, "revision"));
    struct out_table *t = props_table(key);

    fprintf(f, "%s (kind %s, revision %s)\n",
            json_is_string(name) ? json_string_value(name) : fallback_name, kind, rev);
    out_table_print(t, f);
    if (json_array_size(children) > 0) {
        struct out_table *c = out_table_new_kv();
        char *list = out_cell(children);
        out_table_add(c, (const char *[]){"children:", list});
        out_table_print(c, f);
        out_table_free(c);
        free(list);
    }
    out_table_free(t);
    free(kind);
    free(rev);
}

static char *child_key(const char *parent, const char *name)
{
    size_t n = strlen(parent) + strlen(name) + 2;
    char *k = xmalloc(n);

    snprintf(k, n, "%s%s%s", parent, strcmp(parent, "/") == 0 ? "" : "/", name);
    return k;
}

/* Walk the tree below KEY with one GET per key (the answer had no "subkeys"). */
static int walk_children(struct cli_run *r, const json_t *key, const char *path, int depth,
                         size_t *count)
{
    size_t i;
    const json_t *c;

    json_array_foreach (json_object_get(key, "children"), i, c) {
        char *k = child_key(path, json_string_value(c) ? json_string_value(c) : "?");
        struct buf url = {0};
        json_t *sub;
        int rc;
        cli_key_path(&url, "/api/v1/config", k);
        rc = (*count)++ >= MAX_WALK || depth >= MAX_DEPTH
                 ? cli_fail(r, CLI_EXIT_API, "too_deep", "the tree below %s is too large", path)
                 : cli_fetch(r, cli_buf_str(&url), &sub);
        buf_free(&url);
        if (rc == 0) {
            fputc('\n', r->out);
            print_key(r->out, sub, k);
            rc = walk_children(r, sub, k, depth + 1, count);
            json_decref(sub);
        }
        free(k);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Print the "subkeys" of a recursive answer: an object NAME → key, or an array of keys. */
static void print_subkeys(FILE *f, const json_t *key, const char *path, int depth)
{
    const json_t *subs = json_object_get(key, "subkeys"), *sub;
    const char *name;
    size_t i;

    if (depth >= MAX_DEPTH)
        return;
    json_object_foreach (out_unconst(subs), name, sub) {
        char *k = child_key(path, name);
        fputc('\n', f);
        print_key(f, sub, k);
        print_subkeys(f, sub, k, depth + 1);
        free(k);
    }
    json_array_foreach (subs, i, sub) {
        const char *k = json_string_value(json_object_get(sub, "key"));
        fputc('\n', f);
        print_key(f, sub, k != NULL ? k : "?");
        print_subkeys(f, sub, k != NULL ? k : "?", depth + 1);
    }
}

/* ---- get KEY NAME... ---- */

#ifndef INFOADM_NO_PROPS
/* The property table's bit for a key of KIND, as the API spells kinds. */
static unsigned kind_bit(const char *kind)
{
    static const struct {
        const char *name;
        unsigned bit;
    } kinds[] = {{"machine", MB_KIND_MACHINE}, {"service", MB_KIND_SERVICE},
                 {"site", MB_KIND_SITE},       {"vdir", MB_KIND_VDIR},
                 {"sites", MB_KIND_SITES},     {"users", MB_KIND_USERS},
                 {"user", MB_KIND_USER}};

    for (size_t i = 0; kind != NULL && i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(kinds[i].name, kind) == 0)
            return kinds[i].bit;
    return 0;
}

/* The service bit of KEY, from its first name ("/ftp/sites/x": ftp); 0 for "/". */
static unsigned service_bit(const char *key)
{
    static const struct {
        const char *name;
        unsigned bit;
    } svcs[] = {{"www", MB_SVC_WWW}, {"ftp", MB_SVC_FTP}, {"gopher", MB_SVC_GOPHER}};
    size_t n = strcspn(key + 1, "/");

    for (size_t i = 0; i < sizeof(svcs) / sizeof(svcs[0]); i++)
        if (strlen(svcs[i].name) == n && strncmp(svcs[i].name, key + 1, n) == 0)
            return svcs[i].bit;
    return 0;
}

/*
 * NAME is not in KEYDOC's properties. The server lists every property valid on
 * the key that has a value (secrets always), so the linked property table says
 * why: 0 when NAME is valid there but not set and without a default, else -1.
 */
static int name_missing(struct cli_run *r, const json_t *keydoc, const char *key, const char *name)
{
    const char *kind = json_string_value(json_object_get(keydoc, "kind"));
    const struct prop *p = props_find(name);
    char where[96];

    if (p == NULL)
        return cli_fail(r, CLI_EXIT_API, "unknown_property", "unknown property '%s'", name);
    if ((p->where & kind_bit(kind)) == 0) {
        props_where_text(p->where, where, sizeof(where));
        return cli_fail(r, CLI_EXIT_API, "not_allowed_here",
                        "property '%s' is not valid on %s (a %s key); it belongs on %s", name, key,
                        kind != NULL ? kind : "?", where);
    }
    if (!props_valid_on(p, kind_bit(kind), service_bit(key)))
        return cli_fail(r, CLI_EXIT_API, "not_allowed_here",
                        "property '%s' is not valid on %s: it does not apply to the %.*s service",
                        name, key, (int)strcspn(key + 1, "/"), key + 1);
    if (p->def != NULL || p->secret)
        return cli_fail(r, CLI_EXIT_API, "unknown_property",
                        "the server does not know property '%s'", name);
    return 0;
}
#else
static int name_missing(struct cli_run *r, const json_t *keydoc, const char *key, const char *name)
{
    (void)keydoc;
    return cli_fail(r, CLI_EXIT_API, "unknown_property", "%s has no property '%s'", key, name);
}
#endif

/* Property NAME of KEYDOC as {"value", "inherited", "source"...}: a new object. */
static json_t *name_entry(struct cli_run *r, const json_t *keydoc, const char *key,
                          const char *name)
{
    json_t *p = json_object_get(json_object_get(keydoc, "properties"), name);

    if (json_is_object(p))
        return json_deep_copy(p);
    if (p != NULL)
        return json_pack("{s:O}", "value", p);
    if (name_missing(r, keydoc, key, name) < 0)
        return NULL;
    return json_pack("{s:n, s:b}", "value", "inherited", 0);
}

/* One line: a string as it is, other JSON compact, a secret as the table shows it. */
static void print_value(FILE *f, const json_t *p)
{
    const json_t *v = json_object_get(p, "value");

    if (json_is_true(json_object_get(p, "secret"))) {
        char *cell = prop_cell(p);
        fputs(cell, f);
        free(cell);
    } else if (json_is_string(v)) {
        fputs(json_string_value(v), f);
    } else if (v != NULL && !json_is_null(v)) {
        json_dumpf(v, f, JSON_COMPACT | JSON_ENCODE_ANY);
    }
    fputc('\n', f);
}

/* The values of the NAMEs after KEY, one per line in the order given; nothing
 * is printed unless every name is found. */
static int get_names(struct cli_run *r, const json_t *keydoc, const char *key)
{
    json_t *found = json_object();
    char *const *names = r->args->pos + 1;
    size_t n = r->args->npos - 1;

    for (size_t i = 0; i < n; i++) {
        json_t *e = name_entry(r, keydoc, key, names[i]);
        if (e == NULL) {
            json_decref(found);
            return -1;
        }
        json_object_set_new(found, names[i], e);
    }
    if (r->g->json)
        return cli_emit_json(r, found);
    for (size_t i = 0; i < n; i++)
        print_value(r->out, json_object_get(found, names[i]));
    json_decref(found);
    return 0;
}

static int get_key(struct cli_run *r, json_t *resp, const char *key, bool rec)
{
    size_t count = 0;

    if (r->g->json)
        return cli_emit_json(r, json_incref(resp));
    print_key(r->out, resp, key);
    if (rec && json_object_get(resp, "subkeys") != NULL)
        print_subkeys(r->out, resp, key, 0);
    else if (rec)
        return walk_children(r, resp, key, 0, &count);
    return 0;
}

int cli_cmd_get(struct cli_run *r)
{
    bool rec = cli_flag(r->args, "recursive");
    struct buf url = {0};
    json_t *resp = NULL;
    char *key;
    int rc;

    if (rec && r->args->npos > 1)
        return cli_usage(r, "--recursive shows whole keys; it takes no property names");
    if (cli_key_arg(r, r->args->pos[0], &key) < 0)
        return -1;
    cli_key_path(&url, "/api/v1/config", key);
    if (rec)
        cli_query_add(&url, "recursive", "1");
    rc = cli_fetch(r, cli_buf_str(&url), &resp);
    if (rc == 0)
        rc = r->args->npos > 1 ? get_names(r, resp, key) : get_key(r, resp, key, rec);
    json_decref(resp);
    buf_free(&url);
    free(key);
    return rc;
}

/* ---- set, unset ---- */

static int if_match(struct cli_run *r, const char **rev)
{
    long long v;

    *rev = cli_opt(r->args, "if-match");
    return *rev == NULL ? 0 : cli_number(r, "--if-match", *rev, 0, CLI_NUM_MAX, &v);
}

static int patch(struct cli_run *r, const char *key, json_t *body, const char *rev)
{
    struct buf url = {0};
    json_t *resp;
    char what[300];
    int rc;

    cli_add_comment(r, body);
    cli_key_path(&url, "/api/v1/config", key);
    rc = cli_send(r, "PATCH", cli_buf_str(&url), body, rev, &resp);
    buf_free(&url);
    if (rc < 0)
        return -1;
    snprintf(what, sizeof(what), "%s changed", key);
    return cli_report_revision(r, resp, what);
}

/* The JSON for each NAME=VALUE argument, typed after the current values in KEYDOC. */
static json_t *set_values(struct cli_run *r, const json_t *keydoc)
{
    json_t *set = json_object();

    for (size_t i = 1; i < r->args->npos; i++) {
        const char *arg = r->args->pos[i], *text;
        char *name;
        json_t *v;
        if (cli_value_split(arg, &name, &text) < 0) {
            cli_usage(r, "expected NAME=VALUE, not '%s'", arg);
            goto fail;
        }
        v = cli_value_parse(text, cli_prop_value(keydoc, name));
        if (v == NULL) {
            cli_usage(r, "the value of %s is not valid UTF-8", name);
            free(name);
            goto fail;
        }
        json_object_set_new(set, name, v);
        free(name);
    }
    return set;
fail:
    json_decref(set);
    return NULL;
}

int cli_cmd_set(struct cli_run *r)
{
    struct buf url = {0};
    json_t *keydoc = NULL, *set = NULL;
    const char *rev;
    char *key = NULL;
    int rc = -1;

    if (if_match(r, &rev) < 0 || cli_key_arg(r, r->args->pos[0], &key) < 0)
        return -1;
    /* The client knows no types: the current values tell lists, maps and strings apart. */
    cli_key_path(&url, "/api/v1/config", key);
    if (cli_fetch(r, cli_buf_str(&url), &keydoc) < 0)
        goto done;
    set = set_values(r, keydoc);
    if (set != NULL)
        rc = patch(r, key, json_pack("{s:o}", "set", set), rev);
done:
    json_decref(keydoc);
    buf_free(&url);
    free(key);
    return rc;
}

int cli_cmd_unset(struct cli_run *r)
{
    json_t *names = json_array();
    const char *rev;
    char *key = NULL;
    int rc;

    if (if_match(r, &rev) < 0 || cli_key_arg(r, r->args->pos[0], &key) < 0) {
        json_decref(names);
        return -1;
    }
    for (size_t i = 1; i < r->args->npos; i++)
        json_array_append_new(names, json_string(r->args->pos[i]));
    rc = patch(r, key, json_pack("{s:o}", "unset", names), rev);
    free(key);
    return rc;
}

/* ---- revisions ---- */

static int number_opt(struct cli_run *r, const char *name, struct buf *url)
{
    const char *s = cli_opt(r->args, name);
    char what[40];
    long long v;

    snprintf(what, sizeof(what), "--%s", name);
    if (s != NULL && cli_number(r, what, s, 1, CLI_NUM_MAX, &v) < 0)
        return -1;
    cli_query_add(url, name, s);
    return 0;
}

/* ---- history: what each revision changed, in one short line ---- */

#define SUMMARY_WIDTH 60 /* characters of a history SUMMARY cell */

static const char *field(const json_t *o, const char *name)
{
    const char *s = json_string_value(json_object_get(o, name));
    return s != NULL ? s : "?";
}

/* Whether change C continues the part PREV is in: set (or unset) on the same key. */
static bool same_part(const json_t *prev, const json_t *c)
{
    const char *what = field(c, "change");

    return prev != NULL && (strcmp(what, "set") == 0 || strcmp(what, "unset") == 0) &&
           strcmp(what, field(prev, "change")) == 0 &&
           strcmp(field(c, "key"), field(prev, "key")) == 0;
}

/* Append change C after PREV (NULL: C is the first): ",NAME" when it continues
 * PREV's part, else a new part "set KEY NAME", "unset KEY NAME", "+KEY", "-KEY". */
static void summary_add(struct buf *b, const json_t *prev, const json_t *c)
{
    const char *what = field(c, "change"), *key = field(c, "key"), *sep = prev ? "; " : "";

    if (same_part(prev, c))
        buf_printf(b, ",%s", field(c, "name"));
    else if (strcmp(what, "create") == 0 || strcmp(what, "delete") == 0)
        buf_printf(b, "%s%c%s", sep, what[0] == 'c' ? '+' : '-', key);
    else
        buf_printf(b, "%s%s %s %s", sep, what, key, field(c, "name"));
}

static void more_text(char *out, size_t cap, long long rest)
{
    out[0] = '\0';
    if (rest > 0)
        snprintf(out, cap, "; +%lld more", rest);
}

/* How many bytes of the UTF-8 string S its first COLS characters take. */
static size_t prefix_bytes(const char *s, size_t cols)
{
    size_t i, w = 0;

    for (i = 0; s[i] != '\0'; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80 && w++ == cols)
            break;
    return i;
}

/* Change C alone does not fit: its text cut with "…" to leave room for "; +REST more". */
static void summary_cut(struct buf *b, const json_t *c, long long rest, size_t width)
{
    struct buf one = {0};
    char more[48];
    size_t room;

    more_text(more, sizeof(more), rest);
    room = width > strlen(more) + 1 ? width - strlen(more) - 1 : 1;
    summary_add(&one, NULL, c);
    buf_printf(b, "%.*s…", (int)prefix_bytes(cli_buf_str(&one), room), cli_buf_str(&one));
    buf_free(&one);
}

char *cli_history_summary(const json_t *summary, long long total, size_t width)
{
    long long n = (long long)json_array_size(summary), shown = 0;
    const json_t *c, *prev = NULL;
    struct buf b = {0};
    char more[48];
    size_t i;
    char *s;

    if (n == 0)
        return NULL;
    total = total < n ? n : total;
    /* Changes in order while they fit with the count of those left out. */
    json_array_foreach (summary, i, c) {
        size_t len = b.len;
        summary_add(&b, prev, c);
        more_text(more, sizeof(more), total - shown - 1);
        if (out_width(cli_buf_str(&b)) + strlen(more) > width) {
            b.len = len;
            break;
        }
        prev = c;
        shown++;
    }
    if (shown == 0) {
        summary_cut(&b, json_array_get(summary, 0), total - 1, width);
        shown = 1;
    }
    more_text(more, sizeof(more), total - shown);
    buf_puts(&b, more);
    s = xstrdup(cli_buf_str(&b));
    buf_free(&b);
    return s;
}

static void history_row(struct out_table *t, const json_t *rev)
{
    const json_t *count = json_object_get(rev, "changes_count");
    const json_t *summary = json_object_get(rev, "summary");
    char *time = out_time(json_object_get(rev, "time")), *sum = NULL;
    json_t *tv = json_string(time), *sv = NULL;

    if (json_is_array(summary))
        sum = cli_history_summary(summary, json_is_integer(count) ? json_integer_value(count) : 0,
                                  SUMMARY_WIDTH);
    if (sum != NULL)
        sv = json_string(sum);
    out_table_add_json(t, (const json_t *[]){json_object_get(rev, "revision"), tv,
                                             json_object_get(rev, "identity"),
                                             json_object_get(rev, "address"), count, sv,
                                             json_object_get(rev, "comment")});
    json_decref(tv);
    json_decref(sv);
    free(time);
    free(sum);
}

int cli_cmd_history(struct cli_run *r)
{
    struct buf url = {0};
    json_t *resp;
    struct out_table *t;
    const json_t *rev;
    size_t i;
    int rc;

    buf_puts(&url, "/api/v1/revisions");
    rc = number_opt(r, "limit", &url) < 0 || number_opt(r, "before", &url) < 0
             ? -1
             : cli_fetch(r, cli_buf_str(&url), &resp);
    buf_free(&url);
    if (rc < 0)
        return -1;
    if (r->g->json)
        return cli_emit_json(r, resp);
    /* A server before 0.5.0 sends no "summary": its column shows "-", the count stays. */
    t = out_table_new(
        7, (const char *[]){"REV", "TIME", "IDENTITY", "ADDRESS", "CHANGES", "SUMMARY", "COMMENT"});
    out_table_right(t, 0);
    out_table_right(t, 4);
    json_array_foreach (json_object_get(resp, "revisions"), i, rev)
        history_row(t, rev);
    cli_emit_table(r, t);
    json_decref(resp);
    return 0;
}

static void print_changes(FILE *f, const json_t *changes)
{
    struct out_table *t;

    if (json_array_size(changes) == 0) {
        fputs("no changes\n", f);
        return;
    }
    t = out_table_from_objects(changes);
    out_table_print(t, f);
    out_table_free(t);
}

static int rev_arg(struct cli_run *r, const char *what, const char *s)
{
    long long v;
    return cli_number(r, what, s, 0, CLI_NUM_MAX, &v);
}

int cli_cmd_show(struct cli_run *r)
{
    static const char *const fields[] = {"revision", "identity", "address", "comment"};
    struct out_table *kv;
    struct buf url = {0};
    json_t *resp;
    int rc;

    if (rev_arg(r, "REV", r->args->pos[0]) < 0)
        return -1;
    buf_puts(&url, "/api/v1/revisions/");
    cli_pct_encode(&url, r->args->pos[0]);
    rc = cli_fetch_view(r, &url, &resp);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    kv = out_table_new_kv();
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        char *v = out_cell(json_object_get(resp, fields[i]));
        out_table_add(kv, (const char *[]){fields[i], v});
        free(v);
        if (i == 0) {
            v = out_time(json_object_get(resp, "time"));
            out_table_add(kv, (const char *[]){"time", v});
            free(v);
        }
    }
    out_table_print(kv, r->out);
    out_table_free(kv);
    fputc('\n', r->out);
    print_changes(r->out, json_object_get(resp, "changes"));
    json_decref(resp);
    return 0;
}

int cli_cmd_diff(struct cli_run *r)
{
    struct buf url = {0};
    json_t *resp;
    int rc;

    if (rev_arg(r, "A", r->args->pos[0]) < 0 || rev_arg(r, "B", r->args->pos[1]) < 0)
        return -1;
    buf_puts(&url, "/api/v1/diff");
    cli_query_add(&url, "from", r->args->pos[0]);
    cli_query_add(&url, "to", r->args->pos[1]);
    rc = cli_fetch_view(r, &url, &resp);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    fprintf(r->out, "from revision %s to revision %s:\n", r->args->pos[0], r->args->pos[1]);
    print_changes(r->out, json_object_get(resp, "changes"));
    json_decref(resp);
    return 0;
}

int cli_cmd_rollback(struct cli_run *r)
{
    long long to;
    json_t *body, *resp;
    char what[80];

    if (cli_number(r, "REV", r->args->pos[0], 0, CLI_NUM_MAX, &to) < 0)
        return -1;
    body = json_pack("{s:I}", "to", (json_int_t)to);
    cli_add_comment(r, body);
    if (cli_send(r, "POST", "/api/v1/rollback", body, NULL, &resp) < 0)
        return -1;
    snprintf(what, sizeof(what), "rolled back to the state of revision %lld", to);
    return cli_report_revision(r, resp, what);
}

/* ---- export, import ---- */

/* Write DOC to PATH through a temporary file and rename, so PATH is never half written. */
static int write_file(struct cli_run *r, const char *path, const json_t *doc)
{
    size_t n = strlen(path) + 8;
    char *tmp = xmalloc(n);
    int fd, err = 0;
    FILE *f;

    snprintf(tmp, n, "%s.XXXXXX", path);
    errno = 0;
    fd = mkstemp(tmp);
    f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL || json_dumpf(doc, f, JSON_INDENT(2)) != 0 || fputc('\n', f) == EOF ||
        fflush(f) != 0 || fsync(fd) != 0)
        err = errno != 0 ? errno : EIO;
    if (f != NULL && fclose(f) != 0 && err == 0)
        err = errno;
    else if (f == NULL && fd >= 0)
        close(fd);
    if (err == 0 && rename(tmp, path) != 0)
        err = errno;
    if (err != 0) {
        cli_fail(r, CLI_EXIT_USAGE, "write_failed", "cannot write %s: %s", path, strerror(err));
        if (fd >= 0)
            unlink(tmp);
    }
    free(tmp);
    return err != 0 ? -1 : 0;
}

int cli_cmd_export(struct cli_run *r)
{
    const char *file = r->args->npos > 0 ? r->args->pos[0] : NULL;
    json_t *doc;

    if (file != NULL && strcmp(file, "-") == 0)
        file = NULL;
    if (file != NULL && r->g->all)
        return cli_usage(r, "with --all export to the standard output (one document per "
                            "server), not to one FILE");
    if (cli_fetch(r, "/api/v1/export", &doc) < 0)
        return -1;
    if (file == NULL) {
        if (r->g->json)
            return cli_emit_json(r, doc);
        out_json(r->out, doc);
        json_decref(doc);
        return 0;
    }
    if (write_file(r, file, doc) < 0) {
        json_decref(doc);
        return -1;
    }
    json_decref(doc);
    if (r->g->json)
        return cli_emit_json(r, json_pack("{s:s}", "file", file));
    fprintf(r->out, "exported the configuration to %s\n", file);
    return 0;
}

static json_t *read_doc(struct cli_run *r, const char *file)
{
    json_error_t je;
    struct stat st;
    json_t *doc;

    if (stat(file, &st) != 0) {
        cli_fail(r, CLI_EXIT_USAGE, "read_failed", "cannot read %s: %s", file, strerror(errno));
        return NULL;
    }
    if (st.st_size > MAX_IMPORT) {
        cli_fail(r, CLI_EXIT_USAGE, "too_large",
                 "%s is larger than the %d bytes the admin API accepts", file, MAX_IMPORT);
        return NULL;
    }
    doc = json_load_file(file, JSON_REJECT_DUPLICATES, &je);
    if (doc == NULL)
        cli_fail(r, CLI_EXIT_USAGE, "invalid_json", "%s: line %d: %s", file, je.line, je.text);
    return doc;
}

int cli_cmd_import(struct cli_run *r)
{
    json_t *doc = read_doc(r, r->args->pos[0]), *resp;
    char what[600];

    if (doc == NULL)
        return -1;
    if (json_is_object(doc))
        cli_add_comment(r, doc);
    if (cli_send(r, "POST", "/api/v1/import", doc, NULL, &resp) < 0)
        return -1;
    snprintf(what, sizeof(what), "imported %s", r->args->pos[0]);
    return cli_report_revision(r, resp, what);
}

/* ---- backups ---- */

int cli_cmd_backup(struct cli_run *r)
{
    json_t *resp;
    char *id;

    if (cli_send(r, "POST", "/api/v1/backups", NULL, NULL, &resp) < 0)
        return -1;
    if (r->g->json)
        return cli_emit_json(r, resp);
    id = out_cell(json_object_get(resp, "id"));
    fprintf(r->out, "%s\n", id);
    free(id);
    json_decref(resp);
    return 0;
}

int cli_cmd_backup_list(struct cli_run *r)
{
    struct out_table *t;
    const json_t *b;
    json_t *resp;
    size_t i;

    if (cli_fetch(r, "/api/v1/backups", &resp) < 0)
        return -1;
    if (r->g->json)
        return cli_emit_json(r, resp);
    t = out_table_new(4, (const char *[]){"ID", "TIME", "REVISION", "SIZE"});
    out_table_right(t, 2);
    out_table_right(t, 3);
    json_array_foreach (json_object_get(resp, "backups"), i, b) {
        char *time = out_time(json_object_get(b, "time"));
        json_t *tv = json_string(time);
        out_table_add_json(t, (const json_t *[]){json_object_get(b, "id"), tv,
                                                 json_object_get(b, "revision"),
                                                 json_object_get(b, "size")});
        json_decref(tv);
        free(time);
    }
    cli_emit_table(r, t);
    json_decref(resp);
    return 0;
}

int cli_cmd_restore(struct cli_run *r)
{
    struct buf url = {0};
    json_t *body = json_object(), *resp;
    char what[300];
    int rc;

    cli_add_comment(r, body);
    buf_puts(&url, "/api/v1/backups/");
    cli_pct_encode(&url, r->args->pos[0]);
    buf_puts(&url, "/restore");
    rc = cli_send(r, "POST", cli_buf_str(&url), body, NULL, &resp);
    buf_free(&url);
    if (rc < 0)
        return -1;
    snprintf(what, sizeof(what), "restored backup %s", r->args->pos[0]);
    return cli_report_revision(r, resp, what);
}
