/* tls.c -- TLS under the fake provider's connections (OpenSSL).
 *
 * With --tls-cert and --tls-key every accepted connection is TLS. The
 * handshake is driven by the first reads and writes (the socket is non-
 * blocking, the loop edge-triggered: an operation that would block returns
 * EAGAIN and the next edge resumes it; when OpenSSL needs the socket
 * writable to go on reading, tls_want_write asks the loop to read again on
 * EPOLLOUT). ALPN offers h2 (unless --h2 off) before http/1.1. Buffers are
 * released while a connection is idle (SSL_MODE_RELEASE_BUFFERS), so that
 * thousands of kept-alive connections stay cheap. The certificate is made
 * by the test or bench that starts the fake; none is shipped. */
#include "conn.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

static SSL_CTX *ctx;

/* Pick `want` from the client's ALPN list (length-prefixed names). */
static int offered(const unsigned char *in, unsigned inlen, const char *want, const unsigned char **out,
                   unsigned char *outlen)
{
    size_t wn = strlen(want);
    for (unsigned i = 0; i < inlen;) {
        unsigned n = in[i];
        if (i + 1 + n > inlen) return 0;
        if (n == wn && !memcmp(in + i + 1, want, wn)) {
            *out = in + i + 1;
            *outlen = (unsigned char)n;
            return 1;
        }
        i += 1 + n;
    }
    return 0;
}

static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                       unsigned inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    if (fp_cfg.h2 && offered(in, inlen, "h2", out, outlen)) return SSL_TLSEXT_ERR_OK;
    if (offered(in, inlen, "http/1.1", out, outlen)) return SSL_TLSEXT_ERR_OK;
    return SSL_TLSEXT_ERR_NOACK; /* no ALPN: HTTP/1.1 */
}

int fp_tls_init(void)
{
    if (!fp_cfg.tls_cert) return 0;
    ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
        SSL_CTX_use_certificate_chain_file(ctx, fp_cfg.tls_cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, fp_cfg.tls_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        char err[256];
        ERR_error_string_n(ERR_get_error(), err, sizeof err);
        fprintf(stderr, "fake-provider: cannot use --tls-cert %s / --tls-key %s: %s\n", fp_cfg.tls_cert,
                fp_cfg.tls_key, err);
        return -1;
    }
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);
    return 0;
}

int fp_tls_enabled(void)
{
    return ctx != NULL;
}

void fp_tls_attach(fp_conn *c)
{
    SSL *s = SSL_new(ctx);
    if (!s || SSL_set_fd(s, c->fd) != 1) {
        SSL_free(s);
        c->close_after = 1; /* nothing can be served on it */
        return;
    }
    SSL_set_accept_state(s);
    c->ssl = s;
}

void fp_tls_free(fp_conn *c)
{
    SSL_free(c->ssl);
    c->ssl = NULL;
}

/* After an SSL_read or SSL_write that returned r <= 0. */
static ssize_t failed(fp_conn *c, int r)
{
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_READ: errno = EAGAIN; return -1;
    case SSL_ERROR_WANT_WRITE: c->tls_want_write = 1; errno = EAGAIN; return -1;
    case SSL_ERROR_ZERO_RETURN: return 0;
    case SSL_ERROR_SYSCALL: if (errno == 0 || r == 0) return 0; return -1;
    default: errno = ECONNRESET; return -1; /* a failed handshake, a bad record */
    }
}

ssize_t fp_tls_recv(fp_conn *c, char *buf, size_t n)
{
    if (!c->ssl) { errno = ECONNRESET; return -1; }
    ERR_clear_error();
    c->tls_want_write = 0;
    errno = 0;
    int r = SSL_read(c->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
    return r > 0 ? r : failed(c, r);
}

ssize_t fp_tls_send(fp_conn *c, const char *buf, size_t n)
{
    if (!c->ssl) { errno = ECONNRESET; return -1; }
    ERR_clear_error();
    errno = 0;
    int r = SSL_write(c->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
    return r > 0 ? r : failed(c, r);
}

int fp_tls_alpn_h2(const fp_conn *c)
{
    const unsigned char *p = NULL;
    unsigned n = 0;
    SSL_get0_alpn_selected(c->ssl, &p, &n);
    return n == 2 && !memcmp(p, "h2", 2);
}

int fp_tls_handshake_done(const fp_conn *c)
{
    return SSL_is_init_finished(c->ssl);
}
