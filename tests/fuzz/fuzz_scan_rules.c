/*
 * libFuzzer target: custom rule files (`--rules FILE`: YAML with rules,
 * disable and allowlist).  Each input is loaded into a fresh scanner and,
 * when it loads and compiles, a fixed text that holds several kinds of
 * secret is scanned with it.  A refusal must say why; a rule must never
 * hang the scan (PCRE2's match limit; libFuzzer's -timeout catches a hang)
 * or report a span outside the text.
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

static const char text[] =
	"GITHUB_TOKEN=gh" "p_0123456789abcdefghijABCDEFGHIJ012345\n"	/* made up; split so no scanner reads it as a token */
	"{\"password\": \"correct horse battery staple 42\"}\n"
	"postgres://app:s3cr3t-Passw0rd@db.example.com/prod\n"
	"acme_abcdefghij0123456789wxyz ORDER-123456-X AKIA0000EXAMPLEKEY12\n"
	"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_setup("fuzz", 0, LOG_ERROR);
	return 0;
}

static int on_out(void *arg, const void *data, size_t len)
{
	(void)data;
	*(size_t *)arg += len;
	return 0;
}

static int on_find(void *arg, const struct scan_finding *f)
{
	(void)arg;
	if (!f->rule || !f->type || f->offset + f->length > sizeof(text) - 1 || !(f->confidence >= 0 && f->confidence <= 1))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scan *s = NULL;
	char err[640] = "";
	size_t out = 0, i, n;
	int r;

	if (scan_new(NULL, &s, err, sizeof(err)) != 0)
		abort();
	r = scan_load_rules_text(s, "fuzz-rules.yaml", (const char *)data, size, err, sizeof(err));
	if (!r)
		r = scan_compile(s, err, sizeof(err));
	if (r) {
		if (!err[0])
			abort();	/* every refusal says why */
		goto out;
	}
	n = scan_rule_count(s);
	for (i = 0; i < n; i++) {
		struct scan_rule_info ri;

		if (scan_rule_get(s, i, &ri) != 0 || !ri.id || !ri.type)
			abort();
	}
	(void)scan_path_allowed(s, "src/testdata/a.lock");
	if (scan_buffer(s, text, sizeof(text) - 1, on_out, on_find, &out) != 0)
		abort();
out:
	scan_free(s);
	return 0;
}
