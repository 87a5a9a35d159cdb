#!/bin/sh
# SPDX-License-Identifier: MIT
#
# check-layers.sh OBJDIR - fail when a core file reaches above its floor.
#
# The core is a stack of floors (docs/layers.md); each file may use the
# files below it and never one above.  The check reads the objects of a
# build (nm): every undefined symbol of a core object that another core
# object defines is an arrow, and an arrow that points up is an error.
# So is any reference from the core to a plugin (policies/, backends/,
# frontends/): plugins register themselves; the core names none.
set -eu

objdir=${1:?usage: check-layers.sh OBJDIR (a build directory)}

# Bottom first.  validate is built only with CONFIG_HAKMEM_DEBUG_VALIDATE,
# trace only with CONFIG_HAKMEM_TRACE.
FLOORS="base options stats trace sizeclass harden pagemap superslab validate pageheap heap
	policy bigcache large report blockcheck init alloc"

[ -d "$objdir/core" ] || {
	echo "check-layers: no core objects under $objdir (build first)" >&2
	exit 2
}

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

# "D file symbol" for definitions, "U file symbol" for uses; plugins are
# named @dir.
for o in "$objdir"/core/*.o "$objdir"/policies/*.o "$objdir"/backends/*.o \
	 "$objdir"/frontends/*.o; do
	[ -f "$o" ] || continue
	d=$(basename "$(dirname "$o")")
	f=$(basename "$o" .o)
	[ "$d" = core ] || f=@$d
	nm "$o" | awk -v f="$f" '
		$1 == "U" { print "U", f, $2; next }
		NF == 3 && $2 ~ /^[TDBRVWC]$/ { print "D", f, $3 }'
done >"$tmp"

awk -v floors="$FLOORS" '
	BEGIN {
		n = split(floors, fl, /[ \t\n]+/)
		for (i = 1; i <= n; i++) if (fl[i] != "") rank[fl[i]] = i
	}
	$1 == "D" { def[$3] = $2; next }
	{ use[NR] = $2 " " $3 }
	END {
		for (i in use) {
			split(use[i], a, " ")
			from = a[1]; to = def[a[2]]
			if (to == "" || to == from || substr(from, 1, 1) == "@") continue
			if (!(from in rank)) { printf "check-layers: %s.c is on no floor: add it to FLOORS\n", from; bad = 1; continue }
			up = substr(to, 1, 1) == "@" || !(to in rank) || rank[to] > rank[from]
			if (!up) continue
			arrow = from " " to
			if (!(arrow in told)) {
				printf "check-layers: core/%s.c uses %s of %s, a floor above it\n", from, a[2], to
				told[arrow] = 1
			}
			bad = 1
		}
		exit bad
	}' "$tmp"
echo "check-layers: every core arrow points down ($(echo $FLOORS | wc -w) floors)"
