/* lag.c -- see lag.h. */
#include "lag.h"
#include "prom.h"

#include <stdio.h>

int sy_kafka_prom_lag(rd_kafka_t *consumer, sy_buf *b)
{
    sy_prom_family(b, "switchyard_consumer_lag", "Records behind the end of each assigned partition.", SY_PROM_GAUGE);
    rd_kafka_topic_partition_list_t *parts = NULL;
    int n = 0;
    if (consumer && rd_kafka_assignment(consumer, &parts) == 0 && parts) {
        n = parts->cnt;
        rd_kafka_position(consumer, parts);
        for (int i = 0; i < parts->cnt; i++) {
            rd_kafka_topic_partition_t *p = &parts->elems[i];
            int64_t lo = -1, hi = -1;
            if (p->offset < 0 ||
                rd_kafka_get_watermark_offsets(consumer, p->topic, p->partition, &lo, &hi) != 0 || hi < 0)
                continue; /* nothing consumed there yet, or no fetch answered */
            char part[16];
            snprintf(part, sizeof part, "%d", (int)p->partition);
            sy_prom_label l[] = {{"topic", p->topic}, {"partition", part}};
            sy_prom_sample(b, "switchyard_consumer_lag", l, 2, (double)(hi > p->offset ? hi - p->offset : 0));
        }
        rd_kafka_topic_partition_list_destroy(parts);
    }
    sy_prom_family(b, "switchyard_partitions_assigned", "Partitions assigned to this consumer.", SY_PROM_GAUGE);
    sy_prom_sample(b, "switchyard_partitions_assigned", NULL, 0, n);
    return n;
}

bool sy_kafka_probe(rd_kafka_t *rk, int timeout_ms, char *why, size_t len)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rk ? rd_kafka_metadata(rk, 0, NULL, &md, timeout_ms) : RD_KAFKA_RESP_ERR__STATE;
    if (md) rd_kafka_metadata_destroy(md);
    if (!e) return true;
    snprintf(why, len, "Kafka unreachable: %s", rd_kafka_err2str(e));
    return false;
}
