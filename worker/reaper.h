/* reaper.h -- Kafka handles closed off the loop's thread.
 *
 * Closing a consumer (leaving its assignment, stopping its broker threads)
 * waits on the network: on a slow cluster it took the worker's loop over a
 * second, during which no answer was taken in. The readers of a changelog
 * restore and of an output scan are handed here instead: each is closed and
 * destroyed by a thread of its own, and sy_reaper_join (at the worker's
 * teardown) waits for them all. Nothing else touches a handle once handed
 * over. */
#ifndef SY_REAPER_H
#define SY_REAPER_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stddef.h>

typedef struct sy_reaper {
    pthread_t *threads;
    size_t n;
} sy_reaper;

/* Close and destroy rk, off this thread (on this one if no thread starts). */
void sy_reaper_close(sy_reaper *r, rd_kafka_t *rk);
/* Wait for every handle handed over so far. */
void sy_reaper_join(sy_reaper *r);

#endif
