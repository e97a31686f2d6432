/* embed.h -- embedding jobs sharing HTTP requests (embed.c): the group
 * object between run.c and the engine.
 *
 * How one request carries several jobs' runs. Each embedding job lives
 * its whole life as a chat job does (lifecycle.h, unchanged): it reserves
 * room under its account, stages its IN_FLIGHT intent, and at LAUNCH_CALL
 * (after the group commit made the intent durable) it is in CALL_OUT. At
 * that point, instead of a transfer of its own, it joins a group: the open
 * group of its model and dimensions, which owns up to the provider's limit
 * of sy_run pointers (sy_embed_decide: inputs, bytes). A group is sent as
 * one request when it is full, or when its collection window ends (a loop
 * timer, embed_window_ms, 2 ms by default; all the jobs launched after one
 * group commit join at once, so even a window of 0 groups a turn's jobs),
 * or, if the engine had no transfer free then, at the first turn one is.
 * While its group waits and while the request is out, each run waits in
 * CALL_OUT, as a chat call's does: from the job's side the call is out
 * (its intent is durable; a restart treats it as a call that may have
 * been sent). So there is no new state, and the table and its copy in
 * unit.test_lifecycle stay as they are.
 *
 * The answer comes back once for the group (run.c asks embed_group_of
 * whether a transfer is a group's), and each run then gets its own outcome
 * (embed_finish): its vector, or the whole request's failure (429, 5xx,
 * transport: each job retries or falls back by its own route, as a chat
 * call's would), or its own failure (a missing, duplicate or broken
 * vector: that job alone is retried, then dead-lettered). Usage is the
 * request's prompt_tokens split over its jobs in proportion to their
 * estimated tokens, summing exactly (sy_embed_split); a request counts
 * one request against the account (the others' reservations are given
 * back), and one call to the model's breaker. A request refused whole
 * (400: one bad input, the provider does not say which) is not the
 * failure of all its jobs: they go again in requests of half its size
 * (sy_embed_bisect; a run's embed_cap, and a group takes only runs of its
 * cap), until the bad input fails alone.
 *
 * A run that ends while in a group (the worker exits) leaves it
 * (embed_leave): its place is emptied, and its answer is dropped. */
#ifndef SY_EMBED_H
#define SY_EMBED_H

#include "worker.h"

typedef struct sy_embed_group sy_embed_group;

/* LAUNCH_CALL of an embedding run (its input rendered in r->user). */
void embed_join(worker *w, sy_run *r);
/* r ends while in a group. */
void embed_leave(sy_run *r);
/* The group a finished transfer's opaque is, or NULL (a chat call). */
sy_embed_group *embed_group_of(worker *w, void *opaque);
/* What each run of the group gets: its outcome (the vector moves to the
 * run: *vec set to NULL when taken), whether it is the first run of the
 * request (the one that speaks for it to the breaker), and how many the
 * request carried. */
typedef void (*embed_each_fn)(sy_run *r, sy_outcome *o, float **vec, uint32_t dim, bool first,
                              size_t n, int64_t latency_ms);
/* The group's request ended: `transport` is the outcome of a transport
 * failure (NULL: an HTTP answer, read here). Calls fn for every run still
 * in it, then frees the group. */
void embed_finish(worker *w, sy_embed_group *g, sy_transfer *t, const sy_outcome *transport,
                  embed_each_fn fn);
/* The worker exits: every group goes (its runs are gone already). */
void embed_free_all(worker *w);

#endif
