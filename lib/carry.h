#ifndef CARRY_H
#define CARRY_H

#include <stddef.h>
#include <stdint.h>

/*
 * What one harombefs daemon carries to the next when it restarts on the
 * same FUSE connection (fs/handover.h): its Vault leases and login token,
 * the PKI certificates with their private keys,
 * the views' change counters, the poll() registrations of open files.
 *
 * One region of secret memory: memfd_secret(2) where the kernel has it
 * (never swapped, outside the kernel's direct map, in no core dump), else a
 * memfd whose pages the daemon and the keeper both mlock().  Never a file
 * on disk, never argv or the environment: its descriptor lives in the
 * store that keeps the connection (the keeper, or systemd's fd store, as
 * FDNAME=carry) and is passed to every daemon with it.
 *
 * The region holds named sections.  Each carry_put() writes a complete
 * snapshot of every section into the slot not in use, then publishes it
 * (a sequence number stored last, over a checksummed body): a daemon killed
 * at any instruction leaves the last complete snapshot to its successor,
 * which is why a kill -9 loses nothing that carry_put() returned for.
 *
 * Sections are claimed: only the newest claim of a name may write it, so
 * that a backend of an older configuration generation (still closing after
 * a reload) never overwrites the current one's.
 */

struct carry;
struct secbuf;
struct why;

#define CARRY_NAME_MAX 31
#define CARRY_SECTIONS 8
/* Bounds of one slot (the region holds two, and a header page). */
#define CARRY_SLOT_MIN (64u << 10)
#define CARRY_SLOT_MAX (16u << 20)

/* Map the region passed as fd (the predecessor's: its snapshot becomes
 * the sections carry_take() returns), or with fd < 0 make a new one whose
 * slots hold slot_size bytes.  The secmem arena must exist.  0 and *out
 * (which owns fd from then on, also on error), or -errno with why. */
int carry_open(int fd, size_t slot_size, struct carry **out, struct why *why);
/* Unmap and close; with wipe, zero the region first (a clean stop: no
 * successor may adopt anything).  NULL-safe. */
void carry_free(struct carry *c, int wipe);
int carry_fd(const struct carry *c);
/* 1 for memfd_secret memory, 0 for a locked memfd. */
int carry_is_secret(const struct carry *c);
/* Was the region passed by a predecessor (carry_open with fd >= 0)? */
int carry_inherited(const struct carry *c);

/* A copy, in locked memory, of section name as the predecessor left it;
 * NULL when there is none, it was taken already (a successor adopts once,
 * not again at each reload), or on ENOMEM.  The section keeps that content
 * until the first carry_put() to it. */
struct secbuf *carry_take(struct carry *c, const char *name);
/* Become the writer of section name; the ticket carry_put() wants. */
unsigned long carry_claim(struct carry *c, const char *name);
/* Is ticket the current claim of section name? */
int carry_owns(struct carry *c, const char *name, unsigned long ticket);
/* Replace section name with p[0..n) and publish a snapshot; a stale
 * ticket (or 0: never claimed) writes nothing (0).  0, -ENOSPC when the snapshot does not fit a
 * slot (the last one stays, and it is logged once), or -ENOMEM. */
int carry_put(struct carry *c, const char *name, unsigned long ticket, const void *p, size_t n);

/* The daemon is stopping for a restart on the same connection: what it
 * holds (leases above all) is for its successor, not to be revoked. */
void carry_set_handover(struct carry *c, int on);
int carry_handover(const struct carry *c);

/*
 * Section contents: a flat record of native integers and length-prefixed
 * byte strings (same host, same boot; a format version leads each section).
 * Writers append to a secbuf; readers walk one with struct carry_rd, whose
 * `bad` sticks at the first short read.
 */
int carry_w_u64(struct secbuf *sb, uint64_t v);
int carry_w_bytes(struct secbuf *sb, const void *p, size_t n);
int carry_w_str(struct secbuf *sb, const char *s);

struct carry_rd {
	const unsigned char *p;
	size_t n, at;
	int bad;
};
void carry_rd_init(struct carry_rd *rd, const struct secbuf *sb);
uint64_t carry_r_u64(struct carry_rd *rd);
/* Borrowed pointer into the section (valid while it lives) and *len; NULL
 * and bad set on a short read.  Strings are NUL-terminated in the record. */
const void *carry_r_bytes(struct carry_rd *rd, size_t *len);
const char *carry_r_str(struct carry_rd *rd);
/* More to read? */
int carry_rd_more(const struct carry_rd *rd);

#endif
