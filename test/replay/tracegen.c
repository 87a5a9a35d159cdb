// SPDX-License-Identifier: MIT
/*
 * test/replay/tracegen.c - traces written by hand (tracegen.h).
 *
 * Aborts when memory runs out: it serves tests only.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hakmem_trace.h>

#include "tracegen.h"
#include "trace.h"

static void put(struct tg *g, const void *p, size_t n)
{
	if (g->len + n > g->cap) {
		size_t cap = g->cap ? g->cap : 4096;

		while (cap < g->len + n)
			cap *= 2;
		g->buf = realloc(g->buf, cap);
		if (!g->buf)
			abort();
		g->cap = cap;
	}
	memcpy(g->buf + g->len, p, n);
	g->len += n;
}

static size_t last_at;

size_t tg_last(const struct tg *g)
{
	(void)g;
	return last_at;
}

void tg_init(struct tg *g, uint32_t sample)
{
	struct hak_trace_header h = {
		.version = HAK_TRACE_VERSION,
		.header_size = sizeof(h),
		.byte_order = HAK_TRACE_BYTE_ORDER,
		.machine = (uint16_t)trace_machine(),
		.ptr_size = sizeof(void *),
		.sample = sample,
		.small_max = 128 << 10,
		.start_ns = 1765000000000000000ull,
		.pid = 4242,
	};

	memcpy(h.magic, HAK_TRACE_MAGIC, sizeof(h.magic));
	memset(g, 0, sizeof(*g));
	put(g, &h, sizeof(h));
}

void tg_free_buf(struct tg *g)
{
	free(g->buf);
	memset(g, 0, sizeof(*g));
}

void tg_raw(struct tg *g, uint8_t type, uint8_t flags, uint16_t size, uint32_t thread,
	    const void *body, size_t body_len)
{
	struct hak_trace_rec rec = { .type = type, .flags = flags, .size = size, .thread = thread };
	static const unsigned char zero[8];

	last_at = g->len;
	put(g, &rec, sizeof(rec));
	put(g, body, body_len);
	while ((g->len - last_at) % 8)
		put(g, zero, 1);
}

/* A record whose struct starts with its frame: the frame filled in here. */
static void record(struct tg *g, void *r, size_t size, uint8_t type, uint8_t flags,
		   uint32_t thread)
{
	struct hak_trace_rec *rec = r;

	*rec = (struct hak_trace_rec){
		.type = type, .flags = flags, .size = (uint16_t)size, .thread = thread,
	};
	last_at = g->len;
	put(g, r, size);
}

void tg_module(struct tg *g, uint32_t id, uint64_t base, uint64_t end, uint64_t file_off,
	       const char *path)
{
	size_t size = (sizeof(struct hak_trace_module) + strlen(path) + 1 + 7) & ~(size_t)7;
	struct hak_trace_module *m = calloc(1, size);

	if (!m)
		abort();
	m->id = id;
	m->base = base;
	m->end = end;
	m->file_off = file_off;
	memcpy(m->path, path, strlen(path));
	record(g, m, size, HAK_TR_MODULE, 0, 0);
	free(m);
}

void tg_thread(struct tg *g, uint32_t thread, uint8_t flags, uint64_t time_ns)
{
	struct hak_trace_thread t = { .time_ns = time_ns };

	record(g, &t, sizeof(t), HAK_TR_THREAD, flags, thread);
}

void tg_alloc(struct tg *g, uint32_t thread, uint8_t flags, uint64_t time_ns, uint64_t addr,
	      uint64_t size, uint64_t site, uint32_t align)
{
	struct hak_trace_alloc a = {
		.time_ns = time_ns, .addr = addr, .size = size, .site = site, .align = align,
	};

	record(g, &a, sizeof(a), HAK_TR_ALLOC, flags, thread);
}

void tg_free(struct tg *g, uint32_t thread, uint64_t time_ns, uint64_t addr)
{
	struct hak_trace_free f = { .time_ns = time_ns, .addr = addr };

	record(g, &f, sizeof(f), HAK_TR_FREE, 0, thread);
}

void tg_realloc(struct tg *g, uint32_t thread, uint64_t time_ns, uint64_t old_addr,
		uint64_t addr, uint64_t size, uint64_t site)
{
	struct hak_trace_realloc r = {
		.alloc = { .time_ns = time_ns, .addr = addr, .size = size, .site = site },
		.old_addr = old_addr,
	};

	record(g, &r, sizeof(r), HAK_TR_REALLOC, 0, thread);
}

void tg_lost(struct tg *g, uint32_t thread, uint64_t time_ns, uint64_t records)
{
	struct hak_trace_lost l = { .time_ns = time_ns, .records = records };

	record(g, &l, sizeof(l), HAK_TR_LOST, 0, thread);
}

int tg_write(const struct tg *g, const char *path)
{
	FILE *f = fopen(path, "wb");
	int ret = 0;

	if (!f)
		return -1;
	if (fwrite(g->buf, 1, g->len, f) != g->len)
		ret = -1;
	if (fclose(f))
		ret = -1;
	return ret;
}

/* ---- the synthetic program ---- */

#define TG_MAX_THREADS	16
#define TG_LIVE		8	/* blocks each random-size site keeps per thread */

static uint64_t next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t app_site(uint64_t off)
{
	return TG_APP_BASE + off;
}

static uint64_t lib_site(uint64_t off)
{
	return TG_LIB_BASE + off - TG_LIB_FILE_OFF;
}

/* Each thread's blocks, by what the program does with them. */
struct tg_thread {
	struct tg rec;			/* its records, in its own order */
	uint64_t reuse;			/* the buffer reused again and again, or 0 */
	uint64_t random[TG_LIVE], random_size[TG_LIVE];
	uint64_t grow, grow_size;
	uint64_t small[TG_LIVE];
	uint64_t aligned, zeroed;
	uint64_t handed;		/* a block it made for the next thread to free */
};

void tg_workload(struct tg *g, const struct tg_workload *w)
{
	struct tg_thread th[TG_MAX_THREADS];
	unsigned n = w->threads < 1 ? 1 : w->threads > TG_MAX_THREADS ? TG_MAX_THREADS : w->threads;
	uint64_t s = w->seed, addr = 0x7f0000000000ull, t = 0;
	size_t pos[TG_MAX_THREADS] = { 0 };
	bool left;

	memset(th, 0, sizeof(th));
	tg_module(g, 1, TG_APP_BASE, TG_APP_BASE + 0x10000, 0, TG_APP);
	tg_module(g, 2, TG_LIB_BASE, TG_LIB_BASE + 0x8000, TG_LIB_FILE_OFF, TG_LIB);
	for (unsigned i = 0; i < n; i++)
		tg_thread(&th[i].rec, i + 1, HAK_TRF_START, t + i);
#define NEW(size) (addr += (((size) + 4095) & ~4095ull) + 4096)
	for (unsigned step = 0; step < w->steps; step++) {
		unsigned i = (unsigned)(next(&s) % n);
		struct tg_thread *h = &th[i];
		struct tg *r = &h->rec;
		uint32_t id = i + 1;
		unsigned k = (unsigned)(next(&s) % TG_LIVE);

		t += w->step_ns;
		switch (next(&s) % 10) {
		case 0:
		case 1:
		case 2:
			/* A buffer freed and asked for again at once, often at its old address. */
			if (h->reuse) {
				tg_free(r, id, t, h->reuse);
				if (next(&s) % 2)
					tg_alloc(r, id, 0, t, h->reuse, TG_REUSE_SIZE,
						 app_site(TG_REUSE_OFF), 0);
				else
					h->reuse = 0;
			} else {
				h->reuse = NEW(TG_REUSE_SIZE);
				tg_alloc(r, id, 0, t, h->reuse, TG_REUSE_SIZE, app_site(TG_REUSE_OFF), 0);
			}
			break;
		case 3:
		case 4:
			/* Random sizes from 160 KiB to 12 MiB, replaced at random. */
			if (h->random[k])
				tg_free(r, id, t, h->random[k]);
			h->random_size[k] = (160 << 10) + next(&s) % (12 << 20);
			h->random[k] = NEW(h->random_size[k]);
			tg_alloc(r, id, 0, t, h->random[k], h->random_size[k], app_site(0x1200), 0);
			break;
		case 5:
			/* A buffer that grows by half until 16 MiB, then starts again. */
			if (!h->grow) {
				h->grow_size = 256 << 10;
				h->grow = NEW(h->grow_size);
				tg_alloc(r, id, 0, t, h->grow, h->grow_size, lib_site(0x1300), 0);
			} else if (h->grow_size > (16 << 20)) {
				tg_free(r, id, t, h->grow);
				h->grow = 0;
			} else {
				uint64_t old = h->grow;

				h->grow_size += h->grow_size / 2;
				h->grow = NEW(h->grow_size);
				tg_realloc(r, id, t, old, h->grow, h->grow_size, lib_site(0x1340));
			}
			break;
		case 6:
		case 7:
			/* Sampled small blocks. */
			if (h->small[k])
				tg_free(r, id, t, h->small[k]);
			h->small[k] = NEW(16);
			tg_alloc(r, id, HAK_TRF_SMALL, t, h->small[k], 16 + next(&s) % 4000,
				 app_site(0x1400 + 0x10 * (next(&s) % 3)), 0);
			break;
		case 8:
			/* Aligned blocks, and a block handed to the next thread to free. */
			if (h->aligned)
				tg_free(r, id, t, h->aligned);
			h->aligned = NEW(300 << 10);
			tg_alloc(r, id, 0, t, h->aligned, 300 << 10, lib_site(0x1500), 64 << 10);
			if (n > 1) {
				struct tg_thread *o = &th[(i + 1) % n];

				if (h->handed)
					tg_free(&o->rec, (i + 1) % n + 1, t, h->handed);
				h->handed = NEW(512 << 10);
				tg_alloc(r, id, 0, t, h->handed, 512 << 10, app_site(0x1600), 0);
			}
			break;
		default:
			/* Zeroed blocks (calloc). */
			if (h->zeroed)
				tg_free(r, id, t, h->zeroed);
			h->zeroed = NEW(3 << 20);
			tg_alloc(r, id, HAK_TRF_ZERO, t, h->zeroed, 3 << 20, app_site(0x1700), 0);
			break;
		}
	}
#undef NEW
	for (unsigned i = 0; i < n; i++)
		tg_thread(&th[i].rec, i + 1, HAK_TRF_EXIT, t + w->step_ns + i);
	/* Batches of a few records a thread, in turn, as buffers are flushed. */
	do {
		left = false;
		for (unsigned i = 0; i < n; i++) {
			size_t end = pos[i];

			for (unsigned b = 0; b < 5 + i && end < th[i].rec.len; b++) {
				struct hak_trace_rec rec;

				memcpy(&rec, th[i].rec.buf + end, sizeof(rec));
				end += rec.size;
			}
			put(g, th[i].rec.buf + pos[i], end - pos[i]);
			pos[i] = end;
			left |= end < th[i].rec.len;
		}
	} while (left);
	for (unsigned i = 0; i < n; i++)
		free(th[i].rec.buf);
	for (size_t off = sizeof(struct hak_trace_header); off < g->len;) {
		struct hak_trace_rec rec;

		memcpy(&rec, g->buf + off, sizeof(rec));
		last_at = off;
		off += rec.size;
	}
}
