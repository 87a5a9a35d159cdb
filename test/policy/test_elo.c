// SPDX-License-Identifier: MIT
/*
 * test/policy/test_elo.c - the elo policy alone, on the real policy host
 * (harness.c): its schema, the delay it starts from, the rating arithmetic
 * (K/2 for a win at even odds, draws within 2%), convergence to the
 * candidate the model prices cheapest on a steady pattern of reuse, how
 * fast it follows a change of pattern (the spread cap), the ratings'
 * invariants, and its report (determinism is test_conformance.c's).
 *
 * The patterns are windows of HAK_DECIDE_MS in which the page heap saw
 * memory freed and taken again at given ages, and memory freed for
 * nothing; the cheapest candidate is worked out here with
 * hak_decay_cost, not written down.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "harness.c"

#define SPREAD_MAX 200.0	/* elo's promise: no rating further below the best */
#define START 1500.0		/* and ratings centred on this */

static const struct hak_policy *elo(void)
{
	const struct hak_policy *p = hak_policy_find("elo");

	ck_assert_ptr_nonnull(p);
	return p;
}

/* The default candidates, as the schema writes them. */
static const uint64_t cands[] = { 0, 10, 25, 50, 100, 250, 500, 1000 };
#define NCAND (sizeof(cands) / sizeof(cands[0]))

/* Freed memory taken again at about 20 ms; a quarter never. */
static const struct h_mix at20 = { .bytes = { 48 * MiB }, .age_ms = { 20 }, .unused = 16 * MiB };
/* Most taken again at about 300 ms, a little at 3 ms. */
static const struct h_mix at300 = {
	.bytes = { 32 * MiB, 8 * MiB }, .age_ms = { 300, 3 }, .unused = 4 * MiB,
};
/* Freed and never taken again. */
static const struct h_mix never = { .unused = 64 * MiB };

static double rating(struct harness *h, unsigned i)
{
	char key[32];

	snprintf(key, sizeof(key), "rating%u", i);
	return h_report_value(h, key);
}

/* An elo with the default parameters and @break_even_ms, started. */
static struct harness *start(uint64_t break_even_ms)
{
	struct harness *h = h_create(elo(), 1);

	h->env.break_even_ms = break_even_ms;
	ck_assert_int_eq(h_start(h), 0);
	return h;
}

/* The candidate the model prices cheapest on @m, and the runner-up's cost over its. */
static uint64_t cheapest(const struct h_mix *m, uint64_t break_even_ms, double *margin)
{
	double best = 1e300, second = 1e300;
	uint64_t d = 0;

	for (unsigned i = 0; i < NCAND; i++) {
		double c = h_mix_cost(m, cands[i], break_even_ms);

		if (c < best) {
			second = best;
			best = c;
			d = cands[i];
		} else if (c < second) {
			second = c;
		}
	}
	*margin = best > 0 ? second / best : 1e300;
	return d;
}

/* Where delay @d is in cands[]. */
static unsigned cand_index(uint64_t d)
{
	for (unsigned i = 0; i < NCAND; i++)
		if (cands[i] == d)
			return i;
	ck_abort_msg("%llu ms is not a candidate", (unsigned long long)d);
	return 0;
}

/* The ratings obey the spread cap and stay centred; returns the spread. */
static double check_ratings(struct harness *h, unsigned ncand)
{
	double top = -1e300, low = 1e300, sum = 0;

	for (unsigned i = 0; i < ncand; i++) {
		double r = rating(h, i);

		top = r > top ? r : top;
		low = r < low ? r : low;
		sum += r;
	}
	/* The report rounds to 0.1. */
	ck_assert_msg(top - low <= SPREAD_MAX + 0.1, "spread %.1f: %s", top - low, h_report(h));
	ck_assert_msg(sum / ncand >= START - 0.05 && sum / ncand <= START + 0.05, "mean %.2f: %s",
		      sum / ncand, h_report(h));
	return top - low;
}

/*
 * Decisions until @m has been served by @want, counting from now, and
 * stays served for @hold more; checks the ratings after each.
 */
static unsigned follow(struct harness *h, const struct h_mix *m, uint64_t want, unsigned limit,
		       unsigned hold)
{
	unsigned n = 0, since = 0;

	for (; n < limit && since < hold; n++) {
		since = h_mix_step(h, m) == want ? since + 1 : 0;
		check_ratings(h, NCAND);
	}
	ck_assert_msg(since == hold, "%u decisions and %u served by %llu: %s", n, since,
		      (unsigned long long)want, h_report(h));
	return n - hold;
}

/* ---- schema and start ---- */

START_TEST(schema_and_defaults)
{
	const struct hak_policy *p = elo();
	static const char *const names[] = { "candidates", "k", "window_ms", "map_min",
					     "cache_max" };
	static const enum hak_param_type types[] = {
		HAK_PARAM_INT_LIST, HAK_PARAM_FLOAT, HAK_PARAM_INT, HAK_PARAM_SIZE, HAK_PARAM_SIZE,
	};
	struct harness *h = h_create(p, 1);
	const struct hak_param_value *c = h_param(h, "candidates");
	unsigned n = 0;

	for (; p->params[n].name; n++) {
		ck_assert_uint_lt(n, 5);
		ck_assert_str_eq(p->params[n].name, names[n]);
		ck_assert_int_eq(p->params[n].type, types[n]);
	}
	ck_assert_uint_eq(n, 5);
	ck_assert_uint_eq(c->nlist, NCAND);
	for (unsigned i = 0; i < NCAND; i++)
		ck_assert_uint_eq(c->list[i], cands[i]);
	ck_assert_double_eq(p->params[0].min, 0);
	ck_assert_double_eq(p->params[0].max, 3600000);
	ck_assert_double_eq_tol(h_param(h, "k")->f, 32, 1e-12);
	ck_assert_double_eq(p->params[1].min, 1);
	ck_assert_double_eq(p->params[1].max, 400);
	ck_assert_int_eq(h_param(h, "window_ms")->i, 1000);
	ck_assert_double_eq(p->params[2].min, 1);
	ck_assert_uint_eq(h_param(h, "map_min")->size, GiB);
	ck_assert_uint_eq(h_param(h, "cache_max")->size, 4 * MiB);
	ck_assert_ptr_nonnull(p->ops->decide);
	ck_assert_ptr_nonnull(p->ops->report);
	ck_assert_uint_gt(p->state_size, 0);

	/* No allocation: everything lives in state_size. */
	ck_assert_int_eq(h_start(h), 0);
	ck_assert_uint_eq(h->p.meta_allocs, 0);
	h_destroy(h);
}
END_TEST

START_TEST(init_rejects_no_candidates)
{
	struct harness *h = h_create(elo(), 1);

	h_set_list(h, "candidates", 0, NULL);
	ck_assert_int_eq(h_start(h), -EINVAL);
	ck_assert_uint_eq(h->p.decides, 0);
	h_destroy(h);

	/* One candidate is enough, and serves whatever happens. */
	h = h_create(elo(), 1);
	h_set_list(h, "candidates", 1, (const size_t[]){ 42 });
	ck_assert_int_eq(h_start(h), 0);
	for (unsigned i = 0; i < 100; i++)
		ck_assert_uint_eq(h_mix_step(h, i % 2 ? &never : &at20), 42);
	ck_assert_double_eq(rating(h, 0), START);
	h_destroy(h);
}
END_TEST

/* The candidate nearest purge.delay_ms serves until there is something to go by. */
static void check_first(uint64_t purge_ms, uint64_t want)
{
	struct harness *h = h_create(elo(), 1);

	h->env.purge_delay_ms = purge_ms;
	ck_assert_int_eq(h_start(h), 0);
	ck_assert_uint_eq(h->p.dec.decay_ms, want);
	for (unsigned i = 0; i < 50; i++)
		ck_assert_uint_eq(h_decide(h, HAK_DECIDE_MS)->decay_ms, want);
	for (unsigned i = 0; i < NCAND; i++)
		ck_assert_double_eq(rating(h, i), START);
	ck_assert_double_eq(h_report_value(h, "decisions"), 0);
	h_destroy(h);
}

START_TEST(starts_nearest_the_default_delay)
{
	check_first(100, 100);
	check_first(40, 50);
	check_first(30, 25);
	check_first(4, 0);
	check_first(0, 0);
	check_first(60000, 1000);
}
END_TEST

START_TEST(decides_its_params_and_the_budget)
{
	struct harness *h = h_create(elo(), 1);
	unsigned s;

	h->env.max_dirty = 96 * MiB;
	h_set_size(h, "map_min", 64 * MiB);
	h_set_size(h, "cache_max", 2 * MiB);
	ck_assert_int_eq(h_start(h), 0);
	s = h_site(h);
	for (unsigned i = 0; i < 300; i++) {
		h_mix_step(h, i < 150 ? &at20 : &never);
		h_alloc(h, s, 3 * MiB);
		ck_assert_uint_eq(h->p.raw.keep_bytes, 96 * MiB);
		ck_assert_uint_eq(h->p.raw.map_min, 64 * MiB);
		ck_assert_uint_eq(h->p.raw.cache_max, 2 * MiB);
	}
	ck_assert(h_admit(h, s));	/* elo leaves the BigCache to every site */
	h_destroy(h);
}
END_TEST

/* ---- the rating arithmetic ---- */

/* Two candidates, memory never taken again: the costs are freed * d. */
static struct harness *duel(uint64_t a, uint64_t b, double k)
{
	struct harness *h = h_create(elo(), 1);

	h->env.purge_delay_ms = b;	/* b serves first */
	h_set_list(h, "candidates", 2, (const size_t[]){ a, b });
	h_set_float(h, "k", k);
	ck_assert_int_eq(h_start(h), 0);
	ck_assert_uint_eq(h->p.dec.decay_ms, b);
	return h;
}

START_TEST(a_win_at_even_odds_moves_k_over_2)
{
	struct harness *h = duel(100, 103, 32);	/* 3% apart: a match */

	ck_assert_uint_eq(h_mix_step(h, &never), 100);
	ck_assert_double_eq_tol(rating(h, 0), START + 16, 0.051);
	ck_assert_double_eq_tol(rating(h, 1), START - 16, 0.051);
	ck_assert_double_eq(h_report_value(h, "changes"), 1);
	ck_assert_double_eq(h_report_value(h, "decisions"), 1);
	h_destroy(h);

	h = duel(100, 103, 100);
	ck_assert_uint_eq(h_mix_step(h, &never), 100);
	ck_assert_double_eq_tol(rating(h, 0), START + 50, 0.051);
	ck_assert_double_eq_tol(rating(h, 1), START - 50, 0.051);
	/* Again: the gap grows, but never past the cap. */
	for (unsigned i = 0; i < 100; i++) {
		h_mix_step(h, &never);
		ck_assert_double_le(rating(h, 0) - rating(h, 1), SPREAD_MAX + 0.1);
	}
	ck_assert_double_eq_tol(rating(h, 0) - rating(h, 1), SPREAD_MAX, 0.11);
	h_destroy(h);
}
END_TEST

START_TEST(costs_within_two_percent_draw)
{
	/* 1019 costs 1.9% more than 1000: a draw, nobody moves, 1019 keeps serving. */
	struct harness *h = duel(1000, 1019, 100);

	for (unsigned i = 0; i < 50; i++)
		ck_assert_uint_eq(h_mix_step(h, &never), 1019);
	ck_assert_double_eq(rating(h, 0), START);
	ck_assert_double_eq(rating(h, 1), START);
	ck_assert_double_eq(h_report_value(h, "decisions"), 50);
	ck_assert_double_eq(h_report_value(h, "changes"), 0);
	h_destroy(h);

	/* 2.1% more: 1000 wins. */
	h = duel(1000, 1021, 100);
	ck_assert_uint_eq(h_mix_step(h, &never), 1000);
	ck_assert_double_eq_tol(rating(h, 0), START + 50, 0.051);
	h_destroy(h);
}
END_TEST

/* ---- learning ---- */

static void check_converges(const struct h_mix *m, uint64_t break_even_ms)
{
	struct harness *h = start(break_even_ms);
	double margin;
	uint64_t want = cheapest(m, break_even_ms, &margin);
	unsigned n;

	/* Else the best and the runner-up draw, and either may serve. */
	ck_assert_msg(margin > 1.03, "pattern too close to call: %.3f", margin);
	/* From equal ratings, one round of matches ranks them: measured 0 decisions. */
	n = follow(h, m, want, 500, 200);
	ck_assert_uint_le(n, 2);
	/* The one serving is rated best, and a cheaper candidate never below a dearer one. */
	for (unsigned i = 0; i < NCAND; i++) {
		double ci = h_mix_cost(m, cands[i], break_even_ms);

		if (cands[i] != want)
			ck_assert_double_lt(rating(h, i), rating(h, cand_index(want)));
		for (unsigned j = 0; j < NCAND; j++)
			if (ci < h_mix_cost(m, cands[j], break_even_ms))
				ck_assert_double_ge(rating(h, i), rating(h, j));
	}
	ck_assert_double_eq(h_report_value(h, "current_ms"), (double)want);
	h_destroy(h);
}

START_TEST(converges_to_the_cheapest_candidate)
{
	double margin;

	/* The patterns tell the candidates apart the way they should. */
	ck_assert_uint_eq(cheapest(&at20, 100, &margin), 50);
	ck_assert_uint_eq(cheapest(&never, 100, &margin), 0);
	ck_assert_uint_eq(cheapest(&at300, 1000, &margin), 500);
	check_converges(&at20, 100);
	/* The same reuse, other exchange rates: 0, 10, 500 and 1000 ms win in turn. */
	check_converges(&at300, 5);
	check_converges(&at300, 100);
	check_converges(&at300, 1000);
	check_converges(&at300, 10000);
	check_converges(&never, 100);
	check_converges(&never, 3600000);
}
END_TEST

/*
 * A phase of @phase decisions on one pattern, then another: decisions
 * until the new cheapest serves, and keeps serving.  Part of the lag is
 * the window forgetting the first phase, the rest the new cheapest
 * climbing from at most SPREAD_MAX below the best.
 */
static unsigned check_switch(const struct h_mix *a, const struct h_mix *b, uint64_t window_ms,
			     unsigned phase)
{
	struct harness *h = h_create(elo(), 1);
	double margin;
	uint64_t want_a = cheapest(a, 100, &margin), want_b = cheapest(b, 100, &margin);
	unsigned lag;

	h_set_int(h, "window_ms", (long long)window_ms);
	ck_assert_int_eq(h_start(h), 0);
	lag = follow(h, a, want_a, phase, phase / 2);
	for (unsigned i = lag + phase / 2; i < phase; i++)
		h_mix_step(h, a);
	lag = follow(h, b, want_b, 1000, 100);
	h_destroy(h);
	return lag;
}

/*
 * With a window of one decision the costs flip at once, and the lag is
 * the ratings': measured 1 decision (50 ms to 0) and 2 (0 to 50 ms),
 * whatever the first phase's length.  An ELO without the cap, on the
 * same costs (a reference simulation outside this test), needs 8, 14 and
 * 20 or 21 decisions after phases of 200, 2000 and 20000: its lag grows
 * with the leader's lead.  With the default window of 1000 ms (50
 * decisions) after 2000: measured 33 and 39; uncapped, 47 and 54.
 */
START_TEST(follows_a_switch_of_workload)
{
	unsigned short_phase, long_phase;

	short_phase = check_switch(&at20, &never, 20, 200);
	long_phase = check_switch(&at20, &never, 20, 20000);
	ck_assert_uint_le(long_phase, 4);
	ck_assert_uint_eq(long_phase, short_phase);
	short_phase = check_switch(&never, &at20, 20, 200);
	long_phase = check_switch(&never, &at20, 20, 20000);
	ck_assert_uint_le(long_phase, 4);
	ck_assert_uint_eq(long_phase, short_phase);
	ck_assert_uint_le(check_switch(&at20, &never, 1000, 2000), 45);
	ck_assert_uint_le(check_switch(&never, &at20, 1000, 2000), 50);
}
END_TEST

/* The largest K, patterns that change every few decisions: the invariants hold throughout. */
START_TEST(ratings_stay_capped_and_centred)
{
	static const struct h_mix *const mix[] = { &at20, &at300, &never };
	struct harness *h = h_create(elo(), 1);
	double spread = 0;

	h_set_float(h, "k", 400);
	h_set_int(h, "window_ms", 100);
	ck_assert_int_eq(h_start(h), 0);
	for (unsigned i = 0; i < 3000; i++) {
		h_mix_step(h, mix[(i / 7 + i / 101) % 3]);
		spread = check_ratings(h, NCAND);
		if (i % 7 == 6)
			h_decide(h, 0);	/* a tick()'s decide: no time passed */
	}
	/* The cap was reached, not merely respected. */
	ck_assert_double_eq_tol(spread, SPREAD_MAX, 0.11);
	h_destroy(h);
}
END_TEST

/* ---- the report ---- */

START_TEST(report_names_its_state)
{
	struct harness *h = start(100);
	double served = 0;
	char word[64];
	unsigned s = h_site(h);

	for (unsigned i = 0; i < 10; i++)
		h_decide(h, HAK_DECIDE_MS);	/* no data: served, not played */
	for (unsigned i = 0; i < 300; i++) {
		h_mix_step(h, i < 150 ? &at20 : &never);
		h_alloc(h, s, 2 * MiB);
	}
	h_free(h, s, 2 * MiB, 3);
	ck_assert(h_report_word(h, "k", word, sizeof(word)));
	ck_assert_str_eq(word, "32.0");
	ck_assert_double_eq(h_report_value(h, "window_ms"), 1000);
	ck_assert_double_eq(h_report_value(h, "current_ms"), (double)h->p.dec.decay_ms);
	/* Every decide() since data came played, the tick()s' included. */
	ck_assert_double_eq(h_report_value(h, "decisions"), (double)(h->p.decides - 11));
	ck_assert_double_ge(h_report_value(h, "changes"), 2);
	ck_assert_double_eq(h_report_value(h, "allocs"), 300);
	ck_assert_double_eq(h_report_value(h, "frees"), 1);
	for (unsigned i = 0; i < NCAND; i++) {
		char key[32];

		snprintf(key, sizeof(key), "delay%u", i);
		ck_assert_double_eq(h_report_value(h, key), (double)cands[i]);
		snprintf(key, sizeof(key), "served%u", i);
		served += h_report_value(h, key);
		rating(h, i);
	}
	/* Every decide() served one candidate, the one after init() included. */
	ck_assert_double_eq(served, (double)h->p.decides);
	ck_assert(!h_report_num(h, "delay8", &served));
	h_destroy(h);
}
END_TEST

static Suite *elo_suite(void)
{
	Suite *s = suite_create("policy-elo");

	add_tcase(s, "elo", 60, schema_and_defaults, init_rejects_no_candidates,
		  starts_nearest_the_default_delay, decides_its_params_and_the_budget,
		  a_win_at_even_odds_moves_k_over_2, costs_within_two_percent_draw,
		  converges_to_the_cheapest_candidate, follows_a_switch_of_workload,
		  ratings_stay_capped_and_centred, report_names_its_state);
	return s;
}

POLICY_TEST_MAIN("elo", CONFIG_HAKMEM_POLICY_ELO, elo_suite)
