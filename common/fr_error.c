#include "config.h"

#include "fr_error.h"

/* English, for logs; freddyctl shows them translated.  N_ marks them for
 * xgettext, as fr_catalog.h's does (not included: fr_catalog.c uses this
 * file's codes, and includes go one way). */
#ifndef N_
#define N_(msgid) msgid
#endif

const char *
fr_strerror(int err)
{
	switch ((enum fr_err)err) {
	case FR_OK:
		return N_("success");
	case FR_ERR_NOMEM:
		return N_("out of memory");
	case FR_ERR_INVALID:
		return N_("malformed data");
	case FR_ERR_TOO_LARGE:
		return N_("size limit exceeded");
	case FR_ERR_AGAIN:
		return N_("incomplete data");
	case FR_ERR_VERSION:
		return N_("protocol version mismatch");
	case FR_ERR_IO:
		return N_("input/output error");
	case FR_ERR_TIMEOUT:
		return N_("timed out");
	case FR_ERR_CLOSED:
		return N_("connection closed by peer");
	case FR_ERR_UNTRUSTED:
		return N_("ownership or permission check failed");
	case FR_ERR_CONFIG:
		return N_("configuration error");
	case FR_ERR_NOT_FOUND:
		return N_("not found");
	case FR_ERR_DUPLICATE:
		return N_("duplicate field");
	case FR_ERR_UNEXPECTED:
		return N_("message not allowed here");
	case FR_ERR_INTERNAL:
		return N_("internal error");
	case FR_ERR_PERMISSION:
		return N_("permission denied");
	}
	return N_("unknown error");
}
