/* util.h -- allocation that never returns NULL, clocks, small string and file helpers.
 *
 * Base layer (base/): everything above may use it; it uses nothing of
 * switchyard's.
 *
 * switchyard treats out-of-memory as fatal: every allocation goes through
 * sy_xmalloc & co, which abort with a message instead of returning NULL, so
 * the rest of the code never carries allocation-failure branches. This is
 * the one deliberate exception to the rule that code below cli/ returns
 * its fatal errors to the command instead of ending the process: a process
 * that cannot allocate cannot be trusted to unwind either, and sizes taken
 * from outside are bounded before they reach an allocation, so only a
 * machine out of memory gets here. */
#ifndef SY_UTIL_H
#define SY_UTIL_H

#include <stddef.h>
#include <stdint.h>

void *sy_xmalloc(size_t n);
void *sy_xcalloc(size_t n, size_t size);
void *sy_xrealloc(void *p, size_t n);
char *sy_xstrdup(const char *s);
char *sy_xstrndup(const char *s, size_t n);

/* Wall clock in milliseconds since the epoch (for deadlines, timestamps). */
int64_t sy_now_ms(void);
/* Monotonic clock in microseconds (for latency, timers). */
int64_t sy_mono_us(void);
/* CPU time (user+system) of this process in microseconds. */
int64_t sy_cpu_us(void);

/* 64-bit FNV-1a from a given offset basis; SY_FNV1A64_BASIS is the
 * standard one (what others can recompute: dead letters' value hash). */
#define SY_FNV1A64_BASIS 14695981039346656037ULL
uint64_t sy_fnv1a64(uint64_t basis, const void *data, size_t len);
/* sy_fnv1a64 from switchyard's own basis (a digit short of the standard
 * one); stable across runs and machines. Kept as it is: sticky weighted
 * arms, hashed long store keys (in LMDB) and the fake provider's
 * deterministic answers depend on its values. */
uint64_t sy_hash64(const void *data, size_t len);

/* v in decimal at out (room for SY_I64_CHARS: 20 digits and a sign, no
 * NUL written); returns the length. What "%" PRId64 prints, without
 * printf's cost on the per-job paths (topic/partition/offset strings). */
#define SY_I64_CHARS 20
size_t sy_fmt_i64(char *out, int64_t v);

/* RFC 3339 time ("2025-08-21T12:40:59Z", fractions and offsets allowed)
 * to unix milliseconds; -1 when malformed (strict: exact digit counts,
 * real calendar days, offsets +-HH:MM up to 23:59). */
int64_t sy_parse_rfc3339_ms(const char *s);

/* Copy n bytes of s into out (NUL-terminated, at most outlen bytes with
 * the NUL), with every control character written as an escape: C0 bytes
 * and DEL as \xHH, the C1 controls (UTF-8 U+0080..U+009F) as \u00HH. For
 * anything from outside (job fields, provider answers) on its way to a log
 * line or a terminal: no raw ESC, CR, LF or CSI gets through. Stops at a
 * whole escape when out is full; returns the length written. */
size_t sy_escape_ctl(char *out, size_t outlen, const char *s, size_t n);

/* Is `item` one of the comma-separated words of `list`? */
int sy_list_contains(const char *list, const char *item);

/* Read the first line of path (without its newline) into out; 0 when the
 * file is there and the line is not empty, else -1. */
int sy_read_first_line(const char *path, char *out, size_t outlen);

#define SY_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
