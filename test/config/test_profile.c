// SPDX-License-Identifier: MIT
/*
 * test/config/test_profile.c - the YAML profile loader against bad input,
 * the shipped profiles, strict mode, and the option table's text parsers.
 *
 * Each bad-input test writes a profile into a fresh temporary directory,
 * loads it with stderr captured, and checks the return code, the exact
 * number of lines printed, that they name the file, the line and the key,
 * and that bad keys kept their values while good keys beside them took
 * theirs.  Values are compared with a snapshot taken just before the
 * load, so the tests hold whatever the environment set at start.
 *
 * The shipped profiles are found under $HAKMEM_SRCDIR/configs/profiles
 * (default: the current directory, the source root under "make runtests").
 *
 * Linked with libhakmem.a: the loader runs on hakmem's own malloc, as it
 * does inside hak_init().  Check runs each test in its own child process.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hakmem.h>

#include "init.h"
#include "options.h"

static char tmpdir[256];
static struct hak_options before;

/* ---- fixtures and helpers ---- */

static void setup(void)
{
	const char *base = getenv("TMPDIR");

	hak_init();
	/* A HAKMEM_STRICT=1 environment would turn every case into an exit. */
	hak_opts.strict = false;
	snprintf(tmpdir, sizeof(tmpdir), "%s/hakmem-profile-XXXXXX", base && *base ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

/* The temporary directory holds plain files and links only. */
static void teardown(void)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d = opendir(tmpdir);

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
			unlink(path);
		}
	}
	closedir(d);
	rmdir(tmpdir);
}

/* Write @len bytes of @data to @name in the temporary directory. */
static const char *write_bytes(const char *name, const void *data, size_t len)
{
	static char paths[4][PATH_MAX];
	static unsigned next;
	char *path = paths[next++ % 4];
	int fd;

	snprintf(path, PATH_MAX, "%s/%s", tmpdir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

static const char *write_profile(const char *name, const char *text)
{
	return write_bytes(name, text, strlen(text));
}

static char output[1 << 16];

/* Run @fn(@arg) with stderr going to a file; what it printed lands in output[]. */
static int captured(int (*fn)(const void *), const void *arg)
{
	char path[PATH_MAX];
	int fd, saved, rc;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/stderr.txt", tmpdir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	rc = fn(arg);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, output, sizeof(output) - 1, 0);
	output[n > 0 ? n : 0] = 0;
	close(fd);
	return rc;
}

static int call_load(const void *path)
{
	return hak_profile_load(path);
}

/* Load @path with stderr captured, after a snapshot of the options. */
static int load(const char *path)
{
	before = hak_opts;
	return captured(call_load, path);
}

static unsigned lines(void)
{
	unsigned n = 0;

	for (const char *p = output; *p; p++)
		n += *p == '\n';
	return n;
}

/* The @i-th line printed (0-based), without its newline. */
static const char *line_at(unsigned i)
{
	static char buf[1024];
	const char *p = output, *end;

	while (i-- && (p = strchr(p, '\n')))
		p++;
	ck_assert_ptr_nonnull(p);
	end = strchr(p, '\n');
	ck_assert_ptr_nonnull(end);
	snprintf(buf, sizeof(buf), "%.*s", (int)(end - p), p);
	return buf;
}

#define ANY_LINE (~0u)

/*
 * Line @i of the output names @path, at @line ("PATH:LINE: "; 0: no line,
 * "PATH: "; ANY_LINE: either), and contains each of @words (NULL-ended).
 */
static void check_line(unsigned i, const char *path, unsigned line, ...)
{
	const char *text = line_at(i);
	char head[PATH_MAX + 32];
	const char *word;
	va_list ap;

	if (line == ANY_LINE)
		snprintf(head, sizeof(head), "hakmem: %s", path);
	else if (line)
		snprintf(head, sizeof(head), "hakmem: %s:%u: ", path, line);
	else
		snprintf(head, sizeof(head), "hakmem: %s: ", path);
	ck_assert_msg(!strncmp(text, head, strlen(head)), "'%s' does not start with '%s'", text, head);
	va_start(ap, line);
	while ((word = va_arg(ap, const char *)))
		ck_assert_msg(strstr(text, word), "'%s' does not mention '%s'", text, word);
	va_end(ap);
}

#define expect_lines(n) \
	ck_assert_msg(lines() == (n), "%u lines printed, %u expected:\n%s", lines(), (unsigned)(n), output)

/* ---- files that cannot be read ---- */

START_TEST(missing_file)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/no-such.yaml", tmpdir);
	ck_assert_int_eq(load(path), -ENOENT);
	expect_lines(1);
	check_line(0, path, 0, "cannot open", "No such file", NULL);
	ck_assert_mem_eq(&hak_opts, &before, sizeof(before));
}
END_TEST

START_TEST(path_through_a_file)
{
	const char *file = write_profile("plain.yaml", "purge: {delay_ms: 7}\n");
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/profile.yaml", file);
	ck_assert_int_eq(load(path), -ENOTDIR);
	expect_lines(1);
	check_line(0, path, 0, "cannot open", NULL);
}
END_TEST

START_TEST(symlink_loop)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/loop.yaml", tmpdir);
	ck_assert_int_eq(symlink(path, path), 0);
	ck_assert_int_eq(load(path), -ELOOP);
	expect_lines(1);
	check_line(0, path, 0, "cannot open", NULL);
}
END_TEST

/*
 * Permissions do not stop root, so the load runs in a child that gives up
 * root first (to "nobody").  The child reports its return code through
 * its exit status.
 */
START_TEST(unreadable_file)
{
	const char *path = write_profile("secret.yaml", "purge: {delay_ms: 7}\n");
	char out[PATH_MAX];
	int fd, status;
	pid_t pid;
	ssize_t n;

	ck_assert_int_eq(chmod(path, 0), 0);
	snprintf(out, sizeof(out), "%s/stderr.txt", tmpdir);
	fd = open(out, O_RDWR | O_CREAT | O_TRUNC, 0666);
	ck_assert_int_ge(fd, 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(fd, STDERR_FILENO);
		if (geteuid() == 0 &&
		    (setgroups(0, NULL) || setgid(65534) || setuid(65534) || geteuid() == 0))
			_exit(100);
		_exit(-hak_profile_load(path) & 0xff);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	if (WEXITSTATUS(status) == 100) {
		close(fd);
		printf("unreadable_file: skipped: cannot drop root privileges here\n");
		return;
	}
	n = pread(fd, output, sizeof(output) - 1, 0);
	output[n > 0 ? n : 0] = 0;
	close(fd);
	ck_assert_int_eq(WEXITSTATUS(status), EACCES);
	expect_lines(1);
	check_line(0, path, 0, "cannot open", "Permission denied", NULL);
}
END_TEST

START_TEST(directory)
{
	ck_assert_int_eq(load(tmpdir), -EISDIR);
	expect_lines(1);
	check_line(0, tmpdir, 0, "directory", NULL);
	ck_assert_mem_eq(&hak_opts, &before, sizeof(before));
}
END_TEST

START_TEST(empty_files)
{
	static const char *const texts[] = {
		"",
		"\n\n",
		"# only a comment\n",
		"---\n",
		"--- # an empty document\n...\n",
		"~\n",
	};

	for (unsigned i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		ck_assert_int_eq(load(write_profile("empty.yaml", texts[i])), 0);
		expect_lines(0);
		ck_assert_mem_eq(&hak_opts, &before, sizeof(before));
	}
}
END_TEST

/* ---- files that are not (good) YAML: nothing of them applies ---- */

START_TEST(syntax_error)
{
	const char *path = write_profile("syntax.yaml",
					 "purge:\n"
					 "  delay_ms: 7\n"
					 "  batch: 9\n"
					 " stray: x\n"
					 "bigcache: {per_class: 2}\n");

	ck_assert_int_eq(load(path), -EINVAL);
	expect_lines(1);
	check_line(0, path, 4, "syntax error", NULL);
	/* Keys before the error did not apply either. */
	ck_assert_mem_eq(&hak_opts, &before, sizeof(before));
}
END_TEST

START_TEST(unterminated_flow)
{
	const char *path = write_profile("flow.yaml",
					 "purge: {delay_ms: 7}\n"
					 "elo: {k: 3\n");

	ck_assert_int_eq(load(path), -EINVAL);
	expect_lines(1);
	check_line(0, path, 3, "syntax error", NULL);
	ck_assert_mem_eq(&hak_opts, &before, sizeof(before));
}
END_TEST

START_TEST(top_level_not_a_mapping)
{
	static const char *const texts[] = {
		"- purge.delay_ms\n- 7\n",
		"just some words\n",
		"[a, b]\n",
	};

	for (unsigned i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		const char *path = write_profile("list.yaml", texts[i]);

		ck_assert_int_eq(load(path), -EINVAL);
		expect_lines(1);
		check_line(0, path, 1, "mapping", NULL);
		ck_assert_mem_eq(&hak_opts, &before, sizeof(before));
	}
}
END_TEST

START_TEST(nul_bytes)
{
	static const char text[] = "purge:\n  delay_ms: 7\n\0\0\0\1\2garbage\n";
	const char *path = write_bytes("nul.yaml", text, sizeof(text) - 1);

	ck_assert_int_eq(load(path), -EILSEQ);
	expect_lines(1);
	check_line(0, path, 3, "NUL", NULL);
	ck_assert_mem_eq(&hak_opts, &before, sizeof(before));
}
END_TEST

START_TEST(invalid_utf8)
{
	const char *path = write_profile("latin1.yaml", "purge:\n  delay_ms: 7\n  batch: caf\xe9\n");

	ck_assert_int_eq(load(path), -EILSEQ);
	expect_lines(1);
	check_line(0, path, 3, "UTF-8", NULL);
	ck_assert_mem_eq(&hak_opts, &before, sizeof(before));
}
END_TEST

START_TEST(random_bytes)
{
	unsigned char data[4096];
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (unsigned seed = 0; seed < 8; seed++) {
		const char *path;

		for (size_t i = 0; i < sizeof(data); i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			data[i] = (unsigned char)x;
		}
		path = write_bytes("random.bin", data, sizeof(data));
		ck_assert_int_lt(load(path), 0);
		expect_lines(1);
		check_line(0, path, ANY_LINE, NULL);
		ck_assert_mem_eq(&hak_opts, &before, sizeof(before));
	}
}
END_TEST

/* A text of @n copies of @unit after @head. */
static const char *repeated(const char *name, const char *head, const char *unit, size_t n)
{
	size_t hl = strlen(head), ul = strlen(unit);
	char *text = malloc(hl + ul * n + 2);
	const char *path;

	ck_assert_ptr_nonnull(text);
	memcpy(text, head, hl);
	for (size_t i = 0; i < n; i++)
		memcpy(text + hl + i * ul, unit, ul);
	text[hl + ul * n] = '\n';
	path = write_bytes(name, text, hl + ul * n + 1);
	free(text);
	return path;
}

START_TEST(deep_flow_nesting)
{
	static const char *const opens[] = { "[", "{", "[{a: " };

	for (unsigned i = 0; i < sizeof(opens) / sizeof(opens[0]); i++) {
		const char *path = repeated("deep.yaml", "purge: {delay_ms: 7}\nbigcache: ",
					    opens[i], 10000);

		ck_assert_int_eq(load(path), -EINVAL);
		expect_lines(1);
		check_line(0, path, 2, "bigcache", "nested deeper", NULL);
		ck_assert_mem_eq(&hak_opts, &before, sizeof(before));
	}
}
END_TEST

START_TEST(deep_flow_nesting_closed)
{
	const char *path;
	char *text = malloc(50000);
	size_t n = 0;

	ck_assert_ptr_nonnull(text);
	n += (size_t)sprintf(text, "purge: {delay_ms: 7}\nx: ");
	for (int i = 0; i < 20000; i++)
		text[n++] = '[';
	for (int i = 0; i < 20000; i++)
		text[n++] = ']';
	text[n++] = '\n';
	path = write_bytes("deep.yaml", text, n);
	free(text);
	ck_assert_int_eq(load(path), -EINVAL);
	expect_lines(1);
	check_line(0, path, 2, "nested deeper", NULL);
	ck_assert_mem_eq(&hak_opts, &before, sizeof(before));
}
END_TEST

START_TEST(deep_block_nesting)
{
	char *text = malloc(1 << 20);
	const char *path;
	size_t n = 0;

	ck_assert_ptr_nonnull(text);
	/* k0:\n k1:\n  k2:\n ... : each line one level deeper. */
	for (int level = 0; level < 1000; level++) {
		memset(text + n, ' ', (size_t)level);
		n += (size_t)level;
		n += (size_t)sprintf(text + n, "k%d:\n", level);
	}
	path = write_bytes("deep.yaml", text, n);
	free(text);
	ck_assert_int_eq(load(path), -EINVAL);
	expect_lines(1);
	/* The top mapping is level 1 (line 1); the 17th opens at line 17. */
	check_line(0, path, 17, "nested deeper", NULL);
	ck_assert_mem_eq(&hak_opts, &before, sizeof(before));
}
END_TEST

START_TEST(too_large)
{
	const size_t limit = 1 << 20;
	char *text = malloc(limit + 1);
	const char *path;

	ck_assert_ptr_nonnull(text);
	/* Exactly the limit loads: comments, then one key at the end. */
	static const char tail[] = "purge: {delay_ms: 7}\n";
	memset(text, '#', limit);
	for (size_t i = 80; i < limit; i += 81)
		text[i] = '\n';
	memcpy(text + limit - sizeof(tail) + 1, tail, sizeof(tail) - 1);
	text[limit - sizeof(tail)] = '\n';
	path = write_bytes("big.yaml", text, limit);
	ck_assert_int_eq(load(path), 0);
	expect_lines(0);
	ck_assert_uint_eq(hak_opts.purge_delay_ms, 7);

	/* One byte more is refused whole. */
	hak_opts.purge_delay_ms = before.purge_delay_ms;
	memmove(text + 1, text, limit);
	text[0] = '#';
	path = write_bytes("big.yaml", text, limit + 1);
	free(text);
	ck_assert_int_eq(load(path), -EFBIG);
	expect_lines(1);
	check_line(0, path, 0, "1 MiB", NULL);
	ck_assert_mem_eq(&hak_opts, &before, sizeof(before));
}
END_TEST

START_TEST(endless_device)
{
	ck_assert_int_eq(load("/dev/zero"), -EFBIG);
	expect_lines(1);
	check_line(0, "/dev/zero", 0, "1 MiB", NULL);
	ck_assert_mem_eq(&hak_opts, &before, sizeof(before));
}
END_TEST

/* ---- bad keys and values: reported and skipped, the rest applies ---- */

START_TEST(unknown_key)
{
	const char *path = write_profile("unknown.yaml",
					 "purge:\n"
					 "  delay_ms: 7\n"
					 "  frequency: 3\n"
					 "bigcache: {per_class: 2}\n");

	ck_assert_int_eq(load(path), -ENOENT);
	expect_lines(1);
	check_line(0, path, 3, "purge.frequency", NULL);
	ck_assert_uint_eq(hak_opts.purge_delay_ms, 7);
	ck_assert_uint_eq(hak_opts.cache_per_class, 2);
}
END_TEST

START_TEST(unknown_section)
{
	const char *path = write_profile("unknown.yaml",
					 "purge: {delay_ms: 7}\n"
					 "color: [red, green]\n"
					 "bigcache: {per_class: 2}\n");

	ck_assert_int_eq(load(path), -ENOENT);
	expect_lines(1);
	check_line(0, path, 2, "color", NULL);
	ck_assert_uint_eq(hak_opts.purge_delay_ms, 7);
	ck_assert_uint_eq(hak_opts.cache_per_class, 2);
}
END_TEST

/* One wrong shape per file, between two good keys. */
static const struct {
	const char *text;
	unsigned line;
	const char *key;
	const char *says;
} wrong_types[] = {
	{ "bigcache: {per_class: {a: 1}}\n", 2, "bigcache.per_class", "not a mapping" },
	{ "bigcache:\n  per_class:\n    a: 1\n", 3, "bigcache.per_class", "not a mapping" },
	{ "bigcache: {per_class: [1, 2]}\n", 2, "bigcache.per_class", "not a list" },
	{ "bigcache: {classes: 2MiB}\n", 2, "bigcache.classes", "takes a list" },
	{ "bigcache: {classes: [1MiB, [2MiB]]}\n", 2, "bigcache.classes", "single value" },
	{ "bigcache: {classes: [1MiB, {a: 1}]}\n", 2, "bigcache.classes", "single value" },
	{ "bigcache: {classes: {a: 1}}\n", 2, "bigcache.classes", "not a mapping" },
	{ "strict: {a: 1}\n", 2, "strict", "not a mapping" },
	{ "strict: {}\n", 2, "strict", "not a mapping" },
	{ "seed: [1]\n", 2, "seed", "not a list" },
	{ "bigcache: {per_class: }\n", 2, "bigcache.per_class", "no value" },
	{ "bigcache: {per_class: \"1\\0\"}\n", 2, "bigcache.per_class", "NUL" },
	{ "bigcache: {per_class: {a: {b: {c: 1}}}}\n", 2, "bigcache.per_class", "not a mapping" },
	{ "purge: {extra: {a: 1}}\n", 2, "purge.extra", "nested too deep" },
	{ "[purge]: 1\n", 2, NULL, "key" },
	{ "? {a: 1}\n: 1\n", 2, NULL, "key" },
};

START_TEST(wrong_type)
{
	char text[256];
	const char *path;

	snprintf(text, sizeof(text), "purge: {delay_ms: 7}\n%sbigcache.max_bytes: 3MiB\n",
		 wrong_types[_i].text);
	path = write_profile("wrong.yaml", text);
	ck_assert_int_eq(load(path), -EINVAL);
	expect_lines(1);
	check_line(0, path, wrong_types[_i].line, wrong_types[_i].says, wrong_types[_i].key, NULL);
	ck_assert_uint_eq(hak_opts.purge_delay_ms, 7);
	ck_assert_uint_eq(hak_opts.cache_max_bytes, 3 << 20);
	ck_assert_uint_eq(hak_opts.cache_per_class, before.cache_per_class);
	ck_assert_uint_eq(hak_opts.strict, before.strict);
	ck_assert_uint_eq(hak_opts.seed, before.seed);
	ck_assert_uint_eq(hak_opts.ncache_classes, before.ncache_classes);
	ck_assert_mem_eq(hak_opts.cache_classes, before.cache_classes, sizeof(before.cache_classes));
}
END_TEST

START_TEST(out_of_range)
{
	const char *path = write_profile("range.yaml",
					 "purge:\n"
					 "  delay_ms: 60001\n"
					 "  batch: 9\n");

	ck_assert_int_eq(load(path), -ERANGE);
	expect_lines(1);
	check_line(0, path, 2, "purge.delay_ms", "range", NULL);
	ck_assert_uint_eq(hak_opts.purge_delay_ms, before.purge_delay_ms);
	ck_assert_uint_eq(hak_opts.purge_batch, 9);
}
END_TEST

START_TEST(bad_values)
{
	const char *path = write_profile("values.yaml",
					 "purge: {batch: lots}\n"
					 "bigcache:\n"
					 "  max_bytes: 3 apples\n"
					 "  classes: [4MiB, 2MiB]\n"
					 "  per_class: 2\n");

	ck_assert_int_eq(load(path), -EINVAL);
	expect_lines(3);
	check_line(0, path, 1, "purge.batch", "lots", NULL);
	check_line(1, path, 3, "bigcache.max_bytes", NULL);
	check_line(2, path, 4, "bigcache.classes", "increasing", NULL);
	ck_assert_uint_eq(hak_opts.purge_batch, before.purge_batch);
	ck_assert_uint_eq(hak_opts.cache_max_bytes, before.cache_max_bytes);
	ck_assert_mem_eq(hak_opts.cache_classes, before.cache_classes, sizeof(before.cache_classes));
	ck_assert_uint_eq(hak_opts.cache_per_class, 2);
}
END_TEST

START_TEST(too_many_items)
{
	const char *path = write_profile("items.yaml",
					 "bigcache:\n"
					 "  classes: [1MiB, 2MiB, 3MiB, 4MiB, 5MiB, 6MiB, 7MiB, 8MiB, 9MiB]\n"
					 "  per_class: 2\n");

	ck_assert_int_eq(load(path), -ERANGE);
	expect_lines(1);
	check_line(0, path, 2, "bigcache.classes", "9 items", NULL);
	ck_assert_uint_eq(hak_opts.ncache_classes, before.ncache_classes);
	ck_assert_uint_eq(hak_opts.cache_per_class, 2);
}
END_TEST

START_TEST(list_applies)
{
	const char *path = write_profile("list.yaml",
					 "bigcache:\n"
					 "  classes:\n"
					 "    - 512KiB\n"
					 "    - 3MiB\n"
					 "    - \"16M\"\n");

	ck_assert_int_eq(load(path), 0);
	expect_lines(0);
	ck_assert_uint_eq(hak_opts.ncache_classes, 3);
	ck_assert_uint_eq(hak_opts.cache_classes[0], 512 << 10);
	ck_assert_uint_eq(hak_opts.cache_classes[1], 3 << 20);
	ck_assert_uint_eq(hak_opts.cache_classes[2], 16 << 20);
}
END_TEST

START_TEST(dotted_keys)
{
	const char *path = write_profile("dotted.yaml",
					 "purge.delay_ms: 7\n"
					 "bigcache: {per_class: 3}\n"
					 "policy.epoch: 99\n");

	ck_assert_int_eq(load(path), 0);
	expect_lines(0);
	ck_assert_uint_eq(hak_opts.purge_delay_ms, 7);
	ck_assert_uint_eq(hak_opts.cache_per_class, 3);
	ck_assert_uint_eq(hak_opts.epoch_events, 99);
}
END_TEST

START_TEST(policy_not_compiled_in)
{
	static const char *const names[] = { "fixed", "elo", "evo" };
	const char *missing = NULL;
	char text[128];
	const char *path;

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!hak_policy_find(names[i]))
			missing = names[i];
	/* With every policy built in, a name that is none of them. */
	snprintf(text, sizeof(text), "purge: {delay_ms: 7}\npolicy: %s\n",
		 missing ? missing : "nosuch");
	path = write_profile("policy.yaml", text);
	ck_assert_int_lt(load(path), 0);
	expect_lines(1);
	check_line(0, path, 2, "policy", missing ? missing : "nosuch", NULL);
	ck_assert_ptr_eq(hak_opts.policy, before.policy);
	ck_assert_uint_eq(hak_opts.purge_delay_ms, 7);
}
END_TEST

START_TEST(anchors_and_aliases)
{
	const char *path = write_profile("alias.yaml",
					 "purge:\n"
					 "  delay_ms: &d 7\n"
					 "  batch: *d\n"
					 "bigcache: &b {per_class: 2}\n"
					 "seed: 5\n");

	/* One line per key refused. */
	ck_assert_int_eq(load(path), -EINVAL);
	expect_lines(3);
	check_line(0, path, 2, "purge.delay_ms", "anchor", NULL);
	check_line(1, path, 3, "purge.batch", "alias", NULL);
	check_line(2, path, 4, "bigcache", "anchor", NULL);
	ck_assert_uint_eq(hak_opts.purge_delay_ms, before.purge_delay_ms);
	ck_assert_uint_eq(hak_opts.purge_batch, before.purge_batch);
	ck_assert_uint_eq(hak_opts.cache_per_class, before.cache_per_class);
	ck_assert_uint_eq(hak_opts.seed, 5);
}
END_TEST

START_TEST(alias_list_item)
{
	const char *path = write_profile("alias.yaml",
					 "a: &one 1MiB\n"
					 "bigcache: {classes: [*one, 2MiB], per_class: 2}\n");

	ck_assert_int_eq(load(path), -ENOENT);
	expect_lines(2);
	check_line(0, path, 1, "a", NULL);
	check_line(1, path, 2, "bigcache.classes", "alias", NULL);
	ck_assert_uint_eq(hak_opts.ncache_classes, before.ncache_classes);
	ck_assert_uint_eq(hak_opts.cache_per_class, 2);
}
END_TEST

START_TEST(several_documents)
{
	const char *path = write_profile("docs.yaml",
					 "purge: {delay_ms: 7}\n"
					 "---\n"
					 "purge: {delay_ms: 8}\n"
					 "---\n"
					 "[[[ not even parsed\n");

	ck_assert_int_eq(load(path), 0);
	expect_lines(1);
	check_line(0, path, 2, "one YAML document", NULL);
	ck_assert_uint_eq(hak_opts.purge_delay_ms, 7);
}
END_TEST

START_TEST(set_twice)
{
	const char *path = write_profile("twice.yaml",
					 "purge: {delay_ms: 7}\n"
					 "bigcache: {per_class: 2}\n"
					 "purge.delay_ms: 8\n");

	ck_assert_int_eq(load(path), -EINVAL);
	expect_lines(1);
	check_line(0, path, 3, "purge.delay_ms", "line 1", NULL);
	ck_assert_uint_eq(hak_opts.purge_delay_ms, 7);
	ck_assert_uint_eq(hak_opts.cache_per_class, 2);
}
END_TEST

START_TEST(long_key)
{
	char text[512];
	const char *path;

	memset(text, 'k', 300);
	snprintf(text + 300, sizeof(text) - 300, ": 1\nseed: 5\n");
	path = write_profile("long.yaml", text);
	ck_assert_int_eq(load(path), -EINVAL);
	expect_lines(1);
	check_line(0, path, 1, "too long", NULL);
	ck_assert_uint_eq(hak_opts.seed, 5);
}
END_TEST

START_TEST(too_many_errors)
{
	char text[4096];
	const char *path;
	size_t n = 0;

	for (int i = 0; i < 30; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "unknown%d: 1\n", i);
	snprintf(text + n, sizeof(text) - n, "seed: 5\n");
	path = write_profile("errors.yaml", text);
	ck_assert_int_eq(load(path), -ENOENT);
	/* Twenty complaints, then one line to say the rest is skipped. */
	expect_lines(21);
	check_line(19, path, 20, "unknown19", NULL);
	check_line(20, path, 0, "rest of the profile is ignored", NULL);
	ck_assert_uint_eq(hak_opts.seed, before.seed);
}
END_TEST

START_TEST(good_profile_is_silent)
{
	const char *path = write_profile("good.yaml",
					 "# comment\n"
					 "policy: fixed\n"
					 "fixed: {threshold: 2MiB}\n"
					 "strict: no\n"
					 "seed: 12345\n"
					 "purge:\n"
					 "  delay_ms: 0   # at once\n"
					 "  batch: 128\n"
					 "large: {span_max: 512KiB}\n"
					 "bigcache:\n"
					 "  max_bytes: 1GiB\n"
					 "  per_class: 0\n"
					 "  sites: 1\n"
					 "  classes: [1MiB, 8MiB]\n");

	if (!hak_policy_find("fixed")) {
		printf("good_profile_is_silent: skipped: policy fixed not compiled in\n");
		return;
	}
	ck_assert_int_eq(load(path), 0);
	expect_lines(0);
	ck_assert_ptr_eq(hak_opts.policy, hak_policy_find("fixed"));
	ck_assert_uint_eq(hak_opts.seed, 12345);
	ck_assert_uint_eq(hak_opts.purge_delay_ms, 0);
	ck_assert_uint_eq(hak_opts.purge_batch, 128);
	ck_assert_uint_eq(hak_opts.span_max, 512 << 10);
	ck_assert_uint_eq(hak_opts.cache_max_bytes, 1 << 30);
	ck_assert_uint_eq(hak_opts.cache_per_class, 0);
	ck_assert_uint_eq(hak_opts.cache_sites, 1);
	ck_assert_uint_eq(hak_opts.ncache_classes, 2);
	ck_assert_uint_eq(hak_opts.cache_classes[1], 8 << 20);
	ck_assert_uint_eq(hak_opts.params[hak_policy_index(hak_policy_find("fixed"))][0].size,
			  2 << 20);
}
END_TEST

/* ---- the shipped profiles ---- */

static const char *srcdir(void)
{
	const char *dir = getenv("HAKMEM_SRCDIR");

	return dir && *dir ? dir : ".";
}

/* The word after "policy:" at the start of a line (in @word[64]), or NULL. */
static const char *policy_of(const char *path, char *word)
{
	static char text[1 << 16];
	ssize_t n;
	int fd = open(path, O_RDONLY);
	const char *p;

	ck_assert_msg(fd >= 0, "%s: %s (set HAKMEM_SRCDIR to the source tree)", path,
		      strerror(errno));
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	ck_assert_int_ge(n, 0);
	text[n] = 0;
	for (p = text; p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (!strncmp(p, "policy:", 7)) {
			if (sscanf(p + 7, " %63[a-z]", word) == 1)
				return word;
		}
	}
	return NULL;
}

START_TEST(shipped_profiles_load_silently)
{
	static const char *const expected[] = { "default", "server", "vm", "low-memory" };
	char dir[PATH_MAX / 2], path[PATH_MAX], word[64];
	unsigned found = 0, loaded = 0;
	struct dirent *e;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/configs/profiles", srcdir());
	d = opendir(dir);
	ck_assert_msg(d, "%s: %s (set HAKMEM_SRCDIR to the source tree)", dir, strerror(errno));
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		const char *policy;

		if (n < 6 || strcmp(e->d_name + n - 5, ".yaml"))
			continue;
		for (unsigned i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
			if (!strncmp(e->d_name, expected[i], n - 5) && strlen(expected[i]) == n - 5)
				found++;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		policy = policy_of(path, word);
		if (policy && !hak_policy_find(policy)) {
			printf("%s: skipped: policy %s is not compiled in\n", e->d_name, policy);
			continue;
		}
		ck_assert_msg(load(path) == 0, "%s did not load:\n%s", path, output);
		ck_assert_msg(lines() == 0, "%s printed:\n%s", path, output);
		loaded++;
	}
	closedir(d);
	ck_assert_uint_eq(found, 4);
	ck_assert_uint_gt(loaded, 0);
}
END_TEST

static void load_shipped(const char *name)
{
	char path[PATH_MAX], word[64];
	const char *policy;

	snprintf(path, sizeof(path), "%s/configs/profiles/%s.yaml", srcdir(), name);
	policy = policy_of(path, word);
	ck_assert_ptr_nonnull(policy);
	ck_assert_ptr_nonnull(hak_policy_find(policy));
	ck_assert_msg(load(path) == 0, "%s did not load:\n%s", path, output);
	expect_lines(0);
	ck_assert_ptr_eq(hak_opts.policy, hak_policy_find(policy));
}

START_TEST(profile_low_memory)
{
	load_shipped("low-memory");
	ck_assert_uint_le(hak_opts.purge_delay_ms, 1);
	ck_assert_uint_eq(hak_opts.cache_per_class, 1);
	ck_assert_uint_lt(hak_opts.cache_max_bytes, before.cache_max_bytes);
}
END_TEST

START_TEST(profile_server)
{
	load_shipped("server");
	ck_assert_str_eq(hak_opts.policy->name, "fixed");
	/* Keeps memory at least as long as the default, caches at least as much. */
	ck_assert_uint_ge(hak_opts.purge_delay_ms, 10);
	ck_assert_uint_ge(hak_opts.cache_per_class, 4);
}
END_TEST

START_TEST(profile_vm)
{
	if (!hak_policy_find("elo") && !hak_policy_find("evo")) {
		printf("profile_vm: skipped: no learning policy compiled in\n");
		return;
	}
	load_shipped("vm");
	ck_assert(!strcmp(hak_opts.policy->name, "elo") || !strcmp(hak_opts.policy->name, "evo"));
	ck_assert_uint_ge(hak_opts.ncache_classes, 2);
	ck_assert_uint_le(hak_opts.cache_classes[0], 2 << 20);
	ck_assert_uint_ge(hak_opts.cache_classes[hak_opts.ncache_classes - 1], 4 << 20);
}
END_TEST

/* ---- strict mode: a bad profile stops the program with status 1 ---- */

START_TEST(strict_bad_key_exits)
{
	const char *path = write_profile("strict.yaml", "purge: {delay_ms: 7}\nfoo: 1\n");

	hak_opts.strict = true;
	hak_profile_load(path);
	ck_abort_msg("hak_profile_load returned in strict mode");
}
END_TEST

START_TEST(strict_syntax_error_exits)
{
	const char *path = write_profile("strict.yaml", "purge: {delay_ms: 7\n");

	hak_opts.strict = true;
	hak_profile_load(path);
	ck_abort_msg("hak_profile_load returned in strict mode");
}
END_TEST

START_TEST(strict_missing_file_exits)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/no-such.yaml", tmpdir);
	hak_opts.strict = true;
	hak_profile_load(path);
	ck_abort_msg("hak_profile_load returned in strict mode");
}
END_TEST

/* The profile turns strict mode on: from the next bad key on, it stops. */
START_TEST(strict_from_profile_exits)
{
	const char *path = write_profile("strict.yaml", "strict: true\nfoo: 1\n");

	hak_profile_load(path);
	ck_abort_msg("hak_profile_load returned in strict mode");
}
END_TEST

START_TEST(strict_good_profile_returns)
{
	const char *path = write_profile("strict.yaml", "purge: {delay_ms: 7}\nstrict: true\n");

	hak_opts.strict = true;
	ck_assert_int_eq(load(path), 0);
	expect_lines(0);
	ck_assert_uint_eq(hak_opts.purge_delay_ms, 7);
}
END_TEST

/* ---- HAKMEM_PROFILE at start-up, inside hak_init() ---- */

/*
 * Run this program again with @profile in HAKMEM_PROFILE (and @env, a
 * "NAME=value" or NULL, on top): its hak_init() loads the profile before
 * main(), which then prints the options (see main).  Returns the wait
 * status; stdout and stderr land in @out and output[].
 */
static int run_at_start(const char *profile, const char *env, char *out, size_t len)
{
	char outpath[PATH_MAX], errpath[PATH_MAX];
	int ofd, efd, status;
	pid_t pid;
	ssize_t n;

	snprintf(outpath, sizeof(outpath), "%s/stdout.txt", tmpdir);
	snprintf(errpath, sizeof(errpath), "%s/stderr.txt", tmpdir);
	ofd = open(outpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
	efd = open(errpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(ofd, 0);
	ck_assert_int_ge(efd, 0);
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char *const argv[] = { "test_profile", "--show-options", NULL };

		dup2(ofd, STDOUT_FILENO);
		dup2(efd, STDERR_FILENO);
		unsetenv("HAKMEM_STRICT");
		unsetenv("HAKMEM_PURGE_DELAY_MS");
		unsetenv("HAKMEM_BIGCACHE_PER_CLASS");
		setenv("HAKMEM_PROFILE", profile, 1);
		if (env)
			putenv((char *)env);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	n = pread(ofd, out, len - 1, 0);
	out[n > 0 ? n : 0] = 0;
	n = pread(efd, output, sizeof(output) - 1, 0);
	output[n > 0 ? n : 0] = 0;
	close(ofd);
	close(efd);
	return status;
}

static int show_options(void)
{
	printf("purge.delay_ms=%u bigcache.per_class=%u policy=%s\n", hak_opts.purge_delay_ms,
	       hak_opts.cache_per_class, hak_opts.policy ? hak_opts.policy->name : "none");
	return 0;
}

START_TEST(profile_at_start)
{
	const char *path = write_profile("start.yaml",
					 "purge: {delay_ms: 7}\n"
					 "bigcache: {per_class: 2}\n");
	char out[256];
	int status = run_at_start(path, NULL, out, sizeof(out));

	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "status %#x, stderr:\n%s", status, output);
	expect_lines(0);
	ck_assert_msg(strstr(out, "purge.delay_ms=7 bigcache.per_class=2 "), "%s", out);
}
END_TEST

/* The environment beats the profile. */
START_TEST(environment_over_profile_at_start)
{
	const char *path = write_profile("start.yaml",
					 "purge: {delay_ms: 7}\n"
					 "bigcache: {per_class: 2}\n");
	char out[256];
	int status = run_at_start(path, "HAKMEM_BIGCACHE_PER_CLASS=5", out, sizeof(out));

	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "status %#x, stderr:\n%s", status, output);
	expect_lines(0);
	ck_assert_msg(strstr(out, "purge.delay_ms=7 bigcache.per_class=5 "), "%s", out);
}
END_TEST

/* A bad profile at start: one line, and the program runs on. */
START_TEST(bad_profile_at_start)
{
	const char *path = write_profile("start.yaml",
					 "purge: {delay_ms: 7}\n"
					 "colour: blue\n");
	char out[256];
	int status = run_at_start(path, NULL, out, sizeof(out));

	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "status %#x, stderr:\n%s", status, output);
	expect_lines(1);
	check_line(0, path, 2, "colour", NULL);
	ck_assert_msg(strstr(out, "purge.delay_ms=7 "), "%s", out);
}
END_TEST

/* A misspelt variable is named, not silently ignored. */
START_TEST(unknown_variable_at_start)
{
	const char *path = write_profile("start.yaml", "purge: {delay_ms: 7}\n");
	char out[256];
	int status = run_at_start(path, "HAKMEM_PURGE_DELAY=3", out, sizeof(out));

	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "status %#x, stderr:\n%s", status, output);
	expect_lines(1);
	ck_assert_msg(strstr(output, "HAKMEM_PURGE_DELAY: unknown variable"), "%s", output);
	ck_assert_msg(strstr(out, "purge.delay_ms=7 "), "%s", out);
}
END_TEST

/* HAKMEM_STRICT=1 and a bad profile: status 1 before main() runs. */
START_TEST(strict_bad_profile_at_start)
{
	const char *path = write_profile("start.yaml", "purge: {delay_ms: [7]}\n");
	char out[256];
	int status = run_at_start(path, "HAKMEM_STRICT=1", out, sizeof(out));

	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1,
		      "status %#x, stderr:\n%s", status, output);
	expect_lines(1);
	check_line(0, path, 1, "purge.delay_ms", "strict", NULL);
	ck_assert_str_eq(out, "");
}
END_TEST

/* ---- the option table's text forms ---- */

struct set_args {
	const char *key, *value;
};

static int call_set(const void *arg)
{
	const struct set_args *a = arg;

	return hak_option_set(a->key, a->value, "test");
}

static int set(const char *key, const char *value)
{
	struct set_args a = { key, value };

	before = hak_opts;
	return captured(call_set, &a);
}

START_TEST(option_sizes)
{
	static const struct {
		const char *text;
		size_t bytes;
	} good[] = {
		{ "100", 100 }, { "64KiB", 64 << 10 }, { "64k", 64 << 10 }, { "2M", 2 << 20 },
		{ "2MB", 2 << 20 }, { "1GiB", 1 << 30 }, { "1 GiB", 1 << 30 }, { "0", 0 },
		{ "1.5MiB", 3 << 19 },
	};
	static const char *const bad[] = { "", "lots", "12XB", "-1", "1.5", "MiB", "2MiB4" };

	for (unsigned i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(set("bigcache.max_bytes", good[i].text) == 0, "'%s': %s",
			      good[i].text, output);
		expect_lines(0);
		ck_assert_uint_eq(hak_opts.cache_max_bytes, good[i].bytes);
	}
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(set("bigcache.max_bytes", bad[i]) < 0, "'%s' accepted", bad[i]);
		expect_lines(1);
		check_line(0, "test", 0, "bigcache.max_bytes", NULL);
		ck_assert_uint_eq(hak_opts.cache_max_bytes, before.cache_max_bytes);
	}
	ck_assert_int_eq(set("bigcache.max_bytes", "2TiB"), -ERANGE);
	expect_lines(1);
	ck_assert_uint_eq(hak_opts.cache_max_bytes, before.cache_max_bytes);
}
END_TEST

/* stats: none, summary or json (or a boolean); anything else, one line. */
START_TEST(option_stats_choices)
{
	static const struct {
		const char *text;
		int mode;
	} good[] = {
		{ "none", HAK_STATS_NONE }, { "summary", HAK_STATS_SUMMARY },
		{ "JSON", HAK_STATS_JSON }, { "0", HAK_STATS_NONE }, { "1", HAK_STATS_SUMMARY },
	};

	for (unsigned i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int rc = set("stats", good[i].text);

		if (!IS_ENABLED(CONFIG_HAKMEM_STATS) && good[i].mode != HAK_STATS_NONE) {
			ck_assert_int_eq(rc, -EINVAL);
			check_line(0, "test", 0, "stats", "CONFIG_HAKMEM_STATS", NULL);
			continue;
		}
		ck_assert_msg(rc == 0, "'%s': %s", good[i].text, output);
		expect_lines(0);
		ck_assert_int_eq(hak_opts.stats, good[i].mode);
	}
	hak_opts.stats = HAK_STATS_NONE;
	ck_assert_int_eq(set("stats", "xml"), -EINVAL);
	expect_lines(1);
	check_line(0, "test", 0, "stats", "'xml'", "none, summary, json", NULL);
	ck_assert_int_eq(hak_opts.stats, HAK_STATS_NONE);
	hak_opts.stats = before.stats;
}
END_TEST

START_TEST(option_bools)
{
	static const char *const yes[] = { "true", "yes", "on", "1", "TRUE" };
	static const char *const no[] = { "false", "no", "off", "0" };

	/* strict must end false: it would turn the next error into an exit. */
	for (unsigned i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		hak_opts.strict = false;
		ck_assert_int_eq(set("strict", yes[i]), 0);
		ck_assert(hak_opts.strict);
		ck_assert_int_eq(set("strict", no[i % 4]), 0);
		ck_assert(!hak_opts.strict);
	}
	ck_assert_int_eq(set("strict", "maybe"), -EINVAL);
	expect_lines(1);
	check_line(0, "test", 0, "strict", "maybe", NULL);
	ck_assert(!hak_opts.strict);
	ck_assert_int_eq(set("no.such.key", "1"), -ENOENT);
	expect_lines(1);
	check_line(0, "test", 0, "no.such.key", NULL);
}
END_TEST

/* ---- a build without YAML refuses a profile in one line ---- */

START_TEST(no_yaml_support)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/configs/profiles/default.yaml", srcdir());
	ck_assert_int_eq(load(path), -EOPNOTSUPP);
	expect_lines(1);
	check_line(0, "HAKMEM_PROFILE", 0, "YAML", path, NULL);
	ck_assert_mem_eq(&hak_opts, &before, sizeof(before));
}
END_TEST

static Suite *profile_suite(void)
{
	Suite *s = suite_create("profile");
	const char *fork = getenv("CK_FORK");
	TCase *tc;

	if (!IS_ENABLED(CONFIG_HAKMEM_YAML)) {
		tc = tcase_create("no-yaml");
		tcase_add_checked_fixture(tc, setup, teardown);
		tcase_add_test(tc, no_yaml_support);
		suite_add_tcase(s, tc);
	} else {
		tc = tcase_create("files");
		tcase_add_checked_fixture(tc, setup, teardown);
		tcase_add_test(tc, missing_file);
		tcase_add_test(tc, path_through_a_file);
		tcase_add_test(tc, symlink_loop);
		tcase_add_test(tc, unreadable_file);
		tcase_add_test(tc, directory);
		tcase_add_test(tc, empty_files);
		tcase_add_test(tc, too_large);
		tcase_add_test(tc, endless_device);
		suite_add_tcase(s, tc);

		tc = tcase_create("yaml");
		tcase_set_timeout(tc, 60);
		tcase_add_checked_fixture(tc, setup, teardown);
		tcase_add_test(tc, syntax_error);
		tcase_add_test(tc, unterminated_flow);
		tcase_add_test(tc, top_level_not_a_mapping);
		tcase_add_test(tc, nul_bytes);
		tcase_add_test(tc, invalid_utf8);
		tcase_add_test(tc, random_bytes);
		tcase_add_test(tc, deep_flow_nesting);
		tcase_add_test(tc, deep_flow_nesting_closed);
		tcase_add_test(tc, deep_block_nesting);
		tcase_add_test(tc, anchors_and_aliases);
		tcase_add_test(tc, alias_list_item);
		tcase_add_test(tc, several_documents);
		suite_add_tcase(s, tc);

		tc = tcase_create("keys");
		tcase_add_checked_fixture(tc, setup, teardown);
		tcase_add_test(tc, unknown_key);
		tcase_add_test(tc, unknown_section);
		tcase_add_loop_test(tc, wrong_type, 0, sizeof(wrong_types) / sizeof(wrong_types[0]));
		tcase_add_test(tc, out_of_range);
		tcase_add_test(tc, bad_values);
		tcase_add_test(tc, too_many_items);
		tcase_add_test(tc, list_applies);
		tcase_add_test(tc, dotted_keys);
		tcase_add_test(tc, policy_not_compiled_in);
		tcase_add_test(tc, set_twice);
		tcase_add_test(tc, long_key);
		tcase_add_test(tc, too_many_errors);
		tcase_add_test(tc, good_profile_is_silent);
		suite_add_tcase(s, tc);

		tc = tcase_create("shipped");
		tcase_add_checked_fixture(tc, setup, teardown);
		tcase_add_test(tc, shipped_profiles_load_silently);
		tcase_add_test(tc, profile_low_memory);
		tcase_add_test(tc, profile_server);
		tcase_add_test(tc, profile_vm);
		suite_add_tcase(s, tc);

		tc = tcase_create("start-up");
		tcase_set_timeout(tc, 60);
		tcase_add_checked_fixture(tc, setup, teardown);
		tcase_add_test(tc, profile_at_start);
		tcase_add_test(tc, environment_over_profile_at_start);
		tcase_add_test(tc, bad_profile_at_start);
		tcase_add_test(tc, strict_bad_profile_at_start);
		tcase_add_test(tc, unknown_variable_at_start);
		suite_add_tcase(s, tc);

		tc = tcase_create("strict");
		tcase_add_checked_fixture(tc, setup, teardown);
		/* An exit test needs a child process per test. */
		if (!fork || strcmp(fork, "no")) {
			tcase_add_exit_test(tc, strict_bad_key_exits, 1);
			tcase_add_exit_test(tc, strict_syntax_error_exits, 1);
			tcase_add_exit_test(tc, strict_missing_file_exits, 1);
			tcase_add_exit_test(tc, strict_from_profile_exits, 1);
		}
		tcase_add_test(tc, strict_good_profile_returns);
		suite_add_tcase(s, tc);
	}

	tc = tcase_create("options");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, option_sizes);
	tcase_add_test(tc, option_stats_choices);
	tcase_add_test(tc, option_bools);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	SRunner *sr;
	int failed;

	/* run_at_start() runs this program again to see what hak_init() set. */
	if (argc > 1 && !strcmp(argv[1], "--show-options"))
		return show_options();
	sr = srunner_create(profile_suite());

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
