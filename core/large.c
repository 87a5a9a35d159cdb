// SPDX-License-Identifier: MIT
/*
 * core/large.c - blocks above the small limit.
 *
 * Two homes, both described in large_header.h:
 *   span    up to half a superslab with alignment <= 64: whole slabs
 *           carved from the pool, so a free/alloc see-saw reuses
 *           committed memory without a system call;
 *   mapped  anything bigger or more strictly aligned: a mapping of its
 *           own, released to the backend on free.
 * Call sites are recorded in the header; caching and routing decisions
 * belong to the policies and will be taken here, on this slow path.
 */
#include <errno.h>
#include <stdint.h>

#include "large.h"
#include "backend.h"
#include "init.h"
#include "stats.h"

static void *large_span(size_t size, const void *site)
{
	size_t need = size + HAK_LARGE_HDR_SIZE;
	unsigned n = (unsigned)((need + HAK_SLAB_SIZE - 1) >> HAK_SLAB_SHIFT);
	struct hak_slab *s = hak_pool_take_span(n);

	if (!s)
		return NULL;

	char *base = hak_slab_start(s);
	size_t len = (size_t)n << HAK_SLAB_SHIFT;
	char *block = base + HAK_LARGE_HDR_SIZE;

	hak_large_hdr_init(hak_large_hdr_of(block), len - HAK_LARGE_HDR_SIZE, base, len,
			   site, HAK_LARGE_F_SPAN);
	hak_stat_add(HAK_STAT_LARGE_SPAN, 1);
	return block;
}

static void *large_map(size_t size, size_t align, const void *site)
{
	size_t page = hak_backend->page_size();
	size_t off, len, ralign;
	char *base, *block;

	if (align < HAK_SS_SIZE) {
		/* Header at base + 64 shadows slab 0's owner word: see large_header.h. */
		off = align > 2 * HAK_LARGE_HDR_SIZE ? align : 2 * HAK_LARGE_HDR_SIZE;
		ralign = HAK_SS_SIZE;
	} else {
		/* The block is the superslab-aligned address; its header page precedes it. */
		off = align;
		ralign = align;
	}
	if (size > SIZE_MAX / 2 - off - page)
		return NULL;
	len = HAK_ALIGN_UP(off + size, page);
	base = hak_backend->reserve(len, ralign);
	if (!base)
		return NULL;
	block = base + off;
	if (align >= HAK_SS_SIZE && off > page) {
		/* Give back the unused head, keeping the header's page. */
		hak_backend->release(base, off - page);
		len -= off - page;
		base = block - page;
	}
	hak_large_hdr_init(hak_large_hdr_of(block), len - (size_t)(block - base), base, len,
			   site, HAK_LARGE_F_MAPPED);
	hak_stat_add(HAK_STAT_LARGE_MAPPED, 1);
	hak_stat_bytes(HAK_STAT_BYTES_MAPPED, (long)len);
	return block;
}

void *hak_large_alloc(size_t size, size_t align, const void *site)
{
	void *p;

	hak_init();
	if (size > PTRDIFF_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	if (align <= HAK_LARGE_HDR_SIZE &&
	    size + HAK_LARGE_HDR_SIZE <= (size_t)HAK_SPAN_MAX_SLABS << HAK_SLAB_SHIFT)
		p = large_span(size, site);
	else
		p = large_map(size, align, site);
	if (!p)
		errno = ENOMEM;
	return p;
}

void hak_large_free(void *p, struct hak_large_hdr *h)
{
	if (((uintptr_t)p & 15) || !hak_large_hdr_valid(h))
		hak_panic("free(): invalid pointer %p (no valid hakmem block header)", p);
	hak_stat_add(HAK_STAT_LARGE_FREED, 1);
	h->magic = 0;	/* a second free of the same block is caught above */
	if (hak_large_flags(h) & HAK_LARGE_F_SPAN) {
		hak_pool_put_span(hak_slab_of(hak_large_base(h)));
		return;
	}
	hak_stat_bytes(HAK_STAT_BYTES_MAPPED, -(long)hak_large_len(h));
	hak_backend->release(hak_large_base(h), hak_large_len(h));
}

bool hak_large_fresh(const void *p)
{
	return hak_large_flags(hak_large_hdr_of(p)) & HAK_LARGE_F_MAPPED;
}
