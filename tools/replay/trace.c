// SPDX-License-Identifier: MIT
/*
 * tools/replay/trace.c - the trace reader (trace.h).
 *
 * One pass over the file in its order: the header is checked field by
 * field, in the order a mismatch is best explained (magic, byte order,
 * version, sizes, machine), then each record's frame (size a whole number
 * of words, within the file) and its body (at least its type's struct, a
 * module's path NUL-terminated).  Sites are resolved in that pass, through
 * the modules written so far, as the recorder promises a module before
 * the first record whose site it covers.  The events are then sorted.
 *
 * Every field is copied out with memcpy: the buffer may have any
 * alignment, and the fuzzer hands out odd ones.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trace.h"

/* A mapping as its MODULE record gave it; @mod is the path's entry. */
struct trace_map {
	uint64_t base, end, file_off;
	int mod;
};

/* Open addressing over two 64-bit keys, for the sites. */
struct trace_hash {
	uint64_t *k1, *k2;
	uint32_t *val;			/* UINT32_MAX: empty */
	size_t cap, n;
};

struct trace_reader {
	struct trace *tr;
	struct trace_map *map;
	unsigned nmap, capmap;
	size_t capev, capsite;
	unsigned capmod;
	struct trace_hash by_addr;		/* recorded address -> site */
	struct trace_hash by_off;		/* (module, offset) -> site */
	char *err;
	size_t errlen;
};

static const struct {
	uint8_t type;
	uint16_t size;
} min_size[] = {
	{ HAK_TR_MODULE, sizeof(struct hak_trace_module) + 1 },	/* at least the NUL */
	{ HAK_TR_THREAD, sizeof(struct hak_trace_thread) },
	{ HAK_TR_ALLOC, sizeof(struct hak_trace_alloc) },
	{ HAK_TR_FREE, sizeof(struct hak_trace_free) },
	{ HAK_TR_REALLOC, sizeof(struct hak_trace_realloc) },
	{ HAK_TR_LOST, sizeof(struct hak_trace_lost) },
};

const char *trace_type_name(unsigned type)
{
	static const char *const names[] = {
		[HAK_TR_MODULE] = "MODULE", [HAK_TR_THREAD] = "THREAD",
		[HAK_TR_ALLOC] = "ALLOC", [HAK_TR_FREE] = "FREE",
		[HAK_TR_REALLOC] = "REALLOC", [HAK_TR_LOST] = "LOST",
	};

	return type < sizeof(names) / sizeof(names[0]) ? names[type] : NULL;
}

unsigned trace_machine(void)
{
#if defined(__x86_64__)
	return 62;
#elif defined(__aarch64__)
	return 183;
#elif defined(__i386__)
	return 3;
#elif defined(__arm__)
	return 40;
#elif defined(__riscv)
	return 243;
#elif defined(__powerpc64__)
	return 21;
#elif defined(__s390x__)
	return 22;
#else
	return 0;
#endif
}

static const char *machine_name(unsigned m)
{
	switch (m) {
	case 3: return "i386";
	case 21: return "ppc64";
	case 22: return "s390";
	case 40: return "arm";
	case 62: return "x86-64";
	case 183: return "aarch64";
	case 243: return "riscv";
	default: return "unknown";
	}
}

static int fail(struct trace_reader *r, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct trace_reader *r, size_t off, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(r->err, r->errlen, "offset %zu: ", off);

	if (n >= 0 && (size_t)n < r->errlen) {
		va_start(ap, fmt);
		vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* ---- the site tables ---- */

static uint64_t mix(uint64_t a, uint64_t b)
{
	uint64_t x = a * 0x9e3779b97f4a7c15ULL ^ b;

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	return x ^ x >> 29;
}

static uint32_t *hash_slot(struct trace_hash *h, uint64_t k1, uint64_t k2, bool *found)
{
	size_t i = mix(k1, k2) & (h->cap - 1);

	while (h->val[i] != UINT32_MAX) {
		if (h->k1[i] == k1 && h->k2[i] == k2) {
			*found = true;
			return &h->val[i];
		}
		i = (i + 1) & (h->cap - 1);
	}
	*found = false;
	h->k1[i] = k1;
	h->k2[i] = k2;
	return &h->val[i];
}

static int hash_grow(struct trace_hash *h)
{
	struct trace_hash old = *h;
	size_t cap = old.cap ? old.cap * 2 : 64;

	h->k1 = malloc(cap * sizeof(*h->k1));
	h->k2 = malloc(cap * sizeof(*h->k2));
	h->val = malloc(cap * sizeof(*h->val));
	if (!h->k1 || !h->k2 || !h->val) {
		free(h->k1);
		free(h->k2);
		free(h->val);
		*h = old;
		return -ENOMEM;
	}
	memset(h->val, 0xff, cap * sizeof(*h->val));
	h->cap = cap;
	for (size_t i = 0; i < old.cap; i++) {
		bool found;

		if (old.val[i] != UINT32_MAX)
			*hash_slot(h, old.k1[i], old.k2[i], &found) = old.val[i];
	}
	free(old.k1);
	free(old.k2);
	free(old.val);
	return 0;
}

/* The slot of (@k1, @k2), added (UINT32_MAX) when new; NULL without memory. */
static uint32_t *hash_get(struct trace_hash *h, uint64_t k1, uint64_t k2, bool *found)
{
	uint32_t *v;

	if ((h->n + 1) * 2 > h->cap && hash_grow(h))
		return NULL;
	v = hash_slot(h, k1, k2, found);
	h->n += !*found;
	return v;
}

static void hash_free(struct trace_hash *h)
{
	free(h->k1);
	free(h->k2);
	free(h->val);
}

/* Grow *@arr (of @size-byte items, *@cap of them) to hold @n. */
static int grow(void *arr, size_t *cap, size_t n, size_t size)
{
	void **p = arr;
	size_t c = *cap ? *cap : 16;
	void *q;

	if (n <= *cap)
		return 0;
	while (c < n)
		c *= 2;
	q = realloc(*p, c * size);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = c;
	return 0;
}

/* The site of recorded address @addr: the newest mapping that covers it. */
static int site_of(struct trace_reader *r, uint64_t addr, uint32_t *idx)
{
	struct trace *tr = r->tr;
	uint32_t *v, *w;
	bool found;
	int mod = -1;
	uint64_t off = addr;

	v = hash_get(&r->by_addr, addr, 0, &found);
	if (!v)
		return -ENOMEM;
	if (found) {
		*idx = *v;
		return 0;
	}
	for (unsigned i = r->nmap; i-- > 0;) {
		if (addr >= r->map[i].base && addr < r->map[i].end) {
			mod = r->map[i].mod;
			off = addr - r->map[i].base + r->map[i].file_off;
			break;
		}
	}
	w = hash_get(&r->by_off, (uint64_t)(int64_t)mod, off, &found);
	if (!w)
		return -ENOMEM;
	if (!found) {
		if (grow(&tr->site, &r->capsite, tr->nsite + 1, sizeof(*tr->site)))
			return -ENOMEM;
		tr->site[tr->nsite] = (struct trace_site){ .addr = addr, .module = mod, .offset = off };
		*w = tr->nsite++;
	}
	*v = *w;
	*idx = *w;
	return 0;
}

/* ---- records ---- */

static int add_module(struct trace_reader *r, const unsigned char *p, size_t size, size_t off)
{
	struct trace *tr = r->tr;
	struct hak_trace_module m;
	const char *path = (const char *)p + sizeof(m);
	size_t room = size - sizeof(m);
	size_t len = strnlen(path, room);
	int mod = -1;

	memcpy(&m, p, sizeof(m));
	if (len == room)
		return fail(r, off, "MODULE record's path is not NUL-terminated");
	if (m.end < m.base)
		return fail(r, off, "MODULE record ends (0x%llx) before it starts (0x%llx)",
			    (unsigned long long)m.end, (unsigned long long)m.base);
	for (unsigned i = 0; i < tr->nmod; i++)
		if (!strcmp(tr->mod[i].path, path))
			mod = (int)i;
	if (mod < 0) {
		size_t cap = r->capmod;
		char *copy;

		if (grow(&tr->mod, &cap, tr->nmod + 1, sizeof(*tr->mod)))
			return fail(r, off, "out of memory");
		r->capmod = (unsigned)cap;
		copy = strdup(path);
		if (!copy)
			return fail(r, off, "out of memory");
		tr->mod[tr->nmod] = (struct trace_module){
			.base = m.base, .end = m.end, .file_off = m.file_off, .path = copy,
		};
		mod = (int)tr->nmod++;
	}
	{
		size_t cap = r->capmap;

		if (grow(&r->map, &cap, r->nmap + 1, sizeof(*r->map)))
			return fail(r, off, "out of memory");
		r->capmap = (unsigned)cap;
	}
	r->map[r->nmap++] = (struct trace_map){
		.base = m.base, .end = m.end, .file_off = m.file_off, .mod = mod,
	};
	return 0;
}

static int add_event(struct trace_reader *r, const unsigned char *p, uint8_t type, size_t off)
{
	struct trace *tr = r->tr;
	struct trace_event *e;
	struct hak_trace_rec rec;

	if (grow(&tr->ev, &r->capev, tr->nev + 1, sizeof(*tr->ev)))
		return fail(r, off, "out of memory");
	memcpy(&rec, p, sizeof(rec));
	e = &tr->ev[tr->nev];
	*e = (struct trace_event){
		.type = type, .flags = rec.flags, .thread = rec.thread, .seq = (uint32_t)tr->nev,
	};
	switch (type) {
	case HAK_TR_THREAD: {
		struct hak_trace_thread t;

		memcpy(&t, p, sizeof(t));
		e->time_ns = t.time_ns;
		break;
	}
	case HAK_TR_FREE: {
		struct hak_trace_free f;

		memcpy(&f, p, sizeof(f));
		e->time_ns = f.time_ns;
		e->addr = f.addr;
		break;
	}
	case HAK_TR_ALLOC:
	case HAK_TR_REALLOC: {
		struct hak_trace_realloc a = { 0 };

		memcpy(&a, p, type == HAK_TR_ALLOC ? sizeof(a.alloc) : sizeof(a));
		e->time_ns = a.alloc.time_ns;
		e->addr = a.alloc.addr;
		e->size = a.alloc.size;
		e->align = a.alloc.align;
		e->old_addr = a.old_addr;
		if (e->align & (e->align - 1))
			return fail(r, off, "%s record's alignment %u is not a power of two",
				    trace_type_name(type), e->align);
		if (site_of(r, a.alloc.site, &e->site))
			return fail(r, off, "out of memory");
		break;
	}
	}
	if (rec.thread > tr->nthreads)
		tr->nthreads = rec.thread;
	tr->nev++;
	return 0;
}

static int read_records(struct trace_reader *r, const unsigned char *buf, size_t len, size_t off)
{
	struct trace *tr = r->tr;

	while (off < len) {
		struct hak_trace_rec rec;
		uint16_t need = 0;

		if (len - off < sizeof(rec)) {
			snprintf(tr->warning, sizeof(tr->warning),
				 "offset %zu: file ends inside a record's first word (%zu of 8 bytes); "
				 "using the %llu whole records before it",
				 off, len - off, (unsigned long long)tr->records);
			break;
		}
		memcpy(&rec, buf + off, sizeof(rec));
		if (rec.size < 8 || rec.size % 8)
			return fail(r, off, "record size %u is not a whole number of 8-byte words",
				    rec.size);
		if (rec.size > len - off) {
			const char *name = trace_type_name(rec.type);

			snprintf(tr->warning, sizeof(tr->warning),
				 "offset %zu: file ends inside a record (%s, %zu of %u bytes); "
				 "using the %llu whole records before it", off,
				 name ? name : "unknown type", len - off, rec.size,
				 (unsigned long long)tr->records);
			break;
		}
		for (size_t i = 0; i < sizeof(min_size) / sizeof(min_size[0]); i++)
			if (min_size[i].type == rec.type)
				need = min_size[i].size;
		if (rec.size < need)
			return fail(r, off, "%s record of %u bytes, shorter than its %u",
				    trace_type_name(rec.type), rec.size, need);
		switch (rec.type) {
		case HAK_TR_MODULE:
			if (add_module(r, buf + off, rec.size, off))
				return -1;
			break;
		case HAK_TR_LOST: {
			struct hak_trace_lost l;

			memcpy(&l, buf + off, sizeof(l));
			tr->lost += l.records;
			break;
		}
		case HAK_TR_THREAD:
		case HAK_TR_ALLOC:
		case HAK_TR_FREE:
		case HAK_TR_REALLOC:
			if (add_event(r, buf + off, rec.type, off))
				return -1;
			break;
		default:
			tr->unknown++;
			break;
		}
		tr->records++;
		off += rec.size;
	}
	tr->used = off < len ? off : len;
	return 0;
}

static int read_header(struct trace_reader *r, const unsigned char *buf, size_t len)
{
	struct hak_trace_header *h = &r->tr->hdr;
	size_t have = len < sizeof(*h) ? len : sizeof(*h);
	uint32_t swapped = __builtin_bswap32(HAK_TRACE_BYTE_ORDER);

	if (!len)
		return fail(r, 0, "empty file, no trace header");
	memcpy(h, buf, have);
	if (len < sizeof(h->magic) || memcmp(h->magic, HAK_TRACE_MAGIC, sizeof(h->magic)))
		return fail(r, 0, "not a hakmem trace (no \"%s\" magic)", HAK_TRACE_MAGIC);
	if (len < sizeof(*h))
		return fail(r, len, "file ends inside the header (%zu of %zu bytes)", len,
			    sizeof(*h));
	if (h->byte_order == swapped)
		return fail(r, 12, "recorded with the other byte order; this machine cannot read it");
	if (h->byte_order != HAK_TRACE_BYTE_ORDER)
		return fail(r, 12, "bad byte-order mark 0x%08x (want 0x%08x)", h->byte_order,
			    HAK_TRACE_BYTE_ORDER);
	if (h->version != HAK_TRACE_VERSION)
		return fail(r, 8, "trace version %u; this reader knows version %u", h->version,
			    HAK_TRACE_VERSION);
	if (h->header_size < sizeof(*h) || h->header_size % 8)
		return fail(r, 10, "header size %u: version %u's is %zu, in whole 8-byte words",
			    h->header_size, HAK_TRACE_VERSION, sizeof(*h));
	if (h->header_size > len)
		return fail(r, len, "file ends inside the header (%zu of %u bytes)", len,
			    h->header_size);
	if (h->machine != trace_machine())
		return fail(r, 16, "recorded on another architecture (machine %u, %s; this is %u, %s)",
			    h->machine, machine_name(h->machine), trace_machine(),
			    machine_name(trace_machine()));
	if (h->ptr_size != sizeof(void *))
		return fail(r, 18, "recorded with %u-byte pointers; this machine's are %zu",
			    h->ptr_size, sizeof(void *));
	return 0;
}

/* At one time: a thread's start, frees, reallocs, allocations, a thread's exit. */
static int rank(const struct trace_event *e)
{
	switch (e->type) {
	case HAK_TR_THREAD:
		return e->flags & HAK_TRF_EXIT ? 4 : 0;
	case HAK_TR_FREE:
		return 1;
	case HAK_TR_REALLOC:
		return 2;
	default:
		return 3;
	}
}

static int by_time(const void *a, const void *b)
{
	const struct trace_event *x = a, *y = b;

	if (x->time_ns != y->time_ns)
		return x->time_ns < y->time_ns ? -1 : 1;
	if (rank(x) != rank(y))
		return rank(x) - rank(y);
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int trace_read(const void *buf, size_t len, struct trace *tr, char *err, size_t errlen)
{
	struct trace_reader r = { .tr = tr, .err = err, .errlen = errlen };
	int ret;

	memset(tr, 0, sizeof(*tr));
	if (errlen)
		err[0] = 0;
	ret = read_header(&r, buf, len);
	if (!ret)
		ret = read_records(&r, buf, len, tr->hdr.header_size);
	free(r.map);
	hash_free(&r.by_addr);
	hash_free(&r.by_off);
	if (ret) {
		trace_free(tr);
		return -1;
	}
	if (tr->nev)
		qsort(tr->ev, tr->nev, sizeof(*tr->ev), by_time);
	return 0;
}

int trace_load(const char *path, struct trace *tr, char *err, size_t errlen)
{
	struct stat st;
	void *buf = NULL;
	int fd, ret, n;

	memset(tr, 0, sizeof(*tr));
	n = snprintf(err, errlen, "%s: ", path);
	if (n < 0 || (size_t)n >= errlen)
		n = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		snprintf(err + n, errlen - (size_t)n, "%s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err + n, errlen - (size_t)n, "not a regular file");
		close(fd);
		return -1;
	}
	if (st.st_size > 0) {
		buf = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (buf == MAP_FAILED) {
			snprintf(err + n, errlen - (size_t)n, "%s", strerror(errno));
			close(fd);
			return -1;
		}
	}
	close(fd);
	ret = trace_read(buf ? buf : "", buf ? (size_t)st.st_size : 0, tr, err + n, errlen - (size_t)n);
	if (buf)
		munmap(buf, (size_t)st.st_size);
	if (!ret && tr->warning[0]) {
		char w[sizeof(tr->warning)];
		size_t k = strlen(path) + 2;

		memcpy(w, tr->warning, sizeof(w));
		if (k < sizeof(w)) {
			memcpy(tr->warning, path, k - 2);
			memcpy(tr->warning + k - 2, ": ", 2);
			memcpy(tr->warning + k, w, sizeof(w) - k);
			tr->warning[sizeof(w) - 1] = 0;
		}
	}
	if (!ret)
		err[0] = 0;
	return ret;
}

void trace_free(struct trace *tr)
{
	for (unsigned i = 0; i < tr->nmod; i++)
		free(tr->mod[i].path);
	free(tr->mod);
	free(tr->site);
	free(tr->ev);
	memset(tr, 0, sizeof(*tr));
}
