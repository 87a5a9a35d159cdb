/* SPDX-License-Identifier: MIT */
/*
 * test/lib/tracefile.h - a minimal reader of trace files
 * (include/hakmem_trace.h), for the tests that check what the recorder
 * wrote: every record decoded into one flat struct, in file order.
 *
 * It reads what a test needs and checks what the format promises: the
 * header, and records that are whole multiples of 8 bytes.  A file cut
 * inside a record parses to the last whole one (@end says where).
 */
#ifndef HAK_TEST_TRACEFILE_H
#define HAK_TEST_TRACEFILE_H

#include <stddef.h>
#include <stdint.h>

#include <hakmem_trace.h>

struct trace_rec {
	size_t off;			/* in the file */
	uint8_t type, flags;
	uint32_t thread;
	uint64_t time;			/* THREAD, ALLOC, FREE, REALLOC, LOST */
	uint64_t addr, size, site;	/* ALLOC, REALLOC; FREE: addr */
	uint32_t align;
	uint64_t old;			/* REALLOC */
	uint64_t lost;			/* LOST */
	uint32_t id;			/* MODULE */
	uint64_t base, end, file_off;	/* MODULE */
	const char *path;		/* MODULE: into the buffer parsed */
};

struct trace_file {
	struct hak_trace_header hdr;
	struct trace_rec *rec;		/* malloc'ed; tracefile_free() */
	size_t n;
	size_t end;			/* offset after the last whole record */
	const char *err;		/* NULL, or why the header was refused */
};

/* Parse @len bytes at @buf (kept: MODULE paths point into it).  0, or -1 and t->err. */
int tracefile_parse(const void *buf, size_t len, struct trace_file *t);
void tracefile_free(struct trace_file *t);
/* The whole file at @path, malloc'ed, its size in *@len; NULL if unreadable. */
void *tracefile_load(const char *path, size_t *len);

#endif /* HAK_TEST_TRACEFILE_H */
