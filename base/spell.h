/* spell.h -- "did you mean ...?": the closest of a few names to a word.
 *
 * Base layer, pure. Used wherever a name from outside (a key of a pipeline
 * file, a model or tier reference, a topic on the command line) is unknown
 * and one of the known names is a likely misspelling of it: the YAML reader
 * and the pipeline loader (config/), and the Kafka helpers' "topic T does
 * not exist (did you mean U?)" (kafka/). */
#ifndef SY_SPELL_H
#define SY_SPELL_H

#include <stddef.h>

/* Closest candidate to word within edit distance 2 (and less than the
 * word's length), or NULL. */
const char *sy_closest(const char *word, const char *const *candidates, size_t n);
/* Edit distance (Levenshtein) of two short strings; (size_t)-1 when either
 * is longer than 64 bytes. */
size_t sy_edit_distance(const char *a, const char *b);

#endif
