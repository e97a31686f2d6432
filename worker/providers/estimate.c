/* estimate.c -- token counts for an answer that carried no usage
 * (provider.h: sy_outcome_estimate). Some OpenAI-compatible servers and
 * gateways leave `usage` out; a cost of 0 would then be silently wrong,
 * so the worker counts locally and the result says tokens.estimated.
 *
 * The estimate is the pacing's, ceil(bytes / 4) + 4 (pacing.c): input from
 * the whole request body (the JSON framing of the messages included, a few
 * dozen tokens more than the prompt), output from the answer text. For
 * English prose the BPE tokenizers of OpenAI (cl100k, o200k) and Anthropic
 * average about 4 bytes a token, so the estimate is close; code, numbers
 * and non-Latin scripts run 1 to 3 bytes a token, so for those it can be
 * low by up to 4x (a token is at least one byte: the true count is at most
 * the byte count). No tokenizer is packaged in Debian (no tiktoken), and a
 * model-exact count would need the model's own vocabulary; the estimate is
 * documented as one, and priced at the model's input and output prices. */
#include <string.h>

#include "pacing.h"
#include "provider.h"

/* The pacing's estimate (pacing.c: ceil(bytes / 4) + 4), so that what a
 * call reserved and what it is billed agree; held to a call's bound. */
static int64_t estimate(size_t bytes)
{
    int64_t t = sy_estimate_tokens(bytes);
    return t >= 0 && t < SY_MAX_USAGE_TOKENS ? t : SY_MAX_USAGE_TOKENS;
}

void sy_outcome_estimate(sy_outcome *o, size_t request_body_bytes)
{
    if (!o->usage.estimated) return;
    o->tokens_in = estimate(request_body_bytes);
    o->tokens_out = o->output ? estimate(strlen(o->output)) : 0;
    o->usage.cached_in = o->usage.cache_write_in = o->usage.reasoning_out = 0;
}
