/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>

#include "json-writer.h"

void json_writer_init(struct json_writer *w, FILE *out)
{
	*w = (struct json_writer){.out = out};
}

int json_writer_finish(struct json_writer *w)
{
	fputc('\n', w->out);
	return w->failed || w->depth != 0 ? -EOVERFLOW : 0;
}

static void put_escaped(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			fprintf(out, "\\%c", *p);
		} else if (*p < 0x20) {
			fprintf(out, "\\u%04x", *p);
		} else {
			fputc(*p, out);
		}
	}
	fputc('"', out);
}

static void begin_value(struct json_writer *w, const char *key)
{
	if (w->need_comma[w->depth]) {
		fputc(',', w->out);
	}
	w->need_comma[w->depth] = true;
	if (key) {
		put_escaped(w->out, key);
		fputc(':', w->out);
	}
}

static void open_scope(struct json_writer *w, const char *key, char c)
{
	begin_value(w, key);
	fputc(c, w->out);
	if (w->depth + 1 >= JSON_MAX_DEPTH) {
		w->failed = true;
		return;
	}
	w->need_comma[++w->depth] = false;
}

static void close_scope(struct json_writer *w, char c)
{
	fputc(c, w->out);
	if (w->depth == 0) {
		w->failed = true;
		return;
	}
	w->depth--;
}

void json_begin_object(struct json_writer *w, const char *key)
{
	open_scope(w, key, '{');
}

void json_end_object(struct json_writer *w)
{
	close_scope(w, '}');
}

void json_begin_array(struct json_writer *w, const char *key)
{
	open_scope(w, key, '[');
}

void json_end_array(struct json_writer *w)
{
	close_scope(w, ']');
}

void json_string(struct json_writer *w, const char *key, const char *value)
{
	begin_value(w, key);
	put_escaped(w->out, value);
}

void json_uint(struct json_writer *w, const char *key, uint64_t value)
{
	begin_value(w, key);
	fprintf(w->out, "%" PRIu64, value);
}

void json_int(struct json_writer *w, const char *key, int64_t value)
{
	begin_value(w, key);
	fprintf(w->out, "%" PRId64, value);
}

void json_bool(struct json_writer *w, const char *key, bool value)
{
	begin_value(w, key);
	fputs(value ? "true" : "false", w->out);
}

void json_null(struct json_writer *w, const char *key)
{
	begin_value(w, key);
	fputs("null", w->out);
}
