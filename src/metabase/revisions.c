/* revisions: history, one revision's changes, the tree at any revision
 * (the current tree with later revisions undone, newest first), diff and
 * rollback. */
#include <stdio.h>
#include <string.h>

#include "metabase/mb_int.h"

#define HISTORY_DEFAULT 50
#define HISTORY_MAX 1000
#define SUMMARY_MAX 8 /* changes named in a history entry's "summary" */

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, struct mb_error *err)
{
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
        return mb_fail_db(db, err, "preparing a query");
    return 0;
}

static json_t *column_json(sqlite3_stmt *st, int col)
{
    const char *text = (const char *)sqlite3_column_text(st, col);

    return text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
}

static int no_revision(uint64_t n, uint64_t cur, struct mb_error *err)
{
    return mb_fail(err, MB_E_NO_SUCH_REVISION, NULL, NULL, "no revision %llu: the latest is %llu",
                   (unsigned long long)n, (unsigned long long)cur);
}

/* ---- secrets behind the marks ---- */

static void patch(json_t *c, const char *name, json_t *old, json_t *new)
{
    const char *what = json_string_value(json_object_get(c, "change"));
    json_t *props = json_object_get(c, "props");

    if (strcmp(what, "create") == 0 && new)
        json_object_set(props, name, new);
    else if (strcmp(what, "delete") == 0 && old)
        json_object_set(props, name, old);
    if (props == NULL && old)
        json_object_set(c, "old", old);
    if (props == NULL && new)
        json_object_set(c, "new", new);
}

/* Put the real secret values of revision N into its CHANGES. */
static int reveal(sqlite3 *db, sqlite3_int64 n, json_t *changes, struct mb_error *err)
{
    sqlite3_stmt *st;
    int rc;

    if (prepare(db, "SELECT idx, name, old, new FROM revision_secrets WHERE revision = ?", &st,
                err) == -1)
        return -1;
    sqlite3_bind_int64(st, 1, n);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *c = json_array_get(changes, (size_t)sqlite3_column_int64(st, 0));
        json_t *old = column_json(st, 2), *new = column_json(st, 3);
        if (c)
            patch(c, (const char *)sqlite3_column_text(st, 1), old, new);
        json_decref(old);
        json_decref(new);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : mb_fail_db(db, err, "reading revision secrets");
}

/* ---- the tree at a revision ---- */

static void undo(json_t *state, const json_t *c)
{
    const char *what = json_string_value(json_object_get(c, "change"));
    const char *key = json_string_value(json_object_get(c, "key"));
    const char *name = json_string_value(json_object_get(c, "name"));
    json_t *props = json_object_get(state, key ? key : "");
    json_t *old = json_object_get(c, "old");

    if (what == NULL || key == NULL)
        return;
    if (strcmp(what, "create") == 0)
        json_object_del(state, key);
    else if (strcmp(what, "delete") == 0)
        json_object_set_new(state, key, json_deep_copy(json_object_get(c, "props")));
    else if (props && name && old)
        json_object_set(props, name, old);
    else if (props && name)
        json_object_del(props, name);
}

static int undo_revision(sqlite3 *db, sqlite3_stmt *st, json_t *state, struct mb_error *err)
{
    json_t *changes = column_json(st, 1);
    sqlite3_int64 n = sqlite3_column_int64(st, 0);

    if (!json_is_array(changes)) {
        json_decref(changes);
        return mb_fail(err, MB_E_STORAGE, NULL, NULL, "revision %lld is damaged", (long long)n);
    }
    if (reveal(db, n, changes, err) == -1) {
        json_decref(changes);
        return -1;
    }
    for (size_t i = json_array_size(changes); i > 0; i--)
        undo(state, json_array_get(changes, i - 1));
    json_decref(changes);
    return 0;
}

static int undo_after(sqlite3 *db, uint64_t n, json_t *state, struct mb_error *err)
{
    sqlite3_stmt *st;
    int rc;

    if (prepare(db, "SELECT n, changes FROM revisions WHERE n > ? ORDER BY n DESC", &st, err) == -1)
        return -1;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)n);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (undo_revision(db, st, state, err) == -1)
            break;
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW)
        return -1;
    return rc == SQLITE_DONE ? 0 : mb_fail_db(db, err, "reading revisions");
}

int mb_state_at(struct mb *mb, uint64_t n, json_t **out, struct mb_error *err)
{
    uint64_t cur;
    json_t *state;

    if (mb_store_revision(mb->db, &cur, err) == -1)
        return -1;
    if (n > cur)
        return no_revision(n, cur, err);
    if (mb_store_state(mb->db, &state, err) == -1)
        return -1;
    if (undo_after(mb->db, n, state, err) == -1) {
        json_decref(state);
        return -1;
    }
    *out = state;
    return 0;
}

/* ---- history ---- */

static json_t *revision_row(sqlite3_stmt *st)
{
    char when[32];

    mb_iso_time(sqlite3_column_int64(st, 1), when, sizeof(when));
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:I}", "revision",
                     (json_int_t)sqlite3_column_int64(st, 0), "time", when, "identity",
                     (const char *)sqlite3_column_text(st, 2), "address",
                     (const char *)sqlite3_column_text(st, 3), "comment",
                     (const char *)sqlite3_column_text(st, 4), "changes_count",
                     (json_int_t)sqlite3_column_int64(st, 5));
}

/* The first SUMMARY_MAX of CHANGES without their values: enough for a one-line
 * history, and nothing secret (the stored changes mask secrets anyway). */
static json_t *summary_of(const json_t *changes)
{
    json_t *out = json_array();
    const json_t *c;
    size_t i;

    json_array_foreach (changes, i, c) {
        json_t *s, *name = json_object_get(c, "name");
        if (i == SUMMARY_MAX)
            break;
        s = json_pack("{s:O?, s:O?}", "change", json_object_get(c, "change"), "key",
                      json_object_get(c, "key"));
        if (s != NULL && json_is_string(name))
            json_object_set(s, "name", name);
        json_array_append_new(out, s);
    }
    return out;
}

/* A revision's row (columns as in mb_history) and the summary of its CHANGES (borrowed). */
static json_t *revision_entry(sqlite3_stmt *st, const json_t *changes)
{
    json_t *o = revision_row(st);

    if (json_is_array(changes))
        json_object_set_new(o, "summary", summary_of(changes));
    return o;
}

json_t *mb_history(struct mb *mb, uint64_t before, unsigned limit)
{
    sqlite3_stmt *st;
    json_t *out = json_array();

    if (prepare(mb->db,
                "SELECT n, time, identity, address, comment, nchanges, changes FROM revisions"
                " WHERE n < ? ORDER BY n DESC LIMIT ?",
                &st, NULL) == -1)
        return out;
    sqlite3_bind_int64(st, 1,
                       before == 0 || before > INT64_MAX ? INT64_MAX : (sqlite3_int64)before);
    sqlite3_bind_int(st, 2,
                     limit == 0            ? HISTORY_DEFAULT
                     : limit > HISTORY_MAX ? HISTORY_MAX
                                           : (int)limit);
    /* The summaries cost a parse of each listed revision's changes: LIMIT bounds it. */
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_t *changes = column_json(st, 6);
        json_array_append_new(out, revision_entry(st, changes));
        json_decref(changes);
    }
    sqlite3_finalize(st);
    return out;
}

static json_t *revision_zero(void)
{
    return json_pack("{s:i, s:n, s:s, s:s, s:s, s:i, s:[], s:[]}", "revision", 0, "time",
                     "identity", "", "address", "", "comment", "the empty configuration",
                     "changes_count", 0, "summary", "changes");
}

json_t *mb_revision_get(struct mb *mb, uint64_t n, struct mb_error *err)
{
    struct mb_error local;
    sqlite3_stmt *st;
    json_t *o = NULL;
    uint64_t cur = 0;

    err = err ? err : &local;
    mb_err_clear(err);
    if (n == 0)
        return revision_zero();
    if (prepare(mb->db,
                "SELECT n, time, identity, address, comment, nchanges, changes FROM revisions"
                " WHERE n = ?",
                &st, err) == -1)
        return NULL;
    sqlite3_bind_int64(st, 1, n > INT64_MAX ? INT64_MAX : (sqlite3_int64)n);
    if (sqlite3_step(st) == SQLITE_ROW) {
        json_t *changes = column_json(st, 6);
        o = revision_entry(st, changes);
        json_object_set_new(o, "changes", changes);
    }
    sqlite3_finalize(st);
    if (o == NULL) {
        mb_store_revision(mb->db, &cur, NULL);
        no_revision(n, cur, err);
    }
    return o;
}

json_t *mb_diff(struct mb *mb, uint64_t a, uint64_t b, struct mb_error *err)
{
    struct mb_error local;
    json_t *sa = NULL, *sb = NULL, *out = NULL;

    err = err ? err : &local;
    mb_err_clear(err);
    if (mb_state_at(mb, a, &sa, err) == 0 && mb_state_at(mb, b, &sb, err) == 0)
        out = mb_state_diff(sa, sb);
    json_decref(sa);
    json_decref(sb);
    return out;
}

int mb_rollback(struct mb *mb, uint64_t to, const struct mb_actor *who, const char *comment,
                mb_apply_fn apply, void *apply_arg, uint64_t *new_rev, struct mb_error *err)
{
    struct mb_error local;
    struct mb_req r = {.who = who, .action = "rollback", .apply = apply, .arg = apply_arg};
    char text[MB_TEXT_MAX + 1];
    json_t *target;
    int rc;

    err = err ? err : &local;
    mb_err_clear(err);
    if (mb_busy_check(mb, err) == -1 || mb_state_at(mb, to, &target, err) == -1)
        return -1;
    snprintf(text, sizeof(text), "rollback to revision %llu%s%.900s", (unsigned long long)to,
             comment && *comment ? ": " : "", comment ? comment : "");
    r.comment = text;
    rc = mb_state_replace(mb, target, &r, new_rev, err);
    json_decref(target);
    return rc;
}
