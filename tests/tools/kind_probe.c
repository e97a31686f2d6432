/* kind_probe.c -- every provider kind of the product against the fake
 * provider: for each module of sy_provider_kinds (worker/providers/kinds.c)
 * the module builds its own request, libcurl sends it, and the module reads
 * the fake's answer. So the fake provider can stand in for every kind the
 * worker speaks, and a new kind without a fake counterpart fails here
 * (tests/integration/fake_provider.sh runs it). A kind's rate-limit
 * headers must be read: a limit, or (Azure, which sends no limits) a
 * remaining count.
 *
 *   kind-probe BASE_URL KEY    e.g. http://127.0.0.1:PORT/v1 sk-test
 *
 * One line per kind on stdout, "KIND ok ..." or "KIND FAIL ..."; exit 1 if
 * any failed, 2 on a usage or libcurl set-up error. */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "provider.h"

static size_t collect(char *data, size_t size, size_t n, void *buf)
{
    sy_buf_append(buf, data, size * n);
    return size * n;
}

/* One call of kind k; 0 when the module read a successful answer. */
static int probe(CURL *curl, const sy_provider_kind *k, const char *base_url, char *key)
{
    sy_provider p = {.name = (char *)k->name, .kind = k, .base_url = (char *)base_url, .api_key = key};
    sy_model m = {.alias = "probe", .provider = &p, .name = "probe-model"};
    sy_msg user = {"user", "Say something short."};
    sy_call call = {.model = &m, .system = "Be brief.", .messages = &user, .nmessages = 1,
                    .max_tokens = 16, .temperature = 0};
    sy_request req;
    sy_request_init(&req);
    sy_provider_build(&call, &req);
    struct curl_slist *headers = NULL;
    const char *h = req.headers.data;
    for (int i = 0; i < req.nheaders; i++, h += strlen(h) + 1) headers = curl_slist_append(headers, h);
    sy_buf hdr, body;
    sy_buf_init(&hdr);
    sy_buf_init(&body);
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, sy_buf_cstr(&req.url));
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req.body.data);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)req.body.len);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &hdr);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    int failed = 1;
    if (rc != CURLE_OK) {
        printf("%s FAIL %s: %s\n", k->name, sy_buf_cstr(&req.url), curl_easy_strerror(rc));
    } else {
        sy_outcome o;
        sy_provider_parse(&p, (int)status, hdr.data, hdr.len, body.data, body.len, &o);
        failed = o.error != SY_ERR_NONE || !o.output || !*o.output || o.tokens_in <= 0 ||
                 o.tokens_out <= 0 || (o.rl.limit_requests < 0 && o.rl.remaining_requests < 0);
        if (failed)
            printf("%s FAIL HTTP %ld: %s (tokens %lld/%lld, limit %lld, remaining %lld)\n", k->name,
                   status, o.message, (long long)o.tokens_in, (long long)o.tokens_out,
                   (long long)o.rl.limit_requests, (long long)o.rl.remaining_requests);
        else
            printf("%s ok HTTP %ld tokens %lld/%lld: %.40s\n", k->name, status,
                   (long long)o.tokens_in, (long long)o.tokens_out, o.output);
        sy_outcome_free(&o);
    }
    curl_slist_free_all(headers);
    sy_buf_free(&hdr);
    sy_buf_free(&body);
    sy_request_free(&req);
    return failed;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: kind-probe BASE_URL KEY\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *curl = curl_easy_init();
    if (!curl) return 2;
    int failed = 0;
    for (const sy_provider_kind *const *k = sy_provider_kinds; *k; k++)
        failed |= probe(curl, *k, argv[1], argv[2]);
    curl_easy_cleanup(curl);
    curl_global_cleanup();
    return failed ? 1 : 0;
}
