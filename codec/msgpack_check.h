/* msgpack_check.h -- a cheap guard before msgpack-c unpacks untrusted bytes.
 *
 * msgpack-c sizes its allocations from the element counts a message
 * declares, so eight hostile bytes (a map header claiming 4 billion
 * entries) make it ask for 128 GB. sy_msgpack_check walks the first object
 * without allocating and rejects any container whose declared count cannot
 * fit in the bytes that remain (every element takes at least one byte), as
 * well as nesting deeper than 64 levels and truncated values.
 *
 * Codec layer (codec/): wire formats, on base/ only. */
#ifndef SY_MSGPACK_CHECK_H
#define SY_MSGPACK_CHECK_H

#include <stddef.h>

/* 0 when the first msgpack object in data is plausible, -1 otherwise. */
int sy_msgpack_check(const void *data, size_t len);

#endif
