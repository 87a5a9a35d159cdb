// SPDX-License-Identifier: MIT
/*
 * core/bigcache.c - the BigCache: each thread's front of the page heap,
 * by call site (bigcache.h).
 *
 * Why it is there.  The page heap serves any size from freed memory of any
 * size, so a cache of whole blocks saves no page fault and no system call
 * any more; what it saves is the page heap's lock.  One thread alone takes
 * that lock uncontended (a malloc/free pair of 3 MiB costs about 330 ns
 * either way), but four threads taking and giving back blocks of a few
 * MiB on two cores spent a quarter of their time waiting for it (tools/vm
 * -t 4: 128K ops/s through the page heap, 175K with this front;
 * docs/pageheap.md).  A block that waits here is not coalesced with its
 * neighbours and keeps its pages from every other size: where nothing
 * waits for the lock, that only costs faults and resident memory (the
 * replays of real programs' traces, docs/replay.md).  So a page heap
 * block is kept only while the page heap's lock is contended
 * (hak_ph_contended); a mapping of its own (guard pages, large
 * alignments) saves two system calls, and is kept whenever it may be.
 * It helps only sites that ask for the same sizes again: which ones, and
 * up to what size, the policy says (admit, cache_max), and a thread
 * holds at most HAK_BC_BYTES.
 *
 * A slot's block is owned by whoever takes it out with an atomic
 * exchange: its thread (a hit, or to make room), a sweep from any thread
 * (a block that waited longer than the decay delay), or the thread's exit.
 * The other fields are written only by the slot's thread, before it
 * publishes the block with a release store.
 *
 * The slots are the thread's own (TLS), listed on the thread's first kept
 * block so that a sweep finds them, and unlisted when it exits (the large
 * floor's exit hook drains them), under list_lock, which a sweep holds
 * while it walks: a sweep never reads the slots of a thread that is gone.
 * Lock order: list_lock, then the page heap's.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "bigcache.h"
#include "pageheap.h"
#include "policy.h"
#include "stats.h"

/* The most a thread's front holds, in bytes of runs. */
#define HAK_BC_BYTES ((size_t)64 << 20)

static _Atomic uint64_t last_sweep_ms __hak_cacheline_aligned;
static atomic_flag sweeping = ATOMIC_FLAG_INIT;

struct bc_front {
	struct hak_bc_slot slot[HAK_BC_SLOTS];
	struct bc_front *next, *prev;	/* on fronts, under list_lock */
	bool listed;
};

static HAK_TLS struct bc_front front;
static pthread_mutex_t list_lock __hak_cacheline_aligned = PTHREAD_MUTEX_INITIALIZER;
static struct bc_front *fronts;

void hak_bc_lock(void)
{
	pthread_mutex_lock(&list_lock);
}

void hak_bc_unlock(void)
{
	pthread_mutex_unlock(&list_lock);
}

/*
 * A block leaves the front for good: back to the page heap, or unmapped.
 * Returns the bytes unmapped.
 */
static size_t bc_release(void *block)
{
	struct hak_large_hdr *h = hak_large_hdr_find(block);
	size_t len;

	if (!(hak_large_flags(h) & HAK_LARGE_F_PAGES)) {
		len = hak_large_len(h);
		hak_large_release(h);
		return len;
	}
	h->magic = 0;
	if (!hak_ph_free(block))
		hak_panic("BigCache: block %p is no page heap block", block);
	return 0;
}

void *hak_bc_get(size_t size, size_t len, const void *site)
{
	for (unsigned i = 0; i < HAK_BC_SLOTS; i++) {
		struct hak_bc_slot *e = &front.slot[i];
		void *b;

		if (!atomic_load_explicit(&e->block, memory_order_relaxed) || e->site != site ||
		    e->run > len || e->usable < size)
			continue;
		b = atomic_exchange_explicit(&e->block, NULL, memory_order_acquire);
		if (!b)
			continue;	/* a sweep took it */
		return b;
	}
	return NULL;
}

bool hak_bc_keep(void *block, struct hak_large_hdr *hdr)
{
	size_t run = hak_large_len(hdr);
	struct hak_bc_slot *e;

	/* A page heap block only while its lock is contended; a mapping only
	 * with the usual layout: a hit must be 64-byte aligned, no more. */
	if (run > HAK_BC_BYTES ||
	    (hak_large_flags(hdr) & HAK_LARGE_F_PAGES ? !hak_ph_contended() :
	     (char *)block != (char *)hak_large_base(hdr) + 2 * HAK_LARGE_HDR_SIZE) ||
	    !hak_policy_admitted(hak_large_site(hdr)))
		return false;
	if (!front.listed) {
		pthread_mutex_lock(&list_lock);
		front.next = fronts;
		front.prev = NULL;
		if (fronts)
			fronts->prev = &front;
		fronts = &front;
		front.listed = true;
		pthread_mutex_unlock(&list_lock);
	}
	/* A free slot and room in the thread's bytes: the oldest blocks go first. */
	for (;;) {
		struct hak_bc_slot *oldest = NULL;
		size_t bytes = 0;
		void *old;

		e = NULL;
		for (unsigned i = 0; i < HAK_BC_SLOTS; i++) {
			struct hak_bc_slot *c = &front.slot[i];

			if (!atomic_load_explicit(&c->block, memory_order_relaxed)) {
				e = e ? e : c;
				continue;
			}
			bytes += c->run;
			if (!oldest || atomic_load_explicit(&c->stamp_ms, memory_order_relaxed) <
					       atomic_load_explicit(&oldest->stamp_ms,
								    memory_order_relaxed))
				oldest = c;
		}
		if (!oldest || (e && bytes + run <= HAK_BC_BYTES))
			break;
		old = atomic_exchange_explicit(&oldest->block, NULL, memory_order_acquire);
		if (old)
			bc_release(old);
	}
	hak_large_set_cached(hdr);
	e->site = hak_large_site(hdr);
	e->run = run;
	e->usable = hak_large_size(hdr);
	atomic_store_explicit(&e->stamp_ms, hak_now_ms(), memory_order_relaxed);
	atomic_store_explicit(&e->block, block, memory_order_release);
	return true;
}

void hak_bc_drain(void)
{
	if (!front.listed)
		return;
	pthread_mutex_lock(&list_lock);
	for (unsigned i = 0; i < HAK_BC_SLOTS; i++) {
		void *b = atomic_exchange_explicit(&front.slot[i].block, NULL, memory_order_acquire);

		if (b)
			bc_release(b);
	}
	if (front.prev)
		front.prev->next = front.next;
	else
		fronts = front.next;
	if (front.next)
		front.next->prev = front.prev;
	front.listed = false;
	pthread_mutex_unlock(&list_lock);
}

/*
 * In a fork's child only the forking thread is left: the other threads'
 * fronts are emptied (their blocks would otherwise stay in use for the
 * child's life) and dropped from the list, whose lock the parent's fork
 * handler took and released.
 */
void hak_bc_fork_child(void)
{
	struct bc_front *f, *next;

	pthread_mutex_lock(&list_lock);
	for (f = fronts; f; f = next) {
		next = f->next;
		if (f == &front)
			continue;
		for (unsigned i = 0; i < HAK_BC_SLOTS; i++) {
			void *b = atomic_exchange_explicit(&f->slot[i].block, NULL,
							   memory_order_acquire);

			if (b)
				bc_release(b);
		}
	}
	fronts = front.listed ? &front : NULL;
	front.next = front.prev = NULL;
	pthread_mutex_unlock(&list_lock);
}

bool hak_bc_holds(const void *block)
{
	bool found = false;

	pthread_mutex_lock(&list_lock);
	for (struct bc_front *f = fronts; f && !found; f = f->next)
		for (unsigned i = 0; i < HAK_BC_SLOTS; i++)
			found |= atomic_load_explicit(&f->slot[i].block, memory_order_relaxed) == block;
	pthread_mutex_unlock(&list_lock);
	return found;
}

size_t hak_bc_flush(void)
{
	size_t unmapped = 0;

	pthread_mutex_lock(&list_lock);
	for (struct bc_front *f = fronts; f; f = f->next) {
		for (unsigned i = 0; i < HAK_BC_SLOTS; i++) {
			void *b = atomic_exchange_explicit(&f->slot[i].block, NULL,
							   memory_order_acquire);

			if (b)
				unmapped += bc_release(b);
		}
	}
	pthread_mutex_unlock(&list_lock);
	return unmapped;
}

size_t hak_bc_bytes(void)
{
	size_t bytes = 0;

	pthread_mutex_lock(&list_lock);
	for (struct bc_front *f = fronts; f; f = f->next)
		for (unsigned i = 0; i < HAK_BC_SLOTS; i++)
			if (atomic_load_explicit(&f->slot[i].block, memory_order_acquire))
				bytes += f->slot[i].run;
	pthread_mutex_unlock(&list_lock);
	return bytes;
}

void hak_bc_sweep(uint64_t delay_ms)
{
	uint64_t now = hak_now_ms(), before;

	if (now - atomic_load_explicit(&last_sweep_ms, memory_order_relaxed) < delay_ms / 2 + 1 ||
	    atomic_flag_test_and_set_explicit(&sweeping, memory_order_acquire))
		return;
	atomic_store_explicit(&last_sweep_ms, now, memory_order_relaxed);
	before = now >= delay_ms ? now - delay_ms : 0;
	pthread_mutex_lock(&list_lock);
	for (struct bc_front *f = fronts; f; f = f->next) {
		for (unsigned i = 0; i < HAK_BC_SLOTS; i++) {
			struct hak_bc_slot *e = &f->slot[i];
			void *b;

			if (!atomic_load_explicit(&e->block, memory_order_relaxed) ||
			    atomic_load_explicit(&e->stamp_ms, memory_order_relaxed) > before)
				continue;
			b = atomic_exchange_explicit(&e->block, NULL, memory_order_acquire);
			if (b)
				bc_release(b);
		}
	}
	pthread_mutex_unlock(&list_lock);
	atomic_flag_clear_explicit(&sweeping, memory_order_release);
}
