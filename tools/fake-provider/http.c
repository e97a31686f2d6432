/* http.c -- sockets, connections and HTTP/1.1 for the fake provider.
 *
 * One thread runs one epoll loop over the listening socket, a signalfd and
 * every client connection (edge triggered, non-blocking). A connection reads
 * into its input buffer, parses complete requests (header block, then a body
 * of exactly Content-Length bytes; partial and pipelined input both work)
 * and serves them one at a time, in order, as HTTP/1.1 requires: while a
 * response waits out its simulated latency in timers.c, later pipelined
 * requests stay buffered. A connection is kept alive unless the client
 * asks otherwise; a hanging request keeps its connection silent until the
 * client closes it. Responses whose client has gone still complete on time
 * (a real provider finishes, and bills, a call its client abandoned), so the
 * call log records them.
 *
 * Over TLS (tls.c) the same loop reads and writes through OpenSSL; a
 * connection whose ALPN chose h2 hands its input to h2.c instead of the
 * HTTP/1.1 parser, and its streams are served here like requests
 * (conn_serve, handed to fp_h2_start), each with its own pending answer. */
#include "conn.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_HEADER_BYTES (64 * 1024)
#define MAX_BODY_BYTES (32 * 1024 * 1024)
#define MAX_BUFFERED_BYTES (MAX_HEADER_BYTES + MAX_BODY_BYTES + 64 * 1024)
#define READ_CHUNK (16 * 1024)
#define MAX_EVENTS 512

/* A parsed request head. */
typedef struct head {
    fp_request rq;
    size_t header_len;        /* through the blank line */
    int64_t content_length;   /* -1 = absent */
    int chunked, keep_alive, expect_continue;
    int error;                /* HTTP status to refuse the request with */
} head;

static struct {
    int epfd, listen_fd, signal_fd, spare_fd;
    fp_conn *conns;
    fp_reply reply;
    sy_buf scratch;
} srv = {.epfd = -1, .listen_fd = -1, .signal_fd = -1, .spare_fd = -1};

static char listen_tag, signal_tag; /* epoll data for the non-connection fds */

static int conn_process(fp_conn *c);

/* ---- request parsing ---- */

static int slice_eq(fp_slice s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && strncasecmp(s.p, lit, n) == 0;
}

static int slice_has_token(fp_slice s, const char *tok)
{
    size_t n = strlen(tok);
    for (size_t i = 0; i + n <= s.n; i++)
        if (strncasecmp(s.p + i, tok, n) == 0) return 1;
    return 0;
}

static fp_slice trim(const char *p, size_t n)
{
    while (n && (*p == ' ' || *p == '\t')) p++, n--;
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r')) n--;
    return (fp_slice){p, n};
}

static int64_t parse_length(fp_slice v)
{
    if (v.n == 0 || v.n > 15) return -2;
    int64_t n = 0;
    for (size_t i = 0; i < v.n; i++) {
        if (v.p[i] < '0' || v.p[i] > '9') return -2;
        n = n * 10 + (v.p[i] - '0');
    }
    return n;
}

static void header_field(head *h, fp_slice name, fp_slice value)
{
    if (slice_eq(name, "content-length")) {
        int64_t n = parse_length(value);
        if (n < 0 || (h->content_length >= 0 && h->content_length != n)) h->error = 400;
        h->content_length = n;
    } else if (slice_eq(name, "transfer-encoding")) {
        h->chunked = 1;
    } else if (slice_eq(name, "connection")) {
        if (slice_has_token(value, "close")) h->keep_alive = 0;
        else if (slice_has_token(value, "keep-alive")) h->keep_alive = 1;
    } else if (slice_eq(name, "expect")) {
        h->expect_continue = slice_has_token(value, "100-continue");
    } else if (slice_eq(name, "authorization")) {
        h->rq.authorization = value;
    } else if (slice_eq(name, "x-api-key")) {
        h->rq.api_key = value;
    } else if (slice_eq(name, "api-key")) {
        h->rq.azure_key = value;
    } else if (slice_eq(name, "anthropic-version")) {
        h->rq.anthropic_version = value;
    } else if (slice_eq(name, "x-switchyard-job")) {
        h->rq.job = value;
    }
}

/* "METHOD SP target SP HTTP/1.x"; returns 0 or -1. */
static int request_line(head *h, const char *p, size_t n)
{
    const char *sp1 = memchr(p, ' ', n);
    if (!sp1) return -1;
    const char *sp2 = memchr(sp1 + 1, ' ', (size_t)(p + n - sp1 - 1));
    if (!sp2 || sp1 == p || sp2 == sp1 + 1) return -1;
    fp_slice version = trim(sp2 + 1, (size_t)(p + n - sp2 - 1));
    h->rq.method = (fp_slice){p, (size_t)(sp1 - p)};
    h->rq.path = (fp_slice){sp1 + 1, (size_t)(sp2 - sp1 - 1)};
    if (slice_eq(version, "HTTP/1.1")) h->keep_alive = 1;
    else if (slice_eq(version, "HTTP/1.0")) h->keep_alive = 0;
    else return -1;
    return 0;
}

/* Parse data[0..len), which ends with the blank line. */
static void parse_head(const char *data, size_t len, head *h)
{
    memset(h, 0, sizeof *h);
    h->header_len = len;
    h->content_length = -1;
    const char *p = data, *end = data + len;
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (request_line(h, p, (size_t)(eol - p))) { h->error = 400; return; }
    for (p = eol + 1; p < end && (eol = memchr(p, '\n', (size_t)(end - p))) != NULL; p = eol + 1) {
        fp_slice line = trim(p, (size_t)(eol - p));
        if (line.n == 0) break;
        const char *colon = memchr(line.p, ':', line.n);
        if (!colon || colon == line.p) { h->error = 400; return; }
        header_field(h, (fp_slice){line.p, (size_t)(colon - line.p)},
                     trim(colon + 1, (size_t)(line.p + line.n - colon - 1)));
    }
    int bodyless = slice_eq(h->rq.method, "GET") || slice_eq(h->rq.method, "HEAD");
    if (!h->error && (h->chunked || (h->content_length < 0 && !bodyless))) h->error = 411;
    if (!h->error && h->content_length > MAX_BODY_BYTES) h->error = 413;
    if (h->content_length < 0) h->content_length = 0;
}

/* ---- responses ---- */

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 529: return "Overloaded";
    default: return status >= 500 ? "Server Error" : status >= 400 ? "Client Error" : "Status";
    }
}

static void serialize(const fp_reply *rp, int close_after, sy_buf *out)
{
    sy_buf_reset(out);
    sy_buf_printf(out, "HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %zu\r\nconnection: %s\r\n",
                  rp->status, reason(rp->status), rp->content_type, rp->body.len,
                  close_after ? "close" : "keep-alive");
    sy_buf_append(out, rp->headers.data, rp->headers.len);
    sy_buf_append(out, "\r\n", 2);
    sy_buf_append(out, rp->body.data, rp->body.len);
}

/* Refuse what cannot be parsed, then close (the next request's start is unknown). */
static void refuse(fp_conn *c, int status, const char *msg)
{
    fp_reply *rp = &srv.reply;
    fp_reply_reset(rp);
    rp->status = status;
    sy_buf_printf(&rp->body, "{\"error\":{\"message\":\"%s\",\"type\":\"invalid_request_error\","
                             "\"param\":null,\"code\":null}}", msg);
    serialize(rp, 1, &srv.scratch);
    sy_buf_append(&c->out, srv.scratch.data, srv.scratch.len);
    fp_record_answer(status, NULL, 0);
    c->close_after = 1;
}

static void park(fp_conn *c, struct fp_stream *stream, const fp_reply *rp, int close_after)
{
    fp_pending *p = sy_xmalloc(sizeof *p + srv.scratch.len + rp->call.len);
    p->due_us = sy_mono_us() + rp->delay_ms * 1000;
    p->conn = c;
    p->stream = stream;
    p->status = rp->status;
    p->close_after = close_after;
    p->resp_len = srv.scratch.len;
    p->call_len = rp->call.len;
    memcpy(p->bytes, srv.scratch.data, srv.scratch.len);
    if (rp->call.len) memcpy(p->bytes + p->resp_len, rp->call.data, rp->call.len);
    if (stream) {
        fp_h2_set_pending(stream, p);
    } else {
        c->pending = p;
        c->state = CONN_WAITING;
    }
    fp_timers_push(p);
}

static void conn_serve(fp_conn *c, struct fp_stream *stream, const fp_request *rq, int keep_alive)
{
    fp_reply *rp = &srv.reply;
    fp_api_handle(rq, rp);
    if (rp->status == 0) { /* hang: record the start, never answer */
        fp_record_answer(0, rp->call.data, rp->call.len);
        if (!stream) c->state = CONN_HUNG; /* an HTTP/2 stream just stays open */
        return;
    }
    int close_after = !keep_alive;
    serialize(rp, close_after, &srv.scratch);
    if (rp->delay_ms > 0) {
        park(c, stream, rp, close_after);
        return;
    }
    if (stream) {
        fp_record_answer(rp->status, rp->call.data, rp->call.len);
        fp_h2_respond(c, stream, srv.scratch.data, srv.scratch.len);
        return;
    }
    sy_buf_append(&c->out, srv.scratch.data, srv.scratch.len);
    fp_record_answer(rp->status, rp->call.data, rp->call.len);
    c->close_after |= close_after;
}

/* Serve the next complete request in the input; returns 1 if one was
 * served, 0 if more input is needed (or the connection is refused). */
static int next_request(fp_conn *c)
{
    while (c->in_off < c->in.len && (c->in.data[c->in_off] == '\r' || c->in.data[c->in_off] == '\n'))
        c->in_off++;
    const char *data = c->in.data + c->in_off;
    size_t avail = c->in.len - c->in_off;
    if (avail == 0 || (c->need && avail < c->need)) return 0;
    const char *end = memmem(data, avail, "\r\n\r\n", 4);
    if (!end) {
        if (avail > MAX_HEADER_BYTES) refuse(c, 431, "request header too large");
        return 0;
    }
    head h;
    parse_head(data, (size_t)(end + 4 - data), &h);
    if (h.error) {
        refuse(c, h.error, h.error == 411 ? "a Content-Length header is required"
                           : h.error == 413 ? "request body too large" : "malformed HTTP request");
        return 0;
    }
    size_t total = h.header_len + (size_t)h.content_length;
    if (avail < total) {
        if (!c->need && h.expect_continue) sy_buf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
        c->need = total;
        return 0;
    }
    h.rq.body = (fp_slice){data + h.header_len, (size_t)h.content_length};
    conn_serve(c, NULL, &h.rq, h.keep_alive);
    c->in_off += total;
    c->need = 0;
    return 1;
}

/* ---- connections ---- */

static void conn_close(fp_conn *c)
{
    if (c->h2) fp_h2_free(c);
    if (c->ssl) fp_tls_free(c);
    close(c->fd);
    if (c->pending) c->pending->conn = NULL;
    if (c->prev) c->prev->next = c->next;
    else srv.conns = c->next;
    if (c->next) c->next->prev = c->prev;
    sy_buf_free(&c->in);
    sy_buf_free(&c->out);
    free(c);
    fp_record_connection(-1);
}

/* Send what is buffered; returns -1 if the connection was closed. */
static int conn_flush(fp_conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = c->ssl ? fp_tls_send(c, c->out.data + c->out_off, c->out.len - c->out_off)
                           : send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) { c->out_off += (size_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        conn_close(c);
        return -1;
    }
    c->out.len = c->out_off = 0;
    if (c->close_after || (c->peer_closed && c->state != CONN_WAITING) || (c->h2 && fp_h2_done(c))) {
        conn_close(c);
        return -1;
    }
    return 0;
}

static int conn_process(fp_conn *c)
{
    if (c->h2) {
        if (fp_h2_input(c) < 0) c->close_after = 1;
        return conn_flush(c);
    }
    while (c->state == CONN_IDLE && !c->close_after && next_request(c)) {}
    if (c->in_off == c->in.len) c->in.len = c->in_off = 0;
    return conn_flush(c);
}

/* Read all the socket has; returns -1 if the connection was closed. */
static int conn_read(fp_conn *c, uint32_t events)
{
    if (c->in_off) {
        memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
        c->in.len -= c->in_off;
        c->in_off = 0;
    }
    for (;;) {
        sy_buf_reserve(&c->in, READ_CHUNK);
        size_t room = c->in.cap - c->in.len - 1;
        ssize_t n = c->ssl ? fp_tls_recv(c, c->in.data + c->in.len, room)
                           : recv(c->fd, c->in.data + c->in.len, room, 0);
        if (n > 0) {
            c->in.len += (size_t)n;
            if (c->in.len > MAX_BUFFERED_BYTES) { conn_close(c); return -1; }
            /* A short read drained the socket; new data or EOF is a new edge.
             * (Not so over TLS: a read returns at most one record.) */
            if (!c->ssl && (size_t)n < room && !(events & (EPOLLRDHUP | EPOLLHUP))) break;
            continue;
        }
        if (n == 0) { c->peer_closed = 1; break; }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        conn_close(c);
        return -1;
    }
    if (c->ssl && !c->tls_ready && fp_tls_handshake_done(c)) {
        c->tls_ready = 1;
        fp_record_tls_connection();
        if (fp_tls_alpn_h2(c) && fp_h2_start(c, conn_serve) < 0) { conn_close(c); return -1; }
    }
    if (c->state == CONN_HUNG) c->in.len = c->in_off = 0; /* nothing after a hang is served */
    return conn_process(c);
}

static void conn_event(fp_conn *c, uint32_t events)
{
    if (events & EPOLLERR) { conn_close(c); return; }
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) && conn_read(c, events) < 0) return;
    /* OpenSSL waited for the socket to take bytes to go on reading */
    if ((events & EPOLLOUT) && c->tls_want_write && conn_read(c, events) < 0) return;
    if (events & EPOLLOUT) conn_flush(c);
}

static void conn_open(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fp_conn *c = sy_xcalloc(1, sizeof *c);
    c->fd = fd;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (epoll_ctl(srv.epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        close(fd);
        free(c);
        return;
    }
    c->next = srv.conns;
    if (c->next) c->next->prev = c;
    srv.conns = c;
    fp_record_connection(+1);
    if (fp_tls_enabled()) fp_tls_attach(c);
}

/* Out of descriptors: accept and drop one connection with the spare fd,
 * rather than spin on a listening socket that stays readable. */
static int shed_connection(void)
{
    if (srv.spare_fd < 0) return -1;
    close(srv.spare_fd);
    int fd = accept(srv.listen_fd, NULL, NULL);
    if (fd >= 0) close(fd);
    srv.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return 0;
}

static void accept_all(void)
{
    for (;;) {
        int fd = accept4(srv.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) { conn_open(fd); continue; }
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if ((errno == EMFILE || errno == ENFILE) && shed_connection() == 0) continue;
        return;
    }
}

/* ---- timers and the loop ---- */

static void deliver(fp_pending *p)
{
    fp_record_answer(p->status, p->bytes + p->resp_len, p->call_len);
    fp_conn *c = p->conn;
    if (c && p->stream) { /* HTTP/2: the stream is still open */
        fp_h2_respond(c, p->stream, p->bytes, p->resp_len);
        free(p);
        conn_flush(c);
        return;
    }
    if (c) {
        c->pending = NULL;
        c->state = CONN_IDLE;
        sy_buf_append(&c->out, p->bytes, p->resp_len);
        c->close_after |= p->close_after;
    }
    free(p);
    if (c) conn_process(c);
}

static void fire_due(void)
{
    int64_t now = sy_mono_us();
    fp_pending *p;
    while ((p = fp_timers_pop_due(now)) != NULL) deliver(p);
}

static int wait_ms(void)
{
    int64_t due = fp_timers_next_due_us();
    if (due == INT64_MAX) return -1;
    int64_t ms = (due - sy_mono_us() + 999) / 1000;
    return ms <= 0 ? 0 : ms > INT_MAX ? INT_MAX : (int)ms;
}

static int epoll_add(int fd, void *tag)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};
    return epoll_ctl(srv.epfd, EPOLL_CTL_ADD, fd, &ev);
}

static int open_listener(struct sockaddr_in *addr)
{
    srv.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (srv.listen_fd < 0) return -1;
    int one = 1;
    setsockopt(srv.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    socklen_t len = sizeof *addr;
    if (bind(srv.listen_fd, (struct sockaddr *)addr, sizeof *addr) < 0 ||
        listen(srv.listen_fd, 65535) < 0 ||
        getsockname(srv.listen_fd, (struct sockaddr *)addr, &len) < 0)
        return -1;
    fp_cfg.port = ntohs(addr->sin_port);
    return 0;
}

static int open_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) return -1;
    srv.signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    return srv.signal_fd < 0 ? -1 : 0;
}

int fp_listen(void)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fp_cfg.port)};
    const char *host = strcmp(fp_cfg.host, "localhost") ? fp_cfg.host : "127.0.0.1";
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "fake-provider: --host must be an IPv4 address: %s\n", fp_cfg.host);
        return -1;
    }
    signal(SIGPIPE, SIG_IGN);
    fp_reply_init(&srv.reply);
    sy_buf_init(&srv.scratch);
    if (fp_tls_init() < 0) return -1;
    srv.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (open_signals() < 0 || open_listener(&addr) < 0 || (srv.epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        epoll_add(srv.listen_fd, &listen_tag) < 0 || epoll_add(srv.signal_fd, &signal_tag) < 0) {
        fprintf(stderr, "fake-provider: cannot listen on %s:%d: %s\n", fp_cfg.host, fp_cfg.port, strerror(errno));
        return -1;
    }
    return 0;
}

int fp_serve(void)
{
    struct epoll_event evs[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(srv.epfd, evs, MAX_EVENTS, wait_ms());
        if (n < 0 && errno != EINTR) {
            perror("fake-provider: epoll_wait");
            return -1;
        }
        for (int i = 0; i < n; i++) {
            void *tag = evs[i].data.ptr;
            if (tag == &listen_tag) accept_all();
            else if (tag == &signal_tag) return 0;
            else conn_event(tag, evs[i].events);
        }
        fire_due();
    }
}
