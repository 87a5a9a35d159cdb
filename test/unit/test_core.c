// SPDX-License-Identifier: MIT
/*
 * test/unit/test_core.c - unit tests of the core's modules: the size-class
 * table, slab free lists, superslab lookup, the pool and its purge,
 * remote-free collection, thread hand-over, large-block headers and the
 * BigCache (the page heap itself has test_pageheap.c).
 *
 * Linked with libhakmem.a, so the whole test process (Check included)
 * allocates through hakmem and the internals are callable.  Check runs
 * each test in its own child process.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hakmem.h>

#include "alloc.h"
#include "backend.h"
#include "heap.h"
#include "init.h"
#include "large.h"
#include "options.h"
#include "policy.h"
#include "pageheap.h"
#include "bigcache.h"
#include "sizeclass.h"
#include "stats.h"
#include "superslab.h"
#include "testlib.h"

static struct hak_slab *slab_of_block(void *p)
{
	return hak_slab_of(p);
}

/* ---- size classes ---- */

START_TEST(classes_cover_every_small_size)
{
	hak_init();
	ck_assert_uint_gt(hak_nclass, 0);
	ck_assert_uint_eq(hak_class_size[hak_nclass - 1], HAK_SMALL_MAX);
	for (size_t n = 0; n <= HAK_SMALL_MAX; n++) {
		unsigned c = hak_class_of(n);
		size_t size = hak_class_size[c];

		ck_assert_uint_lt(c, hak_nclass);
		ck_assert_uint_ge(size, n);
		ck_assert_uint_eq(size % 16, 0);
		/* The class is the smallest that fits. */
		if (c > 0)
			ck_assert_uint_lt(hak_class_size[c - 1], n);
		/* Worst-case waste: 16-byte steps below 256, 12.5% above. */
		if (n > 256)
			ck_assert_msg((size - n) * 8 <= n, "size %zu -> class %zu wastes too much", n, size);
		else
			ck_assert_uint_lt(size - (n ? n : 1), 16);
	}
}
END_TEST

START_TEST(classes_are_increasing)
{
	hak_init();
	for (unsigned c = 1; c < hak_nclass; c++)
		ck_assert_uint_gt(hak_class_size[c], hak_class_size[c - 1]);
	ck_assert_uint_eq(hak_class_size[0], 16);
}
END_TEST

START_TEST(aligned_class_lookup)
{
	hak_init();
	for (size_t align = 32; align <= 4096; align *= 2) {
		for (size_t n = 1; n <= HAK_SMALL_MAX; n = n * 3 + 1) {
			int c = hak_class_aligned(n, align);

			ck_assert_int_ge(c, 0);
			ck_assert_uint_eq(hak_class_size[c] % align, 0);
			ck_assert_uint_ge(hak_class_size[c], n);
		}
	}
	ck_assert_int_eq(hak_class_aligned(HAK_SMALL_MAX + 1, 32), -1);
}
END_TEST

START_TEST(class_run_lengths)
{
	hak_init();
	for (unsigned c = 0; c < hak_nclass; c++) {
		size_t size = hak_class_size[c], units = hak_class_units[c];
		size_t want = HAK_RUN_BLOCKS * size < (size_t)HAK_RUN_MAX * HAK_SLAB_SIZE ?
				      HAK_RUN_BLOCKS * size : (size_t)HAK_RUN_MAX * HAK_SLAB_SIZE;

		ck_assert_uint_ge(units, 1);
		ck_assert_uint_le(units, HAK_RUN_MAX);
		ck_assert_uint_eq(units & (units - 1), 0);
		/* The shortest run that holds HAK_RUN_BLOCKS blocks (or the
		 * longest run). */
		ck_assert_uint_ge(units * HAK_SLAB_SIZE, want);
		if (units > 1)
			ck_assert_uint_lt(units / 2 * HAK_SLAB_SIZE, want);
		/* Every slab holds at least 4 blocks; only a one-unit slab
		 * may be slab 0, less the superslab header. */
		if (units > 1)
			ck_assert_uint_ge(units * HAK_SLAB_SIZE / size, 4);
		else
			ck_assert_uint_ge((HAK_SLAB_SIZE - HAK_SS_HDR_SIZE) / size, 1);
	}
}
END_TEST

/* ---- superslab lookup and slab free lists ---- */

START_TEST(lookup_finds_slab_and_superslab)
{
	void *p = hak_malloc(100);
	struct hak_superslab *ss = hak_ss_of(p);
	struct hak_slab *s = slab_of_block(p);

	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(ss->magic, HAK_SS_MAGIC);
	ck_assert_uint_eq(((uintptr_t)ss) & HAK_SS_MASK, 0);
	ck_assert_uint_eq(s->block_size, hak_class_size[hak_class_of(100)]);
	ck_assert((char *)p >= hak_slab_start(s));
	ck_assert((char *)p < hak_slab_end(s));
	ck_assert_uint_eq((size_t)((char *)p - hak_slab_start(s)) % s->block_size, 0);
	ck_assert_uint_eq(atomic_load(&s->owner), (uintptr_t)hak_heap_tls | hak_heap_tls->flags);
	hak_free(p);
}
END_TEST

START_TEST(slab_fills_and_counts)
{
	size_t size = 1024;
	void *first = hak_malloc(size);
	struct hak_slab *s = slab_of_block(first);
	uint32_t cap = s->capacity;
	void **blocks = calloc(cap, sizeof(void *));

	ck_assert_uint_eq(cap, (size_t)(hak_slab_end(s) - hak_slab_start(s)) / s->block_size);
	blocks[0] = first;
	/* Take every block of this slab: all distinct, all inside it. */
	for (uint32_t i = 1; i < cap; i++) {
		blocks[i] = hak_malloc(size);
		ck_assert_ptr_eq(slab_of_block(blocks[i]), s);
		for (uint32_t j = 0; j < i; j++)
			ck_assert_ptr_ne(blocks[i], blocks[j]);
	}
	ck_assert_uint_eq(s->used, cap);
	/* The next one comes from another slab. */
	void *other = hak_malloc(size);

	ck_assert_ptr_ne(slab_of_block(other), s);
	/* The full slab was let go: no owner, marked in its remote word. */
	ck_assert_uint_eq(atomic_load(&s->owner), HAK_OWNER_DETACHED);
	ck_assert_uint_eq(atomic_load(&s->remote), HAK_REMOTE_DETACHED);
	/* A free into it takes it back: this thread's again, a partial slab. */
	hak_free(blocks[0]);
	ck_assert_uint_eq(atomic_load(&s->owner) & ~HAK_SLAB_F_MASK, (uintptr_t)hak_heap_tls);
	ck_assert_uint_eq(atomic_load(&s->remote), 0);
	ck_assert_uint_eq(s->used, cap - 1);
	/* Freed blocks are reused LIFO. */
	hak_free(blocks[1]);
	for (uint32_t i = 2; i < cap; i++)
		hak_free(blocks[i]);
	hak_free(other);
	free(blocks);
}
END_TEST

START_TEST(free_list_is_lifo)
{
	void *a = hak_malloc(48);
	void *b = hak_malloc(48);

	hak_free(a);
	hak_free(b);
	ck_assert_ptr_eq(hak_malloc(48), b);
	ck_assert_ptr_eq(hak_malloc(48), a);
}
END_TEST

START_TEST(small_blocks_are_16_aligned_and_headerless)
{
	/* A hardened build's canary takes the block's last 8 bytes. */
	for (int i = 0; i < 100; i++) {
		char *p = hak_malloc(32 - HAK_CANARY_SIZE);
		struct hak_slab *s = slab_of_block(p);

		ck_assert_uint_eq((uintptr_t)p % 16, 0);
		/* Blocks tile the slab at the class size: nothing sits between. */
		ck_assert_uint_eq(s->block_size, 32);
		ck_assert_uint_eq((size_t)(p - hak_slab_start(s)) % 32, 0);
		ck_assert_uint_eq(hak_usable_size(p), 32 - HAK_CANARY_SIZE);
	}
}
END_TEST

/* Every build: a second local free of a small block stops the program. */
START_TEST(small_double_free_is_caught)
{
	void *keep = hak_malloc(64), *p = hak_malloc(64);

	hak_free(p);
	hak_free(keep);
	hak_free(p);	/* SIGABRT here */
}
END_TEST

/* A live block whose second word happens to hold the key frees normally. */
START_TEST(key_in_a_live_block_is_no_double_free)
{
	uintptr_t *p = hak_malloc(32);

	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(p[1], 0);	/* malloc cleared the "freed" mark */
	p[1] = HAK_FREE_KEY;
	hak_free(p);
	ck_assert_ptr_eq(hak_malloc(32), p);
	ck_assert_uint_eq(p[1], 0);
	hak_free(p);
}
END_TEST

/* ---- pool ---- */

START_TEST(pool_slabs_and_spans)
{
	struct hak_slab *a, *b, *span;

	hak_init();
	a = hak_pool_take_slab(1, 0);
	b = hak_pool_take_slab(1, 0);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_ne(a, b);
	span = hak_pool_take_span(4, 0, 0);
	ck_assert_ptr_nonnull(span);
	ck_assert_uint_eq(span->span, 4);
	ck_assert_uint_ne(hak_slab_index(span), 0);
	for (int k = 0; k < 4; k++) {
		ck_assert_uint_eq(atomic_load(&span[k].owner), HAK_OWNER_SPAN);
		ck_assert_ptr_ne(&span[k], a);
		ck_assert_ptr_ne(&span[k], b);
	}
	hak_pool_put_slab(span);
	/* A run of slabs comes back whole: the same run can be taken again. */
	struct hak_slab *run = hak_pool_take_slab(HAK_RUN_MAX, 0);

	ck_assert_ptr_nonnull(run);
	ck_assert_uint_eq(run->span, HAK_RUN_MAX);
	ck_assert_uint_ne(hak_slab_index(run), 0);
	for (unsigned k = 0; k < HAK_RUN_MAX; k++)
		ck_assert_uint_eq(atomic_load(&run[k].owner), 0);
	hak_pool_put_slab(run);
	hak_pool_put_slab(a);
	hak_pool_put_slab(b);
}
END_TEST

static size_t resident_pages(void *addr, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), n = 0;
	unsigned char vec[1024];

	ck_assert_uint_le(len / page, sizeof(vec));
	ck_assert_int_eq(mincore(addr, len, vec), 0);
	for (size_t i = 0; i < len / page; i++)
		n += vec[i] & 1;
	return n;
}

START_TEST(purge_decommits_free_slabs)
{
	struct hak_slab *s;
	char *start;

	hak_init();
	hak_opts.purge_delay_ms = 60000;	/* whatever the environment says */
	s = hak_pool_take_slab(1, 0);
	ck_assert_ptr_nonnull(s);
	/* Use a slab other than 0, so the whole slab is blocks. */
	if (hak_slab_index(s) == 0) {
		struct hak_slab *t = hak_pool_take_slab(1, 0);

		hak_pool_put_slab(s);
		s = t;
	}
	start = hak_slab_start(s);
	memset(start, 0x5a, HAK_SLAB_SIZE);
	ck_assert_uint_eq(resident_pages(start, HAK_SLAB_SIZE), HAK_SLAB_SIZE / (size_t)sysconf(_SC_PAGESIZE));
	hak_pool_put_slab(s);
	/* Still committed right after the free: the purge waits its delay. */
	ck_assert_uint_gt(resident_pages(start, HAK_SLAB_SIZE), 0);
	hak_pool_purge(true);
	/* A backend that cannot return pages (a static buffer) keeps them. */
	if (hak_backend->caps & HAK_BACKEND_CAN_RETURN)
		ck_assert_uint_eq(resident_pages(start, HAK_SLAB_SIZE), 0);
}
END_TEST

/* ---- remote frees ---- */

struct remote_job {
	void **blocks;
	int n;
};

static void *free_all(void *arg)
{
	struct remote_job *job = arg;

	for (int i = 0; i < job->n; i++)
		hak_free(job->blocks[i]);
	return NULL;
}

START_TEST(remote_frees_are_collected_by_owner)
{
	enum { N = 200 };
	void *blocks[N];
	struct remote_job job = { blocks, N };
	struct hak_slab *s;
	uint32_t used_before;

	for (int i = 0; i < N; i++)
		blocks[i] = hak_malloc(64);
	s = slab_of_block(blocks[0]);
	used_before = s->used;
	run_thread(free_all, &job);
	/* The other thread only pushed: the owner's count is unchanged, and
	 * the list's head word counts the blocks of this slab it holds. */
	uint32_t in_slab = 0;

	for (int i = 0; i < N; i++)
		in_slab += slab_of_block(blocks[i]) == s;
	ck_assert_uint_eq(HAK_REMOTE_COUNT(atomic_load(&s->remote)), in_slab);
	ck_assert_uint_eq(s->used, used_before);
	/* Draining the current free list makes the owner collect them. */
	int found = 0;

	for (int i = 0; i < 2 * N && !found; i++) {
		void *p = hak_malloc(64);

		for (int j = 0; j < N; j++)
			found |= p == blocks[j];
	}
	ck_assert_msg(found, "remotely freed blocks were never reused by the owner");
}
END_TEST

/*
 * A full slab belongs to nobody: the first thread that frees into it owns
 * it, frees the rest locally, and a thread that never allocated gets a
 * heap to take it into.
 */
struct claim_job {
	void **blocks;
	uint32_t n;
	struct hak_slab *s;
	uintptr_t owner_after_first;	/* the slab's owner word after the first free */
	uintptr_t my_heap;
	int counted;			/* 0: the statistics are built in */
	uint64_t remote_before, remote_after;
};

static void *free_and_claim(void *arg)
{
	struct claim_job *job = arg;

	/* This thread has not allocated: it has no heap yet. */
	job->counted = hak_stat_get("free.remote", &job->remote_before);
	hak_free(job->blocks[0]);
	job->owner_after_first = atomic_load(&job->s->owner) & ~HAK_SLAB_F_MASK;
	job->my_heap = (uintptr_t)hak_heap_tls;
	for (uint32_t i = 1; i < job->n; i++)
		hak_free(job->blocks[i]);
	hak_stat_get("free.remote", &job->remote_after);
	return NULL;
}

START_TEST(full_slab_goes_to_the_thread_that_frees_into_it)
{
	size_t size = 512;
	void *first = hak_malloc(size);
	struct hak_slab *s = slab_of_block(first);
	uint32_t cap = s->capacity, n = 0;
	void **blocks = calloc(cap, sizeof(void *));

	ck_assert_ptr_nonnull(blocks);
	/* Fill the slab, then make it let go (the next malloc leaves it). */
	blocks[n++] = first;
	while (n < cap) {
		void *p = hak_malloc(size);

		ck_assert_ptr_eq(slab_of_block(p), s);
		blocks[n++] = p;
	}
	void *other = hak_malloc(size);

	ck_assert_ptr_ne(slab_of_block(other), s);
	ck_assert_uint_eq(atomic_load(&s->owner), HAK_OWNER_DETACHED);

	struct claim_job job = { blocks, cap, s, 0, 0, 0, 0, 0 };

	run_thread(free_and_claim, &job);
	/* The freeing thread got a heap, and the slab with it. */
	ck_assert_uint_ne(job.my_heap, (uintptr_t)&hak_heap_empty);
	ck_assert_uint_eq(job.owner_after_first, job.my_heap);
	/* Only the first free was a remote push; the rest were local. */
	if (job.counted == 0)
		ck_assert_uint_eq(job.remote_after - job.remote_before, 1);
	hak_free(other);
	free(blocks);
}
END_TEST

/*
 * A dry current slab with a short remote list (another thread freeing
 * into it right now) waits on the partial list while the thread allocates
 * from another slab; a long list is collected at once.
 */
static struct hak_slab *fill_current_slab(size_t size, void **blocks, uint32_t *n)
{
	void *first = hak_malloc(size);
	struct hak_slab *s = slab_of_block(first);

	*n = 0;
	blocks[(*n)++] = first;
	/* A slab that already gave out blocks: take what it has left. */
	while (s->free || s->bump + s->block_size <= hak_slab_end(s))
		blocks[(*n)++] = hak_malloc(size);
	for (uint32_t i = 0; i < *n; i++)
		ck_assert_ptr_eq(slab_of_block(blocks[i]), s);
	ck_assert_ptr_eq(s->free, NULL);
	return s;
}

START_TEST(short_remote_lists_wait_long_ones_are_taken)
{
	size_t size = 496;
	void **blocks = calloc(4096, sizeof(void *));
	uint32_t n;

	ck_assert_ptr_nonnull(blocks);
	/* One block freed by another thread: left to wait. */
	struct hak_slab *s = fill_current_slab(size, blocks, &n);
	struct remote_job one = { blocks, 1 };

	ck_assert_uint_gt(s->capacity / 16, 1);
	run_thread(free_all, &one);
	void *p = hak_malloc(size);

	ck_assert_ptr_ne(slab_of_block(p), s);
	ck_assert_uint_eq(HAK_REMOTE_COUNT(atomic_load(&s->remote)), 1);
	ck_assert_uint_eq(atomic_load(&s->owner) & ~HAK_SLAB_F_MASK, (uintptr_t)hak_heap_tls);
	for (uint32_t i = 1; i < n; i++)
		hak_free(blocks[i]);
	hak_free(p);

	/* More than a sixteenth of the slab: collected by the next malloc. */
	s = fill_current_slab(size, blocks, &n);
	struct remote_job many = { blocks, (int)(s->capacity / 16 + 1) };

	ck_assert_uint_ge(n, (uint32_t)many.n);
	run_thread(free_all, &many);
	p = hak_malloc(size);
	ck_assert_ptr_eq(slab_of_block(p), s);
	ck_assert_uint_eq(atomic_load(&s->remote), 0);
	hak_free(p);
	for (uint32_t i = (uint32_t)many.n; i < n; i++)
		hak_free(blocks[i]);
	free(blocks);
}
END_TEST

/*
 * Medium blocks live in runs of slabs: a block that starts in a tail unit
 * is freed into the run's head, locally or from another thread.
 */
START_TEST(medium_blocks_in_runs)
{
	size_t size = HAK_SMALL_MAX - 1000;
	unsigned cls = hak_class_of(size);
	void *first = hak_malloc(size), **blocks;
	struct hak_slab *head, *tail;
	struct hak_large_hdr *lh;
	uint32_t cap;
	int tails = 0;

	ck_assert_ptr_nonnull(first);
	ck_assert_int_eq(hak_ptr_kind(first, &head, &lh), HAK_PTR_SMALL);
	ck_assert_uint_eq(head->cls, cls);
	ck_assert_uint_eq(hak_slab_units(head), hak_class_units[cls]);
	ck_assert_uint_gt(hak_class_units[cls], 1);
	cap = head->capacity;
	ck_assert_uint_eq(cap, (size_t)(hak_slab_end(head) - hak_slab_start(head)) / head->block_size);
	blocks = calloc(cap, sizeof(void *));
	blocks[0] = first;
	for (uint32_t i = 1; i < cap; i++) {
		struct hak_slab *s;

		blocks[i] = hak_malloc(size);
		ck_assert_int_eq(hak_ptr_kind(blocks[i], &s, &lh), HAK_PTR_SMALL);
		ck_assert_ptr_eq(s, head);
		ck_assert_uint_eq(hak_usable_size(blocks[i]), hak_class_size[cls] - HAK_CANARY_SIZE);
		tail = hak_slab_of(blocks[i]);
		if (tail != head) {
			tails++;
			ck_assert_uint_eq(atomic_load(&tail->owner), HAK_OWNER_TAIL);
			ck_assert_ptr_eq(tail - tail->span, head);
		}
		memset(blocks[i], 0xa5, size);
	}
	ck_assert_int_gt(tails, 0);
	ck_assert_uint_eq(head->used, cap);

	/* Half freed by another thread: pushed onto the head's remote list. */
	struct remote_job job = { blocks + cap / 2, (int)(cap - cap / 2) };

	run_thread(free_all, &job);
	ck_assert_uint_eq(HAK_REMOTE_COUNT(atomic_load(&head->remote)), cap - cap / 2);
	ck_assert_uint_eq(head->used, cap);
	/* The rest locally, tails included: the count falls with each. */
	for (uint32_t i = 0; i < cap / 2; i++) {
		hak_free(blocks[i]);
		ck_assert_uint_eq(head->used, cap - 1 - i);
	}
	/* The owner takes the remote half back before asking for memory. */
	for (uint32_t i = 0; i < cap; i++) {
		struct hak_slab *s;

		blocks[i] = hak_malloc(size);
		ck_assert_int_eq(hak_ptr_kind(blocks[i], &s, &lh), HAK_PTR_SMALL);
		ck_assert_ptr_eq(s, head);
	}
	for (uint32_t i = 0; i < cap; i++)
		hak_free(blocks[i]);
	free(blocks);
}
END_TEST

/* ---- thread hand-over ---- */

static void *alloc_and_exit(void *arg)
{
	void **out = arg;

	for (int i = 0; i < 64; i++)
		out[i] = hak_malloc(80);
	return NULL;
}

START_TEST(exited_thread_slabs_are_abandoned_then_adopted)
{
	void *blocks[64];
	struct hak_slab *s;

	run_thread(alloc_and_exit, blocks);
	s = slab_of_block(blocks[0]);
	ck_assert_uint_eq(atomic_load(&s->owner), HAK_OWNER_ABANDONED);
	/* The first free from a live thread adopts the slab. */
	hak_free(blocks[0]);
	ck_assert_uint_eq(atomic_load(&s->owner) & ~HAK_SLAB_F_MASK, (uintptr_t)hak_heap_tls);
	for (int i = 1; i < 64; i++)
		hak_free(blocks[i]);
}
END_TEST

static void *alloc_free_exit(void *arg)
{
	(void)arg;
	for (int i = 0; i < 1000; i++)
		hak_free(hak_malloc((size_t)(i % 2000) + 1));
	return NULL;
}

START_TEST(heaps_are_recycled)
{
	/* Many generations of threads must not take new heaps or superslabs
	 * without bound. */
	for (int g = 0; g < 200; g++)
		run_thread(alloc_free_exit, NULL);
	hak_pool_purge(true);
#if IS_ENABLED(CONFIG_HAKMEM_STATS)
	ck_assert_int_le(atomic_load(&hak_gauges[HAK_GAUGE_MAPPED][0]), 8 * (long)HAK_SS_SIZE);
#endif
}
END_TEST

/* ---- large blocks ---- */

/* The header of a live large block, wherever it is kept. */
static struct hak_large_hdr *hdr_of(void *p)
{
	struct hak_large_hdr *h;
	struct hak_slab *s;

	ck_assert_int_eq(hak_ptr_kind(p, &s, &h), HAK_PTR_LARGE);
	return h;
}

START_TEST(large_headers_and_kinds)
{
	size_t sizes[] = { HAK_SMALL_MAX + 1, HAK_SMALL_MAX + 100000, 900000, 3 << 20, 40 << 20 };

	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char *p = hak_malloc(sizes[i]);
		struct hak_large_hdr *h;

		ck_assert_ptr_nonnull(p);
		h = hdr_of(p);
		ck_assert(hak_large_hdr_valid(h));
		ck_assert_uint_ge(hak_large_size(h), sizes[i]);
		if (hak_large_flags(h) & HAK_LARGE_F_PAGES) {
			/* A page heap block starts its run; its header is kept apart. */
			ck_assert_ptr_eq(h, hak_ph_header(p));
			ck_assert_ptr_eq(hak_large_base(h), p);
			ck_assert_uint_eq((uintptr_t)p % HAK_PH_UNIT, 0);
		} else {
			ck_assert_ptr_eq(h, hak_large_hdr_of(p));
			ck_assert((char *)hak_large_base(h) <= (char *)h);
		}
		ck_assert((char *)hak_large_base(h) + hak_large_len(h) >= p + hak_large_size(h));
		ck_assert_ptr_nonnull(hak_large_site(h));
		memset(p, 1, sizes[i]);
		/* Large blocks never look like small ones to the fast path. */
		if ((uintptr_t)p & HAK_SS_MASK)
			ck_assert_uint_ne(atomic_load(&hak_slab_of(p)->owner), (uintptr_t)hak_heap_tls);
		hak_free(p);
	}
}
END_TEST

START_TEST(large_site_is_recorded)
{
	static const char here[] = "site";
	void *p = hak_malloc_site(1 << 20, here), *q = hak_malloc_site(5 << 20, here);

	ck_assert_ptr_eq(hak_large_site(hdr_of(p)), here);
	ck_assert_ptr_eq(hak_large_site(hdr_of(q)), here);
	hak_free(p);
	hak_free(q);
}
END_TEST

START_TEST(corrupted_large_header_is_refused)
{
	char *p = hak_malloc(1 << 20);

	hdr_of(p)->size ^= 4096;	/* an overflow from below, or a wild write */
	hak_free(p);
}
END_TEST

START_TEST(large_aligned_up_to_64m)
{
	for (size_t align = 128; align <= ((size_t)64 << 20); align *= 4) {
		char *p = hak_aligned_alloc(align, 100000);

		ck_assert_ptr_nonnull(p);
		ck_assert_uint_eq((uintptr_t)p % align, 0);
		ck_assert_uint_ge(hak_usable_size(p), 100000);
		p[0] = p[99999] = 1;
		hak_free(p);
	}
}
END_TEST

START_TEST(large_resize_in_place)
{
	size_t big = (size_t)8 << 20, small = (size_t)3 << 20;
	unsigned char *p = hak_malloc(big), *q;
	int moved = 0;

	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < big; i += 4096)
		p[i] = (unsigned char)(i >> 12);
	/* Shrinking a mapped block gives its tail back without moving it. */
	q = hak_realloc(p, small);
	ck_assert_ptr_eq(q, p);
	ck_assert_uint_ge(hak_usable_size(q), small);
	ck_assert_uint_lt(hak_usable_size(q), small + 8192);
	ck_assert(hak_large_hdr_valid(hdr_of(q)));
	/* Growing keeps the contents, in place when the addresses are free. */
	for (size_t want = small * 2; want <= ((size_t)48 << 20); want *= 2) {
		unsigned char *r = hak_realloc(q, want);

		ck_assert_ptr_nonnull(r);
		moved += r != q;
		ck_assert_uint_ge(hak_usable_size(r), want);
		for (size_t i = 0; i < small; i += 4096)
			ck_assert_uint_eq(r[i], (unsigned char)(i >> 12));
		r[want - 1] = 1;
		q = r;
	}
	if (moved)
		fprintf(stderr, "large_resize_in_place: %d of 4 growths moved\n", moved);
	hak_free(q);
}
END_TEST

/*
 * A span grows by taking the free slabs after it and shrinks by giving
 * its last ones back; one that must move to grow lands where as many
 * slabs again are free after it, so its next growth stays in place.
 */
START_TEST(span_resize_in_place)
{
	size_t unit = HAK_SLAB_SIZE, size = HAK_SMALL_MAX + unit;
	unsigned char *p = hak_malloc(HAK_SMALL_MAX / 2), *q, *r;
	struct hak_slab *s;
	struct hak_large_hdr *h;

	ck_assert_ptr_nonnull(p);
	memset(p, 0x3c, HAK_SMALL_MAX / 2);
	/* Medium to large: a move, to a span with room after it. */
	q = hak_realloc(p, size);
	ck_assert_ptr_nonnull(q);
	ck_assert_int_eq(hak_ptr_kind(q, &s, &h), HAK_PTR_LARGE);
	ck_assert(hak_large_flags(h) & HAK_LARGE_F_SPAN);
	s = hak_slab_of(hak_large_base(h));
	unsigned units = hak_slab_units(s);

	ck_assert_uint_eq(units, (size + HAK_LARGE_HDR_SIZE + unit - 1) / unit);
	/* Growing by half again stays in place and takes the next slabs. */
	r = hak_realloc(q, size + size / 2);
	ck_assert_ptr_eq(r, q);
	ck_assert_uint_gt(hak_slab_units(s), units);
	ck_assert_uint_eq(atomic_load(&s[hak_slab_units(s) - 1].owner), HAK_OWNER_SPAN);
	ck_assert_uint_ge(hak_usable_size(r), size + size / 2);
	for (size_t i = 0; i < HAK_SMALL_MAX / 2; i++)
		ck_assert_uint_eq(r[i], 0x3c);
	/* Shrinking below half gives the tail back where it stands. */
	units = hak_slab_units(s);
	r = hak_realloc(q, HAK_SMALL_MAX + 100);
	ck_assert_ptr_eq(r, q);
	ck_assert_uint_lt(hak_slab_units(s), units);
	ck_assert_uint_eq(atomic_load(&s[hak_slab_units(s)].owner), 0);
	ck_assert(hak_large_hdr_valid(hdr_of(r)));
	ck_assert_uint_eq(r[0], 0x3c);
	hak_free(r);

	/* A slab block that realloc grows past HAK_REALLOC_SPAN_MIN moves
	 * into a span (coloured: a cache-line offset under a page), and
	 * grows in place from then on. */
	p = hak_malloc(HAK_REALLOC_SPAN_MIN / 2);
	memset(p, 0x5a, HAK_REALLOC_SPAN_MIN / 2);
	q = hak_realloc(p, HAK_REALLOC_SPAN_MIN + 100);
	ck_assert_int_eq(hak_ptr_kind(q, &s, &h), HAK_PTR_LARGE);
	ck_assert(hak_large_flags(h) & HAK_LARGE_F_SPAN);
	size_t off = (size_t)(q - (unsigned char *)hak_large_base(h));

	ck_assert_uint_eq(off % 64, 0);
	ck_assert_uint_lt(off, 4096 + HAK_LARGE_HDR_SIZE);
	r = hak_realloc(q, 2 * HAK_REALLOC_SPAN_MIN + 100);
	ck_assert_ptr_eq(r, q);
	ck_assert_uint_eq((size_t)(r - (unsigned char *)hak_large_base(h)), off);
	for (size_t i = 0; i < HAK_REALLOC_SPAN_MIN / 2; i++)
		ck_assert_uint_eq(r[i], 0x5a);
	hak_free(r);
}
END_TEST

/* ---- the BigCache: each thread's front of the page heap ---- */

static const char bc_site;

/*
 * Free @p as a thread would while others wait for the page heap's lock:
 * only then does the front keep a page heap block (bigcache.c).
 */
static void bc_free(void *p)
{
	hak_ph_note_contended();
	hak_free(p);
}

/*
 * Blocks from @site, freed, until the policy knows the site and has
 * judged it (a learning policy admits a site that asks for one size again
 * and again, after a few dozen events).
 */
static void bc_warm(const void *site)
{
	for (int i = 0; i < 40; i++) {
		bc_free(hak_malloc_site(3 << 20, site));
		hak_policy_flush();
	}
}

/* Nobody waited for the page heap's lock for a while: the page heap takes the block. */
START_TEST(bigcache_only_while_contended)
{
	void *p;

	if (HAK_HARDEN_GUARD)
		return;		/* mappings of their own: kept whenever they may be */
	hak_init();
	bc_warm(&bc_site);
	p = hak_malloc_site(3 << 20, &bc_site);
	bc_free(p);
	ck_assert(hak_bc_holds(p));
	ck_assert_ptr_eq(hak_malloc_site(3 << 20, &bc_site), p);
	hak_clock_set_fake(hak_now_ns() + (HAK_PH_CONTENDED_MS + 1) * 1000000ull);
	ck_assert(!hak_ph_contended());
	hak_free(p);
	ck_assert(!hak_bc_holds(p));
	hak_clock_set_fake(0);
}
END_TEST


START_TEST(bigcache_reuse)
{
	size_t n = 3 << 20;	/* at most fixed.cache_max, and a size evo admits */
	void *p, *q;

	hak_init();
	bc_warm(&bc_site);
	p = hak_malloc_site(n, &bc_site);
	bc_free(p);
	ck_assert(hak_bc_holds(p));
	/* Freeing it again while it waits is a double free (see below). */
	ck_assert(hak_large_flags(hak_large_hdr_find(p)) & HAK_LARGE_F_CACHED);
	/* The same site and length of home takes the very block back. */
	q = hak_malloc_site(n - 4096, &bc_site);
	ck_assert_ptr_eq(q, p);
	ck_assert(hak_large_hdr_valid(hdr_of(q)));
	ck_assert(!(hak_large_flags(hdr_of(q)) & HAK_LARGE_F_CACHED));
	ck_assert(!hak_bc_holds(p));
	/* Another site does not, nor a request that needs a longer home. */
	bc_free(q);
	bc_warm(&bc_site + 1);
	ck_assert(hak_bc_holds(p));
	q = hak_malloc_site(n, &bc_site + 1);
	ck_assert_ptr_ne(q, p);
	hak_free(q);
	q = hak_malloc_site(n + (2 << 20), &bc_site);
	ck_assert_ptr_ne(q, p);
	hak_free(q);
	ck_assert(hak_bc_holds(p));
}
END_TEST

START_TEST(bigcache_double_free_is_caught)
{
	void *p;

	bc_warm(&bc_site);
	p = hak_malloc_site(3 << 20, &bc_site);
	hak_free(p);
	hak_free(p);
}
END_TEST

static pthread_barrier_t idle_barrier;

struct idle {
	void *kept;
};

static void *free_then_idle(void *arg)
{
	struct idle *t = arg;

	bc_warm(&bc_site);
	t->kept = hak_malloc_site(3 << 20, &bc_site);
	bc_free(t->kept);
	pthread_barrier_wait(&idle_barrier);	/* the main thread sweeps */
	pthread_barrier_wait(&idle_barrier);
	return NULL;
}

START_TEST(bigcache_swept_from_idle_thread_and_drained_at_exit)
{
	struct idle t = { 0 };
	pthread_t tid;

	hak_init();
	ck_assert_int_eq(pthread_barrier_init(&idle_barrier, NULL, 2), 0);
	ck_assert_int_eq(pthread_create(&tid, NULL, free_then_idle, &t), 0);
	pthread_barrier_wait(&idle_barrier);
	ck_assert(hak_bc_holds(t.kept));
	/* Another thread's sweep takes the idle thread's block back (the
	 * clock is coarse: a few of its ticks later). */
	usleep(20 * 1000);
	hak_bc_sweep(0);
	ck_assert(!hak_bc_holds(t.kept));
	pthread_barrier_wait(&idle_barrier);
	ck_assert_int_eq(pthread_join(tid, NULL), 0);

	/* A thread that exits gives its front back. */
	ck_assert_int_eq(pthread_barrier_init(&idle_barrier, NULL, 1), 0);
	run_thread(free_then_idle, &t);
	ck_assert(!hak_bc_holds(t.kept));
}
END_TEST

/*
 * A fork's child has only the forking thread: the block another thread's
 * front held is given back there (it would stay in use for the child's
 * life), and the parent's front keeps it.
 */
START_TEST(bigcache_fronts_of_other_threads_go_back_in_a_fork_child)
{
	struct idle t = { 0 };
	pthread_t tid;
	pid_t pid;
	int status;

	hak_init();
	ck_assert_int_eq(pthread_barrier_init(&idle_barrier, NULL, 2), 0);
	ck_assert_int_eq(pthread_create(&tid, NULL, free_then_idle, &t), 0);
	pthread_barrier_wait(&idle_barrier);
	ck_assert(hak_bc_holds(t.kept));
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		void *p = hak_malloc(3 << 20);

		_exit(!hak_bc_holds(t.kept) && p ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert(hak_bc_holds(t.kept));
	pthread_barrier_wait(&idle_barrier);
	ck_assert_int_eq(pthread_join(tid, NULL), 0);
}
END_TEST

static Suite *core_suite(void)
{
	Suite *s = suite_create("core");
	TCase *tc;

	add_tcase(s, "sizeclass", 0, classes_cover_every_small_size, classes_are_increasing,
		  aligned_class_lookup, class_run_lengths);
	tc = add_tcase(s, "slab", 0, lookup_finds_slab_and_superslab, slab_fills_and_counts,
		       free_list_is_lifo, small_blocks_are_16_aligned_and_headerless);
	tcase_add_test_raise_signal(tc, small_double_free_is_caught, SIGABRT);
	tcase_add_test(tc, key_in_a_live_block_is_no_double_free);
	add_tcase(s, "pool", 0, pool_slabs_and_spans, purge_decommits_free_slabs);
	add_tcase(s, "threads", 60, remote_frees_are_collected_by_owner,
		  full_slab_goes_to_the_thread_that_frees_into_it,
		  short_remote_lists_wait_long_ones_are_taken, medium_blocks_in_runs,
		  exited_thread_slabs_are_abandoned_then_adopted, heaps_are_recycled);

	tc = add_tcase(s, "large", 60, large_headers_and_kinds, large_site_is_recorded);
	tcase_add_test_raise_signal(tc, corrupted_large_header_is_refused, SIGABRT);
	tcase_add_test(tc, large_aligned_up_to_64m);
	/* Guarded large blocks never change size in place, and are no spans. */
	if (!HAK_HARDEN_GUARD) {
		tcase_add_test(tc, large_resize_in_place);
		tcase_add_test(tc, span_resize_in_place);
	}
	tcase_add_test(tc, bigcache_reuse);
	tcase_add_test(tc, bigcache_only_while_contended);
	tcase_add_test_raise_signal(tc, bigcache_double_free_is_caught, SIGABRT);
	tcase_add_test(tc, bigcache_swept_from_idle_thread_and_drained_at_exit);
	tcase_add_test(tc, bigcache_fronts_of_other_threads_go_back_in_a_fork_child);
	return s;
}

int main(void)
{
	/*
	 * Without the malloc replacement (make test under ASan or TSan)
	 * nothing has gone through hakmem yet.  The tests expect a process
	 * that has: this thread with a heap, a superslab in use.
	 */
	void *in_use = hak_malloc(64);
	int rc = run_suite(core_suite());

	hak_free(in_use);
	return rc;
}
