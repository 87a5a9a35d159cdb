#!/bin/sh
# SPDX-License-Identifier: MIT
#
# options-doc.sh GEN DOC [--check] - rewrite the generated option tables
# of DOC (docs/options.md) with what GEN (scripts/gen-options-doc.c, built
# by the Makefile) prints.  A table sits between a line
# "<!-- generated: gen-options-doc PART -->" and "<!-- end generated -->".
# With --check DOC is left alone, and the exit status says whether it is
# up to date ("make options-doc" rewrites it).

set -eu

gen=$1 doc=$2
new=$(mktemp)
trap 'rm -f "$new"' EXIT

awk -v gen="$gen" '
/^<!-- end generated -->$/ { skip = 0 }
skip { next }
{ print }
/^<!-- generated: gen-options-doc [a-z]+ -->$/ {
	cmd = gen " " $4
	while ((cmd | getline line) > 0)
		print line
	if (close(cmd) != 0) {
		print "options-doc.sh: " cmd " failed" > "/dev/stderr"
		exit 1
	}
	skip = 1
}' "$doc" >"$new"

if [ "${3:-}" = --check ]; then
	if ! cmp -s "$doc" "$new"; then
		diff -u "$doc" "$new" || true
		echo "$doc is stale: run make options-doc" >&2
		exit 1
	fi
	echo "$doc is up to date"
	exit 0
fi
cat "$new" >"$doc"
