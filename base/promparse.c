/* promparse.c -- see promparse.h. */
#include "promparse.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool name_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static bool name_char(unsigned char c)
{
    return name_start(c) || (c >= '0' && c <= '9');
}

/* An identifier at line[*i] into out (size SY_PROMP_NAME); false when none
 * or too long. colons: allowed (metric names) or not (label names). */
static bool read_name(const char *line, size_t len, size_t *i, char *out, bool colons)
{
    size_t n = 0;
    if (*i >= len || !name_start((unsigned char)line[*i]) || (!colons && line[*i] == ':')) return false;
    while (*i < len && name_char((unsigned char)line[*i]) && (colons || line[*i] != ':')) {
        if (n + 1 >= SY_PROMP_NAME) return false;
        out[n++] = line[(*i)++];
    }
    out[n] = 0;
    return true;
}

/* A quoted label value at line[*i] (the opening quote), escapes decoded. */
static bool read_value(const char *line, size_t len, size_t *i, char *out)
{
    size_t n = 0;
    if (*i >= len || line[*i] != '"') return false;
    for ((*i)++; *i < len; (*i)++) {
        char c = line[*i];
        if (c == '"') {
            (*i)++;
            out[n] = 0;
            return true;
        }
        if (c == '\\') {
            if (++*i >= len) return false;
            c = line[*i] == 'n' ? '\n' : line[*i];
            if (c != '\n' && c != '\\' && c != '"') return false;
        }
        if (n + 1 >= SY_PROMP_VALUE) return false;
        out[n++] = c;
    }
    return false;
}

static void skip_blanks(const char *line, size_t len, size_t *i)
{
    while (*i < len && (line[*i] == ' ' || line[*i] == '\t')) (*i)++;
}

/* The number at line[*i] up to a blank or the end. */
static bool read_number(const char *line, size_t len, size_t *i, double *out)
{
    char buf[64];
    size_t n = 0;
    while (*i < len && line[*i] != ' ' && line[*i] != '\t') {
        if (n + 1 >= sizeof buf) return false;
        buf[n++] = line[(*i)++];
    }
    buf[n] = 0;
    if (!n) return false;
    if (!strcmp(buf, "+Inf") || !strcmp(buf, "Inf")) { *out = INFINITY; return true; }
    if (!strcmp(buf, "-Inf")) { *out = -INFINITY; return true; }
    if (!strcmp(buf, "NaN")) { *out = NAN; return true; }
    for (size_t k = 0; k < n; k++) /* digits, sign, point, exponent only (no hex, no "inf" words) */
        if (!strchr("0123456789+-.eE", buf[k])) return false;
    char *end;
    *out = strtod(buf, &end);
    return end == buf + n;
}

int sy_promp_line(const char *line, size_t len, sy_promp_sample *out)
{
    size_t i = 0;
    if (len && line[len - 1] == '\r') len--;
    skip_blanks(line, len, &i);
    if (i == len || line[i] == '#') return 0;
    if (len > SY_PROMP_MAX_LINE) return -1;
    memset(out, 0, sizeof *out);
    if (!read_name(line, len, &i, out->name, true)) return -1;
    if (i < len && line[i] == '{') {
        i++;
        for (;;) {
            skip_blanks(line, len, &i);
            if (i < len && line[i] == '}') { i++; break; }
            if (out->nlabels == SY_PROMP_LABELS) return -1;
            sy_promp_label *l = &out->labels[out->nlabels];
            if (!read_name(line, len, &i, l->name, false)) return -1;
            skip_blanks(line, len, &i);
            if (i >= len || line[i++] != '=') return -1;
            skip_blanks(line, len, &i);
            if (!read_value(line, len, &i, l->value)) return -1;
            out->nlabels++;
            skip_blanks(line, len, &i);
            if (i < len && line[i] == ',') { i++; continue; }
            if (i < len && line[i] == '}') { i++; break; }
            return -1;
        }
    }
    if (i >= len || (line[i] != ' ' && line[i] != '\t')) return -1;
    skip_blanks(line, len, &i);
    if (!read_number(line, len, &i, &out->value)) return -1;
    skip_blanks(line, len, &i);
    if (i < len) { /* an optional timestamp, then nothing */
        double ts;
        if (!read_number(line, len, &i, &ts)) return -1;
        skip_blanks(line, len, &i);
        if (i < len) return -1;
    }
    return 1;
}

void sy_promp_parse(sy_promp_page *p, const char *text, size_t len)
{
    p->n = p->bad = 0;
    p->truncated = false;
    sy_promp_sample s;
    for (size_t at = 0; at < len;) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - text) : len;
        int r = sy_promp_line(text + at, end - at, &s);
        if (r < 0) p->bad++;
        else if (r > 0) {
            if (p->n == SY_PROMP_MAX_SAMPLES) {
                p->truncated = true;
                break;
            }
            if (p->n == p->cap) {
                p->cap = p->cap ? p->cap * 2 : 64;
                p->s = sy_xrealloc(p->s, p->cap * sizeof *p->s);
            }
            p->s[p->n++] = s;
        }
        at = end + 1;
    }
}

void sy_promp_free(sy_promp_page *p)
{
    free(p->s);
    memset(p, 0, sizeof *p);
}

const char *sy_promp_label_of(const sy_promp_sample *s, const char *name)
{
    for (size_t i = 0; i < s->nlabels; i++)
        if (!strcmp(s->labels[i].name, name)) return s->labels[i].value;
    return NULL;
}

double sy_promp_sum(const sy_promp_page *p, const char *name, const char *const *want, size_t nwant, bool *found)
{
    double sum = 0;
    bool any = false;
    for (size_t i = 0; i < p->n; i++) {
        const sy_promp_sample *s = &p->s[i];
        if (strcmp(s->name, name)) continue;
        size_t k = 0;
        for (; k < nwant; k++) {
            const char *v = sy_promp_label_of(s, want[2 * k]);
            if (!v || strcmp(v, want[2 * k + 1])) break;
        }
        if (k < nwant) continue;
        any = true;
        if (isfinite(s->value)) sum += s->value;
    }
    if (found) *found = any;
    return sum;
}
