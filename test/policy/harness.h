/* SPDX-License-Identifier: MIT */
/*
 * test/policy/harness.h - a fake core for testing one policy alone.
 *
 * The harness plays the core's part of include/hakmem_policy.h: it lends
 * the policy an env (a fake clock, a fake minor-fault counter, calloc as
 * the metadata allocator, a seed), keeps fake call sites with the core's
 * histograms, and serves a synthetic workload through a fake BigCache
 * that behaves like core/bigcache.c: a block is cached under the smallest
 * class that holds it, per (site, class) at most per_class blocks, at most
 * cache_budget bytes, oldest evicted first, emptied when the classes move.
 * Evictions are not reported to the policy, as in the core.
 *
 * The cost of serving depends on the policy's decisions, through fixed
 * prices: a hit is cheap, a fresh mapping costs map_ns plus one minor
 * fault per page (counted on the fake counter, not in cost_ns), and every
 * allocation may be charged for the bytes the cache holds.  So a workload
 * can make one decision clearly best.  Everything is deterministic.
 *
 * Events reach on_event in the order the core sends them; every
 * env.epoch_events events (allocations, frees and purges) tick() runs,
 * then classes().  Only one harness is live at a time: the env's clock
 * and fault counter read it through a global.
 *
 * harness.c is compiled into each test by #include (the Makefile builds
 * every test_*.c alone).
 */
#ifndef HAK_TEST_POLICY_HARNESS_H
#define HAK_TEST_POLICY_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hakmem_policy.h>

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

#define H_PAGE		4096
#define H_MAX_PARAMS	16
#define H_MAX_SITES	64
#define H_MAX_BLOCKS	4096
#define H_MAX_CACHED	1024
#define H_MAX_META	64

/* What serving costs in the fake core. */
struct h_prices {
	uint64_t span_ns;		/* a block carved from a span */
	uint64_t hit_ns;		/* a BigCache hit */
	uint64_t map_ns;		/* a fresh mapping; its faults are counted apart */
	uint64_t hold_ns_per_mib;	/* charged to each allocation per MiB cached */
	uint64_t free_ns;		/* a free, whatever happens to the block */
};

struct h_block {
	size_t request;
	size_t size;			/* mapped or class size */
	unsigned site;
	int cls;			/* class index; -1: not cacheable */
	enum hak_route route;
	bool live;
	uint64_t birth_ns;
};

struct h_cached {
	size_t size;
	unsigned site;
	int cls;
	uint64_t stamp;			/* h->events when cached */
};

struct harness {
	const struct hak_policy *pol;
	void *state;
	struct hak_policy_env env;
	struct hak_param_value params[H_MAX_PARAMS];
	unsigned nparams;
	bool started;

	uint64_t now_ns;		/* the fake clock */
	uint64_t faults;		/* the fake minor-fault counter */
	uint64_t events;		/* events delivered */
	uint64_t epoch;			/* ticks so far */

	struct hak_site site[H_MAX_SITES];
	unsigned nsites;

	/* The fake BigCache.  nclasses 0: every page-rounded size is a class. */
	size_t classes[HAK_PARAM_LIST_MAX];
	unsigned nclasses;
	struct h_cached cache[H_MAX_CACHED];
	unsigned ncached;
	size_t cached_bytes;
	size_t cache_budget;
	unsigned per_class;
	uint64_t purge_age;		/* events a block stays cached; 0: no purge */

	struct h_prices price;
	struct h_block block[H_MAX_BLOCKS];

	/* What happened. */
	uint64_t allocs, hits, misses, maps, spans, frees, admitted, refused, purged;
	uint64_t class_changes;		/* classes() moved the classes */
	uint64_t last_class_change;	/* epoch of the last move */

	void *meta[H_MAX_META];
	unsigned nmeta;
	char report[2048];
};

/*
 * A harness for @pol: parameters at their schema defaults, env.span_max
 * 1 MiB, 64 events per epoch, classes 1, 2, 4, 8 MiB, 4 blocks per
 * class, a 256 MiB budget, no purge, prices span 300 ns, hit 200 ns, map
 * 5000 ns, free 100 ns, nothing for holding.  Change any of it before
 * h_start().
 */
struct harness *h_create(const struct hak_policy *pol, uint64_t seed);
void h_destroy(struct harness *h);

/* Parameters by name, before h_start(). */
struct hak_param_value *h_param(struct harness *h, const char *name);
void h_set_float(struct harness *h, const char *name, double v);
void h_set_int(struct harness *h, const char *name, long long v);
void h_set_size(struct harness *h, const char *name, size_t v);
void h_set_list(struct harness *h, const char *name, unsigned n, const size_t *v);
void h_set_classes(struct harness *h, unsigned n, const size_t *v);

/* Parse a schema default ("0.05", "4MiB", "256KiB,1MiB") into @out. */
int h_parse(enum hak_param_type type, const char *text, struct hak_param_value *out);
int h_parse_size(const char *text, size_t *out);

/* Call the policy's init; returns its result. */
int h_start(struct harness *h);

/* A new call site; returns its index. */
unsigned h_site(struct harness *h);

/* Serve a request as the core would; returns the block's handle. */
int h_alloc(struct harness *h, unsigned site, size_t size);
void h_free(struct harness *h, int block);

/* Deliver a hand-made event (type, size, site, ...; now_ns is set). */
void h_event(struct harness *h, struct hak_event ev);
/* Run tick() and classes() now, as at the end of an epoch. */
void h_tick(struct harness *h);
void h_advance(struct harness *h, uint64_t ns);
void h_add_faults(struct harness *h, uint64_t n);

/* The policy's decisions, without side effects on the fake core. */
enum hak_route h_route(struct harness *h, size_t size, unsigned site);
bool h_admit(struct harness *h, size_t size, unsigned site);
/*
 * The threshold in force for a threshold policy: the smallest of the
 * increasing @probes above span_max that is mapped (0: none is).
 */
size_t h_threshold(struct harness *h, const size_t *probes, unsigned n);

/* The policy's report, and one numeric value out of it ("rating0"). */
const char *h_report(struct harness *h);
bool h_report_num(struct harness *h, const char *key, double *out);
bool h_report_word(struct harness *h, const char *key, char *out, size_t len);

/* The size class a request falls in, or 0 when none holds it. */
size_t h_class_of(const struct harness *h, size_t size);

#endif /* HAK_TEST_POLICY_HARNESS_H */
