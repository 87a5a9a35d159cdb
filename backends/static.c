// SPDX-License-Identifier: MIT
/*
 * backends/static.c - memory from one fixed buffer, without the OS.
 *
 * For systems without mmap (embedded use) and for tests that want the
 * same addresses on every run.  The buffer is CONFIG_HAKMEM_STATIC_MIB MiB
 * of zero-initialised static storage, page aligned.  Its free space is a
 * short array of ranges sorted by address under a spinlock (no futex: no
 * OS); a reservation takes the first range that holds it at the asked
 * alignment, a release puts the range back and merges it with its
 * neighbours, an extension takes the range right after a block when it is
 * free.
 *
 * Fresh reservations read as zero, as the core expects: memory never
 * handed out is still zero from load time, and memory handed out before
 * (below the high-water mark) is cleared when it is reserved again.
 * Decommitting cannot give memory back to anyone: it does nothing, and
 * the caps say so (no HAK_BACKEND_CAN_RETURN, and no HAK_BACKEND_ZEROED:
 * a decommitted range keeps its bytes).  When the free ranges would need
 * more slots than the array has, a release leaves the range out of them:
 * the buffer loses it, nothing is corrupted.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"
#include "backend.h"

#define STATIC_SIZE ((size_t)CONFIG_HAKMEM_STATIC_MIB << 20)
#define STATIC_PAGE ((size_t)4096)
#define MAX_RANGES 512

static char arena[STATIC_SIZE] __attribute__((aligned(4096)));

struct range {
	size_t start, len;	/* offsets into arena */
};

static struct range ranges[MAX_RANGES] = { { 0, STATIC_SIZE } };
static unsigned nranges = 1;
static size_t high_water;	/* no byte at or above it was ever handed out */
static atomic_flag lock = ATOMIC_FLAG_INIT;

static void static_lock(void)
{
	while (atomic_flag_test_and_set_explicit(&lock, memory_order_acquire)) {
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	}
}

static void static_unlock(void)
{
	atomic_flag_clear_explicit(&lock, memory_order_release);
}

static void range_remove(unsigned i)
{
	memmove(&ranges[i], &ranges[i + 1], (nranges - i - 1) * sizeof(ranges[0]));
	nranges--;
}

static bool range_insert(unsigned i, size_t start, size_t len)
{
	if (nranges == MAX_RANGES)
		return false;
	memmove(&ranges[i + 1], &ranges[i], (nranges - i) * sizeof(ranges[0]));
	ranges[i] = (struct range){ start, len };
	nranges++;
	return true;
}

/* Take [at, at + size) out of free range @i, which holds it. */
static bool range_carve(unsigned i, size_t at, size_t size)
{
	struct range r = ranges[i];
	size_t head = at - r.start, tail = r.start + r.len - (at + size);

	if (head && tail) {
		if (!range_insert(i + 1, at + size, tail))
			return false;
		ranges[i].len = head;
	} else if (head) {
		ranges[i].len = head;
	} else if (tail) {
		ranges[i] = (struct range){ at + size, tail };
	} else {
		range_remove(i);
	}
	return true;
}

static void *static_reserve(size_t size, size_t align)
{
	void *p = NULL;

	if (align < STATIC_PAGE)
		align = STATIC_PAGE;
	size = HAK_ALIGN_UP(size, STATIC_PAGE);
	if (!size || size > STATIC_SIZE)
		return NULL;
	static_lock();
	for (unsigned i = 0; i < nranges; i++) {
		uintptr_t base = (uintptr_t)arena + ranges[i].start;
		size_t at = HAK_ALIGN_UP(base, align) - (uintptr_t)arena;

		if (at + size > ranges[i].start + ranges[i].len)
			continue;
		if (!range_carve(i, at, size))
			break;
		p = arena + at;
		if (at < high_water)
			memset(p, 0, (at + size < high_water ? at + size : high_water) - at);
		if (at + size > high_water)
			high_water = at + size;
		break;
	}
	static_unlock();
	return p;
}

static int static_release(void *addr, size_t size)
{
	size_t start = (size_t)((char *)addr - arena);
	unsigned i;

	if ((char *)addr < arena || start + size > STATIC_SIZE)
		return -EINVAL;
	static_lock();
	for (i = 0; i < nranges && ranges[i].start < start; i++)
		;
	bool join_prev = i > 0 && ranges[i - 1].start + ranges[i - 1].len == start;
	bool join_next = i < nranges && start + size == ranges[i].start;

	if (join_prev && join_next) {
		ranges[i - 1].len += size + ranges[i].len;
		range_remove(i);
	} else if (join_prev) {
		ranges[i - 1].len += size;
	} else if (join_next) {
		ranges[i].start = start;
		ranges[i].len += size;
	} else {
		range_insert(i, start, size);	/* full: the range is lost */
	}
	static_unlock();
	return 0;
}

static int static_extend(void *addr, size_t old, size_t new)
{
	size_t end = (size_t)((char *)addr - arena) + old, more = new - old;
	int ret = -ENOMEM;

	if (new <= old)
		return new == old ? 0 : -EINVAL;
	static_lock();
	for (unsigned i = 0; i < nranges; i++) {
		if (ranges[i].start != end)
			continue;
		if (ranges[i].len >= more && range_carve(i, end, more)) {
			if (end < high_water)
				memset(arena + end, 0,
				       (end + more < high_water ? end + more : high_water) - end);
			if (end + more > high_water)
				high_water = end + more;
			ret = 0;
		}
		break;
	}
	static_unlock();
	return ret;
}

static int static_decommit(void *addr, size_t size)
{
	(void)addr;
	(void)size;
	return 0;
}

static size_t static_page_size(void)
{
	return STATIC_PAGE;
}

size_t hak_static_free_bytes(void)
{
	size_t n = 0;

	static_lock();
	for (unsigned i = 0; i < nranges; i++)
		n += ranges[i].len;
	static_unlock();
	return n;
}

const struct hak_backend_ops hak_backend_static = {
	.name = "static",
	.caps = 0,
	.reserve = static_reserve,
	.decommit = static_decommit,
	.release = static_release,
	.extend = static_extend,
	.page_size = static_page_size,
};
/* Rated above mmap only when chosen (CONFIG_HAKMEM_USE_STATIC); otherwise
 * built for its tests, which find it by name. */
HAK_REGISTER_BACKEND(static, .ops = &hak_backend_static,
		     .rating = IS_ENABLED(CONFIG_HAKMEM_USE_STATIC) ? 200 : 0);
