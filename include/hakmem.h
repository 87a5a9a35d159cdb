/* SPDX-License-Identifier: MIT */
/*
 * hakmem.h - the native hakmem API.
 *
 * Programs that link with -lhakmem may call these directly; programs run
 * under LD_PRELOAD=libhakmem.so get the same allocator through the standard
 * malloc family.  Memory from either interface may be released through the
 * other: hak_free(malloc(n)) and free(hak_malloc(n)) are both valid.
 *
 * Error convention: functions returning a pointer return NULL and set errno
 * (ENOMEM when memory cannot be had, EINVAL for a bad alignment).
 */
#ifndef HAKMEM_H
#define HAKMEM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define HAK_API __attribute__((visibility("default")))
#define HAK_MALLOC_ATTR __attribute__((malloc, warn_unused_result))
#else
#define HAK_API
#define HAK_MALLOC_ATTR
#endif

/*
 * The version of the headers, and the one place the version is written:
 * the Makefile reads these three lines for the library's file name and
 * SONAME (libhakmem.so.MAJOR), hakmem.pc and the wrapper's --version.
 * A release that breaks the ABI raises MAJOR.
 */
#define HAK_VERSION_MAJOR 0
#define HAK_VERSION_MINOR 1
#define HAK_VERSION_PATCH 0
#define HAK_VERSION_STR_(x) #x
#define HAK_VERSION_STR(x) HAK_VERSION_STR_(x)
/** HAK_VERSION_STRING - the version of the headers, "major.minor.patch". */
#define HAK_VERSION_STRING HAK_VERSION_STR(HAK_VERSION_MAJOR) "." \
	HAK_VERSION_STR(HAK_VERSION_MINOR) "." HAK_VERSION_STR(HAK_VERSION_PATCH)

/**
 * hak_malloc() - allocate uninitialised memory.
 * @size: bytes wanted; 0 gives a unique, freeable pointer.
 *
 * Return: a block aligned to at least 16 bytes, or NULL with errno ENOMEM.
 */
HAK_API HAK_MALLOC_ATTR void *hak_malloc(size_t size);

/**
 * hak_malloc_site() - hak_malloc() with an explicit call site.
 * @size: bytes wanted.
 * @site: an address identifying the caller (for example its return
 *        address); large blocks record it for the call-site policies.
 *
 * Return: as hak_malloc().
 */
HAK_API HAK_MALLOC_ATTR void *hak_malloc_site(size_t size, const void *site);

/**
 * hak_calloc() - allocate zeroed memory for an array.
 * @nmemb: number of elements.
 * @size: size of one element.
 *
 * Return: zeroed block, or NULL with errno ENOMEM (also when nmemb * size
 * overflows).
 */
HAK_API HAK_MALLOC_ATTR void *hak_calloc(size_t nmemb, size_t size);

/**
 * hak_realloc() - resize a block, keeping its contents.
 * @ptr: a block from hakmem, or NULL (then this is hak_malloc()).
 * @size: new size; 0 frees @ptr and returns NULL (glibc's behaviour).
 *
 * Return: the resized block (possibly moved), or NULL with errno ENOMEM,
 * in which case @ptr is left untouched and still owned by the caller.
 */
HAK_API void *hak_realloc(void *ptr, size_t size);

/**
 * hak_aligned_alloc() - allocate memory with a given alignment.
 * @alignment: a power of two (any size up to half the address space).
 * @size: bytes wanted.
 *
 * Return: a block whose address is a multiple of @alignment, or NULL with
 * errno EINVAL (bad alignment) or ENOMEM.
 */
HAK_API HAK_MALLOC_ATTR void *hak_aligned_alloc(size_t alignment, size_t size);

/**
 * hak_free() - release a block.
 * @ptr: a block from hakmem, or NULL (a no-op).  errno is preserved.
 */
HAK_API void hak_free(void *ptr);

/**
 * hak_usable_size() - bytes usable in a block.
 * @ptr: a live block, or NULL.
 *
 * Return: at least the size requested for @ptr, all of it writable; 0 for
 * NULL.
 */
HAK_API size_t hak_usable_size(const void *ptr);

/**
 * hak_version() - version of the library that is running.
 *
 * Return: a static string, "major.minor.patch", followed by " (debug build)"
 * when internal assertions are compiled in.
 */
HAK_API const char *hak_version(void);

/**
 * hak_stat_get() - read one statistic by its dotted name.
 * @name: a counter ("free.remote", "alloc.small.refill", ...), a total
 *        ("alloc.total", "free.total", "live.blocks") or a gauge
 *        ("bytes.mapped", "bytes.committed.peak"); docs/stats.md lists them.
 *        A leading "stats." is accepted ("stats.free.remote").
 * @value: where the value goes.
 *
 * Counters from other threads are read as they run: each is exact for some
 * moment.
 *
 * Return: 0, or -1 with errno ENOENT for an unknown name, EINVAL for a NULL
 * argument, ENOSYS when the library was built without statistics.
 */
HAK_API int hak_stat_get(const char *name, uint64_t *value);

/**
 * hak_stats_print() - write the statistics now.
 * @fd: where to (write(2); nothing is allocated).
 * @format: "summary" (a readable table) or "json" (docs/stats.md); NULL is
 *          "summary".
 *
 * Return: 0, or -1 with errno EINVAL (bad @fd or @format) or ENOSYS.
 */
HAK_API int hak_stats_print(int fd, const char *format);

/**
 * hak_stats_reset() - set every counter to zero and every peak to the
 * current value.  Counts made by other threads during the reset may
 * survive it.
 */
HAK_API void hak_stats_reset(void);

#ifdef __cplusplus
}
#endif

#endif /* HAKMEM_H */
