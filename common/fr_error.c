#include "config.h"

#include "fr_error.h"

const char *
fr_strerror(int err)
{
	switch ((enum fr_err)err) {
	case FR_OK:
		return "success";
	case FR_ERR_NOMEM:
		return "out of memory";
	case FR_ERR_INVALID:
		return "malformed data";
	case FR_ERR_TOO_LARGE:
		return "size limit exceeded";
	case FR_ERR_AGAIN:
		return "incomplete data";
	case FR_ERR_VERSION:
		return "protocol version mismatch";
	case FR_ERR_IO:
		return "input/output error";
	case FR_ERR_TIMEOUT:
		return "timed out";
	case FR_ERR_CLOSED:
		return "connection closed by peer";
	case FR_ERR_UNTRUSTED:
		return "ownership or permission check failed";
	case FR_ERR_CONFIG:
		return "configuration error";
	case FR_ERR_NOT_FOUND:
		return "not found";
	case FR_ERR_DUPLICATE:
		return "duplicate field";
	case FR_ERR_UNEXPECTED:
		return "message not allowed here";
	case FR_ERR_INTERNAL:
		return "internal error";
	case FR_ERR_PERMISSION:
		return "permission denied";
	}
	return "unknown error";
}
