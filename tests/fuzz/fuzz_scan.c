/*
 * libFuzzer target: the scanner's input, what `harombe secrets filter`
 * reads from a tool.  One scanner with the built-in rules (entropy on) and
 * a known value; the input (after one byte that seeds the chunking) is
 * scanned twice: as one buffer, and as a stream written in chunks of
 * arbitrary sizes.
 *
 * Oracles: both give the same output and the same findings (a secret is
 * never lost, or found differently, across read boundaries); the known
 * value never appears in the output; every finding lies inside the input,
 * has a confidence in [0, 1], and exposes at most a public format marker
 * that the input really starts with there.
 */
#include "lib/compat.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "scan/scan.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KNOWN "hrmbKnown-Value_42"
#define MAXF 256

static struct scan *scanner;

struct result {
	unsigned char *out;
	size_t len, cap;
	struct scan_finding f[MAXF];
	size_t nf;
	const uint8_t *in;
	size_t inlen;
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[512];

	(void)argc;
	(void)argv;
	log_setup("fuzz", 0, LOG_ERROR);
	if (scan_new(NULL, &scanner, err, sizeof(err)) ||
	    scan_add_known(scanner, KNOWN, strlen(KNOWN), "KNOWN", err, sizeof(err)) ||
	    scan_compile(scanner, err, sizeof(err))) {
		fprintf(stderr, "fuzz_scan: %s\n", err);
		abort();
	}
	return 0;
}

static int on_out(void *arg, const void *data, size_t len)
{
	struct result *r = arg;

	if (r->len + len > r->cap) {
		size_t cap = (r->len + len) * 2 + 64;
		unsigned char *n = realloc(r->out, cap);

		if (!n)
			abort();
		r->out = n;
		r->cap = cap;
	}
	memcpy(r->out + r->len, data, len);
	r->len += len;
	return 0;
}

static int on_find(void *arg, const struct scan_finding *f)
{
	struct result *r = arg;
	size_t ml;

	if (!f->rule || !f->type || !f->marker || !(f->confidence >= 0 && f->confidence <= 1) || !f->length ||
	    f->offset + f->length > r->inlen || f->line < 1 || f->column < 1)
		abort();
	ml = strlen(f->marker);
	if (ml > 16 || (ml && (ml > f->length || memcmp(r->in + f->offset, f->marker, ml))))
		abort();	/* a finding shows a public marker at most */
	if (r->nf < MAXF)
		r->f[r->nf++] = *f;
	return 0;
}

static int same_finding(const struct scan_finding *a, const struct scan_finding *b)
{
	return a->offset == b->offset && a->length == b->length && !strcmp(a->rule, b->rule) &&
	       a->line == b->line && a->column == b->column;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct result whole = { 0 }, chunked = { 0 };
	struct scan_stream *st = NULL;
	unsigned int seed;
	size_t at, i;

	if (!size)
		return 0;
	seed = data[0];
	data++;
	size--;
	whole.in = chunked.in = data;
	whole.inlen = chunked.inlen = size;
	if (scan_buffer(scanner, data, size, on_out, on_find, &whole) != 0)
		abort();
	if (scan_stream_new(scanner, on_out, on_find, &chunked, &st) != 0)
		abort();
	for (at = 0; at < size;) {
		size_t n;

		seed = seed * 1103515245u + 12345u;
		n = 1 + (seed >> 8) % (seed & 0x100 ? 4096 : 17);
		if (n > size - at)
			n = size - at;
		if (scan_stream_write(st, data + at, n) != 0)
			abort();
		at += n;
	}
	if (scan_stream_flush(st, SCAN_FLUSH_END) != 0)
		abort();	/* nothing held back at the end */
	scan_stream_free(st);

	if (whole.len != chunked.len || (whole.len && memcmp(whole.out, chunked.out, whole.len)) || whole.nf != chunked.nf)
		abort();	/* read boundaries change nothing */
	for (i = 0; i < whole.nf; i++)
		if (!same_finding(&whole.f[i], &chunked.f[i]))
			abort();
	if (whole.len >= strlen(KNOWN) && memmem(whole.out, whole.len, KNOWN, strlen(KNOWN)))
		abort();	/* the known value never comes out */
	free(whole.out);
	free(chunked.out);
	return 0;
}
