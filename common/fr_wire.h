/*
 * The wire protocol between pam_freddy.so / freddyctl and freddy-helperd.
 * doc/protocol.md is the prose version of this header; keep them together.
 *
 * A frame is a 4-byte big-endian payload length followed by the payload:
 *
 *   u8 version (FR_WIRE_VERSION) | u8 message type | field*
 *   field = u8 tag | u16 big-endian length | length bytes
 *
 * Each message type allows a fixed set of tags, each at most once, and
 * requires some of them.  String fields carry no NUL byte; number fields
 * are exactly 4 (u32) or 8 (u64) bytes big-endian.
 */
#ifndef FR_WIRE_H
#define FR_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define FR_WIRE_VERSION	    1
#define FR_WIRE_HEADER_LEN  4
#define FR_WIRE_MAX_PAYLOAD 8192
#define FR_WIRE_MAX_FRAME   (FR_WIRE_HEADER_LEN + FR_WIRE_MAX_PAYLOAD)
#define FR_WIRE_MAX_STRING  2048

enum fr_msg_type {
	/* client -> helper */
	FR_MSG_AUTH_BEGIN = 1,
	FR_MSG_ANSWER = 2,
	FR_MSG_SESSION_OPEN = 3,
	FR_MSG_SESSION_CLOSE = 4,
	FR_MSG_TOKEN_GET = 5,
	FR_MSG_STATUS_GET = 6,
	FR_MSG_CACHE_LIST = 7,
	FR_MSG_CACHE_FORGET = 8,
	/* account self-service: always the caller's own account (SO_PEERCRED) */
	FR_MSG_TWOFA_STATUS_GET = 9,
	FR_MSG_TWOFA_SETUP = 10,
	FR_MSG_TWOFA_ENABLE = 11,
	FR_MSG_TWOFA_DISABLE = 12,
	FR_MSG_APIKEY_CREATE = 13,
	FR_MSG_APIKEY_LIST = 14,
	FR_MSG_APIKEY_DELETE = 15,
	/* pam_sm_chauthtok: then PROMPT/INFO/ERROR/ANSWER/DONE as for a login */
	FR_MSG_PASSWD_BEGIN = 16,
	/* helper -> client */
	FR_MSG_PROMPT = 64,
	FR_MSG_INFO = 65,
	FR_MSG_ERROR = 66,
	FR_MSG_DONE = 67,
	FR_MSG_TOKEN = 68,
	FR_MSG_STATUS = 69,
	FR_MSG_CACHE_ENTRY = 70,
	FR_MSG_TWOFA_STATE = 71,   /* reply to TWOFA_STATUS_GET, _ENABLE, _DISABLE */
	FR_MSG_TWOFA_SECRET = 72,  /* reply to TWOFA_SETUP */
	FR_MSG_RECOVERY_CODE = 73, /* one per code, after TWOFA_STATE of an enable */
	FR_MSG_APIKEY_NEW = 74,	   /* reply to APIKEY_CREATE: the only one with the key */
	FR_MSG_APIKEY_ENTRY = 75,  /* one per key of APIKEY_LIST: never the key */
};

enum fr_tag {
	FR_TAG_USER = 1,	     /* str: target user name */
	FR_TAG_SERVICE = 2,	     /* str: PAM service */
	FR_TAG_RHOST = 3,	     /* str */
	FR_TAG_TTY = 4,		     /* str */
	FR_TAG_RUSER = 5,	     /* str */
	FR_TAG_AUTHTOK = 6,	     /* str: already known password (secret) */
	FR_TAG_AUTHTOK_MODE = 7,     /* u32: enum fr_authtok_mode */
	FR_TAG_PAM_FLAGS = 8,	     /* u32: flags given to pam_sm_* */
	FR_TAG_TEXT = 9,	     /* str: prompt/info/error text, or an answer (secret) */
	FR_TAG_STYLE = 10,	     /* u32: enum fr_prompt_style */
	FR_TAG_PROMPT_FLAGS = 11,    /* u32: FR_PROMPT_* bits */
	FR_TAG_RESULT = 12,	     /* u32: enum fr_result */
	FR_TAG_TOKEN = 13,	     /* str: access token (secret) */
	FR_TAG_EXPIRES = 14,	     /* u64: unix time */
	FR_TAG_LAST_LOGIN = 15,	     /* u64: unix time */
	FR_TAG_VERSION_TEXT = 16,    /* str */
	FR_TAG_API_STATUS = 17,	     /* u32: HTTP status of the probe, 0 = unreachable */
	FR_TAG_API_MS = 18,	     /* u32: probe round trip in ms */
	FR_TAG_CACHED_USERS = 19,    /* u32 */
	FR_TAG_LOGINS_ACTIVE = 20,   /* u32 */
	FR_TAG_CLIENTS = 21,	     /* u32 */
	FR_TAG_API_CONNECTS = 22,    /* u64: TLS connections opened so far */
	FR_TAG_LOGINS_TOTAL = 23,    /* u64 */
	FR_TAG_OPEN_SESSIONS = 24,   /* u32 */
	FR_TAG_LOOP_STALL_US = 25,   /* u64: longest event-loop pass since the last STATUS */
	FR_TAG_LOOP_EVENT_US = 26,   /* u64: longest single event callback, same period */
	FR_TAG_CODE = 27,	     /* str: a TOTP or recovery code (secret) */
	FR_TAG_TWOFA_ENABLED = 28,   /* u32: 0 or 1 */
	FR_TAG_OTPAUTH_URI = 29,     /* str: otpauth:// URI of a new TOTP secret (secret) */
	FR_TAG_TOTP_SECRET = 30,     /* str: that secret, base32 (secret) */
	FR_TAG_KEY_NAME = 31,	     /* str: an API key's name */
	FR_TAG_KEY_ID = 32,	     /* str: an API key's id */
	FR_TAG_API_KEY = 33,	     /* str: the API key itself (secret) */
	FR_TAG_CREATED_AT = 34,	     /* str: creation time, as the API wrote it */
	FR_TAG_LAST_USED = 35,	     /* str: last use, as the API wrote it; absent = never */
	FR_TAG_CALLER_UID = 36,	     /* u32: real uid of the process running the PAM stack */
	FR_TAG_CHAUTHTOK_FLAGS = 37, /* u32: FR_CHAUTHTOK_* bits */
	FR_TAG_LOCALE = 38,	     /* str: the client's locale list (fr_locale.h); an invalid one is ignored */
	FR_TAG_COUNT = 39	     /* one past the last tag */
};

enum fr_authtok_mode {
	FR_AUTHTOK_NONE = 0, /* prompt for the password */
	FR_AUTHTOK_TRY = 1,  /* try AUTHTOK, prompt if it is wrong */
	FR_AUTHTOK_USE = 2,  /* use AUTHTOK only, never prompt */
};

enum fr_prompt_style {
	FR_PROMPT_ECHO_OFF = 1,
	FR_PROMPT_ECHO_ON = 2,
};

/* PROMPT flags */
#define FR_PROMPT_IS_PASSWORD 0x1u /* on success, the module sets PAM_AUTHTOK to this answer */

/* CHAUTHTOK_FLAGS: libpam's phase (exactly one of the first two) and
 * whether only an expired password is to be changed. */
#define FR_CHAUTHTOK_PRELIM	  0x1u /* PAM_PRELIM_CHECK: may this go ahead?  No prompt. */
#define FR_CHAUTHTOK_UPDATE	  0x2u /* PAM_UPDATE_AUTHTOK: change the password */
#define FR_CHAUTHTOK_EXPIRED_ONLY 0x4u /* PAM_CHANGE_EXPIRED_AUTHTOK */

enum fr_result {
	FR_RESULT_SUCCESS = 0,
	FR_RESULT_AUTH_ERR = 1,
	FR_RESULT_MAXTRIES = 2,
	FR_RESULT_AUTHINFO_UNAVAIL = 3,
	FR_RESULT_USER_UNKNOWN = 4,
	FR_RESULT_IGNORE = 5,
	FR_RESULT_CONV_ERR = 6,
	FR_RESULT_PERM_DENIED = 7,
	FR_RESULT_SYSTEM_ERR = 8,
	FR_RESULT_NOT_FOUND = 9, /* freddyctl: nothing cached */
	FR_RESULT_BUSY = 10,	 /* helper at its client limit */
	FR_RESULT_MAX = 10
};

/* A decoded message.  Strings are NUL-terminated copies inside `data`,
 * so the caller may drop the frame buffer.  May hold secrets: wipe with
 * fr_msg_wipe(). */
struct fr_msg {
	uint8_t type;
	uint64_t present;	       /* bit (1 << tag) */
	uint16_t offset[FR_TAG_COUNT]; /* into data, for strings */
	uint16_t length[FR_TAG_COUNT];
	uint64_t number[FR_TAG_COUNT];
	char data[FR_WIRE_MAX_PAYLOAD + FR_TAG_COUNT];
};

/* An outgoing frame, built with sticky errors in the sshbuf manner:
 * only fr_frame_finish() needs checking. */
struct fr_frame {
	uint8_t buf[FR_WIRE_MAX_FRAME];
	size_t len;
	int err;
};

/* Given `avail` bytes of a stream, report the payload length of the next
 * frame.  FR_ERR_AGAIN if fewer than 4 bytes; FR_ERR_TOO_LARGE or
 * FR_ERR_INVALID (zero length) for a length no valid frame has. */
int fr_wire_payload_length(const uint8_t *buf, size_t avail, size_t *payload_len);

/* Decode one payload (without the 4-byte length).  Pure function: checks
 * version, type, the tag table, lengths and NUL bytes.  `out` is zeroed
 * first and left zeroed on error. */
int fr_msg_decode(const uint8_t *payload, size_t len, struct fr_msg *out);

/* The reverse of fr_msg_decode, for a message that has to wait (a request
 * held while its account is looked up): the payload holds only the fields,
 * where a struct fr_msg has room for any message, 8 KiB.  Pure function:
 * returns the payload's length and writes it only when `cap` is at least
 * that; 0 for a `msg` that fr_msg_decode did not make (a string outside
 * its data).  The fields come in tag order; fr_msg_decode of the result
 * gives the same message. */
size_t fr_msg_encode(const struct fr_msg *msg, uint8_t *payload, size_t cap);

int fr_msg_has(const struct fr_msg *msg, enum fr_tag tag);
/* NULL when absent */
const char *fr_msg_str(const struct fr_msg *msg, enum fr_tag tag);
/* 0 when absent */
uint64_t fr_msg_num(const struct fr_msg *msg, enum fr_tag tag);
void fr_msg_wipe(struct fr_msg *msg);

void fr_frame_init(struct fr_frame *f, enum fr_msg_type type);
void fr_frame_put_str(struct fr_frame *f, enum fr_tag tag, const char *s);
void fr_frame_put_u32(struct fr_frame *f, enum fr_tag tag, uint32_t v);
void fr_frame_put_u64(struct fr_frame *f, enum fr_tag tag, uint64_t v);
/* Writes the length prefix and validates the frame against the same
 * table the decoder uses; returns 0 or the first error. */
int fr_frame_finish(struct fr_frame *f);
void fr_frame_wipe(struct fr_frame *f);

const char *fr_msg_type_name(int type);
const char *fr_result_name(int result);

#endif
