/* engine.c -- see engine.h.
 *
 * Sockets are driven with libcurl's event interface: libcurl tells us which
 * sockets it wants watched (socket callback) and when it next needs a
 * timeout (timer callback); both go to the worker's event loop (loop.h):
 * each socket is watched there with a callback that hands libcurl just
 * that socket (curl_multi_socket_action), and each shard's timeout is a
 * loop timer. With thousands of calls in flight this costs per ready
 * socket, not per transfer per turn as curl_multi_poll + curl_multi_perform
 * would.
 *
 * Transfers are split into shards of SHARD_SIZE, each with its own libcurl
 * multi handle and so its own connection cache: libcurl looks for a free
 * connection to a host by walking every connection it has to that host,
 * which at 10,000 kept-alive HTTP/1.1 connections to one provider was half
 * of the worker's CPU. A transfer always stays in its shard (its connection
 * lives there). A socket's loop callback carries its shard.
 *
 * Completions are delivered from the loop's callbacks (after libcurl
 * returns), never from inside libcurl callbacks, so the caller may launch
 * new transfers from its done callback. A transfer returns to the free
 * list right after its callback runs. A transfer that cannot even be set
 * up (no memory for an easy handle) completes with CURLE_FAILED_INIT from
 * a loop timer: the call fails, the worker goes on.
 *
 * Per call, libcurl 7.88 spends ~115,000 instructions (bench/callgrind.sh,
 * and a profile of Debian's libcurl built with symbols), much of it in its
 * own printf writing request headers a byte at a time and in taking the
 * URL apart. So a transfer keeps what does not change from call to call:
 * the URL parsed once (CURLOPT_CURLU) and the header list built once, each
 * redone only when the request's differs. No Accept-Encoding is offered:
 * answers are a few KB, and offering it cost libcurl ~8,000 instructions
 * per call even when nothing came back compressed. libcurl 8.14 (Debian's
 * backports, what scripts/deps.sh installs) spends more: http-floor's
 * instructions per call 138,245 -> 164,694 over plain HTTP/1.1 and
 * 216,483 -> 233,093 over HTTP/2 (CALLGRIND=1 bench/floor.sh 2000 256),
 * yet less CPU over HTTP/2 (less kernel time) and a quarter less memory
 * per call in flight there (bench/README.md).
 *
 * HTTP/2: a transfer asks for it over TLS (ALPN offers h2 and http/1.1;
 * the provider picks) unless its provider says `http: 1.1` (plain http://
 * is HTTP/1.1), and waits for a connection being set up to the same host
 * rather than opening its own (CURLOPT_PIPEWAIT), so a shard's calls to
 * one provider share one connection (at most SHARD_SIZE streams on it).
 * So connections to a provider are at most SHARD_SIZE per shard over
 * HTTP/1.1 (one per call) and about one per shard over HTTP/2. Every socket libcurl opens and
 * closes goes through the engine's callbacks, which count them
 * (sy_engine_stats). A provider that sets max_connections or
 * max_streams_per_connection has a lane of its own instead (below).
 * A provider's ca_file is set as the transfer's CA file
 * (libcurl keeps connections of different CA files apart); verification
 * is never turned off. */
#include "engine.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define SHARD_SIZE 64 /* transfers (and so connections) per multi handle */
/* A transfer's receive buffer (CURLOPT_BUFFERSIZE; libcurl adds a byte):
 * 2 KB over HTTP/1.1. Over HTTP/2, libcurl 7.88 reads the connection
 * through the buffer of a transfer on it, and one smaller than a TLS
 * record (16 KB) leaves a stream's bytes decrypted but unread with no
 * socket event to the loop: its answer stalls until its timeout (at 2 KB,
 * 12 of 48 downloads of a 7 KB batch output, 1 to 5 at once, stalled 5 s;
 * none at 16 KB, 480 of 480). libcurl 8.x reads the connection into
 * buffers of its own: there the size makes no difference to memory
 * (18.9 KB per call in flight at 2 KB, 19.0 at 16 KB, HTTP/2 bench/floor.sh
 * 10000 1000 200, libcurl 8.14). */
#define H1_BUFFER 2047L
#define H2_BUFFER 16383L

typedef struct sy_engine_shard {
    sy_engine *e;
    struct lane *lane;     /* NULL: a shard */
    CURLM *multi;
    uint32_t index;
    sy_loop_timer timeout; /* libcurl's next timeout for this multi */
    uint64_t opened;       /* connections opened by its transfers, and open now */
    int64_t open;
} shard;

/* A provider that bounds its connections or streams (sy_request.lane)
 * gets a multi handle of its own, a lane, whose libcurl limits are its
 * bounds: libcurl 7.88 bounds connections per host and streams per
 * connection per multi handle only, not per transfer. Its calls go through
 * it whichever transfer carries them (an easy handle may move between
 * multi handles between calls; the connections stay with the multi).
 *
 * A call libcurl cannot put on a connection at once would wait inside
 * libcurl, and that wait counts against its CURLOPT_TIMEOUT: with
 * max_connections 1, 300 ms calls and a 1 s timeout, of 40 calls at once
 * 37 timed out and were retried, 25 jobs failed for good, the provider saw
 * 17 calls and its circuit opened (it.conn_wait). So a lane hands libcurl at most as many calls as it has slots
 * (max_connections, times max_streams_per_connection over HTTP/2); the
 * others wait in the lane's FIFO, their timeout not started, and go out
 * as calls end (lane_pump). A lane without max_connections has no wait. */
typedef struct lane {
    shard sh;
    char *name;
    int max_connections, max_streams;
    /* Calls handed to libcurl, and calls waiting for a slot (FIFO, linked
     * by next_free; bounded by the engine's transfers, max_inflight). */
    int active, waiting;
    sy_transfer *wait_head, *wait_tail;
    bool multiplexed; /* its calls go over HTTP/2: asked for, and the last answer came so */
    bool answered;    /* an answer said which protocol the provider speaks */
} lane;

#define MAX_LANES 64 /* providers with bounds; past that, calls use the shards (warned once) */

struct sy_engine {
    shard *shards;
    int nshards;
    sy_loop *loop;
    sy_transfer *failed;  /* could not be set up: completed from `fail_timer` */
    sy_loop_timer fail_timer;
    sy_transfer *pool;
    sy_transfer *free_list;
    int capacity;
    int inflight;
    int busy; /* acquired, launched or not */
    sy_transfer_done_fn done;
    void *ctx;
    size_t max_body, max_headers; /* SIZE_MAX: unbounded */
    sy_engine_stats stats;
    lane *lanes[MAX_LANES];
    int nlanes;
    bool lanes_full_warned;
    char *default_ca;     /* libcurl's built-in CA file, for calls without ca_file */
};

/* Append to a response buffer, up to `max` bytes in all: past it the
 * write callback returns short, which makes libcurl end the transfer
 * (CURLE_WRITE_ERROR), so an endless or huge answer never costs more than
 * `max` bytes of memory. */
static size_t keep(sy_transfer *t, sy_buf *b, const char *p, size_t n, size_t max)
{
    if (n > max || b->len > max - n) {
        t->too_large = true;
        return 0;
    }
    sy_buf_append(b, p, n);
    return n;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    sy_transfer *t = ud;
    return keep(t, &t->body, p, size * n, t->max_body);
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    sy_transfer *t = ud;
    return keep(t, &t->headers, p, size * n, t->max_headers);
}

/* Free a header list, zeroing its lines first: one carries the API key. */
static void free_header_list(struct curl_slist *l)
{
    for (struct curl_slist *n = l; n; n = n->next) explicit_bzero(n->data, strlen(n->data));
    curl_slist_free_all(l);
}

/* libcurl: open the socket of a new connection (counted, in all and by
 * the shard or lane it is opened for: libcurl gives a connection the close
 * callback and data of the transfer that opened it). */
static curl_socket_t on_open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    (void)purpose;
    shard *sh = ud;
    curl_socket_t s = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    if (s == CURL_SOCKET_BAD) return s;
    sh->e->stats.connections_opened++;
    sh->e->stats.connections_open++;
    sh->opened++;
    sh->open++;
    return s;
}

static int on_close_socket(void *ud, curl_socket_t s)
{
    shard *sh = ud;
    sh->e->stats.connections_open--;
    sh->open--;
    return close(s);
}

/* The multi handle a transfer is added to next: its callbacks' data. */
static void set_shard(sy_transfer *t, shard *sh)
{
    if (t->at == sh) return;
    t->at = sh;
    curl_easy_setopt(t->easy, CURLOPT_OPENSOCKETDATA, sh);
    curl_easy_setopt(t->easy, CURLOPT_CLOSESOCKETDATA, sh);
}

static bool setup_easy(sy_engine *e, sy_transfer *t)
{
    t->easy = curl_easy_init();
    if (!t->easy) return false;
    curl_easy_setopt(t->easy, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(t->easy, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
    t->at = NULL;
    set_shard(t, &e->shards[t->shard]);
    curl_easy_setopt(t->easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    t->h2_set = false;
    if (!e->default_ca) {
        char *ca = NULL;
        curl_easy_getinfo(t->easy, CURLINFO_CAINFO, &ca);
        e->default_ca = sy_xstrdup(ca ? ca : "");
    }
    curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(t->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(t->easy, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
    curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(t->easy, CURLOPT_TCP_KEEPALIVE, 1L);
    /* libcurl's receive buffer (16 KB by default) is allocated per transfer
     * and kept while it is in flight, at one byte more than asked: 2 KB
     * holds a typical answer (headers and body) in one or two reads and
     * keeps 10,000 calls in flight from costing 160 MB. HTTP/1.1 only:
     * an HTTP/2 transfer gets a whole TLS record's (set_transport). */
    curl_easy_setopt(t->easy, CURLOPT_BUFFERSIZE, H1_BUFFER);
    /* (A 1 KB buffer, tried when HTTP/2 had the 2 KB one too, cost ~41,000
     * more instructions per HTTP/2 call: 220,338 against 261,573 per call,
     * CALLGRIND=1 TRANSPORT=h2 bench/floor.sh 2000 256.) A transfer in
     * flight also holds a buffer of this size for what it sends: libcurl
     * 7.88 for an HTTP/2 POST's body, 8.x for every request (massif: 400
     * calls in flight held 400 blocks of 16,424 bytes, of 32,808 with
     * 32 KB set). 64 KB by default, 16 KB is libcurl's least; only its
     * first page is touched, so this bounds the address space, not the
     * resident memory (bench/README.md, memory per call). */
    curl_easy_setopt(t->easy, CURLOPT_UPLOAD_BUFFERSIZE, 16384L);
    return true;
}

static void shard_finish(sy_engine *e, shard *sh);

/* The loop: a socket of the shard is ready. */
static void on_ready(void *ctx, int fd, unsigned ready)
{
    shard *sh = ctx;
    int running = 0, flags = 0;
    if (ready & SY_LOOP_READ) flags |= CURL_CSELECT_IN;
    if (ready & SY_LOOP_WRITE) flags |= CURL_CSELECT_OUT;
    if (ready & SY_LOOP_ERROR) flags |= CURL_CSELECT_ERR;
    curl_multi_socket_action(sh->multi, fd, flags, &running);
    shard_finish(sh->e, sh);
}

/* The loop: the shard's libcurl timeout is due. */
static void on_timeout(void *ctx)
{
    shard *sh = ctx;
    int running = 0;
    curl_multi_socket_action(sh->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    shard_finish(sh->e, sh);
}

/* libcurl: watch socket s for `what` (or stop watching it). */
static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy;
    (void)socketp;
    shard *sh = userp;
    if (what == CURL_POLL_REMOVE) {
        sy_loop_unwatch(sh->e->loop, s);
        return 0;
    }
    unsigned events = (what & CURL_POLL_IN ? SY_LOOP_READ : 0) | (what & CURL_POLL_OUT ? SY_LOOP_WRITE : 0);
    if (sy_loop_watch(sh->e->loop, s, events, on_ready, sh) != 0)
        sy_warn("cannot watch a socket: %s", strerror(errno));
    return 0;
}

/* libcurl: call me back (CURL_SOCKET_TIMEOUT) in timeout_ms; -1 cancels. */
static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    shard *sh = userp;
    if (timeout_ms < 0) sy_loop_timer_cancel(sh->e->loop, &sh->timeout);
    else sy_loop_timer_at(sh->e->loop, &sh->timeout, sy_mono_us() + (int64_t)timeout_ms * 1000);
    return 0;
}

static int shard_init(sy_engine *e, shard *sh, uint32_t index, int hosts)
{
    sh->e = e;
    sh->index = index;
    sy_loop_timer_init(&sh->timeout, on_timeout, sh);
    sh->multi = curl_multi_init();
    if (!sh->multi) return -1;
    curl_multi_setopt(sh->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(sh->multi, CURLMOPT_SOCKETDATA, sh);
    curl_multi_setopt(sh->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(sh->multi, CURLMOPT_TIMERDATA, sh);
    /* Idle connections kept per shard: one per transfer for each host.
     * At one per transfer, a tier falling back from one provider to
     * another made libcurl close a kept connection for every call (338
     * against 221 µs of worker CPU per job, FALLBACK=1 bench/run.sh). */
    curl_multi_setopt(sh->multi, CURLMOPT_MAXCONNECTS, (long)SHARD_SIZE * (hosts > 0 ? hosts : 1));
    curl_multi_setopt(sh->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    /* The bounds (sy_engine_stats): a shard never needs more connections
     * to a host than it has transfers, nor more streams on one. */
    curl_multi_setopt(sh->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)SHARD_SIZE);
    curl_multi_setopt(sh->multi, CURLMOPT_MAX_CONCURRENT_STREAMS, (long)SHARD_SIZE);
    return 0;
}

/* A lane's libcurl limits: its bounds, 0 (libcurl's: none) for connections
 * not bounded, SHARD_SIZE streams as in a shard. */
static void lane_limits(lane *l, int max_connections, int max_streams)
{
    l->max_connections = max_connections;
    l->max_streams = max_streams;
    CURLM *m = l->sh.multi;
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)max_connections);
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)max_connections);
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)(max_connections ? max_connections : l->sh.e->capacity));
    curl_multi_setopt(m, CURLMOPT_MAX_CONCURRENT_STREAMS, (long)(max_streams ? max_streams : SHARD_SIZE));
}

/* Calls the lane may have with libcurl at once: as many as its connections
 * carry without a wait. */
static int lane_slots(const lane *l)
{
    if (!l->max_connections) return INT_MAX;
    if (!l->multiplexed) return l->max_connections;
    long n = (long)l->max_connections * (l->max_streams ? l->max_streams : SHARD_SIZE);
    return n > INT_MAX ? INT_MAX : (int)n;
}

/* A transfer that ends without a call: completed from a loop timer. */
static void fail_later(sy_engine *e, sy_transfer *t, CURLcode code)
{
    t->http_status = 0;
    t->curl_code = code;
    t->started_us = sy_mono_us();
    t->next_free = e->failed;
    e->failed = t;
    sy_loop_timer_at(e->loop, &e->fail_timer, 0);
}

/* Hand libcurl the lane's waiting calls while it has free slots, oldest
 * first; a call's timeout starts here, cut to its caller's deadline. One
 * whose deadline passed meanwhile is not sent (expired). */
static void lane_pump(lane *l)
{
    sy_transfer *t;
    while ((t = l->wait_head) && l->active < lane_slots(l)) {
        l->wait_head = t->next_free;
        if (!l->wait_head) l->wait_tail = NULL;
        l->waiting--;
        int64_t timeout = t->timeout_ms, left = t->deadline_ms ? t->deadline_ms - sy_now_ms() : timeout;
        if (left <= 0) {
            t->expired = true;
            fail_later(l->sh.e, t, CURLE_OPERATION_TIMEDOUT);
            continue;
        }
        if (left < timeout) timeout = left;
        l->active++;
        curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, (long)timeout);
        t->started_us = sy_mono_us();
        curl_multi_add_handle(l->sh.multi, t->easy);
    }
}

/* The lane of a request's provider, made at its first call and its limits
 * set again when a reload changed them; NULL: no bounds, or no room. */
static shard *lane_of(sy_engine *e, const sy_request *r)
{
    if (!r->lane) return NULL;
    for (int i = 0; i < e->nlanes; i++) {
        lane *l = e->lanes[i];
        if (strcmp(l->name, r->lane)) continue;
        if (l->max_connections != r->max_connections || l->max_streams != r->max_streams) {
            lane_limits(l, r->max_connections, r->max_streams);
            lane_pump(l); /* more slots now, maybe */
        }
        return &l->sh;
    }
    lane *l = e->nlanes < MAX_LANES ? sy_xcalloc(1, sizeof *l) : NULL;
    if (l && shard_init(e, &l->sh, (uint32_t)(e->nshards + e->nlanes), 1) != 0) {
        curl_multi_cleanup(l->sh.multi);
        free(l);
        l = NULL;
    }
    if (!l) {
        if (!e->lanes_full_warned) sy_warn("provider %s: its connection bounds cannot be applied (more than %d "
                                           "bounded providers, or no memory): its calls share the others' connections", r->lane, MAX_LANES);
        e->lanes_full_warned = true;
        return NULL;
    }
    l->sh.lane = l;
    l->name = sy_xstrdup(r->lane);
    lane_limits(l, r->max_connections, r->max_streams);
    e->lanes[e->nlanes++] = l;
    return &l->sh;
}

int sy_engine_lane_stats(const sy_engine *e, sy_engine_lane *out, int max)
{
    int n = 0;
    for (int i = 0; i < e->nlanes && n < max; i++, n++) {
        const lane *l = e->lanes[i];
        out[n] = (sy_engine_lane){l->name, l->sh.opened, l->sh.open, l->max_connections,
                                  l->max_streams ? l->max_streams : SHARD_SIZE, l->active, l->waiting};
    }
    return n;
}

long sy_engine_max_fds(int max_inflight, int hosts)
{
    long shards = (max_inflight + SHARD_SIZE - 1) / SHARD_SIZE;
    /* a multi handle may hold a wake-up socket pair of its own; so may each
     * bounded provider's lane (its connections take the place of the
     * shards' for its calls) */
    return shards * ((long)SHARD_SIZE * (hosts > 0 ? hosts : 1) + 2) + 2L * (hosts > 0 ? hosts : 1) +
           1; /* + the loop's epoll fd */
}

static void deliver_failed(void *ctx);

sy_engine *sy_engine_new(sy_loop *loop, int max_inflight, int hosts, sy_transfer_done_fn done, void *ctx,
                         sy_werr *err)
{
    static int curl_ready;
    if (!curl_ready++) curl_global_init(CURL_GLOBAL_DEFAULT);
    sy_engine *e = sy_xcalloc(1, sizeof *e);
    e->loop = loop;
    sy_loop_timer_init(&e->fail_timer, deliver_failed, e);
    e->nshards = (max_inflight + SHARD_SIZE - 1) / SHARD_SIZE;
    e->shards = sy_xcalloc((size_t)e->nshards, sizeof *e->shards);
    for (int i = 0; i < e->nshards; i++)
        if (shard_init(e, &e->shards[i], (uint32_t)i, hosts) != 0) {
            sy_werr_set(err, SY_WERR_FATAL, 1, "cannot set up the HTTP engine (curl_multi_init)");
            for (int j = 0; j < i; j++) curl_multi_cleanup(e->shards[j].multi);
            free(e->shards);
            free(e);
            return NULL;
        }
    e->capacity = max_inflight;
    e->max_body = e->max_headers = SIZE_MAX;
    e->stats.shards = e->nshards;
    e->stats.max_connections_per_shard = e->stats.max_streams_per_connection = SHARD_SIZE;
    e->done = done;
    e->ctx = ctx;
    e->pool = sy_xcalloc((size_t)max_inflight, sizeof(sy_transfer));
    for (int i = max_inflight - 1; i >= 0; i--) {
        sy_transfer *t = &e->pool[i];
        t->shard = i / SHARD_SIZE;
        sy_request_init(&t->req);
        sy_buf_init(&t->headers);
        sy_buf_init(&t->body);
        sy_buf_init(&t->hlist_of);
        sy_buf_init(&t->url_of);
        sy_buf_init(&t->ca_of);
        t->next_free = e->free_list;
        e->free_list = t;
    }
    return e;
}

void sy_engine_free(sy_engine *e)
{
    if (!e) return;
    for (int i = 0; i < e->capacity; i++) {
        sy_transfer *t = &e->pool[i];
        if (t->easy) {
            curl_multi_remove_handle(t->at->multi, t->easy);
            curl_easy_cleanup(t->easy);
        }
        free_header_list(t->hlist);
        sy_buf_wipe(&t->hlist_of);
        curl_url_cleanup(t->url);
        sy_buf_free(&t->url_of);
        sy_buf_free(&t->ca_of);
        sy_request_free(&t->req);
        sy_buf_free(&t->headers);
        sy_buf_free(&t->body);
    }
    for (int i = 0; i < e->nshards; i++) {
        sy_loop_timer_cancel(e->loop, &e->shards[i].timeout);
        curl_multi_cleanup(e->shards[i].multi);
    }
    for (int i = 0; i < e->nlanes; i++) {
        sy_loop_timer_cancel(e->loop, &e->lanes[i]->sh.timeout);
        curl_multi_cleanup(e->lanes[i]->sh.multi);
        free(e->lanes[i]->name);
        free(e->lanes[i]);
    }
    sy_loop_timer_cancel(e->loop, &e->fail_timer);
    free(e->shards);
    free(e->pool);
    free(e->default_ca);
    free(e);
}

void sy_engine_set_limits(sy_engine *e, size_t max_body, size_t max_headers)
{
    e->max_body = max_body;
    e->max_headers = max_headers;
}

sy_transfer *sy_engine_acquire(sy_engine *e)
{
    sy_transfer *t = e->free_list;
    if (!t) return NULL;
    e->free_list = t->next_free;
    e->busy++;
    sy_request_reset(&t->req);
    t->deadline_ms = 0;
    return t;
}

void sy_engine_release(sy_engine *e, sy_transfer *t)
{
    e->busy--;
    t->next_free = e->free_list;
    e->free_list = t;
}

static bool same_text(const sy_buf *a, const sy_buf *b)
{
    return a->len == b->len && (!a->len || !memcmp(a->data, b->data, a->len));
}

/* libcurl's header list from the request's NUL-separated lines. A transfer
 * mostly carries calls to the same provider, whose header lines do not
 * change from call to call: the list is rebuilt only when they do. libcurl
 * adds "Expect: 100-continue" for bodies over 1 MB, which only costs a
 * round trip with these APIs: an empty Expect header turns it off. */
static void set_headers(sy_transfer *t)
{
    const sy_buf *h = &t->req.headers;
    bool big = t->req.body.len > 1024 * 1024;
    if (t->hlist && same_text(&t->hlist_of, h) && big == t->hlist_big) return;
    if (t->hlist_of.data) explicit_bzero(t->hlist_of.data, t->hlist_of.len);
    sy_buf_reset(&t->hlist_of);
    sy_buf_append(&t->hlist_of, h->data, h->len);
    t->hlist_big = big;
    free_header_list(t->hlist);
    t->hlist = curl_slist_append(NULL, "User-Agent: switchyard/0.1");
    const char *p = h->data;
    for (int i = 0; i < t->req.nheaders; i++) {
        t->hlist = curl_slist_append(t->hlist, p);
        p += strlen(p) + 1;
    }
    if (big) t->hlist = curl_slist_append(t->hlist, "Expect:");
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->hlist);
}

/* The parsed URL, parsed again only when the request's URL changes. A URL
 * that does not parse goes to libcurl as text, so that the transfer fails
 * with libcurl's own reason. */
static void set_url(sy_transfer *t)
{
    if (t->url && same_text(&t->url_of, &t->req.url)) return;
    if (!t->url) t->url = curl_url();
    sy_buf_reset(&t->url_of);
    if (!t->url || curl_url_set(t->url, CURLUPART_URL, sy_buf_cstr(&t->req.url), 0) != CURLUE_OK) {
        curl_easy_setopt(t->easy, CURLOPT_CURLU, NULL);
        curl_easy_setopt(t->easy, CURLOPT_URL, sy_buf_cstr(&t->req.url));
        return;
    }
    sy_buf_append(&t->url_of, t->req.url.data, t->req.url.len);
    curl_easy_setopt(t->easy, CURLOPT_CURLU, t->url);
}

/* The provider's transport settings, set again only when they change.
 * HTTP/2 (and waiting for a connection being set up, to share it) only
 * over TLS: over plain http:// libcurl would hold every call of a burst
 * until the first answer told it the server does not multiplex. */
static void set_transport(sy_engine *e, sy_transfer *t)
{
    bool h2 = !t->req.http1_only && t->req.url.len > 8 && !strncasecmp(t->req.url.data, "https://", 8);
    if (h2 != t->h2_set) {
        t->h2_set = h2;
        curl_easy_setopt(t->easy, CURLOPT_HTTP_VERSION, (long)(h2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1));
        curl_easy_setopt(t->easy, CURLOPT_PIPEWAIT, h2 ? 1L : 0L);
        curl_easy_setopt(t->easy, CURLOPT_BUFFERSIZE, h2 ? H2_BUFFER : H1_BUFFER);
    }
    const char *ca = t->req.ca_file ? t->req.ca_file : "";
    size_t n = strlen(ca);
    if (t->ca_of.len == n && (!n || !memcmp(t->ca_of.data, ca, n))) return;
    sy_buf_reset(&t->ca_of);
    sy_buf_append(&t->ca_of, ca, n);
    curl_easy_setopt(t->easy, CURLOPT_CAINFO, n ? ca : *e->default_ca ? e->default_ca : NULL);
}

void sy_engine_launch(sy_engine *e, sy_transfer *t, int timeout_ms, void *opaque)
{
    e->inflight++;
    t->expired = false;
    if (!t->easy && !setup_easy(e, t)) {
        t->opaque = opaque;
        t->too_large = false;
        fail_later(e, t, CURLE_FAILED_INIT);
        return;
    }
    sy_buf_reset(&t->headers);
    sy_buf_reset(&t->body);
    t->too_large = false;
    t->max_body = e->max_body;
    t->max_headers = e->max_headers;
    /* An announced Content-Length over the limit ends the transfer before
     * the body comes (CURLE_FILESIZE_EXCEEDED). */
    curl_easy_setopt(t->easy, CURLOPT_MAXFILESIZE_LARGE,
                     (curl_off_t)(e->max_body == SIZE_MAX ? 0 : e->max_body));
    t->opaque = opaque;
    t->http_status = 0;
    t->curl_code = CURLE_OK;
    set_headers(t);
    set_url(t);
    set_transport(e, t);
    if (t->req.get) {
        curl_easy_setopt(t->easy, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->req.body.data ? t->req.body.data : "");
        curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE, (long)t->req.body.len);
    }
    shard *sh = lane_of(e, &t->req);
    set_shard(t, sh ? sh : &e->shards[t->shard]);
    if (sh) { /* in line for a slot of the lane (lane_pump) */
        lane *l = sh->lane;
        if (!t->h2_set) l->multiplexed = false;
        else if (!l->answered) l->multiplexed = true; /* until an answer says otherwise */
        t->timeout_ms = timeout_ms;
        t->next_free = NULL;
        if (l->wait_tail) l->wait_tail->next_free = t;
        else l->wait_head = t;
        l->wait_tail = t;
        l->waiting++;
        lane_pump(l);
        return;
    }
    curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    t->started_us = sy_mono_us();
    curl_multi_add_handle(t->at->multi, t->easy);
}

static void complete(sy_engine *e, shard *sh, CURLMsg *msg)
{
    sy_transfer *t = NULL;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
    t->curl_code = msg->data.result;
    if (t->curl_code == CURLE_FILESIZE_EXCEEDED) t->too_large = true;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->http_status);
    long version = 0;
    curl_easy_getinfo(t->easy, CURLINFO_HTTP_VERSION, &version);
    if (version == CURL_HTTP_VERSION_2_0) e->stats.calls_h2++;
    else if (version) e->stats.calls_h1++;
    t->finished_us = sy_mono_us();
    curl_multi_remove_handle(sh->multi, t->easy);
    e->inflight--;
    if (sh->lane) { /* its slot goes to the oldest waiting call before `done` may launch more */
        if (version) {
            sh->lane->multiplexed = version == CURL_HTTP_VERSION_2_0 && t->h2_set;
            sh->lane->answered = true;
        }
        sh->lane->active--;
        lane_pump(sh->lane);
    }
    e->done(e->ctx, t, t->opaque);
    sy_engine_release(e, t);
}

/* Deliver the shard's finished transfers. */
static void shard_finish(sy_engine *e, shard *sh)
{
    int left;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(sh->multi, &left)))
        if (msg->msg == CURLMSG_DONE) complete(e, sh, msg);
}

/* Transfers that could not be set up end as failed calls. */
static void deliver_failed(void *ctx)
{
    sy_engine *e = ctx;
    sy_transfer *t;
    while ((t = e->failed)) {
        e->failed = t->next_free;
        t->finished_us = sy_mono_us();
        e->inflight--;
        e->done(e->ctx, t, t->opaque);
        sy_engine_release(e, t);
    }
}

int sy_engine_inflight(const sy_engine *e)
{
    return e->inflight;
}

sy_engine_stats sy_engine_get_stats(const sy_engine *e)
{
    return e->stats;
}

bool sy_engine_has_room(const sy_engine *e)
{
    return e->busy < e->capacity;
}
