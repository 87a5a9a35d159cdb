// SPDX-License-Identifier: MIT
/*
 * test/policy/test_fixed.c - the fixed policy alone, the policy registry,
 * and the conformance checks every compiled-in policy passes against the
 * fake core of harness.h: a schema whose defaults parse and lie in range,
 * init with the defaults, routes in range (spans up to span_max), classes
 * increasing, and a report that fits its buffer.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "harness.c"

/* Weak: a policy configured out leaves its descriptor NULL. */
extern const struct hak_policy hak_policy_fixed __attribute__((weak));
extern const struct hak_policy hak_policy_elo __attribute__((weak));
extern const struct hak_policy hak_policy_evo __attribute__((weak));

/* ---- registry ---- */

START_TEST(registry_finds_compiled_in_policies)
{
	static const struct {
		const char *name;
		const struct hak_policy *desc;
		bool enabled;
	} all[] = {
		{ "fixed", &hak_policy_fixed, IS_ENABLED(CONFIG_HAKMEM_POLICY_FIXED) },
		{ "elo", &hak_policy_elo, IS_ENABLED(CONFIG_HAKMEM_POLICY_ELO) },
		{ "evo", &hak_policy_evo, IS_ENABLED(CONFIG_HAKMEM_POLICY_EVO) },
	};
	unsigned listed = 0;

	for (unsigned i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		const struct hak_policy *p = hak_policy_find(all[i].name);

		if (!all[i].enabled) {
			ck_assert_ptr_null(p);
			continue;
		}
		ck_assert_msg(p, "%s is configured in but not registered", all[i].name);
		ck_assert_ptr_eq(p, all[i].desc);
		ck_assert_str_eq(p->name, all[i].name);
		ck_assert_int_ge(hak_policy_index(p), 0);
		ck_assert_ptr_eq(hak_policies[hak_policy_index(p)], p);
		listed++;
	}
	for (unsigned i = 0; hak_policies[i]; i++)
		ck_assert_uint_lt(i, listed);
	ck_assert_ptr_null(hak_policies[listed]);
	ck_assert_ptr_null(hak_policy_find("nope"));
	ck_assert_ptr_null(hak_policy_find(""));
	ck_assert_ptr_null(hak_policy_find("ELO"));
	ck_assert_ptr_null(hak_policy_find("fixed "));
}
END_TEST

/* ---- conformance: every compiled-in policy ---- */

START_TEST(schema_defaults_parse_and_lie_in_range)
{
	for (unsigned i = 0; hak_policies[i]; i++) {
		const struct hak_policy *p = hak_policies[i];
		unsigned n = 0;

		ck_assert_ptr_nonnull(p->name);
		ck_assert_ptr_nonnull(p->summary);
		ck_assert_ptr_nonnull(p->ops);
		ck_assert_ptr_nonnull(p->params);
		for (const struct hak_param *q = p->params; q->name; q++, n++) {
			struct hak_param_value v;

			ck_assert_uint_lt(n, HAK_MAX_POLICY_PARAMS);
			ck_assert_ptr_nonnull(q->help);
			ck_assert_msg(!h_parse(q->type, q->def, &v), "%s.%s: default '%s'",
				      p->name, q->name, q->def);
			ck_assert_double_le(q->min, q->max);
			switch (q->type) {
			case HAK_PARAM_INT:
				ck_assert_double_ge((double)v.i, q->min);
				ck_assert_double_le((double)v.i, q->max);
				break;
			case HAK_PARAM_FLOAT:
				ck_assert_double_ge(v.f, q->min);
				ck_assert_double_le(v.f, q->max);
				break;
			case HAK_PARAM_SIZE:
				ck_assert_double_ge((double)v.size, q->min);
				ck_assert_double_le((double)v.size, q->max);
				break;
			case HAK_PARAM_SIZE_LIST:
				for (unsigned k = 0; k < v.nlist; k++) {
					ck_assert_double_ge((double)v.list[k], q->min);
					ck_assert_double_le((double)v.list[k], q->max);
					/* The option table wants lists increasing. */
					ck_assert(!k || v.list[k] > v.list[k - 1]);
				}
				break;
			case HAK_PARAM_BOOL:
				break;
			}
			for (const struct hak_param *o = p->params; o < q; o++)
				ck_assert_str_ne(o->name, q->name);
		}
	}
}
END_TEST

/* A mixed workload through each policy: the harness checks the contract. */
START_TEST(every_policy_serves_a_mixed_workload)
{
	static const size_t sizes[] = {
		40 * KiB, 200 * KiB, 1 * MiB, 1 * MiB + 1, 1536 * KiB, 3 * MiB, 5 * MiB,
		7 * MiB, 12 * MiB, 33 * MiB,
	};

	for (unsigned i = 0; hak_policies[i]; i++) {
		struct harness *h = h_create(hak_policies[i], 99);
		int live[16] = { 0 };
		unsigned nlive = 0, site[3];
		uint64_t x = 88172645463325252ULL;

		ck_assert_int_eq(h_start(h), 0);
		for (unsigned s = 0; s < 3; s++)
			site[s] = h_site(h);
		for (unsigned step = 0; step < 20000; step++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			if (nlive == 16 || (nlive && (x & 1))) {
				unsigned k = (unsigned)(x >> 8) % nlive;

				h_free(h, live[k]);
				live[k] = live[--nlive];
			} else {
				size_t sz = sizes[(x >> 8) % (sizeof(sizes) / sizeof(sizes[0]))];

				live[nlive++] = h_alloc(h, site[(x >> 40) % 3], sz);
			}
		}
		ck_assert_uint_gt(h->epoch, 100);
		for (unsigned k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++)
			if (sizes[k] <= h->env.span_max)
				ck_assert_int_eq(h_route(h, sizes[k], site[0]), HAK_ROUTE_SPAN);
		h_report(h);
		h_destroy(h);
	}
}
END_TEST

/* ---- fixed ---- */

static const struct hak_policy *fixed(void)
{
	const struct hak_policy *p = hak_policy_find("fixed");

	ck_assert_ptr_nonnull(p);
	return p;
}

START_TEST(fixed_schema)
{
	const struct hak_policy *p = fixed();
	struct hak_param_value v;

	ck_assert_str_eq(p->params[0].name, "threshold");
	ck_assert_int_eq(p->params[0].type, HAK_PARAM_SIZE);
	ck_assert_int_eq(h_parse(HAK_PARAM_SIZE, p->params[0].def, &v), 0);
	ck_assert_uint_eq(v.size, 4 * MiB);
	ck_assert_double_eq(p->params[0].min, 0);
	ck_assert_double_eq(p->params[0].max, 1099511627776.0);
	ck_assert_ptr_null(p->params[1].name);
}
END_TEST

static void check_threshold(size_t threshold, size_t span_max)
{
	struct harness *h = h_create(fixed(), 1);
	unsigned s;

	h->env.span_max = span_max;
	h_set_size(h, "threshold", threshold);
	ck_assert_int_eq(h_start(h), 0);
	s = h_site(h);
	ck_assert_int_eq(h_route(h, 33 * KiB, s), span_max >= 33 * KiB ? HAK_ROUTE_SPAN :
						   33 * KiB < threshold ? HAK_ROUTE_CACHE : HAK_ROUTE_MAP);
	if (span_max) {
		ck_assert_int_eq(h_route(h, span_max, s), HAK_ROUTE_SPAN);
		ck_assert_int_eq(h_route(h, span_max / 2, s), HAK_ROUTE_SPAN);
	}
	if (threshold > span_max + 1) {
		ck_assert_int_eq(h_route(h, span_max + 1, s), HAK_ROUTE_CACHE);
		ck_assert_int_eq(h_route(h, threshold - 1, s), HAK_ROUTE_CACHE);
		ck_assert(h_admit(h, span_max + 4096, s));
		ck_assert(h_admit(h, threshold - 1, s));
	}
	if (threshold > span_max) {
		ck_assert_int_eq(h_route(h, threshold, s), HAK_ROUTE_MAP);
		ck_assert_int_eq(h_route(h, threshold + 1, s), HAK_ROUTE_MAP);
	}
	ck_assert_int_eq(h_route(h, (size_t)1 << 40, s), HAK_ROUTE_MAP);
	h_destroy(h);
}

START_TEST(fixed_routes_by_threshold)
{
	check_threshold(4 * MiB, 1 * MiB);	/* the defaults */
	check_threshold(2 * MiB, 1 * MiB);
	check_threshold(64 * MiB, 256 * KiB);
	check_threshold(1 * MiB, 1 * MiB);	/* nothing between: no cache route */
	check_threshold(3 * MiB, 0);		/* no spans */
}
END_TEST

/* On the workload, only blocks under the threshold are ever cached. */
START_TEST(fixed_caches_below_threshold_only)
{
	struct harness *h = h_create(fixed(), 1);
	unsigned s;

	h_set_size(h, "threshold", 4 * MiB);
	ck_assert_int_eq(h_start(h), 0);
	s = h_site(h);
	for (int i = 0; i < 100; i++) {
		h_free(h, h_alloc(h, s, 3 * MiB));	/* 4 MiB class, cached */
		h_free(h, h_alloc(h, s, 6 * MiB));	/* mapped */
		h_free(h, h_alloc(h, s, 512 * KiB));	/* span */
	}
	ck_assert_uint_eq(h->spans, 100);
	ck_assert_uint_eq(h->maps, 100);
	ck_assert_uint_eq(h->misses, 1);
	ck_assert_uint_eq(h->hits, 99);
	ck_assert_uint_eq(h->refused, 0);
	ck_assert_uint_eq(h->class_changes, 0);
	ck_assert(strstr(h_report(h), "threshold="));
	h_destroy(h);
}
END_TEST

static Suite *fixed_suite(void)
{
	Suite *s = suite_create("policy-fixed");
	TCase *reg = tcase_create("registry");

	tcase_add_test(reg, registry_finds_compiled_in_policies);
	tcase_add_test(reg, schema_defaults_parse_and_lie_in_range);
	tcase_add_test(reg, every_policy_serves_a_mixed_workload);
	suite_add_tcase(s, reg);
	if (IS_ENABLED(CONFIG_HAKMEM_POLICY_FIXED)) {
		TCase *tc = tcase_create("fixed");

		tcase_add_test(tc, fixed_schema);
		tcase_add_test(tc, fixed_routes_by_threshold);
		tcase_add_test(tc, fixed_caches_below_threshold_only);
		suite_add_tcase(s, tc);
	}
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(fixed_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
