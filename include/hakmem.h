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

/** HAK_VERSION_STRING - version of the headers, "major.minor.patch". */
#define HAK_VERSION_MAJOR 0
#define HAK_VERSION_MINOR 1
#define HAK_VERSION_PATCH 0
#define HAK_VERSION_STRING "0.1.0"

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

#ifdef __cplusplus
}
#endif

#endif /* HAKMEM_H */
