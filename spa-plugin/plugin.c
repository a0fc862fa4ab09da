/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>

#include <spa/support/plugin.h>

extern const struct spa_handle_factory kmscast_source_factory;

SPA_EXPORT
int spa_handle_factory_enum(const struct spa_handle_factory **factory, uint32_t *index)
{
	switch (*index) {
	case 0:
		*factory = &kmscast_source_factory;
		break;
	default:
		return 0;
	}
	(*index)++;
	return 1;
}
