/* SPDX-License-Identifier: MIT */
/*
 * core/heap.h - thread-local heaps and the small-block fast paths.
 *
 * Each thread that allocates gets a struct hak_heap, reached through one
 * initial-exec TLS pointer (8 bytes of static TLS, so dlopen of the
 * library works).  Before a thread's first allocation that pointer names
 * hak_heap_empty, whose current slab in every class has no free blocks:
 * the first malloc falls to the slow path, which attaches a real heap.  No
 * "is this thread initialised" test sits on the fast path.
 *
 * The heap keeps, per size class, a current slab (the fast path pops its
 * free list), a list of partial slabs and a list of full ones.  Only the
 * owning thread touches these; other threads only push onto a slab's
 * remote list.  A slab with every block out is on no list (heap.c).
 *
 * Fast paths (inline here): allocation is a class lookup and a pop; a free
 * of a block this thread owns is a push.  No locks, no atomics, no
 * indirect calls.
 */
#ifndef HAK_HEAP_H
#define HAK_HEAP_H

#include "superslab.h"
#include "sizeclass.h"
#include "stats.h"
#include "harden.h"

struct hak_heap {
	struct hak_slab *cur[HAK_NCLASS_MAX];
	struct hak_slab *partial[HAK_NCLASS_MAX];
	struct hak_slab *empty;		/* cached empty slabs */
	unsigned nempty;
	uintptr_t flags;		/* HAK_SLAB_F_DEBUG when validating */
	unsigned refills;		/* slow-path count, paces pool ticks */
	struct hak_heap *next_free;	/* heap pool */
#if IS_ENABLED(CONFIG_HAKMEM_STATS)
	/* Event counts (stats.h); kept when the heap is reused. */
	_Alignas(64) _Atomic uint64_t stat[HAK_STAT_NR];
#endif
	/* Every heap ever made: set before the heap is published and never
	 * changed, so readers walk the list without a lock; a reused heap's
	 * reset stops before it and its shard. */
	struct hak_heap *all_next;
	unsigned pool_shard;		/* the pool shard it takes slabs from */
};

/*
 * Count an inline fast-path event, and add @n to the bytes in use; both
 * only with CONFIG_HAKMEM_STATS_FASTPATH (bytes in use are tracked on every
 * path then, and only then).
 */
#if IS_ENABLED(CONFIG_HAKMEM_STATS_FASTPATH)
#define hak_stat_inc_(h, s, n)                                                       \
	atomic_store_explicit(&(h)->stat[s],                                          \
			      atomic_load_explicit(&(h)->stat[s], memory_order_relaxed) + (n), \
			      memory_order_release)
#define hak_stat_fast(h, s) hak_stat_inc_(h, s, 1)
#define hak_stat_inuse(h, n) hak_stat_inc_(h, HAK_STAT_INUSE, (uint64_t)(n))
#else
#define hak_stat_fast(h, s) ((void)(h))
#define hak_stat_inuse(h, n) ((void)(h), (void)(n))
#endif

/* Where the calling thread counts (stats.c): @h's array, or NULL. */
static inline void hak_heap_count_into(struct hak_heap *h)
{
#if IS_ENABLED(CONFIG_HAKMEM_STATS)
	hak_stat_local = h ? h->stat : NULL;
#else
	(void)h;
#endif
}

extern struct hak_heap hak_heap_empty;
extern struct hak_slab hak_slab_empty;
extern HAK_TLS struct hak_heap *hak_heap_tls;

/*
 * The heap of the small blocks sampled for the trace (trace.h): no
 * thread's, so that every free of one fails the fast path's owner compare
 * and reaches the slow path, which records it.  Its slabs stay its own
 * while they have blocks out: they are never let go, abandoned or adopted.
 */
extern struct hak_heap hak_heap_sampled;

/* Whether a small block of slab @s (its run's head) was sampled. */
static inline bool hak_slab_sampled(struct hak_slab *s)
{
	return atomic_load_explicit(&s->owner, memory_order_relaxed) ==
	       (uintptr_t)&hak_heap_sampled;
}

/* Whether small block @p, just handed out, was sampled. */
static inline bool hak_block_sampled(const void *p)
{
	struct hak_slab *s = hak_slab_of(p);

	if (atomic_load_explicit(&s->owner, memory_order_relaxed) == HAK_OWNER_TAIL)
		s -= s->span;
	return hak_slab_sampled(s);
}

void *hak_small_alloc_slow(size_t size, const void *site) HAK_SLOWPATH;
/* Free small block @p of slab @s, whoever owns @s. */
void hak_small_free_slow(void *p, struct hak_slab *s) HAK_SLOWPATH;
void hak_slab_emptied(struct hak_slab *s) HAK_SLOWPATH;

/*
 * What the floors above the heap run on its slow paths, registered once
 * by the set-up (init.c), so that no heap code names them: @tick now and
 * then on a refill or an emptied slab (delayed purges of the large-block
 * layers), @thread_exit when a thread's heap is handed back, before its
 * slabs are.
 */
struct hak_heap_hooks {
	void (*tick)(void);
	void (*thread_exit)(struct hak_heap *h);
};
void hak_heap_init(const struct hak_heap_hooks *hooks);
void hak_heap_detach(struct hak_heap *h);
/* This thread's heap, attached now if it has none (hak_heap_empty if that fails). */
struct hak_heap *hak_heap_own(void);
/* One-slab spans through the calling thread's empty-slab cache. */
struct hak_slab *hak_heap_take_span_slab(void);
void hak_heap_put_span_slab(struct hak_slab *s);
/*
 * Hand the calling thread's cached empty slabs, and abandoned slabs that
 * emptied, to the pool, which purge can then give back (malloc_trim).
 */
void hak_heap_trim(void);
/* First of all heaps ever made (linked by all_next; never unlinked). */
struct hak_heap *hak_heaps_first(void);
void hak_heaps_lock(void);
void hak_heaps_unlock(void);

/* A tail block of a run this thread owns is freed here (true); else the
 * caller takes the general slow path. */
bool hak_free_other(void *p, struct hak_slab *s);

/*
 * Double-free and write-after-free detection, in every build.  A block on
 * a free list holds HAK_FREE_KEY in its second word; malloc clears that
 * word when it hands the block out.  A free that finds the key there is
 * probably a second free: hak_free_suspect() then looks for the block on
 * the slab's local free list and stops the program if it is there, else
 * frees it.  A malloc that does not find it there pops a block the
 * program wrote to after freeing it: hak_alloc_rewritten() stops the
 * program if the write reached the free list's link, and else runs on.
 * The key is odd, so that no pointer equals it, and a sign-extended
 * 32-bit number, so that x86-64 compares and stores it as an immediate
 * (no load); a program that keeps it in a live block's second word by
 * chance only sends that block's free to the suspect path.  Cost: a
 * compare and a store per free, an xor that clears and tests the key
 * (and its branch) per malloc; blocks are at least 16 bytes, so the word
 * is always theirs.
 */
#define HAK_FREE_KEY ((uintptr_t)0xffffffffb5ad4ecfULL)
void hak_free_suspect(struct hak_slab *s, void *p) HAK_SLOWPATH;
/* malloc popped @b from @s without the key in it: returns @b, or stops. */
void *hak_alloc_rewritten(struct hak_slab *s, void *b) HAK_SLOWPATH;

/* Push a block onto a slab this thread owns. */
HAK_FASTPATH void hak_slab_push_local(struct hak_slab *s, void *p)
{
	uintptr_t *w = p;

	/* The suspect path pushes the block itself: nothing here lives
	 * across the call, so the fast path saves no registers. */
	if (hak_unlikely(w[1] == HAK_FREE_KEY)) {
		hak_free_suspect(s, p);
		return;
	}
	w[1] = HAK_FREE_KEY;
	/* Two plain stores: merged into one vector store they cost more. */
	__asm__("" ::: "memory");
	hak_link_set(w, s->free);
	s->free = p;
	if (hak_unlikely(--s->used == 0))
		hak_slab_emptied(s);
}

#endif /* HAK_HEAP_H */
