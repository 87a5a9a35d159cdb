#!/bin/sh
# SPDX-License-Identifier: MIT
#
# check-package.sh [--system] - build the Debian packages from this tree
# with "dpkg-buildpackage -us -uc -b" and try them.
#
# The tree's files (those git tracks, and new ones it does not ignore) are
# copied to a scratch directory and built there, so the .debs and
# debhelper's files never land in the tree or beside it.  The packages are
# unpacked into a scratch root, where a program compiled with pkg-config
# against libhakmem-dev runs on libhakmem0, and hakmem-tools' wrapper runs
# "true" and that program.  With --system (as root) they are also
# installed with apt-get, "hakmem -- true" and a C program run on the
# installed library, and they are removed again.
#
# Needs dpkg-dev and debhelper, and the build dependencies of
# debian/control (scripts/install-deps.sh package installs them all).
# Prints "ok ..." lines; exits 1 at the first failure.

set -eu

system=0
case ${1:-} in
--system) system=1 ;;
"") ;;
*) echo "usage: $0 [--system]" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-package.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT

fail() {
	echo "check-package: $*" >&2
	exit 1
}

# The version is written once, in include/hakmem.h; the changelog must
# name the same one.
version=$(make -s -C "$root" version)
deb_version=$(dpkg-parsechangelog -l "$root/debian/changelog" -S Version)
[ "$deb_version" = "$version" ] ||
	fail "debian/changelog is at $deb_version, include/hakmem.h at $version: add a changelog entry"
echo "ok version $version"

src=$tmp/src/hakmem-$version
mkdir -p "$src"
(cd "$root" && git ls-files -z -c -o --exclude-standard | xargs -0 tar -cf - --) |
	tar -xf - -C "$src"
(cd "$src" && dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1 || {
	tail -n 30 "$tmp/build.log" >&2
	fail "dpkg-buildpackage failed (log above)"
}
arch=$(dpkg --print-architecture)
debs=
for pkg in libhakmem0 libhakmem-dev hakmem-tools; do
	deb=$tmp/src/${pkg}_${version}_$arch.deb
	[ -f "$deb" ] || fail "dpkg-buildpackage made no $deb"
	debs="$debs $deb"
done
echo "ok dpkg-buildpackage -us -uc -b:$(for d in $debs; do printf ' %s' "${d##*/}"; done)"

# Unpacked into a scratch root.
sysroot=$tmp/root
for deb in $debs; do
	dpkg-deb -x "$deb" "$sysroot"
done
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
libdir=$sysroot/usr/lib/$multiarch
soname=$(readelf -d "$libdir/libhakmem.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libhakmem.so.0 ] || fail "libhakmem0's library has SONAME '$soname', not libhakmem.so.0"
[ "$(readlink "$libdir/libhakmem.so.0")" = "libhakmem.so.$version" ] ||
	fail "libhakmem.so.0 is not a link to libhakmem.so.$version"
echo "ok libhakmem0: SONAME $soname"

cp "$root/test/data/app.c" "$tmp/app.c"

# run_app NAME EXPECTED COMMAND...: COMMAND prints EXPECTED and succeeds.
run_app() {
	name=$1 expected=$2
	shift 2
	out=$("$@" 2>&1) || fail "$name: exit status $? ($out)"
	[ "$out" = "$expected" ] || fail "$name: printed '$out', not '$expected'"
	echo "ok $name${out:+: $out}"
}

export PKG_CONFIG_SYSROOT_DIR="$sysroot" PKG_CONFIG_LIBDIR="$libdir/pkgconfig"
# shellcheck disable=SC2046 # pkg-config's words
cc -o "$tmp/app" "$tmp/app.c" $(pkg-config --cflags --libs hakmem) ||
	fail "cannot compile a program with pkg-config against libhakmem-dev"
# shellcheck disable=SC2046
cc -static -o "$tmp/app-static" "$tmp/app.c" $(pkg-config --cflags --libs --static hakmem) ||
	fail "cannot link a program statically with pkg-config --static"
unset PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_LIBDIR
run_app "program linked with libhakmem-dev" "hakmem $version" \
	env LD_LIBRARY_PATH="$libdir" "$tmp/app"
run_app "program linked statically" "hakmem $version" "$tmp/app-static"

wrapper=$sysroot/usr/bin/hakmem
run_app "hakmem --version" "hakmem $version" "$wrapper" --version
env PATH="$sysroot/usr/bin:$PATH" hakmem --help | grep -q '^usage: hakmem ' ||
	fail "hakmem --help does not begin with 'usage: hakmem'"
echo "ok hakmem --help"
grep -q "^installed_lib=/usr/lib/$multiarch/libhakmem.so.0\$" "$wrapper" ||
	fail "the packaged wrapper does not preload /usr/lib/$multiarch/libhakmem.so.0"
run_app "hakmem -- true" "" "$wrapper" --lib "$libdir/libhakmem.so.0" -- true
run_app "hakmem -- program" "hakmem $version" "$wrapper" --lib "$libdir/libhakmem.so.0" -- "$tmp/app"
[ -f "$sysroot/usr/share/hakmem/profiles/default.yaml" ] || fail "hakmem-tools has no profiles"
for page in man1/hakmem.1 man3/hakmem.3 man5/hakmem-profile.5; do
	[ -f "$sysroot/usr/share/man/$page.gz" ] || fail "no manual page $page"
done
echo "ok profiles and manual pages"
replay=$sysroot/usr/bin/hakmem-replay
grep -q '^INSTALLED_ENGINE = "/usr/libexec/hakmem/hakmem-replay"$' "$replay" ||
	fail "the packaged hakmem-replay does not name /usr/libexec/hakmem/hakmem-replay"
"$wrapper" --lib "$libdir/libhakmem.so.0" --trace "$tmp/app.trace" -- "$tmp/app" >/dev/null ||
	fail "hakmem --trace -- program failed"
"$replay" --engine "$sysroot/usr/libexec/hakmem/hakmem-replay" "$tmp/app.trace" >"$tmp/replay.out" 2>&1 ||
	fail "hakmem-replay of the program's trace failed: $(head -n 3 "$tmp/replay.out")"
grep -q '^trace ' "$tmp/replay.out" || fail "hakmem-replay printed no trace line"
echo "ok hakmem --trace, then hakmem-replay"

[ $system -eq 1 ] || exit 0

# Installed for real, and removed again unless they were there before.
installed=
for pkg in libhakmem0 libhakmem-dev hakmem-tools; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q ' ok installed$' ||
		installed="$installed $pkg"
done
# shellcheck disable=SC2086 # one word per file
DEBIAN_FRONTEND=noninteractive apt-get install -y -q $debs >"$tmp/apt.log" 2>&1 || {
	tail -n 20 "$tmp/apt.log" >&2
	fail "apt-get install of the .debs failed"
}
echo "ok apt-get install$(for d in $debs; do printf ' %s' "${d##*/}"; done)"
# shellcheck disable=SC2046
cc -o "$tmp/app-installed" "$tmp/app.c" $(pkg-config --cflags --libs hakmem) ||
	fail "cannot compile against the installed libhakmem-dev"
run_app "installed: program linked with -lhakmem" "hakmem $version" "$tmp/app-installed"
run_app "installed: hakmem -- true" "" hakmem -- true
run_app "installed: hakmem -- program" "hakmem $version" hakmem -- "$tmp/app-installed"
hakmem --trace "$tmp/installed.trace" -- "$tmp/app-installed" >/dev/null &&
	hakmem-replay "$tmp/installed.trace" >/dev/null ||
	fail "installed: hakmem --trace, then hakmem-replay, failed"
echo "ok installed: hakmem --trace, then hakmem-replay"
if [ -n "$installed" ]; then
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get remove -y -q $installed >"$tmp/apt.log" 2>&1 ||
		fail "apt-get remove$installed failed"
	echo "ok apt-get remove$installed"
fi
