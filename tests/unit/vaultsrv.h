#ifndef UNIT_VAULTSRV_H
#define UNIT_VAULTSRV_H

/*
 * The Vault API test server (tests/vault/vaultsrv.py) for unit tests: one
 * per test case, started as an unchecked fixture on 127.0.0.1 with the
 * root token VAULTSRV_ROOT_TOKEN and its state in a temporary directory.
 */

#define VAULTSRV_ROOT_TOKEN "unit-root-token"

/* "http://127.0.0.1:PORT" while a server runs. */
extern char vaultsrv_url[64];

/* Start it with these extra arguments (NULL-terminated, may be NULL), e.g.
 * { "--kv", "secret=2", NULL }; fails the test when it does not come up. */
void vaultsrv_start(const char *const *extra);
void vaultsrv_stop(void);

#endif
