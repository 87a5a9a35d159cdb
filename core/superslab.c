// SPDX-License-Identifier: MIT
/*
 * core/superslab.c - the pool of superslabs: slabs and spans for heaps,
 * and the delayed return of free pages to the OS.
 *
 * The pool is sharded: HAK_POOL_SHARDS pools, each a lock and a list of
 * the superslabs it owns that have a free slab.  A superslab belongs to
 * the shard that mapped it for its whole life; a thread takes slabs and
 * spans from its heap's shard (heaps are dealt out round robin), from the
 * others only when its own has no room, and gives them back to the shard
 * they belong to.  With one pool, 16 threads growing buffers by realloc
 * spent their time queueing for its lock.  Heaps come here only when
 * their own caches are empty or overflow, so no lock is on a fast path.  A freed slab stays committed ("dirty") for
 * purge.delay_ms (CONFIG_HAKMEM_PURGE_DELAY_MS unless set at run time) so
 * that a heap that frees and reallocates does not fault its pages in again;
 * after the delay, purging decommits it, and a superslab whose slabs are
 * all free goes back to the backend (one decommitted spare is kept).  A
 * burst that is freed and allocated again within the delay (tools/frag)
 * thus costs neither munmap nor page faults.  Purging runs from the
 * pool's own slow paths (every take and put) and from heap refills,
 * never from a timer thread.
 *
 * Lock order: a shard's lock is a leaf; nothing is called with it held
 * that takes another hakmem lock, another shard's included (fork takes
 * them all, in index order).
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "superslab.h"
#include "backend.h"
#include "stats.h"
#include "options.h"

struct pool {
	pthread_mutex_t lock;
	struct hak_superslab *head;	/* its superslabs with a free slab */
	uint64_t last_purge;
	int dirty_ss;		/* superslabs with dirty slabs; read unlocked as a hint */
} __attribute__((aligned(HAK_CACHELINE)));

static struct pool pools[HAK_POOL_SHARDS] __hak_cacheline_aligned = {
	[0 ... HAK_POOL_SHARDS - 1] = { .lock = PTHREAD_MUTEX_INITIALIZER },
};

static struct pool *pool_of(const struct hak_superslab *ss)
{
	return &pools[ss->shard];
}

/* Written under the pool's lock; atomic only so that unlocked readers are defined. */
static void pool_dirty_add(struct pool *pl, int n)
{
	__atomic_store_n(&pl->dirty_ss, pl->dirty_ss + n, __ATOMIC_RELAXED);
}

#define SS_ALL_SLABS ((HAK_SLABS_PER_SS == 64) ? ~0ULL : ((1ULL << HAK_SLABS_PER_SS) - 1))

void hak_pool_lock(void)
{
	for (unsigned k = 0; k < HAK_POOL_SHARDS; k++)
		pthread_mutex_lock(&pools[k].lock);
}

void hak_pool_unlock(void)
{
	for (unsigned k = HAK_POOL_SHARDS; k-- > 0;)
		pthread_mutex_unlock(&pools[k].lock);
}

void hak_pool_reset_after_fork(void)
{
	for (unsigned k = 0; k < HAK_POOL_SHARDS; k++)
		pthread_mutex_init(&pools[k].lock, NULL);
}

static void pool_link(struct hak_superslab *ss)
{
	struct pool *pl = pool_of(ss);

	if (ss->in_pool)
		return;
	ss->in_pool = 1;
	ss->prev = NULL;
	ss->next = pl->head;
	if (pl->head)
		pl->head->prev = ss;
	/* Atomic: pool_take() peeks at other shards' heads without their lock. */
	__atomic_store_n(&pl->head, ss, __ATOMIC_RELAXED);
}

static void pool_unlink(struct hak_superslab *ss)
{
	struct pool *pl = pool_of(ss);

	if (!ss->in_pool)
		return;
	ss->in_pool = 0;
	if (ss->prev)
		ss->prev->next = ss->next;
	else
		__atomic_store_n(&pl->head, ss->next, __ATOMIC_RELAXED);
	if (ss->next)
		ss->next->prev = ss->prev;
}

static struct hak_superslab *ss_new(struct pool *pl)
{
	struct hak_superslab *ss = hak_backend->reserve(HAK_SS_SIZE, HAK_SS_SIZE);

	if (!ss)
		return NULL;
	/* Remote lists keep a count above this bit (superslab.h). */
	if (((uintptr_t)ss + HAK_SS_SIZE - 1) >> HAK_REMOTE_SHIFT) {
		hak_backend->release(ss, HAK_SS_SIZE);
		return NULL;
	}
	/* Fresh mappings are zero; only non-zero fields are written. */
	ss->magic = HAK_SS_MAGIC;
	ss->shard = (uint32_t)(pl - pools);
	ss->free_mask = SS_ALL_SLABS;
	ss->nfree = HAK_SLABS_PER_SS;
	hak_ss_map_set(ss, true);
	hak_stat_add(HAK_STAT_SS_MAPPED, 1);
	hak_gauge_add(HAK_GAUGE_MAPPED, (long)HAK_SS_SIZE);
	return ss;
}

static void ss_release(struct hak_superslab *ss)
{
	pool_unlink(ss);
	ss->magic = 0;
	hak_ss_map_set(ss, false);
	hak_backend->release(ss, HAK_SS_SIZE);
	hak_stat_add(HAK_STAT_SS_RELEASED, 1);
	hak_gauge_add(HAK_GAUGE_MAPPED, -(long)HAK_SS_SIZE);
}

/* Bits [i, i + n). */
static uint64_t run_bits(unsigned i, unsigned n)
{
	return ((n == 64) ? ~0ULL : ((1ULL << n) - 1)) << i;
}

/* Length of the stretch of set bits of @mask starting at bit @start. */
static unsigned stretch_len(uint64_t mask, unsigned start)
{
	uint64_t rest = ~(mask >> start);

	return rest ? (unsigned)__builtin_ctzll(rest) : 64 - start;
}

/* Decommit free slabs [i, i + n) of @ss (slab 0 after its header). */
static size_t slabs_decommit(struct hak_superslab *ss, unsigned i, unsigned n)
{
	char *start = (char *)ss + (i ? (size_t)i << HAK_SLAB_SHIFT : HAK_SS_HDR_SIZE);
	char *end = (char *)ss + ((size_t)(i + n) << HAK_SLAB_SHIFT);

	hak_backend->decommit(start, (size_t)(end - start));
	hak_stat_add(HAK_STAT_PURGED_SLABS, n);
	hak_stat_add(HAK_STAT_PURGED_BYTES, (uint64_t)(end - start));
	hak_gauge_add(HAK_GAUGE_COMMITTED, -(long)(end - start));
	return (size_t)(end - start);
}

/*
 * Decommit free slabs that have stayed free for the purge delay (each
 * slab by its own age, so a superslab in constant use still gives back
 * the slabs nobody takes), and release superslabs that are wholly free
 * and clean, keeping one as a spare.  Called with the pool's lock held.
 * Returns the bytes given back: decommitted, and superslabs unmapped.
 */
static size_t pool_purge_locked(struct pool *pl, uint64_t now, bool force)
{
	struct hak_superslab *ss = pl->head, *next;
	uint64_t delay = hak_opts.purge_delay_ms;
	bool kept_spare = false;
	size_t bytes = 0;

	__atomic_store_n(&pl->last_purge, now, __ATOMIC_RELAXED);
	hak_stat_add(HAK_STAT_PURGE_RUNS, 1);
	for (; ss; ss = next) {
		uint64_t aged = 0;

		next = ss->next;
		for (uint64_t d = ss->dirty_mask; d; d &= d - 1) {
			unsigned i = (unsigned)__builtin_ctzll(d);

			if (force || now - ss->slabs[i].freed_ms >= delay)
				aged |= 1ULL << i;
		}
		if (aged) {
			ss->dirty_mask &= ~aged;
			if (!ss->dirty_mask)
				pool_dirty_add(pl, -1);
			while (aged) {
				unsigned i = (unsigned)__builtin_ctzll(aged);
				unsigned n = stretch_len(aged, i);

				bytes += slabs_decommit(ss, i, n);
				aged &= ~run_bits(i, n);
			}
		}
		if (ss->free_mask == SS_ALL_SLABS && !ss->dirty_mask) {
			/* One clean spare saves a map/unmap pair on a see-saw. */
			if (!kept_spare && !force) {
				kept_spare = true;
				continue;
			}
			ss_release(ss);
			bytes += HAK_SS_SIZE;
		}
	}
	return bytes;
}

static void pool_maybe_purge_locked(struct pool *pl)
{
	uint64_t now = hak_now_ms();

	if (now - pl->last_purge >= (hak_opts.purge_delay_ms + 1) / 2)
		pool_purge_locked(pl, now, false);
}

/*
 * Called now and then from heap slow paths, so that pages freed in a burst
 * go back to the OS even when the pools themselves are not used afterwards.
 * Every shard: the thread that freed a burst may not be the one that ticks.
 */
void hak_pool_tick(void)
{
	uint64_t now = hak_now_ms();

	for (unsigned k = 0; k < HAK_POOL_SHARDS; k++) {
		struct pool *pl = &pools[k];

		if (!__atomic_load_n(&pl->dirty_ss, __ATOMIC_RELAXED) ||
		    now - __atomic_load_n(&pl->last_purge, __ATOMIC_RELAXED) <
			    hak_opts.purge_delay_ms)
			continue;
		if (pthread_mutex_trylock(&pl->lock))
			continue;
		pool_maybe_purge_locked(pl);
		pthread_mutex_unlock(&pl->lock);
	}
}

size_t hak_pool_purge(bool force)
{
	size_t bytes = 0;

	for (unsigned k = 0; k < HAK_POOL_SHARDS; k++) {
		pthread_mutex_lock(&pools[k].lock);
		bytes += pool_purge_locked(&pools[k], hak_now_ms(), force);
		pthread_mutex_unlock(&pools[k].lock);
	}
	return bytes;
}

size_t hak_pool_dirty_bytes(void)
{
	size_t bytes = 0;

	for (unsigned k = 0; k < HAK_POOL_SHARDS; k++) {
		pthread_mutex_lock(&pools[k].lock);
		for (struct hak_superslab *ss = pools[k].head; ss; ss = ss->next)
			bytes += (size_t)__builtin_popcountll(ss->dirty_mask) << HAK_SLAB_SHIFT;
		pthread_mutex_unlock(&pools[k].lock);
	}
	return bytes;
}

/*
 * Mark free slabs [i, i + n) of @ss taken.  Clean ones (never touched, or
 * decommitted) count as committed again from here: they are about to be
 * written.
 */
static void ss_claim_locked(struct hak_superslab *ss, unsigned i, unsigned n)
{
	uint64_t bits = run_bits(i, n);

	hak_gauge_add(HAK_GAUGE_COMMITTED,
		      (long)__builtin_popcountll(bits & ~ss->dirty_mask) * (long)HAK_SLAB_SIZE);

	ss->free_mask &= ~bits;
	if ((ss->dirty_mask & bits) && !(ss->dirty_mask & ~bits))
		pool_dirty_add(pool_of(ss), -1);
	ss->dirty_mask &= ~bits;
	ss->nfree -= n;
	if (!ss->free_mask)
		pool_unlink(ss);
}

/*
 * Where @n free slabs go in @ss, or -1.  Slab 0 (whose start is the
 * header) only ever serves a lone slab for a heap.
 *
 * With @dirty, only places that reuse committed ("dirty") slabs, the
 * most of them, so that RSS tracks what is in use rather than what was
 * ever touched: a lone slab takes the lowest dirty one, a run the free
 * stretch where it covers the most dirty slabs.  Without, best fit: the
 * shortest free stretch that holds @n, so that long stretches stay whole
 * for long runs and for spans that grow in place.  With @room, the first
 * stretch that also leaves @room free slabs after the run: a block that
 * realloc had to move lands where it can grow again without moving.
 */
static int ss_fit(const struct hak_superslab *ss, unsigned n, bool span, unsigned room,
		  bool dirty)
{
	uint64_t free = ss->free_mask;
	unsigned best_len = ~0u, best_dirty = 0;
	int best = -1;

	if (n == 1 && !span && !room) {
		if (dirty)
			return ss->dirty_mask ? __builtin_ctzll(ss->dirty_mask) : -1;
		if (free & 1)
			return 0;
	}
	free &= ~1ULL;
	while (free) {
		unsigned start = (unsigned)__builtin_ctzll(free);
		unsigned len = stretch_len(free, start);
		uint64_t d = ss->dirty_mask & run_bits(start, len);

		free &= ~run_bits(start, len);
		if (len < n + room)
			continue;
		if (room)
			return (int)start;
		if (!dirty) {
			if (len < best_len) {
				best = (int)start;
				best_len = len;
			}
			continue;
		}
		if (!d)
			continue;
		/* From the first dirty slab, kept inside the stretch. */
		unsigned at = (unsigned)__builtin_ctzll(d);
		unsigned cover;

		if (at > start + len - n)
			at = start + len - n;
		cover = (unsigned)__builtin_popcountll(d & run_bits(at, n));
		if (cover > best_dirty || (cover == best_dirty && len < best_len)) {
			best = (int)at;
			best_dirty = cover;
			best_len = len;
		}
	}
	return best;
}

/*
 * A place for @n slabs in @pl's superslabs (lock held), or NULL: with
 * @room, the first superslab with that much room after the run; else
 * committed slabs first, wherever they are, then best fit.
 */
static struct hak_superslab *pool_find(struct pool *pl, unsigned n, bool span, unsigned room,
				       int *at)
{
	struct hak_superslab *ss;

	*at = -1;
	if (room) {
		for (ss = pl->head; ss; ss = ss->next)
			if (ss->nfree >= n + room && (*at = ss_fit(ss, n, span, room, false)) >= 0)
				return ss;
		return NULL;
	}
	for (ss = pl->head; ss; ss = ss->next)
		if (ss->dirty_mask && (*at = ss_fit(ss, n, span, 0, true)) >= 0)
			return ss;
	for (ss = pl->head; ss; ss = ss->next)
		if (ss->nfree >= n && (*at = ss_fit(ss, n, span, 0, false)) >= 0)
			return ss;
	return NULL;
}

static struct hak_slab *pool_take(unsigned n, bool span, unsigned room, unsigned shard)
{
	struct pool *own = &pools[shard % HAK_POOL_SHARDS], *pl = own;
	struct hak_superslab *ss;
	int i;

	pthread_mutex_lock(&pl->lock);
	ss = pool_find(pl, n, span, room, &i);
	if (!ss) {
		pthread_mutex_unlock(&pl->lock);
		/* The other shards' free slabs before new memory; a shard busy
		 * right now is passed over rather than waited for. */
		for (unsigned k = 1; k < HAK_POOL_SHARDS && !ss; k++) {
			pl = &pools[(unsigned)(own - pools + k) % HAK_POOL_SHARDS];
			if (!__atomic_load_n(&pl->head, __ATOMIC_RELAXED) ||
			    pthread_mutex_trylock(&pl->lock))
				continue;
			ss = pool_find(pl, n, span, room, &i);
			if (!ss)
				pthread_mutex_unlock(&pl->lock);
		}
	}
	if (!ss) {
		/* Map outside any lock: the backend may sleep in the kernel. */
		pl = own;
		ss = ss_new(pl);
		if (!ss)
			return NULL;
		pthread_mutex_lock(&pl->lock);
		pool_link(ss);
		i = ss_fit(ss, n, span, room, false);
		HAK_BUG_ON(i < 0);
	}
	ss_claim_locked(ss, (unsigned)i, n);
	pthread_mutex_unlock(&pl->lock);
	ss->slabs[i].span = (uint8_t)n;
	/* Every shard that is due: the burst this thread's take follows may
	 * have been freed into another. */
	hak_pool_tick();
	return &ss->slabs[i];
}

/* Reset the metadata of slabs [i, i + n) of @ss before they go back. */
static void slabs_clear(struct hak_superslab *ss, unsigned i, unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
		struct hak_slab *t = &ss->slabs[i + k];

		atomic_store_explicit(&t->owner, 0, memory_order_relaxed);
		t->free = NULL;
		t->used = 0;
		t->span = 0;
		atomic_store_explicit(&t->remote, 0, memory_order_relaxed);
	}
}

/* Slabs [i, i + n) of @ss are free again, still committed. */
static void ss_put_locked(struct hak_superslab *ss, unsigned i, unsigned n)
{
	uint64_t now = hak_now_ms();

	if (!ss->dirty_mask)
		pool_dirty_add(pool_of(ss), 1);
	for (unsigned k = 0; k < n; k++)
		ss->slabs[i + k].freed_ms = now;
	ss->free_mask |= run_bits(i, n);
	ss->dirty_mask |= run_bits(i, n);
	ss->nfree += n;
	pool_link(ss);
}

static void pool_put(struct hak_slab *s, unsigned n)
{
	struct hak_superslab *ss = hak_ss_of(s);
	unsigned i = hak_slab_index(s);

	struct pool *pl = pool_of(ss);

	slabs_clear(ss, i, n);
	pthread_mutex_lock(&pl->lock);
	ss_put_locked(ss, i, n);
	pthread_mutex_unlock(&pl->lock);
	hak_pool_tick();
}

struct hak_slab *hak_pool_take_slab(unsigned units, unsigned shard)
{
	return pool_take(units, false, 0, shard);
}

void hak_pool_put_slab(struct hak_slab *s)
{
	pool_put(s, hak_slab_units(s));
}

/*
 * Resize the large span @s heads to @units where it stands: a shrink
 * gives its last slabs back, a growth takes the slabs right after it when
 * they are free.  Returns false (nothing changed) when they are not.
 */
bool hak_pool_resize_span(struct hak_slab *s, unsigned units)
{
	struct hak_superslab *ss = hak_ss_of(s);
	unsigned i = hak_slab_index(s), n = hak_slab_units(s);

	if (units == n)
		return true;
	if (units < n) {
		slabs_clear(ss, i + units, n - units);
		pthread_mutex_lock(&pool_of(ss)->lock);
		ss_put_locked(ss, i + units, n - units);
		s->span = (uint8_t)units;
		pthread_mutex_unlock(&pool_of(ss)->lock);
		return true;
	}
	if (i + units > HAK_SLABS_PER_SS)
		return false;

	uint64_t bits = run_bits(i + n, units - n);

	pthread_mutex_lock(&pool_of(ss)->lock);
	if ((ss->free_mask & bits) != bits) {
		pthread_mutex_unlock(&pool_of(ss)->lock);
		return false;
	}
	ss_claim_locked(ss, i + n, units - n);
	for (unsigned k = n; k < units; k++)
		atomic_store_explicit(&s[k].owner, HAK_OWNER_SPAN, memory_order_release);
	s->span = (uint8_t)units;
	pthread_mutex_unlock(&pool_of(ss)->lock);
	return true;
}

struct hak_slab *hak_pool_take_span(unsigned units, unsigned room, unsigned shard)
{
	struct hak_slab *s = pool_take(units, true, room, shard);

	if (s)
		for (unsigned k = 0; k < units; k++)
			atomic_store_explicit(&s[k].owner, HAK_OWNER_SPAN, memory_order_release);
	return s;
}
