/* SPDX-License-Identifier: MIT */
/*
 * hakmem_trace.h - the trace file format: what a traced program did with
 * its memory, written by the recorder (core/trace.c, CONFIG_HAKMEM_TRACE)
 * and read by tools/hakmem-replay (docs/trace.md says it in words).
 *
 * A trace is a header, then records, each a whole number of 8-byte words
 * that starts with struct hak_trace_rec.  Fields are in the recorder's byte
 * order, which the header states: a reader on another machine refuses the
 * file rather than guess.  The recorder writes whole records only, so a
 * file cut short (the program killed) holds every record up to its last
 * whole one; a reader stops there and says at which offset the file ends.
 *
 * Records come in batches, each thread's in the order the thread made
 * them, but the batches of different threads interleave as they were
 * flushed: a reader orders the records by time.  At one time a FREE comes
 * before an ALLOC: a block is named by its address (see struct
 * hak_trace_alloc), and no address is handed out while it is still live.
 */
#ifndef HAKMEM_TRACE_H
#define HAKMEM_TRACE_H

#include <stdint.h>

#define HAK_TRACE_MAGIC		"HAKTRACE"	/* 8 bytes, no NUL */
#define HAK_TRACE_VERSION	1
#define HAK_TRACE_BYTE_ORDER	0x01020304u	/* as the recorder stores it */

/* At offset 0. */
struct hak_trace_header {
	char magic[8];			/* HAK_TRACE_MAGIC */
	uint16_t version;		/* HAK_TRACE_VERSION */
	uint16_t header_size;		/* sizeof(struct hak_trace_header): records start here */
	uint32_t byte_order;		/* HAK_TRACE_BYTE_ORDER */
	uint16_t machine;		/* the recorder's ELF e_machine (62: x86-64, 183: aarch64) */
	uint8_t ptr_size;		/* bytes in the recorder's pointers */
	uint8_t flags;			/* none yet: 0 */
	uint32_t sample;		/* one small block in @sample is recorded; 0: none */
	uint64_t small_max;		/* requests up to this many bytes are small */
	uint64_t start_ns;		/* CLOCK_REALTIME when recording began */
	uint32_t pid;
	uint32_t reserved0;
	uint64_t reserved[2];		/* 0 */
};

enum hak_trace_type {
	HAK_TR_MODULE = 1,		/* struct hak_trace_module */
	HAK_TR_THREAD = 2,		/* struct hak_trace_thread */
	HAK_TR_ALLOC = 3,		/* struct hak_trace_alloc */
	HAK_TR_FREE = 4,		/* struct hak_trace_free */
	HAK_TR_REALLOC = 5,		/* struct hak_trace_realloc */
	HAK_TR_LOST = 6,		/* struct hak_trace_lost */
};

/* The start of every record.  A reader skips a type it does not know. */
struct hak_trace_rec {
	uint8_t type;			/* enum hak_trace_type */
	uint8_t flags;			/* HAK_TRF_* */
	uint16_t size;			/* bytes in the record, a multiple of 8, at least 8 */
	uint32_t thread;		/* the thread's number: 1, 2, ... in order of its first record */
};

/* flags of ALLOC and REALLOC */
#define HAK_TRF_SMALL	0x01		/* a small block, recorded as one of the sample */
#define HAK_TRF_ZERO	0x02		/* zeroed (calloc) */

/*
 * A mapped file the program's code runs from, so that a call site reads
 * as module + offset, the same from run to run whatever the address space
 * layout: a site in [base, end) is at offset site - base + file_off of
 * @path.  Written before the first record whose site it covers.
 */
struct hak_trace_module {
	struct hak_trace_rec rec;	/* thread 0 */
	uint32_t id;			/* 1, 2, ... */
	uint32_t reserved;
	uint64_t base, end;		/* the executable mapping */
	uint64_t file_off;		/* of @base in the file */
	char path[];			/* NUL-terminated, padded with NULs to the record's size */
};

/* A thread's first record is its START; its last, when it exits, its EXIT. */
#define HAK_TRF_START	0x01
#define HAK_TRF_EXIT	0x02
struct hak_trace_thread {
	struct hak_trace_rec rec;	/* flags: HAK_TRF_START or HAK_TRF_EXIT */
	uint64_t time_ns;		/* since recording began (CLOCK_MONOTONIC) */
};

/*
 * A block handed out: every large one, and small ones by the sample.  A
 * block is named by its address; its FREE (or the REALLOC that moves it)
 * names the same address.
 */
struct hak_trace_alloc {
	struct hak_trace_rec rec;
	uint64_t time_ns;
	uint64_t addr;			/* the block */
	uint64_t size;			/* bytes requested */
	uint64_t site;			/* the caller's return address (see HAK_TR_MODULE) */
	uint32_t align;			/* alignment asked for; 0: malloc's own */
	uint32_t reserved;
};

struct hak_trace_free {
	struct hak_trace_rec rec;
	uint64_t time_ns;
	uint64_t addr;			/* as its ALLOC gave it */
};

/* realloc(): @old_addr is freed and @alloc.addr handed out in one step. */
struct hak_trace_realloc {
	struct hak_trace_alloc alloc;
	uint64_t old_addr;
};

/* Records a thread could not keep (its buffers full, the file not writable). */
struct hak_trace_lost {
	struct hak_trace_rec rec;
	uint64_t time_ns;
	uint64_t records;
};

#endif /* HAKMEM_TRACE_H */
