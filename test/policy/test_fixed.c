// SPDX-License-Identifier: MIT
/*
 * test/policy/test_fixed.c - the decay model of the SDK (hak_reuse_add,
 * hak_decay_cost) on inputs worked out by hand, which every build has,
 * and the fixed policy.  What every policy passes is test_conformance.c's.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "harness.c"

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
		d = &h->p.raw;	/* before the core's clamps */
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
	d = &h->p.raw;
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
		ck_assert(h_admitted(h, s[i]));
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

	add_tcase(s, "model", 0, model_age_buckets, model_one_bucket_hit_missed_cut,
		  model_unused_bytes_cost_the_delay, model_reuse_add_fades);
	if (IS_ENABLED(CONFIG_HAKMEM_POLICY_FIXED))
		add_tcase(s, "fixed", 0, fixed_schema, fixed_decides_what_is_configured,
			  fixed_admits_every_site, fixed_report_counts_events);
	return s;
}

TEST_MAIN(fixed_suite)
