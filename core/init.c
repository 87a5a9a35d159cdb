// SPDX-License-Identifier: MIT
/*
 * core/init.c - one-time set-up, thread exit and fork: the top floor.
 *
 * Set-up may be entered from a malloc that runs before any constructor,
 * from several threads at once, and recursively: pthread_key_create and
 * pthread_atfork may themselves allocate.  So the size classes are built
 * first and the state is published as done before anything that could
 * allocate; a recursive entry then finds the allocator usable.  A thread
 * racing with the initialiser waits for it.
 *
 * Fork: the prepare handler takes every hakmem lock (policy, heap pool,
 * abandoned slabs, sampled slabs, superslab pool, BigCache fronts, page
 * heap, trace flush, in that order) so the child inherits them in a
 * consistent state; both sides then release them.  A single-threaded
 * process skips this (see fork_prepare).  Threads other than the forking
 * one do not exist in the child: their heaps' blocks stay valid and can be
 * freed there (as remote frees), their memory is not reused; the blocks
 * their BigCache fronts held go back.  The child is not traced.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/single_threaded.h>
#include <unistd.h>

#include "init.h"
#include "harden.h"
#include "heap.h"
#include "backend.h"
#include "stats.h"
#include "options.h"
#include "policy.h"
#include "pageheap.h"
#include "large.h"
#include "bigcache.h"
#include "trace.h"

_Atomic int hak_init_state __hak_read_mostly;

/*
 * A single-threaded process cannot have another thread inside hakmem, and
 * if this thread is (a fork from a signal handler that interrupted malloc,
 * as in glibc's tst-mallocfork2), taking the locks would deadlock; the
 * child of such a fork may only call async-signal-safe functions anyway.
 */
static bool fork_locked;

static void fork_prepare(void)
{
	fork_locked = !__libc_single_threaded;
	if (!fork_locked)
		return;
	hak_policy_lock();
	hak_heaps_lock();
	hak_pool_lock();
	hak_bc_lock();
	hak_ph_lock();
	hak_trace_lock();
}

static void fork_release(void)
{
	if (!fork_locked)
		return;
	hak_trace_unlock();
	hak_ph_unlock();
	hak_bc_unlock();
	hak_pool_unlock();
	hak_heaps_unlock();
	hak_policy_unlock();
}

static void fork_child(void)
{
	hak_trace_fork_child();
	if (!fork_locked)
		return;
	fork_release();
	hak_bc_fork_child();
}

/* A per-process secret for the hardened build's encodings (harden.h). */
static uint64_t hak_secret(void)
{
	uint64_t k = hak_now_ns();

	k ^= k << 32 ^ (uint64_t)getpid() << 17 ^ (uint64_t)(uintptr_t)&k;
	k *= 0x9e3779b97f4a7c15ULL;
	k ^= k >> 29;
	return k;
}

/* The large-block layers' share of the heap's slow paths and thread exit. */
static const struct hak_heap_hooks heap_hooks = {
	.tick = hak_large_tick,
	.thread_exit = hak_large_detach,
};

void hak_init_slow(void)
{
	int expect = HAK_INIT_NONE;

	if (!atomic_compare_exchange_strong(&hak_init_state, &expect, HAK_INIT_RUNNING)) {
		/* Someone else is setting up: wait (never long: no I/O inside). */
		while (atomic_load_explicit(&hak_init_state, memory_order_acquire) != HAK_INIT_DONE)
			sched_yield();
		return;
	}
	hak_backend_init();
	hak_sizeclass_init();
	hak_harden_init(hak_secret());
	atomic_store_explicit(&hak_init_state, HAK_INIT_DONE, memory_order_release);

	/* From here on, allocation works; the calls below may allocate. */
	hak_heap_init(&heap_hooks);
	pthread_atfork(fork_prepare, fork_release, fork_child);
	hak_options_init();
	if (!IS_ENABLED(CONFIG_HAKMEM_BACKEND_FAULT) && getenv("HAKMEM_FAULT_N"))
		hak_warn("HAKMEM_FAULT_N: fault injection is not compiled into this build "
			 "(CONFIG_HAKMEM_BACKEND_FAULT); ignored");
	hak_policy_init();
	hak_stats_init();
	hak_trace_init();
}

/* Threads of hakmem's own start here, once the C library is set up. */
__attribute__((constructor)) static void hak_constructor(void)
{
	hak_init();
	hak_trace_start();
}
