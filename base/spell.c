/* spell.c -- the closest of a few names to a word (see spell.h). */
#include "spell.h"

#include <string.h>

size_t sy_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return (size_t)-1;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *sy_closest(const char *word, const char *const *candidates, size_t n)
{
    const char *best = NULL;
    size_t best_d = 3, wlen = strlen(word);
    for (size_t i = 0; i < n; i++) {
        size_t dist = sy_edit_distance(word, candidates[i]);
        if (dist < best_d && dist < wlen) {
            best = candidates[i];
            best_d = dist;
        }
    }
    return best;
}
