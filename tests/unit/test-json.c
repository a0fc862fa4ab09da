/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "json-writer.h"
#include "test.h"

static char *render(void (*build)(struct json_writer *), int *ret)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	struct json_writer w;

	test_assert(f != NULL);
	json_writer_init(&w, f);
	build(&w);
	*ret = json_writer_finish(&w);
	fclose(f);
	return buf;
}

static void build_nested(struct json_writer *w)
{
	json_begin_object(w, NULL);
	json_string(w, "name", "card0");
	json_begin_array(w, "crtcs");
	json_begin_object(w, NULL);
	json_uint(w, "id", 34);
	json_int(w, "x", -5);
	json_bool(w, "active", true);
	json_null(w, "fb");
	json_end_object(w);
	json_uint(w, NULL, 7);
	json_end_array(w);
	json_end_object(w);
}

static void test_nested(void)
{
	int ret;
	char *s = render(build_nested, &ret);

	test_assert_int_eq(ret, 0);
	test_assert_str_eq(s, "{\"name\":\"card0\",\"crtcs\":[{\"id\":34,\"x\":-5,\"active\":true,"
			      "\"fb\":null},7]}\n");
	free(s);
}

/* EDID names and connector names end up here: quotes and control bytes are escaped. */
static void build_escaped(struct json_writer *w)
{
	json_begin_object(w, NULL);
	json_string(w, "m", "a\"b\\c\n\x01");
	json_end_object(w);
}

static void test_escaped(void)
{
	int ret;
	char *s = render(build_escaped, &ret);

	test_assert_int_eq(ret, 0);
	test_assert_str_eq(s, "{\"m\":\"a\\\"b\\\\c\\u000a\\u0001\"}\n");
	free(s);
}

static void build_too_deep(struct json_writer *w)
{
	for (int i = 0; i < JSON_MAX_DEPTH + 2; i++)
		json_begin_array(w, NULL);
}

static void build_unbalanced(struct json_writer *w)
{
	json_end_object(w);
}

static void test_misuse(void)
{
	int ret;

	free(render(build_too_deep, &ret));
	test_assert_int_eq(ret, -EOVERFLOW);
	free(render(build_unbalanced, &ret));
	test_assert_int_eq(ret, -EOVERFLOW);
}

TEST_MAIN(TEST(test_nested), TEST(test_escaped), TEST(test_misuse))
