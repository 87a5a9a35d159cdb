// SPDX-License-Identifier: MIT
/*
 * test/policy/test_elo.c - the elo policy alone, against the fake core of
 * harness.h: its schema, routing and admission by the threshold in force,
 * the rating arithmetic, convergence to the cheapest candidate on a
 * synthetic workload, the exploration rate, and reproducibility.
 *
 * The workload: site A asks 2 MiB and frees it at once (reused, so worth
 * caching); site B asks one of 16 sizes between 5 and 14.4 MiB, never the
 * same twice in a row (caching it only holds memory).  The fake core
 * charges 4 us per cached MiB on every allocation and a minor fault per
 * page of a fresh mapping.  So 4 MiB (cache A, map B) is clearly the
 * cheapest candidate: 256 KiB and 1 MiB map A every time (512 faults),
 * 16 MiB caches B for nothing.
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "harness.c"

static const struct hak_policy *elo(void)
{
	const struct hak_policy *p = hak_policy_find("elo");

	ck_assert_ptr_nonnull(p);
	return p;
}

static const size_t cands[] = { 256 * KiB, 1 * MiB, 4 * MiB, 16 * MiB };
#define NCAND (sizeof(cands) / sizeof(cands[0]))
#define BEST (4 * MiB)
#define EPISODE 32	/* allocations: 16 rounds of the workload */

struct run {
	struct harness *h;
	unsigned a, b;		/* sites */
	unsigned round;
};

static void run_start(struct run *r, uint64_t seed, double epsilon)
{
	struct harness *h = h_create(elo(), seed);

	h->env.span_max = 128 * KiB;	/* so that 256 KiB and 1 MiB differ from spans */
	h->nclasses = 0;		/* exact sizes: B is never a hit */
	h->env.ncache_classes = 0;
	h->cache_budget = 64 * MiB;
	h->purge_age = 8;
	h->price.hold_ns_per_mib = 4000;
	h_set_float(h, "epsilon", epsilon);
	h_set_list(h, "candidates", NCAND, cands);
	h_set_int(h, "episode", EPISODE);
	h_set_float(h, "abort", 0);	/* fixed-length episodes; abort is tested alone */
	ck_assert_int_eq(h_start(h), 0);
	r->h = h;
	r->a = h_site(h);
	r->b = h_site(h);
	r->round = 0;
}

static void run_round(struct run *r)
{
	int a = h_alloc(r->h, r->a, 2 * MiB);
	int b = h_alloc(r->h, r->b, 5 * MiB + (r->round % 16) * 640 * KiB);

	h_free(r->h, a);
	h_free(r->h, b);
	r->round++;
}

/* Serve one episode; returns the threshold that served it. */
static size_t run_episode(struct run *r)
{
	size_t t = h_threshold(r->h, cands, NCAND);

	ck_assert_uint_eq(r->h->allocs % EPISODE, 0);
	for (unsigned i = 0; i < EPISODE / 2; i++)
		run_round(r);
	return t;
}

static double rating(struct harness *h, unsigned i)
{
	char key[32];
	double v;

	snprintf(key, sizeof(key), "rating%u", i);
	ck_assert_msg(h_report_num(h, key, &v), "no %s in '%s'", key, h_report(h));
	return v;
}

/* ---- schema and hooks ---- */

START_TEST(schema_matches_contract)
{
	const struct hak_policy *p = elo();
	static const char *const names[] = { "epsilon", "k", "candidates", "episode", "abort" };
	static const enum hak_param_type types[] = {
		HAK_PARAM_FLOAT, HAK_PARAM_FLOAT, HAK_PARAM_SIZE_LIST, HAK_PARAM_INT,
		HAK_PARAM_FLOAT,
	};
	struct hak_param_value v;
	unsigned n = 0;

	ck_assert_str_eq(p->name, "elo");
	ck_assert_ptr_nonnull(p->summary);
	ck_assert_uint_gt(p->state_size, 0);
	ck_assert_ptr_nonnull(p->ops->route);
	ck_assert_ptr_null(p->ops->admit);	/* the core's default: keep */
	ck_assert_ptr_nonnull(p->ops->on_event);
	ck_assert_ptr_nonnull(p->ops->tick);
	ck_assert_ptr_nonnull(p->ops->report);
	for (; p->params[n].name; n++) {
		ck_assert_uint_lt(n, 5);
		ck_assert_str_eq(p->params[n].name, names[n]);
		ck_assert_int_eq(p->params[n].type, types[n]);
		ck_assert_ptr_nonnull(p->params[n].help);
		ck_assert_int_eq(h_parse(types[n], p->params[n].def, &v), 0);
	}
	ck_assert_uint_eq(n, 5);

	h_parse(HAK_PARAM_FLOAT, p->params[0].def, &v);
	ck_assert_double_eq_tol(v.f, 0.02, 1e-12);
	ck_assert_double_eq(p->params[0].min, 0);
	ck_assert_double_eq(p->params[0].max, 1);
	h_parse(HAK_PARAM_FLOAT, p->params[1].def, &v);
	ck_assert_double_eq_tol(v.f, 32, 1e-12);
	ck_assert_double_eq(p->params[1].min, 1);
	ck_assert_double_eq(p->params[1].max, 400);
	h_parse(HAK_PARAM_SIZE_LIST, p->params[2].def, &v);
	ck_assert_uint_eq(v.nlist, 4);
	for (unsigned i = 0; i < 4; i++)
		ck_assert_uint_eq(v.list[i], cands[i]);
	ck_assert_double_eq(p->params[2].max, 1099511627776.0);
	h_parse(HAK_PARAM_INT, p->params[3].def, &v);
	ck_assert_int_eq(v.i, 256);
	h_parse(HAK_PARAM_FLOAT, p->params[4].def, &v);
	ck_assert_double_eq_tol(v.f, 4, 1e-12);
	ck_assert_double_eq(p->params[3].min, 1);
	ck_assert_double_eq(p->params[3].max, 100000);
}
END_TEST

START_TEST(init_needs_a_candidate_and_allocates_nothing)
{
	struct harness *h = h_create(elo(), 1);

	h_set_list(h, "candidates", 0, NULL);
	ck_assert_int_eq(h_start(h), -EINVAL);
	h_destroy(h);

	h = h_create(elo(), 1);
	ck_assert_int_eq(h_start(h), 0);
	ck_assert_uint_eq(h->nmeta, 0);	/* everything lives in state_size */
	h_destroy(h);
}
END_TEST

/* The first episodes try every candidate once, largest threshold first. */
START_TEST(first_round_tries_each_candidate)
{
	struct run r;

	run_start(&r, 3, 0.5);
	for (unsigned i = 0; i < NCAND; i++)
		ck_assert_uint_eq(run_episode(&r), cands[NCAND - 1 - i]);
	h_destroy(r.h);
}
END_TEST

START_TEST(route_follows_threshold_in_force)
{
	static const size_t two[] = { 2 * MiB, 8 * MiB };
	struct harness *h = h_create(elo(), 1);
	unsigned s;

	h_set_list(h, "candidates", 2, two);
	h_set_int(h, "episode", 4);
	h_set_float(h, "epsilon", 0);
	ck_assert_int_eq(h_start(h), 0);
	s = h_site(h);

	/* The largest candidate serves first: 8 MiB. */
	ck_assert_int_eq(h_route(h, 64 * KiB, s), HAK_ROUTE_SPAN);
	ck_assert_int_eq(h_route(h, 1 * MiB, s), HAK_ROUTE_SPAN);
	ck_assert_int_eq(h_route(h, 1 * MiB + 1, s), HAK_ROUTE_CACHE);
	ck_assert_int_eq(h_route(h, 2 * MiB, s), HAK_ROUTE_CACHE);
	ck_assert_int_eq(h_route(h, 8 * MiB - 1, s), HAK_ROUTE_CACHE);
	ck_assert_int_eq(h_route(h, 8 * MiB, s), HAK_ROUTE_MAP);
	ck_assert_int_eq(h_route(h, 1ull << 40, s), HAK_ROUTE_MAP);
	ck_assert(h_admit(h, 4 * MiB, s));

	/* One episode later, candidate 0: 2 MiB. */
	for (int i = 0; i < 4; i++)
		h_event(h, (struct hak_event){ .type = HAK_EV_ALLOC, .size = 3 * MiB,
					       .site = &h->site[s], .cost_ns = 100 });
	ck_assert_int_eq(h_route(h, 2 * MiB - 1, s), HAK_ROUTE_CACHE);
	ck_assert_int_eq(h_route(h, 2 * MiB, s), HAK_ROUTE_MAP);
	ck_assert_int_eq(h_route(h, 8 * MiB, s), HAK_ROUTE_MAP);
	/* A block cached under the larger threshold is still kept. */
	ck_assert(h_admit(h, 4 * MiB, s));
	h_destroy(h);
}
END_TEST

/* A trial that turns out far dearer than the best ends after one allocation. */
START_TEST(dear_trial_is_cut_short)
{
	static const size_t two[] = { 2 * MiB, 8 * MiB };
	struct harness *h = h_create(elo(), 1);
	double aborted, episodes;
	unsigned s;

	h->env.epoch_events = 1u << 30;
	h_set_list(h, "candidates", 2, two);
	h_set_int(h, "episode", 8);
	h_set_float(h, "epsilon", 0);
	h_set_float(h, "abort", 4);
	ck_assert_int_eq(h_start(h), 0);
	s = h_site(h);
	/* 8 MiB serves a full episode at 100 ns. */
	for (int i = 0; i < 8; i++)
		h_event(h, (struct hak_event){ .type = HAK_EV_ALLOC, .size = 3 * MiB,
					       .site = &h->site[s], .cost_ns = 100 });
	ck_assert_int_eq(h_route(h, 3 * MiB, s), HAK_ROUTE_MAP);	/* 2 MiB on trial */
	/* Its first allocation costs 10 us: the trial ends there. */
	h_event(h, (struct hak_event){ .type = HAK_EV_ALLOC, .size = 3 * MiB,
				       .site = &h->site[s], .cost_ns = 10000 });
	ck_assert(h_report_num(h, "aborted", &aborted));
	ck_assert_double_eq(aborted, 1);
	ck_assert(h_report_num(h, "episodes0", &episodes));
	ck_assert_double_eq(episodes, 1);
	/* Scored on that one allocation, it loses the next match. */
	h_tick(h);
	ck_assert_double_lt(rating(h, 0), 1500);
	h_destroy(h);

	/* Within the factor, a trial runs its whole episode. */

	h = h_create(elo(), 1);
	h->env.epoch_events = 1u << 30;
	h_set_list(h, "candidates", 2, two);
	h_set_int(h, "episode", 8);
	h_set_float(h, "epsilon", 0);
	ck_assert_int_eq(h_start(h), 0);
	s = h_site(h);
	for (int i = 0; i < 8; i++)
		h_event(h, (struct hak_event){ .type = HAK_EV_ALLOC, .size = 3 * MiB,
					       .site = &h->site[s], .cost_ns = 100 });
	for (int i = 0; i < 7; i++) {
		h_event(h, (struct hak_event){ .type = HAK_EV_ALLOC, .size = 3 * MiB,
					       .site = &h->site[s], .cost_ns = 300 });
		ck_assert_int_eq(h_route(h, 3 * MiB, s), HAK_ROUTE_MAP);
	}
	ck_assert(h_report_num(h, "aborted", &aborted));
	ck_assert_double_eq(aborted, 0);
	h_destroy(h);
}
END_TEST

/* ---- ratings ---- */

static struct harness *duel(double k)
{
	static const size_t two[] = { 2 * MiB, 8 * MiB };
	struct harness *h = h_create(elo(), 1);

	h->env.epoch_events = 1u << 30;	/* ticks only by hand */
	h_set_list(h, "candidates", 2, two);
	h_set_int(h, "episode", 4);
	h_set_float(h, "epsilon", 0);
	h_set_float(h, "k", k);
	h_set_float(h, "abort", 0);
	ck_assert_int_eq(h_start(h), 0);
	h_site(h);
	return h;
}

/* One episode of 4 allocations costing @ns each, with @faults faults. */
static void episode(struct harness *h, uint64_t ns, uint64_t faults)
{
	for (int i = 0; i < 4; i++) {
		if (i == 1)
			h_add_faults(h, faults);
		h_event(h, (struct hak_event){ .type = HAK_EV_ALLOC, .size = 3 * MiB,
					       .site = &h->site[0], .cost_ns = ns });
	}
}

START_TEST(cheaper_candidate_gains_k_over_2)
{
	struct harness *h = duel(32);
	double e;

	episode(h, 1000, 0);		/* candidate 1: the largest serves first */
	h_tick(h);			/* nobody to play yet */
	ck_assert_double_eq_tol(rating(h, 0), 1500, 1e-9);
	ck_assert_double_eq_tol(rating(h, 1), 1500, 1e-9);
	episode(h, 100, 0);		/* candidate 0 */
	h_tick(h);
	/* Even odds, a win: +K/2 and -K/2. */
	ck_assert_double_eq_tol(rating(h, 0), 1516, 0.051);
	ck_assert_double_eq_tol(rating(h, 1), 1484, 0.051);
	/* Exploit: candidate 0 serves again, wins again against the stale cost. */
	ck_assert_uint_eq(h_threshold(h, (const size_t[]){ 2 * MiB, 8 * MiB }, 2), 2 * MiB);
	episode(h, 100, 0);
	h_tick(h);
	e = 1.0 / (1.0 + pow(10.0, (1484.0 - 1516.0) / 400.0));
	ck_assert_double_eq_tol(rating(h, 0), 1516 + 32 * (1 - e), 0.051);
	ck_assert_double_eq_tol(rating(h, 1), 1484 - 32 * (1 - e), 0.051);
	/* No fresh cost: no match, no change. */
	h_tick(h);
	ck_assert_double_eq_tol(rating(h, 0), 1516 + 32 * (1 - e), 0.051);
	h_destroy(h);
}
END_TEST

START_TEST(costs_within_two_percent_draw)
{
	struct harness *h = duel(100);

	episode(h, 1000, 0);
	episode(h, 1015, 0);
	h_tick(h);
	ck_assert_double_eq_tol(rating(h, 0), 1500, 0.051);
	ck_assert_double_eq_tol(rating(h, 1), 1500, 0.051);
	h_destroy(h);
}
END_TEST

/* 100 faults at 250 ns each outweigh 900 ns per allocation over 4. */
START_TEST(page_faults_are_charged)
{
	struct harness *h = duel(32);

	episode(h, 1000, 0);		/* candidate 1: 1000 ns */
	episode(h, 100, 100);		/* candidate 0: (400 + 25000) / 4 = 6350 ns */
	h_tick(h);
	ck_assert_double_eq_tol(rating(h, 1), 1516, 0.051);
	ck_assert_double_eq_tol(rating(h, 0), 1484, 0.051);
	h_destroy(h);
}
END_TEST

/* ---- learning on the synthetic workload ---- */

START_TEST(converges_to_cheapest_candidate)
{
	struct run r;
	unsigned best = 0, n = 1000;
	double sum = 0;

	run_start(&r, 12345, 0.05);
	for (unsigned i = 0; i < 100; i++)
		run_episode(&r);
	for (unsigned i = 0; i < n; i++)
		best += run_episode(&r) == BEST;
	ck_assert_msg(best * 10 >= n * 9, "4MiB served %u of %u episodes: %s", best, n,
		      h_report(r.h));

	/* The ratings say the same: 4 MiB on top, the rest below the start. */
	for (unsigned i = 0; i < NCAND; i++) {
		sum += rating(r.h, i);
		if (cands[i] == BEST)
			ck_assert_double_gt(rating(r.h, i), 1500);
		else
			ck_assert_double_lt(rating(r.h, i), 1500);
	}
	ck_assert_double_eq_tol(sum, NCAND * 1500.0, 0.2);	/* zero-sum */
	h_destroy(r.h);
}
END_TEST

static void exploration_rate(double epsilon, uint64_t seed)
{
	struct run r;
	unsigned other = 0, n = 2000;
	double decisions, explored;

	run_start(&r, seed, epsilon);
	for (unsigned i = 0; i < 100; i++)
		run_episode(&r);
	for (unsigned i = 0; i < n; i++)
		other += run_episode(&r) != BEST;
	/*
	 * A uniform draw picks another candidate 3 times in 4: about
	 * 0.075 n for epsilon 0.1, 150 +- 12 for n = 2000.
	 */
	ck_assert_msg(other * 3 >= n * epsilon && other <= 3 * epsilon * n,
		      "epsilon %.2f: %u of %u episodes not 4MiB", epsilon, other, n);
	ck_assert(h_report_num(r.h, "decisions", &decisions));
	ck_assert(h_report_num(r.h, "explored", &explored));
	ck_assert_double_ge(explored, decisions * epsilon / 2);
	ck_assert_double_le(explored, decisions * epsilon * 1.5);
	h_destroy(r.h);
}

START_TEST(explores_at_about_epsilon)
{
	exploration_rate(0.1, 777);
	exploration_rate(0.1, 778);
	exploration_rate(0.2, 779);
}
END_TEST

START_TEST(epsilon_zero_only_exploits)
{
	struct run r;

	run_start(&r, 5, 0);
	for (unsigned i = 0; i < 40; i++)
		run_episode(&r);
	for (unsigned i = 0; i < 500; i++)
		ck_assert_uint_eq(run_episode(&r), BEST);
	h_destroy(r.h);
}
END_TEST

START_TEST(epsilon_one_is_uniform)
{
	struct run r;
	unsigned count[NCAND] = { 0 }, n = 2000;

	run_start(&r, 6, 1);
	for (unsigned i = 0; i < n; i++) {
		size_t t = run_episode(&r);

		for (unsigned c = 0; c < NCAND; c++)
			count[c] += t == cands[c];
	}
	for (unsigned c = 0; c < NCAND; c++)
		ck_assert_msg(count[c] * 5 >= n && count[c] * 3 <= n,
			      "candidate %u served %u of %u", c, count[c], n);
	h_destroy(r.h);
}
END_TEST

static void decisions(uint64_t seed, size_t *out, unsigned n)
{
	struct run r;

	run_start(&r, seed, 0.3);
	for (unsigned i = 0; i < n; i++)
		out[i] = run_episode(&r);
	h_destroy(r.h);
}

START_TEST(deterministic_given_seed)
{
	enum { N = 400 };
	size_t *a = calloc(N, sizeof(*a)), *b = calloc(N, sizeof(*b)), *c = calloc(N, sizeof(*c));

	decisions(42, a, N);
	decisions(42, b, N);
	decisions(43, c, N);
	ck_assert_mem_eq(a, b, N * sizeof(*a));
	ck_assert_int_ne(memcmp(a, c, N * sizeof(*a)), 0);
	free(a);
	free(b);
	free(c);
}
END_TEST

START_TEST(report_names_state_and_fits_any_buffer)
{
	struct run r;
	char word[64], small[16];
	const struct hak_policy *p = elo();
	int n;

	run_start(&r, 9, 0.05);
	for (unsigned i = 0; i < 20; i++)
		run_episode(&r);
	ck_assert(h_report_word(r.h, "epsilon", word, sizeof(word)));
	ck_assert_str_eq(word, "0.050");
	ck_assert(h_report_word(r.h, "k", word, sizeof(word)));
	ck_assert_str_eq(word, "32.0");
	ck_assert(h_report_word(r.h, "current", word, sizeof(word)));
	ck_assert(h_report_word(r.h, "threshold0", word, sizeof(word)));
	ck_assert_str_eq(word, "256KiB");
	ck_assert(h_report_word(r.h, "threshold3", word, sizeof(word)));
	ck_assert_str_eq(word, "16MiB");
	for (unsigned i = 0; i < NCAND; i++) {
		double v;

		snprintf(word, sizeof(word), "episodes%u", i);
		ck_assert(h_report_num(r.h, word, &v));
		ck_assert_double_ge(v, 1);
	}
	/* Truncated, still NUL-terminated, length what it wrote. */
	memset(small, 'x', sizeof(small));
	n = p->ops->report(r.h->state, small, sizeof(small));
	ck_assert_int_eq(n, (int)strlen(small));
	ck_assert_int_lt(n, (int)sizeof(small));
	ck_assert_int_eq(p->ops->report(r.h->state, small, 1), 0);
	ck_assert_str_eq(small, "");
	ck_assert_int_eq(p->ops->report(r.h->state, small, 0), 0);
	h_destroy(r.h);
}
END_TEST

static Suite *elo_suite(void)
{
	Suite *s = suite_create("policy-elo");
	TCase *tc = tcase_create("elo");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, schema_matches_contract);
	tcase_add_test(tc, init_needs_a_candidate_and_allocates_nothing);
	tcase_add_test(tc, first_round_tries_each_candidate);
	tcase_add_test(tc, route_follows_threshold_in_force);
	tcase_add_test(tc, dear_trial_is_cut_short);
	tcase_add_test(tc, cheaper_candidate_gains_k_over_2);
	tcase_add_test(tc, costs_within_two_percent_draw);
	tcase_add_test(tc, page_faults_are_charged);
	tcase_add_test(tc, converges_to_cheapest_candidate);
	tcase_add_test(tc, explores_at_about_epsilon);
	tcase_add_test(tc, epsilon_zero_only_exploits);
	tcase_add_test(tc, epsilon_one_is_uniform);
	tcase_add_test(tc, deterministic_given_seed);
	tcase_add_test(tc, report_names_state_and_fits_any_buffer);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (!IS_ENABLED(CONFIG_HAKMEM_POLICY_ELO)) {
		printf("elo is not compiled in (CONFIG_HAKMEM_POLICY_ELO): nothing to test\n");
		return 0;
	}
	sr = srunner_create(elo_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
