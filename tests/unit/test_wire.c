#include "config.h"

#include <string.h>

#include "check.h"
#include "fr_error.h"
#include "fr_wire.h"

static struct fr_msg msg;
static struct fr_frame frame;

static int
decode_frame(void)
{
	size_t len;
	int r = fr_wire_payload_length(frame.buf, frame.len, &len);

	if (r != 0)
		return r;
	if (len + FR_WIRE_HEADER_LEN != frame.len)
		return FR_ERR_INVALID;
	return fr_msg_decode(frame.buf + FR_WIRE_HEADER_LEN, len, &msg);
}

static void
test_round_trip(void)
{
	fr_frame_init(&frame, FR_MSG_AUTH_BEGIN);
	fr_frame_put_str(&frame, FR_TAG_USER, "alice");
	fr_frame_put_str(&frame, FR_TAG_SERVICE, "sshd");
	fr_frame_put_str(&frame, FR_TAG_AUTHTOK, "s3cret");
	fr_frame_put_u32(&frame, FR_TAG_AUTHTOK_MODE, FR_AUTHTOK_TRY);
	CHECK(fr_frame_finish(&frame) == 0);
	CHECK(decode_frame() == 0);
	CHECK(msg.type == FR_MSG_AUTH_BEGIN);
	CHECK(strcmp(fr_msg_str(&msg, FR_TAG_USER), "alice") == 0);
	CHECK(strcmp(fr_msg_str(&msg, FR_TAG_AUTHTOK), "s3cret") == 0);
	CHECK(fr_msg_num(&msg, FR_TAG_AUTHTOK_MODE) == FR_AUTHTOK_TRY);
	CHECK(fr_msg_str(&msg, FR_TAG_RHOST) == NULL);
	CHECK(fr_msg_num(&msg, FR_TAG_USER) == 0);
	fr_msg_wipe(&msg);
	fr_frame_wipe(&frame);
	CHECK(frame.len == 0);
}

static void
test_empty_string_and_u64(void)
{
	fr_frame_init(&frame, FR_MSG_TOKEN);
	fr_frame_put_str(&frame, FR_TAG_TOKEN, "");
	fr_frame_put_u64(&frame, FR_TAG_EXPIRES, UINT64_C(0x123456789abcdef0));
	CHECK(fr_frame_finish(&frame) == 0);
	CHECK(decode_frame() == 0);
	CHECK(strcmp(fr_msg_str(&msg, FR_TAG_TOKEN), "") == 0);
	CHECK(fr_msg_num(&msg, FR_TAG_EXPIRES) == UINT64_C(0x123456789abcdef0));
}

static void
test_encoder_refuses_invalid(void)
{
	/* Missing required field. */
	fr_frame_init(&frame, FR_MSG_AUTH_BEGIN);
	fr_frame_put_str(&frame, FR_TAG_USER, "alice");
	CHECK(fr_frame_finish(&frame) == FR_ERR_INVALID);
	/* Tag not allowed for the type. */
	fr_frame_init(&frame, FR_MSG_ANSWER);
	fr_frame_put_str(&frame, FR_TAG_USER, "alice");
	CHECK(fr_frame_finish(&frame) == FR_ERR_INVALID);
	/* Duplicate. */
	fr_frame_init(&frame, FR_MSG_ANSWER);
	fr_frame_put_str(&frame, FR_TAG_TEXT, "a");
	fr_frame_put_str(&frame, FR_TAG_TEXT, "b");
	CHECK(fr_frame_finish(&frame) == FR_ERR_DUPLICATE);
	/* Out-of-range enum. */
	fr_frame_init(&frame, FR_MSG_PROMPT);
	fr_frame_put_str(&frame, FR_TAG_TEXT, "x");
	fr_frame_put_u32(&frame, FR_TAG_STYLE, 7);
	CHECK(fr_frame_finish(&frame) == FR_ERR_INVALID);
	/* Over-long string: the error is sticky. */
	char big[FR_WIRE_MAX_STRING + 2];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	fr_frame_init(&frame, FR_MSG_ANSWER);
	fr_frame_put_str(&frame, FR_TAG_TEXT, big);
	CHECK(fr_frame_finish(&frame) == FR_ERR_TOO_LARGE);
	fr_frame_init(&frame, FR_MSG_ANSWER);
	fr_frame_put_str(&frame, FR_TAG_TEXT, NULL);
	CHECK(fr_frame_finish(&frame) == FR_ERR_INVALID);
}

static void
test_decoder_rejects(void)
{
	const uint8_t wrong_version[] = { 2, FR_MSG_STATUS_GET };
	const uint8_t unknown_type[] = { 1, 99 };
	const uint8_t short_field[] = { 1, FR_MSG_ANSWER, FR_TAG_TEXT, 0 };
	const uint8_t overlong_field[] = { 1, FR_MSG_ANSWER, FR_TAG_TEXT, 0, 5, 'a', 'b' };
	const uint8_t embedded_nul[] = { 1, FR_MSG_ANSWER, FR_TAG_TEXT, 0, 3, 'a', 0, 'b' };
	const uint8_t bad_u32[] = { 1, FR_MSG_DONE, FR_TAG_RESULT, 0, 3, 0, 0, 0 };
	const uint8_t tag_zero[] = { 1, FR_MSG_ANSWER, 0, 0, 0 };
	const uint8_t tag_high[] = { 1, FR_MSG_ANSWER, 200, 0, 0 };
	const uint8_t ok_status[] = { 1, FR_MSG_STATUS_GET };

	CHECK(fr_msg_decode(wrong_version, sizeof(wrong_version), &msg) == FR_ERR_VERSION);
	CHECK(fr_msg_decode(unknown_type, sizeof(unknown_type), &msg) == FR_ERR_INVALID);
	CHECK(fr_msg_decode(short_field, sizeof(short_field), &msg) == FR_ERR_INVALID);
	CHECK(fr_msg_decode(overlong_field, sizeof(overlong_field), &msg) == FR_ERR_INVALID);
	CHECK(fr_msg_decode(embedded_nul, sizeof(embedded_nul), &msg) == FR_ERR_INVALID);
	CHECK(fr_msg_decode(bad_u32, sizeof(bad_u32), &msg) == FR_ERR_INVALID);
	CHECK(fr_msg_decode(tag_zero, sizeof(tag_zero), &msg) == FR_ERR_INVALID);
	CHECK(fr_msg_decode(tag_high, sizeof(tag_high), &msg) == FR_ERR_INVALID);
	CHECK(fr_msg_decode(ok_status, 1, &msg) == FR_ERR_INVALID);
	CHECK(fr_msg_decode(ok_status, sizeof(ok_status), &msg) == 0);
	CHECK(msg.type == FR_MSG_STATUS_GET);
	/* Failure leaves the output zeroed. */
	CHECK(fr_msg_decode(embedded_nul, sizeof(embedded_nul), &msg) != 0);
	CHECK(msg.type == 0 && msg.present == 0);
}

static void
test_length_prefix(void)
{
	const uint8_t too_big[] = { 0, 0, 0x20, 0x01 };
	const uint8_t zero[] = { 0, 0, 0, 0 };
	const uint8_t fine[] = { 0, 0, 0, 2 };
	size_t len = 99;

	CHECK(fr_wire_payload_length(too_big, 3, &len) == FR_ERR_AGAIN);
	CHECK(len == 0);
	CHECK(fr_wire_payload_length(too_big, 4, &len) == FR_ERR_TOO_LARGE);
	CHECK(fr_wire_payload_length(zero, 4, &len) == FR_ERR_INVALID);
	CHECK(fr_wire_payload_length(fine, 4, &len) == 0 && len == 2);
}

static void
test_largest_frame_fits(void)
{
	char s[FR_WIRE_MAX_STRING + 1];

	memset(s, 'x', FR_WIRE_MAX_STRING);
	s[FR_WIRE_MAX_STRING] = '\0';
	fr_frame_init(&frame, FR_MSG_STATUS);
	fr_frame_put_str(&frame, FR_TAG_VERSION_TEXT, s);
	CHECK(fr_frame_finish(&frame) == 0);
	CHECK(decode_frame() == 0);
	CHECK(strlen(fr_msg_str(&msg, FR_TAG_VERSION_TEXT)) == FR_WIRE_MAX_STRING);
}

/* STATUS carries the loop's longest pass and event as optional u64s. */
static void
test_status_loop_stall(void)
{
	fr_frame_init(&frame, FR_MSG_STATUS);
	fr_frame_put_str(&frame, FR_TAG_VERSION_TEXT, "1.0");
	fr_frame_put_u64(&frame, FR_TAG_LOOP_STALL_US, UINT64_C(4200));
	fr_frame_put_u64(&frame, FR_TAG_LOOP_EVENT_US, UINT64_C(900));
	CHECK(fr_frame_finish(&frame) == 0);
	CHECK(decode_frame() == 0);
	CHECK(fr_msg_has(&msg, FR_TAG_LOOP_STALL_US));
	CHECK(fr_msg_num(&msg, FR_TAG_LOOP_STALL_US) == 4200);
	CHECK(fr_msg_num(&msg, FR_TAG_LOOP_EVENT_US) == 900);
	/* Not a tag of the requests. */
	fr_frame_init(&frame, FR_MSG_STATUS_GET);
	fr_frame_put_u64(&frame, FR_TAG_LOOP_STALL_US, 1);
	CHECK(fr_frame_finish(&frame) != 0);
}

/* Encode `type` with the fields set by `put`, then decode it again:
 * 0, or the first error of either side. */
static int
encode_decode(enum fr_msg_type type, void (*put)(struct fr_frame *f))
{
	int r;

	fr_frame_init(&frame, type);
	put(&frame);
	if ((r = fr_frame_finish(&frame)) != 0)
		return r;
	return decode_frame();
}

/* Nothing of `secret` is left in the message or the frame after wiping. */
static int
wiped(const char *secret)
{
	size_t n = strlen(secret);

	fr_msg_wipe(&msg);
	fr_frame_wipe(&frame);
	for (size_t i = 0; i + n <= sizeof(msg.data); i++)
		if (memcmp(msg.data + i, secret, n) == 0)
			return 0;
	for (size_t i = 0; i + n <= sizeof(frame.buf); i++)
		if (memcmp(frame.buf + i, secret, n) == 0)
			return 0;
	return msg.present == 0 && msg.type == 0;
}

static void
put_nothing(struct fr_frame *f)
{
	(void)f;
}
static void
put_code(struct fr_frame *f)
{
	fr_frame_put_str(f, FR_TAG_CODE, "492039");
}
static void
put_user(struct fr_frame *f)
{
	fr_frame_put_str(f, FR_TAG_USER, "alice");
}

static void
test_selfservice_requests(void)
{
	/* The 2FA and API key requests name no user: the helper takes the
	 * caller's own account from SO_PEERCRED, so a USER tag is refused. */
	static const enum fr_msg_type bare[] = {
		FR_MSG_TWOFA_STATUS_GET,
		FR_MSG_TWOFA_SETUP,
		FR_MSG_APIKEY_LIST,
	};
	for (size_t i = 0; i < sizeof(bare) / sizeof(bare[0]); i++) {
		CHECK(encode_decode(bare[i], put_nothing) == 0);
		CHECK(msg.type == bare[i] && msg.present == 0);
		CHECK(encode_decode(bare[i], put_user) == FR_ERR_INVALID);
		CHECK(encode_decode(bare[i], put_code) == FR_ERR_INVALID);
	}

	/* enable and disable: the code is required and is the only field. */
	static const enum fr_msg_type coded[] = { FR_MSG_TWOFA_ENABLE, FR_MSG_TWOFA_DISABLE };
	for (size_t i = 0; i < 2; i++) {
		CHECK(encode_decode(coded[i], put_nothing) == FR_ERR_INVALID);
		CHECK(encode_decode(coded[i], put_user) == FR_ERR_INVALID);
		CHECK(encode_decode(coded[i], put_code) == 0);
		CHECK(strcmp(fr_msg_str(&msg, FR_TAG_CODE), "492039") == 0);
		CHECK(wiped("492039"));
	}

	fr_frame_init(&frame, FR_MSG_APIKEY_CREATE);
	CHECK(fr_frame_finish(&frame) == FR_ERR_INVALID);
	fr_frame_init(&frame, FR_MSG_APIKEY_CREATE);
	fr_frame_put_str(&frame, FR_TAG_KEY_NAME, "CI deploys");
	CHECK(fr_frame_finish(&frame) == 0 && decode_frame() == 0);
	CHECK(strcmp(fr_msg_str(&msg, FR_TAG_KEY_NAME), "CI deploys") == 0);
	fr_frame_init(&frame, FR_MSG_APIKEY_CREATE);
	fr_frame_put_str(&frame, FR_TAG_KEY_NAME, "x");
	fr_frame_put_str(&frame, FR_TAG_USER, "bob");
	CHECK(fr_frame_finish(&frame) == FR_ERR_INVALID);

	fr_frame_init(&frame, FR_MSG_APIKEY_DELETE);
	CHECK(fr_frame_finish(&frame) == FR_ERR_INVALID);
	fr_frame_init(&frame, FR_MSG_APIKEY_DELETE);
	fr_frame_put_str(&frame, FR_TAG_KEY_ID, "key_abc123");
	CHECK(fr_frame_finish(&frame) == 0 && decode_frame() == 0);
	CHECK(strcmp(fr_msg_str(&msg, FR_TAG_KEY_ID), "key_abc123") == 0);
}

static void
test_selfservice_replies(void)
{
	/* TWOFA_STATE: a boolean, nothing else. */
	fr_frame_init(&frame, FR_MSG_TWOFA_STATE);
	CHECK(fr_frame_finish(&frame) == FR_ERR_INVALID);
	for (uint32_t v = 0; v <= 2; v++) {
		fr_frame_init(&frame, FR_MSG_TWOFA_STATE);
		fr_frame_put_u32(&frame, FR_TAG_TWOFA_ENABLED, v);
		CHECK((fr_frame_finish(&frame) == 0) == (v <= 1));
	}
	const uint8_t enabled_7[] = { 1, FR_MSG_TWOFA_STATE, FR_TAG_TWOFA_ENABLED, 0, 4, 0, 0, 0, 7 };
	CHECK(fr_msg_decode(enabled_7, sizeof(enabled_7), &msg) == FR_ERR_INVALID);
	const uint8_t enabled_1[] = { 1, FR_MSG_TWOFA_STATE, FR_TAG_TWOFA_ENABLED, 0, 4, 0, 0, 0, 1 };
	CHECK(fr_msg_decode(enabled_1, sizeof(enabled_1), &msg) == 0);
	CHECK(fr_msg_num(&msg, FR_TAG_TWOFA_ENABLED) == 1);

	/* TWOFA_SECRET: both the URI and the secret, both wiped. */
	fr_frame_init(&frame, FR_MSG_TWOFA_SECRET);
	fr_frame_put_str(&frame, FR_TAG_OTPAUTH_URI, "otpauth://totp/AIUS:a?secret=JBSWY3DPEHPK3PXP");
	CHECK(fr_frame_finish(&frame) == FR_ERR_INVALID);
	fr_frame_init(&frame, FR_MSG_TWOFA_SECRET);
	fr_frame_put_str(&frame, FR_TAG_OTPAUTH_URI, "otpauth://totp/AIUS:a?secret=JBSWY3DPEHPK3PXP");
	fr_frame_put_str(&frame, FR_TAG_TOTP_SECRET, "JBSWY3DPEHPK3PXP");
	CHECK(fr_frame_finish(&frame) == 0 && decode_frame() == 0);
	CHECK(strcmp(fr_msg_str(&msg, FR_TAG_TOTP_SECRET), "JBSWY3DPEHPK3PXP") == 0);
	CHECK(wiped("JBSWY3DPEHPK3PXP"));

	CHECK(encode_decode(FR_MSG_RECOVERY_CODE, put_code) == 0);
	CHECK(wiped("492039"));
	CHECK(encode_decode(FR_MSG_RECOVERY_CODE, put_nothing) == FR_ERR_INVALID);

	/* APIKEY_NEW carries the key; the listing's APIKEY_ENTRY never can. */
	fr_frame_init(&frame, FR_MSG_APIKEY_NEW);
	fr_frame_put_str(&frame, FR_TAG_KEY_ID, "key_abc123");
	CHECK(fr_frame_finish(&frame) == FR_ERR_INVALID);
	fr_frame_init(&frame, FR_MSG_APIKEY_NEW);
	fr_frame_put_str(&frame, FR_TAG_KEY_ID, "key_abc123");
	fr_frame_put_str(&frame, FR_TAG_API_KEY, "sk_live_0123456789abcdefghijklmn");
	fr_frame_put_str(&frame, FR_TAG_KEY_NAME, "CI");
	fr_frame_put_str(&frame, FR_TAG_CREATED_AT, "2023-10-27T10:00:00Z");
	CHECK(fr_frame_finish(&frame) == 0 && decode_frame() == 0);
	CHECK(strcmp(fr_msg_str(&msg, FR_TAG_API_KEY), "sk_live_0123456789abcdefghijklmn") == 0);
	CHECK(wiped("sk_live_0123456789abcdefghijklmn"));
	fr_frame_init(&frame, FR_MSG_APIKEY_NEW);
	fr_frame_put_str(&frame, FR_TAG_KEY_ID, "key_abc123");
	fr_frame_put_str(&frame, FR_TAG_API_KEY, "sk_live_x");
	fr_frame_put_str(&frame, FR_TAG_LAST_USED, "2023-10-27T11:30:00Z");
	CHECK(fr_frame_finish(&frame) == FR_ERR_INVALID);

	fr_frame_init(&frame, FR_MSG_APIKEY_ENTRY);
	fr_frame_put_str(&frame, FR_TAG_KEY_ID, "key_def456");
	CHECK(fr_frame_finish(&frame) == 0 && decode_frame() == 0);
	CHECK(fr_msg_str(&msg, FR_TAG_LAST_USED) == NULL); /* never used */
	fr_frame_init(&frame, FR_MSG_APIKEY_ENTRY);
	fr_frame_put_str(&frame, FR_TAG_KEY_ID, "key_def456");
	fr_frame_put_str(&frame, FR_TAG_KEY_NAME, "Staging Key");
	fr_frame_put_str(&frame, FR_TAG_CREATED_AT, "2023-10-25T09:00:00Z");
	fr_frame_put_str(&frame, FR_TAG_LAST_USED, "2023-10-27T11:30:00Z");
	CHECK(fr_frame_finish(&frame) == 0 && decode_frame() == 0);
	CHECK(strcmp(fr_msg_str(&msg, FR_TAG_LAST_USED), "2023-10-27T11:30:00Z") == 0);
	fr_frame_init(&frame, FR_MSG_APIKEY_ENTRY);
	fr_frame_put_str(&frame, FR_TAG_KEY_ID, "key_def456");
	fr_frame_put_str(&frame, FR_TAG_API_KEY, "sk_live_x");
	CHECK(fr_frame_finish(&frame) == FR_ERR_INVALID);
	fr_frame_init(&frame, FR_MSG_APIKEY_ENTRY);
	CHECK(fr_frame_finish(&frame) == FR_ERR_INVALID);
}

static void
put_passwd_begin(uint32_t chauthtok_flags)
{
	fr_frame_init(&frame, FR_MSG_PASSWD_BEGIN);
	fr_frame_put_str(&frame, FR_TAG_USER, "alice");
	fr_frame_put_str(&frame, FR_TAG_SERVICE, "passwd");
	fr_frame_put_u32(&frame, FR_TAG_CALLER_UID, 2001);
	fr_frame_put_u32(&frame, FR_TAG_CHAUTHTOK_FLAGS, chauthtok_flags);
}

static void
test_passwd_begin(void)
{
	put_passwd_begin(FR_CHAUTHTOK_UPDATE);
	fr_frame_put_str(&frame, FR_TAG_TTY, "/dev/pts/3");
	fr_frame_put_str(&frame, FR_TAG_RUSER, "alice");
	fr_frame_put_str(&frame, FR_TAG_RHOST, "ws7");
	fr_frame_put_u32(&frame, FR_TAG_PAM_FLAGS, 0x2000);
	CHECK(fr_frame_finish(&frame) == 0 && decode_frame() == 0);
	CHECK(msg.type == FR_MSG_PASSWD_BEGIN);
	/* Tags above 31 need the 64-bit presence mask. */
	CHECK(fr_msg_has(&msg, FR_TAG_CALLER_UID) && fr_msg_num(&msg, FR_TAG_CALLER_UID) == 2001);
	CHECK(fr_msg_num(&msg, FR_TAG_CHAUTHTOK_FLAGS) == FR_CHAUTHTOK_UPDATE);
	CHECK(strcmp(fr_msg_str(&msg, FR_TAG_TTY), "/dev/pts/3") == 0);

	/* Exactly one phase; EXPIRED_ONLY goes with either; no other bit. */
	put_passwd_begin(FR_CHAUTHTOK_PRELIM);
	CHECK(fr_frame_finish(&frame) == 0);
	put_passwd_begin(FR_CHAUTHTOK_PRELIM | FR_CHAUTHTOK_EXPIRED_ONLY);
	CHECK(fr_frame_finish(&frame) == 0);
	put_passwd_begin(FR_CHAUTHTOK_UPDATE | FR_CHAUTHTOK_EXPIRED_ONLY);
	CHECK(fr_frame_finish(&frame) == 0);
	put_passwd_begin(0);
	CHECK(fr_frame_finish(&frame) == FR_ERR_INVALID);
	put_passwd_begin(FR_CHAUTHTOK_EXPIRED_ONLY);
	CHECK(fr_frame_finish(&frame) == FR_ERR_INVALID);
	put_passwd_begin(FR_CHAUTHTOK_PRELIM | FR_CHAUTHTOK_UPDATE);
	CHECK(fr_frame_finish(&frame) == FR_ERR_INVALID);
	put_passwd_begin(FR_CHAUTHTOK_UPDATE | 0x8);
	CHECK(fr_frame_finish(&frame) == FR_ERR_INVALID);

	/* The password answers travel as ANSWER after PROMPT: a password in
	 * the request itself is refused. */
	put_passwd_begin(FR_CHAUTHTOK_UPDATE);
	fr_frame_put_str(&frame, FR_TAG_AUTHTOK, "old");
	CHECK(fr_frame_finish(&frame) == FR_ERR_INVALID);

	/* Each required tag is required. */
	static const enum fr_tag required[] = {
		FR_TAG_USER,
		FR_TAG_SERVICE,
		FR_TAG_CALLER_UID,
		FR_TAG_CHAUTHTOK_FLAGS,
	};
	for (size_t skip = 0; skip < 4; skip++) {
		fr_frame_init(&frame, FR_MSG_PASSWD_BEGIN);
		for (size_t i = 0; i < 4; i++) {
			if (i == skip)
				continue;
			if (required[i] == FR_TAG_USER || required[i] == FR_TAG_SERVICE)
				fr_frame_put_str(&frame, required[i], "x");
			else
				fr_frame_put_u32(&frame, required[i],
						 required[i] == FR_TAG_CALLER_UID ? 0 : FR_CHAUTHTOK_PRELIM);
		}
		CHECK(fr_frame_finish(&frame) == FR_ERR_INVALID);
	}
	/* CALLER_UID is a u32: a u64 field is malformed. */
	const uint8_t wide_uid[] = { 1, FR_MSG_PASSWD_BEGIN, FR_TAG_CALLER_UID, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0 };
	CHECK(fr_msg_decode(wide_uid, sizeof(wide_uid), &msg) == FR_ERR_INVALID);
}

static void
test_old_messages_unchanged(void)
{
	/* An AUTH_BEGIN of an older module, byte for byte, still decodes;
	 * the new tags are not allowed in it. */
	const uint8_t old_auth[] = {
		1, FR_MSG_AUTH_BEGIN, FR_TAG_USER, 0, 1, 'a', FR_TAG_SERVICE, 0, 3, 's', 's', 'h'
	};
	CHECK(fr_msg_decode(old_auth, sizeof(old_auth), &msg) == 0);
	CHECK(msg.type == FR_MSG_AUTH_BEGIN && strcmp(fr_msg_str(&msg, FR_TAG_SERVICE), "ssh") == 0);
	fr_frame_init(&frame, FR_MSG_AUTH_BEGIN);
	fr_frame_put_str(&frame, FR_TAG_USER, "a");
	fr_frame_put_str(&frame, FR_TAG_SERVICE, "ssh");
	fr_frame_put_u32(&frame, FR_TAG_CALLER_UID, 0);
	CHECK(fr_frame_finish(&frame) == FR_ERR_INVALID);
	fr_frame_init(&frame, FR_MSG_TOKEN_GET);
	fr_frame_put_str(&frame, FR_TAG_CODE, "1");
	CHECK(fr_frame_finish(&frame) == FR_ERR_INVALID);
	/* The first tag past the table is still unknown. */
	const uint8_t past_end[] = { 1, FR_MSG_ANSWER, FR_TAG_COUNT, 0, 0 };
	CHECK(fr_msg_decode(past_end, sizeof(past_end), &msg) == FR_ERR_INVALID);
	CHECK(strcmp(fr_msg_type_name(FR_MSG_PASSWD_BEGIN), "PASSWD_BEGIN") == 0);
	CHECK(strcmp(fr_msg_type_name(FR_MSG_APIKEY_ENTRY), "APIKEY_ENTRY") == 0);
}

/* Two decoded messages with the same fields, whatever their layout. */
static int
same_fields(const struct fr_msg *a, const struct fr_msg *b)
{
	if (a->type != b->type || a->present != b->present)
		return 0;
	for (int tag = 1; tag < FR_TAG_COUNT; tag++) {
		const char *sa = fr_msg_str(a, (enum fr_tag)tag), *sb = fr_msg_str(b, (enum fr_tag)tag);
		if ((sa == NULL) != (sb == NULL) || (sa != NULL && strcmp(sa, sb) != 0) ||
		    fr_msg_num(a, (enum fr_tag)tag) != fr_msg_num(b, (enum fr_tag)tag))
			return 0;
	}
	return 1;
}

static void
test_encode_gives_back_the_message(void)
{
	struct fr_msg again;
	uint8_t payload[FR_WIRE_MAX_PAYLOAD];

	fr_frame_init(&frame, FR_MSG_AUTH_BEGIN);
	fr_frame_put_str(&frame, FR_TAG_USER, "alice");
	fr_frame_put_str(&frame, FR_TAG_SERVICE, "sshd");
	fr_frame_put_str(&frame, FR_TAG_RHOST, "");
	fr_frame_put_str(&frame, FR_TAG_AUTHTOK, "s3cret");
	fr_frame_put_u32(&frame, FR_TAG_AUTHTOK_MODE, FR_AUTHTOK_TRY);
	fr_frame_put_u32(&frame, FR_TAG_PAM_FLAGS, 0x8000);
	CHECK(fr_frame_finish(&frame) == 0);
	CHECK(decode_frame() == 0);

	/* The size first, then the payload: as long as the frame's, since
	 * every field is there once. */
	size_t need = fr_msg_encode(&msg, NULL, 0);
	CHECK(need == frame.len - FR_WIRE_HEADER_LEN);
	memset(payload, 0xa5, sizeof(payload));
	CHECK(fr_msg_encode(&msg, payload, need - 1) == need && payload[0] == 0xa5);
	CHECK(fr_msg_encode(&msg, payload, sizeof(payload)) == need);
	CHECK(payload[need] == 0xa5);
	CHECK(fr_msg_decode(payload, need, &again) == 0);
	CHECK(same_fields(&msg, &again));
	CHECK(strcmp(fr_msg_str(&again, FR_TAG_AUTHTOK), "s3cret") == 0);
	CHECK(strcmp(fr_msg_str(&again, FR_TAG_RHOST), "") == 0);
	CHECK(fr_msg_num(&again, FR_TAG_PAM_FLAGS) == 0x8000);
	/* Far smaller than the decoded form a waiting request used to keep. */
	CHECK(need < 100 && sizeof(struct fr_msg) > 8192);

	/* A u64 and an empty message body survive it too. */
	fr_frame_init(&frame, FR_MSG_TOKEN);
	fr_frame_put_str(&frame, FR_TAG_TOKEN, "t");
	fr_frame_put_u64(&frame, FR_TAG_EXPIRES, UINT64_C(0x123456789abcdef0));
	CHECK(fr_frame_finish(&frame) == 0);
	CHECK(decode_frame() == 0);
	need = fr_msg_encode(&msg, payload, sizeof(payload));
	CHECK(fr_msg_decode(payload, need, &again) == 0 && same_fields(&msg, &again));
	fr_frame_init(&frame, FR_MSG_STATUS_GET);
	CHECK(fr_frame_finish(&frame) == 0);
	CHECK(decode_frame() == 0);
	CHECK(fr_msg_encode(&msg, payload, sizeof(payload)) == 2);
	CHECK(fr_msg_decode(payload, 2, &again) == 0 && same_fields(&msg, &again));

	/* Not a decoded message: a string pointing past its data. */
	fr_frame_init(&frame, FR_MSG_AUTH_BEGIN);
	fr_frame_put_str(&frame, FR_TAG_USER, "alice");
	fr_frame_put_str(&frame, FR_TAG_SERVICE, "sshd");
	CHECK(fr_frame_finish(&frame) == 0);
	CHECK(decode_frame() == 0);
	msg.offset[FR_TAG_USER] = (uint16_t)(sizeof(msg.data) - 2);
	CHECK(fr_msg_encode(&msg, payload, sizeof(payload)) == 0);
	fr_msg_wipe(&again);
	fr_msg_wipe(&msg);
	fr_frame_wipe(&frame);
}

int
main(void)
{
	test_round_trip();
	test_empty_string_and_u64();
	test_encoder_refuses_invalid();
	test_decoder_rejects();
	test_length_prefix();
	test_largest_frame_fits();
	test_status_loop_stall();
	test_selfservice_requests();
	test_selfservice_replies();
	test_passwd_begin();
	test_old_messages_unchanged();
	test_encode_gives_back_the_message();
	return check_finish("test_wire");
}
