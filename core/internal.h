/* SPDX-License-Identifier: MIT */
/*
 * internal.h - what every core file needs: build configuration, branch
 * hints, fast/slow path markers, assertions and the derived geometry.
 *
 * Nothing here allocates or touches global state.
 */
#ifndef HAK_INTERNAL_H
#define HAK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <generated/autoconf.h>

/* IS_ENABLED(CONFIG_X): 1 when a bool option is y, else 0, usable in plain C. */
#define __HAK_ARG_PLACEHOLDER_1 0,
#define __hak_take_second(ignored, val, ...) val
#define __hak_is_defined(x) ___hak_is_defined(x)
#define ___hak_is_defined(val) ____hak_is_defined(__HAK_ARG_PLACEHOLDER_##val)
#define ____hak_is_defined(arg1_or_junk) __hak_take_second(arg1_or_junk 1, 0, 0)
#define IS_ENABLED(option) __hak_is_defined(option)

#define hak_likely(x)   __builtin_expect(!!(x), 1)
#define hak_unlikely(x) __builtin_expect(!!(x), 0)

#define HAK_FASTPATH static inline __attribute__((always_inline))
#define HAK_SLOWPATH __attribute__((noinline, cold))
#define HAK_HIDDEN   __attribute__((visibility("hidden")))
#define HAK_TLS      __thread __attribute__((tls_model("initial-exec")))

/*
 * Where global data sits, the kernel's way.  Two threads on different
 * cores that write one cache line pass it back and forth; a thread that
 * writes a line the others only read makes every one of them miss.  So:
 *   __hak_cacheline_aligned  shared data that threads write (locks,
 *       shared counters): each such object starts a line of its own, in a
 *       section where every object does, so none shares a line with any
 *       other or with the tables below;
 *   __hak_read_mostly  written at start-up, read on every call (the size
 *       class table, the options, the hardened build's key): kept together, in
 *       lines that nothing written later shares.
 */
#define HAK_CACHELINE 64
#define __hak_cacheline_aligned \
	__attribute__((aligned(HAK_CACHELINE), section(".data.hak_cacheline_aligned")))
#define __hak_read_mostly \
	__attribute__((aligned(HAK_CACHELINE), section(".data.hak_read_mostly")))

/* The linker's bounds of a registry section (HAK_REGISTER_*); weak, so
 * that a build where nothing registered in it links, with an empty walk. */
#define HAK_SECTION_BOUNDS(type, sec)							\
	extern type const __start_##sec[] __attribute__((weak, visibility("hidden")));	\
	extern type const __stop_##sec[] __attribute__((weak, visibility("hidden")))

#define HAK_ALIGN_UP(x, a)   (((x) + ((a) - 1)) & ~((uintptr_t)(a) - 1))
#define HAK_ALIGN_DOWN(x, a) ((x) & ~((uintptr_t)(a) - 1))

/* Geometry.  A superslab is a naturally aligned region cut into slabs. */
#define HAK_SS_SHIFT     CONFIG_HAKMEM_SUPERSLAB_SHIFT
#define HAK_SS_SIZE      ((size_t)1 << HAK_SS_SHIFT)
#define HAK_SS_MASK      (HAK_SS_SIZE - 1)
#define HAK_SLAB_SHIFT   CONFIG_HAKMEM_SLAB_SHIFT
#define HAK_SLAB_SIZE    ((size_t)1 << HAK_SLAB_SHIFT)
#define HAK_SLABS_PER_SS (HAK_SS_SIZE >> HAK_SLAB_SHIFT)

/*
 * A slab is a run of 1 to HAK_RUN_MAX contiguous slab-sized units, so
 * that medium classes get slabs that hold several blocks; a run is at
 * most half a superslab.  Small blocks are at most a quarter of the
 * largest run, whatever the configuration asks.
 */
#define HAK_RUN_MAX (HAK_SLABS_PER_SS / 2 < 8 ? HAK_SLABS_PER_SS / 2 : 8)
#define HAK_SMALL_MAX \
	((size_t)CONFIG_HAKMEM_SMALL_MAX < (HAK_RUN_MAX * HAK_SLAB_SIZE) / 4 ? \
	 (size_t)CONFIG_HAKMEM_SMALL_MAX : (HAK_RUN_MAX * HAK_SLAB_SIZE) / 4)

#define HAK_MIN_ALIGN 16

_Static_assert(HAK_SLABS_PER_SS >= 4 && HAK_SLABS_PER_SS <= 64,
	       "a superslab must hold 4 to 64 slabs: adjust HAKMEM_SUPERSLAB_SHIFT or HAKMEM_SLAB_SHIFT");

void hak_panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2), cold));
void hak_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2), cold));

#define HAK_BUG_ON(cond)                                                      \
	do {                                                                  \
		if (IS_ENABLED(CONFIG_HAKMEM_DEBUG) && hak_unlikely(cond))    \
			hak_panic("assertion '%s' failed at %s:%d", #cond,    \
				  __FILE__, __LINE__);                        \
	} while (0)

/* Milliseconds from a monotonic coarse clock, nanoseconds from a fine one (slow paths only). */
uint64_t hak_now_ms(void);
uint64_t hak_now_ns(void);
/* @pattern with %p (process id), %e (program name) and %% replaced, into @out. */
void hak_path_format(const char *pattern, char *out, size_t len);
/* Tests and the trace replay: stop the clock at @ns, moved only by the next
 * call; 0: the real clock again. */
void hak_clock_set_fake(uint64_t ns);

#endif /* HAK_INTERNAL_H */
