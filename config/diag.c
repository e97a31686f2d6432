/* diag.c -- a list of diagnostics "file:line:column: message" (see diag.h). */
#include "diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void sy_diags_add(sy_diags *d, const char *file, int line, int column, const char *fmt, ...)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 16;
        d->items = sy_xrealloc(d->items, d->cap * sizeof *d->items);
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sy_diag *g = &d->items[d->n++];
    g->file = file ? sy_xstrdup(file) : NULL;
    g->line = line;
    g->column = column;
    g->message = sy_xstrdup(msg);
}

void sy_diags_print(const sy_diags *d, FILE *out)
{
    for (size_t i = 0; i < d->n; i++) {
        const sy_diag *g = &d->items[i];
        if (g->file && g->line)
            fprintf(out, "%s:%d:%d: %s\n", g->file, g->line, g->column, g->message);
        else if (g->file)
            fprintf(out, "%s: %s\n", g->file, g->message);
        else
            fprintf(out, "%s\n", g->message);
    }
}

void sy_diags_free(sy_diags *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->items[i].file);
        free(d->items[i].message);
    }
    free(d->items);
    memset(d, 0, sizeof *d);
}
