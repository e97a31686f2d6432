/* fuzz_promparse.c -- libFuzzer target for the Prometheus text reader
 * (base/promparse.h) and the status frame drawn from it
 * (base/status_view.h): any bytes as a /metrics page. Every sample read
 * must have a well-formed name and NUL-terminated labels within bounds;
 * the frame, drawn from the page against itself and against nothing, must
 * hold no raw ESC, CR or other C0 control but newline. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "promparse.h"
#include "status_view.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sy_promp_page p = {0};
    sy_promp_parse(&p, (const char *)data, size);
    for (size_t i = 0; i < p.n; i++) {
        const sy_promp_sample *s = &p.s[i];
        if (!s->name[0] || strlen(s->name) >= SY_PROMP_NAME || s->nlabels > SY_PROMP_LABELS) abort();
        for (size_t k = 0; k < s->nlabels; k++)
            if (!s->labels[k].name[0] || strnlen(s->labels[k].value, SY_PROMP_VALUE) >= SY_PROMP_VALUE) abort();
    }
    sy_buf out;
    sy_buf_init(&out);
    sy_status_src src[2] = {{.url = "u", .prev = &p, .cur = &p, .dt_s = 1}, {.url = "v", .error = "x"}};
    sy_status_frame(&out, src, 2);
    for (size_t i = 0; i < out.len; i++) {
        unsigned char c = (unsigned char)out.data[i];
        if ((c < 0x20 && c != '\n') || c == 0x7f) abort();
    }
    sy_buf_free(&out);
    sy_promp_free(&p);
    return 0;
}
