/* reaper.h -- Kafka readers closed off the loop's thread.
 *
 * Closing a consumer waits on the network: on a slow cluster it took the
 * worker's loop over a second, during which no answer was taken in. The
 * readers of a changelog restore and of an output scan are handed here
 * instead: each is closed by sy_kafka_close_start (kafka.h: a thread of its
 * own), and sy_reaper_join, at the worker's teardown, waits for them all,
 * bounded like the group consumer's close. Nothing else touches a handle
 * once handed over. */
#ifndef SY_REAPER_H
#define SY_REAPER_H

#include <stddef.h>

#include "kafka.h"

typedef struct sy_reaper {
    sy_kafka_closing **closing;
    size_t n;
} sy_reaper;

/* Start closing rk, off this thread; the handles of closes that ended
 * since the last call are destroyed (a reader's broker threads do not
 * outlive its close by more than one rebalance). */
void sy_reaper_close(sy_reaper *r, rd_kafka_t *rk);
/* Wait for every handle handed over so far, SY_KAFKA_CLOSE_MS at most in
 * all; one still closing then is abandoned (the process is exiting). */
void sy_reaper_join(sy_reaper *r);

#endif
