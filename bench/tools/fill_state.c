/* fill_state.c -- bench/startup.sh's helper: fill a worker's state
 * directory with N finished jobs (PUBLISHED, each with a ~400-byte result),
 * as a worker that has answered N jobs within the key lifetime would hold.
 *
 *   fill-state DIR N [TOPIC]
 *
 * Keys are "fill-<i>"; records expire in 7 days, so none is purged at
 * start-up. Goes through the worker's own store (store.c), committing
 * every 10,000 records. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "util.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: fill-state DIR N [TOPIC]\n");
        return 2;
    }
    long n = atol(argv[2]);
    const char *topic = argc > 3 ? argv[3] : "switchyard.results.bench";
    char err[256];
    sy_store *s = sy_store_open(argv[1], 4096, err, sizeof err);
    if (!s) {
        fprintf(stderr, "fill-state: %s\n", err);
        return 1;
    }
    sy_store_set_fsync(s, false);
    static unsigned char result[400];
    result[0] = 0xda, result[1] = 0x01, result[2] = 0x8d; /* msgpack str of 397 bytes */
    memset(result + 3, 'x', sizeof result - 3);
    int64_t now = sy_now_ms();
    char key[32];
    for (long i = 0; i < n; i++) {
        sy_job_record rec = {.state = SY_STATE_PUBLISHED, .ok = true, .attempts = 1,
                             .src_partition = (int32_t)(i % 12), .src_offset = i / 12,
                             .updated_ms = now, .expires_ms = now + 7LL * 24 * 3600 * 1000,
                             .out_partition = (int32_t)(i % 12), .out_offset = i / 12,
                             .src_topic = "switchyard.tier.bench-tier", .model = "",
                             .out_topic = topic, .result = result, .result_len = sizeof result};
        snprintf(key, sizeof key, "fill-%ld", i);
        sy_store_put(s, key, &rec);
        if (i % 10000 == 9999 && sy_store_commit(s) != 0) return 1;
    }
    if (sy_store_commit(s) != 0) return 1;
    printf("%zu keys in %s\n", sy_store_count(s), argv[1]);
    sy_store_close(s);
    return 0;
}
