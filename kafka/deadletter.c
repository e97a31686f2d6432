/* deadletter.c -- see deadletter.h. */
#include "deadletter.h"
#include "kafka.h"
#include "log.h"
#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void add_header(rd_kafka_headers_t *h, const char *name, const char *value)
{
    rd_kafka_header_add(h, name, -1, value, -1);
}

static void add_int_header(rd_kafka_headers_t *h, const char *name, long long v)
{
    char num[32];
    snprintf(num, sizeof num, "%lld", v);
    add_header(h, name, num);
}

static rd_kafka_headers_t *headers_of(const sy_dead_letter *d)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(16);
    add_header(h, "switchyard.error.class", sy_err_class_name(d->error_class));
    add_header(h, "switchyard.error.message", d->message ? d->message : "");
    add_header(h, "switchyard.stage", d->stage);
    add_header(h, "switchyard.source.topic", d->src_topic);
    add_int_header(h, "switchyard.source.partition", d->src_partition);
    add_int_header(h, "switchyard.source.offset", d->src_offset);
    if (d->attempts) add_int_header(h, "switchyard.attempts", d->attempts);
    if (d->http_status) add_int_header(h, "switchyard.http_status", d->http_status);
    if (d->models) add_header(h, "switchyard.models", d->models);
    return h;
}

void sy_dead_letter_truncation_headers(rd_kafka_headers_t *h, size_t keylen, const void *value,
                                       size_t len, const char *reason)
{
    char hex[20];
    snprintf(hex, sizeof hex, "%016" PRIx64, sy_fnv1a64(SY_FNV1A64_BASIS, value, len));
    add_header(h, "switchyard.truncated", "1");
    add_header(h, "switchyard.truncated.reason", reason);
    add_int_header(h, "switchyard.original.key_size", (long long)keylen);
    add_int_header(h, "switchyard.original.value_size", (long long)len);
    add_header(h, "switchyard.original.value_fnv1a64", hex);
}

/* Not even the truncated form could be produced (the dead-letter topic
 * refuses us: not authorised, gone, ...). The offset is released all the
 * same: holding it would freeze the partition behind this one message for
 * good, and stopping the process would stop every partition, again after
 * each restart, for a fault of the dead-letter topic, not of the job. The
 * job's bytes stay at their source coordinates in the input topic, and the
 * first loss per topic is logged with them (the rest would flood the log
 * with the same cause). */
static void lost(const char *topic, int err, const char *src, const char *partition,
                 const char *offset)
{
    if (!sy_kafka_first_failure(topic)) return;
    sy_error("dead letters to %s cannot be produced (%s): the first one lost is %.250s[%.20s]@%.20s; "
             "their offsets are released (later losses to this topic are not logged)",
             topic, rd_kafka_err2str((rd_kafka_resp_err_t)err), src, partition, offset);
}

static int produce_truncated(rd_kafka_t *rk, const char *topic, rd_kafka_headers_t *h,
                             const void *key, size_t keylen, const void *value, size_t len,
                             int why, void *opaque)
{
    char reason[300];
    snprintf(reason, sizeof reason, "the dead letter (%zu bytes) was refused: %s", keylen + len,
             rd_kafka_err2str((rd_kafka_resp_err_t)why));
    sy_dead_letter_truncation_headers(h, keylen, value, len, reason);
    sy_warn("dead letter of %zu bytes to %s refused (%s); producing it truncated", keylen + len,
            topic, rd_kafka_err2str((rd_kafka_resp_err_t)why));
    return sy_kafka_produce(rk, topic, key, keylen < SY_DEAD_LETTER_KEEP ? keylen : SY_DEAD_LETTER_KEEP,
                            value, len < SY_DEAD_LETTER_KEEP ? len : SY_DEAD_LETTER_KEEP, h, opaque);
}

int sy_dead_letter_produce(rd_kafka_t *producer, const char *topic, const sy_dead_letter *d,
                           void *msg_opaque)
{
    int err = sy_kafka_produce(producer, topic, d->key, d->keylen, d->value, d->len, headers_of(d),
                               msg_opaque);
    if (!err || sy_kafka_err_retriable((rd_kafka_resp_err_t)err)) return err;
    err = produce_truncated(producer, topic, headers_of(d), d->key, d->keylen, d->value, d->len,
                            err, msg_opaque);
    if (err) {
        char part[24], off[24];
        snprintf(part, sizeof part, "%d", (int)d->src_partition);
        snprintf(off, sizeof off, "%lld", (long long)d->src_offset);
        lost(topic, err, d->src_topic, part, off);
    }
    return err;
}

/* A header's value as a string, or "?" (values are ours, but bounded). */
static const char *header(rd_kafka_headers_t *h, const char *name, char *buf, size_t len)
{
    const void *v;
    size_t n;
    if (!h || rd_kafka_header_get_last(h, name, &v, &n) != RD_KAFKA_RESP_ERR_NO_ERROR || !v)
        return "?";
    snprintf(buf, len, "%.*s", (int)(n < len ? n : len - 1), (const char *)v);
    return buf;
}

int sy_dead_letter_truncate(rd_kafka_t *producer, const rd_kafka_message_t *m)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(m, &h) != 0) h = NULL;
    char flag[4], src[256], part[24], off[24];
    int err = (int)m->err;
    if (strcmp(header(h, "switchyard.truncated", flag, sizeof flag), "1") != 0) {
        rd_kafka_headers_t *copy = h ? rd_kafka_headers_copy(h) : rd_kafka_headers_new(8);
        err = produce_truncated(producer, topic, copy, m->key, m->key_len, m->payload, m->len,
                                (int)m->err, m->_private);
        if (!err) return 0;
    }
    lost(topic, err, header(h, "switchyard.source.topic", src, sizeof src),
         header(h, "switchyard.source.partition", part, sizeof part),
         header(h, "switchyard.source.offset", off, sizeof off));
    return err ? err : -1;
}
