/* input.c -- submit's readers: JSONL and CSV records into checked jobs
 * (see input.h). */
#include "input.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "util.h"

static void add_metadata(const sy_input *in, json_t *job)
{
    json_t *meta = json_object_get(job, "metadata");
    if (!in->nmeta) return;
    if (!json_is_object(meta)) {
        meta = json_object();
        json_object_set_new(job, "metadata", meta);
    }
    for (int i = 0; i < in->nmeta; i++) {
        const char *eq = strchr(in->meta[i], '=');
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)(eq - in->meta[i]), in->meta[i]);
        json_object_set_new(meta, key, json_string(eq + 1));
    }
}

void sy_input_take(const sy_input *in, json_t *job, const char *where)
{
    if (in->task && !json_object_get(job, "task")) json_object_set_new(job, "task", json_string(in->task));
    json_t *key = in->key_col ? json_object_get(json_object_get(job, "vars"), in->key_col) : NULL;
    if (json_is_string(key) && !json_object_get(job, "idempotency_key"))
        json_object_set(job, "idempotency_key", key);
    add_metadata(in, job);
    char *text = json_dumps(job, JSON_COMPACT);
    sy_job j;
    char err[512];
    if (!text || sy_job_decode(text, strlen(text), &j, err, sizeof err) != 0) {
        in->reject(in->ctx, where, text ? err : "cannot encode");
        free(text);
        return;
    }
    in->job(in->ctx, &j);
    sy_job_free(&j);
    free(text);
}

/* ---- JSONL ---- */

static void jsonl_line(const sy_input *in, const char *line, size_t len, long lineno)
{
    char where[600];
    snprintf(where, sizeof where, "%s:%ld", in->file, lineno);
    json_error_t je;
    json_t *job = json_loadb(line, len, 0, &je);
    if (!json_is_object(job)) in->reject(in->ctx, where, job ? "a job must be a JSON object" : je.text);
    else sy_input_take(in, job, where);
    json_decref(job);
}

void sy_input_jsonl(const sy_input *in, FILE *f)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    for (long lineno = 1; (n = getline(&line, &cap, f)) >= 0; lineno++) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
        size_t skip = strspn(line, " \t");
        if ((size_t)n > skip) jsonl_line(in, line, (size_t)n, lineno);
    }
    free(line);
}

/* ---- CSV (RFC 4180) ---- */

typedef struct csv_row {
    char **fields;
    size_t n, cap;
} csv_row;

static void row_clear(csv_row *r)
{
    for (size_t i = 0; i < r->n; i++) free(r->fields[i]);
    r->n = 0;
}

/* Read one record (quoted fields may span lines). 0 at end of input. */
static int csv_read(FILE *f, csv_row *row, long *lineno)
{
    row_clear(row);
    sy_buf field;
    sy_buf_init(&field);
    int c, quoted = 0, any = 0;
    while ((c = fgetc(f)) != EOF) {
        any = 1;
        if (quoted) {
            if (c == '"') {
                int d = fgetc(f);
                if (d == '"') sy_buf_putc(&field, '"');
                else {
                    quoted = 0;
                    if (d != EOF) ungetc(d, f);
                }
            } else {
                if (c == '\n') (*lineno)++;
                sy_buf_putc(&field, (char)c);
            }
        } else if (c == '"' && field.len == 0) quoted = 1;
        else if (c == ',' || c == '\n') {
            if (row->n == row->cap) row->fields = sy_xrealloc(row->fields, (row->cap = row->cap * 2 + 8) * sizeof(char *));
            row->fields[row->n++] = sy_xstrndup(field.data ? field.data : "", field.len);
            sy_buf_reset(&field);
            if (c == '\n') {
                (*lineno)++;
                break;
            }
        } else if (c != '\r') sy_buf_putc(&field, (char)c);
    }
    if (c == EOF && any) {
        if (row->n == row->cap) row->fields = sy_xrealloc(row->fields, (row->cap = row->cap * 2 + 8) * sizeof(char *));
        row->fields[row->n++] = sy_xstrndup(field.data ? field.data : "", field.len);
    }
    sy_buf_free(&field);
    return any;
}

static json_t *csv_job(const sy_input *in, const csv_row *head, const csv_row *row, long rowno)
{
    json_t *job = json_object(), *vars = json_object(), *meta = json_object();
    for (size_t i = 0; i < head->n && i < row->n; i++) {
        const char *col = head->fields[i];
        json_t *v = json_string(row->fields[i]);
        if (!v) v = json_string("");
        if (!strcmp(col, in->id_col)) json_object_set_new(job, "id", v);
        else if (in->task_col && !strcmp(col, in->task_col)) json_object_set_new(job, "task", v);
        else if (in->meta_cols && sy_list_contains(in->meta_cols, col)) json_object_set_new(meta, col, v);
        else json_object_set_new(vars, col, v);
    }
    if (!json_object_get(job, "id")) {
        const char *base = strrchr(in->file, '/') ? strrchr(in->file, '/') + 1 : in->file;
        char id[300];
        snprintf(id, sizeof id, "%s-%ld", base, rowno);
        json_object_set_new(job, "id", json_string(id));
    }
    json_object_set_new(job, "vars", vars);
    json_object_set_new(job, "metadata", meta);
    return job;
}

void sy_input_csv(const sy_input *in, FILE *f)
{
    csv_row head = {0}, row = {0};
    long lineno = 1, start;
    if (!csv_read(f, &head, &lineno)) return;
    for (long rowno = 1; (start = lineno, csv_read(f, &row, &lineno)); rowno++) {
        if (row.n == 1 && !row.fields[0][0]) continue; /* blank line */
        char where[600];
        snprintf(where, sizeof where, "%s:%ld", in->file, start);
        if (row.n != head.n) {
            char why[128];
            snprintf(why, sizeof why, "%zu fields, the header has %zu", row.n, head.n);
            in->reject(in->ctx, where, why);
            continue;
        }
        json_t *job = csv_job(in, &head, &row, rowno);
        sy_input_take(in, job, where);
        json_decref(job);
    }
    row_clear(&head);
    row_clear(&row);
    free(head.fields);
    free(row.fields);
}
