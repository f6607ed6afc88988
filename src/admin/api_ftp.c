/*
 * api_ftp: the FTP users of /ftp/users/NAME over the admin API — listed
 * without their hashes, created and given passwords hashed here (argon2id,
 * on the admin thread), removed. Each change is one revision.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "admin/api_int.h"
#include "ftp/auth.h"

#define USERS_KEY "/ftp/users"

static json_t *user_row(const char *name)
{
    char key[160];
    json_t *eff, *row;

    snprintf(key, sizeof(key), USERS_KEY "/%s", name);
    eff = mb_effective(api_metabase(), key);
    if (eff == NULL)
        return NULL;
    row = json_pack("{s:s, s:O, s:O, s:b}", "name", name, "home_directory",
                    json_object_get(eff, "home_directory"), "enabled",
                    json_object_get(eff, "enabled"), "password_set",
                    json_object_get(eff, "password_hash") != NULL);
    json_decref(eff);
    return row;
}

static void users_list(struct api_response *rs)
{
    char **names;
    size_t n;
    json_t *list = json_array(), *row;

    if (mb_keys(api_metabase(), USERS_KEY, &names, &n) == -1)
        n = 0, names = NULL;
    for (size_t i = 0; i < n; i++)
        if ((row = user_row(names[i])) != NULL)
            json_array_append_new(list, row);
    mb_keys_free(names, n);
    api_reply_json(rs, 200, json_pack("{s:o}", "users", list));
}

/* The argon2id string of BODY's "password", or -1 after answering 400. */
static int password_hash(json_t *body, struct api_response *rs, char out[FTP_HASH_MAX])
{
    const char *pw = json_string_value(json_object_get(body, "password"));
    size_t n = pw ? strlen(pw) : 0;

    if (n == 0 || n > FTP_PASSWORD_MAX) {
        api_error(rs, 400, "invalid_request", "a password of 1 to 256 bytes is required");
        return -1;
    }
    if (ftp_auth_hash(pw, out) == -1) {
        api_error(rs, 500, "storage", "the password cannot be hashed (out of memory)");
        return -1;
    }
    return 0;
}

static void users_create(const struct api_request *rq, struct api_response *rs)
{
    static const char *fields[] = {"name", "password", "home_directory", "enabled", "comment", NULL};
    json_t *body = api_body_object(rq, rs), *op, *set;
    const char *name;
    char hash[FTP_HASH_MAX], key[160];

    if (body == NULL || !api_body_known(body, fields, rs))
        goto out;
    name = json_string_value(json_object_get(body, "name"));
    if (name == NULL || strlen(name) > 64 || strchr(name, '/') != NULL) {
        api_error(rs, 400, "invalid_request", "an FTP user needs a name (1 to 64 characters)");
        goto out;
    }
    if (password_hash(body, rs, hash) == -1)
        goto out;
    snprintf(key, sizeof(key), USERS_KEY "/%s", name);
    set = json_pack("{s:s}", "password_hash", hash);
    sodium_memzero(hash, sizeof(hash));
    if (json_object_get(body, "home_directory"))
        json_object_set(set, "home_directory", json_object_get(body, "home_directory"));
    if (json_object_get(body, "enabled"))
        json_object_set(set, "enabled", json_object_get(body, "enabled"));
    op = api_op_new("create", key);
    json_object_set_new(op, "set", set);
    json_t *ops = json_pack("[o]", op);
    api_commit(rq, rs, ops, -1, api_body_comment(body), false, 201);
    json_decref(ops);
out:
    json_decref(body);
}

static void user_password(const struct api_request *rq, struct api_response *rs, const char *key)
{
    static const char *fields[] = {"password", "comment", NULL};
    json_t *body = api_body_object(rq, rs), *op, *ops;
    char hash[FTP_HASH_MAX];

    if (body == NULL || !api_body_known(body, fields, rs) || password_hash(body, rs, hash) == -1) {
        json_decref(body);
        return;
    }
    op = api_op_new("set", key);
    json_object_set_new(op, "set", json_pack("{s:s}", "password_hash", hash));
    sodium_memzero(hash, sizeof(hash));
    ops = json_pack("[o]", op);
    api_commit(rq, rs, ops, -1, api_body_comment(body), false, 200);
    json_decref(ops);
    json_decref(body);
}

void api_route_ftp_users(const struct api_request *rq, struct api_response *rs)
{
    const char *rest = rq->path + strlen("/api/v1/ftp/users"), *slash;
    char key[160];
    size_t nlen;
    json_t *ops;

    if (*rest == '\0' && (strcmp(rq->method, "GET") == 0 || strcmp(rq->method, "HEAD") == 0))
        return users_list(rs);
    if (*rest == '\0' && strcmp(rq->method, "POST") == 0)
        return users_create(rq, rs);
    slash = *rest == '/' ? strchr(rest + 1, '/') : NULL;
    nlen = slash ? (size_t)(slash - rest - 1) : strlen(rest + 1);
    if (*rest != '/' || nlen == 0 || nlen > 64)
        return api_error(rs, 404, "not_found", "no such FTP user");
    snprintf(key, sizeof(key), USERS_KEY "/%.*s", (int)nlen, rest + 1);
    if (slash && strcmp(slash, "/password") == 0 && strcmp(rq->method, "PUT") == 0)
        return user_password(rq, rs, key);
    if (slash == NULL && strcmp(rq->method, "DELETE") == 0) {
        ops = json_pack("[o]", api_op_new("delete", key));
        api_commit(rq, rs, ops, -1, "", false, 200);
        json_decref(ops);
        return;
    }
    api_error(rs, 404, "not_found", "no such FTP users endpoint");
}
