/* httpd.c -- see httpd.h. */
#include "httpd.h"
#include "util.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* base/status_page.html, made a C array at build time (cmake/embed.cmake) */
extern const unsigned char sy_status_page_html[];
extern const size_t sy_status_page_html_len;

/* The Kafka check runs on a thread of its own, every PROBE_EVERY_MS; a
 * /readyz answers at once from its last result. A result older than
 * PROBE_STALE_MS (the check itself hangs) is not trusted. */
#define PROBE_EVERY_MS 1000
#define PROBE_STALE_MS 5000

struct sy_httpd {
    struct MHD_Daemon *d;
    char *token;              /* NULL: no token asked */
    int stuck_ms;
    int port;
    sy_httpd_probe_fn probe;
    void *probe_ctx;
    pthread_mutex_t mu;       /* guards page and not_ready (publish / serve) */
    char *page;
    size_t page_len;
    char *not_ready;          /* NULL until the first publish: "starting" */
    bool published;
    _Atomic int64_t beat_us;
    /* the probe's thread and its last answer (under mu) */
    pthread_t prober;
    bool prober_running, stopping;
    pthread_cond_t wake;
    bool probe_ok;
    int64_t probe_at_us;      /* 0: no answer yet */
    char probe_why[256];
};

bool sy_http_addr_parse(const char *spec, char host[16], int *port)
{
    const char *colon = spec ? strrchr(spec, ':') : NULL;
    if (!colon || colon == spec || (size_t)(colon - spec) >= 16) return false;
    char h[16];
    memcpy(h, spec, (size_t)(colon - spec));
    h[colon - spec] = 0;
    if (!strcmp(h, "localhost")) strcpy(h, "127.0.0.1");
    struct in_addr a;
    if (inet_pton(AF_INET, h, &a) != 1) return false;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end || p < 0 || p > 65535) return false;
    strcpy(host, h);
    *port = (int)p;
    return true;
}

bool sy_http_addr_local(const char *host)
{
    struct in_addr a;
    return inet_pton(AF_INET, host, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

bool sy_http_auth_ok(const char *header, const char *token)
{
    static const char pre[] = "Bearer ";
    if (!header || !token || !*token || strncmp(header, pre, sizeof pre - 1)) return false;
    const unsigned char *g = (const unsigned char *)header + sizeof pre - 1;
    const unsigned char *t = (const unsigned char *)token;
    size_t gl = strlen((const char *)g), tl = strlen(token);
    unsigned diff = gl != tl;
    /* every byte of what was given is compared, against the token cycled:
     * the time depends on the given length, not on where they differ */
    for (size_t i = 0; i < gl; i++) diff |= (unsigned)(g[i] ^ t[i % tl]);
    return diff == 0;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             const char *body, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (!strncmp(type, "text/html", 9))
        /* the page's own inline script and style, and fetches of this
         * origin: nothing else loads, nothing frames it */
        MHD_add_response_header(r, "Content-Security-Policy",
                                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                                "connect-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'");
    if (status == MHD_HTTP_UNAUTHORIZED) MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned status, const char *body)
{
    return reply(c, status, "text/plain; charset=utf-8", body, strlen(body));
}

static enum MHD_Result serve_metrics(sy_httpd *h, struct MHD_Connection *c)
{
    pthread_mutex_lock(&h->mu);
    enum MHD_Result r = reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
                              h->page ? h->page : "", h->page ? h->page_len : 0);
    pthread_mutex_unlock(&h->mu);
    return r;
}

/* The probe's thread: ask, keep the answer, wait, again, until stopped. */
static void *probe_loop(void *arg)
{
    sy_httpd *h = arg;
    pthread_mutex_lock(&h->mu);
    while (!h->stopping) {
        pthread_mutex_unlock(&h->mu);
        char why[256] = "";
        bool ok = h->probe(h->probe_ctx, why, sizeof why); /* may block: a broker round trip */
        if (!ok && !why[0]) snprintf(why, sizeof why, "probe failed");
        pthread_mutex_lock(&h->mu);
        h->probe_ok = ok;
        h->probe_at_us = sy_mono_us();
        snprintf(h->probe_why, sizeof h->probe_why, "%s", why);
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += PROBE_EVERY_MS / 1000;
        until.tv_nsec += (long)(PROBE_EVERY_MS % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
        while (!h->stopping && pthread_cond_timedwait(&h->wake, &h->mu, &until) == 0) {
        }
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

/* Answered at once from what the loop published, its beat and the
 * probe's last answer (never a broker round trip on this thread). */
static enum MHD_Result serve_ready(sy_httpd *h, struct MHD_Connection *c)
{
    char why[512];
    int64_t now = sy_mono_us();
    pthread_mutex_lock(&h->mu);
    snprintf(why, sizeof why, "%s", !h->published ? "starting" : h->not_ready ? h->not_ready : "");
    bool probe_ok = h->probe_ok;
    int64_t probe_age_ms = h->probe_at_us ? (now - h->probe_at_us) / 1000 : -1;
    char probe_why[256];
    snprintf(probe_why, sizeof probe_why, "%s", h->probe_why);
    pthread_mutex_unlock(&h->mu);
    int64_t beat = atomic_load_explicit(&h->beat_us, memory_order_relaxed);
    int64_t age_ms = beat ? (now - beat) / 1000 : -1;
    if (!why[0] && age_ms > h->stuck_ms)
        snprintf(why, sizeof why, "loop stuck: last turn %lld ms ago", (long long)age_ms);
    if (!why[0] && h->probe) {
        if (probe_age_ms < 0)
            snprintf(why, sizeof why, "Kafka not checked yet");
        else if (probe_age_ms > PROBE_STALE_MS)
            snprintf(why, sizeof why, "Kafka check pending: last answer %lld ms ago", (long long)probe_age_ms);
        else if (!probe_ok)
            snprintf(why, sizeof why, "%s (checked %lld ms ago)", probe_why, (long long)probe_age_ms);
    }
    if (why[0]) {
        char body[600];
        snprintf(body, sizeof body, "not ready: %s\n", why);
        return text(c, MHD_HTTP_SERVICE_UNAVAILABLE, body);
    }
    char body[160];
    if (h->probe)
        snprintf(body, sizeof body, "ready (last turn %lld ms ago, Kafka checked %lld ms ago)\n", (long long)age_ms,
                 (long long)probe_age_ms);
    else
        snprintf(body, sizeof body, "ready (last turn %lld ms ago)\n", (long long)age_ms);
    return text(c, MHD_HTTP_OK, body);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_len, void **state)
{
    (void)version, (void)upload, (void)state;
    sy_httpd *h = cls;
    if (*upload_len) return MHD_NO; /* no bodies here */
    if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        return text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only\n");
    if (!strcmp(url, "/healthz")) return text(c, MHD_HTTP_OK, "ok\n");
    if (h->token &&
        !sy_http_auth_ok(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"), h->token))
        return text(c, MHD_HTTP_UNAUTHORIZED, "a bearer token is required\n");
    if (!strcmp(url, "/metrics")) return serve_metrics(h, c);
    if (!strcmp(url, "/readyz")) return serve_ready(h, c);
    if (!strcmp(url, "/") || !strcmp(url, "/status"))
        return reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", (const char *)sy_status_page_html,
                     sy_status_page_html_len);
    return text(c, MHD_HTTP_NOT_FOUND, "not found: / /status /metrics /healthz /readyz\n");
}

sy_httpd *sy_httpd_start(const char *spec, const char *token, int stuck_ms, sy_httpd_probe_fn probe,
                         void *probe_ctx, char *err, size_t errlen)
{
    char host[16];
    int port;
    if (!sy_http_addr_parse(spec, host, &port)) {
        snprintf(err, errlen, "--http wants IPV4:PORT (e.g. 127.0.0.1:9464), not '%.64s'", spec);
        return NULL;
    }
    if (token && !*token) token = NULL;
    if (!sy_http_addr_local(host) && !token) {
        snprintf(err, errlen, "--http %s is not a loopback address: set %s to the bearer token "
                 "scrapers must send", host, SY_HTTP_TOKEN_ENV);
        return NULL;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &sa.sin_addr);
    sy_httpd *h = sy_xcalloc(1, sizeof *h);
    h->token = token ? sy_xstrdup(token) : NULL;
    h->stuck_ms = stuck_ms;
    h->probe = probe;
    h->probe_ctx = probe_ctx;
    pthread_mutex_init(&h->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->wake, &ca);
    pthread_condattr_destroy(&ca);
    h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL, NULL,
                            on_request, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024, MHD_OPTION_END);
    if (!h->d) {
        snprintf(err, errlen, "cannot listen on %s:%d (in use, or not an address of this host)", host, port);
        sy_httpd_stop(h);
        return NULL;
    }
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = i ? i->port : port;
    if (h->probe) {
        if (pthread_create(&h->prober, NULL, probe_loop, h) != 0) {
            snprintf(err, errlen, "cannot start the readiness check's thread");
            sy_httpd_stop(h);
            return NULL;
        }
        h->prober_running = true;
    }
    return h;
}

int sy_httpd_port(const sy_httpd *h)
{
    return h->port;
}

void sy_httpd_publish(sy_httpd *h, const char *metrics, size_t len, const char *not_ready)
{
    char *page = malloc(len + 1);
    char *why = not_ready && *not_ready ? sy_xstrdup(not_ready) : NULL;
    if (!page) { free(why); return; } /* the last page stays */
    memcpy(page, metrics, len);
    page[len] = 0;
    pthread_mutex_lock(&h->mu);
    char *old_page = h->page, *old_why = h->not_ready;
    h->page = page;
    h->page_len = len;
    h->not_ready = why;
    h->published = true;
    pthread_mutex_unlock(&h->mu);
    free(old_page);
    free(old_why);
}

void sy_httpd_beat(sy_httpd *h, int64_t mono_us)
{
    atomic_store_explicit(&h->beat_us, mono_us, memory_order_relaxed);
}

void sy_httpd_stop(sy_httpd *h)
{
    if (!h) return;
    if (h->d) MHD_stop_daemon(h->d);
    if (h->prober_running) { /* waits out a check under way (at most its timeout) */
        pthread_mutex_lock(&h->mu);
        h->stopping = true;
        pthread_cond_signal(&h->wake);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->prober, NULL);
    }
    pthread_cond_destroy(&h->wake);
    pthread_mutex_destroy(&h->mu);
    free(h->page);
    free(h->not_ready);
    free(h->token);
    free(h);
}
