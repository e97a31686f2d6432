/* result_restamp.c -- answering a job from a stored result.
 *
 * The worker stores each final result as msgpack. When the same idempotency
 * key comes again in another message (a resubmission), the stored result is
 * published again for the new job: same output, model, tokens and cost, but
 * the new job's id and `deduplicated: true`. A redelivery of the same
 * message (after a crash) republishes it unchanged. Either way no provider
 * is called. */
#include "result_restamp.h"

#include <msgpack.h>
#include <string.h>

#include "msgpack_check.h"
#include "msgpack_json.h"

static int write_buf(void *data, const char *p, size_t n)
{
    sy_buf_append(data, p, n);
    return 0;
}

static bool key_is(const msgpack_object *k, const char *name)
{
    size_t n = strlen(name);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
           memcmp(k->via.str.ptr, name, n) == 0;
}

static void pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

bool sy_result_task_is(const void *stored, size_t len, const char *task)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0, n = strlen(task);
    bool is = false;
    if (sy_msgpack_check(stored, len) == 0 && msgpack_unpack_next(&u, stored, len, &off) == MSGPACK_UNPACK_SUCCESS &&
        u.data.type == MSGPACK_OBJECT_MAP) {
        const msgpack_object_map *m = &u.data.via.map;
        for (uint32_t i = 0; i < m->size; i++) {
            const msgpack_object *v = &m->ptr[i].val;
            if (key_is(&m->ptr[i].key, "task"))
                is = v->type == MSGPACK_OBJECT_STR && v->via.str.size == n && !memcmp(v->via.str.ptr, task, n);
        }
    }
    msgpack_unpacked_destroy(&u);
    return is;
}

int sy_result_restamp(const void *stored, size_t len, const char *job_id, bool dedup,
                      sy_format fmt, sy_buf *out)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    if (sy_msgpack_check(stored, len) != 0 || msgpack_unpack_next(&u, stored, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        u.data.type != MSGPACK_OBJECT_MAP) {
        msgpack_unpacked_destroy(&u);
        return -1;
    }
    sy_buf mp;
    sy_buf_init(&mp);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &mp, write_buf);
    const msgpack_object_map *m = &u.data.via.map;
    msgpack_pack_map(&pk, m->size);
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key, *v = &m->ptr[i].val;
        msgpack_pack_object(&pk, *k);
        if (key_is(k, "job_id") && job_id) pack_str(&pk, job_id);
        else if (key_is(k, "deduplicated")) dedup ? msgpack_pack_true(&pk) : msgpack_pack_object(&pk, *v);
        else msgpack_pack_object(&pk, *v);
    }
    msgpack_unpacked_destroy(&u);
    int rc = 0;
    if (fmt == SY_FORMAT_JSON) rc = sy_msgpack_to_json(mp.data, mp.len, out);
    else sy_buf_append(out, mp.data, mp.len);
    sy_buf_free(&mp);
    return rc;
}
