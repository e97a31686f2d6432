/* test_scheduler.c -- the scheduler's transactions (route_txn.h) end in a
 * returned fatal error, never in an exit: what makes the process stop is
 * the command's decision (cli/scheduler_cmd.c). Kafka is librdkafka's own
 * mock cluster inside the client (test.mock.num.brokers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "offsets.h"
#include "route_txn.h"
#include "sched_state.h"

static void no_delivery_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)m;
    (void)opaque;
}

/* A scheduler with a transactional producer and a consumer (no assignment)
 * on mock clusters. */
static void open_scheduler(scheduler *s, sy_kafka_opts *k)
{
    memset(k, 0, sizeof *k);
    k->brokers = "127.0.0.1:9"; /* replaced by the mock cluster's */
    k->props[k->nprops++] = "test.mock.num.brokers=1";
    memset(s, 0, sizeof *s);
    s->kafka = k;
    s->group = "unit";
    s->jobs_topic = "switchyard.jobs";
    s->dlq_topic = "switchyard.dlq";
    s->offsets = sy_offsets_new();
    char err[512] = "";
    s->producer = sched_txn_producer(s, no_delivery_cb, err, sizeof err);
    assert_non_null(s->producer);
    assert_non_null(s->txn);
    s->consumer = sy_kafka_consumer(k, "unit", NULL, NULL, err, sizeof err);
    assert_non_null(s->consumer);
}

static void close_scheduler(scheduler *s)
{
    rd_kafka_destroy(s->consumer);
    rd_kafka_destroy(s->producer);
    sched_txn_free(s);
    sy_offsets_free(s->offsets);
}

/* A delivery the broker refused for good (not authorised on the tier
 * topic): the transaction cannot commit past it. Noted as fatal and
 * returned; nothing is committed afterwards. */
static void test_refused_for_good_is_a_returned_fatal_error(void **state)
{
    (void)state;
    scheduler s;
    sy_kafka_opts k;
    open_scheduler(&s, &k);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(s.producer, "switchyard.tier.x", NULL);
    rd_kafka_message_t m = {.err = RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, .rkt = rkt};
    sched_txn_on_failure(&s, &m);
    assert_true(s.fatal);
    assert_int_equal(sched_txn_commit(&s), -1);
    assert_int_equal(sched_txn_commit(&s), -1);
    rd_kafka_topic_destroy(rkt);
    close_scheduler(&s);
}

/* Deliveries that fail with errors that may pass abort the transaction
 * (its jobs are routed again); more than 5 aborts in a row is fatal:
 * returned, not exited on. */
static void test_aborts_in_a_row_end_in_a_returned_fatal_error(void **state)
{
    (void)state;
    scheduler s;
    sy_kafka_opts k;
    open_scheduler(&s, &k);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(s.producer, "switchyard.tier.x", NULL);
    rd_kafka_message_t m = {.err = RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, .rkt = rkt};
    for (int i = 0; i < 5; i++) {
        sched_txn_on_failure(&s, &m);
        assert_false(s.fatal);
        assert_int_equal(sched_txn_commit(&s), 0); /* aborted, next one begun */
        assert_false(s.fatal);
    }
    sched_txn_on_failure(&s, &m);
    assert_int_equal(sched_txn_commit(&s), -1);
    assert_true(s.fatal);
    rd_kafka_topic_destroy(rkt);
    close_scheduler(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused_for_good_is_a_returned_fatal_error),
        cmocka_unit_test(test_aborts_in_a_row_end_in_a_returned_fatal_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
