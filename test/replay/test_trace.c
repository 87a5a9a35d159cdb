// SPDX-License-Identifier: MIT
/*
 * test/replay/test_trace.c - the trace reader (tools/replay/trace.c):
 * good traces read whole, in time order, with their sites resolved; each
 * kind of bad one refused with one line naming the problem and its
 * offset; a trace cut short used up to its last whole record; and no
 * input, cut anywhere or with any byte changed, that makes it crash.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testlib.h"
#include "trace.h"
#include "tracegen.h"

static char err[512];

static const struct tg_workload three = { .seed = 3, .threads = 3, .steps = 400, .step_ns = 50000 };

static void workload(struct tg *g, const struct tg_workload *w)
{
	tg_init(g, 64);
	tg_workload(g, w);
}

/* The reader's verdict on @g: 0 and *@tr, or -1 and err. */
static int read_tg(const struct tg *g, struct trace *tr)
{
	return trace_read(g->buf, g->len, tr, err, sizeof(err));
}

/* @g is refused, and the one line names @off and says @what. */
static void assert_refused(const struct tg *g, size_t off, const char *what)
{
	struct trace tr;
	char want[32];

	ck_assert_int_eq(read_tg(g, &tr), -1);
	snprintf(want, sizeof(want), "offset %zu: ", off);
	ck_assert_msg(!strncmp(err, want, strlen(want)), "'%s' does not start with '%s'", err, want);
	ck_assert_msg(strstr(err, what), "'%s' does not say '%s'", err, what);
	ck_assert_msg(!strchr(err, '\n'), "'%s' is more than one line", err);
	ck_assert_ptr_null(tr.ev);
}

static void patch(struct tg *g, size_t off, const void *v, size_t n)
{
	memcpy(g->buf + off, v, n);
}

/* A header and one allocation. */
static void one_alloc(struct tg *g)
{
	tg_init(g, 0);
	tg_alloc(g, 1, 0, 5, 0x1000, 1 << 20, 0x400000, 0);
}

/* ---- good traces ---- */

START_TEST(workload_read_whole)
{
	struct tg g;
	struct trace tr;
	int reuse = -1, lib = -1;
	size_t allocs = 0, starts = 0, exits = 0;

	workload(&g, &three);
	ck_assert_int_eq(read_tg(&g, &tr), 0);
	ck_assert_str_eq(tr.warning, "");
	ck_assert_uint_eq(tr.used, g.len);
	ck_assert_uint_eq(tr.nthreads, 3);
	ck_assert_uint_eq(tr.nmod, 2);
	ck_assert_uint_eq(tr.records, tr.nev + 2);
	ck_assert_uint_eq(tr.hdr.sample, 64);
	ck_assert_str_eq(tr.mod[0].path, TG_APP);
	ck_assert_str_eq(tr.mod[1].path, TG_LIB);
	for (size_t i = 0; i < tr.nev; i++) {
		const struct trace_event *e = &tr.ev[i];

		if (i)
			ck_assert_uint_le(e[-1].time_ns, e->time_ns);
		ck_assert_uint_ge(e->thread, 1);
		ck_assert_uint_le(e->thread, 3);
		allocs += e->type == HAK_TR_ALLOC;
		starts += e->type == HAK_TR_THREAD && (e->flags & HAK_TRF_START);
		exits += e->type == HAK_TR_THREAD && (e->flags & HAK_TRF_EXIT);
		if (e->type == HAK_TR_ALLOC || e->type == HAK_TR_REALLOC)
			ck_assert_uint_lt(e->site, tr.nsite);
	}
	ck_assert_uint_gt(allocs, 100);
	ck_assert_uint_eq(starts, 3);
	ck_assert_uint_eq(exits, 3);
	/* Sites read as module + offset; the library's mapping starts at its file's 0x1000. */
	for (unsigned i = 0; i < tr.nsite; i++) {
		if (tr.site[i].module == 0 && tr.site[i].offset == TG_REUSE_OFF)
			reuse = (int)i;
		if (tr.site[i].module == 1 && tr.site[i].offset == 0x1500)
			lib = (int)i;
		ck_assert_int_ge(tr.site[i].module, 0);
	}
	ck_assert_int_ge(reuse, 0);
	ck_assert_int_ge(lib, 0);
	ck_assert_uint_eq(tr.site[lib].addr, TG_LIB_BASE + 0x500);
	trace_free(&tr);
	tg_free_buf(&g);
}
END_TEST

/* At one time: START, FREE, REALLOC, ALLOC, EXIT, whatever the file's order; else the file's. */
START_TEST(same_time_order)
{
	static const uint8_t want[] = {
		HAK_TR_THREAD, HAK_TR_FREE, HAK_TR_REALLOC, HAK_TR_ALLOC, HAK_TR_ALLOC, HAK_TR_THREAD,
	};
	struct tg g;
	struct trace tr;

	tg_init(&g, 0);
	tg_thread(&g, 1, HAK_TRF_EXIT, 100);
	tg_alloc(&g, 1, 0, 100, 0x1000, 1 << 20, 0x400000, 0);
	tg_alloc(&g, 1, 0, 100, 0x9000, 2 << 20, 0x400010, 0);
	tg_realloc(&g, 1, 100, 0x5000, 0x6000, 3 << 20, 0x400020);
	tg_free(&g, 1, 100, 0x1000);
	tg_thread(&g, 1, HAK_TRF_START, 100);
	tg_alloc(&g, 2, 0, 50, 0x2000, 1 << 20, 0x400000, 0);
	ck_assert_int_eq(read_tg(&g, &tr), 0);
	ck_assert_uint_eq(tr.nev, 7);
	ck_assert_uint_eq(tr.ev[0].time_ns, 50);
	ck_assert_uint_eq(tr.ev[0].thread, 2);
	for (size_t i = 0; i < sizeof(want); i++)
		ck_assert_uint_eq(tr.ev[i + 1].type, want[i]);
	ck_assert(tr.ev[1].flags & HAK_TRF_START);
	ck_assert(tr.ev[6].flags & HAK_TRF_EXIT);
	ck_assert_uint_eq(tr.ev[4].addr, 0x1000);
	ck_assert_uint_eq(tr.ev[5].addr, 0x9000);
	ck_assert_uint_eq(tr.ev[3].old_addr, 0x5000);
	ck_assert_uint_eq(tr.ev[3].size, 3 << 20);
	/* No module: the site is its address; one address, one site. */
	ck_assert_uint_eq(tr.nsite, 3);
	ck_assert_int_eq(tr.site[tr.ev[0].site].module, -1);
	ck_assert_uint_eq(tr.ev[0].site, tr.ev[4].site);
	trace_free(&tr);
	tg_free_buf(&g);
}
END_TEST

/* Records of a later version's types are skipped; LOST records are counted. */
START_TEST(unknown_and_lost)
{
	static const uint64_t body[3] = { 1, 2, 3 };
	struct tg g;
	struct trace tr;

	tg_init(&g, 0);
	tg_raw(&g, 42, 0, 32, 1, body, sizeof(body));
	tg_lost(&g, 1, 10, 17);
	tg_alloc(&g, 1, 0, 20, 0x1000, 300 << 10, 0x400000, 4096);
	tg_lost(&g, 2, 30, 3);
	ck_assert_int_eq(read_tg(&g, &tr), 0);
	ck_assert_uint_eq(tr.unknown, 1);
	ck_assert_uint_eq(tr.lost, 20);
	ck_assert_uint_eq(tr.records, 4);
	ck_assert_uint_eq(tr.nev, 1);
	ck_assert_uint_eq(tr.ev[0].align, 4096);
	trace_free(&tr);
	tg_free_buf(&g);
}
END_TEST

/* A module mapped again under the same path is one module; a site resolves through the newest mapping. */
START_TEST(modules_by_path)
{
	struct tg g;
	struct trace tr;

	tg_init(&g, 0);
	tg_module(&g, 1, 0x10000, 0x20000, 0, "/lib/a.so");
	tg_alloc(&g, 1, 0, 1, 0x1000, 1 << 20, 0x10100, 0);
	tg_module(&g, 2, 0x50000, 0x60000, 0, "/lib/a.so");
	tg_module(&g, 3, 0x10000, 0x20000, 0x3000, "/lib/b.so");
	tg_alloc(&g, 1, 0, 2, 0x2000, 1 << 20, 0x50100, 0);
	tg_alloc(&g, 1, 0, 3, 0x3000, 1 << 20, 0x10200, 0);
	ck_assert_int_eq(read_tg(&g, &tr), 0);
	ck_assert_uint_eq(tr.nmod, 2);
	/* 0x10100 then 0x50100: a.so + 0x100 both times, one site. */
	ck_assert_uint_eq(tr.nsite, 2);
	ck_assert_uint_eq(tr.ev[0].site, tr.ev[1].site);
	ck_assert_int_eq(tr.site[tr.ev[0].site].module, 0);
	ck_assert_uint_eq(tr.site[tr.ev[0].site].offset, 0x100);
	ck_assert_int_eq(tr.site[tr.ev[2].site].module, 1);
	ck_assert_uint_eq(tr.site[tr.ev[2].site].offset, 0x3200);
	trace_free(&tr);
	tg_free_buf(&g);
}
END_TEST

/* A header and nothing else is an empty trace, not an error. */
START_TEST(header_only)
{
	struct tg g;
	struct trace tr;

	tg_init(&g, 0);
	ck_assert_int_eq(read_tg(&g, &tr), 0);
	ck_assert_uint_eq(tr.nev, 0);
	ck_assert_str_eq(tr.warning, "");
	trace_free(&tr);
	tg_free_buf(&g);
}
END_TEST

/* ---- bad headers ---- */

START_TEST(empty_file)
{
	struct tg g = { 0 };

	assert_refused(&g, 0, "empty file");
}
END_TEST

START_TEST(bad_magic)
{
	struct tg g;

	tg_init(&g, 0);
	patch(&g, 3, "X", 1);
	assert_refused(&g, 0, "not a hakmem trace");
	g.len = 5;
	assert_refused(&g, 0, "not a hakmem trace");
	tg_free_buf(&g);
}
END_TEST

START_TEST(short_header)
{
	struct tg g;

	tg_init(&g, 0);
	g.len = 40;
	assert_refused(&g, 40, "file ends inside the header (40 of 64 bytes)");
	tg_free_buf(&g);
}
END_TEST

START_TEST(other_byte_order)
{
	struct tg g;
	uint32_t bo = __builtin_bswap32(HAK_TRACE_BYTE_ORDER);

	tg_init(&g, 0);
	patch(&g, 12, &bo, 4);
	assert_refused(&g, 12, "other byte order");
	bo = 0x11223344;
	patch(&g, 12, &bo, 4);
	assert_refused(&g, 12, "bad byte-order mark");
	tg_free_buf(&g);
}
END_TEST

START_TEST(wrong_version)
{
	struct tg g;
	uint16_t v = 2;

	tg_init(&g, 0);
	patch(&g, 8, &v, 2);
	assert_refused(&g, 8, "trace version 2; this reader knows version 1");
	v = 0;
	patch(&g, 8, &v, 2);
	assert_refused(&g, 8, "trace version 0");
	tg_free_buf(&g);
}
END_TEST

START_TEST(bad_header_size)
{
	struct tg g;
	uint16_t hs = 60;

	tg_init(&g, 0);
	patch(&g, 10, &hs, 2);
	assert_refused(&g, 10, "header size 60");
	hs = 72;
	patch(&g, 10, &hs, 2);
	assert_refused(&g, 64, "file ends inside the header (64 of 72 bytes)");
	tg_free_buf(&g);
}
END_TEST

/* A longer header (a later minor addition) is skipped to its stated size. */
START_TEST(longer_header)
{
	struct tg g;
	struct trace tr;
	unsigned char *buf;
	uint16_t hs = 72;

	one_alloc(&g);
	buf = calloc(1, g.len + 8);
	ck_assert_ptr_nonnull(buf);
	memcpy(buf, g.buf, 64);
	memcpy(buf + 72, g.buf + 64, g.len - 64);
	memcpy(buf + 10, &hs, 2);
	ck_assert_int_eq(trace_read(buf, g.len + 8, &tr, err, sizeof(err)), 0);
	ck_assert_uint_eq(tr.nev, 1);
	ck_assert_uint_eq(tr.ev[0].size, 1 << 20);
	trace_free(&tr);
	free(buf);
	tg_free_buf(&g);
}
END_TEST

START_TEST(other_architecture)
{
	struct tg g;
	uint16_t m = trace_machine() == 183 ? 62 : 183;
	uint8_t ptr = 4;
	char want[64];

	tg_init(&g, 0);
	patch(&g, 16, &m, 2);
	snprintf(want, sizeof(want), "another architecture (machine %u, %s", m,
		 m == 62 ? "x86-64" : "aarch64");
	assert_refused(&g, 16, want);
	m = (uint16_t)trace_machine();
	patch(&g, 16, &m, 2);
	patch(&g, 18, &ptr, 1);
	assert_refused(&g, 18, "4-byte pointers");
	tg_free_buf(&g);
}
END_TEST

/* ---- bad records ---- */

START_TEST(record_size_not_words)
{
	struct tg g;
	uint16_t size = 44;

	one_alloc(&g);
	tg_alloc(&g, 1, 0, 6, 0x2000, 1 << 20, 0x400000, 0);
	patch(&g, tg_last(&g) + 2, &size, 2);
	assert_refused(&g, tg_last(&g), "record size 44 is not a whole number of 8-byte words");
	size = 0;
	patch(&g, tg_last(&g) + 2, &size, 2);
	assert_refused(&g, tg_last(&g), "record size 0");
	size = 4;
	patch(&g, tg_last(&g) + 2, &size, 2);
	assert_refused(&g, tg_last(&g), "record size 4");
	tg_free_buf(&g);
}
END_TEST

START_TEST(record_too_short)
{
	static const uint64_t body[4] = { 1, 0x1000 };
	struct tg g;

	one_alloc(&g);
	tg_raw(&g, HAK_TR_ALLOC, 0, 24, 1, body, 16);
	assert_refused(&g, tg_last(&g), "ALLOC record of 24 bytes, shorter than its 48");
	tg_free_buf(&g);
	one_alloc(&g);
	tg_raw(&g, HAK_TR_REALLOC, 0, 24, 1, body, 16);
	assert_refused(&g, tg_last(&g), "REALLOC record of 24 bytes, shorter than its 56");
	tg_free_buf(&g);
	one_alloc(&g);
	tg_raw(&g, HAK_TR_FREE, 0, 16, 1, body, 8);
	assert_refused(&g, tg_last(&g), "FREE record of 16 bytes, shorter than its 24");
	tg_free_buf(&g);
	one_alloc(&g);
	tg_raw(&g, HAK_TR_MODULE, 0, 40, 0, body, sizeof(body));
	assert_refused(&g, tg_last(&g), "MODULE record of 40 bytes, shorter than its 41");
	tg_free_buf(&g);
}
END_TEST

START_TEST(module_path_not_terminated)
{
	struct tg g;
	size_t end;

	one_alloc(&g);
	tg_module(&g, 1, 0x1000, 0x2000, 0, "/lib/libabcdef.so");	/* 17 + NUL: 6 NULs of padding */
	end = tg_last(&g) + sizeof(struct hak_trace_module) + 17;
	memset(g.buf + end, 'x', g.len - end);
	assert_refused(&g, tg_last(&g), "MODULE record's path is not NUL-terminated");
	tg_free_buf(&g);
}
END_TEST

START_TEST(module_backwards)
{
	struct tg g;

	one_alloc(&g);
	tg_module(&g, 1, 0x2000, 0x1000, 0, "/lib/a.so");
	assert_refused(&g, tg_last(&g), "MODULE record ends (0x1000) before it starts (0x2000)");
	tg_free_buf(&g);
}
END_TEST

START_TEST(bad_alignment)
{
	struct tg g;

	one_alloc(&g);
	tg_alloc(&g, 1, 0, 6, 0x2000, 1 << 20, 0x400000, 48);
	assert_refused(&g, tg_last(&g), "alignment 48 is not a power of two");
	tg_free_buf(&g);
}
END_TEST

/* ---- cut short ---- */

START_TEST(cut_inside_record)
{
	struct tg g;
	struct trace tr, whole;
	size_t last;
	char want[128];

	workload(&g, &three);
	ck_assert_int_eq(read_tg(&g, &whole), 0);
	last = tg_last(&g);
	/* Every cut inside the last record: every record before it is there. */
	for (size_t cut = last + 1; cut < g.len; cut++) {
		ck_assert_int_eq(trace_read(g.buf, cut, &tr, err, sizeof(err)), 0);
		ck_assert_uint_eq(tr.used, last);
		ck_assert_uint_eq(tr.records, whole.records - 1);
		snprintf(want, sizeof(want), "offset %zu: file ends inside a", last);
		ck_assert_msg(!strncmp(tr.warning, want, strlen(want)), "'%s'", tr.warning);
		ck_assert(strstr(tr.warning, cut - last < 8 ? "first word" : "THREAD"));
		ck_assert_uint_eq(tr.nev, whole.nev - 1);
		trace_free(&tr);
	}
	/* A cut between two records is a whole trace, shorter. */
	ck_assert_int_eq(trace_read(g.buf, last, &tr, err, sizeof(err)), 0);
	ck_assert_str_eq(tr.warning, "");
	ck_assert_uint_eq(tr.nev, whole.nev - 1);
	trace_free(&tr);
	trace_free(&whole);
	tg_free_buf(&g);
}
END_TEST

/* Any prefix and any one byte changed: refused or read, never a crash or a leak (ASan's). */
START_TEST(every_prefix_and_flip)
{
	const struct tg_workload w = { .seed = 5, .threads = 2, .steps = 40, .step_ns = 1000 };
	struct tg g;
	struct trace tr;
	uint64_t s = 99;

	workload(&g, &w);
	for (size_t cut = 0; cut <= g.len; cut++) {
		if (!trace_read(g.buf, cut, &tr, err, sizeof(err)))
			trace_free(&tr);
		else
			ck_assert_msg(!strncmp(err, "offset ", 7) && !strchr(err, '\n'), "'%s'", err);
	}
	for (int i = 0; i < 20000; i++) {
		size_t at = (size_t)(rnd(&s) % g.len);
		unsigned char old = g.buf[at];

		g.buf[at] = (unsigned char)rnd(&s);
		if (!trace_read(g.buf, g.len, &tr, err, sizeof(err))) {
			for (size_t k = 1; k < tr.nev; k++)
				ck_assert_uint_le(tr.ev[k - 1].time_ns, tr.ev[k].time_ns);
			trace_free(&tr);
		} else {
			ck_assert_msg(!strncmp(err, "offset ", 7) && !strchr(err, '\n'), "'%s'", err);
		}
		g.buf[at] = old;
	}
	tg_free_buf(&g);
}
END_TEST

/* ---- files ---- */

START_TEST(load_files)
{
	const char *base = getenv("TMPDIR");
	char dir[256], path[300];
	struct tg g;
	struct trace tr;

	snprintf(dir, sizeof(dir), "%s/hakmem-trace-XXXXXX", base && *base ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/missing", dir);
	ck_assert_int_eq(trace_load(path, &tr, err, sizeof(err)), -1);
	ck_assert(strstr(err, "missing: No such file"));
	ck_assert_int_eq(trace_load(dir, &tr, err, sizeof(err)), -1);
	ck_assert(strstr(err, "not a regular file"));
	snprintf(path, sizeof(path), "%s/empty", dir);
	tg_init(&g, 0);
	g.len = 0;
	ck_assert_int_eq(tg_write(&g, path), 0);
	ck_assert_int_eq(trace_load(path, &tr, err, sizeof(err)), -1);
	ck_assert(strstr(err, "empty: offset 0: empty file"));
	unlink(path);
	workload(&g, &three);
	g.len -= 3;
	snprintf(path, sizeof(path), "%s/cut", dir);
	ck_assert_int_eq(tg_write(&g, path), 0);
	ck_assert_int_eq(trace_load(path, &tr, err, sizeof(err)), 0);
	ck_assert_msg(!strncmp(tr.warning, path, strlen(path)), "'%s'", tr.warning);
	ck_assert(strstr(tr.warning, "file ends inside a record"));
	ck_assert_str_eq(err, "");
	trace_free(&tr);
	unlink(path);
	rmdir(dir);
	tg_free_buf(&g);
}
END_TEST

/* The fuzz seeds are what they say: traces read whole, one cut short, one header. */
START_TEST(fuzz_seeds)
{
	static const struct {
		const char *name;
		int cut;
	} seeds[] = { { "one-thread", 0 }, { "three-threads", 0 }, { "cut-short", 1 },
		      { "header-only", 0 } };
	const char *src = getenv("HAKMEM_SRCDIR");
	char path[512];
	struct trace tr;

	if (trace_machine() != 62)
		return;		/* recorded as x86-64's */
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		snprintf(path, sizeof(path), "%s/test/fuzz/corpus/trace/%s", src && *src ? src : ".",
			 seeds[i].name);
		ck_assert_msg(!trace_load(path, &tr, err, sizeof(err)), "%s", err);
		ck_assert_int_eq(tr.warning[0] != 0, seeds[i].cut);
		trace_free(&tr);
	}
}
END_TEST

static Suite *trace_suite(void)
{
	Suite *s = suite_create("trace");

	add_tcase(s, "good", 0, workload_read_whole, same_time_order, unknown_and_lost,
		  modules_by_path, header_only);
	add_tcase(s, "header", 0, empty_file, bad_magic, short_header, other_byte_order,
		  wrong_version, bad_header_size, longer_header, other_architecture);
	add_tcase(s, "records", 0, record_size_not_words, record_too_short,
		  module_path_not_terminated, module_backwards, bad_alignment);
	add_tcase(s, "cut", 60, cut_inside_record, every_prefix_and_flip);
	add_tcase(s, "files", 0, load_files, fuzz_seeds);
	return s;
}

TEST_MAIN(trace_suite)
