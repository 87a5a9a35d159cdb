// SPDX-License-Identifier: MIT
/*
 * backends/mmap.c - the default backend: anonymous private mappings.
 *
 * Reservations are over-mapped and trimmed to the requested alignment, so
 * no address space is held beyond what was asked for (start-up works under
 * a small ulimit -v).  Decommit is MADV_DONTNEED: RSS falls at once and
 * the pages read as zero when touched again.  MAP_NORESERVE keeps strict
 * overcommit accounting from charging address space nobody touched.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"
#include "backend.h"

static size_t mmap_page_size(void)
{
	static size_t page;

	if (!page) {
		long p = sysconf(_SC_PAGESIZE);

		page = p > 0 ? (size_t)p : 4096;
	}
	return page;
}

static void *mmap_reserve(size_t size, size_t align)
{
	size_t page = mmap_page_size();
	int saved = errno;
	void *p;

	if (align < page)
		align = page;
	if (size > SIZE_MAX - align)
		return NULL;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		errno = saved;
		return NULL;
	}
	if (((uintptr_t)p & (align - 1)) == 0)
		return p;

	/* Unaligned: map again with room to spare and trim both ends. */
	munmap(p, size);
	p = mmap(NULL, size + align - page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		errno = saved;
		return NULL;
	}
	uintptr_t start = (uintptr_t)p;
	uintptr_t aligned = HAK_ALIGN_UP(start, align);
	size_t head = aligned - start;
	size_t tail = align - page - head;

	if (head)
		munmap(p, head);
	if (tail)
		munmap((void *)(aligned + size), tail);
	errno = saved;
	return (void *)aligned;
}

static int mmap_decommit(void *addr, size_t size)
{
	size_t page = mmap_page_size();
	uintptr_t start = HAK_ALIGN_UP((uintptr_t)addr, page);
	uintptr_t end = HAK_ALIGN_DOWN((uintptr_t)addr + size, page);
	int saved = errno, ret = 0;

	if (end > start && madvise((void *)start, end - start, MADV_DONTNEED))
		ret = -errno;
	errno = saved;
	return ret;
}

static int mmap_release(void *addr, size_t size)
{
	int saved = errno, ret = 0;

	if (munmap(addr, size))
		ret = -errno;
	errno = saved;
	return ret;
}

static int mmap_protect(void *addr, size_t size)
{
	return mprotect(addr, size, PROT_NONE) ? -errno : 0;
}

static int mmap_huge(void *addr, size_t size)
{
	int saved = errno, ret = 0;

	if (madvise(addr, size, MADV_HUGEPAGE))
		ret = -errno;
	errno = saved;
	return ret;
}

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4	/* Linux 5.7 */
#endif

/*
 * mremap moves page table entries, not bytes: a 64 MiB block moves in
 * microseconds instead of the milliseconds a copy takes.  DONTUNMAP
 * leaves the old range mapped (and empty), so no other mapping can land
 * in the hole it would leave.  A kernel without it says EINVAL once, and
 * the core copies from then on.
 */
static int mmap_move(void *from, size_t size, void *to)
{
	static _Atomic int unsupported;
	int saved = errno, ret = 0;

	if (atomic_load_explicit(&unsupported, memory_order_relaxed))
		return -ENOSYS;
	if (mremap(from, size, size, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, to) ==
	    MAP_FAILED) {
		ret = -errno;
		if (errno == EINVAL)
			atomic_store_explicit(&unsupported, 1, memory_order_relaxed);
	}
	errno = saved;
	return ret;
}

static int mmap_extend(void *addr, size_t old, size_t new)
{
	int saved = errno, ret = 0;

	/* No MREMAP_MAYMOVE: either it grows where it is or nothing changes. */
	if (mremap(addr, old, new, 0) == MAP_FAILED)
		ret = -errno;
	errno = saved;
	return ret;
}

/* mincore(), a vector of pages at a time. */
static long mmap_resident(const void *addr, size_t size)
{
	unsigned char vec[256];
	size_t page = mmap_page_size(), n = (size + page - 1) / page, done = 0;
	long pages = 0;
	int saved = errno;

	while (done < n) {
		size_t k = n - done < sizeof(vec) ? n - done : sizeof(vec);

		if (mincore((char *)(uintptr_t)addr + done * page, k * page, vec)) {
			pages = -errno;
			break;
		}
		for (size_t i = 0; i < k; i++)
			pages += vec[i] & 1;
		done += k;
	}
	errno = saved;
	return pages < 0 ? pages : pages * (long)page;
}

const struct hak_backend_ops hak_backend_mmap = {
	.name = "mmap",
	.caps = HAK_BACKEND_CAN_RETURN | HAK_BACKEND_ZEROED,
	.reserve = mmap_reserve,
	.decommit = mmap_decommit,
	.release = mmap_release,
	.extend = mmap_extend,
	.page_size = mmap_page_size,
	.protect = mmap_protect,
	.huge = mmap_huge,
	.move = mmap_move,
	.resident = mmap_resident,
};
HAK_REGISTER_BACKEND(mmap, .ops = &hak_backend_mmap, .rating = 100);
