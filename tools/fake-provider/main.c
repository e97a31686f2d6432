/* main.c -- the fake provider's command line and process setup.
 *
 * Parses the options into fp_cfg, raises the descriptor limit (thousands of
 * client connections), starts listening, announces the port (stdout and
 * --port-file, written atomically so a waiting test never reads half a
 * number), serves until SIGINT/SIGTERM and prints a stats line on exit. */
#include "fake.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

fp_config fp_cfg = {
    .host = "127.0.0.1",
    .window_ms = 60000,
    .seed = 1,
    .h2 = 1,
    .batch_ms = 1000,
    .batch_expire_after = -1,
};

static const char usage[] =
    "Usage: fake-provider [options]\n"
    "A fake OpenAI (POST /v1/chat/completions) and Anthropic (POST /v1/messages)\n"
    "server with deterministic answers, simulated latency and injected faults.\n\n"
    "  --host ADDR           IPv4 address to listen on (default 127.0.0.1)\n"
    "  --port N              port; 0 picks a free one (default 0), printed as port=N\n"
    "  --port-file FILE      also write the port to FILE (atomically)\n"
    "  --latency-ms N        delay of every response (default 0)\n"
    "  --jitter-ms N         plus a uniform random delay in [0, N] (default 0)\n"
    "  --error-rate F        share of requests answered 500 (0..1)\n"
    "  --overload-rate F     share answered 529 (Anthropic) / 503 (OpenAI)\n"
    "  --rate-limit-rate F   share answered 429 with retry-after\n"
    "  --hang-rate F         share never answered\n"
    "  --timeout-rate F      same as --hang-rate (the client times out)\n"
    "  --malformed-rate F    share answered 200 with a truncated JSON body\n"
    "  --rpm N               requests per minute per API key (default unlimited)\n"
    "  --tpm N               tokens per minute per API key (default unlimited)\n"
    "  --window-ms N         rate-limit window; each gets its share of the\n"
    "                        per-minute limits (default 60000)\n"
    "  --call-log FILE       append one JSON line per provider call\n"
    "  --seed N              PRNG seed for jitter and random faults (default 1)\n"
    "  --tls-cert FILE       serve HTTPS with this PEM certificate (chain) ...\n"
    "  --tls-key FILE        ... and this PEM private key (both or neither)\n"
    "  --h2 on|off           offer HTTP/2 by ALPN over TLS (default on)\n"
    "  --batch-ms N          processing time of a batch (default 1000)\n"
    "  --batch-expire-after N  a batch expires after its first N lines (default never)\n"
    "  --batch-hostile       batch output repeats lines, adds unknown and non-JSON ones\n"
    "  --batch-call-ms N     delay of each answer of the batch APIs (default 0)\n"
    "  --list-page N         batch listings answer at most N per page (default: as asked)\n"
    "  --help                this text\n";

static int parse_int(const char *name, const char *s, int64_t min, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min) {
        fprintf(stderr, "fake-provider: %s needs an integer >= %lld, got '%s'\n", name, (long long)min, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_rate(const char *name, const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= 0 && v <= 1)) {
        fprintf(stderr, "fake-provider: %s needs a probability in [0, 1], got '%s'\n", name, s);
        return -1;
    }
    *out = v;
    return 0;
}

enum { O_HOST = 256, O_PORT, O_PORT_FILE, O_LATENCY, O_JITTER, O_ERROR, O_OVERLOAD, O_RATE_LIMIT,
       O_HANG, O_MALFORMED, O_TIMEOUT, O_RPM, O_TPM, O_WINDOW, O_CALL_LOG, O_SEED, O_TLS_CERT, O_TLS_KEY, O_H2, O_BATCH_MS,
       O_BATCH_EXPIRE, O_BATCH_HOSTILE, O_BATCH_CALL, O_LIST_PAGE, O_HELP };

static const struct option options[] = {
    {"host", required_argument, 0, O_HOST}, {"port", required_argument, 0, O_PORT},
    {"port-file", required_argument, 0, O_PORT_FILE}, {"latency-ms", required_argument, 0, O_LATENCY},
    {"jitter-ms", required_argument, 0, O_JITTER}, {"error-rate", required_argument, 0, O_ERROR},
    {"overload-rate", required_argument, 0, O_OVERLOAD}, {"rate-limit-rate", required_argument, 0, O_RATE_LIMIT},
    {"hang-rate", required_argument, 0, O_HANG}, {"malformed-rate", required_argument, 0, O_MALFORMED},
    {"timeout-rate", required_argument, 0, O_TIMEOUT}, {"rpm", required_argument, 0, O_RPM},
    {"tpm", required_argument, 0, O_TPM}, {"window-ms", required_argument, 0, O_WINDOW},
    {"call-log", required_argument, 0, O_CALL_LOG}, {"seed", required_argument, 0, O_SEED},
    {"tls-cert", required_argument, 0, O_TLS_CERT}, {"tls-key", required_argument, 0, O_TLS_KEY},
    {"h2", required_argument, 0, O_H2},
    {"batch-ms", required_argument, 0, O_BATCH_MS}, {"batch-expire-after", required_argument, 0, O_BATCH_EXPIRE},
    {"batch-hostile", no_argument, 0, O_BATCH_HOSTILE}, {"batch-call-ms", required_argument, 0, O_BATCH_CALL},
    {"list-page", required_argument, 0, O_LIST_PAGE},
    {"help", no_argument, 0, O_HELP}, {0, 0, 0, 0},
};

static int apply_option(int opt, const char *arg)
{
    fp_config *c = &fp_cfg;
    int64_t v = 0;
    int rc = 0;
    switch (opt) {
    case O_HOST: c->host = arg; break;
    case O_PORT: rc = parse_int("--port", arg, 0, &v); c->port = (int)v; if (v > 65535) rc = -1; break;
    case O_PORT_FILE: c->port_file = arg; break;
    case O_LATENCY: rc = parse_int("--latency-ms", arg, 0, &c->latency_ms); break;
    case O_JITTER: rc = parse_int("--jitter-ms", arg, 0, &c->jitter_ms); break;
    case O_ERROR: rc = parse_rate("--error-rate", arg, &c->error_rate); break;
    case O_OVERLOAD: rc = parse_rate("--overload-rate", arg, &c->overload_rate); break;
    case O_RATE_LIMIT: rc = parse_rate("--rate-limit-rate", arg, &c->rate_limit_rate); break;
    case O_HANG: rc = parse_rate("--hang-rate", arg, &c->hang_rate); break;
    case O_MALFORMED: rc = parse_rate("--malformed-rate", arg, &c->malformed_rate); break;
    case O_TIMEOUT: rc = parse_rate("--timeout-rate", arg, &c->timeout_rate); break;
    case O_RPM: rc = parse_int("--rpm", arg, 0, &c->rpm); break;
    case O_TPM: rc = parse_int("--tpm", arg, 0, &c->tpm); break;
    case O_WINDOW: rc = parse_int("--window-ms", arg, 1, &c->window_ms); break;
    case O_CALL_LOG: c->call_log = arg; break;
    case O_SEED: rc = parse_int("--seed", arg, 0, &v); c->seed = (uint64_t)v; break;
    case O_TLS_CERT: c->tls_cert = arg; break;
    case O_TLS_KEY: c->tls_key = arg; break;
    case O_H2:
        if (!strcmp(arg, "on") || !strcmp(arg, "off")) c->h2 = !strcmp(arg, "on");
        else { fprintf(stderr, "fake-provider: --h2 needs on or off, got '%s'\n", arg); rc = -1; }
        break;
    case O_BATCH_MS: rc = parse_int("--batch-ms", arg, 0, &c->batch_ms); break;
    case O_BATCH_EXPIRE: rc = parse_int("--batch-expire-after", arg, 0, &c->batch_expire_after); break;
    case O_BATCH_HOSTILE: c->batch_hostile = 1; break;
    case O_BATCH_CALL: rc = parse_int("--batch-call-ms", arg, 0, &c->batch_call_ms); break;
    case O_LIST_PAGE: rc = parse_int("--list-page", arg, 0, &c->list_page); break;
    case O_HELP: fputs(usage, stdout); exit(0);
    default: fputs(usage, stderr); return -1;
    }
    return rc;
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int write_port_file(const char *path, int port)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    fprintf(f, "%d\n", port);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1)
        if (apply_option(opt, optarg) < 0) return 2;
    if (optind < argc) {
        fprintf(stderr, "fake-provider: unexpected argument '%s'\n%s", argv[optind], usage);
        return 2;
    }
    if (!fp_cfg.tls_cert != !fp_cfg.tls_key) {
        fputs("fake-provider: --tls-cert and --tls-key go together\n", stderr);
        return 2;
    }
    raise_fd_limit();
    fp_rand_seed(fp_cfg.seed);
    fp_record_open(fp_cfg.call_log);
    fp_batch_init(fp_api_call);
    if (fp_listen() < 0) return 1;
    printf("port=%d\n", fp_cfg.port);
    fflush(stdout);
    if (fp_cfg.port_file && write_port_file(fp_cfg.port_file, fp_cfg.port) < 0) {
        fprintf(stderr, "fake-provider: cannot write %s: %s\n", fp_cfg.port_file, strerror(errno));
        return 1;
    }
    int rc = fp_serve();
    fp_record_summary();
    return rc < 0 ? 1 : 0;
}
