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
};

#define HAK_MAX_POLICIES 8
#define HAK_MAX_POLICY_PARAMS 16

/* The values in force.  Written only by hak_options_init(). */
enum hak_stats_mode { HAK_STATS_NONE, HAK_STATS_SUMMARY, HAK_STATS_JSON };

struct hak_options {
	const struct hak_policy *policy;	/* "policy" */
	bool strict;				/* "strict" */
	int stats;				/* "stats": enum hak_stats_mode */
	uint64_t seed;				/* "seed" */
	unsigned purge_delay_ms;		/* "purge.delay_ms" */
	size_t span_max;			/* "large.span_max" */
	unsigned epoch_events;			/* "policy.epoch" */
	unsigned sites;				/* "policy.sites" */
	size_t max_dirty;			/* "pageheap.max_dirty" */
	size_t huge_pages;			/* "pageheap.huge_pages" */
	unsigned break_even_ms;			/* "pageheap.break_even_ms" */
	/* Parameters of every compiled-in policy, in schema order. */
	struct hak_param_value params[HAK_MAX_POLICIES][HAK_MAX_POLICY_PARAMS];
};

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
