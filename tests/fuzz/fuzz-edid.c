/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for edid_parse: the EDID blob comes from the monitor (or whatever sits
 * on the cable), so every byte is hostile. Each input is parsed as it is, and once more
 * with the header and checksum made valid, so that random inputs reach the descriptors.
 * The strings it returns must be NUL-terminated printable ASCII.
 */
#include <stdlib.h>
#include <string.h>

#include "edid.h"
#include "fuzz.h"

/* Bigger than any EDID (256 blocks); the parser reads only the base block. */
#define FUZZ_EDID_MAX (256 * EDID_BLOCK_SIZE)

static void check_text(const char *s, size_t size)
{
	size_t len = strnlen(s, size);
	if (len == size) {
		abort(); /* not terminated */
	}
	for (size_t i = 0; i < len; i++) {
		if (s[i] < 0x20 || s[i] > 0x7e) {
			abort();
		}
	}
}

static void parse(const uint8_t *blob, size_t size)
{
	struct kms_monitor mon;
	if (edid_parse(blob, size, &mon) < 0) {
		return;
	}
	check_text(mon.vendor, sizeof(mon.vendor));
	check_text(mon.name, sizeof(mon.name));
	check_text(mon.serial_str, sizeof(mon.serial_str));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t header[8] = {0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00};
	if (size > FUZZ_EDID_MAX) {
		return 0;
	}
	parse(data, size);
	if (size < EDID_BLOCK_SIZE) {
		return 0;
	}
	/* A copy of exactly the input's size, so ASan sees any read past the blob. */
	uint8_t *fixed = malloc(size);
	if (fixed == NULL) {
		abort();
	}
	memcpy(fixed, data, size);
	memcpy(fixed, header, sizeof(header));
	uint8_t sum = 0;
	for (size_t i = 0; i < EDID_BLOCK_SIZE - 1; i++) {
		sum = (uint8_t)(sum + fixed[i]);
	}
	fixed[EDID_BLOCK_SIZE - 1] = (uint8_t)(0x100 - sum);
	parse(fixed, size);
	free(fixed);
	return 0;
}
