// SPDX-License-Identifier: MIT
/*
 * policies/elo.c - candidate decay delays, rated like chess players by
 * what each would have cost.
 *
 * A candidate is a decay delay: how long freed memory of the page heap
 * stays committed before it goes back to the OS.  At every decide() the
 * page heap reports how much memory was freed and at what ages freed
 * memory was taken again; elo folds that into a window that forgets with
 * a time constant of elo.window_ms, and prices every candidate on it with
 * the model the SDK gives (hak_decay_cost: keeping memory costs resident
 * bytes over time, returning memory that is wanted again costs as much as
 * keeping it pageheap.break_even_ms).  Every candidate is priced on the
 * same window, so there is nothing to explore: each decide() every pair
 * of candidates plays one match, the cheaper winning (a draw when the
 * costs are within ELO_DRAW_PCT percent), and both ratings move by K
 * times the surprise, as in chess.  The best-rated candidate serves until
 * the next decide().  Ratings are kept within ELO_SPREAD_MAX of the best,
 * so that a candidate that was bad for a long time can lead again within
 * a few decisions once the workload changes (and recentred on
 * ELO_START, so that they stay readable).
 *
 * The window's length is the trade-off between following a change of
 * workload and riding it out: with a window of a second, a program that
 * alternates short phases is served by the delay that is best for its
 * mix, and does not pay page faults at each phase's start for a delay
 * tuned to the phase before.
 *
 * elo decides only the delay; the mapping threshold and the BigCache's
 * largest block are its parameters, the budget is pageheap.max_dirty, and
 * every site is admitted to the BigCache.  The state is fixed arrays (no
 * allocation); hooks are serialised by the core and never call malloc.
 */
#include <errno.h>

#include <hakmem_policy.h>

#define ELO_START	1500.0	/* rating every candidate starts from */
#define ELO_DRAW_PCT	2.0	/* costs this close (percent) make a draw */
#define ELO_SCALE	400.0	/* rating gap at which the odds are 10 to 1 */
#define ELO_SPREAD_MAX	200.0	/* no rating falls further below the best */
#define ELO_MIN_BYTES	4096.0	/* less freed and reused in the window: no match */

struct elo_cand {
	uint64_t delay_ms;
	double rating;
	double cost;		/* on the latest window */
	uint64_t served;	/* decisions it served */
};

struct elo_state {
	double k;
	double window_ms;
	uint64_t break_even_ms;
	size_t keep_bytes;
	size_t map_min;
	size_t cache_max;
	unsigned ncand;
	unsigned cur;		/* candidate in force */
	struct hak_reuse reuse;
	uint64_t decisions;	/* decide() calls that played */
	uint64_t changes;	/* times the candidate in force changed */
	uint64_t events[2];	/* allocations and frees seen */
	struct elo_cand cand[HAK_PARAM_LIST_MAX];
};

static const struct hak_param elo_params[] = {
	{ "candidates", HAK_PARAM_INT_LIST, "0,10,25,50,100,250,500,1000", 0, 3600000,
	  "decay delays to choose from, in ms" },
	{ "k", HAK_PARAM_FLOAT, "32", 1, 400,
	  "ELO K-factor: rating points at stake in one match" },
	{ "window_ms", HAK_PARAM_INT, "1000", 1, 3600000,
	  "time constant over which the reuse the candidates are priced on fades" },
	{ "map_min", HAK_PARAM_SIZE, "1GiB", 0, 1099511627776.0,
	  "requests at or above this get a mapping of their own, returned on free" },
	{ "cache_max", HAK_PARAM_SIZE, "4MiB", 0, 1099511627776.0,
	  "freed blocks up to this size wait in the thread's BigCache for its next request" },
	{ NULL, 0, NULL, 0, 0, NULL },
};

enum { ELO_P_CANDIDATES, ELO_P_K, ELO_P_WINDOW, ELO_P_MAP_MIN, ELO_P_CACHE_MAX };

/* ---- ratings ---- */

/* Expected score of a player rated @ra against one rated @rb. */
static double elo_expect(double ra, double rb)
{
	/* 10^(gap/400) = 2^(gap/400 * log2(10)); the gap is at most ELO_SPREAD_MAX. */
	return 1.0 / (1.0 + hak_exp2((rb - ra) / ELO_SCALE * 3.3219280948873623));
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

/* The best-rated candidate; on a tie, the one in force, then the shortest delay. */
static unsigned elo_best(const struct elo_state *st)
{
	unsigned best = st->cur;

	for (unsigned i = 0; i < st->ncand; i++)
		if (st->cand[i].rating > st->cand[best].rating)
			best = i;
	return best;
}

/* One round: every pair plays once on the window's costs. */
static void elo_play(struct elo_state *st)
{
	double delta[HAK_PARAM_LIST_MAX] = { 0 }, top, mean = 0;

	for (unsigned i = 0; i < st->ncand; i++)
		st->cand[i].cost = hak_decay_cost(&st->reuse, st->cand[i].delay_ms,
						  st->break_even_ms);
	/* Deltas from the ratings before the round: the order of play is moot. */
	for (unsigned i = 0; i < st->ncand; i++) {
		for (unsigned j = i + 1; j < st->ncand; j++) {
			struct elo_cand *a = &st->cand[i], *b = &st->cand[j];
			double d = st->k * (elo_score(a->cost, b->cost) - elo_expect(a->rating, b->rating));

			delta[i] += d;
			delta[j] -= d;
		}
	}
	top = -1e300;
	for (unsigned i = 0; i < st->ncand; i++) {
		st->cand[i].rating += delta[i];
		top = st->cand[i].rating > top ? st->cand[i].rating : top;
	}
	/* Raise the stragglers, then take back what that added, from everyone. */
	for (unsigned i = 0; i < st->ncand; i++) {
		if (st->cand[i].rating < top - ELO_SPREAD_MAX)
			st->cand[i].rating = top - ELO_SPREAD_MAX;
		mean += st->cand[i].rating / st->ncand;
	}
	for (unsigned i = 0; i < st->ncand; i++)
		st->cand[i].rating += ELO_START - mean;
	st->decisions++;
}

/* ---- hooks ---- */

static int elo_init(void *state, const struct hak_policy_env *env)
{
	struct elo_state *st = state;
	const struct hak_param_value *p = env->params;
	uint64_t best = UINT64_MAX;

	if (!p[ELO_P_CANDIDATES].nlist || p[ELO_P_CANDIDATES].nlist > HAK_PARAM_LIST_MAX ||
	    p[ELO_P_WINDOW].i < 1)
		return -EINVAL;
	st->k = p[ELO_P_K].f;
	st->window_ms = (double)p[ELO_P_WINDOW].i;
	st->map_min = p[ELO_P_MAP_MIN].size;
	st->cache_max = p[ELO_P_CACHE_MAX].size;
	st->break_even_ms = env->break_even_ms;
	st->keep_bytes = env->max_dirty;
	st->ncand = p[ELO_P_CANDIDATES].nlist;
	/* Until there is something to go by, the candidate nearest the default delay. */
	for (unsigned i = 0; i < st->ncand; i++) {
		uint64_t d = p[ELO_P_CANDIDATES].list[i];
		uint64_t gap = d > env->purge_delay_ms ? d - env->purge_delay_ms
						       : env->purge_delay_ms - d;

		st->cand[i].delay_ms = d;
		st->cand[i].rating = ELO_START;
		if (gap < best) {
			best = gap;
			st->cur = i;
		}
	}
	return 0;
}

static void elo_decide(void *state, const struct hak_heap_info *info, struct hak_decisions *out)
{
	struct elo_state *st = state;
	double seen;
	unsigned next;

	/* Weight of the past after elapsed ms: w / (w + elapsed), about e^-t/w. */
	hak_reuse_add(&st->reuse, info, st->window_ms / (st->window_ms + (double)info->elapsed_ms));
	seen = st->reuse.freed;
	for (unsigned b = 0; b < HAK_AGE_BUCKETS; b++)
		seen += st->reuse.reused[b];
	if (seen >= ELO_MIN_BYTES) {
		elo_play(st);
		next = elo_best(st);
		st->changes += next != st->cur;
		st->cur = next;
	}
	st->cand[st->cur].served++;
	out->decay_ms = st->cand[st->cur].delay_ms;
	out->keep_bytes = st->keep_bytes;
	out->map_min = st->map_min;
	out->cache_max = st->cache_max;
}

static void elo_on_event(void *state, const struct hak_event *ev)
{
	struct elo_state *st = state;

	st->events[ev->type == HAK_EV_FREE]++;
}

/* ---- report (hak_report_* helpers: printf may allocate) ---- */

static int elo_report(void *state, char *buf, size_t len)
{
	struct elo_state *st = state;
	struct hak_report b = { buf, len, 0 };

	hak_report_str(&b, "k=");
	hak_report_fix(&b, st->k, 1);
	hak_report_str(&b, " window_ms=");
	hak_report_u64(&b, (uint64_t)st->window_ms);
	hak_report_str(&b, " current_ms=");
	hak_report_u64(&b, st->cand[st->cur].delay_ms);
	hak_report_str(&b, " decisions=");
	hak_report_u64(&b, st->decisions);
	hak_report_str(&b, " changes=");
	hak_report_u64(&b, st->changes);
	hak_report_str(&b, " allocs=");
	hak_report_u64(&b, st->events[0]);
	hak_report_str(&b, " frees=");
	hak_report_u64(&b, st->events[1]);
	for (unsigned i = 0; i < st->ncand; i++) {
		const struct elo_cand *c = &st->cand[i];

		hak_report_str(&b, " delay");
		hak_report_u64(&b, i);
		hak_report_str(&b, "=");
		hak_report_u64(&b, c->delay_ms);
		hak_report_str(&b, " rating");
		hak_report_u64(&b, i);
		hak_report_str(&b, "=");
		hak_report_fix(&b, c->rating, 1);
		hak_report_str(&b, " served");
		hak_report_u64(&b, i);
		hak_report_str(&b, "=");
		hak_report_u64(&b, c->served);
	}
	return (int)b.n;
}

static const struct hak_policy_ops elo_ops = {
	.init = elo_init,
	.decide = elo_decide,
	.on_event = elo_on_event,
	.report = elo_report,
};

const struct hak_policy hak_policy_elo = {
	.name = "elo",
	.params = elo_params,
	.state_size = sizeof(struct elo_state),
	.ops = &elo_ops,
};
HAK_REGISTER_POLICY(hak_policy_elo);
