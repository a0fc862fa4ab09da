/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "edid.h"
#include "test.h"

/* A base block as a monitor sends it: header, vendor DEL, two text descriptors. */
static void make_edid(uint8_t edid[EDID_BLOCK_SIZE], const char *name, const char *serial)
{
	static const uint8_t header[8] = {0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00};
	uint8_t sum = 0;
	uint16_t vendor = ('D' - 'A' + 1) << 10 | ('E' - 'A' + 1) << 5 | ('L' - 'A' + 1);

	memset(edid, 0, EDID_BLOCK_SIZE);
	memcpy(edid, header, sizeof(header));
	edid[8] = (uint8_t)(vendor >> 8);
	edid[9] = (uint8_t)vendor;
	edid[10] = 0x34; /* product 0xa034, little endian */
	edid[11] = 0xa0;
	edid[12] = 0x78;
	edid[13] = 0x56;
	edid[14] = 0x34;
	edid[15] = 0x12;
	/* Descriptor 0 stays a detailed timing (non-zero pixel clock). */
	edid[54] = 0x01;
	edid[55] = 0x1d;
	if (name) {
		uint8_t *d = edid + 72;
		d[3] = 0xfc;
		memset(d + 5, ' ', 13);
		memcpy(d + 5, name, strlen(name) > 13 ? 13 : strlen(name));
		if (strlen(name) < 13)
			d[5 + strlen(name)] = 0x0a;
	}
	if (serial) {
		uint8_t *d = edid + 90;
		d[3] = 0xff;
		memset(d + 5, ' ', 13);
		memcpy(d + 5, serial, strlen(serial));
		d[5 + strlen(serial)] = 0x0a;
	}
	for (int i = 0; i < EDID_BLOCK_SIZE - 1; i++)
		sum = (uint8_t)(sum + edid[i]);
	edid[EDID_BLOCK_SIZE - 1] = (uint8_t)(0x100 - sum);
}

static void test_identity(void)
{
	uint8_t edid[EDID_BLOCK_SIZE];
	struct kms_monitor mon;

	make_edid(edid, "DELL U2415", "7MT0167B2YNL");
	test_assert_int_eq(edid_parse(edid, sizeof(edid), &mon), 0);
	test_assert_str_eq(mon.name, "DELL U2415");
	test_assert_str_eq(mon.serial_str, "7MT0167B2YNL");
	test_assert_str_eq(mon.vendor, "DEL");
	test_assert_int_eq(mon.product, 0xa034);
	test_assert_int_eq(mon.serial, 0x12345678);
}

/* 13 characters fill the descriptor with no terminator; trailing padding is trimmed. */
static void test_full_length_name(void)
{
	uint8_t edid[EDID_BLOCK_SIZE];
	struct kms_monitor mon;

	make_edid(edid, "ABCDEFGHIJKLM", NULL);
	test_assert_int_eq(edid_parse(edid, sizeof(edid), &mon), 0);
	test_assert_str_eq(mon.name, "ABCDEFGHIJKLM");
	test_assert_str_eq(mon.serial_str, "");
}

static void test_no_name(void)
{
	uint8_t edid[EDID_BLOCK_SIZE];
	struct kms_monitor mon;

	make_edid(edid, NULL, NULL);
	test_assert_int_eq(edid_parse(edid, sizeof(edid), &mon), 0);
	test_assert_str_eq(mon.name, "");
}

/* The monitor is not trusted: control bytes and high bytes never reach a log or a prop. */
static void test_unprintable(void)
{
	uint8_t edid[EDID_BLOCK_SIZE];
	struct kms_monitor mon;

	make_edid(edid, "A\x1b[2J\xff", NULL);
	test_assert_int_eq(edid_parse(edid, sizeof(edid), &mon), 0);
	test_assert_str_eq(mon.name, "A?[2J?");
}

static void test_rejects(void)
{
	uint8_t edid[EDID_BLOCK_SIZE];
	struct kms_monitor mon;

	make_edid(edid, "X", NULL);
	test_assert_int_eq(edid_parse(edid, EDID_BLOCK_SIZE - 1, &mon), -EINVAL);
	test_assert_int_eq(edid_parse(NULL, 0, &mon), -EINVAL);
	edid[100] ^= 1; /* checksum */
	test_assert_int_eq(edid_parse(edid, sizeof(edid), &mon), -EINVAL);
	make_edid(edid, "X", NULL);
	edid[0] = 0x01; /* header */
	test_assert_int_eq(edid_parse(edid, sizeof(edid), &mon), -EINVAL);
}

TEST_MAIN(TEST(test_identity), TEST(test_full_length_name), TEST(test_no_name),
		TEST(test_unprintable), TEST(test_rejects))
