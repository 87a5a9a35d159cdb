// SPDX-License-Identifier: MIT
/*
 * gen-options-doc.c - print the option tables of docs/options.md: "core"
 * prints the core options from their list (HAK_OPTIONS, core/options.h),
 * "policies" every policy's parameters from its schema; with "-env" or
 * "-key" after either, the same as a man page's list (hakmem(3) by
 * variable, hakmem-profile(5) by profile key).
 *
 * Built by the Makefile with every policy file of the tree, whatever the
 * configuration, and a default or bound that is a Kconfig symbol prints
 * as its name: the tables are the same in every build, so make test can
 * fail when docs/options.md or a man page is stale (scripts/options-doc.sh).
 */
#include <stdio.h>
#include <string.h>

#include "options.h"

extern const struct hak_policy *const __start_hak_policies[];
extern const struct hak_policy *const __stop_hak_policies[];

static const char *const type_word[] = {
	[HAK_OPT_BOOL] = "bool", [HAK_OPT_INT] = "integer", [HAK_OPT_SIZE] = "size",
	[HAK_OPT_FLOAT] = "number", [HAK_OPT_SIZE_LIST] = "size list",
	[HAK_OPT_INT_LIST] = "integer list", [HAK_OPT_CHOICE] = "word",
	[HAK_OPT_STRING] = "text",
};

/* @v, written @src in the source, as the table shows it. */
static const char *value(char *buf, size_t len, int type, const char *src, double v)
{
	struct hak_report b = { buf, len, 0 };

	if (!strncmp(src, "CONFIG_", 7))
		snprintf(buf, len, "`%s`", src);
	else if (v && (type == HAK_OPT_SIZE || type == HAK_OPT_SIZE_LIST))
		hak_report_size(&b, (size_t)v);
	else
		snprintf(buf, len, "%.15g", v);
	return buf;
}

/* What a row is printed as: docs/options.md's table, or a man page's list. */
static enum { TABLE, MAN_ENV, MAN_KEY } form;

/* @s with roff's escape character and markdown's backquotes taken out. */
static void roff(const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", stdout);
		else if (*s != '`')
			putchar(*s);
	}
}

static void row(const char *key, const char *env, int type, const char *def, const char *range,
		const char *help)
{
	if (form == TABLE) {
		printf("| `%s` | `%s` | %s | %s%s%s | %s | %s |\n", key, env, type_word[type],
		       strchr("`(", def[0]) ? "" : "`", def, strchr("`(", def[0]) ? "" : "`", range,
		       help);
		return;
	}
	if (form == MAN_ENV)
		printf(".TP\n.BR %s \" (%s)\"\n", env, key);
	else
		printf(".TP\n.BR %s \" (%s)\"\n", key, env);
	roff(help);
	printf(".\n%s, default %s", type_word[type], strstr(def, "CONFIG_") ? "from the build, " : "");
	roff(def);
	if (*range) {
		printf(", ");
		roff(range);
	}
	printf(".\n");
}

static void core_row(const char *key, const char *env, int type, const char *def_src,
		     double def, const char *word, const char *min_src, double min,
		     const char *max_src, double max, const char *help)
{
	char d[64], lo[64], hi[64], range[160] = "";

	if (type != HAK_OPT_CHOICE && type != HAK_OPT_BOOL && type != HAK_OPT_STRING)
		snprintf(range, sizeof(range), "%s to %s", value(lo, sizeof(lo), type, min_src, min),
			 value(hi, sizeof(hi), type, max_src, max));
	if (type == HAK_OPT_BOOL)
		word = def ? "true" : "false";
	if (word && strncmp(def_src, "CONFIG_", 7))
		snprintf(d, sizeof(d), "%s", *word ? word : "(unset)");
	else
		value(d, sizeof(d), type, def_src, def);
	row(key, env, type, d, range, help);
}

#define CORE_ROW(id, key, env, type, ctype, field, def, min, max, help)		\
	core_row(key, env, HAK_OPT_##type, #def, HAK_OPT_DEF_NUM(def), HAK_OPT_DEF_WORD(def), \
		 #min, min, #max, max, help);

static void policy_rows(const struct hak_policy *p)
{
	for (const struct hak_param *q = p->params; q && q->name; q++) {
		char key[64], env[64], d[96], lo[64], hi[64], range[256];
		bool list = q->type == HAK_PARAM_SIZE_LIST || q->type == HAK_PARAM_INT_LIST;

		snprintf(key, sizeof(key), "%s.%s", p->name, q->name);
		snprintf(env, sizeof(env), "HAKMEM_%s_%s", p->name, q->name);
		for (char *c = env; *c; c++)
			*c = *c >= 'a' && *c <= 'z' ? (char)(*c - 'a' + 'A') : *c;
		value(lo, sizeof(lo), (int)q->type, "", q->min);
		value(hi, sizeof(hi), (int)q->type, "", q->max);
		snprintf(range, sizeof(range), list ? "1 to %3$d items, each %1$s to %2$s, increasing" :
			 "%s to %s", lo, hi, HAK_PARAM_LIST_MAX);
		snprintf(d, sizeof(d), list ? "[%s]" : "%s", q->def);
		row(key, env, (int)q->type, d, range, q->help);
	}
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	const char *dash = strchr(what, '-');

	/* core and policies: the tables; core-env, core-key, policies-env and
	 * policies-key: the man pages' lists (by variable, by profile key). */
	if (dash) {
		form = !strcmp(dash, "-env") ? MAN_ENV : MAN_KEY;
		what = !strncmp(what, "core", 4) ? "core" : "policies";
	} else {
		printf("| key | environment | type | default | range | meaning |\n");
		printf("|---|---|---|---|---|---|\n");
	}
	if (!strcmp(what, "core")) {
		HAK_OPTIONS(CORE_ROW)
	} else if (!strcmp(what, "policies")) {
		for (const struct hak_policy *const *p = __start_hak_policies;
		     p < __stop_hak_policies; p++)
			policy_rows(*p);
	} else {
		fprintf(stderr, "usage: %s core|policies[-env|-key]\n", argv[0]);
		return 2;
	}
	return 0;
}
