/* topicplan.c -- see topicplan.h. Pure decisions about topics; the cluster
 * is read elsewhere (kafka_admin.c). */
#include "topicplan.h"
#include "topic_names.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int find(const sy_topic_plan *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->v[i].name, name)) return (int)i;
    return -1;
}

static int add(sy_topic_plan *p, const char *name, sy_topic_kind kind, int partitions_of,
               bool compact)
{
    int at = find(p, name); /* tasks may share an output topic */
    if (at >= 0) return at;
    p->v = sy_xrealloc(p->v, (p->n + 1) * sizeof *p->v);
    p->v[p->n] = (sy_topic_need){sy_xstrdup(name), kind, partitions_of, compact};
    return (int)p->n++;
}

void sy_topic_plan_build(const sy_config *cfg, int mask, const char *jobs_topic,
                         const char *dlq_topic, sy_topic_plan *out)
{
    *out = (sy_topic_plan){0};
    if (mask & SY_TK_JOBS) add(out, jobs_topic, SY_TK_JOBS, -1, false);
    if (mask & SY_TK_DLQ) add(out, dlq_topic, SY_TK_DLQ, -1, false);
    for (size_t i = 0; i < cfg->ntiers; i++) {
        const char *topic = cfg->tiers[i]->topic;
        int tier = -1;
        if (mask & (SY_TK_TIER | SY_TK_CHANGELOG)) tier = add(out, topic, SY_TK_TIER, -1, false);
        if (mask & SY_TK_CHANGELOG) {
            char changelog[600];
            snprintf(changelog, sizeof changelog, "%s.changelog", topic);
            add(out, changelog, SY_TK_CHANGELOG, tier, true);
        }
    }
    for (size_t i = 0; (mask & SY_TK_RESULTS) && i < cfg->ntasks; i++)
        add(out, cfg->tasks[i]->output_topic, SY_TK_RESULTS, -1, false);
    if ((mask & SY_TK_SPEND) && cfg->nbudgets) add(out, SY_TOPIC_SPEND, SY_TK_SPEND, -1, true);
}

void sy_topic_plan_free(sy_topic_plan *p)
{
    for (size_t i = 0; i < p->n; i++) free(p->v[i].name);
    free(p->v);
    *p = (sy_topic_plan){0};
}

const char *sy_topic_kind_name(sy_topic_kind k)
{
    switch (k) {
    case SY_TK_JOBS: return "jobs";
    case SY_TK_DLQ: return "dead letters";
    case SY_TK_TIER: return "tier";
    case SY_TK_CHANGELOG: return "changelog";
    case SY_TK_RESULTS: return "results";
    case SY_TK_SPEND: return "spend";
    }
    return "?";
}

bool sy_batch_too_large(long long limit, long long batch_size)
{
    return limit > 0 && batch_size > 0 && batch_size > limit;
}

int sy_topic_plan_check(const sy_topic_plan *p, const sy_topic_seen *seen, int auto_create,
                        sy_topic_report_fn *report, void *arg)
{
    int errors = 0;
    char msg[1400];
    for (size_t i = 0; i < p->n; i++) {
        const sy_topic_need *t = &p->v[i];
        const sy_topic_need *of = t->partitions_of >= 0 ? &p->v[t->partitions_of] : NULL;
        const sy_topic_seen *s = &seen[i], *sof = of ? &seen[t->partitions_of] : NULL;
        if (s->partitions < 0) {
            /* unknown (no Admin API: the embedded broker, which auto-creates) or
             * auto-created with defaults that fit: a warning */
            bool warn = auto_create == -1 || (auto_create == 1 && !t->compact && !of);
            snprintf(msg, sizeof msg,
                     "topic %s (%s) does not exist%s; fix: switchyard topics --create -p PIPELINE",
                     t->name, sy_topic_kind_name(t->kind),
                     warn ? " (the broker will auto-create it with its default settings)"
                     : auto_create == 0 ? " and the broker does not auto-create topics"
                     : "");
            report(warn, msg, arg);
            errors += !warn;
            continue;
        }
        if (of && sof->partitions >= 0 && s->partitions != sof->partitions) {
            snprintf(msg, sizeof msg,
                     "topic %s has %d partition(s) but its tier topic %s has %d: state follows a "
                     "partition through its changelog, so they must match; fix: delete %s and "
                     "run switchyard topics --create (or add partitions to it with "
                     "kafka-topics --alter --partitions %d)",
                     t->name, s->partitions, of->name, sof->partitions, t->name,
                     sof->partitions);
            report(false, msg, arg);
            errors++;
        }
        if (t->compact && s->compact == 0) {
            snprintf(msg, sizeof msg,
                     "topic %s (changelog) is not compacted: old job state would be deleted "
                     "by retention; fix: kafka-configs --alter --entity-type topics "
                     "--entity-name %s --add-config cleanup.policy=compact",
                     t->name, t->name);
            report(false, msg, arg);
            errors++;
        }
    }
    return errors;
}
