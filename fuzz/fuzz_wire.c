/* libFuzzer: the wire protocol parser, as the helper and the module use it
 * on bytes from the other side of the socket. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fr_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fr_msg msg;
	size_t plen;

	/* Framed, as conn_process_input sees it ... */
	if (fr_wire_payload_length(data, size, &plen) == 0 && size >= FR_WIRE_HEADER_LEN + plen &&
	    fr_msg_decode(data + FR_WIRE_HEADER_LEN, plen, &msg) == 0) {
		for (int tag = 0; tag <= FR_TAG_COUNT; tag++) {
			const char *s = fr_msg_str(&msg, (enum fr_tag)tag);
			if (s != NULL && strlen(s) > FR_WIRE_MAX_STRING)
				__builtin_trap();
			(void)fr_msg_num(&msg, (enum fr_tag)tag);
			(void)fr_msg_has(&msg, (enum fr_tag)tag);
		}
		(void)fr_msg_type_name(msg.type);
		fr_msg_wipe(&msg);
	}
	/* ... and as a bare payload. */
	if (fr_msg_decode(data, size, &msg) == 0) {
		/* Re-encoding what was decoded must give a frame that decodes. */
		struct fr_frame frame;
		fr_frame_init(&frame, (enum fr_msg_type)msg.type);
		for (int tag = 1; tag < FR_TAG_COUNT; tag++) {
			const char *s = fr_msg_str(&msg, (enum fr_tag)tag);
			if (s != NULL)
				fr_frame_put_str(&frame, (enum fr_tag)tag, s);
		}
		if (fr_frame_finish(&frame) == 0) {
			struct fr_msg again;
			if (fr_wire_payload_length(frame.buf, frame.len, &plen) != 0)
				__builtin_trap();
			if (fr_msg_decode(frame.buf + FR_WIRE_HEADER_LEN, plen, &again) == 0)
				fr_msg_wipe(&again);
		}
		fr_frame_wipe(&frame);
		/* fr_msg_encode, as a request waiting on a lookup is kept: its
		 * payload decodes to the same fields. */
		uint8_t payload[FR_WIRE_MAX_PAYLOAD];
		size_t need = fr_msg_encode(&msg, payload, sizeof(payload));
		struct fr_msg held;
		if (need < 2 || need > size || fr_msg_decode(payload, need, &held) != 0 || held.type != msg.type ||
		    held.present != msg.present)
			__builtin_trap();
		for (int tag = 1; tag < FR_TAG_COUNT; tag++) {
			const char *a = fr_msg_str(&msg, (enum fr_tag)tag), *b = fr_msg_str(&held, (enum fr_tag)tag);
			if ((a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0) ||
			    fr_msg_num(&msg, (enum fr_tag)tag) != fr_msg_num(&held, (enum fr_tag)tag))
				__builtin_trap();
		}
		explicit_bzero(payload, need);
		fr_msg_wipe(&held);
		fr_msg_wipe(&msg);
	}
	return 0;
}
