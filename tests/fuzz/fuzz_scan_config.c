/*
 * libFuzzer target: a tree's scan config (.harombe-scan.yaml, `secrets
 * scan --config FILE`): scan/scanconf.c takes extend and stopwords out of
 * the text, then what is left goes to the rules loader as harombe gives it.
 * The text keeps its length and its newlines; a refusal says why; a config
 * that loads compiles and scans a fixed text with spans inside it.
 */
#include "lib/compat.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "scan/scan.h"
#include "scan/scanconf.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char text[] =
	"GITHUB_TOKEN=gh" "p_0123456789abcdefghijABCDEFGHIJ012345\n"	/* made up; split so no scanner reads it as a token */
	"token=ghp_EXAMPLE456789abcdefghijABCDEFGHIJ0123\n"
	"acme_abcdefghij0123456789wxyz AKIA0000EXAMPLEKEY12\n";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_setup("fuzz", 0, LOG_ERROR);
	return 0;
}

static int on_find(void *arg, const struct scan_finding *f)
{
	const struct scanconf *c = arg;

	if (!f->rule || f->offset + f->length > sizeof(text) - 1)
		abort();
	(void)scanconf_has_stopword(c, (const unsigned char *)text + f->offset, (size_t)f->length);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scanconf c = SCANCONF_INIT;
	struct scan *s = NULL;
	char err[1024] = "", *t = malloc(size + 1);
	size_t i;
	int r;

	if (!t)
		abort();
	memcpy(t, data, size);
	t[size] = 0;
	r = scanconf_take("fuzz.yaml", t, size, &c, err, sizeof(err));
	for (i = 0; i < size; i++)
		if ((data[i] == '\n') != (t[i] == '\n'))
			abort();	/* newlines kept, nothing else made one */
	if (r) {
		if (!err[0])
			abort();
		goto out;
	}
	if (scan_new(NULL, &s, err, sizeof(err)) != 0)
		abort();
	r = c.use_default ? 0 : scanconf_disable_builtins(s, err, sizeof(err));
	if (!r)
		r = scan_load_rules_text(s, "fuzz.yaml", t, size, err, sizeof(err));
	if (!r)
		r = scan_compile(s, err, sizeof(err));
	if (r) {
		if (!err[0])
			abort();
		goto out;
	}
	if (scan_buffer(s, text, sizeof(text) - 1, NULL, on_find, &c) != 0)
		abort();
out:
	scan_free(s);
	scanconf_release(&c);
	free(t);
	return 0;
}
