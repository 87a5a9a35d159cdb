// SPDX-License-Identifier: MIT
/*
 * test/policy/test_evo.c - the evo policy alone, against the fake core of
 * harness.h: its schema and routing, convergence of the BigCache classes
 * to the sites' dominant sizes and then no more change, capacities
 * enforced by admit, and reproducibility.
 *
 * The workload, one round: site A takes 3 blocks of 2.89 to 3 MiB, site
 * B 2 blocks of 5.78 to 6 MiB, all freed at the end of the round; site C
 * now and then asks 12 MiB, too rarely to be fitted.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "harness.c"

static const struct hak_policy *evo(void)
{
	const struct hak_policy *p = hak_policy_find("evo");

	ck_assert_ptr_nonnull(p);
	return p;
}

struct run {
	struct harness *h;
	unsigned a, b, c, d;	/* sites; d joins later */
	unsigned round;
	bool with_d;
	uint64_t c_allocs;
};

static void run_start(struct run *r, uint64_t seed, double mutation)
{
	struct harness *h = h_create(evo(), seed);

	h->per_class = 8;
	h_set_float(h, "mutation", mutation);
	ck_assert_int_eq(h_start(h), 0);
	memset(r, 0, sizeof(*r));
	r->h = h;
	r->a = h_site(h);
	r->b = h_site(h);
	r->c = h_site(h);
	r->d = h_site(h);
}

static size_t size_a(unsigned i)
{
	return 3 * MiB - (i % 8) * 16 * KiB;
}

static size_t size_b(unsigned i)
{
	return 6 * MiB - (i % 8) * 32 * KiB;
}

static void run_round(struct run *r)
{
	int blk[8];
	unsigned n = 0;

	for (unsigned j = 0; j < 3; j++)
		blk[n++] = h_alloc(r->h, r->a, size_a(r->round * 3 + j));
	for (unsigned j = 0; j < 2; j++)
		blk[n++] = h_alloc(r->h, r->b, size_b(r->round * 2 + j));
	if (r->round % 16 == 5 && r->c_allocs < 20) {
		blk[n++] = h_alloc(r->h, r->c, 12 * MiB);
		r->c_allocs++;
	}
	if (r->with_d)
		for (unsigned j = 0; j < 2; j++)
			blk[n++] = h_alloc(r->h, r->d, 10 * MiB - j * 64 * KiB);
	while (n)
		h_free(r->h, blk[--n]);
	r->round++;
}

/* Run until @gens more generations (ticks) have passed. */
static void run_generations(struct run *r, unsigned gens)
{
	uint64_t end = r->h->epoch + gens;

	while (r->h->epoch < end)
		run_round(r);
}

static bool settled(struct harness *h)
{
	double v;

	ck_assert(h_report_num(h, "settled", &v));
	return v == 1;
}

static unsigned cap_of(struct harness *h, unsigned site)
{
	char caps[256], key[16];
	const char *p;

	ck_assert(h_report_word(h, "caps", caps, sizeof(caps)));
	snprintf(key, sizeof(key), "%u:", site);
	for (p = caps; *p; p++)
		if ((p == caps || p[-1] == ',') && !strncmp(p, key, strlen(key)))
			return (unsigned)atoi(p + strlen(key));
	return 0;
}

/* ---- schema and hooks ---- */

START_TEST(schema_matches_contract)
{
	const struct hak_policy *p = evo();
	static const char *const names[] = { "mutation", "min_samples", "settle" };
	static const enum hak_param_type types[] = {
		HAK_PARAM_FLOAT, HAK_PARAM_INT, HAK_PARAM_INT,
	};
	static const double def[] = { 0.25, 64, 3 }, min[] = { 0, 1, 1 },
			    max[] = { 1, 1000000, 100 };
	struct hak_param_value v;
	unsigned n = 0;

	ck_assert_str_eq(p->name, "evo");
	ck_assert_ptr_nonnull(p->summary);
	ck_assert_uint_gt(p->state_size, 0);
	ck_assert_ptr_nonnull(p->ops->route);
	ck_assert_ptr_nonnull(p->ops->admit);
	ck_assert_ptr_nonnull(p->ops->classes);
	ck_assert_ptr_nonnull(p->ops->on_event);
	ck_assert_ptr_nonnull(p->ops->tick);
	ck_assert_ptr_nonnull(p->ops->report);
	for (; p->params[n].name; n++) {
		ck_assert_uint_lt(n, 3);
		ck_assert_str_eq(p->params[n].name, names[n]);
		ck_assert_int_eq(p->params[n].type, types[n]);
		ck_assert_ptr_nonnull(p->params[n].help);
		ck_assert_int_eq(h_parse(types[n], p->params[n].def, &v), 0);
		ck_assert_double_eq_tol(types[n] == HAK_PARAM_FLOAT ? v.f : (double)v.i,
					def[n], 1e-12);
		ck_assert_double_eq(p->params[n].min, min[n]);
		ck_assert_double_eq(p->params[n].max, max[n]);
	}
	ck_assert_uint_eq(n, 3);
}
END_TEST

START_TEST(spans_then_always_the_cache)
{
	struct harness *h = h_create(evo(), 1);
	unsigned s;

	ck_assert_int_eq(h_start(h), 0);
	s = h_site(h);
	ck_assert_int_eq(h_route(h, 40 * KiB, s), HAK_ROUTE_SPAN);
	ck_assert_int_eq(h_route(h, 1 * MiB, s), HAK_ROUTE_SPAN);
	ck_assert_int_eq(h_route(h, 1 * MiB + 1, s), HAK_ROUTE_CACHE);
	ck_assert_int_eq(h_route(h, 64 * MiB, s), HAK_ROUTE_CACHE);
	ck_assert_int_eq(h_route(h, (size_t)1 << 40, s), HAK_ROUTE_CACHE);
	/* Before any fit: no capacity limit, no class change. */
	ck_assert(h_admit(h, 4 * MiB, s));
	ck_assert_uint_eq(h->nmeta, 1);	/* the per-site histograms */
	h_destroy(h);
}
END_TEST

/* A site below min_samples changes nothing. */
START_TEST(no_fit_before_min_samples)
{
	struct harness *h = h_create(evo(), 1);
	unsigned s;

	h_set_int(h, "min_samples", 1000);
	ck_assert_int_eq(h_start(h), 0);
	s = h_site(h);
	for (int i = 0; i < 900; i++)
		h_free(h, h_alloc(h, s, 3 * MiB));
	ck_assert_uint_gt(h->epoch, 20);
	ck_assert_uint_eq(h->class_changes, 0);
	ck_assert_uint_eq(h->classes[0], 1 * MiB);
	for (int i = 0; i < 200; i++)
		h_free(h, h_alloc(h, s, 3 * MiB));
	ck_assert_uint_gt(h->class_changes, 0);
	ck_assert_uint_eq(h_class_of(h, 3 * MiB), 3 * MiB);
	h_destroy(h);
}
END_TEST

/* ---- convergence ---- */

static void assert_tight(struct harness *h, size_t lo, size_t hi)
{
	size_t c = h_class_of(h, hi);

	ck_assert_msg(c >= hi && c * 10 <= hi * 11, "class for %zu: %zu (%s)", hi, c, h_report(h));
	ck_assert_msg(h_class_of(h, lo) == c, "%zu and %zu in different classes", lo, hi);
}

START_TEST(classes_converge_to_clusters_then_stop)
{
	struct run r;
	uint64_t changes, gen;
	double v;

	run_start(&r, 2024, 0.25);
	run_generations(&r, 100);
	ck_assert_msg(settled(r.h), "not settled: %s", h_report(r.h));
	assert_tight(r.h, size_a(7), size_a(0));
	assert_tight(r.h, size_b(7), size_b(0));
	ck_assert_uint_ne(h_class_of(r.h, 3 * MiB), h_class_of(r.h, 6 * MiB));
	/* 20 samples at 12 MiB are not enough for a class of their own. */
	ck_assert_uint_eq(h_class_of(r.h, 12 * MiB), 0);
	ck_assert_uint_eq(r.c_allocs, 20);

	/* Settled: classes() says "no change" for many more generations. */
	changes = r.h->class_changes;
	gen = r.h->epoch;
	run_generations(&r, 200);
	ck_assert_uint_eq(r.h->class_changes, changes);
	ck_assert_uint_le(r.h->last_class_change, gen);
	ck_assert(settled(r.h));
	ck_assert(h_report_num(r.h, "generation", &v));
	ck_assert_double_eq(v, (double)r.h->epoch);
	assert_tight(r.h, size_a(7), size_a(0));
	assert_tight(r.h, size_b(7), size_b(0));
	/* Reuse works: nearly every A and B request is a hit. */
	ck_assert_uint_gt(r.h->hits * 10, r.h->allocs * 8);
	h_destroy(r.h);
}
END_TEST

START_TEST(mutation_zero_settles_on_the_fit)
{
	struct run r;
	double v;

	run_start(&r, 1, 0);
	run_generations(&r, 60);
	ck_assert(settled(r.h));
	ck_assert(h_report_num(r.h, "improvements", &v));
	ck_assert_double_eq(v, 0);
	ck_assert_uint_eq(r.h->nclasses, 2);
	ck_assert_uint_eq(r.h->classes[0], 3 * MiB);
	ck_assert_uint_eq(r.h->classes[1], 6 * MiB);
	h_destroy(r.h);
}
END_TEST

/* A new dominant size wakes evo up; it fits it and settles again. */
START_TEST(new_cluster_refits_and_settles_again)
{
	struct run r;
	double refits0, refits1;
	uint64_t changes;

	run_start(&r, 77, 0.25);
	run_generations(&r, 100);
	ck_assert(settled(r.h));
	ck_assert(h_report_num(r.h, "refits", &refits0));
	ck_assert_uint_eq(h_class_of(r.h, 10 * MiB), 0);

	r.with_d = true;
	run_generations(&r, 150);
	ck_assert(h_report_num(r.h, "refits", &refits1));
	ck_assert_double_gt(refits1, refits0);
	ck_assert_msg(settled(r.h), "not settled: %s", h_report(r.h));
	assert_tight(r.h, 10 * MiB - 64 * KiB, 10 * MiB);
	assert_tight(r.h, size_a(7), size_a(0));
	assert_tight(r.h, size_b(7), size_b(0));
	changes = r.h->class_changes;
	run_generations(&r, 100);
	ck_assert_uint_eq(r.h->class_changes, changes);
	h_destroy(r.h);
}
END_TEST

/* classes() fills at most @max and reports each change once. */
START_TEST(classes_respect_max_and_report_once)
{
	struct run r;
	const struct hak_policy *p = evo();
	size_t out[HAK_PARAM_LIST_MAX];

	run_start(&r, 8, 0);
	r.h->env.epoch_events = 1u << 30;	/* tick and classes by hand */
	for (int i = 0; i < 100; i++)
		run_round(&r);
	ck_assert_uint_eq(r.h->epoch, 0);
	p->ops->tick(r.h->state, 1);
	ck_assert_uint_eq(p->ops->classes(r.h->state, out, 1), 1);
	ck_assert_uint_eq(out[0], 3 * MiB);
	ck_assert_uint_eq(p->ops->classes(r.h->state, out, 1), 0);
	ck_assert_uint_eq(p->ops->classes(r.h->state, out, HAK_PARAM_LIST_MAX), 2);
	ck_assert_uint_eq(out[0], 3 * MiB);
	ck_assert_uint_eq(out[1], 6 * MiB);
	ck_assert_uint_eq(p->ops->classes(r.h->state, out, HAK_PARAM_LIST_MAX), 0);
	h_destroy(r.h);
}
END_TEST

/* ---- capacities ---- */

START_TEST(admit_keeps_a_site_within_its_capacity)
{
	struct run r;
	unsigned cap_a, cap_b, admitted;
	uint64_t refused;
	int blk[10];

	run_start(&r, 31, 0.25);
	run_generations(&r, 100);
	ck_assert(settled(r.h));
	/* Capacity: the most blocks a site had out at once. */
	cap_a = cap_of(r.h, r.a);
	cap_b = cap_of(r.h, r.b);
	ck_assert_msg(cap_a >= 2 && cap_a <= 4, "cap A %u: %s", cap_a, h_report(r.h));
	ck_assert_msg(cap_b >= 1 && cap_b <= 3, "cap B %u: %s", cap_b, h_report(r.h));
	ck_assert_uint_eq(cap_of(r.h, r.c), 0);	/* not fitted: no limit */

	/* A burst of 10 from A: its cached blocks come back, then 10 frees. */
	for (int i = 0; i < 10; i++)
		blk[i] = h_alloc(r.h, r.a, 3 * MiB);
	ck_assert(h_admit(r.h, 3 * MiB, r.a));		/* nothing of A cached now */
	refused = r.h->refused;
	admitted = 0;
	for (int i = 0; i < 10; i++) {
		uint64_t before = r.h->refused;

		h_free(r.h, blk[i]);
		admitted += r.h->refused == before;
	}
	ck_assert_uint_eq(admitted, cap_a);
	ck_assert_uint_eq(r.h->refused - refused, 10 - cap_a);
	ck_assert(!h_admit(r.h, 3 * MiB, r.a));
	ck_assert(h_admit(r.h, 12 * MiB, r.c));
	/* A hit makes room for one more. */
	blk[0] = h_alloc(r.h, r.a, 3 * MiB);
	ck_assert(h_admit(r.h, 3 * MiB, r.a));
	h_free(r.h, blk[0]);
	ck_assert(!h_admit(r.h, 3 * MiB, r.a));
	/* A purge of everything: nothing of A is cached any more. */
	h_event(r.h, (struct hak_event){ .type = HAK_EV_PURGE, .size = (size_t)1 << 40 });
	ck_assert(h_admit(r.h, 3 * MiB, r.a));
	h_destroy(r.h);
}
END_TEST

/* Counts the core cannot report (evictions) do not lock a site out. */
START_TEST(stale_counts_are_forgotten)
{
	struct run r;
	int blk[10];

	run_start(&r, 5, 0);
	run_generations(&r, 60);
	ck_assert(settled(r.h));
	for (int i = 0; i < 10; i++)
		blk[i] = h_alloc(r.h, r.a, 3 * MiB);
	for (int i = 0; i < 10; i++)
		h_free(r.h, blk[i]);
	ck_assert(!h_admit(r.h, 3 * MiB, r.a));
	/* The fake core drops A's blocks without telling; A never hits again. */
	for (unsigned i = r.h->ncached; i-- > 0;)
		if (r.h->cache[i].site == r.a) {
			r.h->cached_bytes -= r.h->cache[i].size;
			memmove(&r.h->cache[i], &r.h->cache[i + 1],
				(r.h->ncached - i - 1) * sizeof(r.h->cache[0]));
			r.h->ncached--;
		}
	for (unsigned g = 0; g < 8; g++)
		for (int i = 0; i < 64; i++)
			h_free(r.h, h_alloc(r.h, r.b, 6 * MiB));
	ck_assert(h_admit(r.h, 3 * MiB, r.a));
	h_destroy(r.h);
}
END_TEST

/* ---- reproducibility and report ---- */

static void history(uint64_t seed, size_t *out, unsigned gens)
{
	struct run r;

	run_start(&r, seed, 0.25);
	for (unsigned g = 0; g < gens; g++) {
		run_generations(&r, 1);
		out[g * 2] = r.h->classes[0];
		out[g * 2 + 1] = r.h->nclasses > 1 ? r.h->classes[1] : 0;
	}
	h_destroy(r.h);
}

START_TEST(deterministic_given_seed)
{
	enum { G = 40 };
	size_t a[2 * G], b[2 * G], c[2 * G];

	history(1234, a, G);
	history(1234, b, G);
	history(4321, c, G);
	ck_assert_mem_eq(a, b, sizeof(a));
	ck_assert_int_ne(memcmp(a, c, sizeof(a)), 0);
}
END_TEST

START_TEST(report_names_state_and_fits_any_buffer)
{
	struct run r;
	char word[128], small[20];
	const struct hak_policy *p = evo();
	double v;
	int n;

	run_start(&r, 3, 0);
	run_generations(&r, 60);
	ck_assert(h_report_num(r.h, "generation", &v));
	ck_assert(h_report_num(r.h, "settled", &v));
	ck_assert(h_report_num(r.h, "best_cost_ns", &v));
	ck_assert_double_gt(v, 0);
	ck_assert(h_report_word(r.h, "classes", word, sizeof(word)));
	ck_assert_str_eq(word, "3MiB,6MiB");
	memset(small, 'x', sizeof(small));
	n = p->ops->report(r.h->state, small, sizeof(small));
	ck_assert_int_eq(n, (int)strlen(small));
	ck_assert_int_lt(n, (int)sizeof(small));
	ck_assert_int_eq(p->ops->report(r.h->state, small, 1), 0);
	ck_assert_str_eq(small, "");
	h_destroy(r.h);
}
END_TEST

static Suite *evo_suite(void)
{
	Suite *s = suite_create("policy-evo");
	TCase *tc = tcase_create("evo");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, schema_matches_contract);
	tcase_add_test(tc, spans_then_always_the_cache);
	tcase_add_test(tc, no_fit_before_min_samples);
	tcase_add_test(tc, classes_converge_to_clusters_then_stop);
	tcase_add_test(tc, mutation_zero_settles_on_the_fit);
	tcase_add_test(tc, new_cluster_refits_and_settles_again);
	tcase_add_test(tc, classes_respect_max_and_report_once);
	tcase_add_test(tc, admit_keeps_a_site_within_its_capacity);
	tcase_add_test(tc, stale_counts_are_forgotten);
	tcase_add_test(tc, deterministic_given_seed);
	tcase_add_test(tc, report_names_state_and_fits_any_buffer);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (!IS_ENABLED(CONFIG_HAKMEM_POLICY_EVO)) {
		printf("evo is not compiled in (CONFIG_HAKMEM_POLICY_EVO): nothing to test\n");
		return 0;
	}
	sr = srunner_create(evo_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
