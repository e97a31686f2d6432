/* pipeline_text.c -- see pipeline_text.h. Test support, linked into the
 * unit test programs (tests/CMakeLists.txt). */
#include "pipeline_text.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "provider.h"

int sy_test_load_text(const char *yaml, sy_config *cfg, sy_diags *d)
{
    const char *tmp = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/sy-unit-pipeline-XXXXXX.yaml", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemps(path, 5);
    assert_true(fd >= 0);
    size_t n = strlen(yaml);
    assert_int_equal(write(fd, yaml, n), (ssize_t)n);
    close(fd);
    const char *files[] = {path};
    int rc = sy_config_load(cfg, sy_provider_kinds, files, 1, 0, d);
    unlink(path);
    return rc;
}

void sy_test_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}
