/* kinds.c -- the one list of provider kinds (provider.h: what a module is).
 *
 * Every place that needs to know which kinds exist walks this list: the
 * pipeline loader (handed it by cli/), `switchyard check`, the schema test
 * and the fake provider's test. A new provider is its own file plus one
 * line here. */
#include <string.h>

#include "provider.h"

extern const sy_provider_kind sy_openai, sy_anthropic, sy_openai_compatible, sy_azure_openai;

const sy_provider_kind *const sy_provider_kinds[] = {
    &sy_openai,
    &sy_anthropic,
    &sy_openai_compatible,
    &sy_azure_openai,
    NULL,
};

const sy_provider_kind *sy_provider_kind_named(const char *name)
{
    for (const sy_provider_kind *const *k = sy_provider_kinds; *k; k++)
        if (!strcmp((*k)->name, name)) return *k;
    return NULL;
}
