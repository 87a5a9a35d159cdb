// SPDX-License-Identifier: MIT
/*
 * core/stats.c - counting: the counters' storage, the gauges, and the
 * sample of small call sites.  A floor just above base: every floor may
 * count, and nothing here knows what it counts for.  A thread with a heap
 * counts into its heap's array (hak_stat_local, set by heap.c), one
 * without into striped shared arrays.  Reading, clearing and the dumps
 * are report.c's, above the floors whose state they show.
 */
#include <stdatomic.h>
#include <string.h>

#include "stats.h"

/*
 * Counts of threads without a heap (a thread that only frees has none) and
 * of the pool.  Striped by thread, each stripe in lines of its own, so that
 * threads that only free do not all add into one cache line.
 */
#define SHARED_STRIPES 16
static struct {
	_Alignas(HAK_CACHELINE) _Atomic uint64_t v[HAK_STAT_NR];
} stats_shared[SHARED_STRIPES] __hak_cacheline_aligned;

/* The calling thread's counts (its heap's), or NULL: the shared stripes. */
HAK_TLS _Atomic uint64_t *hak_stat_local;

static _Atomic uint64_t *shared_stripe(void)
{
	/* The address of a thread's TLS tells threads apart at no cost. */
	uint64_t k = (uint64_t)(uintptr_t)&hak_stat_local * 0x9e3779b97f4a7c15ULL;

	return stats_shared[k >> 60].v;
}
_Atomic long hak_gauges[HAK_GAUGE_NR][2] __hak_cacheline_aligned;

/* ---- counting ---- */

void hak_stat_add(enum hak_stat s, uint64_t n)
{
	_Atomic uint64_t *v = hak_stat_local;

	if (v) {
		/* Only this thread writes it: no locked instruction.  Release,
		 * for the reader's order (report.c): a plain store on x86. */
		atomic_store_explicit(&v[s], atomic_load_explicit(&v[s], memory_order_relaxed) + n,
				      memory_order_release);
		return;
	}
	atomic_fetch_add_explicit(&shared_stripe()[s], n, memory_order_release);
}
void hak_gauge_add(enum hak_gauge g, long n)
{
	long now = atomic_fetch_add_explicit(&hak_gauges[g][0], n, memory_order_relaxed) + n;
	long peak = atomic_load_explicit(&hak_gauges[g][1], memory_order_relaxed);

	while (now > peak &&
	       !atomic_compare_exchange_weak_explicit(&hak_gauges[g][1], &peak, now,
						      memory_order_relaxed, memory_order_relaxed))
		;
}

/*
 * ---- small call sites, sampled at refills ----
 *
 * Small blocks carry no header, so they cannot be followed one by one.
 * Instead one refill in 32 of each thread (a refill comes once in a
 * page's or a slab's worth of allocations of a class, at most) records the
 * call site of the allocation that ran the slab dry: a site's share of the
 * samples estimates its share of small allocations, weighted towards the
 * classes it keeps refilling.  The cost is bounded: a try-lock (a sample
 * that finds it taken is dropped, and counted), a hash probe over
 * SMALL_SITES slots, on sampled refills only.  Sampling every refill
 * made the lock's cache line the busiest of the program on many cores.
 */
#define SMALL_SITES 128

static struct hak_small_site small_sites[SMALL_SITES] __hak_cacheline_aligned;
static atomic_flag small_lock __hak_cacheline_aligned = ATOMIC_FLAG_INIT;
static _Atomic uint64_t small_dropped __hak_cacheline_aligned;

void hak_stat_sample_site(const void *site, size_t size)
{
	uint64_t h = (uint64_t)(uintptr_t)site * 0x9e3779b97f4a7c15ULL;
	unsigned b = 0;

	if (atomic_flag_test_and_set_explicit(&small_lock, memory_order_acquire)) {
		atomic_fetch_add_explicit(&small_dropped, 1, memory_order_relaxed);
		return;
	}
	while (b + 1 < HAK_SMALL_HIST && (size >> (5 + b)))
		b++;
	for (unsigned probe = 0; probe < 8; probe++) {
		struct hak_small_site *s = &small_sites[((h >> 40) + probe) % SMALL_SITES];

		if (s->addr != site && s->addr)
			continue;
		s->addr = site;
		s->samples++;
		s->bytes += size;
		s->hist[b]++;
		atomic_flag_clear_explicit(&small_lock, memory_order_release);
		return;
	}
	atomic_flag_clear_explicit(&small_lock, memory_order_release);
	atomic_fetch_add_explicit(&small_dropped, 1, memory_order_relaxed);
}

/* ---- for the reader (report.c) ---- */

uint64_t hak_stat_shared(enum hak_stat s)
{
	uint64_t v = 0;

	for (int i = 0; i < SHARED_STRIPES; i++)
		v += atomic_load_explicit(&stats_shared[i].v[s], memory_order_acquire);
	return v;
}

void hak_stat_shared_clear(void)
{
	for (int i = 0; i < HAK_STAT_NR; i++)
		for (int k = 0; k < SHARED_STRIPES; k++)
			atomic_store_explicit(&stats_shared[k].v[i], 0, memory_order_relaxed);
	while (atomic_flag_test_and_set_explicit(&small_lock, memory_order_acquire))
		;
	memset(small_sites, 0, sizeof(small_sites));
	atomic_store(&small_dropped, 0);
	atomic_flag_clear_explicit(&small_lock, memory_order_release);
	for (int g = 0; g < HAK_GAUGE_NR; g++)
		atomic_store_explicit(&hak_gauges[g][1],
				      atomic_load_explicit(&hak_gauges[g][0], memory_order_relaxed),
				      memory_order_relaxed);
}

/* The small sites with the most samples, most first, into @top. */
int hak_stat_small_top(struct hak_small_site *top, int max, uint64_t *dropped)
{
	int n = 0;
	bool locked = false;

	/* At exit a thread may hold the lock for a moment; never wait long
	 * (without it the copy may see a site half updated: a report). */
	for (int spin = 0; spin < 1000000 && !locked; spin++)
		locked = !atomic_flag_test_and_set_explicit(&small_lock, memory_order_acquire);
	for (int i = 0; i < SMALL_SITES; i++) {
		const struct hak_small_site *s = &small_sites[i];
		int j;

		if (!s->samples || (n == max && s->samples <= top[max - 1].samples))
			continue;
		j = n < max ? n++ : max - 1;
		for (; j > 0 && top[j - 1].samples < s->samples; j--)
			top[j] = top[j - 1];
		top[j] = *s;
	}
	if (locked)
		atomic_flag_clear_explicit(&small_lock, memory_order_release);
	*dropped = atomic_load(&small_dropped);
	return n;
}
