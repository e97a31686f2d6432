/* pipeline.h -- pipeline configuration: providers, models, tiers, tasks.
 *
 * Users write YAML pipeline files (see pipelines/, documented in
 * schemas/pipeline.schema.json). Several files load into one sy_config;
 * names (providers, models, tiers, tasks) are global across the files and a
 * second definition is an error. Every error names file:line:column and what
 * is wrong; unknown keys and unknown references are errors, never silently
 * defaulted. The scheduler uses task -> tier; the worker uses everything.
 *
 * String values may reference environment variables as ${NAME} or
 * ${NAME:-default} (used for base URLs, so the demo can point a pipeline at
 * the fake provider). API keys are never stored in the file: a provider names
 * the environment variable that holds its key (api_key_env).
 *
 * Which provider kinds exist is not known here: the caller hands the loader
 * the list (sy_provider_kind descriptors, below; the product's list is in
 * worker/providers/kinds.c), and a provider's kind-specific settings
 * (`options:`) are checked against its descriptor.
 *
 * Config layer (config/): pipeline files, on codec/ and base/. */
#ifndef SY_PIPELINE_H
#define SY_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "budget.h"
#include "diag.h"
#include "prompts.h"
#include "result.h"
#include "template.h"

/* ---- provider kinds ----
 * A provider kind is a module (worker/providers/provider.h tells the whole
 * story). The config layer sees only this descriptor: the kind's name, its
 * default base URL, whether it needs a key, and the extra settings it
 * accepts under `options:`. The wire functions hang off `ops`, a type this
 * layer never completes. The loader is handed the list of kinds by its
 * caller (the one list is sy_provider_kinds, worker/providers/kinds.c), so
 * nothing here depends on an adapter. */

typedef enum sy_option_type {
    SY_OPTION_TOKEN, /* 1..SY_OPTION_TOKEN_MAX of [A-Za-z0-9._:-]: safe in a header or a URL */
    SY_OPTION_INT,   /* an integer in [min, max] */
    SY_OPTION_PARAM_LIST, /* request parameter names: text "seed top_p" (params.c) */
    SY_OPTION_PARAM_MAP,  /* name -> new name: text "max_tokens=max_new_tokens seed=random_seed" */
} sy_option_type;

#define SY_OPTION_TOKEN_MAX 128

/* One key a kind accepts under a provider's `options:`. */
typedef struct sy_kind_option {
    const char *key;
    sy_option_type type;
    int64_t min, max; /* SY_OPTION_INT */
} sy_kind_option;

struct sy_provider_ops; /* the adapter's functions: worker/providers/provider.h */

typedef struct sy_provider_kind {
    const char *name;               /* the value of `kind:` */
    const char *default_base_url;   /* NULL: base_url is required */
    bool key_required;              /* api_key_env is required (else optional) */
    const sy_kind_option *options;  /* accepted under `options:`, ended by {NULL}; NULL: none */
    bool embeddings;                /* serves an embeddings API (tasks of kind embedding) */
    const struct sy_provider_ops *ops;
} sy_provider_kind;

/* At most this many kinds in a list, and options of one kind. */
#define SY_MAX_KINDS 32
#define SY_MAX_KIND_OPTIONS 16
/* Bounds of a provider's max_connections and max_streams_per_connection. */
#define SY_MAX_PROVIDER_CONNECTIONS 100000
#define SY_MAX_PROVIDER_STREAMS 1000

/* A value given under `options:`, checked against its kind's spec. */
typedef struct sy_option_value {
    const sy_kind_option *spec;
    char *text;  /* as read (env-expanded) */
    int64_t num; /* SY_OPTION_INT */
} sy_option_value;

typedef struct sy_provider {
    char *name;
    const sy_provider_kind *kind;
    char *base_url;      /* env-expanded, no trailing slash, e.g. https://api.openai.com/v1 */
    char *api_key_env;   /* name of the variable; NULL allowed when the kind needs no key */
    char *api_key;       /* resolved at load (NULL if unset); NEVER logged or echoed */
    sy_option_value *options; /* the kind's extra settings given in the file */
    size_t noptions;
    int64_t requests_per_minute; /* 0 = unknown (learned from headers) */
    int64_t tokens_per_minute;   /* 0 = unknown */
    int64_t cooldown_ms; /* account not used after a 401 or insufficient_quota; default 60 s */
    bool http1_only;     /* http: 1.1 -- never HTTP/2 (default: HTTP/2 where TLS's ALPN offers it) */
    char *ca_file;       /* ca_file: PEM certificate(s) trusted for this provider; NULL: the system's */
    int max_connections; /* max_connections: connections open to it at once; 0: the engine's default */
    int max_streams;     /* max_streams_per_connection: HTTP/2 calls on one; 0: the engine's default */
    size_t index;        /* place in sy_config.providers */
    const char *file;    /* where it was defined (for messages) */
    int line;
} sy_provider;

/* The option `key` of p as given in the file, or NULL when not given. */
const sy_option_value *sy_provider_option(const sy_provider *p, const char *key);

typedef struct sy_model {
    char *alias;          /* the name pipelines use */
    sy_provider *provider;
    char *name;           /* the provider's model name, e.g. gpt-4o-mini */
    double price_in_per_mtok;  /* USD per million input tokens */
    double price_out_per_mtok; /* USD per million output tokens (reasoning ones included) */
    double price_cached_in_per_mtok;   /* input read from the prompt cache; default: input */
    double price_cache_write_per_mtok; /* input written to it (Anthropic); default: input */
    double price_batch_in_per_mtok;    /* input through a batch API; default: half of input */
    double price_batch_out_per_mtok;   /* output through a batch API; default: half of output */
    int64_t context_window;    /* tokens; 0 = unknown */
} sy_model;

typedef enum sy_tier_strategy {
    SY_TIER_ORDERED = 0,   /* first model, then fall back in order */
    SY_TIER_WEIGHTED,      /* pick by weight (sticky by idempotency key), then fall back */
    SY_TIER_CHEAPEST,      /* lowest expected cost for this job first */
    SY_TIER_FASTEST,       /* lowest observed latency (moving average) first */
    SY_TIER_MOST_HEADROOM, /* the account with the most pacing capacity left first */
} sy_tier_strategy;

/* The names pipeline files use, from the loader's own tables (one place). */
const char *sy_tier_strategy_name(sy_tier_strategy s); /* "ordered", ... */

/* Circuit breaker of each model of a tier: open after `consecutive`
 * failures in a row, or when at least `min_calls` calls in the last
 * `window_ms` failed at a share of `ratio` or more (0 disables a trigger);
 * stay open for `cooldown_ms`, then let `probes` calls through: that many
 * successes close it, one failure opens it again. */
typedef struct sy_breaker_policy {
    int consecutive;  /* default 0 (off): calls sent together time out together */
    double ratio;     /* default 0.5 */
    int min_calls;    /* default 20 */
    int window_ms;    /* default 10000 */
    int cooldown_ms;  /* default 15000 */
    int probes;       /* default 3 */
} sy_breaker_policy;

typedef struct sy_tier_model {
    sy_model *model;
    double weight; /* > 0; only meaningful for weighted tiers (default 1) */
} sy_tier_model;

typedef struct sy_retry_policy {
    int attempts_per_model; /* default 3 */
    int base_ms;            /* backoff base, default 500 */
    int cap_ms;             /* backoff cap, default 8000 */
    int timeout_ms;         /* per attempt, default 60000 */
} sy_retry_policy;

typedef enum sy_tier_mode {
    SY_TIER_SYNC = 0,  /* one HTTP call per attempt */
    SY_TIER_BATCH,     /* jobs collected into provider batches (OpenAI Batch API, Anthropic message batches) */
} sy_tier_mode;

typedef enum sy_batch_retry {
    SY_BATCH_RETRY_NEXT_BATCH = 0, /* failed or expired lines go into the next batch */
    SY_BATCH_RETRY_SYNC,           /* they are retried as ordinary calls */
} sy_batch_retry;

/* `mode: batch`: when a collected batch is sent (whichever limit comes
 * first) and how it is polled (poll_ms doubling up to poll_max_ms). */
typedef struct sy_batch_policy {
    int64_t max_jobs;     /* default 1000, at most 50,000 (the OpenAI limit) */
    int64_t max_bytes;    /* of the JSONL input, default 100 MB, at most 200 MB */
    int64_t max_wait_ms;  /* after the first job collected, default 60000 */
    int64_t poll_ms;      /* first poll after create, default 5000 */
    int64_t poll_max_ms;  /* backoff cap, default 60000 */
    sy_batch_retry retry;
} sy_batch_policy;

typedef struct sy_tier {
    char *name;
    sy_tier_mode mode;
    sy_batch_policy batch;
    int mode_line, mode_column; /* where `mode: batch` was written (checked once refs resolve) */
    char *topic;        /* Kafka topic the scheduler routes to; default "switchyard.tier.<name>" */
    sy_tier_strategy strategy;
    sy_tier_model *models;
    size_t nmodels;
    sy_retry_policy retry;
    sy_breaker_policy breaker;
    int refusal_model;  /* index into models tried at once after a refusal; -1 none */
    char *refusal_alias; /* as written (checked against models after loading) */
    int refusal_line, refusal_column;
    const char *file;
    size_t index;       /* place in sy_config.tiers */
} sy_tier;

typedef enum sy_output_parse { SY_PARSE_TEXT = 0, SY_PARSE_JSON } sy_output_parse;

const char *sy_output_parse_name(sy_output_parse p);  /* "text", "json" */
const char *sy_output_format_name(sy_format f);       /* "msgpack", "json" */

/* A task's request parameters beyond max_tokens and temperature, each
 * optional (params.c reads them; each provider module writes what its API
 * takes and its README section says what it drops). */
typedef enum sy_response_format {
    SY_RF_DEFAULT = 0, /* json_object when output.parse is json, else nothing */
    SY_RF_TEXT, SY_RF_JSON_OBJECT, SY_RF_JSON_SCHEMA
} sy_response_format;
#define SY_MAX_STOP 4
typedef struct sy_task_params {
    sy_response_format response_format;
    char *schema_name;   /* json_schema: its name */
    char *schema_json;   /* json_schema: the schema as JSON text */
    bool strict;         /* json_schema: strict */
    bool has_seed, has_top_p;
    int64_t seed;
    double top_p;
    char *stop[SY_MAX_STOP];
    size_t nstop;
    /* Structured output (codec/jschema.h): the answer must validate against
     * output_schema (the task's output_schema, else its response_format
     * json_schema's schema; NULL: none) or be one of labels (labels_json[i]
     * is label i as a JSON string, what the result's output_json carries). */
    struct json_t *output_schema;
    char **labels, **labels_json;
    size_t nlabels;
} sy_task_params;

/* The longest embedding vector a task asks for or an answer may carry
 * (OpenAI's largest model has 3072). */
#define SY_EMBED_MAX_DIMS 16384

typedef enum sy_task_kind { SY_TASK_CHAT = 0, SY_TASK_EMBEDDING } sy_task_kind;

typedef struct sy_task {
    char *name;
    sy_tier *tier;
    sy_task_kind kind;    /* `kind:` chat (default) or embedding */
    sy_template input;    /* embedding: the text to embed (`input:`) */
    bool has_input;
    int dimensions;       /* embedding: `dimensions:` asked of the model; 0 = its own */
    const char *file;     /* where `kind: embedding` is written (check's messages) */
    int kind_line, kind_column;
    char *prompt_id;
    int prompt_version;   /* inline: as written; a ref: the current version */
    const sy_prompt *prompt; /* prompt: {ref: ...} (prompts.h), in sy_config.prompts; NULL: inline */
    int rollout_version;  /* rollout: {N: P%}: version N for P% of keys (0: none) */
    int rollout_bp;       /* P in hundredths of a percent */
    sy_template system;   /* may be empty (nparts == 0); a ref: the current version's */
    sy_template user;     /* required unless jobs carry messages */
    bool has_system, has_user;
    int max_tokens;       /* default 1024 */
    double temperature;   /* default 0 */
    sy_task_params params; /* response_format, seed, top_p, stop */
    char *output_topic;   /* default "switchyard.results.<task>" */
    sy_output_parse parse;
    sy_format format;     /* result encoding, default msgpack */
    int64_t deadline_ms;  /* relative deadline for jobs of this task; 0 = none */
    int priority;         /* default priority of its jobs (a job may set its own); default 0 */
    double share;         /* weight in the fair share of waiting capacity; default 1 */
    size_t index;         /* place in sy_config.tasks */
} sy_task;

typedef struct sy_config {
    sy_provider **providers; size_t nproviders;
    sy_model **models;       size_t nmodels;
    sy_tier **tiers;         size_t ntiers;
    sy_task **tasks;         size_t ntasks;
    char **files;            size_t nfiles; /* loaded file names (owned) */
    sy_budget *budgets;      size_t nbudgets; /* budget.h */
    sy_prompt **prompts;     size_t nprompts; /* the prompt files tasks refer to (prompts.h) */
    sy_diags needs;          /* SY_LOAD_ENV_OPTIONAL: "VAR (where used)" for each unset
                              * variable a run will need */
} sy_config;

enum {
    SY_LOAD_REQUIRE_KEYS = 1 << 0, /* a missing API key variable is an error */
    SY_LOAD_ENV_OPTIONAL = 1 << 1, /* lint: unset variables (keys, ${NAME} without a
                                    * default) go to cfg->needs, not errors */
};

/* Load and validate files into cfg, accepting the provider kinds of `kinds`
 * (NULL-terminated; the product's list is sy_provider_kinds). Returns 0
 * when there were no errors; otherwise -1 with every error found (not just
 * the first) in diags. On error cfg is freed and empty. */
int sy_config_load(sy_config *cfg, const sy_provider_kind *const *kinds,
                   const char *const *files, size_t nfiles, int flags, sy_diags *diags);
void sy_config_free(sy_config *cfg);

/* Does the provider's key look like a real OpenAI/Anthropic key (sk-proj-,
 * sk-ant-api, or sk- and 40 or more key characters) while its base_url
 * points at a local or fake provider (loopback, localhost, the compose
 * service fake-provider)? Then the worker warns at start-up: a real key
 * would be sent there, e.g. one exported for other tools that a default
 * picked up. A local gateway with a real key is legitimate: a warning, not
 * an error. Never says anything about the key but this. */
bool sy_provider_real_key_to_local(const sy_provider *p);

const sy_task *sy_config_task(const sy_config *cfg, const char *name);
const sy_tier *sy_config_tier(const sy_config *cfg, const char *name);
const sy_tier *sy_config_tier_by_topic(const sy_config *cfg, const char *topic);

/* Cost in USD of a call with these token counts on model m. */
double sy_model_cost(const sy_model *m, int64_t tokens_in, int64_t tokens_out);
/* The same at the model's batch prices (a batch tier's jobs). */
double sy_model_cost_batch(const sy_model *m, int64_t tokens_in, int64_t tokens_out);
/* The same with the parts the usage names priced apart: cached and
 * cache-write input at their prices (parts held to tokens_in). */
double sy_model_cost_detail(const sy_model *m, int64_t tokens_in, int64_t tokens_out,
                            const sy_usage_detail *u);

#endif
