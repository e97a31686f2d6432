/* reload.c -- see reload.h: the worker's config generations and their
 * reload. */
#include "reload.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cfgreload.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "providers/provider.h"
#include "util.h"
#include "worker.h"

#define SETTLE_US 150000 /* a file change: wait this long for more writes */

static sy_health **new_health(const sy_config *c)
{
    sy_health **h = sy_xcalloc(c->ntiers + 1, sizeof *h);
    for (size_t i = 0; i < c->ntiers; i++) {
        const sy_tier *t = c->tiers[i];
        h[i] = sy_xcalloc(t->nmodels + 1, sizeof **h);
        for (size_t j = 0; j < t->nmodels; j++) sy_health_init(&h[i][j], &t->breaker);
    }
    return h;
}

/* The breakers of the models a tier keeps (by alias) carry over. Tiers are
 * aligned: the same index, the same tier. */
static void carry_health(const sy_cfg_gen *old, sy_cfg_gen *neu)
{
    for (size_t i = 0; i < neu->cfg.ntiers; i++)
        sy_health_carry(neu->health[i], neu->cfg.tiers[i], old->health[i], old->cfg.tiers[i]);
}

static void gen_free(sy_cfg_gen *g)
{
    for (size_t i = 0; i < g->cfg.ntiers; i++) free(g->health[i]);
    free(g->health);
    if (g->owned) sy_config_free(&g->cfg);
    free(g);
}

/* Retired generations no one holds any more are freed here: at the next
 * hold, reload or exit, never inside wreload_drop, whose caller may still
 * read what it held (batchio.c's batch_free drops its generation, then
 * reads its tier). */
static void sweep(worker *w)
{
    for (sy_cfg_gen **p = &w->retired; *p;) {
        sy_cfg_gen *g = *p;
        if (g->runs > 0) {
            p = &g->next;
            continue;
        }
        *p = g->next;
        gen_free(g);
    }
}

static void on_settled(void *ctx)
{
    wreload_now(ctx, "a pipeline file changed");
}

static void on_watch(void *ctx, int fd, unsigned ready)
{
    (void)fd;
    (void)ready;
    worker *w = ctx;
    if (sy_cfg_watch_drain(w->watch)) sy_loop_timer_at(w->loop, &w->reload_timer, sy_mono_us() + SETTLE_US);
}

void wreload_init(worker *w, const sy_config *cfg)
{
    w->gen = sy_xcalloc(1, sizeof *w->gen);
    w->gen->cfg = *cfg;
    w->gen->health = new_health(&w->gen->cfg);
    w->cfg = &w->gen->cfg;
}

void wreload_watch(worker *w)
{
    sy_loop_timer_init(&w->reload_timer, on_settled, w);
    if (!w->opt.watch_pipelines || !w->opt.npipeline_files) return;
    w->watch = sy_cfg_watch_open(w->opt.pipeline_files, w->opt.npipeline_files);
    if (!w->watch || sy_loop_watch(w->loop, sy_cfg_watch_fd(w->watch), SY_LOOP_READ, on_watch, w) != 0) {
        sy_warn("cannot watch the pipeline files (%s): they reload on SIGHUP only", strerror(errno));
        sy_cfg_watch_close(w->watch);
        w->watch = NULL;
    }
}

int wreload_now(worker *w, const char *why)
{
    if (!w->opt.npipeline_files) return -1;
    sweep(w);
    sy_cfg_gen *neu = sy_xcalloc(1, sizeof *neu);
    neu->owned = true;
    if (sy_config_reload(w->cfg, sy_provider_kinds, w->opt.pipeline_files, w->opt.npipeline_files,
                         SY_LOAD_REQUIRE_KEYS, why, &neu->cfg) != 0) {
        w->reloads_failed++;
        free(neu);
        return -1;
    }
    neu->health = new_health(&neu->cfg);
    sy_cfg_gen *old = w->gen;
    carry_health(old, neu);
    w->gen = neu;
    w->cfg = &neu->cfg;
    wmetrics_reloaded(w);
    if (w->spend) sy_spend_set_config(w->spend, w->cfg);
    if (old->runs) {
        old->next = w->retired;
        w->retired = old;
    } else {
        gen_free(old);
    }
    w->reloads_ok++;
    sy_info("reload (%s): pipelines loaded again (%zu task(s), %zu tier(s), %zu model(s)); "
            "jobs in flight finish under the config they started with",
            why, w->cfg->ntasks, w->cfg->ntiers, w->cfg->nmodels);
    return 0;
}

void wreload_hold(struct sy_run *r)
{
    sweep(r->w);
    r->gen = r->w->gen;
    r->gen->runs++;
}

void wreload_release(struct sy_run *r)
{
    sy_cfg_gen *g = r->gen;
    r->gen = NULL;
    wreload_drop(r->w, g);
}

sy_cfg_gen *wreload_hold_tier(worker *w, const sy_tier *t)
{
    sweep(w);
    for (sy_cfg_gen *g = w->gen; g; g = g == w->gen ? w->retired : g->next)
        for (size_t i = 0; i < g->cfg.ntiers; i++)
            if (g->cfg.tiers[i] == t) {
                g->runs++;
                return g;
            }
    return NULL;
}

void wreload_drop(worker *w, sy_cfg_gen *g)
{
    (void)w;
    if (g) g->runs--; /* a retired one let go is freed by the next sweep */
}

void wreload_free(worker *w)
{
    if (w->loop) sy_loop_timer_cancel(w->loop, &w->reload_timer);
    if (w->watch) {
        if (w->loop) sy_loop_unwatch(w->loop, sy_cfg_watch_fd(w->watch));
        sy_cfg_watch_close(w->watch);
        w->watch = NULL;
    }
    while (w->retired) {
        sy_cfg_gen *g = w->retired;
        w->retired = g->next;
        gen_free(g);
    }
    if (w->gen) gen_free(w->gen);
    w->gen = NULL;
    w->cfg = NULL;
}
