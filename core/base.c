// SPDX-License-Identifier: MIT
/*
 * core/base.c - the floor under every other core file: messages, the
 * clock, and the backend the core runs on.  It calls nothing of hakmem's, holds no lock and never allocates,
 * so any layer may use it, from any context, even before set-up is done.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "backend.h"

const struct hak_backend_ops *hak_backend __hak_read_mostly =
	IS_ENABLED(CONFIG_HAKMEM_USE_STATIC) ? &hak_backend_static :
	IS_ENABLED(CONFIG_HAKMEM_BACKEND_FAULT) ? &hak_backend_fault : &hak_backend_mmap;

uint64_t hak_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Messages are formatted on the stack and written with write(2): no malloc. */
static void vmessage(const char *kind, const char *fmt, va_list ap)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "hakmem: %s", kind);

	if (n < 0)
		return;
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, (size_t)n) < 0)
		return;
}

void hak_warn(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vmessage("", fmt, ap);
	va_end(ap);
	errno = saved;
}

void hak_panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage("fatal: ", fmt, ap);
	va_end(ap);
	abort();
}
