// SPDX-License-Identifier: MIT
/*
 * frontends/cxx.c - the replaceable C++ allocation functions: operator new
 * and operator delete in every standard form, single and array, plain,
 * nothrow, sized, aligned (std::align_val_t) and their mixtures, defined
 * in C under their Itanium ABI names.
 *
 * C, so that the library needs no C++ runtime of its own: linking
 * libstdc++ would load it, and its start-up allocations, into every
 * program run under LD_PRELOAD.  What only C++ can do comes from the
 * program's C++ runtime, looked up when new fails (a program that calls
 * operator new has one):
 *   - the new_handler (std::get_new_handler), called until it is gone;
 *   - the throw of std::bad_alloc (std::__throw_bad_alloc); the exception
 *     unwinds through these frames, built with unwind tables
 *     (-fexceptions) and holding nothing to clean up;
 *   - the nothrow forms, when a handler is installed, run the runtime's
 *     own nothrow operator (the next definition after this one), which
 *     calls the throwing form (this file's) inside try/catch and turns
 *     bad_alloc into nullptr, as the standard specifies.
 * Without a handler the nothrow forms return NULL directly.
 *
 * The size and alignment a delete is given are not needed (a block's slab
 * comes from its address); the hardened build checks the size against
 * the block's (alloc.h, hak_dealloc_sized).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>

#include "alloc.h"

#define HAK_CXX __attribute__((visibility("default")))
#define SITE __builtin_return_address(0)

typedef void (*new_handler_fn)(void);
typedef struct { char c; } nothrow_t;	/* std::nothrow_t: empty, passed by reference */

/* The program's C++ runtime, or NULL. */
static void *runtime(const char *name)
{
	return dlsym(RTLD_DEFAULT, name);
}

static new_handler_fn new_handler(void)
{
	new_handler_fn (*get)(void) = (new_handler_fn (*)(void))runtime("_ZSt15get_new_handlerv");

	return get ? get() : NULL;
}

static void throw_bad_alloc(size_t size) __attribute__((noreturn));
static void throw_bad_alloc(size_t size)
{
	void (*raise)(void) = (void (*)(void))runtime("_ZSt17__throw_bad_allocv");

	if (raise)
		raise();
	hak_panic("operator new(%zu): out of memory, and no C++ runtime to throw "
		  "std::bad_alloc", size);
}

static void *alloc_at(size_t size, size_t align, const void *site)
{
	return align ? hak_alloc_aligned(align, size, site) : hak_alloc(size, site);
}

/* The throwing forms failed: the handler until it is gone, then bad_alloc. */
static HAK_SLOWPATH void *new_failed(size_t size, size_t align, const void *site)
{
	for (;;) {
		new_handler_fn handler = new_handler();
		void *p;

		if (!handler)
			throw_bad_alloc(size);
		handler();
		p = alloc_at(size, align, site);
		if (p)
			return p;
	}
}

/* An alignment that is not a power of two breaks new's precondition: it
 * fails at once rather than ask the handler for what cannot be had. */
static bool bad_align(size_t align)
{
	return !align || (align & (align - 1));
}

/*
 * The nothrow forms failed with a handler installed: the runtime's own
 * nothrow operator @name runs the handler through the throwing form, and
 * catches.  Without a handler, or a runtime, NULL.
 */
static HAK_SLOWPATH void *nothrow_failed(const char *name, size_t size, size_t align)
{
	const nothrow_t nt = { 0 };
	void *next;

	if (!new_handler())
		return NULL;
	next = dlsym(RTLD_NEXT, name);
	if (!next)
		return NULL;
	if (align)
		return ((void *(*)(size_t, size_t, const nothrow_t *))next)(size, align, &nt);
	return ((void *(*)(size_t, const nothrow_t *))next)(size, &nt);
}

HAK_CXX void *_Znwm(size_t size)
{
	void *p = hak_alloc(size, SITE);

	return hak_likely(p) ? p : new_failed(size, 0, SITE);
}

/* new[] is new: the same function under the array form's name. */
HAK_CXX void *_Znam(size_t size) __attribute__((alias("_Znwm")));

HAK_CXX void *_ZnwmRKSt9nothrow_t(size_t size, const nothrow_t *nt)
{
	void *p = hak_alloc(size, SITE);

	(void)nt;
	return hak_likely(p) ? p : nothrow_failed("_ZnwmRKSt9nothrow_t", size, 0);
}

HAK_CXX void *_ZnamRKSt9nothrow_t(size_t size, const nothrow_t *nt)
{
	void *p = hak_alloc(size, SITE);

	(void)nt;
	return hak_likely(p) ? p : nothrow_failed("_ZnamRKSt9nothrow_t", size, 0);
}

static void *new_aligned(size_t size, size_t align, const void *site)
{
	void *p;

	if (bad_align(align))
		throw_bad_alloc(size);
	p = hak_alloc_aligned(align, size, site);
	return hak_likely(p) ? p : new_failed(size, align, site);
}

static void *new_aligned_nothrow(const char *name, size_t size, size_t align, const void *site)
{
	void *p;

	if (bad_align(align))
		return NULL;
	p = hak_alloc_aligned(align, size, site);
	return hak_likely(p) ? p : nothrow_failed(name, size, align);
}

HAK_CXX void *_ZnwmSt11align_val_t(size_t size, size_t align)
{
	return new_aligned(size, align, SITE);
}

HAK_CXX void *_ZnamSt11align_val_t(size_t size, size_t align)
	__attribute__((alias("_ZnwmSt11align_val_t")));

HAK_CXX void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t size, size_t align, const nothrow_t *nt)
{
	(void)nt;
	return new_aligned_nothrow("_ZnwmSt11align_val_tRKSt9nothrow_t", size, align, SITE);
}

HAK_CXX void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t size, size_t align, const nothrow_t *nt)
{
	(void)nt;
	return new_aligned_nothrow("_ZnamSt11align_val_tRKSt9nothrow_t", size, align, SITE);
}

/* delete, delete[], and their nothrow and aligned forms: a plain free. */
#define HAK_DELETE(name, ...)					\
	HAK_CXX void name(void *p, ##__VA_ARGS__)		\
	{							\
		hak_dealloc(p, SITE);				\
	}
#define UNUSED __attribute__((unused))
HAK_DELETE(_ZdlPv)
HAK_DELETE(_ZdaPv)
HAK_DELETE(_ZdlPvRKSt9nothrow_t, const nothrow_t *nt UNUSED)
HAK_DELETE(_ZdaPvRKSt9nothrow_t, const nothrow_t *nt UNUSED)
HAK_DELETE(_ZdlPvSt11align_val_t, size_t align UNUSED)
HAK_DELETE(_ZdaPvSt11align_val_t, size_t align UNUSED)
HAK_DELETE(_ZdlPvSt11align_val_tRKSt9nothrow_t, size_t align UNUSED, const nothrow_t *nt UNUSED)
HAK_DELETE(_ZdaPvSt11align_val_tRKSt9nothrow_t, size_t align UNUSED, const nothrow_t *nt UNUSED)

/* new(size) served the block, so it is of @size's class: an exact check. */
HAK_CXX void _ZdlPvm(void *p, size_t size)
{
	hak_dealloc_sized(p, size, true, "operator delete", SITE);
}

HAK_CXX void _ZdaPvm(void *p, size_t size)
{
	hak_dealloc_sized(p, size, true, "operator delete[]", SITE);
}

/* An aligned block may be of a larger class than @size's: it must only hold it. */
HAK_CXX void _ZdlPvmSt11align_val_t(void *p, size_t size, size_t align)
{
	(void)align;
	hak_dealloc_sized(p, size, false, "operator delete", SITE);
}

HAK_CXX void _ZdaPvmSt11align_val_t(void *p, size_t size, size_t align)
{
	(void)align;
	hak_dealloc_sized(p, size, false, "operator delete[]", SITE);
}
