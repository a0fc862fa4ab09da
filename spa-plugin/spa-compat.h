/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_SPA_COMPAT_H
#define KMSCAST_SPA_COMPAT_H

/*
 * SPA bits newer than the oldest headers the plugin builds with (PipeWire 0.3.65, Debian 12),
 * defined once here. Each is a flag in a field older peers already have: a server or stream
 * that predates it ignores the bit.
 */

#include <spa/buffer/buffer.h>
#include <spa/node/io.h>

/* 1.1.81: the fd maps with a plain mmap. Streams with MAP_BUFFERS map only such data. */
#ifndef SPA_DATA_FLAG_MAPPABLE
#define SPA_DATA_FLAG_MAPPABLE (1u << 3)
#endif

/* 1.3.81: the clock's ticks follow nsec, not position * rate. */
#ifndef SPA_IO_CLOCK_FLAG_NO_RATE
#define SPA_IO_CLOCK_FLAG_NO_RATE (1u << 3)
#endif

#endif
