#include "config.h"

#include <string.h>

#include "fr_error.h"
#include "fr_wire.h"

enum field_kind { KIND_NONE = 0, KIND_STR, KIND_U32, KIND_U64 };

static const enum field_kind tag_kind[FR_TAG_COUNT] = {
	[FR_TAG_USER] = KIND_STR,
	[FR_TAG_SERVICE] = KIND_STR,
	[FR_TAG_RHOST] = KIND_STR,
	[FR_TAG_TTY] = KIND_STR,
	[FR_TAG_RUSER] = KIND_STR,
	[FR_TAG_AUTHTOK] = KIND_STR,
	[FR_TAG_AUTHTOK_MODE] = KIND_U32,
	[FR_TAG_PAM_FLAGS] = KIND_U32,
	[FR_TAG_TEXT] = KIND_STR,
	[FR_TAG_STYLE] = KIND_U32,
	[FR_TAG_PROMPT_FLAGS] = KIND_U32,
	[FR_TAG_RESULT] = KIND_U32,
	[FR_TAG_TOKEN] = KIND_STR,
	[FR_TAG_EXPIRES] = KIND_U64,
	[FR_TAG_LAST_LOGIN] = KIND_U64,
	[FR_TAG_VERSION_TEXT] = KIND_STR,
	[FR_TAG_API_STATUS] = KIND_U32,
	[FR_TAG_API_MS] = KIND_U32,
	[FR_TAG_CACHED_USERS] = KIND_U32,
	[FR_TAG_LOGINS_ACTIVE] = KIND_U32,
	[FR_TAG_CLIENTS] = KIND_U32,
	[FR_TAG_API_CONNECTS] = KIND_U64,
	[FR_TAG_LOGINS_TOTAL] = KIND_U64,
	[FR_TAG_OPEN_SESSIONS] = KIND_U32,
	[FR_TAG_LOOP_STALL_US] = KIND_U64,
	[FR_TAG_LOOP_EVENT_US] = KIND_U64,
	[FR_TAG_CODE] = KIND_STR,
	[FR_TAG_TWOFA_ENABLED] = KIND_U32,
	[FR_TAG_OTPAUTH_URI] = KIND_STR,
	[FR_TAG_TOTP_SECRET] = KIND_STR,
	[FR_TAG_KEY_NAME] = KIND_STR,
	[FR_TAG_KEY_ID] = KIND_STR,
	[FR_TAG_API_KEY] = KIND_STR,
	[FR_TAG_CREATED_AT] = KIND_STR,
	[FR_TAG_LAST_USED] = KIND_STR,
	[FR_TAG_CALLER_UID] = KIND_U32,
	[FR_TAG_CHAUTHTOK_FLAGS] = KIND_U32,
	[FR_TAG_LOCALE] = KIND_STR,
};

/* Every tag fits the 64-bit masks below. */
_Static_assert(FR_TAG_COUNT <= 64, "fr_msg.present has 64 bits");

#define BIT(t) (UINT64_C(1) << (t))

struct msg_rule {
	uint8_t type;
	uint64_t required;
	uint64_t allowed; /* besides required */
};

#define SESSION_TAGS (BIT(FR_TAG_RHOST) | BIT(FR_TAG_TTY) | BIT(FR_TAG_RUSER) | BIT(FR_TAG_PAM_FLAGS))
/* Requests whose replies carry text for a person may say in which
 * language (optional: a client without it gets the helper's default). */
#define LOCALE_TAG BIT(FR_TAG_LOCALE)

static const struct msg_rule msg_rules[] = {
	{ FR_MSG_AUTH_BEGIN, BIT(FR_TAG_USER) | BIT(FR_TAG_SERVICE),
	  SESSION_TAGS | BIT(FR_TAG_AUTHTOK) | BIT(FR_TAG_AUTHTOK_MODE) | LOCALE_TAG },
	{ FR_MSG_ANSWER, 0, BIT(FR_TAG_TEXT) },
	{ FR_MSG_SESSION_OPEN, BIT(FR_TAG_USER) | BIT(FR_TAG_SERVICE), SESSION_TAGS },
	{ FR_MSG_SESSION_CLOSE, BIT(FR_TAG_USER) | BIT(FR_TAG_SERVICE), SESSION_TAGS },
	{ FR_MSG_TOKEN_GET, 0, LOCALE_TAG },
	{ FR_MSG_STATUS_GET, 0, LOCALE_TAG },
	{ FR_MSG_CACHE_LIST, 0, LOCALE_TAG },
	{ FR_MSG_CACHE_FORGET, BIT(FR_TAG_USER), LOCALE_TAG },
	{ FR_MSG_TWOFA_STATUS_GET, 0, LOCALE_TAG },
	{ FR_MSG_TWOFA_SETUP, 0, LOCALE_TAG },
	{ FR_MSG_TWOFA_ENABLE, BIT(FR_TAG_CODE), LOCALE_TAG },
	{ FR_MSG_TWOFA_DISABLE, BIT(FR_TAG_CODE), LOCALE_TAG },
	{ FR_MSG_APIKEY_CREATE, BIT(FR_TAG_KEY_NAME), LOCALE_TAG },
	{ FR_MSG_APIKEY_LIST, 0, LOCALE_TAG },
	{ FR_MSG_APIKEY_DELETE, BIT(FR_TAG_KEY_ID), LOCALE_TAG },
	{ FR_MSG_PASSWD_BEGIN,
	  BIT(FR_TAG_USER) | BIT(FR_TAG_SERVICE) | BIT(FR_TAG_CALLER_UID) | BIT(FR_TAG_CHAUTHTOK_FLAGS),
	  SESSION_TAGS | LOCALE_TAG },
	{ FR_MSG_PROMPT, BIT(FR_TAG_TEXT) | BIT(FR_TAG_STYLE), BIT(FR_TAG_PROMPT_FLAGS) },
	{ FR_MSG_INFO, BIT(FR_TAG_TEXT), 0 },
	{ FR_MSG_ERROR, BIT(FR_TAG_TEXT), 0 },
	{ FR_MSG_DONE, BIT(FR_TAG_RESULT), BIT(FR_TAG_TEXT) },
	{ FR_MSG_TOKEN, BIT(FR_TAG_TOKEN), BIT(FR_TAG_EXPIRES) },
	{ FR_MSG_STATUS, BIT(FR_TAG_VERSION_TEXT),
	  BIT(FR_TAG_API_STATUS) | BIT(FR_TAG_API_MS) | BIT(FR_TAG_CACHED_USERS) | BIT(FR_TAG_LOGINS_ACTIVE) |
	      BIT(FR_TAG_CLIENTS) | BIT(FR_TAG_API_CONNECTS) | BIT(FR_TAG_LOGINS_TOTAL) | BIT(FR_TAG_OPEN_SESSIONS) |
	      BIT(FR_TAG_LOOP_STALL_US) | BIT(FR_TAG_LOOP_EVENT_US) },
	{ FR_MSG_CACHE_ENTRY, BIT(FR_TAG_USER), BIT(FR_TAG_LAST_LOGIN) | BIT(FR_TAG_EXPIRES) },
	{ FR_MSG_TWOFA_STATE, BIT(FR_TAG_TWOFA_ENABLED), 0 },
	{ FR_MSG_TWOFA_SECRET, BIT(FR_TAG_OTPAUTH_URI) | BIT(FR_TAG_TOTP_SECRET), 0 },
	{ FR_MSG_RECOVERY_CODE, BIT(FR_TAG_CODE), 0 },
	{ FR_MSG_APIKEY_NEW, BIT(FR_TAG_KEY_ID) | BIT(FR_TAG_API_KEY), BIT(FR_TAG_KEY_NAME) | BIT(FR_TAG_CREATED_AT) },
	/* No API_KEY here: a listing cannot carry a key even by mistake. */
	{ FR_MSG_APIKEY_ENTRY, BIT(FR_TAG_KEY_ID),
	  BIT(FR_TAG_KEY_NAME) | BIT(FR_TAG_CREATED_AT) | BIT(FR_TAG_LAST_USED) },
};

static const struct msg_rule *
rule_for(unsigned type)
{
	for (size_t i = 0; i < sizeof(msg_rules) / sizeof(msg_rules[0]); i++)
		if (msg_rules[i].type == type)
			return &msg_rules[i];
	return NULL;
}

static uint32_t
get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Range checks for enumerated numbers, shared by decoder and encoder. */
static int
number_in_range(enum fr_tag tag, uint64_t v)
{
	switch (tag) {
	case FR_TAG_AUTHTOK_MODE:
		return v <= FR_AUTHTOK_USE;
	case FR_TAG_STYLE:
		return v == FR_PROMPT_ECHO_OFF || v == FR_PROMPT_ECHO_ON;
	case FR_TAG_RESULT:
		return v <= FR_RESULT_MAX;
	case FR_TAG_PROMPT_FLAGS:
		return (v & ~(uint64_t)FR_PROMPT_IS_PASSWORD) == 0;
	case FR_TAG_TWOFA_ENABLED:
		return v <= 1;
	case FR_TAG_CHAUTHTOK_FLAGS: {
		uint64_t phase = v & (FR_CHAUTHTOK_PRELIM | FR_CHAUTHTOK_UPDATE);
		return (v & ~(uint64_t)(FR_CHAUTHTOK_PRELIM | FR_CHAUTHTOK_UPDATE | FR_CHAUTHTOK_EXPIRED_ONLY)) == 0 &&
		       (phase == FR_CHAUTHTOK_PRELIM || phase == FR_CHAUTHTOK_UPDATE);
	}
	default:
		return 1;
	}
}

int
fr_wire_payload_length(const uint8_t *buf, size_t avail, size_t *payload_len)
{
	*payload_len = 0;
	if (avail < FR_WIRE_HEADER_LEN)
		return FR_ERR_AGAIN;
	uint32_t n = get_be32(buf);
	if (n > FR_WIRE_MAX_PAYLOAD)
		return FR_ERR_TOO_LARGE;
	if (n < 2)
		return FR_ERR_INVALID;
	*payload_len = n;
	return FR_OK;
}

int
fr_msg_decode(const uint8_t *payload, size_t len, struct fr_msg *out)
{
	int r;
	size_t used = 0; /* bytes of out->data in use */

	memset(out, 0, sizeof(*out));
	if (len < 2)
		return FR_ERR_INVALID;
	if (len > FR_WIRE_MAX_PAYLOAD)
		return FR_ERR_TOO_LARGE;
	if (payload[0] != FR_WIRE_VERSION)
		return FR_ERR_VERSION;
	const struct msg_rule *rule = rule_for(payload[1]);
	if (rule == NULL)
		return FR_ERR_INVALID;
	out->type = payload[1];

	size_t pos = 2;
	while (pos < len) {
		if (len - pos < 3) {
			r = FR_ERR_INVALID;
			goto fail;
		}
		unsigned tag = payload[pos];
		size_t flen = (size_t)payload[pos + 1] << 8 | payload[pos + 2];
		pos += 3;
		if (flen > len - pos) {
			r = FR_ERR_INVALID;
			goto fail;
		}
		if (tag == 0 || tag >= FR_TAG_COUNT || ((rule->required | rule->allowed) & BIT(tag)) == 0) {
			r = FR_ERR_INVALID;
			goto fail;
		}
		if (out->present & BIT(tag)) {
			r = FR_ERR_DUPLICATE;
			goto fail;
		}
		const uint8_t *fp = payload + pos;
		switch (tag_kind[tag]) {
		case KIND_STR:
			if (flen > FR_WIRE_MAX_STRING) {
				r = FR_ERR_TOO_LARGE;
				goto fail;
			}
			if (memchr(fp, '\0', flen) != NULL) {
				r = FR_ERR_INVALID;
				goto fail;
			}
			/* used + flen + 1 <= payload size + tag count by construction,
			 * but check rather than trust the arithmetic. */
			if (flen + 1 > sizeof(out->data) - used) {
				r = FR_ERR_TOO_LARGE;
				goto fail;
			}
			memcpy(out->data + used, fp, flen);
			out->data[used + flen] = '\0';
			out->offset[tag] = (uint16_t)used;
			out->length[tag] = (uint16_t)flen;
			used += flen + 1;
			break;
		case KIND_U32:
			if (flen != 4) {
				r = FR_ERR_INVALID;
				goto fail;
			}
			out->number[tag] = get_be32(fp);
			break;
		case KIND_U64:
			if (flen != 8) {
				r = FR_ERR_INVALID;
				goto fail;
			}
			out->number[tag] = get_be64(fp);
			break;
		case KIND_NONE:
		default:
			r = FR_ERR_INTERNAL;
			goto fail;
		}
		if (!number_in_range((enum fr_tag)tag, out->number[tag])) {
			r = FR_ERR_INVALID;
			goto fail;
		}
		out->present |= BIT(tag);
		pos += flen;
	}
	if ((out->present & rule->required) != rule->required) {
		r = FR_ERR_INVALID;
		goto fail;
	}
	return FR_OK;
fail:
	fr_msg_wipe(out);
	return r;
}

static size_t
field_length(const struct fr_msg *msg, unsigned tag)
{
	switch (tag_kind[tag]) {
	case KIND_STR:
		return msg->length[tag];
	case KIND_U32:
		return 4;
	case KIND_U64:
		return 8;
	case KIND_NONE:
	default:
		return 0; /* a tag no message has: the decoder refuses it */
	}
}

size_t
fr_msg_encode(const struct fr_msg *msg, uint8_t *payload, size_t cap)
{
	size_t need = 2;

	for (unsigned tag = 1; tag < FR_TAG_COUNT; tag++) {
		if (!(msg->present & BIT(tag)))
			continue;
		/* Only what fr_msg_decode made: a string inside `data`. */
		if (tag_kind[tag] == KIND_STR && (size_t)msg->offset[tag] + msg->length[tag] >= sizeof(msg->data))
			return 0;
		need += 3 + field_length(msg, tag);
	}
	if (payload == NULL || cap < need)
		return need;
	size_t pos = 0;
	payload[pos++] = FR_WIRE_VERSION;
	payload[pos++] = msg->type;
	for (unsigned tag = 1; tag < FR_TAG_COUNT; tag++) {
		if (!(msg->present & BIT(tag)))
			continue;
		size_t n = field_length(msg, tag);
		payload[pos++] = (uint8_t)tag;
		payload[pos++] = (uint8_t)(n >> 8);
		payload[pos++] = (uint8_t)n;
		switch (tag_kind[tag]) {
		case KIND_STR:
			memcpy(payload + pos, msg->data + msg->offset[tag], n);
			break;
		case KIND_U32:
			put_be32(payload + pos, (uint32_t)msg->number[tag]);
			break;
		case KIND_U64:
			put_be32(payload + pos, (uint32_t)(msg->number[tag] >> 32));
			put_be32(payload + pos + 4, (uint32_t)msg->number[tag]);
			break;
		case KIND_NONE:
		default:
			break;
		}
		pos += n;
	}
	return pos;
}

int
fr_msg_has(const struct fr_msg *msg, enum fr_tag tag)
{
	return (unsigned)tag < FR_TAG_COUNT && (msg->present & BIT(tag)) != 0;
}

const char *
fr_msg_str(const struct fr_msg *msg, enum fr_tag tag)
{
	if (!fr_msg_has(msg, tag) || tag_kind[tag] != KIND_STR)
		return NULL;
	return msg->data + msg->offset[tag];
}

uint64_t
fr_msg_num(const struct fr_msg *msg, enum fr_tag tag)
{
	if (!fr_msg_has(msg, tag) || tag_kind[tag] == KIND_STR)
		return 0;
	return msg->number[tag];
}

void
fr_msg_wipe(struct fr_msg *msg)
{
	explicit_bzero(msg, sizeof(*msg));
}

void
fr_frame_init(struct fr_frame *f, enum fr_msg_type type)
{
	f->len = FR_WIRE_HEADER_LEN;
	f->err = 0;
	f->buf[f->len++] = FR_WIRE_VERSION;
	f->buf[f->len++] = (uint8_t)type;
}

static void
frame_put_field(struct fr_frame *f, enum fr_tag tag, const void *data, size_t n)
{
	if (f->err != 0)
		return;
	if ((unsigned)tag == 0 || (unsigned)tag >= FR_TAG_COUNT || n > UINT16_MAX) {
		f->err = FR_ERR_INVALID;
		return;
	}
	if (n + 3 > sizeof(f->buf) - f->len) {
		f->err = FR_ERR_TOO_LARGE;
		return;
	}
	f->buf[f->len++] = (uint8_t)tag;
	f->buf[f->len++] = (uint8_t)(n >> 8);
	f->buf[f->len++] = (uint8_t)n;
	if (n > 0)
		memcpy(f->buf + f->len, data, n);
	f->len += n;
}

void
fr_frame_put_str(struct fr_frame *f, enum fr_tag tag, const char *s)
{
	if (s == NULL) {
		if (f->err == 0)
			f->err = FR_ERR_INVALID;
		return;
	}
	size_t n = strnlen(s, FR_WIRE_MAX_STRING + 1);
	if (n > FR_WIRE_MAX_STRING) {
		if (f->err == 0)
			f->err = FR_ERR_TOO_LARGE;
		return;
	}
	frame_put_field(f, tag, s, n);
}

void
fr_frame_put_u32(struct fr_frame *f, enum fr_tag tag, uint32_t v)
{
	uint8_t b[4];

	put_be32(b, v);
	frame_put_field(f, tag, b, sizeof(b));
}

void
fr_frame_put_u64(struct fr_frame *f, enum fr_tag tag, uint64_t v)
{
	uint8_t b[8];

	put_be32(b, (uint32_t)(v >> 32));
	put_be32(b + 4, (uint32_t)v);
	frame_put_field(f, tag, b, sizeof(b));
}

int
fr_frame_finish(struct fr_frame *f)
{
	if (f->err != 0)
		return f->err;
	size_t payload = f->len - FR_WIRE_HEADER_LEN;
	if (payload > FR_WIRE_MAX_PAYLOAD)
		return f->err = FR_ERR_TOO_LARGE;
	put_be32(f->buf, (uint32_t)payload);
	/* Encode and decode share one table: never send what the peer
	 * would reject.  The check costs one copy of at most 8 KiB. */
	struct fr_msg check;
	int r = fr_msg_decode(f->buf + FR_WIRE_HEADER_LEN, payload, &check);
	fr_msg_wipe(&check);
	if (r != 0)
		f->err = r;
	return r;
}

void
fr_frame_wipe(struct fr_frame *f)
{
	explicit_bzero(f->buf, sizeof(f->buf));
	f->len = 0;
}

const char *
fr_msg_type_name(int type)
{
	switch (type) {
	case FR_MSG_AUTH_BEGIN:
		return "AUTH_BEGIN";
	case FR_MSG_ANSWER:
		return "ANSWER";
	case FR_MSG_SESSION_OPEN:
		return "SESSION_OPEN";
	case FR_MSG_SESSION_CLOSE:
		return "SESSION_CLOSE";
	case FR_MSG_TOKEN_GET:
		return "TOKEN_GET";
	case FR_MSG_STATUS_GET:
		return "STATUS_GET";
	case FR_MSG_CACHE_LIST:
		return "CACHE_LIST";
	case FR_MSG_CACHE_FORGET:
		return "CACHE_FORGET";
	case FR_MSG_TWOFA_STATUS_GET:
		return "TWOFA_STATUS_GET";
	case FR_MSG_TWOFA_SETUP:
		return "TWOFA_SETUP";
	case FR_MSG_TWOFA_ENABLE:
		return "TWOFA_ENABLE";
	case FR_MSG_TWOFA_DISABLE:
		return "TWOFA_DISABLE";
	case FR_MSG_APIKEY_CREATE:
		return "APIKEY_CREATE";
	case FR_MSG_APIKEY_LIST:
		return "APIKEY_LIST";
	case FR_MSG_APIKEY_DELETE:
		return "APIKEY_DELETE";
	case FR_MSG_PASSWD_BEGIN:
		return "PASSWD_BEGIN";
	case FR_MSG_PROMPT:
		return "PROMPT";
	case FR_MSG_INFO:
		return "INFO";
	case FR_MSG_ERROR:
		return "ERROR";
	case FR_MSG_DONE:
		return "DONE";
	case FR_MSG_TOKEN:
		return "TOKEN";
	case FR_MSG_STATUS:
		return "STATUS";
	case FR_MSG_CACHE_ENTRY:
		return "CACHE_ENTRY";
	case FR_MSG_TWOFA_STATE:
		return "TWOFA_STATE";
	case FR_MSG_TWOFA_SECRET:
		return "TWOFA_SECRET";
	case FR_MSG_RECOVERY_CODE:
		return "RECOVERY_CODE";
	case FR_MSG_APIKEY_NEW:
		return "APIKEY_NEW";
	case FR_MSG_APIKEY_ENTRY:
		return "APIKEY_ENTRY";
	default:
		return "UNKNOWN";
	}
}

const char *
fr_result_name(int result)
{
	switch (result) {
	case FR_RESULT_SUCCESS:
		return "success";
	case FR_RESULT_AUTH_ERR:
		return "auth_err";
	case FR_RESULT_MAXTRIES:
		return "maxtries";
	case FR_RESULT_AUTHINFO_UNAVAIL:
		return "authinfo_unavail";
	case FR_RESULT_USER_UNKNOWN:
		return "user_unknown";
	case FR_RESULT_IGNORE:
		return "ignore";
	case FR_RESULT_CONV_ERR:
		return "conv_err";
	case FR_RESULT_PERM_DENIED:
		return "perm_denied";
	case FR_RESULT_SYSTEM_ERR:
		return "system_err";
	case FR_RESULT_NOT_FOUND:
		return "not_found";
	case FR_RESULT_BUSY:
		return "busy";
	default:
		return "unknown";
	}
}
