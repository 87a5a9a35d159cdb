// SPDX-License-Identifier: MIT
/*
 * policies/evo.c - evolutionary size tracking: which call sites' blocks
 * wait in the BigCache, fitted to each site's request sizes, and a decay
 * delay found by mutation and selection.
 *
 * Sizes.  Each site (up to EVO_MAX_SITES) keeps a histogram of its request
 * sizes in eighth-of-an-octave buckets, halved every EVO_WINDOW samples so
 * that it follows the site's present.  A site whose heaviest bucket holds
 * at least 1/EVO_STABLE of its samples, once it has evo.min_samples, asks
 * for the same size again and again: a block it frees is likely to serve
 * its next request whole, so it is admitted to the BigCache (admit).  A
 * site whose sizes wander is not: its freed blocks are worth more to the
 * page heap, where they coalesce and serve any size.  The BigCache takes
 * blocks up to the largest size a stable site asks for (cache_max).
 *
 * Delay.  A (1+1) evolution strategy on g = log2(1 + delay_ms): at every
 * decide() the delay in force and a mutant (g moved by up to +-sigma) are
 * priced on the same window of the page heap's reuse (hak_decay_cost,
 * fading with a time constant of evo.window_ms), and the mutant replaces
 * the delay in force when it is cheaper by 1/EVO_IMPROVE.  Sigma grows on
 * a success and shrinks on a failure (the one-fifth rule), so evo strides
 * when the workload moves and settles, with ever smaller steps, when it
 * stays; once settled it also tries delays drawn from the whole range, so
 * that a change of workload that makes a far delay best is not missed
 * (the cost has a dip at every age at which memory is reused).  It starts
 * from purge.delay_ms.
 *
 * The site table comes from env->meta_alloc at init (never freed); the
 * RNG is splitmix64 seeded from env->seed.  Hooks are serialised by the
 * core and never call malloc.
 */
#include <errno.h>

#include <hakmem_policy.h>

#define EVO_MAX_SITES	256
#define EVO_SUB_SHIFT	3
#define EVO_SUB		(1u << EVO_SUB_SHIFT)	/* buckets per octave */
#define EVO_LOW_SHIFT	15	/* the first octave: 32 KiB */
#define EVO_OCTAVES	20	/* up to 32 GiB; the last bucket takes the rest */
#define EVO_BUCKETS	(EVO_OCTAVES * EVO_SUB)
#define EVO_WINDOW	256	/* a site's counts halve at this many samples */
#define EVO_STABLE	2	/* one bucket holding 1/2 of a site's samples */
#define EVO_IMPROVE	100	/* a mutant must be 1/100 cheaper to win */
#define EVO_G_MAX	16.0	/* log2(1 + delay) up to 65535 ms */
#define EVO_SIGMA_MIN	0.05
#define EVO_SIGMA_MAX	4.0
#define EVO_MIN_BYTES	4096.0	/* less freed and reused in the window: no selection */
#define EVO_STALL	32	/* mutants lost in a row: settled, so look further too */

struct evo_site {
	uint32_t count[EVO_BUCKETS];
	uint32_t total;
	unsigned best;			/* the heaviest bucket */
	bool stable;
	size_t stable_size;		/* the heaviest bucket's upper bound */
};

struct evo_state {
	struct evo_site *site;
	unsigned nsites;
	double mutation;		/* sigma to start from */
	uint64_t min_samples;
	double window_ms;
	uint64_t break_even_ms;
	size_t keep_bytes;
	size_t map_min;
	size_t cache_limit;
	uint64_t rng;

	double g, sigma;
	unsigned stalled;		/* mutants lost in a row */
	struct hak_reuse reuse;
	uint64_t generations;		/* selections made */
	uint64_t improvements;		/* mutants that won */
	uint64_t events[2];
	unsigned stable_sites;
};

static const struct hak_param evo_params[] = {
	{ "mutation", HAK_PARAM_FLOAT, "1", 0.05, 4,
	  "first step of the delay's mutations, in octaves (it adapts from there)" },
	{ "min_samples", HAK_PARAM_INT, "16", 1, 1000000,
	  "allocations a site needs before evo judges its sizes" },
	{ "window_ms", HAK_PARAM_INT, "1000", 1, 3600000,
	  "time constant over which the reuse the delays are priced on fades" },
	{ "map_min", HAK_PARAM_SIZE, "1GiB", 0, 1099511627776.0,
	  "requests at or above this get a mapping of their own, returned on free" },
	{ "cache_limit", HAK_PARAM_SIZE, "64MiB", 0, 1099511627776.0,
	  "the BigCache takes blocks of stable sites up to this size at most" },
	{ NULL, 0, NULL, 0, 0, NULL },
};

enum { EVO_P_MUTATION, EVO_P_MIN_SAMPLES, EVO_P_WINDOW, EVO_P_MAP_MIN, EVO_P_CACHE_LIMIT };

/* ---- RNG: splitmix64 ---- */

static uint64_t evo_next(struct evo_state *st)
{
	uint64_t z = (st->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [-1, 1). */
static double evo_sym(struct evo_state *st)
{
	return (double)(evo_next(st) >> 11) * 0x1.0p-52 - 1.0;
}

/* ---- the delay: g = log2(1 + delay_ms) ---- */

static uint64_t evo_delay(double g)
{
	return (uint64_t)(hak_exp2(g) - 1.0 + 0.5);
}

/* log2(1 + @d): the bit length for the octave, a series for the rest. */
static double evo_log2p1(uint64_t d)
{
	double x = (double)d + 1.0, r = 0;

	while (x >= 2.0) {
		x /= 2.0;
		r += 1.0;
	}
	/* ln(x) for x in [1, 2): 2 atanh((x - 1) / (x + 1)). */
	double t = (x - 1.0) / (x + 1.0), t2 = t * t, term = t, s = 0;

	for (int i = 1; i < 40; i += 2) {
		s += term / i;
		term *= t2;
	}
	return r + 2.0 * s / 0.69314718055994531;
}

static double evo_clamp(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/*
 * One generation: the delay in force against a mutant, on the window.
 * The cost is not convex in the delay (it drops by break_even at each age
 * at which memory is reused), so a search that only takes small steps
 * settles in the nearest dip.  Once EVO_STALL mutants in a row have lost,
 * each generation also prices a delay drawn from the whole range, and the
 * cheaper of the two challenges the delay in force.
 */
static void evo_select(struct evo_state *st)
{
	double m = evo_clamp(st->g + st->sigma * evo_sym(st), 0.0, EVO_G_MAX);
	double cur = hak_decay_cost(&st->reuse, evo_delay(st->g), st->break_even_ms);
	double mut = hak_decay_cost(&st->reuse, evo_delay(m), st->break_even_ms);

	if (st->stalled >= EVO_STALL) {
		double far = (evo_sym(st) + 1.0) * (EVO_G_MAX / 2);
		double alt = hak_decay_cost(&st->reuse, evo_delay(far), st->break_even_ms);

		if (alt < mut) {
			m = far;
			mut = alt;
		}
	}
	st->generations++;
	if (mut * (1.0 + 1.0 / EVO_IMPROVE) < cur) {
		st->g = m;
		st->improvements++;
		st->stalled = 0;
		st->sigma = evo_clamp(st->sigma * 1.5, EVO_SIGMA_MIN, EVO_SIGMA_MAX);
	} else {
		st->stalled++;
		st->sigma = evo_clamp(st->sigma * 0.9, EVO_SIGMA_MIN, EVO_SIGMA_MAX);
	}
}

/* ---- sizes ---- */

static unsigned evo_bucket(size_t size)
{
	unsigned oct = 0;

	if (size < ((size_t)1 << EVO_LOW_SHIFT))
		return 0;
	while (oct + 1 < EVO_OCTAVES && (size >> (EVO_LOW_SHIFT + oct + 1)))
		oct++;
	return oct * EVO_SUB +
	       (unsigned)((size >> (EVO_LOW_SHIFT + oct - EVO_SUB_SHIFT)) & (EVO_SUB - 1));
}

/* The largest size in bucket @b. */
static size_t evo_bucket_max(unsigned b)
{
	unsigned oct = b / EVO_SUB, sub = b % EVO_SUB;

	return ((size_t)(EVO_SUB + sub + 1) << (EVO_LOW_SHIFT + oct - EVO_SUB_SHIFT)) - 1;
}

/* Count one request of @site; its heaviest bucket is kept as it goes. */
static void evo_count(struct evo_state *st, struct evo_site *s, size_t size)
{
	unsigned b = evo_bucket(size);

	if (++s->total > EVO_WINDOW) {
		s->total = 0;
		s->best = 0;
		for (unsigned k = 0; k < EVO_BUCKETS; k++) {
			s->count[k] /= 2;
			s->total += s->count[k];
			if (s->count[k] > s->count[s->best])
				s->best = k;
		}
		s->total++;
	}
	if (++s->count[b] > s->count[s->best])
		s->best = b;
	st->stable_sites -= s->stable;
	s->stable = s->total >= st->min_samples && s->count[s->best] * EVO_STABLE >= s->total;
	s->stable_size = evo_bucket_max(s->best);
	st->stable_sites += s->stable;
}

/* ---- hooks ---- */

static int evo_init(void *state, const struct hak_policy_env *env)
{
	struct evo_state *st = state;
	const struct hak_param_value *p = env->params;

	st->nsites = env->nsites < EVO_MAX_SITES ? env->nsites : EVO_MAX_SITES;
	st->site = env->meta_alloc(st->nsites * sizeof(*st->site));
	if (!st->site)
		return -ENOMEM;
	st->mutation = p[EVO_P_MUTATION].f;
	st->min_samples = (uint64_t)p[EVO_P_MIN_SAMPLES].i;
	st->window_ms = (double)p[EVO_P_WINDOW].i;
	st->map_min = p[EVO_P_MAP_MIN].size;
	st->cache_limit = p[EVO_P_CACHE_LIMIT].size;
	st->break_even_ms = env->break_even_ms;
	st->keep_bytes = env->max_dirty;
	st->rng = env->seed;
	st->sigma = st->mutation;
	st->g = evo_clamp(evo_log2p1(env->purge_delay_ms), 0.0, EVO_G_MAX);
	return 0;
}

static void evo_decide(void *state, const struct hak_heap_info *info, struct hak_decisions *out)
{
	struct evo_state *st = state;
	double seen;
	size_t cache_max = 0;

	hak_reuse_add(&st->reuse, info, st->window_ms / (st->window_ms + (double)info->elapsed_ms));
	seen = st->reuse.freed;
	for (unsigned b = 0; b < HAK_AGE_BUCKETS; b++)
		seen += st->reuse.reused[b];
	if (seen >= EVO_MIN_BYTES)
		evo_select(st);
	for (unsigned i = 0; st->stable_sites && i < st->nsites; i++)
		if (st->site[i].stable && st->site[i].stable_size > cache_max)
			cache_max = st->site[i].stable_size;
	out->decay_ms = evo_delay(st->g);
	out->keep_bytes = st->keep_bytes;
	out->map_min = st->map_min;
	out->cache_max = cache_max < st->cache_limit ? cache_max : st->cache_limit;
}

static bool evo_admit(void *state, const struct hak_site *site)
{
	struct evo_state *st = state;

	return site->index < st->nsites && st->site[site->index].stable;
}

static void evo_on_event(void *state, const struct hak_event *ev)
{
	struct evo_state *st = state;

	st->events[ev->type == HAK_EV_FREE]++;
	if (ev->type == HAK_EV_ALLOC && ev->site->index < st->nsites)
		evo_count(st, &st->site[ev->site->index], ev->size);
}

/* ---- report (hak_report_* helpers: printf may allocate) ---- */

static int evo_report(void *state, char *buf, size_t len)
{
	struct evo_state *st = state;
	struct hak_report b = { buf, len, 0 };

	hak_report_str(&b, "delay_ms=");
	hak_report_u64(&b, evo_delay(st->g));
	hak_report_str(&b, " sigma=");
	hak_report_fix(&b, st->sigma, 3);
	hak_report_str(&b, " window_ms=");
	hak_report_u64(&b, (uint64_t)st->window_ms);
	hak_report_str(&b, " generations=");
	hak_report_u64(&b, st->generations);
	hak_report_str(&b, " improvements=");
	hak_report_u64(&b, st->improvements);
	hak_report_str(&b, " stable_sites=");
	hak_report_u64(&b, st->stable_sites);
	hak_report_str(&b, " allocs=");
	hak_report_u64(&b, st->events[0]);
	hak_report_str(&b, " frees=");
	hak_report_u64(&b, st->events[1]);
	return (int)b.n;
}

static const struct hak_policy_ops evo_ops = {
	.init = evo_init,
	.decide = evo_decide,
	.admit = evo_admit,
	.on_event = evo_on_event,
	.report = evo_report,
};

const struct hak_policy hak_policy_evo = {
	.name = "evo",
	.params = evo_params,
	.state_size = sizeof(struct evo_state),
	.ops = &evo_ops,
};
HAK_REGISTER_POLICY(hak_policy_evo);
