// SPDX-License-Identifier: MIT
/*
 * test/policy/harness.c - the fake core of harness.h.
 *
 * #included once by each test program (the Makefile builds each
 * test_*.c alone).  A contract violation by the policy fails the test
 * at once, with what was wrong.
 */
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

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

/* The core's decisions before the first decide() (core/policy.c). */
#define H_MAP_MIN_DEFAULT	TiB
#define H_CACHE_MAX_DEFAULT	(4 * MiB)

static struct harness *h_live;

static void *h_env_meta_alloc(size_t size)
{
	void *p;

	h_require(h_live && h_live->nmeta < H_MAX_META, "meta_alloc: more than %d calls",
		  H_MAX_META);
	p = calloc(1, size ? size : 1);
	h_require(p, "meta_alloc: out of memory");
	h_live->meta[h_live->nmeta++] = p;
	return p;
}

/* ---- parameters ---- */

int h_parse_size(const char *text, size_t *out)
{
	static const struct {
		const char *suffix;
		unsigned shift;
	} unit[] = {
		{ "KiB", 10 }, { "MiB", 20 }, { "GiB", 30 }, { "TiB", 40 },
		{ "KB", 10 }, { "MB", 20 }, { "GB", 30 }, { "TB", 40 },
		{ "K", 10 }, { "M", 20 }, { "G", 30 }, { "T", 40 }, { "B", 0 }, { "", 0 },
	};
	unsigned long long v;
	char *end;

	while (isspace((unsigned char)*text))
		text++;
	if (!isdigit((unsigned char)*text))
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno)
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
		if (unit[i].shift && v > (SIZE_MAX >> unit[i].shift))
			return -EINVAL;
		*out = (size_t)v << unit[i].shift;
		return 0;
	}
	return -EINVAL;
}

static int h_parse_int(const char *text, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(text, &end, 10);
	while (isspace((unsigned char)*end))
		end++;
	return end == text || *end || errno ? -EINVAL : 0;
}

int h_parse(enum hak_param_type type, const char *text, struct hak_param_value *out)
{
	char buf[256], *tok, *save, *end;
	long long i;

	memset(out, 0, sizeof(*out));
	switch (type) {
	case HAK_PARAM_BOOL:
		if (!strcmp(text, "true") || !strcmp(text, "1"))
			out->b = true;
		else if (strcmp(text, "false") && strcmp(text, "0"))
			return -EINVAL;
		return 0;
	case HAK_PARAM_INT:
		return h_parse_int(text, &out->i);
	case HAK_PARAM_FLOAT:
		errno = 0;
		out->f = strtod(text, &end);
		return end == text || *end || errno ? -EINVAL : 0;
	case HAK_PARAM_SIZE:
		return h_parse_size(text, &out->size);
	case HAK_PARAM_SIZE_LIST:
	case HAK_PARAM_INT_LIST:
		if (strlen(text) >= sizeof(buf))
			return -EINVAL;
		strcpy(buf, text);
		for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			size_t *item = &out->list[out->nlist];

			if (out->nlist == HAK_PARAM_LIST_MAX)
				return -EINVAL;
			if (type == HAK_PARAM_SIZE_LIST) {
				if (h_parse_size(tok, item))
					return -EINVAL;
			} else {
				if (h_parse_int(tok, &i) || i < 0)
					return -EINVAL;
				*item = (size_t)i;
			}
			out->nlist++;
		}
		return out->nlist ? 0 : -EINVAL;
	}
	return -EINVAL;
}

struct harness *h_create(const struct hak_policy *pol, uint64_t seed)
{
	struct harness *h = calloc(1, sizeof(*h));

	ck_assert_ptr_nonnull(h);
	ck_assert_ptr_nonnull(pol);
	ck_assert_ptr_nonnull(pol->ops);
	h->pol = pol;
	for (const struct hak_param *p = pol->params; p && p->name; p++) {
		ck_assert_uint_lt(h->nparams, H_MAX_PARAMS);
		ck_assert_msg(!h_parse(p->type, p->def, &h->params[h->nparams]),
			      "%s.%s: default '%s' does not parse", pol->name, p->name, p->def);
		h->nparams++;
	}
	/* The core's defaults (core/options.c, configs/defconfig). */
	h->env = (struct hak_policy_env){
		.meta_alloc = h_env_meta_alloc,
		.seed = seed,
		.nsites = H_MAX_SITES,
		.params = h->params,
		.purge_delay_ms = 100,
		.max_dirty = GiB,
		.break_even_ms = 100,
	};
	h->epoch_events = 64;
	h->span_max = MiB;
	h->now_ns = 1000000000;	/* not 0: a policy may take 0 for "never" */
	h_live = h;
	return h;
}

void h_destroy(struct harness *h)
{
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

/* The schema entry of @name, which must be of type @type (lists: either). */
static const struct hak_param *h_schema(struct harness *h, const char *name,
					enum hak_param_type type)
{
	const struct hak_param *p = &h->pol->params[h_param(h, name) - h->params];
	bool list = type == HAK_PARAM_SIZE_LIST || type == HAK_PARAM_INT_LIST;

	ck_assert(!h->started);
	if (list)
		ck_assert(p->type == HAK_PARAM_SIZE_LIST || p->type == HAK_PARAM_INT_LIST);
	else
		ck_assert_int_eq(p->type, type);
	return p;
}

/* The core validates parameters: a policy never sees a value out of range. */
static void h_in_range(const struct hak_param *p, double v)
{
	ck_assert_msg(v >= p->min && v <= p->max, "%s: %g out of [%g, %g]", p->name, v, p->min,
		      p->max);
}

void h_set_bool(struct harness *h, const char *name, bool v)
{
	h_schema(h, name, HAK_PARAM_BOOL);
	h_param(h, name)->b = v;
}

void h_set_int(struct harness *h, const char *name, long long v)
{
	h_in_range(h_schema(h, name, HAK_PARAM_INT), (double)v);
	h_param(h, name)->i = v;
}

void h_set_float(struct harness *h, const char *name, double v)
{
	h_in_range(h_schema(h, name, HAK_PARAM_FLOAT), v);
	h_param(h, name)->f = v;
}

void h_set_size(struct harness *h, const char *name, size_t v)
{
	h_in_range(h_schema(h, name, HAK_PARAM_SIZE), (double)v);
	h_param(h, name)->size = v;
}

void h_set_list(struct harness *h, const char *name, unsigned n, const size_t *v)
{
	const struct hak_param *p = h_schema(h, name, HAK_PARAM_INT_LIST);
	struct hak_param_value *val = h_param(h, name);

	ck_assert_uint_le(n, HAK_PARAM_LIST_MAX);
	for (unsigned k = 0; k < n; k++) {
		h_in_range(p, (double)v[k]);
		ck_assert(!k || v[k] > v[k - 1]);
		val->list[k] = v[k];
	}
	val->nlist = n;
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

/* As core/policy.c's decide(): hand over the window, clamp, start a new window. */
static void h_call_decide(struct harness *h)
{
	struct hak_heap_info info = h->win;
	struct hak_decisions d = h->dec;
	uint64_t ms = h->now_ns / 1000000;

	info.elapsed_ms = ms - h->last_ms;
	h->last_ms = ms;
	if (h->pol->ops->decide)
		h->pol->ops->decide(h->state, &info, &d);
	h_check_decisions(h, &d);
	h->raw = d;
	if (d.keep_bytes > h->env.max_dirty)
		d.keep_bytes = h->env.max_dirty;
	if (d.map_min <= h->span_max)
		d.map_min = h->span_max + 1;
	h->dec = d;
	h->decides++;
	memset(&h->win, 0, sizeof(h->win));
}

int h_start(struct harness *h)
{
	int err = 0;

	ck_assert(!h->started);
	h_live = h;
	h->state = calloc(1, h->pol->state_size ? h->pol->state_size : 1);
	ck_assert_ptr_nonnull(h->state);
	h->dec = (struct hak_decisions){
		.decay_ms = h->env.purge_delay_ms,
		.keep_bytes = h->env.max_dirty,
		.map_min = H_MAP_MIN_DEFAULT,
		.cache_max = H_CACHE_MAX_DEFAULT,
	};
	h->last_ms = h->now_ns / 1000000;
	if (h->pol->ops->init)
		err = h->pol->ops->init(h->state, &h->env);
	ck_assert_msg(err <= 0, "%s: init returned %d", h->pol->name, err);
	if (err)
		return err;	/* the core falls back to its defaults: no more hooks */
	h->started = true;
	h_call_decide(h);
	return 0;
}

void h_advance_ms(struct harness *h, uint64_t ms)
{
	h->now_ns += ms * 1000000;
}

const struct hak_decisions *h_decide(struct harness *h, uint64_t ms)
{
	h_require(h->started, "harness: h_start() first");
	h_live = h;
	h_advance_ms(h, ms);
	h_call_decide(h);
	return &h->dec;
}

/* ---- the window ---- */

unsigned h_age_bucket(uint64_t age_ms)
{
	unsigned b = 0;

	while (b + 1 < HAK_AGE_BUCKETS && age_ms >= hak_age_bucket_ms(b + 1))
		b++;
	return b;
}

void h_reuse_as(struct harness *h, uint64_t bytes, uint64_t age_ms, bool hit)
{
	unsigned b = h_age_bucket(age_ms);

	h->win.freed += bytes;
	if (hit)
		h->win.hit[b] += bytes;
	else
		h->win.miss[b] += bytes;
}

void h_reuse(struct harness *h, uint64_t bytes, uint64_t age_ms)
{
	h_reuse_as(h, bytes, age_ms, age_ms < h->dec.decay_ms);
}

void h_unused(struct harness *h, uint64_t bytes)
{
	h->win.freed += bytes;
}

uint64_t h_mix_step(struct harness *h, const struct h_mix *m)
{
	for (unsigned i = 0; i < H_MIX_AGES; i++)
		if (m->bytes[i])
			h_reuse(h, m->bytes[i], m->age_ms[i]);
	h_unused(h, m->unused);
	return h_decide(h, HAK_DECIDE_MS)->decay_ms;
}

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

unsigned h_site(struct harness *h)
{
	unsigned i = h->nsites++;

	ck_assert_uint_lt(i, H_MAX_SITES);
	ck_assert_uint_lt(i, h->env.nsites);
	h->site[i].addr = (const void *)(uintptr_t)(0x400000 + 0x40 * i);
	h->site[i].index = i;
	return i;
}

bool h_admit(struct harness *h, unsigned site)
{
	h_require(h->started, "harness: h_start() first");
	h_require(site < h->nsites, "harness: no site %u", site);
	if (!h->pol->ops->admit)
		return true;
	return h->pol->ops->admit(h->state, &h->site[site]);
}

/* The core's site table keeps these; policies read them. */
static void h_site_count(struct hak_site *s, const struct hak_event *ev)
{
	unsigned b = 0;

	if (ev->type == HAK_EV_FREE) {
		s->frees++;
		s->lifetime_ms += ev->lifetime_ms;
		return;
	}
	while (b + 1 < HAK_SITE_HIST && (ev->size >> (HAK_SITE_HIST_SHIFT + b + 1)))
		b++;
	s->allocs++;
	s->bytes += ev->size;
	s->hist[b]++;
}

static void h_tick(struct harness *h)
{
	h->epoch++;
	if (h->pol->ops->tick)
		h->pol->ops->tick(h->state, h->epoch);
	h_call_decide(h);
	/* The core asks again for the sites that had events; every site must answer. */
	for (unsigned i = 0; i < h->nsites; i++)
		h->admitted[i] = h_admit(h, i);
}

void h_event(struct harness *h, unsigned site, struct hak_event ev)
{
	h_require(h->started, "harness: h_start() first");
	h_require(site < h->nsites, "harness: no site %u", site);
	h_require(ev.type == HAK_EV_ALLOC || ev.type == HAK_EV_FREE, "harness: event type %d",
		  ev.type);
	h_live = h;
	ev.site = &h->site[site];
	ev.now_ns = h->now_ns;
	if (!h->seen[site]) {
		h->seen[site] = true;
		h->admitted[site] = h_admit(h, site);
	}
	h_site_count(&h->site[site], &ev);
	if (h->pol->ops->on_event)
		h->pol->ops->on_event(h->state, &ev);
	if (++h->events % h->epoch_events == 0)
		h_tick(h);
}

/* The route the core would take for @size under the decisions in force. */
static enum hak_route h_route_of(const struct harness *h, size_t size)
{
	if (size <= h->span_max)
		return HAK_ROUTE_SPAN;
	return size >= h->dec.map_min ? HAK_ROUTE_MAP : HAK_ROUTE_HEAP;
}

void h_alloc(struct harness *h, unsigned site, size_t size)
{
	h_event(h, site, (struct hak_event){
		.type = HAK_EV_ALLOC, .size = size, .route = h_route_of(h, size), .cost_ns = 1000,
	});
}

void h_free(struct harness *h, unsigned site, size_t size, uint64_t lifetime_ms)
{
	h_event(h, site, (struct hak_event){
		.type = HAK_EV_FREE, .size = size, .route = h_route_of(h, size),
		.lifetime_ms = lifetime_ms,
	});
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
	n = h->pol->ops->report(h->state, buf, len);
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

const char *h_report(struct harness *h)
{
	static const size_t cuts[] = { 0, 1, 2, 9, 33, 64 };
	int n;

	h_require(h->started, "harness: h_start() first");
	h->report[0] = '\0';
	if (!h->pol->ops->report)
		return h->report;
	memset(h->report, 0x7f, sizeof(h->report));
	n = h->pol->ops->report(h->state, h->report, sizeof(h->report));
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

bool h_report_num(struct harness *h, const char *key, double *out)
{
	const char *v = h_report_find(h, key);
	char *end;

	if (!v)
		return false;
	*out = strtod(v, &end);
	return end != v && (*end == ' ' || !*end);
}

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
