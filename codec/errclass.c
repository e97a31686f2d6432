/* errclass.c -- the names of the error classes and which ones a retry may
 * cure (see errclass.h). */
#include "errclass.h"

static const char *class_names[SY_ERR_COUNT] = {
    [SY_ERR_NONE] = "none",
    [SY_ERR_RATE_LIMITED] = "rate_limited",
    [SY_ERR_OVERLOADED] = "overloaded",
    [SY_ERR_SERVER] = "server_error",
    [SY_ERR_TIMEOUT] = "timeout",
    [SY_ERR_CONNECTION] = "connection_error",
    [SY_ERR_MALFORMED] = "malformed_response",
    [SY_ERR_BAD_REQUEST] = "bad_request",
    [SY_ERR_AUTH] = "auth_error",
    [SY_ERR_NOT_FOUND] = "not_found",
    [SY_ERR_QUOTA] = "quota_exceeded",
    [SY_ERR_CONTEXT_WINDOW] = "context_window_exceeded",
    [SY_ERR_REFUSED] = "refused",
    [SY_ERR_INVALID_JOB] = "invalid_job",
    [SY_ERR_UNKNOWN_TASK] = "unknown_task",
    [SY_ERR_RENDER] = "render_error",
    [SY_ERR_OUTPUT_PARSE] = "output_parse_error",
    [SY_ERR_EXPIRED] = "expired",
    [SY_ERR_CIRCUIT_OPEN] = "circuit_open",
    [SY_ERR_ACCOUNT_COOLDOWN] = "account_cooling_down",
    [SY_ERR_UNPUBLISHABLE] = "result_unpublishable",
    [SY_ERR_RESPONSE_TOO_LARGE] = "response_too_large",
    [SY_ERR_UNROUTABLE] = "unroutable",
    [SY_ERR_OUTPUT_INVALID] = "output_invalid",
    [SY_ERR_BUDGET_EXCEEDED] = "budget_exceeded",
    [SY_ERR_TLS] = "tls_error",
};

const char *sy_err_class_name(sy_err_class c)
{
    return c >= 0 && c < SY_ERR_COUNT ? class_names[c] : "unknown";
}

bool sy_err_retryable(sy_err_class c)
{
    switch (c) {
    case SY_ERR_RATE_LIMITED:
    case SY_ERR_OVERLOADED:
    case SY_ERR_SERVER:
    case SY_ERR_TIMEOUT:
    case SY_ERR_CONNECTION:
    case SY_ERR_MALFORMED:
    case SY_ERR_OUTPUT_INVALID: /* a model may answer right the next time */
        return true;
    default:
        return false;
    }
}
