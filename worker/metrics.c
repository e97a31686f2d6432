/* metrics.c -- see metrics.h. Counts of the jobs' events by task, model
 * and metadata tag, rendered with the worker's other state once a second. */
#include "metrics.h"
#include "httpd.h"
#include "lag.h"
#include "log.h"
#include "loop.h"
#include "prom.h"
#include "worker.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PUBLISH_US 1000000
#define STUCK_MS 10000   /* /readyz: a turn older than this is a stuck loop */
#define TAG_CAP 50       /* distinct values per metadata tag; the rest are "other" */
#define MAX_TAGS 8
#define PROBE_MS 2000    /* /readyz: Kafka must answer a metadata request within this */

typedef struct model_stat {
    uint64_t tokens_in, tokens_out, retries, fallbacks;
    double cost;
    uint64_t errors[SY_ERR_COUNT];
    sy_prom_hist call;
} model_stat;

typedef struct tag_stat {
    char *name;
    sy_prom_capset values;
    double cost[TAG_CAP + 1];
    uint64_t jobs[TAG_CAP + 1];
} tag_stat;

struct sy_wmetrics {
    sy_httpd *http;
    sy_loop_timer timer;
    sy_buf page;
    size_t ntasks, nmodels; /* the config's tasks; every model alias seen (reloads add) */
    char **aliases;         /* [nmodels] */
    size_t *cur;            /* metrics index of each model of the current config */
    uint64_t *jobs;         /* [task][model or nmodels: none][ok, failed] */
    model_stat *models;
    sy_prom_hist *queue_wait, *e2e; /* per task */
    double *task_cost;              /* per task */
    tag_stat tags[MAX_TAGS];
    size_t ntags;
    uint64_t dead[SY_ERR_COUNT];
    int peak_inflight, peak_held; /* since the last page (wmetrics_sample) */
};

/* A model of the current config, or of an earlier one (a run that
 * started before a reload) by its alias. */
static size_t model_index(const worker *w, const sy_model *m)
{
    const struct sy_wmetrics *s = w->metrics;
    for (size_t i = 0; m && i < w->cfg->nmodels; i++)
        if (w->cfg->models[i] == m) return s->cur[i];
    for (size_t i = 0; m && i < s->nmodels; i++)
        if (!strcmp(s->aliases[i], m->alias)) return i;
    return s->nmodels;
}

/* The aliases of the current config: new ones added (the arrays by model
 * grow; "none" stays last), cur mapped. */
static void map_models(worker *w)
{
    struct sy_wmetrics *m = w->metrics;
    size_t n = m->nmodels;
    free(m->cur);
    m->cur = sy_xcalloc(w->cfg->nmodels + 1, sizeof *m->cur);
    for (size_t i = 0; i < w->cfg->nmodels; i++) {
        size_t j = 0;
        while (j < n && strcmp(m->aliases[j], w->cfg->models[i]->alias)) j++;
        if (j == n) {
            m->aliases = sy_xrealloc(m->aliases, (n + 1) * sizeof *m->aliases);
            m->aliases[n++] = sy_xstrdup(w->cfg->models[i]->alias);
        }
        m->cur[i] = j;
    }
    if (n == m->nmodels && m->jobs) return;
    uint64_t *jobs = sy_xcalloc(m->ntasks * (n + 1) * 2 + 1, sizeof *jobs);
    model_stat *models = sy_xcalloc(n + 1, sizeof *models);
    for (size_t mi = 0; m->jobs && mi <= m->nmodels; mi++) {
        size_t to = mi == m->nmodels ? n : mi;
        models[to] = m->models[mi];
        for (size_t t = 0; t < m->ntasks; t++)
            for (int st = 0; st < 2; st++)
                jobs[(t * (n + 1) + to) * 2 + st] = m->jobs[(t * (m->nmodels + 1) + mi) * 2 + st];
    }
    free(m->jobs);
    free(m->models);
    m->jobs = jobs;
    m->models = models;
    m->nmodels = n;
}

void wmetrics_reloaded(worker *w)
{
    if (w->metrics) map_models(w);
}

static void publish(worker *w);

static void on_timer(void *ctx)
{
    worker *w = ctx;
    publish(w);
    sy_loop_timer_at(w->loop, &w->metrics->timer, sy_mono_us() + PUBLISH_US);
}

static void add_tags(struct sy_wmetrics *m, const char *list)
{
    const char *p = list;
    while (p && *p && m->ntags < MAX_TAGS) {
        size_t n = strcspn(p, ",");
        if (n) {
            tag_stat *t = &m->tags[m->ntags++];
            t->name = sy_xcalloc(1, n + 1);
            memcpy(t->name, p, n);
            sy_prom_capset_init(&t->values, TAG_CAP);
        }
        p += n + (p[n] == ',');
    }
}

/* /readyz's check, on its own thread (httpd.h): the consumer (made before the endpoint,
 * destroyed after it) asks the cluster for metadata. */
static bool kafka_probe(void *ctx, char *why, size_t len)
{
    return sy_kafka_probe(((worker *)ctx)->consumer, PROBE_MS, why, len);
}

int wmetrics_start(worker *w)
{
    if (!w->opt.http) return 0;
    char err[256];
    sy_httpd *h = sy_httpd_start(w->opt.http, getenv(SY_HTTP_TOKEN_ENV), STUCK_MS, kafka_probe, w, err, sizeof err);
    if (!h) {
        sy_error("http: %s", err);
        return -1;
    }
    struct sy_wmetrics *m = sy_xcalloc(1, sizeof *m);
    m->http = h;
    m->ntasks = w->cfg->ntasks;
    w->metrics = m;
    map_models(w);
    m->queue_wait = sy_xcalloc(m->ntasks, sizeof *m->queue_wait);
    m->e2e = sy_xcalloc(m->ntasks, sizeof *m->e2e);
    m->task_cost = sy_xcalloc(m->ntasks, sizeof *m->task_cost);
    add_tags(m, w->opt.metrics_tags);
    sy_buf_init(&m->page);
    sy_loop_timer_init(&m->timer, on_timer, w);
    publish(w);
    sy_loop_timer_at(w->loop, &m->timer, sy_mono_us() + PUBLISH_US);
    sy_info("http: serving /metrics /healthz /readyz, the status page at / on %.40s (port %d)%s", w->opt.http,
            sy_httpd_port(h), getenv(SY_HTTP_TOKEN_ENV) && *getenv(SY_HTTP_TOKEN_ENV) ? ", bearer token required" : "");
    return 0;
}

void wmetrics_stop(worker *w)
{
    struct sy_wmetrics *m = w->metrics;
    if (!m) return;
    sy_httpd_stop(m->http);
    if (w->loop) sy_loop_timer_cancel(w->loop, &m->timer);
    for (size_t i = 0; i < m->ntags; i++) {
        free(m->tags[i].name);
        sy_prom_capset_free(&m->tags[i].values);
    }
    for (size_t i = 0; i < m->nmodels; i++) free(m->aliases[i]);
    free(m->aliases);
    free(m->cur);
    free(m->jobs);
    free(m->models);
    free(m->queue_wait);
    free(m->e2e);
    free(m->task_cost);
    sy_buf_free(&m->page);
    free(m);
    w->metrics = NULL;
}

void wmetrics_beat(worker *w)
{
    if (w->metrics) sy_httpd_beat(w->metrics->http, sy_mono_us());
}

void wmetrics_sample(worker *w)
{
    struct sy_wmetrics *m = w->metrics;
    if (!m) return;
    int inflight = w->engine ? sy_engine_inflight(w->engine) : 0;
    if (inflight > m->peak_inflight) m->peak_inflight = inflight;
    if (w->held > m->peak_held) m->peak_held = w->held;
}

void wmetrics_result(sy_run *r)
{
    struct sy_wmetrics *m = r->w->metrics;
    if (!m || !r->task) return;
    size_t t = r->task->index, mi = model_index(r->w, r->model);
    if (t >= m->ntasks) return;
    m->jobs[(t * (m->nmodels + 1) + mi) * 2 + !r->result_ok]++;
    model_stat *s = &m->models[mi];
    s->tokens_in += (uint64_t)(r->tokens_in > 0 ? r->tokens_in : 0);
    s->tokens_out += (uint64_t)(r->tokens_out > 0 ? r->tokens_out : 0);
    s->cost += r->cost_usd;
    m->task_cost[t] += r->cost_usd;
    for (size_t i = 0; i < m->ntags; i++) {
        const char *v = sy_job_meta(&r->job, m->tags[i].name);
        if (!v) continue;
        size_t slot = sy_prom_capset_slot(&m->tags[i].values, v);
        m->tags[i].cost[slot] += r->cost_usd;
        m->tags[i].jobs[slot]++;
    }
    if (r->queued_ms > 0) sy_prom_observe(&m->e2e[t], (double)(sy_now_ms() - r->queued_ms) / 1000);
}

void wmetrics_call(sy_run *r, int64_t latency_ms, sy_err_class c)
{
    struct sy_wmetrics *m = r->w->metrics;
    if (!m) return;
    model_stat *s = &m->models[model_index(r->w, r->model)];
    sy_prom_observe(&s->call, (double)latency_ms / 1000);
    if (c > SY_ERR_NONE && c < SY_ERR_COUNT) s->errors[c]++;
}

void wmetrics_first_send(sy_run *r)
{
    struct sy_wmetrics *m = r->w->metrics;
    if (!m || !r->task || r->task->index >= m->ntasks || r->queued_ms <= 0) return;
    sy_prom_observe(&m->queue_wait[r->task->index], (double)(sy_now_ms() - r->queued_ms) / 1000);
}

void wmetrics_event(sy_run *r, sy_life_event ev)
{
    struct sy_wmetrics *m = r->w->metrics;
    if (!m) return;
    model_stat *s = &m->models[model_index(r->w, r->model)];
    if (ev == SY_EV_FALLBACK) s->fallbacks++;
    else s->retries++;
}

void wmetrics_dead_letter(worker *w, sy_err_class c)
{
    if (w->metrics && c >= 0 && c < SY_ERR_COUNT) w->metrics->dead[c]++;
}

/* ---- the page ---- */

static const char *model_name(const worker *w, size_t i)
{
    return i < w->metrics->nmodels ? w->metrics->aliases[i] : "none";
}

static void render_jobs(worker *w, sy_buf *b)
{
    struct sy_wmetrics *m = w->metrics;
    sy_prom_family(b, "switchyard_jobs_total", "Results produced, by task, tier, model of the last attempt and status.", SY_PROM_COUNTER);
    for (size_t t = 0; t < m->ntasks; t++)
        for (size_t mi = 0; mi <= m->nmodels; mi++)
            for (int st = 0; st < 2; st++) {
                uint64_t n = m->jobs[(t * (m->nmodels + 1) + mi) * 2 + st];
                if (!n) continue;
                const sy_task *task = w->cfg->tasks[t];
                sy_prom_label l[] = {{"task", task->name}, {"tier", task->tier ? task->tier->name : ""},
                                     {"model", model_name(w, mi)}, {"status", st ? "failed" : "ok"}};
                sy_prom_sample(b, "switchyard_jobs_total", l, 4, (double)n);
            }
    const char *hn[] = {"switchyard_queue_wait_seconds", "switchyard_end_to_end_seconds"};
    const char *hh[] = {"From the job's record in the tier topic to its first provider call.",
                        "From the job's record in the tier topic to its result."};
    sy_prom_hist *hv[] = {m->queue_wait, m->e2e};
    for (int k = 0; k < 2; k++) {
        sy_prom_family(b, hn[k], hh[k], SY_PROM_HISTOGRAM);
        for (size_t t = 0; t < m->ntasks; t++)
            if (hv[k][t].count)
                sy_prom_hist_write(b, hn[k], &(sy_prom_label){"task", w->cfg->tasks[t]->name}, 1, &hv[k][t]);
    }
    sy_counts c = sy_counters_summary(&w->counters);
    const char *cn[] = {"consumed", "deduplicated", "replayed", "skipped", "rerouted"};
    uint64_t cv[] = {c.consumed, c.deduplicated, c.replayed, c.skipped, c.rerouted};
    sy_prom_family(b, "switchyard_job_events_total", "Jobs consumed, and answered without a call (deduplicated, replayed, skipped) or routed again.", SY_PROM_COUNTER);
    for (int i = 0; i < 5; i++)
        sy_prom_sample(b, "switchyard_job_events_total", &(sy_prom_label){"event", cn[i]}, 1, (double)cv[i]);
}

static void render_models(worker *w, sy_buf *b)
{
    struct sy_wmetrics *m = w->metrics;
    sy_prom_family(b, "switchyard_provider_call_seconds", "Provider call latency by model.", SY_PROM_HISTOGRAM);
    for (size_t i = 0; i < m->nmodels; i++)
        if (m->models[i].call.count)
            sy_prom_hist_write(b, "switchyard_provider_call_seconds", &(sy_prom_label){"model", model_name(w, i)}, 1, &m->models[i].call);
    sy_prom_family(b, "switchyard_tokens_total", "Tokens of produced results by model and direction.", SY_PROM_COUNTER);
    for (size_t i = 0; i <= m->nmodels; i++) {
        if (!m->models[i].tokens_in && !m->models[i].tokens_out) continue;
        sy_prom_label l[] = {{"model", model_name(w, i)}, {"direction", "in"}};
        sy_prom_sample(b, "switchyard_tokens_total", l, 2, (double)m->models[i].tokens_in);
        l[1].value = "out";
        sy_prom_sample(b, "switchyard_tokens_total", l, 2, (double)m->models[i].tokens_out);
    }
    sy_prom_family(b, "switchyard_cost_usd_total", "Cost of produced results in USD by model.", SY_PROM_COUNTER);
    for (size_t i = 0; i <= m->nmodels; i++)
        if (m->models[i].cost > 0)
            sy_prom_sample(b, "switchyard_cost_usd_total", &(sy_prom_label){"model", model_name(w, i)}, 1, m->models[i].cost);
    sy_prom_family(b, "switchyard_cost_usd_by_task_total", "Cost of produced results in USD by task.", SY_PROM_COUNTER);
    for (size_t t = 0; t < m->ntasks; t++)
        if (m->task_cost[t] > 0)
            sy_prom_sample(b, "switchyard_cost_usd_by_task_total", &(sy_prom_label){"task", w->cfg->tasks[t]->name}, 1, m->task_cost[t]);
    const char *fn[] = {"switchyard_provider_errors_total", "switchyard_retries_total", "switchyard_fallbacks_total"};
    sy_prom_family(b, fn[0], "Failed provider calls by model and class (429s: class rate_limited).", SY_PROM_COUNTER);
    for (size_t i = 0; i < m->nmodels; i++)
        for (int c = 1; c < SY_ERR_COUNT; c++)
            if (m->models[i].errors[c]) {
                sy_prom_label l[] = {{"model", model_name(w, i)}, {"class", sy_err_class_name(c)}};
                sy_prom_sample(b, fn[0], l, 2, (double)m->models[i].errors[c]);
            }
    sy_prom_family(b, fn[1], "Attempts retried after a failure of this model.", SY_PROM_COUNTER);
    for (size_t i = 0; i < m->nmodels; i++)
        sy_prom_sample(b, fn[1], &(sy_prom_label){"model", model_name(w, i)}, 1, (double)m->models[i].retries);
    sy_prom_family(b, fn[2], "Jobs that fell back from this model to the next.", SY_PROM_COUNTER);
    for (size_t i = 0; i < m->nmodels; i++)
        sy_prom_sample(b, fn[2], &(sy_prom_label){"model", model_name(w, i)}, 1, (double)m->models[i].fallbacks);
    sy_prom_family(b, "switchyard_breaker_state", "Circuit breaker per tier and model: 0 closed, 1 open, 2 half-open.", SY_PROM_GAUGE);
    sy_health **health = w->gen->health;
    for (size_t t = 0; t < w->cfg->ntiers && health; t++) {
        const sy_tier *tier = w->cfg->tiers[t];
        for (size_t s = 0; health[t] && s < tier->nmodels; s++) {
            sy_prom_label l[] = {{"tier", tier->name}, {"model", tier->models[s].model->alias}};
            sy_prom_sample(b, "switchyard_breaker_state", l, 2, (double)health[t][s].state);
        }
    }
}

static void render_tags(worker *w, sy_buf *b)
{
    struct sy_wmetrics *m = w->metrics;
    sy_prom_family(b, "switchyard_cost_usd_by_tag_total", "Cost in USD by job metadata tag value (at most 50 values per tag, the rest as other).", SY_PROM_COUNTER);
    for (size_t i = 0; i < m->ntags; i++) {
        tag_stat *t = &m->tags[i];
        for (size_t s = 0; s <= TAG_CAP; s++) {
            if (!t->jobs[s]) continue;
            sy_prom_label l[] = {{"tag", t->name}, {"value", sy_prom_capset_value(&t->values, s)}};
            sy_prom_sample(b, "switchyard_cost_usd_by_tag_total", l, 2, t->cost[s]);
        }
    }
    sy_prom_family(b, "switchyard_jobs_by_tag_total", "Results by job metadata tag value (capped as the cost).", SY_PROM_COUNTER);
    for (size_t i = 0; i < m->ntags; i++)
        for (size_t s = 0; s <= TAG_CAP; s++)
            if (m->tags[i].jobs[s]) {
                sy_prom_label l[] = {{"tag", m->tags[i].name}, {"value", sy_prom_capset_value(&m->tags[i].values, s)}};
                sy_prom_sample(b, "switchyard_jobs_by_tag_total", l, 2, (double)m->tags[i].jobs[s]);
            }
}

/* Connections open, in all and for each provider with bounds of its own
 * (max_connections, max_streams_per_connection), with those bounds and
 * the calls waiting for a slot within them. */
static void render_connections(worker *w, sy_buf *b)
{
    if (!w->engine) return;
    sy_engine_stats es = sy_engine_get_stats(w->engine);
    sy_prom_family(b, "switchyard_connections_open", "Connections to providers open now.", SY_PROM_GAUGE);
    sy_prom_sample(b, "switchyard_connections_open", NULL, 0, (double)es.connections_open);
    sy_prom_family(b, "switchyard_connections_opened_total", "Connections to providers opened.", SY_PROM_COUNTER);
    sy_prom_sample(b, "switchyard_connections_opened_total", NULL, 0, (double)es.connections_opened);
    sy_engine_lane lanes[64];
    int n = sy_engine_lane_stats(w->engine, lanes, 64);
    static const char *const fam[][2] = {
        {"switchyard_provider_connections_open", "Connections open now to a provider with bounds of its own."},
        {"switchyard_provider_max_connections", "A provider's max_connections (0: one per call in flight)."},
        {"switchyard_provider_max_streams_per_connection", "A provider's HTTP/2 calls on one connection at most."},
        {"switchyard_provider_calls_waiting", "Calls to a provider with max_connections waiting for a free "
                                              "connection or stream (their timeout not started)."}};
    for (int f = 0; f < 4; f++) {
        sy_prom_family(b, fam[f][0], fam[f][1], SY_PROM_GAUGE);
        for (int i = 0; i < n; i++) {
            double v = f == 0   ? (double)lanes[i].connections_open
                       : f == 1 ? lanes[i].max_connections
                       : f == 2 ? lanes[i].max_streams
                                : lanes[i].calls_waiting;
            sy_prom_sample(b, fam[f][0], &(sy_prom_label){"provider", lanes[i].name}, 1, v);
        }
    }
}

static void render_now(worker *w, sy_buf *b)
{
    struct sy_wmetrics *m = w->metrics;
    int64_t now = sy_mono_us();
    size_t paced = 0;
    for (size_t i = 0; w->paced && i < w->cfg->nproviders; i++) paced += w->paced[i].waiting.n;
    wmetrics_sample(w); /* now counts too */
    sy_prom_family(b, "switchyard_calls_in_flight", "Provider calls in flight.", SY_PROM_GAUGE);
    sy_prom_sample(b, "switchyard_calls_in_flight", NULL, 0, w->engine ? sy_engine_inflight(w->engine) : 0);
    sy_prom_family(b, "switchyard_calls_in_flight_max", "Most provider calls in flight at once since the last page (1 s).", SY_PROM_GAUGE);
    sy_prom_sample(b, "switchyard_calls_in_flight_max", NULL, 0, m->peak_inflight);
    render_connections(w, b);
    sy_prom_family(b, "switchyard_jobs_held", "Jobs held by this worker (in flight, waiting, publishing).", SY_PROM_GAUGE);
    sy_prom_sample(b, "switchyard_jobs_held", NULL, 0, w->held);
    sy_prom_family(b, "switchyard_jobs_held_max", "Most jobs held at once since the last page (1 s).", SY_PROM_GAUGE);
    sy_prom_sample(b, "switchyard_jobs_held_max", NULL, 0, m->peak_held);
    m->peak_inflight = m->peak_held = 0; /* the next second starts */
    sy_prom_family(b, "switchyard_jobs_waiting", "Jobs waiting: for a connection slot, on pacing, on a retry timer.", SY_PROM_GAUGE);
    sy_prom_sample(b, "switchyard_jobs_waiting", &(sy_prom_label){"on", "slot"}, 1, (double)w->ready.n);
    sy_prom_sample(b, "switchyard_jobs_waiting", &(sy_prom_label){"on", "pacing"}, 1, (double)paced);
    sy_prom_sample(b, "switchyard_jobs_waiting", &(sy_prom_label){"on", "retry"}, 1, (double)w->timers.n);
    sy_prom_family(b, "switchyard_pacing_headroom_ratio", "Share of the account's rate limits free now (1: all).", SY_PROM_GAUGE);
    for (size_t i = 0; w->accounts && i < w->cfg->nproviders; i++)
        sy_prom_sample(b, "switchyard_pacing_headroom_ratio", &(sy_prom_label){"account", w->cfg->providers[i]->name}, 1,
                       sy_account_headroom(&w->accounts[i], now));
    sy_prom_family(b, "switchyard_dead_letters_total", "Dead letters produced by class.", SY_PROM_COUNTER);
    for (int c = 0; c < SY_ERR_COUNT; c++)
        if (m->dead[c])
            sy_prom_sample(b, "switchyard_dead_letters_total", &(sy_prom_label){"class", sy_err_class_name(c)}, 1, (double)m->dead[c]);
    sy_prom_family(b, "switchyard_reloads_total", "Pipeline reloads (SIGHUP or a file change) by result.", SY_PROM_COUNTER);
    sy_prom_sample(b, "switchyard_reloads_total", &(sy_prom_label){"result", "ok"}, 1, (double)w->reloads_ok);
    sy_prom_sample(b, "switchyard_reloads_total", &(sy_prom_label){"result", "failed"}, 1, (double)w->reloads_failed);
    sy_prom_family(b, "switchyard_store_bytes", "Bytes of the LMDB job state in use.", SY_PROM_GAUGE);
    sy_prom_sample(b, "switchyard_store_bytes", NULL, 0, (double)sy_store_bytes(w->store));
}

static void publish(worker *w)
{
    struct sy_wmetrics *m = w->metrics;
    sy_buf *b = &m->page;
    sy_buf_reset(b);
    render_jobs(w, b);
    render_models(w, b);
    render_tags(w, b);
    render_now(w, b);
    sy_kafka_prom_lag(w->consumer, b);
    const char *why = !w->store ? "store not open"
                    : !w->cfg->ntasks ? "no pipelines loaded"
                    : w->stopping ? "stopping"
                    : NULL;
    sy_httpd_publish(m->http, b->data ? b->data : "", b->len, why);
}
