#include "lib/compat.h"
#include "lib/carry.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sodium.h>

#include "lib/log.h"
#include "lib/secbuf.h"
#include "lib/why.h"

/*
 * The region: a header page, then two slots.  A slot holds one snapshot:
 * its header (magic, sequence number, length, BLAKE2b-256 of the body) and
 * the body, a list of (name, bytes) sections.  Snapshot N lives in slot
 * N % 2; the reader takes the valid slot with the highest sequence number.
 * A writer first zeroes the target slot's sequence number, then writes the
 * body and the hash, and stores the sequence number last: whatever instant
 * it dies at, the other slot still holds a complete snapshot.
 */

#define REGION_MAGIC "harombe-carry-1"
#define SLOT_MAGIC UINT64_C(0x68617263736c6f74)	/* "harcslot" */
#define HDR_PAGE 4096u

struct region_hdr {
	char magic[16];
	uint64_t slot_size;
};

struct slot_hdr {
	uint64_t magic;
	uint64_t seq;		/* 0: being written, or never */
	uint64_t len;		/* of the body */
	unsigned char hash[32];
};

struct section {
	char name[CARRY_NAME_MAX + 1];
	unsigned long claim;
	int inherited;		/* data is the predecessor's, untouched since */
	int taken;		/* carry_take() returned it: never twice */
	struct secbuf *data;
};

struct carry {
	pthread_mutex_t lock;
	int fd;
	int secret;
	int inherited;
	int handover;
	int full_logged;
	unsigned char *map;
	size_t map_len, slot_size;
	uint64_t seq;
	unsigned long claims;
	struct section sec[CARRY_SECTIONS];
};

static struct slot_hdr *slot(struct carry *c, uint64_t seq)
{
	return (struct slot_hdr *)(c->map + HDR_PAGE + (seq & 1) * c->slot_size);
}

static int map_region(struct carry *c, size_t len, int lock, struct why *why)
{
	c->map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
	if (c->map == MAP_FAILED) {
		c->map = NULL;
		return why_fail(why, -errno, "cannot map the carried state (%zu KiB): %s", len >> 10,
				strerror(errno));
	}
	c->map_len = len;
	(void)madvise(c->map, len, MADV_DONTDUMP);
	(void)madvise(c->map, len, MADV_DONTFORK);
	/* The raw system call, as lib/secbuf.c: sanitizers make mlock() a
	 * no-op.  memfd_secret memory is locked by the kernel already. */
	if (lock && syscall(SYS_mlock, c->map, len) != 0)
		return why_fail(why, -errno, "cannot lock the carried state (%zu KiB) in memory: %s", len >> 10,
				strerror(errno));
	return 0;
}

/* A new region: memfd_secret, else a memfd we lock. */
static int create(struct carry *c, size_t slot_size, struct why *why)
{
	struct region_hdr *h;
	size_t len;
	int r;

	slot_size = (slot_size + HDR_PAGE - 1) & ~(size_t)(HDR_PAGE - 1);
	len = HDR_PAGE + 2 * slot_size;
	c->fd = -1;
#ifdef SYS_memfd_secret
	c->fd = (int)syscall(SYS_memfd_secret, (unsigned int)O_CLOEXEC);
#endif
	c->secret = c->fd >= 0;
	if (c->fd < 0) {
		log_info("no memfd_secret (%s): the carried state is a memfd that the daemon and the "
			 "keeper lock in memory", strerror(errno));
		c->fd = memfd_create("harombefs-carry", MFD_CLOEXEC);
		if (c->fd < 0)
			return why_fail(why, -errno, "cannot make a memfd for the carried state: %s",
					strerror(errno));
	}
	if (ftruncate(c->fd, (off_t)len) != 0)
		return why_fail(why, -errno, "cannot size the carried state: %s", strerror(errno));
	if ((r = map_region(c, len, !c->secret, why)) != 0)
		return r;
	c->slot_size = slot_size;
	h = (struct region_hdr *)c->map;
	h->slot_size = slot_size;
	memcpy(h->magic, REGION_MAGIC, sizeof(REGION_MAGIC));
	return 0;
}

static int slot_valid(struct carry *c, struct slot_hdr *s)
{
	unsigned char hash[32];

	if (s->magic != SLOT_MAGIC || !s->seq || s->len > c->slot_size - sizeof(*s))
		return 0;
	crypto_generichash(hash, sizeof(hash), (unsigned char *)(s + 1), s->len, NULL, 0);
	return !sodium_memcmp(hash, s->hash, sizeof(hash));
}

/* The predecessor's last snapshot into sections. */
static int load(struct carry *c, struct why *why)
{
	struct slot_hdr *a = slot(c, 0), *b = slot(c, 1), *s = NULL;
	struct carry_rd rd;
	size_t i = 0;

	if (slot_valid(c, a))
		s = a;
	if (slot_valid(c, b) && (!s || b->seq > s->seq))
		s = b;
	if (!s)
		return 0;	/* nothing published yet */
	c->seq = s->seq;
	rd.p = (const unsigned char *)(s + 1);
	rd.n = s->len;
	rd.at = 0;
	rd.bad = 0;
	while (carry_rd_more(&rd) && i < CARRY_SECTIONS) {
		const char *name = carry_r_str(&rd);
		size_t n;
		const void *p = carry_r_bytes(&rd, &n);

		if (rd.bad || strlen(name) > CARRY_NAME_MAX)
			break;
		memcpy(c->sec[i].name, name, strlen(name) + 1);
		c->sec[i].inherited = 1;
		if (!(c->sec[i].data = secbuf_dup(p, n)))
			return why_fail(why, -ENOMEM, "locked memory exhausted reading the carried state");
		i++;
	}
	if (rd.bad)
		log_warn("the carried state is malformed after %zu section%s: the rest is ignored", i,
			 i == 1 ? "" : "s");
	return 0;
}

int carry_open(int fd, size_t slot_size, struct carry **out, struct why *why)
{
	struct carry *c = calloc(1, sizeof(*c));
	struct region_hdr h;
	struct stat st;
	char link[64], target[64] = "";
	int r;

	*out = NULL;
	if (!c) {
		if (fd >= 0)
			close(fd);
		return why_fail(why, -ENOMEM, "out of memory");
	}
	pthread_mutex_init(&c->lock, NULL);
	c->fd = fd;
	if (slot_size < CARRY_SLOT_MIN)
		slot_size = CARRY_SLOT_MIN;
	if (slot_size > CARRY_SLOT_MAX)
		slot_size = CARRY_SLOT_MAX;
	if (fd < 0) {
		r = create(c, slot_size, why);
		goto out;
	}
	c->inherited = 1;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if (readlink(link, target, sizeof(target) - 1) < 0)
		target[0] = 0;
	c->secret = !strncmp(target, "/secretmem", 10);
	if (fstat(fd, &st) != 0 || st.st_size < (off_t)(HDR_PAGE + 2 * CARRY_SLOT_MIN)) {
		r = why_fail(why, -EINVAL, "the passed carried state is not a region of ours");
		goto out;
	}
	if ((r = map_region(c, (size_t)st.st_size, !c->secret, why)) != 0)
		goto out;
	memcpy(&h, c->map, sizeof(h));
	if (memcmp(h.magic, REGION_MAGIC, sizeof(REGION_MAGIC)) || h.slot_size < CARRY_SLOT_MIN ||
	    h.slot_size > CARRY_SLOT_MAX || HDR_PAGE + 2 * h.slot_size > (size_t)st.st_size) {
		r = why_fail(why, -EINVAL, "the passed carried state has another format (an older harombefs?)");
		goto out;
	}
	c->slot_size = h.slot_size;
	r = load(c, why);
out:
	if (r) {
		carry_free(c, 0);
		return r;
	}
	*out = c;
	return 0;
}

void carry_free(struct carry *c, int wipe)
{
	size_t i;

	if (!c)
		return;
	if (c->map && wipe) {
		for (i = 0; i < 2; i++) {
			struct slot_hdr *s = slot(c, i);
			size_t len = s->len <= c->slot_size - sizeof(*s) ? s->len : 0;

			__atomic_store_n(&s->seq, 0, __ATOMIC_RELEASE);
			sodium_memzero(s + 1, len);
			sodium_memzero(s, sizeof(*s));
		}
	}
	if (c->map)
		munmap(c->map, c->map_len);
	if (c->fd >= 0)
		close(c->fd);
	for (i = 0; i < CARRY_SECTIONS; i++)
		secbuf_free(c->sec[i].data);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

int carry_fd(const struct carry *c)
{
	return c->fd;
}

int carry_is_secret(const struct carry *c)
{
	return c->secret;
}

int carry_inherited(const struct carry *c)
{
	return c->inherited;
}

static struct section *find(struct carry *c, const char *name, int make)
{
	size_t i;

	for (i = 0; i < CARRY_SECTIONS; i++)
		if (c->sec[i].name[0] && !strcmp(c->sec[i].name, name))
			return &c->sec[i];
	if (!make || strlen(name) > CARRY_NAME_MAX)
		return NULL;
	for (i = 0; i < CARRY_SECTIONS; i++)
		if (!c->sec[i].name[0]) {
			memcpy(c->sec[i].name, name, strlen(name) + 1);
			return &c->sec[i];
		}
	return NULL;
}

struct secbuf *carry_take(struct carry *c, const char *name)
{
	struct section *s;
	struct secbuf *sb = NULL;

	pthread_mutex_lock(&c->lock);
	s = find(c, name, 0);
	if (s && s->inherited && !s->taken && s->data) {
		sb = secbuf_dup(secbuf_str(s->data), secbuf_len(s->data));
		s->taken = sb != NULL;
	}
	pthread_mutex_unlock(&c->lock);
	return sb;
}

unsigned long carry_claim(struct carry *c, const char *name)
{
	struct section *s;
	unsigned long t = 0;

	pthread_mutex_lock(&c->lock);
	if ((s = find(c, name, 1)))
		t = s->claim = ++c->claims;
	pthread_mutex_unlock(&c->lock);
	return t;
}

int carry_owns(struct carry *c, const char *name, unsigned long ticket)
{
	struct section *s;
	int own;

	if (!c || !ticket)
		return 0;
	pthread_mutex_lock(&c->lock);
	s = find(c, name, 0);
	own = s && s->claim == ticket;
	pthread_mutex_unlock(&c->lock);
	return own;
}

/* Publish every section as snapshot seq + 1 (lock held). */
static int publish(struct carry *c)
{
	uint64_t seq = c->seq + 1;
	struct slot_hdr *s = slot(c, seq);
	unsigned char *p = (unsigned char *)(s + 1);
	size_t i, need = 0, at = 0, room = c->slot_size - sizeof(*s);

	for (i = 0; i < CARRY_SECTIONS; i++)
		if (c->sec[i].name[0] && c->sec[i].data)
			need += 2 * sizeof(uint64_t) + strlen(c->sec[i].name) + 1 + secbuf_len(c->sec[i].data) + 1;
	if (need > room) {
		if (!c->full_logged++)
			log_warn("the carried state needs %zu KiB, more than its %zu KiB: a restart now carries "
				 "an older snapshot (raise security.fs.locked_memory)", need >> 10, room >> 10);
		return -ENOSPC;
	}
	__atomic_store_n(&s->seq, 0, __ATOMIC_RELEASE);
	for (i = 0; i < CARRY_SECTIONS; i++) {
		const struct section *x = &c->sec[i];
		uint64_t n;

		if (!x->name[0] || !x->data)
			continue;
		/* As carry_w_bytes() writes: length, bytes, NUL. */
		n = strlen(x->name);
		memcpy(p + at, &n, sizeof(n));
		memcpy(p + at + sizeof(n), x->name, n + 1);
		at += sizeof(n) + n + 1;
		n = secbuf_len(x->data);
		memcpy(p + at, &n, sizeof(n));
		memcpy(p + at + sizeof(n), secbuf_str(x->data), n + 1);
		at += sizeof(n) + n + 1;
	}
	/* What the slot held past the new end: wiped, not left behind. */
	if (s->len > at && s->len <= room)
		sodium_memzero(p + at, s->len - at);
	s->len = at;
	crypto_generichash(s->hash, sizeof(s->hash), p, at, NULL, 0);
	s->magic = SLOT_MAGIC;
	__atomic_store_n(&s->seq, seq, __ATOMIC_RELEASE);
	c->seq = seq;
	return 0;
}

int carry_put(struct carry *c, const char *name, unsigned long ticket, const void *p, size_t n)
{
	struct section *s;
	struct secbuf *sb;
	int r;

	if (!c)
		return 0;
	if (!(sb = secbuf_dup(p, n)))
		return -ENOMEM;
	pthread_mutex_lock(&c->lock);
	s = find(c, name, 0);
	if (!s || !ticket || s->claim != ticket) {
		pthread_mutex_unlock(&c->lock);
		secbuf_free(sb);
		return 0;
	}
	secbuf_free(s->data);
	s->data = sb;
	s->inherited = 0;
	r = publish(c);
	pthread_mutex_unlock(&c->lock);
	return r;
}

void carry_set_handover(struct carry *c, int on)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->handover = on;
	pthread_mutex_unlock(&c->lock);
}

int carry_handover(const struct carry *c)
{
	int on;

	if (!c)
		return 0;
	pthread_mutex_lock((pthread_mutex_t *)&c->lock);
	on = c->handover;
	pthread_mutex_unlock((pthread_mutex_t *)&c->lock);
	return on;
}

/* ---- records ---- */

int carry_w_u64(struct secbuf *sb, uint64_t v)
{
	return secbuf_append(sb, &v, sizeof(v));
}

int carry_w_bytes(struct secbuf *sb, const void *p, size_t n)
{
	static const unsigned char nul;

	return carry_w_u64(sb, n) || secbuf_append(sb, p, n) || secbuf_append(sb, &nul, 1) ? -ENOMEM : 0;
}

int carry_w_str(struct secbuf *sb, const char *s)
{
	return carry_w_bytes(sb, s ? s : "", s ? strlen(s) : 0);
}

void carry_rd_init(struct carry_rd *rd, const struct secbuf *sb)
{
	rd->p = sb ? secbuf_data(sb, &rd->n) : NULL;
	if (!sb)
		rd->n = 0;
	rd->at = 0;
	rd->bad = 0;
}

uint64_t carry_r_u64(struct carry_rd *rd)
{
	uint64_t v = 0;

	if (rd->bad || rd->n - rd->at < sizeof(v)) {
		rd->bad = 1;
		return 0;
	}
	memcpy(&v, rd->p + rd->at, sizeof(v));
	rd->at += sizeof(v);
	return v;
}

const void *carry_r_bytes(struct carry_rd *rd, size_t *len)
{
	uint64_t n = carry_r_u64(rd);
	const unsigned char *p;

	*len = 0;
	if (rd->bad || n >= rd->n - rd->at || rd->p[rd->at + n] != 0) {
		rd->bad = 1;
		return NULL;
	}
	p = rd->p + rd->at;
	rd->at += n + 1;
	*len = n;
	return p;
}

const char *carry_r_str(struct carry_rd *rd)
{
	size_t n;
	const char *s = carry_r_bytes(rd, &n);

	if (s && strlen(s) != n) {
		rd->bad = 1;
		return "";
	}
	return s ? s : "";
}

int carry_rd_more(const struct carry_rd *rd)
{
	return !rd->bad && rd->at < rd->n;
}
