/* store: the SQLite file — schema, migrations, and row-level reads and writes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "metabase/mb_int.h"

#define BUSY_TIMEOUT_MS 5000

static const char schema_v1[] =
    "CREATE TABLE keys (path TEXT PRIMARY KEY, parent TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX keys_by_parent ON keys (parent);"
    "CREATE TABLE properties (key TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,"
    " PRIMARY KEY (key, name)) WITHOUT ROWID;"
    "CREATE TABLE revisions (n INTEGER PRIMARY KEY, time INTEGER NOT NULL,"
    " identity TEXT NOT NULL, address TEXT NOT NULL, comment TEXT NOT NULL,"
    " nchanges INTEGER NOT NULL, changes TEXT NOT NULL);"
    /* Real values of the secret changes in revisions.changes (which holds only
     * markers), so that history can be undone without ever showing them. */
    "CREATE TABLE revision_secrets (revision INTEGER NOT NULL, idx INTEGER NOT NULL,"
    " name TEXT NOT NULL, old TEXT, new TEXT, PRIMARY KEY (revision, idx, name)) WITHOUT ROWID;"
    "CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL,"
    " identity TEXT NOT NULL, address TEXT NOT NULL, action TEXT NOT NULL,"
    " target TEXT NOT NULL, result TEXT NOT NULL, detail TEXT NOT NULL);"
    "CREATE TABLE accounts (name TEXT PRIMARY KEY, role TEXT NOT NULL, token_hash TEXT,"
    " created INTEGER NOT NULL, disabled INTEGER NOT NULL DEFAULT 0);";

/* 2: the farm revision this member applied last, per farm (src/farm/member.c),
 * written in the transaction of the local commit that applied it. */
static const char schema_v2[] =
    "CREATE TABLE farm_applied (farm TEXT PRIMARY KEY, revision INTEGER NOT NULL,"
    " hash TEXT NOT NULL, id TEXT NOT NULL, time INTEGER NOT NULL);";

/* Migration hook: entry I brings a database from schema I to schema I + 1.
 * Append an entry (and raise MB_SCHEMA) for every schema change; never edit
 * a released one. */
static const char *const migrations[MB_SCHEMA] = {schema_v1, schema_v2};

static int exec(sqlite3 *db, const char *sql, const char *what, struct mb_error *err)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return mb_fail_db(db, err, what);
    return 0;
}

static int pragma_int(sqlite3 *db, const char *sql, int64_t *out, struct mb_error *err)
{
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW)
        return 0;
    return err ? mb_fail_db(db, err, "reading the database header") : -1;
}

static int migrate_one(sqlite3 *db, int to, struct mb_error *err)
{
    char pragmas[96];

    snprintf(pragmas, sizeof(pragmas), "PRAGMA application_id = %d; PRAGMA user_version = %d;",
             MB_APP_ID, to);
    if (exec(db, "BEGIN IMMEDIATE", "starting a schema migration", err) == -1)
        return -1;
    if (exec(db, migrations[to - 1], "migrating the schema", err) == -1 ||
        exec(db, pragmas, "migrating the schema", err) == -1 ||
        exec(db, "COMMIT", "committing a schema migration", err) == -1) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

static int not_metabase(struct mb_error *err, const char *what, const char *why)
{
    return mb_fail(err, MB_E_INVALID_REQUEST, NULL, NULL, "%s is not an infosrv metabase (%s)",
                   what, why);
}

int mb_store_adopt(sqlite3 *db, const char *what, bool allow_fresh, struct mb_error *err)
{
    int64_t app = 0, version = 0, objects = 0;

    if (pragma_int(db, "PRAGMA application_id", &app, NULL) == -1 ||
        pragma_int(db, "PRAGMA user_version", &version, NULL) == -1 ||
        pragma_int(db, "SELECT count(*) FROM sqlite_master", &objects, NULL) == -1)
        return not_metabase(err, what, sqlite3_errmsg(db));
    if (app == 0 && version == 0 && objects == 0 && !allow_fresh)
        return not_metabase(err, what, "the database is empty");
    if (app == 0 && version == 0 && objects == 0)
        app = MB_APP_ID;
    if (app != MB_APP_ID)
        return not_metabase(err, what, "another application's SQLite database");
    if (version > MB_SCHEMA)
        return mb_fail(err, MB_E_INVALID_REQUEST, NULL, NULL,
                       "%s was written by a newer infosrv (schema %lld; this one reads up to %d)",
                       what, (long long)version, MB_SCHEMA);
    for (int v = (int)version; v < MB_SCHEMA; v++)
        if (migrate_one(db, v + 1, err) == -1)
            return -1;
    return 0;
}

static int configure(sqlite3 *db, struct mb_error *err)
{
    int64_t dummy;

    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    /* journal_mode answers with a row; WAL lets readers (backups) run beside writes. */
    if (pragma_int(db, "PRAGMA journal_mode = WAL", &dummy, err) == -1)
        return -1;
    return exec(db, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF;",
                "configuring the database", err);
}

int mb_store_open(sqlite3 **out, const char *path, struct mb_error *err)
{
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;

    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        mb_fail(err, MB_E_STORAGE, NULL, NULL, "cannot open the metabase %s: %s", path,
                db ? sqlite3_errmsg(db) : "out of memory");
        goto fail;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    if (mb_store_adopt(db, path, true, err) == -1 || configure(db, err) == -1)
        goto fail;
    *out = db;
    return 0;
fail:
    sqlite3_close_v2(db);
    return -1;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, struct mb_error *err)
{
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
        return mb_fail_db(db, err, "preparing a query");
    return 0;
}

int mb_db_run(sqlite3 *db, struct mb_error *err, const char *sql, int n, ...)
{
    sqlite3_stmt *st;
    va_list ap;
    int rc;

    if (prepare(db, sql, &st, err) == -1)
        return -1;
    va_start(ap, n);
    for (int i = 1; i <= n; i++)
        sqlite3_bind_text(st, i, va_arg(ap, const char *), -1, SQLITE_TRANSIENT);
    va_end(ap);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return mb_fail_db(db, err, "writing the metabase");
    return 0;
}

int mb_store_revision(sqlite3 *db, uint64_t *rev, struct mb_error *err)
{
    int64_t n = 0;

    if (pragma_int(db, "SELECT coalesce(max(n), 0) FROM revisions", &n, err) == -1)
        return -1;
    *rev = (uint64_t)n;
    return 0;
}

int mb_store_key_exists(sqlite3 *db, const char *path, bool *exists, struct mb_error *err)
{
    sqlite3_stmt *st;
    int rc;

    if (prepare(db, "SELECT 1 FROM keys WHERE path = ?", &st, err) == -1)
        return -1;
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return mb_fail_db(db, err, "looking up a key");
    *exists = rc == SQLITE_ROW;
    return 0;
}

/* Collect column 0 of every row of ST (bound by the caller) into a new array,
 * skipping SKIP bytes of each value. */
static int collect(sqlite3 *db, sqlite3_stmt *st, size_t skip, json_t **out, struct mb_error *err)
{
    json_t *arr = json_array();
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *s = (const char *)sqlite3_column_text(st, 0);
        json_array_append_new(arr, json_string(s && strlen(s) >= skip ? s + skip : ""));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        json_decref(arr);
        return mb_fail_db(db, err, "listing keys");
    }
    *out = arr;
    return 0;
}

int mb_store_descendants(sqlite3 *db, const char *path, json_t **out, struct mb_error *err)
{
    sqlite3_stmt *st;
    /* Every key below P starts with "P/"; '0' is the byte after '/'. */
    const char *base = strcmp(path, "/") == 0 ? "" : path;

    if (prepare(db,
                "SELECT path FROM keys WHERE path > ?1 || '/' AND path < ?1 || '0'"
                " ORDER BY path",
                &st, err) == -1)
        return -1;
    sqlite3_bind_text(st, 1, base, -1, SQLITE_STATIC);
    return collect(db, st, 0, out, err);
}

int mb_store_children(sqlite3 *db, const char *path, json_t **out, struct mb_error *err)
{
    sqlite3_stmt *st;

    if (prepare(db, "SELECT path FROM keys WHERE parent = ? ORDER BY path", &st, err) == -1)
        return -1;
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    return collect(db, st, strlen(path) + 1, out, err);
}

static json_t *decode(const unsigned char *text)
{
    json_t *v = json_loads(text ? (const char *)text : "", JSON_DECODE_ANY, NULL);

    return v ? v : json_null();
}

int mb_store_props(sqlite3 *db, const char *path, json_t **out, struct mb_error *err)
{
    sqlite3_stmt *st;
    json_t *o = json_object();
    int rc;

    if (prepare(db, "SELECT name, value FROM properties WHERE key = ? ORDER BY name", &st, err) ==
        -1) {
        json_decref(o);
        return -1;
    }
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_object_set_new(o, (const char *)sqlite3_column_text(st, 0),
                            decode(sqlite3_column_text(st, 1)));
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        json_decref(o);
        return mb_fail_db(db, err, "reading properties");
    }
    *out = o;
    return 0;
}

int mb_store_put(sqlite3 *db, const char *path, const char *name, const json_t *v,
                 struct mb_error *err)
{
    char *text;
    int rc;

    if (v == NULL)
        return mb_db_run(db, err, "DELETE FROM properties WHERE key = ? AND name = ?", 2, path,
                         name);
    text = mb_json_text(v);
    rc = mb_db_run(db, err, "INSERT OR REPLACE INTO properties (key, name, value) VALUES (?, ?, ?)",
                   3, path, name, text);
    free(text);
    return rc;
}

static int state_props(sqlite3 *db, json_t *state, struct mb_error *err)
{
    sqlite3_stmt *st;
    int rc;

    if (prepare(db, "SELECT key, name, value FROM properties", &st, err) == -1)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(st, 0);
        json_t *props = json_object_get(state, key);
        if (props == NULL) /* a property on a key that does not exist: ignore it */
            continue;
        json_object_set_new(props, (const char *)sqlite3_column_text(st, 1),
                            decode(sqlite3_column_text(st, 2)));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : mb_fail_db(db, err, "reading the tree");
}

int mb_store_state(sqlite3 *db, json_t **out, struct mb_error *err)
{
    static const char *const implicit[] = {"/", "/www", "/ftp", "/gopher"};
    json_t *state = json_object(), *paths, *p;
    size_t i;

    for (i = 0; i < sizeof(implicit) / sizeof(implicit[0]); i++)
        json_object_set_new(state, implicit[i], json_object());
    if (mb_store_descendants(db, "/", &paths, err) == -1)
        goto fail;
    json_array_foreach (paths, i, p)
        json_object_set_new(state, json_string_value(p), json_object());
    json_decref(paths);
    if (state_props(db, state, err) == -1)
        goto fail;
    *out = state;
    return 0;
fail:
    json_decref(state);
    return -1;
}
