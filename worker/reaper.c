/* reaper.c -- see reaper.h. */
#include "reaper.h"
#include "util.h"

#include <stdlib.h>

void sy_reaper_close(sy_reaper *r, rd_kafka_t *rk)
{
    size_t kept = 0; /* the closes that ended since: destroy their handles now */
    for (size_t i = 0; i < r->n; i++)
        if (sy_kafka_close_poll(r->closing[i]) != 0) r->closing[kept++] = r->closing[i];
    r->n = kept;
    r->closing = sy_xrealloc(r->closing, (r->n + 1) * sizeof *r->closing);
    r->closing[r->n++] = sy_kafka_close_start(rk);
}

void sy_reaper_join(sy_reaper *r)
{
    int64_t until = sy_mono_us() + (int64_t)SY_KAFKA_CLOSE_MS * 1000;
    for (size_t i = 0; i < r->n; i++) sy_kafka_close_wait(r->closing[i], until);
    free(r->closing);
    r->closing = NULL;
    r->n = 0;
}
