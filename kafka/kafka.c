/* kafka.c -- see kafka.h.
 *
 * Client defaults: short fetch waits and session timeouts keep the data path
 * responsive on the embedded broker (see the embedded-broker note: an empty
 * fetch is otherwise held 500 ms and a dead member's partitions move only
 * after the session timeout); they are also sane on real Kafka and can be
 * overridden with -X. */
#include "kafka.h"
#include "log.h"
#include "spell.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *sy_kafka_opts_usage =
    "  -b, --brokers LIST      Kafka bootstrap servers (host:port,...)\n"
    "      --brokers-file FILE file holding the bootstrap list (written by `switchyard broker`)\n"
    "  -X KEY=VALUE            librdkafka property (repeatable)\n"
    "  (default: $SWITCHYARD_BROKERS, else $SWITCHYARD_BROKERS_FILE)\n";

int sy_kafka_opt_parse(sy_kafka_opts *o, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (*i + 1 >= argc) return 0;
    if (!strcmp(a, "-b") || !strcmp(a, "--brokers")) o->brokers = argv[++*i];
    else if (!strcmp(a, "--brokers-file")) o->brokers_file = argv[++*i];
    else if (!strcmp(a, "-X") && o->nprops < SY_MAX_PROPS) o->props[o->nprops++] = argv[++*i];
    else return 0;
    return 1;
}

static int bootstrap_from_file(const char *path, int wait_ms, char *out, size_t outlen,
                               char *err, size_t errlen)
{
    int64_t until = sy_mono_us() + (int64_t)wait_ms * 1000;
    for (;;) {
        if (sy_read_first_line(path, out, outlen) == 0) return 0;
        if (sy_mono_us() >= until) break;
        usleep(50 * 1000);
    }
    snprintf(err, errlen, "no bootstrap list in %s (is `switchyard broker` running?)", path);
    return -1;
}

int sy_kafka_bootstrap(const sy_kafka_opts *o, int wait_ms, char *out, size_t outlen,
                       char *err, size_t errlen)
{
    const char *file = o->brokers_file;
    if (o->brokers) {
        snprintf(out, outlen, "%s", o->brokers);
        return 0;
    }
    if (!file && getenv("SWITCHYARD_BROKERS") && *getenv("SWITCHYARD_BROKERS")) {
        snprintf(out, outlen, "%s", getenv("SWITCHYARD_BROKERS"));
        return 0;
    }
    if (!file) file = getenv("SWITCHYARD_BROKERS_FILE");
    if (file && *file) return bootstrap_from_file(file, wait_ms, out, outlen, err, errlen);
    snprintf(err, errlen, "no Kafka brokers given: use --brokers, --brokers-file or "
                          "$SWITCHYARD_BROKERS");
    return -1;
}

static int conf_set(rd_kafka_conf_t *conf, const char *k, const char *v, char *err,
                    size_t errlen)
{
    if (rd_kafka_conf_set(conf, k, v, err, errlen) != RD_KAFKA_CONF_OK) return -1;
    return 0;
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    sy_log(level <= 3 ? SY_LOG_ERROR : level <= 4 ? SY_LOG_WARN : SY_LOG_DEBUG,
           "kafka %s: %s", fac, buf);
}

/* Base configuration: bootstrap, logging, then the caller's defaults, then -X. */
static rd_kafka_conf_t *conf_new(const sy_kafka_opts *o, const char *const *defaults,
                                 char *err, size_t errlen)
{
    char bootstrap[1024];
    if (sy_kafka_bootstrap(o, 30000, bootstrap, sizeof bootstrap, err, errlen) != 0)
        return NULL;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, log_cb);
    int bad = conf_set(conf, "bootstrap.servers", bootstrap, err, errlen);
    for (size_t i = 0; !bad && defaults[i]; i += 2)
        bad = conf_set(conf, defaults[i], defaults[i + 1], err, errlen);
    for (int i = 0; !bad && i < o->nprops; i++) {
        char kv[512];
        snprintf(kv, sizeof kv, "%s", o->props[i]);
        char *eq = strchr(kv, '=');
        if (!eq) {
            snprintf(err, errlen, "-X %s: expected KEY=VALUE", o->props[i]);
            bad = 1;
            break;
        }
        *eq = '\0';
        bad = conf_set(conf, kv, eq + 1, err, errlen);
    }
    if (bad) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

/* rd_kafka_new, which takes conf only when it succeeds. */
static rd_kafka_t *client_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, char *err, size_t errlen)
{
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, errlen);
    if (!rk) rd_kafka_conf_destroy(conf);
    return rk;
}

void sy_kafka_opts_first(sy_kafka_opts *out, const sy_kafka_opts *o, const char *const *ours, int n)
{
    *out = *o;
    out->nprops = 0;
    for (int i = 0; i < n && out->nprops < SY_MAX_PROPS; i++) out->props[out->nprops++] = ours[i];
    for (int i = 0; i < o->nprops && out->nprops < SY_MAX_PROPS; i++) out->props[out->nprops++] = o->props[i];
}

rd_kafka_t *sy_kafka_producer(const sy_kafka_opts *o,
                              void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *),
                              void *opaque, char *err, size_t errlen)
{
    static const char *const defaults[] = {
        "acks", "all",
        "enable.idempotence", "true",
        "linger.ms", "5",
        "batch.num.messages", "10000",
        "compression.codec", "lz4",
        "queue.buffering.max.messages", "1000000",
        "message.max.bytes", "1000000",
        NULL,
    };
    rd_kafka_conf_t *conf = conf_new(o, defaults, err, errlen);
    if (!conf) return NULL;
    if (dr_cb) rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, opaque);
    return client_new(RD_KAFKA_PRODUCER, conf, err, errlen);
}

rd_kafka_t *sy_kafka_txn_producer(const sy_kafka_opts *o, const char *idprop,
                                  void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *),
                                  void *opaque, char *id_out, size_t idlen, char *err,
                                  size_t errlen)
{
    sy_kafka_opts with;
    sy_kafka_opts_first(&with, o, (const char *const[]){idprop, "enable.idempotence=true"}, 2);
    rd_kafka_t *rk = sy_kafka_producer(&with, dr_cb, opaque, err, errlen);
    if (!rk) return NULL;
    rd_kafka_conf_get(rd_kafka_conf(rk), "transactional.id", id_out, &idlen);
    rd_kafka_error_t *e = rd_kafka_init_transactions(rk, 30000);
    if (!e) e = rd_kafka_begin_transaction(rk);
    if (e) {
        snprintf(err, errlen, "transactions (transactional.id %s) cannot start: %s", id_out,
                 rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        rd_kafka_destroy(rk);
        return NULL;
    }
    return rk;
}

rd_kafka_t *sy_kafka_admin_client(const sy_kafka_opts *o, char *err, size_t errlen)
{
    static const char *const defaults[] = {NULL};
    rd_kafka_conf_t *conf = conf_new(o, defaults, err, errlen);
    return conf ? client_new(RD_KAFKA_PRODUCER, conf, err, errlen) : NULL;
}

rd_kafka_t *sy_kafka_consumer(const sy_kafka_opts *o, const char *group,
                              void (*rebalance_cb)(rd_kafka_t *, rd_kafka_resp_err_t,
                                                   rd_kafka_topic_partition_list_t *, void *),
                              void *opaque, char *err, size_t errlen)
{
    static const char *const defaults[] = {
        "enable.auto.commit", "false",
        "enable.auto.offset.store", "false",
        "auto.offset.reset", "earliest",
        "partition.assignment.strategy", "cooperative-sticky",
        "session.timeout.ms", "6000",
        "heartbeat.interval.ms", "1000",
        "fetch.wait.max.ms", "20",
        "max.poll.interval.ms", "300000",
        NULL,
    };
    rd_kafka_conf_t *conf = conf_new(o, defaults, err, errlen);
    if (!conf) return NULL;
    if (conf_set(conf, "group.id", group, err, errlen) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    if (rebalance_cb) rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_opaque(conf, opaque);
    rd_kafka_t *rk = client_new(RD_KAFKA_CONSUMER, conf, err, errlen);
    if (!rk) return NULL;
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

int sy_kafka_subscribe(rd_kafka_t *rk, const char *const *topics, size_t n)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(l, topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        sy_error("subscribe failed: %s", rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

void sy_kafka_apply_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                              rd_kafka_topic_partition_list_t *parts)
{
    bool assign = e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
    if (!strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE")) {
        if (assign) rd_kafka_incremental_assign(rk, parts);
        else rd_kafka_incremental_unassign(rk, parts);
    } else {
        rd_kafka_assign(rk, assign ? parts : NULL);
    }
    sy_info("rebalance: %s %d partition(s)", assign ? "assigned" : "revoked", parts->cnt);
}

char *sy_kafka_copy_key_value(const rd_kafka_message_t *m)
{
    char *kv = sy_xmalloc(m->key_len + m->len + 1);
    if (m->key_len) memcpy(kv, m->key, m->key_len);
    if (m->len) memcpy(kv + m->key_len, m->payload, m->len);
    kv[m->key_len + m->len] = '\0';
    return kv;
}

int sy_kafka_produce(rd_kafka_t *rk, const char *topic, const void *key, size_t keylen,
                     const void *value, size_t len, rd_kafka_headers_t *hdrs, void *msg_opaque)
{
    return sy_kafka_produce_to(rk, topic, RD_KAFKA_PARTITION_UA, key, keylen, value, len, hdrs,
                               msg_opaque);
}

int sy_kafka_produce_to(rd_kafka_t *rk, const char *topic, int32_t partition, const void *key,
                        size_t keylen, const void *value, size_t len, rd_kafka_headers_t *hdrs,
                        void *msg_opaque)
{
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(key, keylen), RD_KAFKA_V_VALUE((void *)value, len),
            RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(msg_opaque), RD_KAFKA_V_END);
        if (!e) return 0;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            sy_error("produce to %s failed: %s", topic, rd_kafka_err2str(e));
            if (hdrs) rd_kafka_headers_destroy(hdrs);
            return (int)e;
        }
        rd_kafka_poll(rk, 10); /* queue full: let delivery reports drain it */
    }
}

/* The bootstrap list for messages (already resolved once: no waiting). */
static void bootstrap_for_msg(const sy_kafka_opts *o, char *out, size_t outlen)
{
    char err[256];
    if (sy_kafka_bootstrap(o, 0, out, outlen, err, sizeof err) != 0) snprintf(out, outlen, "?");
}

const rd_kafka_metadata_t *sy_kafka_reach(rd_kafka_t *rk, const sy_kafka_opts *o, int timeout_ms,
                                          char *err, size_t errlen)
{
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
    if (!e) return md;
    char where[1024];
    bootstrap_for_msg(o, where, sizeof where);
    snprintf(err, errlen, "cannot reach Kafka at %s (%s within %d s)", where,
             e == RD_KAFKA_RESP_ERR__TRANSPORT || e == RD_KAFKA_RESP_ERR__TIMED_OUT
                 ? "no answer" : rd_kafka_err2str(e),
             timeout_ms / 1000);
    return NULL;
}

const rd_kafka_metadata_topic_t *sy_kafka_md_topic(const rd_kafka_metadata_t *md,
                                                   const char *topic)
{
    for (int i = 0; i < md->topic_cnt; i++)
        if (!strcmp(md->topics[i].topic, topic) && !md->topics[i].err) return &md->topics[i];
    return NULL;
}

void sy_kafka_no_topic(const rd_kafka_metadata_t *md, const sy_kafka_opts *o, const char *topic,
                       char *err, size_t errlen)
{
    const char *names[256];
    size_t n = 0;
    for (int i = 0; i < md->topic_cnt && n < 256; i++)
        if (strncmp(md->topics[i].topic, "__", 2)) names[n++] = md->topics[i].topic;
    const char *close = sy_closest(topic, names, n);
    char where[1024];
    bootstrap_for_msg(o, where, sizeof where);
    snprintf(err, errlen, "topic %s does not exist on %s%s%s%s", topic, where,
             close ? " (did you mean " : "", close ? close : "", close ? "?)" : "");
}

int sy_kafka_err_retriable(rd_kafka_resp_err_t e)
{
    switch (e) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP:
    case RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__FATAL:
        return 0;
    default:
        return 1;
    }
}

int sy_kafka_first_failure(const char *topic)
{
    static char *seen[64];
    static size_t nseen;
    for (size_t i = 0; i < nseen; i++)
        if (!strcmp(seen[i], topic)) return 0;
    if (nseen < SY_ARRAY_LEN(seen)) seen[nseen++] = sy_xstrdup(topic); /* kept for the process */
    return 1;
}

int sy_kafka_flush(rd_kafka_t *rk, int timeout_ms)
{
    rd_kafka_flush(rk, timeout_ms);
    return rd_kafka_outq_len(rk);
}
/* The closing thread and the waiter share this; whoever comes second frees
 * it (an abandoned close may never come back). */
struct sy_kafka_closing {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    rd_kafka_t *rk;
    bool started, done, abandoned;
};

static void closing_free(sy_kafka_closing *c)
{
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}

static void *close_thread(void *arg)
{
    sy_kafka_closing *c = arg;
    rd_kafka_consumer_close(c->rk);
    pthread_mutex_lock(&c->mu);
    bool abandoned = c->abandoned;
    c->done = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    if (abandoned) closing_free(c); /* the waiter gave up on rk: leave it be */
    return NULL;
}

sy_kafka_closing *sy_kafka_close_start(rd_kafka_t *rk)
{
    sy_kafka_closing *c = sy_xcalloc(1, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    c->rk = rk;
    pthread_t th;
    if (pthread_create(&th, NULL, close_thread, c) == 0) {
        pthread_detach(th);
        c->started = true;
    }
    return c;
}

int sy_kafka_close_wait(sy_kafka_closing *c, int64_t until_us)
{
    if (!c->started) { /* no thread: close here, unbounded */
        rd_kafka_consumer_close(c->rk);
        c->done = true;
    }
    struct timespec until = {.tv_sec = until_us / 1000000, .tv_nsec = (until_us % 1000000) * 1000};
    pthread_mutex_lock(&c->mu);
    while (!c->done && pthread_cond_timedwait(&c->cv, &c->mu, &until) == 0) {}
    bool done = c->done;
    if (!done) c->abandoned = true;
    pthread_mutex_unlock(&c->mu);
    if (!done) {
        sy_warn("a Kafka consumer did not close in time (broker unreachable?): exiting "
                "without it; its group drops it at its session timeout");
        return -1;
    }
    rd_kafka_destroy(c->rk);
    closing_free(c);
    return 0;
}

int sy_kafka_close_poll(sy_kafka_closing *c)
{
    if (!c->started) return sy_kafka_close_wait(c, 0);
    pthread_mutex_lock(&c->mu);
    bool done = c->done;
    pthread_mutex_unlock(&c->mu);
    if (!done) return 1;
    rd_kafka_destroy(c->rk);
    closing_free(c);
    return 0;
}

int sy_kafka_close_consumer(rd_kafka_t *rk, int timeout_ms)
{
    return sy_kafka_close_wait(sy_kafka_close_start(rk), sy_mono_us() + (int64_t)timeout_ms * 1000);
}
