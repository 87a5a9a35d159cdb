// SPDX-License-Identifier: MIT
/*
 * test/policy/test_conformance.c - what every compiled-in policy passes
 * on the real policy host (harness.c), each test a loop over the registry:
 * schema defaults that parse and lie in range, init with them, a long
 * mixed run with sane decisions, and the same decisions again for the
 * same seed.  Also the registry itself.  What
 * one policy decides is its own test program's (test_fixed.c, ...).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "harness.c"

/* Weak: a policy configured out leaves its descriptor's address NULL. */
extern const struct hak_policy hak_policy_fixed __attribute__((weak));
extern const struct hak_policy hak_policy_elo __attribute__((weak));
extern const struct hak_policy hak_policy_evo __attribute__((weak));

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
		ck_assert_ptr_eq(hak_policy_at(hak_policy_index(p)), p);
		listed++;
	}
	for (unsigned i = 0; hak_policy_at(i); i++)
		ck_assert_uint_lt(i, listed);
	ck_assert_ptr_null(hak_policy_at(listed));
	ck_assert_ptr_null(hak_policy_find("nope"));
	ck_assert_ptr_null(hak_policy_find(""));
	ck_assert_ptr_null(hak_policy_find("ELO"));
	ck_assert_ptr_null(hak_policy_find("fixed "));
	ck_assert_int_lt(hak_policy_index(NULL), 0);
}
END_TEST

START_TEST(schema_defaults_parse_and_lie_in_range)
{
	const struct hak_policy *p = hak_policy_at(_i);
	struct harness *h = h_create(p, 1);	/* each default through the option table */
	unsigned n = 0;

	ck_assert_ptr_nonnull(p->name);
	ck_assert_ptr_nonnull(p->ops);
	ck_assert_ptr_nonnull(p->params);
	for (const struct hak_param *q = p->params; q->name; q++, n++) {
		const struct hak_param_value v = *h_param(h, q->name);

		ck_assert_uint_lt(n, HAK_MAX_POLICY_PARAMS);
		ck_assert_ptr_nonnull(q->help);
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
		case HAK_PARAM_INT_LIST:
			ck_assert_uint_ge(v.nlist, 1);
			for (unsigned k = 0; k < v.nlist; k++) {
				ck_assert_double_ge((double)v.list[k], q->min);
				ck_assert_double_le((double)v.list[k], q->max);
				/* The option table wants lists increasing. */
				ck_assert(!k || v.list[k] > v.list[k - 1]);
			}
			break;
		case HAK_PARAM_BOOL:
			break;
		default:
			ck_abort_msg("%s.%s: type %d", p->name, q->name, q->type);
		}
		for (const struct hak_param *o = p->params; o < q; o++)
			ck_assert_str_ne(o->name, q->name);
	}
	h_destroy(h);
}
END_TEST

/* xorshift64: the mixed run's own dice, fixed so that a failure replays. */
static uint64_t dice(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/*
 * Events from 6 sites (two asking one size, the rest wandering) mixed
 * with windows of every shape (nothing, all reused, all unused, old ages,
 * huge byte counts) and clock steps from 0 to 5 s.  The harness checks
 * every decision and the report; here, what holds for every policy.
 */
static uint64_t mixed_run(const struct hak_policy *pol, uint64_t seed,
			  uint64_t purge_ms, uint64_t break_even_ms, char *report, size_t len)
{
	static const size_t sizes[] = {
		40 * KiB, 200 * KiB, MiB, MiB + 1, 1536 * KiB, 3 * MiB, 5 * MiB, 7 * MiB,
		12 * MiB, 33 * MiB, 300 * MiB, 2 * GiB,
	};
	struct harness *h = h_create(pol, seed);
	unsigned site[6];
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1, digest = 0;

	h->env.purge_delay_ms = purge_ms;
	h->env.break_even_ms = break_even_ms;
	h->env.max_dirty = 256 * MiB;
	ck_assert_int_eq(h_start(h), 0);
	for (unsigned s = 0; s < 6; s++)
		site[s] = h_site(h);
	for (unsigned step = 0; step < 40000; step++) {
		uint64_t r = dice(&x);
		unsigned s = (unsigned)(r >> 60) % 6;
		size_t size = s < 2 ? sizes[5 + s] : sizes[(r >> 8) % 12];

		if (r & 1)
			h_alloc(h, site[s], size);
		else
			h_free(h, site[s], size, (r >> 20) % 5000);
		if ((r >> 40) % 16 == 0) {
			switch ((r >> 36) % 5) {
			case 0:
				break;	/* nothing happened */
			case 1:
				h_reuse(h, (r >> 12) % (256 * MiB), (r >> 28) % 200000);
				break;
			case 2:
				h_unused(h, (r >> 12) % (256 * MiB));
				break;
			case 3:
				h_reuse(h, (r >> 12) % (64 * MiB), (r >> 28) % 50);
				h_reuse(h, (r >> 14) % (64 * MiB), (r >> 30) % 5000);
				h_unused(h, (r >> 16) % (64 * MiB));
				break;
			default:
				h_reuse(h, (uint64_t)1 << 50, (r >> 28) % 100);
				h_unused(h, (uint64_t)1 << 50);
				break;
			}
			h_decide(h, (r >> 44) % 8 == 0 ? 0 : (r >> 44) % 5000);
			digest = mix64(digest ^ h->p.raw.decay_ms ^ h->p.raw.keep_bytes << 8 ^
				       h->p.raw.map_min << 16 ^ h->p.raw.cache_max << 24);
		}
		if (step % 1000 == 0)
			h_report(h);
	}
	ck_assert_uint_gt(h->p.epoch, 500);
	ck_assert_uint_gt(h->p.decides, 2500);
	snprintf(report, len, "%s", h_report(h));
	h_destroy(h);
	return digest;
}

START_TEST(survives_a_long_mixed_run)
{
	char report[4096];

	mixed_run(hak_policy_at(_i), 1, 100, 100, report, sizeof(report));
	mixed_run(hak_policy_at(_i), 2, 0, 1, report, sizeof(report));
	mixed_run(hak_policy_at(_i), 3, 60000, 3600000, report, sizeof(report));
}
END_TEST

/* The same inputs and seed, the same decisions and report. */
START_TEST(deterministic_given_the_seed)
{
	static char a[4096], b[4096];

	ck_assert_uint_eq(mixed_run(hak_policy_at(_i), 5, 100, 100, a, sizeof(a)),
			  mixed_run(hak_policy_at(_i), 5, 100, 100, b, sizeof(b)));
	ck_assert_str_eq(a, b);
}
END_TEST

/* init with the defaults, and the first decide() right after it. */
START_TEST(starts_with_its_defaults)
{
	struct harness *h = h_create(hak_policy_at(_i), 7);

	ck_assert_int_eq(h_start(h), 0);
	ck_assert_uint_eq(h->p.decides, 1);
	ck_assert_uint_eq(h->p.raw.keep_bytes, h->env.max_dirty);
	h_report(h);
	h_destroy(h);
}
END_TEST

static Suite *conformance_suite(void)
{
	const TTest *each[] = {
		schema_defaults_parse_and_lie_in_range, starts_with_its_defaults,
		survives_a_long_mixed_run, deterministic_given_the_seed,
	};
	Suite *s = suite_create("policy-conformance");
	TCase *tc = add_tcase(s, "every policy", 120);
	unsigned n = 0;

	while (hak_policy_at(n))
		n++;
	for (size_t i = 0; i < sizeof(each) / sizeof(each[0]); i++)
		tcase_add_loop_test(tc, each[i], 0, (int)n);
	add_tcase(s, "registry", 60, registry_finds_compiled_in_policies);
	return s;
}

TEST_MAIN(conformance_suite)
