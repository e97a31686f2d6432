/* embeddings.c -- the embeddings request and answer (embeddings.h says
 * what they are and who calls them): the body the kinds share, the
 * grouping decision, the hostile reading of data[] and the usage split.
 *
 * The answer is read with jscan (the document checked whole first): a
 * vector's numbers are read from their spans one by one into floats, each
 * bounded (at most 40 characters, finite, within float range), so that a
 * vector of a million numbers or of 1e999 costs nothing but its failure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <float.h>

#include "adapters.h"
#include "embeddings.h"
#include "pacing.h"

void sy_provider_build_embeddings(const sy_embed_call *call, sy_request *req)
{
    sy_request_add_key(req, call->model->provider);
    call->model->provider->kind->ops->build_embeddings(call, req);
}

void sy_embed_body(const sy_embed_call *call, sy_request *req, bool with_model)
{
    sy_body w;
    sy_body_open(&w, &req->body, call->model->provider);
    if (with_model && sy_body_key(&w, "model")) sy_buf_json_cstr(w.b, call->model->name);
    if (sy_body_key(&w, "input")) {
        sy_buf_putc(w.b, '[');
        for (size_t i = 0; i < call->n; i++) {
            if (i) sy_buf_putc(w.b, ',');
            sy_buf_json_cstr(w.b, call->inputs[i]);
        }
        sy_buf_putc(w.b, ']');
    }
    if (sy_body_key(&w, "encoding_format")) sy_buf_puts(w.b, "\"float\"");
    if (call->dimensions > 0 && sy_body_key(&w, "dimensions"))
        sy_buf_printf(w.b, "%d", call->dimensions);
    sy_body_close(&w);
}

sy_embed_limits sy_embed_limits_of(const sy_provider *p)
{
    sy_embed_limits l = {SY_EMBED_DEFAULT_MAX_INPUTS, SY_EMBED_DEFAULT_MAX_BYTES,
                         SY_EMBED_DEFAULT_WINDOW_MS};
    const sy_option_value *v;
    if ((v = sy_provider_option(p, "max_inputs_per_request"))) l.max_inputs = (size_t)v->num;
    if ((v = sy_provider_option(p, "max_input_bytes_per_request"))) l.max_bytes = (size_t)v->num;
    if ((v = sy_provider_option(p, "embed_window_ms"))) l.window_ms = (int)v->num;
    return l;
}

void sy_embed_fit_answer(sy_embed_limits *l, size_t max_answer_bytes, int dimensions)
{
    size_t per = (size_t)(dimensions > 0 ? dimensions : SY_EMBED_ASSUMED_DIMS) *
                     SY_EMBED_ANSWER_BYTES_PER_NUMBER + 256; /* + its object's members */
    size_t fit = max_answer_bytes / per;
    if (fit < 1) fit = 1;
    if (l->max_inputs > fit) l->max_inputs = fit;
}

sy_embed_decision sy_embed_decide(size_t n, size_t bytes, size_t add, const sy_embed_limits *l,
                                  bool *full_after)
{
    sy_embed_decision d = SY_EMBED_JOIN;
    if (n > 0 && (n + 1 > l->max_inputs || add > l->max_bytes - (bytes < l->max_bytes ? bytes : l->max_bytes)))
        d = SY_EMBED_FLUSH_FIRST, n = 0, bytes = 0;
    *full_after = n + 1 >= l->max_inputs || bytes + add >= l->max_bytes;
    return d;
}

size_t sy_embed_bisect(size_t n, sy_err_class error)
{
    if (n < 2 || (error != SY_ERR_BAD_REQUEST && error != SY_ERR_CONTEXT_WINDOW)) return 0;
    return (n + 1) / 2;
}

/* ---- the answer ---- */

static void slot_fail(sy_embed_slot *s, const char *fmt, const char *detail)
{
    free(s->vec);
    s->vec = NULL;
    s->dim = 0;
    s->error = SY_ERR_MALFORMED;
    snprintf(s->why, sizeof s->why, fmt, detail);
}

/* A JSON number span as a finite float; false for anything else. */
static bool read_float(sy_jspan v, float *out)
{
    char tmp[48];
    size_t len = v.p ? (size_t)(v.end - v.p) : 0;
    if (!len || len >= sizeof tmp || !strchr("-0123456789", *v.p)) return false;
    memcpy(tmp, v.p, len);
    tmp[len] = '\0';
    char *end;
    double d = strtod(tmp, &end);
    if (*end || !isfinite(d) || fabs(d) > FLT_MAX) return false;
    *out = (float)d;
    return true;
}

/* The index member: an integer in [0, n), else -1. */
static long index_of(sy_jspan v, size_t n)
{
    size_t len = v.p ? (size_t)(v.end - v.p) : 0;
    if (!len || len > 10) return -1;
    long x = 0;
    for (const char *p = v.p; p < v.end; p++) {
        if (*p < '0' || *p > '9') return -1;
        x = x * 10 + (*p - '0');
    }
    return (size_t)x < n ? x : -1;
}

/* One vector into slot s (its earlier state: not seen). */
static void read_vector(sy_jspan emb, int dimensions, sy_embed_slot *s)
{
    if (!sy_js_is_array(emb)) return slot_fail(s, "%s", "its embedding is not an array of numbers");
    size_t dim = sy_js_len(emb);
    if (dim == 0 || dim > SY_EMBED_MAX_DIMS) return slot_fail(s, "%s", "its vector is empty or too long");
    if (dimensions > 0 && dim != (size_t)dimensions)
        return slot_fail(s, "%s", "its vector does not have the dimensions asked");
    s->vec = sy_xcalloc(dim, sizeof *s->vec);
    s->dim = (uint32_t)dim;
    sy_jsiter it = sy_js_iter(emb);
    sy_jspan x;
    for (size_t i = 0; sy_js_iter_next(&it, &x) && i < dim; i++)
        if (!read_float(x, &s->vec[i])) return slot_fail(s, "%s", "its vector holds a non-number");
}

typedef struct reader_ctx {
    sy_embed_slot *slots;
    size_t n;
    int dimensions;
} reader_ctx;

static void read_embeddings(sy_jspan root, sy_outcome *out, void *ctx)
{
    reader_ctx *c = ctx;
    static const char *const root_keys[] = {"data", "usage"};
    sy_jspan top[2];
    sy_js_get_many(root, root_keys, top, 2);
    sy_jspan pt = sy_js_get(top[1], "prompt_tokens");
    out->tokens_in = sy_usage_tokens(pt);
    out->usage.estimated = !pt.p;
    if (!sy_js_is_array(top[0])) return sy_outcome_malformed(out, "no data array");
    bool *seen = sy_xcalloc(c->n ? c->n : 1, sizeof *seen);
    sy_jsiter it = sy_js_iter(top[0]);
    sy_jspan item;
    while (sy_js_iter_next(&it, &item)) {
        static const char *const keys[] = {"index", "embedding"};
        sy_jspan f[2];
        sy_js_get_many(item, keys, f, 2);
        long i = index_of(f[0], c->n);
        if (i < 0) continue; /* not one of ours: nobody's vector */
        sy_embed_slot *s = &c->slots[i];
        if (seen[i]) {
            slot_fail(s, "%s", "its index came twice in data[]");
            continue;
        }
        seen[i] = true;
        read_vector(f[1], c->dimensions, s);
    }
    for (size_t i = 0; i < c->n; i++)
        if (!seen[i]) slot_fail(&c->slots[i], "%s", "no vector for its index in data[]");
    free(seen);
}

void sy_embed_parse(const sy_provider *p, int status, const char *headers, size_t hlen,
                    const char *body, size_t blen, int dimensions, sy_embed_slot *slots, size_t n,
                    sy_outcome *whole)
{
    reader_ctx c = {slots, n, dimensions};
    sy_provider_parse_with(p, read_embeddings, &c, status, headers, hlen, body, blen, whole);
    if (whole->error != SY_ERR_NONE) sy_embed_slots_free(slots, n); /* nothing per input */
}

void sy_embed_slots_free(sy_embed_slot *slots, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(slots[i].vec);
        slots[i].vec = NULL;
        slots[i].dim = 0;
    }
}

/* ---- usage ---- */

void sy_embed_split(int64_t total, const int64_t *weights, size_t n, int64_t *out)
{
    if (!n) return;
    if (total < 0) total = 0;
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += weights[i] > 0 ? (double)weights[i] : 0;
    int64_t given = 0;
    for (size_t i = 0; i < n; i++) {
        double share = sum > 0 ? (weights[i] > 0 ? (double)weights[i] : 0) / sum : 1.0 / (double)n;
        out[i] = (int64_t)floor((double)total * share);
        if (out[i] > total - given) out[i] = total - given; /* rounding never overspends */
        given += out[i];
    }
    /* the rest, a token each, to the largest remainders (n at most) */
    for (int64_t left = total - given; left > 0; left--) {
        size_t best = 0;
        double best_rem = -1;
        for (size_t i = 0; i < n; i++) {
            double share = sum > 0 ? (weights[i] > 0 ? (double)weights[i] : 0) / sum : 1.0 / (double)n;
            double rem = (double)total * share - (double)out[i];
            if (rem > best_rem) best_rem = rem, best = i;
        }
        out[best]++;
    }
}
