// SPDX-License-Identifier: MIT
/*
 * core/base.c - the floor under every other core file: messages, the
 * clock, file names from patterns, and the backend the core runs on.  It
 * calls nothing of hakmem's, holds no lock and never allocates, so any
 * layer may use it, from any context, even before set-up is done
 * (the backend from set-up's first step on).
 *
 * Backends register themselves (HAK_REGISTER_BACKEND); the core names
 * none.  Kconfig decides which are built, their ratings which one runs:
 * the highest-rated source, as the kernel picks a clocksource, under every
 * decorator in link order.  hak_backend_init() runs first in hak_init(),
 * single-threaded, before anything is reserved.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "backend.h"

HAK_SECTION_BOUNDS(const struct hak_backend *, hak_backends);

const struct hak_backend_ops *hak_backend __hak_read_mostly;

#define for_each_backend(b)							\
	for (const struct hak_backend *const *b = __start_hak_backends;		\
	     b < __stop_hak_backends; b++)

const struct hak_backend_ops *hak_backend_find(const char *name)
{
	for_each_backend(b)
		if ((*b)->ops && !strcmp((*b)->ops->name, name))
			return (*b)->ops;
	return NULL;
}

void hak_backend_init(void)
{
	const struct hak_backend *best = NULL;
	const struct hak_backend_ops *ops;

	for_each_backend(b)
		if ((*b)->ops && (*b)->rating > 0 && (!best || (*b)->rating > best->rating))
			best = *b;
	if (!best)
		hak_panic("no source of memory in this build (CONFIG_HAKMEM_BACKEND_MMAP)");
	ops = best->ops;
	for_each_backend(b)
		if ((*b)->stack)
			ops = (*b)->stack(ops);
	hak_backend = ops;
}

/*
 * The clock, read on slow paths only.  A test may stop it at @fake_ns and
 * move it by hand (hak_clock_set_fake), as jemalloc's unit tests do, so
 * that everything that ages (the policy's events and decisions, the
 * fronts' sweeps, decay) runs the same way every time; 0 is the real one.
 * The trace replay (tools/replay/) drives it from the trace's times.
 */
static _Atomic uint64_t fake_ns;

void hak_clock_set_fake(uint64_t ns)
{
	atomic_store_explicit(&fake_ns, ns, memory_order_relaxed);
}

static uint64_t clock_read(clockid_t id)
{
	uint64_t fake = atomic_load_explicit(&fake_ns, memory_order_relaxed);
	struct timespec ts;

	if (hak_unlikely(fake))
		return fake;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t hak_now_ns(void)
{
	return clock_read(CLOCK_MONOTONIC);
}

uint64_t hak_now_ms(void)
{
	return clock_read(CLOCK_MONOTONIC_COARSE) / 1000000;
}

/*
 * A file name from a pattern: %p is the process id, %e the program's
 * name, %% a percent sign; anything else is kept as it is.  So each
 * process of a pipeline or a shell script writes a file of its own
 * (HAKMEM_STATS_FILE=stats.%e.%p), the way core_pattern names cores.
 */
void hak_path_format(const char *pattern, char *out, size_t len)
{
	size_t n = 0;

	for (const char *c = pattern; *c && n + 1 < len; c++) {
		int w = 0;

		if (c[0] == '%' && c[1] == 'p')
			w = snprintf(out + n, len - n, "%ld", (long)getpid());
		else if (c[0] == '%' && c[1] == 'e')
			w = snprintf(out + n, len - n, "%s", program_invocation_short_name);
		else if (c[0] == '%' && c[1] == '%')
			w = snprintf(out + n, len - n, "%%");
		else
			out[n++] = *c;
		if (w) {
			c++;
			n += (size_t)w < len - n ? (size_t)w : len - n - 1;
		}
	}
	out[n] = 0;
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
