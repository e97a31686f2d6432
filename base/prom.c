/* prom.c -- see prom.h. */
#include "prom.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double sy_prom_bounds[SY_PROM_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                1,     2.5,  5,     10,   30,  120, 600};

static const char *type_name(sy_prom_type t)
{
    return t == SY_PROM_COUNTER ? "counter" : t == SY_PROM_GAUGE ? "gauge" : "histogram";
}

void sy_prom_escape(sy_buf *b, const char *v)
{
    for (const char *p = v ? v : ""; *p; p++) {
        if (*p == '\\') sy_buf_append(b, "\\\\", 2);
        else if (*p == '"') sy_buf_append(b, "\\\"", 2);
        else if (*p == '\n') sy_buf_append(b, "\\n", 2);
        else sy_buf_putc(b, *p);
    }
}

void sy_prom_family(sy_buf *b, const char *name, const char *help, sy_prom_type type)
{
    sy_buf_printf(b, "# HELP %s ", name);
    for (const char *p = help; *p; p++) { /* HELP escapes \ and LF only */
        if (*p == '\\') sy_buf_append(b, "\\\\", 2);
        else if (*p == '\n') sy_buf_append(b, "\\n", 2);
        else sy_buf_putc(b, *p);
    }
    sy_buf_printf(b, "\n# TYPE %s %s\n", name, type_name(type));
}

static void labels(sy_buf *b, const sy_prom_label *l, size_t nl, const char *le)
{
    if (!nl && !le) return;
    sy_buf_putc(b, '{');
    for (size_t i = 0; i < nl; i++) {
        if (i) sy_buf_putc(b, ',');
        sy_buf_printf(b, "%s=\"", l[i].name);
        sy_prom_escape(b, l[i].value);
        sy_buf_putc(b, '"');
    }
    if (le) sy_buf_printf(b, "%sle=\"%s\"", nl ? "," : "", le);
    sy_buf_putc(b, '}');
}

static void value(sy_buf *b, double v)
{
    if (isnan(v)) sy_buf_puts(b, "NaN");
    else if (isinf(v)) sy_buf_puts(b, v > 0 ? "+Inf" : "-Inf");
    else if (v == (double)(int64_t)v && fabs(v) < 9e15) sy_buf_printf(b, "%lld", (long long)v);
    else sy_buf_printf(b, "%.9g", v);
}

void sy_prom_sample(sy_buf *b, const char *name, const sy_prom_label *l, size_t nl, double v)
{
    sy_buf_puts(b, name);
    labels(b, l, nl, NULL);
    sy_buf_putc(b, ' ');
    value(b, v);
    sy_buf_putc(b, '\n');
}

void sy_prom_observe(sy_prom_hist *h, double s)
{
    if (!(s >= 0)) s = 0; /* NaN or a clock step back */
    size_t i = 0;
    while (i < SY_PROM_BUCKETS && s > sy_prom_bounds[i]) i++;
    h->counts[i]++;
    h->sum += s;
    h->count++;
}

void sy_prom_hist_write(sy_buf *b, const char *name, const sy_prom_label *l, size_t nl,
                        const sy_prom_hist *h)
{
    uint64_t cum = 0;
    for (size_t i = 0; i <= SY_PROM_BUCKETS; i++) {
        cum += h->counts[i];
        char le[32];
        if (i < SY_PROM_BUCKETS) snprintf(le, sizeof le, "%g", sy_prom_bounds[i]);
        else snprintf(le, sizeof le, "+Inf");
        sy_buf_printf(b, "%s_bucket", name);
        labels(b, l, nl, le);
        sy_buf_printf(b, " %llu\n", (unsigned long long)cum);
    }
    sy_buf_printf(b, "%s_sum", name);
    labels(b, l, nl, NULL);
    sy_buf_putc(b, ' ');
    value(b, h->sum);
    sy_buf_printf(b, "\n%s_count", name);
    labels(b, l, nl, NULL);
    sy_buf_printf(b, " %llu\n", (unsigned long long)h->count);
}

void sy_prom_capset_init(sy_prom_capset *s, size_t cap)
{
    s->values = sy_xcalloc(cap + 1, sizeof *s->values);
    s->n = 0;
    s->cap = cap;
}

void sy_prom_capset_free(sy_prom_capset *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->values[i]);
    free(s->values);
    s->values = NULL;
    s->n = 0;
}

size_t sy_prom_capset_slot(sy_prom_capset *s, const char *v)
{
    if (!v) v = "";
    if (strlen(v) > 128) return s->cap;
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->values[i], v)) return i;
    if (s->n == s->cap) return s->cap;
    s->values[s->n] = sy_xstrdup(v);
    return s->n++;
}

const char *sy_prom_capset_value(const sy_prom_capset *s, size_t slot)
{
    return slot < s->n ? s->values[slot] : SY_PROM_OTHER;
}
