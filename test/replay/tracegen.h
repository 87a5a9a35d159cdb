/* SPDX-License-Identifier: MIT */
/*
 * test/replay/tracegen.h - traces written by hand, for the reader's and
 * the replay's tests and the fuzz seeds, until real ones are recorded.
 *
 * A trace is built in memory, record by record, in the format of
 * include/hakmem_trace.h, as the recorder would write it; a test may then
 * break any byte of it (tg.buf).  tg_workload() writes a whole synthetic
 * program: several threads whose records come in interleaved batches,
 * call sites in two modules, large blocks of many sizes, frees, reallocs,
 * aligned and zeroed blocks, and sampled small blocks.
 */
#ifndef HAK_TEST_TRACEGEN_H
#define HAK_TEST_TRACEGEN_H

#include <stddef.h>
#include <stdint.h>

struct tg {
	unsigned char *buf;
	size_t len, cap;
};

/* The header alone: this machine's, one small block in @sample recorded. */
void tg_init(struct tg *g, uint32_t sample);
void tg_free_buf(struct tg *g);

void tg_module(struct tg *g, uint32_t id, uint64_t base, uint64_t end, uint64_t file_off,
	       const char *path);
void tg_thread(struct tg *g, uint32_t thread, uint8_t flags, uint64_t time_ns);
void tg_alloc(struct tg *g, uint32_t thread, uint8_t flags, uint64_t time_ns, uint64_t addr,
	      uint64_t size, uint64_t site, uint32_t align);
void tg_free(struct tg *g, uint32_t thread, uint64_t time_ns, uint64_t addr);
void tg_realloc(struct tg *g, uint32_t thread, uint64_t time_ns, uint64_t old_addr,
		uint64_t addr, uint64_t size, uint64_t site);
void tg_lost(struct tg *g, uint32_t thread, uint64_t time_ns, uint64_t records);
/* Any record: @size bytes (the frame says @size), @body after the first word. */
void tg_raw(struct tg *g, uint8_t type, uint8_t flags, uint16_t size, uint32_t thread,
	    const void *body, size_t body_len);

/* Where each record starts: the offset tg_*() wrote the last one at. */
size_t tg_last(const struct tg *g);

/* The synthetic program's modules and its sites' addresses. */
#define TG_APP		"/nonexistent/tracegen/app"
#define TG_LIB		"/nonexistent/tracegen/libwork.so"
#define TG_APP_BASE	0x555555554000ull
#define TG_LIB_BASE	0x7ffff7a00000ull
#define TG_LIB_FILE_OFF	0x1000ull
/* The site that reuses buffers of TG_REUSE_SIZE, at this offset in the app. */
#define TG_REUSE_OFF	0x1100ull
#define TG_REUSE_SIZE	((uint64_t)2 << 20)

struct tg_workload {
	uint64_t seed;
	unsigned threads;		/* 1 or more */
	unsigned steps;			/* events of the program (about) */
	uint64_t step_ns;		/* time between two steps */
};

/* Append the synthetic program to @g (after tg_init). */
void tg_workload(struct tg *g, const struct tg_workload *w);

/* Write @g to @path; 0 or -1. */
int tg_write(const struct tg *g, const char *path);

#endif /* HAK_TEST_TRACEGEN_H */
