/*
 * libFuzzer target: harombefs's FUSE operations (fs/fs.c), driven by
 * sequences of requests as the kernel would send them, over the real
 * views, env backend and rendering, with libfuse's request and reply
 * functions replaced (tests/fuzz/fuse-stub.c).  The input is a list of
 * operations: LOOKUP of arbitrary names (and of the names seen so far)
 * under arbitrary inodes, GETATTR, OPENDIR/READDIR/RELEASEDIR, OPEN with
 * any flags, READ at any offset and size, RELEASE, STATFS, a config reload
 * that adds, removes and re-owns views, and a change of caller (uid, gid,
 * groups).
 *
 * Oracles: every request gets exactly one reply; an entry's inode matches
 * its attributes and never changes meaning (one path per inode); files
 * open with direct_io and never keep_cache; a read never returns more than
 * asked, and a read of secrets/NAME returns exactly the value; every
 * handle released and the daemon freed, locked memory is back where it
 * started (and LeakSanitizer checks the heap).
 */
#include "lib/compat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/fs.h"
#include "lib/log.h"
#include "lib/secbuf.h"
#include "tests/fuzz/fuse-stub.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INOS 512
#define MAX_HANDLES 16
#define MAX_OPS 256

static char dir[64], cfg_path[128], audit_path[128];
static const char *const cfg_text[2] = {
	"security:\n"
	"  fs:\n    audit_log: AUDIT\n"
	"  audit:\n    enabled: false\n"
	"  containers:\n"
	"    a:\n      secrets: { A1: k/a1, A2: k/a2, BIN: k/bin }\n"
	"      templates:\n        t.ini: { inline: \"x = {{ secret \\\"k/a1\\\" | ini }}\\n\" }\n"
	"        t.sh: { inline: \"B={{ secret \\\"k/bin\\\" | sh }} {{ secret \\\"k/a2\\\" | json }}\" }\n"
	"    b:\n      uid: 1000\n      secrets: { B1: k/b1 }\n"
	"    c:\n      gid: 1000\n      secrets: { A1: k/a1 }\n"
	"    d:\n      cgroup: \"/nonexistent/*\"\n      secrets: { D: k/missing }\n",
	"security:\n"
	"  fs:\n    audit_log: AUDIT\n"
	"  containers:\n"
	"    a:\n      secrets: { A1: k/a1, A2: k/a2, BIN: k/bin }\n"
	"    c:\n      uid: 1000\n      gid: 1000\n      mode: \"0440\"\n      secrets: { A1: k/a1, E: k/e }\n"
	"      templates: { t.ini: { inline: \"e={{ secret \\\"k/e\\\" | yaml }}\", mode: \"0440\" } }\n"
	"    d:\n      cgroup: \"/nonexistent/*\"\n      secrets: { D: k/missing }\n"
	"    e:\n      secrets: { E: k/e }\n",
};
static const struct {
	const char *env, *name, *value;
} values[] = {
	{ "HAROMBE_SECRET_K_A1", "A1", "alpha-1" },
	{ "HAROMBE_SECRET_K_A2", "A2", "al\"pha$`2\nline two" },
	{ "HAROMBE_SECRET_K_BIN", "BIN", "bin\x01\xff\r" },
	{ "HAROMBE_SECRET_K_B1", "B1", "beta" },
	{ "HAROMBE_SECRET_K_E", "E", "echo" },
};
static const char *const pool[] = {
	"a", "b", "c", "d", "e", "env", "docker.env", "env.json", "secrets", "A1", "A2", "BIN", "B1", "D", "E",
	".", "..", "", "zz", "a/b", "secrets/A1", "generation", "self", "t.ini", "t.sh",
};

struct handle {
	uint64_t fh;
	fuse_ino_t ino;
};

static struct {
	const struct fuse_lowlevel_ops *ops;
	struct harombefs *h;
	char *path[MAX_INOS];		/* what each inode is, once seen */
	fuse_ino_t known[MAX_INOS];
	size_t nknown;
	struct handle files[MAX_HANDLES], dirs[MAX_HANDLES];
	size_t nfiles, ndirs;
	struct fuse_ctx ctx;
	gid_t groups[4];
	int ngroups;
	int variant;
} S;

static void write_config(int variant)
{
	char text[1024], *at;
	FILE *f;

	snprintf(text, sizeof(text), "%s", cfg_text[variant]);
	at = strstr(text, "AUDIT");
	memmove(at + strlen(audit_path), at + 5, strlen(at + 5) + 1);
	memcpy(at, audit_path, strlen(audit_path));
	f = fopen(cfg_path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		abort();
	S.variant = variant;
}

static void cleanup(void)
{
	unlink(cfg_path);
	unlink(audit_path);
	rmdir(dir);
}

static int warming;
static void run_input(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	size_t i;

	(void)argc;
	(void)argv;
	log_setup("fuzz", 0, LOG_ERROR);
	snprintf(dir, sizeof(dir), "/tmp/harombe-fuzz-fs.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(cfg_path, sizeof(cfg_path), "%s/harombe.yaml", dir);
	snprintf(audit_path, sizeof(audit_path), "%s/audit.jsonl", dir);
	atexit(cleanup);
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		setenv(values[i].env, values[i].value, 1);
	/* The env backend takes the variables into its locked store once:
	 * do it before the first input measures locked memory. */
	warming = 1;
	run_input((const uint8_t *)"", 0);
	warming = 0;
	return 0;
}

static const char *expected_value(const char *path)
{
	const char *s = strstr(path, "/secrets/");
	size_t i;

	if (!s)
		return NULL;
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		if (!strcmp(s + 9, values[i].name))
			return values[i].value;
	return NULL;
}

/* What inode ino is ("/a/secrets/A1"), once seen; NULL before.  Inode
 * numbers are hashes (fs/nodes.c), so they are looked up, not indexed. */
static const char *path_of(fuse_ino_t ino)
{
	size_t i;

	for (i = 0; i < S.nknown; i++)
		if (S.known[i] == ino)
			return S.path[i];
	return NULL;
}

static void learn(fuse_ino_t parent, const char *name, fuse_ino_t ino)
{
	char buf[1024];
	const char *was = path_of(ino), *pp = path_of(parent);

	if (!ino || !strcmp(name, ".") || !strcmp(name, ".."))
		return;
	snprintf(buf, sizeof(buf), "%s/%s", pp ? pp : "?", name);
	if (was) {
		if (strcmp(was, buf))
			abort();	/* one inode, two meanings */
		return;
	}
	if (S.nknown < MAX_INOS) {
		S.path[S.nknown] = strdup(buf);
		S.known[S.nknown++] = ino;
	}
}

static void req_init(struct fuse_req *r, size_t want)
{
	memset(r, 0, sizeof(*r));
	r->userdata = S.h;
	r->ctx = S.ctx;
	memcpy(r->groups, S.groups, sizeof(r->groups));
	r->ngroups = S.ngroups;
	r->want = want;
}

static void req_done(struct fuse_req *r)
{
	if (r->replies != 1)
		abort();	/* every request gets exactly one reply */
	free(r->buf);
}

/* The next input byte (0 when the input is used up). */
static unsigned int next(const uint8_t **p, const uint8_t *end)
{
	return *p < end ? *(*p)++ : 0;
}

static fuse_ino_t pick_ino(unsigned int b)
{
	static const fuse_ino_t odd[] = { 0, 2, 3, 100, 511, 100000, (fuse_ino_t)-1 };

	if (b >= 0xf0 || !S.nknown)
		return odd[b % (sizeof(odd) / sizeof(odd[0]))];
	return S.known[b % S.nknown];
}

static void op_lookup(const uint8_t **p, const uint8_t *end)
{
	struct fuse_req r;
	fuse_ino_t parent = pick_ino(next(p, end));
	unsigned int b = next(p, end);
	char name[300];

	if (b < 0x80) {
		snprintf(name, sizeof(name), "%s", pool[b % (sizeof(pool) / sizeof(pool[0]))]);
	} else {
		size_t len = next(p, end) % 256, i;

		for (i = 0; i < len && *p < end; i++) {
			unsigned char c = *(*p)++;

			name[i] = c ? (char)c : 'x';	/* the kernel never sends a NUL */
		}
		name[i] = 0;
	}
	req_init(&r, 0);
	S.ops->lookup(&r, parent, name);
	req_done(&r);
	if (r.kind == STUB_ENTRY) {
		if (!r.entry.ino || r.entry.attr.st_ino != r.entry.ino)
			abort();
		learn(parent, name, r.entry.ino);
	}
}

static struct handle *pick_handle(struct handle *hs, size_t n, unsigned int b)
{
	return n ? &hs[b % n] : NULL;
}

static void drop_handle(struct handle *hs, size_t *n, struct handle *h)
{
	*h = hs[--*n];
}

static void op_getattr(const uint8_t **p, const uint8_t *end)
{
	struct fuse_req r;
	struct fuse_file_info fi;
	unsigned int b = next(p, end);
	struct handle *hd = b & 1 ? pick_handle(S.files, S.nfiles, b >> 1) : NULL;
	fuse_ino_t ino = hd ? hd->ino : pick_ino(b);

	memset(&fi, 0, sizeof(fi));
	req_init(&r, 0);
	if (hd)
		fi.fh = hd->fh;
	S.ops->getattr(&r, ino, hd ? &fi : NULL);
	req_done(&r);
	if (r.kind == STUB_ATTR && r.attr.st_ino != ino)
		abort();
}

static void op_opendir(const uint8_t **p, const uint8_t *end)
{
	struct fuse_req r;
	struct fuse_file_info fi;
	fuse_ino_t ino = pick_ino(next(p, end));

	memset(&fi, 0, sizeof(fi));
	req_init(&r, 0);
	S.ops->opendir(&r, ino, &fi);
	req_done(&r);
	if (r.kind != STUB_OPEN)
		return;
	if (S.ndirs == MAX_HANDLES) {
		req_init(&r, 0);
		S.ops->releasedir(&r, ino, &r.fi);
		req_done(&r);
		return;
	}
	S.dirs[S.ndirs].fh = r.fi.fh;
	S.dirs[S.ndirs++].ino = ino;
}

static void op_readdir(const uint8_t **p, const uint8_t *end)
{
	struct fuse_req r;
	struct fuse_file_info fi;
	struct handle *hd = pick_handle(S.dirs, S.ndirs, next(p, end));
	size_t size = (next(p, end) + 1) * 16;
	off_t off = (off_t)(next(p, end) % 16) - 1;
	int i;

	if (!hd)
		return;
	memset(&fi, 0, sizeof(fi));
	fi.fh = hd->fh;
	req_init(&r, size);
	S.ops->readdir(&r, hd->ino, size, off < 0 ? 0 : off, &fi);
	req_done(&r);
	for (i = 0; r.kind == STUB_BUF && i < r.ndirents; i++)
		learn(hd->ino, r.dirents[i].name, r.dirents[i].ino);
}

static void op_releasedir(const uint8_t **p, const uint8_t *end)
{
	struct fuse_req r;
	struct fuse_file_info fi;
	struct handle *hd = pick_handle(S.dirs, S.ndirs, next(p, end));

	if (!hd)
		return;
	memset(&fi, 0, sizeof(fi));
	fi.fh = hd->fh;
	req_init(&r, 0);
	S.ops->releasedir(&r, hd->ino, &fi);
	req_done(&r);
	drop_handle(S.dirs, &S.ndirs, hd);
}

static void release_file(struct handle *hd)
{
	struct fuse_req r;
	struct fuse_file_info fi;

	memset(&fi, 0, sizeof(fi));
	fi.fh = hd->fh;
	req_init(&r, 0);
	S.ops->release(&r, hd->ino, &fi);
	req_done(&r);
}

static void op_open(const uint8_t **p, const uint8_t *end)
{
	static const int flags[] = { O_RDONLY, O_WRONLY, O_RDWR, O_RDONLY | O_TRUNC, O_RDONLY | O_NONBLOCK };
	struct fuse_req r;
	struct fuse_file_info fi;
	fuse_ino_t ino = pick_ino(next(p, end));

	memset(&fi, 0, sizeof(fi));
	fi.flags = flags[next(p, end) % (sizeof(flags) / sizeof(flags[0]))];
	req_init(&r, 0);
	S.ops->open(&r, ino, &fi);
	req_done(&r);
	if (r.kind != STUB_OPEN)
		return;
	if (!r.fi.direct_io || r.fi.keep_cache || (fi.flags & O_ACCMODE) != O_RDONLY || (fi.flags & O_TRUNC))
		abort();	/* content never enters the page cache; nothing opens for writing */
	if (S.nfiles == MAX_HANDLES) {
		struct handle tmp = { r.fi.fh, ino };

		release_file(&tmp);
		return;
	}
	S.files[S.nfiles].fh = r.fi.fh;
	S.files[S.nfiles++].ino = ino;
}

static void op_read(const uint8_t **p, const uint8_t *end)
{
	struct fuse_req r;
	struct fuse_file_info fi;
	struct handle *hd = pick_handle(S.files, S.nfiles, next(p, end));
	unsigned int b = next(p, end);
	size_t size = b & 0x80 ? 65536 : (b & 0x7f);
	off_t off = next(p, end) % 32;
	const char *want;

	if (!hd)
		return;
	memset(&fi, 0, sizeof(fi));
	fi.fh = hd->fh;
	req_init(&r, size);
	S.ops->read(&r, hd->ino, size, off, &fi);
	if (r.kind != STUB_BUF) {
		req_done(&r);
		return;
	}
	want = path_of(hd->ino) ? expected_value(path_of(hd->ino)) : NULL;
	if (want) {
		size_t wl = strlen(want), from = (size_t)off < wl ? (size_t)off : wl;
		size_t n = wl - from < size ? wl - from : size;

		if (r.buflen != n || memcmp(r.buf, want + from, n))
			abort();	/* secrets/NAME is the value, byte for byte */
	}
	req_done(&r);
}

static void op_release(const uint8_t **p, const uint8_t *end)
{
	struct handle *hd = pick_handle(S.files, S.nfiles, next(p, end));

	if (!hd)
		return;
	release_file(hd);
	drop_handle(S.files, &S.nfiles, hd);
}

static void op_caller(const uint8_t **p, const uint8_t *end)
{
	static const uid_t ids[] = { 0, 1000, 1001, 65534 };
	unsigned int b = next(p, end);

	S.ctx.uid = ids[b & 3];
	S.ctx.gid = ids[(b >> 2) & 3];
	S.ctx.pid = b & 0x10 ? 1 : getpid();
	S.ngroups = (b >> 5) & 3;
	S.groups[0] = 1000;
	S.groups[1] = 5;
	S.groups[2] = 0;
}

static void run_input(const uint8_t *data, size_t size)
{
	struct secmem_stats before, after;
	const uint8_t *p = data, *end = data + size;
	struct why err = WHY_INIT;
	size_t i;
	int ops = 0;

	secmem_get_stats(&before);
	memset(&S, 0, sizeof(S));
	S.ops = fs_operations();
	S.ctx.pid = getpid();
	write_config(0);
	if (truncate(audit_path, 0) != 0 && errno != ENOENT)
		abort();
	if (fs_new(cfg_path, NULL, &S.h, &err) != 0) {
		fprintf(stderr, "fuzz_fs: %s\n", err.msg);
		abort();
	}
	S.path[S.nknown] = strdup("");
	S.known[S.nknown++] = FUSE_ROOT_ID;
	while (p < end && ops++ < MAX_OPS) {
		struct fuse_req r;

		switch (next(&p, end) % 11) {
		case 0: op_lookup(&p, end); break;
		case 1: op_getattr(&p, end); break;
		case 2: op_opendir(&p, end); break;
		case 3: op_readdir(&p, end); break;
		case 4: op_releasedir(&p, end); break;
		case 5: op_open(&p, end); break;
		case 6: op_read(&p, end); break;
		case 7: op_release(&p, end); break;
		case 8:
			write_config(!S.variant);
			if (fs_reload(S.h) != 0)
				abort();	/* both configs are valid */
			break;
		case 9:
			req_init(&r, 0);
			S.ops->statfs(&r, FUSE_ROOT_ID);
			req_done(&r);
			break;
		case 10: op_caller(&p, end); break;
		}
	}
	/* unmount: the kernel releases what is still open */
	while (S.nfiles)
		release_file(&S.files[--S.nfiles]);
	while (S.ndirs) {
		struct fuse_req r;
		struct fuse_file_info fi;

		memset(&fi, 0, sizeof(fi));
		fi.fh = S.dirs[--S.ndirs].fh;
		req_init(&r, 0);
		S.ops->releasedir(&r, S.dirs[S.ndirs].ino, &fi);
		req_done(&r);
	}
	fs_free(S.h);
	for (i = 0; i < MAX_INOS; i++)
		free(S.path[i]);
	secmem_get_stats(&after);
	if (!warming && after.in_use != before.in_use)
		abort();	/* locked memory back where it started */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run_input(data, size);
	return 0;
}
