#ifndef AGE_H
#define AGE_H

/*
 * age v1, X25519 recipients only (specs/age.md): Bech32 keys, identities
 * files, the header with its MAC, the ChaCha20-Poly1305 STREAM payload and
 * the ASCII armor.  Internal to backends/ (the SOPS backend wraps its data
 * key with it); nothing outside backends/ includes this header.
 *
 * Secret scalars and file keys live in locked memory (lib/secbuf.h) and
 * are wiped; decrypted payload is handed out chunk by chunk, each chunk only
 * after it authenticated, from a locked buffer.
 */

#include <stddef.h>

#include "lib/why.h"

#define AGE_KEY_LEN 32		/* X25519 scalar and point */
#define AGE_FILE_KEY_LEN 16
#define AGE_CHUNK 65536
#define AGE_RECIPIENT_MAX 128	/* "age1" + Bech32 of 32 bytes is 62 */

/* What went wrong, in the classes the CCTV test vectors use. */
enum age_fail {
	AGE_OK = 0,
	AGE_NO_MATCH,		/* no identity opened any stanza */
	AGE_HEADER,		/* malformed header, or a stanza that must be refused */
	AGE_HMAC,		/* the header MAC does not verify */
	AGE_PAYLOAD,		/* a payload chunk failed (earlier chunks were released) */
	AGE_ARMOR,		/* the ASCII armor is malformed */
	AGE_NOMEM,		/* locked memory exhausted */
};

struct age_error {
	enum age_fail kind;
	struct why why;		/* never holds key material or plaintext */
};

/* A set of X25519 identities (secret scalars in locked memory). */
struct age_identities;

struct age_identities *age_identities_new(void);	/* NULL on ENOMEM */
void age_identities_free(struct age_identities *ids);	/* wipes; NULL-safe */
size_t age_identities_count(const struct age_identities *ids);
/* Public key (recipient) of identity i. */
void age_identities_public(const struct age_identities *ids, size_t i, unsigned char pk[AGE_KEY_LEN]);

/*
 * Add the identities of a keys file (age-keygen format: one identity a
 * line, empty lines and lines starting with '#' skipped, no trimming).
 * With split_ws, a line may hold several identities separated by
 * whitespace (SOPS_AGE_KEY).  Post-quantum and plugin identities are
 * counted in *skipped and otherwise ignored.  A malformed line rejects the
 * whole text: 0, -EINVAL with why naming the line (never its content), or
 * -ENOMEM.  text should itself be in locked memory.
 */
int age_identities_add_text(struct age_identities *ids, const char *text, size_t len, int split_ws,
			    size_t *skipped, struct why *why);
/* One "AGE-SECRET-KEY-1..." string (len bytes, no newline). */
int age_identity_add(struct age_identities *ids, const char *s, size_t len);

/* "age1..." -> 32-byte X25519 public key.  0 or -EINVAL with why. */
int age_recipient_parse(const char *s, unsigned char pk[AGE_KEY_LEN], struct why *why);
/* 32-byte public key -> "age1..." (out must hold AGE_RECIPIENT_MAX). */
void age_recipient_format(const unsigned char pk[AGE_KEY_LEN], char *out, size_t outlen);

/* Generic Bech32 (BIP-173, no length limit).  decode: 0 or -EINVAL; hrp is
 * returned as written (case kept), data is 8-bit, unpadded. */
int age_bech32_decode(const char *s, size_t len, char *hrp, size_t hrpcap, unsigned char *data,
		      size_t datacap, size_t *datalen);
int age_bech32_encode(const char *hrp, const unsigned char *data, size_t len, int upper, char *out,
		      size_t outcap);

/* ---- armor ---- */

/* True when in starts (after optional whitespace) with the armor's BEGIN line. */
int age_armor_detect(const unsigned char *in, size_t len);
/* Strict PEM de-armoring.  0 and *out (malloc, caller frees; ciphertext),
 * or -EINVAL with err->kind = AGE_ARMOR, or -ENOMEM. */
int age_armor_decode(const unsigned char *in, size_t len, unsigned char **out, size_t *outlen,
		     struct age_error *err);
/* Armor with 64 columns, LF, trailing newline.  *out is NUL-terminated. */
int age_armor_encode(const unsigned char *in, size_t len, char **out, size_t *outlen);

/* ---- header ---- */

#define AGE_MAX_ARGS 8

struct age_stanza {
	char *type;			/* first argument: "X25519", "scrypt", ... */
	char *args[AGE_MAX_ARGS];	/* the rest */
	size_t nargs;
	unsigned char *body;
	size_t body_len;
};

struct age_header {
	struct age_stanza *stanzas;
	size_t n;
	unsigned char mac[32];
	size_t mac_input_len;		/* bytes from the start up to and including "---" */
	size_t len;			/* whole header, through the MAC line's LF */
};

#define AGE_HEADER_INIT { NULL, 0, { 0 }, 0, 0 }

/* Parse the binary header at in.  0, -EINVAL (err->kind AGE_HEADER) or -ENOMEM. */
int age_header_parse(const unsigned char *in, size_t len, struct age_header *h, struct age_error *err);
void age_header_release(struct age_header *h);

/* ---- decrypt / encrypt ---- */

/* Receives each authenticated chunk of plaintext; non-zero aborts (and is
 * returned).  p points into locked memory that is wiped after the call. */
typedef int age_sink_fn(const unsigned char *p, size_t n, void *arg);

/*
 * Decrypt a binary age file with any of ids.  0 when the whole payload
 * authenticated; otherwise -EBADMSG (header, HMAC, payload), -ENOKEY (no
 * identity matched), -ENOMEM or the sink's error, with err filled.  On a
 * payload failure the chunks released before it have reached the sink:
 * callers that want all-or-nothing discard what they got.
 */
int age_decrypt(const unsigned char *in, size_t len, const struct age_identities *ids,
		age_sink_fn *sink, void *arg, struct age_error *err);
/* The same after de-armoring when the input is armored. */
int age_decrypt_any(const unsigned char *in, size_t len, const struct age_identities *ids,
		    age_sink_fn *sink, void *arg, struct age_error *err);

/* Encrypt pt to n X25519 recipients: a binary age file in *out (malloc). */
int age_encrypt(const unsigned char *pt, size_t len, const unsigned char (*recipients)[AGE_KEY_LEN],
		size_t n, unsigned char **out, size_t *outlen);

#endif
