#include "admin/api.h"
#include "admin/api_int.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "farm/farm.h"
#include "metabase/mb.h"
#include "runtime/apply.h"
#include "runtime/gen.h"
#include "runtime/server.h"
#include "runtime/stats.h"
#include "version.h"

#define CONFIG_PREFIX "/api/v1/config"
#define MB_COMMENT_ROOM 1025 /* a revision's comment: at most 1024 bytes */

static struct mb *api_mb;
static char backup_dir[PATH_MAX];

struct mb *api_metabase(void)
{
    return api_mb;
}

static time_t started;

time_t api_started(void)
{
    return started;
}

void api_init(struct mb *mb, const char *state_dir)
{
    api_mb = mb;
    started = time(NULL);
    snprintf(backup_dir, sizeof(backup_dir), "%s/backups", state_dir);
}

/* ---- responses ---- */

void api_reply_json(struct api_response *rs, int status, json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(1) | JSON_PRESERVE_ORDER);

    rs->status = status;
    rs->content_type = "application/json";
    buf_reset(&rs->body);
    buf_puts(&rs->body, s ? s : "{}");
    buf_puts(&rs->body, "\n");
    free(s);
    json_decref(j);
}

void api_error(struct api_response *rs, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    api_reply_json(rs, status, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg));
}

static int mb_status(const char *code)
{
    static const struct { const char *code; int status; } map[] = {
        {MB_E_NO_SUCH_KEY, 404},      {MB_E_NO_SUCH_REVISION, 404}, {MB_E_KEY_EXISTS, 409},
        {MB_E_HAS_CHILDREN, 409},     {MB_E_STALE_REVISION, 412},   {MB_E_APPLY_FAILED, 422},
        {MB_E_STORAGE, 500},          {"account_exists", 409},      {"not_found", 404},
        {FARM_E_UNREACHABLE, 503},    {FARM_E_TIMEOUT, 504},        {FARM_E_NOT_IN_FARM, 409},
    };

    for (size_t i = 0; code && i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(map[i].code, code) == 0)
            return map[i].status;
    return 400;
}

void api_reply_mb_error(struct api_response *rs, const struct mb_error *e)
{
    json_t *details = json_object();

    if (e->key[0])
        json_object_set_new(details, "key", json_string(e->key));
    if (e->property[0])
        json_object_set_new(details, "property", json_string(e->property));
    api_reply_json(rs, mb_status(e->code),
               json_pack("{s:{s:s,s:s,s:o}}", "error", "code", e->code ? e->code : "storage",
                         "message", e->message, "details", details));
}

/* ---- request helpers ---- */

/* Value of NAME in a raw query string (no percent-decoding: values here are
 * numbers, names and addresses). */
bool api_query_get(const char *q, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);

    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        if (len > n && q[n] == '=' && strncmp(q, name, n) == 0) {
            snprintf(out, cap, "%.*s", (int)(len - n - 1), q + n + 1);
            return true;
        }
        if (len == n && strncmp(q, name, n) == 0) {
            snprintf(out, cap, "1");
            return true;
        }
        q = amp ? amp + 1 : NULL;
    }
    return false;
}

bool api_query_flag(const char *q, const char *name)
{
    char v[8];

    return api_query_get(q, name, v, sizeof(v)) && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
}

bool api_parse_u64(const char *s, uint64_t *out)
{
    char *end;

    if (s == NULL || *s < '0' || *s > '9')
        return false;
    errno = 0;
    *out = strtoull(s, &end, 10);
    return errno == 0 && *end == '\0';
}

bool api_query_u64(const char *q, const char *name, uint64_t *out)
{
    char v[32];

    return api_query_get(q, name, v, sizeof(v)) && api_parse_u64(v, out);
}

/* The JSON body as an object; on failure answers 400 and returns NULL. */
json_t *api_body_object(const struct api_request *rq, struct api_response *rs)
{
    json_error_t je;
    json_t *j;

    if (rq->body == NULL || rq->body_len == 0)
        return json_object();
    j = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL || !json_is_object(j)) {
        json_decref(j);
        api_error(rs, 400, "invalid_request", "the body must be a JSON object (%s)", je.text);
        return NULL;
    }
    return j;
}

/* Refuse body fields this server does not know (additive-only contract). */
bool api_body_known(json_t *body, const char *const *known, struct api_response *rs)
{
    const char *k;
    json_t *v;

    json_object_foreach(body, k, v) {
        bool ok = false;
        for (size_t i = 0; known[i]; i++)
            ok = ok || strcmp(k, known[i]) == 0;
        if (!ok) {
            api_error(rs, 400, "invalid_request", "unknown field \"%s\" in the request body", k);
            return false;
        }
    }
    return true;
}

const char *api_body_comment(json_t *body)
{
    json_t *c = json_object_get(body, "comment");

    return json_is_string(c) ? json_string_value(c) : "";
}

static int64_t if_match_rev(const struct api_request *rq)
{
    uint64_t v;
    char tmp[32];
    size_t n;

    if (rq->if_match == NULL)
        return -1;
    n = strlen(rq->if_match);
    if (n >= 3 && n < sizeof(tmp) + 2 && rq->if_match[0] == '"' && rq->if_match[n - 1] == '"') {
        snprintf(tmp, sizeof(tmp), "%.*s", (int)(n - 2), rq->if_match + 1);
        if (api_parse_u64(tmp, &v))
            return (int64_t)v;
    }
    return api_parse_u64(rq->if_match, &v) ? (int64_t)v : -2;
}

/* ---- commits ---- */

/* ?wait=all: a farm commit is answered once every live member has applied it. */
static bool wait_all(const struct api_request *rq)
{
    char v[8];

    return api_query_get(rq->query, "wait", v, sizeof(v)) && strcmp(v, "all") == 0;
}

static void reply_farm(struct api_response *rs, int status, const struct farm_result *res,
                       bool dry)
{
    json_t *j = json_pack("{s:I,s:b,s:b,s:I}", "revision", (json_int_t)res->revision, "changed",
                          res->changed, "dry_run", dry, "farm_revision",
                          (json_int_t)res->farm_revision);

    if (res->members) {
        json_object_set_new(j, "members", res->members);
        json_object_set_new(j, "all_applied", json_boolean(res->all_applied));
    }
    snprintf(rs->etag, sizeof(rs->etag), "%llu", (unsigned long long)res->revision);
    api_reply_json(rs, status, j);
}

/* In a farm, shared keys change through etcd (farm.h); returns false when the
 * commit is this member's own (the machine key) and goes on locally. */
static bool farm_route(const struct api_request *rq, struct api_response *rs,
                       struct farm_req *fr, int ok_status)
{
    struct mb_error err = {0};
    struct farm_result res;
    int rc;

    if (!farm_active())
        return false;
    fr->wait_all = wait_all(rq);
    rc = farm_commit(fr, &res, &err);
    if (rc == 1)
        return false;
    if (rc == -1)
        api_reply_mb_error(rs, &err);
    else
        reply_farm(rs, ok_status, &res, fr->dry_run);
    return true;
}

void api_commit(const struct api_request *rq, struct api_response *rs, json_t *ops,
                      int64_t base, const char *comment, bool dry, int ok_status)
{
    struct mb_actor who = {rq->identity, rq->address};
    struct mb_error err = {0};
    uint64_t before = mb_revision(api_mb), rev = 0;
    struct farm_req fr = {.ops = ops, .base = base, .who = &who, .comment = comment,
                          .dry_run = dry};

    if (base == -2) {
        api_error(rs, 400, "invalid_request", "If-Match must be a revision number like \"12\"");
        return;
    }
    if (farm_route(rq, rs, &fr, ok_status))
        return;
    if (mb_commit(api_mb, ops, base, &who, comment, dry, apply_commit, NULL, &rev, &err) == -1) {
        api_reply_mb_error(rs, &err);
        return;
    }
    if (!dry)
        farm_kick(); /* a member's own change (binding_overrides) may let a revision apply */
    snprintf(rs->etag, sizeof(rs->etag), "%llu", (unsigned long long)rev);
    api_reply_json(rs, ok_status,
               json_pack("{s:I,s:b,s:b}", "revision", (json_int_t)rev, "changed",
                         !dry && rev != before, "dry_run", dry));
}

/* Rollback, import and restore in a farm: TREE (stolen; NULL after ERR) becomes the
 * farm's shared tree; this member's machine key stays as it is. Always answers:
 * a whole tree is never this member's own. */
static void farm_tree(const struct api_request *rq, struct api_response *rs, json_t *tree,
                      const struct mb_error *err, const char *comment)
{
    struct mb_actor who = {rq->identity, rq->address};
    struct farm_req fr = {.tree = tree, .base = -1, .who = &who, .comment = comment};

    if (tree == NULL)
        api_reply_mb_error(rs, err);
    else if (!farm_route(rq, rs, &fr, 200))
        api_error(rs, 500, "storage", "a whole tree cannot be committed locally in a farm");
    json_decref(tree);
}

json_t *api_op_new(const char *op, const char *key)
{
    return json_pack("{s:s,s:s}", "op", op, "key", key);
}

/* ---- /api/v1/config ---- */

static void config_get(const char *key, const struct api_request *rq, struct api_response *rs)
{
    struct mb_error err = {0};
    json_t *j = mb_get(api_mb, key, api_query_flag(rq->query, "recursive"), &err);

    if (j == NULL) {
        api_reply_mb_error(rs, &err);
        return;
    }
    snprintf(rs->etag, sizeof(rs->etag), "%llu", (unsigned long long)mb_revision(api_mb));
    api_reply_json(rs, 200, j);
}

static void config_write(const char *key, const struct api_request *rq, struct api_response *rs)
{
    static const char *put_fields[] = {"properties", "comment", NULL};
    static const char *patch_fields[] = {"set", "unset", "comment", NULL};
    bool put = strcmp(rq->method, "PUT") == 0;
    json_t *body = api_body_object(rq, rs), *op, *ops;

    if (body == NULL || !api_body_known(body, put ? put_fields : patch_fields, rs)) {
        json_decref(body);
        return;
    }
    op = api_op_new(put ? "create" : "set", key);
    if (put && json_object_get(body, "properties"))
        json_object_set(op, "set", json_object_get(body, "properties"));
    if (!put) {
        if (json_object_get(body, "set"))
            json_object_set(op, "set", json_object_get(body, "set"));
        if (json_object_get(body, "unset"))
            json_object_set(op, "unset", json_object_get(body, "unset"));
    }
    ops = json_pack("[o]", op);
    api_commit(rq, rs, ops, if_match_rev(rq), api_body_comment(body), false, put ? 201 : 200);
    json_decref(ops);
    json_decref(body);
}

static void config_delete(const char *key, const struct api_request *rq, struct api_response *rs)
{
    json_t *op = api_op_new("delete", key), *ops;

    json_object_set_new(op, "recursive", json_boolean(api_query_flag(rq->query, "recursive")));
    ops = json_pack("[o]", op);
    api_commit(rq, rs, ops, if_match_rev(rq), "", false, 200);
    json_decref(ops);
}

void api_route_config(const struct api_request *rq, struct api_response *rs)
{
    const char *key = rq->path + strlen(CONFIG_PREFIX);

    if (*key == '\0')
        key = "/";
    if (strcmp(rq->method, "GET") == 0 || strcmp(rq->method, "HEAD") == 0)
        config_get(key, rq, rs);
    else if (strcmp(rq->method, "PUT") == 0 || strcmp(rq->method, "PATCH") == 0)
        config_write(key, rq, rs);
    else if (strcmp(rq->method, "DELETE") == 0)
        config_delete(key, rq, rs);
    else
        api_error(rs, 405, "method_not_allowed", "%s is not allowed on a config key", rq->method);
}

void api_route_commits(const struct api_request *rq, struct api_response *rs)
{
    static const char *fields[] = {"base_revision", "comment", "ops", "dry_run", NULL};
    json_t *body = api_body_object(rq, rs), *base;
    int64_t b = -1;

    if (body == NULL || !api_body_known(body, fields, rs)) {
        json_decref(body);
        return;
    }
    base = json_object_get(body, "base_revision");
    if (json_is_integer(base))
        b = (int64_t)json_integer_value(base);
    else if (base && !json_is_null(base)) {
        api_error(rs, 400, "invalid_request", "base_revision must be an integer");
        json_decref(body);
        return;
    }
    api_commit(rq, rs, json_object_get(body, "ops"), b, api_body_comment(body),
              json_is_true(json_object_get(body, "dry_run")), 200);
    json_decref(body);
}

/* ---- revisions, diff, rollback, export/import ---- */

void api_route_revisions(const struct api_request *rq, struct api_response *rs)
{
    const char *rest = rq->path + strlen("/api/v1/revisions");
    struct mb_error err = {0};
    uint64_t n = 0, before = 0, limit = 50;
    json_t *j;

    if (*rest == '\0') {
        api_query_u64(rq->query, "before", &before);
        api_query_u64(rq->query, "limit", &limit);
        api_reply_json(rs, 200,
                   json_pack("{s:o}", "revisions", mb_history(api_mb, before, (unsigned)limit)));
        return;
    }
    if (*rest != '/' || !api_parse_u64(rest + 1, &n)) {
        api_error(rs, 404, "not_found", "no such revision \"%s\"", rest + 1);
        return;
    }
    j = mb_revision_get(api_mb, n, &err);
    if (j == NULL)
        api_reply_mb_error(rs, &err);
    else
        api_reply_json(rs, 200, j);
}

void api_route_diff(const struct api_request *rq, struct api_response *rs)
{
    struct mb_error err = {0};
    uint64_t a, b;
    json_t *j;

    if (!api_query_u64(rq->query, "from", &a) || !api_query_u64(rq->query, "to", &b)) {
        api_error(rs, 400, "invalid_request", "diff needs ?from=REV&to=REV");
        return;
    }
    j = mb_diff(api_mb, a, b, &err);
    if (j == NULL)
        api_reply_mb_error(rs, &err);
    else
        api_reply_json(rs, 200, json_pack("{s:I,s:I,s:o}", "from", (json_int_t)a, "to",
                                      (json_int_t)b, "changes", j));
}

void api_reply_new_rev(struct api_response *rs, int rc, uint64_t rev, const struct mb_error *e)
{
    if (rc == -1)
        api_reply_mb_error(rs, e);
    else
        api_reply_json(rs, 200, json_pack("{s:I}", "revision", (json_int_t)rev));
}

void api_route_rollback(const struct api_request *rq, struct api_response *rs)
{
    static const char *fields[] = {"to", "comment", NULL};
    struct mb_actor who = {rq->identity, rq->address};
    struct mb_error err = {0};
    json_t *body = api_body_object(rq, rs);
    uint64_t rev = 0;
    int rc;

    if (body == NULL || !api_body_known(body, fields, rs)) {
        json_decref(body);
        return;
    }
    if (!json_is_integer(json_object_get(body, "to"))) {
        api_error(rs, 400, "invalid_request", "rollback needs {\"to\": REVISION}");
        json_decref(body);
        return;
    }
    uint64_t to = (uint64_t)json_integer_value(json_object_get(body, "to"));
    if (farm_active()) {
        char comment[MB_COMMENT_ROOM];
        snprintf(comment, sizeof(comment), "rollback to revision %llu%s%.900s",
                 (unsigned long long)to, *api_body_comment(body) ? ": " : "",
                 api_body_comment(body));
        farm_tree(rq, rs, mb_tree_at(api_mb, to, &err), &err, comment);
        json_decref(body);
        return;
    }
    rc = mb_rollback(api_mb, to, &who, api_body_comment(body), apply_commit, NULL, &rev, &err);
    api_reply_new_rev(rs, rc, rev, &err);
    json_decref(body);
}

void api_route_import(const struct api_request *rq, struct api_response *rs)
{
    struct mb_actor who = {rq->identity, rq->address};
    struct mb_error err = {0};
    json_t *body = api_body_object(rq, rs);
    uint64_t rev = 0;
    int rc;

    if (body == NULL)
        return;
    if (farm_active()) {
        farm_tree(rq, rs, mb_import_tree(api_mb, body, &err), &err, "import");
        json_decref(body);
        return;
    }
    rc = mb_import(api_mb, body, &who, "import", apply_commit, NULL, &rev, &err);
    api_reply_new_rev(rs, rc, rev, &err);
    json_decref(body);
}

/* ---- backups ---- */

static bool backup_id_ok(const char *id)
{
    if (*id == '\0' || strlen(id) > 64)
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') || *p == '-'))
            return false;
    return true;
}

/* Backup ids are TIME-REVISION: the revision they hold is in the name. */
static json_t *backup_entry(const char *name, size_t idlen, const struct stat *st)
{
    char time_s[32];
    const char *dash = memrchr(name, '-', idlen);
    struct tm tm;
    uint64_t rev = 0;
    char revs[24];

    gmtime_r(&st->st_mtime, &tm);
    strftime(time_s, sizeof(time_s), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (dash && (size_t)(name + idlen - dash - 1) < sizeof(revs)) {
        snprintf(revs, sizeof(revs), "%.*s", (int)(name + idlen - dash - 1), dash + 1);
        api_parse_u64(revs, &rev);
    }
    return json_pack("{s:s%,s:s,s:I,s:I}", "id", name, idlen, "time", time_s, "revision",
                     (json_int_t)rev, "size", (json_int_t)st->st_size);
}

static void backups_list(struct api_response *rs)
{
    json_t *arr = json_array();
    DIR *d = opendir(backup_dir);
    struct dirent *de;
    struct stat st;
    char p[PATH_MAX + 300];

    while (d && (de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 4 || strcmp(de->d_name + n - 3, ".db") != 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", backup_dir, de->d_name);
        if (stat(p, &st) == -1)
            continue;
        json_array_append_new(arr, backup_entry(de->d_name, n - 3, &st));
    }
    if (d)
        closedir(d);
    api_reply_json(rs, 200, json_pack("{s:o}", "backups", arr));
}

static void backups_create(const struct api_request *rq, struct api_response *rs)
{
    char id[64], p[PATH_MAX + 80];
    time_t now = time(NULL);
    struct tm tm;
    struct mb_error err = {0};

    gmtime_r(&now, &tm);
    strftime(id, sizeof(id), "%Y%m%dT%H%M%SZ", &tm);
    snprintf(id + strlen(id), sizeof(id) - strlen(id), "-%llu",
             (unsigned long long)mb_revision(api_mb));
    mkdir(backup_dir, 0750);
    snprintf(p, sizeof(p), "%s/%s.db", backup_dir, id);
    if (mb_backup(api_mb, p, &err) == -1) {
        api_reply_mb_error(rs, &err);
        return;
    }
    mb_audit_add(api_mb, &(struct mb_actor){rq->identity, rq->address}, "backup", id, "ok", NULL);
    api_reply_json(rs, 201, json_pack("{s:s,s:I}", "id", id, "revision",
                                  (json_int_t)mb_revision(api_mb)));
}

static void backups_restore(const struct api_request *rq, struct api_response *rs, const char *id)
{
    struct mb_actor who = {rq->identity, rq->address};
    struct mb_error err = {0};
    char p[PATH_MAX + 80];
    uint64_t rev = 0;
    json_t *body = api_body_object(rq, rs);
    int rc;

    if (body == NULL)
        return;
    snprintf(p, sizeof(p), "%s/%s.db", backup_dir, id);
    if (access(p, R_OK) == -1) {
        api_error(rs, 404, "not_found", "no backup \"%s\"", id);
        json_decref(body);
        return;
    }
    if (farm_active()) {
        char comment[MB_COMMENT_ROOM];
        snprintf(comment, sizeof(comment), "restore from backup %s%s%.900s", id,
                 *api_body_comment(body) ? ": " : "", api_body_comment(body));
        farm_tree(rq, rs, mb_backup_tree(p, &err), &err, comment);
        json_decref(body);
        return;
    }
    rc = mb_restore(api_mb, p, &who, api_body_comment(body), apply_commit, NULL, &rev, &err);
    api_reply_new_rev(rs, rc, rev, &err);
    json_decref(body);
}

void api_route_backups(const struct api_request *rq, struct api_response *rs)
{
    const char *rest = rq->path + strlen("/api/v1/backups");
    char id[80];
    const char *slash;

    if (*rest == '\0' && strcmp(rq->method, "GET") == 0)
        return backups_list(rs);
    if (*rest == '\0' && strcmp(rq->method, "POST") == 0)
        return backups_create(rq, rs);
    slash = *rest == '/' ? strchr(rest + 1, '/') : NULL;
    if (slash && strcmp(slash, "/restore") == 0 && strcmp(rq->method, "POST") == 0 &&
        (size_t)(slash - rest - 1) < sizeof(id)) {
        snprintf(id, sizeof(id), "%.*s", (int)(slash - rest - 1), rest + 1);
        if (backup_id_ok(id))
            return backups_restore(rq, rs, id);
    }
    api_error(rs, 404, "not_found", "no such backup endpoint");
}

