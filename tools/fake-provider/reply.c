/* reply.c -- an fp_reply's life: a fresh reply and its reset between
 * requests. Below api.c (which fills replies) and batch.c (which runs its
 * lines into one), so neither reaches into the other for it. */
#include "fake.h"

#include <string.h>

void fp_reply_init(fp_reply *r)
{
    memset(r, 0, sizeof *r);
    sy_buf_init(&r->headers);
    sy_buf_init(&r->body);
    sy_buf_init(&r->call);
    fp_reply_reset(r);
}

void fp_reply_reset(fp_reply *r)
{
    r->status = 200;
    r->content_type = "application/json";
    sy_buf_reset(&r->headers);
    sy_buf_reset(&r->body);
    sy_buf_reset(&r->call);
    r->delay_ms = 0;
    r->api = FP_API_OTHER;
}
