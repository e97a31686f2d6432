/* origin.c -- see origin.h. */
#include "origin.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void sy_origin_add_headers(rd_kafka_headers_t *h, const char *topic, int32_t partition,
                           int64_t offset)
{
    char num[24];
    rd_kafka_header_add(h, "switchyard.origin.topic", -1, topic, -1);
    snprintf(num, sizeof num, "%" PRId32, partition);
    rd_kafka_header_add(h, "switchyard.origin.partition", -1, num, -1);
    snprintf(num, sizeof num, "%" PRId64, offset);
    rd_kafka_header_add(h, "switchyard.origin.offset", -1, num, -1);
}

/* A header's last value, if it is 1..max bytes of allowed characters. */
static bool header_word(rd_kafka_headers_t *h, const char *name, const char *allowed,
                        size_t max, char *out)
{
    const void *v;
    size_t n;
    if (rd_kafka_header_get_last(h, name, &v, &n) != RD_KAFKA_RESP_ERR_NO_ERROR || !v || n == 0 ||
        n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((const char *)v)[i] || !strchr(allowed, ((const char *)v)[i])) return false;
    memcpy(out, v, n);
    out[n] = '\0';
    return true;
}

static bool number(const char *s, int64_t max, int64_t *out)
{
    int64_t v = 0;
    if (!*s || (s[0] == '0' && s[1])) return false; /* canonical: no leading zero */
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (max - (*s - '0')) / 10) return false;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return true;
}

#define TOPIC_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"

bool sy_origin_of(rd_kafka_headers_t *h, char out[SY_ORIGIN_MAX])
{
    char topic[250], part[16], off[24];
    int64_t p, o;
    if (!h || !header_word(h, "switchyard.origin.topic", TOPIC_CHARS, 249, topic) ||
        !header_word(h, "switchyard.origin.partition", "0123456789", 10, part) ||
        !header_word(h, "switchyard.origin.offset", "0123456789", 19, off) ||
        !number(part, INT32_MAX, &p) || !number(off, INT64_MAX, &o))
        return false;
    /* the words are checked canonical decimals: joined as they are, they
     * are what printing p and o gives (no printf on each job's path) */
    size_t tl = strlen(topic), pl = strlen(part), ol = strlen(off); /* 249 + 10 + 19 + 3 < SY_ORIGIN_MAX */
    memcpy(out, topic, tl);
    out[tl] = '/';
    memcpy(out + tl + 1, part, pl);
    out[tl + 1 + pl] = '/';
    memcpy(out + tl + 2 + pl, off, ol + 1);
    return true;
}

bool sy_origin_parse(const char *o, char topic[SY_ORIGIN_MAX], int32_t *partition, int64_t *offset)
{
    const char *a = strchr(o, '/'), *b = a ? strchr(a + 1, '/') : NULL;
    char part[16];
    int64_t p, off;
    if (!a || !b || a == o || (size_t)(a - o) >= SY_ORIGIN_MAX || (size_t)(b - a - 1) >= sizeof part)
        return false;
    memcpy(part, a + 1, (size_t)(b - a - 1));
    part[b - a - 1] = '\0';
    if (!number(part, INT32_MAX, &p) || !number(b + 1, INT64_MAX, &off)) return false;
    memcpy(topic, o, (size_t)(a - o));
    topic[a - o] = '\0';
    *partition = (int32_t)p;
    *offset = off;
    return true;
}
