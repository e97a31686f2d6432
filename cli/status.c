/* status.c -- `switchyard status`: a refreshing terminal view of running
 * workers and schedulers, read from their /metrics pages (base/httpd.h).
 *
 * Each turn reads every URL (libcurl; a bounded body, a short timeout,
 * http and https only, the bearer token from $SWITCHYARD_HTTP_TOKEN as the
 * servers ask), parses the pages (base/promparse.h: the pages are input
 * from outside) and draws one frame (base/status_view.h) from this reading
 * and the one before: rates are counter deltas over the time between.
 * --once reads twice, --interval apart, and prints one frame with no
 * terminal control codes (for scripts and tests). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "httpd.h"
#include "opts.h"
#include "promparse.h"
#include "status_view.h"
#include "util.h"

static const char *usage =
    "usage: switchyard status [--url URL ...] [--once] [--interval S]\n"
    "A refreshing view of running workers and schedulers (their --http endpoint):\n"
    "results and routing per second, in flight, waiting on slots, pacing and retry\n"
    "timers, dead letters, consumer lag, breaker state per tier and model, pacing\n"
    "headroom per account. The bearer token, if the servers want one, comes from\n"
    "$" SY_HTTP_TOKEN_ENV ".\n\n"
    "      --url URL         a process's endpoint, e.g. http://127.0.0.1:9464 (/metrics is\n"
    "                        added when the URL has no path); repeat for several (default\n"
    "                        http://127.0.0.1:9464)\n"
    "      --once            read twice, S apart, print one frame without terminal codes, exit\n"
    "      --interval S      seconds between readings (default 2; 0.1 to 3600)\n"
    "  -h, --help            this help\n";

#define MAX_URLS 32
#define MAX_BODY (8u << 20)

typedef struct target {
    char *url;
    sy_promp_page page[2]; /* alternate: this reading, the one before */
    bool ok[2];
    char error[CURL_ERROR_SIZE + 64];
} target;

typedef struct body {
    sy_buf b;
    bool too_big;
} body;

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
    body *bd = ctx;
    if (bd->b.len + size * n > MAX_BODY) {
        bd->too_big = true;
        return 0;
    }
    sy_buf_append(&bd->b, p, size * n);
    return size * n;
}

/* GET t->url into page[slot]; false with t->error set. */
static bool scrape(target *t, int slot, const char *auth)
{
    CURL *c = curl_easy_init();
    if (!c) { snprintf(t->error, sizeof t->error, "curl_easy_init failed"); return false; }
    body bd = {0};
    sy_buf_init(&bd.b);
    char err[CURL_ERROR_SIZE] = "";
    struct curl_slist *h = auth ? curl_slist_append(NULL, auth) : NULL;
    curl_easy_setopt(c, CURLOPT_URL, t->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &bd);
    if (h) curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    bool ok = false;
    if (bd.too_big) snprintf(t->error, sizeof t->error, "page over %u bytes", MAX_BODY);
    else if (rc != CURLE_OK) snprintf(t->error, sizeof t->error, "%s", err[0] ? err : curl_easy_strerror(rc));
    else if (code != 200) snprintf(t->error, sizeof t->error, "HTTP %ld%s", code,
                                   code == 401 ? " (set " SY_HTTP_TOKEN_ENV ")" : "");
    else {
        sy_promp_parse(&t->page[slot], bd.b.data ? bd.b.data : "", bd.b.len);
        ok = true;
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    sy_buf_free(&bd.b);
    return ok;
}

static char *metrics_url(const char *u)
{
    const char *host = strstr(u, "://");
    host = host ? host + 3 : u;
    const char *slash = strchr(host, '/');
    sy_buf b;
    sy_buf_init(&b);
    sy_buf_puts(&b, strstr(u, "://") ? "" : "http://");
    sy_buf_puts(&b, u);
    if (!slash || !slash[1]) {
        if (b.len && b.data[b.len - 1] == '/') b.len--;
        sy_buf_puts(&b, "/metrics");
    }
    char *s = sy_xstrdup(sy_buf_cstr(&b));
    sy_buf_free(&b);
    return s;
}

static void pause_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (!sy_stop_requested && nanosleep(&ts, &ts) != 0) {}
}

static void read_all(target *t, size_t n, int slot, const char *auth)
{
    for (size_t i = 0; i < n; i++) t[i].ok[slot] = scrape(&t[i], slot, auth);
}

static void draw(target *t, size_t n, int slot, double dt, bool ansi)
{
    sy_status_src src[MAX_URLS];
    for (size_t i = 0; i < n; i++)
        src[i] = (sy_status_src){.url = t[i].url,
                                 .cur = t[i].ok[slot] ? &t[i].page[slot] : NULL,
                                 .prev = t[i].ok[slot] && t[i].ok[!slot] ? &t[i].page[!slot] : NULL,
                                 .error = t[i].error,
                                 .dt_s = dt};
    sy_buf b;
    sy_buf_init(&b);
    if (ansi) sy_buf_puts(&b, "\033[H\033[2J");
    time_t now = time(NULL);
    struct tm tm;
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    sy_buf_printf(&b, "switchyard status  %s  (rates over %.1f s)\n\n", when, dt);
    sy_status_frame(&b, src, n);
    fwrite(b.data, 1, b.len, stdout);
    fflush(stdout);
    sy_buf_free(&b);
}

int cmd_status(int argc, char **argv)
{
    const char *urls[MAX_URLS];
    size_t nurls = 0;
    bool once = false;
    double interval = 2;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) { fputs(usage, stdout); return 0; }
        if (!strcmp(argv[i], "--once")) once = true;
        else if (!strcmp(argv[i], "--url") && i + 1 < argc && nurls < MAX_URLS) urls[nurls++] = argv[++i];
        else if (!strcmp(argv[i], "--interval") && i + 1 < argc) {
            char *end;
            interval = strtod(argv[++i], &end);
            if (*end || end == argv[i] || !(interval >= 0.1 && interval <= 3600))
                return cli_bad_usage("status", argv[i], usage);
        } else return cli_bad_usage("status", argv[i], usage);
    }
    if (!nurls) urls[nurls++] = "http://127.0.0.1:9464";
    target *t = sy_xcalloc(nurls, sizeof *t);
    for (size_t i = 0; i < nurls; i++) t[i].url = metrics_url(urls[i]);
    const char *token = getenv(SY_HTTP_TOKEN_ENV);
    char *auth = NULL;
    if (token && *token) {
        size_t n = strlen(token) + 32;
        auth = sy_xcalloc(1, n);
        snprintf(auth, n, "Authorization: Bearer %s", token);
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    sy_install_stop_signals();
    int slot = 0;
    read_all(t, nurls, slot, auth);
    if (!once) draw(t, nurls, slot, 0, true);
    int rc = 0;
    while (!sy_stop_requested) {
        pause_s(interval);
        if (sy_stop_requested) break;
        slot = !slot;
        read_all(t, nurls, slot, auth);
        draw(t, nurls, slot, interval, !once);
        if (once) {
            for (size_t i = 0; i < nurls; i++)
                if (!t[i].ok[slot]) rc = 1;
            break;
        }
    }
    for (size_t i = 0; i < nurls; i++) {
        sy_promp_free(&t[i].page[0]);
        sy_promp_free(&t[i].page[1]);
        free(t[i].url);
    }
    free(t);
    free(auth);
    curl_global_cleanup();
    return rc;
}
