/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_EDID_H
#define KMSCAST_EDID_H

#include <stddef.h>
#include <stdint.h>

#include "kms.h"

#define EDID_BLOCK_SIZE 128

/*
 * Parses the base block of an EDID blob into monitor identity: PNP vendor id, product
 * code, serial number, and the display name and serial string descriptors. The blob
 * comes from the monitor, so nothing in it is trusted. Returns 0, or -EINVAL when it is
 * shorter than a block or its header or checksum is wrong.
 */
int edid_parse(const uint8_t *edid, size_t size, struct kms_monitor *out);

#endif
