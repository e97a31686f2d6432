/* msgpack_json.h -- any msgpack value as one line of JSON.
 *
 * Codec layer. `switchyard results` and the demo print msgpack results as
 * JSON lines with it (see msgpack_json.c for what becomes what). */
#ifndef SY_MSGPACK_JSON_H
#define SY_MSGPACK_JSON_H

#include <stddef.h>

#include "buf.h"

/* Convert any msgpack object (such as an encoded result) to one line of JSON;
 * returns -1 on malformed msgpack. */
int sy_msgpack_to_json(const void *data, size_t len, sy_buf *out);

#endif
