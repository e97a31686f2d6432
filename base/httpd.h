/* httpd.h -- the metrics and health endpoint of the scheduler and the
 * worker (libmicrohttpd, on a thread of its own).
 *
 *   /metrics  the Prometheus text the process last published
 *   /healthz  200 while the process runs (never asks for a token)
 *   /readyz   200 "ready" when the last published state says ready, the
 *             loop turned within stuck_ms and the probe's last answer
 *             (Kafka answers), at most 5 s old, says yes; 503 with the
 *             reason if not. Answered at once: the probe runs about once
 *             a second on a thread of its own, never on a request
 *   / and /status  the status page (base/status_page.html, compiled in):
 *             it polls /metrics from the browser and draws it; no data
 *             of its own, nothing loaded from elsewhere (a strict CSP)
 *
 * Why a thread of its own and not the loop: a scrape must be answered
 * even when the loop is stuck (that is what /readyz reports), and the
 * loop's hot path stays free of HTTP work and of locks. The loop publishes
 * what the endpoint serves (sy_httpd_publish: a rendered page, swapped in
 * under a mutex about once a second, never per job) and stamps each turn
 * (sy_httpd_beat: one relaxed atomic store).
 *
 * Binds 127.0.0.1 unless told otherwise. On any other address every path
 * but /healthz asks for "Authorization: Bearer TOKEN", TOKEN from the
 * environment variable SWITCHYARD_HTTP_TOKEN (compared in constant time);
 * without it such a bind is refused.
 *
 * Base layer (base/). */
#ifndef SY_HTTPD_H
#define SY_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SY_HTTP_TOKEN_ENV "SWITCHYARD_HTTP_TOKEN"

typedef struct sy_httpd sy_httpd;

/* "HOST:PORT" (IPv4 dotted quad or "localhost"; port 0..65535) into a
 * dotted quad and a port; false when malformed. */
bool sy_http_addr_parse(const char *spec, char host[16], int *port);
/* 127.0.0.0/8. */
bool sy_http_addr_local(const char *host);
/* Does the Authorization header value carry "Bearer TOKEN"? Constant time
 * in the header's length. header may be NULL. */
bool sy_http_auth_ok(const char *header, const char *token);

/* The readiness check, asked about once a second on a thread of its own
 * (so it must be thread-safe; it may block briefly: a broker round trip),
 * its last answer kept for /readyz: true when ready, else false with the
 * reason in why. */
typedef bool (*sy_httpd_probe_fn)(void *ctx, char *why, size_t len);

/* Start serving on spec; token: NULL or "" for none; probe may be NULL.
 * NULL with a reason in err when the address is malformed, not local and
 * no token given, or the bind failed. */
sy_httpd *sy_httpd_start(const char *spec, const char *token, int stuck_ms, sy_httpd_probe_fn probe,
                         void *probe_ctx, char *err, size_t errlen);
/* The port bound (for spec port 0). */
int sy_httpd_port(const sy_httpd *h);
/* Publish a page and the readiness (not_ready: NULL or "" when ready,
 * else the reason). Copies both. */
void sy_httpd_publish(sy_httpd *h, const char *metrics, size_t len, const char *not_ready);
/* The loop turned (monotonic us). No lock. */
void sy_httpd_beat(sy_httpd *h, int64_t mono_us);
void sy_httpd_stop(sy_httpd *h);

#endif
