#include "lib/compat.h"
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/backend.h"
#include "lib/control.h"
#include "inject/rotate.h"
#include "inject/view.h"
#include "lib/audit.h"
#include "lib/config.h"
#include "lib/jsonw.h"
#include "lib/log.h"

struct cli_ops {
	struct audit *log;		/* ours when c->audit is another handle */
	int log_open;
	struct viewset *views;
	struct rotate_config *rot;
	char *drop[8];
	int drop_built;
	int audit_warned;
};

int cli_ops_init(struct cli *c)
{
	if (!c->ops && !(c->ops = calloc(1, sizeof(*c->ops)))) {
		cli_error("out of memory");
		return EXIT_BACKEND;
	}
	return 0;
}

/* Set up by cli_ops_init(), which main() calls before any command runs. */
static struct cli_ops *ops(struct cli *c)
{
	return c->ops;
}

static struct audit *log_of(struct cli *c)
{
	return ops(c)->log ? ops(c)->log : c->audit;
}

int cli_audit(struct cli *c)
{
	struct cli_ops *o = ops(c);
	struct audit *a = NULL;
	struct why why = WHY_INIT;
	int r;

	if (o->log_open)
		return 0;
	if ((r = cli_config(c)))
		return r;
	if (audit_open(c->cfg->fs.audit_log, c->cfg->audit.enabled, c->cfg->audit.events, &a, &why) != 0) {
		cli_error("%s; a change that cannot be audited is not made (set security.fs.audit_log "
			  "to a file you can write, or security.audit.enabled: false)",
			  why.msg[0] ? why_str(&why) : "cannot open the audit log");
		return EXIT_USAGE;
	}
	if (!c->audit && !c->be)
		c->audit = a;	/* the backend records its own events there too */
	else
		o->log = a;
	o->log_open = 1;
	return 0;
}

int cli_audit_event(struct cli *c, enum audit_event ev, const char *container, const char *const *names,
		    size_t n_names, const char *const *keys, size_t n_keys, int r, const char *why,
		    const struct audit_kv *extra, size_t n_extra)
{
	struct audit_caller who = { getpid(), getuid(), getgid(), "harombe" };
	struct audit_record rec = {
		.event = ev,
		.source = "harombe",
		.container = container,
		.names = names,
		.n_names = n_names,
		.keys = keys,
		.n_keys = n_keys,
		.caller = &who,
		.result = !r ? "ok" : (r == -BACKEND_EDENIED ? "denied" : "error"),
		.reason = r ? (why && *why ? why : backend_strerror(r)) : NULL,
		.extra = extra,
		.n_extra = n_extra,
	};
	int w;

	if (!names)
		rec.n_names = 0;
	if ((w = audit_write(log_of(c), &rec)) && !ops(c)->audit_warned) {
		ops(c)->audit_warned = 1;
		cli_error("could not write to the audit log '%s': %s", c->cfg->fs.audit_log, strerror(-w));
	}
	return w;
}

void cli_forget(struct cli *c, const char *const *keys, size_t n)
{
	char path[CONTROL_PATH_MAX];
	struct why why = WHY_INIT;
	int r;

	if (!n || cli_config(c))
		return;
	if (control_path(c->cfg->fs.mountpoint, path, sizeof(path)) != 0)
		return;
	r = control_forget(path, keys, n, &why);
	if (r == -ENOENT || r == -ECONNREFUSED) {
		log_debug("no harombefs listens on '%s'", path);
		return;
	}
	if (r == -EPERM) {
		/* Not harombefs: nothing it said is believed, and the change
		 * has not reached the daemon's cache. */
		cli_error("control socket: %s; harombefs was NOT told to drop its cached copies", why_str(&why));
		c->exit_floor = EXIT_BACKEND;
	} else if (r) {
		cli_error("warning: could not tell harombefs (%s) to drop its cached copies: %s; it serves "
			  "the new value once its cache_ttl has passed",
			  path, why.msg[0] ? why_str(&why) : strerror(-r));
	}
}

void cli_changed(struct cli *c, enum audit_event ev, const char *key, int r, const char *why)
{
	cli_audit_event(c, ev, NULL, NULL, 0, &key, 1, r, why, NULL, 0);
	if (!r)
		cli_forget(c, &key, 1);
}

int cli_views(struct cli *c, const struct viewset **out)
{
	struct why err = WHY_INIT;
	int r;

	if (!ops(c)->views) {
		if ((r = cli_config(c)))
			return r;
		if (viewset_load(c->cfg, &ops(c)->views, &err) != 0) {
			cli_error("%s", err.msg);
			return EXIT_USAGE;
		}
	}
	*out = ops(c)->views;
	return 0;
}

const struct view *cli_view(struct cli *c, const char *name, int *exit_status)
{
	const struct viewset *vs;
	const struct view *v;
	char known[512] = "";
	size_t i, off = 0;

	if ((*exit_status = cli_views(c, &vs)))
		return NULL;
	if ((v = viewset_find(vs, name)))
		return v;
	for (i = 0; i < vs->n && off < sizeof(known); i++)
		off += (size_t)snprintf(known + off, sizeof(known) - off, "%s%s", i ? ", " : "",
					vs->views[i].container);
	cli_error("no container '%s' in %s (%s%s)", name, c->cfg->path, vs->n ? "known: " : "none configured",
		  known);
	*exit_status = EXIT_USAGE;
	return NULL;
}

int cli_rotation(struct cli *c, const struct rotate_config **out)
{
	struct why err = WHY_INIT;
	int r;

	if (!ops(c)->rot) {
		if ((r = cli_config(c)))
			return r;
		if (rotate_config_load(c->cfg, &ops(c)->rot, &err) != 0) {
			cli_error("%s", err.msg);
			return EXIT_USAGE;
		}
	}
	*out = ops(c)->rot;
	return 0;
}

const char *const *cli_dropped_env(struct cli *c)
{
	struct cli_ops *o = ops(c);
	const char *prefix = "HAROMBE_SECRET_", *sid = NULL;
	struct why err = WHY_INIT;
	size_t n = 0;

	if (o->drop_built)
		return (const char *const *)o->drop;
	if (c->cfg) {
		cfg_get_str(c->cfg->credentials, "secret_prefix", &prefix, &err);
		cfg_get_str(c->cfg->credentials, "secret_id", &sid, &err);
	}
	o->drop[n++] = strdup(prefix);
	o->drop[n++] = strdup("VAULT_TOKEN=");
	o->drop[n++] = strdup("SOPS_AGE_KEY=");
	if (sid && !strncmp(sid, "env:", 4) && sid[4] && asprintf(&o->drop[n], "%s=", sid + 4) > 0)
		n++;
	o->drop_built = 1;
	return (const char *const *)o->drop;
}

void cli_ops_release(struct cli *c)
{
	struct cli_ops *o = c->ops;
	size_t i;

	if (!o)
		return;
	if (o->log)
		audit_close(o->log);
	viewset_free(o->views);
	rotate_config_free(o->rot);
	for (i = 0; i < ARRAY_SIZE(o->drop); i++)
		free(o->drop[i]);
	free(o);
	c->ops = NULL;
}

void cli_json_str(const char *s)
{
	unsigned char buf[6 * 64];	/* an escaped byte takes at most 6 */
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s), i, k;
	uint32_t cp;

	putchar('"');
	for (i = 0; i < n; i += k) {
		/* Cut between UTF-8 sequences, never inside one. */
		for (k = 0; i + k < n && k < 60;) {
			size_t q = jsonw_utf8_next(u + i + k, n - i - k, &cp);

			k += q ? q : 1;
		}
		fwrite(buf, 1, (size_t)(jsonw_text_escape(buf, u + i, k) - buf), stdout);
	}
	putchar('"');
}
