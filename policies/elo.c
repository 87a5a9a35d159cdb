// SPDX-License-Identifier: MIT
/*
 * policies/elo.c - epsilon-greedy choice of the mapping threshold among
 * candidates rated like chess players.
 *
 * A candidate is a threshold with the meaning of fixed.threshold: above
 * the span limit, requests below it go through the BigCache and requests
 * at or above it are mapped directly.  One candidate serves a whole
 * episode (elo.episode large allocations); the episode's cost is the mean
 * cost per allocation: the time the core spent serving them (the events'
 * cost_ns) plus the minor page faults taken meanwhile, each charged
 * ELO_FAULT_NS.  Wall time is not used: it mostly measures the program.
 *
 * When an episode ends the next candidate is drawn: the first episodes try
 * every candidate once, largest threshold first (it caches the most, so it
 * is the likeliest to be cheap in time and gives the others a yardstick);
 * then, with probability elo.epsilon, a uniformly random candidate
 * (explore), else the best-rated one (exploit, lowest index on a tie).
 *
 * A candidate that is not the cheapest measured one is on trial: after
 * its 1st, 2nd, 4th, 8th... allocation its running cost is compared with
 * the cheapest measured cost, and once it is elo.abort times dearer the episode ends
 * there and is scored with what was measured.  A bad threshold can be
 * hundreds of times dearer (every block mapped and faulted in afresh), so
 * without this an exploring episode would cost more than all the others
 * together; with it, exploring a bad candidate costs an allocation or two.  At every tick the candidates play: each pair in
 * which at least one side has a fresh cost (an episode finished since the
 * last tick) and both have a cost plays one match, the cheaper winning
 * (a draw when the costs are within ELO_DRAW_PCT percent), and both
 * ratings move by K times the surprise, as in chess.  Stale costs stand in
 * for candidates not served lately, so the one serving is always measured
 * against the field, and a pair with no new evidence does not replay.
 *
 * Every block routed to the BigCache is admitted back to it (the core's
 * default), whatever candidate serves when it is freed: a short trial
 * must not empty the cache the best candidate relies on.
 *
 * The state is fixed arrays (no allocation); the RNG is the policy's own
 * splitmix64 seeded from env->seed, so a run is reproducible.  Hooks are
 * serialised by the core and never call malloc.
 */
#include <errno.h>

#include <hakmem_policy.h>

#define ELO_START	1500.0	/* rating every candidate starts from */
/*
 * One minor fault: the trap, a zeroed 4 KiB page and its mapping, about
 * 250 ns on current x86-64.  It makes a fresh 2 MiB mapping (512 faults)
 * cost 128 us against a few hundred ns for a cache hit.
 */
#define ELO_FAULT_NS	250.0
#define ELO_DRAW_PCT	2.0	/* costs this close (percent) make a draw */
#define ELO_SPREAD	400.0	/* rating gap at which the odds are 10 to 1 */
#define ELO_GAP_MAX	1600.0	/* clamp of that gap: keeps 10^x in range */

struct elo_cand {
	size_t threshold;
	double rating;
	uint64_t episodes;	/* episodes served */
	double cost_sum;	/* costs of the episodes since the last tick */
	unsigned cost_n;
	double cost;		/* latest cost per allocation (ns) */
	bool measured;		/* cost is set */
	bool fresh;		/* cost came in since the last tick */
};

struct elo_state {
	uint64_t (*minor_faults)(void);
	size_t span_max;
	double epsilon;
	double k;
	double abort;		/* trial cut-off, times the cheapest cost; 0: off */
	unsigned episode;	/* allocations per episode */
	unsigned ncand;
	unsigned cur;		/* candidate in force */
	unsigned tried;		/* candidates served once, largest first, at start */
	bool trial;		/* cur is not the cheapest measured candidate */
	uint64_t rng;

	/* The episode running. */
	unsigned ep_allocs;
	uint64_t ep_cost_ns;
	uint64_t ep_faults;	/* minor_faults() when it began */

	uint64_t decisions;	/* candidates drawn after the first round */
	uint64_t explored;	/* draws that explored */
	uint64_t aborted;	/* trial episodes cut short */
	struct elo_cand cand[HAK_PARAM_LIST_MAX];
};

static const struct hak_param elo_params[] = {
	{ "epsilon", HAK_PARAM_FLOAT, "0.02", 0, 1,
	  "exploration rate: share of episodes served by a random candidate" },
	{ "k", HAK_PARAM_FLOAT, "32", 1, 400,
	  "ELO K-factor: rating points at stake in one match" },
	{ "candidates", HAK_PARAM_SIZE_LIST, "256KiB,1MiB,4MiB,16MiB", 0, 1099511627776.0,
	  "candidate thresholds (as fixed.threshold): requests at or above are mapped directly" },
	{ "episode", HAK_PARAM_INT, "256", 1, 100000,
	  "large allocations per episode (one candidate serves a whole episode)" },
	{ "abort", HAK_PARAM_FLOAT, "4", 0, 1000,
	  "a trial episode ends once it costs this many times the cheapest candidate (0: never)" },
	{ NULL, 0, NULL, 0, 0, NULL },
};

enum { ELO_P_EPSILON, ELO_P_K, ELO_P_CANDIDATES, ELO_P_EPISODE, ELO_P_ABORT };

/* ---- RNG: splitmix64 ---- */

static uint64_t elo_next(struct elo_state *st)
{
	uint64_t z = (st->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double elo_unit(struct elo_state *st)
{
	return (double)(elo_next(st) >> 11) * 0x1.0p-53;
}

/* ---- ratings ---- */

/* 2^x for |x| <= 16, without libm (the library links no -lm). */
static double elo_exp2(double x)
{
	int n = (int)x;
	double y, term = 1.0, sum = 1.0;

	if ((double)n > x)
		n--;
	y = (x - n) * 0.69314718055994531;	/* 2^f = e^(f ln 2), f in [0, 1) */
	for (int i = 1; i < 16; i++) {
		term *= y / i;
		sum += term;
	}
	for (; n > 0; n--)
		sum *= 2.0;
	for (; n < 0; n++)
		sum *= 0.5;
	return sum;
}

/* Expected score of a player rated @ra against one rated @rb. */
static double elo_expect(double ra, double rb)
{
	double gap = rb - ra;

	if (gap > ELO_GAP_MAX)
		gap = ELO_GAP_MAX;
	if (gap < -ELO_GAP_MAX)
		gap = -ELO_GAP_MAX;
	/* 10^(gap/400) = 2^(gap/400 * log2(10)) */
	return 1.0 / (1.0 + elo_exp2(gap / ELO_SPREAD * 3.3219280948873623));
}

/* Score of a candidate costing @a against one costing @b: 1, 0.5 or 0. */
static double elo_score(double a, double b)
{
	double hi = a > b ? a : b;
	double d = a > b ? a - b : b - a;

	if (d * 100.0 <= hi * ELO_DRAW_PCT)
		return 0.5;
	return a < b ? 1.0 : 0.0;
}

static unsigned elo_best(const struct elo_state *st)
{
	unsigned best = 0;

	for (unsigned i = 1; i < st->ncand; i++)
		if (st->cand[i].rating > st->cand[best].rating)
			best = i;
	return best;
}

/* Mean cost per allocation of @c so far: the last tick's, or newer. */
static bool elo_known_cost(const struct elo_cand *c, double *cost)
{
	if (c->cost_n) {
		*cost = c->cost_sum / c->cost_n;
		return true;
	}
	*cost = c->cost;
	return c->measured;
}

/* The cheapest known cost of any candidate (false: none measured yet). */
static bool elo_cheapest(const struct elo_state *st, unsigned *who, double *cost)
{
	bool found = false;
	double c;

	for (unsigned i = 0; i < st->ncand; i++) {
		if (elo_known_cost(&st->cand[i], &c) && (!found || c < *cost)) {
			*cost = c;
			*who = i;
			found = true;
		}
	}
	return found;
}

/* Draw the candidate for the next episode. */
static void elo_choose(struct elo_state *st)
{
	unsigned cheapest;
	double ref;

	if (st->tried < st->ncand) {
		st->cur = st->ncand - 1 - st->tried++;
	} else {
		st->decisions++;
		if (elo_unit(st) < st->epsilon) {
			st->explored++;
			st->cur = (unsigned)((elo_next(st) >> 11) % st->ncand);
		} else {
			st->cur = elo_best(st);
		}
	}
	st->trial = elo_cheapest(st, &cheapest, &ref) && cheapest != st->cur;
}

static uint64_t elo_faults(const struct elo_state *st)
{
	return st->minor_faults ? st->minor_faults() : 0;
}

static void elo_end_episode(struct elo_state *st)
{
	struct elo_cand *c = &st->cand[st->cur];
	uint64_t faults = elo_faults(st);
	uint64_t df = faults >= st->ep_faults ? faults - st->ep_faults : 0;

	c->cost_sum += ((double)st->ep_cost_ns + (double)df * ELO_FAULT_NS) / st->ep_allocs;
	c->cost_n++;
	c->episodes++;
	st->ep_allocs = 0;
	st->ep_cost_ns = 0;
	st->ep_faults = faults;
	elo_choose(st);
}

/* ---- hooks ---- */

static int elo_init(void *state, const struct hak_policy_env *env)
{
	struct elo_state *st = state;
	const struct hak_param_value *p = env->params;

	if (!p[ELO_P_CANDIDATES].nlist || p[ELO_P_CANDIDATES].nlist > HAK_PARAM_LIST_MAX ||
	    p[ELO_P_EPISODE].i < 1)
		return -EINVAL;
	st->minor_faults = env->minor_faults;
	st->span_max = env->span_max;
	st->epsilon = p[ELO_P_EPSILON].f;
	st->k = p[ELO_P_K].f;
	st->episode = (unsigned)p[ELO_P_EPISODE].i;
	st->abort = p[ELO_P_ABORT].f;
	st->ncand = p[ELO_P_CANDIDATES].nlist;
	for (unsigned i = 0; i < st->ncand; i++) {
		st->cand[i].threshold = p[ELO_P_CANDIDATES].list[i];
		st->cand[i].rating = ELO_START;
	}
	st->rng = env->seed;
	st->cur = st->ncand - 1;
	st->tried = 1;
	st->ep_faults = elo_faults(st);
	return 0;
}

static enum hak_route elo_route(void *state, size_t size, const struct hak_site *site)
{
	struct elo_state *st = state;

	(void)site;
	if (size <= st->span_max)
		return HAK_ROUTE_SPAN;
	return size < st->cand[st->cur].threshold ? HAK_ROUTE_CACHE : HAK_ROUTE_MAP;
}

static void elo_on_event(void *state, const struct hak_event *ev)
{
	struct elo_state *st = state;

	if (ev->type != HAK_EV_ALLOC)
		return;
	st->ep_cost_ns += ev->cost_ns;
	if (++st->ep_allocs >= st->episode) {
		elo_end_episode(st);
		return;
	}
	/*
	 * Check a trial after its 1st, 2nd, 4th, 8th... allocation: a bad
	 * candidate shows at once, and a fault count (a system call) per
	 * allocation would cost more than the trial saves.
	 */
	if (st->trial && st->abort > 0 && !(st->ep_allocs & (st->ep_allocs - 1))) {
		uint64_t f = elo_faults(st);
		uint64_t df = f >= st->ep_faults ? f - st->ep_faults : 0;
		double run = ((double)st->ep_cost_ns + (double)df * ELO_FAULT_NS) / st->ep_allocs;
		unsigned who;
		double ref;

		if (elo_cheapest(st, &who, &ref) && run > st->abort * ref) {
			st->aborted++;
			elo_end_episode(st);
		}
	}
}

static void elo_tick(void *state, uint64_t epoch)
{
	struct elo_state *st = state;
	double delta[HAK_PARAM_LIST_MAX] = { 0 };

	(void)epoch;
	for (unsigned i = 0; i < st->ncand; i++) {
		struct elo_cand *c = &st->cand[i];

		if (!c->cost_n)
			continue;
		c->cost = c->cost_sum / c->cost_n;
		c->cost_sum = 0;
		c->cost_n = 0;
		c->measured = true;
		c->fresh = true;
	}
	/* Deltas from the ratings before the round: the order of play is moot. */
	for (unsigned i = 0; i < st->ncand; i++) {
		struct elo_cand *a = &st->cand[i];

		for (unsigned j = i + 1; j < st->ncand; j++) {
			struct elo_cand *b = &st->cand[j];
			double d;

			if (!a->measured || !b->measured || !(a->fresh || b->fresh))
				continue;
			d = st->k * (elo_score(a->cost, b->cost) - elo_expect(a->rating, b->rating));
			delta[i] += d;
			delta[j] -= d;
		}
	}
	for (unsigned i = 0; i < st->ncand; i++) {
		st->cand[i].rating += delta[i];
		st->cand[i].fresh = false;
	}
}

/* ---- report (hak_report_* helpers: printf may allocate) ---- */

static int elo_report(void *state, char *buf, size_t len)
{
	struct elo_state *st = state;
	struct hak_report b = { buf, len, 0 };

	hak_report_str(&b, "epsilon=");
	hak_report_fix(&b, st->epsilon, 3);
	hak_report_str(&b, " k=");
	hak_report_fix(&b, st->k, 1);
	hak_report_str(&b, " episode=");
	hak_report_u64(&b, st->episode);
	hak_report_str(&b, " current=");
	hak_report_size(&b, st->cand[st->cur].threshold);
	hak_report_str(&b, " decisions=");
	hak_report_u64(&b, st->decisions);
	hak_report_str(&b, " explored=");
	hak_report_u64(&b, st->explored);
	hak_report_str(&b, " aborted=");
	hak_report_u64(&b, st->aborted);
	for (unsigned i = 0; i < st->ncand; i++) {
		const struct elo_cand *c = &st->cand[i];

		hak_report_str(&b, " threshold");
		hak_report_u64(&b, i);
		hak_report_str(&b, "=");
		hak_report_size(&b, c->threshold);
		hak_report_str(&b, " rating");
		hak_report_u64(&b, i);
		hak_report_str(&b, "=");
		hak_report_fix(&b, c->rating, 1);
		hak_report_str(&b, " episodes");
		hak_report_u64(&b, i);
		hak_report_str(&b, "=");
		hak_report_u64(&b, c->episodes);
	}
	return (int)b.n;
}

static const struct hak_policy_ops elo_ops = {
	.init = elo_init,
	.route = elo_route,
	.on_event = elo_on_event,
	.tick = elo_tick,
	.report = elo_report,
};

const struct hak_policy hak_policy_elo = {
	.name = "elo",
	.summary = "epsilon-greedy choice among candidate thresholds, rated by measured cost",
	.params = elo_params,
	.state_size = sizeof(struct elo_state),
	.ops = &elo_ops,
};
