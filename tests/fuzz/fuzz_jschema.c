/* fuzz_jschema.c -- libFuzzer target for structured output's checks
 * (codec/jschema.c): the first line is a schema, the rest an answer. A
 * schema the subset takes is used to validate the answer (when it parses)
 * and the answer is matched against a label set; every refusal must carry
 * a reason that is printable ASCII and within its buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jschema.h"

static void printable(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n == 0 || n >= cap) abort();
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const labels[] = {"billing", "technical", "other"};
    const char *p = (const char *)data, *nl = memchr(p, '\n', size);
    size_t slen = nl ? (size_t)(nl - p) : size;
    const char *answer = nl ? nl + 1 : p + size;
    size_t alen = size - (size_t)(answer - p);
    char err[96];
    if (sy_label_match(answer, alen, labels, 3, err, sizeof err) < 0) printable(err, sizeof err);
    json_t *schema = json_loadb(p, slen, JSON_DECODE_ANY, NULL);
    if (!schema) return 0;
    if (sy_jschema_check(schema, err, sizeof err) != 0) {
        printable(err, sizeof err);
    } else {
        json_t *v = json_loadb(answer, alen, JSON_DECODE_ANY, NULL);
        if (v && sy_jschema_validate(schema, v, err, sizeof err) != 0) printable(err, sizeof err);
        json_decref(v);
    }
    json_decref(schema);
    return 0;
}
