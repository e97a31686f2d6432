/* yamlnode.h -- typed, position-aware reading of one YAML file.
 *
 * The pipeline loader (pipeline.c) knows what a pipeline means; this layer
 * knows how to read YAML so that every mistake becomes one diagnostic at the
 * right file:line:column: syntax errors, non-mapping values, unknown and
 * duplicate keys (with a "did you mean" hint), wrong types and ranges,
 * ${NAME} / ${NAME:-default} expansion, and the position of a byte inside a
 * scalar (for template errors). It sits on libyaml's document API, whose
 * nodes carry their marks; the file text is kept to map offsets.
 *
 * Conventions of the getters: they return 1 when the key is present and its
 * value valid, 0 when the key is absent (an error already reported if it was
 * required), -1 when the value is invalid (error reported). Values shown in
 * messages are the scalar as written in the file, before ${...} expansion,
 * so nothing from the environment (such as a key) is ever echoed.
 *
 * Config layer (config/): pipeline files, on codec/ and base/. */
#ifndef SY_YAMLNODE_H
#define SY_YAMLNODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "diag.h"

typedef struct yn_doc {
    const char *file;      /* name used in diagnostics */
    char *text;            /* the file's bytes */
    size_t len;
    size_t *line_start;    /* byte offset of each line */
    size_t nlines;
    yaml_document_t doc;
    bool loaded;           /* doc must be deleted */
    sy_diags *diags;
    sy_diags *needs;       /* non-NULL (lint): an unset ${NAME} is noted here and
                            * left unexpanded, not an error; numbers holding
                            * one count as absent */
} yn_doc;

/* One mapping being read: the keys checked against a known list, the
 * owner/path used to name things in messages ("prompt.id of task 'x'"). */
typedef struct yn_map {
    yn_doc *doc;
    yaml_node_t *node;     /* the mapping */
    yaml_node_t *anchor;   /* where "missing key" errors point (key node) */
    const char *owner;     /* "task 'classify'", or "" at the top level */
    const char *path;      /* prefix of key names, "" or "prompt." */
    const char *const *known; /* the keys it may have (NULL: any) */
} yn_map;

/* Limits of a pipeline file: its size, and how deep collections nest. */
#define YN_MAX_FILE_BYTES (1024 * 1024)
#define YN_MAX_DEPTH 64

/* Read and parse file; syntax errors and unreadable files are reported.
 * Only a regular file is read (not a directory, FIFO or device), of at
 * most YN_MAX_FILE_BYTES, nested at most YN_MAX_DEPTH deep.
 * Returns 0 and the root node in *root, or -1. yn_close in both cases. */
int yn_open(yn_doc *d, const char *file, sy_diags *diags, yaml_node_t **root);
void yn_close(yn_doc *d);

/* Report an error at a node's start (NULL: the start of the file). */
void yn_error(yn_doc *d, const yaml_node_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Report an error at byte `offset` of a scalar's value when that position
 * can be mapped back to the source, else at the scalar's start. */
void yn_error_in(yn_doc *d, const yaml_node_t *scalar, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* 1-based line and column of byte `offset` of a scalar's value; false when
 * the scalar's style (folded, multi-line flow) does not allow it. */
bool yn_scalar_pos(const yn_doc *d, const yaml_node_t *scalar, size_t offset, int *line,
                   int *column);

/* Node helpers. */
yaml_node_t *yn_node(yn_doc *d, int index);
bool yn_is_null(const yaml_node_t *n);
const char *yn_str(const yaml_node_t *n); /* scalar value or NULL */
/* "'text'" for scalars as written, "a mapping", "a list", "no value". */
void yn_describe(const yaml_node_t *n, char *out, size_t outlen);

/* Open node as a mapping whose keys must be among known (NULL-terminated);
 * reports unknown and duplicate keys. False (reported) if not a mapping. */
bool yn_map_open(yn_map *m, yn_doc *d, yaml_node_t *node, yaml_node_t *anchor,
                 const char *owner, const char *path, const char *const *known);
yaml_node_t *yn_map_get(const yn_map *m, const char *key);
yaml_node_t *yn_map_key(const yn_map *m, const char *key); /* the key node */
/* Open the value of key as a nested mapping (path "key."). 0 if absent. */
int yn_map_sub(const yn_map *m, const char *key, const char *const *known, char *pathbuf,
               size_t pathlen, yn_map *sub);

int yn_get_str(const yn_map *m, const char *key, bool required, char **out); /* ${} expanded */
int yn_get_text(const yn_map *m, const char *key, bool required, yaml_node_t **out); /* as is */
int yn_get_int(const yn_map *m, const char *key, bool required, int64_t lo, int64_t hi,
               int64_t *out);
/* Number in [lo, hi] (lo excluded when lo_open). */
int yn_get_num(const yn_map *m, const char *key, bool required, double lo, bool lo_open,
               double hi, double *out);
/* One of names (NULL-terminated); *out = its index. */
int yn_get_enum(const yn_map *m, const char *key, bool required, const char *const *names,
                int *out);

/* Report "missing required key 'key' in <map>" at the map's anchor, unless
 * an unknown key of the map (already reported) looks like a misspelling. */
void yn_missing(const yn_map *m, const char *key);
/* Is s a valid environment variable name (letters, digits, '_')? */
bool yn_is_var_name(const char *s, size_t n);

/* Parse a plain scalar as a number / integer (YAML core schema, decimal). */
bool yn_parse_int(const char *s, int64_t *out);
bool yn_parse_num(const char *s, double *out);

/* Expand ${NAME} and ${NAME:-default} in the value of scalar n; problems are
 * reported (what names the value in messages). Returns a malloc'd string or
 * NULL on error. */
char *yn_expand(yn_doc *d, const yaml_node_t *n, const char *what);

#endif
