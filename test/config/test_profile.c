// SPDX-License-Identifier: MIT
/*
 * test/config/test_profile.c - the YAML profile loader against bad input,
 * the shipped profiles, strict mode, the environment, and the option
 * table's text parsers.
 *
 * Each bad-input test writes a profile into a fresh temporary directory,
 * loads it with stderr captured, and checks the return code, the exact
 * number of lines printed, that they name the file, the line and the key,
 * and that bad keys kept their values while good keys beside them took
 * theirs.  Values are compared with a snapshot taken just before the
 * load, so the tests hold whatever the environment set at start.
 *
 * The only list option is a policy's (elo.candidates): the tests of lists
 * say they are skipped, and why, in a build without elo.  Every other test
 * runs in every configuration; without CONFIG_HAKMEM_YAML, what is left is
 * the environment and the option table.
 *
 * The shipped profiles and docs/options.md are found under $HAKMEM_SRCDIR
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
#include <stdbool.h>
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
#include "testlib.h"

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

/* Loading @path fails with @err in one line (at @line) holding @a and @b; nothing applies. */
static void refused(const char *path, int err, unsigned line, const char *a, const char *b)
{
	ck_assert_int_eq(load(path), err);
	expect_lines(1);
	check_line(0, path, line, a, b, NULL);
	ck_assert_mem_eq(&hak_opts, &before, sizeof(before));
}

/* ---- files that cannot be read ---- */

START_TEST(missing_file)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/no-such.yaml", tmpdir);
	refused(path, -ENOENT, 0, "cannot open", "No such file");
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
	refused(tmpdir, -EISDIR, 0, "directory", NULL);
}
END_TEST

/* ---- files that are not (good) YAML: nothing of them applies ---- */

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
		const char *path = repeated("deep.yaml", "purge: {delay_ms: 7}\npageheap: ",
					    opens[i], 10000);

		refused(path, -EINVAL, 2, "pageheap", "nested deeper");
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
	refused(path, -EINVAL, 2, "nested deeper", NULL);
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
	/* The top mapping is level 1 (line 1); the 17th opens at line 17. */
	refused(path, -EINVAL, 17, "nested deeper", NULL);
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
	refused(path, -EFBIG, 0, "1 MiB", NULL);
}
END_TEST

START_TEST(endless_device)
{
	refused("/dev/zero", -EFBIG, 0, "1 MiB", NULL);
}
END_TEST

/* ---- option values: policy parameters, snapshots, the table's defaults ---- */

/* Policy parameter @key ("elo.candidates") in @o; NULL when its policy is not built in. */
static struct hak_param_value *param_of(struct hak_options *o, const char *key)
{
	const char *dot = strchr(key, '.');
	const struct hak_policy *p;
	char name[32];
	int idx;

	ck_assert_ptr_nonnull(dot);
	snprintf(name, sizeof(name), "%.*s", (int)(dot - key), key);
	p = hak_policy_find(name);
	if (!p)
		return NULL;
	idx = hak_policy_index(p);
	for (int j = 0; p->params && p->params[j].name; j++)
		if (!strcmp(p->params[j].name, dot + 1))
			return &o->params[idx][j];
	ck_abort_msg("%s: policy %s has no such parameter", key, name);
	return NULL;
}

static struct hak_param_value *param(const char *key)
{
	return param_of(&hak_opts, key);
}

/*
 * elo.candidates is the only list option there is.  In a build without
 * elo a test of lists has nothing to test: it says so and passes.
 */
static bool have_elo(const char *test)
{
	if (IS_ENABLED(CONFIG_HAKMEM_POLICY_ELO))
		return true;
	printf("%s: skipped: the only list option, elo.candidates, needs CONFIG_HAKMEM_POLICY_ELO\n",
	       test);
	return false;
}

/* elo.candidates holds exactly the @n delays that follow. */
static void expect_candidates(unsigned n, ...)
{
	const struct hak_param_value *v = param("elo.candidates");
	va_list ap;

	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(v->nlist, n);
	va_start(ap, n);
	for (unsigned k = 0; k < n; k++)
		ck_assert_uint_eq(v->list[k], va_arg(ap, unsigned));
	va_end(ap);
}

/* elo.candidates (when elo is built in) is as it was before the load. */
static void candidates_unchanged(void)
{
	const struct hak_param_value *now = param("elo.candidates");
	const struct hak_param_value *was = param_of(&before, "elo.candidates");

	if (!now)
		return;
	ck_assert_uint_eq(now->nlist, was->nlist);
	ck_assert_mem_eq(now->list, was->list, sizeof(now->list));
}

/* The key and the default of option-table entry @i, from its line of docs. */
static void option_default(unsigned i, char *key, size_t klen, char *def, size_t dlen)
{
	char line[1024];
	const char *d;

	ck_assert_int_gt(hak_option_describe(i, line, sizeof(line)), 0);
	snprintf(key, klen, "%.*s", (int)strcspn(line, "\t"), line);
	d = strstr(line, "\tdefault ");
	ck_assert_msg(d, "no default in '%s'", line);
	d += strlen("\tdefault ");
	snprintf(def, dlen, "%.*s", (int)strcspn(d, "\t"), d);
}

static bool same_value(enum hak_param_type t, const struct hak_param_value *a,
		       const struct hak_param_value *b)
{
	switch (t) {
	case HAK_PARAM_BOOL: return a->b == b->b;
	case HAK_PARAM_INT: return a->i == b->i;
	case HAK_PARAM_SIZE: return a->size == b->size;
	case HAK_PARAM_FLOAT: return a->f == b->f;
	case HAK_PARAM_SIZE_LIST:
	case HAK_PARAM_INT_LIST:
		return a->nlist == b->nlist &&
		       !memcmp(a->list, b->list, a->nlist * sizeof(a->list[0]));
	}
	return false;
}

/* The options that are not a policy's parameters, in the order they are compared. */
static const char *const core_keys[] = {
	"policy", "strict", "stats", "seed", "purge.delay_ms", "large.span_max", "policy.epoch",
	"policy.sites", "pageheap.max_dirty", "pageheap.huge_pages", "pageheap.break_even_ms",
};

/* The value of @key, one of core_keys, in @o. */
static uint64_t value_of(const struct hak_options *o, const char *key)
{
	/* In the order of core_keys. */
	const uint64_t v[] = {
		(uintptr_t)o->policy, o->strict, (uint64_t)o->stats, o->seed, o->purge_delay_ms,
		o->span_max, o->epoch_events, o->sites, o->max_dirty, o->huge_pages,
		o->break_even_ms,
	};

	_Static_assert(sizeof(v) / sizeof(v[0]) == sizeof(core_keys) / sizeof(core_keys[0]),
		       "value_of: one value per key");
	for (unsigned i = 0; i < sizeof(core_keys) / sizeof(core_keys[0]); i++)
		if (!strcmp(key, core_keys[i]))
			return v[i];
	ck_abort_msg("value_of: no option %s", key);
	return 0;
}

/* The first option whose value differs between @a and @b, or NULL. */
static const char *first_difference(const struct hak_options *a, const struct hak_options *b)
{
	static char key[96];

	for (unsigned i = 0; i < sizeof(core_keys) / sizeof(core_keys[0]); i++)
		if (value_of(a, core_keys[i]) != value_of(b, core_keys[i]))
			return core_keys[i];
	for (int i = 0; hak_policy_at(i); i++) {
		const struct hak_policy *p = hak_policy_at(i);

		for (int j = 0; p->params && p->params[j].name; j++) {
			if (same_value(p->params[j].type, &a->params[i][j], &b->params[i][j]))
				continue;
			snprintf(key, sizeof(key), "%s.%s", p->name, p->params[j].name);
			return key;
		}
	}
	return NULL;
}

struct set_args {
	const char *key, *value;
	const char *const *items;
	unsigned n;
};

static int call_set(const void *arg)
{
	const struct set_args *a = arg;

	return a->value ? hak_option_set(a->key, a->value, "test") :
			  hak_option_set_list(a->key, a->items, a->n, "test");
}

static int set(const char *key, const char *value)
{
	struct set_args a = { key, value, NULL, 0 };

	before = hak_opts;
	return captured(call_set, &a);
}

/* A YAML sequence of @n items, as the loader hands it over. */
static int set_list(const char *key, const char *const *items, unsigned n)
{
	struct set_args a = { key, NULL, items, n };

	before = hak_opts;
	return captured(call_set, &a);
}

/* ---- bad keys and values: reported and skipped, the rest applies ---- */

/* A value a key kept: whatever it held before the load. */
#define KEPT UINT64_MAX
/* Text with NUL bytes in it: its length is not strlen's. */
#define BYTES(s) .text = (s), .len = sizeof(s) - 1

/*
 * One profile loaded: its return code, each line printed (its line
 * number and the words it holds), then the keys that applied or kept
 * their value; @same: no option changed at all.
 */
static const struct {
	const char *text;
	size_t len;
	int err;
	unsigned nlines;
	struct {
		unsigned line;
		const char *says[2];
	} out[3];
	bool same;
	struct {
		const char *key;
		uint64_t value;
	} now[4];
} load_cases[] = {
	/* Empty files: nothing applies, nothing is said. */
	{ .text = "", .same = true },
	{ .text = "\n\n", .same = true },
	{ .text = "# only a comment\n", .same = true },
	{ .text = "---\n", .same = true },
	{ .text = "--- # an empty document\n...\n", .same = true },
	{ .text = "~\n", .same = true },
	/* Files that are not (good) YAML: keys before the error do not apply either. */
	{ .text = "pageheap:\n  break_even_ms: 7\n  max_dirty: 9MiB\n stray: x\npurge: {delay_ms: 2}\n",
	  .err = -EINVAL, .nlines = 1, .out = { { 4, { "syntax error" } } }, .same = true },
	{ .text = "purge: {delay_ms: 7}\nelo: {k: 3\n",
	  .err = -EINVAL, .nlines = 1, .out = { { 3, { "syntax error" } } }, .same = true },
	{ .text = "- purge.delay_ms\n- 7\n",
	  .err = -EINVAL, .nlines = 1, .out = { { 1, { "mapping" } } }, .same = true },
	{ .text = "just some words\n",
	  .err = -EINVAL, .nlines = 1, .out = { { 1, { "mapping" } } }, .same = true },
	{ .text = "[a, b]\n",
	  .err = -EINVAL, .nlines = 1, .out = { { 1, { "mapping" } } }, .same = true },
	{ BYTES("purge:\n  delay_ms: 7\n\0\0\0\1\2garbage\n"),
	  .err = -EILSEQ, .nlines = 1, .out = { { 3, { "NUL" } } }, .same = true },
	{ .text = "purge:\n  delay_ms: 7\npageheap: {max_dirty: caf\xe9}\n",
	  .err = -EILSEQ, .nlines = 1, .out = { { 3, { "UTF-8" } } }, .same = true },
	/* One line per key refused. */
	{ .text = "pageheap:\n  break_even_ms: &d 7\n  huge_pages: *d\npurge: &p {delay_ms: 2}\nseed: 5\n",
	  .err = -EINVAL, .nlines = 3,
	  .out = { { 2, { "pageheap.break_even_ms", "anchor" } },
		   { 3, { "pageheap.huge_pages", "alias" } }, { 4, { "purge", "anchor" } } },
	  .now = { { "pageheap.break_even_ms", KEPT }, { "pageheap.huge_pages", KEPT },
		   { "purge.delay_ms", KEPT }, { "seed", 5 } } },
	{ .text = "purge: {delay_ms: 7}\n---\npurge: {delay_ms: 8}\n---\n[[[ not even parsed\n",
	  .nlines = 1, .out = { { 2, { "one YAML document" } } },
	  .now = { { "purge.delay_ms", 7 } } },
	/* Bad keys and values: reported and skipped, the rest applies. */
	{ .text = "purge:\n  delay_ms: 7\n  frequency: 3\npageheap: {break_even_ms: 20}\n",
	  .err = -ENOENT, .nlines = 1, .out = { { 3, { "purge.frequency", "unknown option" } } },
	  .now = { { "purge.delay_ms", 7 }, { "pageheap.break_even_ms", 20 } } },
	{ .text = "purge: {delay_ms: 7}\ncolor: [red, green]\npageheap: {break_even_ms: 20}\n",
	  .err = -ENOENT, .nlines = 1, .out = { { 2, { "color" } } },
	  .now = { { "purge.delay_ms", 7 }, { "pageheap.break_even_ms", 20 } } },
	{ .text = "purge:\n  delay_ms: 60001\npageheap:\n  break_even_ms: 9\n",
	  .err = -ERANGE, .nlines = 1,
	  .out = { { 2, { "purge.delay_ms", "60001 is out of range [0, 60000]" } } },
	  .now = { { "purge.delay_ms", KEPT }, { "pageheap.break_even_ms", 9 } } },
	{ .text = "pageheap:\n  break_even_ms: lots\n  max_dirty: 3 apples\n  huge_pages: 8MiB\n",
	  .err = -EINVAL, .nlines = 2,
	  .out = { { 2, { "pageheap.break_even_ms", "'lots' is not an integer" } },
		   { 3, { "pageheap.max_dirty", "'3 apples' is not a size" } } },
	  .now = { { "pageheap.break_even_ms", KEPT }, { "pageheap.max_dirty", KEPT },
		   { "pageheap.huge_pages", 8 << 20 } } },
	{ .text = "purge: {delay_ms: 7}\npageheap: {max_dirty: 2MiB}\npurge.delay_ms: 8\n",
	  .err = -EINVAL, .nlines = 1, .out = { { 3, { "purge.delay_ms", "line 1" } } },
	  .now = { { "purge.delay_ms", 7 }, { "pageheap.max_dirty", 2 << 20 } } },
	{ .text = "purge.delay_ms: 7\npageheap: {max_dirty: 3MiB}\npolicy.epoch: 99\npolicy.sites: 4\n",
	  .now = { { "purge.delay_ms", 7 }, { "pageheap.max_dirty", 3 << 20 },
		   { "policy.epoch", 99 }, { "policy.sites", 4 } } },
	/* The page heap's options: each at the edges of its range, and past them. */
	{ .text = "pageheap:\n  max_dirty: 0\n  huge_pages: 0\n  break_even_ms: 1\n",
	  .now = { { "pageheap.max_dirty", 0 }, { "pageheap.huge_pages", 0 },
		   { "pageheap.break_even_ms", 1 } } },
	{ .text = "pageheap:\n  max_dirty: 1TiB\n  huge_pages: 1TiB\n  break_even_ms: 3600000\n",
	  .now = { { "pageheap.max_dirty", TiB }, { "pageheap.huge_pages", TiB },
		   { "pageheap.break_even_ms", 3600000 } } },
	{ .text = "pageheap:\n  max_dirty: 1025GiB\n  huge_pages: 1.5\n  break_even_ms: -1\n"
		  "purge: {delay_ms: 7}\n",
	  .err = -ERANGE, .nlines = 3,
	  .out = { { 2, { "pageheap.max_dirty", "out of range" } },
		   { 3, { "pageheap.huge_pages", "'1.5' is not a size" } },
		   { 4, { "pageheap.break_even_ms", "-1 is out of range [0, 3600000]" } } },
	  .now = { { "pageheap.max_dirty", KEPT }, { "pageheap.huge_pages", KEPT },
		   { "pageheap.break_even_ms", KEPT }, { "purge.delay_ms", 7 } } },
};

START_TEST(load_case)
{
	const typeof(load_cases[0]) *c = &load_cases[_i];
	const char *path = write_bytes("case.yaml", c->text, c->len ? c->len : strlen(c->text));

	ck_assert_int_eq(load(path), c->err);
	expect_lines(c->nlines);
	for (unsigned i = 0; i < c->nlines; i++)
		check_line(i, path, c->out[i].line, c->out[i].says[0], c->out[i].says[1], NULL);
	if (c->same)
		ck_assert_mem_eq(&hak_opts, &before, sizeof(before));
	for (unsigned i = 0; i < 4 && c->now[i].key; i++) {
		const char *key = c->now[i].key;
		uint64_t want = c->now[i].value == KEPT ? value_of(&before, key) : c->now[i].value;

		ck_assert_msg(value_of(&hak_opts, key) == want, "%s = %llu, want %llu", key,
			      (unsigned long long)value_of(&hak_opts, key),
			      (unsigned long long)want);
	}
}
END_TEST

/* Options that were removed are unknown keys like any other. */
START_TEST(removed_keys)
{
	static const struct {
		unsigned line;
		const char *key;
	} removed[] = {
		{ 2, "purge.batch" }, { 4, "bigcache.max_bytes" }, { 5, "bigcache.per_class" },
		{ 6, "bigcache.sites" }, { 7, "bigcache.classes" }, { 8, "fixed.threshold" },
		{ 9, "elo.epsilon" }, { 9, "elo.episode" }, { 9, "elo.abort" }, { 10, "evo.settle" },
	};
	const char *path = write_profile("removed.yaml",
					 "purge:\n"
					 "  batch: 64\n"
					 "bigcache:\n"
					 "  max_bytes: 256MiB\n"
					 "  per_class: 4\n"
					 "  sites: 64\n"
					 "  classes: [1MiB, 2MiB]\n"
					 "fixed: {threshold: 4MiB}\n"
					 "elo: {epsilon: 0.02, episode: 256, abort: 4}\n"
					 "evo: {settle: 3}\n"
					 "purge.delay_ms: 7\n");

	ck_assert_int_eq(load(path), -ENOENT);
	expect_lines(sizeof(removed) / sizeof(removed[0]));
	for (unsigned i = 0; i < sizeof(removed) / sizeof(removed[0]); i++)
		check_line(i, path, removed[i].line, removed[i].key, "unknown option", NULL);
	ck_assert_uint_eq(hak_opts.purge_delay_ms, 7);
}
END_TEST

/* One wrong shape per file, between two good keys. */
static const struct {
	const char *text;
	unsigned line;
	const char *key;
	const char *says;
} wrong_types[] = {
	{ "pageheap: {break_even_ms: {a: 1}}\n", 2, "pageheap.break_even_ms", "not a mapping" },
	{ "pageheap:\n  break_even_ms:\n    a: 1\n", 3, "pageheap.break_even_ms", "not a mapping" },
	{ "pageheap: {break_even_ms: [1, 2]}\n", 2, "pageheap.break_even_ms", "not a list" },
	{ "pageheap: {huge_pages: [4MiB]}\n", 2, "pageheap.huge_pages", "not a list" },
	{ "elo: {candidates: 100}\n", 2, "elo.candidates", "takes a list" },
	{ "elo: {candidates: [10, [20]]}\n", 2, "elo.candidates", "single value" },
	{ "elo: {candidates: [10, {a: 1}]}\n", 2, "elo.candidates", "single value" },
	{ "elo:\n  candidates:\n    - 10\n    - [20]\n", 5, "elo.candidates", "single value" },
	{ "elo: {candidates: {a: 1}}\n", 2, "elo.candidates", "not a mapping" },
	{ "elo: {candidates: }\n", 2, "elo.candidates", "takes a list" },
	{ "strict: {a: 1}\n", 2, "strict", "not a mapping" },
	{ "strict: {}\n", 2, "strict", "not a mapping" },
	{ "seed: [1]\n", 2, "seed", "not a list" },
	{ "pageheap: {break_even_ms: }\n", 2, "pageheap.break_even_ms", "no value" },
	{ "pageheap: {break_even_ms: \"1\\0\"}\n", 2, "pageheap.break_even_ms", "NUL" },
	{ "pageheap: {break_even_ms: {a: {b: {c: 1}}}}\n", 2, "pageheap.break_even_ms",
	  "not a mapping" },
	{ "purge: {extra: {a: 1}}\n", 2, "purge.extra", "nested too deep" },
	{ "[purge]: 1\n", 2, NULL, "key" },
	{ "? {a: 1}\n: 1\n", 2, NULL, "key" },
};

START_TEST(wrong_type)
{
	char text[256];
	const char *path;

	if (wrong_types[_i].key && !strncmp(wrong_types[_i].key, "elo.", 4) &&
	    !have_elo("wrong_type"))
		return;
	snprintf(text, sizeof(text), "purge: {delay_ms: 7}\n%spageheap.max_dirty: 3MiB\n",
		 wrong_types[_i].text);
	path = write_profile("wrong.yaml", text);
	ck_assert_int_eq(load(path), -EINVAL);
	expect_lines(1);
	check_line(0, path, wrong_types[_i].line, wrong_types[_i].says, wrong_types[_i].key, NULL);
	ck_assert_uint_eq(hak_opts.purge_delay_ms, 7);
	ck_assert_uint_eq(hak_opts.max_dirty, 3 << 20);
	ck_assert_uint_eq(hak_opts.break_even_ms, before.break_even_ms);
	ck_assert_uint_eq(hak_opts.huge_pages, before.huge_pages);
	ck_assert_uint_eq(hak_opts.strict, before.strict);
	ck_assert_uint_eq(hak_opts.seed, before.seed);
	candidates_unchanged();
}
END_TEST

/* Bad lists for elo.candidates: the key is skipped whole, the next key applies. */
static const struct {
	const char *list;
	int err;
	const char *says;
} bad_lists[] = {
	{ "[10, 1.5]", -EINVAL, "'1.5' is not an integer" },
	{ "[10, lots]", -EINVAL, "'lots' is not an integer" },
	{ "[1MiB, 2MiB]", -EINVAL, "'1MiB' is not an integer" },
	{ "[-1, 10]", -ERANGE, "-1 is out of range [0, 3600000]" },
	{ "[10, 3600001]", -ERANGE, "3600001 is out of range [0, 3600000]" },
	{ "[99999999999999999999]", -ERANGE, "out of range" },
	{ "[100, 50]", -EINVAL, "increasing" },
	{ "[10, 10]", -EINVAL, "increasing" },
	{ "[]", -ERANGE, "not 0" },
	{ "[0, 1, 2, 3, 4, 5, 6, 7, 8]", -ERANGE, "9 items, at most 8" },
};

START_TEST(bad_list)
{
	char text[256];
	const char *path;

	if (!have_elo("bad_list"))
		return;
	snprintf(text, sizeof(text), "elo:\n  candidates: %s\n  k: 16\n", bad_lists[_i].list);
	path = write_profile("list.yaml", text);
	ck_assert_int_eq(load(path), bad_lists[_i].err);
	expect_lines(1);
	check_line(0, path, 2, "elo.candidates", bad_lists[_i].says, NULL);
	candidates_unchanged();
	ck_assert(param("elo.k")->f == 16);
}
END_TEST

START_TEST(list_applies)
{
	const char *path = write_profile("list.yaml",
					 "elo:\n"
					 "  candidates:\n"
					 "    - 0\n"
					 "    - 20\n"
					 "    - \"300\"\n");

	if (!have_elo("list_applies"))
		return;
	ck_assert_int_eq(load(path), 0);
	expect_lines(0);
	expect_candidates(3, 0, 20, 300);

	path = write_profile("list.yaml", "elo.candidates: [0, 1, 2, 3, 4, 5, 6, 3600000]\n");
	ck_assert_int_eq(load(path), 0);
	expect_lines(0);
	expect_candidates(8, 0, 1, 2, 3, 4, 5, 6, 3600000);
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

START_TEST(alias_list_item)
{
	const char *path = write_profile("alias.yaml",
					 "a: &one 10\n"
					 "elo: {candidates: [*one, 20], k: 2}\n");

	if (!have_elo("alias_list_item"))
		return;
	ck_assert_int_eq(load(path), -ENOENT);
	expect_lines(2);
	check_line(0, path, 1, "a", NULL);
	check_line(1, path, 2, "elo.candidates", "alias", NULL);
	candidates_unchanged();
	ck_assert(param("elo.k")->f == 2);
}
END_TEST

START_TEST(list_set_twice)
{
	const char *path = write_profile("twice.yaml",
					 "elo: {candidates: [0, 20]}\n"
					 "elo.candidates: [0, 30]\n");

	if (!have_elo("list_set_twice"))
		return;
	ck_assert_int_eq(load(path), -EINVAL);
	expect_lines(1);
	check_line(0, path, 2, "elo.candidates", "line 1", NULL);
	expect_candidates(2, 0, 20);
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
					 "fixed: {map_min: 256MiB, cache_max: 8MiB}\n"
					 "strict: no\n"
					 "seed: 12345\n"
					 "purge:\n"
					 "  delay_ms: 0   # at once\n"
					 "large: {span_max: 512KiB}\n"
					 "policy.epoch: 128\n"
					 "policy.sites: 4\n"
					 "pageheap:\n"
					 "  max_dirty: 512MiB\n"
					 "  huge_pages: 0\n"
					 "  break_even_ms: 250\n");

	if (!hak_policy_find("fixed")) {
		printf("good_profile_is_silent: skipped: policy fixed not compiled in\n");
		return;
	}
	ck_assert_int_eq(load(path), 0);
	expect_lines(0);
	ck_assert_ptr_eq(hak_opts.policy, hak_policy_find("fixed"));
	ck_assert_uint_eq(hak_opts.seed, 12345);
	ck_assert_uint_eq(hak_opts.purge_delay_ms, 0);
	ck_assert_uint_eq(hak_opts.span_max, 512 << 10);
	ck_assert_uint_eq(hak_opts.epoch_events, 128);
	ck_assert_uint_eq(hak_opts.sites, 4);
	ck_assert_uint_eq(hak_opts.max_dirty, 512 << 20);
	ck_assert_uint_eq(hak_opts.huge_pages, 0);
	ck_assert_uint_eq(hak_opts.break_even_ms, 250);
	ck_assert_uint_eq(param("fixed.map_min")->size, 256 << 20);
	ck_assert_uint_eq(param("fixed.cache_max")->size, 8 << 20);
}
END_TEST

/* Every parameter of the learning policies, each set once. */
START_TEST(learning_profiles_are_silent)
{
	const char *path;

	if (hak_policy_find("elo")) {
		path = write_profile("elo.yaml",
				     "policy: elo\n"
				     "elo:\n"
				     "  candidates: [0, 50, 500]\n"
				     "  k: 16\n"
				     "  window_ms: 2000\n"
				     "  map_min: 512MiB\n"
				     "  cache_max: 8MiB\n");
		ck_assert_int_eq(load(path), 0);
		expect_lines(0);
		ck_assert_ptr_eq(hak_opts.policy, hak_policy_find("elo"));
		expect_candidates(3, 0, 50, 500);
		ck_assert(param("elo.k")->f == 16);
		ck_assert_int_eq(param("elo.window_ms")->i, 2000);
		ck_assert_uint_eq(param("elo.map_min")->size, 512 << 20);
		ck_assert_uint_eq(param("elo.cache_max")->size, 8 << 20);
	} else {
		printf("learning_profiles_are_silent: elo: skipped: not compiled in\n");
	}
	if (hak_policy_find("evo")) {
		path = write_profile("evo.yaml",
				     "policy: evo\n"
				     "evo:\n"
				     "  mutation: 0.5\n"
				     "  min_samples: 32\n"
				     "  window_ms: 500\n"
				     "  map_min: 2GiB\n"
				     "  cache_limit: 16MiB\n");
		ck_assert_int_eq(load(path), 0);
		expect_lines(0);
		ck_assert_ptr_eq(hak_opts.policy, hak_policy_find("evo"));
		ck_assert(param("evo.mutation")->f == 0.5);
		ck_assert_int_eq(param("evo.min_samples")->i, 32);
		ck_assert_int_eq(param("evo.window_ms")->i, 500);
		ck_assert_uint_eq(param("evo.map_min")->size, (size_t)2 << 30);
		ck_assert_uint_eq(param("evo.cache_limit")->size, 16 << 20);
	} else {
		printf("learning_profiles_are_silent: evo: skipped: not compiled in\n");
	}
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

/* Set every option to the default its table row gives, silently. */
static void apply_defaults(void)
{
	char key[96], def[128];

	for (unsigned i = 0; i < hak_option_count(); i++) {
		option_default(i, key, sizeof(key), def, sizeof(def));
		if (!*def)
			continue;	/* policy: none is the default */
		ck_assert_msg(set(key, def) == 0, "%s: default '%s' refused:\n%s", key, def, output);
		expect_lines(0);
	}
}

/*
 * default.yaml writes out the stock settings: over options all set to
 * something else, it brings back every one it names (all but strict and
 * policy.sites, whose default depends on the build), each to its default.
 */
START_TEST(profile_default)
{
	struct hak_options stock;
	const char *diff;

	if (CONFIG_HAKMEM_PURGE_DELAY_MS != 100 || CONFIG_HAKMEM_POLICY_EPOCH != 64 ||
	    strcmp(CONFIG_HAKMEM_POLICY_DEFAULT, "evo")) {
		printf("profile_default: skipped: "
		       "this build's Kconfig defaults are not the stock ones\n");
		return;
	}
	apply_defaults();
	stock = hak_opts;
	hak_opts.policy = NULL;
	hak_opts.stats = HAK_STATS_SUMMARY;
	hak_opts.seed = 9;
	hak_opts.purge_delay_ms = 1;
	hak_opts.span_max = 4096;
	hak_opts.epoch_events = 1;
	hak_opts.max_dirty = 1;
	hak_opts.huge_pages = 1;
	hak_opts.break_even_ms = 1;
	param("evo.mutation")->f = 2;
	param("evo.min_samples")->i = 1;
	param("evo.window_ms")->i = 1;
	param("evo.map_min")->size = 1;
	param("evo.cache_limit")->size = 1;
	load_shipped("default");
	diff = first_difference(&hak_opts, &stock);
	ck_assert_msg(!diff, "default.yaml: %s is not the stock setting", diff);
}
END_TEST

/* Learns to give memory back, and keeps little while it learns. */
START_TEST(profile_low_memory)
{
	const struct hak_param_value *cand;

	if (!hak_policy_find("elo")) {
		printf("profile_low_memory: skipped: policy elo not compiled in\n");
		return;
	}
	load_shipped("low-memory");
	ck_assert_str_eq(hak_opts.policy->name, "elo");
	ck_assert_uint_le(hak_opts.break_even_ms, 50);
	ck_assert_uint_le(hak_opts.max_dirty, 256 << 20);
	ck_assert_uint_eq(hak_opts.huge_pages, 0);
	ck_assert_uint_le(param("elo.cache_max")->size, 2 << 20);
	/* Returning memory at once is one of its choices. */
	cand = param("elo.candidates");
	ck_assert_uint_eq(cand->list[0], 0);
}
END_TEST

START_TEST(profile_server)
{
	if (!hak_policy_find("fixed")) {
		printf("profile_server: skipped: policy fixed not compiled in\n");
		return;
	}
	load_shipped("server");
	ck_assert_str_eq(hak_opts.policy->name, "fixed");
	/* Keeps freed memory longer than the stock 100 ms, and more of it in the fronts. */
	ck_assert_uint_ge(hak_opts.purge_delay_ms, 200);
	ck_assert_uint_gt(param("fixed.cache_max")->size, 4 << 20);
	ck_assert_uint_ge(hak_opts.max_dirty, 1 << 30);
}
END_TEST

START_TEST(profile_vm)
{
	if (!hak_policy_find("elo")) {
		printf("profile_vm: skipped: policy elo not compiled in\n");
		return;
	}
	load_shipped("vm");
	ck_assert_str_eq(hak_opts.policy->name, "elo");
	ck_assert_uint_ge(param("elo.candidates")->nlist, 2);
	/* Blocks of a few MiB wait in the thread's front. */
	ck_assert_uint_ge(param("elo.cache_max")->size, 8 << 20);
}
END_TEST

/* ---- strict mode: a bad profile stops the program with status 1 ---- */

/*
 * Profiles that must end the program with status 1 in strict mode: the
 * text (NULL: the file does not exist), and whether strict mode is on
 * before the load rather than turned on by the profile itself.
 */
static const struct {
	const char *text;
	bool strict;
} strict_exits[] = {
	{ "purge: {delay_ms: 7}\nfoo: 1\n", true },
	{ "purge: {delay_ms: 7\n", true },
	{ NULL, true },
	/* A removed option is a mistake like any other. */
	{ "purge: {delay_ms: 7, batch: 64}\n", true },
	/* The profile turns strict mode on: from the next bad key on, it stops. */
	{ "strict: true\nfoo: 1\n", false },
};

START_TEST(strict_exit)
{
	char path[PATH_MAX];

	if (strict_exits[_i].text)
		snprintf(path, sizeof(path), "%s", write_profile("strict.yaml", strict_exits[_i].text));
	else
		snprintf(path, sizeof(path), "%s/no-such.yaml", tmpdir);
	hak_opts.strict = strict_exits[_i].strict;
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

/* ---- the environment and HAKMEM_PROFILE at start-up, inside hak_init() ---- */

/* Remove every HAKMEM_* variable: the child starts from the build's defaults. */
static void clear_hakmem_env(void)
{
	extern char **environ;

	for (;;) {
		char **e = environ;
		char *name;

		while (*e && strncmp(*e, "HAKMEM_", 7))
			e++;
		if (!*e)
			return;
		name = strndup(*e, strcspn(*e, "="));
		if (!name || unsetenv(name))
			_exit(126);
		free(name);
	}
}

/*
 * Run this program again with @profile in HAKMEM_PROFILE (NULL: none) and
 * the "NAME=value" entries of @env (NULL-ended, or NULL) as its only
 * HAKMEM_* variables: its hak_init() reads them before main(), which then
 * prints the options (see main).  Returns the wait status; stdout and
 * stderr land in @out and output[].
 */
static int run_at_start(const char *profile, const char *const *env, char *out, size_t len)
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
		clear_hakmem_env();
		if (profile)
			setenv("HAKMEM_PROFILE", profile, 1);
		for (unsigned i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
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

static void show_value(enum hak_param_type t, const struct hak_param_value *v)
{
	switch (t) {
	case HAK_PARAM_BOOL: printf("%d", v->b); break;
	case HAK_PARAM_INT: printf("%lld", v->i); break;
	case HAK_PARAM_SIZE: printf("%zu", v->size); break;
	case HAK_PARAM_FLOAT: printf("%g", v->f); break;
	case HAK_PARAM_SIZE_LIST:
	case HAK_PARAM_INT_LIST:
		for (unsigned k = 0; k < v->nlist; k++)
			printf("%s%zu", k ? "," : "", v->list[k]);
		break;
	}
}

/* One line: " key=value" for every option, ending in " \n". */
static int show_options(void)
{
	printf(" policy=%s purge.delay_ms=%u large.span_max=%zu policy.epoch=%u policy.sites=%u"
	       " pageheap.max_dirty=%zu pageheap.huge_pages=%zu pageheap.break_even_ms=%u",
	       hak_opts.policy ? hak_opts.policy->name : "none", hak_opts.purge_delay_ms,
	       hak_opts.span_max, hak_opts.epoch_events, hak_opts.sites, hak_opts.max_dirty,
	       hak_opts.huge_pages, hak_opts.break_even_ms);
	for (int i = 0; hak_policy_at(i); i++) {
		const struct hak_policy *p = hak_policy_at(i);

		for (int j = 0; p->params && p->params[j].name; j++) {
			printf(" %s.%s=", p->name, p->params[j].name);
			show_value(p->params[j].type, &hak_opts.params[i][j]);
		}
	}
	printf(" \n");
	return 0;
}

/* show_options() printed "key=value" (@kv). */
static void expect_shown(const char *out, const char *kv)
{
	char word[256];

	snprintf(word, sizeof(word), " %s ", kv);
	ck_assert_msg(strstr(out, word), "'%s' is not in:%s", kv, out);
}

#define expect_exit_0(status) \
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, \
		      "status %#x, stderr:\n%s", status, output)

#define STR2(x) #x
#define STR(x) STR2(x)

/*
 * No profile, no variable: the build's defaults, without a word.  These
 * are the defaults docs/options.md gives.
 */
START_TEST(stock_defaults_at_start)
{
	char out[4096];
	int status = run_at_start(NULL, NULL, out, sizeof(out));

	expect_exit_0(status);
	expect_lines(0);
	expect_shown(out, *CONFIG_HAKMEM_POLICY_DEFAULT ? "policy=" CONFIG_HAKMEM_POLICY_DEFAULT :
							  "policy=none");
	expect_shown(out, "purge.delay_ms=" STR(CONFIG_HAKMEM_PURGE_DELAY_MS));
	expect_shown(out, "large.span_max=1048576");
	expect_shown(out, "policy.epoch=" STR(CONFIG_HAKMEM_POLICY_EPOCH));
	expect_shown(out, "policy.sites=" STR(CONFIG_HAKMEM_SITES));
	expect_shown(out, "pageheap.max_dirty=1073741824");
	expect_shown(out, "pageheap.huge_pages=4194304");
	expect_shown(out, "pageheap.break_even_ms=" STR(CONFIG_HAKMEM_PURGE_DELAY_MS));
	if (hak_policy_find("fixed")) {
		expect_shown(out, "fixed.map_min=1073741824");
		expect_shown(out, "fixed.cache_max=4194304");
	}
	if (hak_policy_find("elo")) {
		expect_shown(out, "elo.candidates=0,10,25,50,100,250,500,1000");
		expect_shown(out, "elo.k=32");
		expect_shown(out, "elo.window_ms=1000");
		expect_shown(out, "elo.map_min=1073741824");
		expect_shown(out, "elo.cache_max=4194304");
	}
	if (hak_policy_find("evo")) {
		expect_shown(out, "evo.mutation=1");
		expect_shown(out, "evo.min_samples=16");
		expect_shown(out, "evo.window_ms=1000");
		expect_shown(out, "evo.map_min=1073741824");
		expect_shown(out, "evo.cache_limit=67108864");
	}
}
END_TEST

/*
 * A start with a profile (its text; NULL: none) and variables: the lines
 * hak_init() printed (who each names, NULL for the profile's path, at
 * which line, and the words in it), then options main() showed.  The
 * program runs on after every complaint.
 */
static const struct {
	const char *profile;
	const char *env[6];
	unsigned nlines;
	struct {
		const char *head;
		unsigned line;
		const char *says[2];
	} out[2];
	const char *shown[6];
} start_cases[] = {
	{ .env = { "HAKMEM_PURGE_DELAY_MS=7", "HAKMEM_POLICY_SITES=4",
		   "HAKMEM_PAGEHEAP_MAX_DIRTY=64MiB", "HAKMEM_PAGEHEAP_HUGE_PAGES=0",
		   "HAKMEM_PAGEHEAP_BREAK_EVEN_MS=20" },
	  .shown = { "purge.delay_ms=7", "policy.sites=4", "pageheap.max_dirty=67108864",
		     "pageheap.huge_pages=0", "pageheap.break_even_ms=20" } },
	/* A bad variable: one line naming it and the key; the default stays. */
	{ .env = { "HAKMEM_PURGE_DELAY_MS=7", "HAKMEM_PAGEHEAP_MAX_DIRTY=lots",
		   "HAKMEM_PAGEHEAP_BREAK_EVEN_MS=-1" },
	  .nlines = 2,
	  .out = { { "HAKMEM_PAGEHEAP_MAX_DIRTY", 0, { "pageheap.max_dirty", "'lots'" } },
		   { "HAKMEM_PAGEHEAP_BREAK_EVEN_MS", 0, { "pageheap.break_even_ms", "range" } } },
	  .shown = { "purge.delay_ms=7", "pageheap.max_dirty=1073741824",
		     "pageheap.break_even_ms=" STR(CONFIG_HAKMEM_PURGE_DELAY_MS) } },
	/* A misspelt variable is named, not silently ignored. */
	{ .env = { "HAKMEM_PURGE_DELAY=3" },
	  .nlines = 1, .out = { { "environment", 0, { "HAKMEM_PURGE_DELAY: unknown variable" } } },
	  .shown = { "purge.delay_ms=" STR(CONFIG_HAKMEM_PURGE_DELAY_MS) } },
	/* From here on, a profile: only with CONFIG_HAKMEM_YAML (see profile_suite). */
	{ .profile = "purge: {delay_ms: 7}\npageheap: {break_even_ms: 2}\n",
	  .shown = { "purge.delay_ms=7", "pageheap.break_even_ms=2" } },
	{ .profile = "purge: {delay_ms: 7}\ncolour: blue\n",
	  .nlines = 1, .out = { { NULL, 2, { "colour" } } },
	  .shown = { "purge.delay_ms=7" } },
};

/* The rows of start_cases before the first with a profile. */
#define START_ENV_CASES 3

START_TEST(start_case)
{
	const typeof(start_cases[0]) *c = &start_cases[_i];
	const char *path = c->profile ? write_profile("start.yaml", c->profile) : NULL;
	char out[4096];
	int status = run_at_start(path, c->env, out, sizeof(out));

	expect_exit_0(status);
	expect_lines(c->nlines);
	for (unsigned i = 0; i < c->nlines; i++)
		check_line(i, c->out[i].head ? c->out[i].head : path, c->out[i].line,
			   c->out[i].says[0], c->out[i].says[1], NULL);
	for (unsigned i = 0; i < 6 && c->shown[i]; i++)
		expect_shown(out, c->shown[i]);
}
END_TEST

/* A list from the environment is comma-separated. */
START_TEST(environment_list_at_start)
{
	static const char *const good[] = { "HAKMEM_ELO_CANDIDATES=0, 20,40", NULL };
	static const char *const bad[] = { "HAKMEM_ELO_CANDIDATES=40,20", NULL };
	char out[4096];
	int status;

	if (!have_elo("environment_list_at_start"))
		return;
	status = run_at_start(NULL, good, out, sizeof(out));
	expect_exit_0(status);
	expect_lines(0);
	expect_shown(out, "elo.candidates=0,20,40");

	status = run_at_start(NULL, bad, out, sizeof(out));
	expect_exit_0(status);
	expect_lines(1);
	check_line(0, "HAKMEM_ELO_CANDIDATES", 0, "elo.candidates", "increasing", NULL);
	expect_shown(out, "elo.candidates=0,10,25,50,100,250,500,1000");
}
END_TEST

/* The variables of removed options are unknown, each named once. */
START_TEST(removed_variables_at_start)
{
	static const char *const env[] = {
		"HAKMEM_PURGE_BATCH=64", "HAKMEM_BIGCACHE_MAX_BYTES=256MiB",
		"HAKMEM_BIGCACHE_PER_CLASS=4", "HAKMEM_BIGCACHE_SITES=8",
		"HAKMEM_BIGCACHE_CLASSES=1MiB,2MiB", "HAKMEM_FIXED_THRESHOLD=4MiB",
		"HAKMEM_ELO_EPSILON=0.02", "HAKMEM_ELO_EPISODE=256", "HAKMEM_ELO_ABORT=4",
		"HAKMEM_EVO_SETTLE=3", "HAKMEM_POLICY_SITES=4", NULL,
	};
	char out[4096], word[64];
	int status = run_at_start(NULL, env, out, sizeof(out));

	expect_exit_0(status);
	expect_lines(10);
	for (unsigned i = 0; i < 10; i++) {
		snprintf(word, sizeof(word), "%.*s: unknown variable", (int)strcspn(env[i], "="),
			 env[i]);
		ck_assert_msg(strstr(output, word), "no '%s' in:\n%s", word, output);
	}
	/* bigcache.sites is now policy.sites. */
	expect_shown(out, "policy.sites=4");
}
END_TEST

/* The environment beats the profile, for lists too. */
START_TEST(environment_over_profile_at_start)
{
	static const char *const env[] = {
		"HAKMEM_PAGEHEAP_BREAK_EVEN_MS=5", "HAKMEM_ELO_CANDIDATES=30,40,50", NULL,
	};
	const char *path = write_profile("start.yaml",
					 IS_ENABLED(CONFIG_HAKMEM_POLICY_ELO) ?
					 "purge: {delay_ms: 7}\n"
					 "pageheap: {break_even_ms: 2}\n"
					 "elo: {candidates: [10, 20]}\n" :
					 "purge: {delay_ms: 7}\n"
					 "pageheap: {break_even_ms: 2}\n");
	char out[4096];
	int status = run_at_start(path, env, out, sizeof(out));

	expect_exit_0(status);
	expect_shown(out, "purge.delay_ms=7");
	expect_shown(out, "pageheap.break_even_ms=5");
	if (!have_elo("environment_over_profile_at_start: lists")) {
		/* HAKMEM_ELO_CANDIDATES names no option here. */
		expect_lines(1);
		ck_assert_msg(strstr(output, "HAKMEM_ELO_CANDIDATES: unknown variable"), "%s", output);
		return;
	}
	expect_lines(0);
	expect_shown(out, "elo.candidates=30,40,50");
}
END_TEST

/* HAKMEM_STRICT=1 and a bad profile: status 1 before main() runs. */
START_TEST(strict_bad_profile_at_start)
{
	static const char *const env[] = { "HAKMEM_STRICT=1", NULL };
	const char *path = write_profile("start.yaml", "purge: {delay_ms: [7]}\n");
	char out[4096];
	int status = run_at_start(path, env, out, sizeof(out));

	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1,
		      "status %#x, stderr:\n%s", status, output);
	expect_lines(1);
	check_line(0, path, 1, "purge.delay_ms", "strict", NULL);
	ck_assert_str_eq(out, "");
}
END_TEST

/* ---- the option table's text forms ---- */

START_TEST(option_sizes)
{
	static const struct {
		const char *text;
		size_t bytes;
	} good[] = {
		{ "100", 100 }, { "64KiB", 64 << 10 }, { "64k", 64 << 10 }, { "2M", 2 << 20 },
		{ "2MB", 2 << 20 }, { "1GiB", 1 << 30 }, { "1 GiB", 1 << 30 }, { "0", 0 },
		{ "1.5MiB", 3 << 19 }, { "1TiB", (size_t)1 << 40 },
	};
	static const char *const bad[] = { "", "lots", "12XB", "-1", "1.5", "MiB", "2MiB4" };

	for (unsigned i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(set("pageheap.max_dirty", good[i].text) == 0, "'%s': %s",
			      good[i].text, output);
		expect_lines(0);
		ck_assert_uint_eq(hak_opts.max_dirty, good[i].bytes);
	}
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(set("pageheap.max_dirty", bad[i]) < 0, "'%s' accepted", bad[i]);
		expect_lines(1);
		check_line(0, "test", 0, "pageheap.max_dirty", NULL);
		ck_assert_uint_eq(hak_opts.max_dirty, before.max_dirty);
	}
	ck_assert_int_eq(set("pageheap.max_dirty", "2TiB"), -ERANGE);
	expect_lines(1);
	ck_assert_uint_eq(hak_opts.max_dirty, before.max_dirty);
}
END_TEST

/* Each integer and size option at the ends of its range, and one past them. */
START_TEST(option_ranges)
{
	static const struct {
		const char *key, *low, *high, *below, *above;
	} ranges[] = {
		{ "purge.delay_ms", "0", "60000", "-1", "60001" },
		{ "policy.epoch", "1", "1000000", "0", "1000001" },
		{ "policy.sites", "1", STR(CONFIG_HAKMEM_SITES), "0", NULL },
		{ "large.span_max", "0", "1MiB", NULL, "1048577" },
		{ "pageheap.max_dirty", "0", "1TiB", NULL, "1099511627777" },
		{ "pageheap.huge_pages", "0", "1TiB", NULL, "1025GiB" },
		{ "pageheap.break_even_ms", "0", "3600000", "-1", "3600001" },
	};
	char above[32];

	for (unsigned i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		const char *key = ranges[i].key;

		ck_assert_msg(set(key, ranges[i].low) == 0, "%s: %s", key, output);
		expect_lines(0);
		ck_assert_msg(set(key, ranges[i].high) == 0, "%s: %s", key, output);
		expect_lines(0);
		if (ranges[i].below) {
			ck_assert_int_eq(set(key, ranges[i].below), -ERANGE);
			expect_lines(1);
			check_line(0, "test", 0, key, "out of range", NULL);
			ck_assert_msg(!first_difference(&hak_opts, &before), "%s changed", key);
		}
		snprintf(above, sizeof(above), "%u", CONFIG_HAKMEM_SITES + 1);
		ck_assert_int_eq(set(key, ranges[i].above ? ranges[i].above : above), -ERANGE);
		expect_lines(1);
		check_line(0, "test", 0, key, "out of range", NULL);
		ck_assert_msg(!first_difference(&hak_opts, &before), "%s changed", key);
	}
	/* The values in force are the highest ones now. */
	ck_assert_uint_eq(hak_opts.break_even_ms, 3600000);
	ck_assert_uint_eq(hak_opts.huge_pages, (size_t)1 << 40);
	ck_assert_uint_eq(hak_opts.sites, CONFIG_HAKMEM_SITES);
}
END_TEST

START_TEST(option_integers)
{
	static const char *const bad[] = { "", "soon", "1.5", "10ms", "0x10", "10,20" };

	ck_assert_int_eq(set("pageheap.break_even_ms", " 20 "), 0);
	expect_lines(0);
	ck_assert_uint_eq(hak_opts.break_even_ms, 20);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(set("pageheap.break_even_ms", bad[i]) == -EINVAL, "'%s' accepted",
			      bad[i]);
		expect_lines(1);
		check_line(0, "test", 0, "pageheap.break_even_ms", "is not an integer", NULL);
		ck_assert_uint_eq(hak_opts.break_even_ms, 20);
	}
	ck_assert_int_eq(set("pageheap.break_even_ms", "99999999999999999999"), -ERANGE);
	expect_lines(1);
	ck_assert_uint_eq(hak_opts.break_even_ms, 20);
}
END_TEST

/* elo.candidates from text (the environment's form): integers, increasing, 1 to 8. */
START_TEST(option_int_list)
{
	static const struct {
		const char *text;
		int err;
		const char *says;
	} bad[] = {
		{ "1.5", -EINVAL, "'1.5' is not an integer" },
		{ "10,1.5", -EINVAL, "'1.5' is not an integer" },
		{ "10,lots", -EINVAL, "'lots' is not an integer" },
		{ "1MiB", -EINVAL, "'1MiB' is not an integer" },
		{ "-1,10", -ERANGE, "-1 is out of range [0, 3600000]" },
		{ "10,3600001", -ERANGE, "3600001 is out of range" },
		{ "20,10", -EINVAL, "increasing" },
		{ "10,10", -EINVAL, "increasing" },
		{ "", -ERANGE, "a list of 1 to 8 integers is wanted, not 0" },
		{ "0,1,2,3,4,5,6,7,8", -ERANGE, "a list of 1 to 8 integers is wanted, not 9" },
	};

	if (!have_elo("option_int_list"))
		return;
	ck_assert_int_eq(set("elo.candidates", "0,10,25"), 0);
	expect_lines(0);
	expect_candidates(3, 0, 10, 25);
	ck_assert_int_eq(set("elo.candidates", " 5 , 20 "), 0);
	expect_candidates(2, 5, 20);
	/* One integer is a list of one. */
	ck_assert_int_eq(set("elo.candidates", "100"), 0);
	expect_candidates(1, 100);
	ck_assert_int_eq(set("elo.candidates", "0,1,2,3,4,5,6,3600000"), 0);
	expect_lines(0);
	expect_candidates(8, 0, 1, 2, 3, 4, 5, 6, 3600000);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(set("elo.candidates", bad[i].text) == bad[i].err, "'%s': %s",
			      bad[i].text, output);
		expect_lines(1);
		check_line(0, "test", 0, "elo.candidates", bad[i].says, NULL);
		expect_candidates(8, 0, 1, 2, 3, 4, 5, 6, 3600000);
	}
}
END_TEST

/* The same from separate items (a YAML sequence). */
START_TEST(option_int_list_items)
{
	static const char *const good[] = { "0", "50", "500" };
	static const char *const fraction[] = { "0", "1.5" };
	static const char *const negative[] = { "-5" };
	static const char *const down[] = { "50", "0" };
	static const char *const nine[] = { "1", "2", "3", "4", "5", "6", "7", "8", "9" };

	if (!have_elo("option_int_list_items"))
		return;
	ck_assert_int_eq(set_list("elo.candidates", good, 3), 0);
	expect_lines(0);
	expect_candidates(3, 0, 50, 500);
	ck_assert_int_eq(set_list("elo.candidates", fraction, 2), -EINVAL);
	check_line(0, "test", 0, "elo.candidates", "'1.5' is not an integer", NULL);
	ck_assert_int_eq(set_list("elo.candidates", negative, 1), -ERANGE);
	check_line(0, "test", 0, "elo.candidates", "out of range", NULL);
	ck_assert_int_eq(set_list("elo.candidates", down, 2), -EINVAL);
	check_line(0, "test", 0, "elo.candidates", "increasing", NULL);
	ck_assert_int_eq(set_list("elo.candidates", nine, 9), -ERANGE);
	check_line(0, "test", 0, "elo.candidates", "not 9", NULL);
	ck_assert_int_eq(set_list("elo.candidates", nine, 0), -ERANGE);
	check_line(0, "test", 0, "elo.candidates", "not 0", NULL);
	expect_candidates(3, 0, 50, 500);
}
END_TEST

/*
 * The message for a list that does not increase names what the list
 * holds: elo.candidates holds delays in ms, not sizes.
 */
START_TEST(option_int_list_order_message)
{
	if (!have_elo("option_int_list_order_message"))
		return;
	ck_assert_int_eq(set("elo.candidates", "20,10"), -EINVAL);
	expect_lines(1);
	check_line(0, "test", 0, "elo.candidates", "increasing", NULL);
	ck_assert_msg(!strstr(output, "sizes"), "a list of integers is called sizes: %s", output);
}
END_TEST

/* A list given to a single value, and what the table says a list is. */
START_TEST(option_list_shapes)
{
	static const char *const items[] = { "1MiB" };

	ck_assert_int_eq(set_list("pageheap.max_dirty", items, 1), -EINVAL);
	expect_lines(1);
	check_line(0, "test", 0, "pageheap.max_dirty", "a list was given", "a size", NULL);
	ck_assert_uint_eq(hak_opts.max_dirty, before.max_dirty);
	ck_assert_int_eq(set_list("purge.delay_ms", items, 1), -EINVAL);
	check_line(0, "test", 0, "purge.delay_ms", "a list was given", "an integer", NULL);
	ck_assert_int_eq(set_list("no.such", items, 1), -ENOENT);
	check_line(0, "test", 0, "no.such", "unknown option", NULL);
	ck_assert(!hak_option_is_list("pageheap.max_dirty"));
	ck_assert(!hak_option_is_list("policy"));
	ck_assert(!hak_option_is_list("no.such"));
	ck_assert(hak_option_is_list("elo.candidates") == IS_ENABLED(CONFIG_HAKMEM_POLICY_ELO));
}
END_TEST

/* Removed options are unknown; their replacements exist. */
START_TEST(option_keys)
{
	static const char *const removed[] = {
		"purge.batch", "bigcache.max_bytes", "bigcache.per_class", "bigcache.sites",
		"bigcache.classes", "fixed.threshold", "elo.epsilon", "elo.episode", "elo.abort",
		"evo.settle",
	};
	static const char *const present[] = {
		"policy", "strict", "stats", "seed", "purge.delay_ms", "large.span_max",
		"policy.epoch", "policy.sites", "pageheap.max_dirty", "pageheap.huge_pages",
		"pageheap.break_even_ms", "trace", "trace.sample",
	};
	static const char *const policy_keys[] = {
		"fixed.map_min", "fixed.cache_max", "elo.candidates", "elo.k", "elo.window_ms",
		"elo.map_min", "elo.cache_max", "evo.mutation", "evo.min_samples",
		"evo.window_ms", "evo.map_min", "evo.cache_limit",
	};
	unsigned n = 0;

	for (unsigned i = 0; i < sizeof(removed) / sizeof(removed[0]); i++) {
		ck_assert_msg(!hak_option_exists(removed[i]), "%s exists", removed[i]);
		ck_assert_int_eq(set(removed[i], "1"), -ENOENT);
		expect_lines(1);
		check_line(0, "test", 0, removed[i], "unknown option", NULL);
		ck_assert_msg(!first_difference(&hak_opts, &before), "%s changed something",
			      removed[i]);
	}
	for (unsigned i = 0; i < sizeof(present) / sizeof(present[0]); i++, n++)
		ck_assert_msg(hak_option_exists(present[i]), "%s is missing", present[i]);
	for (unsigned i = 0; i < sizeof(policy_keys) / sizeof(policy_keys[0]); i++) {
		char name[16];
		bool built;

		snprintf(name, sizeof(name), "%.*s", (int)strcspn(policy_keys[i], "."),
			 policy_keys[i]);
		built = hak_policy_find(name) != NULL;
		ck_assert_msg(hak_option_exists(policy_keys[i]) == built, "%s: %s", policy_keys[i],
			      built ? "missing" : "exists without its policy");
		n += built;
	}
	/* Nothing else. */
	ck_assert_uint_eq(hak_option_count(), n);
}
END_TEST

/* Every default in the table is a value the table accepts. */
START_TEST(option_defaults_are_valid)
{
	apply_defaults();
}
END_TEST

/* docs/options.md names every option and its variable. */
START_TEST(options_documented)
{
	static char doc[1 << 17];
	char path[PATH_MAX], line[1024], word[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/docs/options.md", srcdir());
	fd = open(path, O_RDONLY);
	ck_assert_msg(fd >= 0, "%s: %s (set HAKMEM_SRCDIR to the source tree)", path,
		      strerror(errno));
	n = read(fd, doc, sizeof(doc) - 1);
	close(fd);
	ck_assert_int_gt(n, 0);
	doc[n] = 0;
	for (unsigned i = 0; i < hak_option_count(); i++) {
		size_t k;

		ck_assert_int_gt(hak_option_describe(i, line, sizeof(line)), 0);
		k = strcspn(line, "\t");
		snprintf(word, sizeof(word), "| `%.*s` |", (int)k, line);
		ck_assert_msg(strstr(doc, word), "%s: no row for %s", path, word);
		snprintf(word, sizeof(word), "`%.*s`", (int)strcspn(line + k + 1, "\t"),
			 line + k + 1);
		ck_assert_msg(strstr(doc, word), "%s: %s is not named", path, word);
	}
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

/* A text option keeps its text, spaces before it aside; a build without tracing refuses it. */
START_TEST(option_trace_text)
{
	static char long_text[HAK_OPT_STRING_MAX + 1];
	const char *kept = hak_opts.trace;

	if (IS_ENABLED(CONFIG_HAKMEM_TRACE)) {
		ck_assert_int_eq(set("trace", "  /some dir/t.%p "), 0);
		expect_lines(0);
		ck_assert_str_eq(hak_opts.trace, "/some dir/t.%p ");
	} else {
		ck_assert_int_eq(set("trace", "/some dir/t"), -EINVAL);
		expect_lines(1);
		check_line(0, "test", 0, "trace", "CONFIG_HAKMEM_TRACE", NULL);
		ck_assert_ptr_eq(hak_opts.trace, kept);
	}
	memset(long_text, 'a', HAK_OPT_STRING_MAX);
	ck_assert_int_eq(set("trace", long_text), -EINVAL);
	expect_lines(1);
	check_line(0, "test", 0, "trace", "longer than", NULL);
	hak_opts.trace = kept;
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

/* Every test runs between setup() and teardown(). */
static TCase *fixed(TCase *tc)
{
	tcase_add_checked_fixture(tc, setup, teardown);
	return tc;
}

static Suite *profile_suite(void)
{
	Suite *s = suite_create("profile");
	const char *fork = getenv("CK_FORK");
	TCase *tc;

	if (!IS_ENABLED(CONFIG_HAKMEM_YAML)) {
		fixed(add_tcase(s, "no-yaml", 0, no_yaml_support));
	} else {
		fixed(add_tcase(s, "files", 0, missing_file, path_through_a_file, symlink_loop,
				unreadable_file, directory, too_large, endless_device));
		fixed(add_tcase(s, "yaml", 60, random_bytes, deep_flow_nesting,
				deep_flow_nesting_closed, deep_block_nesting, alias_list_item));

		tc = fixed(add_tcase(s, "keys", 0, removed_keys));
		tcase_add_loop_test(tc, load_case, 0, sizeof(load_cases) / sizeof(load_cases[0]));
		tcase_add_loop_test(tc, wrong_type, 0, sizeof(wrong_types) / sizeof(wrong_types[0]));
		tcase_add_loop_test(tc, bad_list, 0, sizeof(bad_lists) / sizeof(bad_lists[0]));
		tcase_add_test(tc, list_applies);
		tcase_add_test(tc, policy_not_compiled_in);
		tcase_add_test(tc, list_set_twice);
		tcase_add_test(tc, long_key);
		tcase_add_test(tc, too_many_errors);
		tcase_add_test(tc, good_profile_is_silent);
		tcase_add_test(tc, learning_profiles_are_silent);

		fixed(add_tcase(s, "shipped", 0, shipped_profiles_load_silently, profile_default,
				profile_low_memory, profile_server, profile_vm));
		tc = fixed(add_tcase(s, "start-up", 60, environment_over_profile_at_start,
				     strict_bad_profile_at_start));
		tcase_add_loop_test(tc, start_case, START_ENV_CASES,
				    sizeof(start_cases) / sizeof(start_cases[0]));

		tc = fixed(add_tcase(s, "strict", 0));
		/* An exit test needs a child process per test. */
		if (!fork || strcmp(fork, "no"))
			tcase_add_loop_exit_test(tc, strict_exit, 1, 0,
						 sizeof(strict_exits) / sizeof(strict_exits[0]));
		tcase_add_test(tc, strict_good_profile_returns);
	}

	tc = fixed(add_tcase(s, "environment", 60, stock_defaults_at_start,
			     environment_list_at_start, removed_variables_at_start));
	tcase_add_loop_test(tc, start_case, 0, START_ENV_CASES);
	fixed(add_tcase(s, "options", 0, option_sizes, option_ranges, option_integers,
			option_int_list, option_int_list_items, option_int_list_order_message,
			option_list_shapes, option_keys, option_defaults_are_valid,
			options_documented, option_stats_choices, option_trace_text, option_bools));
	return s;
}

int main(int argc, char **argv)
{
	/* run_at_start() runs this program again to see what hak_init() set. */
	if (argc > 1 && !strcmp(argv[1], "--show-options"))
		return show_options();
	return run_suite(profile_suite());
}
