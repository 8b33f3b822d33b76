/*
 * libFuzzer target: backends/vault/sjson.c, the JSON layer every Vault response
 * goes through.  The input is parsed from locked memory as Vault's answers
 * are; what parses is written back (sjson_write), which must parse again
 * and write the same bytes a second time; every member goes through
 * sjson_value() and the typed getters, as vault.c walks a response.
 */
#include "lib/compat.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "backends/vault/sjson.h"
#include "lib/secbuf.h"
#include "lib/why.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(struct json_object *o, int depth)
{
	struct secbuf *v = NULL;
	size_t i, n;

	if (sjson_value(o, &v) == 0)
		secbuf_free(v);
	if (depth > 8)
		return;
	if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, key, child) {
			(void)sjson_str(o, key);
			(void)sjson_int(o, key, -1);
			(void)sjson_bool(o, key, -1);
			(void)sjson_obj(o, key);
			walk(child, depth + 1);
		}
	} else if (json_object_is_type(o, json_type_array)) {
		n = json_object_array_length(o);
		for (i = 0; i < n; i++)
			walk(json_object_array_get_idx(o, i), depth + 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct secbuf *in = secbuf_dup(data, size), *out1 = NULL, *out2 = NULL;
	struct json_object *o = NULL, *again = NULL;
	struct why msg = WHY_INIT;

	if (!in)
		return 0;
	if (sjson_parse(secbuf_str(in), secbuf_len(in), &o, &msg) != 0) {
		if (o || !msg.msg[0])
			abort();	/* a refusal leaves nothing behind and says why */
		goto out;
	}
	walk(o, 0);
	(void)sjson_str(o, "data");
	(void)sjson_obj(sjson_obj(o, "data"), "data");
	if (!(out1 = secbuf_new(64)) || !(out2 = secbuf_new(64)))
		goto out;
	if (sjson_write(out1, o) != 0)
		goto out;
	if (sjson_parse(secbuf_str(out1), secbuf_len(out1), &again, &msg) != 0)
		abort();	/* what we write, we must read */
	if (sjson_write(out2, again) == 0 &&
	    (secbuf_len(out1) != secbuf_len(out2) ||
	     memcmp(secbuf_data(out1, NULL), secbuf_data(out2, NULL), secbuf_len(out1))))
		abort();	/* and write it the same way again */
out:
	sjson_put(again);
	sjson_put(o);
	secbuf_free(out2);
	secbuf_free(out1);
	secbuf_free(in);
	return 0;
}
