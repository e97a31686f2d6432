/* params.c -- a task's request parameters and a provider's parameter
 * mapping, as pipeline files write them (params.h; pipeline.h has the
 * data). Config layer: read once at load, then the provider modules
 * (worker/providers/) write them into each request body.
 *
 *   tasks.T.response_format: text | json_object
 *                          | {type: json_schema, name, strict, schema}
 *   tasks.T.seed: integer;  tasks.T.top_p: 0..1;
 *   tasks.T.stop: a string or a list of 1..4 strings
 *   tasks.T.output_schema: a JSON Schema (the subset of codec/jschema.h)
 *   tasks.T.labels: [a, b, ...] (a closed label set for classification)
 *   providers.P.options.drop_params: [name, ...]
 *   providers.P.options.rename_params: {name: new_name, ...}
 *
 * A json_schema's schema is written in YAML and kept as JSON text: a
 * plain (unquoted) null, true, false or JSON number is that JSON literal,
 * every other scalar a string (a quoted "3", and YAML-only forms such as
 * yes, 0x1F or .inf). Parameter names are [a-z0-9_]{1,64}; `model` and `messages`
 * cannot be dropped or renamed (no request works without them). */
#include "params.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "jschema.h"
#include "util.h"

#define PARAM_NAME_MAX 64
#define STOP_MAX_BYTES 256
#define SCHEMA_MAX_DEPTH SY_JSCHEMA_MAX_DEPTH
#define SY_MAX_LABELS 256

static const char *const rf_keys[] = {"type", "name", "strict", "schema", NULL};
static const char *const rf_names[] = {"text", "json_object", "json_schema", NULL};

/* A JSON number as RFC 8259 writes it: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
 * (YAML's +5, .5, 0x1F, 1_000 or .inf are not: those stay strings). */
static bool json_number(const char *s)
{
    const char *p = s + (*s == '-');
    if (*p == '0') p++;
    else if (*p >= '1' && *p <= '9') while (*p >= '0' && *p <= '9') p++;
    else return false;
    if (*p == '.') {
        if (!(*++p >= '0' && *p <= '9')) return false;
        while (*p >= '0' && *p <= '9') p++;
    }
    if (*p == 'e' || *p == 'E') {
        p += p[1] == '+' || p[1] == '-' ? 2 : 1;
        if (!(*p >= '0' && *p <= '9')) return false;
        while (*p >= '0' && *p <= '9') p++;
    }
    return *p == '\0';
}

/* A YAML node as JSON (the schema of a json_schema response format). */
static bool to_json(yn_doc *d, yaml_node_t *n, sy_buf *b, int depth)
{
    if (!n || depth > SCHEMA_MAX_DEPTH) return false;
    if (n->type == YAML_SCALAR_NODE) {
        const char *s = yn_str(n);
        bool plain = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        if (plain && (yn_is_null(n) || !strcmp(s, "true") || !strcmp(s, "false") || json_number(s)))
            sy_buf_puts(b, yn_is_null(n) ? "null" : s);
        else
            sy_buf_json_cstr(b, s);
        return true;
    }
    if (n->type == YAML_SEQUENCE_NODE) {
        sy_buf_putc(b, '[');
        for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++) {
            if (i > n->data.sequence.items.start) sy_buf_putc(b, ',');
            if (!to_json(d, yn_node(d, *i), b, depth + 1)) return false;
        }
        sy_buf_putc(b, ']');
        return true;
    }
    if (n->type != YAML_MAPPING_NODE) return false;
    sy_buf_putc(b, '{');
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const char *k = yn_str(yn_node(d, p->key));
        if (!k) return false;
        if (p > n->data.mapping.pairs.start) sy_buf_putc(b, ',');
        sy_buf_json_cstr(b, k);
        sy_buf_putc(b, ':');
        if (!to_json(d, yn_node(d, p->value), b, depth + 1)) return false;
    }
    sy_buf_putc(b, '}');
    return true;
}

/* A schema written in YAML as JSON text, or NULL (reported). An output
 * schema may also be true or false. */
static char *schema_text(const yn_map *task, yaml_node_t *schema, const char *what)
{
    sy_buf b;
    sy_buf_init(&b);
    char *text = NULL;
    const char *s = yn_str(schema);
    bool boolean = s && !strcmp(what, "output_schema") && (!strcmp(s, "true") || !strcmp(s, "false"));
    if ((schema->type == YAML_MAPPING_NODE || boolean) && to_json(task->doc, schema, &b, 0))
        text = sy_xstrdup(sy_buf_cstr(&b));
    else
        yn_error(task->doc, schema, "%s of %s must be a JSON Schema object (a mapping, at most %d "
                 "levels deep)", what, task->owner, SCHEMA_MAX_DEPTH);
    sy_buf_free(&b);
    return text;
}

static bool schema_name_ok(const char *s)
{
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");
    return n >= 1 && n <= 64 && !s[n];
}

static void response_format(const yn_map *task, sy_task_params *p)
{
    yaml_node_t *v = yn_map_get(task, "response_format");
    if (!v) return;
    int which = 0;
    if (v->type == YAML_SCALAR_NODE) {
        if (yn_get_enum(task, "response_format", false, rf_names, &which) == 1)
            p->response_format = (sy_response_format)(which + 1);
        if (p->response_format == SY_RF_JSON_SCHEMA)
            yn_error(task->doc, v, "response_format json_schema of %s needs a mapping "
                     "{type: json_schema, name, schema, strict}", task->owner);
        return;
    }
    char path[64];
    yn_map m;
    if (yn_map_sub(task, "response_format", rf_keys, path, sizeof path, &m) != 1) return;
    if (yn_get_enum(&m, "type", true, rf_names, &which) != 1) return;
    p->response_format = (sy_response_format)(which + 1);
    if (p->response_format != SY_RF_JSON_SCHEMA) return;
    if (yn_get_str(&m, "name", true, &p->schema_name) == 1 && !schema_name_ok(p->schema_name))
        yn_error(task->doc, yn_map_get(&m, "name"), "response_format.name of %s must be 1 to 64 "
                 "letters, digits, '_' or '-'", task->owner);
    yaml_node_t *strict = yn_map_get(&m, "strict");
    if (strict) {
        const char *s = yn_str(strict);
        if (s && (!strcmp(s, "true") || !strcmp(s, "false"))) p->strict = !strcmp(s, "true");
        else yn_error(task->doc, strict, "response_format.strict of %s must be true or false", task->owner);
    }
    yaml_node_t *schema = yn_map_get(&m, "schema");
    if (!schema) {
        yn_missing(&m, "schema");
        return;
    }
    p->schema_json = schema_text(task, schema, "response_format.schema");
}

/* The schema the answers are validated against: output_schema, which must
 * be in the subset jschema.h takes (a keyword the validator does not know
 * is an error here, never a check silently skipped); else a json_schema
 * response_format's schema when it is in the subset (when it is not, it
 * stays the provider's to enforce, as before: README, Structured output). */
static void output_schema(const yn_map *task, sy_task_params *p)
{
    yaml_node_t *v = yn_map_get(task, "output_schema");
    char *own = v ? schema_text(task, v, "output_schema") : NULL;
    const char *text = own ? own : v ? NULL : p->schema_json;
    if (!text) return;
    json_t *s = json_loads(text, JSON_DECODE_ANY, NULL);
    char why[256];
    if (s && sy_jschema_check(s, why, sizeof why) == 0) p->output_schema = s;
    else {
        if (v)
            yn_error(task->doc, v, "output_schema of %s must stay within the JSON Schema subset "
                     "of README (Structured output): %s", task->owner, s ? why : "not JSON");
        json_decref(s);
    }
    free(own);
}

/* labels: [a, b, ...]: 1 to SY_MAX_LABELS distinct names of 1 to 64
 * printable bytes. */
static void label_set(const yn_map *task, sy_task_params *p)
{
    yaml_node_t *v = yn_map_get(task, "labels");
    if (!v) return;
    yaml_node_item_t *i = v->type == YAML_SEQUENCE_NODE ? v->data.sequence.items.start : NULL;
    size_t n = i ? (size_t)(v->data.sequence.items.top - i) : 0;
    bool ok = n >= 1 && n <= SY_MAX_LABELS && !p->output_schema;
    for (size_t k = 0; ok && k < n; k++) {
        yaml_node_t *e = yn_node(task->doc, i[k]);
        const char *s = e && !yn_is_null(e) ? yn_str(e) : NULL;
        size_t len = s ? strlen(s) : 0;
        ok = len >= 1 && len <= 64;
        for (size_t c = 0; ok && c < len; c++) ok = (unsigned char)s[c] >= 0x20 && s[c] != 0x7f;
        for (size_t j = 0; ok && j < k; j++) ok = strcasecmp(p->labels[j], s) != 0;
        if (!ok) break;
        p->labels = sy_xrealloc(p->labels, (k + 1) * sizeof *p->labels);
        p->labels_json = sy_xrealloc(p->labels_json, (k + 1) * sizeof *p->labels_json);
        p->labels[k] = sy_xstrdup(s);
        sy_buf b;
        sy_buf_init(&b);
        sy_buf_json_cstr(&b, s);
        p->labels_json[k] = sy_xstrdup(sy_buf_cstr(&b));
        sy_buf_free(&b);
        p->nlabels = k + 1;
    }
    if (!ok)
        yn_error(task->doc, v, "labels of %s must be a list of 1 to %d distinct labels (ASCII case "
                 "ignored) of 1 to 64 printable bytes, and not beside an output schema",
                 task->owner, SY_MAX_LABELS);
}

static void stop_sequences(const yn_map *task, sy_task_params *p)
{
    yaml_node_t *v = yn_map_get(task, "stop");
    if (!v) return;
    yaml_node_t *items[SY_MAX_STOP];
    size_t n = 0;
    bool ok = true;
    if (v->type == YAML_SCALAR_NODE) items[n++] = v;
    else if (v->type == YAML_SEQUENCE_NODE) {
        yaml_node_item_t *i = v->data.sequence.items.start, *top = v->data.sequence.items.top;
        ok = top > i && top - i <= SY_MAX_STOP;
        for (; ok && i < top; i++) items[n++] = yn_node(task->doc, *i);
    } else ok = false;
    for (size_t i = 0; ok && i < n; i++) {
        const char *s = yn_str(items[i]);
        ok = s && *s && strlen(s) <= STOP_MAX_BYTES && !yn_is_null(items[i]);
    }
    if (!ok) {
        yn_error(task->doc, v, "stop of %s must be a string or a list of 1 to %d strings of 1 to %d "
                 "bytes", task->owner, SY_MAX_STOP, STOP_MAX_BYTES);
        return;
    }
    for (size_t i = 0; i < n; i++) p->stop[i] = sy_xstrdup(yn_str(items[i]));
    p->nstop = n;
}

void sy_task_params_load(const yn_map *task, sy_task_params *p)
{
    response_format(task, p);
    output_schema(task, p);
    label_set(task, p);
    if (yn_get_int(task, "seed", false, INT64_MIN, INT64_MAX, &p->seed) == 1) p->has_seed = true;
    if (yn_get_num(task, "top_p", false, 0, false, 1, &p->top_p) == 1) p->has_top_p = true;
    stop_sequences(task, p);
}

void sy_task_params_free(sy_task_params *p)
{
    free(p->schema_name);
    free(p->schema_json);
    for (size_t i = 0; i < p->nstop; i++) free(p->stop[i]);
    json_decref(p->output_schema);
    for (size_t i = 0; i < p->nlabels; i++) {
        free(p->labels[i]);
        free(p->labels_json[i]);
    }
    free(p->labels);
    free(p->labels_json);
    memset(p, 0, sizeof *p);
}

/* ---- parameter mapping ---- */

static bool param_name_ok(const char *s)
{
    size_t n = s ? strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") : 0;
    return n >= 1 && n <= PARAM_NAME_MAX && !s[n];
}

static bool param_fixed(const char *s)
{
    return !strcmp(s, "model") || !strcmp(s, "messages");
}

char *sy_param_option_read(const yn_map *o, const char *key, bool map)
{
    yaml_node_t *v = yn_map_get(o, key);
    sy_buf b;
    sy_buf_init(&b);
    const char *bad = NULL;
    yaml_node_t *at = v;
    if (map && v && v->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *p = v->data.mapping.pairs.start; !bad && p < v->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yn_node(o->doc, p->key), *to = yn_node(o->doc, p->value);
            at = k;
            if (!param_name_ok(yn_str(k)) || !param_name_ok(yn_str(to))) bad = "names";
            else if (param_fixed(yn_str(k)) || param_fixed(yn_str(to))) bad = "fixed";
            else sy_buf_printf(&b, "%s%s=%s", b.len ? " " : "", yn_str(k), yn_str(to));
        }
    } else if (!map && v && v->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *i = v->data.sequence.items.start; !bad && i < v->data.sequence.items.top; i++) {
            yaml_node_t *k = yn_node(o->doc, *i);
            at = k;
            if (!param_name_ok(yn_str(k))) bad = "names";
            else if (param_fixed(yn_str(k))) bad = "fixed";
            else sy_buf_printf(&b, "%s%s", b.len ? " " : "", yn_str(k));
        }
    } else {
        bad = "shape";
    }
    if (!bad && b.len) {
        char *s = sy_xstrdup(sy_buf_cstr(&b));
        sy_buf_free(&b);
        return s;
    }
    sy_buf_free(&b);
    if (!bad || !strcmp(bad, "shape"))
        yn_error(o->doc, at, "options.%s of %s must be %s", key, o->owner,
                 map ? "a non-empty mapping of parameter names to new names"
                     : "a non-empty list of parameter names");
    else if (!strcmp(bad, "fixed"))
        yn_error(o->doc, at, "options.%s of %s: model and messages cannot be dropped or renamed",
                 key, o->owner);
    else
        yn_error(o->doc, at, "options.%s of %s: a parameter name is 1 to %d of a-z, 0-9 and '_'",
                 key, o->owner, PARAM_NAME_MAX);
    return NULL;
}
