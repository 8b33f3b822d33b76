/*
 * What happens to a finding of scan and scan-git between the scanner and
 * the report: it waits until its input is done (a file, a hunk), then the
 * line it is on is read back for an inline allow marker, its fingerprint is
 * made from the value (read back into locked memory, hashed, wiped), and a
 * baseline or an ignore file that lists the fingerprint keeps it out of the
 * report.  --write-baseline collects the rest.
 */
#include "lib/compat.h"
#include "cli/cli.h"
#include "cli/secrets-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>

#include "lib/fileio.h"
#include "lib/secbuf.h"
#include "scan/fingerprint.h"
#include "scan/report.h"

/* The markers that keep a finding on their line out of a scan report: ours
 * and those of gitleaks, detect-secrets and trufflehog, so that a tree
 * annotated for them needs no change.  Not "nosec" nor "noqa": they silence
 * other linters (bandit, flake8) and say nothing about secrets. */
static const char *const allow_markers[] = {
	"harombe:allow", "gitleaks:allow", "pragma: allowlist secret", "trufflehog:ignore", NULL,
};

#define LINE_MAX_READ 4096	/* a marker further than this from the line's start is not seen */
#define VALUE_MAX_READ (1u << 20)

int secrets_on_scan_finding(void *arg, const struct scan_finding *f)
{
	struct found_batch *b = arg;

	if (b->n_pend == b->cap_pend) {
		size_t cap = b->cap_pend ? 2 * b->cap_pend : 16;
		struct scan_finding *nv = realloc(b->pend, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		b->pend = nv;
		b->cap_pend = cap;
	}
	b->pend[b->n_pend] = *f;
	b->pend[b->n_pend].line += b->line_base;
	b->n_pend++;
	return 0;
}

void secrets_found_batch_release(struct found_batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		free(b->v[i].fp);
	free(b->v);
	free(b->pend);
	memset(b, 0, sizeof(*b));
}

static int has_marker(const unsigned char *l, size_t n)
{
	size_t k;

	for (k = 0; allow_markers[k]; k++)
		if (memmem(l, n, allow_markers[k], strlen(allow_markers[k])))
			return 1;
	return 0;
}

/* Bytes [off, off+len) of the input into dst (locked).  Returns how many
 * were read (fewer at the end), or -1. */
static ssize_t fetch(const struct found_input *in, uint64_t off, size_t len, unsigned char *dst)
{
	const unsigned char *buf = in->buf;
	size_t buflen = in->buflen, got = 0;
	int fd = in->fd;

	if (buf) {
		if (off < in->base) {
			errno = ERANGE;
			return -1;
		}
		off -= in->base;
		if (off >= buflen)
			return 0;
		if (len > buflen - off)
			len = buflen - (size_t)off;
		memcpy(dst, buf + off, len);
		return (ssize_t)len;
	}
	while (got < len) {
		ssize_t n = pread(fd, dst + got, len - got, (off_t)(off + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static int allowed_inline(const struct found_input *in, const struct scan_finding *f)
{
	uint64_t start = f->offset >= f->column - 1 ? f->offset - (f->column - 1) : 0;
	unsigned char *l = secmem_alloc(LINE_MAX_READ);
	ssize_t n;
	int r = 0;

	if (!l)
		return 0;
	n = fetch(in, start, LINE_MAX_READ, l);
	if (n > 0) {
		const unsigned char *nl = memchr(l, '\n', (size_t)n);

		r = has_marker(l, nl ? (size_t)(nl - l) : (size_t)n);
	}
	secmem_free(l);
	return r;
}

static int make_fp(const char *path, const struct found_input *in, const struct scan_finding *f, char *fp)
{
	size_t len = f->length < VALUE_MAX_READ ? (size_t)f->length : VALUE_MAX_READ;
	unsigned char *v = secmem_alloc(len ? len : 1);
	ssize_t n;
	int r;

	if (!v)
		return -ENOMEM;
	n = fetch(in, f->offset, len, v);
	r = n < 0 ? -errno : fingerprint_make(f->rule, path, v, (size_t)n, fp);
	secmem_free(v);	/* wipes */
	return r;
}

static int stopped(const struct ctx *x, const struct found_input *in, const struct scan_finding *f)
{
	size_t len = f->length < VALUE_MAX_READ ? (size_t)f->length : VALUE_MAX_READ;
	unsigned char *v = secmem_alloc(len ? len : 1);
	ssize_t n;
	int r = 0;

	if (!v)
		return 0;
	n = fetch(in, f->offset, len, v);
	if (n > 0)
		r = scanconf_has_stopword(&x->conf, v, (size_t)n);
	secmem_free(v);
	return r;
}

static int want_fp(const struct ctx *x)
{
	return x->c->json || x->c->sarif || x->o->baseline || x->o->write_baseline || x->ignore;
}

int secrets_found_judge(const struct ctx *x, const char *path, struct found_batch *b, const struct found_input *in)
{
	char *fp = NULL;
	size_t i;
	int r = 0;

	if (b->n + b->n_pend > b->cap) {
		struct found_item *nv = realloc(b->v, (b->n + b->n_pend) * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		b->v = nv;
		b->cap = b->n + b->n_pend;
	}
	if ((in->buf || in->fd >= 0) && want_fp(x) && !(fp = malloc(FINGERPRINT_MAX)))
		r = -ENOMEM;
	for (i = 0; i < b->n_pend && !r; i++) {
		struct found_item *it = &b->v[b->n++];
		const struct scan_finding *f = &b->pend[i];
		uint64_t line_start = f->offset >= f->column - 1 ? f->offset - (f->column - 1) : 0;
		/* a window of piped stdin that no longer holds the finding's line */
		int readable = in->buf ? line_start >= in->base : in->fd >= 0;

		it->f = *f;
		it->fp = NULL;
		it->verdict = FOUND_REPORT;
		if (readable && !x->o->no_inline_allow && allowed_inline(in, f)) {
			it->verdict = FOUND_ALLOWED;
			continue;
		}
		if (readable && x->conf.n_stopwords && stopped(x, in, f)) {
			it->verdict = FOUND_STOPPED;
			continue;
		}
		if (fp && readable) {
			if ((r = make_fp(path, in, f, fp)) || !(it->fp = strdup(fp)))
				r = r ? r : -ENOMEM;
		}
	}
	b->n_pend = 0;
	free(fp);
	return r;
}

int secrets_found_apply(struct ctx *x, const char *path, const char *commit, struct found_batch *b)
{
	size_t i;
	int r = 0;

	for (i = 0; i < b->n && !r; i++) {
		const struct found_item *it = &b->v[i];
		const struct scan_finding *f = &it->f;

		if (it->verdict == FOUND_ALLOWED) {
			x->n_allowed++;
			continue;
		}
		if (it->verdict == FOUND_STOPPED) {
			x->n_stopped++;
			continue;
		}
		if (it->fp && x->wb) {
			/* --write-baseline: every finding goes into the new baseline, none to the report */
			json_object *o = json_object_new_object();

			json_object_object_add(o, "fingerprint", json_object_new_string(it->fp));
			json_object_object_add(o, "rule", json_object_new_string(f->rule));
			json_object_object_add(o, "path", json_object_new_string(path));
			if (commit)
				json_object_object_add(o, "commit", json_object_new_string(commit));
			json_object_object_add(o, "line", json_object_new_int64((int64_t)f->line));
			json_object_array_add(x->wb, o);
			continue;
		}
		if (it->fp && (fpset_has(x->baseline, it->fp) || fpset_has(x->ignore, it->fp))) {
			x->n_baselined++;
			continue;
		}
		x->findings++;
		r = report_add(x->rep, path, commit, it->fp, f);
	}
	for (i = 0; i < b->n; i++)
		free(b->v[i].fp);
	b->n = 0;
	return r;
}

static int read_small(const char *path, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;
	struct secbuf *sb = NULL;
	const unsigned char *d;

	*out = NULL;
	if (fd < 0)
		return -errno;
	/* not secret (fingerprints), but fileio reads into a secbuf */
	r = secbuf_read_fd(fd, 64u << 20, &sb);
	close(fd);
	if (r)
		return r;
	d = secbuf_data(sb, len);
	if (!(*out = malloc(*len + 1))) {
		secbuf_free(sb);
		return -ENOMEM;
	}
	memcpy(*out, d, *len);
	(*out)[*len] = 0;
	secbuf_free(sb);
	return 0;
}

int secrets_found_setup(struct ctx *x, const char *root)
{
	char err[512], path[4096], *text;
	size_t len;
	int r;

	if (x->o->baseline) {
		if ((r = read_small(x->o->baseline, &text, &len))) {
			cli_error("secrets: cannot read the baseline '%s': %s", x->o->baseline, strerror(-r));
			return EXIT_USAGE;
		}
		if (!(x->baseline = fpset_new()))
			r = -ENOMEM;
		else
			r = fpset_load_baseline(x->baseline, x->o->baseline, text, len, err, sizeof(err));
		free(text);
		if (r) {
			cli_error("secrets: %s", r == -ENOMEM ? strerror(ENOMEM) : err);
			return EXIT_USAGE;
		}
	}
	if (x->o->ignore_file || (root && !x->o->no_config)) {
		const char *p = x->o->ignore_file;

		if (!p) {
			snprintf(path, sizeof(path), "%s/.harombeignore", root);
			p = path;
		}
		r = read_small(p, &text, &len);
		if (r == -ENOENT && !x->o->ignore_file)
			goto wb;
		if (r) {
			cli_error("secrets: cannot read the ignore file '%s': %s", p, strerror(-r));
			return EXIT_USAGE;
		}
		if (!(x->ignore = fpset_new()) || fpset_load_ignore(x->ignore, text, len)) {
			free(text);
			cli_error("secrets: cannot read the ignore file '%s': %s", p, strerror(ENOMEM));
			return EXIT_USAGE;
		}
		free(text);
	}
wb:
	if (x->o->write_baseline && !(x->wb = json_object_new_array())) {
		cli_error("secrets: out of memory");
		return EXIT_USAGE;
	}
	return 0;
}

int secrets_found_finish(struct ctx *x)
{
	json_object *doc;
	const char *s;
	int r = 0, fd;

	size_t out = x->n_allowed + x->n_baselined + x->n_stopped;

	if (!x->o->quiet && out)
		fprintf(stderr,
			"harombe: %zu finding%s left out: %zu marked inline, %zu in the baseline or ignore file, "
			"%zu with a stop word\n",
			out, out == 1 ? "" : "s", x->n_allowed, x->n_baselined, x->n_stopped);
	if (!x->wb)
		return 0;
	doc = json_object_new_object();
	json_object_object_add(doc, "harombe_baseline", json_object_new_int(1));
	json_object_object_add(doc, "findings", json_object_get(x->wb));
	s = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	fd = open(x->o->write_baseline, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || fd_write_all(fd, s, strlen(s)) || fd_write_all(fd, "\n", 1)) {
		cli_error("secrets: cannot write the baseline '%s': %s", x->o->write_baseline, strerror(errno));
		r = EXIT_USAGE;
	} else if (!x->o->quiet) {
		fprintf(stderr, "harombe: baseline of %zu finding%s written to %s\n", json_object_array_length(x->wb),
			json_object_array_length(x->wb) == 1 ? "" : "s", x->o->write_baseline);
	}
	if (fd >= 0)
		close(fd);
	json_object_put(doc);
	return r;
}

void secrets_found_release(struct ctx *x)
{
	scanconf_release(&x->conf);
	fpset_free(x->baseline);
	fpset_free(x->ignore);
	json_object_put(x->wb);
	x->baseline = x->ignore = NULL;
	x->wb = NULL;
}
