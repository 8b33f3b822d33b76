#ifndef SOPS_INTERNAL_H
#define SOPS_INTERNAL_H

/*
 * The SOPS backend's document model, shared by backends/sops*.c only.
 *
 * A SOPS file is parsed (JSON, YAML, dotenv, INI) into one tree per
 * document ("branch") plus the `sops` metadata block, also as a tree.  The
 * tree holds the file's TEXT: ciphertext (ENC[...]) and the values the file
 * keeps in clear.  Decrypted values never live in the tree: they go into
 * one locked buffer (doc->plain), and an encrypted node records only the
 * offset and length of its plaintext there.
 */

#include "lib/compat.h"

#include <stddef.h>

struct secbuf;
struct age_identities;
struct why;

#define SOPS_MAX_DEPTH 64	/* deeper documents are refused (and never recursed into) */
#define SOPS_DATA_KEY_LEN 32
#define SOPS_WRITER_VERSION "3.9.4"	/* `version` for files harombe creates (must be semver) */

enum sops_format { SOPS_FMT_JSON, SOPS_FMT_YAML, SOPS_FMT_DOTENV, SOPS_FMT_INI, SOPS_FMT_BINARY };

enum sops_kind { SN_MAP, SN_SEQ, SN_SCALAR, SN_COMMENT };

enum sops_type { SV_STR, SV_INT, SV_FLOAT, SV_BOOL, SV_NULL, SV_TIME, SV_BYTES, SV_COMMENT };

struct sops_node;

struct sops_item {
	char *key;			/* MAP: the key; NULL for a comment item and in a SEQ */
	size_t klen;
	struct sops_node *val;
	size_t pos;			/* byte offset in the source (YAML comment placement) */
};

struct sops_node {
	enum sops_kind kind;
	enum sops_type type;		/* SCALAR: the clear type, or the ENC payload's type once decrypted */
	int line;			/* 1-based, 0 when unknown */
	char *text;			/* SCALAR, COMMENT: as written (ENC[...] or clear text) */
	size_t len;
	unsigned enc : 1;		/* text is ENC[...] and was decrypted into doc->plain */
	unsigned dirty : 1;		/* plaintext set by a write: text is stale until sealed */
	unsigned quoted : 1;		/* a quoted string in the source: never null/bool/number */
	unsigned typed : 1;		/* dirty: encrypt with type (int, bool, ...), not as str */
	size_t poff, plen;		/* enc or dirty: plaintext in doc->plain */
	struct sops_item *items;	/* MAP, SEQ */
	size_t n, cap;
	size_t start, end;		/* source byte range (YAML comment placement) */
	int item_col;			/* YAML block collections: column of the items */
	int flow;
	uint32_t *hidx;			/* MAP: hash index (item + 1, 0 = empty), or NULL */
	size_t hcap;
};

enum sops_rule {
	RULE_UNENC_SUFFIX = 0,
	RULE_ENC_SUFFIX,
	RULE_UNENC_REGEX,
	RULE_ENC_REGEX,
	RULE_UNENC_COMMENT_REGEX,
	RULE_ENC_COMMENT_REGEX,
};

struct sops_age_entry {
	const char *recipient;		/* borrowed from the metadata tree */
	const char *enc;
	size_t enc_len;
};

struct sops_meta {
	struct sops_age_entry *age;
	size_t nage;
	size_t nother;			/* pgp, kms, ... master keys (not usable here) */
	char other_kinds[96];		/* "pgp, kms" for messages */
	size_t ngroups;			/* key_groups: >1 means Shamir (unsupported) */
	enum sops_rule rule;
	const char *rule_arg;
	void *re;			/* pcre2_code for the regex rules */
	int mac_only_encrypted;
	struct sops_node *lastmodified;	/* scalars inside doc->meta, updated on write */
	struct sops_node *mac;
};

struct sops_store_ops;

struct sops_doc {
	enum sops_format fmt;
	const struct sops_store_ops *store;	/* fmt's parser and emitter, from sops_doc_init() */
	struct sops_node **branches;
	size_t nbranches;
	struct sops_node *meta;		/* the `sops` map, removed from the branches */
	struct sops_meta m;
	unsigned char *data_key;	/* locked; NULL until unlocked */
	struct secbuf *plain;		/* every decrypted value */
	int plaintext;			/* parse: a plain document (sops encrypt): no metadata */
};

/* A growable output buffer in ordinary memory: ciphertext and clear text
 * only.  With sec set, every append goes into that locked buffer instead
 * (a decrypted document) and p stays NULL. */
struct obuf {
	char *p;
	size_t len, cap;
	int err;			/* -ENOMEM once an append failed */
	struct secbuf *sec;		/* not owned */
};

void obuf_put(struct obuf *b, const void *p, size_t n);
void obuf_puts(struct obuf *b, const char *s);
void obuf_putc(struct obuf *b, char c);
void obuf_printf(struct obuf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* s[0..n) escaped as inside a JSON string (lib/jsonw.h), without quotes. */
void obuf_put_json(struct obuf *b, const char *s, size_t n);
void obuf_release(struct obuf *b);

/* ---- tree (tree.c) ---- */

struct sops_node *sops_node_new(enum sops_kind kind);
void sops_node_free(struct sops_node *n);
struct sops_node *sops_scalar_new(const char *text, size_t len, enum sops_type type);
/* Append an item; takes ownership of key (may be NULL) and val.  0 or -ENOMEM
 * (then both are freed). */
int sops_node_push(struct sops_node *parent, char *key, size_t klen, struct sops_node *val);
struct sops_node *sops_node_copy(const struct sops_node *n);
struct sops_node *sops_map_get(const struct sops_node *map, const char *key);
/* The item of map whose key is k[0..kl), through the hash index when the
 * map has one; NULL when absent. */
struct sops_item *sops_map_find(const struct sops_node *map, const char *k, size_t kl);
/* Index every large map under n (after loading; any later change to the
 * tree must drop the document, as writes do). */
int sops_index_build(struct sops_node *n, int depth);

void sops_doc_init(struct sops_doc *doc, enum sops_format fmt);
void sops_doc_release(struct sops_doc *doc);	/* wipes the key and the plaintext */
/* Detach the `sops` key from every branch (the first one's becomes doc->meta). */
int sops_doc_take_meta(struct sops_doc *doc, struct why *why);
/* Read doc->meta into doc->m.  0 or -EINVAL with why. */
int sops_meta_parse(struct sops_doc *doc, struct why *why);

/* Format from a file name, as sops picks its store. */
enum sops_format sops_format_for(const char *path);
const char *sops_format_name(enum sops_format fmt);

/* Parse text of the given format into doc (branches + meta).  0, -EINVAL
 * with why ("line N: ...") or -ENOMEM. */
int sops_parse(struct sops_doc *doc, const char *text, size_t len, struct why *why);
/* Emit doc in its format into out. */
int sops_emit(const struct sops_doc *doc, struct obuf *out);

/* A store: one file format's parser and emitter (sops' stores).  Binary
 * files are kept in the JSON store, as sops keeps them. */
struct sops_store_ops {
	const char *name;		/* "json", "yaml", "dotenv", "ini" */
	/* Text into doc->branches (meta still inside).  0, -EINVAL with why or -ENOMEM. */
	int (*parse)(struct sops_doc *doc, const char *text, size_t len, struct why *why);
	int (*emit)(const struct sops_doc *doc, struct obuf *out);
};

extern const struct sops_store_ops sops_store_json;	/* json.c */
extern const struct sops_store_ops sops_store_yaml;	/* yaml.c */
extern const struct sops_store_ops sops_store_dotenv;	/* flat.c */
extern const struct sops_store_ops sops_store_ini;	/* flat.c */

/* Metadata flattening for dotenv and INI (sops' __map_ / __list_N keys). */
int sops_meta_unflatten(struct sops_node *flat, struct sops_node **out, struct why *why);
int sops_meta_flatten(const struct sops_node *meta, struct sops_node *flat, const char *prefix);

/* ---- identities and writing (sops.c) ---- */

/* The age identities sops would use: key_file (may be NULL), SOPS_AGE_KEY,
 * SOPS_AGE_KEY_FILE and the default keys file; where they came from goes
 * to ids_info.  0 or -errno with why. */
int sops_identities_load(const char *key_file, char *ids_info, size_t info_cap, struct age_identities **out,
			 struct why *why);
/* Replace (or, with excl, create) path atomically with data: a 0600
 * temporary file beside it, fsync, rename (link for excl), directory
 * fsync; old's mode and owner when old is given.  Ciphertext only. */
struct stat;
int sops_write_atomic(const char *path, const char *data, size_t len, const struct stat *old, int excl,
		      struct why *why);

/* ---- the data key (datakey.c) ---- */

/* Unwrap the data key with ids.  0; -EACCES (no identity matches: why lists
 * the file's recipients); -EBADMSG (a wrapped key is tampered); -ENOTSUP. */
int sops_doc_unlock(struct sops_doc *doc, const struct age_identities *ids, struct why *why);
/* A new empty document encrypted to n recipients, with a fresh data key. */
int sops_doc_create(struct sops_doc *doc, const unsigned char (*recipients)[32], size_t n,
		    struct why *why);

/* ---- values and the MAC (crypto.c) ---- */

/* Decrypt every value into doc->plain and verify the MAC.  0, -EBADMSG
 * (tampered: never use the values), -EINVAL or -ENOMEM. */
int sops_doc_decrypt(struct sops_doc *doc, struct why *why);
/* Re-encrypt dirty values (fresh IVs; unchanged ones keep their text), set
 * lastmodified to now and write a new MAC. */
int sops_doc_seal(struct sops_doc *doc, struct why *why);
/* The value bytes a caller gets for a scalar (plaintext or clear text). */
int sops_node_value(const struct sops_doc *doc, const struct sops_node *n, const unsigned char **p,
		    size_t *len);

/* One ENC[...] text (a comment's) opened with doc's data key and AAD aad,
 * its plaintext appended to doc->plain at *off.  0, -EINVAL (not ENC),
 * -EBADMSG (does not authenticate), -ENOMEM. */
int sops_text_open(struct sops_doc *doc, const char *text, size_t len, const char *aad, size_t aadlen,
		   size_t *off, size_t *plen);
/* ENC[...,type:TYPE] of pt with doc's data key and AAD aad (fresh IV), a
 * new malloc'd string.  0 or -errno. */
int sops_text_seal(const struct sops_doc *doc, const unsigned char *pt, size_t n, const char *aad, size_t aadlen,
		   const char *type, char **out, size_t *outlen);

/* Comments (comment.c): with seal 0, open every ENC[...] comment into
 * doc->plain (enc, poff, plen; one that does not open stays as written);
 * with seal 1, write every dirty comment's text: ENC[...,type:comment]
 * with the path of its mapping as AAD, or clear where the file's rule
 * says so.  0 or -errno with why. */
int sops_comments(struct sops_doc *doc, int seal, struct why *why);

/* Go's strconv.FormatFloat(v, 'f', -1, 64).  buf >= 400 bytes. */
void sops_format_float(double v, char *buf, size_t cap);
/* The clear type a plain (unquoted) YAML scalar resolves to (yaml.v3). */
enum sops_type sops_yaml_resolve(const char *s, size_t len);

#endif
