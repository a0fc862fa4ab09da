/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-device.h>

#include "seat.h"

bool seat_logind_running(const char *seats_dir)
{
	return access(seats_dir, F_OK) == 0;
}

static int copy_seat(sd_device *dev, char *seat, size_t size)
{
	const char *value = NULL;
	int r = sd_device_get_property_value(dev, "ID_SEAT", &value);

	if (r == -ENOENT) {
		value = SEAT_DEFAULT;
		r = 0;
	}
	if (r < 0) {
		return r;
	}
	if (value[0] == '\0' || (size_t)snprintf(seat, size, "%s", value) >= size) {
		return -EINVAL;
	}
	return 0;
}

int seat_of_devnum(dev_t devnum, char *seat, size_t size)
{
	sd_device *dev = NULL;
	int r = sd_device_new_from_devnum(&dev, 'c', devnum);

	if (r < 0) {
		return r;
	}
	r = copy_seat(dev, seat, size);
	sd_device_unref(dev);
	return r;
}

int seat_of_card(const char *card, char *seat, size_t size)
{
	sd_device *dev = NULL;
	int r;

	if (card[0] == '\0' || card[0] == '.' || strchr(card, '/')) {
		return -EINVAL;
	}
	r = sd_device_new_from_subsystem_sysname(&dev, "drm", card);
	if (r < 0) {
		return r;
	}
	r = copy_seat(dev, seat, size);
	sd_device_unref(dev);
	return r;
}
