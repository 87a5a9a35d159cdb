// SPDX-License-Identifier: MIT
/*
 * tools/replay/replay.c - hakmem-replay: a recorded program's allocations
 * (include/hakmem_trace.h) replayed against the real core and a chosen
 * policy, and what they would have cost (docs/replay.md).
 *
 * The program is linked with the core's objects but not with its malloc
 * replacement, so its own mallocs (the trace, the tables below) go to the
 * C library and the core serves the trace's blocks only, through its
 * internal entry points with each site's synthetic address.  The core's
 * clock is stopped (hak_clock_set_fake) and moved to each event's time
 * before the event runs; the memory model (model.c) counts what the core
 * asks of the OS and the pages the program would have touched.  So every
 * figure but the measured wall time is a function of the trace and the
 * options alone.
 *
 * By default every event runs on the main thread, in time order.  With
 * --threads each trace thread gets a thread of its own, and the main
 * thread hands the events out in the same order, one run of a thread's
 * events at a time, waiting for each: one thread runs at any moment, and
 * a thread's exit (the core's exit hooks included) ends before the next
 * event starts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "harden.h"
#include "init.h"
#include "options.h"
#include "pageheap.h"
#include "policy.h"
#include "stats.h"

#include "model.h"
#include "trace.h"

/* The core's clock at a trace's time 0: not 0, which is "the real clock". */
#define T0_NS 1000000000ull

/* ---- the cost model ---- */

enum cost_key { COST_SMALL, COST_LARGE, COST_SYSCALL, COST_FAULT, COST_COPY, COST_NR };

static struct {
	const char *name;
	uint64_t ns;
	const char *what;
} cost[COST_NR] = {
	[COST_SMALL] = { "small", 20, "an allocation, free or realloc of a small block" },
	[COST_LARGE] = { "large", 200, "an allocation, free or realloc of a large block" },
	[COST_SYSCALL] = { "syscall", 2000, "a call to the OS (mmap, munmap, madvise, mremap, ...)" },
	[COST_FAULT] = { "fault", 500, "a page touched while not resident (zeroed by the kernel)" },
	[COST_COPY] = { "copy_kib", 100, "a KiB copied by a realloc that moved its block" },
};

/* ---- figures ---- */

struct site_fig {
	uint64_t allocs, frees, reallocs, bytes, large, bc_hits;
	uint64_t faults, syscalls, cost_ns;
};

/* A gauge and its integral over trace time. */
struct gauge {
	uint64_t now, peak;
	unsigned __int128 area;		/* bytes x ns */
};

struct figures {
	uint64_t allocs, small, large, frees, reallocs;
	uint64_t unknown_frees, failed, replaced;
	uint64_t bc_hits, bc_large;
	uint64_t ns[COST_NR];		/* modelled time by cost */
	uint64_t copied;
	struct gauge rss, committed, live;
	uint64_t wall_ns;
};

/* ---- the live blocks, by their address in the trace ---- */

struct blk {
	uint64_t key;			/* 0: empty */
	void *p;
	uint64_t size;
	uint32_t site;
	bool large;
};

struct blocks {
	struct blk *t;
	size_t cap, n;
};

struct replay {
	const struct trace *tr;
	struct blocks live;
	struct site_fig *sites;
	struct figures f;
	uint64_t last_ns;		/* trace time of the last event */
	bool stats;			/* the build counts (CONFIG_HAKMEM_STATS) */
};

static size_t blk_home(const struct blocks *b, uint64_t key)
{
	uint64_t x = key * 0x9e3779b97f4a7c15ULL;

	return (size_t)(x ^ x >> 29) & (b->cap - 1);
}

static struct blk *blk_find(struct blocks *b, uint64_t key)
{
	if (!b->cap)
		return NULL;
	for (size_t i = blk_home(b, key);; i = (i + 1) & (b->cap - 1)) {
		if (b->t[i].key == key)
			return &b->t[i];
		if (!b->t[i].key)
			return NULL;
	}
}

static void blk_put(struct blocks *b, const struct blk *v);

static void blk_grow(struct blocks *b)
{
	struct blocks old = *b;

	b->cap = old.cap ? old.cap * 2 : 1024;
	b->n = 0;
	b->t = calloc(b->cap, sizeof(*b->t));
	if (!b->t) {
		fprintf(stderr, "hakmem-replay: out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < old.cap; i++)
		if (old.t[i].key)
			blk_put(b, &old.t[i]);
	free(old.t);
}

static void blk_put(struct blocks *b, const struct blk *v)
{
	size_t i;

	if ((b->n + 1) * 4 > b->cap * 3)
		blk_grow(b);
	for (i = blk_home(b, v->key); b->t[i].key; i = (i + 1) & (b->cap - 1))
		;
	b->t[i] = *v;
	b->n++;
}

/* Remove @e, shifting back the entries its slot kept from their homes. */
static void blk_del(struct blocks *b, struct blk *e)
{
	size_t i = (size_t)(e - b->t), j = i;

	b->t[i].key = 0;
	b->n--;
	for (;;) {
		size_t h;

		j = (j + 1) & (b->cap - 1);
		if (!b->t[j].key)
			return;
		h = blk_home(b, b->t[j].key);
		/* Stays when its home lies cyclically in (i, j]. */
		if (i <= j ? (i < h && h <= j) : (i < h || h <= j))
			continue;
		b->t[i] = b->t[j];
		b->t[j].key = 0;
		i = j;
	}
}

/* ---- the events ---- */

static uint64_t wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The address the core sees for trace site @i: one per module and offset. */
static const void *site_addr(const struct trace *tr, uint32_t i)
{
	const struct trace_site *s = &tr->site[i];

	if (s->module < 0)
		return (const void *)(uintptr_t)s->addr;
	return (const void *)(uintptr_t)((1ull << 62) | (uint64_t)(s->module + 1) << 40 |
					  (s->offset & ((1ull << 40) - 1)));
}

static bool is_large(uint64_t size, uint32_t align)
{
	return size > HAK_SMALL_MAX || align > HAK_MIN_ALIGN;
}

static uint64_t bc_count(const struct replay *r)
{
	uint64_t v = 0;

	if (r->stats && hak_stats_get_name("alloc.large.bigcache", &v))
		v = 0;
	return v;
}

static uint64_t committed_now(const struct replay *r)
{
	uint64_t v = 0;

	if (r->stats && hak_stats_get_name("bytes.committed", &v))
		v = 0;
	return v;
}

static void gauge_set(struct gauge *g, uint64_t v)
{
	g->now = v;
	if (v > g->peak)
		g->peak = v;
}

/* What one event cost, to its site and to the totals. */
struct op {
	uint64_t sys0, faults, copied;
	bool large;
};

static void op_begin(struct op *o, bool large)
{
	*o = (struct op){ .sys0 = model.syscalls, .large = large };
}

static void op_end(struct replay *r, struct op *o, uint32_t site)
{
	struct site_fig *s = &r->sites[site];
	uint64_t sys = model.syscalls - o->sys0;
	uint64_t ns[COST_NR] = {
		[COST_SMALL] = o->large ? 0 : cost[COST_SMALL].ns,
		[COST_LARGE] = o->large ? cost[COST_LARGE].ns : 0,
		[COST_SYSCALL] = sys * cost[COST_SYSCALL].ns,
		[COST_FAULT] = o->faults * cost[COST_FAULT].ns,
		[COST_COPY] = o->copied * cost[COST_COPY].ns / 1024,
	};

	for (int k = 0; k < COST_NR; k++) {
		r->f.ns[k] += ns[k];
		s->cost_ns += ns[k];
	}
	s->syscalls += sys;
	s->faults += o->faults;
	r->f.copied += o->copied;
}

static void *core_alloc(const struct trace_event *e, const void *site)
{
	if (e->flags & HAK_TRF_ZERO)
		return hak_alloc_zeroed(1, (size_t)e->size, site);
	if (e->align > HAK_MIN_ALIGN)
		return hak_alloc_aligned(e->align, (size_t)e->size, site);
	return hak_alloc((size_t)e->size, site);
}

static void drop(struct replay *r, struct blk *b)
{
	struct op o;
	uint64_t t0;

	op_begin(&o, b->large);
	t0 = wall_now();
	hak_dealloc(b->p, NULL);
	r->f.wall_ns += wall_now() - t0;
	op_end(r, &o, b->site);
	r->sites[b->site].frees++;
	r->f.frees++;
	r->f.live.now -= b->size;
	blk_del(&r->live, b);
}

static void do_alloc(struct replay *r, const struct trace_event *e)
{
	struct blk *old = blk_find(&r->live, e->addr);
	struct site_fig *s = &r->sites[e->site];
	bool large = is_large(e->size, e->align);
	uint64_t bc = large ? bc_count(r) : 0, t0;
	struct op o;
	void *p;

	/* A free the trace lost: the address is handed out again. */
	if (old) {
		r->f.replaced++;
		drop(r, old);
	}
	op_begin(&o, large);
	t0 = wall_now();
	p = core_alloc(e, site_addr(r->tr, e->site));
	r->f.wall_ns += wall_now() - t0;
	r->f.allocs++;
	s->allocs++;
	if (large) {
		uint64_t hit = bc_count(r) - bc;

		r->f.large++;
		r->f.bc_hits += hit;
		s->large++;
		s->bc_hits += hit;
	} else {
		r->f.small++;
	}
	if (!p) {
		r->f.failed++;
	} else {
		o.faults = model_touch(p, (size_t)e->size);
		s->bytes += e->size;
		r->f.live.now += e->size;
		blk_put(&r->live, &(struct blk){
			.key = e->addr, .p = p, .size = e->size, .site = e->site, .large = large,
		});
	}
	op_end(r, &o, e->site);
}

static void do_free(struct replay *r, const struct trace_event *e)
{
	struct blk *b = blk_find(&r->live, e->addr);

	if (!b) {
		/* Not sampled, or from before the recording began. */
		r->f.unknown_frees++;
		return;
	}
	drop(r, b);
}

static void do_realloc(struct replay *r, const struct trace_event *e)
{
	struct blk *b = e->old_addr ? blk_find(&r->live, e->old_addr) : NULL;
	struct site_fig *s = &r->sites[e->site];
	uint64_t moves, t0, old_size;
	bool large;
	struct op o;
	void *p;

	if (!b) {
		if (e->old_addr)
			r->f.unknown_frees++;
		if (e->size)
			do_alloc(r, e);
		return;
	}
	if (!e->size) {
		drop(r, b);
		return;
	}
	large = b->large || is_large(e->size, 0);
	old_size = b->size;
	moves = model.calls[MODEL_MOVE];
	op_begin(&o, large);
	t0 = wall_now();
	p = hak_resize(b->p, (size_t)e->size, site_addr(r->tr, e->site));
	r->f.wall_ns += wall_now() - t0;
	r->f.reallocs++;
	s->reallocs++;
	if (!p) {
		r->f.failed++;
		op_end(r, &o, e->site);
		return;
	}
	/* Copied unless it stayed or its pages were moved. */
	if (p != b->p && model.calls[MODEL_MOVE] == moves)
		o.copied = old_size < e->size ? old_size : e->size;
	o.faults = model_touch(p, (size_t)e->size);
	op_end(r, &o, e->site);
	s->bytes += e->size;
	r->f.live.now += e->size - old_size;
	blk_del(&r->live, b);
	if (blk_find(&r->live, e->addr)) {
		r->f.replaced++;
		drop(r, blk_find(&r->live, e->addr));
	}
	blk_put(&r->live, &(struct blk){
		.key = e->addr, .p = p, .size = e->size, .site = e->site, .large = large,
	});
}

/* Gauges held since the last event count for the time they were held. */
static void advance(struct replay *r, uint64_t t)
{
	uint64_t dt = t > r->last_ns ? t - r->last_ns : 0;

	r->f.rss.area += (unsigned __int128)r->f.rss.now * dt;
	r->f.committed.area += (unsigned __int128)r->f.committed.now * dt;
	r->f.live.area += (unsigned __int128)r->f.live.now * dt;
	r->last_ns = t > r->last_ns ? t : r->last_ns;
}

static void replay_event(struct replay *r, const struct trace_event *e)
{
	advance(r, e->time_ns);
	hak_clock_set_fake(T0_NS + e->time_ns);
	switch (e->type) {
	case HAK_TR_ALLOC:
		do_alloc(r, e);
		break;
	case HAK_TR_FREE:
		do_free(r, e);
		break;
	case HAK_TR_REALLOC:
		do_realloc(r, e);
		break;
	default:
		break;
	}
	gauge_set(&r->f.rss, model.resident);
	gauge_set(&r->f.committed, committed_now(r));
	gauge_set(&r->f.live, r->f.live.now);
}

/* ---- with the trace's threads ---- */

struct worker {
	pthread_t tid;
	pthread_cond_t go_cv;
	bool started, go, quit;
	size_t from, to;		/* the events to run */
	struct replay *r;
};

static pthread_mutex_t hand_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;
static bool busy;

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	pthread_mutex_lock(&hand_lock);
	for (;;) {
		while (!w->go)
			pthread_cond_wait(&w->go_cv, &hand_lock);
		w->go = false;
		if (w->quit)
			break;
		pthread_mutex_unlock(&hand_lock);
		for (size_t i = w->from; i < w->to; i++)
			replay_event(w->r, &w->r->tr->ev[i]);
		pthread_mutex_lock(&hand_lock);
		busy = false;
		pthread_cond_signal(&done_cv);
	}
	busy = false;
	pthread_cond_signal(&done_cv);
	pthread_mutex_unlock(&hand_lock);
	return NULL;
}

/* Hand @w its events (or its end, @quit) and wait until it is done. */
static void hand(struct worker *w, size_t from, size_t to, bool quit)
{
	pthread_mutex_lock(&hand_lock);
	w->from = from;
	w->to = to;
	w->quit = quit;
	w->go = true;
	busy = true;
	pthread_cond_signal(&w->go_cv);
	while (busy)
		pthread_cond_wait(&done_cv, &hand_lock);
	pthread_mutex_unlock(&hand_lock);
	if (quit) {
		pthread_join(w->tid, NULL);
		w->started = false;
	}
}

static int replay_threads(struct replay *r)
{
	const struct trace *tr = r->tr;
	struct worker *ws = calloc((size_t)tr->nthreads + 1, sizeof(*ws));

	if (!ws)
		return -ENOMEM;
	for (size_t i = 0; i < tr->nev;) {
		uint32_t t = tr->ev[i].thread;
		struct worker *w = &ws[t];
		size_t j = i;
		bool exits = false;

		while (j < tr->nev && tr->ev[j].thread == t && !exits) {
			exits = tr->ev[j].type == HAK_TR_THREAD && (tr->ev[j].flags & HAK_TRF_EXIT);
			j++;
		}
		if (!w->started) {
			w->r = r;
			pthread_cond_init(&w->go_cv, NULL);
			if (pthread_create(&w->tid, NULL, worker_main, w)) {
				free(ws);
				return -EAGAIN;
			}
			w->started = true;
		}
		hand(w, i, j, false);
		if (exits)
			hand(w, 0, 0, true);
		i = j;
	}
	for (uint32_t t = 0; t <= tr->nthreads; t++)
		if (ws[t].started)
			hand(&ws[t], 0, 0, true);
	free(ws);
	return 0;
}

/* ---- output ---- */

static double mib(uint64_t b)
{
	return (double)b / (1 << 20);
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static uint64_t average(const struct gauge *g, uint64_t span)
{
	return span ? (uint64_t)(g->area / span) : g->now;
}

static uint64_t sum18(const uint64_t *a)
{
	uint64_t s = 0;

	for (int i = 0; i < HAK_PH_AGE_BUCKETS; i++)
		s += a[i];
	return s;
}

static uint64_t total_ns(const struct figures *f)
{
	uint64_t t = 0;

	for (int k = 0; k < COST_NR; k++)
		t += f->ns[k];
	return t;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static void site_name(const struct trace *tr, uint32_t i, char *buf, size_t len)
{
	const struct trace_site *s = &tr->site[i];

	if (s->module < 0)
		snprintf(buf, len, "0x%llx", (unsigned long long)s->addr);
	else
		snprintf(buf, len, "%s+0x%llx", base_name(tr->mod[s->module].path),
			 (unsigned long long)s->offset);
}

static const struct replay *sort_r;

static int by_cost(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	const struct site_fig *p = &sort_r->sites[x], *q = &sort_r->sites[y];

	if (p->cost_ns != q->cost_ns)
		return p->cost_ns > q->cost_ns ? -1 : 1;
	return x < y ? -1 : x > y;
}

struct opts {
	const char *file;
	bool json, threads;
	unsigned top;
	const char *params[64];
	unsigned nparams;
};

/* A JSON string: the characters that must be, escaped. */
static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void print_json(const struct replay *r, const struct opts *o, const uint32_t *order,
		       const char *report, const struct hak_ph_stats *ph, uint64_t span)
{
	const struct trace *tr = r->tr;
	const struct figures *f = &r->f;
	uint64_t reused = sum18(ph->hit), after = sum18(ph->miss);

	printf("{\n\"hakmem_replay\": 1,\n\"trace\": {\"file\": ");
	json_str(o->file);
	printf(", \"records\": %llu, \"events\": %zu, \"threads\": %u, \"modules\": %u, "
	       "\"sites\": %u, \"duration_ns\": %llu, \"sample\": %u, \"small_max\": %llu, "
	       "\"lost\": %llu, \"truncated\": %s},\n",
	       (unsigned long long)tr->records, tr->nev, tr->nthreads, tr->nmod, tr->nsite,
	       (unsigned long long)span, tr->hdr.sample, (unsigned long long)tr->hdr.small_max,
	       (unsigned long long)tr->lost, tr->warning[0] ? "true" : "false");
	printf("\"options\": {\"threads\": %s, \"params\": [", o->threads ? "true" : "false");
	for (unsigned i = 0; i < o->nparams; i++) {
		printf("%s", i ? ", " : "");
		json_str(o->params[i]);
	}
	printf("], \"policy\": ");
	json_str(report);
	printf("},\n\"cost_ns\": {");
	for (int k = 0; k < COST_NR; k++)
		printf("%s\"%s\": %llu", k ? ", " : "", cost[k].name, (unsigned long long)cost[k].ns);
	printf("},\n\"run\": {\"allocs\": %llu, \"small\": %llu, \"large\": %llu, \"frees\": %llu, "
	       "\"reallocs\": %llu, \"unknown_frees\": %llu, \"failed\": %llu, \"replaced\": %llu,\n",
	       (unsigned long long)f->allocs, (unsigned long long)f->small,
	       (unsigned long long)f->large, (unsigned long long)f->frees,
	       (unsigned long long)f->reallocs, (unsigned long long)f->unknown_frees,
	       (unsigned long long)f->failed, (unsigned long long)f->replaced);
	printf(" \"time_ns\": {\"total\": %llu", (unsigned long long)total_ns(f));
	for (int k = 0; k < COST_NR; k++)
		printf(", \"%s\": %llu", cost[k].name, (unsigned long long)f->ns[k]);
	printf("},\n \"page_faults\": %llu, \"copied_bytes\": %llu,\n \"syscalls\": {\"total\": %llu",
	       (unsigned long long)model.faults, (unsigned long long)f->copied,
	       (unsigned long long)model.syscalls);
	for (int c = 0; c < MODEL_NR_CALLS; c++)
		printf(", \"%s\": %llu", model_call_name(c), (unsigned long long)model.calls[c]);
	printf("},\n \"rss\": {\"peak\": %llu, \"average\": %llu, \"end\": %llu},\n",
	       (unsigned long long)f->rss.peak, (unsigned long long)average(&f->rss, span),
	       (unsigned long long)f->rss.now);
	if (r->stats)
		printf(" \"committed\": {\"peak\": %llu, \"average\": %llu, \"end\": %llu},\n",
		       (unsigned long long)f->committed.peak,
		       (unsigned long long)average(&f->committed, span),
		       (unsigned long long)f->committed.now);
	else
		printf(" \"committed\": null,\n");
	printf(" \"live\": {\"peak\": %llu, \"average\": %llu, \"end\": %llu},\n",
	       (unsigned long long)f->live.peak, (unsigned long long)average(&f->live, span),
	       (unsigned long long)f->live.now);
	if (r->stats)
		printf(" \"bigcache\": {\"hits\": %llu, \"large_allocs\": %llu},\n",
		       (unsigned long long)f->bc_hits, (unsigned long long)f->large);
	else
		printf(" \"bigcache\": null,\n");
	printf(" \"pageheap\": {\"handed_out\": %llu, \"fresh\": %llu, \"reused_committed\": %llu, "
	       "\"reused_after_decay\": %llu, \"decayed\": %llu, \"runs\": %llu}},\n",
	       (unsigned long long)(ph->fresh + reused + after), (unsigned long long)ph->fresh,
	       (unsigned long long)reused, (unsigned long long)after,
	       (unsigned long long)ph->decayed, (unsigned long long)ph->runs);
	printf("\"sites\": [");
	for (uint32_t k = 0; k < tr->nsite; k++) {
		uint32_t i = order[k];
		const struct trace_site *ts = &tr->site[i];
		const struct site_fig *s = &r->sites[i];

		printf("%s\n {\"module\": ", k ? "," : "");
		if (ts->module < 0)
			printf("null");
		else
			json_str(tr->mod[ts->module].path);
		printf(", \"offset\": \"0x%llx\", \"allocs\": %llu, \"frees\": %llu, "
		       "\"reallocs\": %llu, \"bytes\": %llu, \"large\": %llu, \"bigcache_hits\": %llu, "
		       "\"page_faults\": %llu, \"syscalls\": %llu, \"time_ns\": %llu}",
		       (unsigned long long)ts->offset, (unsigned long long)s->allocs,
		       (unsigned long long)s->frees, (unsigned long long)s->reallocs,
		       (unsigned long long)s->bytes, (unsigned long long)s->large,
		       (unsigned long long)s->bc_hits, (unsigned long long)s->faults,
		       (unsigned long long)s->syscalls, (unsigned long long)s->cost_ns);
	}
	printf("\n],\n\"wall_ns\": %llu\n}\n", (unsigned long long)f->wall_ns);
}

static void print_table(const struct replay *r, const struct opts *o, const uint32_t *order,
			const char *report, const struct hak_ph_stats *ph, uint64_t span)
{
	const struct trace *tr = r->tr;
	const struct figures *f = &r->f;
	uint64_t reused = sum18(ph->hit), after = sum18(ph->miss);
	uint64_t handed = ph->fresh + reused + after, total = total_ns(f);
	unsigned top = o->top < tr->nsite ? o->top : tr->nsite;

	printf("trace      %s: %llu records, %u threads, %u modules, %u sites, %.3f s; ",
	       o->file, (unsigned long long)tr->records, tr->nthreads, tr->nmod, tr->nsite,
	       (double)span / 1e9);
	if (tr->hdr.sample)
		printf("small blocks: 1 in %u\n", tr->hdr.sample);
	else
		printf("no small blocks\n");
	printf("policy     %s\n", report);
	printf("replay     %s", o->threads ? "the trace's threads" : "one thread");
	for (unsigned i = 0; i < o->nparams; i++)
		printf("%s%s", i ? " " : "; ", o->params[i]);
	printf("\nevents     %llu allocations (%llu large, %llu small), %llu frees, %llu reallocs; "
	       "%llu frees of unknown blocks, %llu failed, %llu lost\n",
	       (unsigned long long)f->allocs, (unsigned long long)f->large,
	       (unsigned long long)f->small, (unsigned long long)f->frees,
	       (unsigned long long)f->reallocs, (unsigned long long)f->unknown_frees,
	       (unsigned long long)f->failed, (unsigned long long)tr->lost);
	printf("time       %.3f ms modelled: operations %.3f, system calls %.3f, page faults %.3f, "
	       "copies %.3f\n", ms(total), ms(f->ns[COST_SMALL] + f->ns[COST_LARGE]),
	       ms(f->ns[COST_SYSCALL]), ms(f->ns[COST_FAULT]), ms(f->ns[COST_COPY]));
	printf("faults     %llu pages (%.1f MiB)\n", (unsigned long long)model.faults,
	       mib(model.faults * model_page()));
	printf("syscalls   %llu:", (unsigned long long)model.syscalls);
	for (int c = 0; c < MODEL_NR_CALLS; c++)
		printf(" %s %llu%s", model_call_name(c), (unsigned long long)model.calls[c],
		       c + 1 < MODEL_NR_CALLS ? "," : "\n");
	printf("rss        peak %.1f MiB, average %.1f MiB (pages touched and not given back)\n",
	       mib(f->rss.peak), mib(average(&f->rss, span)));
	if (r->stats)
		printf("committed  peak %.1f MiB, average %.1f MiB (the core's gauge)\n",
		       mib(f->committed.peak), mib(average(&f->committed, span)));
	printf("live       peak %.1f MiB, average %.1f MiB (asked for and not freed)\n",
	       mib(f->live.peak), mib(average(&f->live, span)));
	if (r->stats)
		printf("bigcache   %llu hits in %llu large allocations (%.1f%%)\n",
		       (unsigned long long)f->bc_hits, (unsigned long long)f->large,
		       f->large ? 100.0 * (double)f->bc_hits / (double)f->large : 0.0);
	printf("page heap  %.1f MiB handed out: %.1f fresh, %.1f reused committed (%.1f%%), "
	       "%.1f after decay; %.1f MiB decayed\n", mib(handed), mib(ph->fresh), mib(reused),
	       handed ? 100.0 * (double)reused / (double)handed : 0.0, mib(after),
	       mib(ph->decayed));
	printf("\ncall sites by modelled time (%u of %u)\n", top, tr->nsite);
	printf("  %10s %8s %8s %8s %8s %8s %9s %8s  %s\n", "time ms", "allocs", "frees",
	       "reallocs", "large", "bc hits", "faults", "syscalls", "site");
	for (unsigned k = 0; k < top; k++) {
		const struct site_fig *s = &r->sites[order[k]];
		char name[256];

		site_name(tr, order[k], name, sizeof(name));
		printf("  %10.3f %8llu %8llu %8llu %8llu %8llu %9llu %8llu  %s\n", ms(s->cost_ns),
		       (unsigned long long)s->allocs, (unsigned long long)s->frees,
		       (unsigned long long)s->reallocs, (unsigned long long)s->large,
		       (unsigned long long)s->bc_hits, (unsigned long long)s->faults,
		       (unsigned long long)s->syscalls, name);
	}
	printf("\nwall       %.3f ms in the allocator (measured, not part of the model)\n",
	       ms(f->wall_ns));
}

/* ---- options ---- */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: hakmem-replay [OPTIONS] TRACE\n"
		"Replay a trace (tools/hakmem --trace) against this build's core and report\n"
		"what it would have cost (docs/replay.md).\n"
		"  --policy P          the policy (a compiled-in one)\n"
		"  --profile FILE      a YAML profile, as HAKMEM_PROFILE\n"
		"  --param KEY=VALUE   any option of docs/options.md, after the profile\n"
		"  --cost NAME=NS      a constant of the cost model:");
	for (int k = 0; k < COST_NR; k++)
		fprintf(out, " %s (%llu)", cost[k].name, (unsigned long long)cost[k].ns);
	fprintf(out, "\n"
		"  --threads           each trace thread on a thread of its own\n"
		"  --json              JSON instead of the table\n"
		"  --sites N           call sites in the table (20)\n");
}

static int set_cost(const char *kv)
{
	const char *eq = strchr(kv, '=');
	char *end;

	for (int k = 0; eq && k < COST_NR; k++) {
		if (strlen(cost[k].name) != (size_t)(eq - kv) || strncmp(kv, cost[k].name, (size_t)(eq - kv)))
			continue;
		errno = 0;
		cost[k].ns = strtoull(eq + 1, &end, 10);
		if (errno || end == eq + 1 || *end || eq[1] == '-')
			break;
		return 0;
	}
	fprintf(stderr, "hakmem-replay: --cost %s: want NAME=NANOSECONDS, NAME one of", kv);
	for (int k = 0; k < COST_NR; k++)
		fprintf(stderr, " %s", cost[k].name);
	fprintf(stderr, "\n");
	return -1;
}

/*
 * The options the core read at start-up came from the environment: a
 * replay depends on its command line alone, so they start again from the
 * defaults, and a mistake in them stops the replay (strict).
 */
static int configure(const char *policy, const char *profile, struct opts *o)
{
	extern char **environ;
	bool again = true;

	while (again) {
		again = false;
		for (char **e = environ; *e; e++) {
			if (!strncmp(*e, "HAKMEM_", 7)) {
				char name[128];
				size_t n = strcspn(*e, "=");

				snprintf(name, sizeof(name), "%.*s", (int)n, *e);
				fprintf(stderr, "hakmem-replay: %s ignored: a replay takes its options "
					"from --profile and --param\n", name);
				unsetenv(name);
				again = true;
				break;
			}
		}
	}
	hak_options_init();
	if (hak_option_set("strict", "1", "hakmem-replay"))
		return -1;
	if (profile && hak_profile_load(profile))
		return -1;
	if (policy && hak_option_set("policy", policy, "--policy"))
		return -1;
	for (unsigned i = 0; i < o->nparams; i++) {
		char key[128];
		const char *eq = strchr(o->params[i], '=');

		if (!eq || (size_t)(eq - o->params[i]) >= sizeof(key)) {
			fprintf(stderr, "hakmem-replay: --param %s: want KEY=VALUE\n", o->params[i]);
			return -1;
		}
		snprintf(key, sizeof(key), "%.*s", (int)(eq - o->params[i]), o->params[i]);
		if (hak_option_set(key, eq + 1, "--param"))
			return -1;
	}
	return hak_policy_init() < 0 ? -1 : 0;
}

/*
 * Where the kernel places the core's reservations decides some of the
 * core's choices (a slab comes from the lowest free place of the pool):
 * without address space randomisation the same calls get the same places
 * on every run.  So the replay runs itself again with it off, once.
 */
static void fixed_addresses(char **argv)
{
	int p = personality(0xffffffff);

	if (p != -1 && (p & ADDR_NO_RANDOMIZE))
		return;
	if (p != -1 && personality((unsigned long)p | ADDR_NO_RANDOMIZE) != -1)
		execv("/proc/self/exe", argv);
	fprintf(stderr, "hakmem-replay: cannot turn address space randomisation off (%s); "
		"figures may differ from run to run\n", strerror(errno));
}

/* Everything the core does at start-up sees the trace's clock, not the real one. */
__attribute__((constructor(101))) static void clock_early(void)
{
	hak_clock_set_fake(T0_NS);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "policy", required_argument, NULL, 'P' },
		{ "profile", required_argument, NULL, 'f' },
		{ "param", required_argument, NULL, 'p' },
		{ "cost", required_argument, NULL, 'c' },
		{ "threads", no_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "sites", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .top = 20 };
	const char *policy = NULL, *profile = NULL;
	struct replay r = { .stats = IS_ENABLED(CONFIG_HAKMEM_STATS) };
	struct trace tr;
	struct hak_ph_stats ph;
	char err[512], report[1024];
	uint32_t *order;
	uint64_t span;
	int c;

	fixed_addresses(argv);
	/* The hardened build's secret, drawn from the pid: no block has used it yet. */
	hak_harden_init(1);
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'P':
			policy = optarg;
			break;
		case 'f':
			profile = optarg;
			break;
		case 'p':
			if (o.nparams == sizeof(o.params) / sizeof(o.params[0])) {
				fprintf(stderr, "hakmem-replay: too many --param\n");
				return 2;
			}
			o.params[o.nparams++] = optarg;
			break;
		case 'c':
			if (set_cost(optarg))
				return 2;
			break;
		case 't':
			o.threads = true;
			break;
		case 'j':
			o.json = true;
			break;
		case 's':
			o.top = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	o.file = argv[optind];
	if (trace_load(o.file, &tr, err, sizeof(err))) {
		fprintf(stderr, "hakmem-replay: %s\n", err);
		return 1;
	}
	if (tr.warning[0])
		fprintf(stderr, "hakmem-replay: %s\n", tr.warning);
	if (configure(policy, profile, &o))
		return 2;
	/* What start-up cost is the same for every trace. */
	model_reset_counts();
	r.tr = &tr;
	r.sites = calloc(tr.nsite ? tr.nsite : 1, sizeof(*r.sites));
	order = calloc(tr.nsite ? tr.nsite : 1, sizeof(*order));
	if (!r.sites || !order) {
		fprintf(stderr, "hakmem-replay: out of memory\n");
		return 1;
	}
	r.last_ns = tr.nev ? tr.ev[0].time_ns : 0;
	if (o.threads) {
		if (replay_threads(&r)) {
			fprintf(stderr, "hakmem-replay: cannot start a thread for each of the "
				"trace's %u\n", tr.nthreads);
			return 1;
		}
	} else {
		for (size_t i = 0; i < tr.nev; i++)
			replay_event(&r, &tr.ev[i]);
	}
	span = tr.nev ? tr.ev[tr.nev - 1].time_ns - tr.ev[0].time_ns : 0;
	/* The peak between two events too (a realloc holds both blocks). */
	if (model.resident_peak > r.f.rss.peak)
		r.f.rss.peak = model.resident_peak;
	hak_policy_report(report, sizeof(report));
	hak_ph_get_stats(&ph);
	for (uint32_t i = 0; i < tr.nsite; i++)
		order[i] = i;
	sort_r = &r;
	qsort(order, tr.nsite, sizeof(*order), by_cost);
	if (o.json)
		print_json(&r, &o, order, report, &ph, span);
	else
		print_table(&r, &o, order, report, &ph, span);
	fflush(stdout);
	/* The blocks still live stay so: the program ended with them. */
	_exit(ferror(stdout) ? 1 : 0);
}
