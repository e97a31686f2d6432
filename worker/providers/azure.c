/* azure.c -- provider module `azure-openai`: OpenAI chat completions as
 * Azure OpenAI serves them (provider.h says what a module is).
 *
 *   POST {base_url}/openai/deployments/{deployment}/chat/completions?api-version=V
 *   api-key: KEY
 *   {"messages", "max_completion_tokens", "temperature", "top_p", "seed",
 *    "stop", "response_format"}
 *
 * base_url is the resource's endpoint (https://RESOURCE.openai.azure.com).
 * The deployment is the model's `name` (an Azure deployment is one model),
 * percent-encoded into its path segment, so a model per deployment is one
 * `models:` entry; the body has no `model` (the deployment picks it).
 * api-version is the provider option api_version (default 2024-10-21, the
 * GA inference spec). max_completion_tokens as that spec has it (max_tokens
 * is deprecated there and o1-series deployments refuse it); an api_version
 * older than 2024-09-01-preview reads only max_tokens: rename_params:
 * {max_completion_tokens: max_tokens}.
 *
 * Answers are OpenAI's (prompt_filter_results and content_filter_results
 * are extra members, ignored; finish_reason content_filter is a refusal).
 * Embeddings: POST .../deployments/{deployment}/embeddings?api-version=V
 * with {"input", "encoding_format", "dimensions"} (embeddings.h).
 * Errors: {"error": {"code", "message", "param", "type", "inner_error" |
 * "innererror"}} with code a string ("429", "DeploymentNotFound",
 * "content_filter"); a prompt the content filter refused (400,
 * code content_filter) is a refusal (never resent unchanged: Azure says
 * to change the prompt), a 429 that says the system is under high demand
 * is Azure's capacity (overloaded), other 429s the deployment's quota.
 * Rate limits: x-ratelimit-remaining-requests / -tokens when present
 * (Azure documents neither; no limit or reset headers), retry-after-ms
 * before retry-after (common.c). */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "adapters.h"
#include "embeddings.h"

#define DEFAULT_API_VERSION "2024-10-21"

static void put_segment(sy_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || strchr("-._~", *p)) sy_buf_putc(b, (char)*p);
        else sy_buf_printf(b, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
    }
}

/* {base_url}/openai/deployments/{deployment}/{op}?api-version=V */
static void deployment_url(const sy_model *m, const char *op, sy_request *req)
{
    const sy_provider *p = m->provider;
    const sy_option_value *version = sy_provider_option(p, "api_version");
    sy_buf_printf(&req->url, "%s/openai/deployments/", p->base_url);
    put_segment(&req->url, m->name);
    sy_buf_printf(&req->url, "/%s?api-version=%s", op,
                  version ? version->text : DEFAULT_API_VERSION); /* a token: URL-safe */
    sy_request_add_header(req, "Content-Type: application/json");
}

static void build(const sy_call *call, sy_request *req)
{
    deployment_url(call->model, "chat/completions", req);
    sy_openai_body(call, req, "max_completion_tokens", false);
}

/* Embeddings: the deployment's, no model in the body (embeddings.h). */
static void build_embeddings(const sy_embed_call *call, sy_request *req)
{
    deployment_url(call->model, "embeddings", req);
    sy_embed_body(call, req, false);
}

static void limits(const sy_headers *h, sy_ratelimit_info *rl)
{
    *rl = (sy_ratelimit_info){-1, -1, -1, -1, -1, -1};
    rl->remaining_requests = sy_header_int(h, "x-ratelimit-remaining-requests");
    rl->remaining_tokens = sy_header_int(h, "x-ratelimit-remaining-tokens");
}

static sy_err_class classify(int status, const char *type, const char *code, const char *message)
{
    if (code && !strcasecmp(code, "content_filter")) return SY_ERR_REFUSED;
    if (status == 429 && message && strcasestr(message, "high demand")) return SY_ERR_OVERLOADED;
    return sy_status_class(status, type, code, message);
}

static const sy_provider_ops ops = {
    .auth_name = "api-key", .auth_prefix = "", .build = build, .limits = limits,
    .read_answer = sy_openai_read_answer, .classify = classify,
    .build_embeddings = build_embeddings};

static const sy_kind_option options[] = {
    {.key = "api_version", .type = SY_OPTION_TOKEN},
    SY_PARAM_MAPPING_OPTIONS,
    SY_EMBED_OPTIONS,
    {0},
};

const sy_provider_kind sy_azure_openai = {
    .name = "azure-openai", .default_base_url = NULL, .key_required = true,
    .options = options, .embeddings = true, .ops = &ops};
