// SPDX-License-Identifier: MIT
/*
 * core/heap.c - slow paths of the thread heaps: refill, remote frees,
 * slab life cycle, and the hand-over of slabs when a thread exits.
 *
 * Refill order for a class whose current slab ran dry (cheapest first):
 *   1. blocks other threads freed into the current slab (remote list)
 *   2. never-used blocks at the slab's bump pointer
 *   3. a partial slab of this heap
 *   4. an abandoned slab of this class, adopted from an exited thread
 *   5. an empty slab from this heap's cache, then one from the pool
 *
 * Full slabs are let go.  A slab whose free list, remote list and bump
 * area are all empty is of no use to its heap until a block comes back,
 * and that may be from any thread.  So its owner word becomes
 * HAK_OWNER_DETACHED and it is on no list: the first thread to free one of
 * its blocks takes it with a compare-and-swap of the owner word, and that
 * free and the next ones it makes there are local.  A consumer that frees
 * what a producer made so comes to own the producer's full slabs and
 * frees into them without atomics, and the producer never collects blocks
 * that another core's cache holds (with the slab kept by its maker, every
 * block crossed between the two cores twice, and the time of a producer-
 * consumer pair doubled).  Races: the owner stores DETACHED and then reads
 * the remote list, a remote freer pushes and then reads the owner word,
 * all sequentially consistent; so either the owner sees the block and
 * keeps the slab, or the freer sees DETACHED and takes it.  A thread
 * without a heap (exiting) cannot own a slab: it queues the slab as
 * abandoned instead, where refills and exits find it.
 *
 * Thread exit (pthread key destructor): every slab with blocks still out
 * is marked HAK_OWNER_ABANDONED and queued per class; empty ones go back
 * to the pool.  Other threads adopt queued slabs before taking new ones,
 * and each exit also frees queued slabs that became empty, so memory does
 * not grow with thread generations.
 *
 * Sampled blocks (tracing): a small allocation the tracer picks as one of
 * its sample is served from hak_heap_sampled, which no thread owns, under
 * sampled_lock; every free of such a block is a remote push onto its slab,
 * collected when the sampled heap next serves one of that class.
 *
 * Locks: heap_lock (heap pool), abandon_lock and sampled_lock, all leaves
 * except that abandon_lock and sampled_lock may be held while the pool
 * lock is taken.  Fork order: heap_lock, abandon_lock, sampled_lock, pool
 * lock.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "heap.h"
#include "pageheap.h"
#include "backend.h"
#include "stats.h"
#include "validate.h"
#include "policy.h"
#include "trace.h"

struct hak_slab hak_slab_empty __hak_read_mostly;
/* Every class of the empty heap is dry, so a thread's first malloc goes slow. */
struct hak_heap hak_heap_empty __hak_read_mostly = {
	.cur = { [0 ... HAK_NCLASS_MAX - 1] = &hak_slab_empty },
};
HAK_TLS struct hak_heap *hak_heap_tls = &hak_heap_empty;
struct hak_heap hak_heap_sampled;
static pthread_mutex_t sampled_lock __hak_cacheline_aligned = PTHREAD_MUTEX_INITIALIZER;

static pthread_mutex_t heap_lock __hak_cacheline_aligned = PTHREAD_MUTEX_INITIALIZER;
static struct hak_heap *heap_pool;	/* heaps of exited threads */
static struct hak_heap *_Atomic all_heaps;	/* every heap, for the stats' sums */
static char *heap_chunk;		/* carving area for new heaps */
static size_t heap_chunk_left;
static unsigned heaps_made;		/* deals the pool shards out */

static pthread_mutex_t abandon_lock __hak_cacheline_aligned = PTHREAD_MUTEX_INITIALIZER;
static struct hak_slab *abandoned[HAK_NCLASS_MAX];	/* under abandon_lock */
/* Whether abandoned[cls] holds a slab: read without the lock, as a hint. */
static _Atomic uint8_t abandoned_any[HAK_NCLASS_MAX];
static _Atomic unsigned abandoned_count __hak_cacheline_aligned;
/*
 * Set when a block went onto an abandoned slab's remote list (a thread
 * without a heap freed it): that slab may now be empty, and the next exit
 * looks for such slabs.  Scanning every queued slab at every exit held
 * abandon_lock for most of the time on 16 cores; an exit now scans when
 * asked, and every 64th exit in any case (a free that raced with the
 * abandonment sets no flag).
 */
static _Atomic bool reclaim_wanted __hak_cacheline_aligned;
static unsigned detach_count;	/* under abandon_lock */

/* The floors above: what runs now and then on a slow path, and at thread exit. */
static struct hak_heap_hooks hooks;
static pthread_key_t heap_key;
static _Atomic int heap_key_ready;

/* A variable, not the macro: 0 is a valid setting. */
static const unsigned heap_empty_max = CONFIG_HAKMEM_HEAP_EMPTY_SLABS;

#define HEAP_SIZE HAK_ALIGN_UP(sizeof(struct hak_heap), 64)
/* What a reused heap clears: everything before its counts and its link. */
#if IS_ENABLED(CONFIG_HAKMEM_STATS)
#define HEAP_RESET_BYTES offsetof(struct hak_heap, stat)
#else
#define HEAP_RESET_BYTES offsetof(struct hak_heap, all_next)
#endif
#define HEAP_CHUNK ((size_t)64 << 10)
#define POOL_TICK_PERIOD 32

static void heap_tick(void)
{
	if (hooks.tick)
		hooks.tick();
}

/* ---- lists (owner-private, doubly linked through slab->next/prev) ---- */

static void list_push(struct hak_slab **head, struct hak_slab *s)
{
	s->prev = NULL;
	s->next = *head;
	if (*head)
		(*head)->prev = s;
	*head = s;
}

static void list_del(struct hak_slab **head, struct hak_slab *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		*head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
}

/* ---- slab helpers ---- */

static void slab_init(struct hak_heap *h, struct hak_slab *s, unsigned cls)
{
	char *start = hak_slab_start(s);
	uint32_t size = hak_class_size[cls];
	unsigned units = hak_class_units[cls];

	/* Tails first: the head's owner published last makes the run live. */
	for (unsigned k = 1; k < units; k++) {
		s[k].span = (uint8_t)k;
		atomic_store_explicit(&s[k].owner, HAK_OWNER_TAIL, memory_order_relaxed);
	}
	s->span = (uint8_t)units;
	s->cls = (uint8_t)cls;
	s->block_size = size;
	/* Blocks start at multiples of the size's largest power-of-two
	 * factor, up to the alignment of the slab's start. */
	s->align_mask = (uint16_t)((size & -size) < HAK_SS_HDR_SIZE ? (size & -size) - 1 :
				   HAK_SS_HDR_SIZE - 1);
	s->capacity = (uint32_t)((size_t)(hak_slab_end(s) - start) / size);
	s->bump = start;
	s->free = NULL;
	s->used = 0;
	s->next = s->prev = NULL;
	atomic_store_explicit(&s->remote, 0, memory_order_relaxed);
	atomic_store_explicit(&s->owner, (uintptr_t)h | h->flags, memory_order_release);
}

/*
 * Move blocks other threads freed onto the local free list.  The list's
 * length comes with its head (superslab.h); it is walked only to splice
 * it before local free blocks, which a refill never has.
 */
static bool slab_collect(struct hak_slab *s)
{
	uintptr_t w;

	if (!atomic_load_explicit(&s->remote, memory_order_relaxed))
		return false;
	w = atomic_exchange_explicit(&s->remote, 0, memory_order_acquire);
	if (!w)
		return false;

	void *head = HAK_REMOTE_PTR(w);
	uint32_t n = HAK_REMOTE_COUNT(w);

	if (s->free) {
		void *tail = head, *next;

		while ((next = hak_link_get(tail)))
			tail = next;
		hak_link_set(tail, s->free);
	}
	s->free = head;
	HAK_BUG_ON(n == 0 || n > s->used);
	s->used -= n;
	hak_stat_add(HAK_STAT_REMOTE_COLLECTED, n);
	return true;
}

/*
 * HARDEN_RANDOM: thread @n blocks from @b onto the free list in a random
 * order (Fisher-Yates over their indices, from a per-thread generator),
 * so that where the next block lands cannot be told from the last one.
 */
static void slab_extend_shuffled(struct hak_slab *s, char *b, size_t n)
{
	static HAK_TLS uint64_t rng;
	uint16_t order[4096 / 16];
	void *head = s->free;

	if (!rng)
		rng = (uint64_t)hak_harden_key ^ (uint64_t)(uintptr_t)&rng;
	for (size_t i = 0; i < n; i++)
		order[i] = (uint16_t)i;
	for (size_t i = n - 1; i > 0; i--) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;

		size_t j = rng % (i + 1);
		uint16_t t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (size_t i = 0; i < n; i++) {
		char *blk = b + (size_t)order[i] * s->block_size;

		hak_link_set(blk, head);
		((uintptr_t *)blk)[1] = HAK_FREE_KEY;
		head = blk;
	}
	s->free = head;
}

/* Thread never-used blocks onto the free list, a page or so at a time. */
static bool slab_extend(struct hak_slab *s)
{
	char *end = hak_slab_end(s);
	size_t size = s->block_size;
	size_t left = (size_t)(end - s->bump) / size;
	size_t n = 4096 / size;

	if (!left)
		return false;
	if (n < 4)
		n = 4;
	if (n > left)
		n = left;

	char *b = s->bump;
	void *head = s->free;

	if (HAK_HARDEN_RANDOM) {
		slab_extend_shuffled(s, b, n);
	} else {
		/* Thread from the last block back, so the list runs in address order. */
		for (size_t i = n; i-- > 0;) {
			hak_link_set(b + i * size, head);
			((uintptr_t *)(b + i * size))[1] = HAK_FREE_KEY;
			head = b + i * size;
		}
		s->free = head;
	}
	if (HAK_HARDEN_POISON)
		for (size_t i = 0; i < n; i++)
			hak_poison_fresh(b + i * size, size);
	s->bump = b + n * size;
	return true;
}

static bool slab_refresh(struct hak_slab *s)
{
	return s->free || slab_collect(s) || slab_extend(s);
}

/*
 * The heap's cache of empty runs holds at most heap_empty_max units; a
 * run is taken back only by a class of the same run length.
 */
static void slab_release(struct hak_heap *h, struct hak_slab *s)
{
	unsigned units = hak_slab_units(s);

	if (h && h->nempty + units <= heap_empty_max) {
		s->next = h->empty;
		h->empty = s;
		h->nempty += units;
		return;
	}
	hak_stat_add(HAK_STAT_SLAB_RELEASED, 1);
	hak_pool_put_slab(s);
}

/*
 * Let a dry slab go (on no list; see the top of the file).  Returns true
 * when a racing remote free arrived after all and the slab stays ours,
 * with that block on its free list.
 */
static bool heap_detach_full(struct hak_heap *h, struct hak_slab *s)
{
	uintptr_t empty = 0;

	/* The owner word first: a taker's store must come after it, and
	 * the exchange below orders the two (it releases, a taker acquires). */
	atomic_store_explicit(&s->owner, HAK_OWNER_DETACHED, memory_order_relaxed);
	if (atomic_compare_exchange_strong_explicit(&s->remote, &empty, HAK_REMOTE_DETACHED,
						    memory_order_acq_rel, memory_order_relaxed))
		return false;
	/* A block came back first: nobody can have taken the slab. */
	atomic_store_explicit(&s->owner, (uintptr_t)h | h->flags, memory_order_relaxed);
	return slab_collect(s);
}

/* Take @s off its class's abandoned queue (abandon_lock held). */
static void abandon_del(struct hak_slab *s)
{
	list_del(&abandoned[s->cls], s);
	atomic_fetch_sub_explicit(&abandoned_count, 1, memory_order_relaxed);
	if (!abandoned[s->cls])
		atomic_store_explicit(&abandoned_any[s->cls], 0, memory_order_relaxed);
}

static struct hak_slab *heap_adopt(struct hak_heap *h, unsigned cls)
{
	struct hak_slab *s;

	if (!atomic_load_explicit(&abandoned_count, memory_order_relaxed) ||
	    !atomic_load_explicit(&abandoned_any[cls], memory_order_relaxed))
		return NULL;
	pthread_mutex_lock(&abandon_lock);
	while ((s = abandoned[cls])) {
		abandon_del(s);
		atomic_store_explicit(&s->owner, (uintptr_t)h | h->flags, memory_order_seq_cst);
		hak_stat_add(HAK_STAT_SLAB_ADOPTED, 1);
		if (slab_refresh(s) || heap_detach_full(h, s))
			break;
	}
	pthread_mutex_unlock(&abandon_lock);
	return s;
}

/* An empty run of @units from the heap's cache; not slab 0 for a span. */
static struct hak_slab *heap_take_empty(struct hak_heap *h, unsigned units, bool span)
{
	struct hak_slab **pp;

	for (pp = &h->empty; *pp; pp = &(*pp)->next) {
		struct hak_slab *s = *pp;

		if (hak_slab_units(s) != units || (span && !hak_slab_index(s)))
			continue;
		*pp = s->next;
		h->nempty -= units;
		hak_stat_add(HAK_STAT_SLAB_REUSED, 1);
		return s;
	}
	return NULL;
}

static struct hak_slab *heap_new_slab(struct hak_heap *h, unsigned cls)
{
	struct hak_slab *s = heap_take_empty(h, hak_class_units[cls], false);

	if (s) {
		hak_stat_add(HAK_STAT_REFILL_EMPTY, 1);
	} else {
		s = hak_pool_take_slab(hak_class_units[cls], h->pool_shard);
		if (!s)
			return NULL;
		/* Going to the pool is rare enough to give the BigCache's
		 * delayed purge its chance too (the pool purged itself). */
		heap_tick();
		hak_stat_add(HAK_STAT_REFILL_POOL, 1);
		hak_stat_add(HAK_STAT_SLAB_NEW, 1);
	}
	slab_init(h, s, cls);
	slab_extend(s);
	return s;
}

/* A partial slab of @cls with a free block, or NULL; dry ones are let go. */
static struct hak_slab *heap_take_partial(struct hak_heap *h, unsigned cls)
{
	struct hak_slab *s;

	while ((s = h->partial[cls])) {
		list_del(&h->partial[cls], s);
		if (slab_refresh(s) || heap_detach_full(h, s)) {
			hak_stat_add(HAK_STAT_REFILL_PARTIAL, 1);
			return s;
		}
	}
	return NULL;
}

/* Any slab for @cls but @cur: partial, adopted, or new. */
static struct hak_slab *heap_other_slab(struct hak_heap *h, unsigned cls)
{
	struct hak_slab *s = heap_take_partial(h, cls);

	if (s)
		return s;
	s = heap_adopt(h, cls);
	if (s) {
		hak_stat_add(HAK_STAT_REFILL_ADOPTED, 1);
		return s;
	}
	return heap_new_slab(h, cls);
}

/*
 * Find a current slab for @cls with at least one free block.
 *
 * A remote list of at most a sixteenth of the slab is left to grow
 * while the thread allocates from another slab (the slab waits on the
 * partial list): those are blocks another thread is freeing at this very
 * moment, their lines in its cache, and taking them at once keeps both
 * threads writing the same lines, each free and malloc a transfer between
 * cores (a producer whose consumer keeps pace with it ran at half speed).
 * It costs one more slab in turn, and only where other threads free.
 */
static struct hak_slab *heap_refill(struct hak_heap *h, unsigned cls)
{
	struct hak_slab *s = h->cur[cls], *t;

	if (s != &hak_slab_empty) {
		hak_validate_slab(s);
		if (s->free)
			return s;

		uint32_t pending = HAK_REMOTE_COUNT(atomic_load_explicit(&s->remote,
									 memory_order_relaxed));

		if (pending > s->capacity / 16 && slab_collect(s)) {
			hak_stat_add(HAK_STAT_REFILL_REMOTE, 1);
			return s;
		}
		if (slab_extend(s)) {
			hak_stat_add(HAK_STAT_REFILL_BUMP, 1);
			return s;
		}
		if (pending) {
			t = heap_other_slab(h, cls);
			if (t) {
				hak_stat_add(HAK_STAT_REFILL_ROTATED, 1);
				list_push(&h->partial[cls], s);
				h->cur[cls] = t;
				return t;
			}
			if (slab_collect(s))
				return s;
		}
		if (heap_detach_full(h, s)) {
			hak_stat_add(HAK_STAT_EARLY_RETIRE_RACE, 1);
			return s;
		}
		h->cur[cls] = &hak_slab_empty;
	}

	s = heap_other_slab(h, cls);
	if (!s)
		return NULL;
	h->cur[cls] = s;
	return s;
}

/* ---- heap life cycle ---- */

static struct hak_heap *heap_alloc(void)
{
	struct hak_heap *h;

	pthread_mutex_lock(&heap_lock);
	h = heap_pool;
	if (h) {
		heap_pool = h->next_free;
	} else {
		if (heap_chunk_left < HEAP_SIZE) {
			heap_chunk = hak_backend->reserve(HEAP_CHUNK, 0);
			heap_chunk_left = heap_chunk ? HEAP_CHUNK : 0;
		}
		if (heap_chunk_left >= HEAP_SIZE) {
			h = (struct hak_heap *)heap_chunk;
			heap_chunk += HEAP_SIZE;
			heap_chunk_left -= HEAP_SIZE;
			h->pool_shard = heaps_made++ % HAK_POOL_SHARDS;
			h->all_next = atomic_load_explicit(&all_heaps, memory_order_relaxed);
			atomic_store_explicit(&all_heaps, h, memory_order_release);
		}
	}
	pthread_mutex_unlock(&heap_lock);
	return h;
}

static struct hak_heap *heap_attach(void)
{
	struct hak_heap *h = heap_alloc();

	if (!h)
		return NULL;

	/* Its event counts stay: the stats sum every heap ever made. */
	memset(h, 0, HEAP_RESET_BYTES);
	for (unsigned c = 0; c < HAK_NCLASS_MAX; c++)
		h->cur[c] = &hak_slab_empty;
	h->flags = IS_ENABLED(CONFIG_HAKMEM_DEBUG_VALIDATE) ? HAK_SLAB_F_DEBUG : 0;
	hak_heap_tls = h;
	hak_heap_count_into(h);
	hak_stat_add(HAK_STAT_THREADS, 1);
	if (atomic_load_explicit(&heap_key_ready, memory_order_acquire))
		pthread_setspecific(heap_key, h);
	return h;
}

struct hak_heap *hak_heap_own(void)
{
	struct hak_heap *h = hak_heap_tls;

	if (h == &hak_heap_empty && atomic_load_explicit(&heap_key_ready, memory_order_acquire))
		h = heap_attach();
	return h ? h : &hak_heap_empty;
}

/* Queue a slab that still has blocks out; or free it when it has none. */
static void slab_abandon(struct hak_slab *s)
{
	slab_collect(s);
	if (s->used == 0) {
		hak_stat_add(HAK_STAT_SLAB_RELEASED, 1);
		hak_pool_put_slab(s);
		return;
	}
	atomic_store_explicit(&s->owner, HAK_OWNER_ABANDONED, memory_order_seq_cst);
	list_push(&abandoned[s->cls], s);
	atomic_fetch_add_explicit(&abandoned_count, 1, memory_order_relaxed);
	atomic_store_explicit(&abandoned_any[s->cls], 1, memory_order_relaxed);
}

/* Free queued slabs whose last blocks came back while nobody owned them. */
static void abandoned_reclaim(void)
{
	for (unsigned c = 0; c < hak_nclass; c++) {
		struct hak_slab *s, *next;

		for (s = abandoned[c]; s; s = next) {
			next = s->next;
			slab_collect(s);
			if (s->used)
				continue;
			abandon_del(s);
			hak_stat_add(HAK_STAT_SLAB_RELEASED, 1);
			hak_pool_put_slab(s);
		}
	}
}

void hak_heap_detach(struct hak_heap *h)
{
	struct hak_slab *s, *next;

	if (h == &hak_heap_empty)
		return;
	if (hooks.thread_exit)
		hooks.thread_exit(h);
	hak_heap_tls = &hak_heap_empty;
	hak_heap_count_into(NULL);

	pthread_mutex_lock(&abandon_lock);
	for (unsigned c = 0; c < HAK_NCLASS_MAX; c++) {
		if (h->cur[c] != &hak_slab_empty)
			slab_abandon(h->cur[c]);
		for (s = h->partial[c]; s; s = next) {
			next = s->next;
			slab_abandon(s);
		}
	}
	if (atomic_exchange_explicit(&reclaim_wanted, false, memory_order_relaxed) ||
	    ++detach_count % 64 == 0)
		abandoned_reclaim();
	pthread_mutex_unlock(&abandon_lock);

	for (s = h->empty; s; s = next) {
		next = s->next;
		hak_pool_put_slab(s);
	}

	pthread_mutex_lock(&heap_lock);
	h->next_free = heap_pool;
	heap_pool = h;
	pthread_mutex_unlock(&heap_lock);
}

void hak_heap_trim(void)
{
	struct hak_heap *h = hak_heap_tls;
	struct hak_slab *s, *next;

	pthread_mutex_lock(&abandon_lock);
	abandoned_reclaim();
	pthread_mutex_unlock(&abandon_lock);
	if (h == &hak_heap_empty)
		return;
	for (s = h->empty; s; s = next) {
		next = s->next;
		hak_stat_add(HAK_STAT_SLAB_RELEASED, 1);
		hak_pool_put_slab(s);
	}
	h->empty = NULL;
	h->nempty = 0;
}

struct hak_heap *hak_heaps_first(void)
{
	return atomic_load_explicit(&all_heaps, memory_order_acquire);
}

/*
 * One-slab spans (large blocks up to a slab) go through the calling
 * thread's empty-slab cache, like empty small slabs: a program that frees
 * and reallocates such blocks then needs neither the pool lock nor fresh
 * pages.  Slab 0 never serves as a span (its start is the header).
 */
struct hak_slab *hak_heap_take_span_slab(void)
{
	struct hak_heap *h = hak_heap_tls;

	return h == &hak_heap_empty ? NULL : heap_take_empty(h, 1, true);
}

void hak_heap_put_span_slab(struct hak_slab *s)
{
	struct hak_heap *h = hak_heap_tls;

	slab_release(h == &hak_heap_empty ? NULL : h, s);
}

void hak_heaps_lock(void)
{
	pthread_mutex_lock(&heap_lock);
	pthread_mutex_lock(&abandon_lock);
	pthread_mutex_lock(&sampled_lock);
}

void hak_heaps_unlock(void)
{
	pthread_mutex_unlock(&sampled_lock);
	pthread_mutex_unlock(&abandon_lock);
	pthread_mutex_unlock(&heap_lock);
}

static void heap_key_destructor(void *h)
{
	hak_heap_detach(h);
}

/*
 * Called once by the set-up, before any thread has a heap: from here on a
 * thread that allocates gets a heap, handed back when it exits.
 */
void hak_heap_init(const struct hak_heap_hooks *h)
{
	hooks = *h;
	if (pthread_key_create(&heap_key, heap_key_destructor) == 0) {
		atomic_store_explicit(&heap_key_ready, 1, memory_order_release);
		if (hak_heap_tls != &hak_heap_empty)
			pthread_setspecific(heap_key, hak_heap_tls);
	} else {
		hak_warn("cannot create the thread-exit key; heaps of exiting threads will not be reclaimed");
	}
}

/* ---- sampled blocks ---- */

/* Blocks on @s's free list: the fast path hands out as many before the next refill. */
static size_t slab_free_blocks(struct hak_slab *s)
{
	char *end = hak_slab_end(s);
	size_t unused = s->bump < end ? hak_class_index(s->cls, (size_t)(end - s->bump)) : 0;

	return s->capacity - s->used - unused;
}

/*
 * A block of class @cls from the sampled heap: the first of its slabs of
 * that class with a free block, or a new one.  Not the general refill:
 * these slabs are never let go (see hak_heap_sampled), and a dry one
 * simply waits on the list for its blocks to come back.
 */
static void *sampled_alloc(unsigned cls)
{
	struct hak_heap *h = &hak_heap_sampled;
	struct hak_slab *s;
	void **b = NULL;

	pthread_mutex_lock(&sampled_lock);
	for (s = h->partial[cls]; s && !slab_refresh(s); s = s->next)
		;
	if (!s) {
		s = hak_pool_take_slab(hak_class_units[cls], 0);
		if (s) {
			hak_stat_add(HAK_STAT_SLAB_NEW, 1);
			slab_init(h, s, cls);
			slab_extend(s);
			list_push(&h->partial[cls], s);
		}
	}
	if (s) {
		b = s->free;
		s->free = hak_link_get(b);
		s->used++;
		hak_stat_inuse_slow(s->block_size);
		if ((((uintptr_t *)b)[1] ^= HAK_FREE_KEY) != 0)
			b = hak_alloc_rewritten(s, b);
	}
	pthread_mutex_unlock(&sampled_lock);
	return b;
}

/* ---- slow paths called from the inline fast paths ---- */

void *hak_small_alloc_slow(size_t size, const void *site)
{
	struct hak_heap *h = hak_heap_tls;
	struct hak_slab *s;

	if (hak_unlikely(h == &hak_heap_empty)) {
		h = heap_attach();
		if (!h)
			goto oom;
	}
	s = heap_refill(h, hak_class_of(size));
	if (!s)
		goto oom;
	hak_stat_add(HAK_STAT_REFILL, 1);
	/* Shared state is touched on one refill in POOL_TICK_PERIOD only:
	 * with every refill writing the same lines, threads on different
	 * cores would spend their time passing those lines around. */
	if (++h->refills % POOL_TICK_PERIOD == 0) {
		hak_stat_sample_site(site, size);
		hak_pool_tick();
		heap_tick();
	}

	void **b;

	/* The block a trace samples comes from the sampled heap, the rest
	 * of the refill to the fast path as usual. */
	if (hak_trace_sampling() && hak_trace_sample(slab_free_blocks(s)) &&
	    (b = sampled_alloc(hak_class_of(size))))
		return b;
	b = s->free;

	s->free = hak_link_get(b);
	s->used++;
	hak_stat_inuse_slow(s->block_size);
	if ((((uintptr_t *)b)[1] ^= HAK_FREE_KEY) != 0)
		return hak_alloc_rewritten(s, b);
	return b;
oom:
	errno = ENOMEM;
	return NULL;
}

void hak_slab_emptied(struct hak_slab *s)
{
	struct hak_heap *h = hak_heap_tls;

	/* A program that churns a few small blocks may never refill: slabs
	 * that empty are its slow path, where memory freed a while ago can go
	 * back to the OS. */
	if (++h->refills % POOL_TICK_PERIOD == 0) {
		hak_pool_tick();
		heap_tick();
	}
	if (h->cur[s->cls] == s) {
		hak_stat_add(HAK_STAT_EARLY_CURRENT, 1);
		return;
	}
	list_del(&h->partial[s->cls], s);
	slab_release(h, s);
}

/*
 * Take a let-go slab whose remote list is empty, without pushing: the
 * free then goes on as a local one.  The common case by far (a thread
 * frees into the slab it filled a moment ago, or a consumer into a slab
 * its producer let go): one compare-and-swap.
 */
static bool heap_take_detached(struct hak_heap *h, struct hak_slab *s)
{
	uintptr_t mark = HAK_REMOTE_DETACHED;

	if (!atomic_compare_exchange_strong_explicit(&s->remote, &mark, 0, memory_order_acq_rel,
						     memory_order_relaxed))
		return false;
	atomic_store_explicit(&s->owner, (uintptr_t)h | h->flags, memory_order_release);
	hak_stat_add(HAK_STAT_SLAB_ADOPTED, 1);
	list_push(&h->partial[s->cls], s);
	return true;
}

static void free_remote(struct hak_heap *h, struct hak_slab *s, void *p, uintptr_t owner)
{
	/*
	 * Nothing of the slab is read after the push unless the push took
	 * it: once the block is on the list, its owner may empty the slab
	 * and its superslab may go away.
	 */
	uintptr_t old = atomic_load_explicit(&s->remote, memory_order_relaxed), keep;
	bool take;

	if (owner == HAK_OWNER_ABANDONED &&
	    !atomic_load_explicit(&reclaim_wanted, memory_order_relaxed))
		atomic_store_explicit(&reclaim_wanted, true, memory_order_relaxed);
	/* A thread that only frees gets a heap to take detached slabs into. */
	if (owner == HAK_OWNER_DETACHED && h == &hak_heap_empty)
		h = hak_heap_own();
	keep = h == &hak_heap_empty ? HAK_REMOTE_DETACHED : 0;
	((uintptr_t *)p)[1] = HAK_FREE_KEY;
	do {
		hak_link_set(p, HAK_REMOTE_PTR(old));
		take = (old & ~keep) & HAK_REMOTE_DETACHED;
	} while (!atomic_compare_exchange_weak_explicit(&s->remote, &old,
							HAK_REMOTE_WORD(p, HAK_REMOTE_COUNT(old) + 1) |
								(old & keep),
							memory_order_seq_cst,
							memory_order_relaxed));
	hak_stat_add(HAK_STAT_REMOTE_FREE, 1);
	if (!take)
		return;
	/* This push cleared the mark: the slab is this thread's now. */
	atomic_store_explicit(&s->owner, (uintptr_t)h | h->flags, memory_order_seq_cst);
	hak_stat_add(HAK_STAT_SLAB_ADOPTED, 1);
	slab_collect(s);
	if (s->used)
		list_push(&h->partial[s->cls], s);
	else
		slab_release(h, s);
}

/*
 * A free into a slab whose thread exited: adopt the slab, so the rest of
 * its blocks come home with local frees and it is released once empty.
 * Returns false when another thread adopted it first.
 */
static bool heap_adopt_on_free(struct hak_heap *h, struct hak_slab *s)
{
	bool won = false;

	pthread_mutex_lock(&abandon_lock);
	if (atomic_load_explicit(&s->owner, memory_order_relaxed) == HAK_OWNER_ABANDONED) {
		abandon_del(s);
		atomic_store_explicit(&s->owner, (uintptr_t)h | h->flags, memory_order_seq_cst);
		won = true;
	}
	pthread_mutex_unlock(&abandon_lock);
	if (!won) {
		hak_stat_add(HAK_STAT_EARLY_ADOPT_LOST, 1);
		return false;
	}
	hak_stat_add(HAK_STAT_SLAB_ADOPTED, 1);
	slab_collect(s);
	list_push(&h->partial[s->cls], s);
	return true;
}

/*
 * A local free found the freed-block key in @p: stop if @p is on the
 * slab's free list (a double free), else free it (the program stored the
 * key's value there, or the first free went to another thread's list).
 */
void hak_free_suspect(struct hak_slab *s, void *p)
{
	uint32_t n = 0;

	for (void *b = s->free; b && n <= s->capacity; b = hak_link_get(b), n++)
		if (b == p)
			hak_panic("free(): double free of %p (block of %u bytes)", p,
				  s->block_size);
	((uintptr_t *)p)[1] = 0;
	hak_slab_push_local(s, p);
}

/*
 * The program wrote into @b after freeing it.  If the write left the link
 * to the next free block alone (the list's next block is still one of
 * @s's, or there is none), the allocator's state is whole and the
 * program runs on, as under glibc; a link that points anywhere else
 * would send a later malloc there, so stop now, with the block named.
 */
void *hak_alloc_rewritten(struct hak_slab *s, void *b)
{
	void *next = s->free;

	((uintptr_t *)b)[1] = 0;
	if (next && (((uintptr_t)next ^ (uintptr_t)s) > HAK_SS_MASK ||
		     !hak_slab_has_block(s, next)))
		hak_panic("malloc(): write after free: free block %p (of %u bytes) was written "
			  "to, its free-list link too (%p)", b, s->block_size, next);
	hak_stat_add(HAK_STAT_REWRITTEN, 1);
	return b;
}

/*
 * The free fast path's compare failed on @s.  A block in a later unit of
 * a medium slab's run is still a local free when this thread owns the
 * run's head: common enough (most blocks of a run lie in its tails) to be
 * handled before the general slow path.
 */
bool hak_free_other(void *p, struct hak_slab *s)
{
	if (atomic_load_explicit(&s->owner, memory_order_relaxed) == HAK_OWNER_TAIL) {
		struct hak_slab *head = s - s->span;

		if (atomic_load_explicit(&head->owner, memory_order_relaxed) ==
		    (uintptr_t)hak_heap_tls && hak_slab_aligned(head, p)) {
			hak_stat_add(HAK_STAT_FREE_TAIL, 1);
			hak_stat_inuse_slow(-(int64_t)head->block_size);
			hak_slab_push_local(head, p);
			return true;
		}
	}
	return false;
}

void hak_small_free_slow(void *p, struct hak_slab *s)
{
	uintptr_t owner = atomic_load_explicit(&s->owner, memory_order_seq_cst);
	struct hak_heap *h = hak_heap_tls;
	bool local;

	if (owner == HAK_OWNER_ABANDONED && h != &hak_heap_empty && heap_adopt_on_free(h, s))
		owner = (uintptr_t)h | h->flags;
	if (owner == HAK_OWNER_DETACHED && h != &hak_heap_empty && heap_take_detached(h, s))
		owner = (uintptr_t)h | h->flags;
	if (owner == 0 || owner == HAK_OWNER_SPAN)
		hak_panic("free(): invalid pointer %p (not a live hakmem block)", p);
	/* A free that is now local is held to the fast path's test; one
	 * into another thread's slab, which costs a compare-and-swap
	 * anyway, to the block's exact start. */
	local = (owner & ~HAK_SLAB_F_MASK) == (uintptr_t)h;
	if (!(local ? hak_slab_aligned(s, p) : hak_slab_has_block(s, p)))
		hak_panic("free(): invalid pointer %p (not the start of a %u-byte block)",
			  p, s->block_size);
	if (local) {
		hak_stat_add(HAK_STAT_FREE_SLOW, 1);
		hak_stat_inuse_slow(-(int64_t)s->block_size);
		hak_validate_free(s, p);
		hak_slab_push_local(s, p);
	} else {
		/* Before the push: after it the slab may be gone. */
		hak_stat_inuse_slow(-(int64_t)s->block_size);
		free_remote(h, s, p, owner);
	}
}
