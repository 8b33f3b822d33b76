#ifndef TRUST_H
#define TRUST_H

#include <sys/types.h>

/*
 * Strict modes, as sshd's StrictModes: a file harombe trusts (the config,
 * age identities, Vault token and secret_id files, the audit log) must be
 * owned by root or by this process's euid and writable by nobody else, and
 * so must every directory above it up to '/': whoever can write one of
 * them can replace the file.  A directory that others may write is
 * accepted above the file only when it is sticky and owned by root (/tmp,
 * mode 1777): there nobody can rename or remove what is not theirs.
 *
 * what names the file in messages ("harombe.yaml", "age key file").  A
 * refusal reads "WHAT: refusing 'PATH': <what is wrong>; <the fix>".
 */

struct stat;
struct why;

/* The file open on fd (its name path, absolute or relative to the working
 * directory) and the directories above it.  The file itself is judged by
 * fstat(fd), so a file swapped after the open cannot slip through.
 * 0, or -EPERM with why (and -errno when a directory cannot be read). */
int trust_check_fd(int fd, const char *path, const char *what, struct why *why);

/* The same for a path not yet opened (stat, then the directories). */
int trust_check_path(const char *path, const char *what, struct why *why);

/* One stat against the rules.  subject is what st describes: file itself,
 * or a directory above it.  sticky_ok: a root-owned sticky directory may
 * be writable by others (the directories above; not the file, and not the
 * audit log's own directory).  0 or -EPERM with why. */
int trust_check_stat(const struct stat *st, const char *subject, int sticky_ok, const char *what,
		     const char *file, struct why *why);

/* Every directory from '/' down to and including dir (absolute, already
 * resolved: no symlinks, no "..") with sticky_ok.  0 or -errno with why. */
int trust_check_dirs(const char *dir, const char *what, const char *file, struct why *why);

#endif
