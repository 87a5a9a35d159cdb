/* SPDX-License-Identifier: MIT */
/*
 * hakmem_policy.h - the policy SDK: the hooks a policy fills and what the
 * core hands it.
 *
 * A policy decides the questions that trade speed against memory for
 * blocks above the small limit: where a request is served (route), whether
 * a freed block is kept for reuse (admit), how much kept memory goes back
 * to the OS (purge), and it learns from what the core reports (on_event,
 * tick).  The small-block fast paths never consult a policy.
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
 * hak_policy descriptor.  It includes only this header.
 */
#ifndef HAKMEM_POLICY_H
#define HAKMEM_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where a request above the small limit is served. */
enum hak_route {
	HAK_ROUTE_SPAN,		/* carved from superslab slabs (up to env->span_max) */
	HAK_ROUTE_CACHE,	/* from the BigCache; a fresh mapping on a miss */
	HAK_ROUTE_MAP,		/* a fresh mapping, never cached */
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
	HAK_EV_PURGE,		/* cached or free memory was decommitted */
};

struct hak_event {
	enum hak_event_type type;
	size_t size;			/* ALLOC: request; FREE: block size; PURGE: bytes */
	const struct hak_site *site;	/* NULL for PURGE */
	enum hak_route route;		/* ALLOC: the route taken */
	bool cache_hit;			/* ALLOC: served from the BigCache */
	bool cached;			/* FREE: admitted to the BigCache */
	uint64_t cost_ns;		/* ALLOC: time the core spent serving it */
	uint64_t lifetime_ms;		/* FREE: time since the block's allocation */
	uint64_t now_ns;
};

/* State of the kept memory, for the purge decision. */
struct hak_purge_info {
	size_t cached_bytes;		/* bytes held in the BigCache */
	size_t budget_bytes;		/* bigcache.max_bytes */
	uint64_t oldest_age_ms;		/* age of the oldest cached block */
	uint64_t now_ms;
};

/* Type of a policy parameter (the option table's types). */
enum hak_param_type {
	HAK_PARAM_BOOL,
	HAK_PARAM_INT,
	HAK_PARAM_SIZE,		/* bytes; profiles may write 64KiB, 2MiB, ... */
	HAK_PARAM_FLOAT,
	HAK_PARAM_SIZE_LIST,	/* up to HAK_PARAM_LIST_MAX sizes */
};

#define HAK_PARAM_LIST_MAX 8

struct hak_param_value {
	union {
		bool b;
		long long i;
		size_t size;
		double f;
	};
	size_t list[HAK_PARAM_LIST_MAX];
	unsigned nlist;
};

/* One entry of a policy's parameter schema (NULL name ends the array). */
struct hak_param {
	const char *name;		/* key under the policy's name: "epsilon" */
	enum hak_param_type type;
	const char *def;		/* default, written as in a profile: "0.05" */
	double min, max;		/* inclusive range (for lists: of each item) */
	const char *help;		/* one line */
};

/* What the core lends a policy. */
struct hak_policy_env {
	/* Zeroed memory from the backend; never freed before exit(). */
	void *(*meta_alloc)(size_t size);
	/* Monotonic clock in ns (a fake clock in tests). */
	uint64_t (*now_ns)(void);
	/* Minor page faults of the process so far (slow: call per epoch). */
	uint64_t (*minor_faults)(void);
	/* Seed for the policy's own RNG (option policy.seed). */
	uint64_t seed;
	/* Largest request a span can serve (mechanism limit). */
	size_t span_max;
	/* Number of call-site slots (site->index < nsites). */
	unsigned nsites;
	/* Large events between two tick() calls. */
	unsigned epoch_events;
	/* The policy's parameters, in schema order, already validated. */
	const struct hak_param_value *params;
	/* The shared options the core owns. */
	size_t cache_max_bytes;		/* bigcache.max_bytes */
	unsigned cache_per_class;	/* bigcache.per_class */
	const size_t *cache_classes;	/* bigcache.classes, increasing */
	unsigned ncache_classes;
};

struct hak_policy_ops {
	/**
	 * @init: set up the policy's state.  @state is state_size bytes of
	 * zeroed memory owned by the core.  Returns 0, or a negative errno,
	 * in which case the core warns and falls back to the default hooks.
	 * NULL: nothing to set up.
	 */
	int (*init)(void *state, const struct hak_policy_env *env);
	/** @exit: process exit; may write nothing but its state.  NULL: none. */
	void (*exit)(void *state);
	/**
	 * @route: where to serve a request of @size bytes (> the small
	 * limit) from @site.  HAK_ROUTE_SPAN for a size above env->span_max
	 * is taken as HAK_ROUTE_CACHE.  NULL: SPAN up to env->span_max,
	 * else CACHE.
	 */
	enum hak_route (*route)(void *state, size_t size, const struct hak_site *site);
	/**
	 * @admit: a block of @size bytes (the class size it is cached
	 * under) from @site is being freed after a CACHE route: return true
	 * to keep it in the BigCache class @cls.  The core still enforces
	 * env->cache_max_bytes and env->cache_per_class and evicts the
	 * oldest block to make room.  NULL: true.
	 */
	bool (*admit)(void *state, size_t size, const struct hak_site *site, unsigned cls);
	/**
	 * @purge: how many cached bytes to give back to the OS now, oldest
	 * first.  Called on large-path events at most every few ms.
	 * NULL: the blocks idle for longer than purge.delay_ms (the budget
	 * itself is kept on every put, by evicting the oldest).
	 */
	size_t (*purge)(void *state, const struct hak_purge_info *info);
	/**
	 * @classes: the policy may move the BigCache's class boundaries:
	 * fill @out with up to @max increasing sizes and return how many
	 * (0: keep the current ones).  A set that is not increasing or has
	 * a class above env->cache_max_bytes is ignored.  Called after
	 * tick().  Cached blocks
	 * move to the largest new class they can serve; those that fit none
	 * or find no room are released, unreported.  NULL: fixed.
	 */
	unsigned (*classes)(void *state, size_t *out, unsigned max);
	/** @on_event: feedback after each large event.  NULL: ignored. */
	void (*on_event)(void *state, const struct hak_event *ev);
	/**
	 * @tick: the learning step, every env->epoch_events large events
	 * (never from a timer).  @epoch counts from 1.  NULL: none.
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
	const char *summary;			/* one line for docs and errors */
	const struct hak_param *params;		/* schema, NULL-name terminated */
	size_t state_size;
	const struct hak_policy_ops *ops;
};

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
