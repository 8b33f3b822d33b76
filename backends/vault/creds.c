#include "lib/compat.h"
#include "backends/vault/vault-internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#include "lib/config.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/secbuf.h"
#include "lib/trust.h"

/*
 * Where the Vault backend's credentials come from: VAULT_TOKEN and
 * `env:NAME` references (copied once into locked memory and wiped from the
 * environment), token files (~/.vault-token, a Vault Agent sink) and the
 * AppRole secret_id; and the token or AppRole options of open().
 */

/* ---- secrets from the environment and from files ---- */

/*
 * VAULT_TOKEN (and `env:NAME` references) are copied into locked memory once
 * per process and wiped from the environment, so no child ever inherits
 * them; a later open (a config reload) reuses the copy.
 */
static struct {
	pthread_mutex_t lock;
	struct {
		char *name;
		struct secbuf *value;
	} e[8];
	size_t n;
} stash = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* 0 and *out (NULL when the variable is unset or empty), or -ENOMEM. */
int vault_env_secret(const char *name, struct secbuf **out)
{
	size_t i;
	char *v;
	int r = 0;

	*out = NULL;
	pthread_mutex_lock(&stash.lock);
	for (i = 0; i < stash.n; i++) {
		if (!strcmp(stash.e[i].name, name)) {
			size_t len;
			const unsigned char *d = secbuf_data(stash.e[i].value, &len);

			if (len && !(*out = secbuf_dup(d, len)))
				r = -ENOMEM;
			goto out;
		}
	}
	v = getenv(name);
	if (!v || !*v)
		goto out;
	if (stash.n == ARRAY_SIZE(stash.e) || !(stash.e[stash.n].name = strdup(name)) ||
	    !(stash.e[stash.n].value = secbuf_dup(v, strlen(v))) || !(*out = secbuf_dup(v, strlen(v)))) {
		if (stash.n < ARRAY_SIZE(stash.e)) {
			free(stash.e[stash.n].name);
			secbuf_free(stash.e[stash.n].value);
			stash.e[stash.n].name = NULL;
			stash.e[stash.n].value = NULL;
		}
		r = -ENOMEM;
		goto out;
	}
	stash.n++;
	sodium_memzero(v, strlen(v));
	unsetenv(name);
out:
	pthread_mutex_unlock(&stash.lock);
	return r;
}

/* The whole file, whitespace-trimmed, into locked memory. */
int vault_read_secret_file(const char *path, const char *what, struct secbuf **out, int warn_mode,
			   struct why *why)
{
	struct secbuf *sb = NULL;
	struct stat st;
	const unsigned char *d;
	size_t len, a, b;
	int fd, r = 0;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		why_set(why, "cannot open '%s': %s", path, strerror(errno));
		return r;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > 65536) {
		r = why_fail(why, -EINVAL, "'%s' is not a regular file of at most 64 KiB", path);
		goto out;
	}
	/* A credential file someone else can write is theirs to swap. */
	if ((r = trust_check_fd(fd, path, what, why)) != 0)
		goto out;
	if (warn_mode && (st.st_mode & 077))
		log_warn("vault: '%s' is readable by group or others (mode %04o); make it 0600", path,
			 (unsigned)(st.st_mode & 07777));
	if ((r = secbuf_read_fd(fd, 65536, &sb))) {
		if (r == -ENOMEM)
			why_set(why, "locked memory exhausted");
		else if (r == -EFBIG)
			r = why_fail(why, -EINVAL, "'%s' grew past 64 KiB", path);
		else
			why_set(why, "cannot read '%s': %s", path, strerror(-r));
		goto out;
	}
	d = secbuf_data(sb, &len);
	for (a = 0; a < len && isspace(d[a]); a++)
		;
	for (b = len; b > a && isspace(d[b - 1]); b--)
		;
	if (a == b) {
		r = why_fail(why, -ENOENT, "'%s' is empty", path);
		goto out;
	}
	if (!(*out = secbuf_dup(d + a, b - a)))
		r = why_fail(why, -ENOMEM, "locked memory exhausted");
out:
	secbuf_free(sb);
	close(fd);
	return r;
}


/* Re-read the token file; -EDENIED when it holds nothing new. */
int vault_reread_token_file(struct vault_backend *vb, struct why *why)
{
	struct secbuf *t = NULL;
	struct why msg = WHY_INIT;
	int r, same = 0;

	if ((r = vault_read_secret_file(vb->tok_file, "Vault token file", &t, 0, &msg)))
		return why_fail(why, r == -ENOMEM ? -BACKEND_ENOMEM : -BACKEND_EDENIED, "token file: %s", msg.msg);
	pthread_rwlock_rdlock(&vb->tok_lock);
	if (vb->tok_hdr && secbuf_len(vb->tok_hdr) == strlen(HDR_TOKEN) + secbuf_len(t) &&
	    sodium_memcmp(secbuf_str(vb->tok_hdr) + strlen(HDR_TOKEN), secbuf_str(t), secbuf_len(t)) == 0)
		same = 1;
	pthread_rwlock_unlock(&vb->tok_lock);
	if (same)
		r = why_fail(why, -BACKEND_EDENIED, "token file '%s' holds the same token", vb->tok_file);
	else if ((r = vault_token_set(vb, secbuf_data(t, NULL), secbuf_len(t), -1, 0)))
		why_fail(why, r, "token file '%s' holds an unusable token", vb->tok_file);
	secbuf_free(t);
	return r;
}


int vault_setup_token(struct vault_backend *vb, const struct cfg_node *opts, struct why *err)
{
	const struct cfg_node *tn = cfg_get(opts, "token");
	const char *tok = NULL, *tfile = NULL;
	struct secbuf *t = NULL;
	struct why msg = WHY_INIT;
	int r;

	if ((r = cfg_get_str(opts, "token", &tok, err)) || (r = cfg_get_str(opts, "token_file", &tfile, err)))
		return r;
	if (tok && *tok) {
		if (!strncmp(tok, "env:", 4)) {
			if ((r = vault_env_secret(tok + 4, &t)))
				return cfg_fail(err, tn, "out of locked memory"), r;
			if (!t)
				return cfg_fail(err, tn, "'token: %s': %s is not set", tok, tok + 4);
			vb->tok_source = TOK_ENV;
			vb->tok_where = strdup(tok + 4);
		} else if (!strncmp(tok, "file:", 5) || tok[0] == '/' || tok[0] == '~') {
			tfile = tok[0] == 'f' ? tok + 5 : tok;
		} else {
			log_warn("vault: %s:%d: a token written in harombe.yaml; prefer token_file or "
				 "token: env:NAME", tn->file, tn->line);
			if (!(t = secbuf_dup(tok, strlen(tok))))
				return -ENOMEM;
			vb->tok_source = TOK_LITERAL;
			vb->tok_where = strdup("token in harombe.yaml");
		}
	}
	if (!t && vb->tok_source == TOK_NONE && !(tfile && *tfile)) {
		if ((r = vault_env_secret("VAULT_TOKEN", &t)))
			return cfg_fail(err, NULL, "out of locked memory"), r;
		if (t) {
			vb->tok_source = TOK_ENV;
			vb->tok_where = strdup("VAULT_TOKEN");
		} else {
			char *home = path_expand_home("~/.vault-token");

			if (home && access(home, F_OK) == 0) {
				vb->tok_file = home;
				vb->tok_source = TOK_FILE;
			} else {
				free(home);
			}
		}
	}
	if (!t && tfile && *tfile) {
		if (!(vb->tok_file = path_expand_home(tfile)))
			return -ENOMEM;
		vb->tok_source = TOK_FILE;
	}
	if (vb->tok_source == TOK_FILE) {
		vb->tok_where = strdup(vb->tok_file);
		r = vault_read_secret_file(vb->tok_file, "Vault token file", &t, 1, &msg);
		if (r == -ENOMEM)
			return cfg_fail(err, NULL, "out of locked memory"), r;
		if (r == -EPERM)
			return why_fail(err, -EINVAL, "%s", why_str(&msg));
		if (r)	/* a Vault Agent may write it later: re-read on use */
			log_warn("vault: no token yet: %s", msg.msg);
	}
	if (vb->tok_source == TOK_NONE)
		return cfg_fail(err, opts, "no Vault token: set VAULT_TOKEN, 'token_file' or ~/.vault-token, "
					   "or configure AppRole ('role_id')");
	if (t) {
		r = vault_token_set(vb, secbuf_data(t, NULL), secbuf_len(t), -1, 0);
		secbuf_free(t);
		if (r)
			return cfg_fail(err, tn, "the Vault token (from %s) is not a valid header value",
					vb->tok_where ? vb->tok_where : "config"), r;
	}
	return 0;
}

int vault_setup_approle(struct vault_backend *vb, const struct cfg_node *opts, const char *role_id,
			struct why *err)
{
	const struct cfg_node *sn = cfg_get(opts, "secret_id");
	const char *sid = NULL, *sfile = NULL, *mount = "approle";
	size_t i;
	int r;

	if ((r = cfg_get_str(opts, "secret_id", &sid, err)) ||
	    (r = cfg_get_str(opts, "secret_id_file", &sfile, err)) ||
	    (r = cfg_get_str(opts, "approle_mount", &mount, err)))
		return r;
	vb->method = AUTH_APPROLE;
	if (!(vb->role_id = strdup(role_id)))
		return -ENOMEM;
	if (sid && *sid) {
		if (!strncmp(sid, "env:", 4)) {
			vb->secret_id_env = strdup(sid + 4);
		} else if (!strncmp(sid, "file:", 5) || sid[0] == '/' || sid[0] == '~') {
			sfile = sid[0] == 'f' ? sid + 5 : sid;
		} else {
			log_warn("vault: %s:%d: an AppRole secret_id written in harombe.yaml; prefer "
				 "secret_id_file or secret_id: env:NAME", sn->file, sn->line);
			if (!(vb->secret_id = secbuf_dup(sid, strlen(sid))))
				return -ENOMEM;
		}
	}
	if (sfile && *sfile && !vb->secret_id && !vb->secret_id_env) {
		if (!(vb->secret_id_file = path_expand_home(sfile)))
			return -ENOMEM;
		if (access(vb->secret_id_file, R_OK) != 0)
			log_warn("vault: secret_id_file '%s': %s", vb->secret_id_file, strerror(errno));
		else if ((r = trust_check_path(vb->secret_id_file, "Vault secret_id_file", err)) != 0)
			return -EINVAL;
	}
	while (*mount == '/')
		mount++;
	/* A mount may be nested (team/approle): keep its slashes. */
	for (i = 0; mount[i]; i++)
		if (!isalnum((unsigned char)mount[i]) && !strchr("-_./", mount[i]))
			return cfg_fail(err, cfg_get(opts, "approle_mount"), "'approle_mount' '%s' is not a mount path",
					mount);
	if (!*mount || strstr(mount, ".."))
		return cfg_fail(err, cfg_get(opts, "approle_mount"), "'approle_mount' '%s' is not a mount path",
				mount);
	r = asprintf(&vb->login_path, "/v1/auth/%s/login", mount);
	if (r < 0) {
		vb->login_path = NULL;
		return -ENOMEM;
	}
	vb->tok_where = strdup("AppRole");
	return 0;
}
