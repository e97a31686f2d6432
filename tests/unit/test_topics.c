/* test_topics.c -- the topic plan of a pipeline (names, changelogs compacted
 * with their tier's partition count, shared outputs once) and what
 * sy_topic_plan_check calls wrong; batch sizes that topics refuse; a
 * client's own properties put before the user's -X (sy_kafka_opts_first). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "kafka.h"
#include "topicplan.h"

typedef struct reports {
    int errors, warnings;
    char last[1400];
} reports;

static void collect(bool warn, const char *msg, void *arg)
{
    reports *r = arg;
    if (warn) r->warnings++;
    else r->errors++;
    snprintf(r->last, sizeof r->last, "%s", msg);
}

/* Two tiers, three tasks of which two share an output topic. */
typedef struct fixture {
    sy_tier tiers[2], *tp[2];
    sy_task tasks[3], *kp[3];
    sy_config cfg;
} fixture;

static void two_tiers(fixture *f)
{
    f->tiers[0] = (sy_tier){.name = "fast", .topic = "switchyard.tier.fast"};
    f->tiers[1] = (sy_tier){.name = "slow", .topic = "custom.slow"};
    f->tasks[0] = (sy_task){.name = "a", .tier = &f->tiers[0], .output_topic = "switchyard.results.a"};
    f->tasks[1] = (sy_task){.name = "b", .tier = &f->tiers[1], .output_topic = "shared.out"};
    f->tasks[2] = (sy_task){.name = "c", .tier = &f->tiers[1], .output_topic = "shared.out"};
    for (int i = 0; i < 2; i++) f->tp[i] = &f->tiers[i];
    for (int i = 0; i < 3; i++) f->kp[i] = &f->tasks[i];
    f->cfg = (sy_config){.tiers = f->tp, .ntiers = 2, .tasks = f->kp, .ntasks = 3};
}

static int index_of(const sy_topic_plan *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->v[i].name, name)) return (int)i;
    return -1;
}

static void test_plan_names(void **state)
{
    (void)state;
    fixture f;
    two_tiers(&f);
    sy_topic_plan p;
    sy_topic_plan_build(&f.cfg, SY_TK_ALL, "switchyard.jobs", "my.dlq", &p);
    assert_int_equal(p.n, 8); /* jobs, dlq, 2 tiers, 2 changelogs, 2 outputs */
    int fast = index_of(&p, "switchyard.tier.fast"), slow = index_of(&p, "custom.slow");
    int fcl = index_of(&p, "switchyard.tier.fast.changelog"), scl = index_of(&p, "custom.slow.changelog");
    assert_true(fast >= 0 && slow >= 0 && fcl >= 0 && scl >= 0);
    assert_int_equal(p.v[fcl].partitions_of, fast);
    assert_int_equal(p.v[scl].partitions_of, slow);
    assert_true(p.v[fcl].compact && p.v[scl].compact);
    assert_false(p.v[fast].compact);
    assert_int_equal(p.v[index_of(&p, "my.dlq")].kind, SY_TK_DLQ);
    assert_int_equal(p.v[index_of(&p, "shared.out")].kind, SY_TK_RESULTS);
    assert_true(index_of(&p, "switchyard.results.a") >= 0);
    sy_topic_plan_free(&p);

    /* budgets: the spend topic, compacted */
    sy_budget budget = {.tag = "team", .value = "x"};
    f.cfg.budgets = &budget;
    f.cfg.nbudgets = 1;
    sy_topic_plan_build(&f.cfg, SY_TK_ALL, "switchyard.jobs", "my.dlq", &p);
    assert_int_equal(p.n, 9);
    int spend = index_of(&p, "switchyard.spend");
    assert_true(spend >= 0 && p.v[spend].compact && p.v[spend].kind == SY_TK_SPEND);
    sy_topic_plan_free(&p);
    f.cfg.nbudgets = 0;

    /* the scheduler's view: no changelogs, no outputs */
    sy_topic_plan_build(&f.cfg, SY_TK_JOBS | SY_TK_DLQ | SY_TK_TIER, "j", "d", &p);
    assert_int_equal(p.n, 4);
    assert_int_equal(index_of(&p, "custom.slow.changelog"), -1);
    sy_topic_plan_free(&p);
}

static void test_check(void **state)
{
    (void)state;
    fixture f;
    two_tiers(&f);
    sy_topic_plan p;
    sy_topic_plan_build(&f.cfg, SY_TK_ALL, "switchyard.jobs", "switchyard.dlq", &p);
    sy_topic_seen seen[8];
    for (size_t i = 0; i < p.n; i++) seen[i] = (sy_topic_seen){6, p.v[i].compact ? 1 : 0, -1};

    reports r = {0};
    assert_int_equal(sy_topic_plan_check(&p, seen, 0, collect, &r), 0);
    assert_int_equal(r.errors + r.warnings, 0);

    /* a changelog with another partition count than its tier topic */
    int scl = index_of(&p, "custom.slow.changelog");
    seen[scl].partitions = 3;
    r = (reports){0};
    assert_int_equal(sy_topic_plan_check(&p, seen, 0, collect, &r), 1);
    assert_non_null(strstr(r.last, "custom.slow.changelog has 3 partition(s)"));
    assert_non_null(strstr(r.last, "custom.slow has 6"));
    assert_non_null(strstr(r.last, "fix:"));
    seen[scl].partitions = 6;

    /* not compacted; unknown (no Admin API) is no error */
    seen[scl].compact = 0;
    r = (reports){0};
    assert_int_equal(sy_topic_plan_check(&p, seen, 1, collect, &r), 1);
    assert_non_null(strstr(r.last, "custom.slow.changelog (changelog) is not compacted"));
    assert_non_null(strstr(r.last, "cleanup.policy=compact"));
    seen[scl].compact = -1;
    r = (reports){0};
    assert_int_equal(sy_topic_plan_check(&p, seen, -1, collect, &r), 0);
    seen[scl].compact = 1;

    /* a missing results topic: error when the broker does not auto-create,
     * a warning when it does or when it is unknown */
    int out = index_of(&p, "shared.out");
    seen[out].partitions = -1;
    r = (reports){0};
    assert_int_equal(sy_topic_plan_check(&p, seen, 0, collect, &r), 1);
    assert_non_null(strstr(r.last, "shared.out (results) does not exist"));
    assert_non_null(strstr(r.last, "switchyard topics --create"));
    r = (reports){0};
    assert_int_equal(sy_topic_plan_check(&p, seen, 1, collect, &r), 0);
    assert_int_equal(r.warnings, 1);
    r = (reports){0};
    assert_int_equal(sy_topic_plan_check(&p, seen, -1, collect, &r), 0);
    assert_int_equal(r.warnings, 1);
    seen[out].partitions = 6;

    /* a missing changelog is an error even when the broker auto-creates:
     * it would be made uncompacted, with the default partition count */
    seen[scl].partitions = -1;
    r = (reports){0};
    assert_int_equal(sy_topic_plan_check(&p, seen, 1, collect, &r), 1);
    sy_topic_plan_free(&p);
}

/* batches over a topic's max.message.bytes are refused whole */
static void test_batch_size(void **state)
{
    (void)state;
    assert_true(sy_batch_too_large(20000, 1000000));   /* librdkafka's default batch.size */
    assert_false(sy_batch_too_large(20000, 16384));
    assert_false(sy_batch_too_large(20000, 20000));
    assert_false(sy_batch_too_large(1048588, 1000000)); /* Kafka's defaults fit */
    assert_false(sy_batch_too_large(-1, 1000000));      /* unknown: embedded broker */
    assert_false(sy_batch_too_large(20000, -1));
}

/* ours first, then every -X of the user's that fits (they override ours) */
static void test_opts_first(void **state)
{
    (void)state;
    sy_kafka_opts o = {.brokers = "b", .props = {"linger.ms=1", "acks=1"}, .nprops = 2}, out;
    sy_kafka_opts_first(&out, &o, (const char *const[]){"linger.ms=20"}, 1);
    assert_int_equal(out.nprops, 3);
    assert_string_equal(out.brokers, "b");
    assert_string_equal(out.props[0], "linger.ms=20");
    assert_string_equal(out.props[1], "linger.ms=1");
    assert_string_equal(out.props[2], "acks=1");
    assert_int_equal(o.nprops, 2); /* o as it was */
    assert_string_equal(o.props[0], "linger.ms=1");
    o.nprops = SY_MAX_PROPS - 1;
    for (int i = 0; i < o.nprops; i++) o.props[i] = "x=y";
    o.props[o.nprops - 1] = "last=1";
    sy_kafka_opts_first(&out, &o, (const char *const[]){"a=1", "b=2"}, 2);
    assert_int_equal(out.nprops, SY_MAX_PROPS); /* no room for the user's last */
    assert_string_equal(out.props[0], "a=1");
    assert_string_equal(out.props[SY_MAX_PROPS - 1], "x=y");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_names),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_batch_size),
        cmocka_unit_test(test_opts_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
