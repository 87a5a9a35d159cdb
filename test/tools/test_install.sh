#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_install.sh [LIB] - "make install" into a scratch DESTDIR with
# PREFIX=/usr/local, for the build whose libhakmem.so is LIB (build/'s
# when not given; another directory is passed to make as O=), then
# "make uninstall".
#
# Checks the list of installed files and links, the SONAME, hakmem.pc
# (a program compiled against the tree with pkg-config, shared and
# static, runs on hakmem), the installed wrapper (--version, --help, the
# library it preloads, a run), that the man pages render without a
# warning and name every option of docs/options.md, that the profile in
# hakmem-profile(5) loads without a message, and that uninstall leaves no
# file behind.
#
# Output: "ok NAME" or "FAIL NAME" with what was seen; the last line is
# exactly "N passed, N failed"; the exit status is 1 if any failed.
set -eu

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
o=
if [[ -n ${1:-} ]]; then
	o=$(cd "$(dirname "$1")" && pwd)
	[[ $o != "$root/build" ]] || o=
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-install-test.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
export LC_ALL=C
dest=$tmp/dest
prefix=/usr/local
lib=$dest$prefix/lib

source "$here/lib.sh"

# check NAME COMMAND...: one test, passed when COMMAND succeeds; its output
# (in $tmp/out) is shown when it fails.
check() {
	local name=$1 status=0
	shift
	"$@" >"$tmp/out" 2>&1 || status=$?
	result "$name" "$status" "$tmp/out"
}

# mk ARGS...: make in the source tree, for this build directory.
mk() {
	make -s -C "$root" ${o:+O="$o"} PREFIX=$prefix DESTDIR="$dest" "$@"
}

# same FILE: FILE holds exactly what stdin holds.
same() {
	diff -u "$1" -
}

version=$(make -s -C "$root" version)

check "make install" mk install

# ---- the files -------------------------------------------------------------

(cd "$dest" && find . ! -type d | sed 's|^\./||' | sort) >"$tmp/files"
{
	for h in "$root"/include/hakmem*.h; do echo "usr/local/include/${h##*/}"; done
	echo usr/local/bin/hakmem
	echo usr/local/bin/hakmem-report
	echo usr/local/bin/hakmem-replay
	echo usr/local/libexec/hakmem/hakmem-replay
	echo usr/local/lib/libhakmem.a
	echo usr/local/lib/libhakmem.so
	echo usr/local/lib/libhakmem.so.0
	echo "usr/local/lib/libhakmem.so.$version"
	echo usr/local/lib/pkgconfig/hakmem.pc
	for p in "$root"/configs/profiles/*.yaml; do echo "usr/local/share/hakmem/profiles/${p##*/}"; done
	echo usr/local/share/man/man1/hakmem.1
	echo usr/local/share/man/man3/hakmem.3
	echo usr/local/share/man/man5/hakmem-profile.5
} | sort >"$tmp/expected"
check "installed files" same "$tmp/files" <"$tmp/expected"

links() {
	[[ $(readlink "$lib/libhakmem.so.0") == "libhakmem.so.$version" ]] &&
		[[ $(readlink "$lib/libhakmem.so") == libhakmem.so.0 ]] &&
		[[ -f $lib/libhakmem.so.$version && ! -L $lib/libhakmem.so.$version ]]
}
check "libhakmem.so -> libhakmem.so.0 -> libhakmem.so.$version" links

soname() {
	readelf -d "$lib/libhakmem.so.$version" | grep -F '(SONAME)' | tee /dev/stderr |
		grep -qF '[libhakmem.so.0]'
}
check "SONAME libhakmem.so.0" soname

modes() {
	[[ -x $dest$prefix/bin/hakmem && -x $dest$prefix/bin/hakmem-report ]] &&
		[[ -x $dest$prefix/bin/hakmem-replay && -x $dest$prefix/libexec/hakmem/hakmem-replay ]] &&
		[[ ! -x $dest$prefix/include/hakmem.h && ! -x $lib/pkgconfig/hakmem.pc ]]
}
check "modes" modes

# ---- pkg-config ------------------------------------------------------------

export PKG_CONFIG_SYSROOT_DIR=$dest PKG_CONFIG_LIBDIR=$lib/pkgconfig
pc() {
	[[ $(pkg-config --modversion hakmem) == "$version" ]] &&
		pkg-config --cflags --libs hakmem | tee /dev/stderr |
		grep -qx -- "-I$dest$prefix/include -L$lib -lhakmem *" &&
		pkg-config --libs --static hakmem | tee /dev/stderr | grep -q -- '-pthread'
}
check "pkg-config hakmem: version, --cflags --libs, --static" pc

cp "$root/test/data/app.c" "$tmp/app.c"

shared() {
	# shellcheck disable=SC2046 # pkg-config's words
	cc -o "$tmp/app" "$tmp/app.c" $(pkg-config --cflags --libs hakmem) &&
		readelf -d "$tmp/app" | grep -F '(NEEDED)' | grep -qF '[libhakmem.so.0]' &&
		[[ $(LD_LIBRARY_PATH=$lib "$tmp/app") == "hakmem $version" ]]
}
check "a program built with pkg-config runs on libhakmem.so.0" shared

# A sanitizer's runtime is not among the libraries hakmem.pc names.
if readelf -d "$lib/libhakmem.so.$version" | grep -q 'lib[a-z]*san\.so'; then
	echo "skip static link (a sanitizer build)"
else
	static() {
		# shellcheck disable=SC2046
		cc -static -o "$tmp/app-static" "$tmp/app.c" \
			$(pkg-config --cflags --libs --static hakmem) &&
			[[ $("$tmp/app-static") == "hakmem $version" ]]
	}
	check "a program linked statically with pkg-config --static runs" static
fi
unset PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_LIBDIR

# ---- the tools -------------------------------------------------------------

wrapper=$dest$prefix/bin/hakmem
check "hakmem --version" eval '[[ $("$wrapper" --version) == "hakmem $version" ]]'
help() {
	PATH=$dest$prefix/bin:$PATH hakmem --help | tee /dev/stderr | grep -q '^usage: hakmem \[' &&
		! grep -q 'tools/hakmem' <("$wrapper" --help)
}
check "hakmem --help says how it is called" help
check "the wrapper preloads $prefix/lib/libhakmem.so.0" \
	grep -qx "installed_lib=$prefix/lib/libhakmem.so.0" "$wrapper"
check "hakmem -- program" eval \
	'[[ $("$wrapper" --lib "$lib/libhakmem.so.0" -- "$tmp/app") == "hakmem $version" ]]'
check "hakmem-report --help" "$dest$prefix/bin/hakmem-report" --help
check "hakmem-replay --help" "$dest$prefix/bin/hakmem-replay" --help

# ---- the man pages ---------------------------------------------------------

man=$dest$prefix/share/man
if command -v groff >/dev/null 2>&1; then
	render() {
		local page
		for page in "$man"/man1/hakmem.1 "$man"/man3/hakmem.3 "$man"/man5/hakmem-profile.5; do
			[[ -z $(groff -man -ww -z "$page" 2>&1) ]] || { groff -man -ww -z "$page"; return 1; }
		done
	}
	check "man pages render without a warning" render
else
	echo "skip man pages render (no groff)"
fi

# Each option of docs/options.md's generated tables: its variable in
# hakmem(3), its key in hakmem-profile(5).
options() {
	local rows missing=0 key var
	rows=$(sed -n '/<!-- generated/,/<!-- end generated/p' "$root/docs/options.md" |
		sed -n 's/^| `\([a-z_.]*\)` | `\(HAKMEM_[A-Z_]*\)` |.*/\1 \2/p')
	[[ -n $rows ]] || { echo "no option rows in docs/options.md"; return 1; }
	while read -r key var; do
		grep -q "$var" "$root/man/hakmem.3" || { echo "hakmem.3 lacks $var"; missing=1; }
		grep -qF "$key" "$root/man/hakmem-profile.5" || { echo "hakmem-profile.5 lacks $key"; missing=1; }
	done <<<"$rows"
	return $missing
}
check "man pages name every option of docs/options.md" options

example() {
	sed -n '/^\.SH EXAMPLES/,/^\.SH/p' "$root/man/hakmem-profile.5" |
		sed -n '/^\.EX/,/^\.EE/p' | sed '1d;$d' >"$tmp/example.yaml"
	[[ -s $tmp/example.yaml ]] &&
		[[ $(HAKMEM_STRICT=1 HAKMEM_PROFILE=$tmp/example.yaml \
			LD_LIBRARY_PATH=$lib "$tmp/app" 2>&1) == "hakmem $version" ]]
}
check "the profile of hakmem-profile(5) loads without a message" example

# ---- uninstall -------------------------------------------------------------

check "make uninstall" mk uninstall
check "nothing left after uninstall" \
	eval '[[ -z $(find "$dest" ! -type d) && ! -e $dest$prefix/share/hakmem ]]'

finish
