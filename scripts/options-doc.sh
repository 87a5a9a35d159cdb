#!/bin/sh
# SPDX-License-Identifier: MIT
#
# options-doc.sh GEN [--check] DOC... - rewrite the generated option tables
# of each DOC (docs/options.md, the man pages) with what GEN
# (scripts/gen-options-doc.c, built by the Makefile) prints.  A table sits
# between a line "<!-- generated: gen-options-doc PART -->" and
# "<!-- end generated -->"; in a man page between the roff comments
# '.\" generated: gen-options-doc PART' and '.\" end generated'.
# With --check the DOCs are left alone, and the exit status says whether
# they are up to date ("make options-doc" rewrites it).

set -eu

gen=$1
shift
check=
if [ "${1:-}" = --check ]; then
	check=1
	shift
fi
new=$(mktemp)
trap 'rm -f "$new"' EXIT
stale=0

for doc in "$@"; do
	awk -v gen="$gen" '
	/^<!-- end generated -->$/ || /^\.\\" end generated$/ { skip = 0 }
	skip { next }
	{ print }
	/^<!-- generated: gen-options-doc [a-z]+ -->$/ || /^\.\\" generated: gen-options-doc [a-z-]+$/ {
		cmd = gen " " $4
		while ((cmd | getline line) > 0)
			print line
		if (close(cmd) != 0) {
			print "options-doc.sh: " cmd " failed" > "/dev/stderr"
			exit 1
		}
		skip = 1
	}' "$doc" >"$new"
	if [ -z "$check" ]; then
		cat "$new" >"$doc"
	elif cmp -s "$doc" "$new"; then
		echo "$doc is up to date"
	else
		diff -u "$doc" "$new" || true
		echo "$doc is stale: run make options-doc" >&2
		stale=1
	fi
done
exit $stale
