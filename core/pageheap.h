/* SPDX-License-Identifier: MIT */
/*
 * core/pageheap.h - runs of superslab-sized units inside large reserved
 * regions, for the large blocks that do not fit a span.
 *
 * The page heap hands out runs of whole units (HAK_PH_UNIT, the superslab
 * size, aligned to it), takes them back, coalesces free neighbours and
 * splits free runs, so that freed memory of any size serves the next
 * request of any size without a system call.  A block starts at its
 * run's first byte; its header (large_header.h) lives in the page heap's
 * own metadata, not in the run.  Free runs stay committed ("dirty") until
 * decay returns them to the OS, oldest first, after the delay and within
 * the budget the policy publishes.  See pageheap.c for the design.
 *
 * Called by the large-block path (large.c, and hak_ptr_kind() to tell
 * its blocks); calls only the backend and the window map.  Every function
 * but hak_ph_header() takes the page heap's lock, a leaf.
 */
#ifndef HAK_PAGEHEAP_H
#define HAK_PAGEHEAP_H

#include "large_header.h"

#define HAK_PH_SHIFT HAK_SS_SHIFT
#define HAK_PH_UNIT ((size_t)1 << HAK_PH_SHIFT)

/* Ages of freed memory when it is taken again: log2 ms buckets. */
#define HAK_PH_AGE_BUCKETS 18	/* [0, 1) ms, [1, 2), [2, 4), ..., >= 2^16 ms */

/*
 * What the page heap holds, and what it has done since it started: the
 * policies learn from the ages at which freed memory was taken again, and
 * whether decay had returned it by then.  Byte counts of whole units.
 */
struct hak_ph_stats {
	size_t mapped;			/* bytes reserved in regions */
	size_t committed;		/* bytes that may be resident */
	size_t dirty;			/* of those, in free runs */
	size_t in_use;			/* bytes of the runs handed out */
	size_t slack;			/* of those, resident past their blocks' ends */
	uint64_t oldest_dirty_ms;	/* when the oldest dirty unit was freed; 0: none */
	uint64_t runs;			/* runs handed out */
	uint64_t freed;			/* bytes given back */
	uint64_t fresh;			/* bytes handed out never used before */
	uint64_t hit[HAK_PH_AGE_BUCKETS];	/* freed memory reused while committed */
	uint64_t miss[HAK_PH_AGE_BUCKETS];	/* freed memory reused after decay */
	uint64_t decayed;		/* bytes decay returned to the OS */
	uint64_t moved;			/* bytes moved to a new run without a copy */
	uint64_t regions;		/* regions reserved (never released) */
};

/* How the page heap serves and gives back memory: the policy's choice. */
struct hak_ph_params {
	uint64_t delay_ms;		/* free units stay committed this long */
	size_t keep_bytes;		/* and at most this many of them at once */
	size_t huge_min;		/* runs of at least this many bytes get huge pages */
};

/*
 * A run of ceil(@size / HAK_PH_UNIT) units for a block of @size bytes at
 * its start.  Returns the block, or NULL when no memory can be had (the
 * backend refused; nothing changed); *@hdr is its header, to be filled by
 * the caller, and *@zero tells whether its bytes read as zero.
 */
void *hak_ph_alloc(size_t size, struct hak_large_hdr **hdr, bool *zero);

/* Give back the block at @p; false when @p is no block of the page heap. */
bool hak_ph_free(void *p);

/*
 * Make the first @size bytes of the block at @p read as zero by giving
 * its whole pages back to the OS, which faults in zero pages where they
 * are touched again; the rest is written.  False when no page went back
 * (the backend cannot return pages, or refused): all of it was written.
 */
bool hak_ph_zero(void *p, size_t size);
/* True when the block at @p lies in a region of huge pages. */
bool hak_ph_huge(const void *p);

/*
 * Whether a thread found the page heap's lock held by another in the last
 * HAK_PH_CONTENDED_MS: while it is, the BigCache keeps blocks in front of
 * it (bigcache.c says why only then).  hak_ph_note_contended() is what
 * the lock does when it finds itself held (tests call it to play that).
 */
#define HAK_PH_CONTENDED_MS 1000
bool hak_ph_contended(void);
void hak_ph_note_contended(void);

/*
 * Make the run of the block at @p fit @size bytes where it stands: a
 * growth takes the free units right after it, a shrink gives its last
 * units back.  Returns the run's new length in bytes, or 0 (nothing
 * changed) when the units after it are not free.
 */
size_t hak_ph_resize(void *p, size_t size);

/*
 * Move the block at @p into a new run for @size bytes (more than its run
 * holds) without copying it: the backend moves the pages, and the old run
 * is given back.  Returns the new block (*@hdr its header, to be filled),
 * or NULL with nothing changed when the backend cannot move pages or the
 * new run would be of the other kind of region (huge pages or not).
 */
void *hak_ph_move(void *p, size_t size, struct hak_large_hdr **hdr);
/* The block at @p had its pages moved away: its run goes back, clean. */
void hak_ph_free_moved(void *p);
/* Bytes of the run of the block at @p (0: no block). */
size_t hak_ph_run_len(const void *p);

/*
 * The header of the block at @p, or NULL when @p is not the start of a
 * live block of the page heap.  No lock: for the block's owner, or to
 * classify a pointer on a free (a block freed meanwhile by another thread
 * is the caller's race, as with any double free).
 */
struct hak_large_hdr *hak_ph_header(const void *p);
/* True when @p lies in a region of the page heap. */
bool hak_ph_owns(const void *p);

/*
 * Large blocks wherever they live (here, since every large block's home is
 * the page heap or a mapping of its own beside it): the header of the live
 * block @p, and the return of a mapping of its own to the backend (by the
 * large-block floor, or by the BigCache when it lets a block go).
 */
struct hak_large_hdr *hak_large_hdr_find(const void *p);
void hak_large_release(struct hak_large_hdr *h);
/*
 * Record (@on) or forget the windows of the mapping [@base, @base + @len)
 * that hold its block @block in the owner map, from the block's own
 * window on: the header page before a block aligned to a window lies in
 * the window before, which another mapping's block may own.  0 or -ENOMEM.
 */
int hak_mapping_own(void *block, const char *base, size_t len, bool on);

void hak_ph_set_params(const struct hak_ph_params *p);
void hak_ph_get_params(struct hak_ph_params *p);

/* Run decay if it is due; cheap when nothing is dirty.  Any slow path. */
void hak_ph_tick(void);
/* Return every free unit to the OS now. */
size_t hak_ph_purge_all(void);

void hak_ph_get_stats(struct hak_ph_stats *out);

void hak_ph_lock(void);
void hak_ph_unlock(void);

#endif /* HAK_PAGEHEAP_H */
