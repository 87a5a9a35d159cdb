#!/bin/sh
# SPDX-License-Identifier: MIT
#
# install-deps.sh [build|test|bench|fuzz|package|suites|all] - install the Debian packages
# hakmem needs for building, testing or benchmarking that are missing.
# Does nothing (and needs no network) when all of them are installed.
#
#   build  C and C++ compilers, make, pkg-config, Kconfig tools, libyaml
#   test   build + Check, python3, sqlite3, git (test/programs), valgrind
#   bench  build + valgrind (callgrind), the peer allocators (mimalloc,
#          jemalloc, tcmalloc), /usr/bin/time, gnuplot
#   fuzz   build + clang and its sanitizer runtimes, libFuzzer included
#          (make fuzz)
#   package  build + dpkg-dev and debhelper (scripts/check-package.sh)
#   suites build + the test suites of CPython 3.11, GLib and MariaDB
#          (make test-suites; bookworm's names).  mariadb-test brings
#          mariadb-server, whose service a system with an init starts
#   all    all of the above but suites

set -eu

build="gcc g++ make pkg-config kconfig-frontends-nox libyaml-dev"
test="check libsubunit-dev python3 sqlite3 git valgrind"
bench="python3 sqlite3 valgrind libmimalloc2.0 libjemalloc2 libtcmalloc-minimal4 time gnuplot-nox"
# clang only recommends its runtimes, and --no-install-recommends skips them.
fuzz="clang libclang-rt-dev"
package="dpkg-dev debhelper"
suites="libpython3.11-testsuite libglib2.0-tests mariadb-test"

case ${1:-build} in
build)	wanted="$build" ;;
test)	wanted="$build $test" ;;
bench)	wanted="$build $bench" ;;
fuzz)	wanted="$build $fuzz" ;;
package) wanted="$build $package" ;;
suites)	wanted="$build $suites" ;;
all)	wanted="$build $test $bench $fuzz $package" ;;
*)	echo "usage: $0 [build|test|bench|fuzz|package|suites|all]" >&2; exit 2 ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "install-deps: not a Debian system; make sure these are installed:" >&2
	echo "  $wanted" >&2
	exit 0
fi

missing=
for pkg in $wanted; do
	case " $missing " in *" $pkg "*) continue ;; esac
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	case $status in
	*" ok installed") ;;
	*) missing="$missing $pkg" ;;
	esac
done
missing=${missing# }
[ -n "$missing" ] || exit 0

if [ "$(id -u)" -eq 0 ]; then
	sudo=
elif command -v sudo >/dev/null 2>&1; then
	sudo=sudo
else
	echo "install-deps: missing packages: $missing" >&2
	echo "install-deps: run as root: apt-get install $missing" >&2
	exit 1
fi

echo "install-deps: installing $missing"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
# shellcheck disable=SC2086 # one word per package
$sudo env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y -q --no-install-recommends $missing
