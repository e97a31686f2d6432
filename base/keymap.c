/* keymap.c -- see keymap.h. The table doubles when three quarters full
 * (tombstones included), which also clears the tombstones. */
#include "keymap.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static char tomb;
#define TOMB (&tomb)

void sy_keymap_init(sy_keymap *m)
{
    memset(m, 0, sizeof *m);
}

void sy_keymap_free(sy_keymap *m)
{
    sy_keymap_free_with(m, NULL);
}

void sy_keymap_free_with(sy_keymap *m, void (*free_value)(void *))
{
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].key || m->slots[i].key == TOMB) continue;
        free(m->slots[i].key);
        if (free_value) free_value(m->slots[i].value);
    }
    free(m->slots);
    sy_keymap_init(m);
}

static size_t find(const sy_keymap *m, const char *key)
{
    size_t mask = m->cap - 1, i = sy_hash64(key, strlen(key)) & mask;
    while (m->slots[i].key) {
        if (m->slots[i].key != TOMB && !strcmp(m->slots[i].key, key)) return i;
        i = (i + 1) & mask;
    }
    return (size_t)-1;
}

void *sy_keymap_get(const sy_keymap *m, const char *key)
{
    if (!m->cap) return NULL;
    size_t i = find(m, key);
    return i == (size_t)-1 ? NULL : m->slots[i].value;
}

static void insert_new(sy_keymap *m, char *key, void *value)
{
    size_t mask = m->cap - 1, i = sy_hash64(key, strlen(key)) & mask;
    while (m->slots[i].key && m->slots[i].key != TOMB) i = (i + 1) & mask;
    if (!m->slots[i].key) m->used++;
    m->slots[i].key = key;
    m->slots[i].value = value;
    m->count++;
}

static void grow(sy_keymap *m)
{
    sy_keymap old = *m;
    m->cap = old.cap ? old.cap * 2 : 64;
    while (m->cap < 2 * (old.count + 1)) m->cap *= 2;
    m->slots = sy_xcalloc(m->cap, sizeof(sy_keymap_slot));
    m->count = m->used = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.slots[i].key && old.slots[i].key != TOMB)
            insert_new(m, old.slots[i].key, old.slots[i].value);
    free(old.slots);
}

void sy_keymap_put(sy_keymap *m, const char *key, void *value)
{
    if (m->cap) {
        size_t i = find(m, key);
        if (i != (size_t)-1) {
            m->slots[i].value = value;
            return;
        }
    }
    if ((m->used + 1) * 4 > m->cap * 3) grow(m);
    insert_new(m, sy_xstrdup(key), value);
}

void *sy_keymap_del(sy_keymap *m, const char *key)
{
    if (!m->cap) return NULL;
    size_t i = find(m, key);
    if (i == (size_t)-1) return NULL;
    void *v = m->slots[i].value;
    free(m->slots[i].key);
    m->slots[i].key = TOMB;
    m->slots[i].value = NULL;
    m->count--;
    return v;
}

const char *sy_keymap_key_at(const sy_keymap *m, size_t i)
{
    const char *key = m->slots[i].key;
    return key == TOMB ? NULL : key;
}
