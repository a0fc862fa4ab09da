/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_EDID_H
#define KMSCAST_EDID_H

#include <stddef.h>
#include <stdint.h>

#define EDID_BLOCK_SIZE 128
#define KMS_MONITOR_MAX 16

/* A connector's monitor as its EDID names it (struct kms_connector::monitor). */
struct kms_monitor {
	char name[KMS_MONITOR_MAX]; /* EDID display product name, "" when absent */
	char vendor[4]; /* EDID PNP id, "" when no EDID */
	uint16_t product;
	uint32_t serial;
	char serial_str[KMS_MONITOR_MAX]; /* EDID serial string descriptor */
};

/*
 * Parses the base block of an EDID blob into monitor identity: PNP vendor id, product
 * code, serial number, and the display name and serial string descriptors. The blob
 * comes from the monitor, so nothing in it is trusted. Returns 0, or -EINVAL when it is
 * shorter than a block or its header or checksum is wrong.
 */
int edid_parse(const uint8_t *edid, size_t size, struct kms_monitor *out);

#endif
