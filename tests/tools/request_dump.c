/* request_dump.c -- the requests the provider modules build, for checking
 * them against the providers' published API descriptions
 * (tests/integration/specs.sh, tests/tools/spec_check.py).
 *
 *   request-dump PIPELINE.yaml...
 *
 * For every task of the files and every model of its tier, the request the
 * worker would send (a fixed user message; the system prompt when the task
 * has one; two inputs for an embedding task): one JSON line {"task",
 * "model", "kind", "op" (chat or embeddings), "url", "headers": [names],
 * "body": {...}}. Header values are not printed (one holds the key). Exit 1
 * when the files do not load. */
#include <stdio.h>
#include <string.h>

#include "embeddings.h"
#include "provider.h"

static void dump(const sy_task *t, const sy_model *m)
{
    static sy_msg user = {"user", "Classify this ticket: the printer jams"};
    sy_call call = {.model = m, .system = t->has_system ? "Answer briefly." : NULL, .messages = &user,
                    .nmessages = 1, .max_tokens = t->max_tokens, .temperature = t->temperature,
                    .want_json = t->parse == SY_PARSE_JSON, .params = &t->params};
    static const char *const inputs[] = {"the printer jams", "the invoice is wrong"};
    sy_embed_call ecall = {.model = m, .inputs = inputs, .n = 2, .dimensions = t->dimensions};
    bool embedding = t->kind == SY_TASK_EMBEDDING;
    sy_request req;
    sy_request_init(&req);
    if (embedding) sy_provider_build_embeddings(&ecall, &req);
    else sy_provider_build(&call, &req);
    sy_buf out;
    sy_buf_init(&out);
    sy_buf_puts(&out, "{\"task\":");
    sy_buf_json_cstr(&out, t->name);
    sy_buf_puts(&out, ",\"model\":");
    sy_buf_json_cstr(&out, m->alias);
    sy_buf_puts(&out, ",\"kind\":");
    sy_buf_json_cstr(&out, m->provider->kind->name);
    sy_buf_puts(&out, embedding ? ",\"op\":\"embeddings\"" : ",\"op\":\"chat\"");
    sy_buf_puts(&out, ",\"url\":");
    sy_buf_json_cstr(&out, sy_buf_cstr(&req.url));
    sy_buf_puts(&out, ",\"headers\":[");
    const char *h = req.headers.data;
    for (int i = 0; i < req.nheaders; i++, h += strlen(h) + 1) {
        const char *colon = strchr(h, ':');
        if (i) sy_buf_putc(&out, ',');
        sy_buf_json_str(&out, h, colon ? (size_t)(colon - h) : strlen(h));
    }
    sy_buf_puts(&out, "],\"body\":");
    sy_buf_append(&out, req.body.data, req.body.len);
    sy_buf_puts(&out, "}\n");
    fwrite(out.data, 1, out.len, stdout);
    sy_buf_free(&out);
    sy_request_free(&req);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: request-dump PIPELINE.yaml...\n");
        return 2;
    }
    sy_config cfg;
    sy_diags d = {0};
    if (sy_config_load(&cfg, sy_provider_kinds, (const char *const *)argv + 1, (size_t)argc - 1, 0, &d)) {
        sy_diags_print(&d, stderr);
        sy_diags_free(&d);
        return 1;
    }
    for (size_t i = 0; i < cfg.ntasks; i++)
        for (size_t j = 0; j < cfg.tasks[i]->tier->nmodels; j++)
            dump(cfg.tasks[i], cfg.tasks[i]->tier->models[j].model);
    sy_config_free(&cfg);
    sy_diags_free(&d);
    return 0;
}
