/* prompts.c -- see prompts.h: reading prompt files, and which version a
 * job gets. */
#include "prompts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "yamlnode.h"

static const char *const file_keys[] = {"versions", "description", NULL};
static const char *const version_keys[] = {"system", "user", NULL};

bool sy_prompt_id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > SY_PROMPT_ID_MAX || id[0] == '.') return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

void sy_template_from_yaml(const struct yn_map *m, const char *where, const char *key, bool required,
                           sy_template *tpl, bool *has)
{
    yaml_node_t *v;
    if (yn_get_text(m, key, required, &v) != 1) return;
    char err[256] = "";
    size_t off = 0;
    memset(tpl, 0, sizeof *tpl);
    if (sy_template_compile(tpl, yn_str(v), err, sizeof err, &off) == 0) {
        *has = true;
        return;
    }
    memset(tpl, 0, sizeof *tpl);
    yn_error_in(m->doc, v, off, "bad template in %s%s of %s: %s (at byte %zu)", where, key,
                m->owner[0] ? m->owner : "the file", err[0] ? err : "syntax error", off);
}

static void load_versions(yn_doc *d, yaml_node_t *node, yaml_node_t *anchor, sy_prompt *p)
{
    yn_map vs;
    if (!yn_map_open(&vs, d, node, anchor, "the prompt file", "versions.", NULL)) return;
    size_t n = (size_t)(node->data.mapping.pairs.top - node->data.mapping.pairs.start);
    p->versions = sy_xcalloc(n + 1, sizeof *p->versions);
    for (yaml_node_pair_t *q = node->data.mapping.pairs.start; q < node->data.mapping.pairs.top; q++) {
        yaml_node_t *k = yn_node(d, q->key), *v = yn_node(d, q->value);
        int64_t num;
        if (!yn_str(k) || !yn_parse_int(yn_str(k), &num) || num < 1 || num > SY_PROMPT_MAX_VERSION) {
            char what[80];
            yn_describe(k, what, sizeof what);
            yn_error(d, k, "a version of prompt '%s' is a whole number from 1 to %d, not %s", p->id,
                     SY_PROMPT_MAX_VERSION, what);
            continue;
        }
        char owner[SY_PROMPT_ID_MAX + 64];
        snprintf(owner, sizeof owner, "version %d of prompt '%s'", (int)num, p->id);
        yn_map m;
        if (!yn_map_open(&m, d, v, k, owner, "", version_keys)) continue;
        sy_prompt_version *pv = &p->versions[p->nversions];
        pv->version = (int)num;
        pv->line = (int)k->start_mark.line + 1;
        bool has_user = false;
        sy_template_from_yaml(&m, "", "system", false, &pv->system, &pv->has_system);
        sy_template_from_yaml(&m, "", "user", true, &pv->user, &has_user);
        if (has_user) p->nversions++;
        else if (pv->has_system) sy_template_free(&pv->system);
    }
    if (n == 0) yn_error(d, node, "prompt '%s' has no versions", p->id);
}

static void prompt_free(sy_prompt *p)
{
    for (size_t i = 0; i < p->nversions; i++) {
        if (p->versions[i].has_system) sy_template_free(&p->versions[i].system);
        sy_template_free(&p->versions[i].user);
    }
    free(p->versions);
    free(p->id);
    free(p->file);
    free(p);
}

/* Read one prompt file; NULL with its errors in diags. */
static sy_prompt *prompt_read(const char *path, const char *id, sy_diags *diags)
{
    size_t before = diags->n;
    sy_prompt *p = sy_xcalloc(1, sizeof *p);
    p->id = sy_xstrdup(id);
    p->file = sy_xstrdup(path);
    yn_doc d;
    yaml_node_t *root;
    if (yn_open(&d, p->file, diags, &root) == 0) {
        yn_map top;
        if (yn_map_open(&top, &d, root, NULL, "the prompt file", "", file_keys)) {
            yaml_node_t *vs = yn_map_get(&top, "versions");
            if (vs) load_versions(&d, vs, yn_map_key(&top, "versions"), p);
            else yn_missing(&top, "versions");
        }
    }
    yn_close(&d);
    if (diags->n == before) return p;
    prompt_free(p);
    return NULL;
}

const sy_prompt *sy_prompt_get(sy_prompt ***list, size_t *n, const char *pipeline_file, const char *id,
                               sy_diags *diags, const char *at_file, int at_line, int at_column)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*list)[i]->id, id)) return (*list)[i];
    if (!sy_prompt_id_ok(id)) {
        sy_diags_add(diags, at_file, at_line, at_column,
                     "prompt ref '%.100s': an id is 1 to %d of A-Z a-z 0-9 . _ - (not starting with '.')", id,
                     SY_PROMPT_ID_MAX);
        return NULL;
    }
    const char *slash = strrchr(pipeline_file, '/');
    sy_buf path;
    sy_buf_init(&path);
    sy_buf_printf(&path, "%.*sprompts/%s.yaml", slash ? (int)(slash - pipeline_file + 1) : 0, pipeline_file, id);
    sy_prompt *p = NULL;
    if (access(sy_buf_cstr(&path), F_OK) != 0)
        sy_diags_add(diags, at_file, at_line, at_column, "prompt ref '%s': no file %s", id, sy_buf_cstr(&path));
    else
        p = prompt_read(sy_buf_cstr(&path), id, diags);
    sy_buf_free(&path);
    if (!p) return NULL;
    *list = sy_xrealloc(*list, (*n + 1) * sizeof **list);
    (*list)[(*n)++] = p;
    return p;
}

const sy_prompt_version *sy_prompt_version_of(const sy_prompt *p, int version)
{
    for (size_t i = 0; p && i < p->nversions; i++)
        if (p->versions[i].version == version) return &p->versions[i];
    return NULL;
}

void sy_prompts_free(sy_prompt **list, size_t n)
{
    for (size_t i = 0; i < n; i++) prompt_free(list[i]);
    free(list);
}

int sy_prompt_pick(int current, int rollout_version, int rollout_bp, const char *key)
{
    if (rollout_bp <= 0 || !rollout_version || !key) return current;
    uint64_t h = sy_hash64(key, strlen(key)) ^ 0x70726f6d70742d76ULL; /* not the model arms' draw */
    h = (h ^ (h >> 33)) * 0xff51afd7ed558ccdULL;
    h = (h ^ (h >> 33)) * 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return (int)(h % 10000) < rollout_bp ? rollout_version : current;
}

int sy_prompt_for_job(const sy_prompt *p, int current, int rollout_version, int rollout_bp, const sy_job *job,
                      char *err, size_t errlen)
{
    const char *pin = sy_job_meta(job, SY_PROMPT_PIN_KEY);
    if (!pin) return sy_prompt_pick(current, rollout_version, rollout_bp,
                                    job->idempotency_key ? job->idempotency_key : job->id);
    int64_t v;
    if (strlen(pin) <= 9 && yn_parse_int(pin, &v) && sy_prompt_version_of(p, (int)v)) return (int)v;
    snprintf(err, errlen, "metadata %s '%.40s' is not a version of prompt '%s'", SY_PROMPT_PIN_KEY, pin, p->id);
    return -1;
}

/* Does tpl use a variable that cur (system and user) does not? Its name. */
static const sy_tpl_part *var_missing(const sy_template *tpl, const sy_prompt_version *cur)
{
    for (size_t i = 0; i < tpl->nparts; i++) {
        const sy_tpl_part *v = &tpl->parts[i];
        if (!v->is_var) continue;
        bool found = false;
        const sy_template *in[2] = {&cur->user, cur->has_system ? &cur->system : NULL};
        for (int k = 0; k < 2 && !found; k++)
            for (size_t j = 0; in[k] && j < in[k]->nparts && !found; j++)
                found = in[k]->parts[j].is_var && in[k]->parts[j].len == v->len &&
                        !memcmp(in[k]->parts[j].text, v->text, v->len);
        if (!found) return v;
    }
    return NULL;
}

size_t sy_prompt_check_vars(const sy_prompt *p, int current, int rollout, const char *task, sy_diags *errors,
                            sy_diags *warnings)
{
    const sy_prompt_version *cur = sy_prompt_version_of(p, current);
    size_t n = 0;
    for (size_t i = 0; cur && i < p->nversions; i++) {
        const sy_prompt_version *v = &p->versions[i];
        if (v == cur) continue;
        const sy_tpl_part *miss = var_missing(&v->user, cur);
        if (!miss && v->has_system) miss = var_missing(&v->system, cur);
        if (!miss) continue;
        bool rolled = v->version == rollout;
        sy_diags_add(rolled ? errors : warnings, p->file, v->line, 0,
                     "version %d of prompt '%s' uses {{%.*s}}, which task '%s' does not give its current "
                     "version %d: %s", v->version, p->id, (int)miss->len, miss->text, task, current,
                     rolled ? "its rollout would fail those jobs" : "a job pinning it must carry it");
        n += rolled;
    }
    return n;
}
