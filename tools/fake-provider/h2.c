/* h2.c -- HTTP/2 for the fake provider (nghttp2), on TLS connections whose
 * ALPN chose h2.
 *
 * The session is driven by memory (nghttp2_session_mem_recv/mem_send): what
 * a connection reads goes in, what the session has to send goes to the
 * connection's output buffer, which http.c writes like any other. A stream
 * collects its request (pseudo-headers, the few headers api.c reads, the
 * body) and, at END_STREAM, is served by the function http.c gave to
 * fp_h2_start, exactly as an HTTP/1.1 request would be: the answer is built and parked for its
 * simulated latency, many streams of a connection at once. Its response
 * comes back in HTTP/1.1 form (one serializer for both) and is sent here as
 * HEADERS (names lowercased, no connection header) and DATA. A stream the
 * client resets before its answer is due leaves the answer orphaned: it
 * still completes, and is recorded, on time. */
#include "conn.h"
#include "util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <nghttp2/nghttp2.h>

#define MAX_FIELD_BYTES (64 * 1024)
#define MAX_BODY_BYTES (32 * 1024 * 1024)
#define MAX_REPLY_HEADERS 40
#define MAX_STREAMS 1000

enum { F_METHOD, F_PATH, F_AUTH, F_API_KEY, F_AZURE_KEY, F_ANTHROPIC_VERSION, F_JOB, F_COUNT };
static const char *const field_names[F_COUNT] = {":method", ":path", "authorization", "x-api-key", "api-key",
                                                 "anthropic-version", "x-switchyard-job"};

typedef struct fp_stream {
    int32_t id;
    fp_conn *conn;
    sy_buf fields;                      /* copies of the field values */
    struct { size_t off, n; int set; } f[F_COUNT];
    sy_buf body;
    sy_buf reply;                       /* response body being sent */
    size_t reply_off;
    fp_pending *pending;
    struct fp_stream *prev, *next;
} fp_stream;

static fp_stream *stream_of(nghttp2_session *s, int32_t id)
{
    return nghttp2_session_get_stream_user_data(s, id);
}

static void stream_free(fp_conn *c, fp_stream *st)
{
    if (st->pending) st->pending->conn = NULL, st->pending->stream = NULL;
    if (st->prev) st->prev->next = st->next;
    else c->streams = st->next;
    if (st->next) st->next->prev = st->prev;
    c->nstreams--;
    sy_buf_free(&st->fields);
    sy_buf_free(&st->body);
    sy_buf_free(&st->reply);
    free(st);
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *frame, void *ud)
{
    fp_conn *c = ud;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    fp_stream *st = sy_xcalloc(1, sizeof *st);
    st->id = frame->hd.stream_id;
    st->conn = c;
    sy_buf_init(&st->fields);
    sy_buf_init(&st->body);
    sy_buf_init(&st->reply);
    st->next = c->streams;
    if (st->next) st->next->prev = st;
    c->streams = st;
    nghttp2_session_set_stream_user_data(s, st->id, st);
    fp_record_h2_stream(++c->nstreams);
    return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
    (void)flags;
    (void)ud;
    fp_stream *st = stream_of(s, frame->hd.stream_id);
    if (!st) return 0;
    for (int i = 0; i < F_COUNT; i++) {
        if (strlen(field_names[i]) != namelen || memcmp(field_names[i], name, namelen)) continue;
        if (st->fields.len + valuelen > MAX_FIELD_BYTES) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        st->f[i].off = st->fields.len;
        st->f[i].n = valuelen;
        st->f[i].set = 1;
        sy_buf_append(&st->fields, value, valuelen);
        break;
    }
    return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *ud)
{
    (void)flags;
    (void)ud;
    fp_stream *st = stream_of(s, id);
    if (!st) return 0;
    if (st->body.len + len > MAX_BODY_BYTES) {
        nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, id, NGHTTP2_REFUSED_STREAM);
        return 0;
    }
    sy_buf_append(&st->body, data, len);
    return 0;
}

static fp_slice field(const fp_stream *st, int i)
{
    return st->f[i].set ? (fp_slice){st->fields.data + st->f[i].off, st->f[i].n} : (fp_slice){NULL, 0};
}

static fp_serve_fn *serve_request; /* http.c's, from fp_h2_start */

static int on_frame(nghttp2_session *s, const nghttp2_frame *frame, void *ud)
{
    fp_conn *c = ud;
    if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
        !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    fp_stream *st = stream_of(s, frame->hd.stream_id);
    if (!st) return 0;
    fp_request rq = {.method = field(st, F_METHOD), .path = field(st, F_PATH),
                     .body = {st->body.len ? st->body.data : "", st->body.len},
                     .authorization = field(st, F_AUTH), .api_key = field(st, F_API_KEY),
                     .azure_key = field(st, F_AZURE_KEY), .anthropic_version = field(st, F_ANTHROPIC_VERSION),
                     .job = field(st, F_JOB)};
    serve_request(c, st, &rq, 1);
    return 0;
}

static int on_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
    (void)code;
    fp_stream *st = stream_of(s, id);
    if (st) stream_free(ud, st);
    return 0;
}

static ssize_t read_reply(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                          nghttp2_data_source *src, void *ud)
{
    (void)s;
    (void)id;
    (void)ud;
    fp_stream *st = src->ptr;
    size_t n = st->reply.len - st->reply_off;
    if (n > len) n = len;
    memcpy(buf, st->reply.data + st->reply_off, n);
    st->reply_off += n;
    if (st->reply_off == st->reply.len) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

int fp_h2_start(fp_conn *c, fp_serve_fn *serve)
{
    serve_request = serve;
    static nghttp2_session_callbacks *cbs;
    if (!cbs) {
        if (nghttp2_session_callbacks_new(&cbs)) return -1;
        nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
        nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame);
        nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
    }
    nghttp2_session *s;
    if (nghttp2_session_server_new(&s, cbs, c)) return -1;
    c->h2 = s;
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, MAX_STREAMS}};
    if (nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, iv, 1)) return -1;
    fp_record_h2_connection();
    fp_h2_output(c);
    return 0;
}

int fp_h2_input(fp_conn *c)
{
    size_t avail = c->in.len - c->in_off;
    if (avail) {
        ssize_t n = nghttp2_session_mem_recv(c->h2, (const uint8_t *)c->in.data + c->in_off, avail);
        if (n < 0) return -1;
    }
    c->in.len = c->in_off = 0;
    fp_h2_output(c);
    return 0;
}

void fp_h2_output(fp_conn *c)
{
    const uint8_t *p;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(c->h2, &p)) > 0) sy_buf_append(&c->out, p, (size_t)n);
}

int fp_h2_done(const fp_conn *c)
{
    return !nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2);
}

/* "HTTP/1.1 200 OK\r\nname: value\r\n...\r\n\r\nbody" -> HEADERS + DATA. */
void fp_h2_respond(fp_conn *c, fp_stream *st, const char *msg, size_t len)
{
    st->pending = NULL;
    const char *end = memmem(msg, len, "\r\n\r\n", 4);
    if (!end || len < 12) return;
    char status[4] = {msg[9], msg[10], msg[11], 0};
    nghttp2_nv nv[MAX_REPLY_HEADERS + 1];
    size_t n = 0;
    nv[n++] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)status, 7, 3, NGHTTP2_NV_FLAG_NONE};
    char names[MAX_REPLY_HEADERS][64];
    for (const char *p = memchr(msg, '\n', len) + 1; p < end && n <= MAX_REPLY_HEADERS;) {
        const char *eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        size_t nl = colon ? (size_t)(colon - p) : 0;
        if (nl && nl < sizeof names[0] && !(nl == 10 && !strncasecmp(p, "connection", 10))) {
            for (size_t i = 0; i < nl; i++) names[n - 1][i] = (char)tolower((unsigned char)p[i]);
            const char *v = colon + 1;
            while (v < eol && *v == ' ') v++;
            nv[n] = (nghttp2_nv){(uint8_t *)names[n - 1], (uint8_t *)v, nl, (size_t)(eol - v), NGHTTP2_NV_FLAG_NONE};
            n++;
        }
        p = eol + 2;
    }
    sy_buf_reset(&st->reply);
    sy_buf_append(&st->reply, end + 4, (size_t)(msg + len - end - 4));
    st->reply_off = 0;
    nghttp2_data_provider dp = {.source.ptr = st, .read_callback = read_reply};
    nghttp2_submit_response(c->h2, st->id, nv, n, &dp);
    fp_h2_output(c);
}

void fp_h2_set_pending(fp_stream *st, fp_pending *p)
{
    st->pending = p;
}

void fp_h2_free(fp_conn *c)
{
    for (fp_stream *st = c->streams; st; st = st->next) nghttp2_session_set_stream_user_data(c->h2, st->id, NULL);
    while (c->streams) stream_free(c, c->streams);
    nghttp2_session_del(c->h2);
    c->h2 = NULL;
}
