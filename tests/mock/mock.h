#ifndef MOCK_H
#define MOCK_H

/*
 * The test store, provider "mock" (tests only; never in the shipped
 * binaries).  Options under security.credentials:
 *   mock_dir: DIR        one file per key; '/' in a key is '%2F', '#' is '%23'
 *   mock_delay_ms: N     sleep before every get
 * A file DIR/<key>.err holding ENOENT, EACCES, EIO, ETIMEDOUT, EBADMSG or
 * EINVAL makes get of <key> fail with that error; DIR/_all.err does it for
 * every key and for list, set and delete too; while DIR/_gets exists, every get appends the key (the name,
 * never the value) to it; DIR/_delay_ms overrides the delay while it exists.  Values are
 * read on every get, so a test can change them under a running mount.  meta
 * reports a key file's mtime as the time of its last change, or
 * BACKEND_ENOTSUP while DIR/_nometa exists (a store without timestamps).
 */

struct backend_ops;
extern const struct backend_ops backend_mock;

#endif
