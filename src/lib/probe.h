/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_PROBE_H
#define KMSCAST_PROBE_H

#include <stdint.h>
#include <stdio.h>

#include "helper-client.h"

/*
 * `kmscast --probe`: for every card and every active CRTC, exports the primary plane (and the
 * cursor plane, if it shows a framebuffer) through kmscast-helper, maps the DMA-BUF and prints
 * one line per plane:
 *
 *   card0 crtc 38 primary fb 45 1024x768 XR24 modifier 0x0 explicit fnv1a64 0x... handles 1
 *
 * The checksum is FNV-1a 64 over the visible pixels (width * bytes-per-pixel of each row, for
 * single-plane formats; whole rows otherwise). Everything runs unprivileged; only the helper
 * holds CAP_SYS_ADMIN. Returns 0 when at least one plane was exported and every active CRTC's
 * primary plane exported, else -errno (the reason is printed to out).
 */
int kmscast_probe(const struct helper_client_options *opts, FILE *out);

/*
 * Maps fb's first plane read-only (with DMA_BUF_IOCTL_SYNC around the read) and computes the
 * FNV-1a 64 checksum described above into *sum. Returns 0 or -errno.
 */
int kmscast_probe_checksum(const struct helper_fb *fb, uint64_t *sum);

#endif
