// SPDX-License-Identifier: MIT
/*
 * core/pageheap.c - the page heap: runs of superslab-sized units in large
 * reserved regions, split on allocation, coalesced on free, decayed back
 * to the OS oldest first.
 *
 * Why whole units.  A page heap block starts exactly at a window's start;
 * the free fast path finds no superslab for the window (pagemap.h) and
 * the slow path asks the owner map for the region, and its header is kept
 * here, beside the region, not in front of it.  So the window's bytes are all
 * the program's, a block of exactly 4 MiB takes exactly two 2 MiB units,
 * and every block is aligned to the unit (any alignment up to it is
 * free).  A run is a whole number of units; the last unit's tail past the
 * block is slack, which costs address space but not memory while nobody
 * touches it.  Slack that an earlier, longer block did touch stays
 * resident until the run is freed and decays: returning it at once, when
 * the run is handed out, cost tools/soak half its speed (11.9 GB given
 * back and faulted in again in 3 s, for a peak RSS 30% lower), and
 * bigbuf and vm kept the same peak either way.  The slack held is counted
 * (struct hak_ph_stats, slack).
 *
 * Regions.  Address space is reserved from the backend in regions of
 * PH_REGION_MIN and more (each new one as large as all before it together,
 * up to PH_REGION_MAX; exactly what a request needs when that is more, or
 * when the larger reservation fails), so a growing program reuses its
 * space and makes few mappings.  A region's metadata lives apart, from
 * the backend: free bitmap, and per unit the header of the block it
 * starts, the length of that block's run, how many of its bytes may be
 * resident, and when it was last freed.  The owner map points each of
 * the region's windows at it.  Regions are kept for the life of the
 * process, as address space only once decay has returned their memory
 * (jemalloc retains its address space the same way): a unit freed long
 * ago and taken again still tells how old it was, which is what the
 * policies learn from, and the region never has to be mapped again.
 *
 * Huge pages.  Runs of params.huge_min bytes and more come from regions
 * the backend backs with transparent huge pages: one fault and one TLB
 * entry per unit instead of 512, which halves the time of a program that
 * fills large buffers.  But a huge page is resident whole, so the slack
 * of a short run costs as much as the block: shorter runs come from
 * regions of small pages.  The two kinds of region never share runs.
 *
 * Placement: committed memory first.  Of the free stretches long enough,
 * the one whose first units cover the most dirty (still committed) units;
 * on a tie the shortest, then the first found (older regions first); the
 * run starts at the stretch's start.  Measured against best fit (shortest
 * stretch first) and address-ordered first fit, on tools/bigbuf (20 live
 * buffers of 5 to 25 MiB, each replaced at random; 5 interleaved rounds
 * of 600 replacements): 0.5 page faults per replacement against 0.8 and
 * 1.0, and a peak RSS of 491 MiB against 526 and 694 to 782, at the same
 * speed; on a buffer grown by realloc to 256 MiB past a neighbour that
 * pins it, a peak RSS of 310 MiB against 502 MiB.  Taking committed
 * memory first means touching fresh memory only when no freed memory can
 * serve, so both faults and the footprint stay low; first fit spreads
 * blocks over the whole region instead.  (docs/pageheap.md has the runs.)
 *
 * Decay.  A freed unit stays committed; hak_ph_tick() (from this file's
 * own calls and from the heaps' slow paths, never a timer) returns in one
 * pass the units free for longer than params.delay_ms, then the oldest
 * ones until at most params.keep_bytes are dirty.  The pass chooses under
 * the lock, marks the units busy, returns them with the lock let go
 * (madvise takes a while) and frees them again as clean.  Every run handed
 * out records how long ago its units were freed and whether decay had
 * returned them by then (struct hak_ph_stats): what a longer or a shorter
 * delay would have cost, for the policy to learn from.
 *
 * Locking: one mutex, a leaf; system calls outside it.  hak_ph_header()
 * reads without it (the run lengths are atomic).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "pageheap.h"
#include "pagemap.h"
#include "backend.h"
#include "stats.h"

#define PH_REGION_MIN	((size_t)64 << 20)
#define PH_REGION_MAX	((size_t)1 << 30)
#define PH_DECAY_RANGES	32		/* ranges one decay pass returns at most */

struct ph_region {
	char *base;
	size_t nunits;
	size_t meta_len;
	struct ph_region *next;
	bool huge;			/* backed by huge pages */
	unsigned nfree;
	unsigned nbusy;			/* units decay is returning right now */
	struct hak_large_hdr *hdr;	/* header of the block a unit starts */
	uint64_t *freed_ms;		/* when the unit was last freed; 0: never used */
	uint64_t *free;			/* bit u: unit u is free */
	_Atomic uint32_t *run;		/* a live block's first unit: its run's units; else 0 */
	uint32_t *dirty;		/* bytes from the unit's start that may be resident */
	uint32_t *tail;			/* a live run's last unit: bytes its block uses there */
};

static struct {
	pthread_mutex_t lock;
	struct ph_region *regions;
	size_t mapped;
	size_t committed;		/* dirty[] summed over every unit */
	size_t dirty;			/* dirty[] summed over free units */
	size_t in_use;
	size_t slack;			/* dirty[] past tail[] over the live runs' last units */
	struct hak_ph_params params;
	uint64_t next_due_ms;		/* no unit is due before; UINT64_MAX: none dirty */
	struct hak_ph_stats st;		/* the counters; sizes are filled in when read */
} ph __hak_cacheline_aligned = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.params = {
		.delay_ms = CONFIG_HAKMEM_PURGE_DELAY_MS,
		.keep_bytes = SIZE_MAX,
		.huge_min = SIZE_MAX,
	},
	.next_due_ms = UINT64_MAX,
};

/* Written under the lock, read without it by hak_ph_tick(): atomic stores. */
static void dirty_add(long n)
{
	__atomic_store_n(&ph.dirty, ph.dirty + (size_t)n, __ATOMIC_RELAXED);
}

static void due_set(uint64_t ms)
{
	__atomic_store_n(&ph.next_due_ms, ms, __ATOMIC_RELAXED);
}

/* Bytes that may be resident, here and in the committed gauge. */
static void committed_add(long n)
{
	ph.committed += (size_t)n;
	hak_gauge_add(HAK_GAUGE_COMMITTED, n);
}

/* When a thread last found the lock held (ms; 0: never), on a line of its own. */
static _Atomic uint64_t contended_ms __hak_cacheline_aligned;

void hak_ph_note_contended(void)
{
	atomic_store_explicit(&contended_ms, hak_now_ms(), memory_order_relaxed);
}

bool hak_ph_contended(void)
{
	uint64_t at = atomic_load_explicit(&contended_ms, memory_order_relaxed);

	return at && hak_now_ms() - at < HAK_PH_CONTENDED_MS;
}

/* Take the lock, noting when another thread holds it. */
static void ph_lock(void)
{
	if (pthread_mutex_trylock(&ph.lock)) {
		hak_ph_note_contended();
		pthread_mutex_lock(&ph.lock);
	}
}

void hak_ph_lock(void)
{
	pthread_mutex_lock(&ph.lock);
}

void hak_ph_unlock(void)
{
	pthread_mutex_unlock(&ph.lock);
}

/* ---- bitmaps ---- */

static bool bit(const uint64_t *bm, size_t i)
{
	return bm[i / 64] >> (i % 64) & 1;
}

static void bits_set(uint64_t *bm, size_t i, size_t n, bool on)
{
	for (size_t k = i; k < i + n; k++) {
		if (on)
			bm[k / 64] |= 1ULL << (k % 64);
		else
			bm[k / 64] &= ~(1ULL << (k % 64));
	}
}

/* First index >= @i whose bit is @on, or @n. */
static size_t bits_next(const uint64_t *bm, size_t n, size_t i, bool on)
{
	while (i < n) {
		uint64_t w = on ? bm[i / 64] : ~bm[i / 64];

		w &= ~0ULL << (i % 64);
		if (w) {
			i = (i & ~(size_t)63) + (size_t)__builtin_ctzll(w);
			return i < n ? i : n;
		}
		i = (i & ~(size_t)63) + 64;
	}
	return n;
}

/* ---- regions ---- */

static size_t units_for(size_t bytes)
{
	return (bytes + HAK_PH_UNIT - 1) >> HAK_PH_SHIFT;
}

static size_t region_bytes(const struct ph_region *r)
{
	return r->nunits << HAK_PH_SHIFT;
}

static size_t meta_size(size_t nunits)
{
	size_t words = (nunits + 63) / 64;
	size_t head = HAK_ALIGN_UP(sizeof(struct ph_region), HAK_LARGE_HDR_SIZE);

	return HAK_ALIGN_UP(head + nunits * (HAK_LARGE_HDR_SIZE + 8 + 4 + 4 + 4) + words * 8,
			    hak_backend->page_size());
}

/* A new region of @nunits units, or NULL; called without the lock. */
static struct ph_region *region_new(size_t nunits, bool huge)
{
	size_t meta = meta_size(nunits);
	struct ph_region *r = hak_backend->reserve(meta, 0);
	size_t head = HAK_ALIGN_UP(sizeof(struct ph_region), HAK_LARGE_HDR_SIZE);
	char *base;

	if (!r)
		return NULL;
	base = hak_backend->reserve(nunits << HAK_PH_SHIFT, HAK_PH_UNIT);
	if (!base || hak_pagemap_set(base, nunits << HAK_PH_SHIFT, HAK_WIN_REGION, r)) {
		if (base)
			hak_backend->release(base, nunits << HAK_PH_SHIFT);
		hak_backend->release(r, meta);
		return NULL;
	}
	/* Fresh reservations read as zero: only the non-zero fields. */
	r->base = base;
	r->nunits = nunits;
	r->meta_len = meta;
	r->hdr = (struct hak_large_hdr *)((char *)r + head);
	r->freed_ms = (uint64_t *)(r->hdr + nunits);
	r->free = r->freed_ms + nunits;
	r->run = (_Atomic uint32_t *)(r->free + (nunits + 63) / 64);
	r->dirty = (uint32_t *)(r->run + nunits);
	r->tail = r->dirty + nunits;
	r->nfree = (unsigned)nunits;
	bits_set(r->free, 0, nunits, true);
	r->huge = huge && hak_backend->huge && !hak_backend->huge(base, nunits << HAK_PH_SHIFT);
	hak_gauge_add(HAK_GAUGE_MAPPED, (long)(nunits << HAK_PH_SHIFT));
	return r;
}

/* The region and unit of @p, a unit's start; NULL when it is none of ours. */
static struct ph_region *region_of(const void *p, size_t *unit)
{
	void *owner;
	struct ph_region *r;

	if ((uintptr_t)p & (HAK_PH_UNIT - 1) || hak_pagemap_get(p, &owner) != HAK_WIN_REGION)
		return NULL;
	r = owner;
	*unit = (size_t)((const char *)p - r->base) >> HAK_PH_SHIFT;
	return r;
}

/* ---- taking and giving back units (lock held) ---- */

static unsigned age_bucket(uint64_t age_ms)
{
	unsigned b = 0;

	while (age_ms && b + 1 < HAK_PH_AGE_BUCKETS) {
		age_ms >>= 1;
		b++;
	}
	return b;
}

/* Units [u, u + n) of @r leave the free set; record what they were. */
static void units_take(struct ph_region *r, size_t u, size_t n, uint64_t now)
{
	for (size_t k = u; k < u + n; k++) {
		uint64_t age = now >= r->freed_ms[k] ? now - r->freed_ms[k] : 0;

		if (!r->freed_ms[k])
			ph.st.fresh += HAK_PH_UNIT;
		else if (r->dirty[k])
			ph.st.hit[age_bucket(age)] += HAK_PH_UNIT;
		else
			ph.st.miss[age_bucket(age)] += HAK_PH_UNIT;
		dirty_add(-(long)r->dirty[k]);
	}
	bits_set(r->free, u, n, false);
	r->nfree -= (unsigned)n;
	ph.in_use += n << HAK_PH_SHIFT;
}

/* Units [u, u + n) of @r join the free set (coalescing is the bitmap's). */
static void units_give(struct ph_region *r, size_t u, size_t n, uint64_t now)
{
	for (size_t k = u; k < u + n; k++) {
		r->freed_ms[k] = now ? now : 1;
		dirty_add((long)r->dirty[k]);
	}
	bits_set(r->free, u, n, true);
	r->nfree += (unsigned)n;
	ph.in_use -= n << HAK_PH_SHIFT;
	ph.st.freed += n << HAK_PH_SHIFT;
	if (ph.dirty && now + ph.params.delay_ms < ph.next_due_ms)
		due_set(now + ph.params.delay_ms);
}

/* Units of a run that its block covers whole: every byte may be written. */
static void units_fill(struct ph_region *r, size_t u, size_t n)
{
	for (size_t k = u; k < u + n; k++) {
		committed_add((long)(HAK_PH_UNIT - r->dirty[k]));
		r->dirty[k] = (uint32_t)HAK_PH_UNIT;
	}
}

/*
 * The last unit of a run holds the block's last @tail bytes (lock held):
 * every page up to them may be written, and what was resident past them
 * stays so, as slack.  A huge page is resident whole once touched: there
 * the unit counts whole.
 */
static void unit_set_tail(struct ph_region *r, size_t u, size_t tail)
{
	size_t keep = r->huge ? HAK_PH_UNIT : HAK_ALIGN_UP(tail, hak_backend->page_size());

	if (r->dirty[u] < keep) {
		committed_add((long)(keep - r->dirty[u]));
		r->dirty[u] = (uint32_t)keep;
	}
	r->tail[u] = (uint32_t)keep;
	ph.slack += r->dirty[u] - keep;
}

/* The run whose last unit is @u goes, or changes length: its slack is no more. */
static void unit_drop_tail(struct ph_region *r, size_t u)
{
	ph.slack -= r->dirty[u] - r->tail[u];
	r->tail[u] = 0;
}

/* ---- placement ---- */

struct ph_fit {
	struct ph_region *r;
	size_t at, len;			/* stretch start and length */
	size_t dirty;			/* dirty units among the run's */
};

static size_t dirty_units(const struct ph_region *r, size_t u, size_t n)
{
	size_t d = 0;

	for (size_t k = u; k < u + n; k++)
		d += r->dirty[k] != 0;
	return d;
}

/* The placement rule (see the top) over the regions of one kind (lock
 * held); false when no free stretch holds @n units. */
static bool ph_find(size_t n, bool huge, struct ph_fit *best)
{
	best->r = NULL;
	for (struct ph_region *r = ph.regions; r; r = r->next) {
		size_t i = 0;

		if (r->nfree < n || r->huge != huge)
			continue;
		while ((i = bits_next(r->free, r->nunits, i, true)) < r->nunits) {
			size_t end = bits_next(r->free, r->nunits, i, false), len = end - i;

			if (len >= n) {
				size_t d = dirty_units(r, i, n);

				if (!best->r || d > best->dirty || (d == best->dirty && len < best->len))
					*best = (struct ph_fit){ r, i, len, d };
			}
			i = end;
		}
		if (best->r && best->len == n && best->dirty == n)
			break;
	}
	return best->r != NULL;
}

/* Reserve a region that holds @n units and link it (lets the lock go meanwhile). */
static bool ph_grow(size_t n, bool huge)
{
	size_t want = ph.mapped < PH_REGION_MIN ? PH_REGION_MIN : ph.mapped;
	struct ph_region *r = NULL, **pp;

	if (want > PH_REGION_MAX)
		want = PH_REGION_MAX;
	want >>= HAK_PH_SHIFT;
	pthread_mutex_unlock(&ph.lock);
	if (want > n)
		r = region_new(want, huge);
	if (!r)
		r = region_new(n, huge);
	ph_lock();
	if (!r)
		return false;
	/* Newest last: older regions fill first, and empty new ones go back. */
	for (pp = &ph.regions; *pp; pp = &(*pp)->next)
		;
	*pp = r;
	ph.mapped += region_bytes(r);
	ph.st.regions++;
	return true;
}

void *hak_ph_alloc(size_t size, struct hak_large_hdr **hdr, bool *zero)
{
	size_t n = units_for(size), tail = size - ((n - 1) << HAK_PH_SHIFT);
	bool zeroed = hak_backend->caps & HAK_BACKEND_ZEROED;
	uint64_t now = hak_now_ms();
	struct ph_fit f;
	char *base;
	bool huge;

	if (!size || n > UINT32_MAX)
		return NULL;
	ph_lock();
	huge = hak_backend->huge && size >= ph.params.huge_min;
	while (!ph_find(n, huge, &f)) {
		if (!ph_grow(n, huge)) {
			pthread_mutex_unlock(&ph.lock);
			return NULL;
		}
	}
	*zero = true;
	for (size_t k = f.at; k < f.at + n; k++)
		*zero &= !f.r->dirty[k] && (zeroed || !f.r->freed_ms[k]);
	units_take(f.r, f.at, n, now);
	units_fill(f.r, f.at, n - 1);
	unit_set_tail(f.r, f.at + n - 1, tail);
	atomic_store_explicit(&f.r->run[f.at], (uint32_t)n, memory_order_relaxed);
	ph.st.runs++;
	*hdr = &f.r->hdr[f.at];
	base = f.r->base + (f.at << HAK_PH_SHIFT);
	pthread_mutex_unlock(&ph.lock);
	hak_ph_tick();
	return base;
}

bool hak_ph_free(void *p)
{
	size_t u, n;
	struct ph_region *r = region_of(p, &u);

	if (!r)
		return false;
	ph_lock();
	n = atomic_load_explicit(&r->run[u], memory_order_relaxed);
	if (!n || bit(r->free, u)) {
		pthread_mutex_unlock(&ph.lock);
		return false;
	}
	atomic_store_explicit(&r->run[u], 0, memory_order_relaxed);
	unit_drop_tail(r, u + n - 1);
	units_give(r, u, n, hak_now_ms());
	pthread_mutex_unlock(&ph.lock);
	hak_ph_tick();
	return true;
}

bool hak_ph_zero(void *p, size_t size)
{
	size_t u, whole = 0;
	struct ph_region *r = region_of(p, &u);
	unsigned need = HAK_BACKEND_CAN_RETURN | HAK_BACKEND_ZEROED;

	if (r && (hak_backend->caps & need) == need) {
		whole = HAK_ALIGN_DOWN(size, hak_backend->page_size());
		if (whole && hak_backend->decommit(p, whole))
			whole = 0;
	}
	memset((char *)p + whole, 0, size - whole);
	return whole != 0;
}

bool hak_ph_huge(const void *p)
{
	size_t u;
	struct ph_region *r = region_of(p, &u);

	return r && r->huge;
}

size_t hak_ph_resize(void *p, size_t size)
{
	size_t u, n, m = units_for(size), tail = size - ((m - 1) << HAK_PH_SHIFT);
	struct ph_region *r = region_of(p, &u);
	bool ok = true;

	if (!r || !size || m > UINT32_MAX)
		return 0;
	ph_lock();
	n = atomic_load_explicit(&r->run[u], memory_order_relaxed);
	if (!n || (m > n && (u + m > r->nunits ||
			     bits_next(r->free, u + m, u + n, false) != u + m))) {
		ok = false;
	} else {
		unit_drop_tail(r, u + n - 1);
		if (m > n) {
			units_take(r, u + n, m - n, hak_now_ms());
			units_fill(r, u + n - 1, m - n);
		} else if (m < n) {
			units_give(r, u + m, n - m, hak_now_ms());
		}
		atomic_store_explicit(&r->run[u], (uint32_t)m, memory_order_relaxed);
		unit_set_tail(r, u + m - 1, tail);
	}
	pthread_mutex_unlock(&ph.lock);
	return ok ? m << HAK_PH_SHIFT : 0;
}

void *hak_ph_move(void *p, size_t size, struct hak_large_hdr **hdr)
{
	size_t u, n, len;
	struct ph_region *r = region_of(p, &u), *nr;
	void *q;
	bool zero, huge;

	if (!r || !hak_backend->move)
		return NULL;
	ph_lock();
	n = atomic_load_explicit(&r->run[u], memory_order_relaxed);
	huge = hak_backend->huge && size >= ph.params.huge_min;
	pthread_mutex_unlock(&ph.lock);
	len = n << HAK_PH_SHIFT;
	/*
	 * Moved pages keep the huge-page setting of the region they came
	 * from, so a block may move into a region of huge pages (which then
	 * sets it again over them) but not out of one.
	 */
	if (!n || size <= len || (r->huge && !huge))
		return NULL;
	q = hak_ph_alloc(size, hdr, &zero);
	if (!q)
		return NULL;
	hak_pagemap_get(q, (void **)&nr);
	if ((r->huge && !nr->huge) || hak_backend->move(p, len, q)) {
		hak_ph_free(q);
		return NULL;
	}
	if (nr->huge && !r->huge)
		hak_backend->huge(q, len);
	hak_ph_free_moved(p);
	return q;
}

void hak_ph_free_moved(void *p)
{
	size_t u, n;
	struct ph_region *r = region_of(p, &u);

	ph_lock();
	n = r ? atomic_load_explicit(&r->run[u], memory_order_relaxed) : 0;
	if (n)
		unit_drop_tail(r, u + n - 1);
	for (size_t k = u; k < u + n; k++) {
		committed_add(-(long)r->dirty[k]);
		r->dirty[k] = 0;
	}
	if (n) {
		atomic_store_explicit(&r->run[u], 0, memory_order_relaxed);
		units_give(r, u, n, hak_now_ms());
		ph.st.moved += n << HAK_PH_SHIFT;
	}
	pthread_mutex_unlock(&ph.lock);
}

size_t hak_ph_run_len(const void *p)
{
	size_t u;
	struct ph_region *r = region_of(p, &u);

	return r ? (size_t)atomic_load_explicit(&r->run[u], memory_order_relaxed) << HAK_PH_SHIFT : 0;
}

struct hak_large_hdr *hak_ph_header(const void *p)
{
	size_t u;
	struct ph_region *r = region_of(p, &u);

	if (!r || !atomic_load_explicit(&r->run[u], memory_order_acquire))
		return NULL;
	return &r->hdr[u];
}

bool hak_ph_owns(const void *p)
{
	void *r;

	return hak_pagemap_get(p, &r) == HAK_WIN_REGION;
}

/* ---- decay ---- */

struct ph_range {
	struct ph_region *r;
	size_t u, n;
};

/* When the oldest dirty free unit was freed (UINT64_MAX: none is dirty). */
static uint64_t oldest_dirty(void)
{
	uint64_t oldest = UINT64_MAX;

	for (struct ph_region *r = ph.regions; r; r = r->next)
		for (size_t u = bits_next(r->free, r->nunits, 0, true); u < r->nunits;
		     u = bits_next(r->free, r->nunits, u + 1, true))
			if (r->dirty[u] && r->freed_ms[u] < oldest)
				oldest = r->freed_ms[u];
	return oldest;
}

/*
 * Choose dirty free units freed at or before @cutoff, in ranges of
 * neighbours, and take them out of the free set as busy (lock held).
 * Appends to @out from index @nout; returns the new count.  *@bytes
 * grows by their dirty bytes.
 */
static unsigned decay_choose(uint64_t cutoff, struct ph_range *out, unsigned nout,
			     size_t *bytes)
{
	for (struct ph_region *r = ph.regions; r && nout < PH_DECAY_RANGES; r = r->next) {
		size_t u = 0;

		while (nout < PH_DECAY_RANGES &&
		       (u = bits_next(r->free, r->nunits, u, true)) < r->nunits) {
			size_t e = u;

			while (e < r->nunits && bit(r->free, e) && r->dirty[e] &&
			       r->freed_ms[e] <= cutoff)
				e++;
			if (e == u) {
				u++;
				continue;
			}
			for (size_t k = u; k < e; k++) {
				*bytes += r->dirty[k];
				dirty_add(-(long)r->dirty[k]);
			}
			bits_set(r->free, u, e - u, false);
			r->nfree -= (unsigned)(e - u);
			r->nbusy += (unsigned)(e - u);
			out[nout++] = (struct ph_range){ r, u, e - u };
			u = e;
		}
	}
	return nout;
}

/* One decay pass; called with the lock held, returns with it held. */
static size_t decay_locked(uint64_t now, bool all)
{
	struct ph_range rg[PH_DECAY_RANGES];
	unsigned n = 0;
	size_t bytes = 0;

	if (all || now >= ph.params.delay_ms)
		n = decay_choose(all ? UINT64_MAX : now - ph.params.delay_ms, rg, 0, &bytes);
	/* Over the budget: the oldest next, one freeing time after another. */
	while (!all && ph.dirty > ph.params.keep_bytes && n < PH_DECAY_RANGES) {
		uint64_t oldest = oldest_dirty();

		if (oldest == UINT64_MAX)
			break;
		n = decay_choose(oldest, rg, n, &bytes);
	}
	if (n) {
		pthread_mutex_unlock(&ph.lock);
		for (unsigned i = 0; i < n; i++) {
			struct ph_region *r = rg[i].r;
			size_t last = rg[i].u + rg[i].n - 1;

			hak_backend->decommit(r->base + (rg[i].u << HAK_PH_SHIFT),
					      ((rg[i].n - 1) << HAK_PH_SHIFT) + r->dirty[last]);
		}
		ph_lock();
		for (unsigned i = 0; i < n; i++) {
			struct ph_region *r = rg[i].r;

			for (size_t k = rg[i].u; k < rg[i].u + rg[i].n; k++) {
				committed_add(-(long)r->dirty[k]);
				r->dirty[k] = 0;
			}
			bits_set(r->free, rg[i].u, rg[i].n, true);
			r->nfree += (unsigned)rg[i].n;
			r->nbusy -= (unsigned)rg[i].n;
		}
		ph.st.decayed += bytes;
		hak_stat_add(HAK_STAT_PH_DECAYED, bytes);
	}
	/* When the next unit falls due: a scan now, so that ticks stay cheap. */
	uint64_t oldest = ph.dirty ? oldest_dirty() : UINT64_MAX;

	due_set(oldest == UINT64_MAX ? UINT64_MAX : oldest + ph.params.delay_ms);
	return bytes;
}

void hak_ph_set_params(const struct hak_ph_params *p)
{
	ph_lock();
	if (p->delay_ms < ph.params.delay_ms && ph.next_due_ms != UINT64_MAX)
		due_set(ph.next_due_ms > ph.params.delay_ms - p->delay_ms ?
				ph.next_due_ms - (ph.params.delay_ms - p->delay_ms) : 0);
	ph.params.delay_ms = p->delay_ms;
	__atomic_store_n(&ph.params.keep_bytes, p->keep_bytes, __ATOMIC_RELAXED);
	ph.params.huge_min = p->huge_min;
	pthread_mutex_unlock(&ph.lock);
}

void hak_ph_get_params(struct hak_ph_params *p)
{
	ph_lock();
	*p = ph.params;
	pthread_mutex_unlock(&ph.lock);
}

void hak_ph_tick(void)
{
	uint64_t now;

	if (!__atomic_load_n(&ph.dirty, __ATOMIC_RELAXED))
		return;
	now = hak_now_ms();
	if (now < __atomic_load_n(&ph.next_due_ms, __ATOMIC_RELAXED) &&
	    __atomic_load_n(&ph.dirty, __ATOMIC_RELAXED) <=
		    __atomic_load_n(&ph.params.keep_bytes, __ATOMIC_RELAXED))
		return;
	if (pthread_mutex_trylock(&ph.lock))
		return;
	decay_locked(now, false);
	pthread_mutex_unlock(&ph.lock);
}

size_t hak_ph_purge_all(void)
{
	size_t bytes = 0, got;

	ph_lock();
	do {
		got = decay_locked(hak_now_ms(), true);
		bytes += got;
	} while (got && ph.dirty);
	pthread_mutex_unlock(&ph.lock);
	return bytes;
}

void hak_ph_get_stats(struct hak_ph_stats *out)
{
	uint64_t oldest;

	ph_lock();
	*out = ph.st;
	out->mapped = ph.mapped;
	out->committed = ph.committed;
	out->dirty = ph.dirty;
	out->in_use = ph.in_use;
	out->slack = ph.slack;
	oldest = ph.dirty ? oldest_dirty() : UINT64_MAX;
	out->oldest_dirty_ms = oldest == UINT64_MAX ? 0 : oldest;
	pthread_mutex_unlock(&ph.lock);
}

/* The header of a live large block: apart for the page heap's, else before it. */
struct hak_large_hdr *hak_large_hdr_find(const void *p)
{
	struct hak_large_hdr *h = ((uintptr_t)p & HAK_SS_MASK) ? NULL : hak_ph_header(p);

	return h ? h : hak_large_hdr_of(p);
}

int hak_mapping_own(void *block, const char *base, size_t len, bool on)
{
	uintptr_t from = HAK_ALIGN_DOWN((uintptr_t)block, HAK_SS_SIZE);

	return hak_pagemap_set((void *)from, (uintptr_t)base + len - from,
			       on ? HAK_WIN_MAPPED : HAK_WIN_NONE,
			       on ? hak_large_hdr_of(block) : NULL);
}

void hak_large_release(struct hak_large_hdr *h)
{
	hak_mapping_own(hak_large_block_of(h), hak_large_base(h), hak_large_len(h), false);
	hak_gauge_add(HAK_GAUGE_MAPPED, -(long)hak_large_len(h));
	hak_gauge_add(HAK_GAUGE_COMMITTED, -(long)hak_large_len(h));
	hak_backend->release(hak_large_base(h), hak_large_len(h));
}
