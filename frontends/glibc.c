// SPDX-License-Identifier: MIT
/*
 * frontends/glibc.c - glibc's malloc extras, answered with hakmem's own
 * heap: malloc_trim, mallinfo2, mallinfo, mallopt, malloc_stats and
 * malloc_info.  Built with the malloc replacement (libc.c): where glibc's
 * malloc is in charge these must stay glibc's, or they would report and
 * trim a heap that is not the one in use.
 *
 * mallinfo2's fields, from struct hak_meminfo (core/alloc.h):
 *
 *   arena     bytes committed: superslabs, page heap, own mappings
 *   uordblks  bytes in use: exact with CONFIG_HAKMEM_STATS_FASTPATH, else
 *             arena less fordblks (free blocks inside slabs and the
 *             threads' slab caches count as in use)
 *   fordblks  free bytes still committed that malloc_trim gives back:
 *             free slabs, free page heap runs, BigCache blocks
 *   keepcost  the same as fordblks
 *   usmblks   the peak of arena
 *   ordblks, smblks, hblks, hblkhd, fsmblks: 0 (no bins, no fastbins,
 *             large blocks are in arena)
 *
 * arena, uordblks and usmblks come from the gauges of CONFIG_HAKMEM_STATS;
 * without it they are 0.  The figures are read while other threads run:
 * each is exact for some moment.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>

#include <hakmem.h>

#include "alloc.h"
#include "init.h"
#include "options.h"
#include "stats.h"

#define HAK_LIBC __attribute__((visibility("default")))

/* @pad is what glibc keeps at the top of its heap; hakmem has no top. */
HAK_LIBC int malloc_trim(size_t pad)
{
	(void)pad;
	return hak_trim() > 0;
}

static size_t free_bytes(const struct hak_meminfo *mi)
{
	return mi->free_pool + mi->free_pageheap + mi->free_front;
}

HAK_LIBC struct mallinfo2 mallinfo2(void)
{
	struct hak_meminfo mi;
	struct mallinfo2 r = { 0 };

	hak_meminfo(&mi);
	r.arena = mi.committed;
	r.usmblks = mi.committed_peak;
	r.uordblks = mi.in_use;
	r.fordblks = free_bytes(&mi);
	r.keepcost = r.fordblks;
	return r;
}

static int clamp(size_t v)
{
	return v > INT_MAX ? INT_MAX : (int)v;
}

/* The old form: int fields, which hakmem fills up to INT_MAX (glibc wraps). */
HAK_LIBC struct mallinfo mallinfo(void)
{
	struct mallinfo2 m = mallinfo2();

	return (struct mallinfo){
		.arena = clamp(m.arena), .usmblks = clamp(m.usmblks),
		.uordblks = clamp(m.uordblks), .fordblks = clamp(m.fordblks),
		.keepcost = clamp(m.keepcost),
	};
}

/*
 * M_TRIM_THRESHOLD (free memory glibc keeps before it trims) is
 * pageheap.max_dirty (freed large-block memory kept committed).  Nothing
 * else has a meaning here: M_MMAP_THRESHOLD is the policy's map_min,
 * which it learns, and hakmem has no arenas, top or fastbins.  Returns 1
 * when the value was taken, 0 otherwise (a bad value gets one line).
 */
HAK_LIBC int mallopt(int param, int value)
{
	char text[16];

	if (param != M_TRIM_THRESHOLD)
		return 0;
	/* After the set-up, which would otherwise set the option again. */
	hak_init();
	snprintf(text, sizeof(text), "%d", value);
	return hak_option_set("pageheap.max_dirty", text, "mallopt(M_TRIM_THRESHOLD)") == 0;
}

HAK_LIBC void malloc_stats(void)
{
	struct hak_meminfo mi;

	if (hak_stats_dump_fd(2, "summary") == 0)
		return;
	hak_meminfo(&mi);
	dprintf(2, "hakmem %s: %zu bytes free and committed (statistics not built in)\n",
		hak_version(), free_bytes(&mi));
}

/*
 * glibc's document, version 1, with hakmem's figures in its elements
 * (one heap; "rest" is fordblks, "current" arena, "max" usmblks), and
 * hakmem's own breakdown in <hakmem>.
 */
HAK_LIBC int malloc_info(int options, FILE *fp)
{
	struct hak_meminfo mi;
	size_t free;

	if (options || !fp) {
		errno = EINVAL;
		return -1;
	}
	hak_meminfo(&mi);
	free = free_bytes(&mi);
	fprintf(fp, "<malloc version=\"1\">\n"
		    "<heap nr=\"0\">\n"
		    "<sizes>\n</sizes>\n"
		    "<total type=\"fast\" count=\"0\" size=\"0\"/>\n"
		    "<total type=\"rest\" count=\"0\" size=\"%zu\"/>\n"
		    "<system type=\"current\" size=\"%zu\"/>\n"
		    "<system type=\"max\" size=\"%zu\"/>\n"
		    "<aspace type=\"total\" size=\"%zu\"/>\n"
		    "<aspace type=\"mprotect\" size=\"%zu\"/>\n"
		    "</heap>\n",
		free, mi.committed, mi.committed_peak, mi.mapped, mi.mapped);
	fprintf(fp, "<total type=\"fast\" count=\"0\" size=\"0\"/>\n"
		    "<total type=\"rest\" count=\"0\" size=\"%zu\"/>\n"
		    "<total type=\"mmap\" count=\"0\" size=\"0\"/>\n"
		    "<system type=\"current\" size=\"%zu\"/>\n"
		    "<system type=\"max\" size=\"%zu\"/>\n"
		    "<aspace type=\"total\" size=\"%zu\"/>\n"
		    "<aspace type=\"mprotect\" size=\"%zu\"/>\n"
		    "<hakmem version=\"%s\" gauges=\"%s\">\n"
		    "<in-use size=\"%zu\"/>\n"
		    "<free type=\"pool\" size=\"%zu\"/>\n"
		    "<free type=\"pageheap\" size=\"%zu\"/>\n"
		    "<free type=\"bigcache\" size=\"%zu\"/>\n"
		    "<pageheap mapped=\"%zu\" in-use=\"%zu\"/>\n"
		    "</hakmem>\n"
		    "</malloc>\n",
		free, mi.committed, mi.committed_peak, mi.mapped, mi.mapped, hak_version(),
		mi.gauges ? "yes" : "no", mi.in_use, mi.free_pool, mi.free_pageheap,
		mi.free_front, mi.pageheap_mapped, mi.pageheap_in_use);
	return 0;
}
