/*
 * libFuzzer target: the Vault backend's handling of what a server sends
 * back.  The real backends/vault/ code runs over a scripted transport
 * (tests/fuzz/vhttp-script.c): the input chooses the configuration and the
 * operation, and then holds the HTTP answers (status and body) to every
 * request the backend makes, in order.  So every response parser is fed
 * arbitrary bytes: KV v1 and v2 reads and their 404 bodies, fields and
 * versions, LIST, metadata, the mount's KV version, AppRole, cert, jwt and
 * kubernetes logins (and the re-login after a 403), the wrapping lookup
 * and unwrap of a wrapped secret_id, dynamic secrets' leases (a key under
 * database/creds/), errors[] texts, writes that read first.
 *
 * Input: byte 0 = configuration (bits 0-1 KV version auto/1/2, bit 2
 * AppRole instead of a token, bit 3 a namespace, bit 4 no retries, bits
 * 5-6 with AppRole: bit 5 a wrapped secret_id; without: 1 jwt, 2
 * kubernetes, 3 cert),
 * byte 1 = operation, then for operation 7 a key up to '\n', then the
 * script (vhttp-script.h).  Oracles: the transport checks every request;
 * a get that succeeds returns a value and one that fails returns none;
 * locked memory is back to where it was once the backend is closed.
 */
#include "lib/compat.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/backend.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/names.h"
#include "lib/secbuf.h"
#include "tests/fuzz/vhttp-script.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int warming;
static char jwt_file[64];

static void remove_jwt_file(void)
{
	unlink(jwt_file);
}

/* The first use of an env: token or secret_id moves it into a process-wide
 * locked stash (as the vault CLI's environment is read once): do that here,
 * so that the locked-memory balance of every input starts from it. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_setup("fuzz", 0, LOG_ERROR);
	setenv("FUZZ_TOKEN", "s.fuzztoken", 1);
	setenv("FUZZ_SECRET_ID", "fuzz-secret-id", 1);
	{
		int fd;

		snprintf(jwt_file, sizeof(jwt_file), "/tmp/harombe-fuzz-jwt.XXXXXX");
		fd = mkstemp(jwt_file);
		if (fd < 0 || write(fd, "eyJhbGciOiJSUzI1NiJ9.e30.c2ln\n", 30) != 30)
			abort();
		close(fd);
		atexit(remove_jwt_file);
	}
	warming = 1;
	LLVMFuzzerTestOneInput((const uint8_t *)"\x00\x00", 2);
	LLVMFuzzerTestOneInput((const uint8_t *)"\x04\x00", 2);
	warming = 0;
	return 0;
}

/* What a LIST passes on is a name a terminal can print: never empty, no
 * control characters. */
static int count_key(const char *key, void *arg)
{
	const char *p;

	if (!key || !*key)
		abort();
	for (p = key; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			abort();
	(*(size_t *)arg)++;
	return 0;
}

static void check_get(int rc, struct secbuf *out)
{
	if ((rc == 0) != (out != NULL))
		abort();
	secbuf_free(out);
}

static void run_op(struct backend *be, unsigned int op, const char *key)
{
	static const char *const keys[] = { "a", "a#f", "b@2", "c/d#value", "a", "e f/g?h" };
	struct secbuf *outs[6] = { 0 }, *one = NULL;
	struct why whys[6], why = { "" };
	struct backend_meta m;
	int rcs[6], rc, i;
	size_t n = 0;

	switch (op % 8) {
	case 0:
		rc = backend_get_many(be, 6, keys, outs, rcs, whys);
		for (i = 0; i < 6; i++) {
			if (rc == 0 && rcs[i])
				abort();
			check_get(rcs[i], outs[i]);
		}
		break;
	case 1:
		(void)backend_list(be, op & 8 ? "c/" : "", count_key, &n, &why);
		break;
	case 2:
		(void)backend_meta(be, op & 8 ? "b@2" : "a", &m, &why);
		break;
	case 3:
		(void)backend_set(be, op & 8 ? "a#f" : "a", "v\"\\\n\x01", 6, &why);
		break;
	case 4: {
		const char *fields[] = { "f1", "f\"2" };
		const void *values[] = { "one", "t\"wo" };
		size_t lens[] = { 3, 4 };

		(void)backend_set_fields(be, "c/d", 2, fields, values, lens, &why);
		break;
	}
	case 5:
		(void)backend_delete(be, op & 8 ? "b@2" : "a", &why);
		break;
	case 6:
		(void)backend_purge(be, "a", &why);
		break;
	case 7:
		rc = backend_get(be, key, &one, &why);
		check_get(rc, one);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct secmem_stats before, after;
	struct harombe_config *cfg = NULL;
	struct backend *be = NULL;
	struct why err = WHY_INIT;
	struct backend_ctx ctx = { 0 };
	char yaml[1024], key[600] = "a", login[256];
	unsigned int conf, op;
	size_t at = 2;

	if (size < 2)
		return 0;
	conf = data[0];
	op = data[1];
	if (op % 8 == 7) {
		const uint8_t *nl = memchr(data + 2, '\n', size - 2);
		size_t klen = nl ? (size_t)(nl - data - 2) : size - 2;

		if (klen >= sizeof(key))
			return 0;
		memcpy(key, data + 2, klen);
		key[klen] = 0;
		if (strlen(key) != klen || names_check_key(key))
			return 0;	/* keys reach a backend only once checked */
		at = 2 + klen + (nl ? 1 : 0);
	}
	if (conf & 4)
		snprintf(login, sizeof(login), "    role_id: fuzz-role\n    secret_id: env:FUZZ_SECRET_ID\n%s",
			 conf & 32 ? "    secret_id_wrapped: true\n" : "");
	else if ((conf & 0x60) == 0x20 || (conf & 0x60) == 0x40)
		snprintf(login, sizeof(login), "    auth_method: %s\n    auth_role: fuzz\n    jwt_file: %s\n",
			 conf & 0x20 ? "jwt" : "kubernetes", jwt_file);
	else if (conf & 0x60)
		snprintf(login, sizeof(login), "    auth_method: cert\n    auth_role: fuzz\n"
					       "    client_cert: /nonexistent/c.pem\n    client_key: /nonexistent/c.key\n");
	else
		snprintf(login, sizeof(login), "    token: env:FUZZ_TOKEN\n");
	snprintf(yaml, sizeof(yaml),
		 "security:\n  credentials:\n    provider: vault\n    vault_url: http://127.0.0.1:1\n"
		 "    timeout: 1ms\n    auto_renew: false\n%s%s%s%s",
		 (conf & 3) == 1 ? "    kv_version: 1\n" : (conf & 3) == 2 ? "    kv_version: 2\n" : "", login,
		 conf & 8 ? "    vault_namespace: team/a\n" : "", conf & 16 ? "    max_retries: 0\n" : "");
	secmem_get_stats(&before);
	if (config_load_text("fuzz.yaml", yaml, strlen(yaml), &cfg, &err) != 0)
		abort();
	ctx.cfg = cfg;
	ctx.source = "fuzz";
	if (backend_open(&ctx, &be, &err) != 0) {
		fprintf(stderr, "%s\n", err.msg);
		abort();
	}
	vhttp_script_set(data + at, size - at);
	run_op(be, op, key);
	backend_close(be);
	config_free(cfg);
	vhttp_script_set(NULL, 0);
	secmem_get_stats(&after);
	if (!warming && after.in_use != before.in_use)
		abort();	/* locked memory leaked */
	return 0;
}
