/*
 * Password verifiers for cached re-authentication and offline logins:
 * libxcrypt's yescrypt with a fresh random salt.  The helper keeps the
 * verifier, never the password, as SSSD does for its cached credentials.
 */
#ifndef VERIFIER_H
#define VERIFIER_H

#include <stdbool.h>

/* A "$y$…" string in a fresh heap buffer, or NULL on failure. */
char *verifier_make(const char *password);
/* Constant-time comparison of crypt_r(password, verifier) with verifier;
 * false for anything that is not a yescrypt verifier. */
bool verifier_check(const char *verifier, const char *password);

#endif
