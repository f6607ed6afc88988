/* exchange: the tree in and out — JSON export and import, SQLite online
 * backup, and restore (a backup's latest tree committed as a new revision,
 * so history here stays append-only). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "metabase/mb_int.h"

#define EXPORT_FORMAT "infosrv-metabase"
#define EXPORT_VERSION 1

json_t *mb_export(struct mb *mb)
{
    json_t *state, *keys = json_object(), *paths, *p;
    size_t i;

    if (mb_store_state(mb->db, &state, NULL) == -1) {
        json_decref(keys);
        return NULL;
    }
    paths = mb_sorted_keys(state);
    json_array_foreach (paths, i, p)
        json_object_set_new(keys, json_string_value(p),
                            mb_props_masked(json_object_get(state, json_string_value(p)), true));
    json_decref(paths);
    json_decref(state);
    return json_pack("{s:s, s:i, s:I, s:o}", "format", EXPORT_FORMAT, "version", EXPORT_VERSION,
                     "revision", (json_int_t)mb_revision(mb), "keys", keys);
}

/* ---- import ---- */

static int bad_doc(struct mb_error *err, const char *why)
{
    return mb_fail(err, MB_E_INVALID_REQUEST, NULL, NULL, "not a metabase export: %s", why);
}

static int check_doc(const json_t *doc, struct mb_error *err)
{
    const json_t *version = json_object_get(doc, "version");
    const char *format = json_string_value(json_object_get(doc, "format"));

    if (!json_is_object(doc))
        return bad_doc(err, "the document must be a JSON object");
    if (format == NULL || strcmp(format, EXPORT_FORMAT) != 0)
        return bad_doc(err, "\"format\" must be \"" EXPORT_FORMAT "\"");
    if (!json_is_integer(version) || json_integer_value(version) < 1)
        return bad_doc(err, "\"version\" must be a positive integer");
    if (json_integer_value(version) > EXPORT_VERSION)
        return mb_fail(err, MB_E_INVALID_REQUEST, NULL, NULL,
                       "the export is version %lld; this server reads up to version %d",
                       (long long)json_integer_value(version), EXPORT_VERSION);
    if (!json_is_object(json_object_get(doc, "keys")))
        return bad_doc(err, "\"keys\" must be an object of key paths");
    return 0;
}

/* One key of the document into TARGET under its canonical path. */
static int doc_key(const char *path, const json_t *props, json_t *target, struct mb_error *err)
{
    struct mb_key k;

    if (mb_key_parse(path, &k, err) == -1)
        return -1;
    if (!json_is_object(props))
        return mb_fail(err, MB_E_INVALID_REQUEST, k.path, NULL,
                       "the properties of %s must be an object", k.path);
    if ((k.kind == MB_KIND_SITES || k.kind == MB_KIND_USERS) && json_object_size(props) == 0)
        return 0; /* always exists and holds nothing */
    if (k.kind == MB_KIND_SITES || k.kind == MB_KIND_USERS)
        return mb_fail(err, MB_E_NOT_ALLOWED_HERE, k.path, NULL, "%s holds no properties", k.path);
    if (!mb_key_implicit(&k) && json_object_get(target, k.path))
        return mb_fail(err, MB_E_INVALID_REQUEST, k.path, NULL, "%s is listed twice", k.path);
    json_object_set_new(target, k.path, json_deep_copy(props));
    return 0;
}

/* Secrets the document leaves out keep their current values. */
static void keep_secrets(json_t *target, const json_t *cur)
{
    const char *path, *name;
    json_t *props, *v;

    json_object_foreach (target, path, props) {
        json_object_foreach (json_object_get(cur, path), name, v) {
            const struct prop *p = props_find(name);
            if (p && p->secret && json_object_get(props, name) == NULL)
                json_object_set(props, name, v);
        }
    }
}

/* KEYS ({path: props}) as a state under canonical paths, the fixed keys
 * holding nothing unless KEYS gives them properties. */
static json_t *keys_state(const json_t *keys, struct mb_error *err)
{
    json_t *target = json_pack("{s:{}, s:{}, s:{}, s:{}}", "/", "/www", "/ftp", "/gopher");
    json_t *props;
    const char *path;

    if (!json_is_object(keys)) {
        json_decref(target);
        mb_fail(err, MB_E_INVALID_REQUEST, NULL, NULL, "a tree must be an object of key paths");
        return NULL;
    }
    json_object_foreach (mb_unconst(keys), path, props) {
        if (doc_key(path, props, target, err) == -1) {
            json_decref(target);
            return NULL;
        }
    }
    return target;
}

static int doc_state(struct mb *mb, const json_t *doc, json_t **out, struct mb_error *err)
{
    json_t *target = keys_state(json_object_get(doc, "keys"), err), *cur;

    if (target == NULL)
        return -1;
    if (mb_store_state(mb->db, &cur, err) == -1) {
        json_decref(target);
        return -1;
    }
    keep_secrets(target, cur);
    json_decref(cur);
    *out = target;
    return 0;
}

int mb_import(struct mb *mb, const json_t *doc, const struct mb_actor *who, const char *comment,
              mb_apply_fn apply, void *apply_arg, uint64_t *new_rev, struct mb_error *err)
{
    struct mb_error local;
    struct mb_req r = {.who = who,
                       .comment = comment && *comment ? comment : "import",
                       .action = "import",
                       .apply = apply,
                       .arg = apply_arg};
    json_t *target;
    int rc;

    err = err ? err : &local;
    mb_err_clear(err);
    if (mb_busy_check(mb, err) == -1)
        return -1;
    if (check_doc(doc, err) == -1 || doc_state(mb, doc, &target, err) == -1) {
        mb_audit_add(mb, who, "import", err->key, err->code, err->message);
        return -1;
    }
    rc = mb_state_replace(mb, target, &r, new_rev, err);
    json_decref(target);
    return rc;
}

/* ---- backup and restore ---- */

/* Copy every page of FROM into TO; -1 with SQLite's message on failure. */
static int copy_db(sqlite3 *to, sqlite3 *from, const char *what, struct mb_error *err)
{
    sqlite3_backup *b = sqlite3_backup_init(to, "main", from, "main");
    int rc;

    if (b == NULL)
        return mb_fail_db(to, err, what);
    while ((rc = sqlite3_backup_step(b, -1)) == SQLITE_OK || rc == SQLITE_BUSY ||
           rc == SQLITE_LOCKED)
        sqlite3_sleep(10);
    sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE)
        return mb_fail(err, rc == SQLITE_NOTADB ? MB_E_INVALID_REQUEST : MB_E_STORAGE, NULL, NULL,
                       "%s: %s", what, sqlite3_errstr(rc));
    return 0;
}

static int backup_to(struct mb *mb, const char *tmp, struct mb_error *err)
{
    sqlite3 *dest = NULL;
    int rc = -1;

    if (sqlite3_open_v2(tmp, &dest, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        mb_fail(err, MB_E_STORAGE, NULL, NULL, "cannot create %s: %s", tmp,
                dest ? sqlite3_errmsg(dest) : "out of memory");
        goto out;
    }
    if (copy_db(dest, mb->db, "backing up the metabase", err) == -1)
        goto out;
    /* A backup is one self-contained file: no WAL beside it. */
    if (sqlite3_exec(dest, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL) != SQLITE_OK) {
        mb_fail_db(dest, err, "finishing the backup");
        goto out;
    }
    rc = 0;
out:
    sqlite3_close_v2(dest);
    return rc;
}

int mb_backup(struct mb *mb, const char *dest_path, struct mb_error *err)
{
    struct mb_error local;
    char tmp[4096];

    err = err ? err : &local;
    mb_err_clear(err);
    if (mb_busy_check(mb, err) == -1)
        return -1;
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", dest_path) >= (int)sizeof(tmp))
        return mb_fail(err, MB_E_INVALID_REQUEST, NULL, NULL, "the backup path is too long");
    unlink(tmp);
    if (backup_to(mb, tmp, err) == -1) {
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, dest_path) == -1) {
        mb_fail(err, MB_E_STORAGE, NULL, NULL, "cannot rename %s to %s: %s", tmp, dest_path,
                strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* The latest tree of the metabase file at PATH, read through an in-memory copy. */
static int backup_state(const char *path, json_t **out, struct mb_error *err)
{
    sqlite3 *src = NULL, *mem = NULL;
    int rc = -1;

    if (sqlite3_open_v2(path, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        mb_fail(err, MB_E_INVALID_REQUEST, NULL, NULL, "cannot open the backup %s: %s", path,
                src ? sqlite3_errmsg(src) : "out of memory");
        goto out;
    }
    if (sqlite3_open_v2(":memory:", &mem, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        mb_fail(err, MB_E_STORAGE, NULL, NULL, "cannot open an in-memory database");
        goto out;
    }
    if (copy_db(mem, src, "reading the backup", err) == -1) {
        if (strcmp(err->code, MB_E_INVALID_REQUEST) == 0)
            mb_fail(err, MB_E_INVALID_REQUEST, NULL, NULL,
                    "%s is not an infosrv metabase (not an SQLite database)", path);
        goto out;
    }
    if (mb_store_adopt(mem, path, false, err) == -1 || mb_store_state(mem, out, err) == -1)
        goto out;
    rc = 0;
out:
    sqlite3_close_v2(src);
    sqlite3_close_v2(mem);
    return rc;
}

int mb_restore(struct mb *mb, const char *src_path, const struct mb_actor *who, const char *comment,
               mb_apply_fn apply, void *apply_arg, uint64_t *new_rev, struct mb_error *err)
{
    struct mb_error local;
    struct mb_req r = {.who = who, .action = "restore", .apply = apply, .arg = apply_arg};
    char text[MB_TEXT_MAX + 1];
    json_t *target;
    int rc;

    err = err ? err : &local;
    mb_err_clear(err);
    if (mb_busy_check(mb, err) == -1)
        return -1;
    if (backup_state(src_path, &target, err) == -1) {
        mb_audit_add(mb, who, "restore", src_path, err->code, err->message);
        return -1;
    }
    snprintf(text, sizeof(text), "restore from %.500s%s%.400s", src_path,
             comment && *comment ? ": " : "", comment ? comment : "");
    r.comment = text;
    rc = mb_state_replace(mb, target, &r, new_rev, err);
    json_decref(target);
    return rc;
}

/* ---- whole trees, for replication ---- */

json_t *mb_tree(struct mb *mb, struct mb_error *err)
{
    json_t *tree;

    return mb_store_state(mb->db, &tree, err) == 0 ? tree : NULL;
}

json_t *mb_tree_at(struct mb *mb, uint64_t n, struct mb_error *err)
{
    json_t *tree;

    return mb_state_at(mb, n, &tree, err) == 0 ? tree : NULL;
}

json_t *mb_import_tree(struct mb *mb, const json_t *doc, struct mb_error *err)
{
    json_t *tree;

    if (check_doc(doc, err) == -1 || doc_state(mb, doc, &tree, err) == -1)
        return NULL;
    return tree;
}

json_t *mb_backup_tree(const char *path, struct mb_error *err)
{
    json_t *tree;

    return backup_state(path, &tree, err) == 0 ? tree : NULL;
}

int mb_tree_replace(struct mb *mb, const json_t *tree, int64_t base_revision,
                    const struct mb_actor *who, const char *comment, const char *action,
                    bool dry_run, mb_apply_fn apply, void *apply_arg, uint64_t *new_rev,
                    struct mb_error *err)
{
    struct mb_error local;
    struct mb_req r = {.who = who,
                       .comment = comment,
                       .action = action,
                       .dry_run = dry_run,
                       .apply = apply,
                       .arg = apply_arg};
    json_t *target;
    uint64_t cur;
    int rc;

    err = err ? err : &local;
    mb_err_clear(err);
    if (mb_busy_check(mb, err) == -1 || mb_store_revision(mb->db, &cur, err) == -1)
        return -1;
    if (base_revision >= 0 && (uint64_t)base_revision != cur)
        return mb_fail(err, MB_E_STALE_REVISION, NULL, NULL,
                       "the configuration is at revision %llu, not %lld: reload it and retry",
                       (unsigned long long)cur, (long long)base_revision);
    if ((target = keys_state(tree, err)) == NULL)
        return -1;
    rc = mb_state_replace(mb, target, &r, new_rev, err);
    json_decref(target);
    return rc;
}
