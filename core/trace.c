// SPDX-License-Identifier: MIT
/*
 * core/trace.c - the trace recorder (CONFIG_HAKMEM_TRACE): what a program
 * does with its memory, written to the file the "trace" option names, in
 * the format of include/hakmem_trace.h (docs/trace.md).
 *
 * Recording.  Each thread that records has a ring of its own that only it
 * writes: a record is copied in and the ring's head moved past it with a
 * release store; no lock, no read-modify-write, no system call.  A ring
 * too full for a record drops it and counts it; the next record that fits
 * is preceded by a LOST record with the count.
 *
 * Flushing.  flush_lock orders everything that writes the file: the
 * background flusher's rounds, the flush of a thread's ring as it exits,
 * the last flush at process exit.  A flush writes a ring's records from
 * its tail to its head and then moves the tail; the head only ever moves
 * past whole records, so the file holds whole records only (a write cut
 * short by a kill ends it with part of one, which a reader drops).  Before
 * a batch with a call site outside the modules written so far, the flush
 * reads /proc/self/maps (once a round) and writes a MODULE record for each
 * executable mapping it has not written yet: a recording thread never
 * reads it.
 *
 * Rings come from the backend (recording runs inside malloc), are listed
 * in rings_all for ever, and are reused after their thread exits: the
 * exiting thread leaves its ring to the flusher (RING_EXITED), which
 * frees it once written.
 *
 * States: off (no file, or a forked child), on (hak_trace_on), closed at
 * process exit (off again: a record made after the last flush is lost).
 * Lock order: flush_lock is a leaf.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <hakmem_trace.h>

#include "trace.h"
#include "backend.h"
#include "harden.h"
#include "options.h"

_Atomic bool hak_trace_on __hak_read_mostly;
_Atomic bool hak_trace_small __hak_read_mostly;
HAK_TLS unsigned hak_trace_held;

/* A thread's ring: 256 KiB holds 5000 allocations, a few ms of a busy thread. */
#define RING_SIZE ((uint64_t)256 << 10)

/* A ring's states: free to take; its thread's; its thread gone, not all written yet. */
enum { RING_FREE, RING_LIVE, RING_EXITED };

struct ring {
	/* The owner's line. */
	_Atomic uint64_t head;		/* bytes recorded */
	uint64_t lost;			/* records dropped since the last LOST */
	uint32_t thread;		/* the owner's number */
	unsigned exiting;		/* its thread-exit destructor ran once */
	_Atomic int state;
	struct ring *next;		/* rings_all */
	/* The flusher's (flush_lock). */
	_Alignas(64) _Atomic uint64_t tail;	/* bytes written to the file */
	_Alignas(64) char data[RING_SIZE];
};

static _Atomic(struct ring *) rings_all;
static _Atomic uint32_t threads;
static HAK_TLS struct ring *my_ring;
static _Atomic bool flushing;		/* a flusher thread runs */
static pthread_key_t ring_key;

static pthread_mutex_t flush_lock __hak_cacheline_aligned = PTHREAD_MUTEX_INITIALIZER;
static int trace_fd = -1;		/* flush_lock */
static bool closed;			/* flush_lock */
static char trace_path[HAK_OPT_STRING_MAX + 64];
static uint64_t start_ns;		/* hak_now_ns() when recording began */
static uint32_t sample;			/* trace.sample, as recording began */

/* Small blocks until this thread's next sample, and the generator of the gaps. */
static HAK_TLS int64_t countdown;
static HAK_TLS uint64_t rng;

uint64_t hak_trace_now(void)
{
	return hak_now_ns() - start_ns;
}

/* ---- rings ---- */

static void ring_copy(struct ring *r, uint64_t at, const void *rec, size_t n)
{
	size_t off = (size_t)(at & (RING_SIZE - 1)), first = RING_SIZE - off;

	if (first > n)
		first = n;
	memcpy(r->data + off, rec, first);
	memcpy(r->data, (const char *)rec + first, n - first);
}

static void ring_read(const struct ring *r, uint64_t at, void *out, size_t n)
{
	size_t off = (size_t)(at & (RING_SIZE - 1)), first = RING_SIZE - off;

	if (first > n)
		first = n;
	memcpy(out, r->data + off, first);
	memcpy((char *)out + first, r->data, n - first);
}

/* A LOST record with what @r dropped, at @head; where the next record goes. */
static uint64_t ring_put_lost(struct ring *r, uint64_t head)
{
	struct hak_trace_lost l = {
		.rec = { .type = HAK_TR_LOST, .size = sizeof(l), .thread = r->thread },
		.time_ns = hak_trace_now(), .records = r->lost,
	};

	ring_copy(r, head, &l, sizeof(l));
	r->lost = 0;
	return head + sizeof(l);
}

/* Whether @r, its head at @head, has room for @n bytes and the LOST record owed before them. */
static inline bool ring_fits(struct ring *r, uint64_t head, size_t n)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);

	return RING_SIZE - (head - tail) >= n + (r->lost ? sizeof(struct hak_trace_lost) : 0);
}

/*
 * Append @rec of @n bytes (a multiple of 8) to the calling thread's ring
 * @r.  Inline, so that each caller's copy is of a constant size.
 */
static inline __attribute__((always_inline)) void ring_put(struct ring *r, const void *rec,
							   size_t n)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	size_t off = (size_t)(head & (RING_SIZE - 1));

	if (hak_unlikely(!ring_fits(r, head, n))) {
		r->lost++;
		return;
	}
	if (hak_unlikely(r->lost)) {
		head = ring_put_lost(r, head);
		off = (size_t)(head & (RING_SIZE - 1));
	}
	if (hak_likely(off + n <= RING_SIZE))
		memcpy(r->data + off, rec, n);
	else
		ring_copy(r, head, rec, n);
	atomic_store_explicit(&r->head, head + n, memory_order_release);
}

static void ring_put_thread(struct ring *r, uint8_t flags)
{
	struct hak_trace_thread t = {
		.rec = { .type = HAK_TR_THREAD, .flags = flags, .size = sizeof(t),
			 .thread = r->thread },
		.time_ns = hak_trace_now(),
	};

	ring_put(r, &t, sizeof(t));
}

/* A free ring to take, or NULL; *@exited: whether some wait for the flusher. */
static struct ring *ring_take(bool *exited)
{
	struct ring *r;

	for (r = atomic_load_explicit(&rings_all, memory_order_acquire); r; r = r->next) {
		int free = RING_FREE, state = atomic_load_explicit(&r->state, memory_order_relaxed);

		*exited |= state == RING_EXITED;
		if (state == RING_FREE &&
		    atomic_compare_exchange_strong_explicit(&r->state, &free, RING_LIVE,
							    memory_order_acquire,
							    memory_order_relaxed))
			break;
	}
	return r;
}

static uint64_t flush_all(void);

/*
 * A ring for the calling thread: one whose thread exited, or a new one.
 * Rather than a new ring while exited threads' rings wait for the
 * flusher, their records are written now: threads that come and go
 * faster than the flusher's rounds need no more rings than run at once.
 */
static struct ring *ring_attach(void)
{
	bool exited = false;
	struct ring *r = ring_take(&exited);

	if (!r && exited) {
		pthread_mutex_lock(&flush_lock);
		flush_all();
		pthread_mutex_unlock(&flush_lock);
		r = ring_take(&exited);
	}
	if (!r) {
		r = hak_backend->reserve(HAK_ALIGN_UP(sizeof(*r), 4096), 0);
		if (!r)
			return NULL;
		atomic_store_explicit(&r->state, RING_LIVE, memory_order_relaxed);
		r->next = atomic_load_explicit(&rings_all, memory_order_relaxed);
		while (!atomic_compare_exchange_weak_explicit(&rings_all, &r->next, r,
							      memory_order_release,
							      memory_order_relaxed))
			;
	}
	r->lost = 0;
	r->exiting = 0;
	r->thread = atomic_fetch_add_explicit(&threads, 1, memory_order_relaxed) + 1;
	my_ring = r;
	pthread_setspecific(ring_key, r);
	ring_put_thread(r, HAK_TRF_START);
	return r;
}

/* ---- the file ---- */

static void trace_fail(const char *what)
{
	hak_warn("trace: %s '%s' failed (%s); the rest of the run is not recorded", what,
		 trace_path, strerror(errno));
	atomic_store_explicit(&hak_trace_on, false, memory_order_relaxed);
	atomic_store_explicit(&hak_trace_small, false, memory_order_relaxed);
	closed = true;
}

/* Write @n bytes of @iov to the file (flush_lock held); false when it failed. */
static bool file_write(struct iovec *iov, int n)
{
	while (n && !closed) {
		ssize_t w = writev(trace_fd, iov, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = ENOSPC;
			trace_fail("writing");
			return false;
		}
		for (; n && (size_t)w >= iov->iov_len; iov++, n--)
			w -= (ssize_t)iov->iov_len;
		if (n) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return !closed;
}

/* ---- modules: the executable mappings, as /proc/self/maps last said ---- */

#define MODULES_MAX 1024

struct module {
	uint64_t base, end, off, name;	/* name: a hash of the path */
};

static struct module modules[MODULES_MAX];	/* by base, none overlapping */
static unsigned nmodules;
static uint32_t modules_written;
static bool maps_read;			/* this round */
static char maps_buf[64 << 10];

static const struct module *module_find(uint64_t site)
{
	unsigned lo = 0, hi = nmodules;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (site < modules[mid].base)
			hi = mid;
		else if (site >= modules[mid].end)
			lo = mid + 1;
		else
			return &modules[mid];
	}
	return NULL;
}

static uint64_t name_hash(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (n--)
		h = (h ^ (unsigned char)*s++) * 0x100000001b3ULL;
	return h;
}

/* Know mapping @m (a line of maps) and write its MODULE record, unless known already. */
static void module_add(const struct module *m, const char *path, size_t len)
{
	unsigned i = 0, j;
	union {
		struct hak_trace_module rec;
		char bytes[sizeof(struct hak_trace_module) + 4096 + 8];
	} u;
	size_t size;
	struct iovec iov;

	while (i < nmodules && modules[i].end <= m->base)
		i++;
	if (i < nmodules && !memcmp(&modules[i], m, sizeof(*m)))
		return;
	/* Whatever it overlaps was unmapped since. */
	for (j = i; j < nmodules && modules[j].base < m->end; j++)
		;
	if (nmodules - (j - i) + 1 > MODULES_MAX || len > 4096)
		return;
	memmove(&modules[i + 1], &modules[j], (nmodules - j) * sizeof(*m));
	modules[i] = *m;
	nmodules = nmodules - (j - i) + 1;

	size = HAK_ALIGN_UP(sizeof(u.rec) + len + 1, 8);
	memset(&u, 0, size);
	u.rec.rec = (struct hak_trace_rec){ .type = HAK_TR_MODULE, .size = (uint16_t)size };
	u.rec.id = ++modules_written;
	u.rec.base = m->base;
	u.rec.end = m->end;
	u.rec.file_off = m->off;
	memcpy(u.rec.path, path, len);
	iov = (struct iovec){ .iov_base = &u, .iov_len = size };
	file_write(&iov, 1);
}

/* One line of /proc/self/maps: "start-end perms offset dev inode   path". */
static void maps_line(char *line, size_t n)
{
	struct module m;
	char *c = line, *end = line + n, *path;

	m.base = strtoull(c, &c, 16);
	if (*c++ != '-')
		return;
	m.end = strtoull(c, &c, 16);
	if (*c++ != ' ' || end - c < 5 || c[2] != 'x')
		return;
	m.off = strtoull(c + 5, &c, 16);
	/* dev and inode, then the path after spaces. */
	for (int field = 0; field < 2 && c < end; field++) {
		while (c < end && *c == ' ')
			c++;
		while (c < end && *c != ' ')
			c++;
	}
	while (c < end && *c == ' ')
		c++;
	path = c;
	if (path == end || *path == '[')
		return;		/* anonymous, or the kernel's ([vdso]) */
	m.name = name_hash(path, (size_t)(end - path));
	module_add(&m, path, (size_t)(end - path));
}

/* Read the executable mappings, once a round (flush_lock held). */
static void maps_scan(void)
{
	size_t have = 0;
	int fd;

	if (maps_read)
		return;
	maps_read = true;
	fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	for (;;) {
		ssize_t n = read(fd, maps_buf + have, sizeof(maps_buf) - 1 - have);
		char *line = maps_buf, *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		while ((nl = memchr(line, '\n', have - (size_t)(line - maps_buf)))) {
			maps_line(line, (size_t)(nl - line));
			line = nl + 1;
		}
		have -= (size_t)(line - maps_buf);
		memmove(maps_buf, line, have);
		if (have == sizeof(maps_buf) - 1)
			have = 0;	/* a line longer than the buffer: dropped */
	}
	close(fd);
}

/* Modules for every site of the records in [@from, @to) of @r, before they are written. */
static void modules_cover(const struct ring *r, uint64_t from, uint64_t to)
{
	static uint64_t last_base, last_end;	/* the module of the last site looked up */

	while (from < to && !maps_read) {
		struct hak_trace_rec rec;
		uint64_t site;
		const struct module *m;

		ring_read(r, from, &rec, sizeof(rec));
		if (rec.type == HAK_TR_ALLOC || rec.type == HAK_TR_REALLOC) {
			ring_read(r, from + offsetof(struct hak_trace_alloc, site), &site,
				  sizeof(site));
			if (site && (site < last_base || site >= last_end)) {
				m = module_find(site);
				if (m) {
					last_base = m->base;
					last_end = m->end;
				} else {
					maps_scan();
					last_base = last_end = 0;
				}
			}
		}
		from += rec.size;
	}
}

/* ---- flushing ---- */

/* Write what @r holds (flush_lock held); the bytes written. */
static uint64_t ring_flush(struct ring *r)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	size_t off = (size_t)(tail & (RING_SIZE - 1)), n = (size_t)(head - tail);
	struct iovec iov[2];

	if (!n || closed)
		return 0;
	modules_cover(r, tail, head);
	iov[0] = (struct iovec){ .iov_base = r->data + off,
				 .iov_len = n < RING_SIZE - off ? n : RING_SIZE - off };
	iov[1] = (struct iovec){ .iov_base = r->data, .iov_len = n - iov[0].iov_len };
	file_write(iov, iov[1].iov_len ? 2 : 1);
	atomic_store_explicit(&r->tail, head, memory_order_release);
	return n;
}

/* One round over every ring (flush_lock held); the most one ring held. */
static uint64_t flush_all(void)
{
	uint64_t most = 0;

	maps_read = false;
	for (struct ring *r = atomic_load_explicit(&rings_all, memory_order_acquire); r;
	     r = r->next) {
		/* Read first: once its thread is gone, its head moves no more. */
		int state = atomic_load_explicit(&r->state, memory_order_acquire);
		uint64_t n = ring_flush(r);

		if (state == RING_EXITED && !closed)
			atomic_store_explicit(&r->state, RING_FREE, memory_order_release);
		most = n > most ? n : most;
	}
	return most;
}

/*
 * The background flusher: a round every 10 ms, every 1 ms while a ring
 * comes back a quarter full, every 100 ms while nothing is recorded.
 */
static void *flusher(void *arg)
{
	long ms = 10;

	(void)arg;
	for (;;) {
		struct timespec ts = { .tv_sec = 0, .tv_nsec = ms * 1000000 };
		uint64_t most;

		nanosleep(&ts, NULL);
		pthread_mutex_lock(&flush_lock);
		if (closed) {
			pthread_mutex_unlock(&flush_lock);
			return NULL;
		}
		most = flush_all();
		pthread_mutex_unlock(&flush_lock);
		ms = most > RING_SIZE / 4 ? 1 : most ? 10 : ms < 100 ? ms * 2 : 100;
	}
}

/* Write out what @r holds now, from the thread that records in it. */
static void ring_write(struct ring *r)
{
	pthread_mutex_lock(&flush_lock);
	ring_flush(r);
	pthread_mutex_unlock(&flush_lock);
}

/*
 * A thread exits.  Its ring stays until a second call, after the other
 * keys' destructors of this round ran (a program's, made after hakmem's,
 * may free blocks); then its EXIT record goes out with the rest.
 */
static void ring_exit(void *arg)
{
	struct ring *r = arg;

	if (!r->exiting++) {
		pthread_setspecific(ring_key, r);
		return;
	}
	/* Written out first when too full for the EXIT. */
	if (!ring_fits(r, atomic_load_explicit(&r->head, memory_order_relaxed),
		       sizeof(struct hak_trace_thread)))
		ring_write(r);
	ring_put_thread(r, HAK_TRF_EXIT);
	my_ring = NULL;
	/* The flusher writes the rest on its next round, then frees the ring:
	 * a thread's exit makes no system call and waits for no lock.  With
	 * no flusher, the thread writes it. */
	if (atomic_load_explicit(&flushing, memory_order_relaxed)) {
		atomic_store_explicit(&r->state, RING_EXITED, memory_order_release);
		return;
	}
	ring_write(r);
	atomic_store_explicit(&r->state, RING_FREE, memory_order_release);
}

/* At process exit: the last flush; what is recorded after it is lost. */
static void trace_close(void)
{
	struct ring *r = my_ring;

	pthread_mutex_lock(&flush_lock);
	if (!closed) {
		atomic_store_explicit(&hak_trace_on, false, memory_order_relaxed);
		atomic_store_explicit(&hak_trace_small, false, memory_order_relaxed);
		flush_all();
		if (r) {
			ring_put_thread(r, HAK_TRF_EXIT);
			ring_flush(r);
		}
		/* What rings dropped and no later record of theirs told. */
		for (r = atomic_load_explicit(&rings_all, memory_order_acquire); r; r = r->next) {
			struct hak_trace_lost l = {
				.rec = { .type = HAK_TR_LOST, .size = sizeof(l), .thread = r->thread },
				.time_ns = hak_trace_now(), .records = r->lost,
			};
			struct iovec iov = { .iov_base = &l, .iov_len = sizeof(l) };

			if (l.records)
				file_write(&iov, 1);
		}
		closed = true;
		close(trace_fd);
		trace_fd = -1;
	}
	pthread_mutex_unlock(&flush_lock);
}

/* ---- recording ---- */

void hak_trace_record(const struct hak_trace_ev *ev)
{
	struct ring *r = my_ring;
	uint64_t time;

	if (hak_trace_held || !atomic_load_explicit(&hak_trace_on, memory_order_relaxed))
		return;
	if (hak_unlikely(!r) && !(r = ring_attach()))
		return;
	time = ev->time ? ev->time : hak_trace_now();
	if (ev->addr) {
		struct hak_trace_realloc re = {
			.alloc = {
				.rec = { .type = ev->old ? HAK_TR_REALLOC : HAK_TR_ALLOC,
					 .flags = (uint8_t)ev->flags, .thread = r->thread },
				.time_ns = time, .addr = (uintptr_t)ev->addr, .size = ev->size,
				.site = (uintptr_t)ev->site,
				.align = (uint32_t)(ev->align < UINT32_MAX ? ev->align : UINT32_MAX),
			},
			.old_addr = (uintptr_t)ev->old,
		};

		if (ev->old) {
			re.alloc.rec.size = sizeof(re);
			ring_put(r, &re, sizeof(re));
		} else {
			re.alloc.rec.size = sizeof(re.alloc);
			ring_put(r, &re.alloc, sizeof(re.alloc));
		}
	} else {
		struct hak_trace_free fr = {
			.rec = { .type = HAK_TR_FREE, .size = sizeof(fr), .thread = r->thread },
			.time_ns = time, .addr = (uintptr_t)ev->old,
		};

		ring_put(r, &fr, sizeof(fr));
	}
}

/* xorshift64: the gaps between samples, uniform in [1, 2 * sample - 1]. */
static int64_t sample_gap(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return sample > 1 ? 1 + (int64_t)(rng % (2 * (uint64_t)sample - 1)) : 1;
}

bool hak_trace_sample(size_t blocks)
{
	if (hak_unlikely(!rng)) {
		rng = (hak_now_ns() ^ (uintptr_t)&rng) | 1;
		countdown = sample_gap();
	}
	countdown -= (int64_t)blocks;
	if (countdown > 0)
		return false;
	/* One sample a refill at most: a gap shorter than a refill's blocks is cut short. */
	countdown += sample_gap();
	if (countdown <= 0)
		countdown = sample_gap();
	return true;
}

/* ---- set-up ---- */

static uint16_t elf_machine(void)
{
#if defined(__x86_64__)
	return 62;
#elif defined(__aarch64__)
	return 183;
#else
	return 0;
#endif
}

/*
 * Whether the trace at @path is another live process's: the parent that
 * started this program, traced with the same HAKMEM_TRACE.  An exec keeps
 * the pid, so a program run through env(1) still takes its own file.
 */
static bool taken(const char *path)
{
	struct hak_trace_header h;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	struct stat st;
	bool other;

	if (fd < 0)
		return false;
	/* Only a file: a pipe or a terminal is nobody's trace, and reading it would wait. */
	other = !fstat(fd, &st) && S_ISREG(st.st_mode) &&
		read(fd, &h, sizeof(h)) == (ssize_t)sizeof(h) &&
		!memcmp(h.magic, HAK_TRACE_MAGIC, 8) && h.pid != (uint32_t)getpid() && h.pid &&
		(kill((pid_t)h.pid, 0) == 0 || errno == EPERM);
	close(fd);
	return other;
}

void hak_trace_init(void)
{
	struct hak_trace_header h = {
		.magic = HAK_TRACE_MAGIC, .version = HAK_TRACE_VERSION,
		.header_size = sizeof(h), .byte_order = HAK_TRACE_BYTE_ORDER,
		.machine = elf_machine(), .ptr_size = sizeof(void *),
		.sample = hak_opts.trace_sample,
		.small_max = HAK_SMALL_MAX - HAK_CANARY_SIZE,
		.pid = (uint32_t)getpid(),
	};
	struct iovec iov = { .iov_base = &h, .iov_len = sizeof(h) };
	struct timespec now;

	if (!hak_opts.trace || !*hak_opts.trace)
		return;
	hak_path_format(hak_opts.trace, trace_path, sizeof(trace_path));
	if (taken(trace_path))
		snprintf(trace_path + strlen(trace_path), sizeof(trace_path) - strlen(trace_path),
			 ".%ld", (long)getpid());
	trace_fd = open(trace_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (trace_fd < 0 || pthread_key_create(&ring_key, ring_exit)) {
		hak_config_error("trace", "cannot write '%s' (%s); the program runs untraced",
				 trace_path, trace_fd < 0 ? strerror(errno) : "no thread key");
		if (trace_fd >= 0)
			close(trace_fd);
		trace_fd = -1;
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	h.start_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
	start_ns = hak_now_ns();
	sample = hak_opts.trace_sample;
	closed = false;
	if (!file_write(&iov, 1))
		return;
	atexit(trace_close);
	atomic_store_explicit(&hak_trace_small, sample != 0, memory_order_relaxed);
	atomic_store_explicit(&hak_trace_on, true, memory_order_release);
}

void hak_trace_start(void)
{
	sigset_t all, old;
	pthread_t t;
	int err;

	if (!atomic_load_explicit(&hak_trace_on, memory_order_acquire))
		return;
	/* Signals are the program's business: the flusher takes none. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&t, NULL, flusher, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		hak_warn("trace: no flusher thread (%s); records are written as threads and the "
			 "process exit, and those that do not fit a thread's buffer are lost",
			 strerror(err));
		return;
	}
	pthread_setname_np(t, "hakmem-trace");
	pthread_detach(t);
	atomic_store_explicit(&flushing, true, memory_order_relaxed);
}

void hak_trace_lock(void)
{
	pthread_mutex_lock(&flush_lock);
}

void hak_trace_unlock(void)
{
	pthread_mutex_unlock(&flush_lock);
}

/* The child of a fork: its blocks were the parent's, whose trace this is not. */
void hak_trace_fork_child(void)
{
	atomic_store_explicit(&hak_trace_on, false, memory_order_relaxed);
	atomic_store_explicit(&hak_trace_small, false, memory_order_relaxed);
	atomic_store_explicit(&flushing, false, memory_order_relaxed);
	if (!closed && trace_fd >= 0)
		close(trace_fd);
	trace_fd = -1;
	closed = true;
}
