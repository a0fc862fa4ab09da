/* SPDX-License-Identifier: MIT */
#ifndef KMSCAST_TEST_H
#define KMSCAST_TEST_H

/*
 * The whole assert harness: a failed check prints where and why and exits non-zero, so
 * meson reports the test failed. A test that expects a crash forks.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define test_fail(...)                                                                      \
	do {                                                                                \
		fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, __func__);               \
		fprintf(stderr, __VA_ARGS__);                                                \
		fputc('\n', stderr);                                                        \
		exit(EXIT_FAILURE);                                                         \
	} while (0)

#define test_assert(cond)                                                                   \
	do {                                                                                \
		if (!(cond))                                                                \
			test_fail("assertion failed: %s", #cond);                           \
	} while (0)

#define test_assert_int_eq(a, b)                                                            \
	do {                                                                                \
		long long a_ = (long long)(a), b_ = (long long)(b);                         \
		if (a_ != b_)                                                               \
			test_fail("%s == %lld, expected %s == %lld", #a, a_, #b, b_);       \
	} while (0)

#define test_assert_str_eq(a, b)                                                            \
	do {                                                                                \
		const char *a_ = (a), *b_ = (b);                                            \
		if (strcmp(a_, b_) != 0)                                                    \
			test_fail("%s == \"%s\", expected \"%s\"", #a, a_, b_);             \
	} while (0)

struct test_case {
	const char *name;
	void (*func)(void);
};

#define TEST_MAIN(...)                                                                      \
	int main(void)                                                                      \
	{                                                                                   \
		static const struct test_case cases[] = {__VA_ARGS__};                      \
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {            \
			cases[i].func();                                                    \
			printf("ok %zu - %s\n", i + 1, cases[i].name);                      \
		}                                                                           \
		return 0;                                                                   \
	}

#define TEST(fn) {#fn, fn}

#endif
