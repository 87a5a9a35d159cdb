/* SPDX-License-Identifier: MIT */
/*
 * hakmem_backend.h - where memory comes from.
 *
 * The core never calls the OS itself: every page it uses is reserved,
 * decommitted and released through one struct hak_backend_ops.  Reserved
 * memory is usable at once, and decommitted pages come back on touch: the
 * core never commits, so a backend must give memory that faults in (or is
 * always there).
 *
 * Backends register themselves (HAK_REGISTER_BACKEND, below); the core
 * names none.  It runs on the highest-rated source of memory, with every
 * registered decorator (fault injection, statistics) stacked over it in
 * link order: a decorator is handed the backend below it and forwards to it.
 *
 * Context for every op: slow paths only, any thread, no locks held by the
 * caller that the backend could need.  An op may not call malloc.  Error
 * convention: 0 or a negative errno; reserve returns NULL on failure.
 */
#ifndef HAKMEM_BACKEND_H
#define HAKMEM_BACKEND_H

#include <stddef.h>

/* Capability bits: what the core may rely on. */
#define HAK_BACKEND_CAN_RETURN    (1u << 0) /* decommit really gives pages back (RSS falls) */
#define HAK_BACKEND_ZEROED        (1u << 1) /* fresh and recommitted memory reads as zero */

struct hak_backend_ops {
	/** @name: short name, how the registry finds it (hak_backend_find). */
	const char *name;
	/** @caps: HAK_BACKEND_* bits. */
	unsigned caps;
	/**
	 * @reserve: reserve @size bytes of address space aligned to @align
	 * (a power of two, at least the page size).  @size is a multiple
	 * of the page size.  The range is usable at once.  Returns the
	 * start, or NULL (errno untouched by contract: the core sets ENOMEM
	 * itself).
	 */
	void *(*reserve)(size_t size, size_t align);
	/**
	 * @decommit: give the pages of [@addr, @addr + @size) back while
	 * keeping the range reserved; contents are lost (read as zero when
	 * HAK_BACKEND_ZEROED).  The backend rounds inward to its page size.
	 * Returns 0 or a negative errno; a failure only costs memory.
	 */
	int (*decommit)(void *addr, size_t size);
	/**
	 * @release: return a whole range obtained from @reserve (or a
	 * page-aligned tail or head of it) to the system.  Returns 0 or a
	 * negative errno.
	 */
	int (*release)(void *addr, size_t size);
	/**
	 * @extend: grow the range [@addr, @addr + @old) obtained from
	 * @reserve to @new bytes in place, without moving it.  Page-aligned
	 * sizes.  Returns 0, or a negative errno when the addresses after it
	 * are taken (the range is then unchanged).  NULL: never possible.
	 */
	int (*extend)(void *addr, size_t old, size_t new);
	/** @page_size: the granule of commit and decommit, in bytes. */
	size_t (*page_size)(void);
	/**
	 * @protect: make [@addr, @addr + @size), inside a range obtained
	 * from @reserve, fault on any access (a guard page).  Page-aligned
	 * arguments; @release takes such pages back like any other.
	 * Returns 0 or a negative errno.  NULL: not possible (a hardened
	 * build then goes without guard pages).
	 */
	int (*protect)(void *addr, size_t size);
	/**
	 * @huge: ask for [@addr, @addr + @size), inside a range obtained
	 * from @reserve, to be backed by huge pages where the system can
	 * (a hint: transparent huge pages on Linux).  Page-aligned
	 * arguments.  Returns 0 or a negative errno.  NULL: no huge pages.
	 */
	int (*huge)(void *addr, size_t size);
	/**
	 * @move: move the pages of [@from, @from + @size) to [@to, @to +
	 * @size), both inside ranges obtained from @reserve, without copying
	 * them: afterwards the second range holds what the first held, and
	 * the first stays reserved and reads as zero.  Page-aligned
	 * arguments; the ranges do not overlap.  Returns 0, or a negative
	 * errno with both ranges unchanged.  NULL: never possible.
	 */
	int (*move)(void *from, size_t size, void *to);
	/**
	 * @resident: how many bytes of [@addr, @addr + @size), inside a
	 * range obtained from @reserve, are resident in memory now.  A
	 * measure for heuristics, stale as soon as it is read.  Page-aligned
	 * @addr.  Returns the count, or a negative errno.  NULL: not known.
	 */
	long (*resident)(const void *addr, size_t size);
};

/* A backend's entry in the registry. */
struct hak_backend {
	/* A source of memory, or NULL for a decorator. */
	const struct hak_backend_ops *ops;
	/* The core runs on the source rated highest; 0: never chosen. */
	int rating;
	/*
	 * A decorator: the ops to run on, forwarding to @below.  Called
	 * once, when the allocator starts, before any memory is reserved.
	 */
	const struct hak_backend_ops *(*stack)(const struct hak_backend_ops *below);
};

/* Put a backend in the registry (section hak_backends; as HAK_REGISTER_POLICY). */
#define HAK_REGISTER_BACKEND(id, ...)						\
	static const struct hak_backend hak_backend_entry_##id = { __VA_ARGS__ };	\
	static const struct hak_backend *const hak_backend_ptr_##id		\
	__attribute__((used, section("hak_backends"))) = &hak_backend_entry_##id

#endif /* HAKMEM_BACKEND_H */
