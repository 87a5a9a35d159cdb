// SPDX-License-Identifier: MIT
/*
 * frontends/conf_yaml.c - load a YAML profile (HAKMEM_PROFILE) into the
 * option table.
 *
 * A profile is one mapping of keys to values.  Nested mappings become
 * dotted keys, one level deep:
 *
 *	policy: elo                      -> "policy" = "elo"
 *	elo: { k: 32, candidates: [1MiB, 4MiB] }
 *	                                 -> "elo.k" = "32",
 *	                                    "elo.candidates" = ["1MiB", "4MiB"]
 *	policy.epoch: 128                -> "policy.epoch" = "128"
 *
 * Values stay text: hak_option_set() and hak_option_set_list() own the
 * types, ranges and their messages.  This file owns the file and the YAML
 * around them: what can be read, what shape a value has, and one line on
 * stderr (through hak_config_error) for each thing it refuses.
 *
 * The file is read whole (at most PROFILE_MAX_BYTES) and parsed twice with
 * libyaml's event API.  The first pass sets nothing: it rejects bad
 * encoding, syntax errors and nesting deeper than PROFILE_MAX_DEPTH while
 * streaming, so a broken file changes no option at all and libyaml never
 * holds more than a few levels of state.  The second pass walks the first
 * document and hands each key to the option table; a bad key is reported
 * and skipped, the others still apply.  Events are never built into a tree,
 * so aliases cannot expand: they and anchors are refused.
 *
 * It registers itself as the profile source (HAK_REGISTER_PROFILE_SOURCE):
 * the core loads HAKMEM_PROFILE through it without naming this file.
 * Runs once, inside hak_init(), after the allocator is usable: libyaml's
 * malloc calls are served by hakmem itself.  No stdio here, so no lock of
 * the C library is taken and nothing is buffered.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "options.h"

/* A profile is a few dozen lines; more is a mistake (or not a profile). */
#define PROFILE_MAX_BYTES	((size_t)1 << 20)
/* The schema needs three levels (mapping, mapping, list); this leaves room
 * to report a deeper value as a bad key before giving up on the file. */
#define PROFILE_MAX_DEPTH	16
/* Past this many complaints the file is not worth reading further. */
#define PROFILE_MAX_ERRORS	20
#define PROFILE_KEY_MAX		128
#define PROFILE_ITEM_MAX	64

struct seen_key {
	char key[PROFILE_KEY_MAX];
	unsigned line;
};

struct loader {
	const char *path;
	unsigned char *buf;
	size_t len;
	yaml_parser_t parser;
	bool parser_live;
	bool apply;		/* second pass: set options, report bad keys */
	bool stop;		/* a fatal error was reported: stop the file */
	unsigned depth;		/* collections open at the current event */
	int status;		/* first error, as a negative errno */
	unsigned errors;
	unsigned next_doc_line;	/* line of a second document, 0 if none */
	const char *key;	/* key whose value is being read, for messages */
	struct seen_key *seen;	/* option keys already given in this file */
	unsigned nseen, seen_cap;
	char items[HAK_PARAM_LIST_MAX][PROFILE_ITEM_MAX];
	char where[];		/* "PATH:LINE", sized for the path */
};

/* The keys of one mapping, for messages about a mapping given to an option. */
struct scope {
	const char *prefix;	/* "" at the top */
	unsigned line;		/* line of the key that opened it */
	bool is_option;		/* the prefix is itself an option ("policy") */
	bool reported;		/* that mistake was reported already */
	unsigned children;
};

static const char *where_at(struct loader *ld, unsigned line)
{
	size_t size = strlen(ld->path) + 16;

	if (line)
		snprintf(ld->where, size, "%s:%u", ld->path, line);
	else
		snprintf(ld->where, size, "%s", ld->path);
	return ld->where;
}

/* Count an error (ours or the option table's); too many stop the file. */
static void count_error(struct loader *ld, int err)
{
	if (!ld->status)
		ld->status = err;
	if (++ld->errors == PROFILE_MAX_ERRORS && !ld->stop) {
		hak_config_error(ld->path, "%u errors; the rest of the profile is ignored",
				 ld->errors);
		ld->stop = true;
	}
}

static void __attribute__((format(printf, 4, 5)))
report(struct loader *ld, unsigned line, int err, const char *fmt, ...)
{
	char msg[320];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	hak_config_error(where_at(ld, line), "%s", msg);
	count_error(ld, err);
}

/* A mistake that ends the file: reported in whichever pass meets it. */
#define fatal(ld, line, err, ...)				\
	do {							\
		report(ld, line, err, __VA_ARGS__);		\
		(ld)->stop = true;				\
	} while (0)

/* A mistake in one key: reported once, in the pass that applies. */
#define key_error(ld, line, err, ...)				\
	do {							\
		if ((ld)->apply)				\
			report(ld, line, err, __VA_ARGS__);	\
	} while (0)

static unsigned line_of(const yaml_mark_t *mark)
{
	return (unsigned)mark->line + 1;
}

/* ---- reading the file ---- */

static int read_profile(struct loader *ld)
{
	size_t cap, len = 0;
	struct stat st;
	unsigned char *buf;
	int fd, flags, err;

	/* O_NONBLOCK: opening a FIFO nobody writes to must not hang start-up. */
	fd = open(ld->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		err = errno;
		fatal(ld, 0, -err, "cannot open the profile: %s", strerror(err));
		return -err;
	}
	if (fstat(fd, &st) < 0) {
		err = errno;
		goto read_error;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		fatal(ld, 0, -EISDIR, "is a directory, not a profile");
		return -EISDIR;
	}
	if (S_ISREG(st.st_mode) && (size_t)st.st_size > PROFILE_MAX_BYTES) {
		close(fd);
		fatal(ld, 0, -EFBIG, "the profile is %lld bytes, more than the %zu MiB limit; profile ignored",
		      (long long)st.st_size, PROFILE_MAX_BYTES >> 20);
		return -EFBIG;
	}
	/* A pipe (HAKMEM_PROFILE=<(...)) is read to its end, like a file. */
	flags = fcntl(fd, F_GETFL);
	if (flags >= 0)
		fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);

	cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 4096;
	buf = malloc(cap);
	if (!buf) {
		err = ENOMEM;
		goto read_error;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			unsigned char *bigger;

			if (cap > PROFILE_MAX_BYTES) {
				free(buf);
				close(fd);
				fatal(ld, 0, -EFBIG, "the profile is more than the %zu MiB limit; profile ignored",
				      PROFILE_MAX_BYTES >> 20);
				return -EFBIG;
			}
			cap = cap * 2 > PROFILE_MAX_BYTES + 1 ? PROFILE_MAX_BYTES + 1 : cap * 2;
			bigger = realloc(buf, cap);
			if (!bigger) {
				free(buf);
				err = ENOMEM;
				goto read_error;
			}
			buf = bigger;
		}
		n = read(fd, buf + len, cap - len);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = errno;
			free(buf);
			goto read_error;
		}
		len += (size_t)n;
	}
	close(fd);
	if (len > PROFILE_MAX_BYTES) {
		free(buf);
		fatal(ld, 0, -EFBIG, "the profile is more than the %zu MiB limit; profile ignored",
		      PROFILE_MAX_BYTES >> 20);
		return -EFBIG;
	}
	ld->buf = buf;
	ld->len = len;
	return 0;

read_error:
	close(fd);
	fatal(ld, 0, -err, "cannot read the profile: %s", strerror(err));
	return -err;
}

/* ---- events ---- */

static void parser_error(struct loader *ld)
{
	yaml_parser_t *p = &ld->parser;
	unsigned line;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		fatal(ld, 0, -ENOMEM, "out of memory while parsing; profile ignored");
		break;
	case YAML_READER_ERROR:
		/* Offsets count input bytes: they give a line only in UTF-8. */
		line = 0;
		if (p->encoding == YAML_UTF8_ENCODING && p->problem_offset <= ld->len) {
			line = 1;
			for (size_t i = 0; i < p->problem_offset; i++)
				line += ld->buf[i] == '\n';
		}
		if (p->problem_value == 0)
			fatal(ld, line, -EILSEQ, "binary data (a NUL byte at offset %zu), not a YAML text; profile ignored",
			      p->problem_offset);
		else if (p->problem_value > 0)
			fatal(ld, line, -EILSEQ, "not a YAML text: %s (0x%x at offset %zu); profile ignored",
			      p->problem, (unsigned)p->problem_value, p->problem_offset);
		else
			fatal(ld, line, -EILSEQ, "not a YAML text: %s (at offset %zu); profile ignored",
			      p->problem, p->problem_offset);
		break;
	default:
		if (p->context)
			fatal(ld, line_of(&p->problem_mark), -EINVAL,
			      "YAML syntax error: %s, column %u (%s at line %u); profile ignored",
			      p->problem, (unsigned)p->problem_mark.column + 1, p->context,
			      line_of(&p->context_mark));
		else
			fatal(ld, line_of(&p->problem_mark), -EINVAL,
			      "YAML syntax error: %s, column %u; profile ignored",
			      p->problem ? p->problem : "unknown problem",
			      (unsigned)p->problem_mark.column + 1);
		break;
	}
}

/*
 * The next event, with the nesting depth kept up to date.  Returns false
 * after reporting a fatal error; @ev then holds nothing to delete.
 */
static bool next(struct loader *ld, yaml_event_t *ev)
{
	if (ld->stop) {
		memset(ev, 0, sizeof(*ev));
		return false;
	}
	if (!yaml_parser_parse(&ld->parser, ev)) {
		memset(ev, 0, sizeof(*ev));
		parser_error(ld);
		return false;
	}
	switch (ev->type) {
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (++ld->depth > PROFILE_MAX_DEPTH) {
			unsigned line = line_of(&ev->start_mark);

			yaml_event_delete(ev);
			if (ld->key)
				fatal(ld, line, -EINVAL, "%s: nested deeper than %d levels; profile ignored",
				      ld->key, PROFILE_MAX_DEPTH);
			else
				fatal(ld, line, -EINVAL, "nested deeper than %d levels; profile ignored",
				      PROFILE_MAX_DEPTH);
			return false;
		}
		break;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		ld->depth--;
		break;
	default:
		break;
	}
	return true;
}

/* Consume the rest of the node @ev starts (a collection: up to its end). */
static bool skip_node(struct loader *ld, const yaml_event_t *ev)
{
	unsigned outer = ld->depth - 1;
	yaml_event_t e;

	if (ev->type != YAML_SEQUENCE_START_EVENT && ev->type != YAML_MAPPING_START_EVENT)
		return true;
	while (ld->depth > outer) {
		if (!next(ld, &e))
			return false;
		yaml_event_delete(&e);
	}
	return true;
}

static const char *anchor_of(const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return (const char *)ev->data.scalar.anchor;
	case YAML_SEQUENCE_START_EVENT:
		return (const char *)ev->data.sequence_start.anchor;
	case YAML_MAPPING_START_EVENT:
		return (const char *)ev->data.mapping_start.anchor;
	default:
		return NULL;
	}
}

/* "key:" with nothing after it, or ~ / null: no value. */
static bool is_null(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

/* libyaml passes "\0" escapes through: such text cannot reach the table. */
static bool has_nul(const yaml_event_t *ev)
{
	return strlen((const char *)ev->data.scalar.value) != ev->data.scalar.length;
}

/* ---- keys ---- */

/*
 * A key the table does not know, inside a mapping given to an option
 * ("stats: { summary: 1 }"): the mistake is the mapping, said once.
 */
static bool mapping_for_option(struct loader *ld, struct scope *sc)
{
	if (!sc->is_option)
		return false;
	if (!sc->reported)
		report(ld, sc->line, -EINVAL, "%s: takes a %s, not a mapping", sc->prefix,
		       hak_option_is_list(sc->prefix) ? "list" : "single value");
	sc->reported = true;
	return true;
}

/* Each option once per file: a second value is a mistake, the first stays. */
static bool seen_before(struct loader *ld, const char *key, unsigned line)
{
	for (unsigned i = 0; i < ld->nseen; i++) {
		if (!strcmp(ld->seen[i].key, key)) {
			report(ld, line, -EINVAL, "%s: set twice (first at line %u); the first value is kept",
			       key, ld->seen[i].line);
			return true;
		}
	}
	if (ld->nseen == ld->seen_cap) {
		unsigned cap = ld->seen_cap ? ld->seen_cap * 2 : 16;
		struct seen_key *bigger = realloc(ld->seen, cap * sizeof(*bigger));

		/* Without memory only the duplicate check is lost. */
		if (!bigger)
			return false;
		ld->seen = bigger;
		ld->seen_cap = cap;
	}
	snprintf(ld->seen[ld->nseen].key, PROFILE_KEY_MAX, "%s", key);
	ld->seen[ld->nseen++].line = line;
	return false;
}

/* A single value @ev for @key: its shape checked, then handed to the table. */
static void set_scalar(struct loader *ld, struct scope *sc, const char *key,
		       const yaml_event_t *ev)
{
	unsigned line = line_of(&ev->start_mark);
	const char *value = (const char *)ev->data.scalar.value;
	int rc;

	if (!ld->apply)
		return;
	if (!hak_option_exists(key)) {
		if (!mapping_for_option(ld, sc)) {
			rc = hak_option_set(key, value, where_at(ld, line));
			count_error(ld, rc < 0 ? rc : -ENOENT);
		}
		return;
	}
	if (anchor_of(ev)) {
		report(ld, line, -EINVAL, "%s: anchors (&%s) are not supported", key, anchor_of(ev));
		return;
	}
	if (hak_option_is_list(key)) {
		report(ld, line, -EINVAL, "%s: takes a list, not a single value (write [a, b, ...])", key);
		return;
	}
	if (is_null(ev)) {
		report(ld, line, -EINVAL, "%s: no value", key);
		return;
	}
	if (has_nul(ev)) {
		report(ld, line, -EINVAL, "%s: the value holds a NUL character", key);
		return;
	}
	if (seen_before(ld, key, line))
		return;
	rc = hak_option_set(key, value, where_at(ld, line));
	if (rc < 0)
		count_error(ld, rc);
}

/* @ev opened a sequence: read its items, then set list option @key. */
static bool set_list(struct loader *ld, struct scope *sc, const char *key,
		     const yaml_event_t *ev)
{
	unsigned line = line_of(&ev->start_mark);
	const char *items[HAK_PARAM_LIST_MAX];
	unsigned n = 0, bad_line = 0;
	const char *bad = NULL;
	yaml_event_t e;
	int rc;

	if (anchor_of(ev)) {
		bad = "anchors (&name) are not supported";
		bad_line = line;
	}
	for (;;) {
		if (!next(ld, &e))
			return false;
		if (e.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&e);
			break;
		}
		if (!bad && e.type == YAML_ALIAS_EVENT)
			bad = "aliases (*name) are not supported";
		else if (!bad && anchor_of(&e))
			bad = "anchors (&name) are not supported";
		else if (!bad && e.type != YAML_SCALAR_EVENT)
			bad = "a list item must be a single value";
		else if (!bad && (has_nul(&e) || e.data.scalar.length >= PROFILE_ITEM_MAX))
			bad = "a list item is too long";
		else if (!bad && n < HAK_PARAM_LIST_MAX)
			memcpy(ld->items[n], e.data.scalar.value, e.data.scalar.length + 1);
		if (bad && !bad_line)
			bad_line = line_of(&e.start_mark);
		n++;
		if (!skip_node(ld, &e)) {
			yaml_event_delete(&e);
			return false;
		}
		yaml_event_delete(&e);
	}
	if (!ld->apply)
		return true;
	for (unsigned i = 0; i < n && i < HAK_PARAM_LIST_MAX; i++)
		items[i] = ld->items[i];

	if (!hak_option_exists(key)) {
		if (!mapping_for_option(ld, sc)) {
			rc = hak_option_set_list(key, items, bad ? 0 : n < HAK_PARAM_LIST_MAX ? n :
						 HAK_PARAM_LIST_MAX, where_at(ld, line));
			count_error(ld, rc < 0 ? rc : -ENOENT);
		}
	} else if (!hak_option_is_list(key)) {
		report(ld, line, -EINVAL, "%s: takes a single value, not a list", key);
	} else if (bad) {
		report(ld, bad_line, -EINVAL, "%s: %s", key, bad);
	} else if (n > HAK_PARAM_LIST_MAX) {
		report(ld, line, -ERANGE, "%s: %u items, at most %d", key, n, HAK_PARAM_LIST_MAX);
	} else if (!seen_before(ld, key, line)) {
		rc = hak_option_set_list(key, items, n, where_at(ld, line));
		if (rc < 0)
			count_error(ld, rc);
	}
	return true;
}

static bool walk_mapping(struct loader *ld, struct scope *sc, unsigned level);

/* The value of @key, whose first event is @ev (not yet deleted). */
static bool walk_value(struct loader *ld, struct scope *sc, unsigned level,
		       const char *key, unsigned key_line, const yaml_event_t *ev)
{
	unsigned line = line_of(&ev->start_mark);

	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		set_scalar(ld, sc, key, ev);
		return true;
	case YAML_SEQUENCE_START_EVENT:
		return set_list(ld, sc, key, ev);
	case YAML_ALIAS_EVENT:
		key_error(ld, line, -EINVAL, "%s: aliases (*%s) are not supported", key,
			  (const char *)ev->data.alias.anchor);
		return true;
	case YAML_MAPPING_START_EVENT:
		/* A block mapping starts on the line after its key: name the key's. */
		line = key_line;
		break;
	default:
		return true;
	}

	if (anchor_of(ev)) {
		if (!skip_node(ld, ev))
			return false;
		key_error(ld, line, -EINVAL, "%s: anchors (&%s) are not supported", key,
			  anchor_of(ev));
		return true;
	}
	if (level >= 2) {
		/* Read it all first: a fatal error inside wins over this one. */
		if (!skip_node(ld, ev))
			return false;
		if (!ld->apply)
			return true;
		if (hak_option_exists(key))
			report(ld, line, -EINVAL, "%s: takes a %s, not a mapping", key,
			       hak_option_is_list(key) ? "list" : "single value");
		else if (!mapping_for_option(ld, sc))
			report(ld, line, -EINVAL,
			       "%s: nested too deep (a profile has at most 'section: { key: value }')",
			       key);
		return true;
	}

	struct scope inner = {
		.prefix = key,
		.line = line,
		.is_option = ld->apply && hak_option_exists(key),
	};

	if (!walk_mapping(ld, &inner, level + 1))
		return false;
	/* "stats: {}": no key inside to complain about the mapping. */
	if (inner.is_option && !inner.children)
		mapping_for_option(ld, &inner);
	return true;
}

/* Walk the mapping whose start event was just read, up to its end. */
static bool walk_mapping(struct loader *ld, struct scope *sc, unsigned level)
{
	for (;;) {
		char key[PROFILE_KEY_MAX];
		const char *bad = NULL;
		yaml_event_t k, v;
		unsigned line;
		bool ok;

		if (!next(ld, &k))
			return false;
		if (k.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&k);
			return true;
		}
		sc->children++;
		line = line_of(&k.start_mark);
		key[0] = 0;
		if (k.type != YAML_SCALAR_EVENT) {
			bad = "a key must be a plain word";
		} else {
			const char *name = (const char *)k.data.scalar.value;
			int n = *sc->prefix ? snprintf(key, sizeof(key), "%s.%s", sc->prefix, name) :
					      snprintf(key, sizeof(key), "%s", name);

			if (n < 0 || (size_t)n >= sizeof(key))
				bad = "key too long";
			else if (has_nul(&k))
				bad = "a key holds a NUL character";
			else if (anchor_of(&k))
				bad = "anchors (&name) are not supported";
		}
		if (!skip_node(ld, &k)) {
			yaml_event_delete(&k);
			return false;
		}
		yaml_event_delete(&k);

		ld->key = key[0] ? key : sc->prefix;
		if (!next(ld, &v))
			return false;
		if (bad) {
			ok = skip_node(ld, &v);
			if (ok && key[0])
				key_error(ld, line, -EINVAL, "%.40s%s: %s", key,
					  strlen(key) > 40 ? "..." : "", bad);
			else if (ok)
				key_error(ld, line, -EINVAL, "%s", bad);
		} else {
			ok = walk_value(ld, sc, level, key, line, &v);
		}
		yaml_event_delete(&v);
		ld->key = NULL;
		if (!ok || ld->stop)
			return false;
	}
}

/*
 * One pass over the file: the first document's top mapping, then a look
 * at what follows it.  Returns false when a fatal error ended it.
 */
static bool walk_stream(struct loader *ld)
{
	yaml_event_t ev;
	bool ok = true;

	ld->depth = 0;
	ld->key = NULL;
	if (!yaml_parser_initialize(&ld->parser)) {
		fatal(ld, 0, -ENOMEM, "out of memory while parsing; profile ignored");
		return false;
	}
	ld->parser_live = true;
	yaml_parser_set_input_string(&ld->parser, ld->buf, ld->len);

	if (!next(ld, &ev))		/* STREAM-START */
		return false;
	yaml_event_delete(&ev);
	if (!next(ld, &ev))
		return false;
	if (ev.type == YAML_STREAM_END_EVENT) {	/* empty, or comments only */
		yaml_event_delete(&ev);
		return true;
	}
	yaml_event_delete(&ev);		/* DOCUMENT-START */

	if (!next(ld, &ev))
		return false;
	if (ev.type == YAML_MAPPING_START_EVENT) {
		struct scope top = { .prefix = "" };

		if (anchor_of(&ev))
			key_error(ld, line_of(&ev.start_mark), -EINVAL,
				  "anchors (&%s) are not supported", anchor_of(&ev));
		ok = walk_mapping(ld, &top, 1);
	} else if (ev.type != YAML_SCALAR_EVENT || !is_null(&ev)) {
		/* A bare "---" is an empty document; anything else is no profile. */
		fatal(ld, line_of(&ev.start_mark), -EINVAL,
		      "a profile is a mapping of 'key: value' lines; profile ignored");
		ok = false;
	}
	yaml_event_delete(&ev);
	if (!ok)
		return false;

	if (!next(ld, &ev))		/* DOCUMENT-END */
		return false;
	yaml_event_delete(&ev);
	if (!next(ld, &ev))
		return false;
	if (ev.type == YAML_DOCUMENT_START_EVENT)
		ld->next_doc_line = line_of(&ev.start_mark);
	yaml_event_delete(&ev);
	return true;
}

static void parser_done(struct loader *ld)
{
	if (ld->parser_live)
		yaml_parser_delete(&ld->parser);
	ld->parser_live = false;
}

static int yaml_load(const char *path)
{
	struct loader *ld;
	int status;

	if (!path || !*path) {
		hak_config_error("HAKMEM_PROFILE", "empty file name; no profile loaded");
		return -ENOENT;
	}
	ld = calloc(1, sizeof(*ld) + strlen(path) + 16);
	if (!ld) {
		hak_config_error(path, "out of memory; profile ignored");
		return -ENOMEM;
	}
	ld->path = path;

	if (read_profile(ld) == 0) {
		bool clean = walk_stream(ld);

		parser_done(ld);
		if (clean) {
			ld->apply = true;
			walk_stream(ld);
			parser_done(ld);
			if (ld->next_doc_line && !ld->stop)
				hak_config_error(where_at(ld, ld->next_doc_line),
						 "a profile is one YAML document; the ones from here on are ignored");
		}
	}
	status = ld->status;
	free(ld->seen);
	free(ld->buf);
	free(ld);
	return status;
}

const struct hak_profile_source hak_profile_yaml = { .load = yaml_load };
HAK_REGISTER_PROFILE_SOURCE(hak_profile_yaml);
