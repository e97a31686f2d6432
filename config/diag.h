/* diag.h -- a list of diagnostics: "file:line:column: message".
 *
 * Config layer. How everything that reads a pipeline file reports what is
 * wrong: the YAML reader (yamlnode.c) adds syntax, type and key errors at
 * the node's place, the pipeline loader (pipeline.c) adds errors of meaning
 * (unknown references, duplicate names) and sorts them; `switchyard check`
 * and every command that loads pipelines print them. All errors are kept,
 * not just the first. */
#ifndef SY_DIAG_H
#define SY_DIAG_H

#include <stddef.h>
#include <stdio.h>

/* One diagnostic: "file:line:column: message". */
typedef struct sy_diag {
    char *file;
    int line, column; /* 1-based; 0 when not tied to a place */
    char *message;
} sy_diag;

typedef struct sy_diags {
    sy_diag *items;
    size_t n, cap;
} sy_diags;

/* Append one diagnostic (file NULL or line 0 when not tied to a place). */
void sy_diags_add(sy_diags *d, const char *file, int line, int column, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void sy_diags_print(const sy_diags *d, FILE *out); /* one line each */
void sy_diags_free(sy_diags *d);

#endif
