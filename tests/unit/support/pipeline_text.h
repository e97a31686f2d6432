/* pipeline_text.h -- the unit tests' loader of a pipeline given as text:
 * written to a temporary file, loaded with every provider kind of the
 * product, the file removed again; and a file written whole. One place
 * for what several test programs each had a copy of. */
#ifndef SY_TEST_PIPELINE_TEXT_H
#define SY_TEST_PIPELINE_TEXT_H

#include "pipeline.h"

/* sy_config_load's result for `yaml` (flags 0); a failed temporary file
 * fails the test. */
int sy_test_load_text(const char *yaml, sy_config *cfg, sy_diags *d);

/* Write `text` to `path` (created or truncated); a failure fails the test. */
void sy_test_write_file(const char *path, const char *text);

#endif
