// SPDX-License-Identifier: MIT
/*
 * test/fuzz/fuzz_trace.c - libFuzzer target: the input is a trace file,
 * read by the replay's reader (tools/replay/trace.c).
 *
 * Whatever the bytes, trace_read() must return with no crash, hang, leak or
 * sanitizer report, and what it returns must hold together: a refusal is
 * one line that names an offset within the input; a trace read has its
 * events in time order, every site and module index in range, and a
 * warning only when it stopped short of the input's end.  The seeds in
 * test/fuzz/corpus/trace/ are traces of test/replay/tracegen.c's
 * synthetic program, whole and cut short, and a header alone.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace.h"

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_trace: %s\n", what);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct trace tr;
	char err[256];
	unsigned long long off;

	if (trace_read(data, len, &tr, err, sizeof(err))) {
		check(!strchr(err, '\n'), "a refusal of more than one line");
		check(sscanf(err, "offset %llu: ", &off) == 1, "a refusal without an offset");
		check(off <= len, "a refusal at an offset past the input");
		check(!tr.ev && !tr.nev && !tr.mod && !tr.site, "a refusal that kept its tables");
		return 0;
	}
	check(tr.used <= len, "more bytes used than given");
	check(!tr.warning[0] == (tr.used == len), "a warning without a cut, or a cut without one");
	for (size_t i = 0; i < tr.nev; i++) {
		const struct trace_event *e = &tr.ev[i];

		check(!i || e[-1].time_ns <= e->time_ns, "events out of time order");
		check((e->type != HAK_TR_ALLOC && e->type != HAK_TR_REALLOC) || e->site < tr.nsite,
		      "a site out of range");
		check(e->thread <= tr.nthreads, "a thread above the highest seen");
	}
	for (unsigned i = 0; i < tr.nsite; i++)
		check(tr.site[i].module < (int)tr.nmod, "a module out of range");
	for (unsigned i = 0; i < tr.nmod; i++)
		check(tr.mod[i].path != NULL, "a module without a path");
	trace_free(&tr);
	return 0;
}
