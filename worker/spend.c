/* spend.c -- see spend.h. */
#include "spend.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define ANSWER_MS 5000

struct sy_spend {
    const sy_config *cfg;
    const char *topic;
    rd_kafka_t *consumer, *producer;
    sy_spend_ledger ledger;
};

static void take(sy_spend *s, const rd_kafka_message_t *m)
{
    sy_ledger_record(&s->ledger, m->key, m->key_len, m->payload, m->len);
}

/* Assign every partition from its start and read to the high watermarks
 * they have now: what every worker (and this one's predecessors) spent. */
static int read_to_end(sy_spend *s, int wait_ms, char *err, size_t errlen)
{
    rd_kafka_topic_t *t = rd_kafka_topic_new(s->consumer, s->topic, NULL);
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(s->consumer, 0, t, &md, ANSWER_MS);
    rd_kafka_topic_destroy(t);
    if (e || !md || md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt <= 0) {
        snprintf(err, errlen, "cannot read the spend topic %s (%s): create it (compacted), e.g. "
                 "with switchyard topics --create", s->topic,
                 rd_kafka_err2str(e ? e : md && md->topic_cnt ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
        if (md) rd_kafka_metadata_destroy(md);
        return -1;
    }
    int n = md->topics[0].partition_cnt;
    int64_t *high = sy_xcalloc((size_t)n, sizeof *high);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
    int left = 0;
    for (int i = 0; i < n; i++) {
        int32_t p = md->topics[0].partitions[i].id;
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(s->consumer, s->topic, p, &lo, &hi, ANSWER_MS)) hi = lo = 0;
        high[i] = hi > lo ? hi : -1;
        left += hi > lo;
        rd_kafka_topic_partition_list_add(l, s->topic, p)->offset = lo > 0 ? lo : RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_assign(s->consumer, l);
    rd_kafka_topic_partition_list_destroy(l);
    int64_t until = sy_mono_us() + (int64_t)wait_ms * 1000;
    while (left > 0 && sy_mono_us() < until) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(s->consumer, 100);
        if (!m) continue;
        for (int i = 0; i < n; i++) {
            if (md->topics[0].partitions[i].id != m->partition || high[i] < 0) continue;
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF || (!m->err && m->offset + 1 >= high[i])) {
                high[i] = -1;
                left--;
            }
        }
        if (!m->err) take(s, m);
        rd_kafka_message_destroy(m);
    }
    free(high);
    rd_kafka_metadata_destroy(md);
    if (left > 0) {
        snprintf(err, errlen, "the spend topic %s was not read to its end within %d ms", s->topic, wait_ms);
        return -1;
    }
    return 0;
}

sy_spend *sy_spend_open(const sy_kafka_opts *k, const sy_config *cfg, const char *topic, int wait_ms,
                        char *err, size_t errlen)
{
    sy_spend *s = sy_xcalloc(1, sizeof *s);
    s->cfg = cfg;
    s->topic = topic;
    char id[40], group[64];
    uint64_t seed = (uint64_t)sy_now_ms() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)sy_mono_us();
    snprintf(id, sizeof id, "w%016" PRIx64, sy_hash64(&seed, sizeof seed));
    sy_ledger_init(&s->ledger, id);
    snprintf(group, sizeof group, "switchyard-spend-%s", id);
    /* Shares are few and small: sent and fetched at once, so that other
     * workers see them within tens of ms (the overshoot bound, spend.h). */
    sy_kafka_opts po = *k, ko = *k;
    static const char *const fast_produce[] = {"linger.ms=0"};
    static const char *const fast_fetch[] = {"enable.partition.eof=true", "fetch.wait.max.ms=10",
                                             "fetch.error.backoff.ms=10"};
    for (size_t i = 0; i < SY_ARRAY_LEN(fast_produce) && po.nprops < SY_MAX_PROPS; i++)
        po.props[po.nprops++] = fast_produce[i];
    for (size_t i = 0; i < SY_ARRAY_LEN(fast_fetch) && ko.nprops < SY_MAX_PROPS; i++)
        ko.props[ko.nprops++] = fast_fetch[i];
    s->producer = sy_kafka_producer(&po, NULL, NULL, err, errlen);
    if (s->producer) s->consumer = sy_kafka_consumer(&ko, group, NULL, NULL, err, errlen);
    if (!s->consumer || read_to_end(s, wait_ms, err, errlen) != 0) {
        sy_spend_close(s);
        return NULL;
    }
    sy_info("budgets: %zu, spend read from %s (worker id %s, %ld malformed record(s) ignored)",
            cfg->nbudgets, topic, id, s->ledger.ignored);
    return s;
}

rd_kafka_queue_t *sy_spend_queue(sy_spend *s)
{
    return rd_kafka_queue_get_consumer(s->consumer);
}

void sy_spend_poll(sy_spend *s)
{
    rd_kafka_message_t *m;
    for (int i = 0; i < 1000 && (m = rd_kafka_consumer_poll(s->consumer, 0)); i++) {
        if (!m->err) take(s, m);
        rd_kafka_message_destroy(m);
    }
    rd_kafka_poll(s->producer, 0);
}

const sy_budget *sy_spend_check(const sy_spend *s, const sy_job *job)
{
    return sy_budget_decide(s->cfg->budgets, s->cfg->nbudgets, job->metadata, job->nmetadata, &s->ledger,
                            sy_now_ms());
}

void sy_spend_add(sy_spend *s, const sy_job *job, double usd)
{
    int64_t nano = sy_usd_to_nano(usd), now = sy_now_ms();
    if (!nano) return;
    for (size_t i = 0; i < s->cfg->nbudgets; i++) {
        const sy_budget *b = &s->cfg->budgets[i];
        if (!sy_budget_matches(b, job->metadata, job->nmetadata)) continue;
        char key[96], val[24];
        int64_t share = sy_ledger_add_own(&s->ledger, b->id, sy_budget_period_start(b->period, now), nano,
                                          key, sizeof key);
        snprintf(val, sizeof val, "%" PRId64, share);
        int e = sy_kafka_produce(s->producer, s->topic, key, strlen(key), val, strlen(val), NULL, NULL);
        if (e && sy_kafka_first_failure(s->topic))
            sy_error("spend shares to %s cannot be produced (%s): this worker's spend counts here "
                     "but other workers and restarts will not see it", s->topic,
                     rd_kafka_err2str((rd_kafka_resp_err_t)e));
    }
}

void sy_spend_close(sy_spend *s)
{
    if (!s) return;
    if (s->producer) {
        int left = sy_kafka_flush(s->producer, 5000);
        if (left) sy_warn("%d spend share(s) not delivered to %s", left, s->topic);
        rd_kafka_destroy(s->producer);
    }
    if (s->consumer) sy_kafka_close_consumer(s->consumer, SY_KAFKA_CLOSE_MS);
    sy_ledger_free(&s->ledger);
    free(s);
}

void sy_spend_set_config(sy_spend *s, const sy_config *cfg)
{
    s->cfg = cfg;
}
