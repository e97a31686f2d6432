/* status_view.c -- see status_view.h. */
#include "status_view.h"
#include "util.h"

#include <string.h>

/* s escaped and cut to width columns (bytes), into out[width + 1]. */
static const char *cell(char *out, size_t width, const char *s)
{
    sy_escape_ctl(out, width + 1, s ? s : "", s ? strlen(s) : 0);
    return out;
}

static double sum(const sy_promp_page *p, const char *name, const char *k, const char *v)
{
    if (!p) return 0;
    const char *want[2] = {k, v};
    return sy_promp_sum(p, name, want, k ? 1 : 0, NULL);
}

static bool has(const sy_promp_page *p, const char *name)
{
    bool found = false;
    if (p) sy_promp_sum(p, name, NULL, 0, &found);
    return found;
}

/* Per second over dt; a counter that went down restarted: count from 0. */
static double rate(const sy_status_src *s, const char *name, const char *k, const char *v)
{
    if (!s->prev || s->dt_s <= 0) return 0;
    double now = sum(s->cur, name, k, v), before = sum(s->prev, name, k, v);
    return (now >= before ? now - before : now) / s->dt_s;
}

/* The distinct values of label key among samples named name, in order of
 * appearance, at most SY_STATUS_ROWS (*more: how many left out). */
static size_t distinct(const sy_promp_page *p, const char *name, const char *key,
                       const char *out[SY_STATUS_ROWS], size_t *more)
{
    size_t n = 0;
    *more = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (strcmp(p->s[i].name, name)) continue;
        const char *v = sy_promp_label_of(&p->s[i], key);
        if (!v) continue;
        size_t k = 0;
        while (k < n && strcmp(out[k], v)) k++;
        if (k < n) continue;
        if (n == SY_STATUS_ROWS) { (*more)++; continue; }
        out[n++] = v;
    }
    return n;
}

static void more_line(sy_buf *b, size_t more)
{
    if (more) sy_buf_printf(b, "  ... %zu more not shown\n", more);
}

static void models(sy_buf *b, const sy_status_src *s)
{
    const char *names[SY_STATUS_ROWS];
    size_t more, n = distinct(s->cur, "switchyard_jobs_total", "model", names, &more);
    if (!n) return;
    char c[33];
    sy_buf_printf(b, "  %-32s %9s %9s %8s %8s %9s %12s\n", "model", "results", "per s", "errors", "retries",
                  "fallbacks", "cost USD");
    for (size_t i = 0; i < n; i++)
        sy_buf_printf(b, "  %-32s %9.0f %9.1f %8.0f %8.0f %9.0f %12.6f\n", cell(c, 32, names[i]),
                      sum(s->cur, "switchyard_jobs_total", "model", names[i]),
                      rate(s, "switchyard_jobs_total", "model", names[i]),
                      sum(s->cur, "switchyard_provider_errors_total", "model", names[i]),
                      sum(s->cur, "switchyard_retries_total", "model", names[i]),
                      sum(s->cur, "switchyard_fallbacks_total", "model", names[i]),
                      sum(s->cur, "switchyard_cost_usd_total", "model", names[i]));
    more_line(b, more);
}

static void breakers(sy_buf *b, const sy_promp_page *p)
{
    static const char *state[] = {"closed", "OPEN", "half-open"};
    size_t shown = 0, more = 0;
    char t[25], m[33];
    for (size_t i = 0; i < p->n; i++) {
        const sy_promp_sample *x = &p->s[i];
        if (strcmp(x->name, "switchyard_breaker_state")) continue;
        if (shown == SY_STATUS_ROWS) { more++; continue; }
        if (!shown++) sy_buf_printf(b, "  %-24s %-32s %s\n", "tier", "model", "breaker");
        int k = x->value >= 0 && x->value <= 2 ? (int)x->value : -1;
        sy_buf_printf(b, "  %-24s %-32s %s\n", cell(t, 24, sy_promp_label_of(x, "tier")),
                      cell(m, 32, sy_promp_label_of(x, "model")), k >= 0 ? state[k] : "?");
    }
    more_line(b, more);
}

static void accounts(sy_buf *b, const sy_promp_page *p)
{
    size_t shown = 0, more = 0;
    char a[33];
    for (size_t i = 0; i < p->n; i++) {
        const sy_promp_sample *x = &p->s[i];
        if (strcmp(x->name, "switchyard_pacing_headroom_ratio")) continue;
        if (shown == SY_STATUS_ROWS) { more++; continue; }
        if (!shown++) sy_buf_printf(b, "  %-32s %s\n", "account", "pacing headroom");
        sy_buf_printf(b, "  %-32s %5.0f%%\n", cell(a, 32, sy_promp_label_of(x, "account")), x->value * 100);
    }
    more_line(b, more);
}

static void lag(sy_buf *b, const sy_promp_page *p)
{
    size_t shown = 0, more = 0;
    char t[41], part[9];
    for (size_t i = 0; i < p->n; i++) {
        const sy_promp_sample *x = &p->s[i];
        if (strcmp(x->name, "switchyard_consumer_lag") || x->value <= 0) continue;
        if (shown == SY_STATUS_ROWS) { more++; continue; }
        if (!shown++) sy_buf_printf(b, "  %-40s %9s %9s\n", "topic", "partition", "lag");
        sy_buf_printf(b, "  %-40s %9s %9.0f\n", cell(t, 40, sy_promp_label_of(x, "topic")),
                      cell(part, 8, sy_promp_label_of(x, "partition")), x->value);
    }
    more_line(b, more);
}

static void one(sy_buf *b, const sy_status_src *s)
{
    char u[201];
    sy_buf_printf(b, "== %s", cell(u, 200, s->url));
    if (!s->cur) {
        char e[201];
        sy_buf_printf(b, "  DOWN: %s\n\n", cell(e, 200, s->error ? s->error : "no answer"));
        return;
    }
    const sy_promp_page *p = s->cur;
    bool worker = has(p, "switchyard_jobs_total") || has(p, "switchyard_calls_in_flight");
    bool sched = has(p, "switchyard_jobs_routed_total");
    sy_buf_printf(b, "  (%s)\n", worker ? "worker" : sched ? "scheduler" : "no switchyard metrics");
    if (sched)
        sy_buf_printf(b, "  routed      %.0f   per s %.1f\n", sum(p, "switchyard_jobs_routed_total", NULL, NULL),
                      rate(s, "switchyard_jobs_routed_total", NULL, NULL));
    if (worker) {
        sy_buf_printf(b, "  results     %.0f (ok %.0f, failed %.0f)   per s %.1f   cost %.6f USD (%.6f/s)\n",
                      sum(p, "switchyard_jobs_total", NULL, NULL), sum(p, "switchyard_jobs_total", "status", "ok"),
                      sum(p, "switchyard_jobs_total", "status", "failed"), rate(s, "switchyard_jobs_total", NULL, NULL),
                      sum(p, "switchyard_cost_usd_total", NULL, NULL), rate(s, "switchyard_cost_usd_total", NULL, NULL));
        sy_buf_printf(b, "  in flight   %.0f   held %.0f   waiting: slot %.0f, pacing %.0f, retry %.0f\n",
                      sum(p, "switchyard_calls_in_flight", NULL, NULL), sum(p, "switchyard_jobs_held", NULL, NULL),
                      sum(p, "switchyard_jobs_waiting", "on", "slot"), sum(p, "switchyard_jobs_waiting", "on", "pacing"),
                      sum(p, "switchyard_jobs_waiting", "on", "retry"));
        if (has(p, "switchyard_calls_in_flight_max")) /* the instant above can miss a burst */
            sy_buf_printf(b, "  last 1 s    at most %.0f in flight, %.0f held\n",
                          sum(p, "switchyard_calls_in_flight_max", NULL, NULL),
                          sum(p, "switchyard_jobs_held_max", NULL, NULL));
    }
    sy_buf_printf(b, "  dead letters %.0f   consumer lag %.0f   partitions %.0f\n",
                  sum(p, "switchyard_dead_letters_total", NULL, NULL), sum(p, "switchyard_consumer_lag", NULL, NULL),
                  sum(p, "switchyard_partitions_assigned", NULL, NULL));
    if (p->bad || p->truncated)
        sy_buf_printf(b, "  (%zu malformed lines skipped%s)\n", p->bad, p->truncated ? ", page cut" : "");
    models(b, s);
    breakers(b, p);
    accounts(b, p);
    lag(b, p);
    sy_buf_putc(b, '\n');
}

void sy_status_frame(sy_buf *out, const sy_status_src *src, size_t n)
{
    for (size_t i = 0; i < n; i++) one(out, &src[i]);
}
