/* fuzz_embeddings.c -- libFuzzer target for the embeddings answer
 * (worker/providers/embeddings.h: sy_embed_parse), read per input.
 *
 * Input: byte 0 picks the provider kind (of those with embeddings), byte 1
 * how many inputs the request carried (1..64), byte 2 the dimensions asked
 * (0: any), bytes 3-4 the HTTP status (mod 1000), then the raw header
 * block up to the first NUL, then the body. The result must be
 * consistent: no slot has a vector when the request failed; a slot has a
 * vector exactly when it has no error, of 1..SY_EMBED_MAX_DIMS finite
 * floats (exactly the dimensions asked, if any); a NUL-terminated reason;
 * no negative token count. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "embeddings.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const sy_provider_kind *kinds[8];
    size_t nkinds = 0;
    for (size_t i = 0; sy_provider_kinds[i] && nkinds < 8; i++)
        if (sy_provider_kinds[i]->embeddings) kinds[nkinds++] = sy_provider_kinds[i];
    if (size < 5 || !nkinds) return 0;
    sy_provider p = {.name = "fuzz", .kind = kinds[data[0] % nkinds]};
    size_t n = 1 + data[1] % 64;
    int dims = data[2] % 8; /* small, so that the fuzzer can meet it */
    int status = (data[3] << 8 | data[4]) % 1000;
    const char *rest = (const char *)data + 5;
    size_t left = size - 5;
    const char *nul = memchr(rest, '\0', left);
    size_t hlen = nul ? (size_t)(nul - rest) : left;
    const char *body = nul ? nul + 1 : rest + left;
    size_t blen = (size_t)(rest + left - body);

    char *headers = sy_xstrndup(rest, hlen);
    sy_embed_slot *s = sy_xcalloc(n, sizeof *s);
    sy_outcome o;
    sy_embed_parse(&p, status, headers, hlen, body, blen, dims, s, n, &o);
    if (o.tokens_in < 0 || o.output || !memchr(o.message, '\0', sizeof o.message)) abort();
    for (size_t i = 0; i < n; i++) {
        if (o.error != SY_ERR_NONE && s[i].vec) abort();
        if (o.error != SY_ERR_NONE) continue;
        if ((s[i].error == SY_ERR_NONE) != (s[i].vec != NULL)) abort();
        if (!memchr(s[i].why, '\0', sizeof s[i].why)) abort();
        if (!s[i].vec) continue;
        if (s[i].dim < 1 || s[i].dim > SY_EMBED_MAX_DIMS || (dims && s[i].dim != (uint32_t)dims)) abort();
        for (uint32_t j = 0; j < s[i].dim; j++)
            if (!isfinite(s[i].vec[j])) abort();
    }
    sy_embed_slots_free(s, n);
    free(s);
    sy_outcome_free(&o);
    free(headers);
    return 0;
}
