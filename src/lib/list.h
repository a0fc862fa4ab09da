/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_LIST_H
#define KMSCAST_LIST_H

#include <stdbool.h>
#include <stdio.h>

/*
 * Prints every DRM card under dri_dir with its connectors, CRTCs and the framebuffers
 * their primary and cursor planes scan out: readable text, or one JSON document. Needs
 * no privilege beyond opening the cards. Returns 0, or -errno when no card could be read
 * (a card that fails is reported in the output and the others still listed).
 */
int kmscast_list(FILE *out, const char *dri_dir, bool json);

#endif
