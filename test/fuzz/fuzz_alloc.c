// SPDX-License-Identifier: MIT
/*
 * test/fuzz/fuzz_alloc.c - libFuzzer target: the native API driven by the
 * input bytes, every answer checked against a model of the live blocks.
 *
 * The input is a program over NSLOTS slots.  Each operation is an opcode
 * byte (the operation in its low three bits, the slot above them) and a
 * few argument bytes; past the end of the input every byte reads as zero.
 * Sizes are drawn from ranges that cross each boundary of the core: tiny
 * and small classes up to HAK_SMALL (128 KiB), spans up to about 1 MiB,
 * mapped blocks beyond, and the boundaries themselves give or take 2.
 *
 * Each block is filled over its usable size (all of a small one; the ends
 * and one word per 64 KiB of a large one) with a pattern made from its slot
 * and a generation number, and checked before it is freed or resized and
 * whenever an operation looks at it.  A block that another
 * one overwrote, a usable size larger than the room really there, or a
 * realloc that lost data shows up as a wrong byte; overlap and alignment
 * are checked directly.  A mismatch prints one line and aborts, and
 * libFuzzer saves the input.
 *
 * Built by "make fuzz" against libhakmem.a of configs/fuzz_defconfig, with
 * clang -fsanitize=fuzzer,address,undefined.  hakmem's blocks live in
 * memory it maps itself, which ASan does not track: the model is what
 * sees a block overrun inside hakmem; ASan and UBSan watch hakmem's code.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hakmem.h>

#define KiB ((size_t)1024)
#define MiB (1024 * KiB)

#define NSLOTS		32
#define HAK_SMALL	(128 * KiB)
/* Keeps an input from holding more than libFuzzer's RSS limit allows. */
#define MAX_LIVE	(64 * MiB)

struct slot {
	unsigned char *p;	/* NULL: the slot is empty */
	size_t size;		/* bytes asked for */
	size_t usable;		/* hak_usable_size() when it was allocated */
	uint64_t tag;		/* seeds the pattern */
};

static struct slot slots[NSLOTS];
static size_t live_bytes;
static uint64_t generation;
/* Call sites for hak_malloc_site(): any stable addresses do. */
static const char sites[16];

struct input {
	const uint8_t *p;
	size_t n;
};

static unsigned next_byte(struct input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static __attribute__((noreturn, format(printf, 1, 2))) void fail(const char *fmt, ...)
{
	va_list ap;

	fputs("fuzz_alloc: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* ---- the pattern ---- */

/*
 * A block is patterned whole within EDGE bytes of either end, and one word
 * per STRIDE in between: the ends are where a neighbour or a header would
 * spill over, and touching every page of megabytes on each operation
 * (page faults, mostly) would slow the fuzzer down a hundredfold.
 */
#define EDGE	(16 * KiB)
#define STRIDE	(64 * KiB)

/* The offset after @i that is patterned in a block of @usable bytes. */
static size_t next_off(size_t i, size_t usable)
{
	size_t tail = usable > 2 * EDGE ? (usable - EDGE) & ~(size_t)7 : 0;

	i += 8;
	if (i >= EDGE && i < tail) {
		i = (i + STRIDE - 1) & ~(STRIDE - 1);
		if (i > tail)
			i = tail;
	}
	return i;
}

static uint64_t word_at(uint64_t tag, size_t off)
{
	return (tag + off / 8) * 0x9e3779b97f4a7c15ull;
}

static void fill(const struct slot *s)
{
	for (size_t i = 0; i < s->usable; i = next_off(i, s->usable)) {
		uint64_t w = word_at(s->tag, i);

		memcpy(s->p + i, &w, s->usable - i < 8 ? s->usable - i : 8);
	}
}

/* The first @len bytes of @s still hold its pattern. */
static void check_prefix(const struct slot *s, size_t len, const char *when)
{
	for (size_t i = 0; i < len; i = next_off(i, s->usable)) {
		uint64_t w = word_at(s->tag, i);
		size_t n = len - i < 8 ? len - i : 8;

		if (memcmp(s->p + i, &w, n))
			fail("%s: block %p (%zu bytes asked, %zu usable) changed near offset %zu",
			     when, (void *)s->p, s->size, s->usable, i);
	}
}

static void check(const struct slot *s, const char *when)
{
	size_t u = hak_usable_size(s->p);

	if (u != s->usable)
		fail("%s: usable size of %p went from %zu to %zu", when, (void *)s->p,
		     s->usable, u);
	check_prefix(s, s->usable, when);
}

/* ---- a new block in slot @i ---- */

static void adopt(unsigned i, void *p, size_t size, size_t align, const char *op)
{
	struct slot *s = &slots[i];
	uintptr_t a = (uintptr_t)p, end;

	if (align < 16)
		align = 16;
	if (a & (align - 1))
		fail("%s(%zu): %p is not aligned to %zu", op, size, p, align);
	s->p = p;
	s->size = size;
	s->usable = hak_usable_size(p);
	if (s->usable < size)
		fail("%s(%zu): usable size %zu", op, size, s->usable);
	/* A zero-byte block still has an address no other block has. */
	end = a + (s->usable ? s->usable : 1);
	for (unsigned j = 0; j < NSLOTS; j++) {
		const struct slot *o = &slots[j];
		uintptr_t b = (uintptr_t)o->p;

		if (j != i && o->p && a < b + (o->usable ? o->usable : 1) && b < end)
			fail("%s(%zu): %p..+%zu overlaps slot %u's %p..+%zu", op, size, p,
			     s->usable, j, o->p, o->usable);
	}
	s->tag = (uint64_t)i << 48 ^ ++generation;
	live_bytes += s->usable;
	fill(s);
}

static void drop(unsigned i)
{
	struct slot *s = &slots[i];

	if (!s->p)
		return;
	check(s, "free");
	hak_free(s->p);
	live_bytes -= s->usable;
	s->p = NULL;
}

/* A NULL answer must come with errno @want, never without a reason. */
static void refused(const char *op, size_t size, int err, int want)
{
	if (err != want)
		fail("%s(%zu): NULL with errno %d, want %d", op, size, err, want);
}

/* ---- sizes ---- */

static const size_t boundaries[] = {
	16, 32, 64, 128, 256, 512, 1 * KiB, 2 * KiB, 4 * KiB, 8 * KiB, 16 * KiB,
	32 * KiB, 64 * KiB, HAK_SMALL, 256 * KiB, 512 * KiB, 1 * MiB, 2 * MiB,
	4 * MiB, 8 * MiB,
};

static size_t read_size(struct input *in)
{
	unsigned sel = next_byte(in);
	size_t v = next_byte(in);

	v |= (size_t)next_byte(in) << 8;
	v |= (size_t)next_byte(in) << 16;
	switch (sel & 7) {
	case 0:
	case 1:
	case 2:
		return v % 513;
	case 3:
		return v % (4 * KiB);
	case 4:
		return 4 * KiB + v % (HAK_SMALL - 4 * KiB + 1024);
	case 5:
		return HAK_SMALL - 1024 + v % (1 * MiB);
	case 6:
		return 1 * MiB + v % (3 * MiB + 64 * KiB);
	default: {
		size_t b = boundaries[v % (sizeof(boundaries) / sizeof(boundaries[0]))];

		return b + (sel >> 3) % 5 - 2;
	}
	}
}

/* Whether @size more bytes keep the input under MAX_LIVE. */
static bool room_for(size_t size)
{
	return size <= MAX_LIVE && live_bytes <= MAX_LIVE - size;
}

/* ---- operations ---- */

static void op_malloc(unsigned i, struct input *in, bool with_site)
{
	size_t size = read_size(in);
	unsigned site = next_byte(in);
	void *p;

	drop(i);
	if (!room_for(size))
		return;
	errno = 0;
	p = with_site ? hak_malloc_site(size, &sites[site % sizeof(sites)]) : hak_malloc(size);
	if (!p)
		return refused("malloc", size, errno, ENOMEM);
	adopt(i, p, size, 16, "malloc");
}

static void op_calloc(unsigned i, struct input *in)
{
	size_t size = read_size(in);
	unsigned k = next_byte(in);
	size_t nmemb = 1 + k % 16, elem = size / nmemb;
	unsigned char *p;

	/* nmemb * size overflows: refused, whatever the sizes. */
	if (k == 255) {
		errno = 0;
		p = hak_calloc(SIZE_MAX / 2 + 1, 2 + size % 7);
		if (p)
			fail("calloc(SIZE_MAX / 2 + 1, %zu) = %p", 2 + size % 7, (void *)p);
		return refused("calloc", size, errno, ENOMEM);
	}
	drop(i);
	if (!room_for(nmemb * elem))
		return;
	errno = 0;
	p = hak_calloc(nmemb, elem);
	if (!p)
		return refused("calloc", nmemb * elem, errno, ENOMEM);
	for (size_t j = 0; j < nmemb * elem; j = next_off(j, nmemb * elem)) {
		static const unsigned char zero[8];
		size_t n = nmemb * elem - j < 8 ? nmemb * elem - j : 8;

		if (memcmp(p + j, zero, n))
			fail("calloc(%zu, %zu) = %p: not zero near offset %zu", nmemb, elem,
			     (void *)p, j);
	}
	adopt(i, p, nmemb * elem, 16, "calloc");
}

static void op_realloc(unsigned i, struct input *in)
{
	struct slot *s = &slots[i];
	size_t size = read_size(in);
	void *p;

	if (s->p) {
		check(s, "realloc");
		if (size > s->usable && !room_for(size - s->usable))
			return;
	} else if (!room_for(size)) {
		return;
	}
	errno = 0;
	p = hak_realloc(s->p, size);
	if (!p && size == 0) {
		/* realloc(p, 0) frees p, as glibc's does. */
		if (s->p)
			live_bytes -= s->usable;
		s->p = NULL;
		return;
	}
	if (!p) {
		refused("realloc", size, errno, ENOMEM);
		if (s->p)
			check(s, "failed realloc");
		return;
	}
	if (s->p) {
		/* The bytes both sizes cover came over, wherever the block went. */
		struct slot moved = { .p = p, .size = size, .usable = s->usable, .tag = s->tag };

		check_prefix(&moved, s->size < size ? s->size : size, "realloc");
		live_bytes -= s->usable;
		s->p = NULL;
	}
	adopt(i, p, size, 16, "realloc");
}

static void op_aligned(unsigned i, struct input *in)
{
	static const size_t bad[] = { 0, 3, 24, 48, 4097, SIZE_MAX };
	unsigned a = next_byte(in);
	size_t size = read_size(in), align;
	void *p;

	if (a >= 0xf0) {
		align = bad[a % (sizeof(bad) / sizeof(bad[0]))];
		errno = 0;
		p = hak_aligned_alloc(align, size);
		if (p)
			fail("aligned_alloc(%zu, %zu) = %p, want EINVAL", align, size, p);
		return refused("aligned_alloc", size, errno, EINVAL);
	}
	align = (size_t)1 << a % 23;	/* 1 B .. 4 MiB */
	drop(i);
	if (!room_for(size + align))
		return;
	errno = 0;
	p = hak_aligned_alloc(align, size);
	if (!p)
		return refused("aligned_alloc", size, errno, ENOMEM);
	adopt(i, p, size, align, "aligned_alloc");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct input in = { data, len };

	while (in.n) {
		unsigned op = next_byte(&in);
		unsigned i = (op >> 3) % NSLOTS;

		switch (op & 7) {
		case 0:
			op_malloc(i, &in, false);
			break;
		case 1:
			op_calloc(i, &in);
			break;
		case 2:
			op_realloc(i, &in);
			break;
		case 3:
			op_aligned(i, &in);
			break;
		case 4:
			drop(i);
			break;
		case 5:
			if (slots[i].p)
				check(&slots[i], "usable_size");
			break;
		case 6:
			op_malloc(i, &in, true);
			break;
		default:
			/* The NULL cases of the API. */
			hak_free(NULL);
			if (hak_usable_size(NULL))
				fail("usable_size(NULL) = %zu", hak_usable_size(NULL));
			break;
		}
	}
	for (unsigned i = 0; i < NSLOTS; i++)
		drop(i);
	return 0;
}
