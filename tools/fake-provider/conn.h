/* conn.h -- one client connection of the fake provider, as http.c (the
 * loop, HTTP/1.1), tls.c (OpenSSL under it) and h2.c (HTTP/2 over it)
 * share it. A connection is plain or TLS; over TLS, ALPN picks HTTP/2 or
 * HTTP/1.1. Under HTTP/1.1 one request is served at a time (`pending`);
 * under HTTP/2 every stream has its own (fp_stream, h2.c). */
#ifndef FP_CONN_H
#define FP_CONN_H

#include <sys/types.h>

#include "fake.h"

typedef enum conn_state { CONN_IDLE, CONN_WAITING, CONN_HUNG } conn_state;

struct fp_stream;

typedef struct fp_conn {
    int fd;
    conn_state state;
    int peer_closed;      /* read EOF */
    int close_after;      /* close once the output is written */
    size_t need;          /* size of the request being received, once its header is in */
    sy_buf in;
    size_t in_off;        /* start of the first unserved request */
    sy_buf out;
    size_t out_off;       /* bytes of `out` already sent */
    fp_pending *pending;  /* HTTP/1.1: the response waiting for its time */
    void *ssl;            /* SSL *, NULL on a plain connection */
    int tls_ready;        /* handshake done (counted, ALPN read) */
    int tls_want_write;   /* OpenSSL waits for the socket to take bytes */
    void *h2;             /* nghttp2_session *, once ALPN chose h2 */
    struct fp_stream *streams; /* HTTP/2 streams open */
    int nstreams;              /* ... how many */
    struct fp_conn *prev, *next;
} fp_conn;

/* Serve one request; `stream` is NULL under HTTP/1.1. http.c owns it and
 * hands it to h2.c at fp_h2_start, so h2.c calls nothing of http.c's (the
 * layers point one way: http.c -> h2.c -> tls.c's connection). */
typedef void fp_serve_fn(fp_conn *c, struct fp_stream *stream, const fp_request *rq, int keep_alive);

/* tls.c */
int fp_tls_init(void);                 /* from fp_cfg; 0 (also when off) or -1 */
int fp_tls_enabled(void);
void fp_tls_attach(fp_conn *c);        /* a new connection starts its handshake */
void fp_tls_free(fp_conn *c);
/* As recv(2)/send(2): bytes, 0 on EOF, or -1 with errno (EAGAIN: wait). */
ssize_t fp_tls_recv(fp_conn *c, char *buf, size_t n);
ssize_t fp_tls_send(fp_conn *c, const char *buf, size_t n);
int fp_tls_alpn_h2(const fp_conn *c);  /* the handshake chose h2 */
int fp_tls_handshake_done(const fp_conn *c);

/* h2.c */
/* The server's preface; 0 or -1. Each stream, once its request is in, is
 * served by `serve`. */
int fp_h2_start(fp_conn *c, fp_serve_fn *serve);
/* Feed c->in to the session (consumed), queue its output in c->out;
 * -1: the connection is to be closed. */
int fp_h2_input(fp_conn *c);
/* A response for `stream` (an HTTP/1.1-form message, as http.c makes
 * them): sent as HEADERS and DATA; output queued in c->out. */
void fp_h2_respond(fp_conn *c, struct fp_stream *stream, const char *msg, size_t len);
void fp_h2_output(fp_conn *c);         /* queue what the session has to send */
int fp_h2_done(const fp_conn *c);      /* the session wants neither to read nor to write */
void fp_h2_free(fp_conn *c);           /* streams' pending responses are orphaned */
void fp_h2_set_pending(struct fp_stream *s, fp_pending *p); /* its answer waits in timers.c */

#endif
