/*
 * One error space for the whole project: functions return 0 or one of
 * these negative codes.  Only the pam_sm_* entry points and the daemon's
 * reply builder translate them into PAM results or protocol results.
 */
#ifndef FR_ERROR_H
#define FR_ERROR_H

enum fr_err {
	FR_OK = 0,
	FR_ERR_NOMEM = -1,
	FR_ERR_INVALID = -2,   /* malformed input */
	FR_ERR_TOO_LARGE = -3, /* a size cap was hit */
	FR_ERR_AGAIN = -4,     /* need more bytes */
	FR_ERR_VERSION = -5,   /* protocol version mismatch */
	FR_ERR_IO = -6,	       /* read/write/connect failed (errno kept by caller) */
	FR_ERR_TIMEOUT = -7,
	FR_ERR_CLOSED = -8,    /* peer closed the connection */
	FR_ERR_UNTRUSTED = -9, /* peer or file failed an ownership/permission check */
	FR_ERR_CONFIG = -10,
	FR_ERR_NOT_FOUND = -11,
	FR_ERR_DUPLICATE = -12,
	FR_ERR_UNEXPECTED = -13, /* message valid but not allowed in this state */
	FR_ERR_INTERNAL = -14,	 /* broken invariant */
	FR_ERR_PERMISSION = -15, /* caller not allowed to ask for this */
};

/* Static text for an error code; never NULL. */
const char *fr_strerror(int err);

#endif
