/*
 * Logging to stderr (the journal under systemd), without stdio buffers or allocation, and the
 * reasons that go back to a peer in an error reply.
 */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "helper.h"

static bool debug_enabled;
static int log_fd = STDERR_FILENO;

void helper_log_set_debug(bool debug)
{
	debug_enabled = debug;
}

void helper_log_set_fd(int fd)
{
	log_fd = fd;
}

__attribute__((format(printf, 1, 0))) static void log_va(const char *fmt, va_list ap)
{
	char line[256];
	int prefix = snprintf(line, sizeof(line), "kmscast-helper: ");
	int n = vsnprintf(line + prefix, sizeof(line) - prefix - 1, fmt, ap);
	if (n < 0) {
		return;
	}
	size_t len = (size_t)prefix + (size_t)n;
	if (len > sizeof(line) - 2) {
		len = sizeof(line) - 2;
	}
	line[len++] = '\n';
	/* One write(2) so lines from several helpers do not interleave; the result is moot. */
	if (log_fd < 0) {
		return;
	}
	ssize_t r = write(log_fd, line, len);
	(void)r;
}

void helper_log(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_va(fmt, ap);
	va_end(ap);
}

void helper_log_debug(const char *fmt, ...)
{
	if (!debug_enabled) {
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	log_va(fmt, ap);
	va_end(ap);
}

int helper_fail(char *reason, size_t reason_size, int error, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, reason_size, fmt, ap);
	va_end(ap);
	return error;
}
