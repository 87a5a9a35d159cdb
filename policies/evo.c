// SPDX-License-Identifier: MIT
/*
 * policies/evo.c - evolutionary size tracking: BigCache class boundaries
 * and per-site capacities fitted to each call site's request sizes, then
 * refined by mutation and selection on measured cost.
 *
 * Every request above the span limit goes through the BigCache (route);
 * this policy's levers are the class boundaries (classes) and how many
 * blocks each site may keep there (admit).
 *
 * Tracking.  Each site (up to EVO_MAX_SITES) keeps a histogram of its
 * request sizes in eighth-of-an-octave buckets, each with the largest
 * request it saw.  A site with evo.min_samples samples is fitted: every
 * bucket holding at least 1/EVO_DOMINANT of them starts a cluster, which
 * takes in its neighbours holding at least 1/EVO_TAIL; the cluster's cover
 * is its largest request rounded up to 4 KiB.  Covers within 1/EVO_MERGE
 * of each other share one class; the HAK_PARAM_LIST_MAX heaviest make the
 * fitted classes.  A site's fitted capacity is the most blocks it had out
 * at once during the generation (its next burst can then come back whole
 * from the cache), at most EVO_CAP_MAX.
 *
 * Generations.  One generation is one tick.  A new fit (the first one, or
 * the sites' sizes moved) becomes the current genome at once.  Then
 * generations alternate: one serves the current genome and measures it,
 * the next serves a mutant (every boundary scaled by a random factor
 * within +-evo.mutation, every capacity moved by -1, 0 or +1) and measures
 * it; the mutant replaces the current genome only when it is cheaper by
 * 1/EVO_IMPROVE.  After evo.settle mutants in a row fail, evo settles: it
 * serves the current genome and stops changing (classes() returns 0) until
 * a new fit.  The cost of a generation, per allocation, is the time the
 * core spent serving (cost_ns) plus EVO_WASTE_NS for every 4 KiB page a
 * class holds beyond the request.
 *
 * Cached counts per site come from the events: +1 on a FREE that was
 * cached, -1 on an ALLOC served from the cache, 0 after a class change
 * (the core empties the cache then), scaled down by a PURGE's share of
 * the cached bytes (a purge does not say whose blocks went).  Evictions
 * the core makes to take a new block are not reported, so a site's count
 * is dropped after EVO_FORGET generations without a hit: stale counts must
 * not shut a site out of the cache for good.
 *
 * The histograms come from env->meta_alloc at init (never freed); the RNG
 * is splitmix64 seeded from env->seed.  Hooks are serialised by the core
 * and never call malloc.
 */
#include <errno.h>

#include <hakmem_policy.h>

#define EVO_MAX_SITES	256	/* sites tracked; further slots are not */
#define EVO_SUB_SHIFT	3
#define EVO_SUB		(1u << EVO_SUB_SHIFT)	/* buckets per octave */
#define EVO_LOW_SHIFT	15	/* the first octave: 32 KiB (the small limit) */
#define EVO_OCTAVES	18	/* up to 8 GiB; the last bucket takes the rest */
#define EVO_BUCKETS	(EVO_OCTAVES * EVO_SUB)
#define EVO_DOMINANT	8	/* a bucket with 1/8 of a site's samples is a cluster */
#define EVO_TAIL	64	/* a neighbour with 1/64 of them belongs to it */
#define EVO_MERGE	16	/* covers within 1/16 of each other share a class */
#define EVO_MAX_CLUSTERS 64
#define EVO_WINDOW	4096	/* a site's counts halve at this many samples */
#define EVO_PAGE	4096
/*
 * A wasted page costs a quarter of a minor fault (~250 ns) per
 * allocation: it is memory held and, when an earlier larger request
 * touched it, resident.  A class 10% too wide on 3 MiB (77 pages, ~5 us)
 * then weighs about as much as an mmap that a cache hit saves.
 */
#define EVO_WASTE_NS	64
#define EVO_IMPROVE	100	/* a mutant must be 1/100 cheaper to win */
#define EVO_CAP_MAX	64
#define EVO_FORGET	4	/* generations without a hit before a cached count is dropped */

struct evo_site {
	uint32_t count[EVO_BUCKETS];
	uint32_t maxpg[EVO_BUCKETS];	/* largest request of the bucket, in pages */
	uint32_t total;			/* samples in count[] */
	int32_t live;			/* blocks out */
	int32_t peak;			/* most blocks out at once, this generation */
	uint32_t cached;		/* blocks believed in the BigCache */
	uint32_t idle;			/* generations since its last cache hit */
	bool hit;			/* a cache hit this generation */
	uint8_t fitcap;			/* capacity from the last fit; 0: not fitted */
	uint8_t cap[2];			/* per genome (current, mutant); 0: no limit */
};

struct evo_genome {
	size_t cls[HAK_PARAM_LIST_MAX];
	unsigned n;
};

enum evo_phase {
	EVO_WAIT,		/* no site has enough samples yet */
	EVO_EVAL_CUR,		/* the current genome serves this generation */
	EVO_EVAL_MUTANT,	/* the mutant serves this generation */
};

struct evo_state {
	struct evo_site *site;
	unsigned nsites;
	size_t span_max;
	double mutation;
	uint64_t min_samples;
	uint64_t window;
	unsigned settle;
	uint64_t rng;

	struct evo_genome gen[2];	/* current, mutant */
	struct evo_genome fit;		/* the fit the current genome came from */
	struct evo_genome core;		/* classes the core has */
	unsigned active;		/* genome serving: 0 or 1 */
	enum evo_phase phase;
	bool settled;
	unsigned stale;			/* mutants in a row that lost */
	uint64_t generation;
	uint64_t improvements;		/* mutants that won */
	uint64_t refits;		/* new fits adopted */
	double cur_cost;		/* latest cost of the current genome */

	/* This generation's measure. */
	uint64_t allocs;
	uint64_t cost_ns;
	uint64_t waste_bytes;
	size_t cached_bytes;		/* estimate, all sites */
};

static const struct hak_param evo_params[] = {
	{ "mutation", HAK_PARAM_FLOAT, "0.25", 0, 1,
	  "largest relative change of a class boundary in one mutation" },
	{ "min_samples", HAK_PARAM_INT, "64", 1, 1000000,
	  "sized allocations a site needs before evo uses its histogram" },
	{ "settle", HAK_PARAM_INT, "3", 1, 100,
	  "mutants in a row without improvement after which evo stops changing" },
	{ NULL, 0, NULL, 0, 0, NULL },
};

enum { EVO_P_MUTATION, EVO_P_MIN_SAMPLES, EVO_P_SETTLE };

/* ---- RNG: splitmix64 ---- */

static uint64_t evo_next(struct evo_state *st)
{
	uint64_t z = (st->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double evo_unit(struct evo_state *st)
{
	return (double)(evo_next(st) >> 11) * 0x1.0p-53;
}

/* ---- genomes ---- */

static size_t evo_round_page(size_t size)
{
	return size < EVO_PAGE ? EVO_PAGE : (size + EVO_PAGE - 1) & ~(size_t)(EVO_PAGE - 1);
}

static bool evo_same(const struct evo_genome *a, const struct evo_genome *b)
{
	if (a->n != b->n)
		return false;
	for (unsigned i = 0; i < a->n; i++)
		if (a->cls[i] != b->cls[i])
			return false;
	return true;
}

/* The class a request of @size is cached under, or 0 when none holds it. */
static size_t evo_class_of(const struct evo_genome *g, size_t size)
{
	for (unsigned i = 0; i < g->n; i++)
		if (size <= g->cls[i])
			return g->cls[i];
	return 0;
}

/* Sort and drop duplicates: the core wants strictly increasing classes. */
static void evo_normalise(struct evo_genome *g)
{
	unsigned n = 0;

	for (unsigned i = 1; i < g->n; i++) {
		size_t v = g->cls[i];
		unsigned j = i;

		for (; j > 0 && g->cls[j - 1] > v; j--)
			g->cls[j] = g->cls[j - 1];
		g->cls[j] = v;
	}
	for (unsigned i = 0; i < g->n; i++)
		if (!n || g->cls[i] != g->cls[n - 1])
			g->cls[n++] = g->cls[i];
	g->n = n;
}

static void evo_mutate(struct evo_state *st)
{
	struct evo_genome *m = &st->gen[1];

	*m = st->gen[0];
	for (unsigned i = 0; i < m->n; i++) {
		double f = 1.0 + st->mutation * (2.0 * evo_unit(st) - 1.0);

		m->cls[i] = evo_round_page((size_t)((double)m->cls[i] * f));
	}
	evo_normalise(m);
	/*
	 * The largest class is the fit's, never mutated.  Shrunk, requests
	 * the current classes cache would be mapped (and faulted in) afresh
	 * for a whole generation, at hundreds of times the cost of a hit;
	 * grown, a lucky measurement could ratchet it up without bound.
	 */
	if (m->n && st->gen[0].n)
		m->cls[m->n - 1] = st->gen[0].cls[st->gen[0].n - 1];
	for (unsigned s = 0; s < st->nsites; s++) {
		struct evo_site *site = &st->site[s];
		int cap = site->cap[0];

		if (cap) {
			cap += (int)(evo_next(st) % 3) - 1;
			cap = cap < 1 ? 1 : cap > EVO_CAP_MAX ? EVO_CAP_MAX : cap;
		}
		site->cap[1] = (uint8_t)cap;
	}
}

/* ---- fitting ---- */

struct evo_cluster {
	size_t cover;
	uint64_t weight;
};

static void evo_add_cluster(struct evo_cluster *cl, unsigned *n, size_t cover, uint64_t weight)
{
	unsigned light = 0;

	if (*n < EVO_MAX_CLUSTERS) {
		cl[(*n)++] = (struct evo_cluster){ cover, weight };
		return;
	}
	for (unsigned i = 1; i < *n; i++)
		if (cl[i].weight < cl[light].weight)
			light = i;
	if (cl[light].weight < weight)
		cl[light] = (struct evo_cluster){ cover, weight };
}

/* The clusters of one fitted site. */
static void evo_site_clusters(const struct evo_state *st, const struct evo_site *site,
			      struct evo_cluster *cl, unsigned *n)
{
	uint32_t dom = site->total / EVO_DOMINANT ? site->total / EVO_DOMINANT : 1;
	uint32_t tail = site->total / EVO_TAIL ? site->total / EVO_TAIL : 1;

	for (unsigned b = 0; b < EVO_BUCKETS; b++) {
		unsigned lo = b, hi = b;
		uint64_t weight = 0;
		uint32_t pages = 0;

		if (site->count[b] < dom)
			continue;
		while (lo > 0 && site->count[lo - 1] >= tail)
			lo--;
		while (hi + 1 < EVO_BUCKETS && site->count[hi + 1] >= tail)
			hi++;
		for (unsigned i = lo; i <= hi; i++) {
			weight += site->count[i];
			if (site->maxpg[i] > pages)
				pages = site->maxpg[i];
		}
		b = hi;
		if ((size_t)pages * EVO_PAGE > st->span_max)
			evo_add_cluster(cl, n, (size_t)pages * EVO_PAGE, weight);
	}
}

/*
 * Fit classes to the fitted sites' clusters, and each fitted site's
 * capacity to this generation's peak.  Returns the number of classes.
 */
static unsigned evo_fit(struct evo_state *st, struct evo_genome *out)
{
	struct evo_cluster cl[EVO_MAX_CLUSTERS];
	unsigned n = 0, m = 0;

	for (unsigned s = 0; s < st->nsites; s++) {
		struct evo_site *site = &st->site[s];
		int32_t cap = site->peak < 1 ? 1 : site->peak > EVO_CAP_MAX ? EVO_CAP_MAX : site->peak;

		site->fitcap = 0;
		if (site->total < st->min_samples)
			continue;
		site->fitcap = (uint8_t)cap;
		evo_site_clusters(st, site, cl, &n);
	}
	/* By cover, then merge neighbours: the larger cover holds both. */
	for (unsigned i = 1; i < n; i++) {
		struct evo_cluster v = cl[i];
		unsigned j = i;

		for (; j > 0 && cl[j - 1].cover > v.cover; j--)
			cl[j] = cl[j - 1];
		cl[j] = v;
	}
	for (unsigned i = 0; i < n; m++) {
		size_t low = cl[i].cover;
		struct evo_cluster g = cl[i++];

		while (i < n && cl[i].cover * EVO_MERGE <= low * (EVO_MERGE + 1)) {
			g.cover = cl[i].cover;
			g.weight += cl[i++].weight;
		}
		cl[m] = g;
	}
	/* Keep the heaviest; the order by size stays. */
	while (m > HAK_PARAM_LIST_MAX) {
		unsigned light = 0;

		for (unsigned i = 1; i < m; i++)
			if (cl[i].weight < cl[light].weight)
				light = i;
		for (unsigned i = light; i + 1 < m; i++)
			cl[i] = cl[i + 1];
		m--;
	}
	out->n = m;
	for (unsigned i = 0; i < m; i++)
		out->cls[i] = cl[i].cover;
	return m;
}

/* ---- hooks ---- */

static int evo_init(void *state, const struct hak_policy_env *env)
{
	struct evo_state *st = state;
	const struct hak_param_value *p = env->params;

	st->nsites = env->nsites < EVO_MAX_SITES ? env->nsites : EVO_MAX_SITES;
	st->site = env->meta_alloc(st->nsites * sizeof(*st->site) + 1);
	if (!st->site)
		return -ENOMEM;
	st->span_max = env->span_max;
	st->mutation = p[EVO_P_MUTATION].f;
	st->min_samples = p[EVO_P_MIN_SAMPLES].i > 0 ? (uint64_t)p[EVO_P_MIN_SAMPLES].i : 1;
	/* Halving must leave a fitted site fitted. */
	st->window = st->min_samples * 2 > EVO_WINDOW ? st->min_samples * 2 : EVO_WINDOW;
	st->settle = p[EVO_P_SETTLE].i > 0 ? (unsigned)p[EVO_P_SETTLE].i : 1;
	st->rng = env->seed;
	st->core.n = env->ncache_classes < HAK_PARAM_LIST_MAX ? env->ncache_classes
							      : HAK_PARAM_LIST_MAX;
	for (unsigned i = 0; i < st->core.n; i++)
		st->core.cls[i] = env->cache_classes[i];
	st->gen[0] = st->core;
	st->phase = EVO_WAIT;
	return 0;
}

static enum hak_route evo_route(void *state, size_t size, const struct hak_site *site)
{
	struct evo_state *st = state;

	(void)site;
	return size <= st->span_max ? HAK_ROUTE_SPAN : HAK_ROUTE_CACHE;
}

static struct evo_site *evo_site_of(struct evo_state *st, const struct hak_site *site)
{
	return site && site->index < st->nsites ? &st->site[site->index] : NULL;
}

static bool evo_admit(void *state, size_t size, const struct hak_site *site, unsigned cls)
{
	struct evo_state *st = state;
	struct evo_site *s = evo_site_of(st, site);
	unsigned cap;

	(void)size;
	(void)cls;
	if (!s)
		return true;
	cap = s->cap[st->active];
	return !cap || s->cached < cap;
}

static void evo_count(struct evo_state *st, struct evo_site *s, size_t size)
{
	unsigned b = 0, o;
	uint64_t pages = (size + EVO_PAGE - 1) / EVO_PAGE;

	if (size >= (size_t)1 << EVO_LOW_SHIFT) {
		o = 63 - (unsigned)__builtin_clzll((unsigned long long)size);
		if (o >= EVO_LOW_SHIFT + EVO_OCTAVES)
			b = EVO_BUCKETS - 1;
		else
			b = (o - EVO_LOW_SHIFT) * EVO_SUB +
			    (unsigned)((size >> (o - EVO_SUB_SHIFT)) & (EVO_SUB - 1));
	}
	s->count[b]++;
	if (pages > s->maxpg[b])
		s->maxpg[b] = pages > UINT32_MAX ? UINT32_MAX : (uint32_t)pages;
	if (++s->total < st->window)
		return;
	/* Forget the distant past: the shares stay, a moved workload shows. */
	s->total = 0;
	for (unsigned i = 0; i < EVO_BUCKETS; i++) {
		s->count[i] >>= 1;
		if (!s->count[i])
			s->maxpg[i] = 0;
		s->total += s->count[i];
	}
}

static void evo_on_event(void *state, const struct hak_event *ev)
{
	struct evo_state *st = state;
	struct evo_site *s = ev->type == HAK_EV_PURGE ? NULL : evo_site_of(st, ev->site);
	const struct evo_genome *g = &st->gen[st->active];
	size_t cls;

	switch (ev->type) {
	case HAK_EV_ALLOC:
		st->allocs++;
		st->cost_ns += ev->cost_ns;
		cls = evo_class_of(g, ev->size);
		if (ev->route == HAK_ROUTE_CACHE && cls)
			st->waste_bytes += cls - ev->size;
		if (ev->cache_hit) {
			size_t gone = cls ? cls : ev->size;

			st->cached_bytes -= gone < st->cached_bytes ? gone : st->cached_bytes;
		}
		if (!s || ev->size <= st->span_max)
			break;
		evo_count(st, s, ev->size);
		if (++s->live > s->peak)
			s->peak = s->live;
		if (ev->cache_hit) {
			s->hit = true;
			if (s->cached)
				s->cached--;
		}
		break;
	case HAK_EV_FREE:
		if (ev->cached)
			st->cached_bytes += ev->size;
		if (!s || ev->size <= st->span_max)
			break;
		if (s->live > 0)
			s->live--;
		if (ev->cached)
			s->cached++;
		break;
	case HAK_EV_PURGE: {
		double share = st->cached_bytes > ev->size ?
			(double)ev->size / (double)st->cached_bytes : 1.0;

		for (unsigned i = 0; i < st->nsites; i++) {
			uint32_t *c = &st->site[i].cached;
			uint32_t gone = (uint32_t)((double)*c * share + 0.999999);

			*c -= gone < *c ? gone : *c;
		}
		st->cached_bytes -= ev->size < st->cached_bytes ? ev->size : st->cached_bytes;
		break;
	}
	}
}

static void evo_new_generation(struct evo_state *st)
{
	for (unsigned i = 0; i < st->nsites; i++) {
		struct evo_site *s = &st->site[i];

		s->peak = s->live;
		s->idle = s->hit ? 0 : s->idle + 1;
		s->hit = false;
		if (s->idle >= EVO_FORGET)
			s->cached = 0;
	}
	st->allocs = 0;
	st->cost_ns = 0;
	st->waste_bytes = 0;
}

static void evo_tick(void *state, uint64_t epoch)
{
	struct evo_state *st = state;
	struct evo_genome fit;
	bool measured = st->allocs > 0;
	double cost = 0;

	(void)epoch;
	st->generation++;
	if (measured)
		cost = ((double)st->cost_ns +
			(double)(st->waste_bytes / EVO_PAGE) * EVO_WASTE_NS) / (double)st->allocs;
	if (evo_fit(st, &fit) && (st->phase == EVO_WAIT || !evo_same(&fit, &st->fit))) {
		st->fit = fit;
		st->gen[0] = fit;
		for (unsigned i = 0; i < st->nsites; i++)
			st->site[i].cap[0] = st->site[i].fitcap;
		st->active = 0;
		st->phase = EVO_EVAL_CUR;
		st->settled = false;
		st->stale = 0;
		st->refits++;
		evo_new_generation(st);
		return;
	}
	evo_new_generation(st);
	if (st->phase == EVO_WAIT || !measured)
		return;
	if (st->phase == EVO_EVAL_CUR) {
		st->cur_cost = cost;
		if (st->settled)
			return;
		evo_mutate(st);
		st->active = 1;
		st->phase = EVO_EVAL_MUTANT;
		return;
	}
	if (cost * EVO_IMPROVE < st->cur_cost * (EVO_IMPROVE - 1)) {
		st->gen[0] = st->gen[1];
		for (unsigned i = 0; i < st->nsites; i++)
			st->site[i].cap[0] = st->site[i].cap[1];
		st->cur_cost = cost;
		st->stale = 0;
		st->improvements++;
	} else if (++st->stale >= st->settle) {
		st->settled = true;
	}
	st->active = 0;
	st->phase = EVO_EVAL_CUR;
}

static unsigned evo_classes(void *state, size_t *out, unsigned max)
{
	struct evo_state *st = state;
	struct evo_genome want = st->gen[st->active];

	if (want.n > max)
		want.n = max;
	if (!want.n || evo_same(&want, &st->core))
		return 0;
	for (unsigned i = 0; i < want.n; i++)
		out[i] = want.cls[i];
	st->core = want;
	/* The core empties the cache when the classes move. */
	for (unsigned i = 0; i < st->nsites; i++)
		st->site[i].cached = 0;
	st->cached_bytes = 0;
	return want.n;
}

/* ---- report (hak_report_* helpers: printf may allocate) ---- */

static int evo_report(void *state, char *buf, size_t len)
{
	struct evo_state *st = state;
	const struct evo_genome *g = &st->gen[st->active];
	struct hak_report b = { buf, len, 0 };
	const char *sep = "";

	hak_report_str(&b, "generation=");
	hak_report_u64(&b, st->generation);
	hak_report_str(&b, " settled=");
	hak_report_u64(&b, st->settled);
	hak_report_str(&b, " mutation=");
	hak_report_u64(&b, (uint64_t)(st->mutation * 100.0 + 0.5));
	hak_report_str(&b, "% stale=");
	hak_report_u64(&b, st->stale);
	hak_report_str(&b, " improvements=");
	hak_report_u64(&b, st->improvements);
	hak_report_str(&b, " refits=");
	hak_report_u64(&b, st->refits);
	hak_report_str(&b, " best_cost_ns=");
	hak_report_u64(&b, (uint64_t)(st->cur_cost + 0.5));
	hak_report_str(&b, " classes=");
	for (unsigned i = 0; i < g->n; i++) {
		hak_report_str(&b, i ? "," : "");
		hak_report_size(&b, g->cls[i]);
	}
	hak_report_str(&b, " caps=");
	for (unsigned i = 0; i < st->nsites; i++) {
		if (!st->site[i].cap[st->active])
			continue;
		hak_report_str(&b, sep);
		hak_report_u64(&b, i);
		hak_report_str(&b, ":");
		hak_report_u64(&b, st->site[i].cap[st->active]);
		sep = ",";
	}
	return (int)b.n;
}

static const struct hak_policy_ops evo_ops = {
	.init = evo_init,
	.route = evo_route,
	.admit = evo_admit,
	.classes = evo_classes,
	.on_event = evo_on_event,
	.tick = evo_tick,
	.report = evo_report,
};

const struct hak_policy hak_policy_evo = {
	.name = "evo",
	.summary = "BigCache classes and per-site capacities evolved from call-site size histograms",
	.params = evo_params,
	.state_size = sizeof(struct evo_state),
	.ops = &evo_ops,
};
