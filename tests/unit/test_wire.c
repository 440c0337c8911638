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
	return check_finish("test_wire");
}
