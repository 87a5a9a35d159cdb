// SPDX-License-Identifier: MIT
/*
 * frontends/api.c - the native API of include/hakmem.h over the core.
 */
#include <hakmem.h>

#include <errno.h>

#include "alloc.h"
#include "stats.h"

#define SITE __builtin_return_address(0)

void *hak_malloc(size_t size)
{
	return hak_alloc(size, SITE);
}

void *hak_malloc_site(size_t size, const void *site)
{
	return hak_alloc(size, site);
}

void *hak_calloc(size_t nmemb, size_t size)
{
	return hak_alloc_zeroed(nmemb, size, SITE);
}

void *hak_realloc(void *ptr, size_t size)
{
	return hak_resize(ptr, size, SITE);
}

void *hak_aligned_alloc(size_t alignment, size_t size)
{
	return hak_alloc_aligned(alignment, size, SITE);
}

void hak_free(void *ptr)
{
	hak_dealloc(ptr, SITE);
}

size_t hak_usable_size(const void *ptr)
{
	return hak_usable(ptr);
}

int hak_stat_get(const char *name, uint64_t *value)
{
	if (!IS_ENABLED(CONFIG_HAKMEM_STATS)) {
		errno = ENOSYS;
		return -1;
	}
	return hak_stats_get_name(name, value);
}

int hak_stats_print(int fd, const char *format)
{
	if (!IS_ENABLED(CONFIG_HAKMEM_STATS)) {
		errno = ENOSYS;
		return -1;
	}
	return hak_stats_dump_fd(fd, format);
}

void hak_stats_reset(void)
{
	hak_stats_clear();
}

const char *hak_version(void)
{
	return IS_ENABLED(CONFIG_HAKMEM_DEBUG) ? HAK_VERSION_STRING " (debug build)"
					       : HAK_VERSION_STRING;
}
