// SPDX-License-Identifier: MIT
/*
 * test/lib/tracefile.c - the trace reader of tracefile.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tracefile.h"

void *tracefile_load(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;

	if (!f)
		return NULL;
	do {
		if (n == cap) {
			char *nb = realloc(buf, cap = cap ? 2 * cap : 65536);

			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
	} while (r);
	fclose(f);
	*len = n;
	return buf ? buf : malloc(1);
}

static uint64_t u64(const char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static uint32_t u32(const char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

int tracefile_parse(const void *buf, size_t len, struct trace_file *t)
{
	const char *b = buf;
	size_t off, cap = 0;

	memset(t, 0, sizeof(*t));
	if (len < sizeof(t->hdr)) {
		t->err = "shorter than the header";
		return -1;
	}
	memcpy(&t->hdr, b, sizeof(t->hdr));
	if (memcmp(t->hdr.magic, HAK_TRACE_MAGIC, 8))
		t->err = "no magic";
	else if (t->hdr.version != HAK_TRACE_VERSION)
		t->err = "another version";
	else if (t->hdr.byte_order != HAK_TRACE_BYTE_ORDER)
		t->err = "another byte order";
	else if (t->hdr.header_size < sizeof(t->hdr) || t->hdr.header_size > len ||
		 t->hdr.header_size % 8)
		t->err = "a bad header size";
	if (t->err)
		return -1;
	for (off = t->hdr.header_size; off + sizeof(struct hak_trace_rec) <= len;) {
		struct hak_trace_rec h;
		struct trace_rec *r;
		const char *p = b + off;

		memcpy(&h, p, sizeof(h));
		if (h.size < 8 || h.size % 8 || off + h.size > len)
			break;
		if (t->n == cap) {
			struct trace_rec *nr = realloc(t->rec, (cap = cap ? 2 * cap : 1024) * sizeof(*nr));

			if (!nr) {
				t->err = "out of memory";
				return -1;
			}
			t->rec = nr;
		}
		r = &t->rec[t->n++];
		memset(r, 0, sizeof(*r));
		r->off = off;
		r->type = h.type;
		r->flags = h.flags;
		r->thread = h.thread;
		switch (h.type) {
		case HAK_TR_MODULE:
			if (h.size < sizeof(struct hak_trace_module) + 8)
				goto bad;
			r->id = u32(p + 8);
			r->base = u64(p + 16);
			r->end = u64(p + 24);
			r->file_off = u64(p + 32);
			r->path = p + sizeof(struct hak_trace_module);
			if (!memchr(r->path, 0, h.size - sizeof(struct hak_trace_module)))
				goto bad;
			break;
		case HAK_TR_THREAD:
			r->time = u64(p + 8);
			break;
		case HAK_TR_REALLOC:
			if (h.size < sizeof(struct hak_trace_realloc))
				goto bad;
			r->old = u64(p + offsetof(struct hak_trace_realloc, old_addr));
			/* fall through */
		case HAK_TR_ALLOC:
			if (h.size < sizeof(struct hak_trace_alloc))
				goto bad;
			r->time = u64(p + offsetof(struct hak_trace_alloc, time_ns));
			r->addr = u64(p + offsetof(struct hak_trace_alloc, addr));
			r->size = u64(p + offsetof(struct hak_trace_alloc, size));
			r->site = u64(p + offsetof(struct hak_trace_alloc, site));
			r->align = u32(p + offsetof(struct hak_trace_alloc, align));
			break;
		case HAK_TR_FREE:
			if (h.size < sizeof(struct hak_trace_free))
				goto bad;
			r->time = u64(p + 8);
			r->addr = u64(p + 16);
			break;
		case HAK_TR_LOST:
			r->time = u64(p + 8);
			r->lost = u64(p + 16);
			break;
		}
		off += h.size;
		continue;
bad:
		t->n--;
		break;
	}
	t->end = off;
	return 0;
}

void tracefile_free(struct trace_file *t)
{
	free(t->rec);
	t->rec = NULL;
	t->n = 0;
}
