/* yamlnode.c -- typed, position-aware reading of one YAML file (see
 * yamlnode.h).
 *
 * Kept apart from pipeline.c so that the loader reads like the file format
 * ("a provider has a kind, a base_url...") while everything about YAML
 * itself lives here: libyaml's document API, marks (0-based) turned into
 * 1-based line:column, the type and range checks with uniform messages,
 * ${NAME} expansion, and mapping a byte of a scalar's value back to its
 * place in the source text. */
#include "yamlnode.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "spell.h"
#include "util.h"

#define LABEL_MAX 512

/* ---- reading the file ----------------------------------------------------- */

static const char *file_kind(mode_t m)
{
    return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" : S_ISCHR(m) ? "a character device"
         : S_ISBLK(m) ? "a block device" : S_ISSOCK(m) ? "a socket" : "not a regular file";
}

/* The file's bytes, or -1 (reported). Only a regular file of at most
 * YN_MAX_FILE_BYTES is read: a directory, FIFO or device (/dev/zero) is
 * refused before a byte is read, a larger file when it is seen to be. */
static int read_all(yn_doc *d)
{
    int fd = open(d->file, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* a FIFO must not block the open */
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        sy_diags_add(d->diags, d->file, 0, 0, "cannot read: %s", strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        sy_diags_add(d->diags, d->file, 0, 0, "cannot read: %s, not a regular file", file_kind(st.st_mode));
        close(fd);
        return -1;
    }
    sy_buf b;
    sy_buf_init(&b);
    char chunk[65536];
    ssize_t n = 0;
    while (b.len <= YN_MAX_FILE_BYTES && (n = read(fd, chunk, sizeof chunk)) != 0) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        sy_buf_append(&b, chunk, (size_t)n);
    }
    int saved = errno;
    close(fd);
    if (n < 0 || b.len > YN_MAX_FILE_BYTES) {
        if (n < 0) sy_diags_add(d->diags, d->file, 0, 0, "cannot read: %s", strerror(saved));
        else
            sy_diags_add(d->diags, d->file, 0, 0, "cannot read: larger than %d MB, the limit of a pipeline file",
                         YN_MAX_FILE_BYTES / (1024 * 1024));
        sy_buf_free(&b);
        return -1;
    }
    sy_buf_cstr(&b);
    d->len = b.len;
    d->text = b.data ? b.data : sy_xstrdup("");
    return 0;
}

/* Line starts as libyaml counts lines: after "\n", "\r\n" or a lone "\r". */
static void index_lines(yn_doc *d)
{
    size_t cap = 64;
    d->line_start = sy_xmalloc(cap * sizeof *d->line_start);
    d->line_start[0] = 0;
    d->nlines = 1;
    for (size_t i = 0; i < d->len; i++) {
        char c = d->text[i];
        if (c != '\n' && c != '\r') continue;
        if (c == '\r' && i + 1 < d->len && d->text[i + 1] == '\n') i++;
        if (d->nlines == cap) {
            cap *= 2;
            d->line_start = sy_xrealloc(d->line_start, cap * sizeof *d->line_start);
        }
        d->line_start[d->nlines++] = i + 1;
    }
}

/* 1-based place of a byte offset of the file (for reader errors). */
static void place_of_offset(const yn_doc *d, size_t off, int *line, int *column)
{
    size_t l = 0;
    while (l + 1 < d->nlines && d->line_start[l + 1] <= off) l++;
    int col = 1;
    for (size_t i = d->line_start[l]; i < off && i < d->len; i++)
        if (((unsigned char)d->text[i] & 0xC0) != 0x80) col++;
    *line = (int)l + 1;
    *column = col;
}

static void syntax_error(yn_doc *d, const yaml_parser_t *p)
{
    const char *problem = p->problem ? p->problem : "cannot parse";
    int line, col;
    if (p->error == YAML_READER_ERROR) {
        place_of_offset(d, p->problem_offset, &line, &col);
        sy_diags_add(d->diags, d->file, line, col, "invalid text: %s", problem);
        return;
    }
    line = (int)p->problem_mark.line + 1;
    col = (int)p->problem_mark.column + 1;
    if (p->context)
        sy_diags_add(d->diags, d->file, line, col, "YAML syntax error: %s (%s at line %d, column %d)",
                     problem, p->context, (int)p->context_mark.line + 1,
                     (int)p->context_mark.column + 1);
    else
        sy_diags_add(d->diags, d->file, line, col, "YAML syntax error: %s", problem);
}

/* A pipeline file is one document; a second one is a mistake. */
static int check_single_document(yn_doc *d, yaml_parser_t *p)
{
    yaml_document_t extra;
    if (!yaml_parser_load(p, &extra)) {
        syntax_error(d, p);
        return -1;
    }
    yaml_node_t *root = yaml_document_get_root_node(&extra);
    if (root)
        yn_error(d, root, "a pipeline file holds one YAML document; this is a second one");
    yaml_document_delete(&extra);
    return root ? -1 : 0;
}

/* libyaml's loader takes time quadratic in the depth of nesting (40,000
 * levels, an 80 KB file of '[': 3 s), and a pipeline needs a few levels.
 * So the events are read once first, cheaply, and a file is refused at its
 * first collection nested deeper than YN_MAX_DEPTH. Syntax errors are left
 * to the load, which reports them. */
static int check_depth(yn_doc *d)
{
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)d->text, d->len);
    int depth = 0, rc = 0;
    yaml_event_t e;
    while (rc == 0 && yaml_parser_parse(&p, &e)) {
        yaml_event_type_t type = e.type;
        if (type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT) {
            if (++depth > YN_MAX_DEPTH) {
                sy_diags_add(d->diags, d->file, (int)e.start_mark.line + 1, (int)e.start_mark.column + 1,
                             "nested deeper than %d levels", YN_MAX_DEPTH);
                rc = -1;
            }
        } else if (type == YAML_SEQUENCE_END_EVENT || type == YAML_MAPPING_END_EVENT) {
            depth--;
        }
        yaml_event_delete(&e);
        if (type == YAML_STREAM_END_EVENT) break;
    }
    yaml_parser_delete(&p);
    return rc;
}

int yn_open(yn_doc *d, const char *file, sy_diags *diags, yaml_node_t **root)
{
    memset(d, 0, sizeof *d);
    d->file = file;
    d->diags = diags;
    *root = NULL;
    if (read_all(d) != 0) return -1;
    index_lines(d);
    if (check_depth(d) != 0) return -1;
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)d->text, d->len);
    int rc = -1;
    if (!yaml_parser_load(&p, &d->doc)) {
        syntax_error(d, &p);
    } else {
        d->loaded = true;
        *root = yaml_document_get_root_node(&d->doc);
        if (!*root)
            yn_error(d, NULL, "the file is empty (a pipeline file starts with 'version: 1')");
        else if (check_single_document(d, &p) == 0)
            rc = 0;
    }
    yaml_parser_delete(&p);
    if (rc != 0) *root = NULL;
    return rc;
}

void yn_close(yn_doc *d)
{
    if (d->loaded) yaml_document_delete(&d->doc);
    free(d->text);
    free(d->line_start);
    memset(d, 0, sizeof *d);
}

/* ---- diagnostics ------------------------------------------------------------ */

static void verror_at(yn_doc *d, int line, int column, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    sy_diags_add(d->diags, d->file, line, column, "%s", msg);
}

void yn_error(yn_doc *d, const yaml_node_t *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int line = at ? (int)at->start_mark.line + 1 : 1;
    int col = at ? (int)at->start_mark.column + 1 : 1;
    verror_at(d, line, col, fmt, ap);
    va_end(ap);
}

void yn_error_in(yn_doc *d, const yaml_node_t *scalar, size_t offset, const char *fmt, ...)
{
    int line, col;
    if (!yn_scalar_pos(d, scalar, offset, &line, &col)) {
        line = (int)scalar->start_mark.line + 1;
        col = (int)scalar->start_mark.column + 1;
    }
    va_list ap;
    va_start(ap, fmt);
    verror_at(d, line, col, fmt, ap);
    va_end(ap);
}

/* ---- positions inside scalars --------------------------------------------- */

static size_t utf8_len(unsigned char lead)
{
    if (lead < 0x80) return 1;
    if ((lead & 0xE0) == 0xC0) return 2;
    if ((lead & 0xF0) == 0xE0) return 3;
    if ((lead & 0xF8) == 0xF0) return 4;
    return 1;
}

static size_t utf8_cp_len(unsigned long cp)
{
    return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/* Code points in s[0..n). */
static int count_chars(const char *s, size_t n)
{
    int c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) c++;
    return c;
}

/* Byte offset of a 0-based mark (column counted in characters). */
static bool mark_offset(const yn_doc *d, yaml_mark_t m, size_t *off)
{
    if (m.line >= d->nlines) return false;
    size_t p = d->line_start[m.line];
    for (size_t c = 0; c < m.column; c++) {
        if (p >= d->len) return false;
        p += utf8_len((unsigned char)d->text[p]);
    }
    if (p > d->len) return false;
    *off = p;
    return true;
}

/* Source bytes and value bytes of the escape at src (after the backslash). */
static bool escape_size(const char *src, size_t avail, size_t *src_len, size_t *val_len)
{
    if (avail < 1) return false;
    size_t hex = src[0] == 'x' ? 2 : src[0] == 'u' ? 4 : src[0] == 'U' ? 8 : 0;
    if (hex) {
        if (avail < 1 + hex) return false;
        char digits[9];
        memcpy(digits, src + 1, hex);
        digits[hex] = '\0';
        *src_len = 2 + hex;
        *val_len = utf8_cp_len(strtoul(digits, NULL, 16));
        return true;
    }
    *src_len = 2;
    switch (src[0]) {
    case 'N': case '_': *val_len = 2; break;
    case 'L': case 'P': *val_len = 3; break;
    default: *val_len = 1;
    }
    return true;
}

/* Walk a one-line quoted scalar from its opening quote up to value byte off;
 * returns the 0-based column reached. */
static bool quoted_column(const yn_doc *d, const yaml_node_t *n, size_t off, int *column)
{
    size_t p;
    if (!mark_offset(d, n->start_mark, &p) || p >= d->len) return false;
    bool dq = n->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    if (d->text[p] != (dq ? '"' : '\'')) return false;
    p++;
    int col = (int)n->start_mark.column + 1;
    size_t v = 0;
    while (v < off) {
        if (p >= d->len) return false;
        size_t src_len, val_len;
        int width;
        if (dq && d->text[p] == '\\') {
            if (!escape_size(d->text + p + 1, d->len - p - 1, &src_len, &val_len)) return false;
            width = (int)src_len;
        } else if (!dq && d->text[p] == '\'' && p + 1 < d->len && d->text[p + 1] == '\'') {
            src_len = 2, val_len = 1, width = 2;
        } else {
            src_len = val_len = utf8_len((unsigned char)d->text[p]);
            width = 1;
        }
        if (v + val_len > off) break; /* inside an escape: point at it */
        p += src_len;
        v += val_len;
        col += width;
    }
    *column = col;
    return true;
}

/* A literal block scalar keeps every source line: value line k is the k-th
 * line after the indicator, minus its indentation. */
static bool literal_place(const yn_doc *d, const yaml_node_t *n, size_t off, int *line,
                          int *column)
{
    const char *v = (const char *)n->data.scalar.value;
    size_t k = 0, bol = 0;
    for (size_t i = 0; i < off; i++)
        if (v[i] == '\n') k++, bol = i + 1;
    size_t eol = bol;
    while (eol < n->data.scalar.length && v[eol] != '\n') eol++;
    size_t l = n->start_mark.line + 1 + k;
    if (l >= d->nlines) return false;
    size_t s = d->line_start[l], e = l + 1 < d->nlines ? d->line_start[l + 1] : d->len;
    while (e > s && (d->text[e - 1] == '\n' || d->text[e - 1] == '\r')) e--;
    size_t vlen = eol - bol;
    if (e - s < vlen || memcmp(d->text + e - vlen, v + bol, vlen) != 0) return false;
    *line = (int)l;
    *column = count_chars(d->text + s, e - s - vlen) + count_chars(v + bol, off - bol);
    return true;
}

bool yn_scalar_pos(const yn_doc *d, const yaml_node_t *n, size_t offset, int *line,
                   int *column)
{
    if (!n || n->type != YAML_SCALAR_NODE || offset > n->data.scalar.length) return false;
    bool one_line = n->start_mark.line == n->end_mark.line;
    int l = (int)n->start_mark.line, c;
    switch (n->data.scalar.style) {
    case YAML_PLAIN_SCALAR_STYLE:
        if (!one_line) return false;
        c = (int)n->start_mark.column + count_chars((const char *)n->data.scalar.value, offset);
        break;
    case YAML_SINGLE_QUOTED_SCALAR_STYLE:
    case YAML_DOUBLE_QUOTED_SCALAR_STYLE:
        if (!one_line || !quoted_column(d, n, offset, &c)) return false;
        break;
    case YAML_LITERAL_SCALAR_STYLE:
        if (!literal_place(d, n, offset, &l, &c)) return false;
        break;
    default:
        return false;
    }
    *line = l + 1;
    *column = c + 1;
    return true;
}

/* ---- nodes ----------------------------------------------------------------- */

yaml_node_t *yn_node(yn_doc *d, int index)
{
    return yaml_document_get_node(&d->doc, index);
}

bool yn_is_null(const yaml_node_t *n)
{
    if (!n || n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *s = (const char *)n->data.scalar.value;
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

const char *yn_str(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

void yn_describe(const yaml_node_t *n, char *out, size_t outlen)
{
    if (!n || yn_is_null(n)) {
        snprintf(out, outlen, "no value");
    } else if (n->type == YAML_MAPPING_NODE) {
        snprintf(out, outlen, "a mapping");
    } else if (n->type == YAML_SEQUENCE_NODE) {
        snprintf(out, outlen, "a list");
    } else {
        const char *s = (const char *)n->data.scalar.value;
        size_t len = strcspn(s, "\r\n");
        bool cut = len > 40 || s[len];
        if (len > 40) len = 40;
        while (len && ((unsigned char)s[len] & 0xC0) == 0x80) len--; /* whole characters */
        bool quoted = n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        snprintf(out, outlen, "%s'%.*s%s'", quoted ? "the string " : "", (int)len, s,
                 cut ? "..." : "");
    }
}

/* ---- mappings -------------------------------------------------------------- */

/* "prompt.id of task 'x'", "version" (top level); key "" names the map. */
static void label(const yn_map *m, const char *key, char *out, size_t n)
{
    size_t plen = strlen(m->path);
    if (!*key && plen) plen--; /* the map itself: drop the '.' */
    const char *of = *m->owner ? " of " : "";
    if (!*key && !plen)
        snprintf(out, n, "%s", *m->owner ? m->owner : "the top level");
    else
        snprintf(out, n, "%.*s%s%s%s", (int)plen, m->path, key, of, m->owner);
}

/* "in task 'x'", "in prompt of task 'x'", "at the top level". */
static void where(const yn_map *m, char *out, size_t n)
{
    char what[LABEL_MAX];
    label(m, "", what, sizeof what);
    snprintf(out, n, "%s %s", !*m->owner && !*m->path ? "at" : "in", what);
}

static bool is_known(const char *key, const char *const *known)
{
    for (; *known; known++)
        if (!strcmp(*known, key)) return true;
    return false;
}

static size_t count_known(const char *const *known)
{
    size_t n = 0;
    while (known[n]) n++;
    return n;
}

static void unknown_key(const yn_map *m, const yaml_node_t *k, const char *const *known)
{
    char at[LABEL_MAX + 4];
    where(m, at, sizeof at);
    const char *key = yn_str(k);
    const char *near = sy_closest(key, known, count_known(known));
    char hint[160] = "";
    if (near) snprintf(hint, sizeof hint, " (did you mean '%s'?)", near);
    yn_error(m->doc, k, "unknown key '%s' %s%s", key, at, hint);
}

static void check_keys(const yn_map *m, const char *const *known)
{
    yaml_node_pair_t *first = m->node->data.mapping.pairs.start;
    for (yaml_node_pair_t *p = first; p < m->node->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yn_node(m->doc, p->key);
        if (!k || k->type != YAML_SCALAR_NODE) {
            yn_error(m->doc, k, "a key must be a plain name, not %s",
                     k && k->type == YAML_MAPPING_NODE ? "a mapping" : "a list");
            continue;
        }
        if (!known) continue;
        if (!is_known(yn_str(k), known)) {
            unknown_key(m, k, known);
            continue;
        }
        for (yaml_node_pair_t *q = first; q < p; q++) {
            yaml_node_t *prev = yn_node(m->doc, q->key);
            if (yn_str(prev) && !strcmp(yn_str(prev), yn_str(k))) {
                char at[LABEL_MAX + 4];
                where(m, at, sizeof at);
                yn_error(m->doc, k, "duplicate key '%s' %s (first at line %d)", yn_str(k), at, (int)prev->start_mark.line + 1);
                break;
            }
        }
    }
}

bool yn_map_open(yn_map *m, yn_doc *d, yaml_node_t *node, yaml_node_t *anchor,
                 const char *owner, const char *path, const char *const *known)
{
    m->doc = d;
    m->node = node;
    m->anchor = anchor ? anchor : node;
    m->owner = owner;
    m->path = path;
    m->known = known;
    if (!node || node->type != YAML_MAPPING_NODE) {
        char what[LABEL_MAX], got[80];
        label(m, "", what, sizeof what);
        yn_describe(node, got, sizeof got);
        yn_error(d, node ? node : anchor, "%s must be a mapping, got %s", what, got);
        m->node = NULL;
        return false;
    }
    check_keys(m, known);
    return true;
}

static yaml_node_pair_t *find_pair(const yn_map *m, const char *key)
{
    if (!m->node) return NULL;
    for (yaml_node_pair_t *p = m->node->data.mapping.pairs.start;
         p < m->node->data.mapping.pairs.top; p++) {
        const char *k = yn_str(yn_node(m->doc, p->key));
        if (k && !strcmp(k, key)) return p;
    }
    return NULL;
}

yaml_node_t *yn_map_get(const yn_map *m, const char *key)
{
    yaml_node_pair_t *p = find_pair(m, key);
    return p ? yn_node(m->doc, p->value) : NULL;
}

yaml_node_t *yn_map_key(const yn_map *m, const char *key)
{
    yaml_node_pair_t *p = find_pair(m, key);
    return p ? yn_node(m->doc, p->key) : NULL;
}

int yn_map_sub(const yn_map *m, const char *key, const char *const *known, char *pathbuf,
               size_t pathlen, yn_map *sub)
{
    yaml_node_t *v = yn_map_get(m, key);
    if (!v) return 0;
    snprintf(pathbuf, pathlen, "%s%s.", m->path, key);
    return yn_map_open(sub, m->doc, v, yn_map_key(m, key), m->owner, pathbuf, known) ? 1 : -1;
}

/* ---- typed values ------------------------------------------------------------ */

/* Is there an unknown key in m that is a misspelling of key? */
static bool misspelt(const yn_map *m, const char *key)
{
    if (!m->node || !m->known) return false;
    for (yaml_node_pair_t *p = m->node->data.mapping.pairs.start;
         p < m->node->data.mapping.pairs.top; p++) {
        const char *k = yn_str(yn_node(m->doc, p->key));
        if (k && !is_known(k, m->known) && sy_closest(k, &key, 1)) return true;
    }
    return false;
}

void yn_missing(const yn_map *m, const char *key)
{
    if (misspelt(m, key)) return;
    char at[LABEL_MAX + 4];
    where(m, at, sizeof at);
    yn_error(m->doc, m->anchor, "missing required key '%s' %s", key, at);
}

/* The value of key when present and not null; *rc is the getter's result
 * when it returns NULL. */
static yaml_node_t *value_of(const yn_map *m, const char *key, bool required, int *rc)
{
    yaml_node_t *v = yn_map_get(m, key);
    if (!v) {
        if (required) yn_missing(m, key);
        *rc = 0;
        return NULL;
    }
    if (yn_is_null(v) || v->type != YAML_SCALAR_NODE) {
        char what[LABEL_MAX], got[80];
        label(m, key, what, sizeof what);
        yn_describe(v, got, sizeof got);
        if (yn_is_null(v))
            yn_error(m->doc, v, "%s has no value", what);
        else
            yn_error(m->doc, v, "%s must be a single value, got %s", what, got);
        *rc = -1;
        return NULL;
    }
    return v;
}

int yn_get_text(const yn_map *m, const char *key, bool required, yaml_node_t **out)
{
    int rc;
    yaml_node_t *v = value_of(m, key, required, &rc);
    if (!v) return rc;
    if (v->data.scalar.length == 0) {
        char what[LABEL_MAX];
        label(m, key, what, sizeof what);
        yn_error(m->doc, v, "%s is empty", what);
        return -1;
    }
    *out = v;
    return 1;
}

int yn_get_str(const yn_map *m, const char *key, bool required, char **out)
{
    yaml_node_t *v = NULL;
    int rc = yn_get_text(m, key, required, &v);
    if (rc != 1) return rc;
    char what[LABEL_MAX];
    label(m, key, what, sizeof what);
    char *s = yn_expand(m->doc, v, what);
    if (!s) return -1;
    if (!*s) {
        yn_error(m->doc, v, "%s is empty (after expanding ${...})", what);
        free(s);
        return -1;
    }
    *out = s;
    return 1;
}

/* The text of a number, ${}-expanded. A number is a plain scalar; a quoted
 * one is a string, unless it holds a ${...} reference (quoting is how a
 * reference goes into a flow mapping: {rpm: "${RPM:-500}"}). NULL when
 * reported. */
static char *number_text(const yn_map *m, const char *key, const yaml_node_t *v,
                         const char *expected)
{
    char what[LABEL_MAX], got[80];
    label(m, key, what, sizeof what);
    if (v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE && !strstr(yn_str(v), "${")) {
        yn_describe(v, got, sizeof got);
        yn_error(m->doc, v, "%s must be %s, got %s", what, expected, got);
        return NULL;
    }
    return yn_expand(m->doc, v, what);
}

static void range_error(const yn_map *m, const char *key, const yaml_node_t *v,
                        const char *expected)
{
    char what[LABEL_MAX], got[80];
    label(m, key, what, sizeof what);
    yn_describe(v, got, sizeof got);
    yn_error(m->doc, v, "%s must be %s, got %s", what, expected, got);
}

static void int_expected(int64_t lo, int64_t hi, char *out, size_t n)
{
    if (lo == hi)
        snprintf(out, n, "%lld", (long long)lo);
    else if (hi == INT64_MAX)
        snprintf(out, n, "an integer >= %lld", (long long)lo);
    else
        snprintf(out, n, "an integer from %lld to %lld", (long long)lo, (long long)hi);
}

int yn_get_int(const yn_map *m, const char *key, bool required, int64_t lo, int64_t hi,
               int64_t *out)
{
    int rc;
    yaml_node_t *v = value_of(m, key, required, &rc);
    if (!v) return rc;
    char expected[96];
    int_expected(lo, hi, expected, sizeof expected);
    char *s = number_text(m, key, v, expected);
    if (!s) return -1;
    if (m->doc->needs && strstr(s, "${")) { /* lint: the variable is not set here */
        free(s);
        return 0;
    }
    int64_t x;
    bool ok = yn_parse_int(s, &x) && x >= lo && x <= hi;
    free(s);
    if (!ok) {
        range_error(m, key, v, expected);
        return -1;
    }
    *out = x;
    return 1;
}

static void num_expected(double lo, bool lo_open, double hi, char *out, size_t n)
{
    if (isinf(hi))
        snprintf(out, n, "a number %s %g", lo_open ? ">" : ">=", lo);
    else if (lo_open)
        snprintf(out, n, "a number > %g and <= %g", lo, hi);
    else
        snprintf(out, n, "a number from %g to %g", lo, hi);
}

int yn_get_num(const yn_map *m, const char *key, bool required, double lo, bool lo_open,
               double hi, double *out)
{
    int rc;
    yaml_node_t *v = value_of(m, key, required, &rc);
    if (!v) return rc;
    char expected[96];
    num_expected(lo, lo_open, hi, expected, sizeof expected);
    char *s = number_text(m, key, v, expected);
    if (!s) return -1;
    if (m->doc->needs && strstr(s, "${")) { /* lint: the variable is not set here */
        free(s);
        return 0;
    }
    double x;
    bool ok = yn_parse_num(s, &x) && (lo_open ? x > lo : x >= lo) && x <= hi;
    free(s);
    if (!ok) {
        range_error(m, key, v, expected);
        return -1;
    }
    *out = x;
    return 1;
}

int yn_get_enum(const yn_map *m, const char *key, bool required, const char *const *names,
                int *out)
{
    char *s = NULL;
    int rc = yn_get_str(m, key, required, &s);
    if (rc != 1) return rc;
    size_t n = count_known(names);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], s)) {
            *out = (int)i;
            free(s);
            return 1;
        }
    char what[LABEL_MAX], list[256] = "", hint[160] = "";
    label(m, key, what, sizeof what);
    for (size_t i = 0; i < n; i++) {
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ",
                 names[i]);
    }
    const char *near = sy_closest(s, names, n);
    if (near) snprintf(hint, sizeof hint, " (did you mean '%s'?)", near);
    yaml_node_t *v = yn_map_get(m, key);
    char got[80];
    yn_describe(v, got, sizeof got);
    yn_error(m->doc, v, "%s must be %s, got %s%s", what, list, got, hint);
    free(s);
    return -1;
}

bool yn_parse_int(const char *s, int64_t *out)
{
    const char *p = s;
    if (*p == '-' || *p == '+') p++;
    if (!*p) return false;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9') return false;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE) return false;
    *out = (int64_t)v;
    return true;
}

/* [-+]? ( digits [. digits?] | . digits ) ([eE] [-+]? digits)? */
bool yn_parse_num(const char *s, double *out)
{
    const char *p = s;
    if (*p == '-' || *p == '+') p++;
    size_t whole = strspn(p, "0123456789");
    p += whole;
    size_t frac = 0;
    if (*p == '.') {
        frac = strspn(p + 1, "0123456789");
        p += 1 + frac;
    }
    if (!whole && !frac) return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+') p++;
        size_t exp = strspn(p, "0123456789");
        if (!exp) return false;
        p += exp;
    }
    if (*p) return false;
    double v = strtod(s, NULL);
    if (!isfinite(v)) return false;
    *out = v;
    return true;
}

/* ---- ${NAME} and ${NAME:-default} ---------------------------------------------- */

bool yn_is_var_name(const char *s, size_t n)
{
    if (!n || (s[0] >= '0' && s[0] <= '9')) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9')))
            return false;
    }
    return true;
}

/* Expand the reference starting at s[at] ("${"); returns the index after it.
 * On a problem reports it and clears *ok. */
static size_t expand_ref(yn_doc *d, const yaml_node_t *n, size_t at, const char *what,
                         sy_buf *out, bool *ok)
{
    const char *s = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    const char *close = memchr(s + at, '}', len - at);
    if (!close) {
        yn_error_in(d, n, at, "unterminated '${' in %s", what);
        *ok = false;
        return len;
    }
    size_t end = (size_t)(close - s), body = at + 2;
    const char *sep = NULL;
    for (size_t i = body; i + 1 < end; i++)
        if (s[i] == ':' && s[i + 1] == '-') {
            sep = s + i;
            break;
        }
    size_t name_len = (sep ? (size_t)(sep - s) : end) - body;
    if (!yn_is_var_name(s + body, name_len)) {
        yn_error_in(d, n, at, "bad variable reference '%.*s' in %s (expected ${NAME} or "
                    "${NAME:-default})", (int)(end + 1 - at), s + at, what);
        *ok = false;
        return end + 1;
    }
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)name_len, s + body);
    const char *val = getenv(name);
    if (sep) {
        if (val && *val)
            sy_buf_puts(out, val);
        else
            sy_buf_append(out, sep + 2, (size_t)(close - (sep + 2)));
    } else if (val) {
        sy_buf_puts(out, val);
    } else if (d->needs) {
        int line, col;
        if (!yn_scalar_pos(d, n, at, &line, &col)) line = col = 0;
        sy_diags_add(d->needs, d->file, line, col, "%s (used in %s)", name, what);
        sy_buf_append(out, s + at, end + 1 - at);
    } else {
        yn_error_in(d, n, at, "environment variable %s is not set (used in %s; write "
                    "${%s:-default} to give a default)", name, what, name);
        *ok = false;
    }
    return end + 1;
}

char *yn_expand(yn_doc *d, const yaml_node_t *n, const char *what)
{
    const char *s = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    sy_buf b;
    sy_buf_init(&b);
    bool ok = true;
    for (size_t i = 0; i < len;) {
        if (s[i] == '$' && i + 1 < len && s[i + 1] == '{')
            i = expand_ref(d, n, i, what, &b, &ok);
        else
            sy_buf_putc(&b, s[i++]);
    }
    if (!ok) {
        sy_buf_free(&b);
        return NULL;
    }
    sy_buf_cstr(&b);
    return b.data ? b.data : sy_xstrdup("");
}
