// SPDX-License-Identifier: MIT
/*
 * core/policy.c - the active policy's hooks, the call-site table, and the
 * decisions the large path reads.
 *
 * Policies register themselves (the registry is walked in options.c, which
 * sets hak_opts.policy to the active one).  Its hooks are called through its
 * ops table under policy_lock: a policy never needs locks of its own.  A
 * hook that is NULL gets the default documented in
 * include/hakmem_policy.h.
 *
 * The large path never waits for this lock to serve a block: it reads
 * the decisions in force (map_min, and one admit flag per call site) as
 * plain atomics, and queues its events on the thread's heap; a thread
 * delivers them here in a batch when its queue is full (hak_policy_flush).
 * Learning is driven by those events and by the slow paths, never by a
 * timer: every policy.epoch events the policy's tick() runs, then
 * decide() with what the page heap did meanwhile (its decisions go to the
 * page heap at once) and admit() for every site that had events; and the
 * slow paths ask for a decide() every HAK_DECIDE_MS (hak_policy_poll), so
 * that decay follows the workload even when large events are few.
 *
 * The site table maps a call site's address to a slot (open addressing,
 * policy.sites slots out of CONFIG_HAKMEM_SITES); when it is full, new
 * sites share the slot their hash lands on.  Slots are claimed under the
 * lock and never given up, so the large path can look one up without it
 * (site_key[]).  It counts allocations, frees, bytes, a size histogram and
 * lifetimes per site.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "options.h"
#include "backend.h"
#include "stats.h"
#include "heap.h"
#include "pageheap.h"

/* Until a policy decides otherwise: no mapping of its own below 1 TiB, and
 * blocks up to 4 MiB may wait in the fronts. */
#define MAP_MIN_DEFAULT ((size_t)1 << 40)
#define CACHE_MAX_DEFAULT ((size_t)4 << 20)

static pthread_mutex_t policy_lock __hak_cacheline_aligned = PTHREAD_MUTEX_INITIALIZER;
static const struct hak_policy *active;
static void *active_state;
static struct hak_policy_env env;
static struct hak_site sites[CONFIG_HAKMEM_SITES];
static uint64_t events, epoch;
static uint64_t site_events[(CONFIG_HAKMEM_SITES + 63) / 64];	/* bit: events this epoch */

/* What the large path reads without the lock. */
static _Atomic size_t map_min __hak_read_mostly = MAP_MIN_DEFAULT;
static _Atomic uint64_t decay_ms __hak_read_mostly = CONFIG_HAKMEM_PURGE_DELAY_MS;
static _Atomic size_t cache_max __hak_read_mostly;
static _Atomic(const void *) site_key[CONFIG_HAKMEM_SITES];
static _Atomic uint8_t site_admit[CONFIG_HAKMEM_SITES];
static bool admit_unseen __hak_read_mostly = true;	/* no admit hook: every site */

/* The decisions in force, and the page heap's counters at the last decide(). */
static struct hak_decisions decisions;
static struct hak_ph_stats ph_last;
static _Atomic uint64_t decide_ms;	/* the last decide(); read without the lock */
static struct hak_policy_probe *probe;	/* tests only */

/* The active policy's hooks, or NULL. */
static inline const struct hak_policy_ops *pops(void)
{
	return active ? active->ops : NULL;
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

static void *meta_reserve(size_t size)
{
	return hak_backend->reserve(HAK_ALIGN_UP(size ? size : 1, hak_backend->page_size()), 0);
}

static void *meta_alloc(size_t size)
{
	if (probe)
		probe->meta_allocs++;
	return meta_reserve(size);
}

/* ---- decisions ---- */

/* Ask the policy (lock held), and hand what it decided to the page heap. */
static void decide(void)
{
	struct hak_ph_stats now;
	struct hak_heap_info info;
	struct hak_ph_params pp;
	uint64_t ms = hak_now_ms();

	if (probe) {
		info = probe->window;
		probe->window = (struct hak_heap_info){ 0 };
	} else {
		hak_ph_get_stats(&now);
		info = (struct hak_heap_info){ .freed = now.freed - ph_last.freed };
		for (unsigned b = 0; b < HAK_AGE_BUCKETS; b++) {
			info.hit[b] = now.hit[b] - ph_last.hit[b];
			info.miss[b] = now.miss[b] - ph_last.miss[b];
		}
		ph_last = now;
	}
	info.elapsed_ms = ms - atomic_load_explicit(&decide_ms, memory_order_relaxed);
	atomic_store_explicit(&decide_ms, ms, memory_order_relaxed);
	if (pops() && pops()->decide)
		pops()->decide(active_state, &info, &decisions);
	if (probe) {
		probe->raw = decisions;
		probe->decides += pops() && pops()->decide;
	}
	if (decisions.keep_bytes > hak_opts.max_dirty)
		decisions.keep_bytes = hak_opts.max_dirty;
	if (decisions.map_min <= hak_opts.span_max)
		decisions.map_min = hak_opts.span_max + 1;
	pp = (struct hak_ph_params){
		.delay_ms = decisions.decay_ms,
		.keep_bytes = decisions.keep_bytes,
		.huge_min = hak_opts.huge_pages ? hak_opts.huge_pages : SIZE_MAX,
	};
	hak_ph_set_params(&pp);
	atomic_store_explicit(&map_min, decisions.map_min, memory_order_relaxed);
	atomic_store_explicit(&decay_ms, decisions.decay_ms, memory_order_relaxed);
	atomic_store_explicit(&cache_max, decisions.cache_max, memory_order_relaxed);
	if (probe)
		probe->dec = decisions;
}

void hak_policy_probe(struct hak_policy_probe *p)
{
	probe = p;
}

void hak_policy_decide(void)
{
	hak_policy_flush();
	pthread_mutex_lock(&policy_lock);
	decide();
	pthread_mutex_unlock(&policy_lock);
}

size_t hak_policy_cache_max(void)
{
	return atomic_load_explicit(&cache_max, memory_order_relaxed);
}

uint64_t hak_policy_decay_ms(void)
{
	return atomic_load_explicit(&decay_ms, memory_order_relaxed);
}

void hak_policy_poll(void)
{
	if (hak_now_ms() - atomic_load_explicit(&decide_ms, memory_order_relaxed) < HAK_DECIDE_MS ||
	    pthread_mutex_trylock(&policy_lock))
		return;
	if (hak_now_ms() - atomic_load_explicit(&decide_ms, memory_order_relaxed) >= HAK_DECIDE_MS)
		decide();
	pthread_mutex_unlock(&policy_lock);
}

size_t hak_policy_map_min(void)
{
	return atomic_load_explicit(&map_min, memory_order_relaxed);
}

static HAK_TLS struct {
	struct hak_pending ev[HAK_PENDING];
	unsigned n;
} queue;

int hak_policy_init(void)
{
	int idx, err = 0;

	env = (struct hak_policy_env){
		.meta_alloc = meta_alloc,
		.seed = hak_opts.seed,
		.nsites = hak_opts.sites,
		.purge_delay_ms = hak_opts.purge_delay_ms,
		.max_dirty = hak_opts.max_dirty,
		.break_even_ms = hak_opts.break_even_ms,
	};
	decisions = (struct hak_decisions){
		.decay_ms = hak_opts.purge_delay_ms,
		.keep_bytes = hak_opts.max_dirty,
		.map_min = MAP_MIN_DEFAULT,
		.cache_max = CACHE_MAX_DEFAULT,
	};
	memset(sites, 0, sizeof(sites));
	memset(site_key, 0, sizeof(site_key));
	memset(site_admit, 0, sizeof(site_admit));
	memset(site_events, 0, sizeof(site_events));
	events = epoch = queue.n = 0;
	atomic_store_explicit(&decide_ms, hak_now_ms(), memory_order_relaxed);
	hak_ph_get_stats(&ph_last);
	active = hak_opts.policy;
	idx = hak_policy_index(active);
	if (active && idx >= 0) {
		env.params = hak_opts.params[idx];
		active_state = meta_reserve(active->state_size);
		err = active_state ? pops()->init ? pops()->init(active_state, &env) : 0 : -ENOMEM;
		if (err < 0) {
			hak_warn("policy %s failed to start; using the core's defaults", active->name);
			active = NULL;
		}
	} else {
		active = NULL;
	}
	if (probe)
		probe->state = active ? active_state : NULL;
	admit_unseen = !pops() || !pops()->admit;
	pthread_mutex_lock(&policy_lock);
	decide();
	pthread_mutex_unlock(&policy_lock);
	return err;
}

/* ---- call sites ---- */

static unsigned site_home(const void *addr, unsigned n)
{
	return (unsigned)(((uint64_t)(uintptr_t)addr * 0x9e3779b97f4a7c15ULL) >> 32) % n;
}

static void site_admit_set(struct hak_site *s)
{
	bool ok = !pops() || !pops()->admit || pops()->admit(active_state, s);

	atomic_store_explicit(&site_admit[s->index], ok, memory_order_relaxed);
}

/* The slot of @addr, claimed if new (lock held). */
static struct hak_site *site_get(const void *addr)
{
	unsigned n = hak_opts.sites ? hak_opts.sites : 1, i = site_home(addr, n);

	for (unsigned probe = 0; probe < n; probe++) {
		unsigned k = (i + probe) % n;
		struct hak_site *s = &sites[k];

		if (s->addr == addr)
			return s;
		if (!s->addr) {
			s->addr = addr;
			s->index = k;
			site_admit_set(s);
			atomic_store_explicit(&site_key[k], addr, memory_order_release);
			return s;
		}
	}
	return &sites[i];	/* full: share the home slot */
}

bool hak_policy_admitted(const void *addr)
{
	unsigned n = hak_opts.sites ? hak_opts.sites : 1, i = site_home(addr, n);

	for (unsigned probe = 0; probe < n; probe++) {
		unsigned k = (i + probe) % n;
		const void *key = atomic_load_explicit(&site_key[k], memory_order_acquire);

		if (key == addr)
			return atomic_load_explicit(&site_admit[k], memory_order_relaxed);
		/* Not seen yet (its events are still queued): what the policy
		 * would say of any site, when it says the same of all. */
		if (!key)
			return admit_unseen;
	}
	return atomic_load_explicit(&site_admit[i], memory_order_relaxed);	/* full */
}

static void site_count(struct hak_site *s, const struct hak_event *ev)
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

/* ---- events ---- */

static void deliver(struct hak_event *ev, const void *site_addr)
{
	const struct hak_policy_ops *o = pops();
	struct hak_site *s = site_get(site_addr);

	ev->site = s;
	site_count(s, ev);
	site_events[s->index / 64] |= 1ULL << (s->index % 64);
	if (o && o->on_event)
		o->on_event(active_state, ev);
	if (++events % hak_opts.epoch_events)
		return;
	epoch++;
	if (o && o->tick)
		o->tick(active_state, epoch);
	if (probe)
		probe->epoch = epoch;
	decide();
	for (unsigned w = 0; w < sizeof(site_events) / 8; w++) {
		for (uint64_t m = site_events[w]; m; m &= m - 1)
			site_admit_set(&sites[w * 64 + (unsigned)__builtin_ctzll(m)]);
		site_events[w] = 0;
	}
}

static struct hak_event event_of(const struct hak_pending *pd)
{
	return (struct hak_event){
		.type = (enum hak_event_type)pd->type,
		.size = pd->size,
		.route = (enum hak_route)pd->route,
		.cache_hit = pd->type == HAK_EV_ALLOC && pd->front,
		.cached = pd->type == HAK_EV_FREE && pd->front,
		.cost_ns = pd->cost_ns,
		.lifetime_ms = pd->lifetime_ms,
		.now_ns = pd->now_ns,
	};
}

void hak_policy_flush(void)
{
	if (!queue.n)
		return;
	pthread_mutex_lock(&policy_lock);
	for (unsigned i = 0; i < queue.n; i++) {
		struct hak_event ev = event_of(&queue.ev[i]);

		deliver(&ev, queue.ev[i].site_addr);
	}
	queue.n = 0;
	pthread_mutex_unlock(&policy_lock);
}

void hak_policy_queue(const struct hak_pending *pd)
{
	if (hak_heap_tls == &hak_heap_empty) {
		struct hak_event ev = event_of(pd);

		pthread_mutex_lock(&policy_lock);
		deliver(&ev, pd->site_addr);
		pthread_mutex_unlock(&policy_lock);
		return;
	}
	if (queue.n == HAK_PENDING)
		hak_policy_flush();
	queue.ev[queue.n++] = *pd;
}

void hak_policy_each_site(void (*fn)(const struct hak_site *site, void *arg), void *arg)
{
	hak_policy_flush();
	pthread_mutex_lock(&policy_lock);
	for (unsigned i = 0; i < hak_opts.sites && i < CONFIG_HAKMEM_SITES; i++)
		if (sites[i].addr)
			fn(&sites[i], arg);
	pthread_mutex_unlock(&policy_lock);
}

int hak_policy_report(char *buf, size_t len)
{
	struct hak_report b = { buf, len, 0 };

	hak_policy_flush();
	pthread_mutex_lock(&policy_lock);
	hak_report_str(&b, "policy=");
	hak_report_str(&b, active ? active->name : "none");
	hak_report_str(&b, " epoch=");
	hak_report_u64(&b, epoch);
	hak_report_str(&b, " decay_ms=");
	hak_report_u64(&b, decisions.decay_ms);
	hak_report_str(&b, " keep=");
	hak_report_size(&b, decisions.keep_bytes);
	hak_report_str(&b, " map_min=");
	hak_report_size(&b, decisions.map_min);
	hak_report_str(&b, " cache_max=");
	hak_report_size(&b, decisions.cache_max);
	if (b.n + 1 < len && pops() && pops()->report) {
		buf[b.n++] = ' ';
		b.n += (size_t)pops()->report(active_state, buf + b.n, len - b.n);
	}
	pthread_mutex_unlock(&policy_lock);
	return (int)b.n;
}
