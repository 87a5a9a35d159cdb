// SPDX-License-Identifier: MIT
/*
 * core/options.c - the option table, its parsers, and the order in which
 * defaults, the YAML profile and the environment are applied.
 *
 * Core options are the rows of core_options[], made from their list
 * (HAK_OPTIONS, options.h) like everything else about them; each
 * registered policy adds "<policy>.<param>" rows from its schema.  Every
 * value is parsed into a struct hak_param_value, checked against the row's range,
 * and only then stored, so a bad setting leaves the old value in place.
 *
 * Runs during hak_init() (first use of the allocator), single-threaded by
 * then as far as options go: other threads read hak_opts only after init
 * has published it.  Messages are written without malloc (hak_warn).
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "options.h"

/* Usable values before hak_options_init() runs (the core reads some early). */
#define OPT_INIT(id, key, env, type, ctype, field, def, ...) .field = HAK_OPT_DEF_NUM(def),
struct hak_options hak_opts __hak_read_mostly = { HAK_OPTIONS(OPT_INIT) };

#define OPT_ID(id, ...) OPT_##id,
enum core_opt { HAK_OPTIONS(OPT_ID) NR_CORE_OPTS };

struct opt_row {
	const char *name;
	const char *env;
	enum hak_opt_type type;
	double def;		/* the default, but for a CHOICE's: */
	const char *word;	/* a CHOICE's default word */
	double min, max;
	const char *help;
};

#define OPT_ROW(id, key, env, type, ctype, field, def, min, max, help) \
	[OPT_##id] = { key, env, HAK_OPT_##type, HAK_OPT_DEF_NUM(def), HAK_OPT_DEF_WORD(def), \
		       min, max, help },
static const struct opt_row core_options[NR_CORE_OPTS] = { HAK_OPTIONS(OPT_ROW) };

/* The policy registry: policies register themselves (HAK_REGISTER_POLICY). */
HAK_SECTION_BOUNDS(const struct hak_policy *, hak_policies);

const struct hak_policy *hak_policy_at(int i)
{
	long n = __stop_hak_policies - __start_hak_policies;

	return i >= 0 && i < n && i < HAK_MAX_POLICIES ? __start_hak_policies[i] : NULL;
}

const struct hak_policy *hak_policy_find(const char *name)
{
	for (int i = 0; hak_policy_at(i); i++)
		if (!strcmp(hak_policy_at(i)->name, name))
			return hak_policy_at(i);
	return NULL;
}

int hak_policy_index(const struct hak_policy *p)
{
	for (int i = 0; hak_policy_at(i); i++)
		if (hak_policy_at(i) == p)
			return i;
	return -1;
}

static const char *const stats_choices[] = { "none", "summary", "json", NULL };

/* ---- messages ---- */

static bool strict_seen(void)
{
	return hak_opts.strict;
}

static void verror(const char *where, const char *key, const char *fmt, va_list ap)
{
	char msg[384];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (key)
		hak_warn("%s: %s: %s%s", where, key, msg,
			 strict_seen() ? " (strict mode: stopping)" : "");
	else
		hak_warn("%s: %s%s", where, msg, strict_seen() ? " (strict mode: stopping)" : "");
	if (strict_seen())
		_exit(1);
}

void hak_config_error(const char *where, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(where, NULL, fmt, ap);
	va_end(ap);
}

static int key_error(int err, const char *where, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int key_error(int err, const char *where, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(where, key, fmt, ap);
	va_end(ap);
	return err;
}

/* ---- parsers: text to struct hak_param_value ---- */

static const char *skip_space(const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	return s;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "true", "yes", "on", "y" };
	static const char *const no[] = { "0", "false", "no", "off", "n" };

	for (unsigned i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_int(const char *s, long long *out)
{
	char *end;

	s = skip_space(s);
	if (!*s)
		return -EINVAL;
	errno = 0;
	*out = strtoll(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*skip_space(end))
		return -EINVAL;
	return 0;
}

static int parse_double(const char *s, double *out)
{
	char *end;

	s = skip_space(s);
	if (!*s)
		return -EINVAL;
	errno = 0;
	*out = strtod(s, &end);
	if (*skip_space(end) || !__builtin_isfinite(*out))
		return -EINVAL;
	return errno == ERANGE ? -ERANGE : 0;
}

/* "64KiB", "2M", "1 GiB", "4096": powers of 1024 whatever the spelling. */
static int parse_size(const char *s, double *out)
{
	static const struct { const char *sfx; unsigned shift; } units[] = {
		{ "", 0 }, { "b", 0 },
		{ "k", 10 }, { "kb", 10 }, { "kib", 10 },
		{ "m", 20 }, { "mb", 20 }, { "mib", 20 },
		{ "g", 30 }, { "gb", 30 }, { "gib", 30 },
		{ "t", 40 }, { "tb", 40 }, { "tib", 40 },
	};
	char *end;
	double v;

	s = skip_space(s);
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno == ERANGE || !__builtin_isfinite(v))
		return -ERANGE;
	end = (char *)skip_space(end);

	size_t n = strlen(end);

	while (n && isspace((unsigned char)end[n - 1]))
		n--;
	for (unsigned i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strlen(units[i].sfx) == n && !strncasecmp(end, units[i].sfx, n)) {
			v *= (double)(1ULL << units[i].shift);
			if (v >= 18446744073709551616.0)
				return -ERANGE;
			if (v != (double)(unsigned long long)v)
				return -EINVAL;
			*out = v;
			return 0;
		}
	}
	return -EINVAL;
}

static const char *type_name(enum hak_opt_type t)
{
	switch (t) {
	case HAK_OPT_BOOL: return "a boolean (true/false, yes/no, on/off, 1/0)";
	case HAK_OPT_INT: return "an integer";
	case HAK_OPT_SIZE: return "a size (bytes, or with KiB/MiB/GiB)";
	case HAK_OPT_FLOAT: return "a number";
	case HAK_OPT_SIZE_LIST: return "a list of sizes";
	case HAK_OPT_INT_LIST: return "a list of integers";
	case HAK_OPT_CHOICE: return "one of the listed words";
	case HAK_OPT_STRING: return "text";
	}
	return "?";
}

static int check_range(double v, double min, double max, const char *where, const char *key)
{
	if (v < min || v > max)
		return key_error(-ERANGE, where, key, "%.17g is out of range [%.17g, %.17g]", v, min, max);
	return 0;
}

/* Parse one scalar @s of @type into @out, reporting against @where/@key. */
static int parse_scalar(enum hak_opt_type type, const char *s, double min, double max,
			struct hak_param_value *out, const char *where, const char *key)
{
	double d;
	long long i;
	int err;

	switch (type) {
	case HAK_OPT_BOOL:
		if (parse_bool(skip_space(s), &out->b))
			return key_error(-EINVAL, where, key, "'%s' is not %s", s, type_name(type));
		return 0;
	case HAK_OPT_INT:
		err = parse_int(s, &i);
		if (err == -EINVAL)
			return key_error(err, where, key, "'%s' is not %s", s, type_name(type));
		if (err || check_range((double)i, min, max, where, key))
			return err ? key_error(err, where, key, "'%s' is out of range", s) : -ERANGE;
		out->i = i;
		return 0;
	case HAK_OPT_SIZE:
		err = parse_size(s, &d);
		if (err)
			return key_error(err, where, key, "'%s' is not %s", s, type_name(type));
		if (check_range(d, min, max, where, key))
			return -ERANGE;
		out->size = (size_t)d;
		return 0;
	case HAK_OPT_FLOAT:
		if (parse_double(s, &d))
			return key_error(-EINVAL, where, key, "'%s' is not %s", s, type_name(type));
		if (check_range(d, min, max, where, key))
			return -ERANGE;
		out->f = d;
		return 0;
	default:
		return -EINVAL;
	}
}

static bool is_list(enum hak_opt_type t)
{
	return t == HAK_OPT_SIZE_LIST || t == HAK_OPT_INT_LIST;
}

static int parse_list(enum hak_opt_type type, const char *const *items, unsigned n, double min,
		      double max, struct hak_param_value *out, const char *where, const char *key)
{
	struct hak_param_value item = { 0 };
	bool ints = type == HAK_OPT_INT_LIST;

	if (n == 0 || n > HAK_PARAM_LIST_MAX)
		return key_error(-ERANGE, where, key, "a list of 1 to %d %s is wanted, not %u",
				 HAK_PARAM_LIST_MAX, ints ? "integers" : "sizes", n);
	for (unsigned k = 0; k < n; k++) {
		int err = parse_scalar(ints ? HAK_OPT_INT : HAK_OPT_SIZE, items[k], min, max, &item,
				       where, key);

		if (err)
			return err;
		out->list[k] = ints ? (size_t)item.i : item.size;
	}
	out->nlist = n;
	return 0;
}

/* ---- rows: core options and policy parameters ---- */

struct row_ref {
	const struct opt_row *core;		/* a core option, or */
	const struct hak_policy *policy;	/* a policy parameter */
	const struct hak_param *param;
	int pi, pj;				/* policy and parameter index */
};

static bool find_row(const char *key, struct row_ref *r)
{
	memset(r, 0, sizeof(*r));
	for (unsigned i = 0; i < NR_CORE_OPTS; i++) {
		if (!strcmp(key, core_options[i].name)) {
			r->core = &core_options[i];
			return true;
		}
	}

	const char *dot = strchr(key, '.');

	if (!dot)
		return false;
	for (int i = 0; hak_policy_at(i); i++) {
		const struct hak_policy *p = hak_policy_at(i);

		if (strlen(p->name) != (size_t)(dot - key) || strncmp(key, p->name, (size_t)(dot - key)))
			continue;
		for (int j = 0; p->params && p->params[j].name; j++) {
			if (!strcmp(dot + 1, p->params[j].name)) {
				r->policy = p;
				r->param = &p->params[j];
				r->pi = i;
				r->pj = j;
				return true;
			}
		}
	}
	return false;
}

static enum hak_opt_type row_type(const struct row_ref *r)
{
	return r->core ? r->core->type : (enum hak_opt_type)r->param->type;
}

bool hak_option_exists(const char *key)
{
	struct row_ref r;

	return find_row(key, &r);
}

bool hak_option_is_list(const char *key)
{
	struct row_ref r;

	return find_row(key, &r) && is_list(row_type(&r));
}

/*
 * Every policy of the source tree, built or not, as the Makefile lists
 * policies/ ("elo evo fixed"): a name among them is one this build left
 * out, anything else a typo.
 */
static bool policy_in_tree(const char *s)
{
	const char *w = HAK_POLICY_NAMES;
	size_t n = strlen(s);

	for (; *w; w += strcspn(w, " "), w += *w == ' ')
		if (n && !strncmp(w, s, n) && (w[n] == ' ' || !w[n]))
			return true;
	return false;
}

static int set_policy(const char *s, const char *where, const char *key)
{
	char names[128] = "";
	const struct hak_policy *p;

	s = skip_space(s);
	p = hak_policy_find(s);
	if (p) {
		hak_opts.policy = p;
		return 0;
	}
	for (int i = 0; hak_policy_at(i); i++) {
		strncat(names, i ? ", " : "", sizeof(names) - strlen(names) - 1);
		strncat(names, hak_policy_at(i)->name, sizeof(names) - strlen(names) - 1);
	}
	if (policy_in_tree(s))
		return key_error(-EINVAL, where, key,
				 "policy '%s' is not compiled into this build (available: %s)",
				 s, names[0] ? names : "none");
	return key_error(-EINVAL, where, key, "unknown policy '%s' (available: %s)", s,
			 names[0] ? names : "none");
}

/* A row of each type stores the member of @v its parser fills. */
#define OPT_SET_BOOL(field) hak_opts.field = v->b
#define OPT_SET_INT(field) hak_opts.field = v->i
#define OPT_SET_SIZE(field) hak_opts.field = v->size
#define OPT_SET_CHOICE(field) (void)0	/* set_policy(), and the stats words */
#define OPT_SET_STRING(field) hak_opts.field = strings[o]
#define OPT_SET(id, key, env, type, ctype, field, ...) \
	case OPT_##id: OPT_SET_##type(field); break;

/* The values of STRING options, kept here whatever their source did with its copy. */
static char strings[NR_CORE_OPTS][HAK_OPT_STRING_MAX];

static int set_core(enum core_opt o, const struct hak_param_value *v)
{
	switch (o) {
	HAK_OPTIONS(OPT_SET)
	default:
		break;
	}
	return 0;
}

static int set_value(const struct row_ref *r, const struct hak_param_value *v,
		     const char *where, const char *key)
{
	if (is_list(row_type(r))) {
		for (unsigned k = 1; k < v->nlist; k++)
			if (v->list[k] <= v->list[k - 1])
				return key_error(-EINVAL, where, key, "%s must be increasing",
						 row_type(r) == HAK_OPT_INT_LIST ? "items" : "sizes");
	}
	if (r->core)
		return set_core((enum core_opt)(r->core - core_options), v);
	hak_opts.params[r->pi][r->pj] = *v;
	return 0;
}

static void row_range(const struct row_ref *r, double *min, double *max)
{
	*min = r->core ? r->core->min : r->param->min;
	*max = r->core ? r->core->max : r->param->max;
}

static int set_string(const struct opt_row *row, const char *value, const char *where,
		      const char *key)
{
	enum core_opt o = (enum core_opt)(row - core_options);

	value = skip_space(value);
	if (strlen(value) >= HAK_OPT_STRING_MAX)
		return key_error(-EINVAL, where, key, "longer than %d bytes", HAK_OPT_STRING_MAX - 1);
	if (o == OPT_TRACE && *value && !IS_ENABLED(CONFIG_HAKMEM_TRACE))
		return key_error(-EINVAL, where, key,
				 "tracing is not compiled into this build (CONFIG_HAKMEM_TRACE)");
	strcpy(strings[o], value);
	return set_core(o, NULL);
}

int hak_option_set(const char *key, const char *value, const char *where)
{
	struct hak_param_value v = { 0 };
	struct row_ref r;
	double min, max;
	int err;

	if (!find_row(key, &r))
		return key_error(-ENOENT, where, key, "unknown option");
	row_range(&r, &min, &max);
	switch (row_type(&r)) {
	case HAK_OPT_CHOICE:
		if (r.core == &core_options[OPT_POLICY])
			return set_policy(value, where, key);
		for (int i = 0; stats_choices[i]; i++) {
			bool b;

			if (!strcasecmp(skip_space(value), stats_choices[i]) ||
			    (!parse_bool(skip_space(value), &b) && b == (i == 1))) {
				if (i && !IS_ENABLED(CONFIG_HAKMEM_STATS))
					return key_error(-EINVAL, where, key,
							 "statistics are not compiled into this build (CONFIG_HAKMEM_STATS)");
				hak_opts.stats = i;
				return 0;
			}
		}
		return key_error(-EINVAL, where, key,
				 "'%s' is not one of: none, summary, json (or 0, 1)", value);
	case HAK_OPT_STRING:
		return set_string(r.core, value, where, key);
	case HAK_OPT_SIZE_LIST:
	case HAK_OPT_INT_LIST: {
		char buf[256];
		const char *items[HAK_PARAM_LIST_MAX + 1];
		unsigned n = 0;

		if (strlen(value) >= sizeof(buf))
			return key_error(-EINVAL, where, key, "list too long");
		strcpy(buf, value);
		for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
			if (n == HAK_PARAM_LIST_MAX + 1)
				break;
			items[n++] = tok;
		}
		err = parse_list(row_type(&r), items, n, min, max, &v, where, key);
		break;
	}
	default:
		err = parse_scalar(row_type(&r), value, min, max, &v, where, key);
		break;
	}
	return err ? err : set_value(&r, &v, where, key);
}

int hak_option_set_list(const char *key, const char *const *items, unsigned n, const char *where)
{
	struct hak_param_value v = { 0 };
	struct row_ref r;
	double min, max;
	int err;

	if (!find_row(key, &r))
		return key_error(-ENOENT, where, key, "unknown option");
	if (!is_list(row_type(&r)))
		return key_error(-EINVAL, where, key, "a list was given, but this option is %s",
				 type_name(row_type(&r)));
	row_range(&r, &min, &max);
	err = parse_list(row_type(&r), items, n, min, max, &v, where, key);
	return err ? err : set_value(&r, &v, where, key);
}

/* ---- defaults, environment, docs ---- */

static void env_name(const struct hak_policy *p, const struct hak_param *param, char *buf,
		     size_t len)
{
	size_t k = 0;

	k += (size_t)snprintf(buf, len, "HAKMEM_%s_%s", p->name, param->name);
	for (size_t i = 7; i < k && i < len; i++)
		buf[i] = (char)toupper((unsigned char)buf[i]);
}

/* The default of core option @r, as a profile would write it. */
static const char *row_default(const struct opt_row *r, char *buf, size_t len)
{
	struct hak_report b = { buf, len, 0 };

	if (r->word)
		return r->word;
	if (r->type == HAK_OPT_BOOL)
		return r->def ? "true" : "false";
	if (r->type == HAK_OPT_SIZE)
		hak_report_size(&b, (size_t)r->def);
	else
		snprintf(buf, len, "%.0f", r->def);
	return buf;
}

/* HAKMEM_STRICT was read first and was not valid: it is not read again. */
static bool strict_env_bad;

/* Apply every row: its default (where == NULL) or its environment variable. */
static void apply_rows(bool from_env)
{
	char where[96];

	for (unsigned i = 0; i < NR_CORE_OPTS; i++) {
		const struct opt_row *row = &core_options[i];
		const char *v = from_env ? getenv(row->env) : row_default(row, where, sizeof(where));

		/* One message for a bad HAKMEM_STRICT (it is read first, too). */
		if (from_env && i == OPT_STRICT && strict_env_bad)
			continue;
		if (v && (from_env || *v))
			hak_option_set(row->name, v, from_env ? row->env : "default");
	}
	for (int i = 0; hak_policy_at(i); i++) {
		const struct hak_policy *p = hak_policy_at(i);

		for (int j = 0; p->params && p->params[j].name; j++) {
			char key[96];
			const char *v;

			snprintf(key, sizeof(key), "%s.%s", p->name, p->params[j].name);
			env_name(p, &p->params[j], where, sizeof(where));
			v = from_env ? getenv(where) : p->params[j].def;
			if (v)
				hak_option_set(key, v, from_env ? where : "default");
		}
	}
}

/*
 * HAKMEM_* variables that are not options: a misspelt option name would
 * otherwise be ignored without a word.
 */
static const char *const env_not_options[] = {
	"HAKMEM_PROFILE",	/* the profile to load */
	"HAKMEM_OPTIONS",	/* every option in one string */
	"HAKMEM_LIB",		/* tools/hakmem and the bench scripts: the library */
	"HAKMEM_SRCDIR",	/* the test suites: the source tree */
	"HAKMEM_STATS_FILE",	/* where the stats dump goes (report.c) */
	"HAKMEM_FAULT_N",	/* the reservation to fail (backends/fault.c) */
	NULL
};

static bool env_is_option(const char *name, size_t len)
{
	char env[96];

	for (int i = 0; env_not_options[i]; i++)
		if (strlen(env_not_options[i]) == len && !strncmp(name, env_not_options[i], len))
			return true;
	for (unsigned i = 0; i < NR_CORE_OPTS; i++)
		if (strlen(core_options[i].env) == len && !strncmp(name, core_options[i].env, len))
			return true;
	for (int i = 0; hak_policy_at(i); i++) {
		const struct hak_policy *p = hak_policy_at(i);

		for (int j = 0; p->params && p->params[j].name; j++) {
			env_name(p, &p->params[j], env, sizeof(env));
			if (strlen(env) == len && !strncmp(name, env, len))
				return true;
		}
	}
	return false;
}

static void check_unknown_env(void)
{
	extern char **environ;

	for (char **e = environ; e && *e; e++) {
		const char *eq = strchr(*e, '=');

		if (strncmp(*e, "HAKMEM_", 7) || !eq || env_is_option(*e, (size_t)(eq - *e)))
			continue;
		hak_config_error("environment", "%.*s: unknown variable, ignored (options are listed in docs/options.md)",
				 (int)(eq - *e), *e);
	}
}

HAK_SECTION_BOUNDS(const struct hak_profile_source *, hak_profile_sources);

int hak_profile_load(const char *path)
{
	if (__stop_hak_profile_sources - __start_hak_profile_sources > 0)
		return __start_hak_profile_sources[0]->load(path);
	hak_config_error("HAKMEM_PROFILE",
			 "%s: this build has no YAML support (CONFIG_HAKMEM_YAML); profile ignored",
			 path);
	return -EOPNOTSUPP;
}

/*
 * HAKMEM_OPTIONS="policy=elo,elo.epsilon=0.05,stats=summary": any option by
 * its profile key, checked as the profile's values and the variables are.
 * Items are split at commas; a piece without '=' that follows an item whose
 * option is a list is more of that list ("evo.sizes=1K,4K,stats=1").  Each
 * bad item gets one line naming it and leaves its option as it was; the
 * other items still apply.  With @strict_only, only "strict" items are
 * applied (a first pass, so that strict mode governs the rest).
 */
#define ITEM_MAX 256

static void set_item(char *item, bool strict_only)
{
	char *eq = strchr(item, '=');

	*eq = 0;
	if ((strcmp(item, "strict") == 0) == strict_only)
		hak_option_set(item, eq + 1, "HAKMEM_OPTIONS");
}

static void apply_options_string(const char *s, bool strict_only)
{
	char item[ITEM_MAX];	/* "key=value[,more list items]" being built */
	bool list = false;	/* item's option takes a list */
	unsigned n = 0;

	item[0] = 0;
	for (const char *p = s;; p++) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char piece[ITEM_MAX];
		bool ok = len < ITEM_MAX;

		n++;
		while (ok && len && *p == ' ')
			p++, len--;
		while (ok && len && p[len - 1] == ' ')
			len--;
		for (size_t i = 0; ok && i < len; i++)
			ok = p[i] > ' ' && p[i] < 0x7f;
		if (!ok) {
			if (!strict_only)
				hak_config_error("HAKMEM_OPTIONS",
						 "item %u: longer than %d bytes or not printable ASCII; ignored",
						 n, ITEM_MAX - 1);
		} else if (!len) {
			if (!strict_only)
				hak_config_error("HAKMEM_OPTIONS", "item %u is empty; ignored", n);
		} else {
			memcpy(piece, p, len);
			piece[len] = 0;
			if (!strchr(piece, '=') && list && strlen(item) + len + 1 < ITEM_MAX) {
				strcat(item, ",");
				strcat(item, piece);
			} else if (!strchr(piece, '=')) {
				if (!strict_only)
					hak_config_error("HAKMEM_OPTIONS",
							 "'%s': not key=value (items are separated by commas); ignored",
							 piece);
			} else {
				if (item[0])
					set_item(item, strict_only);
				strcpy(item, piece);
				*strchr(piece, '=') = 0;
				list = hak_option_exists(piece) && hak_option_is_list(piece);
			}
		}
		if (!end)
			break;
		p = end;
	}
	if (item[0])
		set_item(item, strict_only);
}

/*
 * Later sources win: defaults, the profile (HAKMEM_PROFILE), the options
 * string (HAKMEM_OPTIONS), the single variables (HAKMEM_<KEY>).  Strict
 * mode is read first from all of them that set it, so that it governs
 * everything after.
 */
void hak_options_init(void)
{
	const char *opts = getenv("HAKMEM_OPTIONS");
	const char *v;

	apply_rows(false);
	if (opts)
		apply_options_string(opts, true);
	v = getenv("HAKMEM_STRICT");
	if (v)
		strict_env_bad = hak_option_set("strict", v, "HAKMEM_STRICT") < 0;
	v = getenv("HAKMEM_PROFILE");
	if (v && *v)
		hak_profile_load(v);
	if (opts)
		apply_options_string(opts, false);
	apply_rows(true);
	check_unknown_env();
}

unsigned hak_option_count(void)
{
	unsigned n = NR_CORE_OPTS;

	for (int i = 0; hak_policy_at(i); i++)
		for (int j = 0; hak_policy_at(i)->params && hak_policy_at(i)->params[j].name; j++)
			n++;
	return n;
}

int hak_option_describe(unsigned idx, char *buf, size_t len)
{
	if (idx < NR_CORE_OPTS) {
		const struct opt_row *r = &core_options[idx];
		char def[32];

		return snprintf(buf, len, "%s\t%s\t%s\tdefault %s\t%s", r->name, r->env,
				type_name(r->type), row_default(r, def, sizeof(def)), r->help);
	}
	idx -= NR_CORE_OPTS;
	for (int i = 0; hak_policy_at(i); i++) {
		const struct hak_policy *p = hak_policy_at(i);

		for (int j = 0; p->params && p->params[j].name; j++, idx--) {
			if (idx)
				continue;

			char env[96];

			env_name(p, &p->params[j], env, sizeof(env));
			return snprintf(buf, len, "%s.%s\t%s\t%s\tdefault %s\t%s", p->name,
					p->params[j].name, env,
					type_name((enum hak_opt_type)p->params[j].type),
					p->params[j].def, p->params[j].help);
		}
	}
	return -ENOENT;
}
