/* audit: who changed or did what, from where, when — append-only rows. */
#include <stdio.h>
#include <time.h>

#include "core/clock.h"
#include "metabase/mb_int.h"

#define AUDIT_DEFAULT 50
#define AUDIT_MAX 1000

void mb_iso_time(int64_t t, char *out, size_t cap)
{
    if (!clock_iso_format((time_t)t, out, cap))
        snprintf(out, cap, "%s", "");
}

static const char *text(const char *s)
{
    return s ? s : "";
}

int mb_audit_add(struct mb *mb, const struct mb_actor *who, const char *action, const char *target,
                 const char *result, const char *detail)
{
    char now[24];

    snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
    return mb_db_run(mb->db, NULL,
                     "INSERT INTO audit (time, identity, address, action, target, result, detail)"
                     " VALUES (?, substr(?, 1, 1024), substr(?, 1, 1024), substr(?, 1, 1024),"
                     " substr(?, 1, 1024), substr(?, 1, 1024), substr(?, 1, 4096))",
                     7, now, text(who ? who->identity : NULL), text(who ? who->address : NULL),
                     text(action), text(target), text(result), text(detail));
}

static json_t *audit_row(sqlite3_stmt *st)
{
    char when[32];

    mb_iso_time(sqlite3_column_int64(st, 1), when, sizeof(when));
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id",
                     (json_int_t)sqlite3_column_int64(st, 0), "time", when, "identity",
                     (const char *)sqlite3_column_text(st, 2), "address",
                     (const char *)sqlite3_column_text(st, 3), "action",
                     (const char *)sqlite3_column_text(st, 4), "target",
                     (const char *)sqlite3_column_text(st, 5), "result",
                     (const char *)sqlite3_column_text(st, 6), "detail",
                     (const char *)sqlite3_column_text(st, 7));
}

json_t *mb_audit_list(struct mb *mb, uint64_t before_id, unsigned limit)
{
    sqlite3_stmt *st;
    json_t *out = json_array();

    if (sqlite3_prepare_v2(mb->db,
                           "SELECT id, time, identity, address, action, target, result, detail"
                           " FROM audit WHERE id < ? ORDER BY id DESC LIMIT ?",
                           -1, &st, NULL) != SQLITE_OK)
        return out;
    sqlite3_bind_int64(
        st, 1, before_id == 0 || before_id > INT64_MAX ? INT64_MAX : (sqlite3_int64)before_id);
    sqlite3_bind_int(st, 2,
                     limit == 0          ? AUDIT_DEFAULT
                     : limit > AUDIT_MAX ? AUDIT_MAX
                                         : (int)limit);
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(out, audit_row(st));
    sqlite3_finalize(st);
    return out;
}
