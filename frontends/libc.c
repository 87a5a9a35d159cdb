// SPDX-License-Identifier: MIT
/*
 * frontends/libc.c - the malloc family, for LD_PRELOAD and -lhakmem.
 *
 * Adapters only: each function maps the C library's contract (as glibc
 * implements it) onto the core.  The call site recorded for large blocks
 * is the caller of the malloc-family function.
 *
 * glibc contracts kept here: impossible sizes give NULL and ENOMEM at every
 * entry point; posix_memalign reports errors by return value and leaves
 * its output alone; memalign and aligned_alloc round an alignment that is
 * not a power of two up to one (glibc up to 2.37; the native
 * hak_aligned_alloc is strict and says EINVAL); realloc(p, 0) frees p and
 * returns NULL; free never changes errno.
 */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "alloc.h"

#define HAK_LIBC __attribute__((visibility("default")))
#define SITE __builtin_return_address(0)

static size_t page_size(void)
{
	static size_t page;

	if (!page) {
		long p = sysconf(_SC_PAGESIZE);

		page = p > 0 ? (size_t)p : 4096;
	}
	return page;
}

HAK_LIBC void *malloc(size_t size)
{
	return hak_alloc(size, SITE);
}

HAK_LIBC void free(void *p)
{
	hak_dealloc(p, SITE);
}

HAK_LIBC void *calloc(size_t nmemb, size_t size)
{
	return hak_alloc_zeroed(nmemb, size, SITE);
}

HAK_LIBC void *realloc(void *p, size_t size)
{
	return hak_resize(p, size, SITE);
}

HAK_LIBC void *reallocarray(void *p, size_t nmemb, size_t size)
{
	size_t total;

	if (__builtin_mul_overflow(nmemb, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return hak_resize(p, total, SITE);
}

HAK_LIBC int posix_memalign(void **out, size_t align, size_t size)
{
	int saved = errno;
	void *p;

	if (!align || (align & (align - 1)) || align % sizeof(void *))
		return EINVAL;
	p = hak_alloc_aligned(align, size, SITE);
	errno = saved;
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

static void *memalign_at(size_t align, size_t size, const void *site)
{
	if (align & (align - 1)) {
		if (align > SIZE_MAX / 2 + 1) {
			errno = EINVAL;
			return NULL;
		}
		align = (size_t)1 << (64 - __builtin_clzll(align));
	}
	return hak_alloc_aligned(align ? align : 1, size, site);
}

HAK_LIBC void *aligned_alloc(size_t align, size_t size)
{
	return memalign_at(align, size, SITE);
}

HAK_LIBC void *memalign(size_t align, size_t size)
{
	return memalign_at(align, size, SITE);
}

HAK_LIBC void *valloc(size_t size)
{
	return hak_alloc_aligned(page_size(), size, SITE);
}

HAK_LIBC void *pvalloc(size_t size)
{
	size_t page = page_size();

	if (size > SIZE_MAX - page) {
		errno = ENOMEM;
		return NULL;
	}
	size = size ? HAK_ALIGN_UP(size, page) : page;
	return hak_alloc_aligned(page, size, SITE);
}

HAK_LIBC size_t malloc_usable_size(void *p)
{
	return hak_usable(p);
}

/* realloc may have kept a larger block: the size is checked as a bound only. */
HAK_LIBC void free_sized(void *p, size_t size)
{
	hak_dealloc_sized(p, size, false, "free_sized", SITE);
}

HAK_LIBC void free_aligned_sized(void *p, size_t align, size_t size)
{
	(void)align;
	hak_dealloc_sized(p, size, false, "free_aligned_sized", SITE);
}

/*
 * The names glibc's own allocator also answers to, which some programs and
 * libraries call to reach "the real malloc" (tcmalloc and mimalloc export
 * them too); cfree is the old name of free.  Aliases: the same functions.
 */
#define HAK_ALIAS(name, of) HAK_LIBC __typeof(of) name __attribute__((alias(#of)))
HAK_ALIAS(__libc_malloc, malloc);
HAK_ALIAS(__libc_free, free);
HAK_ALIAS(__libc_calloc, calloc);
HAK_ALIAS(__libc_realloc, realloc);
HAK_ALIAS(__libc_memalign, memalign);
HAK_ALIAS(__libc_valloc, valloc);
HAK_ALIAS(__libc_pvalloc, pvalloc);
HAK_ALIAS(cfree, free);
