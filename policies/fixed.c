// SPDX-License-Identifier: MIT
/*
 * policies/fixed.c - configured settings, no learning.
 *
 * Freed memory of the page heap stays committed for purge.delay_ms, and
 * at most pageheap.max_dirty of it at once (the core's shared options);
 * requests at or above fixed.map_min get a mapping of their own; freed
 * blocks up to fixed.cache_max, from any call site, may wait in the
 * freeing thread's BigCache (which takes them while the page heap's lock
 * is contended).  Every decision is made once, at start-up, and never
 * changes.
 */
#include <hakmem_policy.h>

struct fixed_state {
	uint64_t decay_ms;
	size_t keep_bytes;
	size_t map_min;
	size_t cache_max;
	uint64_t events[2];	/* allocations and frees seen */
};

static const struct hak_param fixed_params[] = {
	{ "map_min", HAK_PARAM_SIZE, "1GiB", 0, 1099511627776.0,
	  "requests at or above this get a mapping of their own, returned on free" },
	{ "cache_max", HAK_PARAM_SIZE, "4MiB", 0, 1099511627776.0,
	  "freed blocks up to this size wait in the thread's BigCache for its next request" },
	{ NULL, 0, NULL, 0, 0, NULL },
};

static int fixed_init(void *state, const struct hak_policy_env *env)
{
	struct fixed_state *st = state;

	st->decay_ms = env->purge_delay_ms;
	st->keep_bytes = env->max_dirty;
	st->map_min = env->params[0].size;
	st->cache_max = env->params[1].size;
	return 0;
}

static void fixed_decide(void *state, const struct hak_heap_info *info, struct hak_decisions *out)
{
	struct fixed_state *st = state;

	(void)info;
	out->decay_ms = st->decay_ms;
	out->keep_bytes = st->keep_bytes;
	out->map_min = st->map_min;
	out->cache_max = st->cache_max;
}

static void fixed_on_event(void *state, const struct hak_event *ev)
{
	struct fixed_state *st = state;

	st->events[ev->type == HAK_EV_FREE]++;
}

static int fixed_report(void *state, char *buf, size_t len)
{
	struct fixed_state *st = state;
	struct hak_report b = { buf, len, 0 };

	hak_report_str(&b, "allocs=");
	hak_report_u64(&b, st->events[0]);
	hak_report_str(&b, " frees=");
	hak_report_u64(&b, st->events[1]);
	return (int)b.n;
}

static const struct hak_policy_ops fixed_ops = {
	.init = fixed_init,
	.decide = fixed_decide,
	.on_event = fixed_on_event,
	.report = fixed_report,
};

const struct hak_policy hak_policy_fixed = {
	.name = "fixed",
	.params = fixed_params,
	.state_size = sizeof(struct fixed_state),
	.ops = &fixed_ops,
};
HAK_REGISTER_POLICY(hak_policy_fixed);
