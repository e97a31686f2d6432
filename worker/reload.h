/* reload.h -- the worker's pipelines loaded again while it runs.
 *
 * On SIGHUP (stop.h sy_reload_requested, seen each turn) or when a
 * pipeline file changes (config/cfgreload.h's inotify watch on the loop, a
 * short timer letting an editor's writes settle), the files are loaded and
 * validated first; if they are invalid, or change which providers, tiers or
 * tasks exist (config/cfgreload.h sy_config_align), every error is logged with
 * its file:line and the running config stays. Otherwise the new config
 * becomes current: jobs taken from then on run under it; jobs in flight
 * finish under the one they started with (a generation, worker.h
 * sy_cfg_gen, freed when its last run is). What is kept per name carries
 * over: pacing accounts (per provider), waiting queues and metrics (per
 * task), breaker state (per tier and model alias), metrics by model alias.
 *
 * Worker layer (worker/), called from worker.c and run.c. */
#ifndef SY_WRELOAD_H
#define SY_WRELOAD_H

#include <stdbool.h>

#include "pipeline.h"

typedef struct worker worker;
struct sy_cfg_gen;
struct sy_run;

/* The first generation (cfg copied, not owned) and, with
 * opt.watch_pipelines, the watch of the files. */
void wreload_init(worker *w, const sy_config *cfg);
/* Start watching the pipeline files on the loop (after it exists). */
void wreload_watch(worker *w);
/* Load the files again now (why: for the log). 0: the new config is
 * current; -1: rejected (logged), the old one stays. */
int wreload_now(worker *w, const char *why);
/* A run starts under the current generation / is freed. */
void wreload_hold(struct sy_run *r);
void wreload_release(struct sy_run *r);
/* Something other than a run that keeps pointers into a generation (a
 * batch tier's batch, batchio.c, which can outlive its runs: adopted at a
 * restart, polled for hours): hold the generation whose config holds tier
 * t (NULL if none), and drop it. A retired generation let go by its last
 * user is freed at the next hold, reload or exit, not in the drop (its
 * caller may read the tier a moment longer). */
struct sy_tier;
struct sy_cfg_gen *wreload_hold_tier(worker *w, const struct sy_tier *t);
void wreload_drop(worker *w, struct sy_cfg_gen *g);
/* At exit (every run freed): every generation. */
void wreload_free(worker *w);

#endif
