/* SPDX-License-Identifier: MIT */
/*
 * hakmem_policy.h - the policy SDK: the hooks a policy fills and what the
 * core hands it.
 *
 * A policy decides the questions that trade speed against memory for
 * blocks above the small limit, where the core's page heap serves them
 * (runs of whole superslab-sized units, any size reusing freed memory of
 * any size; docs/pageheap.md):
 *   - how long freed memory stays committed before it goes back to the
 *     OS, and how much of it may (decide: decay_ms, keep_bytes): keeping
 *     costs resident memory, returning costs page faults when the memory
 *     is wanted again;
 *   - from what size a request gets a mapping of its own instead of a
 *     run (decide: map_min);
 *   - which call sites' freed blocks, and up to what size, wait in the
 *     freeing thread's front (the BigCache) for that thread's next request
 *     of the same size from the same site, taken back without a lock
 *     (admit; decide: cache_max).
 * It learns from what the core reports: every large event (on_event), and
 * at every decide() what the page heap did meanwhile: how much memory was
 * freed, how old freed memory was when it was taken again, and whether
 * decay had returned it by then (struct hak_heap_info).  The small-block fast paths never consult a
 * policy, and the large path only reads the decisions it published.
 *
 * Context of every hook, unless its comment says otherwise:
 *   - slow paths only, on any thread, possibly on several threads at once;
 *     the core serialises calls to one policy instance with its own lock,
 *     so a hook needs no locking of its own state;
 *   - a hook may not call malloc or any function that may (printf and
 *     friends, qsort, ...; report() formats with the hak_report_*
 *     helpers at the end of this file): it allocates through
 *     env->meta_alloc, which goes to the backend;
 *   - a hook may not block or sleep, and must return quickly;
 *   - a hook left NULL gets the core's default, stated per hook.
 *
 * Error convention: 0 or a negative errno.
 *
 * A policy is one file under policies/, behind its own Kconfig symbol; its
 * functions are static and its one exported symbol is its struct
 * hak_policy descriptor, which it registers with HAK_REGISTER_POLICY (the
 * core names no policy).  It includes only this header.
 */
#ifndef HAKMEM_POLICY_H
#define HAKMEM_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where a request above the small limit was served. */
enum hak_route {
	HAK_ROUTE_SPAN,		/* carved from superslab slabs (up to large.span_max) */
	HAK_ROUTE_HEAP,		/* a run of the page heap (or the thread's front) */
	HAK_ROUTE_MAP,		/* a mapping of its own, returned on free (at or above map_min) */
};

#define HAK_SITE_HIST 16	/* log2 size buckets: < 2^16, [2^16, 2^17), ..., >= 2^30 */
#define HAK_SITE_HIST_SHIFT 15

/* What the core knows about one call site.  Read-only for policies. */
struct hak_site {
	const void *addr;		/* the caller's return address */
	unsigned index;			/* slot in the site table, < env->nsites */
	uint64_t allocs;		/* large allocations from this site */
	uint64_t frees;
	uint64_t bytes;			/* bytes requested, summed */
	uint64_t lifetime_ms;		/* lifetimes of freed blocks, summed */
	uint32_t hist[HAK_SITE_HIST];	/* request sizes, log2 buckets */
};

enum hak_event_type {
	HAK_EV_ALLOC,		/* a large block was served */
	HAK_EV_FREE,		/* a large block was freed */
};

struct hak_event {
	enum hak_event_type type;
	size_t size;			/* ALLOC: request; FREE: block size */
	const struct hak_site *site;
	enum hak_route route;		/* the route it was (ALLOC) or had been (FREE) served by */
	bool cache_hit;			/* ALLOC: taken back from the thread's front */
	bool cached;			/* FREE: kept in the thread's front */
	uint64_t cost_ns;		/* ALLOC: time the core spent serving it */
	uint64_t lifetime_ms;		/* FREE: time since the block's allocation */
	uint64_t now_ns;
};

/* decide() runs at least this often (ms) while the program allocates. */
#define HAK_DECIDE_MS 20

/* Ages of freed memory when it was taken again: log2 milliseconds. */
#define HAK_AGE_BUCKETS 18	/* [0, 1) ms, [1, 2), [2, 4), ..., >= 65536 ms */

/* The smallest age in bucket @b, in ms. */
static inline uint64_t hak_age_bucket_ms(unsigned b)
{
	return b ? (uint64_t)1 << (b - 1) : 0;
}

/*
 * What the page heap did since the previous decide().  Memory freed to
 * the page heap and taken again is counted once, in whole units, at the
 * age it had then; as a hit when it was still committed, as a miss when
 * decay had returned it (the miss cost page faults; a longer delay would
 * have made it a hit).  Freed memory not taken again is still free, or
 * went back to the OS.
 */
struct hak_heap_info {
	uint64_t elapsed_ms;		/* since the previous call */
	uint64_t freed;			/* bytes given back to the page heap */
	uint64_t hit[HAK_AGE_BUCKETS];	/* bytes reused while still committed, by age */
	uint64_t miss[HAK_AGE_BUCKETS];	/* bytes reused after decay returned them */
};

/* 2^x for |x| <= 64, without libm (the library links no -lm). */
static inline double hak_exp2(double x)
{
	int n = (int)x;
	double y, term = 1.0, sum = 1.0;

	if ((double)n > x)
		n--;
	y = (x - n) * 0.69314718055994531;	/* 2^f = e^(f ln 2), f in [0, 1) */
	for (int i = 1; i < 16; i++) {
		term *= y / i;
		sum += term;
	}
	for (; n > 0; n--)
		sum *= 2.0;
	for (; n < 0; n++)
		sum *= 0.5;
	return sum;
}

/*
 * The decay model the learning policies share.  Freed memory that is
 * taken again at age a costs a byte-ms per byte and ms it was kept; if the
 * delay d was shorter than a, it was kept d ms, returned, and faulted in
 * again, which costs as much as keeping it break_even ms more.  Freed
 * memory not taken again is kept d ms for nothing.  So, over a window in
 * which @freed bytes were freed and reused[b] bytes were taken again at
 * ages in bucket b:
 *
 *   cost(d) = sum_b reused[b] * (a_b <= d ? a_b : d + break_even)
 *           + (freed - sum_b reused[b]) * d
 *
 * The shortest delay that covers most reuse wins; a workload whose freed
 * memory comes back late or never is served best by returning it at once.
 * A bucket the delay cuts is counted as hit in proportion.
 */
struct hak_reuse {
	double reused[HAK_AGE_BUCKETS];	/* bytes taken again, by age */
	double freed;			/* bytes freed */
};

/* Fold @info into @r, keeping @past (0 to 1) of what @r held. */
static inline void hak_reuse_add(struct hak_reuse *r, const struct hak_heap_info *info,
				 double past)
{
	for (unsigned b = 0; b < HAK_AGE_BUCKETS; b++)
		r->reused[b] = r->reused[b] * past + (double)(info->hit[b] + info->miss[b]);
	r->freed = r->freed * past + (double)info->freed;
}

/* cost(@delay_ms) above, in byte-ms. */
static inline double hak_decay_cost(const struct hak_reuse *r, uint64_t delay_ms,
				    uint64_t break_even_ms)
{
	double d = (double)delay_ms, g = (double)break_even_ms, cost = 0, reused = 0;

	for (unsigned b = 0; b < HAK_AGE_BUCKETS; b++) {
		double lo = (double)hak_age_bucket_ms(b);
		double hi = b + 1 < HAK_AGE_BUCKETS ? (double)hak_age_bucket_ms(b + 1) : 2 * lo;
		double hit = d >= hi ? 1 : d <= lo ? 0 : (d - lo) / (hi - lo);
		double kept = (lo + (d < hi ? d : hi)) / 2;	/* mean age of the part hit */

		cost += r->reused[b] * (hit * kept + (1 - hit) * (d + g));
		reused += r->reused[b];
	}
	if (r->freed > reused)
		cost += (r->freed - reused) * d;
	return cost;
}

/*
 * What a policy decides; the core applies it until the next decide().
 * decide() finds in it the values in force (the core's defaults before
 * the first call: purge.delay_ms, pageheap.max_dirty, no mapping below
 * 1 TiB, and 4 MiB for the front).
 */
struct hak_decisions {
	uint64_t decay_ms;		/* freed memory stays committed this long */
	size_t keep_bytes;		/* and at most this much of it at once (oldest go first) */
	size_t map_min;			/* requests at or above get a mapping of their own */
	size_t cache_max;		/* largest block that may wait in a thread's front */
};

/* Type of a policy parameter (the option table's types). */
enum hak_param_type {
	HAK_PARAM_BOOL,
	HAK_PARAM_INT,
	HAK_PARAM_SIZE,		/* bytes; profiles may write 64KiB, 2MiB, ... */
	HAK_PARAM_FLOAT,
	HAK_PARAM_SIZE_LIST,	/* up to HAK_PARAM_LIST_MAX sizes */
	HAK_PARAM_INT_LIST,	/* up to HAK_PARAM_LIST_MAX integers */
};

#define HAK_PARAM_LIST_MAX 8

struct hak_param_value {
	union {
		bool b;
		long long i;
		size_t size;
		double f;
	};
	size_t list[HAK_PARAM_LIST_MAX];	/* both list types */
	unsigned nlist;
};

/* One entry of a policy's parameter schema (NULL name ends the array). */
struct hak_param {
	const char *name;		/* key under the policy's name: "k" */
	enum hak_param_type type;
	const char *def;		/* default, written as in a profile: "0.05" */
	double min, max;		/* inclusive range (for lists: of each item) */
	const char *help;		/* one line */
};

/* What the core lends a policy. */
struct hak_policy_env {
	/* Zeroed memory from the backend, never freed: the state dies with the process. */
	void *(*meta_alloc)(size_t size);
	/* Seed for the policy's own RNG (option policy.seed). */
	uint64_t seed;
	/* Number of call-site slots (site->index < nsites). */
	unsigned nsites;
	/* The policy's parameters, in schema order, already validated. */
	const struct hak_param_value *params;
	/* The shared options the core owns. */
	uint64_t purge_delay_ms;	/* purge.delay_ms: the default decay */
	size_t max_dirty;		/* pageheap.max_dirty: the most free memory kept */
	/*
	 * pageheap.break_even_ms: the exchange rate between memory and time
	 * for a learning policy.  Keeping freed memory committed for this
	 * long costs as much as the page faults of taking it again after it
	 * went back to the OS: freed memory that is taken again sooner is
	 * worth keeping, memory taken later (or never) is not.
	 */
	uint64_t break_even_ms;
};

struct hak_policy_ops {
	/**
	 * @init: set up the policy's state.  @state is state_size bytes of
	 * zeroed memory owned by the core.  Returns 0, or a negative errno,
	 * in which case the core warns and falls back to the default hooks.
	 * NULL: nothing to set up.
	 */
	int (*init)(void *state, const struct hak_policy_env *env);
	/**
	 * @decide: the decay, mapping and front decisions, from what the
	 * page heap did since the previous call.  Called once after init()
	 * (with an empty @info), after every tick(), and between ticks every
	 * HAK_DECIDE_MS while the program calls the allocator's slow paths
	 * (so that decay follows a change of workload even when large
	 * events are rare).  @out holds the values in force; change what the
	 * policy decides.  The core clamps keep_bytes to pageheap.max_dirty
	 * and map_min above large.span_max.  NULL: the core's defaults.
	 */
	void (*decide)(void *state, const struct hak_heap_info *info, struct hak_decisions *out);
	/**
	 * @admit: may blocks from @site, freed by a thread, wait in that
	 * thread's front for its next request of the same size from the
	 * same site?  A kept block is not coalesced while it waits (it goes
	 * back to the page heap when newer ones push it out, when the thread
	 * exits, and when it has waited longer than the decay delay).
	 * Called when a site first shows up and after every tick(); the core
	 * keeps the answer until the next call.  NULL: true.
	 */
	bool (*admit)(void *state, const struct hak_site *site);
	/** @on_event: feedback after each large event.  NULL: ignored. */
	void (*on_event)(void *state, const struct hak_event *ev);
	/**
	 * @tick: the learning step, every policy.epoch large events (never
	 * from a timer).  @epoch counts from 1.  NULL: none.
	 */
	void (*tick)(void *state, uint64_t epoch);
	/**
	 * @report: write the policy's parameters and state as one or more
	 * "key=value" words into @buf (at most @len bytes, NUL-terminated),
	 * for the stats dump.  Returns the length written.  NULL: nothing.
	 */
	int (*report)(void *state, char *buf, size_t len);
};

struct hak_policy {
	const char *name;			/* "fixed", "elo", "evo" */
	const struct hak_param *params;		/* schema, NULL-name terminated */
	size_t state_size;
	const struct hak_policy_ops *ops;
};

/*
 * Put @desc in the registry: a pointer to it goes into the section
 * hak_policies, which the core walks between the linker's
 * __start_hak_policies and __stop_hak_policies, as the kernel walks its
 * initcalls.  Policies are listed in link order.
 */
#define HAK_REGISTER_POLICY(desc)						\
	static const struct hak_policy *const hak_policy_entry_##desc		\
	__attribute__((used, section("hak_policies"))) = &(desc)

/*
 * Formatting for report(): "key=value" words into a fixed buffer, without
 * printf (which may allocate).  Output is cut at the buffer's end and
 * always NUL-terminated; b.n is the length written.
 */
struct hak_report {
	char *p;
	size_t len, n;
};

static inline void hak_report_str(struct hak_report *b, const char *s)
{
	while (*s && b->n + 1 < b->len)
		b->p[b->n++] = *s++;
	if (b->len)
		b->p[b->n] = '\0';
}

static inline void hak_report_u64(struct hak_report *b, uint64_t v)
{
	char tmp[24];
	int i = (int)sizeof(tmp) - 1;

	tmp[i] = '\0';
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	hak_report_str(b, &tmp[i]);
}

/* @v with @dec decimals (at most 3), rounded. */
static inline void hak_report_fix(struct hak_report *b, double v, unsigned dec)
{
	uint64_t scale = 1, x;

	for (unsigned i = 0; i < dec; i++)
		scale *= 10;
	if (v < 0) {
		hak_report_str(b, "-");
		v = -v;
	}
	x = (uint64_t)(v * (double)scale + 0.5);
	hak_report_u64(b, x / scale);
	if (dec) {
		char frac[4];
		uint64_t f = x % scale;

		for (unsigned i = dec; i-- > 0; f /= 10)
			frac[i] = (char)('0' + f % 10);
		frac[dec] = '\0';
		hak_report_str(b, ".");
		hak_report_str(b, frac);
	}
}

/* A size in the units profiles use: 4MiB, 256KiB, else bytes. */
static inline void hak_report_size(struct hak_report *b, size_t v)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	unsigned u = 0;

	while (u + 1 < sizeof(unit) / sizeof(unit[0]) && v && !(v & 1023)) {
		v >>= 10;
		u++;
	}
	hak_report_u64(b, v);
	hak_report_str(b, unit[u]);
}

#endif /* HAKMEM_POLICY_H */
