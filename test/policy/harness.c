// SPDX-License-Identifier: MIT
/*
 * test/policy/harness.c - one policy on the real policy host
 * (core/policy.c), with a fake clock.
 *
 * The harness sets the options a policy sees through the option table
 * (its parameters from their schema defaults, purge_delay_ms 100,
 * max_dirty 1 GiB, break_even_ms 100, 64 events per tick, span_max
 * 1 MiB; change h->env or call h_set_* before h_start()), starts it with
 * hak_policy_init(), and sends events from fake call sites through the
 * host's queue: the site table, admission, the ticks and the clamps are
 * the host's.  Time is base's clock, stopped at 1 s and moved only by
 * h_decide(), so no slow path of the process decides behind the test's
 * back.  What the page heap did between two decide() calls is a window
 * the test fills through the host's probe (policy.h): "this many bytes
 * were freed and taken again at this age" (a hit when the delay in force
 * still held them, else a miss), "this many were freed and never taken
 * again".
 *
 * Every decision is checked against the contract, and the policy's own
 * admit() and report() are called on the state the host gave it (report
 * NUL-terminated within any buffer and a prefix of itself when cut); a
 * violation fails the test at once.  One harness is live at a time.  Each
 * test_*.c #includes this file (the Makefile builds each alone).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hakmem_policy.h>

#include "bigcache.h"
#include "large.h"
#include "options.h"
#include "pageheap.h"
#include "policy.h"
#include "testlib.h"

#define H_MAX_SITES	64
#define H_MIX_AGES	4
/* The longest delay any option or parameter lets a profile ask for. */
#define H_DECAY_MAX_MS	3600000

/*
 * ck_assert records every passing check; the paths a long run takes
 * millions of times check with this instead, which costs nothing until
 * it fails.
 */
#define h_require(cond, ...)						\
	do {								\
		if (!(cond))						\
			ck_abort_msg(__VA_ARGS__);			\
	} while (0)

struct harness {
	const struct hak_policy *pol;
	struct hak_policy_env env;	/* seed and the shared options h_start() sets */
	unsigned epoch_events;		/* policy.epoch: events per tick() */
	unsigned nsites;
	bool started;			/* init() returned 0 */
	struct hak_policy_probe p;	/* the window, the decisions, the counts */
	char report[4096];
};

/* A call site's address: what the large path would pass as the caller's. */
static const void *h_addr(unsigned site)
{
	return (const void *)(uintptr_t)(0x400000 + 0x40 * site);
}

static void h_option(const char *key, const char *value)
{
	ck_assert_msg(!hak_option_set(key, value, "harness"), "%s: '%s' refused", key, value);
}

struct hak_param_value *h_param(struct harness *h, const char *name)
{
	int idx = hak_policy_index(h->pol);

	for (unsigned i = 0; h->pol->params[i].name; i++)
		if (!strcmp(h->pol->params[i].name, name))
			return &hak_opts.params[idx][i];
	ck_abort_msg("%s has no parameter %s", h->pol->name, name);
	return NULL;
}

/* Parameter @name from its text form, before h_start(); out of the schema's range fails. */
static void h_set(struct harness *h, const char *name, const char *value)
{
	char key[96];

	ck_assert(!h->started);
	h_param(h, name);
	snprintf(key, sizeof(key), "%s.%s", h->pol->name, name);
	h_option(key, value);
}

struct harness *h_create(const struct hak_policy *pol, uint64_t seed)
{
	struct harness *h = calloc(1, sizeof(*h));

	ck_assert_ptr_nonnull(h);
	ck_assert_ptr_nonnull(pol);
	ck_assert_ptr_nonnull(pol->ops);
	h->pol = pol;
	for (const struct hak_param *p = pol->params; p && p->name; p++)
		h_set(h, p->name, p->def);
	h->env = (struct hak_policy_env){
		.seed = seed, .purge_delay_ms = 100, .max_dirty = GiB, .break_even_ms = 100,
	};
	h->epoch_events = 64;
	hak_clock_set_fake(1000000000);	/* not 0: a policy may take 0 for "never" */
	return h;
}

void h_destroy(struct harness *h)
{
	hak_policy_probe(NULL);
	hak_clock_set_fake(0);
	free(h);
}

void h_set_int(struct harness *h, const char *name, long long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", v);
	h_set(h, name, buf);
}

void h_set_float(struct harness *h, const char *name, double v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%.17g", v);
	h_set(h, name, buf);
}

void h_set_size(struct harness *h, const char *name, size_t v)
{
	h_set_int(h, name, (long long)v);
}

/*
 * Either list type, increasing.  An empty list is one the option table
 * never hands over: written straight into it, to test the policy's own
 * refusal.
 */
void h_set_list(struct harness *h, const char *name, unsigned n, const size_t *v)
{
	char buf[256];
	size_t len = 0;

	if (!n) {
		h_param(h, name)->nlist = 0;
		return;
	}
	for (unsigned k = 0; k < n; k++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%zu", k ? "," : "", v[k]);
	h_set(h, name, buf);
}

/* ---- the decisions ---- */

static void h_check_decisions(struct harness *h, const struct hak_decisions *d)
{
	h_require(d->decay_ms <= H_DECAY_MAX_MS, "%s: decay_ms %llu", h->pol->name,
		  (unsigned long long)d->decay_ms);
	h_require(d->keep_bytes <= TiB, "%s: keep_bytes %zu", h->pol->name, d->keep_bytes);
	h_require(d->map_min <= TiB, "%s: map_min %zu", h->pol->name, d->map_min);
	h_require(d->cache_max <= TiB, "%s: cache_max %zu", h->pol->name, d->cache_max);
}

/* The options, then init() and, when it returned 0, the first decide().  Returns init's result. */
int h_start(struct harness *h)
{
	char buf[32];
	int err;

	ck_assert(!h->started);
	h_option("policy", h->pol->name);
	h_option("large.span_max", "1MiB");
#define H_OPTION(key, v) (snprintf(buf, sizeof(buf), "%llu", (unsigned long long)(v)), \
			  h_option(key, buf))
	H_OPTION("seed", h->env.seed);
	H_OPTION("purge.delay_ms", h->env.purge_delay_ms);
	H_OPTION("pageheap.max_dirty", h->env.max_dirty);
	H_OPTION("pageheap.break_even_ms", h->env.break_even_ms);
	H_OPTION("policy.epoch", h->epoch_events);
#undef H_OPTION
	memset(&h->p, 0, sizeof(h->p));
	hak_policy_probe(&h->p);
	err = hak_policy_init();
	ck_assert_msg(err <= 0, "%s: init returned %d", h->pol->name, err);
	h->started = !err;
	if (!err)
		h_check_decisions(h, &h->p.raw);
	return err;
}

/* Let @ms pass, then decide() on the window; returns the decisions in force. */
const struct hak_decisions *h_decide(struct harness *h, uint64_t ms)
{
	h_require(h->started, "harness: h_start() first");
	hak_clock_set_fake(hak_now_ns() + ms * 1000000);
	hak_policy_decide();
	h_check_decisions(h, &h->p.raw);
	return &h->p.dec;
}

/* ---- the window ---- */

/* The age bucket of @age_ms (the inverse of hak_age_bucket_ms). */
unsigned h_age_bucket(uint64_t age_ms)
{
	unsigned b = 0;

	while (b + 1 < HAK_AGE_BUCKETS && age_ms >= hak_age_bucket_ms(b + 1))
		b++;
	return b;
}

/* @bytes freed and taken again at @age_ms: a hit if the delay in force held them. */
void h_reuse(struct harness *h, uint64_t bytes, uint64_t age_ms)
{
	unsigned b = h_age_bucket(age_ms);

	h->p.window.freed += bytes;
	if (age_ms < h->p.dec.decay_ms)
		h->p.window.hit[b] += bytes;
	else
		h->p.window.miss[b] += bytes;
}

/* @bytes freed and not taken again. */
void h_unused(struct harness *h, uint64_t bytes)
{
	h->p.window.freed += bytes;
}

/* A reuse pattern a test repeats, window after window. */
struct h_mix {
	uint64_t bytes[H_MIX_AGES];	/* freed and taken again ... */
	uint64_t age_ms[H_MIX_AGES];	/* ... at this age */
	uint64_t unused;		/* freed and not taken again */
};

/* One window of @m over HAK_DECIDE_MS, and its decide(); returns the delay decided. */
uint64_t h_mix_step(struct harness *h, const struct h_mix *m)
{
	for (unsigned i = 0; i < H_MIX_AGES; i++)
		if (m->bytes[i])
			h_reuse(h, m->bytes[i], m->age_ms[i]);
	h_unused(h, m->unused);
	return h_decide(h, HAK_DECIDE_MS)->decay_ms;
}

/* The model's cost of delay @d on @m (any number of equal windows: the argmin is the same). */
double h_mix_cost(const struct h_mix *m, uint64_t d, uint64_t break_even_ms)
{
	struct hak_heap_info info = { 0 };
	struct hak_reuse r = { 0 };

	for (unsigned i = 0; i < H_MIX_AGES; i++) {
		info.hit[h_age_bucket(m->age_ms[i])] += m->bytes[i];
		info.freed += m->bytes[i];
	}
	info.freed += m->unused;
	hak_reuse_add(&r, &info, 0);
	return hak_decay_cost(&r, d, break_even_ms);
}

/* ---- sites and events ---- */

/* A new call site; returns its number. */
unsigned h_site(struct harness *h)
{
	ck_assert_uint_lt(h->nsites, H_MAX_SITES);
	ck_assert_uint_lt(h->nsites, hak_opts.sites);
	return h->nsites++;
}

/* An event through the host's queue, delivered at once (so is a tick's decide()). */
static void h_event(struct harness *h, unsigned site, struct hak_pending pd)
{
	h_require(h->started, "harness: h_start() first");
	h_require(site < h->nsites, "harness: no site %u", site);
	pd.site_addr = h_addr(site);
	pd.now_ns = hak_now_ns();
	/* The route the large path would take under the decisions in force. */
	pd.route = pd.size <= hak_opts.span_max ? HAK_ROUTE_SPAN :
		   pd.size >= hak_policy_map_min() ? HAK_ROUTE_MAP : HAK_ROUTE_HEAP;
	hak_policy_queue(&pd);
	hak_policy_flush();
	h_check_decisions(h, &h->p.raw);
}

void h_alloc(struct harness *h, unsigned site, size_t size)
{
	h_event(h, site, (struct hak_pending){ .type = HAK_EV_ALLOC, .size = size, .cost_ns = 1000 });
}

void h_free(struct harness *h, unsigned site, size_t size, uint64_t lifetime_ms)
{
	h_event(h, site, (struct hak_pending){
		.type = HAK_EV_FREE, .size = size, .lifetime_ms = lifetime_ms,
	});
}

/* Whether the host lets @site's blocks wait in the fronts: the answer the BigCache reads. */
bool h_admitted(struct harness *h, unsigned site)
{
	h_require(site < h->nsites, "harness: no site %u", site);
	return hak_policy_admitted(h_addr(site));
}

/*
 * Whether this thread's front, the real BigCache, keeps a block of @size
 * from @site that the large path served and took back, while other
 * threads wait for the page heap (the front's condition: bigcache.c);
 * emptied after.
 */
bool h_front_keeps(struct harness *h, unsigned site, size_t size)
{
	void *p;
	bool kept;

	h_require(site < h->nsites, "harness: no site %u", site);
	p = hak_large_alloc(size, 0, h_addr(site));
	ck_assert_ptr_nonnull(p);
	hak_ph_note_contended();
	hak_large_free(p, hak_large_hdr_find(p));
	kept = hak_bc_holds(p);
	hak_bc_drain();
	return kept;
}

static void h_find_site(const struct hak_site *s, void *arg)
{
	const struct hak_site **found = arg;

	if (s->addr == (*found)->addr)
		*found = s;
}

/* The policy's admit() for @site now, on the host's record of it (true without the hook). */
bool h_admit(struct harness *h, unsigned site)
{
	struct hak_site key = { .addr = h_addr(site) };
	const struct hak_site *s = &key;

	h_require(h->started, "harness: h_start() first");
	hak_policy_each_site(h_find_site, &s);
	h_require(s != &key, "harness: site %u had no event", site);
	return !h->pol->ops->admit || h->pol->ops->admit(h->p.state, s);
}

/* ---- report ---- */

/*
 * The report at @len bytes: the length returned is where the NUL is,
 * nothing is written past @len, and the text is a prefix of the full one.
 */
static void h_report_cut(struct harness *h, size_t len)
{
	char buf[64];
	int n;

	memset(buf, 0x7f, sizeof(buf));
	n = h->pol->ops->report(h->p.state, buf, len);
	for (size_t i = len; i < sizeof(buf); i++)
		h_require(buf[i] == 0x7f, "%s: report(len %zu) wrote byte %zu", h->pol->name,
			  len, i);
	if (!len) {
		h_require(n == 0, "%s: report(len 0) returned %d", h->pol->name, n);
		return;
	}
	h_require(n >= 0 && (size_t)n < len, "%s: report(len %zu) returned %d", h->pol->name, len,
		  n);
	h_require(buf[n] == '\0', "%s: report(len %zu): no NUL at %d", h->pol->name, len, n);
	h_require(!strncmp(buf, h->report, (size_t)n), "%s: report(len %zu) is not a prefix",
		  h->pol->name, len);
}

/* The policy's report, checked. */
const char *h_report(struct harness *h)
{
	static const size_t cuts[] = { 0, 1, 2, 9, 33, 64 };
	int n;

	h_require(h->started, "harness: h_start() first");
	h->report[0] = '\0';
	if (!h->pol->ops->report)
		return h->report;
	memset(h->report, 0x7f, sizeof(h->report));
	n = h->pol->ops->report(h->p.state, h->report, sizeof(h->report));
	h_require(n >= 0 && (size_t)n < sizeof(h->report), "%s: report returned %d", h->pol->name,
		  n);
	h_require(h->report[n] == '\0' && strlen(h->report) == (size_t)n,
		  "%s: report: length %d is not where the NUL is", h->pol->name, n);
	for (unsigned i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
		h_report_cut(h, cuts[i]);
	return h->report;
}

/* The text after " key=" (or "key=" at the start), or NULL. */
static const char *h_report_find(struct harness *h, const char *key)
{
	const char *r = h_report(h);
	size_t k = strlen(key);

	for (const char *p = r; (p = strstr(p, key)); p++)
		if ((p == r || p[-1] == ' ') && p[k] == '=')
			return p + k + 1;
	return NULL;
}

/* One number out of the report ("rating0"). */
bool h_report_num(struct harness *h, const char *key, double *out)
{
	const char *v = h_report_find(h, key);
	char *end;

	if (!v)
		return false;
	*out = strtod(v, &end);
	return end != v && (*end == ' ' || !*end);
}

/* The same number, failing the test when the report lacks it. */
double h_report_value(struct harness *h, const char *key)
{
	double v;

	ck_assert_msg(h_report_num(h, key, &v), "no %s in '%s'", key, h_report(h));
	return v;
}

bool h_report_word(struct harness *h, const char *key, char *out, size_t len)
{
	const char *v = h_report_find(h, key);
	size_t n = 0;

	if (!v || !len)
		return false;
	while (v[n] && v[n] != ' ' && n + 1 < len) {
		out[n] = v[n];
		n++;
	}
	out[n] = '\0';
	return true;
}

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
