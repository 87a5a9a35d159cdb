// SPDX-License-Identifier: MIT
/*
 * test/policy/test_fixed.c - what every build has: the policy registry,
 * the decay model of the SDK (hak_reuse_add, hak_decay_cost) on inputs
 * worked out by hand, the checks every compiled-in policy passes against
 * the fake core of harness.h (schema defaults that parse and lie in
 * range, a long mixed run with sane decisions), and the fixed policy.
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

/* ---- the decay model ---- */

/* 1000 bytes freed and @reused of them taken again at ages of bucket @b. */
static struct hak_reuse one_bucket(unsigned b, double reused, double freed)
{
	struct hak_reuse r = { .freed = freed };

	r.reused[b] = reused;
	return r;
}

START_TEST(model_age_buckets)
{
	ck_assert_uint_eq(hak_age_bucket_ms(0), 0);
	ck_assert_uint_eq(hak_age_bucket_ms(1), 1);
	ck_assert_uint_eq(hak_age_bucket_ms(2), 2);
	ck_assert_uint_eq(hak_age_bucket_ms(5), 16);
	ck_assert_uint_eq(hak_age_bucket_ms(HAK_AGE_BUCKETS - 1), 65536);
	/* The harness files ages the same way. */
	ck_assert_uint_eq(h_age_bucket(0), 0);
	ck_assert_uint_eq(h_age_bucket(1), 1);
	ck_assert_uint_eq(h_age_bucket(3), 2);
	ck_assert_uint_eq(h_age_bucket(16), 5);
	ck_assert_uint_eq(h_age_bucket(31), 5);
	ck_assert_uint_eq(h_age_bucket(32), 6);
	ck_assert_uint_eq(h_age_bucket(1000000), HAK_AGE_BUCKETS - 1);
}
END_TEST

/*
 * Bucket 5 holds ages 16 to 32 ms.  All 1000 bytes taken again there,
 * break-even 50 ms:
 *   d = 100: every byte hit, kept 24 ms on average: 24000;
 *   d = 10:  every byte missed: kept 10, faulted (50): 60000;
 *   d = 24:  half hit (kept (16 + 24) / 2 = 20), half missed (24 + 50):
 *            1000 * (0.5 * 20 + 0.5 * 74) = 47000.
 */
START_TEST(model_one_bucket_hit_missed_cut)
{
	struct hak_reuse r = one_bucket(5, 1000, 1000);

	ck_assert_double_eq_tol(hak_decay_cost(&r, 100, 50), 24000, 1e-6);
	ck_assert_double_eq_tol(hak_decay_cost(&r, 32, 50), 24000, 1e-6);
	ck_assert_double_eq_tol(hak_decay_cost(&r, 10, 50), 60000, 1e-6);
	ck_assert_double_eq_tol(hak_decay_cost(&r, 16, 50), 66000, 1e-6);
	ck_assert_double_eq_tol(hak_decay_cost(&r, 24, 50), 47000, 1e-6);
	ck_assert_double_eq_tol(hak_decay_cost(&r, 0, 50), 50000, 1e-6);
	/* The same in bucket 0 ([0, 1) ms): only d = 0 misses. */
	r = one_bucket(0, 1000, 1000);
	ck_assert_double_eq_tol(hak_decay_cost(&r, 0, 50), 50000, 1e-6);
	ck_assert_double_eq_tol(hak_decay_cost(&r, 1, 50), 500, 1e-6);
	/* The last bucket's top is twice its bottom: 65536 to 131072 ms, d cuts it at 3/4. */
	r = one_bucket(HAK_AGE_BUCKETS - 1, 1000, 1000);
	ck_assert_double_eq_tol(hak_decay_cost(&r, 114688, 0),
				1000 * (0.75 * (65536 + 114688) / 2.0 + 0.25 * 114688), 1e-3);
}
END_TEST

/* Bytes not taken again cost (freed - reused) * d, nothing else. */
START_TEST(model_unused_bytes_cost_the_delay)
{
	struct hak_reuse r = one_bucket(5, 1000, 3000);
	struct hak_reuse none = { .freed = 4096 };

	ck_assert_double_eq_tol(hak_decay_cost(&r, 100, 50), 24000 + 2000 * 100, 1e-6);
	ck_assert_double_eq_tol(hak_decay_cost(&r, 10, 50), 60000 + 2000 * 10, 1e-6);
	ck_assert_double_eq_tol(hak_decay_cost(&r, 0, 50), 50000, 1e-6);
	ck_assert_double_eq_tol(hak_decay_cost(&none, 0, 50), 0, 1e-9);
	ck_assert_double_eq_tol(hak_decay_cost(&none, 250, 50), 4096.0 * 250, 1e-6);
	/* Reuse of memory freed in an earlier window: no negative unused part. */
	r = one_bucket(5, 1000, 0);
	ck_assert_double_eq_tol(hak_decay_cost(&r, 100, 50), 24000, 1e-6);
	/* Two buckets add up. */
	r = one_bucket(5, 1000, 3000);
	r.reused[2] = 500;	/* ages 2 to 4 ms, fully hit at d >= 4: kept 3 */
	ck_assert_double_eq_tol(hak_decay_cost(&r, 100, 50), 24000 + 500 * 3 + 1500 * 100, 1e-6);
}
END_TEST

START_TEST(model_reuse_add_fades)
{
	struct hak_heap_info info = { .freed = 1000 };
	struct hak_reuse r = { 0 };

	info.hit[3] = 300;
	info.miss[3] = 100;	/* hit or miss, it was taken again */
	info.hit[6] = 200;
	hak_reuse_add(&r, &info, 0.5);
	ck_assert_double_eq_tol(r.reused[3], 400, 1e-9);
	ck_assert_double_eq_tol(r.reused[6], 200, 1e-9);
	ck_assert_double_eq_tol(r.freed, 1000, 1e-9);
	hak_reuse_add(&r, &info, 0.5);
	ck_assert_double_eq_tol(r.reused[3], 600, 1e-9);
	ck_assert_double_eq_tol(r.reused[6], 300, 1e-9);
	ck_assert_double_eq_tol(r.freed, 1500, 1e-9);
	hak_reuse_add(&r, &info, 1);
	ck_assert_double_eq_tol(r.freed, 2500, 1e-9);
	hak_reuse_add(&r, &info, 0);
	ck_assert_double_eq_tol(r.reused[3], 400, 1e-9);
	ck_assert_double_eq_tol(r.freed, 1000, 1e-9);
	/* An empty window only fades. */
	memset(&info, 0, sizeof(info));
	hak_reuse_add(&r, &info, 0.25);
	ck_assert_double_eq_tol(r.reused[3], 100, 1e-9);
	ck_assert_double_eq_tol(r.reused[6], 50, 1e-9);
	ck_assert_double_eq_tol(r.freed, 250, 1e-9);
	for (unsigned b = 0; b < HAK_AGE_BUCKETS; b++)
		if (b != 3 && b != 6)
			ck_assert_double_eq(r.reused[b], 0);
}
END_TEST

/* ---- conformance: every compiled-in policy ---- */

START_TEST(schema_defaults_parse_and_lie_in_range)
{
	for (unsigned i = 0; hak_policy_at(i); i++) {
		const struct hak_policy *p = hak_policy_at(i);
		unsigned n = 0;

		ck_assert_ptr_nonnull(p->name);
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
	}
}
END_TEST

START_TEST(parser_reads_what_profiles_write)
{
	struct hak_param_value v;

	ck_assert_int_eq(h_parse(HAK_PARAM_SIZE, "4MiB", &v), 0);
	ck_assert_uint_eq(v.size, 4 * MiB);
	ck_assert_int_eq(h_parse(HAK_PARAM_SIZE, "1GiB", &v), 0);
	ck_assert_uint_eq(v.size, GiB);
	ck_assert_int_eq(h_parse(HAK_PARAM_SIZE, "4096", &v), 0);
	ck_assert_uint_eq(v.size, 4096);
	ck_assert_int_eq(h_parse(HAK_PARAM_INT_LIST, "0,10,25", &v), 0);
	ck_assert_uint_eq(v.nlist, 3);
	ck_assert_uint_eq(v.list[0], 0);
	ck_assert_uint_eq(v.list[2], 25);
	ck_assert_int_eq(h_parse(HAK_PARAM_SIZE_LIST, "256KiB,1MiB", &v), 0);
	ck_assert_uint_eq(v.list[1], MiB);
	ck_assert_int_eq(h_parse(HAK_PARAM_FLOAT, "0.05", &v), 0);
	ck_assert_double_eq_tol(v.f, 0.05, 1e-12);
	ck_assert_int_ne(h_parse(HAK_PARAM_INT_LIST, "", &v), 0);
	ck_assert_int_ne(h_parse(HAK_PARAM_INT_LIST, "1,2,3,4,5,6,7,8,9", &v), 0);
	ck_assert_int_ne(h_parse(HAK_PARAM_INT_LIST, "1,x", &v), 0);
	ck_assert_int_ne(h_parse(HAK_PARAM_INT_LIST, "-1", &v), 0);
	ck_assert_int_ne(h_parse(HAK_PARAM_INT, "12ms", &v), 0);
	ck_assert_int_ne(h_parse(HAK_PARAM_SIZE, "4XiB", &v), 0);
	ck_assert_int_ne(h_parse(HAK_PARAM_SIZE, "-4", &v), 0);
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
static void mixed_run(const struct hak_policy *pol, uint64_t seed,
		      uint64_t purge_ms, uint64_t break_even_ms)
{
	static const size_t sizes[] = {
		40 * KiB, 200 * KiB, MiB, MiB + 1, 1536 * KiB, 3 * MiB, 5 * MiB, 7 * MiB,
		12 * MiB, 33 * MiB, 300 * MiB, 2 * GiB,
	};
	struct harness *h = h_create(pol, seed);
	unsigned site[6];
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;

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
		}
		if (step % 1000 == 0)
			h_report(h);
	}
	ck_assert_uint_gt(h->epoch, 500);
	ck_assert_uint_gt(h->decides, 2500);
	h_destroy(h);
}

START_TEST(every_policy_survives_a_long_mixed_run)
{
	for (unsigned i = 0; hak_policy_at(i); i++) {
		mixed_run(hak_policy_at(i), 1, 100, 100);
		mixed_run(hak_policy_at(i), 2, 0, 1);
		mixed_run(hak_policy_at(i), 3, 60000, 3600000);
	}
}
END_TEST

/* init with the defaults, and the first decide() right after it. */
START_TEST(every_policy_starts_with_its_defaults)
{
	for (unsigned i = 0; hak_policy_at(i); i++) {
		struct harness *h = h_create(hak_policy_at(i), 7);

		ck_assert_int_eq(h_start(h), 0);
		ck_assert_uint_eq(h->decides, 1);
		ck_assert_uint_eq(h->raw.keep_bytes, h->env.max_dirty);
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
	struct harness *h = h_create(p, 1);

	ck_assert_str_eq(p->params[0].name, "map_min");
	ck_assert_int_eq(p->params[0].type, HAK_PARAM_SIZE);
	ck_assert_uint_eq(h_param(h, "map_min")->size, GiB);
	ck_assert_double_eq(p->params[0].min, 0);
	ck_assert_double_eq(p->params[0].max, (double)TiB);
	ck_assert_str_eq(p->params[1].name, "cache_max");
	ck_assert_int_eq(p->params[1].type, HAK_PARAM_SIZE);
	ck_assert_uint_eq(h_param(h, "cache_max")->size, 4 * MiB);
	ck_assert_double_eq(p->params[1].max, (double)TiB);
	ck_assert_ptr_null(p->params[2].name);
	ck_assert_ptr_nonnull(p->ops->decide);
	ck_assert_ptr_null(p->ops->admit);	/* the core's default: every site */
	h_destroy(h);
}
END_TEST

/* Whatever the page heap did, the configured values. */
START_TEST(fixed_decides_what_is_configured)
{
	struct harness *h = h_create(fixed(), 1);
	const struct hak_decisions *d;
	unsigned s;

	h->env.purge_delay_ms = 250;
	h->env.max_dirty = 64 * MiB;
	h_set_size(h, "map_min", 256 * MiB);
	h_set_size(h, "cache_max", 8 * MiB);
	ck_assert_int_eq(h_start(h), 0);
	s = h_site(h);
	for (unsigned i = 0; i < 200; i++) {
		switch (i % 4) {
		case 0:
			h_reuse(h, 64 * MiB, 20);	/* a delay of 32 would do */
			break;
		case 1:
			h_unused(h, 512 * MiB);	/* 0 would do */
			break;
		case 2:
			h_reuse(h, 64 * MiB, 60000);	/* a minute */
			break;
		default:
			break;
		}
		h_decide(h, i % 3 ? HAK_DECIDE_MS : 1000);
		d = &h->raw;	/* before the core's clamps */
		ck_assert_uint_eq(d->decay_ms, 250);
		ck_assert_uint_eq(d->keep_bytes, 64 * MiB);
		ck_assert_uint_eq(d->map_min, 256 * MiB);
		ck_assert_uint_eq(d->cache_max, 8 * MiB);
		h_alloc(h, s, 3 * MiB);
	}
	ck_assert(h_admit(h, s));
	h_destroy(h);

	/* Other settings, other values: nothing is built in. */
	h = h_create(fixed(), 1);
	h->env.purge_delay_ms = 0;
	h->env.max_dirty = 0;
	h_set_size(h, "map_min", 2 * MiB);
	h_set_size(h, "cache_max", 0);
	ck_assert_int_eq(h_start(h), 0);
	d = &h->raw;
	ck_assert_uint_eq(d->decay_ms, 0);
	ck_assert_uint_eq(d->keep_bytes, 0);
	ck_assert_uint_eq(d->map_min, 2 * MiB);
	ck_assert_uint_eq(d->cache_max, 0);
	h_unused(h, GiB);
	h_decide(h, 5000);
	ck_assert_uint_eq(d->decay_ms, 0);
	ck_assert_uint_eq(d->map_min, 2 * MiB);
	h_destroy(h);
}
END_TEST

START_TEST(fixed_admits_every_site)
{
	struct harness *h = h_create(fixed(), 1);
	unsigned s[3];

	ck_assert_int_eq(h_start(h), 0);
	for (unsigned i = 0; i < 3; i++)
		s[i] = h_site(h);
	for (unsigned i = 0; i < 300; i++)
		h_alloc(h, s[i % 3], (i % 3 + 1) * MiB + i * 4096);
	for (unsigned i = 0; i < 3; i++) {
		ck_assert(h_admit(h, s[i]));
		ck_assert(h->admitted[s[i]]);
	}
	h_destroy(h);
}
END_TEST

START_TEST(fixed_report_counts_events)
{
	struct harness *h = h_create(fixed(), 1);
	double v;
	unsigned s;

	ck_assert_int_eq(h_start(h), 0);
	ck_assert_str_eq(h_report(h), "allocs=0 frees=0");
	s = h_site(h);
	for (unsigned i = 0; i < 1000; i++)
		h_alloc(h, s, 2 * MiB);
	for (unsigned i = 0; i < 234; i++)
		h_free(h, s, 2 * MiB, 5);
	ck_assert(h_report_num(h, "allocs", &v));
	ck_assert_double_eq(v, 1000);
	ck_assert(h_report_num(h, "frees", &v));
	ck_assert_double_eq(v, 234);
	ck_assert_str_eq(h_report(h), "allocs=1000 frees=234");
	h_destroy(h);
}
END_TEST

static Suite *fixed_suite(void)
{
	Suite *s = suite_create("policy-fixed");

	add_tcase(s, "registry", 60, registry_finds_compiled_in_policies,
		  schema_defaults_parse_and_lie_in_range, parser_reads_what_profiles_write,
		  every_policy_starts_with_its_defaults, every_policy_survives_a_long_mixed_run);
	add_tcase(s, "model", 0, model_age_buckets, model_one_bucket_hit_missed_cut,
		  model_unused_bytes_cost_the_delay, model_reuse_add_fades);
	if (IS_ENABLED(CONFIG_HAKMEM_POLICY_FIXED))
		add_tcase(s, "fixed", 0, fixed_schema, fixed_decides_what_is_configured,
			  fixed_admits_every_site, fixed_report_counts_events);
	return s;
}

TEST_MAIN(fixed_suite)
