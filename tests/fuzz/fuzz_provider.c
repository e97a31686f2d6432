/* fuzz_provider.c -- libFuzzer target for providers' answers: status,
 * response headers and body through each provider module of the kind list
 * (sy_provider_parse: OpenAI, openai-compatible and Anthropic), and the
 * time values a header can carry (retry-after, Go durations, RFC 3339 reset times) read alone.
 *
 * Input: byte 0 picks the provider kind, bytes 1-2 the HTTP status (mod
 * 1000), then the raw header block up to the first NUL, then the body.
 * An outcome must be consistent: an output exactly when there is no error,
 * a NUL-terminated message, no negative delay, token count or rate limit
 * (-1 = absent is the only negative). The body is also wrapped as a batch
 * output line (worker/batch.h): when the matcher takes it, its body goes
 * through sy_provider_parse_checked, which trusts the matcher's check. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "buf.h"
#include "provider.h"
#include "util.h"

static void check_outcome(const sy_outcome *o)
{
    const sy_ratelimit_info *rl = &o->rl;
    if ((o->error == SY_ERR_NONE) != (o->output != NULL)) abort();
    if (!memchr(o->message, '\0', sizeof o->message)) abort();
    if (o->retry_after_ms < -1 || o->tokens_in < 0 || o->tokens_out < 0) abort();
    if (o->should_retry < -1 || o->should_retry > 1) abort();
    if (rl->limit_requests < -1 || rl->remaining_requests < -1 || rl->reset_requests_ms < -1 ||
        rl->limit_tokens < -1 || rl->remaining_tokens < -1 || rl->reset_tokens_ms < -1)
        abort();
}

/* The header block, NUL-terminated and exactly sized, read as each time value. */
static void time_values(const char *text)
{
    int64_t now = sy_now_ms();
    if (sy_parse_go_duration_ms(text) < -1 || sy_parse_retry_after_ms(text, NULL, now) < -1 ||
        sy_parse_retry_after_ms(NULL, text, now) < -1)
        abort();
    sy_parse_rfc3339_ms(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static size_t nkinds;
    while (sy_provider_kinds[nkinds]) nkinds++;
    if (size < 3) return 0;
    sy_provider p = {.name = "fuzz", .kind = sy_provider_kinds[data[0] % nkinds]};
    int status = (data[1] << 8 | data[2]) % 1000;
    const char *rest = (const char *)data + 3;
    size_t left = size - 3;
    const char *nul = memchr(rest, '\0', left);
    size_t hlen = nul ? (size_t)(nul - rest) : left;
    const char *body = nul ? nul + 1 : rest + left;
    size_t blen = (size_t)(rest + left - body);

    char *headers = sy_xstrndup(rest, hlen);
    time_values(headers);
    sy_outcome o;
    sy_provider_parse(&p, status, headers, hlen, body, blen, &o);
    check_outcome(&o);
    sy_outcome_free(&o);
    free(headers);

    sy_buf line;
    sy_buf_init(&line);
    sy_buf_printf(&line, "{\"custom_id\":\"k\",\"response\":{\"status_code\":%d,\"body\":", status);
    sy_buf_append(&line, body, blen);
    sy_buf_puts(&line, "}}");
    const char *ids[] = {"k"};
    sy_batch_match m;
    sy_batch_match_init(&m, ids, 1);
    sy_batch_answer a;
    if (sy_batch_match_line(&m, line.data, line.len, &a) == SY_BL_ANSWER) {
        if (a.body) {
            sy_provider_parse_checked(&p, a.status_code, a.body, strlen(a.body), &o);
            check_outcome(&o);
            sy_outcome_free(&o);
        }
        free(a.body);
    }
    sy_batch_match_free(&m);
    sy_buf_free(&line);
    return 0;
}
