/* msgpack_check.c -- see msgpack_check.h. An explicit stack of "elements
 * still expected" per open container; one pass over the bytes. */
#include "msgpack_check.h"

#include <stdbool.h>
#include <stdint.h>

#define MAX_DEPTH 64

typedef struct cursor {
    const unsigned char *p;
    size_t len, i;
    int bad;
} cursor;

static uint64_t take(cursor *c, size_t k)
{
    uint64_t v = 0;
    if (k > c->len - c->i) {
        c->bad = 1;
        return 0;
    }
    for (size_t j = 0; j < k; j++) v = v << 8 | c->p[c->i++];
    return v;
}

/* For the header byte b: bytes of payload to skip, or (container) the
 * number of elements that follow. */
static void header(cursor *c, unsigned char b, uint64_t *skip, uint64_t *elems)
{
    static const unsigned char fixed[32] = { /* payload size of 0xc0..0xdf, 0 = special */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 8, 1, 2, 4, 8,
        1, 2, 4, 8, 2, 3, 5, 9, 17, 0, 0, 0, 0, 0, 0, 0};
    *skip = *elems = 0;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) return;
    if (b <= 0x8f) *elems = (uint64_t)(b & 0x0f) * 2;
    else if (b <= 0x9f) *elems = b & 0x0f;
    else if (b <= 0xbf) *skip = b & 0x1f;
    else if (fixed[b - 0xc0]) *skip = fixed[b - 0xc0];
    else switch (b) {
        case 0xc4: case 0xd9: *skip = take(c, 1); break;
        case 0xc5: case 0xda: *skip = take(c, 2); break;
        case 0xc6: case 0xdb: *skip = take(c, 4); break;
        case 0xc7: *skip = take(c, 1) + 1; break;
        case 0xc8: *skip = take(c, 2) + 1; break;
        case 0xc9: *skip = take(c, 4) + 1; break;
        case 0xdc: *elems = take(c, 2); break;
        case 0xdd: *elems = take(c, 4); break;
        case 0xde: *elems = take(c, 2) * 2; break;
        case 0xdf: *elems = take(c, 4) * 2; break;
        default: c->bad = 1; /* 0xc1 is never used */
    }
}

int sy_msgpack_check(const void *data, size_t len)
{
    cursor c = {.p = data, .len = len};
    uint64_t expected[MAX_DEPTH + 1];
    int depth = 0;
    expected[0] = 1;
    while (depth >= 0 && !c.bad) {
        if (expected[depth] == 0) {
            depth--;
            continue;
        }
        expected[depth]--;
        if (c.i >= c.len) return -1;
        unsigned char b = c.p[c.i++];
        uint64_t skip, elems;
        header(&c, b, &skip, &elems);
        if (c.bad || skip > c.len - c.i || elems > c.len - c.i) return -1;
        c.i += skip;
        bool container = (b >= 0x80 && b <= 0x9f) || (b >= 0xdc && b <= 0xdf);
        if (!container) continue;
        if (depth == MAX_DEPTH) return -1;
        expected[++depth] = elems;
    }
    return c.bad ? -1 : 0;
}
