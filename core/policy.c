// SPDX-License-Identifier: MIT
/*
 * core/policy.c - the policy registry, the active policy's hooks, the
 * call-site table and the events that feed the policy.
 *
 * The registry lists the policies compiled in (one Kconfig symbol each);
 * hak_opts.policy names the active one.  Its hooks are called through its
 * ops table, only from the large path, under policy_lock: a policy never
 * needs locks of its own.  A hook that is NULL gets the default documented
 * in include/hakmem_policy.h.
 *
 * The site table maps a call site's address to a slot (open addressing,
 * bigcache.sites slots out of CONFIG_HAKMEM_SITES); when it is full, new
 * sites share the slot their hash lands on.  It counts allocations,
 * frees, bytes, a size histogram and lifetimes per site.
 *
 * Learning is driven by events, never by a timer: every policy.epoch
 * large events the policy's tick() runs, and then its classes() may move
 * the BigCache's class boundaries.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "policy.h"
#include "options.h"
#include "backend.h"
#include "stats.h"
#include "heap.h"
#include "large_header.h"

extern const struct hak_policy hak_policy_fixed;
extern const struct hak_policy hak_policy_elo;
extern const struct hak_policy hak_policy_evo;

const struct hak_policy *const hak_policies[] = {
#if IS_ENABLED(CONFIG_HAKMEM_POLICY_FIXED)
	&hak_policy_fixed,
#endif
#if IS_ENABLED(CONFIG_HAKMEM_POLICY_ELO)
	&hak_policy_elo,
#endif
#if IS_ENABLED(CONFIG_HAKMEM_POLICY_EVO)
	&hak_policy_evo,
#endif
	NULL
};

#define NR_POLICIES (IS_ENABLED(CONFIG_HAKMEM_POLICY_FIXED) + \
		     IS_ENABLED(CONFIG_HAKMEM_POLICY_ELO) + IS_ENABLED(CONFIG_HAKMEM_POLICY_EVO))

static pthread_mutex_t policy_lock __hak_cacheline_aligned = PTHREAD_MUTEX_INITIALIZER;
static const struct hak_policy *active;
static void *active_state;
/*
 * Usable before hak_policy_init(): the profile loader allocates large
 * buffers while options are still being read.  Until then there is no
 * policy and no BigCache class, so requests are spans or mappings.
 */
static struct hak_policy_env env = {
	.span_max = (size_t)1 << 20,
	.epoch_events = CONFIG_HAKMEM_POLICY_EPOCH,
};
static struct hak_site sites[CONFIG_HAKMEM_SITES];
static uint64_t events, epoch;
static uint64_t last_purge_ms;

/*
 * The active policy's hooks, or NULL.  With one policy compiled in, the
 * table is named at compile time rather than loaded from @active, so the
 * link-time optimiser turns every hook call into a direct call.
 */
static inline const struct hak_policy_ops *pops(void)
{
	if (!active)
		return NULL;
	return NR_POLICIES == 1 ? hak_policies[0]->ops : active->ops;
}

const struct hak_policy *hak_policy_find(const char *name)
{
	for (int i = 0; hak_policies[i]; i++)
		if (!strcmp(hak_policies[i]->name, name))
			return hak_policies[i];
	return NULL;
}

int hak_policy_index(const struct hak_policy *p)
{
	for (int i = 0; hak_policies[i]; i++)
		if (hak_policies[i] == p)
			return i;
	return -1;
}

void hak_policy_lock(void)
{
	pthread_mutex_lock(&policy_lock);
}

void hak_policy_unlock(void)
{
	pthread_mutex_unlock(&policy_lock);
}

/* ---- what the core lends policies ---- */

static void *meta_alloc(size_t size)
{
	return hak_backend->reserve(HAK_ALIGN_UP(size ? size : 1, hak_backend->page_size()), 0);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t minor_faults(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_SELF, &ru) ? 0 : (uint64_t)ru.ru_minflt;
}

void hak_policy_init(void)
{
	int idx;

	hak_bc_init();
	env = (struct hak_policy_env){
		.meta_alloc = meta_alloc,
		.now_ns = now_ns,
		.minor_faults = minor_faults,
		.seed = hak_opts.seed,
		.span_max = hak_opts.span_max,
		.nsites = hak_opts.cache_sites,
		.epoch_events = hak_opts.epoch_events,
		.cache_max_bytes = hak_opts.cache_max_bytes,
		.cache_per_class = hak_opts.cache_per_class,
		.cache_classes = hak_opts.cache_classes,
		.ncache_classes = hak_opts.ncache_classes,
	};
	active = hak_opts.policy;
	idx = hak_policy_index(active);
	if (!active || idx < 0)
		return;
	env.params = hak_opts.params[idx];
	active_state = meta_alloc(active->state_size);
	if (!active_state ||
	    (pops()->init && pops()->init(active_state, &env) < 0)) {
		hak_warn("policy %s failed to start; using the core's defaults", active->name);
		active = NULL;
	}
}

/* ---- call sites ---- */

struct hak_site *hak_site_get(const void *addr)
{
	unsigned n = hak_opts.cache_sites ? hak_opts.cache_sites : 1;
	uint64_t h = (uint64_t)(uintptr_t)addr * 0x9e3779b97f4a7c15ULL;
	unsigned i = (unsigned)(h >> 32) % n;

	for (unsigned probe = 0; probe < n; probe++) {
		struct hak_site *s = &sites[(i + probe) % n];

		if (s->addr == addr)
			return s;
		if (!s->addr) {
			s->addr = addr;
			s->index = (i + probe) % n;
			return s;
		}
	}
	return &sites[i];	/* full: share the home slot */
}

static void site_count_alloc(struct hak_site *s, size_t size)
{
	unsigned b = 0;

	while (b + 1 < HAK_SITE_HIST && (size >> (HAK_SITE_HIST_SHIFT + b + 1)))
		b++;
	s->allocs++;
	s->bytes += size;
	s->hist[b]++;
}

/* ---- hooks ---- */

enum hak_route hak_policy_route(size_t size, struct hak_site *site)
{
	enum hak_route r;

	const struct hak_policy_ops *o = pops();

	if (o && o->route)
		r = o->route(active_state, size, site);
	else
		r = size <= env.span_max ? HAK_ROUTE_SPAN : HAK_ROUTE_CACHE;
	if (r == HAK_ROUTE_SPAN && size > env.span_max)
		r = HAK_ROUTE_CACHE;
	return r;
}

static void deliver(const struct hak_event *ev)
{
	const struct hak_policy_ops *o = pops();

	if (o && o->on_event)
		o->on_event(active_state, ev);
	if (++events % env.epoch_events)
		return;
	epoch++;
	if (!active)
		return;
	if (o->tick)
		o->tick(active_state, epoch);
	if (o->classes) {
		size_t cls[HAK_PARAM_LIST_MAX];
		unsigned n = o->classes(active_state, cls, HAK_PARAM_LIST_MAX);
		bool ok = n > 0 && n <= HAK_PARAM_LIST_MAX;

		/* Increasing, and no class the budget could never hold. */
		for (unsigned k = 0; ok && k < n; k++)
			ok = cls[k] > (k ? cls[k - 1] : 0) && cls[k] <= hak_opts.cache_max_bytes;
		if (ok)
			hak_bc_set_classes(cls, n);
	}
}

/* Give cached memory back: as the policy says, or by age and budget. */
static void maybe_purge(uint64_t now_ns_v)
{
	uint64_t now_ms = now_ns_v / 1000000;
	struct hak_purge_info info;
	size_t want;

	if (now_ms - last_purge_ms < (hak_opts.purge_delay_ms + 1) / 2 || !hak_bc_cached_bytes())
		return;
	last_purge_ms = now_ms;
	info = (struct hak_purge_info){
		.cached_bytes = hak_bc_cached_bytes(),
		.budget_bytes = hak_opts.cache_max_bytes,
		.now_ms = now_ms,
	};
	uint64_t oldest = hak_bc_oldest_ms();

	info.oldest_age_ms = oldest <= now_ms ? now_ms - oldest : 0;
	size_t freed;

	if (pops() && pops()->purge) {
		want = pops()->purge(active_state, &info);
		freed = want ? hak_bc_release_oldest(want, hak_opts.purge_batch) : 0;
	} else {
		/* Blocks idle for longer than the delay; the budget is kept by put. */
		freed = info.oldest_age_ms >= hak_opts.purge_delay_ms ?
			hak_bc_release_aged(now_ms - hak_opts.purge_delay_ms, hak_opts.purge_batch) : 0;
	}
	if (!freed)
		return;

	struct hak_event ev = { .type = HAK_EV_PURGE, .size = freed, .now_ns = now_ns_v };

	hak_stat_add(HAK_STAT_BC_PURGED, freed);
	deliver(&ev);
}

/*
 * From the small slow paths, now and then: cached blocks idle past the
 * delay go back to the OS even when the program makes no more large
 * requests, so RSS falls after a burst of them too.
 */
void hak_policy_idle_purge(void)
{
	if (!hak_bc_cached_bytes() || pthread_mutex_trylock(&policy_lock))
		return;
	maybe_purge(now_ns());
	pthread_mutex_unlock(&policy_lock);
}

void hak_policy_alloc_done(size_t size, struct hak_site *site, enum hak_route route,
			   bool cache_hit, uint64_t cost_ns, uint64_t t)
{
	struct hak_event ev = {
		.type = HAK_EV_ALLOC, .size = size, .site = site, .route = route,
		.cache_hit = cache_hit, .cost_ns = cost_ns, .now_ns = t,
	};

	site_count_alloc(site, size);
	deliver(&ev);
	maybe_purge(t);
}

void hak_policy_flush_local(struct hak_heap *h)
{
	uint64_t t;

	if (!h->npend)
		return;
	t = now_ns();
	for (unsigned i = 0; i < h->npend; i++) {
		struct hak_pending *pd = &h->pend[i];

		switch (pd->type) {
		case HAK_PEND_HIT:
			hak_policy_alloc_done(pd->size, pd->site, HAK_ROUTE_CACHE, true, 0, t);
			break;
		case HAK_PEND_ALLOC:
			hak_policy_alloc_done(pd->size, pd->site, (enum hak_route)pd->route, false,
					      pd->cost_ns, pd->now_ns);
			break;
		case HAK_PEND_FREE:
			/* A span: never cached, so no block to hand over. */
			hak_policy_free(NULL, pd->size, pd->site_addr, -1, pd->birth_ms);
			break;
		}
	}
	h->npend = 0;
}

void hak_bc_local_detach(struct hak_heap *h)
{
	pthread_mutex_lock(&policy_lock);
	hak_policy_flush_local(h);
	hak_bc_local_drain(h);
	pthread_mutex_unlock(&policy_lock);
}

bool hak_policy_free(void *block, size_t size, const void *site_addr, int cls, uint64_t birth_ms)
{
	uint64_t t = now_ns();
	struct hak_site *site = hak_site_get(site_addr);
	uint64_t now_ms = t / 1000000;
	bool kept = false;

	site->frees++;
	site->lifetime_ms += now_ms >= birth_ms ? now_ms - birth_ms : 0;
	if (cls >= 0 && (size_t)cls < HAK_PARAM_LIST_MAX &&
	    hak_bc_class_size((unsigned)cls) <= size &&
	    (!pops() || !pops()->admit ||
	     pops()->admit(active_state, size, site, (unsigned)cls)))
		kept = hak_bc_keep(hak_heap_tls, block, site, (unsigned)cls, now_ms);

	struct hak_event ev = {
		.type = HAK_EV_FREE, .size = size, .site = site, .cached = kept,
		.lifetime_ms = now_ms >= birth_ms ? now_ms - birth_ms : 0, .now_ns = t,
	};

	deliver(&ev);
	maybe_purge(t);
	return kept;
}

/* A reader of the policy's state sees its own thread's events first. */
static void flush_own(void)
{
	struct hak_heap *h = hak_heap_tls;

	if (h != &hak_heap_empty)
		hak_policy_flush_local(h);
}

void hak_policy_each_site(void (*fn)(const struct hak_site *site, void *arg), void *arg)
{
	hak_policy_lock();
	flush_own();
	for (unsigned i = 0; i < (unsigned)hak_opts.cache_sites && i < CONFIG_HAKMEM_SITES; i++)
		if (sites[i].addr)
			fn(&sites[i], arg);
	hak_policy_unlock();
}

int hak_policy_report(char *buf, size_t len)
{
	int n;

	hak_policy_lock();
	flush_own();
	n = snprintf(buf, len, "policy=%s epoch=%llu bigcache_bytes=%zu",
		     active ? active->name : "none", (unsigned long long)epoch,
		     hak_bc_cached_bytes());
	if (n >= 0 && (size_t)n < len && pops() && pops()->report) {
		buf[n++] = ' ';
		n += pops()->report(active_state, buf + n, len - (size_t)n);
	}
	hak_policy_unlock();
	return n;
}
