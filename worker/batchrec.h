/* batchrec.h -- a batch tier's batch as a durable record (pure: bytes in,
 * bytes out; no store, no HTTP).
 *
 * batchio.c writes it to the store (store.h, the `batches` database) when
 * batch.h asks to RECORD: after the upload, before the create (the input
 * file id is the client-side marker; Anthropic's batches have no upload,
 * their record then has none), and again once the provider's batch id is
 * known. A restart reads the records back and polls their batches instead
 * of sending their jobs again (docs/durability.md, "Batch tiers").
 *
 * What a record holds: the provider kind, tier and model it was made for,
 * the input file id, the provider batch id, its status, the batch's whole
 * job count, and the custom_ids it carries (the jobs' idempotency keys; for Anthropic, their
 * sy_batch_anthropic_id), and for each job its tier message (partition,
 * offset, origin, key and value bytes): the batch owns its jobs once it is
 * recorded created (their input offsets are committed), so a restart
 * rebuilds them from here, not from Kafka. Decoding treats the bytes as hostile (records
 * come back from the changelog): every length is checked against
 * what is left and against the limits below, ids must be printable, and a
 * record that fails any check is refused as a whole.
 *
 * Worker layer (worker/): on base/ (sy_buf). */
#ifndef SY_WORKER_BATCHREC_H
#define SY_WORKER_BATCHREC_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define SY_BATCHREC_VERSION 2 /* 2: with `total`; a version 1 record decodes with total = n */
#define SY_BATCHREC_ID_MAX 96        /* provider ids (file, batch), with their NUL */
#define SY_BATCHREC_NAME_MAX 256     /* tier and model names, with their NUL */
#define SY_BATCHREC_CID_MAX 4096     /* bytes of one custom_id */
#define SY_BATCHREC_JOBS_MAX 100000  /* custom_ids in one record */
#define SY_BATCHREC_MSG_MAX (16u << 20) /* bytes of one job's message (key + value) */
#define SY_BATCHREC_ORIGIN_MAX 300   /* bytes of an origin, with its NUL */

/* One job's tier message, as consumed. */
typedef struct sy_batchrec_job {
    int present;                /* 0: not kept (a job found at the provider, not consumed) */
    int32_t partition;
    int64_t offset;
    const char *origin;         /* "" when none */
    const void *key, *value;
    uint32_t keylen, len;
} sy_batchrec_job;

typedef enum sy_batchrec_kind { SY_BR_OPENAI = 1, SY_BR_ANTHROPIC = 2 } sy_batchrec_kind;

typedef enum sy_batchrec_status {
    SY_BR_UPLOADED = 1, /* input at the provider, no batch id yet (maybe created) */
    SY_BR_CREATED = 2,  /* the provider's batch id is known */
} sy_batchrec_status;

typedef struct sy_batchrec {
    sy_batchrec_kind kind;
    sy_batchrec_status status;
    int64_t recorded_ms;        /* wall clock of the record */
    const char *tier, *model;   /* the tier's and model's names */
    const char *file_id;        /* "" when none (Anthropic) */
    const char *batch_id;       /* "" until CREATED */
    size_t n;
    size_t total;               /* the batch's whole job count (0: n); a partition's record on
                                   the changelog lists n of them (decoded: n <= total) */
    const char *const *ids;     /* n custom_ids */
    const sy_batchrec_job *jobs;/* n jobs, or NULL (none kept) */
} sy_batchrec;

/* The record's bytes. */
void sy_batchrec_encode(sy_buf *out, const sy_batchrec *r);

/* A decoded record: strings point into `storage` (which it owns). */
typedef struct sy_batchrec_view {
    sy_batchrec rec;
    char **ids_owned;
    sy_batchrec_job *jobs_owned;
    sy_buf storage;
} sy_batchrec_view;

/* 0 and *v filled (free it with sy_batchrec_view_free), or -1 (nothing to
 * free) when the bytes are not a valid record. */
int sy_batchrec_decode(const void *data, size_t len, sy_batchrec_view *v);
void sy_batchrec_view_free(sy_batchrec_view *v);

/* ---- on the changelog (docs/durability.md, "Batch tiers") ----
 *
 * A batch's record is mirrored to the changelog of its tier, once per
 * input partition whose jobs it carries: each partition's record lists
 * only that partition's jobs (with their messages), so the worker that
 * gets a partition rebuilds only its own jobs. The key is
 * SY_BATCHREC_LOG_PREFIX, the tier, the batch's store key and the
 * partition; the prefix opens with a control byte, which no job key
 * (task and idempotency key) may hold. A tombstone (no value) goes when
 * the batch is over. The restoring worker stores each under its
 * changelog key. */
#define SY_BATCHREC_LOG_PREFIX "\x1e" "batch|"
#define SY_BATCHREC_LOG_KEY_MAX 400  /* bytes of a changelog key (LMDB keys: 511 at most) */
#define SY_BATCHREC_PARTS_MAX 4096 /* partitions one batch is mirrored to, at most */

/* Whether a changelog (or store) key is a batch record's. */
int sy_batchrec_is_log_key(const char *key, size_t len);
/* The changelog key of a batch without its partition, from its store key:
 * a restored record's key (already a changelog key) keeps its base; a
 * local one "tier\x1fid" becomes PREFIX "tier|id". */
const char *sy_batchrec_log_base(sy_buf *out, const char *store_key);
/* base "|" partition. */
const char *sy_batchrec_log_key(sy_buf *out, const char *base, int32_t partition);
/* The distinct partitions of r's kept jobs, ascending, at most max of
 * them (a bounded count: the rest are not mirrored). */
size_t sy_batchrec_partitions(const sy_batchrec *r, int32_t *out, size_t max);
/* r's record with only the kept jobs of `partition`; their count. */
size_t sy_batchrec_encode_partition(sy_buf *out, const sy_batchrec *r, int32_t partition);

/* ---- a partition's record in parts ----
 * A partition's record larger than a changelog message may be (the
 * producer's message.max.bytes, less a margin: batchio.c) goes as parts,
 * each a whole record of some of the partition's jobs (in order), each at
 * most max_bytes (a job larger alone has a part of its own). The key of
 * part i of n is base "|" partition "#" i "/" n; a record of one part
 * keeps the key base "|" partition. A restoring worker trusts the parts
 * of a partition's record only once all n of them are in its store
 * (sy_batchrec_parts_complete); each has its tombstone. */
#define SY_BATCHREC_PARTS_PER_MAX 4096 /* parts of one partition's record, at most */

/* How many parts the kept jobs of `partition` take (0 when none). */
size_t sy_batchrec_count_parts(const sy_batchrec *r, int32_t partition, size_t max_bytes);
/* The next part: the record of the kept jobs of `partition` from the
 * *cursor-th on, as many as fit max_bytes (one at least); *cursor moves
 * past them. Their count (0: none left). */
size_t sy_batchrec_encode_part(sy_buf *out, const sy_batchrec *r, int32_t partition, size_t max_bytes,
                               size_t *cursor);
/* The key of part `part` of `count` (count 1: base "|" partition). */
const char *sy_batchrec_log_part_key(sy_buf *out, const char *base, int32_t partition, uint32_t part,
                                     uint32_t count);
/* A changelog key's partition, part and count (a key without "#i/n":
 * part 0 of 1), and the length of its base. 0, or -1 when the key is not
 * a batch record's of that shape (partition 0..INT32_MAX, 1 <= count <=
 * SY_BATCHREC_PARTS_PER_MAX, part < count, decimal without sign or
 * leading zeros, nothing after). Hostile-safe: read only within len. */
int sy_batchrec_log_key_parse(const char *key, size_t len, int32_t *partition, uint32_t *part, uint32_t *count,
                              size_t *base_len);
/* Whether keys (n changelog keys, NUL-terminated) are exactly the parts
 * 0..count-1 of one partition's record of one base, each once. 1 or 0. */
int sy_batchrec_parts_complete(const char *const *keys, size_t n);
/* A record read from partition `partition` of a changelog: every job it
 * carries is kept and of that partition (a record that claims another
 * partition's jobs is refused). 1 or 0. */
int sy_batchrec_of_partition(const sy_batchrec *r, int32_t partition);

#endif
