/* params.h -- reading a task's request parameters and a provider's
 * parameter mapping from a pipeline file (params.c); the loader
 * (pipeline.c) calls these, the data they fill is in pipeline.h
 * (sy_task_params, options of type SY_OPTION_PARAM_LIST/MAP). */
#ifndef SY_PARAMS_H
#define SY_PARAMS_H

#include "pipeline.h"
#include "yamlnode.h"

/* response_format, seed, top_p, stop of a task mapping (each optional). */
void sy_task_params_load(const yn_map *task, sy_task_params *p);
void sy_task_params_free(sy_task_params *p);

/* options.<key> as a parameter list ([seed, top_p]) or map ({max_tokens:
 * max_new_tokens}): the canonical text ("seed top_p",
 * "max_tokens=max_new_tokens"), or NULL (reported at file:line:col). */
char *sy_param_option_read(const yn_map *o, const char *key, bool map);

#endif
