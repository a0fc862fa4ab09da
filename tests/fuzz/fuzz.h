/* SPDX-License-Identifier: MIT */
/*
 * What every fuzz target shares: the libFuzzer entry point, and a check that an input left
 * no fd open. A target built without -fsanitize=fuzzer links fuzz-replay.c for its main().
 */
#ifndef KMSCAST_FUZZ_H
#define KMSCAST_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The lowest free fd; the same before and after an input, or an fd leaked. */
static inline int fuzz_lowest_free_fd(void)
{
	int fd = dup(2);
	if (fd < 0) {
		abort();
	}
	close(fd);
	return fd;
}

#endif
