/* SPDX-License-Identifier: MIT */
/*
 * test_trace.c - the trace recorder (HAKMEM_TRACE, docs/trace.md): a
 * program of known allocations is traced, and its trace read back and
 * checked record by record.
 *
 * The program (this one, run again as a child with the trace turned on)
 * works in three fresh threads, whose records are nobody else's:
 *   A: large blocks: malloc, calloc, aligned_alloc, a realloc, frees, and
 *      one block it leaves to C;
 *   B: small blocks, with every refill sampled (trace.sample=1): the first
 *      block of a class in a fresh thread is always sampled, the second
 *      never (it comes from the fast path); a realloc to a class it never
 *      used; a free of its own, and one block left to C;
 *   C: frees A's and B's blocks after they exited.
 * It writes the addresses it got to a file, which the parent reads with
 * the trace.  The main thread's own records (the C library's) are checked
 * only with all the others: in time order, every free names a live block
 * and no allocation a live one.
 *
 * Also: a trace cut anywhere parses to its last whole record, and so does
 * one whose program was killed while recording; a trace file that cannot
 * be written costs one line and the program runs on; trace.sample=0
 * records no small block.  A build without tracing says so in one line
 * and writes nothing.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <generated/autoconf.h>

#include "testlib.h"
#include "tracefile.h"

#define SHAPE_ARG "--trace-shape"
#define LOOP_ARG "--trace-loop"
#define PROG "test_trace"

#ifdef CONFIG_HAKMEM_TRACE
static const int trace_built = 1;
#else
static const int trace_built = 0;
#endif

enum { SHAPE_FAILED = 10 };

/* ---- the traced program ------------------------------------------------- */

enum { L, Z, P, L2, BIG, S, S2, S3, Q, NADDR };
static const char *const addr_names[NADDR] = { "L", "Z", "P", "L2", "big", "s", "s2", "s3", "q" };
static void *addr[NADDR];
static void *volatile sink;

static void *thread_a(void *arg)
{
	addr[L] = malloc(300 * KiB);
	addr[Z] = calloc(1, 200 * KiB);
	addr[P] = aligned_alloc(4096, 256 * KiB);
	if (!addr[L] || !addr[Z] || !addr[P])
		return arg;
	memset(addr[L], 1, 300 * KiB);
	addr[L2] = realloc(addr[L], 600 * KiB);
	free(addr[Z]);
	free(addr[L2]);
	addr[BIG] = malloc(500 * KiB);
	return addr[L2] && addr[BIG] ? NULL : arg;
}

static void *thread_b(void *arg)
{
	addr[S] = malloc(48);
	addr[S2] = malloc(1000);
	addr[S3] = malloc(48);
	if (!addr[S] || !addr[S2] || !addr[S3])
		return arg;
	memset(addr[S], 2, 48);
	sink = addr[S3];
	free(addr[S3]);
	free(addr[S2]);
	addr[Q] = realloc(addr[S], 100);
	return addr[Q] ? NULL : arg;
}

static void *thread_c(void *arg)
{
	free(addr[Q]);
	free(addr[BIG]);
	(void)arg;
	return NULL;
}

static int shape_main(const char *out)
{
	void *(*const fn[])(void *) = { thread_a, thread_b, thread_c };
	FILE *f;

	for (int i = 0; i < 3; i++) {
		pthread_t t;
		void *ret;

		if (pthread_create(&t, NULL, fn[i], (void *)1) || pthread_join(t, &ret) || ret)
			return SHAPE_FAILED;
	}
	f = fopen(out, "w");
	if (!f)
		return SHAPE_FAILED;
	for (int i = 0; i < NADDR; i++)
		fprintf(f, "%p\n", addr[i]);
	return fclose(f) ? SHAPE_FAILED : 0;
}

/* Large blocks for ever, a few threads at a time, until killed. */
static void *loop_thread(void *arg)
{
	uint64_t r = (uintptr_t)arg;

	for (;;) {
		void *p = malloc(200 * KiB + rnd(&r) % (64 * KiB));
		void *q = malloc(16 + rnd(&r) % 500);

		sink = p;
		free(p);
		free(q);
	}
	return NULL;
}

static int loop_main(void)
{
	pthread_t t;

	for (int i = 1; i < 3; i++)
		if (pthread_create(&t, NULL, loop_thread, (void *)(uintptr_t)i))
			return SHAPE_FAILED;
	loop_thread((void *)(uintptr_t)3);
	return 0;
}

/* ---- the parent ---------------------------------------------------------- */

static char tmpdir[256];

static char *slurp(const char *path)
{
	size_t len;
	char *s = tracefile_load(path, &len);

	if (s) {
		char *t = realloc(s, len + 1);

		ck_assert_ptr_nonnull(t);
		s = t;
		s[len] = 0;
	}
	return s;
}

/*
 * Starts this program as @mode with HAKMEM_TRACE=@trace and
 * HAKMEM_TRACE_SAMPLE=@sample, its stderr to tmpdir/stderr; its pid.
 */
static pid_t start(const char *mode, const char *trace, const char *sample)
{
	char out[300], err[300];
	pid_t pid;

	snprintf(out, sizeof(out), "%s/addresses", tmpdir);
	snprintf(err, sizeof(err), "%s/stderr", tmpdir);
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char *argv[] = { PROG, (char *)mode, out, NULL };
		int fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd < 0 || dup2(fd, STDERR_FILENO) < 0 || setenv("HAKMEM_TRACE", trace, 1) ||
		    setenv("HAKMEM_TRACE_SAMPLE", sample, 1))
			_exit(SHAPE_FAILED);
		execv("/proc/self/exe", argv);
		_exit(SHAPE_FAILED);
	}
	return pid;
}

/* Runs the shape; its stderr, malloc'ed. */
static char *run_shape(const char *trace, const char *sample)
{
	char err[300];
	int status = wait_child(start(SHAPE_ARG, trace, sample));
	char *text;

	snprintf(err, sizeof(err), "%s/stderr", tmpdir);
	text = slurp(err);
	if (status)
		fprintf(stderr, "the shape's stderr:\n%s", text ? text : "");
	assert_child_ok(status, "the traced shape");
	return text;
}

static void read_addresses(uint64_t out[NADDR])
{
	char path[300];
	FILE *f;

	snprintf(path, sizeof(path), "%s/addresses", tmpdir);
	f = fopen(path, "r");
	ck_assert_msg(f, "the shape wrote no addresses");
	for (int i = 0; i < NADDR; i++) {
		void *p;

		ck_assert_msg(fscanf(f, "%p", &p) == 1, "address %s missing", addr_names[i]);
		out[i] = (uintptr_t)p;
	}
	fclose(f);
}

static struct trace_file trace;
static char *trace_buf;
static size_t trace_len;

static void load_trace(const char *path)
{
	trace_buf = tracefile_load(path, &trace_len);
	ck_assert_msg(trace_buf, "no trace at %s", path);
	ck_assert_msg(tracefile_parse(trace_buf, trace_len, &trace) == 0, "%s: %s", path, trace.err);
	ck_assert_msg(trace.end == trace_len, "%s: %zu bytes, records end at %zu", path, trace_len,
		      trace.end);
}

static void unload_trace(void)
{
	tracefile_free(&trace);
	free(trace_buf);
	trace_buf = NULL;
}

/* What a record is expected to be; 0 fields are not checked but where said. */
struct want {
	uint8_t type, flags;
	int addr, old;		/* indices into the addresses, or -1 */
	uint64_t size;
	uint32_t align;
};

static const char *const type_names[] = { "?", "MODULE", "THREAD", "ALLOC", "FREE", "REALLOC",
					  "LOST" };

static const char *type_name(unsigned t)
{
	return t < sizeof(type_names) / sizeof(type_names[0]) ? type_names[t] : "?";
}

/* The thread whose first record after its START is @first's kind of record of @a. */
static uint32_t find_thread(const uint64_t *a, const struct want *first)
{
	for (size_t i = 0; i < trace.n; i++) {
		const struct trace_rec *r = &trace.rec[i];

		if (r->type == first->type && r->addr == a[first->addr])
			return r->thread;
	}
	return 0;
}

/* The MODULE that covers @site among the records before @before, or NULL. */
static const struct trace_rec *module_of(uint64_t site, size_t before)
{
	for (size_t i = 0; i < before; i++) {
		const struct trace_rec *r = &trace.rec[i];

		if (r->type == HAK_TR_MODULE && site >= r->base && site < r->end)
			return r;
	}
	return NULL;
}

/* Thread @name's records are exactly START, @w[0..n), EXIT. */
static void check_thread(const char *name, const uint64_t *a, const struct want *w, int n)
{
	uint32_t th = find_thread(a, &w[0]);
	uint64_t last = 0;
	int k = -1;

	ck_assert_msg(th, "thread %s: no %s of %s in the trace", name, type_name(w[0].type),
		      addr_names[w[0].addr]);
	for (size_t i = 0; i < trace.n; i++) {
		const struct trace_rec *r = &trace.rec[i];
		const struct want *e = k >= 0 && k < n ? &w[k] : NULL;

		if (r->thread != th || r->type == HAK_TR_MODULE)
			continue;
		ck_assert_msg(r->time >= last, "thread %s: record %d goes back in time", name, k + 1);
		last = r->time;
		if (k == -1 || k == n) {
			ck_assert_msg(r->type == HAK_TR_THREAD &&
				      r->flags == (k == -1 ? HAK_TRF_START : HAK_TRF_EXIT),
				      "thread %s: record %d is %s (flags %u), want its %s", name,
				      k + 1, type_name(r->type), r->flags, k == -1 ? "START" : "EXIT");
			k++;
			continue;
		}
		ck_assert_msg(k < n, "thread %s: a record after its EXIT (%s)", name,
			      type_name(r->type));
		ck_assert_msg(r->type == e->type, "thread %s: record %d is %s, want %s", name, k + 1,
			      type_name(r->type), type_name(e->type));
		ck_assert_msg(r->flags == e->flags, "thread %s: record %d (%s) has flags %u, want %u",
			      name, k + 1, type_name(r->type), r->flags, e->flags);
		ck_assert_msg(r->addr == a[e->addr], "thread %s: record %d (%s) names %#llx, want %s "
			      "(%#llx)", name, k + 1, type_name(r->type), (unsigned long long)r->addr,
			      addr_names[e->addr], (unsigned long long)a[e->addr]);
		if (e->type == HAK_TR_REALLOC)
			ck_assert_msg(r->old == a[e->old], "thread %s: record %d frees %#llx, want %s",
				      name, k + 1, (unsigned long long)r->old, addr_names[e->old]);
		if (e->type == HAK_TR_ALLOC || e->type == HAK_TR_REALLOC) {
			const struct trace_rec *m = module_of(r->site, i);

			ck_assert_msg(r->size == e->size && r->align == e->align,
				      "thread %s: record %d (%s of %s): size %llu align %u, want %llu %u",
				      name, k + 1, type_name(r->type), addr_names[e->addr],
				      (unsigned long long)r->size, r->align,
				      (unsigned long long)e->size, e->align);
			ck_assert_msg(m && strstr(m->path, PROG),
				      "thread %s: record %d: site %#llx is in %s, want this program",
				      name, k + 1, (unsigned long long)r->site,
				      m ? m->path : "no module written before it");
		}
		k++;
	}
	ck_assert_msg(k == n + 1, "thread %s: %d of its %d records and no EXIT", name, k, n + 2);
}

static int by_time(const void *x, const void *y)
{
	const struct trace_rec *a = *(const struct trace_rec *const *)x;
	const struct trace_rec *b = *(const struct trace_rec *const *)y;

	if (a->time != b->time)
		return a->time < b->time ? -1 : 1;
	/* At one time a FREE first (hakmem_trace.h); else the file's order. */
	if ((a->type == HAK_TR_FREE) != (b->type == HAK_TR_FREE))
		return a->type == HAK_TR_FREE ? -1 : 1;
	return a->off < b->off ? -1 : 1;
}

/* In time order, every block freed is live and every block handed out is not. */
static void check_lifetimes(void)
{
	const struct trace_rec **order = calloc(trace.n, sizeof(*order));
	uint64_t *live = calloc(trace.n + 1, sizeof(*live));
	size_t nlive = 0, nord = 0;

	ck_assert(order && live);
	for (size_t i = 0; i < trace.n; i++)
		if (trace.rec[i].type >= HAK_TR_ALLOC && trace.rec[i].type <= HAK_TR_REALLOC)
			order[nord++] = &trace.rec[i];
	qsort(order, nord, sizeof(*order), by_time);
	for (size_t i = 0; i < nord; i++) {
		const struct trace_rec *r = order[i];
		uint64_t gone = r->type == HAK_TR_FREE ? r->addr : r->type == HAK_TR_REALLOC ? r->old : 0;
		size_t j;

		if (gone) {
			for (j = 0; j < nlive && live[j] != gone; j++)
				;
			ck_assert_msg(j < nlive, "%s at offset %zu frees %#llx, which is not live",
				      type_name(r->type), r->off, (unsigned long long)gone);
			live[j] = live[--nlive];
		}
		if (r->type != HAK_TR_FREE) {
			for (j = 0; j < nlive && live[j] != r->addr; j++)
				;
			ck_assert_msg(j == nlive, "%s at offset %zu hands out %#llx, which is live",
				      type_name(r->type), r->off, (unsigned long long)r->addr);
			live[nlive++] = r->addr;
		}
	}
	free(order);
	free(live);
}

static const struct want large_thread[] = {
	{ HAK_TR_ALLOC, 0, L, -1, 300 * KiB, 0 },
	{ HAK_TR_ALLOC, HAK_TRF_ZERO, Z, -1, 200 * KiB, 0 },
	{ HAK_TR_ALLOC, 0, P, -1, 256 * KiB, 4096 },
	{ HAK_TR_REALLOC, 0, L2, L, 600 * KiB, 0 },
	{ HAK_TR_FREE, 0, Z, -1, 0, 0 },
	{ HAK_TR_FREE, 0, L2, -1, 0, 0 },
	{ HAK_TR_ALLOC, 0, BIG, -1, 500 * KiB, 0 },
};

static const struct want small_thread[] = {
	{ HAK_TR_ALLOC, HAK_TRF_SMALL, S, -1, 48, 0 },
	{ HAK_TR_ALLOC, HAK_TRF_SMALL, S2, -1, 1000, 0 },
	{ HAK_TR_FREE, 0, S2, -1, 0, 0 },
	{ HAK_TR_REALLOC, HAK_TRF_SMALL, Q, S, 100, 0 },
};

static const struct want freeing_thread[] = {
	{ HAK_TR_FREE, 0, Q, -1, 0, 0 },
	{ HAK_TR_FREE, 0, BIG, -1, 0, 0 },
};

#define NWANT(w) ((int)(sizeof(w) / sizeof((w)[0])))

/* Whether @s is one line, ended. */
static int one_line(const char *s)
{
	const char *nl = s ? strchr(s, '\n') : NULL;

	return nl && nl > s && !nl[1];
}

/* A build without tracing: one line, no file. */
static void check_not_built(const char *err, const char *path)
{
	ck_assert_msg(one_line(err) && strstr(err, "tracing is not compiled into this build"),
		      "HAKMEM_TRACE in a build without tracing: want one line, got:\n%s", err);
	ck_assert_msg(access(path, F_OK) != 0, "a build without tracing wrote %s", path);
}

START_TEST(trace_records_the_shape)
{
	char path[300];
	uint64_t a[NADDR];
	char *err;

	make_tmpdir(tmpdir, sizeof(tmpdir), "trace");
	snprintf(path, sizeof(path), "%s/trace", tmpdir);
	err = run_shape(path, "1");
	if (!trace_built) {
		check_not_built(err, path);
		free(err);
		remove_tmpdir(tmpdir);
		return;
	}
	ck_assert_msg(!err || !*err, "the traced shape wrote on stderr:\n%s", err);
	free(err);
	read_addresses(a);
	load_trace(path);
	ck_assert_int_eq(trace.hdr.sample, 1);
	ck_assert_int_eq(trace.hdr.ptr_size, sizeof(void *));
	ck_assert_uint_ge(trace.hdr.small_max, 1024);
	check_thread("A (large blocks)", a, large_thread, NWANT(large_thread));
	check_thread("B (small blocks)", a, small_thread, NWANT(small_thread));
	check_thread("C (frees)", a, freeing_thread, NWANT(freeing_thread));
	for (size_t i = 0; i < trace.n; i++)
		ck_assert_msg(trace.rec[i].addr != a[S3] && trace.rec[i].old != a[S3],
			      "the unsampled block s3 is in the trace (offset %zu)", trace.rec[i].off);
	check_lifetimes();

	/* Cut anywhere: every record that ends before the cut, and no other. */
	for (size_t cut = trace.hdr.header_size; cut <= trace_len; cut++) {
		struct trace_file t;
		size_t whole = 0;

		while (whole < trace.n && trace.rec[whole].off + 8 <= cut &&
		       (whole + 1 < trace.n ? trace.rec[whole + 1].off : trace_len) <= cut)
			whole++;
		ck_assert_int_eq(tracefile_parse(trace_buf, cut, &t), 0);
		ck_assert_msg(t.n == whole && t.end <= cut,
			      "cut at %zu: %zu records up to %zu, want %zu", cut, t.n, t.end, whole);
		tracefile_free(&t);
	}
	unload_trace();
	remove_tmpdir(tmpdir);
}
END_TEST

START_TEST(killed_program_leaves_whole_records)
{
	struct timespec ts = { 0, 300 * 1000 * 1000 };
	char path[300];
	pid_t pid;
	int status;

	if (!trace_built)
		return;
	make_tmpdir(tmpdir, sizeof(tmpdir), "trace");
	snprintf(path, sizeof(path), "%s/trace", tmpdir);
	pid = start(LOOP_ARG, path, "100");
	nanosleep(&ts, NULL);
	kill(pid, SIGKILL);
	status = wait_child(pid);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		      "the looping program was not killed (status %#x)", status);
	trace_buf = tracefile_load(path, &trace_len);
	ck_assert_msg(trace_buf, "no trace at %s", path);
	ck_assert_msg(tracefile_parse(trace_buf, trace_len, &trace) == 0, "%s", trace.err);
	ck_assert_msg(trace.n > 10, "%zu records in 0.3 s of allocations", trace.n);
	/* What follows the last whole record is the start of one. */
	if (trace_len - trace.end >= sizeof(struct hak_trace_rec)) {
		struct hak_trace_rec h;

		memcpy(&h, trace_buf + trace.end, sizeof(h));
		ck_assert_msg(h.size % 8 == 0 && h.size > trace_len - trace.end,
			      "%zu bytes after the last whole record, which says %u",
			      trace_len - trace.end, h.size);
	}
	for (size_t i = 0; i < trace.n; i++)
		ck_assert_msg(trace.rec[i].type >= HAK_TR_MODULE && trace.rec[i].type <= HAK_TR_LOST,
			      "record %zu of type %u", i, trace.rec[i].type);
	unload_trace();
	remove_tmpdir(tmpdir);
}
END_TEST

START_TEST(unwritable_file_costs_one_line)
{
	char path[300];
	char *err;
	uint64_t a[NADDR];

	make_tmpdir(tmpdir, sizeof(tmpdir), "trace");
	snprintf(path, sizeof(path), "%s/no-such-dir/trace", tmpdir);
	err = run_shape(path, "1");
	ck_assert_msg(one_line(err),
		      "an unwritable trace file: want one line, got:\n%s", err ? err : "");
	if (trace_built)
		ck_assert_msg(strstr(err, "trace") && strstr(err, "cannot write") &&
			      strstr(err, "untraced"), "the line does not say what happened:\n%s",
			      err);
	read_addresses(a);	/* the program ran */
	ck_assert_msg(access(path, F_OK) != 0, "%s exists", path);
	free(err);
	remove_tmpdir(tmpdir);
}
END_TEST

START_TEST(sample_0_records_no_small_block)
{
	char path[300];
	uint64_t a[NADDR];
	char *err;

	if (!trace_built)
		return;
	make_tmpdir(tmpdir, sizeof(tmpdir), "trace");
	snprintf(path, sizeof(path), "%s/trace", tmpdir);
	err = run_shape(path, "0");
	ck_assert_msg(!err || !*err, "the traced shape wrote on stderr:\n%s", err);
	free(err);
	read_addresses(a);
	load_trace(path);
	ck_assert_int_eq(trace.hdr.sample, 0);
	for (size_t i = 0; i < trace.n; i++) {
		const struct trace_rec *r = &trace.rec[i];

		ck_assert_msg(!((r->type == HAK_TR_ALLOC || r->type == HAK_TR_REALLOC) &&
				(r->flags & HAK_TRF_SMALL)),
			      "a small block in a trace with trace.sample=0 (offset %zu)", r->off);
		ck_assert_msg(r->addr != a[S] && r->addr != a[S2] && r->addr != a[Q],
			      "block at offset %zu is one of B's", r->off);
	}
	check_thread("A (large blocks)", a, large_thread, NWANT(large_thread));
	check_lifetimes();
	unload_trace();
	remove_tmpdir(tmpdir);
}
END_TEST

static Suite *trace_suite(void)
{
	Suite *s = suite_create("trace");

	add_tcase(s, "trace", 60, trace_records_the_shape, killed_program_leaves_whole_records,
		  unwritable_file_costs_one_line, sample_0_records_no_small_block);
	return s;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], SHAPE_ARG))
		return shape_main(argv[2]);
	if (argc == 3 && !strcmp(argv[1], LOOP_ARG))
		return loop_main();
	return run_suite(trace_suite());
}
