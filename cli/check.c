/* check.c -- `switchyard check`: validate pipeline files before deploying.
 *
 * Loads the files together exactly as the scheduler and worker would (same
 * loader, names global across files), prints every error as
 * file:line:column: message on stderr, and on success a short summary of
 * what was loaded on stdout: counts, the providers (base URL and which key
 * variable, never the key), and for each task its route, tier -> models ->
 * output topic. By default every variable a run reads must be set, as the
 * worker requires at start-up; --lint (for CI, where no key is set) checks
 * everything else and lists the variables a run will need as warnings.
 * Names (provider kinds, strategies, parse and format) come from the
 * loader's and the provider modules' own tables; --kinds lists the kinds. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "opts.h"
#include "pipeline.h"
#include "provider.h"

static const char usage[] =
    "usage: switchyard check [--lint] FILE...\n"
    "       switchyard check --kinds\n"
    "\n"
    "Validate pipeline files, loaded together (names are global across the\n"
    "files; a task may use a tier defined in another file). Every error goes\n"
    "to stderr as file:line:column: message; when the files are valid, a\n"
    "summary of what they define goes to stdout.\n"
    "\n"
    "By default every environment variable a run reads must be set: the API\n"
    "key variables and every ${NAME} without a default (the worker checks the\n"
    "same at start-up).\n"
    "\n"
    "options:\n"
    "  --lint      for CI, where no key is set: check everything else; the\n"
    "              unset variables a run will need are warnings (stderr), the\n"
    "              exit status says only whether the files are valid\n"
    "  --no-keys   only the API key variables need not be set (every other\n"
    "              variable must)\n"
    "  --kinds     list the provider kinds a pipeline may use: default\n"
    "              base_url, whether a key is required, accepted options\n"
    "  -h, --help  show this help\n"
    "\n"
    "exit status: 0 valid, 1 invalid, 2 usage error\n";

/* The kinds of sy_provider_kinds, one a line after a header line; the
 * first column is the name (tests read it). */
static void print_kinds(void)
{
    printf("%-18s %-30s %-9s %s\n", "kind", "base_url (default)", "key", "options");
    for (const sy_provider_kind *const *k = sy_provider_kinds; *k; k++) {
        const sy_provider_kind *d = *k;
        printf("%-18s %-30s %-9s", d->name, d->default_base_url ? d->default_base_url : "(required)",
               d->key_required ? "required" : "optional");
        const sy_kind_option *o = d->options;
        if (!o || !o->key) printf(" -");
        for (; o && o->key; o++)
            printf("%s%s (%s)", o == d->options ? " " : ", ", o->key,
                   o->type == SY_OPTION_INT ? "integer" : o->type == SY_OPTION_PARAM_LIST ? "list"
                   : o->type == SY_OPTION_PARAM_MAP ? "map" : "token");
        printf("\n");
    }
}

static void print_providers(const sy_config *cfg)
{
    printf("providers:\n");
    for (size_t i = 0; i < cfg->nproviders; i++) {
        const sy_provider *p = cfg->providers[i];
        printf("  %-12s %-17s %s", p->name, p->kind->name, p->base_url);
        if (p->api_key_env) printf("  key $%s (%s)", p->api_key_env, p->api_key ? "set" : "not set");
        for (size_t j = 0; j < p->noptions; j++)
            printf("%s%s=%s", j ? ", " : "  options ", p->options[j].spec->key, p->options[j].text);
        printf("\n");
    }
}

static void print_tier_models(const sy_tier *t)
{
    for (size_t i = 0; i < t->nmodels; i++) {
        printf("%s%s", i ? ", " : "", t->models[i].model->alias);
        if (t->strategy == SY_TIER_WEIGHTED) printf(" (%g)", t->models[i].weight);
    }
}

static void print_tasks(const sy_config *cfg)
{
    printf("tasks:\n");
    for (size_t i = 0; i < cfg->ntasks; i++) {
        const sy_task *t = cfg->tasks[i];
        printf("  %s -> %s (%s) -> ", t->name, t->tier->name,
               sy_tier_strategy_name(t->tier->strategy));
        print_tier_models(t->tier);
        printf("; output %s (%s, %s)\n", t->output_topic, sy_output_parse_name(t->parse),
               sy_output_format_name(t->format));
    }
}

static void print_summary(const sy_config *cfg)
{
    printf("ok: %zu file%s, %zu providers, %zu models, %zu tiers, %zu tasks\n", cfg->nfiles,
           cfg->nfiles == 1 ? "" : "s", cfg->nproviders, cfg->nmodels, cfg->ntiers, cfg->ntasks);
    if (cfg->nproviders) print_providers(cfg);
    if (cfg->ntasks) print_tasks(cfg);
}

/* The registry's prompts (config/prompts.h): each version's variables
 * against the task's current one. -1 when a rollout would fail jobs. */
static int check_prompt_vars(const sy_config *cfg)
{
    sy_diags errors = {0}, warnings = {0};
    size_t bad = 0;
    for (size_t i = 0; i < cfg->ntasks; i++) {
        const sy_task *t = cfg->tasks[i];
        if (t->prompt) bad += sy_prompt_check_vars(t->prompt, t->prompt_version, t->rollout_version, t->name,
                                                   &errors, &warnings);
    }
    if (warnings.n) {
        fprintf(stderr, "switchyard check: warning: prompt versions that use variables their task's "
                        "current version does not:\n");
        sy_diags_print(&warnings, stderr);
    }
    sy_diags_print(&errors, stderr);
    if (bad) fprintf(stderr, "switchyard check: %zu error%s\n", bad, bad == 1 ? "" : "s");
    sy_diags_free(&errors);
    sy_diags_free(&warnings);
    return bad ? -1 : 0;
}

int cmd_check(int argc, char **argv)
{
    const char **files = argc > 1 ? (const char **)&argv[1] : NULL;
    size_t nfiles = 0;
    int flags = SY_LOAD_REQUIRE_KEYS;
    bool only_files = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_files && cli_is_help(a)) {
            fputs(usage, stdout);
            return 0;
        } else if (!only_files && !strcmp(a, "--lint")) {
            flags = SY_LOAD_ENV_OPTIONAL;
        } else if (!only_files && !strcmp(a, "--kinds")) {
            print_kinds();
            return 0;
        } else if (!only_files && !strcmp(a, "--no-keys")) {
            flags &= ~SY_LOAD_REQUIRE_KEYS;
        } else if (!only_files && !strcmp(a, "--")) {
            only_files = true;
        } else if (!only_files && a[0] == '-' && a[1]) {
            return cli_bad_usage("check", a, usage);
        } else {
            files[nfiles++] = a; /* compacts argv in place, after the options */
        }
    }
    if (nfiles == 0) {
        fprintf(stderr, "switchyard check: no pipeline files given\n%s", usage);
        return 2;
    }
    sy_config cfg;
    sy_diags diags = {0};
    int rc = sy_config_load(&cfg, sy_provider_kinds, files, nfiles, flags, &diags);
    sy_diags_print(&diags, stderr);
    if (rc != 0)
        fprintf(stderr, "switchyard check: %zu error%s\n", diags.n, diags.n == 1 ? "" : "s");
    else if ((rc = check_prompt_vars(&cfg)) == 0)
        print_summary(&cfg);
    if (rc == 0 && cfg.needs.n) {
        fprintf(stderr, "switchyard check: warning: %zu use%s of environment variables not set "
                "here; a run will need them:\n", cfg.needs.n, cfg.needs.n == 1 ? "" : "s");
        sy_diags_print(&cfg.needs, stderr);
    }
    sy_diags_free(&diags);
    sy_config_free(&cfg);
    return rc == 0 ? 0 : 1;
}
