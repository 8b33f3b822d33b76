#include "lib/compat.h"
#include "backends/vault/vault-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include <sodium.h>

#include "backends/vault/sjson.h"
#include "lib/log.h"
#include "lib/secbuf.h"

/*
 * The request engine: one or many Vault API calls run in parallel over
 * vhttp, with retries and jittered backoff, one re-login on 403, and one
 * deadline; then the answer read as a status, Vault's error text or JSON.
 */

/* ---- requests ---- */

static int transient_status(long s)
{
	return s == 412 || s == 429 || (s >= 500 && s <= 599 && s != 501);
}

static uint64_t backoff_ms(unsigned int round)
{
	uint64_t base = BACKOFF_BASE_MS << (round < 5 ? round : 5);

	if (base > BACKOFF_CAP_MS)
		base = BACKOFF_CAP_MS;
	return base / 2 + randombytes_uniform((uint32_t)(base / 2 + 1));
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void fail_transport(struct vault_backend *vb, struct vcall *c)
{
	const char *err = c->req.err[0] ? c->req.err : "unknown error";
	char tries[32] = "";

	if (c->tries > 1)
		snprintf(tries, sizeof(tries), " (%u attempts)", c->tries);
	switch (c->req.fail) {
	case VHTTP_TIMEOUT:
		c->rc = why_fail(&c->why, -BACKEND_ETIMEDOUT, "no answer from %s within %llu ms (%s %s)%s",
				 vb->addr, (unsigned long long)vb->timeout_ms, c->method, c->path, tries);
		break;
	case VHTTP_NOMEM:
		c->rc = why_fail(&c->why, -BACKEND_ENOMEM, "locked memory exhausted");
		break;
	case VHTTP_CONNECT:
		c->rc = why_fail(&c->why, -BACKEND_EUNAVAIL, "cannot reach %s: %s%s", vb->addr, err, tries);
		break;
	case VHTTP_IO:
		c->rc = why_fail(&c->why, -BACKEND_EUNAVAIL, "%s %s%s: connection failed or response truncated: %s%s",
				 c->method, vb->addr, c->path, err, tries);
		break;
	case VHTTP_TLS:
		c->rc = why_fail(&c->why, -BACKEND_EUNAVAIL, "TLS with %s failed: %s", vb->addr, err);
		break;
	default:
		c->rc = why_fail(&c->why, -BACKEND_EUNAVAIL, "%s %s%s: %s", c->method, vb->addr, c->path, err);
	}
}


/*
 * Run calls in parallel until each has an answer: retries (jittered
 * exponential backoff) on connection failures, 412, 429 and 5xx except
 * 501, at most max_retries each; one re-login (AppRole) or token file
 * re-read when Vault says 403; never past the deadline.  Afterwards each
 * call has rc != 0 with why, or rc == 0 and the HTTP answer in req.
 */
void vault_run(struct vault_backend *vb, struct vcall *calls, size_t n, uint64_t deadline)
{
	struct vhttp_req **batch = calloc(n + 1, sizeof(*batch));
	struct vcall **todo = calloc(n + 1, sizeof(*todo)), **again = calloc(n + 1, sizeof(*again));
	struct secbuf *tok = NULL;
	unsigned long gen = 0;
	unsigned int round = 0;
	size_t ntodo = 0, nagain, i;
	int need_auth = 0, reauthed = 0, r;

	for (i = 0; i < n; i++) {
		calls[i].rc = 0;
		calls[i].tries = 0;
		calls[i].why.msg[0] = 0;
		calls[i].req.resp = NULL;
		calls[i].req.status = 0;
		need_auth |= calls[i].auth;
	}
	if (!batch || !todo || !again) {
		for (i = 0; i < n; i++)
			calls[i].rc = why_fail(&calls[i].why, -BACKEND_ENOMEM, "out of memory");
		goto out;
	}
	if (need_auth) {
		struct why w = { "" };

		r = vault_ensure_token(vb, deadline, &w);
		for (i = 0; i < n && r; i++)
			if (calls[i].auth) {
				calls[i].rc = r;
				calls[i].why = w;
			}
	}
	for (i = 0; i < n; i++)
		if (!calls[i].rc)
			todo[ntodo++] = &calls[i];

	while (ntodo) {
		int transient = 0, want_reauth = 0;

		secbuf_free(tok);
		tok = NULL;
		if (need_auth && (r = vault_token_copy(vb, &tok, &gen))) {
			for (i = 0; i < ntodo; i++)
				todo[i]->rc = why_fail(&todo[i]->why, r, "locked memory exhausted");
			break;
		}
		for (i = 0; i < ntodo; i++) {
			struct vcall *c = todo[i];

			c->req.method = c->method;
			c->req.path = c->path;
			c->req.token = c->token ? c->token : c->auth ? tok : NULL;
			c->req.fresh = c->fresh;
			c->req.ns_header = vb->ns_header;
			c->req.content_type = c->ctype;
			c->req.body = c->body;
			c->req.max_resp = c->max_resp;
			c->req.deadline_ms = deadline;
			c->tries++;
			c->retry_kind = RETRY_NONE;
			batch[i] = &c->req;
		}
		vhttp_run(vb->http, batch, ntodo);

		nagain = 0;
		for (i = 0; i < ntodo; i++) {
			struct vcall *c = todo[i];

			if (c->req.fail != VHTTP_OK) {
				if ((c->req.fail == VHTTP_CONNECT || c->req.fail == VHTTP_IO) &&
				    c->tries <= vb->max_retries)
					c->retry_kind = RETRY_TRANSIENT;
				else
					fail_transport(vb, c);
			} else if (transient_status(c->req.status) && c->tries <= vb->max_retries) {
				c->retry_kind = RETRY_TRANSIENT;
			} else if (c->req.status == 403 && c->auth && !reauthed &&
				   (vault_logs_in(vb) || vb->tok_source == TOK_FILE)) {
				c->retry_kind = RETRY_REAUTH;
			}
			if (c->retry_kind != RETRY_NONE)
				again[nagain++] = c;
			transient |= c->retry_kind == RETRY_TRANSIENT;
			want_reauth |= c->retry_kind == RETRY_REAUTH;
		}
		if (want_reauth) {
			struct why w = { "" };

			reauthed = 1;
			if (vault_reauth(vb, gen, deadline, &w) != 0) {
				log_warn("vault: token refused (HTTP 403) and no new one: %s", w.msg);
				for (i = 0; i < nagain; i++)
					if (again[i]->retry_kind == RETRY_REAUTH)
						again[i]->retry_kind = RETRY_NONE;	/* the 403 stands */
			}
		}
		if (transient) {
			uint64_t delay = backoff_ms(round);

			if (vhttp_now_ms() + delay >= deadline) {
				for (i = 0; i < nagain; i++) {
					if (again[i]->retry_kind != RETRY_TRANSIENT)
						continue;
					again[i]->retry_kind = RETRY_NONE;
					if (again[i]->req.fail != VHTTP_OK)
						fail_transport(vb, again[i]);
				}
			} else {
				sleep_ms(delay);
			}
		}
		ntodo = 0;
		for (i = 0; i < nagain; i++) {
			if (again[i]->retry_kind == RETRY_NONE)
				continue;
			secbuf_free(again[i]->req.resp);
			again[i]->req.resp = NULL;
			todo[ntodo++] = again[i];
		}
		round++;
	}
out:
	secbuf_free(tok);
	free(batch);
	free(todo);
	free(again);
}

/* One call: its transport error (0 when an HTTP answer came), with why. */
int vault_run_one(struct vault_backend *vb, struct vcall *c, uint64_t deadline, struct why *why)
{
	vault_run(vb, c, 1, deadline);
	if (c->rc && why)
		*why = c->why;
	return c->rc;
}

void vcall_release(struct vcall *c)
{
	free(c->path);
	secbuf_free(c->body);
	secbuf_free(c->req.resp);
	c->path = NULL;
	c->body = NULL;
	c->req.resp = NULL;
}

/* Vault's errors[] joined with "; " (error text names paths and causes,
 * never values). */
static void error_text(const struct secbuf *resp, char *buf, size_t len)
{
	struct json_object *root = NULL, *errs;
	size_t i, n, off = 0;

	buf[0] = 0;
	if (!resp || !secbuf_len(resp))
		return;
	if (sjson_parse(secbuf_str(resp), secbuf_len(resp), &root, NULL) != 0) {
		snprintf(buf, len, "response is not JSON");
		return;
	}
	errs = sjson_obj(root, "errors");
	if (errs && json_object_is_type(errs, json_type_array)) {
		n = json_object_array_length(errs);
		for (i = 0; i < n && off + 1 < len; i++) {
			struct json_object *e = json_object_array_get_idx(errs, i);

			if (e && json_object_is_type(e, json_type_string))
				off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? "; " : "",
							json_object_get_string(e));
		}
	}
	sjson_put(root);
}

/* The backend error for a final HTTP answer that is not a success. */
int vault_status_fail(struct vault_backend *vb, const struct vcall *c, struct why *why)
{
	long s = c->req.status;
	char text[160];
	int rc;

	error_text(c->req.resp, text, sizeof(text));
	if (s == 307 || s == 308)
		snprintf(text, sizeof(text), "redirected to another node (HA standby); "
					     "redirects are disabled");
	else if (s == 501 && !text[0])
		snprintf(text, sizeof(text), "Vault is not initialized");
	switch (s) {
	case 400:
		rc = -BACKEND_EINVAL;
		break;
	case 401:
	case 403:
		rc = -BACKEND_EDENIED;
		break;
	case 404:
		rc = -BACKEND_ENOTFOUND;
		break;
	case 405:
		rc = -BACKEND_ENOTSUP;
		break;
	default:
		rc = -BACKEND_EUNAVAIL;
	}
	return why_fail(why, rc, "%s %s%s: HTTP %ld%s%s", c->method, vb->addr, c->path, s, text[0] ? ": " : "",
			text);
}

int vault_is_success(long s)
{
	return s >= 200 && s < 300;
}

/* Parse a response that may hold secrets. */
int vault_parse_resp(struct vault_backend *vb, const struct vcall *c, struct json_object **out,
		     struct why *why)
{
	struct why msg = WHY_INIT;

	if (!c->req.resp || !secbuf_len(c->req.resp))
		return why_fail(why, -BACKEND_EUNAVAIL, "%s %s%s: HTTP %ld with an empty body", c->method,
				vb->addr, c->path, c->req.status);
	if (sjson_parse(secbuf_str(c->req.resp), secbuf_len(c->req.resp), out, &msg) != 0)
		return why_fail(why, -BACKEND_EUNAVAIL, "%s %s%s: malformed JSON in the response (%.95s)", c->method,
				vb->addr, c->path, why_str(&msg));
	return 0;
}

/* path with each '/'-separated segment URL-encoded ("" stays ""). */
char *vault_encode_segments(const char *path)
{
	size_t cap = strlen(path) * 3 + 1;
	char *out = malloc(cap), *o = out;
	const char *seg = path;

	if (!out)
		return NULL;
	*o = 0;
	while (*seg) {
		const char *end = strchr(seg, '/');
		size_t len = end ? (size_t)(end - seg) : strlen(seg);
		char *e = curl_easy_escape(NULL, seg, (int)len);

		if (!e) {
			free(out);
			return NULL;
		}
		o += snprintf(o, cap - (size_t)(o - out), "%s%s", o == out ? "" : "/", e);
		curl_free(e);
		seg += len;
		if (*seg == '/')
			seg++;
	}
	return out;
}

/* "/v1/<mount>[/<infix>][/<path>]<suffix>", path segments URL-encoded. */
char *vault_api_path(const struct vault_backend *vb, const char *infix, const char *path,
		     const char *suffix)
{
	char *enc = vault_encode_segments(path), *out = NULL;

	if (enc && asprintf(&out, "/v1/%s%s%s%s%s%s", vb->mount_enc, infix ? "/" : "", infix ? infix : "",
			    *enc ? "/" : "", enc, suffix) < 0)
		out = NULL;
	free(enc);
	return out;
}

int vcall_init(struct vcall *c, const char *method, char *path, struct secbuf *body, size_t max)
{
	memset(c, 0, sizeof(*c));
	c->method = method;
	c->path = path;
	c->body = body;
	c->auth = 1;
	c->max_resp = max;
	return path ? 0 : -BACKEND_ENOMEM;
}

/* One request, run to its end: 0 on 2xx, else the backend error. */
int vault_run_ok(struct vault_backend *vb, struct vcall *c, uint64_t deadline, struct why *why)
{
	vault_run(vb, c, 1, deadline);
	if (c->rc) {
		if (why)
			*why = c->why;
		return c->rc;
	}
	if (!vault_is_success(c->req.status))
		return vault_status_fail(vb, c, why);
	return 0;
}

/* Does key's secret exist?  0 yes (or cannot tell), -ENOENT no. */
