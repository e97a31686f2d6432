/* topic_read.c -- see topic_read.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "signals.h"
#include "topic_read.h"
#include "util.h"

#define KAFKA_ANSWER_MS 5000

typedef struct part_end {
    const char *topic;
    int32_t partition;
    int64_t high;
    int done;
} part_end;

typedef struct plan {
    part_end *v;
    size_t n, left;
} plan;

static part_end *find(plan *p, const rd_kafka_message_t *m)
{
    const char *t = rd_kafka_topic_name(m->rkt);
    for (size_t i = 0; i < p->n; i++)
        if (p->v[i].partition == m->partition && !strcmp(p->v[i].topic, t)) return &p->v[i];
    return NULL;
}

static void mark_done(plan *p, part_end *e)
{
    if (e && !e->done) {
        e->done = 1;
        p->left--;
    }
}

/* Look the topics up and assign each non-empty partition from its start. */
static int assign(rd_kafka_t *rk, const sy_kafka_opts *k, const char *cmd,
                  const char *const *topics, size_t nt, plan *p)
{
    char err[1400];
    const rd_kafka_metadata_t *md = sy_kafka_reach(rk, k, KAFKA_ANSWER_MS, err, sizeof err);
    if (!md) {
        fprintf(stderr, "switchyard %s: %s\n", cmd, err);
        return -1;
    }
    size_t cap = 0;
    for (size_t i = 0; i < nt; i++) {
        const rd_kafka_metadata_topic_t *t = sy_kafka_md_topic(md, topics[i]);
        if (!t) {
            sy_kafka_no_topic(md, k, topics[i], err, sizeof err);
            fprintf(stderr, "switchyard %s: %s\n", cmd, err);
            rd_kafka_metadata_destroy(md);
            return -1;
        }
        cap += (size_t)t->partition_cnt;
    }
    p->v = sy_xcalloc(cap ? cap : 1, sizeof *p->v);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)cap);
    int rc = 0;
    for (size_t i = 0; i < nt && !rc; i++) {
        const rd_kafka_metadata_topic_t *t = sy_kafka_md_topic(md, topics[i]);
        for (int j = 0; j < t->partition_cnt; j++) {
            int64_t lo = 0, hi = 0;
            rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, topics[i], t->partitions[j].id,
                                                                     &lo, &hi, KAFKA_ANSWER_MS);
            if (e) {
                fprintf(stderr, "switchyard %s: end of %s[%d]: %s\n", cmd, topics[i],
                        (int)t->partitions[j].id, rd_kafka_err2str(e));
                rc = -1;
                break;
            }
            if (hi <= lo) continue;
            p->v[p->n++] = (part_end){.topic = topics[i], .partition = t->partitions[j].id, .high = hi};
            rd_kafka_topic_partition_list_add(l, topics[i], t->partitions[j].id)->offset = lo;
        }
    }
    p->left = p->n;
    rd_kafka_metadata_destroy(md);
    if (!rc && l->cnt && rd_kafka_assign(rk, l)) rc = -1;
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

int cli_read_topics(const sy_kafka_opts *k, const char *cmd, const char *const *topics,
                    size_t ntopics, int idle_ms, cli_topic_fn fn, void *arg)
{
    sy_kafka_opts ko = *k;
    if (ko.nprops < SY_MAX_PROPS) ko.props[ko.nprops++] = "enable.partition.eof=true";
    char err[512], group[64];
    snprintf(group, sizeof group, "switchyard-%s-%lld", cmd, (long long)sy_now_ms());
    rd_kafka_t *rk = sy_kafka_consumer(&ko, group, NULL, NULL, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "switchyard %s: %s\n", cmd, err);
        return -1;
    }
    plan p = {0};
    int rc = assign(rk, k, cmd, topics, ntopics, &p);
    int64_t last = sy_mono_us();
    while (!rc && p.left && !sy_stop_requested) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m) {
            part_end *e = m->rkt ? find(&p, m) : NULL;
            last = sy_mono_us();
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                mark_done(&p, e);
            } else if (!m->err && e && !e->done) {
                if (m->offset + 1 >= e->high) mark_done(&p, e);
                if (m->offset < e->high && fn(m, arg)) p.left = 0;
            } else if (m->err) {
                fprintf(stderr, "switchyard %s: %s\n", cmd, rd_kafka_message_errstr(m));
            }
            rd_kafka_message_destroy(m);
        } else if (sy_mono_us() - last > (int64_t)idle_ms * 1000) {
            fprintf(stderr, "switchyard %s: %zu partition(s) not read to their end: nothing arrived "
                    "for %d ms\n", cmd, p.left, idle_ms);
            rc = 1;
        }
    }
    free(p.v);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}

const char *cli_header(const rd_kafka_message_t *m, const char *name, char *buf, size_t len)
{
    rd_kafka_headers_t *h = NULL;
    const void *v;
    size_t n;
    if (rd_kafka_message_headers(m, &h) != 0 || rd_kafka_header_get_last(h, name, &v, &n) != 0 || !v)
        return NULL;
    if (n >= len) n = len - 1;
    memcpy(buf, v, n);
    buf[n] = 0;
    return buf;
}

bool cli_time_arg(const char *s, int64_t *out)
{
    char *end;
    long long n = strtoll(s, &end, 10);
    static const struct { char unit; int64_t ms; } units[] = {
        {'s', 1000}, {'m', 60000}, {'h', 3600000}, {'d', 86400000}};
    if (end != s && n >= 0 && n <= 100000 && *end && !end[1] && *s >= '0' && *s <= '9')
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (*end == units[i].unit) {
                *out = sy_now_ms() - n * units[i].ms;
                return true;
            }
    int64_t t = sy_parse_rfc3339_ms(s);
    if (t < 0) return false;
    *out = t;
    return true;
}

bool cli_in_window(const rd_kafka_message_t *m, int64_t since, int64_t until)
{
    int64_t ts = rd_kafka_message_timestamp(m, NULL);
    return (!since || ts >= since) && (!until || ts < until);
}

bool cli_header_at(const rd_kafka_message_t *m, size_t i, const char **name, const void **val,
                   size_t *len)
{
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(m, &h) != 0 || rd_kafka_header_get_all(h, i, name, val, len) != 0)
        return false;
    if (!*val) {
        *val = "";
        *len = 0;
    }
    return true;
}
