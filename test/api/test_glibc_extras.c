/* SPDX-License-Identifier: MIT */
/*
 * test_glibc_extras.c - glibc's malloc extras and aliases answered by
 * hakmem (frontends/glibc.c, libc.c): malloc_trim, mallinfo2, mallinfo,
 * mallopt, malloc_stats, malloc_info, cfree and __libc_*.
 *
 * Built twice: linked with -lhakmem, and as test_glibc_extras.preload,
 * linked with nothing of hakmem's and run under LD_PRELOAD.  So the
 * native API is reached through dlsym only.
 *
 * main() runs the suite again with HAKMEM_PURGE_DELAY_MS=60000 when it
 * is not set: freed memory then stays committed until malloc_trim, so
 * what the trim finds does not depend on how fast the test ran.
 */
#define _GNU_SOURCE
#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"

void *__libc_malloc(size_t size);
void __libc_free(void *p);
void *__libc_calloc(size_t nmemb, size_t size);
void *__libc_realloc(void *p, size_t size);
void *__libc_memalign(size_t align, size_t size);
void *__libc_valloc(size_t size);
void *__libc_pvalloc(size_t size);

/* glibc keeps cfree for old binaries only: no program can link with it. */
static void cfree(void *p)
{
	void (*f)(void *) = (void (*)(void *))dlsym(RTLD_DEFAULT, "cfree");

	ck_assert_msg(f != NULL, "cfree is not defined");
	f(p);
}

static void *(*volatile f_malloc)(size_t) = malloc;
static void (*volatile f_free)(void *) = free;

/* hak_stat_get through dlsym: 0 and the value, or -1 (no statistics). */
static int hak_stat(const char *name, uint64_t *v)
{
	int (*get)(const char *, uint64_t *) =
		(int (*)(const char *, uint64_t *))dlsym(RTLD_DEFAULT, "hak_stat_get");

	ck_assert_msg(get != NULL, "hakmem is not loaded");
	return get(name, v);
}

static int have_gauges(void)
{
	uint64_t v;

	return hak_stat("bytes.mapped", &v) == 0;
}

/* ---- symbols ---------------------------------------------------------- */

START_TEST(extras_are_hakmem)
{
	static const char *const names[] = {
		"malloc_trim", "mallinfo", "mallinfo2", "mallopt", "malloc_stats",
		"malloc_info", "cfree", "__libc_malloc", "__libc_free", "__libc_calloc",
		"__libc_realloc", "__libc_memalign", "__libc_valloc", "__libc_pvalloc",
	};
	void *ver = dlsym(RTLD_DEFAULT, "hak_version");
	Dl_info hak, info;

	ck_assert_msg(ver != NULL, "hakmem is not loaded");
	ck_assert(dladdr(ver, &hak) != 0);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		void *sym = dlsym(RTLD_DEFAULT, names[i]);

		ck_assert_msg(sym != NULL, "%s is not defined", names[i]);
		ck_assert(dladdr(sym, &info) != 0);
		ck_assert_msg(info.dli_fbase == hak.dli_fbase, "%s resolves to %s, not hakmem",
			      names[i], info.dli_fname);
	}
}
END_TEST

/* ---- __libc_* and cfree ------------------------------------------------ */

START_TEST(libc_aliases_work)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	unsigned char *p, *q;

	p = __libc_malloc(100);
	ck_assert(p != NULL && is_aligned(p, 16));
	fill(p, 100, 1);
	p = __libc_realloc(p, 5000);
	ck_assert(p != NULL);
	ck_assert_uint_eq(check_fill(p, 100, 1), 100);
	ck_assert_uint_ge(malloc_usable_size(p), 5000);
	__libc_free(p);

	p = __libc_calloc(1000, 10);
	ck_assert(p != NULL);
	ck_assert_uint_eq(first_nonzero(p, 10000), 10000);
	cfree(p);

	p = __libc_memalign(256, 300);
	ck_assert(p != NULL && is_aligned(p, 256));
	q = __libc_valloc(10);
	ck_assert(q != NULL && is_aligned(q, page));
	memset(p, 1, 300);
	memset(q, 2, 10);
	f_free(p);
	free(q);
	p = __libc_pvalloc(1);
	ck_assert(p != NULL && is_aligned(p, page));
	ck_assert_uint_ge(malloc_usable_size(p), page);
	memset(p, 3, page);
	__libc_free(p);
	__libc_free(NULL);
	cfree(NULL);
}
END_TEST

/* ---- malloc_trim ------------------------------------------------------- */

#define BURST_SMALL 4000	/* 4 KiB blocks: about 16 MiB */
#define BURST_LARGE 8		/* 6 MiB blocks: 48 MiB */

START_TEST(trim_lowers_rss)
{
	static void *small[BURST_SMALL], *large[BURST_LARGE];
	size_t peak, after, vsz;

	for (int i = 0; i < BURST_SMALL; i++) {
		small[i] = f_malloc(4 * KiB);
		ck_assert(small[i] != NULL);
		memset(small[i], i, 4 * KiB);
	}
	for (int i = 0; i < BURST_LARGE; i++) {
		large[i] = f_malloc(6 * MiB);
		ck_assert(large[i] != NULL);
		memset(large[i], i, 6 * MiB);
	}
	ck_assert(statm(&peak, &vsz) == 0);
	for (int i = 0; i < BURST_SMALL; i++)
		f_free(small[i]);
	for (int i = 0; i < BURST_LARGE; i++)
		f_free(large[i]);
	ck_assert_int_eq(malloc_trim(0), 1);
	ck_assert(statm(&after, &vsz) == 0);
	/* 64 MiB were touched and freed; most of it must have gone. */
	ck_assert_msg(after + 48 * MiB <= peak, "RSS %zu KiB after trim, %zu KiB at the peak",
		      after / KiB, peak / KiB);
	/* Nothing is left to give back. */
	if (have_gauges())
		ck_assert_uint_lt(mallinfo2().fordblks, 4 * MiB);
}
END_TEST

/* ---- mallinfo2, mallinfo ----------------------------------------------- */

START_TEST(mallinfo2_known_allocation)
{
	const size_t n = 32 * MiB;
	struct mallinfo2 m0, m1, m2;
	struct mallinfo old;
	void *p;

	if (!have_gauges()) {
		/* Only the free figures are known; they still hold together. */
		m0 = mallinfo2();
		ck_assert_uint_eq(m0.keepcost, m0.fordblks);
		ck_assert_uint_eq(m0.arena, 0);
		return;
	}
	m0 = mallinfo2();
	p = f_malloc(n);
	ck_assert(p != NULL);
	memset(p, 7, n);
	m1 = mallinfo2();
	ck_assert_msg(m1.uordblks >= m0.uordblks + n, "in use %zu, then %zu after %zu more",
		      m0.uordblks, m1.uordblks, n);
	ck_assert_uint_ge(m1.arena, n);
	ck_assert_uint_ge(m1.usmblks, m1.arena);
	ck_assert_uint_eq(m1.hblkhd, 0);
	ck_assert_uint_eq(m1.keepcost, m1.fordblks);

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	old = mallinfo();
#pragma GCC diagnostic pop
	ck_assert_int_ge(old.uordblks, (int)n);

	f_free(p);
	malloc_trim(0);
	m2 = mallinfo2();
	ck_assert_msg(m2.uordblks + n <= m1.uordblks + MiB, "in use %zu after free, %zu before",
		      m2.uordblks, m1.uordblks);
	ck_assert_uint_le(m2.arena + n, m1.arena + MiB);
}
END_TEST

/* ---- mallopt ----------------------------------------------------------- */

START_TEST(mallopt_returns)
{
	ck_assert_int_eq(mallopt(M_TRIM_THRESHOLD, 8 << 20), 1);
	ck_assert_int_eq(mallopt(M_TRIM_THRESHOLD, 0), 1);
	/* A bad value: one line on stderr, 0, the option unchanged. */
	ck_assert_int_eq(mallopt(M_TRIM_THRESHOLD, -1), 0);
	ck_assert_int_eq(mallopt(M_MMAP_THRESHOLD, 1 << 20), 0);
	ck_assert_int_eq(mallopt(M_ARENA_MAX, 1), 0);
	ck_assert_int_eq(mallopt(M_MXFAST, 0), 0);
	ck_assert_int_eq(mallopt(12345, 1), 0);
}
END_TEST

/* ---- malloc_info, malloc_stats ----------------------------------------- */

/* Every element closed, in order: a stack of names. */
static void assert_xml_balanced(const char *doc)
{
	char stack[16][32];
	int depth = 0, elements = 0;

	for (const char *s = strchr(doc, '<'); s; s = strchr(s + 1, '<')) {
		const char *end = strchr(s, '>');
		size_t len = strcspn(s + 1, " />");

		ck_assert_msg(end != NULL, "unterminated tag at %.20s", s);
		if (s[1] == '/') {
			len = strcspn(s + 2, " >");
			ck_assert_msg(depth > 0, "close without open at %.20s", s);
			depth--;
			ck_assert_msg(strlen(stack[depth]) == len && !strncmp(stack[depth], s + 2, len),
				      "</%.*s> closes <%s>", (int)len, s + 2, stack[depth]);
		} else if (end[-1] != '/') {
			ck_assert(depth < 16 && len < 32);
			memcpy(stack[depth], s + 1, len);
			stack[depth++][len] = 0;
		}
		elements++;
	}
	ck_assert_int_eq(depth, 0);
	ck_assert_int_gt(elements, 5);
}

START_TEST(malloc_info_well_formed)
{
	char *doc = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&doc, &len);
	void *p = f_malloc(3 * MiB);

	ck_assert(f != NULL && p != NULL);
	ck_assert_int_eq(malloc_info(0, f), 0);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_msg(!strncmp(doc, "<malloc version=\"1\">\n", 21), "starts: %.40s", doc);
	ck_assert_msg(len > 10 && !strcmp(doc + len - 10, "</malloc>\n"), "ends: %s",
		      doc + (len > 20 ? len - 20 : 0));
	assert_xml_balanced(doc);
	ck_assert(strstr(doc, "<system type=\"current\" size=\"") != NULL);
	ck_assert(strstr(doc, "<hakmem version=\"") != NULL);
	free(doc);
	f_free(p);

	errno = 0;
	ck_assert_int_eq(malloc_info(1, stderr), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(malloc_stats_writes_stderr)
{
	FILE *tmp = tmpfile();
	int fd = tmp ? fileno(tmp) : -1, saved = dup(2);
	char buf[256];
	ssize_t n;

	ck_assert(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, 2);
	malloc_stats();
	dup2(saved, 2);
	close(saved);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	fclose(tmp);
	ck_assert_int_gt(n, 0);
	buf[n] = 0;
	ck_assert_msg(strstr(buf, "hakmem") != NULL, "malloc_stats wrote: %s", buf);
}
END_TEST

static Suite *extras_suite(void)
{
	Suite *s = suite_create("glibc_extras");

	add_tcase(s, "symbols", 30, extras_are_hakmem, libc_aliases_work);
	add_tcase(s, "trim", 60, trim_lowers_rss);
	add_tcase(s, "mallinfo", 60, mallinfo2_known_allocation);
	add_tcase(s, "mallopt", 30, mallopt_returns);
	add_tcase(s, "reports", 30, malloc_info_well_formed, malloc_stats_writes_stderr);
	return s;
}

int main(int argc, char **argv)
{
	(void)argc;
	if (!getenv("HAKMEM_PURGE_DELAY_MS")) {
		setenv("HAKMEM_PURGE_DELAY_MS", "60000", 1);
		execv("/proc/self/exe", argv);
		perror("execv /proc/self/exe");
		return 1;
	}
	return run_suite(extras_suite());
}
