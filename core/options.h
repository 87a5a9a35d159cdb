/* SPDX-License-Identifier: MIT */
/*
 * core/options.h - the option table: every run-time setting of hakmem.
 *
 * One table is the single source of truth for each option's name (the
 * dotted key a YAML profile uses), type, default (from Kconfig), range,
 * environment variable and help.  Each compiled-in policy adds its own
 * parameters ("elo.epsilon") from its schema in include/hakmem_policy.h.
 *
 * Precedence: Kconfig default < YAML profile (HAKMEM_PROFILE) < environment.
 *
 * Bad input never stops the host program: each bad setting gets one line
 * on stderr naming where it came from ("file:line" or the variable) and
 * the key, and the option keeps its previous value.  With HAKMEM_STRICT=1
 * the program stops at start after that line instead (exit status 1).
 *
 * hak_options_init() runs once, from hak_init(), after the allocator is
 * usable: parsing may allocate.  Readers use hak_opts directly.
 */
#ifndef HAK_OPTIONS_H
#define HAK_OPTIONS_H

#include <hakmem_policy.h>
#include "internal.h"

enum hak_opt_type {
	HAK_OPT_BOOL = HAK_PARAM_BOOL,
	HAK_OPT_INT = HAK_PARAM_INT,
	HAK_OPT_SIZE = HAK_PARAM_SIZE,
	HAK_OPT_FLOAT = HAK_PARAM_FLOAT,
	HAK_OPT_SIZE_LIST = HAK_PARAM_SIZE_LIST,
	HAK_OPT_INT_LIST = HAK_PARAM_INT_LIST,
	HAK_OPT_CHOICE,		/* one word out of a fixed set */
	HAK_OPT_STRING,		/* text kept as it is (a file name) */
};

/* The longest value a STRING option keeps, with its NUL. */
#define HAK_OPT_STRING_MAX 1024

#define HAK_MAX_POLICIES 8
#define HAK_MAX_POLICY_PARAMS 16

enum hak_stats_mode { HAK_STATS_NONE, HAK_STATS_SUMMARY, HAK_STATS_JSON };

/* trace.sample's default (docs/trace.md measures what it costs). */
#define HAK_TRACE_SAMPLE_DEFAULT 1000

/*
 * The core options, one row each, the only place an option is written:
 * X(id, key, environment, type, C type, field, default, min, max, help).
 * It makes the option table (options.c), the fields of struct hak_options
 * and their values before start-up, and the table of docs/options.md
 * (scripts/gen-options-doc.c).  A CHOICE's default is a word, any other a
 * number (sizes in bytes); docs show a Kconfig symbol by its name.
 */
#define HAK_OPTIONS(X) \
	X(POLICY, "policy", "HAKMEM_POLICY", CHOICE, const struct hak_policy *, policy, \
	  CONFIG_HAKMEM_POLICY_DEFAULT, 0, 0, \
	  "the policy that decides for blocks above the small limit (a compiled-in one)") \
	X(STRICT, "strict", "HAKMEM_STRICT", BOOL, bool, strict, 0, 0, 1, \
	  "stop the program at start, with exit status 1, on any configuration error") \
	X(STATS, "stats", "HAKMEM_STATS", CHOICE, int, stats, "none", 0, 0, \
	  "statistics printed at exit: none, summary or json, to stderr or to the file " \
	  "HAKMEM_STATS_FILE names; needs CONFIG_HAKMEM_STATS (docs/stats.md)") \
	X(SEED, "seed", "HAKMEM_SEED", INT, uint64_t, seed, 1, 0, 9.2e18, \
	  "seed of the policies' random choices (evo's mutations), so runs are reproducible") \
	X(PURGE_DELAY, "purge.delay_ms", "HAKMEM_PURGE_DELAY_MS", INT, unsigned, purge_delay_ms, \
	  CONFIG_HAKMEM_PURGE_DELAY_MS, 0, 60000, "ms freed memory stays committed before it goes " \
	  "back to the OS: free slabs always; the page heap's under fixed; where elo and evo start") \
	X(SPAN_MAX, "large.span_max", "HAKMEM_LARGE_SPAN_MAX", SIZE, size_t, span_max, 1 << 20, \
	  0, 1 << 20, "requests up to this size are carved from superslab slabs, with no system call") \
	X(EPOCH, "policy.epoch", "HAKMEM_POLICY_EPOCH", INT, unsigned, epoch_events, \
	  CONFIG_HAKMEM_POLICY_EPOCH, 1, 1000000, "large-block events between two learning steps " \
	  "(tick) of the policy, each followed by a decision") \
	X(SITES, "policy.sites", "HAKMEM_POLICY_SITES", INT, unsigned, sites, CONFIG_HAKMEM_SITES, \
	  1, CONFIG_HAKMEM_SITES, "call sites of large blocks the site table tells apart (more share)") \
	X(MAX_DIRTY, "pageheap.max_dirty", "HAKMEM_PAGEHEAP_MAX_DIRTY", SIZE, size_t, max_dirty, \
	  1ull << 30, 0, 1ull << 40, "the most freed large-block memory kept committed at once; " \
	  "past it the oldest goes back to the OS first, whatever the delay") \
	X(HUGE_PAGES, "pageheap.huge_pages", "HAKMEM_PAGEHEAP_HUGE_PAGES", SIZE, size_t, huge_pages, \
	  4ull << 20, 0, 1ull << 40, "blocks of at least this size get transparent huge pages " \
	  "where the backend has them; 0: never") \
	X(BREAK_EVEN, "pageheap.break_even_ms", "HAKMEM_PAGEHEAP_BREAK_EVEN_MS", INT, unsigned, \
	  break_even_ms, CONFIG_HAKMEM_PURGE_DELAY_MS, 0, 3600000, "learning policies: keeping " \
	  "freed memory this long costs as much as faulting it in again after it went back") \
	X(TRACE, "trace", "HAKMEM_TRACE", STRING, const char *, trace, "", 0, 0, \
	  "record the program's allocations to this file (%p: the process id, %e: the " \
	  "program's name); needs CONFIG_HAKMEM_TRACE (docs/trace.md)") \
	X(TRACE_SAMPLE, "trace.sample", "HAKMEM_TRACE_SAMPLE", INT, unsigned, trace_sample, \
	  HAK_TRACE_SAMPLE_DEFAULT, 0, 1000000000, "a trace records every large block and about " \
	  "one small block in this many (and its free); 0: no small blocks")

/* A row's default as a number (0 for a CHOICE) and as a word (NULL unless a CHOICE). */
#define HAK_OPT_DEF_NUM(def) _Generic((def), char *: 0, default: (def))
#define HAK_OPT_DEF_WORD(def) _Generic((def), char *: (def), default: (const char *)0)

/* The values in force.  Written only by hak_options_init(). */
#define HAK_OPT_FIELD(id, key, env, type, ctype, field, ...) ctype field;
struct hak_options {
	HAK_OPTIONS(HAK_OPT_FIELD)
	/* Parameters of every compiled-in policy, in schema order. */
	struct hak_param_value params[HAK_MAX_POLICIES][HAK_MAX_POLICY_PARAMS];
};
#undef HAK_OPT_FIELD

extern struct hak_options hak_opts;

/*
 * The policies that registered themselves, in link order:
 * hak_policy_at(i) from 0 until it returns NULL (at most HAK_MAX_POLICIES).
 */
const struct hak_policy *hak_policy_at(int i);
const struct hak_policy *hak_policy_find(const char *name);
int hak_policy_index(const struct hak_policy *p);

void hak_options_init(void);

/*
 * Set option @key from its text form @value.  @where names the source for
 * messages ("profile.yaml:12", "HAKMEM_POLICY").  On a bad key or value,
 * prints one line and returns -ENOENT (unknown key), -EINVAL (not of the
 * option's type) or -ERANGE (out of range); the option is unchanged.
 * Sizes accept B, K, KB, KiB, M, MB, MiB, G, GB, GiB suffixes (powers of
 * 1024); booleans accept true/false, yes/no, on/off, 1/0; a list is
 * comma-separated text.
 */
int hak_option_set(const char *key, const char *value, const char *where);

/* Set list option @key from @n separate items (a YAML sequence). */
int hak_option_set_list(const char *key, const char *const *items, unsigned n,
			const char *where);

/* True when @key names an option (whatever its type). */
bool hak_option_exists(const char *key);
/* True when @key names a list option. */
bool hak_option_is_list(const char *key);

/*
 * Report a configuration error: "hakmem: WHERE: MESSAGE" on stderr, then
 * stop the program when strict mode is on.  For the profile loader's own
 * errors (unreadable file, syntax error, ...).
 */
void hak_config_error(const char *where, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Number of option-table entries and one line of docs for entry @i. */
unsigned hak_option_count(void);
int hak_option_describe(unsigned i, char *buf, size_t len);

/*
 * A source of profiles (frontends/conf_yaml.c reads YAML): @load reads the
 * file at @path into the option table through hak_option_set() and
 * hak_option_set_list(), and returns 0, or a negative errno after
 * reporting why.  It registers itself, as policies do.
 */
struct hak_profile_source {
	int (*load)(const char *path);
};

#define HAK_REGISTER_PROFILE_SOURCE(desc)					\
	static const struct hak_profile_source *const hak_profile_entry_##desc	\
	__attribute__((used, section("hak_profile_sources"))) = &(desc)

/*
 * Load the profile at @path through the registered source.  Without one
 * (a build without CONFIG_HAKMEM_YAML) one line says the profile is
 * ignored, and it returns -EOPNOTSUPP.
 */
int hak_profile_load(const char *path);

#endif /* HAK_OPTIONS_H */
