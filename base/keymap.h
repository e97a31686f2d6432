/* keymap.h -- a string-keyed hash map (open addressing, linear probing).
 *
 * Used where a job is found by its idempotency key on the hot path (the
 * worker's table of keys in work, so a second copy of a key waits for the
 * first instead of paying for another call). Keys are copied; values are
 * caller pointers.
 *
 * Base layer (base/): uses nothing of switchyard's; every layer above may use it. */
#ifndef SY_KEYMAP_H
#define SY_KEYMAP_H

#include <stddef.h>

typedef struct sy_keymap_slot {
    char *key;   /* NULL = empty, or a deleted slot's marker: read keys with sy_keymap_key_at */
    void *value;
} sy_keymap_slot;

typedef struct sy_keymap {
    sy_keymap_slot *slots;
    size_t cap, count, used; /* used counts tombstones too */
} sy_keymap;

void sy_keymap_init(sy_keymap *m);
void sy_keymap_free(sy_keymap *m);
/* The same, passing each value to free_value. */
void sy_keymap_free_with(sy_keymap *m, void (*free_value)(void *));
void *sy_keymap_get(const sy_keymap *m, const char *key);
/* Insert or replace. */
void sy_keymap_put(sy_keymap *m, const char *key, void *value);
/* Remove; returns the value or NULL. */
void *sy_keymap_del(sy_keymap *m, const char *key);
/* The key in slot i (i < m->cap), or NULL when the slot is empty or was
 * deleted: how to walk the map. */
const char *sy_keymap_key_at(const sy_keymap *m, size_t i);

#endif
