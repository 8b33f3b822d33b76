/*
 * libFuzzer target: inject/dotenv.c, the reader of `harombe vault import`
 * (a .env file is whatever the operator was handed) and the writer of
 * `vault export`.  Oracles: a refusal keeps nothing and names a line within
 * the input; what parses is written back with dotenv_write, which must
 * parse again to the same keys and values, byte for byte and in order
 * (import(export(x)) is the identity the commands promise).
 */
#include "lib/compat.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inject/dotenv.h"
#include "lib/secbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t lines_in(const uint8_t *p, size_t n)
{
	size_t i, lines = 1;

	for (i = 0; i < n; i++)
		lines += p[i] == '\n';
	return lines;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dotenv d = DOTENV_INIT, again = DOTENV_INIT;
	struct dotenv_error err = { 0, WHY_INIT };
	struct secbuf *out = NULL;
	const unsigned char *a, *b;
	size_t i, la, lb;
	int r;

	r = dotenv_parse(data, size, &d, &err);
	if (r == -ENOMEM)
		goto done;
	if (r != 0) {
		if (r != -EINVAL || d.n || !err.why.msg[0] || err.line < 1 || err.line > lines_in(data, size))
			abort();	/* a refusal keeps nothing and says where */
		goto done;
	}
	if (!(out = secbuf_new(64)))
		goto done;
	for (i = 0; i < d.n; i++) {
		a = secbuf_data(d.e[i].value, &la);
		if (dotenv_write(out, d.e[i].key, a, la) != 0)
			goto done;
	}
	a = secbuf_data(out, &la);
	if ((r = dotenv_parse(a, la, &again, &err)) == -ENOMEM)
		goto done;
	if (r != 0 || again.n != d.n)
		abort();	/* what we write, we must read, whole */
	for (i = 0; i < d.n; i++) {
		a = secbuf_data(d.e[i].value, &la);
		b = secbuf_data(again.e[i].value, &lb);
		if (strcmp(d.e[i].key, again.e[i].key) || la != lb || memcmp(a, b, la))
			abort();	/* and get the same keys and values back */
	}
done:
	secbuf_free(out);
	dotenv_release(&again);
	dotenv_release(&d);
	return 0;
}
