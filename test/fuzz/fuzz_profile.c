// SPDX-License-Identifier: MIT
/*
 * test/fuzz/fuzz_profile.c - libFuzzer target: the input is a YAML profile,
 * read by the real loader (hak_profile_load(), frontends/conf_yaml.c)
 * through a memfd, so the file reading is exercised too.
 *
 * Whatever the bytes, the loader must return 0 or a negative errno with no
 * crash, hang, leak or sanitizer report.  Each input starts from the option
 * table as hak_init() left it: what one input set does not change how the
 * next one is read.  The loader's messages go to stderr; "make fuzz" runs
 * this target with -close_fd_mask=2 so that they do not flood the log.
 *
 * A profile that sets "strict" makes its next mistake end the process
 * (_exit(1)), as documented, and libFuzzer would take that for a crash:
 * such inputs are skipped.  libyaml finds them before the loader runs,
 * however the key is written (quoted, escaped, in a flow mapping).
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <yaml.h>

#include "init.h"
#include "options.h"

static int fd = -1;
static char path[64];
static struct hak_options initial;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	hak_init();
	hak_opts.strict = false;
	initial = hak_opts;
	fd = memfd_create("fuzz-profile", MFD_CLOEXEC);
	if (fd < 0) {
		perror("fuzz_profile: memfd_create");
		abort();
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return 0;
}

static bool sets_strict(const uint8_t *data, size_t len)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	bool found = false, end = false;

	if (!yaml_parser_initialize(&parser))
		abort();
	yaml_parser_set_input_string(&parser, data, len);
	while (!found && !end && yaml_parser_parse(&parser, &ev)) {
		found = ev.type == YAML_SCALAR_EVENT &&
			!strcmp((const char *)ev.data.scalar.value, "strict");
		end = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	return found;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	size_t done = 0;
	int rc;

	if (sets_strict(data, len))
		return -1;	/* not added to the corpus */
	if (ftruncate(fd, 0) < 0)
		abort();
	while (done < len) {
		ssize_t n = pwrite(fd, data + done, len - done, (off_t)done);

		if (n <= 0)
			abort();
		done += (size_t)n;
	}
	hak_opts = initial;
	rc = hak_profile_load(path);
	if (rc > 0) {
		fprintf(stderr, "fuzz_profile: hak_profile_load() = %d\n", rc);
		abort();
	}
	return 0;
}
