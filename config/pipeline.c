/* pipeline.c -- loading pipeline files into one sy_config (see pipeline.h
 * for the model, pipelines/README.md and schemas/pipeline.schema.json for
 * the file format).
 *
 * Loading is three passes so that names are global across files and every
 * error is found, not just the first:
 *
 *   1. read each file (yamlnode.c does the YAML and the typed values) into
 *      providers, models, tiers and tasks; a name seen before is a
 *      duplicate; references to other definitions are only noted (refs);
 *   2. resolve the refs against everything loaded, whichever file defined it;
 *   3. sort the diagnostics by file and position.
 *
 * Topic clashes (two tiers on one topic, a task writing its results to a
 * tier or jobs topic) are checked as definitions arrive. Nothing here ever
 * puts the value of an environment variable into a message.
 *
 * The name tables below (keys, strategies, parse and format names) are the
 * only spelling of those names: check and the results use them through
 * sy_tier_strategy_name and friends. Provider kinds are the caller's list
 * (pipeline.h), read through their descriptors. */
#include "pipeline.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "spell.h"
#include "topic_names.h"
#include "params.h"
#include "util.h"
#include "yamlnode.h"

#define OWNER_MAX 300
#define NAME_MAX_LEN 200
#define TOPIC_MAX_LEN 249
#define MAX_MS 3600000 /* retry delays and timeouts: at most an hour */

typedef enum def_kind { DEF_PROVIDER, DEF_MODEL, DEF_TIER, DEF_TASK, DEF_KINDS } def_kind;
static const char *const def_kind_name[DEF_KINDS] = {"provider", "model", "tier", "task"};

typedef struct site {
    const char *file; /* owned by cfg->files */
    int line, column;
} site;

/* A name defined somewhere (for duplicate messages). */
typedef struct def {
    def_kind kind;
    char *name;
    site at;
} def;

/* A reference to a definition, resolved after all files are read. */
typedef struct ref {
    def_kind kind; /* what it refers to */
    char *name;
    char *owner;   /* "model 'gpt-4o'" */
    site at;
    union {
        sy_provider **provider;
        sy_model **model;
        sy_tier **tier;
    } slot;
} ref;

/* A Kafka topic some definition uses (tier input or task output). */
typedef struct topic_use {
    const char *topic; /* owned by the tier or task */
    bool is_tier;
    char *owner;       /* "tier 'fast'" */
    site at;
} topic_use;

typedef struct loader {
    sy_config *cfg;
    sy_diags *diags;
    int flags;
    const sy_provider_kind *const *kinds; /* the kinds a provider may be */
    const char *kind_names[SY_MAX_KINDS + 1]; /* their names, for yn_get_enum */
    yn_doc *doc;      /* file being read */
    const char *file; /* its name, owned by cfg->files */
    bool unparsed;    /* a file could not be parsed: its names are unknown */
    const yaml_node_t *topic_at; /* explicit topic of the tier or task just read */
    def *defs;        size_t ndefs, defs_cap;
    ref *refs;        size_t nrefs, refs_cap;
    topic_use *topics; size_t ntopics, topics_cap;
} loader;

static const char *const top_keys[] = {"version", "providers", "models", "tiers", "tasks",
                                       "budgets", NULL};
static const char *const provider_keys[] = {"kind", "base_url", "api_key_env", "limits",
                                            "cooldown_s", "options", "http", "ca_file",
                                            "max_connections", "max_streams_per_connection", NULL};
/* Keys that would turn certificate verification off: known to a provider's
 * map only to be refused with what to do instead (provider_transport). */
static const char *const insecure_keys[] = {"insecure", "tls_verify", "verify", "verify_tls",
                                            "ssl_verify", "verify_ssl", "skip_verify", NULL};
static const char *const limits_keys[] = {"requests_per_minute", "tokens_per_minute", NULL};
static const char *const model_keys[] = {"provider", "name", "price_per_mtok", "context_window",
                                         NULL};
static const char *const price_keys[] = {"input", "output", "cached_input", "cache_write",
                                         "batch_input", "batch_output", NULL};
static const char *const tier_keys[] = {"strategy", "models", "retry", "topic", "breaker",
                                        "on_refusal", "mode", "batch", NULL};
static const char *const mode_names[] = {"sync", "batch", NULL};
static const char *const batch_keys[] = {"max_jobs", "max_bytes", "max_wait_ms", "poll_ms",
                                         "poll_max_ms", "retry", NULL};
static const char *const batch_retry_names[] = {"next_batch", "sync", NULL};
static const char *const tier_model_keys[] = {"model", "weight", NULL};
static const char *const strategies[] = {"ordered", "weighted", "cheapest", "fastest",
                                         "most-headroom", NULL};
static const char *const breaker_keys[] = {"consecutive_failures", "failure_ratio", "min_calls",
                                           "window_ms", "cooldown_ms", "probes", NULL};
static const char *const retry_keys[] = {"attempts_per_model", "base_ms", "cap_ms", "timeout_ms",
                                         NULL};
static const char *const task_keys[] = {"tier", "prompt", "max_tokens", "temperature",
                                        "deadline_s", "output", "priority", "share",
                                        "response_format", "seed", "top_p", "stop",
                                        "output_schema", "labels", "kind", "input", "dimensions",
                                        NULL};
static const char *const task_kind_names[] = {"chat", "embedding", NULL};
static const char *const prompt_keys[] = {"id", "version", "system", "user", "ref", "rollout", NULL};
static const char *const output_keys[] = {"topic", "parse", "format", NULL};
static const char *const parse_names[] = {"text", "json", NULL};
static const char *const format_names[] = {"msgpack", "json", NULL};
_Static_assert(SY_ARRAY_LEN(strategies) == SY_TIER_MOST_HEADROOM + 2, "a name per strategy");
_Static_assert(SY_ARRAY_LEN(parse_names) == SY_PARSE_JSON + 2, "a name per parse mode");
_Static_assert(SY_ARRAY_LEN(format_names) == SY_FORMAT_JSON + 2, "a name per format");
_Static_assert(SY_ARRAY_LEN(task_kind_names) == SY_TASK_EMBEDDING + 2, "a name per task kind");

/* ---- diagnostics, in order (the list itself is diag.c) ---------------------- */

/* Sorting: file in load order, then line, column, then order of finding. */
typedef struct diag_key {
    sy_diag diag;
    size_t file_rank, seq;
} diag_key;

static int diag_cmp(const void *a, const void *b)
{
    const diag_key *x = a, *y = b;
    if (x->file_rank != y->file_rank) return x->file_rank < y->file_rank ? -1 : 1;
    if (x->diag.line != y->diag.line) return x->diag.line < y->diag.line ? -1 : 1;
    if (x->diag.column != y->diag.column) return x->diag.column < y->diag.column ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void sort_diags(sy_diags *d, size_t from, const char *const *files, size_t nfiles)
{
    size_t n = d->n - from;
    if (n < 2) return;
    diag_key *keys = sy_xmalloc(n * sizeof *keys);
    for (size_t i = 0; i < n; i++) {
        keys[i].diag = d->items[from + i];
        keys[i].seq = i;
        keys[i].file_rank = 0;
        for (size_t f = 0; keys[i].diag.file && f < nfiles; f++)
            if (!strcmp(files[f], keys[i].diag.file)) {
                keys[i].file_rank = f + 1;
                break;
            }
    }
    qsort(keys, n, sizeof *keys, diag_cmp);
    for (size_t i = 0; i < n; i++) d->items[from + i] = keys[i].diag;
    free(keys);
}

/* ---- small helpers --------------------------------------------------------------- */

static site site_of(const loader *L, const yaml_node_t *n)
{
    site s = {L->file, (int)n->start_mark.line + 1, (int)n->start_mark.column + 1};
    return s;
}

static char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xprintf(const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    return sy_xstrdup(tmp);
}

/* Names and topics use Kafka's topic alphabet, so a tier or task name can
 * become part of a topic name. */
static bool topic_chars(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
            return false;
    return true;
}

static void check_name(loader *L, def_kind kind, const yaml_node_t *key)
{
    const char *name = yn_str(key);
    if (*name && strlen(name) <= NAME_MAX_LEN && topic_chars(name)) return;
    yn_error(L->doc, key, "invalid %s name '%.*s': use 1 to %d letters, digits, '.', '_' or '-'",
             def_kind_name[kind], NAME_MAX_LEN, name, NAME_MAX_LEN);
}

static void note_ref(loader *L, def_kind kind, char *name, const yaml_node_t *at,
                     const char *owner, ref r)
{
    if (L->nrefs == L->refs_cap) {
        L->refs_cap = L->refs_cap ? L->refs_cap * 2 : 32;
        L->refs = sy_xrealloc(L->refs, L->refs_cap * sizeof *L->refs);
    }
    r.kind = kind;
    r.name = name;
    r.owner = sy_xstrdup(owner);
    r.at = site_of(L, at);
    L->refs[L->nrefs++] = r;
}

/* Read the name under key and note a reference to it. */
static void ref_key(loader *L, const yn_map *m, const char *key, def_kind kind, ref r)
{
    char *name;
    if (yn_get_str(m, key, true, &name) != 1) return;
    note_ref(L, kind, name, yn_map_get(m, key), m->owner, r);
}

static void drop_refs(loader *L, size_t from)
{
    for (size_t i = from; i < L->nrefs; i++) {
        free(L->refs[i].name);
        free(L->refs[i].owner);
    }
    L->nrefs = from;
}

/* ---- topics ------------------------------------------------------------------------ */

static bool valid_topic(const char *t)
{
    size_t n = strlen(t);
    return n && n <= TOPIC_MAX_LEN && strcmp(t, ".") && strcmp(t, "..") && topic_chars(t);
}

/* Validate topic (from node `at`, or defaulted from the name at `at`) and
 * check it against the topics already in use. */
static void use_topic(loader *L, const char *topic, bool is_tier, const char *owner,
                      const yaml_node_t *at, bool explicit_)
{
    const char *what = is_tier ? "topic" : "output.topic";
    if (!valid_topic(topic)) {
        if (!explicit_) return; /* defaulted from an invalid name: reported already */
        char got[80];
        yn_describe(at, got, sizeof got);
        yn_error(L->doc, at, "%s of %s is not a valid Kafka topic name, got %s (use 1 to %d "
                 "letters, digits, '.', '_' or '-')", what, owner, got, TOPIC_MAX_LEN);
        return;
    }
    if (!strcmp(topic, SY_TOPIC_JOBS) || !strcmp(topic, SY_TOPIC_DLQ)) {
        yn_error(L->doc, at, "%s of %s is '%s', which switchyard itself uses", what, owner, topic);
        return;
    }
    for (size_t i = 0; i < L->ntopics; i++) {
        const topic_use *u = &L->topics[i];
        if (strcmp(u->topic, topic) || (!is_tier && !u->is_tier)) continue;
        yn_error(L->doc, at, "%s '%s' of %s is already the %s of %s (%s:%d:%d)", what, topic,
                 owner, u->is_tier ? "topic" : "output topic", u->owner, u->at.file, u->at.line,
                 u->at.column);
        return;
    }
    if (L->ntopics == L->topics_cap) {
        L->topics_cap = L->topics_cap ? L->topics_cap * 2 : 16;
        L->topics = sy_xrealloc(L->topics, L->topics_cap * sizeof *L->topics);
    }
    L->topics[L->ntopics++] = (topic_use){topic, is_tier, sy_xstrdup(owner), site_of(L, at)};
}

/* ---- providers ---------------------------------------------------------------------- */

static void provider_free(sy_provider *p)
{
    if (!p) return;
    if (p->api_key) {
        explicit_bzero(p->api_key, strlen(p->api_key));
        free(p->api_key);
    }
    for (size_t i = 0; i < p->noptions; i++) free(p->options[i].text);
    free(p->options);
    free(p->name);
    free(p->base_url);
    free(p->api_key_env);
    free(p->ca_file);
    free(p);
}

/* p->kind is NULL when the kind was not valid (reported): then nothing is
 * known to be required. */
static void provider_base_url(const yn_map *m, sy_provider *p)
{
    bool needed = p->kind && !p->kind->default_base_url;
    int rc = yn_get_str(m, "base_url", needed, &p->base_url);
    if (rc == 0 && p->kind && !needed) p->base_url = sy_xstrdup(p->kind->default_base_url);
    if (rc != 1) return;
    size_t n = strlen(p->base_url);
    while (n > 0 && p->base_url[n - 1] == '/') p->base_url[--n] = '\0';
    if (m->doc->needs && strstr(p->base_url, "${")) return; /* lint: set at run time */
    if (strncmp(p->base_url, "http://", 7) && strncmp(p->base_url, "https://", 8)) {
        yaml_node_t *v = yn_map_get(m, "base_url");
        char got[80];
        yn_describe(v, got, sizeof got);
        if (strstr(yn_str(v), "${"))
            yn_error(m->doc, v, "base_url of %s must start with http:// or https:// (after "
                     "expanding %s)", m->owner, got);
        else
            yn_error(m->doc, v, "base_url of %s must start with http:// or https://, got %s",
                     m->owner, got);
    }
}

/* api_key_env names a variable; the key itself is read here and kept only
 * in p->api_key. Messages name the variable, never its value. */
static void provider_key(loader *L, const yn_map *m, sy_provider *p)
{
    bool needed = p->kind && p->kind->key_required;
    yaml_node_t *v;
    if (yn_get_text(m, "api_key_env", needed, &v) != 1) return;
    char what[OWNER_MAX + 32];
    snprintf(what, sizeof what, "api_key_env of %s", m->owner);
    char *var = yn_expand(L->doc, v, what);
    if (!var) return;
    if (!yn_is_var_name(var, strlen(var))) {
        yn_error(L->doc, v, "%s must be the name of the environment variable that holds the "
                 "key (letters, digits, '_'), not the key itself", what);
        free(var);
        return;
    }
    p->api_key_env = var;
    const char *key = getenv(var);
    if (key && *key)
        p->api_key = sy_xstrdup(key);
    else if (L->flags & SY_LOAD_ENV_OPTIONAL)
        sy_diags_add(&L->cfg->needs, L->file, (int)v->start_mark.line + 1,
                     (int)v->start_mark.column + 1, "%s (api key of provider '%s'%s)", var,
                     p->name, key ? ", set but empty" : "");
    else if (L->flags & SY_LOAD_REQUIRE_KEYS)
        yn_error(L->doc, v, "environment variable %s (api key of provider '%s') is %s", var,
                 p->name, key ? "empty" : "not set");
}

static void provider_limits(const yn_map *m, sy_provider *p)
{
    char path[64];
    yn_map l;
    if (yn_map_sub(m, "limits", limits_keys, path, sizeof path, &l) != 1) return;
    yn_get_int(&l, "requests_per_minute", false, 1, INT64_MAX, &p->requests_per_minute);
    yn_get_int(&l, "tokens_per_minute", false, 1, INT64_MAX, &p->tokens_per_minute);
}

/* A token: what a header value or a URL segment can carry as is. */
static bool option_token(const char *s)
{
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-");
    return n && n <= SY_OPTION_TOKEN_MAX && !s[n];
}

static void option_read(const yn_map *o, const sy_kind_option *spec, sy_option_value *v)
{
    v->spec = spec;
    if (spec->type == SY_OPTION_PARAM_LIST || spec->type == SY_OPTION_PARAM_MAP) {
        v->text = sy_param_option_read(o, spec->key, spec->type == SY_OPTION_PARAM_MAP);
        return;
    }
    if (spec->type == SY_OPTION_INT) {
        if (yn_get_int(o, spec->key, false, spec->min, spec->max, &v->num) == 1)
            v->text = xprintf("%lld", (long long)v->num);
        return;
    }
    if (yn_get_str(o, spec->key, false, &v->text) != 1) return;
    if (o->doc->needs && strstr(v->text, "${")) return; /* lint: set at run time */
    if (option_token(v->text)) return;
    yaml_node_t *at = yn_map_get(o, spec->key);
    char got[80];
    yn_describe(at, got, sizeof got);
    yn_error(o->doc, at, "options.%s of %s must be 1 to %d letters, digits, '.', '_', ':' or "
             "'-'%s, got %s", spec->key, o->owner, SY_OPTION_TOKEN_MAX,
             strstr(yn_str(at), "${") ? " (after expanding ${...})" : "", got);
    free(v->text);
    v->text = NULL;
}

/* options: the extra settings of the provider's kind; a key the kind does
 * not accept is an error that names the kind. Unknown kind: not checked. */
static void provider_options(const yn_map *m, sy_provider *p)
{
    if (!p->kind || !yn_map_get(m, "options")) return;
    const char *known[SY_MAX_KIND_OPTIONS + 1];
    size_t n = 0;
    for (const sy_kind_option *o = p->kind->options; o && o->key && n < SY_MAX_KIND_OPTIONS; o++)
        known[n++] = o->key;
    known[n] = NULL;
    char owner[OWNER_MAX + 64], path[16];
    snprintf(owner, sizeof owner, "%s (kind %s)", m->owner, p->kind->name);
    yn_map om = *m;
    om.owner = owner;
    yn_map o;
    if (yn_map_sub(&om, "options", known, path, sizeof path, &o) != 1) return;
    p->options = sy_xcalloc(n ? n : 1, sizeof *p->options);
    for (size_t i = 0; i < n; i++) {
        if (!yn_map_get(&o, known[i])) continue;
        sy_option_value *v = &p->options[p->noptions];
        option_read(&o, &p->kind->options[i], v);
        if (v->text) p->noptions++;
    }
}

const sy_option_value *sy_provider_option(const sy_provider *p, const char *key)
{
    for (size_t i = 0; i < p->noptions; i++)
        if (!strcmp(p->options[i].spec->key, key)) return &p->options[i];
    return NULL;
}

/* http: "2" (default: HTTP/2 where TLS negotiates it, else 1.1) or "1.1";
 * ca_file: a readable PEM file of certificates to trust (verification is
 * never turned off: a key that asks for that is refused, with what to do);
 * max_connections, max_streams_per_connection: the provider's bounds
 * (worker/engine.h), within what a provider could sensibly take. */
static void provider_transport(const yn_map *m, sy_provider *p)
{
    static const char *const versions[] = {"2", "1.1", NULL};
    int v = 0;
    if (yn_get_enum(m, "http", false, versions, &v) == 1) p->http1_only = v == 1;
    int64_t n;
    if (yn_get_int(m, "max_connections", false, 1, SY_MAX_PROVIDER_CONNECTIONS, &n) == 1) p->max_connections = (int)n;
    if (yn_get_int(m, "max_streams_per_connection", false, 1, SY_MAX_PROVIDER_STREAMS, &n) == 1)
        p->max_streams = (int)n;
    if (yn_get_str(m, "ca_file", false, &p->ca_file) == 1 && !(m->doc->needs && strstr(p->ca_file, "${")) &&
        access(p->ca_file, R_OK) != 0) {
        char got[80];
        yn_describe(yn_map_get(m, "ca_file"), got, sizeof got);
        yn_error(m->doc, yn_map_get(m, "ca_file"), "ca_file of %s cannot be read (%s): %s", m->owner,
                 strerror(errno), got);
    }
    for (const char *const *k = insecure_keys; *k; k++)
        if (yn_map_get(m, *k))
            yn_error(m->doc, yn_map_get(m, *k), "%s of %s: certificate verification cannot be turned "
                     "off; to trust a private or self-signed certificate, give it as ca_file:", *k, m->owner);
}

static void *provider_load(loader *L, yaml_node_t *key, yaml_node_t *val)
{
    sy_provider *p = sy_xcalloc(1, sizeof *p);
    p->name = sy_xstrdup(yn_str(key));
    p->file = L->file;
    p->line = (int)key->start_mark.line + 1;
    char owner[OWNER_MAX];
    snprintf(owner, sizeof owner, "provider '%s'", p->name);
    const char *known[SY_ARRAY_LEN(provider_keys) + SY_ARRAY_LEN(insecure_keys)];
    size_t n = 0;
    for (const char *const *k = provider_keys; *k; k++) known[n++] = *k;
    for (const char *const *k = insecure_keys; *k; k++) known[n++] = *k;
    known[n] = NULL;
    yn_map m;
    if (!yn_map_open(&m, L->doc, val, key, owner, "", known)) return p;
    int kind = 0;
    if (yn_get_enum(&m, "kind", true, L->kind_names, &kind) == 1) p->kind = L->kinds[kind];
    provider_base_url(&m, p);
    double cool = 60;
    yn_get_num(&m, "cooldown_s", false, 0, false, 86400, &cool);
    p->cooldown_ms = (int64_t)ceil(cool * 1000);
    provider_key(L, &m, p);
    provider_limits(&m, p);
    provider_options(&m, p);
    provider_transport(&m, p);
    return p;
}

/* ---- models ------------------------------------------------------------------------- */

static void model_free(sy_model *m)
{
    if (!m) return;
    free(m->alias);
    free(m->name);
    free(m);
}

static void model_prices(const yn_map *m, sy_model *model)
{
    char path[64];
    yn_map pm;
    int rc = yn_map_sub(m, "price_per_mtok", price_keys, path, sizeof path, &pm);
    if (rc == 0) yn_missing(m, "price_per_mtok");
    if (rc != 1) return;
    yn_get_num(&pm, "input", true, 0, false, INFINITY, &model->price_in_per_mtok);
    yn_get_num(&pm, "output", true, 0, false, INFINITY, &model->price_out_per_mtok);
    model->price_cached_in_per_mtok = model->price_cache_write_per_mtok = model->price_in_per_mtok;
    yn_get_num(&pm, "cached_input", false, 0, false, INFINITY, &model->price_cached_in_per_mtok);
    yn_get_num(&pm, "cache_write", false, 0, false, INFINITY, &model->price_cache_write_per_mtok);
    model->price_batch_in_per_mtok = model->price_in_per_mtok / 2;
    model->price_batch_out_per_mtok = model->price_out_per_mtok / 2;
    yn_get_num(&pm, "batch_input", false, 0, false, INFINITY, &model->price_batch_in_per_mtok);
    yn_get_num(&pm, "batch_output", false, 0, false, INFINITY, &model->price_batch_out_per_mtok);
}

static void *model_load(loader *L, yaml_node_t *key, yaml_node_t *val)
{
    sy_model *model = sy_xcalloc(1, sizeof *model);
    model->alias = sy_xstrdup(yn_str(key));
    char owner[OWNER_MAX];
    snprintf(owner, sizeof owner, "model '%s'", model->alias);
    yn_map m;
    if (!yn_map_open(&m, L->doc, val, key, owner, "", model_keys)) return model;
    ref_key(L, &m, "provider", DEF_PROVIDER, (ref){.slot.provider = &model->provider});
    yn_get_str(&m, "name", true, &model->name);
    model_prices(&m, model);
    yn_get_int(&m, "context_window", false, 1, INT64_MAX, &model->context_window);
    return model;
}

/* ---- tiers -------------------------------------------------------------------------- */

static void tier_free(sy_tier *t)
{
    if (!t) return;
    free(t->name);
    free(t->topic);
    free(t->refusal_alias);
    free(t->models);
    free(t);
}

/* One entry of a tier's models: "alias" or {model: alias, weight: N}.
 * Returns the alias (owned by the ref list) or NULL. */
static const char *tier_model_entry(loader *L, const yn_map *tm, sy_tier *t, size_t i,
                                    yaml_node_t *item, bool strategy_known)
{
    sy_tier_model *slot = &t->models[i];
    slot->weight = 1;
    bool weighted = strategy_known && t->strategy == SY_TIER_WEIGHTED;
    if (item->type == YAML_SCALAR_NODE && !yn_is_null(item)) {
        if (weighted)
            yn_error(L->doc, item, "weighted %s needs a weight for model '%s' (write {model: %s, "
                     "weight: N})", tm->owner, yn_str(item), yn_str(item));
        note_ref(L, DEF_MODEL, sy_xstrdup(yn_str(item)), item, tm->owner,
                 (ref){.slot.model = &slot->model});
        return L->refs[L->nrefs - 1].name;
    }
    char path[64];
    snprintf(path, sizeof path, "models[%zu].", i);
    yn_map e;
    if (item->type != YAML_MAPPING_NODE) {
        char got[80];
        yn_describe(item, got, sizeof got);
        yn_error(L->doc, item, "models[%zu] of %s must be a model name or {model: NAME, "
                 "weight: N}, got %s", i, tm->owner, got);
        return NULL;
    }
    yn_map_open(&e, L->doc, item, item, tm->owner, path, tier_model_keys);
    int rc = yn_get_num(&e, "weight", false, 0, true, INFINITY, &slot->weight);
    if (rc == 0 && weighted) yn_missing(&e, "weight");
    if (rc == 1 && strategy_known && !weighted)
        yn_error(L->doc, yn_map_key(&e, "weight"), "weight has no effect in ordered %s (set "
                 "strategy: weighted)", tm->owner);
    size_t before = L->nrefs;
    ref_key(L, &e, "model", DEF_MODEL, (ref){.slot.model = &slot->model});
    return L->nrefs > before ? L->refs[L->nrefs - 1].name : NULL;
}

static void tier_models(loader *L, const yn_map *m, sy_tier *t, bool strategy_known)
{
    yaml_node_t *list = yn_map_get(m, "models");
    if (!list) {
        yn_missing(m, "models");
        return;
    }
    if (list->type != YAML_SEQUENCE_NODE || list->data.sequence.items.top ==
                                                 list->data.sequence.items.start) {
        char got[80];
        yn_describe(list, got, sizeof got);
        yn_error(L->doc, list, "models of %s must be a non-empty list of models, got %s",
                 m->owner, list->type == YAML_SEQUENCE_NODE ? "an empty list" : got);
        return;
    }
    size_t n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
    t->models = sy_xcalloc(n, sizeof *t->models);
    t->nmodels = n;
    const char **seen = sy_xcalloc(n, sizeof *seen);
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = yn_node(L->doc, list->data.sequence.items.start[i]);
        seen[i] = tier_model_entry(L, m, t, i, item, strategy_known);
        for (size_t j = 0; seen[i] && j < i; j++)
            if (seen[j] && !strcmp(seen[i], seen[j])) {
                yn_error(L->doc, item, "model '%s' is listed twice in %s", seen[i], m->owner);
                break;
            }
    }
    free(seen);
}

static void tier_retry(const yn_map *m, sy_tier *t)
{
    char path[64];
    yn_map r;
    if (yn_map_sub(m, "retry", retry_keys, path, sizeof path, &r) != 1) return;
    int64_t v;
    if (yn_get_int(&r, "attempts_per_model", false, 1, 100, &v) == 1)
        t->retry.attempts_per_model = (int)v;
    if (yn_get_int(&r, "base_ms", false, 0, MAX_MS, &v) == 1) t->retry.base_ms = (int)v;
    if (yn_get_int(&r, "cap_ms", false, 0, MAX_MS, &v) == 1) t->retry.cap_ms = (int)v;
    if (yn_get_int(&r, "timeout_ms", false, 1, MAX_MS, &v) == 1) t->retry.timeout_ms = (int)v;
    if (t->retry.cap_ms < t->retry.base_ms) {
        yaml_node_t *at = yn_map_get(&r, "cap_ms");
        yn_error(m->doc, at ? at : yn_map_get(&r, "base_ms"),
                 "retry.cap_ms (%d) of %s is less than retry.base_ms (%d)", t->retry.cap_ms,
                 m->owner, t->retry.base_ms);
    }
}

static void tier_breaker(const yn_map *m, sy_tier *t)
{
    char path[64];
    yn_map b;
    if (yn_map_sub(m, "breaker", breaker_keys, path, sizeof path, &b) != 1) return;
    int64_t v;
    sy_breaker_policy *p = &t->breaker;
    if (yn_get_int(&b, "consecutive_failures", false, 0, 1000000, &v) == 1) p->consecutive = (int)v;
    yn_get_num(&b, "failure_ratio", false, 0, false, 1, &p->ratio);
    if (yn_get_int(&b, "min_calls", false, 1, 1000000, &v) == 1) p->min_calls = (int)v;
    if (yn_get_int(&b, "window_ms", false, 100, MAX_MS, &v) == 1) p->window_ms = (int)v;
    if (yn_get_int(&b, "cooldown_ms", false, 1, MAX_MS, &v) == 1) p->cooldown_ms = (int)v;
    if (yn_get_int(&b, "probes", false, 1, 1000, &v) == 1) p->probes = (int)v;
}

/* mode: sync|batch, and the batch limits. */
static void tier_mode(const yn_map *m, sy_tier *t)
{
    t->batch = (sy_batch_policy){.max_jobs = 1000, .max_bytes = 100 << 20, .max_wait_ms = 60000,
                                 .poll_ms = 5000, .poll_max_ms = 60000};
    int mode = 0;
    if (yn_get_enum(m, "mode", false, mode_names, &mode) == 1) {
        yaml_node_t *v = yn_map_get(m, "mode");
        t->mode_line = (int)v->start_mark.line + 1;
        t->mode_column = (int)v->start_mark.column + 1;
    }
    t->mode = (sy_tier_mode)mode;
    char path[64];
    yn_map b;
    int rc = yn_map_sub(m, "batch", batch_keys, path, sizeof path, &b);
    if (rc == 1 && t->mode != SY_TIER_BATCH)
        yn_error(m->doc, yn_map_get(m, "batch"), "batch settings of %s need mode: batch", m->owner);
    if (rc != 1) return;
    sy_batch_policy *p = &t->batch;
    yn_get_int(&b, "max_jobs", false, 1, 50000, &p->max_jobs);
    yn_get_int(&b, "max_bytes", false, 1024, 200 << 20, &p->max_bytes);
    yn_get_int(&b, "max_wait_ms", false, 0, MAX_MS, &p->max_wait_ms);
    yn_get_int(&b, "poll_ms", false, 10, MAX_MS, &p->poll_ms);
    yn_get_int(&b, "poll_max_ms", false, 10, MAX_MS, &p->poll_max_ms);
    int retry = 0;
    if (yn_get_enum(&b, "retry", false, batch_retry_names, &retry) == 1) p->retry = (sy_batch_retry)retry;
    if (p->poll_max_ms < p->poll_ms)
        yn_error(m->doc, yn_map_get(&b, "poll_max_ms") ? yn_map_get(&b, "poll_max_ms") : yn_map_get(&b, "poll_ms"),
                 "batch.poll_max_ms (%lld) of %s is less than batch.poll_ms (%lld)", (long long)p->poll_max_ms, m->owner, (long long)p->poll_ms);
}

/* on_refusal names a model of the same tier; checked once refs resolve. */
static void tier_refusal(loader *L, const yn_map *m, sy_tier *t)
{
    if (yn_get_str(m, "on_refusal", false, &t->refusal_alias) != 1) return;
    yaml_node_t *v = yn_map_get(m, "on_refusal");
    t->file = L->file;
    t->refusal_line = (int)v->start_mark.line + 1;
    t->refusal_column = (int)v->start_mark.column + 1;
}

static void *tier_load(loader *L, yaml_node_t *key, yaml_node_t *val)
{
    sy_tier *t = sy_xcalloc(1, sizeof *t);
    t->name = sy_xstrdup(yn_str(key));
    t->strategy = SY_TIER_ORDERED;
    t->retry = (sy_retry_policy){.attempts_per_model = 3, .base_ms = 500, .cap_ms = 8000,
                                 .timeout_ms = 60000};
    t->breaker = (sy_breaker_policy){.consecutive = 0, .ratio = 0.5, .min_calls = 20,
                                     .window_ms = 10000, .cooldown_ms = 15000, .probes = 3};
    t->refusal_model = -1;
    char owner[OWNER_MAX];
    snprintf(owner, sizeof owner, "tier '%s'", t->name);
    yn_map m;
    bool ok = yn_map_open(&m, L->doc, val, key, owner, "", tier_keys);
    int strategy = 0;
    int rc = ok ? yn_get_enum(&m, "strategy", false, strategies, &strategy) : -1;
    t->strategy = (sy_tier_strategy)strategy;
    if (ok) {
        tier_models(L, &m, t, rc != -1);
        tier_retry(&m, t);
        tier_breaker(&m, t);
        tier_refusal(L, &m, t);
        tier_mode(&m, t);
        t->file = L->file;
    }
    if (ok && yn_get_str(&m, "topic", false, &t->topic) == 1)
        L->topic_at = yn_map_get(&m, "topic");
    else
        t->topic = xprintf("switchyard.tier.%s", t->name);
    return t;
}

/* ---- tasks -------------------------------------------------------------------------- */

static void task_free(sy_task *t)
{
    if (!t) return;
    if (t->has_system) sy_template_free(&t->system);
    if (t->has_user) sy_template_free(&t->user);
    if (t->has_input) sy_template_free(&t->input);
    free(t->name);
    free(t->prompt_id);
    free(t->output_topic);
    sy_task_params_free(&t->params);
    free(t);
}

/* rollout: {N: P%} -- one other version and its share (0 < P < 100). */
static void task_rollout(const yn_map *p, sy_task *t)
{
    yaml_node_t *r = yn_map_get(p, "rollout");
    if (!r) return;
    yn_map m;
    if (!yn_map_open(&m, p->doc, r, yn_map_key(p, "rollout"), p->owner, "prompt.rollout.", NULL)) return;
    yaml_node_pair_t *q = r->data.mapping.pairs.start;
    if (r->data.mapping.pairs.top - q != 1) {
        yn_error(p->doc, r, "prompt.rollout of %s names one version and its share, e.g. {2: 10%%}", p->owner);
        return;
    }
    yaml_node_t *k = yn_node(p->doc, q->key), *v = yn_node(p->doc, q->value);
    int64_t ver;
    double pct;
    const char *text = yn_str(v);
    char num[32] = "";
    if (text) snprintf(num, sizeof num, "%.*s", (int)strcspn(text, "%"), text);
    if (!yn_str(k) || !yn_parse_int(yn_str(k), &ver) || ver < 1 || ver > SY_PROMPT_MAX_VERSION)
        yn_error(p->doc, k, "prompt.rollout of %s: a version is a whole number from 1", p->owner);
    else if (!text || !yn_parse_num(num, &pct) || !(pct > 0 && pct < 100) ||
             (text[strlen(num)] && strcmp(text + strlen(num), "%")))
        yn_error(p->doc, v, "prompt.rollout of %s: the share is a percentage above 0 and below 100, e.g. 10%%",
                 p->owner);
    else {
        t->rollout_version = (int)ver;
        t->rollout_bp = (int)(pct * 100 + 0.5);
        if (t->rollout_bp < 1) t->rollout_bp = 1;
    }
}

/* prompt: {ref: ID, version: N, rollout: {M: P%}} -- the prompt file's
 * versions (prompts.h); the current one compiled into the task. */
static void task_prompt_ref(loader *L, const yn_map *p, sy_task *t)
{
    if (yn_map_get(p, "id") || yn_map_get(p, "system") || yn_map_get(p, "user")) {
        const char *k = yn_map_get(p, "id") ? "id" : yn_map_get(p, "system") ? "system" : "user";
        yn_error(p->doc, yn_map_key(p, k), "prompt.%s of %s: a prompt with ref is in its file, not inline", k,
                 p->owner);
        return;
    }
    if (yn_get_str(p, "ref", true, &t->prompt_id) != 1) return;
    int64_t v;
    bool has_version = yn_get_int(p, "version", true, 1, SY_PROMPT_MAX_VERSION, &v) == 1;
    task_rollout(p, t);
    yaml_node_t *at = yn_map_get(p, "ref");
    const sy_prompt *pr = sy_prompt_get(&L->cfg->prompts, &L->cfg->nprompts, L->file, t->prompt_id, L->diags,
                                        L->file, (int)at->start_mark.line + 1, (int)at->start_mark.column + 1);
    if (!pr || !has_version) return;
    t->prompt = pr;
    t->prompt_version = (int)v;
    const sy_prompt_version *cur = sy_prompt_version_of(pr, (int)v);
    int want[2] = {(int)v, t->rollout_version};
    const char *what[2] = {"version", "rollout"};
    for (int i = 0; i < 2; i++)
        if (want[i] && !sy_prompt_version_of(pr, want[i]))
            yn_error(p->doc, yn_map_get(p, what[i]), "prompt '%s' has no version %d (%s)", pr->id, want[i], pr->file);
    if (t->rollout_version == (int)v)
        yn_error(p->doc, yn_map_get(p, "rollout"), "prompt.rollout of %s names the current version", p->owner);
    if (!cur) return;
    char err[256];
    size_t off;
    if (cur->has_system && sy_template_compile(&t->system, cur->system.source, err, sizeof err, &off) == 0)
        t->has_system = true;
    if (sy_template_compile(&t->user, cur->user.source, err, sizeof err, &off) == 0) t->has_user = true;
}

static void task_prompt(loader *L, const yn_map *m, sy_task *t)
{
    char path[64];
    yn_map p;
    int rc = yn_map_sub(m, "prompt", prompt_keys, path, sizeof path, &p);
    if (rc == 0 && t->kind != SY_TASK_EMBEDDING) yn_missing(m, "prompt"); /* its text: input */
    if (rc != 1) return;
    if (yn_map_get(&p, "ref")) {
        task_prompt_ref(L, &p, t);
        return;
    }
    if (yn_map_get(&p, "rollout"))
        yn_error(p.doc, yn_map_key(&p, "rollout"), "prompt.rollout of %s needs a prompt file (ref)", p.owner);
    yn_get_str(&p, "id", true, &t->prompt_id);
    int64_t v;
    if (yn_get_int(&p, "version", true, 1, 1000000000, &v) == 1) t->prompt_version = (int)v;
    sy_template_from_yaml(&p, "prompt.", "system", false, &t->system, &t->has_system);
    sy_template_from_yaml(&p, "prompt.", "user", false, &t->user, &t->has_user);
}

static void task_output(loader *L, const yn_map *m, sy_task *t)
{
    char path[64];
    yn_map o;
    if (yn_map_sub(m, "output", output_keys, path, sizeof path, &o) != 1) return;
    if (yn_get_str(&o, "topic", false, &t->output_topic) == 1) L->topic_at = yn_map_get(&o, "topic");
    int v;
    if (yn_get_enum(&o, "parse", false, parse_names, &v) == 1) t->parse = (sy_output_parse)v;
    if (yn_get_enum(&o, "format", false, format_names, &v) == 1) t->format = (sy_format)v;
}

/* kind: embedding -- the task's text is `input:` (a template), its answer
 * a vector (worker/embed.h); `dimensions:` is asked of the model. */
static void task_kind(loader *L, const yn_map *m, sy_task *t)
{
    int v;
    if (yn_get_enum(m, "kind", false, task_kind_names, &v) == 1) {
        t->kind = (sy_task_kind)v;
        yaml_node_t *at = yn_map_get(m, "kind");
        t->file = L->file;
        t->kind_line = (int)at->start_mark.line + 1;
        t->kind_column = (int)at->start_mark.column + 1;
    }
    int64_t d;
    bool embedding = t->kind == SY_TASK_EMBEDDING;
    if (yn_get_int(m, "dimensions", false, 1, SY_EMBED_MAX_DIMS, &d) == 1) t->dimensions = (int)d;
    sy_template_from_yaml(m, "", "input", false, &t->input, &t->has_input); /* not ${}-expanded: sent as written */
    if (embedding && !t->has_input && !yn_map_get(m, "input")) yn_missing(m, "input");
    if (!embedding && (yn_map_get(m, "input") || yn_map_get(m, "dimensions")))
        yn_error(m->doc, yn_map_get(m, yn_map_get(m, "input") ? "input" : "dimensions"),
                 "input and dimensions of %s need kind: embedding", m->owner);
}

static void *task_load(loader *L, yaml_node_t *key, yaml_node_t *val)
{
    sy_task *t = sy_xcalloc(1, sizeof *t);
    t->name = sy_xstrdup(yn_str(key));
    t->max_tokens = 1024;
    t->parse = SY_PARSE_TEXT;
    t->format = SY_FORMAT_MSGPACK;
    t->share = 1;
    char owner[OWNER_MAX];
    snprintf(owner, sizeof owner, "task '%s'", t->name);
    yn_map m;
    if (yn_map_open(&m, L->doc, val, key, owner, "", task_keys)) {
        ref_key(L, &m, "tier", DEF_TIER, (ref){.slot.tier = &t->tier});
        task_kind(L, &m, t);
        task_prompt(L, &m, t);
        int64_t v;
        if (yn_get_int(&m, "max_tokens", false, 1, 1000000, &v) == 1) t->max_tokens = (int)v;
        yn_get_num(&m, "temperature", false, 0, false, 2, &t->temperature);
        double s;
        if (yn_get_num(&m, "deadline_s", false, 0, true, 1e9, &s) == 1)
            t->deadline_ms = (int64_t)ceil(s * 1000);
        if (yn_get_int(&m, "priority", false, -1000, 1000, &v) == 1) t->priority = (int)v;
        yn_get_num(&m, "share", false, 0, true, 1e6, &t->share);
        sy_task_params_load(&m, &t->params);
        task_output(L, &m, t);
        if (t->params.output_schema) t->parse = SY_PARSE_JSON; /* a schema is a JSON answer */
    }
    if (!t->output_topic) t->output_topic = xprintf("switchyard.results.%s", t->name);
    return t;
}

/* ---- sections ------------------------------------------------------------------------ */

typedef struct section {
    const char *key;
    def_kind kind;
    void *(*load)(loader *, yaml_node_t *, yaml_node_t *);
} section;

static const section sections[] = {
    {"providers", DEF_PROVIDER, provider_load},
    {"models", DEF_MODEL, model_load},
    {"tiers", DEF_TIER, tier_load},
    {"tasks", DEF_TASK, task_load},
};

static void def_free(def_kind kind, void *obj)
{
    switch (kind) {
    case DEF_PROVIDER: provider_free(obj); break;
    case DEF_MODEL: model_free(obj); break;
    case DEF_TIER: tier_free(obj); break;
    default: task_free(obj);
    }
}

/* Record name as defined here; false (reported) when it already was. */
static bool define(loader *L, def_kind kind, const yaml_node_t *key)
{
    const char *name = yn_str(key);
    for (size_t i = 0; i < L->ndefs; i++) {
        const def *d = &L->defs[i];
        if (d->kind != kind || strcmp(d->name, name)) continue;
        yn_error(L->doc, key, "duplicate %s '%s' (first defined at %s:%d:%d)", def_kind_name[kind],
                 name, d->at.file, d->at.line, d->at.column);
        return false;
    }
    if (L->ndefs == L->defs_cap) {
        L->defs_cap = L->defs_cap ? L->defs_cap * 2 : 32;
        L->defs = sy_xrealloc(L->defs, L->defs_cap * sizeof *L->defs);
    }
    L->defs[L->ndefs++] = (def){kind, sy_xstrdup(name), site_of(L, key)};
    return true;
}

#define PUSH(arr, n, obj)                                          \
    do {                                                           \
        (arr) = sy_xrealloc((arr), ((n) + 1) * sizeof *(arr));     \
        (arr)[(n)++] = (obj);                                      \
    } while (0)

/* Keep a definition in cfg; tiers and tasks claim their topics. */
static void keep(loader *L, def_kind kind, void *obj, const yaml_node_t *key)
{
    sy_config *c = L->cfg;
    const yaml_node_t *at = L->topic_at ? L->topic_at : key;
    char owner[OWNER_MAX];
    switch (kind) {
    case DEF_PROVIDER:
        ((sy_provider *)obj)->index = c->nproviders;
        PUSH(c->providers, c->nproviders, (sy_provider *)obj);
        break;
    case DEF_MODEL: PUSH(c->models, c->nmodels, (sy_model *)obj); break;
    case DEF_TIER: {
        sy_tier *t = obj;
        t->index = c->ntiers;
        PUSH(c->tiers, c->ntiers, t);
        snprintf(owner, sizeof owner, "tier '%s'", t->name);
        use_topic(L, t->topic, true, owner, at, L->topic_at != NULL);
        break;
    }
    default: {
        sy_task *t = obj;
        t->index = c->ntasks;
        PUSH(c->tasks, c->ntasks, t);
        snprintf(owner, sizeof owner, "task '%s'", t->name);
        use_topic(L, t->output_topic, false, owner, at, L->topic_at != NULL);
    }
    }
}

static void load_entry(loader *L, const section *s, yaml_node_t *key, yaml_node_t *val)
{
    check_name(L, s->kind, key);
    size_t refs_before = L->nrefs;
    L->topic_at = NULL;
    void *obj = s->load(L, key, val);
    if (!define(L, s->kind, key)) {
        drop_refs(L, refs_before);
        def_free(s->kind, obj);
        return;
    }
    keep(L, s->kind, obj, key);
}

static void load_section(loader *L, const yn_map *top, const section *s)
{
    yaml_node_t *node = yn_map_get(top, s->key);
    if (!node || yn_is_null(node)) return;
    char path[32];
    snprintf(path, sizeof path, "%s.", s->key);
    yn_map sec;
    if (!yn_map_open(&sec, L->doc, node, yn_map_key(top, s->key), "", path, NULL)) return;
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
         p++) {
        yaml_node_t *key = yn_node(L->doc, p->key);
        if (key && key->type == YAML_SCALAR_NODE) load_entry(L, s, key, yn_node(L->doc, p->value));
    }
}

static void load_file(loader *L, const char *file)
{
    yn_doc d;
    yaml_node_t *root;
    if (yn_open(&d, file, L->diags, &root) != 0) {
        L->unparsed = true;
        yn_close(&d);
        return;
    }
    L->doc = &d;
    L->file = file;
    if (L->flags & SY_LOAD_ENV_OPTIONAL) d.needs = &L->cfg->needs;
    yn_map top;
    if (yn_map_open(&top, &d, root, NULL, "", "", top_keys)) {
        int64_t version;
        yn_get_int(&top, "version", true, 1, 1, &version);
        for (size_t i = 0; i < SY_ARRAY_LEN(sections); i++) load_section(L, &top, &sections[i]);
        sy_budgets_load(&d, file, yn_map_get(&top, "budgets"), &L->cfg->budgets, &L->cfg->nbudgets);
    }
    L->doc = NULL;
    yn_close(&d);
}

/* ---- references ------------------------------------------------------------------------ */

static void *find_def(const sy_config *c, def_kind kind, const char *name)
{
    switch (kind) {
    case DEF_PROVIDER:
        for (size_t i = 0; i < c->nproviders; i++)
            if (!strcmp(c->providers[i]->name, name)) return c->providers[i];
        return NULL;
    case DEF_MODEL:
        for (size_t i = 0; i < c->nmodels; i++)
            if (!strcmp(c->models[i]->alias, name)) return c->models[i];
        return NULL;
    case DEF_TIER: return (void *)sy_config_tier(c, name);
    default: return (void *)sy_config_task(c, name);
    }
}

static void unknown_ref(loader *L, const ref *r)
{
    const char **names = sy_xcalloc(L->ndefs, sizeof *names);
    size_t n = 0;
    for (size_t i = 0; i < L->ndefs; i++)
        if (L->defs[i].kind == r->kind) names[n++] = L->defs[i].name;
    const char *near = sy_closest(r->name, names, n);
    char hint[300] = "";
    if (near) snprintf(hint, sizeof hint, " (did you mean '%s'?)", near);
    sy_diags_add(L->diags, r->at.file, r->at.line, r->at.column, "unknown %s '%s' in %s%s",
                 def_kind_name[r->kind], r->name, r->owner, hint);
    free(names);
}

static void resolve_refs(loader *L)
{
    for (size_t i = 0; i < L->nrefs; i++) {
        ref *r = &L->refs[i];
        void *target = find_def(L->cfg, r->kind, r->name);
        if (!target) {
            if (!L->unparsed) unknown_ref(L, r);
            continue;
        }
        switch (r->kind) {
        case DEF_PROVIDER: *r->slot.provider = target; break;
        case DEF_MODEL: *r->slot.model = target; break;
        default: *r->slot.tier = target;
        }
    }
}

/* An embedding task's tier has only models whose providers serve
 * embeddings (Anthropic has no embeddings API). */
/* A budget's downgrade action names a tier: resolved once every file is
 * read; an unknown one is an error at the budget's place. */
static void resolve_budgets(sy_config *cfg, sy_diags *diags)
{
    for (size_t i = 0; i < cfg->nbudgets; i++) {
        sy_budget *b = &cfg->budgets[i];
        if (b->action != SY_BUDGET_DOWNGRADE) continue;
        b->tier = sy_config_tier(cfg, b->tier_name);
        if (!b->tier)
            sy_diags_add(diags, b->file, b->line, b->column, "unknown tier '%s' in the action of the budget of %s=%s",
                         b->tier_name, b->tag, b->value);
    }
}

static void check_embeddings(loader *L)
{
    for (size_t i = 0; i < L->cfg->ntasks; i++) {
        const sy_task *t = L->cfg->tasks[i];
        if (t->kind != SY_TASK_EMBEDDING || !t->tier) continue;
        for (size_t j = 0; j < t->tier->nmodels; j++) {
            const sy_model *m = t->tier->models[j].model;
            if (!m || !m->provider || !m->provider->kind || m->provider->kind->embeddings) continue;
            sy_diags_add(L->diags, t->file, t->kind_line, t->kind_column,
                         "task '%s' is an embedding task, but model '%s' of its tier '%s' is on "
                         "provider '%s' of kind %s, which has no embeddings API", t->name,
                         m->alias, t->tier->name, m->provider->name, m->provider->kind->name);
        }
    }
}

/* A tier's on_refusal must be one of its own models. */
static void check_refusals(loader *L)
{
    for (size_t i = 0; i < L->cfg->ntiers; i++) {
        sy_tier *t = L->cfg->tiers[i];
        if (!t->refusal_alias) continue;
        for (size_t j = 0; j < t->nmodels; j++)
            if (t->models[j].model && !strcmp(t->models[j].model->alias, t->refusal_alias))
                t->refusal_model = (int)j;
        if (t->refusal_model < 0)
            sy_diags_add(L->diags, t->file, t->refusal_line, t->refusal_column,
                         "on_refusal of tier '%s' names '%s', which is not one of its models",
                         t->name, t->refusal_alias);
    }
}

/* A batch tier's models must be on a provider with a batch API the
 * worker speaks (OpenAI's batches, Anthropic's message batches). */
static void check_batch_tiers(loader *L)
{
    for (size_t i = 0; i < L->cfg->ntiers; i++) {
        sy_tier *t = L->cfg->tiers[i];
        if (t->mode != SY_TIER_BATCH) continue;
        for (size_t j = 0; j < t->nmodels; j++) {
            const sy_model *m = t->models[j].model;
            if (!m || !m->provider || !m->provider->kind) continue;
            if (strcmp(m->provider->kind->name, "openai") && strcmp(m->provider->kind->name, "anthropic"))
                sy_diags_add(L->diags, t->file, t->mode_line, t->mode_column,
                             "tier '%s' has mode: batch, but model '%s' is on provider '%s' of kind '%s', "
                             "which has no batch API switchyard speaks (use kind openai or anthropic)",
                             t->name, m->alias, m->provider->name, m->provider->kind->name);
        }
    }
}

static void loader_free(loader *L)
{
    drop_refs(L, 0);
    free(L->refs);
    for (size_t i = 0; i < L->ndefs; i++) free(L->defs[i].name);
    free(L->defs);
    for (size_t i = 0; i < L->ntopics; i++) free(L->topics[i].owner);
    free(L->topics);
}

/* ---- the API ------------------------------------------------------------------------------ */

int sy_config_load(sy_config *cfg, const sy_provider_kind *const *kinds,
                   const char *const *files, size_t nfiles, int flags, sy_diags *diags)
{
    sy_diags local = {0};
    if (!diags) diags = &local;
    memset(cfg, 0, sizeof *cfg);
    size_t first = diags->n;
    loader L = {.cfg = cfg, .diags = diags, .flags = flags, .kinds = kinds};
    for (size_t i = 0; kinds && kinds[i] && i < SY_MAX_KINDS; i++) L.kind_names[i] = kinds[i]->name;
    cfg->files = sy_xcalloc(nfiles, sizeof *cfg->files);
    for (size_t i = 0; i < nfiles; i++) {
        cfg->files[cfg->nfiles] = sy_xstrdup(files[i]);
        load_file(&L, cfg->files[cfg->nfiles++]);
    }
    resolve_refs(&L);
    if (!L.unparsed) check_refusals(&L);
    if (!L.unparsed) check_embeddings(&L);
    if (!L.unparsed) resolve_budgets(cfg, diags);
    if (!L.unparsed) check_batch_tiers(&L);
    loader_free(&L);
    sort_diags(diags, first, files, nfiles);
    bool failed = diags->n > first;
    sy_diags_free(&local);
    if (failed) sy_config_free(cfg);
    return failed ? -1 : 0;
}

void sy_config_free(sy_config *cfg)
{
    for (size_t i = 0; i < cfg->nproviders; i++) provider_free(cfg->providers[i]);
    for (size_t i = 0; i < cfg->nmodels; i++) model_free(cfg->models[i]);
    for (size_t i = 0; i < cfg->ntiers; i++) tier_free(cfg->tiers[i]);
    for (size_t i = 0; i < cfg->ntasks; i++) task_free(cfg->tasks[i]);
    for (size_t i = 0; i < cfg->nfiles; i++) free(cfg->files[i]);
    sy_budgets_free(&cfg->budgets, &cfg->nbudgets);
    sy_prompts_free(cfg->prompts, cfg->nprompts);
    free(cfg->providers);
    free(cfg->models);
    free(cfg->tiers);
    free(cfg->tasks);
    free(cfg->files);
    sy_diags_free(&cfg->needs);
    memset(cfg, 0, sizeof *cfg);
}

static bool looks_like_real_key(const char *k)
{
    if (!strncmp(k, "sk-proj-", 8) || !strncmp(k, "sk-ant-api", 10)) return true;
    if (strncmp(k, "sk-", 3)) return false;
    size_t n = strspn(k + 3, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");
    return n >= 40 && !k[3 + n];
}

/* The host of an http(s) URL (without userinfo or port) is local or fake? */
static bool url_is_local(const char *url)
{
    const char *h = strstr(url, "://");
    if (!h) return false;
    h += 3;
    size_t end = strcspn(h, "/?#");
    const char *at = memchr(h, '@', end);
    if (at) {
        end -= (size_t)(at + 1 - h);
        h = at + 1;
    }
    size_t hl = h[0] == '[' ? strcspn(h, "]") + 1 : strcspn(h, ":/?#");
    if (hl > end) hl = end;
    static const char *const local[] = {"localhost", "fake-provider", "[::1]"};
    for (size_t i = 0; i < SY_ARRAY_LEN(local); i++)
        if (hl == strlen(local[i]) && !strncasecmp(h, local[i], hl)) return true;
    return hl > 4 && !strncmp(h, "127.", 4) && strspn(h, "0123456789.") >= hl;
}

bool sy_provider_real_key_to_local(const sy_provider *p)
{
    return p->api_key && p->base_url && looks_like_real_key(p->api_key) && url_is_local(p->base_url);
}

const sy_task *sy_config_task(const sy_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->ntasks; i++)
        if (!strcmp(cfg->tasks[i]->name, name)) return cfg->tasks[i];
    return NULL;
}

const sy_tier *sy_config_tier(const sy_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->ntiers; i++)
        if (!strcmp(cfg->tiers[i]->name, name)) return cfg->tiers[i];
    return NULL;
}

const sy_tier *sy_config_tier_by_topic(const sy_config *cfg, const char *topic)
{
    for (size_t i = 0; i < cfg->ntiers; i++)
        if (!strcmp(cfg->tiers[i]->topic, topic)) return cfg->tiers[i];
    return NULL;
}

const char *sy_tier_strategy_name(sy_tier_strategy s)
{
    return s <= SY_TIER_MOST_HEADROOM ? strategies[s] : "?";
}

const char *sy_output_parse_name(sy_output_parse p)
{
    return p <= SY_PARSE_JSON ? parse_names[p] : "?";
}

const char *sy_output_format_name(sy_format f)
{
    return f <= SY_FORMAT_JSON ? format_names[f] : "?";
}

double sy_model_cost(const sy_model *m, int64_t tokens_in, int64_t tokens_out)
{
    if (tokens_in < 0) tokens_in = 0; /* a cost is never negative */
    if (tokens_out < 0) tokens_out = 0;
    return (double)tokens_in * m->price_in_per_mtok / 1e6 +
           (double)tokens_out * m->price_out_per_mtok / 1e6;
}

double sy_model_cost_batch(const sy_model *m, int64_t tokens_in, int64_t tokens_out)
{
    if (tokens_in < 0) tokens_in = 0;
    if (tokens_out < 0) tokens_out = 0;
    return (double)tokens_in * m->price_batch_in_per_mtok / 1e6 +
           (double)tokens_out * m->price_batch_out_per_mtok / 1e6;
}

double sy_model_cost_detail(const sy_model *m, int64_t tokens_in, int64_t tokens_out,
                            const sy_usage_detail *u)
{
    if (tokens_in < 0) tokens_in = 0;
    int64_t cached = u->cached_in < 0 ? 0 : u->cached_in < tokens_in ? u->cached_in : tokens_in;
    int64_t left = tokens_in - cached;
    int64_t written = u->cache_write_in < 0 ? 0 : u->cache_write_in < left ? u->cache_write_in : left;
    return sy_model_cost(m, left - written, tokens_out) +
           (double)cached * m->price_cached_in_per_mtok / 1e6 +
           (double)written * m->price_cache_write_per_mtok / 1e6;
}
