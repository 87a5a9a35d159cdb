/* SPDX-License-Identifier: MIT */
/*
 * core/trace.h - recording what a program does with its memory
 * (CONFIG_HAKMEM_TRACE; HAKMEM_TRACE=FILE turns it on).  The file's format
 * is include/hakmem_trace.h's; docs/trace.md says it in words.
 *
 * Who calls what:
 *   - the entry points' slow paths (alloc.c) record the blocks they hand
 *     out and take back: every large one, and the small ones the heap
 *     served as samples;
 *   - the heap's small slow path asks hak_trace_sample() whether the block
 *     it is about to hand out is one of the sample, and serves it from
 *     slabs of its own (heap.c) whose frees all reach the slow path;
 *   - set-up (init.c) opens the file, starts the flusher, and tells the
 *     recorder about a fork.
 * Nothing here runs on a fast path.  With tracing off, each caller pays
 * one test of hak_trace_on on its slow path; compiled out, every call
 * below is an empty inline and hak_tracing() is a constant false.
 *
 * An entry point that is several steps (calloc, an aligned allocation,
 * realloc) holds the records of the steps inside it (hak_trace_hold) and
 * makes one record of its own: a realloc that moved a block is one
 * REALLOC, not an ALLOC and a FREE.
 */
#ifndef HAK_TRACE_H
#define HAK_TRACE_H

#include <stdatomic.h>
#include <hakmem_trace.h>
#include "internal.h"

/* What an entry point did, as one record: freed @old, handed out @addr, or both. */
struct hak_trace_ev {
	const void *old;	/* freed, or NULL */
	const void *addr;	/* handed out, or NULL */
	size_t size;		/* bytes requested for @addr */
	size_t align;		/* alignment asked for; 0: malloc's own */
	const void *site;	/* the caller's return address */
	unsigned flags;		/* HAK_TRF_SMALL, HAK_TRF_ZERO */
	uint64_t time;		/* hak_trace_now() when it happened; 0: now */
};

#if IS_ENABLED(CONFIG_HAKMEM_TRACE)
extern _Atomic bool hak_trace_on;	/* recording */
extern _Atomic bool hak_trace_small;	/* and sampling small blocks */
extern HAK_TLS unsigned hak_trace_held;

/* After the options: open the file the option names, or say why not. */
void hak_trace_init(void);
/* From the library's constructor: start the background flusher. */
void hak_trace_start(void);
/* Fork: the flush lock is taken around it; the child records nothing. */
void hak_trace_lock(void);
void hak_trace_unlock(void);
void hak_trace_fork_child(void);

void hak_trace_record(const struct hak_trace_ev *ev);
/* The time a record would carry if made now. */
uint64_t hak_trace_now(void);
/*
 * The heap is about to hand out the first of @blocks blocks a refill made
 * ready for the fast path: true when it is to be one of the sample.
 */
bool hak_trace_sample(size_t blocks);

static inline bool hak_tracing(void)
{
	return hak_unlikely(atomic_load_explicit(&hak_trace_on, memory_order_relaxed));
}

static inline bool hak_trace_sampling(void)
{
	return hak_unlikely(atomic_load_explicit(&hak_trace_small, memory_order_relaxed));
}

static inline void hak_trace_hold(void)
{
	hak_trace_held++;
}

static inline void hak_trace_unhold(void)
{
	hak_trace_held--;
}
#else
static inline void hak_trace_init(void) { }
static inline void hak_trace_start(void) { }
static inline void hak_trace_lock(void) { }
static inline void hak_trace_unlock(void) { }
static inline void hak_trace_fork_child(void) { }
static inline void hak_trace_record(const struct hak_trace_ev *ev) { (void)ev; }
static inline uint64_t hak_trace_now(void) { return 0; }
static inline bool hak_trace_sample(size_t blocks) { (void)blocks; return false; }
static inline bool hak_tracing(void) { return false; }
static inline bool hak_trace_sampling(void) { return false; }
static inline void hak_trace_hold(void) { }
static inline void hak_trace_unhold(void) { }
#endif

#endif /* HAK_TRACE_H */
