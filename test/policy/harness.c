// SPDX-License-Identifier: MIT
/*
 * test/policy/harness.c - the fake core of harness.h.
 *
 * #included once by each test program (the Makefile builds each
 * test_*.c alone).  Contract violations by the policy (a route out of
 * range, classes not increasing, a report not NUL-terminated) fail the
 * test at once.
 */
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/*
 * Check's ck_assert records every passing check (a write per call): the
 * hot paths here check with this instead, which costs nothing until it
 * fails.
 */
#define h_require(cond, ...)						\
	do {								\
		if (!(cond))						\
			ck_abort_msg(__VA_ARGS__);			\
	} while (0)

static struct harness *h_live;

static uint64_t h_env_now(void)
{
	return h_live ? h_live->now_ns : 0;
}

static uint64_t h_env_faults(void)
{
	return h_live ? h_live->faults : 0;
}

static void *h_env_meta_alloc(size_t size)
{
	void *p;

	h_require(h_live && h_live->nmeta < H_MAX_META, "meta_alloc: too many calls");
	p = calloc(1, size ? size : 1);
	h_require(p, "meta_alloc: out of memory");
	h_live->meta[h_live->nmeta++] = p;
	return p;
}

/* ---- parameters ---- */

int h_parse_size(const char *text, size_t *out)
{
	static const struct { const char *suffix; unsigned shift; } unit[] = {
		{ "KiB", 10 }, { "MiB", 20 }, { "GiB", 30 }, { "TiB", 40 },
		{ "KB", 10 }, { "MB", 20 }, { "GB", 30 }, { "TB", 40 },
		{ "K", 10 }, { "M", 20 }, { "G", 30 }, { "T", 40 }, { "B", 0 }, { "", 0 },
	};
	char *end;
	unsigned long long v;

	while (isspace((unsigned char)*text))
		text++;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (end == text || errno)
		return -EINVAL;
	for (unsigned i = 0; i < sizeof(unit) / sizeof(unit[0]); i++) {
		size_t n = strlen(unit[i].suffix);
		const char *rest = end + n;

		if (strncmp(end, unit[i].suffix, n))
			continue;
		while (isspace((unsigned char)*rest))
			rest++;
		if (*rest)
			continue;
		*out = (size_t)v << unit[i].shift;
		return 0;
	}
	return -EINVAL;
}

int h_parse(enum hak_param_type type, const char *text, struct hak_param_value *out)
{
	char buf[256], *end, *tok, *save;

	memset(out, 0, sizeof(*out));
	switch (type) {
	case HAK_PARAM_BOOL:
		if (!strcmp(text, "true") || !strcmp(text, "1"))
			out->b = true;
		else if (strcmp(text, "false") && strcmp(text, "0"))
			return -EINVAL;
		return 0;
	case HAK_PARAM_INT:
		errno = 0;
		out->i = strtoll(text, &end, 10);
		return end == text || *end || errno ? -EINVAL : 0;
	case HAK_PARAM_FLOAT:
		errno = 0;
		out->f = strtod(text, &end);
		return end == text || *end || errno ? -EINVAL : 0;
	case HAK_PARAM_SIZE:
		return h_parse_size(text, &out->size);
	case HAK_PARAM_SIZE_LIST:
		if (strlen(text) >= sizeof(buf))
			return -EINVAL;
		strcpy(buf, text);
		for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			if (out->nlist == HAK_PARAM_LIST_MAX ||
			    h_parse_size(tok, &out->list[out->nlist]))
				return -EINVAL;
			out->nlist++;
		}
		return out->nlist ? 0 : -EINVAL;
	}
	return -EINVAL;
}

struct harness *h_create(const struct hak_policy *pol, uint64_t seed)
{
	static const size_t classes[] = { 1 * MiB, 2 * MiB, 4 * MiB, 8 * MiB };
	struct harness *h = calloc(1, sizeof(*h));

	ck_assert_ptr_nonnull(h);
	ck_assert_ptr_nonnull(pol);
	h->pol = pol;
	for (const struct hak_param *p = pol->params; p && p->name; p++) {
		ck_assert_uint_lt(h->nparams, H_MAX_PARAMS);
		ck_assert_msg(!h_parse(p->type, p->def, &h->params[h->nparams]),
			      "%s.%s: default '%s' does not parse", pol->name, p->name, p->def);
		h->nparams++;
	}
	h->env = (struct hak_policy_env){
		.meta_alloc = h_env_meta_alloc,
		.now_ns = h_env_now,
		.minor_faults = h_env_faults,
		.seed = seed,
		.span_max = 1 * MiB,
		.nsites = H_MAX_SITES,
		.epoch_events = 64,
		.params = h->params,
		.cache_max_bytes = 256 * MiB,
		.cache_per_class = 4,
		.cache_classes = h->classes,
	};
	h_set_classes(h, 4, classes);
	h->cache_budget = 256 * MiB;
	h->per_class = 4;
	h->price = (struct h_prices){
		.span_ns = 300, .hit_ns = 200, .map_ns = 5000, .free_ns = 100,
	};
	h->now_ns = 1000000000;
	h_live = h;
	return h;
}

void h_destroy(struct harness *h)
{
	if (h->started && h->pol->ops->exit)
		h->pol->ops->exit(h->state);
	for (unsigned i = 0; i < h->nmeta; i++)
		free(h->meta[i]);
	free(h->state);
	if (h_live == h)
		h_live = NULL;
	free(h);
}

struct hak_param_value *h_param(struct harness *h, const char *name)
{
	for (unsigned i = 0; i < h->nparams; i++)
		if (!strcmp(h->pol->params[i].name, name))
			return &h->params[i];
	ck_abort_msg("%s has no parameter %s", h->pol->name, name);
	return NULL;
}

static const struct hak_param *h_schema(struct harness *h, const char *name)
{
	return &h->pol->params[h_param(h, name) - h->params];
}

void h_set_float(struct harness *h, const char *name, double v)
{
	ck_assert_int_eq(h_schema(h, name)->type, HAK_PARAM_FLOAT);
	h_param(h, name)->f = v;
}

void h_set_int(struct harness *h, const char *name, long long v)
{
	ck_assert_int_eq(h_schema(h, name)->type, HAK_PARAM_INT);
	h_param(h, name)->i = v;
}

void h_set_size(struct harness *h, const char *name, size_t v)
{
	ck_assert_int_eq(h_schema(h, name)->type, HAK_PARAM_SIZE);
	h_param(h, name)->size = v;
}

void h_set_list(struct harness *h, const char *name, unsigned n, const size_t *v)
{
	struct hak_param_value *p = h_param(h, name);

	ck_assert_int_eq(h_schema(h, name)->type, HAK_PARAM_SIZE_LIST);
	ck_assert_uint_le(n, HAK_PARAM_LIST_MAX);
	if (n)
		memcpy(p->list, v, n * sizeof(*v));
	p->nlist = n;
}

void h_set_classes(struct harness *h, unsigned n, const size_t *v)
{
	ck_assert_uint_le(n, HAK_PARAM_LIST_MAX);
	if (n)
		memcpy(h->classes, v, n * sizeof(*v));
	h->nclasses = n;
	h->env.ncache_classes = n;
}

int h_start(struct harness *h)
{
	ck_assert(!h->started);
	h_live = h;
	h->state = calloc(1, h->pol->state_size ? h->pol->state_size : 1);
	ck_assert_ptr_nonnull(h->state);
	h->started = true;
	return h->pol->ops->init ? h->pol->ops->init(h->state, &h->env) : 0;
}

unsigned h_site(struct harness *h)
{
	unsigned i = h->nsites++;

	ck_assert_uint_lt(i, H_MAX_SITES);
	h->site[i].addr = (const void *)(uintptr_t)(0x400000 + 0x40 * i);
	h->site[i].index = i;
	return i;
}

/* ---- the fake BigCache ---- */

size_t h_class_of(const struct harness *h, size_t size)
{
	if (!h->nclasses)
		return (size + H_PAGE - 1) & ~(size_t)(H_PAGE - 1);
	for (unsigned c = 0; c < h->nclasses; c++)
		if (size <= h->classes[c])
			return h->classes[c];
	return 0;
}

static int h_class_index(const struct harness *h, size_t size)
{
	if (!h->nclasses)
		return 0;
	for (unsigned c = 0; c < h->nclasses; c++)
		if (size <= h->classes[c])
			return (int)c;
	return -1;
}

static void h_cache_drop(struct harness *h, unsigned i)
{
	h->cached_bytes -= h->cache[i].size;
	memmove(&h->cache[i], &h->cache[i + 1], (h->ncached - i - 1) * sizeof(h->cache[0]));
	h->ncached--;
}

/* Newest first, as the core takes them. */
static bool h_cache_take(struct harness *h, unsigned site, size_t size)
{
	for (unsigned i = h->ncached; i-- > 0;) {
		if (h->cache[i].site == site && h->cache[i].size == size) {
			h_cache_drop(h, i);
			return true;
		}
	}
	return false;
}

static bool h_cache_put(struct harness *h, unsigned site, size_t size, int cls)
{
	unsigned same = 0;

	if (size > h->cache_budget || !h->per_class)
		return false;
	for (unsigned i = 0; i < h->ncached; i++)
		same += h->cache[i].site == site && h->cache[i].size == size;
	if (same == h->per_class) {
		for (unsigned i = 0; i < h->ncached; i++) {
			if (h->cache[i].site == site && h->cache[i].size == size) {
				h_cache_drop(h, i);
				break;
			}
		}
	}
	while (h->ncached && (h->cached_bytes + size > h->cache_budget || h->ncached == H_MAX_CACHED))
		h_cache_drop(h, 0);
	h->cache[h->ncached++] = (struct h_cached){ size, site, cls, h->events };
	h->cached_bytes += size;
	return true;
}

/* ---- events ---- */

static void h_deliver(struct harness *h, const struct hak_event *ev);

static void h_purge(struct harness *h)
{
	size_t bytes = 0;

	if (!h->purge_age)
		return;
	while (h->ncached && h->cache[0].stamp + h->purge_age <= h->events) {
		bytes += h->cache[0].size;
		h_cache_drop(h, 0);
		h->purged++;
	}
	if (bytes) {
		struct hak_event ev = { .type = HAK_EV_PURGE, .size = bytes, .now_ns = h->now_ns };

		h_deliver(h, &ev);
	}
}

void h_tick(struct harness *h)
{
	size_t cls[HAK_PARAM_LIST_MAX];
	unsigned n;

	h->epoch++;
	if (h->pol->ops->tick)
		h->pol->ops->tick(h->state, h->epoch);
	if (!h->pol->ops->classes)
		return;
	n = h->pol->ops->classes(h->state, cls, HAK_PARAM_LIST_MAX);
	h_require(n <= HAK_PARAM_LIST_MAX, "classes() returned %u", n);
	if (!n)
		return;
	for (unsigned k = 0; k < n; k++) {
		h_require(cls[k] > 0, "class %u is 0", k);
		h_require(!k || cls[k] > cls[k - 1], "classes not increasing at %u", k);
	}
	/* As the core: cached blocks were sized for the old classes. */
	while (h->ncached)
		h_cache_drop(h, 0);
	h_set_classes(h, n, cls);
	h->class_changes++;
	h->last_class_change = h->epoch;
}

static void h_deliver(struct harness *h, const struct hak_event *ev)
{
	if (h->pol->ops->on_event)
		h->pol->ops->on_event(h->state, ev);
	if (++h->events % h->env.epoch_events == 0)
		h_tick(h);
}

void h_event(struct harness *h, struct hak_event ev)
{
	h_require(h->started, "harness: h_start() first");
	h_live = h;
	ev.now_ns = h->now_ns;
	h_deliver(h, &ev);
}

void h_advance(struct harness *h, uint64_t ns)
{
	h->now_ns += ns;
}

void h_add_faults(struct harness *h, uint64_t n)
{
	h->faults += n;
}

static size_t h_pages(size_t size)
{
	return (size + H_PAGE - 1) / H_PAGE;
}

int h_alloc(struct harness *h, unsigned site, size_t size)
{
	const struct hak_policy_ops *ops = h->pol->ops;
	struct hak_site *s = &h->site[site];
	enum hak_route route;
	struct h_block *b = NULL;
	uint64_t cost;
	bool hit = false;
	unsigned bucket = 0;
	int id;

	h_require(h->started, "harness: h_start() first");
	h_require(site < h->nsites, "harness: no site %u", site);
	h_live = h;
	h_purge(h);
	for (id = 0; id < H_MAX_BLOCKS; id++) {
		if (!h->block[id].live) {
			b = &h->block[id];
			break;
		}
	}
	h_require(b, "harness: more than %d blocks live", H_MAX_BLOCKS);

	route = ops->route ? ops->route(h->state, size, s) :
		size <= h->env.span_max ? HAK_ROUTE_SPAN : HAK_ROUTE_CACHE;
	h_require(route >= HAK_ROUTE_SPAN && route <= HAK_ROUTE_MAP, "route %d out of range", route);
	if (route == HAK_ROUTE_SPAN && size > h->env.span_max)
		route = HAK_ROUTE_CACHE;
	*b = (struct h_block){ .request = size, .site = site, .cls = -1, .route = route,
			       .live = true, .birth_ns = h->now_ns };
	if (route == HAK_ROUTE_CACHE) {
		b->cls = h_class_index(h, size);
		if (b->cls < 0)
			b->route = route = HAK_ROUTE_MAP;
	}
	switch (route) {
	case HAK_ROUTE_SPAN:
		b->size = size;
		cost = h->price.span_ns;
		h->spans++;
		break;
	case HAK_ROUTE_CACHE:
		b->size = h_class_of(h, size);
		hit = h_cache_take(h, site, b->size);
		if (hit) {
			cost = h->price.hit_ns;
			h->hits++;
		} else {
			cost = h->price.map_ns;
			h->faults += h_pages(b->size);
			h->misses++;
		}
		break;
	default:
		b->size = h_pages(size) * H_PAGE;
		cost = h->price.map_ns;
		h->faults += h_pages(b->size);
		h->maps++;
		break;
	}
	cost += h->price.hold_ns_per_mib * h->cached_bytes / MiB;
	h->now_ns += cost;
	h->allocs++;

	while (bucket + 1 < HAK_SITE_HIST && (size >> (HAK_SITE_HIST_SHIFT + bucket + 1)))
		bucket++;
	s->allocs++;
	s->bytes += size;
	s->hist[bucket]++;

	struct hak_event ev = {
		.type = HAK_EV_ALLOC, .size = size, .site = s, .route = route,
		.cache_hit = hit, .cost_ns = cost, .now_ns = h->now_ns,
	};

	h_deliver(h, &ev);
	return id;
}

void h_free(struct harness *h, int id)
{
	const struct hak_policy_ops *ops = h->pol->ops;
	struct h_block *b;
	struct hak_site *s;
	bool kept = false;
	uint64_t life_ms;

	h_require(id >= 0 && id < H_MAX_BLOCKS, "harness: no block %d", id);
	b = &h->block[id];
	h_require(b->live, "harness: block %d freed twice", id);
	h_live = h;
	h_purge(h);
	s = &h->site[b->site];
	life_ms = (h->now_ns - b->birth_ns) / 1000000;
	s->frees++;
	s->lifetime_ms += life_ms;
	/* As the core: only blocks mapped at their (still current) class size. */
	if (b->route == HAK_ROUTE_CACHE && b->cls >= 0 && h_class_index(h, b->size) >= 0 &&
	    h_class_of(h, b->size) == b->size) {
		unsigned cls = (unsigned)h_class_index(h, b->size);

		if (!ops->admit || ops->admit(h->state, b->size, s, cls)) {
			kept = h_cache_put(h, b->site, b->size, (int)cls);
			h->admitted++;
		} else {
			h->refused++;
		}
	}
	b->live = false;
	h->now_ns += h->price.free_ns;
	h->frees++;

	struct hak_event ev = {
		.type = HAK_EV_FREE, .size = b->size, .site = s, .cached = kept,
		.lifetime_ms = life_ms, .now_ns = h->now_ns,
	};

	h_deliver(h, &ev);
}

/* ---- decisions ---- */

enum hak_route h_route(struct harness *h, size_t size, unsigned site)
{
	enum hak_route r;

	h_require(h->started, "harness: h_start() first");
	if (!h->pol->ops->route)
		return size <= h->env.span_max ? HAK_ROUTE_SPAN : HAK_ROUTE_CACHE;
	r = h->pol->ops->route(h->state, size, &h->site[site]);
	if (r == HAK_ROUTE_SPAN && size > h->env.span_max)
		r = HAK_ROUTE_CACHE;
	return r;
}

bool h_admit(struct harness *h, size_t size, unsigned site)
{
	int cls = h_class_index(h, size);

	h_require(h->started, "harness: h_start() first");
	if (!h->pol->ops->admit)
		return true;
	return h->pol->ops->admit(h->state, size, &h->site[site], cls < 0 ? 0 : (unsigned)cls);
}

size_t h_threshold(struct harness *h, const size_t *probes, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (probes[i] > h->env.span_max && h_route(h, probes[i], 0) == HAK_ROUTE_MAP)
			return probes[i];
	return 0;
}

const char *h_report(struct harness *h)
{
	int n;

	h->report[0] = '\0';
	if (!h->pol->ops->report)
		return h->report;
	memset(h->report, 0x7f, sizeof(h->report));
	n = h->pol->ops->report(h->state, h->report, sizeof(h->report));
	h_require(n >= 0 && (size_t)n < sizeof(h->report), "report() returned %d", n);
	h_require(h->report[n] == '\0', "report: length %d is not where the NUL is", n);
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

bool h_report_num(struct harness *h, const char *key, double *out)
{
	const char *v = h_report_find(h, key);
	char *end;

	if (!v)
		return false;
	*out = strtod(v, &end);
	return end != v;
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
