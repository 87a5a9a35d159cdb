// SPDX-License-Identifier: MIT
/*
 * policies/fixed.c - one configured threshold, no learning.
 *
 * Requests up to the span limit are carved from superslab spans; above it,
 * requests below fixed.threshold go through the BigCache (kept on free,
 * within the core's capacity and budget), and requests at or above it are
 * mapped and unmapped directly.  Every block routed to the BigCache is
 * admitted back to it on free (admit is left to the core's default); the
 * cache's limits are the shared bigcache.* options.
 */
#include <hakmem_policy.h>

struct fixed_state {
	size_t threshold;
	size_t span_max;
	uint64_t routed[3];
};

static const struct hak_param fixed_params[] = {
	{ "threshold", HAK_PARAM_SIZE, "4MiB", 0, 1099511627776.0,
	  "requests at or above this are mapped directly, never cached" },
	{ NULL, 0, NULL, 0, 0, NULL },
};

static int fixed_init(void *state, const struct hak_policy_env *env)
{
	struct fixed_state *st = state;

	st->threshold = env->params[0].size;
	st->span_max = env->span_max;
	return 0;
}

static enum hak_route fixed_route(void *state, size_t size, const struct hak_site *site)
{
	struct fixed_state *st = state;
	enum hak_route r;

	(void)site;
	if (size <= st->span_max)
		r = HAK_ROUTE_SPAN;
	else if (size < st->threshold)
		r = HAK_ROUTE_CACHE;
	else
		r = HAK_ROUTE_MAP;
	st->routed[r]++;
	return r;
}

static int fixed_report(void *state, char *buf, size_t len)
{
	struct fixed_state *st = state;
	struct hak_report b = { buf, len, 0 };

	hak_report_str(&b, "threshold=");
	hak_report_size(&b, st->threshold);
	hak_report_str(&b, " routed_span=");
	hak_report_u64(&b, st->routed[HAK_ROUTE_SPAN]);
	hak_report_str(&b, " routed_cache=");
	hak_report_u64(&b, st->routed[HAK_ROUTE_CACHE]);
	hak_report_str(&b, " routed_map=");
	hak_report_u64(&b, st->routed[HAK_ROUTE_MAP]);
	return (int)b.n;
}

static const struct hak_policy_ops fixed_ops = {
	.init = fixed_init,
	.route = fixed_route,
	.report = fixed_report,
};

const struct hak_policy hak_policy_fixed = {
	.name = "fixed",
	.summary = "a configured threshold between the BigCache and direct mapping",
	.params = fixed_params,
	.state_size = sizeof(struct fixed_state),
	.ops = &fixed_ops,
};
