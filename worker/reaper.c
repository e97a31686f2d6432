/* reaper.c -- see reaper.h. */
#include "reaper.h"
#include "util.h"

#include <stdlib.h>

static void *close_handle(void *rk)
{
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return NULL;
}

void sy_reaper_close(sy_reaper *r, rd_kafka_t *rk)
{
    pthread_t t;
    if (pthread_create(&t, NULL, close_handle, rk) != 0) {
        close_handle(rk);
        return;
    }
    r->threads = sy_xrealloc(r->threads, (r->n + 1) * sizeof *r->threads);
    r->threads[r->n++] = t;
}

void sy_reaper_join(sy_reaper *r)
{
    for (size_t i = 0; i < r->n; i++) pthread_join(r->threads[i], NULL);
    free(r->threads);
    r->threads = NULL;
    r->n = 0;
}
