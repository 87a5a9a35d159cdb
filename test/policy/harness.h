/* SPDX-License-Identifier: MIT */
/*
 * test/policy/harness.h - a fake core for testing one policy alone.
 *
 * The harness plays the core's side of include/hakmem_policy.h, without
 * the allocator: it lends the policy an env (calloc as meta_alloc, a
 * seed, the shared options, the parameters at their schema defaults),
 * keeps fake call sites, sends events, and calls the hooks in
 * the order core/policy.c does: decide() once right after init() with an
 * empty window; tick(), decide() and admit() every epoch_events events;
 * decide() again whenever the test lets time pass (h_decide).
 *
 * What the page heap did between two decide() calls is a window the test
 * fills: "this many bytes were freed and taken again at this age" (a hit
 * when the delay in force still held them, else a miss), "this many were
 * freed and never taken again".  The next decide() gets it, with
 * elapsed_ms from the fake clock, and the window starts empty again.
 *
 * Every hook call is checked against the contract (decisions in range,
 * admit answered for every site after each tick, report NUL-terminated
 * within any buffer and a prefix of itself when cut), and a violation
 * fails the test at once.  Nothing sleeps or reads real time: a run is a
 * function of its inputs and the seed.
 *
 * Only one harness is live at a time: the env's meta_alloc finds it
 * through a global.  harness.c is compiled into each test by #include (the
 * Makefile builds every test_*.c alone).
 */
#ifndef HAK_TEST_POLICY_HARNESS_H
#define HAK_TEST_POLICY_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hakmem_policy.h>

#include "testlib.h"

#define H_MAX_PARAMS	16
#define H_MAX_SITES	64
#define H_MAX_META	64
#define H_MIX_AGES	4
/* The longest delay any option or parameter lets a profile ask for. */
#define H_DECAY_MAX_MS	3600000

struct harness {
	const struct hak_policy *pol;
	void *state;
	struct hak_policy_env env;
	struct hak_param_value params[H_MAX_PARAMS];
	unsigned nparams;
	bool started;			/* init() returned 0 */
	unsigned epoch_events;		/* policy.epoch: events per tick() */
	size_t span_max;		/* large.span_max, for the core's clamp of map_min */

	uint64_t now_ns;		/* the fake clock */
	uint64_t last_ms;		/* the clock at the previous decide() */
	uint64_t events, epoch, decides;

	struct hak_heap_info win;	/* the window the next decide() gets */
	struct hak_decisions raw;	/* as the latest decide() left them */
	struct hak_decisions dec;	/* in force: raw after the core's clamps */

	struct hak_site site[H_MAX_SITES];
	bool seen[H_MAX_SITES];		/* had an event: the core knows it */
	bool admitted[H_MAX_SITES];	/* the latest admit() answer */
	unsigned nsites;

	void *meta[H_MAX_META];
	unsigned nmeta;
	char report[4096];
};

/*
 * A harness for @pol: parameters at their schema defaults; env with
 * purge_delay_ms 100, max_dirty 1 GiB, break_even_ms 100, nsites
 * H_MAX_SITES; 64 events per tick, span_max 1 MiB.  Change any of it
 * before h_start().
 */
struct harness *h_create(const struct hak_policy *pol, uint64_t seed);
void h_destroy(struct harness *h);

/* Parameters by name, before h_start(); a value out of the schema's range fails the test. */
struct hak_param_value *h_param(struct harness *h, const char *name);
void h_set_bool(struct harness *h, const char *name, bool v);
void h_set_int(struct harness *h, const char *name, long long v);
void h_set_float(struct harness *h, const char *name, double v);
void h_set_size(struct harness *h, const char *name, size_t v);
/* Either list type; increasing, as the option table wants (n may be 0). */
void h_set_list(struct harness *h, const char *name, unsigned n, const size_t *v);

/* Parse a value written as in a profile ("0.05", "4MiB", "0,10,25") into @out. */
int h_parse(enum hak_param_type type, const char *text, struct hak_param_value *out);
int h_parse_size(const char *text, size_t *out);

/* init(), then the first decide() when it returned 0.  Returns init's result. */
int h_start(struct harness *h);

/* A new call site; returns its index. */
unsigned h_site(struct harness *h);

/* Send an event as the core does (now_ns and, from @site, ev.site are set). */
void h_event(struct harness *h, unsigned site, struct hak_event ev);
void h_alloc(struct harness *h, unsigned site, size_t size);
void h_free(struct harness *h, unsigned site, size_t size, uint64_t lifetime_ms);

void h_advance_ms(struct harness *h, uint64_t ms);

/* The window: @bytes freed and taken again at @age_ms, a hit if the delay in force held them. */
void h_reuse(struct harness *h, uint64_t bytes, uint64_t age_ms);
void h_reuse_as(struct harness *h, uint64_t bytes, uint64_t age_ms, bool hit);
/* @bytes freed and not taken again. */
void h_unused(struct harness *h, uint64_t bytes);

/* Let @ms pass, then decide() on the window; returns the decisions in force. */
const struct hak_decisions *h_decide(struct harness *h, uint64_t ms);

/* The age bucket of @age_ms (the inverse of hak_age_bucket_ms). */
unsigned h_age_bucket(uint64_t age_ms);

/* A reuse pattern a test repeats, window after window. */
struct h_mix {
	uint64_t bytes[H_MIX_AGES];	/* freed and taken again ... */
	uint64_t age_ms[H_MIX_AGES];	/* ... at this age */
	uint64_t unused;		/* freed and not taken again */
};

/* One window of @m over HAK_DECIDE_MS, and its decide(); returns the delay decided. */
uint64_t h_mix_step(struct harness *h, const struct h_mix *m);
/* The model's cost of delay @d on @m (any number of equal windows: the argmin is the same). */
double h_mix_cost(const struct h_mix *m, uint64_t d, uint64_t break_even_ms);

/* admit() for @site now (true when the policy has no admit hook). */
bool h_admit(struct harness *h, unsigned site);

/* The policy's report, checked; and one value out of it ("rating0"). */
const char *h_report(struct harness *h);
bool h_report_num(struct harness *h, const char *key, double *out);
/* The same number, failing the test when the report lacks it. */
double h_report_value(struct harness *h, const char *key);
bool h_report_word(struct harness *h, const char *key, char *out, size_t len);

/* main() of one policy's tests: nothing to test when @config leaves it out. */
#define POLICY_TEST_MAIN(name, config, suite_fn)					\
	int main(void)								\
	{									\
		if (!IS_ENABLED(config)) {					\
			printf(name " is not compiled in (" #config "): nothing to test\n"); \
			return 0;						\
		}								\
		return run_suite(suite_fn());					\
	}

#endif /* HAK_TEST_POLICY_HARNESS_H */
