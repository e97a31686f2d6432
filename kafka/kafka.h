/* kafka.h -- how every switchyard process reaches Kafka.
 *
 * One place for the connection options all subcommands share
 * (--brokers LIST, --brokers-file FILE, -X key=value), for client settings
 * that suit both real Kafka and the embedded broker, and for the topic
 * names the data path uses. The embedded broker publishes its bootstrap
 * list in a file because its ports are random; clients read that file.
 *
 * Kafka layer (kafka/): on config/, codec/ and base/; used by the
 * scheduler, the worker and the commands. */
#ifndef SY_KAFKA_H
#define SY_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

#include "topic_names.h" /* the defaults of every command's topic options */

#define SY_MAX_PROPS 64

typedef struct sy_kafka_opts {
    const char *brokers;      /* bootstrap list */
    const char *brokers_file; /* or a file that holds it (waited for) */
    const char *props[SY_MAX_PROPS]; /* "key=value" librdkafka properties */
    int nprops;
} sy_kafka_opts;

/* Consume a connection option at argv[*i] (and its value). Returns 1 when
 * consumed (advancing *i past the value), 0 when argv[*i] is not one. */
int sy_kafka_opt_parse(sy_kafka_opts *o, int argc, char **argv, int *i);
/* Usage lines for those options. */
extern const char *sy_kafka_opts_usage;

/* Resolve the bootstrap list: --brokers, else --brokers-file (waiting up to
 * wait_ms for it to appear), else $SWITCHYARD_BROKERS, else
 * $SWITCHYARD_BROKERS_FILE. Returns 0, or -1 with a reason. */
int sy_kafka_bootstrap(const sy_kafka_opts *o, int wait_ms, char *out, size_t outlen,
                       char *err, size_t errlen);

/* Closing a consumer, off the caller's thread and bounded. Closing waits
 * on the network (leaving the group, stopping broker threads), and
 * librdkafka 2.0's rd_kafka_consumer_close waits without a limit for its
 * group coordinator: with the broker gone, forever (seen in
 * tests/integration/provider_down.sh). So the close runs on a thread of its
 * own; the caller waits for it until a deadline. Past it the handle is
 * abandoned, neither closed nor destroyed (the process is exiting; the
 * group drops the member at its session timeout). Whatever the caller made
 * durable before stays so: offsets not committed are delivered again. */
typedef struct sy_kafka_closing sy_kafka_closing;
/* Start closing rk; nothing else may touch rk after this. */
sy_kafka_closing *sy_kafka_close_start(rd_kafka_t *rk);
/* Wait for it until until_us (sy_mono_us clock): 0 when closed (rk is then
 * destroyed), -1 when abandoned (logged). c is released either way. */
int sy_kafka_close_wait(sy_kafka_closing *c, int64_t until_us);
/* Without waiting: 0 when closed (rk destroyed, c released), 1 while the
 * close still runs (c kept). */
int sy_kafka_close_poll(sy_kafka_closing *c);
/* Both at once, waiting at most timeout_ms. */
int sy_kafka_close_consumer(rd_kafka_t *rk, int timeout_ms);
#define SY_KAFKA_CLOSE_MS 5000 /* what the worker and the scheduler allow */

/* o with the properties ours[0..n) first, then o's own (the user's -X,
 * which override them), as many of those as there is room for. */
void sy_kafka_opts_first(sy_kafka_opts *out, const sy_kafka_opts *o, const char *const *ours, int n);

/* A producer tuned for throughput with acks=all and idempotence. dr_cb (may
 * be NULL) receives delivery reports; opaque goes to rd_kafka_conf_set_opaque. */
rd_kafka_t *sy_kafka_producer(const sy_kafka_opts *o,
                              void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *),
                              void *opaque, char *err, size_t errlen);

/* A transactional producer: sy_kafka_producer with the property idprop
 * ("transactional.id=...") before the user's -X (which may override it),
 * transactions initialised and the first one begun. The id in force goes
 * to id_out. NULL with a reason in err. */
rd_kafka_t *sy_kafka_txn_producer(const sy_kafka_opts *o, const char *idprop,
                                  void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *),
                                  void *opaque, char *id_out, size_t idlen, char *err,
                                  size_t errlen);

/* A plain client for metadata and Admin API requests (switchyard topics). */
rd_kafka_t *sy_kafka_admin_client(const sy_kafka_opts *o, char *err, size_t errlen);

/* A group consumer with manual offset storage and commits (auto commit off,
 * cooperative-sticky assignment). rebalance_cb may be NULL. */
rd_kafka_t *sy_kafka_consumer(const sy_kafka_opts *o, const char *group,
                              void (*rebalance_cb)(rd_kafka_t *, rd_kafka_resp_err_t,
                                                   rd_kafka_topic_partition_list_t *, void *),
                              void *opaque, char *err, size_t errlen);

/* Subscribe to a list of topics. Returns 0 or -1 (logged). */
int sy_kafka_subscribe(rd_kafka_t *rk, const char *const *topics, size_t n);

/* Apply an assignment change in a rebalance callback, for either protocol
 * (cooperative: incremental; eager: whole assignment). */
void sy_kafka_apply_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                              rd_kafka_topic_partition_list_t *parts);

/* A message's key then value in one allocation (for keeping it past
 * rd_kafka_message_destroy); NUL-terminated after the value. */
char *sy_kafka_copy_key_value(const rd_kafka_message_t *m);

/* Produce one message (copying key and value), with optional headers (may
 * be NULL; ownership passes to librdkafka on success). Retries while the
 * local queue is full by serving delivery reports. Returns 0, or the
 * librdkafka error (rd_kafka_resp_err_t, non-zero) that refused it. */
int sy_kafka_produce(rd_kafka_t *rk, const char *topic, const void *key, size_t keylen,
                     const void *value, size_t len, rd_kafka_headers_t *hdrs, void *msg_opaque);
/* The same into a given partition (RD_KAFKA_PARTITION_UA: the partitioner's). */
int sy_kafka_produce_to(rd_kafka_t *rk, const char *topic, int32_t partition, const void *key,
                        size_t keylen, const void *value, size_t len, rd_kafka_headers_t *hdrs,
                        void *msg_opaque);

/* Does Kafka answer? One metadata request for every topic, waiting at most
 * timeout_ms, so that a command facing a wrong address or a broker that is
 * down says so at once instead of waiting out its own timeouts. Returns the
 * metadata (free with rd_kafka_metadata_destroy), or NULL with "cannot
 * reach Kafka at LIST (reason)" in err. */
const rd_kafka_metadata_t *sy_kafka_reach(rd_kafka_t *rk, const sy_kafka_opts *o, int timeout_ms,
                                          char *err, size_t errlen);
/* The entry of topic in md, or NULL when the cluster has no such topic. */
const rd_kafka_metadata_topic_t *sy_kafka_md_topic(const rd_kafka_metadata_t *md,
                                                   const char *topic);
/* "topic T does not exist on LIST" and, when one is close, "(did you mean
 * U?)", into err. */
void sy_kafka_no_topic(const rd_kafka_metadata_t *md, const sy_kafka_opts *o, const char *topic,
                       char *err, size_t errlen);

/* Is a produce error worth producing the message again? False for the
 * errors that would recur whatever the wait (too large, invalid record,
 * not authorised, no such partition, a fatal producer error, ...); true
 * for the others (timeouts, leader changes, broker down). Retriable ones
 * are still produced again at most SY_PRODUCE_RETRIES times per message:
 * librdkafka has already retried each within delivery.timeout.ms. */
int sy_kafka_err_retriable(rd_kafka_resp_err_t e);
#define SY_PRODUCE_RETRIES 3

/* 1 the first time a topic is named here, then 0: a failure that repeats
 * for every message of a topic is logged once. */
int sy_kafka_first_failure(const char *topic);

/* Flush the producer for up to timeout_ms; returns the number of messages
 * still undelivered. */
int sy_kafka_flush(rd_kafka_t *rk, int timeout_ms);

#endif
