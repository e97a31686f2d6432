/* faults.c -- the failures the fake provider injects.
 *
 * Two sources. Magic markers in the last user message ([[status:429]],
 * [[fail-first:2]], ...) make one request fail on purpose, so a test can
 * script exactly what happens to each job. The --*-rate options make a
 * random share of all requests fail, for soak tests and benchmarks; the
 * random numbers come from a seeded PRNG (splitmix64), so a run with the same
 * seed and the same arrival order injects the same faults. */
#include "fake.h"

#include <stdlib.h>
#include <string.h>

static uint64_t rand_state;

void fp_rand_seed(uint64_t seed)
{
    rand_state = seed;
}

uint64_t fp_rand_u64(void)
{
    uint64_t z = (rand_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double rand_unit(void)
{
    return (double)(fp_rand_u64() >> 11) * (1.0 / 9007199254740992.0);
}

int64_t fp_latency_draw(void)
{
    int64_t jitter = 0;
    if (fp_cfg.jitter_ms > 0) jitter = (int64_t)(fp_rand_u64() % (uint64_t)(fp_cfg.jitter_ms + 1));
    return fp_cfg.latency_ms + jitter;
}

/* One draw walks the rates cumulatively, so the faults exclude each other
 * and each rate is the share of requests that get that fault. */
fp_fault fp_fault_draw(void)
{
    const fp_config *c = &fp_cfg;
    double total = c->error_rate + c->overload_rate + c->rate_limit_rate + c->hang_rate +
                   c->timeout_rate + c->malformed_rate;
    if (total <= 0) return FP_FAULT_NONE;
    double r = rand_unit(), edge = 0;
    if (r < (edge += c->error_rate)) return FP_FAULT_ERROR;
    if (r < (edge += c->overload_rate)) return FP_FAULT_OVERLOAD;
    if (r < (edge += c->rate_limit_rate)) return FP_FAULT_RATE_LIMIT;
    if (r < (edge += c->hang_rate + c->timeout_rate)) return FP_FAULT_HANG;
    if (r < (edge += c->malformed_rate)) return FP_FAULT_MALFORMED;
    return FP_FAULT_NONE;
}

/* The argument of "[[name:ARG]]" at s (n bytes left), or p == NULL. */
static fp_slice marker_arg(const char *s, size_t n, const char *name)
{
    fp_slice arg = {NULL, 0};
    size_t len = strlen(name);
    if (n < len + 2 || memcmp(s, name, len) != 0) return arg;
    const char *end = memmem(s + len, n - len, "]]", 2);
    if (!end) return arg;
    arg.p = s + len;
    arg.n = (size_t)(end - arg.p);
    return arg;
}

/* A non-negative decimal number filling the slice, or -1. */
static int64_t slice_number(fp_slice a)
{
    if (!a.p || a.n == 0 || a.n > 12) return -1;
    int64_t v = 0;
    for (size_t i = 0; i < a.n; i++) {
        if (a.p[i] < '0' || a.p[i] > '9') return -1;
        v = v * 10 + (a.p[i] - '0');
    }
    return v;
}

/* A header value to send as given: 1..64 printable ASCII bytes (the
 * marker may be hostile to the client, never to the fake's own reply). */
static fp_slice header_value(fp_slice a)
{
    fp_slice none = {NULL, 0};
    if (!a.p || a.n == 0 || a.n > 64) return none;
    for (size_t i = 0; i < a.n; i++)
        if (a.p[i] < 0x20 || a.p[i] > 0x7e) return none;
    return a;
}

static void marker_at(const char *s, size_t n, fp_markers *m)
{
    fp_slice a;
    if ((a = marker_arg(s, n, "[[status:")).p) {
        int64_t v = slice_number(a);
        if (v >= 100 && v <= 599) m->status = (int)v;
    } else if ((a = marker_arg(s, n, "[[fail-first:")).p) {
        m->fail_first = slice_number(a);
    } else if ((a = marker_arg(s, n, "[[bad-json-first:")).p) {
        m->bad_json_first = slice_number(a);
    } else if ((a = marker_arg(s, n, "[[fail-model:")).p) {
        m->fail_model = a;
    } else if ((a = marker_arg(s, n, "[[latency:")).p) {
        m->latency_ms = slice_number(a);
    } else if ((a = marker_arg(s, n, "[[size:")).p) {
        int64_t v = slice_number(a);
        if (v > 0 && v <= 64 * 1024 * 1024) m->size = v;
    } else if ((a = marker_arg(s, n, "[[retry-after:")).p) {
        m->retry_after = header_value(a);
    } else if ((a = marker_arg(s, n, "[[reset:")).p) {
        m->reset = header_value(a);
    } else if ((a = marker_arg(s, n, "[[echo-key:")).p) {
        int64_t v = slice_number(a);
        if (v == 200 || v == 401) m->echo_key = (int)v;
    } else if (n >= 8 && memcmp(s, "[[hang]]", 8) == 0) {
        m->hang = 1;
    } else if (n >= 13 && memcmp(s, "[[malformed]]", 13) == 0) {
        m->malformed = 1;
    } else if (n >= 12 && memcmp(s, "[[no-usage]]", 12) == 0) {
        m->no_usage = 1;
    } else if ((a = marker_arg(s, n, "[[cached:")).p) {
        int64_t v = slice_number(a);
        if (v > 0) m->cached = v;
    }
}

void fp_markers_parse(const char *u, size_t n, fp_markers *m)
{
    memset(m, 0, sizeof *m);
    m->fail_first = -1;
    m->bad_json_first = -1;
    m->latency_ms = -1;
    const char *p = u, *end = u + n;
    while (p < end && (p = memmem(p, (size_t)(end - p), "[[", 2)) != NULL) {
        marker_at(p, (size_t)(end - p), m);
        p += 2;
    }
}
