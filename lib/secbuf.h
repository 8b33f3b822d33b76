#ifndef SECBUF_H
#define SECBUF_H

#include <stddef.h>

/*
 * Locked memory for plaintext secrets.
 *
 * All secret bytes in harombe live in one arena that is mmap()ed once,
 * mlock()ed, marked MADV_DONTDUMP and MADV_WIPEONFORK, and fenced by guard
 * pages.  Freed blocks are wiped before they return to the arena.  When the
 * arena is full, allocation fails with ENOMEM: there is no fallback to
 * ordinary (swappable, dumpable) memory, ever.
 */

struct secmem_stats {
	size_t capacity;	/* usable bytes in the arena */
	size_t in_use;		/* bytes in allocated blocks, headers included */
	size_t peak;		/* high-water mark of in_use */
	size_t blocks;		/* live allocations */
	size_t failures;	/* allocations refused for lack of space */
};

/* Size the arena.  Must be called before the first allocation; later calls
 * fail with -EBUSY.  Without it the first allocation sizes the arena at
 * SECMEM_DEFAULT_SIZE.  0, or -errno with the reason in why (NULL-safe). */
#define SECMEM_DEFAULT_SIZE (8u << 20)
#define SECMEM_MIN_SIZE (64u << 10)
struct why;
int secmem_init(size_t bytes, struct why *why);

/* Raw locked allocation: NULL with errno = ENOMEM when the arena is full. */
void *secmem_alloc(size_t n);
/* Wipes the whole block, then returns it to the arena.  NULL-safe. */
void secmem_free(void *p);
void secmem_get_stats(struct secmem_stats *st);
/* True when the arena exists and every byte of it is locked. */
int secmem_locked(void);

/*
 * A growable byte buffer in locked memory.  The bytes are always followed
 * by a NUL that is not counted in the length, so a buffer holding text can
 * be used as a C string.
 */
struct secbuf;

struct secbuf *secbuf_new(size_t cap);			/* NULL on ENOMEM */
struct secbuf *secbuf_dup(const void *p, size_t n);	/* NULL on ENOMEM */
void secbuf_free(struct secbuf *sb);			/* wipes; NULL-safe */

/* Borrowed: valid until sb next changes.  Do not free it or keep it. */
const unsigned char *secbuf_data(const struct secbuf *sb, size_t *len);
const char *secbuf_str(const struct secbuf *sb);
size_t secbuf_len(const struct secbuf *sb);
/* Bytes of the arena the buffer holds (its capacity, the block's tags and
 * rounding): what it costs a quota.  0 for NULL. */
size_t secbuf_footprint(const struct secbuf *sb);

/* Growing copies into new locked memory and wipes the old block (never
 * realloc).  0 or -ENOMEM; on failure the buffer is unchanged. */
int secbuf_reserve(struct secbuf *sb, size_t cap);
int secbuf_append(struct secbuf *sb, const void *p, size_t n);
int secbuf_putc(struct secbuf *sb, unsigned char c);
/* Wipes the content and sets the length to 0; keeps the capacity. */
void secbuf_clear(struct secbuf *sb);

/* Writable space for direct rendering: returns a pointer to n free bytes at
 * the end (reserving them), and secbuf_commit() adds what was written. */
unsigned char *secbuf_tail(struct secbuf *sb, size_t n);
void secbuf_commit(struct secbuf *sb, size_t n);

/* Constant-time comparison of two buffers' contents. */
int secbuf_equal(const struct secbuf *a, const void *p, size_t n);

#endif
