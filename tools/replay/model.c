// SPDX-License-Identifier: MIT
/*
 * tools/replay/model.c - the memory model (model.h): a decorator over the
 * build's backend, registered as any decorator is, so the core under test
 * runs on real memory and the model only watches.
 *
 * Resident memory is a sorted array of disjoint page ranges, merged when
 * they touch: a program's blocks are runs of pages, so the array stays
 * short, and every operation is a binary search and one splice.  It
 * allocates with the C library's malloc, which in the replay is not the
 * allocator under test.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "backend.h"
#include "model.h"

struct model_counts model;

static const struct hak_backend_ops *below;
static size_t page = 4096;

struct range {
	uintptr_t a, b;			/* [a, b), page-aligned */
};

static struct range *rs;
static size_t nrs, caprs;

static const char *const call_names[MODEL_NR_CALLS] = {
	[MODEL_RESERVE] = "reserve", [MODEL_DECOMMIT] = "decommit",
	[MODEL_RELEASE] = "release", [MODEL_EXTEND] = "extend", [MODEL_MOVE] = "move",
	[MODEL_PROTECT] = "protect", [MODEL_HUGE] = "huge", [MODEL_RESIDENT] = "resident",
};

const char *model_call_name(enum model_call c)
{
	return call_names[c];
}

size_t model_page(void)
{
	return page;
}

static void count(enum model_call c)
{
	model.calls[c]++;
	model.syscalls++;
}

/* The first range that ends after @a. */
static size_t find(uintptr_t a)
{
	size_t lo = 0, hi = nrs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rs[mid].b <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Replace ranges [@i, @j) with the @k ranges of @with. */
static void splice(size_t i, size_t j, const struct range *with, size_t k)
{
	if (nrs - (j - i) + k > caprs) {
		size_t cap = caprs ? caprs * 2 : 256;

		while (cap < nrs - (j - i) + k)
			cap *= 2;
		rs = realloc(rs, cap * sizeof(*rs));
		if (!rs)
			hak_panic("replay: out of memory for the page model");
		caprs = cap;
	}
	memmove(rs + i + k, rs + j, (nrs - j) * sizeof(*rs));
	memcpy(rs + i, with, k * sizeof(*rs));
	nrs = nrs - (j - i) + k;
}

static uintptr_t min_u(uintptr_t x, uintptr_t y)
{
	return x < y ? x : y;
}

static uintptr_t max_u(uintptr_t x, uintptr_t y)
{
	return x > y ? x : y;
}

/* Make [a, b) resident; the bytes that were not. */
static uint64_t add(uintptr_t a, uintptr_t b)
{
	size_t i, j;
	struct range m = { a, b };
	uint64_t had = 0;

	if (a >= b)
		return 0;
	/* Ranges that overlap or touch [a, b) merge with it. */
	i = a ? find(a - 1) : 0;
	for (j = i; j < nrs && rs[j].a <= b; j++) {
		had += min_u(rs[j].b, b) > max_u(rs[j].a, a) ? min_u(rs[j].b, b) - max_u(rs[j].a, a) : 0;
		m.a = min_u(m.a, rs[j].a);
		m.b = max_u(m.b, rs[j].b);
	}
	splice(i, j, &m, 1);
	model.resident += (b - a) - had;
	if (model.resident > model.resident_peak)
		model.resident_peak = model.resident;
	return (b - a) - had;
}

/* Bytes of [a, b) resident. */
static uint64_t covered(uintptr_t a, uintptr_t b)
{
	uint64_t n = 0;

	for (size_t j = find(a); j < nrs && rs[j].a < b; j++)
		n += min_u(rs[j].b, b) - max_u(rs[j].a, a);
	return n;
}

/* Make [a, b) not resident; the bytes that were. */
static uint64_t del(uintptr_t a, uintptr_t b)
{
	struct range keep[2];
	size_t i, j, k = 0;
	uint64_t had = 0;

	if (a >= b)
		return 0;
	i = find(a);
	for (j = i; j < nrs && rs[j].a < b; j++)
		had += min_u(rs[j].b, b) - max_u(rs[j].a, a);
	if (i == j)
		return 0;
	if (rs[i].a < a)
		keep[k++] = (struct range){ rs[i].a, a };
	if (rs[j - 1].b > b)
		keep[k++] = (struct range){ b, rs[j - 1].b };
	splice(i, j, keep, k);
	model.resident -= had;
	model.given_back += had;
	return had;
}

static uintptr_t down(uintptr_t x)
{
	return x & ~(uintptr_t)(page - 1);
}

static uintptr_t up(uintptr_t x)
{
	return (x + page - 1) & ~(uintptr_t)(page - 1);
}

uint64_t model_touch(const void *p, size_t size)
{
	uintptr_t a = (uintptr_t)p;

	uint64_t n;

	if (!size || a + size < a)
		return 0;
	n = add(down(a), up(a + size)) / page;
	model.faults += n;
	return n;
}

void model_reset_counts(void)
{
	memset(model.calls, 0, sizeof(model.calls));
	model.syscalls = model.faults = model.given_back = 0;
	model.resident_peak = model.resident;
}

/* ---- the decorator ---- */

static void *m_reserve(size_t size, size_t align)
{
	void *p;

	count(MODEL_RESERVE);
	p = below->reserve(size, align);
	if (p)
		model.reserved += size;
	return p;
}

static int m_decommit(void *addr, size_t size)
{
	int ret;

	count(MODEL_DECOMMIT);
	ret = below->decommit(addr, size);
	/* As the backend: inward to whole pages. */
	if (!ret)
		del(up((uintptr_t)addr), down((uintptr_t)addr + size));
	return ret;
}

static int m_release(void *addr, size_t size)
{
	int ret;

	count(MODEL_RELEASE);
	ret = below->release(addr, size);
	if (!ret) {
		del((uintptr_t)addr, up((uintptr_t)addr + size));
		model.reserved -= size < model.reserved ? size : model.reserved;
	}
	return ret;
}

static int m_extend(void *addr, size_t old, size_t new)
{
	int ret;

	count(MODEL_EXTEND);
	ret = below->extend(addr, old, new);
	if (!ret)
		model.reserved += new - old;
	return ret;
}

static size_t m_page_size(void)
{
	return below->page_size();
}

static int m_protect(void *addr, size_t size)
{
	int ret;

	count(MODEL_PROTECT);
	ret = below->protect(addr, size);
	if (!ret)
		del((uintptr_t)addr, up((uintptr_t)addr + size));
	return ret;
}

static int m_huge(void *addr, size_t size)
{
	count(MODEL_HUGE);
	return below->huge(addr, size);
}

static int m_move(void *from, size_t size, void *to)
{
	uintptr_t f = (uintptr_t)from, t = (uintptr_t)to;
	struct range *moved = NULL;
	size_t n = 0;
	int ret;

	count(MODEL_MOVE);
	ret = below->move(from, size, to);
	if (ret)
		return ret;
	for (size_t j = find(f); j < nrs && rs[j].a < f + size; j++)
		n++;
	if (n) {
		size_t j = find(f);

		moved = malloc(n * sizeof(*moved));
		if (!moved)
			hak_panic("replay: out of memory for the page model");
		for (size_t k = 0; k < n; k++, j++)
			moved[k] = (struct range){ max_u(rs[j].a, f), min_u(rs[j].b, f + size) };
	}
	/* Pages move, they do not fault: the totals stay as they are. */
	del(f, f + size);
	del(t, t + size);
	for (size_t k = 0; k < n; k++) {
		model.given_back -= moved[k].b - moved[k].a;
		add(moved[k].a - f + t, moved[k].b - f + t);
	}
	free(moved);
	return 0;
}

static long m_resident(const void *addr, size_t size)
{
	count(MODEL_RESIDENT);
	return (long)covered(down((uintptr_t)addr), up((uintptr_t)addr + size));
}

static struct hak_backend_ops ops = {
	.name = "replay-model",
	.reserve = m_reserve,
	.decommit = m_decommit,
	.release = m_release,
	.page_size = m_page_size,
};

static const struct hak_backend_ops *model_stack(const struct hak_backend_ops *b)
{
	below = b;
	page = b->page_size();
	ops.caps = b->caps;
	ops.extend = b->extend ? m_extend : NULL;
	ops.protect = b->protect ? m_protect : NULL;
	ops.huge = b->huge ? m_huge : NULL;
	ops.move = b->move ? m_move : NULL;
	ops.resident = m_resident;
	return &ops;
}

HAK_REGISTER_BACKEND(replay_model, .stack = model_stack);
