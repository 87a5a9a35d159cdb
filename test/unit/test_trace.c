// SPDX-License-Identifier: MIT
/*
 * test_trace.c - a thread's ring of trace records when it overflows: a
 * thread that records more than its ring holds before anything is written
 * keeps what fits, in order, then a LOST record says how many it dropped,
 * and its EXIT still comes last.
 *
 * Linked with libhakmem.a: hak_trace_init() and hak_trace_record() are
 * internal.  No flusher thread runs (hak_trace_start() is not called), so
 * nothing leaves the recording thread's ring before the thread exits.
 * Check runs the test in a child process of its own, whose trace this is.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "options.h"
#include "trace.h"
#include "testlib.h"
#include "tracefile.h"

/* FREE records of 24 bytes: three times what a 256 KiB ring holds. */
#define RECORDS 30000

static void *record_many(void *arg)
{
	for (uintptr_t i = 1; i <= RECORDS; i++)
		hak_trace_record(&(struct hak_trace_ev){ .old = (void *)(i << 4) });
	return arg;
}

START_TEST(overflow_is_counted_in_a_lost_record)
{
	const char *tmp = getenv("TMPDIR");
	struct trace_file t;
	uint64_t kept = 0, lost = 0;
	uint32_t th = 0;
	char path[512];
	size_t len, i;
	char *buf;

	if (!IS_ENABLED(CONFIG_HAKMEM_TRACE)) {
		fprintf(stderr, "overflow_is_counted_in_a_lost_record: skipped (no tracing in this build)\n");
		return;
	}
	snprintf(path, sizeof(path), "%s/hakmem-test-trace.%ld", tmp && *tmp ? tmp : "/tmp",
		 (long)getpid());
	hak_opts.trace = path;
	hak_opts.trace_sample = 0;
	hak_trace_init();
	ck_assert_msg(hak_tracing(), "tracing to %s did not start", path);
	run_thread(record_many, NULL);

	buf = tracefile_load(path, &len);
	unlink(path);
	ck_assert_msg(buf, "no trace at %s", path);
	ck_assert_msg(tracefile_parse(buf, len, &t) == 0, "%s", t.err);
	for (i = 0; i < t.n && !th; i++)
		if (t.rec[i].type == HAK_TR_FREE && t.rec[i].addr == 16)
			th = t.rec[i].thread;
	ck_assert_msg(th, "no record of the recording thread");
	for (i = 0; i < t.n && t.rec[i].thread != th; i++)
		;
	ck_assert_msg(i < t.n && t.rec[i].type == HAK_TR_THREAD && t.rec[i].flags == HAK_TRF_START,
		      "the thread's first record is no START");
	for (i++; i < t.n && t.rec[i].type == HAK_TR_FREE; i++, kept++)
		ck_assert_msg(t.rec[i].thread == th && t.rec[i].addr == (kept + 1) << 4,
			      "record %zu: FREE of %#llx, want %#llx", i,
			      (unsigned long long)t.rec[i].addr,
			      (unsigned long long)((kept + 1) << 4));
	ck_assert_msg(i < t.n && t.rec[i].type == HAK_TR_LOST && t.rec[i].thread == th,
		      "after %llu FREE records, no LOST record", (unsigned long long)kept);
	lost = t.rec[i].lost;
	ck_assert_msg(kept > RECORDS / 4 && kept + lost == RECORDS,
		      "%llu records kept and %llu lost, want %d in all", (unsigned long long)kept,
		      (unsigned long long)lost, RECORDS);
	for (i++; i < t.n && t.rec[i].thread != th; i++)
		;
	ck_assert_msg(i < t.n && t.rec[i].type == HAK_TR_THREAD && t.rec[i].flags == HAK_TRF_EXIT,
		      "no EXIT after the LOST record");
	for (i++; i < t.n; i++)
		ck_assert_msg(t.rec[i].thread != th, "a record of the thread after its EXIT");
	tracefile_free(&t);
	free(buf);
}
END_TEST

static Suite *trace_suite(void)
{
	Suite *s = suite_create("trace");

	add_tcase(s, "rings", 30, overflow_is_counted_in_a_lost_record);
	return s;
}

TEST_MAIN(trace_suite)
