/* SPDX-License-Identifier: MIT */
/*
 * tools/replay/trace.h - reading a trace file (include/hakmem_trace.h)
 * into memory, checked, ordered by time, with every call site resolved to
 * a module and an offset.
 *
 * Shared by the replay engine (replay.c), its fuzz target
 * (test/fuzz/fuzz_trace.c) and the tests (test/replay/).  Whatever the
 * bytes, trace_read() returns: a trace that cannot be used gets one line in
 * @err naming the problem and its byte offset; a trace cut short is used
 * up to its last whole record, with a line in tr->warning that says where
 * it ends.  It allocates with the process's malloc, and trace_free() gives
 * everything back.
 */
#ifndef HAK_REPLAY_TRACE_H
#define HAK_REPLAY_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hakmem_trace.h>

/* A module as the trace maps it; one per path (a path mapped again keeps its first). */
struct trace_module {
	uint64_t base, end, file_off;
	char *path;
};

/* A call site: an offset in a module, or an address no module covered. */
struct trace_site {
	uint64_t addr;			/* as recorded (the first address seen) */
	int module;			/* index in trace.mod, or -1 */
	uint64_t offset;		/* in the module's file; @addr when no module */
};

/* One ALLOC, FREE, REALLOC or THREAD record, decoded. */
struct trace_event {
	uint64_t time_ns;
	uint64_t addr;			/* the block (REALLOC: the new one) */
	uint64_t old_addr;		/* REALLOC: the block it replaced */
	uint64_t size;
	uint32_t thread;
	uint32_t align;
	uint32_t site;			/* index in trace.site (ALLOC, REALLOC) */
	uint32_t seq;			/* the record's place in the file */
	uint8_t type;			/* HAK_TR_* */
	uint8_t flags;			/* HAK_TRF_* */
};

struct trace {
	struct hak_trace_header hdr;
	struct trace_event *ev;		/* in time order (see trace_read) */
	size_t nev;
	struct trace_module *mod;
	unsigned nmod;
	struct trace_site *site;
	unsigned nsite;
	uint32_t nthreads;		/* the highest thread number seen */
	uint64_t records;		/* whole records read, of every type */
	uint64_t lost;			/* records the recorder could not keep (LOST) */
	uint64_t unknown;		/* records of a type this reader does not know, skipped */
	size_t used;			/* bytes read: the file's, or up to its last whole record */
	char warning[256];		/* empty, or one line: the file was cut short */
};

/*
 * Read the trace in @buf (@len bytes, any alignment) into @tr.  Events
 * are ordered by time; at one time a FREE comes before a REALLOC, which
 * comes before an ALLOC (an address is not handed out while live), a
 * thread's START before and its EXIT after its other events; else in
 * file order.  Returns 0, or -1 with one line in @err ("offset N: what"),
 * @tr then empty.
 */
int trace_read(const void *buf, size_t len, struct trace *tr, char *err, size_t errlen);

/* trace_read() of the file at @path; @err then starts with the path. */
int trace_load(const char *path, struct trace *tr, char *err, size_t errlen);

void trace_free(struct trace *tr);

/* The name of record type @type ("ALLOC"), or NULL. */
const char *trace_type_name(unsigned type);

/* This machine's ELF e_machine, as the header states the recorder's. */
unsigned trace_machine(void);

#endif /* HAK_REPLAY_TRACE_H */
