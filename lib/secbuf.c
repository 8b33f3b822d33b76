#include "compat.h"
#include "secbuf.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sodium.h>

#include "why.h"

/*
 * The arena is a boundary-tag allocator: every block carries a 16-byte
 * header and a 16-byte footer that both record its size and whether it is
 * in use, so a freed block merges with free neighbours on either side in
 * constant time.  Free blocks are kept on one doubly linked list whose links
 * live in the free blocks' own payload.  First fit is enough here: the
 * allocations are few per open (one per value plus one rendered file) and
 * short-lived, so the list stays short.
 */

#define ALIGN 16u
#define TAG 16u			/* header and footer are one tag each */
#define MIN_BLOCK 64u
#define USED 1u
#define MAGIC 0x68726d62u	/* "hrmb": catches stray frees */

struct tag {
	size_t size_flags;	/* block size (multiple of ALIGN) | USED */
	uint32_t magic;
	uint32_t pad;
};

struct free_links {
	struct tag *next;
	struct tag *prev;
};

static struct {
	pthread_once_t once;
	pthread_mutex_t lock;
	unsigned char *map;	/* mapping including guard pages */
	size_t map_len;
	unsigned char *base;	/* first block */
	unsigned char *end;
	struct tag *free_head;
	size_t requested;	/* size asked for by secmem_init, 0 = default */
	int init_err;		/* -errno from the one-time setup */
	char init_msg[256];
	int started;
	struct secmem_stats st;
} A = {
	.once = PTHREAD_ONCE_INIT,
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

static size_t tag_size(const struct tag *t) { return t->size_flags & ~(size_t)(ALIGN - 1); }
static int tag_used(const struct tag *t) { return (int)(t->size_flags & USED); }
static struct tag *footer_of(struct tag *h) { return (struct tag *)((unsigned char *)h + tag_size(h) - TAG); }
static struct free_links *links(struct tag *h) { return (struct free_links *)(h + 1); }

static void set_tags(struct tag *h, size_t size, int used)
{
	h->size_flags = size | (used ? USED : 0);
	h->magic = MAGIC;
	*footer_of(h) = *h;
}

static void list_remove(struct tag *h)
{
	struct free_links *l = links(h);

	if (l->prev)
		links(l->prev)->next = l->next;
	else
		A.free_head = l->next;
	if (l->next)
		links(l->next)->prev = l->prev;
}

static void list_push(struct tag *h)
{
	struct free_links *l = links(h);

	l->prev = NULL;
	l->next = A.free_head;
	if (A.free_head)
		links(A.free_head)->prev = h;
	A.free_head = h;
}

static void setup(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t want = A.requested ? A.requested : SECMEM_DEFAULT_SIZE;
	size_t len = (want + page - 1) / page * page;
	struct rlimit rl;
	unsigned char *m;

	A.map_len = len + 2 * page;
	m = mmap(NULL, A.map_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		A.init_err = -errno;
		snprintf(A.init_msg, sizeof(A.init_msg), "cannot map %zu bytes for locked memory: %s",
			 len, strerror(errno));
		return;
	}
	if (mprotect(m + page, len, PROT_READ | PROT_WRITE) != 0 ||
	    madvise(m + page, len, MADV_DONTDUMP) != 0) {
		A.init_err = -errno;
		snprintf(A.init_msg, sizeof(A.init_msg), "cannot prepare locked memory: %s", strerror(errno));
		munmap(m, A.map_len);
		return;
	}
	/* A forked child (harombe run, a hook) must not inherit plaintext. */
	(void)madvise(m + page, len, MADV_WIPEONFORK);
	/* The raw system call: sanitizer runtimes turn mlock() into a no-op,
	 * and a test build must lock exactly as the real one does.  The whole
	 * arena is locked (and counted against RLIMIT_MEMLOCK) now, but a page
	 * is only made present when first written (MLOCK_ONFAULT): a filter of
	 * one line touches the few pages it uses, not 8 MiB (2 ms and 8 MB of
	 * RSS at every start).  A page once present is never swapped out.
	 * Kernels before 4.4 have no mlock2: populate the whole arena. */
	if (syscall(SYS_mlock2, m + page, len, MLOCK_ONFAULT) != 0 &&
	    ((errno != ENOSYS && errno != EINVAL) || syscall(SYS_mlock, m + page, len) != 0)) {
		int e = errno;

		A.init_err = -e;
		if ((e == ENOMEM || e == EPERM) && getrlimit(RLIMIT_MEMLOCK, &rl) == 0 &&
		    rl.rlim_cur != RLIM_INFINITY)
			snprintf(A.init_msg, sizeof(A.init_msg),
				 "cannot lock %zu KiB of memory: RLIMIT_MEMLOCK is %llu KiB; raise it "
				 "(ulimit -l, LimitMEMLOCK=) or lower security.fs.locked_memory",
				 len >> 10, (unsigned long long)rl.rlim_cur >> 10);
		else
			snprintf(A.init_msg, sizeof(A.init_msg), "cannot lock %zu KiB of memory: %s",
				 len >> 10, strerror(e));
		munmap(m, A.map_len);
		return;
	}
	A.map = m;
	A.base = m + page;
	A.end = A.base + len;
	A.st.capacity = len;
	set_tags((struct tag *)A.base, len, 0);
	A.free_head = NULL;
	list_push((struct tag *)A.base);
	A.started = 1;
}

static int ensure(void)
{
	pthread_once(&A.once, setup);
	return A.init_err;
}

int secmem_init(size_t bytes, struct why *why)
{
	int r;

	pthread_mutex_lock(&A.lock);
	if (A.started || A.init_err) {
		pthread_mutex_unlock(&A.lock);
		return why_fail(why, -EBUSY, "locked memory is already set up");
	}
	if (bytes < SECMEM_MIN_SIZE)
		bytes = SECMEM_MIN_SIZE;
	A.requested = bytes;
	pthread_mutex_unlock(&A.lock);
	r = ensure();
	if (r)
		why_set(why, "%s", A.init_msg);
	return r;
}

int secmem_locked(void)
{
	return A.started;
}

void *secmem_alloc(size_t n)
{
	size_t need;
	struct tag *h;

	if (ensure() != 0) {
		errno = ENOMEM;
		return NULL;
	}
	if (n > A.st.capacity) {
		pthread_mutex_lock(&A.lock);
		A.st.failures++;
		pthread_mutex_unlock(&A.lock);
		errno = ENOMEM;
		return NULL;
	}
	need = (n + ALIGN - 1) / ALIGN * ALIGN + 2 * TAG;
	if (need < MIN_BLOCK)
		need = MIN_BLOCK;

	pthread_mutex_lock(&A.lock);
	for (h = A.free_head; h; h = links(h)->next)
		if (tag_size(h) >= need)
			break;
	if (!h) {
		A.st.failures++;
		pthread_mutex_unlock(&A.lock);
		errno = ENOMEM;
		return NULL;
	}
	list_remove(h);
	if (tag_size(h) - need >= MIN_BLOCK) {
		struct tag *rest = (struct tag *)((unsigned char *)h + need);

		set_tags(rest, tag_size(h) - need, 0);
		list_push(rest);
		set_tags(h, need, 1);
	} else {
		set_tags(h, tag_size(h), 1);
	}
	A.st.in_use += tag_size(h);
	A.st.blocks++;
	if (A.st.in_use > A.st.peak)
		A.st.peak = A.st.in_use;
	pthread_mutex_unlock(&A.lock);
	return h + 1;
}

/* Wipe p[0, n).  The arena is locked on fault: a page never written is not
 * present and holds nothing, and writing zeros to it would only make it
 * present (a 512 KiB scanner window that held one line: 128 page faults).
 * Locked pages are never swapped out, so "not present" means "never
 * written". */
static void wipe(unsigned char *p, size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), i, np;
	uintptr_t a = ((uintptr_t)p + page - 1) & ~(uintptr_t)(page - 1);
	uintptr_t b = ((uintptr_t)p + n) & ~(uintptr_t)(page - 1);
	unsigned char vec[256];

	if (n < 16 * page || b <= a) {
		sodium_memzero(p, n);
		return;
	}
	sodium_memzero(p, (size_t)(a - (uintptr_t)p));
	sodium_memzero((unsigned char *)b, (size_t)((uintptr_t)p + n - b));
	while (a < b) {
		np = (size_t)(b - a) / page < sizeof(vec) ? (size_t)(b - a) / page : sizeof(vec);
		if (mincore((void *)a, np * page, vec) != 0)
			memset(vec, 1, np);	/* cannot tell: wipe it all */
		for (i = 0; i < np; i++)
			if (vec[i] & 1)
				sodium_memzero((unsigned char *)a + i * page, page);
		a += np * page;
	}
}

void secmem_free(void *p)
{
	struct tag *h;
	size_t size;

	if (!p)
		return;
	h = (struct tag *)p - 1;
	if ((unsigned char *)h < A.base || (unsigned char *)h >= A.end || h->magic != MAGIC ||
	    !tag_used(h) || footer_of(h)->size_flags != h->size_flags)
		abort();	/* not ours, or corrupted: never continue with secrets */
	size = tag_size(h);
	wipe(p, size - 2 * TAG);

	pthread_mutex_lock(&A.lock);
	A.st.in_use -= size;
	A.st.blocks--;
	if ((unsigned char *)h + size < A.end) {
		struct tag *next = (struct tag *)((unsigned char *)h + size);

		if (!tag_used(next)) {
			list_remove(next);
			size += tag_size(next);
			sodium_memzero(next, TAG);
		}
	}
	if ((unsigned char *)h > A.base) {
		struct tag *pf = (struct tag *)((unsigned char *)h - TAG);

		if (!tag_used(pf)) {
			struct tag *prev = (struct tag *)((unsigned char *)h - tag_size(pf));

			list_remove(prev);
			sodium_memzero(pf, 2 * TAG);	/* prev footer and our header */
			size += tag_size(prev);
			h = prev;
		}
	}
	set_tags(h, size, 0);
	list_push(h);
	pthread_mutex_unlock(&A.lock);
}

void secmem_get_stats(struct secmem_stats *st)
{
	pthread_mutex_lock(&A.lock);
	*st = A.st;
	pthread_mutex_unlock(&A.lock);
}

/* ---- secbuf ---- */

struct secbuf {
	unsigned char *data;	/* cap + 1 bytes of locked memory */
	size_t len;
	size_t cap;
};

struct secbuf *secbuf_new(size_t cap)
{
	struct secbuf *sb = calloc(1, sizeof(*sb));

	if (!sb)
		return NULL;
	sb->data = secmem_alloc(cap + 1);
	if (!sb->data) {
		free(sb);
		errno = ENOMEM;
		return NULL;
	}
	sb->cap = cap;
	sb->data[0] = 0;
	return sb;
}

struct secbuf *secbuf_dup(const void *p, size_t n)
{
	struct secbuf *sb = secbuf_new(n);

	if (sb && n) {
		memcpy(sb->data, p, n);
		sb->len = n;
		sb->data[n] = 0;
	}
	return sb;
}

void secbuf_free(struct secbuf *sb)
{
	if (!sb)
		return;
	secmem_free(sb->data);
	free(sb);
}

const unsigned char *secbuf_data(const struct secbuf *sb, size_t *len)
{
	if (len)
		*len = sb->len;
	return sb->data;
}

const char *secbuf_str(const struct secbuf *sb)
{
	return (const char *)sb->data;
}

size_t secbuf_len(const struct secbuf *sb)
{
	return sb->len;
}

size_t secbuf_footprint(const struct secbuf *sb)
{
	size_t need;

	if (!sb)
		return 0;
	need = (sb->cap + 1 + ALIGN - 1) / ALIGN * ALIGN + 2 * TAG;
	return need < MIN_BLOCK ? MIN_BLOCK : need;
}

int secbuf_reserve(struct secbuf *sb, size_t cap)
{
	unsigned char *n;

	if (cap <= sb->cap)
		return 0;
	n = secmem_alloc(cap + 1);
	if (!n)
		return -ENOMEM;
	memcpy(n, sb->data, sb->len + 1);
	secmem_free(sb->data);
	sb->data = n;
	sb->cap = cap;
	return 0;
}

static int grow_for(struct secbuf *sb, size_t extra)
{
	size_t want = sb->len + extra;

	if (want < sb->len)
		return -ENOMEM;
	if (want <= sb->cap)
		return 0;
	if (want < sb->cap * 2)
		want = sb->cap * 2;
	if (want < 64)
		want = 64;
	return secbuf_reserve(sb, want);
}

int secbuf_append(struct secbuf *sb, const void *p, size_t n)
{
	int r = grow_for(sb, n);

	if (r)
		return r;
	memcpy(sb->data + sb->len, p, n);
	sb->len += n;
	sb->data[sb->len] = 0;
	return 0;
}

int secbuf_putc(struct secbuf *sb, unsigned char c)
{
	return secbuf_append(sb, &c, 1);
}

void secbuf_clear(struct secbuf *sb)
{
	sodium_memzero(sb->data, sb->len);
	sb->len = 0;
}

unsigned char *secbuf_tail(struct secbuf *sb, size_t n)
{
	if (grow_for(sb, n) != 0)
		return NULL;
	return sb->data + sb->len;
}

void secbuf_commit(struct secbuf *sb, size_t n)
{
	if (sb->len + n > sb->cap)
		abort();
	sb->len += n;
	sb->data[sb->len] = 0;
}

int secbuf_equal(const struct secbuf *a, const void *p, size_t n)
{
	return a->len == n && sodium_memcmp(a->data, p, n) == 0;
}
