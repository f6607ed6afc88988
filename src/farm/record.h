/*
 * record: what a farm keeps in etcd, as values — farm revision records
 * (PREFIX/revisions/N: the whole shared tree after revision N, who made it,
 * what it needs of a member) and member entries (PREFIX/members/NAME under
 * the member's lease, PREFIX/roster/NAME without one) — and the pure rules
 * around them: which keys are shared, the tree hash, capability checks,
 * revision bookkeeping. No I/O. Structs are filled by the caller or by a
 * *_decode and released with their *_free. Pure: any thread.
 */
#ifndef FARM_RECORD_H
#define FARM_RECORD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RECORD_FORMAT 1       /* the record layout this build writes and reads */
#define RECORD_MAX (1u << 20) /* bytes in one record (etcd takes 1.5 MiB a request) */
#define RECORD_HASH_LEN 64    /* hex SHA-256 */
#define RECORD_ID_LEN 32      /* hex of 128 random bits */
#define RECORD_NAME_MAX 63    /* a member name */
#define RECORD_TEXT_MAX 1024  /* identity, address, comment, error */

/** One farm revision. */
struct record {
    int format;
    uint64_t revision;
    char id[RECORD_ID_LEN + 1]; /* tells a retried write of ours from someone else's */
    int64_t time;
    char member[RECORD_NAME_MAX + 1]; /* who wrote it */
    char *identity, *address, *comment;
    json_t *requires;               /* capabilities a member must have, sorted */
    char hash[RECORD_HASH_LEN + 1]; /* of state */
    json_t *state;                  /* the shared tree: {path: {name: value}} */
};

/** The record as the JSON text stored in etcd (new string); NULL when larger than RECORD_MAX. */
char *record_encode(const struct record *r);
/** Parse and check TEXT[0..N) into *R; -1 with a one-line reason in WHY. */
int record_decode(const char *text, size_t n, struct record *r, char *why, size_t cap);
/** Release what R holds. */
void record_free(struct record *r);

/** Whether key PATH of a metabase tree is shared by the farm (everything but the machine key). */
bool record_key_shared(const char *path);
/** The shared part of TREE (an mb_tree document): a new object. */
json_t *record_shared(const json_t *tree);
/** TREE with the shared part of SHARED and the machine key of LOCAL: a new object. */
json_t *record_merge(const json_t *shared, const json_t *local);
/** Hex SHA-256 of SHARED's canonical JSON (sorted keys, compact). */
void record_hash(const json_t *shared, char out[RECORD_HASH_LEN + 1]);
/** What a member needs to apply SHARED: "farm" and each property's capability, sorted. */
json_t *record_requires(const json_t *shared);
/**
 * 0 when a member with capabilities CAPS (an array of strings) can apply R:
 * a known format, every required capability, every property known to this
 * build; else -1 with why (naming VERSION, this build's release).
 */
int record_check(const struct record *r, const json_t *caps, const char *version, char *why,
                 size_t cap);

/* ---- keys ---- */

/** PREFIX/revisions/N with N zero-padded to 20 digits, so keys sort by revision. */
void record_rev_key(const char *prefix, uint64_t n, char *out, size_t cap);
/** N back from a revision key under PREFIX; -1 for any other key. */
int record_rev_parse(const char *prefix, const char *key, uint64_t *n);
/** PREFIX/SUB/NAME (SUB: "members", "roster"). */
void record_member_key(const char *prefix, const char *sub, const char *name, char *out,
                       size_t cap);
/** NAME back from PREFIX/SUB/NAME; NULL for any other key. Points into KEY. */
const char *record_member_parse(const char *prefix, const char *sub, const char *key);

/* ---- bookkeeping ---- */

enum record_step {
    RECORD_SKIP,  /* applied already (or older): never twice */
    RECORD_APPLY, /* the next one */
    RECORD_GAP,   /* revisions in between are missing: read them first */
};

/** What to do with farm revision INCOMING when APPLIED is the last one applied. */
enum record_step record_next(uint64_t applied, uint64_t incoming);

/* ---- members ---- */

/** A member entry: what each member says about itself. */
struct member {
    char name[RECORD_NAME_MAX + 1];
    char version[32];
    json_t *capabilities;
    uint64_t revision;                   /* the farm revision applied */
    char hash[RECORD_HASH_LEN + 1];      /* of its shared tree now */
    char farm_hash[RECORD_HASH_LEN + 1]; /* of that revision's tree */
    char *error;                         /* the last apply error, or NULL */
    uint64_t error_revision;
    char admin[128]; /* where its admin API listens, "" unknown */
    int64_t started, updated;
};

/** The entry as JSON text (new string). */
char *member_encode(const struct member *m);
/** Parse TEXT[0..N) into *M; -1 with a reason in WHY. */
int member_decode(const char *text, size_t n, struct member *m, char *why, size_t cap);
/** Release what M holds. */
void member_free(struct member *m);

#endif
