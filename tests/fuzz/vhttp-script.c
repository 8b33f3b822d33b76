#include "lib/compat.h"
#include "tests/fuzz/vhttp-script.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "backends/vault/vhttp.h"
#include "lib/secbuf.h"
#include "lib/why.h"

struct vhttp {
	int unused;
};

static const unsigned char *script;
static size_t script_len, script_at, requests;

void vhttp_script_set(const unsigned char *s, size_t len)
{
	script = s;
	script_len = len;
	script_at = 0;
	requests = 0;
}

size_t vhttp_script_requests(void)
{
	return requests;
}

uint64_t vhttp_now_ms(void)
{
	return 1000000;
}

int vhttp_new(const struct vhttp_opts *o, struct vhttp **out, struct why *why)
{
	(void)o;
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return why_fail(why, -12, "out of memory");
	return 0;
}

void vhttp_free(struct vhttp *c)
{
	free(c);
}

/* The next answer: [*p, *p + *n). 0 when the script has run out. */
static int next_answer(const unsigned char **p, size_t *n)
{
	const unsigned char *s = script + script_at, *e;
	size_t left = script_len - script_at;

	if (!script || script_at >= script_len)
		return 0;
	e = memmem(s, left, "\n--\n", 4);
	*p = s;
	*n = e ? (size_t)(e - s) : left;
	script_at += *n + (e ? 4 : 0);
	if (!e)
		script_at = script_len;
	return 1;
}

static void check_request(const struct vhttp_req *r)
{
	const char *p;
	size_t len;

	if (!r->method || !r->path || strncmp(r->path, "/v1/", 4))
		abort();
	for (p = r->path; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == '#')
			abort();	/* the key must arrive URL-encoded */
	if (r->token) {
		const unsigned char *t = secbuf_data(r->token, &len);

		if (len <= 15 || memcmp(t, "X-Vault-Token: ", 15) || memchr(t, '\n', len) || memchr(t, '\r', len))
			abort();
	}
	if (r->body && (!r->content_type || strstr(r->content_type, "json"))) {
		struct json_tokener *tok = json_tokener_new();
		struct json_object *o;
		const unsigned char *b = secbuf_data(r->body, &len);

		if (!tok)
			return;
		o = json_tokener_parse_ex(tok, (const char *)b, (int)len);
		if (!o || json_tokener_get_error(tok) != json_tokener_success)
			abort();	/* request bodies we build are JSON */
		json_object_put(o);
		json_tokener_free(tok);
	}
}

void vhttp_run(struct vhttp *c, struct vhttp_req *const *reqs, size_t n)
{
	size_t i;

	(void)c;
	for (i = 0; i < n; i++) {
		struct vhttp_req *r = reqs[i];
		const unsigned char *a;
		size_t alen, max = r->max_resp ? r->max_resp : (1u << 20);

		requests++;
		check_request(r);
		r->fail = VHTTP_OK;
		r->status = 0;
		r->resp = NULL;
		r->err[0] = 0;
		if (!next_answer(&a, &alen)) {
			r->fail = VHTTP_CONNECT;
			snprintf(r->err, sizeof(r->err), "script ran out");
			continue;
		}
		if (alen >= 3 && a[0] >= '0' && a[0] <= '9' && a[1] >= '0' && a[1] <= '9' && a[2] >= '0' &&
		    a[2] <= '9') {
			size_t skip = alen > 3 ? 4 : 3;

			r->status = (a[0] - '0') * 100 + (a[1] - '0') * 10 + (a[2] - '0');
			if (alen - skip > max) {
				r->fail = VHTTP_TOOBIG;
				continue;
			}
			if (!(r->resp = secbuf_dup(a + skip, alen - skip)))
				r->fail = VHTTP_NOMEM;
			continue;
		}
		switch (alen ? a[0] : 'O') {
		case 'C': r->fail = VHTTP_CONNECT; break;
		case 'T': r->fail = VHTTP_TIMEOUT; break;
		case 'I': r->fail = VHTTP_IO; break;
		case 'S': r->fail = VHTTP_TLS; break;
		case 'B': r->fail = VHTTP_TOOBIG; break;
		case 'M': r->fail = VHTTP_NOMEM; break;
		default: r->fail = VHTTP_OTHER; break;
		}
		snprintf(r->err, sizeof(r->err), "scripted failure");
	}
}
