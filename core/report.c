// SPDX-License-Identifier: MIT
/*
 * core/report.c - reading the counters (by name, for the native API), and
 * the dump at exit (HAKMEM_STATS=summary or json, to stderr or to the file
 * HAKMEM_STATS_FILE names).  Above the policy host: it sums every heap's
 * counts and shows the page heap's and the policy's state; the counting
 * itself is stats.c's, far below.
 *
 * Nothing here allocates: output is formatted into a buffer on the stack
 * and written with write(2), so a dump is safe at exit while other
 * threads still allocate, and from a program whose stdio is gone.  A
 * reader sums counters that their threads keep changing: each value is
 * exact for some moment, the set is not one snapshot.  The JSON layout is
 * docs/stats.md's, version 1.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hakmem.h>

#include "stats.h"
#include "heap.h"
#include "options.h"
#include "policy.h"
#include "pageheap.h"

#define STAT_NAME(id, name) [HAK_STAT_##id] = name,
static const char *const stat_names[HAK_STAT_NR] = { HAK_STATS(STAT_NAME) };

static const char *const gauge_names[HAK_GAUGE_NR] = {
	[HAK_GAUGE_MAPPED] = "mapped",
	[HAK_GAUGE_COMMITTED] = "committed",
};

/* Totals derived from the counters, readable by name like them. */
enum derived { D_ALLOC_TOTAL, D_FREE_LOCAL, D_FREE_TOTAL, D_LIVE, D_NR };

static const char *const derived_names[D_NR] = {
	[D_ALLOC_TOTAL] = "alloc.total",
	[D_FREE_LOCAL] = "free.local",
	[D_FREE_TOTAL] = "free.total",
	[D_LIVE] = "live.blocks",
};

static uint64_t start_ms;

/*
 * Without CONFIG_HAKMEM_STATS_FASTPATH the fast-path counters stay 0 and
 * the totals built on them would be wrong: neither is shown nor readable.
 */
#define FAST IS_ENABLED(CONFIG_HAKMEM_STATS_FASTPATH)

static bool stat_shown(int i)
{
	if (i == HAK_STAT_INUSE)
		return false;	/* shown with the gauges */
	return FAST || (i != HAK_STAT_ALLOC_FAST && i != HAK_STAT_FREE_FAST);
}

/* ---- reading ---- */

static uint64_t stat_sum(enum hak_stat s)
{
	uint64_t v = hak_stat_shared(s);

	for (struct hak_heap *h = hak_heaps_first(); h; h = h->all_next)
		v += atomic_load_explicit(&h->stat[s], memory_order_acquire);
	return v;
}

/* The counters that free.total sums. */
static bool stat_is_free(int i)
{
	return i == HAK_STAT_FREE_FAST || i == HAK_STAT_FREE_TAIL || i == HAK_STAT_FREE_SLOW ||
	       i == HAK_STAT_REMOTE_FREE || i == HAK_STAT_LARGE_FREED;
}

/*
 * The frees are read first, the rest after.  A block is counted allocated
 * before it can be freed, and the counts are stored with release and read
 * with acquire (stats.c): so every free this read saw has its allocation
 * seen too, and alloc.total never falls below free.total while other
 * threads run.  Read in one pass, a dump at exit under threads still
 * freeing each other's blocks showed live.blocks as 2^64 less a few.
 */
static void stats_read(uint64_t v[HAK_STAT_NR], uint64_t d[D_NR])
{
	for (int i = 0; i < HAK_STAT_NR; i++)
		if (stat_is_free(i))
			v[i] = stat_sum((enum hak_stat)i);
	for (int i = 0; i < HAK_STAT_NR; i++)
		if (!stat_is_free(i))
			v[i] = stat_sum((enum hak_stat)i);
	d[D_ALLOC_TOTAL] = v[HAK_STAT_ALLOC_FAST] + v[HAK_STAT_REFILL] + v[HAK_STAT_LARGE_ALLOC];
	d[D_FREE_LOCAL] = v[HAK_STAT_FREE_FAST] + v[HAK_STAT_FREE_TAIL] + v[HAK_STAT_FREE_SLOW];
	d[D_FREE_TOTAL] = d[D_FREE_LOCAL] + v[HAK_STAT_REMOTE_FREE] + v[HAK_STAT_LARGE_FREED];
	/* Below zero only after hak_stats_reset(), by blocks older than it. */
	d[D_LIVE] = d[D_ALLOC_TOTAL] > d[D_FREE_TOTAL] ? d[D_ALLOC_TOTAL] - d[D_FREE_TOTAL] : 0;
	/* One counter for both directions, so no order helps it: read while
	 * threads run, a free may be in it without its allocation. */
	if ((int64_t)v[HAK_STAT_INUSE] < 0)
		v[HAK_STAT_INUSE] = 0;
}

int hak_stats_get_name(const char *name, uint64_t *value)
{
	uint64_t v[HAK_STAT_NR], d[D_NR];
	const char *n = name;

	if (!name || !value) {
		errno = EINVAL;
		return -1;
	}
	if (!strncmp(n, "stats.", 6))
		n += 6;
	stats_read(v, d);
	for (int i = 0; i < HAK_STAT_NR; i++) {
		if (stat_shown(i) && !strcmp(n, stat_names[i])) {
			*value = v[i];
			return 0;
		}
	}
	for (int i = 0; FAST && i < D_NR; i++) {
		if (!strcmp(n, derived_names[i])) {
			*value = d[i];
			return 0;
		}
	}
	if (FAST && !strcmp(n, "bytes.in_use")) {
		*value = v[HAK_STAT_INUSE];
		return 0;
	}
	for (int g = 0; g < HAK_GAUGE_NR; g++) {
		size_t len = strlen(gauge_names[g]);

		if (!strncmp(n, "bytes.", 6) && !strncmp(n + 6, gauge_names[g], len) &&
		    (!strcmp(n + 6 + len, "") || !strcmp(n + 6 + len, ".current") ||
		     !strcmp(n + 6 + len, ".peak"))) {
			long x = atomic_load_explicit(&hak_gauges[g][!strcmp(n + 6 + len, ".peak")],
						      memory_order_relaxed);

			*value = x > 0 ? (uint64_t)x : 0;
			return 0;
		}
	}
	errno = ENOENT;
	return -1;
}

void hak_stats_clear(void)
{
	for (int i = 0; i < HAK_STAT_NR; i++)
		for (struct hak_heap *h = hak_heaps_first(); h; h = h->all_next)
			atomic_store_explicit(&h->stat[i], 0, memory_order_relaxed);
	hak_stat_shared_clear();
	start_ms = hak_now_ms();
}

/* ---- output: a buffer on the stack, flushed with write(2) ---- */

struct out {
	int fd;
	bool failed;		/* a write failed: the reader got nothing whole */
	size_t len;
	char buf[4096];
};

static void out_flush(struct out *o)
{
	size_t done = 0;

	while (done < o->len) {
		ssize_t n = write(o->fd, o->buf + done, o->len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			o->failed = true;
			break;
		}
		done += (size_t)n;
	}
	o->len = 0;
}

static void out_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (int attempt = 0; attempt < 2; attempt++) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf + o->len, sizeof(o->buf) - o->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < sizeof(o->buf) - o->len) {
			o->len += (size_t)n;
			return;
		}
		out_flush(o);
	}
}

/* A JSON string: quotes, backslashes and control characters escaped. */
static void out_json_string(struct out *o, const char *s)
{
	if (!s) {
		out_printf(o, "null");
		return;
	}
	out_printf(o, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			out_printf(o, "\\%c", c);
		else if (c < 0x20)
			out_printf(o, "\\u%04x", c);
		else
			out_printf(o, "%c", c);
	}
	out_printf(o, "\"");
}

/* ---- call sites: the top of the site table by bytes ---- */

#define TOP_SITES 16

struct top_sites {
	struct hak_site site[TOP_SITES];
	int n;
};

static void keep_top(const struct hak_site *s, void *arg)
{
	struct top_sites *t = arg;
	int i;

	if (!s->allocs)
		return;
	if (t->n == TOP_SITES && s->bytes <= t->site[TOP_SITES - 1].bytes)
		return;
	i = t->n < TOP_SITES ? t->n++ : TOP_SITES - 1;
	for (; i > 0 && t->site[i - 1].bytes < s->bytes; i--)
		t->site[i] = t->site[i - 1];
	t->site[i] = *s;
}

/* "addr", "module", "offset" and "symbol" of a call site, by dladdr. */
static void out_where(struct out *o, const void *addr)
{
	Dl_info info;
	char sym[256];
	const char *module = NULL;
	uintptr_t offset = 0;

	sym[0] = 0;
	if (dladdr(addr, &info) && info.dli_fname) {
		module = info.dli_fname;
		offset = (uintptr_t)addr - (uintptr_t)info.dli_fbase;
		if (info.dli_sname)
			snprintf(sym, sizeof(sym), "%s+0x%lx", info.dli_sname,
				 (unsigned long)((uintptr_t)addr - (uintptr_t)info.dli_saddr));
	}
	out_printf(o, "\"addr\": \"%p\", \"module\": ", addr);
	out_json_string(o, module);
	if (module)
		out_printf(o, ", \"offset\": \"0x%lx\", \"symbol\": ", (unsigned long)offset);
	else
		out_printf(o, ", \"offset\": null, \"symbol\": ");
	out_json_string(o, sym[0] ? sym : NULL);
}

/*
 * A size histogram: bucket b holds sizes below 2^(@shift + b) (and at or
 * above the bucket before); the last one, "le" 0, everything larger.
 */
static void out_hist(struct out *o, const uint32_t *hist, int n, unsigned shift)
{
	out_printf(o, "\"hist\": [");
	for (int b = 0; b < n; b++)
		out_printf(o, "%s{\"le\": %llu, \"count\": %u}", b ? ", " : "",
			   b == n - 1 ? 0ULL : (1ULL << (shift + (unsigned)b)) - 1, hist[b]);
	out_printf(o, "]");
}

static void out_site_json(struct out *o, const struct hak_site *s)
{
	out_printf(o, "    {");
	out_where(o, s->addr);
	out_printf(o, ", \"allocs\": %llu, \"frees\": %llu, \"bytes\": %llu, "
		      "\"lifetime_ms_total\": %llu, ",
		   (unsigned long long)s->allocs, (unsigned long long)s->frees,
		   (unsigned long long)s->bytes, (unsigned long long)s->lifetime_ms);
	out_hist(o, s->hist, HAK_SITE_HIST, HAK_SITE_HIST_SHIFT + 1);
	out_printf(o, "}");
}

static void out_small_sites_json(struct out *o)
{
	struct hak_small_site top[TOP_SITES];
	uint64_t dropped;
	int n = hak_stat_small_top(top, TOP_SITES, &dropped);

	out_printf(o, "  \"small_sites\": {\"sampled_at\": \"refill\", \"dropped\": %llu, "
		      "\"sites\": [",
		   (unsigned long long)dropped);
	for (int i = 0; i < n; i++) {
		out_printf(o, "%s    {", i ? ",\n" : "\n");
		out_where(o, top[i].addr);
		out_printf(o, ", \"samples\": %llu, \"bytes\": %llu, ",
			   (unsigned long long)top[i].samples, (unsigned long long)top[i].bytes);
		out_hist(o, top[i].hist, HAK_SMALL_HIST, 5);
		out_printf(o, "}");
	}
	out_printf(o, "%s]},\n", n ? "\n  " : "");
}

/* ---- the page heap ---- */

/* Bytes of @a summed: what the page heap reused, whatever its age. */
static uint64_t ph_sum(const uint64_t *a)
{
	uint64_t v = 0;

	for (int b = 0; b < HAK_PH_AGE_BUCKETS; b++)
		v += a[b];
	return v;
}

static void out_ph_summary(struct out *o)
{
	struct hak_ph_stats p;

	hak_ph_get_stats(&p);
	out_printf(o, "  page heap: %llu regions, mapped %zu committed %zu dirty %zu in use %zu "
		      "slack %zu\n"
		      "  page heap: runs %llu, freed %llu; handed out fresh %llu, reused committed "
		      "%llu, reused after decay %llu; decayed %llu, moved %llu\n",
		   (unsigned long long)p.regions, p.mapped, p.committed, p.dirty, p.in_use, p.slack,
		   (unsigned long long)p.runs, (unsigned long long)p.freed,
		   (unsigned long long)p.fresh, (unsigned long long)ph_sum(p.hit),
		   (unsigned long long)ph_sum(p.miss), (unsigned long long)p.decayed,
		   (unsigned long long)p.moved);
}

static void out_ph_ages(struct out *o, const char *name, const uint64_t *a)
{
	out_printf(o, "\"%s\": [", name);
	for (int b = 0; b < HAK_PH_AGE_BUCKETS; b++)
		out_printf(o, "%s%llu", b ? ", " : "", (unsigned long long)a[b]);
	out_printf(o, "]");
}

static void out_ph_json(struct out *o)
{
	struct hak_ph_stats p;

	hak_ph_get_stats(&p);
	out_printf(o, "  \"pageheap\": {\"regions\": %llu, \"mapped\": %zu, \"committed\": %zu, "
		      "\"dirty\": %zu, \"in_use\": %zu, \"runs\": %llu, \"freed\": %llu, "
		      "\"fresh\": %llu, \"decayed\": %llu, \"slack\": %zu, \"moved\": %llu,\n    ",
		   (unsigned long long)p.regions, p.mapped, p.committed, p.dirty, p.in_use,
		   (unsigned long long)p.runs, (unsigned long long)p.freed,
		   (unsigned long long)p.fresh, (unsigned long long)p.decayed,
		   p.slack, (unsigned long long)p.moved);
	out_ph_ages(o, "reused_committed_by_age_log2_ms", p.hit);
	out_printf(o, ",\n    ");
	out_ph_ages(o, "reused_after_decay_by_age_log2_ms", p.miss);
	out_printf(o, "},\n");
}

/* ---- the dumps ---- */

static void dump_json(struct out *o)
{
	uint64_t v[HAK_STAT_NR], d[D_NR];
	struct top_sites top = { .n = 0 };
	char report[1024];

	stats_read(v, d);
	out_printf(o, "{\n  \"hakmem_stats\": 1,\n  \"version\": \"%s\",\n  \"pid\": %ld,\n"
		      "  \"program\": ",
		   HAK_VERSION_STRING, (long)getpid());
	out_json_string(o, program_invocation_short_name);
	out_printf(o, ",\n  \"elapsed_ms\": %llu,\n", (unsigned long long)(hak_now_ms() - start_ms));
	out_printf(o, "  \"config\": {\"policy\": ");
	out_json_string(o, hak_opts.policy ? hak_opts.policy->name : NULL);
	out_printf(o, ", \"superslab_bytes\": %zu, \"slab_bytes\": %zu, \"small_max\": %zu, "
		      "\"purge_delay_ms\": %llu, \"stats_fastpath\": %s},\n",
		   HAK_SS_SIZE, HAK_SLAB_SIZE, (size_t)HAK_SMALL_MAX,
		   (unsigned long long)hak_opts.purge_delay_ms,
		   IS_ENABLED(CONFIG_HAKMEM_STATS_FASTPATH) ? "true" : "false");
	out_printf(o, "  \"counters\": {");
	const char *sep = "\n";

	for (int i = 0; FAST && i < D_NR; i++, sep = ",\n")
		out_printf(o, "%s    \"%s\": %llu", sep, derived_names[i], (unsigned long long)d[i]);
	for (int i = 0; i < HAK_STAT_NR; i++) {
		if (!stat_shown(i))
			continue;
		out_printf(o, "%s    \"%s\": %llu", sep, stat_names[i], (unsigned long long)v[i]);
		sep = ",\n";
	}
	out_printf(o, "\n");
	out_printf(o, "  },\n  \"bytes\": {");
	for (int g = 0; g < HAK_GAUGE_NR; g++)
		out_printf(o, "%s\"%s\": {\"current\": %ld, \"peak\": %ld}", g ? ", " : "",
			   gauge_names[g], atomic_load(&hak_gauges[g][0]),
			   atomic_load(&hak_gauges[g][1]));
	if (FAST)
		out_printf(o, ", \"in_use\": {\"current\": %lld, \"peak\": null}",
			   (long long)v[HAK_STAT_INUSE]);
	else
		out_printf(o, ", \"in_use\": null");
	out_printf(o, "},\n");
	out_ph_json(o);
	out_printf(o, "  \"policy\": {\"name\": ");
	out_json_string(o, hak_opts.policy ? hak_opts.policy->name : NULL);
	out_printf(o, ", \"report\": ");
	if (hak_policy_report(report, sizeof(report)) < 0)
		report[0] = 0;
	out_json_string(o, report);
	out_printf(o, "},\n");
	out_small_sites_json(o);
	out_printf(o, "  \"sites\": [");
	hak_policy_each_site(keep_top, &top);
	for (int i = 0; i < top.n; i++) {
		out_printf(o, i ? ",\n" : "\n");
		out_site_json(o, &top.site[i]);
	}
	out_printf(o, "%s]\n}\n", top.n ? "\n  " : "");
}

/*
 * Why a dump has nothing to show: the process allocated nothing (time(1)
 * waiting for its child), or its malloc is not this copy of hakmem's (a
 * program linked with libhakmem.a run with LD_PRELOAD=libhakmem.so holds
 * two: the other one counted, and dumps beside this one).
 */
static void out_empty(struct out *o)
{
	void *m = dlsym(RTLD_DEFAULT, "malloc");
	Dl_info mine, theirs;

	if (m && dladdr(m, &theirs) && dladdr((void *)out_empty, &mine) && theirs.dli_fname &&
	    theirs.dli_fbase != mine.dli_fbase)
		out_printf(o, "  no allocations through this copy of hakmem: malloc here is %s's\n",
			   theirs.dli_fname);
	else
		out_printf(o, "  no allocations in this process\n");
}

static void dump_summary(struct out *o)
{
	uint64_t v[HAK_STAT_NR], d[D_NR];
	char report[1024];
	int col = 0;

	stats_read(v, d);
	out_printf(o, "hakmem stats (pid %ld, %s, %llu ms):\n", (long)getpid(),
		   program_invocation_short_name,
		   (unsigned long long)(hak_now_ms() - start_ms));
	/* A table of zeros reads as counters that failed. */
	if (!d[D_ALLOC_TOTAL] && !d[D_FREE_TOTAL]) {
		out_empty(o);
		return;
	}
	for (int i = FAST ? 0 : D_NR; i < D_NR + HAK_STAT_NR; i++) {
		const char *name = i < D_NR ? derived_names[i] : stat_names[i - D_NR];
		uint64_t x = i < D_NR ? d[i] : v[i - D_NR];

		if (i >= D_NR && !stat_shown(i - D_NR))
			continue;
		out_printf(o, "  %-26s %14llu%s", name, (unsigned long long)x,
			   ++col % 2 ? "" : "\n");
	}
	if (col % 2)
		out_printf(o, "\n");
	for (int g = 0; g < HAK_GAUGE_NR; g++)
		out_printf(o, "  bytes %-20s %14ld   (peak %ld)\n", gauge_names[g],
			   atomic_load(&hak_gauges[g][0]), atomic_load(&hak_gauges[g][1]));
	if (FAST)
		out_printf(o, "  bytes %-20s %14lld\n", "in_use", (long long)v[HAK_STAT_INUSE]);
	out_ph_summary(o);
	if (hak_policy_report(report, sizeof(report)) < 0)
		report[0] = 0;
	out_printf(o, "  %s\n", report);
}

static const char *stats_file;

int hak_stats_dump_fd(int fd, const char *format)
{
	struct out o = { .fd = fd, .len = 0 };

	if (fd < 0 || (format && strcmp(format, "summary") && strcmp(format, "json"))) {
		errno = EINVAL;
		return -1;
	}
	if (format && !strcmp(format, "json"))
		dump_json(&o);
	else
		dump_summary(&o);
	out_flush(&o);
	if (o.failed) {
		errno = EIO;
		return -1;
	}
	return 0;
}

/* When counting began, by the clock that stamps files (a coarse one). */
static struct timespec start_real;

/*
 * Opens the file @pattern names for a dump.  A dump with no allocations
 * in it (@empty) leaves alone a file written since this process started:
 * the dump of a child that time(1) or another wrapper waited for, or that
 * of the other copy of hakmem in the same process (see out_empty), which
 * a table of zeros used to replace.  Then *@kept is set and -1 returned.
 */
static int stats_open(const char *pattern, char *path, size_t len, bool empty, bool *kept)
{
	struct stat st;
	int fd;

	*kept = false;
	hak_path_format(pattern, path, len);
	if (!empty)
		return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode))
		return fd;
	if (st.st_size > 0 && (st.st_mtim.tv_sec > start_real.tv_sec ||
			       (st.st_mtim.tv_sec == start_real.tv_sec &&
				st.st_mtim.tv_nsec >= start_real.tv_nsec))) {
		close(fd);
		*kept = true;
		return -1;
	}
	if (ftruncate(fd, 0) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The dump at exit: to HAKMEM_STATS_FILE, else to stderr.  A program that
 * closed stderr (ls does, before it exits) would lose it: then it goes to
 * the file FALLBACK names in $TMPDIR (or /tmp), with its name and process
 * id, which docs/stats.md tells where to find (tools/hakmem --stats never
 * depends on stderr: it collects the files itself).
 */
#define FALLBACK "hakmem-stats.%e.%p"

static void stats_dump(void)
{
	const char *format = hak_opts.stats == HAK_STATS_JSON ? "json" : "summary";
	uint64_t v[HAK_STAT_NR], d[D_NR];
	bool empty, kept;
	char path[512];
	int fd = -1;

	stats_read(v, d);
	empty = !d[D_ALLOC_TOTAL] && !d[D_FREE_TOTAL];
	if (stats_file) {
		fd = stats_open(stats_file, path, sizeof(path), empty, &kept);
		if (kept)
			return;
		if (fd < 0)
			hak_warn("HAKMEM_STATS_FILE: cannot open '%s' (%s); statistics go to stderr",
				 path, strerror(errno));
	}
	if (fd >= 0 || hak_stats_dump_fd(STDERR_FILENO, format) < 0) {
		if (fd < 0) {
			const char *dir = getenv("TMPDIR");
			char pattern[384];

			snprintf(pattern, sizeof(pattern), "%s/%s", dir && *dir ? dir : "/tmp", FALLBACK);
			fd = stats_open(pattern, path, sizeof(path), empty, &kept);
		}
		if (fd >= 0) {
			hak_stats_dump_fd(fd, format);
			close(fd);
		}
	}
}

void hak_stats_init(void)
{
	start_ms = hak_now_ms();
	clock_gettime(CLOCK_REALTIME_COARSE, &start_real);
	stats_file = getenv("HAKMEM_STATS_FILE");
	if (stats_file && !*stats_file)
		stats_file = NULL;
	if (hak_opts.stats != HAK_STATS_NONE)
		atexit(stats_dump);
}
