/* fuzz_pipeline.c -- libFuzzer target for the pipeline loader
 * (pipeline.c over yamlnode.c and libyaml): any bytes as a pipeline file,
 * loaded through the real entry point (sy_config_load takes file names:
 * the input is written to a memfd, read back by its /proc/self/fd name).
 * A failed load must say why: at least one diagnostic, each with a
 * message and a sane place; a successful load must name every task's tier. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pipeline.h"
#include "provider.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("pipeline.yaml", 0);
        if (fd < 0) abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size) abort();

    const char *files[] = {path};
    sy_config cfg;
    sy_diags diags = {0};
    if (sy_config_load(&cfg, sy_provider_kinds, files, 1, 0, &diags) != 0) {
        if (diags.n == 0) abort();
        for (size_t i = 0; i < diags.n; i++)
            if (!diags.items[i].message || diags.items[i].line < 0 || diags.items[i].column < 0) abort();
    } else {
        for (size_t i = 0; i < cfg.ntasks; i++)
            if (!cfg.tasks[i]->tier) abort();
        sy_config_free(&cfg);
    }
    sy_diags_free(&diags);
    return 0;
}
