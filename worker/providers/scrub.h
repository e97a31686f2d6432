/* scrub.h -- taking a provider's API key out of what the provider said.
 *
 * Providers repeat the key they received: whole in some 401 messages, or
 * masked ("Incorrect API key provided: sk-abc***xyz"), and a model can
 * echo it in an answer. Whatever provider text the worker keeps (error
 * messages, which reach results, dead-letter headers, the store and the
 * changelog; answers' output text) passes through here first, in
 * sy_provider_parse (common.c), where the provider's key is known.
 *
 * What counts as the key in a text, replaced by "[redacted]" with the
 * whole token (a run of letters, digits and - _ + / = * .) around it:
 *   - any 8 bytes in a row that are also 8 bytes in a row of the key
 *     (so the key whole, in any form: "Bearer KEY", "x-api-key: KEY",
 *     "api-key=KEY", and any longer piece of it);
 *   - a masked form: a token with a run of '*' or '.' whose part before
 *     the mask is a prefix of the key, or whose part after it is a
 *     suffix, of at least 4 bytes ("sk-abc***xyz1", "****wxyz");
 *   - a token of at least 6 bytes that is a prefix or a suffix of the key
 *     ("sk-abc…xyz9": the ellipsis is not a token byte).
 * A key shorter than 8 bytes is only replaced where it appears whole. */
#ifndef SY_SCRUB_H
#define SY_SCRUB_H

#include <stddef.h>

/* The text with the key taken out, as a new malloc'd NUL-terminated
 * string (its length in *out_len), or NULL when there is nothing to take
 * out (the common case: nothing is allocated). */
char *sy_scrub_key(const char *text, size_t len, const char *key, size_t *out_len);
/* The same on a NUL-terminated string in a buffer of `size` bytes, in
 * place (cut to fit). */
void sy_scrub_key_in(char *s, size_t size, const char *key);

#endif
