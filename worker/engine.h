/* engine.h -- the HTTP engine: many provider calls in flight on one thread.
 *
 * A thin layer over libcurl's multi interface. The engine owns a pool of
 * transfers (easy handle + request + response buffers), reused call after
 * call, so a warmed-up worker allocates nothing per call and keeps its
 * connections open (HTTP/1.1 keep-alive, HTTP/2 multiplexing where the
 * provider offers it). The caller acquires a transfer, lets an adapter fill
 * its request, launches it, and later gets one completion callback with
 * everything libcurl saw. The engine knows nothing about jobs or providers. */
#ifndef SY_ENGINE_H
#define SY_ENGINE_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>

#include "loop.h"
#include "providers/provider.h"
#include "werr.h"

typedef struct sy_transfer {
    sy_request req;        /* filled by the caller before launch */
    int64_t deadline_ms;   /* the caller's (wall clock, 0: none): a call that waited for a slot
                              gets at most the time left to it (0 again at acquire) */
    /* Filled by the engine on completion: */
    CURLcode curl_code;    /* CURLE_OK or a transport error */
    long http_status;
    sy_buf headers;        /* raw response header block(s) */
    sy_buf body;
    int64_t started_us, finished_us;
    bool too_large;        /* the response passed the engine's limits: cut short */
    bool expired;          /* never sent: deadline_ms passed while it waited for a slot
                              (curl_code CURLE_OPERATION_TIMEDOUT; not the provider's doing) */
    /* internal */
    size_t max_body, max_headers;
    CURL *easy;
    struct curl_slist *hlist;
    sy_buf hlist_of;       /* the request header lines hlist was built from */
    bool hlist_big;        /* ... for a body over libcurl's Expect threshold */
    CURLU *url;            /* the request URL, parsed */
    sy_buf url_of;         /* the text it was parsed from */
    bool h2_set;           /* the easy handle asks for HTTP/2 (over TLS) */
    sy_buf ca_of;          /* the CA file it is set to ("": libcurl's default) */
    void *opaque;
    int shard;             /* the libcurl multi handle it belongs to */
    int timeout_ms;        /* set when handed to libcurl (a lane's call may wait for a slot first) */
    struct sy_engine_shard *at; /* the one it is (last) added to: its shard, or its provider's lane */
    struct sy_transfer *next_free;
} sy_transfer;

typedef struct sy_engine sy_engine;

/* Connections and protocols, counted since the engine started. Bounds: a
 * shard (a libcurl multi handle of max_connections_per_shard transfers)
 * opens at most that many connections to one host and puts at most
 * max_streams_per_connection calls on one HTTP/2 connection. */
typedef struct sy_engine_stats {
    uint64_t connections_opened;
    int64_t connections_open;      /* now */
    uint64_t calls_h1, calls_h2;   /* answered calls, by protocol */
    int shards, max_connections_per_shard, max_streams_per_connection;
} sy_engine_stats;
/* A provider with bounds of its own (max_connections,
 * max_streams_per_connection; sy_request.lane): its calls have a libcurl
 * multi handle of their own, whose connections are counted apart. */
typedef struct sy_engine_lane {
    const char *name;          /* the provider's; valid while the engine lives */
    uint64_t connections_opened;
    int64_t connections_open;  /* now */
    int max_connections;       /* 0: not bounded (at most one per call in flight) */
    int max_streams;           /* HTTP/2 calls on one connection */
    int calls_active;          /* calls with libcurl now */
    int calls_waiting;         /* calls waiting for a free slot now (their timeout not started) */
} sy_engine_lane;

/* The lanes made so far (at a bounded provider's first call), up to max. */
int sy_engine_lane_stats(const sy_engine *e, sy_engine_lane *out, int max);

typedef void (*sy_transfer_done_fn)(void *ctx, sy_transfer *t, void *opaque);

/* hosts: how many servers calls go to (the providers of the pipeline):
 * libcurl keeps an idle connection per transfer slot for each. The
 * engine's sockets and timeouts are watched by `loop` (loop.h), whose
 * turns drive the transfers. NULL on failure (err: fatal). */
sy_engine *sy_engine_new(sy_loop *loop, int max_inflight, int hosts, sy_transfer_done_fn done, void *ctx,
                         sy_werr *err);
/* File descriptors an engine of that size may hold at once: the sockets of
 * its shards' connection caches (in use and idle) and each shard's own. */
long sy_engine_max_fds(int max_inflight, int hosts);
void sy_engine_free(sy_engine *e);

/* A response whose body passes max_body bytes, or whose headers pass
 * max_headers, is cut short: its transfer ends with too_large set (and a
 * libcurl error). Unset, neither is bounded. */
void sy_engine_set_limits(sy_engine *e, size_t max_body, size_t max_headers);

/* A transfer with an empty request, or NULL when max_inflight are running. */
sy_transfer *sy_engine_acquire(sy_engine *e);
/* Start it; `done` fires exactly once for it (from a later loop turn).
 * A call to a provider with max_connections may wait for a free slot
 * first; its timeout_ms counts from when it gets one. */
void sy_engine_launch(sy_engine *e, sy_transfer *t, int timeout_ms, void *opaque);
/* Give back a transfer that was acquired but not launched. */
void sy_engine_release(sy_engine *e, sy_transfer *t);

int sy_engine_inflight(const sy_engine *e);
sy_engine_stats sy_engine_get_stats(const sy_engine *e);
/* Can a transfer be acquired now? */
bool sy_engine_has_room(const sy_engine *e);

#endif
