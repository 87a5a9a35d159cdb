// SPDX-License-Identifier: MIT
/*
 * core/init.c - one-time set-up, thread exit, fork, and messages.
 *
 * Set-up may be entered from a malloc that runs before any constructor,
 * from several threads at once, and recursively: pthread_key_create and
 * pthread_atfork may themselves allocate.  So the size classes are built
 * first and the state is published as done before anything that could
 * allocate; a recursive entry then finds the allocator usable.  A thread
 * racing with the initialiser waits for it.
 *
 * Fork: the prepare handler takes every hakmem lock (policy, heap pool,
 * abandoned slabs, superslab pool, page heap, in that order) so the child inherits them in a
 * consistent state; both sides then release them.  A single-threaded
 * process skips this (see fork_prepare).  Threads other than the
 * forking one do not exist in the child: their heaps' blocks stay valid
 * and can be freed there (as remote frees), their memory is not reused.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/single_threaded.h>
#include <time.h>
#include <unistd.h>

#include "init.h"
#include "harden.h"
#include "heap.h"
#include "backend.h"
#include "stats.h"
#include "options.h"
#include "policy.h"
#include "pageheap.h"

_Atomic int hak_init_state __hak_read_mostly;
const struct hak_backend_ops *hak_backend __hak_read_mostly =
	IS_ENABLED(CONFIG_HAKMEM_USE_STATIC) ? &hak_backend_static :
	IS_ENABLED(CONFIG_HAKMEM_BACKEND_FAULT) ? &hak_backend_fault : &hak_backend_mmap;

static pthread_key_t heap_key;
static _Atomic int heap_key_ready;

static void heap_key_destructor(void *h)
{
	hak_heap_detach(h);
}

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
	hak_ph_lock();
}

static void fork_release(void)
{
	if (!fork_locked)
		return;
	hak_ph_unlock();
	hak_pool_unlock();
	hak_heaps_unlock();
	hak_policy_unlock();
}

/* A per-process freed-block key (heap.h): unpredictable enough that a
 * program does not store it by chance, odd so that no pointer equals it. */
static void hak_free_key_init(void)
{
	struct timespec ts;
	uint64_t k;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	k = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)getpid() << 17 ^
	    (uint64_t)(uintptr_t)&ts;
	k *= 0x9e3779b97f4a7c15ULL;
	k ^= k >> 29;
	hak_free_key = (uintptr_t)k | 1;
}

void hak_init_slow(void)
{
	int expect = HAK_INIT_NONE;

	if (!atomic_compare_exchange_strong(&hak_init_state, &expect, HAK_INIT_RUNNING)) {
		/* Someone else is setting up: wait (never long: no I/O inside). */
		while (atomic_load_explicit(&hak_init_state, memory_order_acquire) != HAK_INIT_DONE)
			sched_yield();
		return;
	}
	hak_sizeclass_init();
	hak_free_key_init();
	hak_harden_init();
	atomic_store_explicit(&hak_init_state, HAK_INIT_DONE, memory_order_release);

	/* From here on, allocation works; the calls below may allocate. */
	if (pthread_key_create(&heap_key, heap_key_destructor) == 0) {
		atomic_store_explicit(&heap_key_ready, 1, memory_order_release);
		if (hak_heap_tls != &hak_heap_empty)
			pthread_setspecific(heap_key, hak_heap_tls);
	} else {
		hak_warn("cannot create the thread-exit key; heaps of exiting threads will not be reclaimed");
	}
	pthread_atfork(fork_prepare, fork_release, fork_release);
	hak_options_init();
	if (!IS_ENABLED(CONFIG_HAKMEM_BACKEND_FAULT) && getenv("HAKMEM_FAULT_N"))
		hak_warn("HAKMEM_FAULT_N: fault injection is not compiled into this build "
			 "(CONFIG_HAKMEM_BACKEND_FAULT); ignored");
	hak_policy_init();
	hak_stats_init();
}

void hak_thread_attached(struct hak_heap *h)
{
	if (atomic_load_explicit(&heap_key_ready, memory_order_acquire))
		pthread_setspecific(heap_key, h);
}

__attribute__((constructor)) static void hak_constructor(void)
{
	hak_init();
}

uint64_t hak_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Messages are formatted on the stack and written with write(2): no malloc. */
static void vmessage(const char *kind, const char *fmt, va_list ap)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "hakmem: %s", kind);

	if (n < 0)
		return;
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, (size_t)n) < 0)
		return;
}

void hak_warn(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vmessage("", fmt, ap);
	va_end(ap);
	errno = saved;
}

void hak_panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage("fatal: ", fmt, ap);
	va_end(ap);
	abort();
}
