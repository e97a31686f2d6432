/* progress.c -- see progress.h. */
#include "progress.h"

#include <string.h>

static void put_be(unsigned char *out, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--, v >>= 8) out[i] = (unsigned char)v;
}

static uint64_t get_be(const unsigned char *in, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v = v << 8 | in[i];
    return v;
}

size_t sy_progress_encode(int64_t done, const sy_progress_note *notes, uint32_t nnotes, unsigned char *out)
{
    uint32_t n = nnotes < SY_PROGRESS_NOTES_MAX ? nnotes : SY_PROGRESS_NOTES_MAX;
    out[0] = 1;
    put_be(out + 1, (uint64_t)(done < -1 ? -1 : done), 8);
    for (uint32_t i = 0; i < n; i++) {
        put_be(out + 9 + 12 * i, (uint32_t)notes[i].partition, 4);
        put_be(out + 13 + 12 * i, (uint64_t)notes[i].offset, 8);
    }
    return 9 + 12 * (size_t)n;
}

int sy_progress_decode(const void *data, size_t len, sy_progress *p)
{
    const unsigned char *in = data;
    if (!in || len < 9 || (len - 9) % 12 || (len - 9) / 12 > SY_PROGRESS_NOTES_MAX || in[0] != 1) return -1;
    p->done = (int64_t)get_be(in + 1, 8);
    p->nnotes = (uint32_t)((len - 9) / 12);
    if (p->done < -1) return -1;
    for (uint32_t i = 0; i < p->nnotes; i++) {
        p->notes[i].partition = (int32_t)(uint32_t)get_be(in + 9 + 12 * i, 4);
        p->notes[i].offset = (int64_t)get_be(in + 13 + 12 * i, 8);
        if (p->notes[i].partition < 0 || p->notes[i].offset < 0) return -1;
    }
    return 0;
}

int64_t sy_progress_scan_from(const sy_progress_note *notes, uint32_t n, int32_t partition)
{
    int64_t from = -1;
    for (uint32_t i = 0; i < n; i++) {
        int64_t after = notes[i].offset < INT64_MAX ? notes[i].offset + 1 : INT64_MAX;
        if (notes[i].partition == partition && (from < 0 || after < from)) from = after;
    }
    return from < 0 ? 0 : from;
}
