/* kafka_admin.c -- see kafka_admin.h. I/O at the edge: the decisions about
 * what is wrong live in topicplan.c. */
#include "kafka_admin.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int seen_partitions(const rd_kafka_metadata_t *md, const char *name)
{
    for (int i = 0; i < md->topic_cnt; i++) {
        const rd_kafka_metadata_topic_t *t = &md->topics[i];
        if (strcmp(t->topic, name)) continue;
        if (t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) return -1;
        return t->partition_cnt;
    }
    return -1;
}

/* Run one admin request's result event off a temporary queue. */
static rd_kafka_event_t *await(rd_kafka_queue_t *q, rd_kafka_event_type_t type, int timeout_ms)
{
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms);
    if (ev && rd_kafka_event_type(ev) != type) {
        rd_kafka_event_destroy(ev);
        ev = NULL;
    }
    return ev;
}

static rd_kafka_AdminOptions_t *admin_options(rd_kafka_t *rk, rd_kafka_admin_op_t op, int timeout_ms)
{
    char err[256];
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, op);
    rd_kafka_AdminOptions_set_request_timeout(o, timeout_ms, err, sizeof err);
    return o;
}

/* cleanup.policy and max.message.bytes of the topics that exist, and the
 * broker's auto-creation.
 * 0, or -1 when the cluster does not serve DescribeConfigs. */
static int describe_configs(rd_kafka_t *rk, const sy_topic_plan *p, int32_t broker_id,
                            int timeout_ms, sy_cluster_view *v)
{
    rd_kafka_ConfigResource_t *res[257];
    int idx[257], n = 0;
    char bid[16];
    snprintf(bid, sizeof bid, "%d", (int)broker_id);
    res[n] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_BROKER, bid);
    idx[n++] = -1;
    for (size_t i = 0; i < p->n && n < 257; i++) {
        if (v->seen[i].partitions < 0) continue;
        res[n] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, p->v[i].name);
        idx[n++] = (int)i;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = admin_options(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout_ms);
    rd_kafka_DescribeConfigs(rk, res, (size_t)n, o, q);
    rd_kafka_event_t *ev = await(q, RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT, timeout_ms + 2000);
    int rc = -1;
    if (ev && !rd_kafka_event_error(ev)) {
        size_t cnt = 0;
        const rd_kafka_ConfigResource_t **out =
            rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &cnt);
        for (size_t r = 0; r < cnt; r++) {
            if (rd_kafka_ConfigResource_error(out[r])) continue;
            const char *name = rd_kafka_ConfigResource_name(out[r]);
            bool broker = rd_kafka_ConfigResource_type(out[r]) == RD_KAFKA_RESOURCE_BROKER;
            int at = -1;
            for (int k = 1; !broker && k < n; k++)
                if (!strcmp(p->v[idx[k]].name, name)) at = idx[k];
            size_t ne = 0;
            const rd_kafka_ConfigEntry_t **e = rd_kafka_ConfigResource_configs(out[r], &ne);
            for (size_t j = 0; j < ne; j++) {
                const char *k = rd_kafka_ConfigEntry_name(e[j]), *val = rd_kafka_ConfigEntry_value(e[j]);
                if (!val) continue;
                if (broker && !strcmp(k, "auto.create.topics.enable"))
                    v->auto_create = !strcmp(val, "true");
                if (at >= 0 && !strcmp(k, "cleanup.policy"))
                    v->seen[at].compact = strstr(val, "compact") != NULL;
                if (at >= 0 && !strcmp(k, "max.message.bytes"))
                    v->seen[at].max_message_bytes = strtoll(val, NULL, 10);
            }
        }
        rc = 0;
    } else {
        sy_debug("DescribeConfigs: %s", ev ? rd_kafka_event_error_string(ev) : "no answer");
    }
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    for (int i = 0; i < n; i++) rd_kafka_ConfigResource_destroy(res[i]);
    return rc;
}

int sy_cluster_observe(rd_kafka_t *rk, const sy_topic_plan *p, int timeout_ms, sy_cluster_view *v,
                       char *err, size_t errlen)
{
    *v = (sy_cluster_view){.auto_create = -1};
    v->seen = sy_xcalloc(p->n ? p->n : 1, sizeof *v->seen);
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
    if (e) {
        snprintf(err, errlen, "metadata request failed: %s", rd_kafka_err2str(e));
        sy_cluster_view_free(v);
        return -1;
    }
    for (size_t i = 0; i < p->n; i++)
        v->seen[i] = (sy_topic_seen){seen_partitions(md, p->v[i].name), -1, -1};
    v->nbrokers = md->broker_cnt;
    int32_t broker_id = md->broker_cnt ? md->brokers[0].id : 0;
    rd_kafka_metadata_destroy(md);
    v->admin = describe_configs(rk, p, broker_id, timeout_ms, v) == 0;
    return 0;
}

void sy_cluster_view_free(sy_cluster_view *v)
{
    free(v->seen);
    v->seen = NULL;
}

/* "KEY=VALUE" (every topic) or "TOPIC:KEY=VALUE" (that topic): 1 with *k,
 * *v pointing into buf when it applies to topic. */
static int config_for(const char *spec, const char *topic, char *buf, size_t len, const char **k,
                      const char **v)
{
    snprintf(buf, len, "%s", spec);
    char *eq = strchr(buf, '=');
    if (!eq) return 0; /* checked by the caller */
    *eq = '\0';
    *v = eq + 1;
    char *colon = strchr(buf, ':');
    if (!colon) {
        *k = buf;
        return 1;
    }
    *colon = '\0';
    *k = colon + 1;
    return !strcmp(buf, topic);
}

int sy_cluster_create(rd_kafka_t *rk, const sy_topic_plan *p, const sy_cluster_view *v,
                      int partitions, int rf, const char *const *configs, int nconfigs,
                      int timeout_ms)
{
    rd_kafka_NewTopic_t **nt = sy_xcalloc(p->n ? p->n : 1, sizeof *nt);
    size_t n = 0;
    int failed = 0;
    char err[512];
    for (size_t i = 0; i < p->n; i++) {
        if (v->seen[i].partitions >= 0) continue;
        const sy_topic_need *t = &p->v[i];
        int parts = partitions;
        if (t->partitions_of >= 0 && v->seen[t->partitions_of].partitions > 0)
            parts = v->seen[t->partitions_of].partitions;
        rd_kafka_NewTopic_t *x = rd_kafka_NewTopic_new(t->name, parts, rf, err, sizeof err);
        if (!x) {
            sy_error("cannot create topic %s: %s", t->name, err);
            failed++;
            continue;
        }
        if (t->compact) rd_kafka_NewTopic_set_config(x, "cleanup.policy", "compact");
        for (int c = 0; c < nconfigs; c++) {
            const char *k, *val;
            char kv[512];
            if (config_for(configs[c], t->name, kv, sizeof kv, &k, &val))
                rd_kafka_NewTopic_set_config(x, k, val);
        }
        nt[n++] = x;
    }
    if (n) {
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_AdminOptions_t *o = admin_options(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout_ms);
        rd_kafka_AdminOptions_set_operation_timeout(o, timeout_ms, err, sizeof err);
        rd_kafka_CreateTopics(rk, nt, n, o, q);
        rd_kafka_event_t *ev = await(q, RD_KAFKA_EVENT_CREATETOPICS_RESULT, timeout_ms + 2000);
        if (!ev || rd_kafka_event_error(ev)) {
            sy_error("CreateTopics failed: %s (does this broker serve the Admin API?)",
                     ev ? rd_kafka_event_error_string(ev) : "no answer");
            failed += (int)n;
        } else {
            size_t cnt = 0;
            const rd_kafka_topic_result_t **r =
                rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
            for (size_t i = 0; i < cnt; i++) {
                rd_kafka_resp_err_t e = rd_kafka_topic_result_error(r[i]);
                if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                    sy_error("cannot create topic %s: %s", rd_kafka_topic_result_name(r[i]),
                             rd_kafka_topic_result_error_string(r[i]));
                    failed++;
                } else {
                    sy_info("created topic %s", rd_kafka_topic_result_name(r[i]));
                }
            }
        }
        if (ev) rd_kafka_event_destroy(ev);
        rd_kafka_AdminOptions_destroy(o);
        rd_kafka_queue_destroy(q);
    }
    for (size_t i = 0; i < n; i++) rd_kafka_NewTopic_destroy(nt[i]);
    free(nt);
    return failed;
}

static void log_problem(bool warn, const char *msg, void *arg)
{
    (void)arg;
    if (warn) sy_warn("%s", msg);
    else sy_error("%s", msg);
}

static void ignore_problem(bool warn, const char *msg, void *arg)
{
    (void)warn, (void)msg, (void)arg;
}

int sy_cluster_verify(rd_kafka_t *rk, const sy_topic_plan *p, const char *who,
                      long long *max_message_bytes)
{
    for (size_t i = 0; max_message_bytes && i < p->n; i++) max_message_bytes[i] = -1;
    char err[512];
    sy_cluster_view v;
    /* a topic created a moment ago may not be in every broker's metadata
     * yet: look again for a few seconds before calling it missing */
    int64_t until = sy_mono_us() + 10 * 1000000LL;
    for (;;) {
        if (sy_cluster_observe(rk, p, 15000, &v, err, sizeof err) != 0) {
            sy_warn("%s: topic check skipped: %s", who, err); /* the client retries on its own */
            return 0;
        }
        if (!sy_topic_plan_check(p, v.seen, v.auto_create, ignore_problem, NULL) ||
            sy_mono_us() >= until)
            break;
        sy_cluster_view_free(&v);
        usleep(500 * 1000);
    }
    if (!v.admin)
        sy_debug("%s: the broker does not serve DescribeConfigs (embedded broker?): "
                 "changelog compaction and auto-creation not checked", who);
    int errors = sy_topic_plan_check(p, v.seen, v.auto_create, log_problem, NULL);
    for (size_t i = 0; max_message_bytes && i < p->n; i++)
        max_message_bytes[i] = v.seen[i].max_message_bytes;
    sy_cluster_view_free(&v);
    if (errors) sy_error("%s: %d topic problem(s) above; `switchyard topics -p PIPELINE` lists them", who, errors);
    return errors ? -1 : 0;
}

int sy_cluster_await_leaders(rd_kafka_t *rk, const sy_topic_plan *p, const sy_cluster_view *v,
                             int timeout_ms, char *err, size_t errlen)
{
    int64_t until = sy_mono_us() + (int64_t)timeout_ms * 1000;
    for (size_t i = 0; i < p->n; i++) {
        for (int part = 0; part < v->seen[i].partitions; part++) {
            int64_t lo, hi;
            rd_kafka_resp_err_t e;
            while ((e = rd_kafka_query_watermark_offsets(rk, p->v[i].name, part, &lo, &hi, 2000)) !=
                   RD_KAFKA_RESP_ERR_NO_ERROR) {
                if (sy_mono_us() >= until) {
                    snprintf(err, errlen, "%s [%d] is not served by a leader after %d ms (%s)",
                             p->v[i].name, part, timeout_ms, rd_kafka_err2str(e));
                    return -1;
                }
                usleep(100 * 1000);
            }
        }
    }
    return 0;
}
