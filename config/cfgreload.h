/* cfgreload.h -- pipelines loaded again while a process runs (SIGHUP or a
 * change of their files).
 *
 * Config layer: the pure part and the file watch; the worker
 * (worker/reload.c) and the scheduler (scheduler/scheduler.c) decide when
 * to reload and keep the old config alive for what still points into it.
 *
 * A reload changes what a pipeline says (models of a tier, prompts, retry
 * and breaker policies, prices, providers' URLs and limits, which tier a
 * task routes to, ...) but not which names exist: the providers, tiers (and
 * their topics) and tasks of the new config must be the same sets as the
 * old one's, because the running process holds state per provider
 * (pacing), per tier (its consumer subscription, changelog topic) and per
 * task (queues, metrics) by their place in the config. sy_config_align
 * checks that and reorders the new config's lists to the old order, so the
 * same index means the same name in both. Adding or removing one of those
 * names, or a budget, needs a restart (the reload is refused, the old config
 * stays). */
#ifndef SY_CFGRELOAD_H
#define SY_CFGRELOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "pipeline.h"

/* 0 when neu can replace old (neu's providers, tiers and tasks are then in
 * old's order, their index fields set to match); else -1 with a diagnostic
 * for each difference (neu unchanged in meaning, possibly reordered). */
int sy_config_align(const sy_config *old, sy_config *neu, sy_diags *d);

/* Load files again (as sy_config_load) into neu and align it with old.
 * 0: neu is ready to replace old; -1: rejected, every error logged with its
 * file:line (why: what asked for the reload, for the log), neu empty. */
int sy_config_reload(const sy_config *old, const sy_provider_kind *const *kinds, const char *const *files,
                     size_t nfiles, int flags, const char *why, sy_config *neu);

/* Watches pipeline files for changes: an in-place write, or a new file
 * renamed over one (the directories are watched, so an atomic replace is
 * seen, and a file made again is watched again); and any *.yaml of the
 * prompts/ folder beside them (prompts.h) when it exists at the start.
 * Linux inotify. */
typedef struct sy_cfg_watch sy_cfg_watch;

/* NULL when inotify is not available (errno). */
sy_cfg_watch *sy_cfg_watch_open(const char *const *files, size_t nfiles);
void sy_cfg_watch_close(sy_cfg_watch *w);
/* Readable when something changed in a watched directory (non-blocking). */
int sy_cfg_watch_fd(const sy_cfg_watch *w);
/* Read the pending events; true when one of them is about a watched file. */
bool sy_cfg_watch_drain(sy_cfg_watch *w);

#endif
