#ifndef SOPSFILE_H
#define SOPSFILE_H

#include <stddef.h>

/*
 * Whole SOPS files, as the sops command handles them (harombe sops ...):
 * decrypt one file, encrypt a plain one, put it back after an edit,
 * rewrap the data key (updatekeys) or replace it (rotate); the
 * creation rules of .sops.yaml; --extract paths.  The backend (sops.c)
 * serves keys of one configured file; this is the tool around the same
 * document model.
 *
 * Plaintext goes in and out in locked memory (struct secbuf).  Errors are
 * 0 or -errno with a reason in why that never holds a value: -ENOENT no
 * such file (or --extract path), -EACCES no identity opens the data key,
 * -EBADMSG tampered, -EINVAL malformed input or options, -ENOTSUP key
 * types or features harombe does not have (named in why), -ENOMEM.
 */

struct secbuf;
struct why;
struct stat;

/* ---- .sops.yaml (conf.c) ---- */

struct sopsfile_rule {
	char **age;			/* recipients (age1...) */
	size_t nage;
	const char *rule_key;		/* "encrypted_regex", ...; NULL: sops' unencrypted_suffix default */
	char *rule_arg;
	int mac_only_encrypted;
	int index;			/* which creation rule (0-based), for messages */
};

#define SOPSFILE_CONF_MAX (1u << 20)	/* a larger .sops.yaml is refused */

/* The .sops.yaml sops would use for file: in file's directory, then each
 * parent up to /.  A malloc'd path, or NULL when there is none. */
char *sopsfile_find_config(const char *file);
/* The first creation rule of the .sops.yaml text whose path_regex matches
 * rel_path (the file's path relative to the .sops.yaml's directory; a rule
 * without path_regex matches every file).  0 and *out; -ENOENT when no rule
 * matches; -EINVAL (malformed) or -ENOTSUP (pgp, kms, ... keys, Shamir)
 * with why. */
int sopsfile_rules_match(const char *text, size_t len, const char *rel_path, struct sopsfile_rule *out,
			 struct why *why);
void sopsfile_rule_release(struct sopsfile_rule *r);

/* ---- --extract '["a"]["b"][0]' (file.c) ---- */

struct sopsfile_step {
	char *key;			/* a map key, or NULL for a list index */
	size_t klen;
	size_t index;
};

#define SOPSFILE_EXTRACT_MAX 64		/* steps */

/* 0 and *out (n steps, free with sopsfile_extract_free), or -EINVAL with why. */
int sopsfile_extract_parse(const char *s, struct sopsfile_step **out, size_t *n, struct why *why);
void sopsfile_extract_free(struct sopsfile_step *steps, size_t n);

/* ---- files (file.c) ---- */

/* "json", "yaml", "dotenv", "ini", "binary", or NULL for the file name's
 * (as sops picks its store).  0, or -EINVAL for another name. */
int sopsfile_type(const char *name, const char *path, int *fmt);

struct sopsfile;

/* Read, unwrap the data key and verify the file (every value and the MAC),
 * as harombe's sops backend does.  fmt from sopsfile_type(). */
int sopsfile_open(const char *path, int fmt, struct sopsfile **out, struct why *why);
void sopsfile_close(struct sopsfile *f);	/* wipes; NULL-safe */
/* The decrypted document in format out_fmt (-1: the file's own), or with
 * steps the value they lead to: a scalar raw, a subtree in out_fmt.
 * Encrypted comments are shown decrypted; one that does not open is left
 * out.  0 and *out (locked). */
int sopsfile_plain(struct sopsfile *f, int out_fmt, const struct sopsfile_step *steps, size_t n,
		   struct secbuf **out, struct why *why);
/* How many encrypted comments of the file do not open (damaged): they
 * cannot be shown, so edit and rotate refuse the file. */
size_t sopsfile_enc_comments(const struct sopsfile *f);
/* Replace the file's values with plain (text in the file's format, e.g.
 * after an edit): same data key, recipients and rules, fresh IVs, a new
 * MAC; comments encrypted as sops does; written atomically over the file
 * (mode and owner kept). */
int sopsfile_replace(struct sopsfile *f, const struct secbuf *plain, struct why *why);
/* A new data key, wrapped for the same recipients; every value
 * re-encrypted.  Written over the file. */
int sopsfile_rotate(struct sopsfile *f, struct why *why);
/* Wrap the data key for exactly these recipients (age1...), keeping the
 * values.  *changed = 0 (and nothing written) when they are the file's
 * already. */
int sopsfile_updatekeys(struct sopsfile *f, const char *const *age, size_t n, int *changed, struct why *why);
/* The file's age recipients, in order (borrowed; valid until f changes). */
size_t sopsfile_recipients(const struct sopsfile *f, const char **out, size_t cap);

/* Write ciphertext data over path atomically (as the backend writes):
 * keep path's mode and owner when it exists, else mode 0600. */
int sopsfile_write(const char *path, const char *data, size_t len, struct why *why);

/* Encrypt plain (a document of format fmt) for rule's recipients and
 * encryption rule: a new SOPS document (malloc'd text, no plaintext in
 * it except what the rule leaves clear) in *out. */
int sopsfile_encrypt(const struct secbuf *plain, int fmt, const struct sopsfile_rule *rule, char **out,
		     size_t *outlen, struct why *why);

#endif
