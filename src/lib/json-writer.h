/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_JSON_WRITER_H
#define KMSCAST_JSON_WRITER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 16

/*
 * A streaming JSON writer for machine-readable output (--list --json). It tracks only
 * where commas go; callers nest objects and arrays in order. Going deeper than
 * JSON_MAX_DEPTH marks the writer failed, and json_writer_finish() reports it.
 */
struct json_writer {
	FILE *out;
	int depth;
	bool need_comma[JSON_MAX_DEPTH];
	bool failed;
};

void json_writer_init(struct json_writer *w, FILE *out);
/* Ends the document with a newline. Returns 0, or -EOVERFLOW after a nesting error. */
int json_writer_finish(struct json_writer *w);

/* key may be NULL inside arrays and at the top level. */
void json_begin_object(struct json_writer *w, const char *key);
void json_end_object(struct json_writer *w);
void json_begin_array(struct json_writer *w, const char *key);
void json_end_array(struct json_writer *w);
void json_string(struct json_writer *w, const char *key, const char *value);
void json_uint(struct json_writer *w, const char *key, uint64_t value);
void json_int(struct json_writer *w, const char *key, int64_t value);
void json_bool(struct json_writer *w, const char *key, bool value);
void json_null(struct json_writer *w, const char *key);

#endif
