/* deadletter.c -- see deadletter.h. */
#include "deadletter.h"
#include "kafka.h"

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

int sy_dead_letter_produce(rd_kafka_t *producer, const char *topic, const sy_dead_letter *d,
                           void *msg_opaque)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(10);
    add_header(h, "switchyard.error.class", sy_err_class_name(d->error_class));
    add_header(h, "switchyard.error.message", d->message ? d->message : "");
    add_header(h, "switchyard.stage", d->stage);
    add_header(h, "switchyard.source.topic", d->src_topic);
    add_int_header(h, "switchyard.source.partition", d->src_partition);
    add_int_header(h, "switchyard.source.offset", d->src_offset);
    if (d->attempts) add_int_header(h, "switchyard.attempts", d->attempts);
    if (d->http_status) add_int_header(h, "switchyard.http_status", d->http_status);
    if (d->models) add_header(h, "switchyard.models", d->models);
    return sy_kafka_produce(producer, topic, d->key, d->keylen, d->value, d->len, h, msg_opaque);
}
