/* prompts_cmd.c -- `switchyard prompts`: the prompt registry at a glance.
 *
 * Top layer (cli/). Loads the pipelines as a run would (keys not needed)
 * and lists each prompt file the tasks refer to (config/prompts.h): its
 * id, file, versions, and which tasks use it at which version, with their
 * rollout. Inline prompts are listed apart. Nothing is sent anywhere. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "opts.h"
#include "pipeline.h"

static const char *usage =
    "usage: switchyard prompts -p PIPELINE...\n"
    "List the prompt registry: each prompt file (prompts/<id>.yaml beside the\n"
    "pipeline), its versions, and the tasks that use it (current version, rollout).\n\n"
    "  -p, --pipeline FILE   pipeline file (repeatable)\n"
    "  -h, --help            this help\n";

static void print_prompt(const sy_config *cfg, const sy_prompt *p)
{
    printf("%s  (%s)\n  versions:", p->id, p->file);
    for (size_t i = 0; i < p->nversions; i++)
        printf(" %d%s", p->versions[i].version, p->versions[i].has_system ? " (system+user)" : "");
    printf("\n");
    for (size_t i = 0; i < cfg->ntasks; i++) {
        const sy_task *t = cfg->tasks[i];
        if (t->prompt != p) continue;
        printf("  task %s: version %d", t->name, t->prompt_version);
        if (t->rollout_version)
            printf(", rollout version %d to %d.%02d%% of jobs", t->rollout_version, t->rollout_bp / 100,
                   t->rollout_bp % 100);
        printf("\n");
    }
}

int cmd_prompts(int argc, char **argv)
{
    cli_pipelines p = {0};
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return 0;
        }
        if (!cli_pipeline_opt(&p, argc, argv, &i)) return cli_bad_usage("prompts", argv[i], usage);
    }
    sy_config cfg = {0};
    if (cli_load_pipelines(&p, 0, &cfg) != 0) return 1;
    for (size_t i = 0; i < cfg.nprompts; i++) print_prompt(&cfg, cfg.prompts[i]);
    size_t inline_n = 0;
    for (size_t i = 0; i < cfg.ntasks; i++) inline_n += !cfg.tasks[i]->prompt;
    if (inline_n) {
        printf("inline:\n");
        for (size_t i = 0; i < cfg.ntasks; i++)
            if (!cfg.tasks[i]->prompt && cfg.tasks[i]->prompt_id)
                printf("  task %s: %s version %d\n", cfg.tasks[i]->name, cfg.tasks[i]->prompt_id,
                       cfg.tasks[i]->prompt_version);
    }
    sy_config_free(&cfg);
    return 0;
}
