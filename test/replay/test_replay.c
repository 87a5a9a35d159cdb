// SPDX-License-Identifier: MIT
/*
 * test/replay/test_replay.c - hakmem-replay (tools/replay/) run as a
 * program on traces written here: the same figures from two replays of a
 * trace, on one thread and on the trace's threads, under every policy of
 * the build; no page faults for a site that reuses its buffers; the
 * options reaching the core; and bad input, a cut trace and
 * the environment handled as docs/replay.md says.  No figure is held to a
 * time: the model's figures are exact, and the wall time is left out.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <generated/autoconf.h>
#include <hakmem_trace.h>

#include "testlib.h"
#include "tracegen.h"

static const char *const policies[] = {
#ifdef CONFIG_HAKMEM_POLICY_FIXED
	"fixed",
#endif
#ifdef CONFIG_HAKMEM_POLICY_ELO
	"elo",
#endif
#ifdef CONFIG_HAKMEM_POLICY_EVO
	"evo",
#endif
	NULL
};

#ifdef CONFIG_HAKMEM_STATS
#define HAVE_STATS 1
#else
#define HAVE_STATS 0
#endif

/* Guard pages give every large block a mapping of its own: no spans. */
#ifdef CONFIG_HAKMEM_HARDEN_GUARD
#define HAVE_SPANS 0
#else
#define HAVE_SPANS 1
#endif

static char dir[256];
static char *out, *errs;	/* the last run's stdout and stderr */

static void setup(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/hakmem-replay-XXXXXX", base && *base ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	static const char *const names[] = { "t", "u", "out", "err", "p.yaml", NULL };
	char path[300];

	for (int i = 0; names[i]; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
	free(out);
	free(errs);
	out = errs = NULL;
}

static const char *in_dir(const char *name)
{
	static char path[4][300];
	static int k;

	k = (k + 1) % 4;
	snprintf(path[k], sizeof(path[k]), "%s/%s", dir, name);
	return path[k];
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s;
	long n;

	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	s = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = 0;
	fclose(f);
	return s;
}

/*
 * Run @argv (@argv[0] found on PATH), @env_set ("NAME=VALUE" or NULL)
 * added to the environment; its exit status, its output in out and errs.
 */
static int run_argv(const char *env_set, const char *const *argv)
{
	char opath[300], epath[300];
	int status;
	pid_t pid;

	snprintf(opath, sizeof(opath), "%s/out", dir);
	snprintf(epath, sizeof(epath), "%s/err", dir);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid) {
		int o = open(opath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(epath, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(127);
		if (env_set)
			putenv((char *)env_set);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	status = wait_child(pid);
	ck_assert_msg(status >= 0 && WIFEXITED(status), "%s did not exit (status %d)", argv[0],
		      status);
	free(out);
	free(errs);
	out = slurp(opath);
	errs = slurp(epath);
	return WEXITSTATUS(status);
}

/* hakmem-replay with @args (NULL-terminated), as run_argv(). */
static int run_env(const char *env_set, const char *const *args)
{
	const char *argv[32] = { REPLAY_BIN };
	int n = 1;

	while (*args && n < 31)
		argv[n++] = *args++;
	argv[n] = NULL;
	return run_argv(env_set, argv);
}

#define run(...) run_env(NULL, (const char *const[]){ __VA_ARGS__, NULL })

/* The output without its wall time line (measured, so never the same). */
static char *figures(void)
{
	char *s = strdup(out), *w = strstr(s, "wall");
	char *start, *end;

	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_nonnull(w);
	for (start = w; start > s && start[-1] != '\n'; start--)
		;
	end = strchr(w, '\n');
	memmove(start, end ? end + 1 : w + strlen(w), strlen(end ? end + 1 : w + strlen(w)) + 1);
	return s;
}

/* The number after the first "@key": that follows @after in out. */
static unsigned long long json_num(const char *after, const char *key)
{
	const char *p = after ? strstr(out, after) : out;
	char k[64];

	ck_assert_msg(p, "no %s in the output", after);
	snprintf(k, sizeof(k), "\"%s\": ", key);
	p = strstr(p, k);
	ck_assert_msg(p, "no %s after %s in the output", key, after ? after : "the start");
	return strtoull(p + strlen(k), NULL, 10);
}

static void write_workload(const char *name, unsigned threads, unsigned steps)
{
	struct tg g;
	const struct tg_workload w = {
		.seed = 42, .threads = threads, .steps = steps, .step_ns = 200000,
	};

	tg_init(&g, 64);
	tg_workload(&g, &w);
	ck_assert_int_eq(tg_write(&g, in_dir(name)), 0);
	tg_free_buf(&g);
}

/* One site allocates a buffer of @size, frees it, and again, @n times. */
static void write_reuse(const char *name, uint64_t size, unsigned n)
{
	struct tg g;
	uint64_t site = TG_APP_BASE + TG_REUSE_OFF;

	tg_init(&g, 0);
	tg_module(&g, 1, TG_APP_BASE, TG_APP_BASE + 0x10000, 0, TG_APP);
	tg_thread(&g, 1, HAK_TRF_START, 0);
	for (unsigned i = 0; i < n; i++) {
		uint64_t addr = 0x7f0000000000ull + (i % 2) * 0x10000000ull;

		tg_alloc(&g, 1, 0, 1000000 + i * 1000000ull, addr, size, site, 0);
		tg_free(&g, 1, 1500000 + i * 1000000ull, addr);
	}
	ck_assert_int_eq(tg_write(&g, in_dir(name)), 0);
	tg_free_buf(&g);
}

static void assert_same_twice(const char *const *args)
{
	char *first, *second;

	ck_assert_msg(run_env(NULL, args) == 0, "%s", errs);
	first = figures();
	ck_assert_msg(run_env(NULL, args) == 0, "%s", errs);
	second = figures();
	ck_assert_msg(!strcmp(first, second), "two replays differ:\n%s\n----\n%s", first, second);
	free(first);
	free(second);
}

/* ---- determinism ---- */

START_TEST(same_figures_twice)
{
	write_workload("t", 3, 800);
	assert_same_twice((const char *const[]){ in_dir("t"), NULL });
	assert_same_twice((const char *const[]){ "--json", in_dir("t"), NULL });
	ck_assert_uint_gt(json_num("\"run\"", "allocs"), 500);
	ck_assert_uint_gt(json_num("\"run\"", "page_faults"), 0);
	ck_assert_uint_eq(json_num("\"run\"", "failed"), 0);
	ck_assert_uint_eq(json_num("\"run\"", "unknown_frees"), 0);
}
END_TEST

START_TEST(same_figures_twice_threads)
{
	write_workload("t", 4, 800);
	assert_same_twice((const char *const[]){ "--threads", "--json", in_dir("t"), NULL });
	ck_assert_uint_eq(json_num("\"trace\"", "threads"), 4);
	ck_assert_ptr_nonnull(strstr(out, "\"threads\": true"));
}
END_TEST

START_TEST(same_figures_every_policy)
{
	write_workload("t", 2, 600);
	for (int i = 0; policies[i]; i++) {
		char want[32];

		assert_same_twice((const char *const[]){ "--policy", policies[i], in_dir("t"), NULL });
		snprintf(want, sizeof(want), "policy=%s ", policies[i]);
		ck_assert_msg(strstr(out, want), "no '%s' in:\n%s", want, out);
	}
}
END_TEST

/* ---- what the figures say ---- */

/*
 * A site that frees its 2 MiB buffer and asks for another: the program
 * faults the pages of one buffer in, not of every one.  The page heap
 * hands the freed run out again: a replay runs one thread at a time, so
 * nobody waits for the page heap's lock and the BigCache, which keeps
 * page heap blocks only then, stays empty.  A build that maps every large
 * block keeps the mappings there instead.
 */
START_TEST(reuse_is_served_from_committed_memory)
{
	unsigned long long faults, page = (unsigned long long)sysconf(_SC_PAGESIZE);

	write_reuse("t", TG_REUSE_SIZE, 200);
	ck_assert_int_eq(run("--json", in_dir("t")), 0);
	faults = json_num("\"run\"", "page_faults");
	ck_assert_uint_ge(faults, TG_REUSE_SIZE / page);
	ck_assert_uint_le(faults, 2 * (TG_REUSE_SIZE / page + 1));
	ck_assert_uint_eq(json_num("\"run\"", "large"), 200);
	if (HAVE_SPANS)
		ck_assert_uint_ge(json_num("\"pageheap\"", "reused_committed"),
				  199ull * TG_REUSE_SIZE);
	if (HAVE_STATS) {
		unsigned long long hits = json_num("\"bigcache\"", "hits");

		if (HAVE_SPANS)
			ck_assert_uint_eq(hits, 0);
		else
			ck_assert_uint_gt(hits, 100);
		ck_assert_uint_eq(json_num("\"sites\"", "bigcache_hits"), hits);
	} else {
		ck_assert_ptr_nonnull(strstr(out, "\"bigcache\": null"));
	}
	ck_assert_ptr_nonnull(strstr(out, "\"module\": \"" TG_APP "\", \"offset\": \"0x1100\""));
}
END_TEST

/*
 * Buffers under 1 MiB are spans, not the page heap's, until --param moves
 * the limit below them (not 1 MiB itself: a canary takes such a request
 * over the limit).  With superslabs of 1 MiB a span holds less than that.
 */
START_TEST(param_moves_span_limit)
{
	write_reuse("t", 960 << 10, 100);
	ck_assert_int_eq(run("--json", in_dir("t")), 0);
	if (HAVE_SPANS && CONFIG_HAKMEM_SUPERSLAB_SHIFT > 20)
		ck_assert_uint_eq(json_num("\"pageheap\"", "handed_out"), 0);
	ck_assert_int_eq(run("--json", "--param", "large.span_max=512KiB", in_dir("t")), 0);
	if (HAVE_SPANS)
		ck_assert_uint_ge(json_num("\"pageheap\"", "handed_out"), 100ull * (960 << 10));
	ck_assert_ptr_nonnull(strstr(out, "\"large.span_max=512KiB\""));
}
END_TEST

START_TEST(options_reach_core)
{
	write_reuse("t", 3 << 20, 10);
	if (!policies[0])
		return;
	ck_assert_int_eq(run("--policy", policies[0], in_dir("t")), 0);
	ck_assert(strstr(out, "policy     policy="));
	ck_assert_int_eq(run("--param", "policy=fixed", in_dir("t")), 0);
	ck_assert(strstr(out, "policy=fixed "));
#if defined(CONFIG_HAKMEM_YAML) && defined(CONFIG_HAKMEM_POLICY_FIXED)
	{
		FILE *f = fopen(in_dir("p.yaml"), "w");

		ck_assert_ptr_nonnull(f);
		fputs("policy: fixed\npurge:\n  delay_ms: 7\n", f);
		fclose(f);
		ck_assert_int_eq(run("--profile", in_dir("p.yaml"), in_dir("t")), 0);
		ck_assert_msg(strstr(out, "policy=fixed epoch=0 decay_ms=7 "), "%s", out);
		/* --param comes after the profile. */
		ck_assert_int_eq(run("--profile", in_dir("p.yaml"), "--param", "purge.delay_ms=9",
				     in_dir("t")), 0);
		ck_assert_msg(strstr(out, "decay_ms=9 "), "%s", out);
	}
#endif
}
END_TEST

/* The environment does not reach a replay: its figures are the command line's. */
START_TEST(environment_ignored)
{
	char *plain, *with;

	write_workload("t", 1, 300);
	ck_assert_int_eq(run(in_dir("t")), 0);
	plain = figures();
	ck_assert_int_eq(run_env("HAKMEM_PURGE_DELAY_MS=3", (const char *const[]){ in_dir("t"), NULL }),
			 0);
	with = figures();
	ck_assert_str_eq(plain, with);
	ck_assert_msg(strstr(errs, "HAKMEM_PURGE_DELAY_MS ignored"), "%s", errs);
	free(plain);
	free(with);
}
END_TEST

/* A FREE of a block the trace never showed (not sampled) is counted and skipped. */
START_TEST(unknown_frees_counted)
{
	struct tg g;

	tg_init(&g, 0);
	tg_alloc(&g, 1, 0, 10, 0x1000, 200 << 10, 0x400000, 0);
	tg_free(&g, 1, 20, 0x5000);
	tg_realloc(&g, 1, 30, 0x6000, 0x7000, 300 << 10, 0x400010);
	tg_free(&g, 1, 40, 0x1000);
	tg_free(&g, 1, 50, 0x7000);
	ck_assert_int_eq(tg_write(&g, in_dir("t")), 0);
	tg_free_buf(&g);
	ck_assert_int_eq(run("--json", in_dir("t")), 0);
	ck_assert_uint_eq(json_num("\"run\"", "unknown_frees"), 2);
	ck_assert_uint_eq(json_num("\"run\"", "allocs"), 2);
	ck_assert_uint_eq(json_num("\"run\"", "frees"), 2);
	ck_assert_uint_eq(json_num("\"live\"", "end"), 0);
}
END_TEST

/* ---- bad input ---- */

static void assert_one_line(const char *s, const char *what)
{
	ck_assert_msg(strstr(s, what), "'%s' does not say '%s'", s, what);
	ck_assert_msg(strchr(s, '\n') == s + strlen(s) - 1, "'%s' is not one line", s);
}

START_TEST(bad_trace_one_line)
{
	struct tg g;

	tg_init(&g, 0);
	g.buf[0] = 'h';
	ck_assert_int_eq(tg_write(&g, in_dir("t")), 0);
	ck_assert_int_eq(run(in_dir("t")), 1);
	assert_one_line(errs, "/t: offset 0: not a hakmem trace");
	ck_assert_str_eq(out, "");
	g.len = 0;
	ck_assert_int_eq(tg_write(&g, in_dir("t")), 0);
	ck_assert_int_eq(run("--json", in_dir("t")), 1);
	assert_one_line(errs, "/t: offset 0: empty file");
	ck_assert_int_eq(run(in_dir("missing")), 1);
	assert_one_line(errs, "missing: No such file or directory");
	tg_free_buf(&g);
}
END_TEST

START_TEST(bad_options)
{
	write_reuse("t", 3 << 20, 2);
	ck_assert_int_eq(run(NULL), 2);
	ck_assert_int_eq(run("--no-such-option", in_dir("t")), 2);
	ck_assert_int_eq(run("--cost", "fault=x", in_dir("t")), 2);
	assert_one_line(errs, "--cost fault=x");
	ck_assert_int_ne(run("--param", "large.span_max=lots", in_dir("t")), 0);
	assert_one_line(errs, "large.span_max");
	ck_assert_int_ne(run("--policy", "no-such-policy", in_dir("t")), 0);
	assert_one_line(errs, "no-such-policy");
	ck_assert_str_eq(out, "");
}
END_TEST

/* A trace cut inside a record replays up to the record before, with one warning. */
START_TEST(cut_trace_replays)
{
	struct tg g;
	const struct tg_workload w = { .seed = 1, .threads = 2, .steps = 300, .step_ns = 100000 };

	tg_init(&g, 64);
	tg_workload(&g, &w);
	g.len -= 5;
	ck_assert_int_eq(tg_write(&g, in_dir("t")), 0);
	tg_free_buf(&g);
	ck_assert_int_eq(run("--json", in_dir("t")), 0);
	assert_one_line(errs, "file ends inside a record");
	ck_assert_ptr_nonnull(strstr(out, "\"truncated\": true"));
	ck_assert_uint_gt(json_num("\"run\"", "allocs"), 100);
}
END_TEST

/* The cost model's constants can be changed, and the time follows them exactly. */
START_TEST(cost_constants)
{
	unsigned long long faults, t;

	write_reuse("t", 3 << 20, 20);
	ck_assert_int_eq(run("--json", "--cost", "small=0", "--cost", "large=0", "--cost",
			     "syscall=0", "--cost", "copy_kib=0", "--cost", "fault=1000", in_dir("t")), 0);
	faults = json_num("\"run\"", "page_faults");
	t = json_num("\"time_ns\"", "total");
	ck_assert_uint_eq(t, faults * 1000);
	ck_assert_ptr_nonnull(strstr(out, "\"fault\": 1000"));
}
END_TEST

/* ---- the front end ---- */

static const char *srcdir(void)
{
	const char *dir = getenv("HAKMEM_SRCDIR");

	return dir && *dir ? dir : ".";
}

#define run_front(...) run_argv(NULL, (const char *const[]){ "python3", script, \
	"--engine", REPLAY_BIN, __VA_ARGS__, NULL })

/*
 * tools/hakmem-replay: a sweep prints a row for the shipped settings and
 * one for each value, the same rows every time, and --suggest writes a
 * profile the engine loads.
 */
START_TEST(front_end_sweep_suggest)
{
	char script[512], *first, *yaml;

	snprintf(script, sizeof(script), "%s/tools/hakmem-replay", srcdir());
	write_workload("t", 2, 400);
	ck_assert_msg(run_front("--sweep", "purge.delay_ms=0,50,1000", "--suggest", in_dir("p.yaml"),
				in_dir("t")) == 0, "%s", errs);
	ck_assert_msg(strstr(out, "default\n"), "%s", out);
	ck_assert_msg(strstr(out, " purge.delay_ms=0 "), "%s", out);
	ck_assert_msg(strstr(out, " purge.delay_ms=1000 "), "%s", out);
	ck_assert_msg(strstr(out, "\n* "), "no row on the Pareto front:\n%s", out);
	ck_assert_msg(strstr(out, "suggested: policy="), "%s", out);
	first = strdup(out);
	ck_assert_int_eq(run_front("--sweep", "purge.delay_ms=0,50,1000", "--suggest",
				   in_dir("p.yaml"), in_dir("t")), 0);
	ck_assert_str_eq(first, out);
	free(first);
	yaml = slurp(in_dir("p.yaml"));
	ck_assert_msg(strstr(yaml, "\npolicy: "), "%s", yaml);
#ifdef CONFIG_HAKMEM_YAML
	ck_assert_msg(run("--profile", in_dir("p.yaml"), in_dir("t")) == 0, "%s", errs);
#endif
	free(yaml);
	/* Without a sweep it is the engine. */
	ck_assert_int_eq(run_front("--json", in_dir("t")), 0);
	ck_assert_ptr_nonnull(strstr(out, "\"hakmem_replay\": 1"));
	ck_assert_int_eq(run_front("--sweep", "purge.delay_ms", in_dir("t")), 2);
}
END_TEST

/* ---- the policies on real programs' traces ---- */

/*
 * test/data/traces/ holds traces of real programs (README there: how each
 * was recorded).  On each, the fixed policy is replayed over a grid of
 * settings, and each learning policy at its defaults must come within a
 * stated margin of the grid's best cost:
 *
 *	cost = modelled time + 1 ms for each MiB of average RSS held for a
 *	       second of the trace (avg RSS in MiB * trace seconds)
 *
 * so a setting that saves page faults by keeping memory pays for the
 * memory.  The margins are the gaps measured on these traces (defconfig
 * and debug_defconfig give the same figures), rounded up; docs/replay.md
 * lists the figures.  Each replay also prints its row, so the log of a run
 * is the table to measure the margins again from.
 */
struct real_trace {
	const char *name;
	int elo_pct, evo_pct;	/* the margins over the best fixed cost */
};

static const struct real_trace real_traces[] = {
	{ "python3.trace", 5, 2 },
	{ "sqlite3.trace", 2, 2 },
	{ "git.trace", 2, 2 },
	{ "cc1.trace", 15, 8 },
};

static const char *const grid_delay[] = { "0", "10", "50", "250", "1000" };
/* The BigCache stays empty in a replay (one thread at a time): the two must tie. */
static const char *const grid_cache[] = { "0", "4MiB" };

/* The cost of the last --json replay in out, in ns. */
static double replay_cost(double *time_ms, double *rss_mib)
{
	double t = (double)json_num("\"time_ns\"", "total");
	double rss = (double)json_num("\"rss\"", "average") / (double)MiB;
	double secs = (double)json_num("\"trace\"", "duration_ns") / 1e9;

	*time_ms = t / 1e6;
	*rss_mib = rss;
	return t + 1e6 * rss * secs;
}

static const char *src_trace(const char *name)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/test/data/traces/%s", srcdir(), name);
	return path;
}

static void print_row(const char *trace, const char *what, double t, double rss, double cost,
		      double best)
{
	printf("%-14s %-28s %9.3f ms %7.1f MiB %9.3f", trace, what, t, rss, cost / 1e6);
	if (best > 0)
		printf("  %+6.1f%% over the best fixed", (cost / best - 1) * 100);
	printf("\n");
}

START_TEST(real_trace_policies)
{
	const struct real_trace *rt = &real_traces[_i];
	const char *path = src_trace(rt->name);
	char delay[64], cache[64], label[64];
	double best = 0, t, rss, cost;

	/* The same figures twice, under the build's default policy. */
	assert_same_twice((const char *const[]){ "--json", path, NULL });
	ck_assert_uint_eq(json_num("\"run\"", "failed"), 0);
	ck_assert_uint_gt(json_num("\"run\"", "large"), 40);
	if (!HAVE_SPANS) {
		/* Guard pages map every large block on its own: no page heap, no delay to learn. */
		printf("%s: margins skipped: this build maps every large block (guard pages)\n",
		       rt->name);
		return;
	}
	if (!policies[0] || strcmp(policies[0], "fixed")) {
		printf("%s: margins skipped: no fixed policy in this build\n", rt->name);
		return;
	}

	for (size_t d = 0; d < sizeof(grid_delay) / sizeof(*grid_delay); d++) {
		for (size_t c = 0; c < sizeof(grid_cache) / sizeof(*grid_cache); c++) {
			snprintf(delay, sizeof(delay), "purge.delay_ms=%s", grid_delay[d]);
			snprintf(cache, sizeof(cache), "fixed.cache_max=%s", grid_cache[c]);
			ck_assert_msg(run("--json", "--policy", "fixed", "--param", delay, "--param",
					  cache, path) == 0, "%s", errs);
			cost = replay_cost(&t, &rss);
			snprintf(label, sizeof(label), "fixed delay=%s cache=%s", grid_delay[d],
				 grid_cache[c]);
			print_row(rt->name, label, t, rss, cost, 0);
			if (best == 0 || cost < best)
				best = cost;
		}
	}
	for (int i = 0; policies[i]; i++) {
		int margin;

		if (!strcmp(policies[i], "elo"))
			margin = rt->elo_pct;
		else if (!strcmp(policies[i], "evo"))
			margin = rt->evo_pct;
		else
			continue;
		ck_assert_msg(run("--json", "--policy", policies[i], path) == 0, "%s", errs);
		cost = replay_cost(&t, &rss);
		print_row(rt->name, policies[i], t, rss, cost, best);
		ck_assert_msg(cost <= best * (100 + margin) / 100,
			      "%s: %s costs %.3f ms, %+.1f%% over the best fixed setting's %.3f ms "
			      "(margin %d%%)", rt->name, policies[i], cost / 1e6,
			      (cost / best - 1) * 100, best / 1e6, margin);
	}
}
END_TEST

static Suite *replay_suite(void)
{
	Suite *s = suite_create("replay");
	TCase *tc;

	tc = add_tcase(s, "determinism", 120, same_figures_twice, same_figures_twice_threads,
		       same_figures_every_policy);
	tcase_add_checked_fixture(tc, setup, teardown);
	tc = add_tcase(s, "figures", 60, reuse_is_served_from_committed_memory, param_moves_span_limit,
		       options_reach_core, environment_ignored, unknown_frees_counted,
		       cost_constants);
	tcase_add_checked_fixture(tc, setup, teardown);
	tc = add_tcase(s, "bad input", 60, bad_trace_one_line, bad_options, cut_trace_replays);
	tcase_add_checked_fixture(tc, setup, teardown);
	tc = add_tcase(s, "front end", 120, front_end_sweep_suggest);
	tcase_add_checked_fixture(tc, setup, teardown);
	tc = tcase_create("real traces");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, real_trace_policies, 0,
			    (int)(sizeof(real_traces) / sizeof(*real_traces)));
	tcase_add_checked_fixture(tc, setup, teardown);
	suite_add_tcase(s, tc);
	return s;
}

TEST_MAIN(replay_suite)
