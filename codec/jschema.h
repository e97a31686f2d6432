/* jschema.h -- structured output: checking a model's JSON answer against
 * a task's JSON Schema (a documented subset) or closed label set.
 *
 * Codec layer, pure (jansson values in, a verdict and a reason out). The
 * config loader checks a task's schema once with sy_jschema_check (so an
 * unsupported keyword is a load error, never silently ignored); the worker
 * validates each answer with sy_jschema_validate and turns a failure into
 * the error class SY_ERR_OUTPUT_INVALID (errclass.h).
 *
 * The subset (draft 2020-12 meaning):
 *   type (a name or a list of names: object, array, string, number,
 *   integer, boolean, null), properties, required, additionalProperties
 *   (true, false or a schema), enum, const, items (one schema), minItems,
 *   maxItems, minimum, maximum, exclusiveMinimum, exclusiveMaximum,
 *   minLength, maxLength (in code points); title, description, default,
 *   examples, $schema, $comment are annotations and ignored. A schema may
 *   also be true (anything) or false (nothing). Numbers compare as doubles;
 *   1 and 1.0 are equal (enum, const) and 1.0 is an integer.
 *
 * Bounds: schemas nest at most SY_JSCHEMA_MAX_DEPTH levels (values are only
 * walked where the schema leads, so the same bound holds for them); a
 * reason is at most errlen bytes, its path made of printable ASCII only
 * (other bytes of a member name become '?'), and names no value of the
 * answer, so it may go into a result or a dead letter as it is. */
#ifndef SY_JSCHEMA_H
#define SY_JSCHEMA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define SY_JSCHEMA_MAX_DEPTH 32

/* 0 when schema is within the subset; else -1 and where and why in err. */
int sy_jschema_check(const json_t *schema, char *err, size_t errlen);

/* 0 when value validates against schema (which passed sy_jschema_check);
 * else -1 and "PATH: why" in err (PATH like $.items[2].name). */
int sy_jschema_validate(const json_t *schema, const json_t *value, char *err, size_t errlen);

/* A classification answer against a closed label set: the text trimmed of
 * white space, or a JSON string, or a JSON object's "label" member, equal
 * to one label (ASCII case ignored). Returns the label's index, or -1 with
 * a reason in err. */
int sy_label_match(const char *answer, size_t len, const char *const *labels, size_t nlabels,
                   char *err, size_t errlen);

#endif
