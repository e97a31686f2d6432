/* engine.c -- see engine.h.
 *
 * Completions are delivered from sy_engine_step, never from inside libcurl
 * callbacks, so the caller may launch new transfers from its done callback.
 * A transfer returns to the free list right after its callback runs. */
#include "engine.h"
#include "log.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

struct sy_engine {
    CURLM *multi;
    sy_transfer *pool;
    sy_transfer *free_list;
    int capacity;
    int inflight;
    int busy; /* acquired, launched or not */
    sy_transfer_done_fn done;
    void *ctx;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    sy_buf_append(&((sy_transfer *)ud)->body, p, size * n);
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    sy_buf_append(&((sy_transfer *)ud)->headers, p, size * n);
    return size * n;
}

static void setup_easy(sy_transfer *t)
{
    t->easy = curl_easy_init();
    if (!t->easy) {
        sy_error("curl_easy_init failed");
        abort();
    }
    curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(t->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(t->easy, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
    curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(t->easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(t->easy, CURLOPT_USERAGENT, "switchyard/0.1");
    curl_easy_setopt(t->easy, CURLOPT_ACCEPT_ENCODING, "");
}

sy_engine *sy_engine_new(int max_inflight, sy_transfer_done_fn done, void *ctx)
{
    static int curl_ready;
    if (!curl_ready++) curl_global_init(CURL_GLOBAL_DEFAULT);
    sy_engine *e = sy_xcalloc(1, sizeof *e);
    e->multi = curl_multi_init();
    e->capacity = max_inflight;
    e->done = done;
    e->ctx = ctx;
    curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, (long)max_inflight);
    curl_multi_setopt(e->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    e->pool = sy_xcalloc((size_t)max_inflight, sizeof(sy_transfer));
    for (int i = max_inflight - 1; i >= 0; i--) {
        sy_transfer *t = &e->pool[i];
        sy_request_init(&t->req);
        sy_buf_init(&t->headers);
        sy_buf_init(&t->body);
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
            curl_multi_remove_handle(e->multi, t->easy);
            curl_easy_cleanup(t->easy);
        }
        curl_slist_free_all(t->hlist);
        sy_request_free(&t->req);
        sy_buf_free(&t->headers);
        sy_buf_free(&t->body);
    }
    curl_multi_cleanup(e->multi);
    free(e->pool);
    free(e);
}

sy_transfer *sy_engine_acquire(sy_engine *e)
{
    sy_transfer *t = e->free_list;
    if (!t) return NULL;
    e->free_list = t->next_free;
    e->busy++;
    sy_request_reset(&t->req);
    return t;
}

void sy_engine_release(sy_engine *e, sy_transfer *t)
{
    e->busy--;
    t->next_free = e->free_list;
    e->free_list = t;
}

/* Rebuild libcurl's header list from the request's NUL-separated lines. */
static void set_headers(sy_transfer *t)
{
    curl_slist_free_all(t->hlist);
    t->hlist = NULL;
    const char *p = t->req.headers.data;
    for (int i = 0; i < t->req.nheaders; i++) {
        t->hlist = curl_slist_append(t->hlist, p);
        p += strlen(p) + 1;
    }
    t->hlist = curl_slist_append(t->hlist, "Expect:");
}

void sy_engine_launch(sy_engine *e, sy_transfer *t, int timeout_ms, void *opaque)
{
    if (!t->easy) setup_easy(t);
    sy_buf_reset(&t->headers);
    sy_buf_reset(&t->body);
    t->opaque = opaque;
    t->http_status = 0;
    t->curl_code = CURLE_OK;
    set_headers(t);
    curl_easy_setopt(t->easy, CURLOPT_URL, sy_buf_cstr(&t->req.url));
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->hlist);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->req.body.data ? t->req.body.data : "");
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE, (long)t->req.body.len);
    curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    t->started_us = sy_mono_us();
    curl_multi_add_handle(e->multi, t->easy);
    e->inflight++;
}

static void complete(sy_engine *e, CURLMsg *msg)
{
    sy_transfer *t = NULL;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
    t->curl_code = msg->data.result;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->http_status);
    t->finished_us = sy_mono_us();
    curl_multi_remove_handle(e->multi, t->easy);
    e->inflight--;
    e->done(e->ctx, t, t->opaque);
    sy_engine_release(e, t);
}

void sy_engine_step(sy_engine *e, int wait_ms, int wake_fd)
{
    struct curl_waitfd extra = {.fd = wake_fd, .events = CURL_WAIT_POLLIN};
    int running = 0;
    curl_multi_perform(e->multi, &running);
    curl_multi_poll(e->multi, wake_fd >= 0 ? &extra : NULL, wake_fd >= 0 ? 1 : 0, wait_ms, NULL);
    curl_multi_perform(e->multi, &running);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(e->multi, &left)))
        if (msg->msg == CURLMSG_DONE) complete(e, msg);
}

int sy_engine_inflight(const sy_engine *e)
{
    return e->inflight;
}

int sy_engine_capacity(const sy_engine *e)
{
    return e->capacity;
}

bool sy_engine_has_room(const sy_engine *e)
{
    return e->busy < e->capacity;
}
