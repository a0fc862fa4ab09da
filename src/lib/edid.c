/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "edid.h"

#define EDID_DESCRIPTOR_OFFSET 54
#define EDID_DESCRIPTOR_SIZE 18
#define EDID_DESCRIPTOR_COUNT 4
#define EDID_DESCRIPTOR_TEXT_LEN 13

enum edid_descriptor_tag {
	EDID_TAG_SERIAL = 0xff,
	EDID_TAG_NAME = 0xfc,
};

static const uint8_t edid_header[8] = {0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00};

/* Descriptor text is up to 13 bytes, ended by 0x0a and padded with spaces. */
static void copy_descriptor_text(const uint8_t *text, char *out, size_t out_size)
{
	size_t n = 0;

	for (size_t i = 0; i < EDID_DESCRIPTOR_TEXT_LEN && n + 1 < out_size; i++) {
		if (text[i] == 0x0a || text[i] == 0x00) {
			break;
		}
		/* The monitor is not trusted: keep printable ASCII only. */
		out[n++] = (text[i] >= 0x20 && text[i] < 0x7f) ? (char)text[i] : '?';
	}
	while (n > 0 && out[n - 1] == ' ') {
		n--;
	}
	out[n] = '\0';
}

static void parse_vendor(const uint8_t *edid, char vendor[4])
{
	uint16_t id = (uint16_t)(edid[8] << 8 | edid[9]);
	char letters[3] = {
		(char)('A' - 1 + ((id >> 10) & 0x1f)),
		(char)('A' - 1 + ((id >> 5) & 0x1f)),
		(char)('A' - 1 + (id & 0x1f)),
	};

	for (int i = 0; i < 3; i++) {
		vendor[i] = (letters[i] >= 'A' && letters[i] <= 'Z') ? letters[i] : '?';
	}
	vendor[3] = '\0';
}

int edid_parse(const uint8_t *edid, size_t size, struct kms_monitor *out)
{
	uint8_t sum = 0;

	memset(out, 0, sizeof(*out));
	if (!edid || size < EDID_BLOCK_SIZE) {
		return -EINVAL;
	}
	if (memcmp(edid, edid_header, sizeof(edid_header)) != 0) {
		return -EINVAL;
	}
	for (size_t i = 0; i < EDID_BLOCK_SIZE; i++) {
		sum = (uint8_t)(sum + edid[i]);
	}
	if (sum != 0) {
		return -EINVAL;
	}

	parse_vendor(edid, out->vendor);
	out->product = (uint16_t)(edid[10] | edid[11] << 8);
	out->serial = (uint32_t)edid[12] | (uint32_t)edid[13] << 8 | (uint32_t)edid[14] << 16 |
		      (uint32_t)edid[15] << 24;

	for (int d = 0; d < EDID_DESCRIPTOR_COUNT; d++) {
		const uint8_t *desc = edid + EDID_DESCRIPTOR_OFFSET + d * EDID_DESCRIPTOR_SIZE;

		/* Bytes 0-1 zero mark a display descriptor rather than a timing. */
		if (desc[0] != 0 || desc[1] != 0) {
			continue;
		}
		if (desc[3] == EDID_TAG_NAME) {
			copy_descriptor_text(desc + 5, out->name, sizeof(out->name));
		} else if (desc[3] == EDID_TAG_SERIAL) {
			copy_descriptor_text(desc + 5, out->serial_str, sizeof(out->serial_str));
		}
	}
	return 0;
}
