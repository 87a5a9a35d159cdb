#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# suites.sh [NAME=]LIB... - real projects' own regression suites, run
# once with glibc's malloc (no preload) and once under LD_PRELOAD of each
# LIB.  A test passes when it ends the same way under every LIB as under
# glibc.  NAME labels a library in the report; by default it is the name
# of the directory LIB is in.
#
# Suites, each a fixed selection, picked to allocate hard and to finish
# in a bounded time (the lists below say what was left out and why):
#
#   python   CPython's own tests (Debian: libpython3.11-testsuite), one
#            process per test module, with PYTHONMALLOC=malloc so that
#            every object comes from malloc instead of pymalloc's arenas
#   glib     GLib's installed tests (libglib2.0-tests), one process per
#            test program, with G_SLICE=always-malloc for the same reason
#   mariadb  MariaDB's mysql-test-run (mariadb-test): the perl driver, the
#            server and the mariadb-test client all run under the library
#
# Output: one line per test, "ok SUITE/TEST", or "FAIL SUITE/TEST (glibc:
# pass, NAME: fail, ...)" followed by an excerpt of the output of the
# first library that differs from glibc; "skip SUITE (why)" for a suite
# whose package is missing (scripts/install-deps.sh suites installs them),
# not counted.  A test that ends the same way under glibc and every
# library but does not pass is "ok ... (so does glibc: OUTCOME)": the
# selection has only tests that pass on a Debian bookworm machine, so it
# says the machine differs.  Lines that start with "#" say how long each
# run took.  The last line is exactly "N passed, N failed".  Exit status:
# 0 if all passed, 1 if any failed, 2 on a usage error.
#
# SUITES (default "python glib mariadb") picks the suites to run,
# SUITES_JOBS (default: the number of CPUs) how many tests run at once,
# SUITES_TIMEOUT (seconds, default 300) bounds each test (mariadb's whole
# run gets three times that); SUITES_KEEP=1 keeps every test's output in
# the scratch directory it names.  On 2 cores, glibc and two libraries take
# about six minutes all together.

if [ -z "${BASH_VERSION:-}" ]; then
	exec bash "$0" "$@"
fi

set -u

usage() {
	echo "usage: $0 [NAME=]LIB... (paths to libhakmem.so)" >&2
	exit 2
}

names=()
libs=()
[[ $# -gt 0 ]] || usage
for arg; do
	name=${arg%%=*}
	lib=${arg#*=}
	if [[ $name == "$arg" ]]; then
		name=$(basename -- "$(dirname -- "$(readlink -f -- "$lib")")")
	fi
	if [[ ! -f $lib ]]; then
		echo "error: library '$lib' not found" >&2
		usage
	fi
	if [[ $name == glibc || $name == */* || -z $name ]]; then
		echo "error: '$name' cannot name a library" >&2
		usage
	fi
	names+=("$name")
	libs+=("$(readlink -f -- "$lib")")
done

SUITES=${SUITES:-python glib mariadb}
JOBS=${SUITES_JOBS:-$(nproc 2>/dev/null || echo 2)}
TIMEOUT=${SUITES_TIMEOUT:-300}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-suites.XXXXXX") || exit 2
if [[ -n ${SUITES_KEEP:-} ]]; then
	echo "# outputs kept in $TMP"
else
	trap 'rm -rf -- "$TMP"' EXIT
fi
ulimit -c 0 2>/dev/null

# passed, failed, skip and finish.
. "$(dirname -- "$0")/../tools/lib.sh"

unset LD_PRELOAD MALLOC_CONF MALLOC_CHECK_ MALLOC_PERTURB_
export LC_ALL=C.UTF-8 TZ=UTC
export PYTHONMALLOC=malloc PYTHONDONTWRITEBYTECODE=1
export G_SLICE=always-malloc

# ---- python ---------------------------------------------------------------

# The system's interpreter, the one Debian's testsuite package goes with
# (a python3 earlier in PATH, pyenv's say, comes with tests of its own or
# none).
PYTHON=${SUITES_PYTHON:-/usr/bin/python3}

# The longest first, so that the jobs end together.  Left out of the
# whole suite, to keep to about a minute on 2 cores: the modules that
# take over 10 s (asyncio, multiprocessing, concurrent.futures, io,
# subprocess, socket, ssl, signal, logging, threading, venv, faulthandler)
# and some of 3 to 13 s that would add little (zipfile, lzma, bz2 and
# tarfile, whose compressors allocate a few big buffers; buffer, email,
# statistics, datetime); those that need the network or a compiler
# (test_cppext, test_ensurepip, test_compileall); those that measure time
# (test_time, test_poll, test_selectors, test_queue, test_eintr);
# test_cmd_line and test_idle, which fail under glibc too (no tkinter, no
# build tree).  Debian's package has no test_capi and no test_sqlite3.
python_tests=(
	test_pickle test_weakref test_compile test_ast test_itertools
	test_exceptions test_set test_decimal test_bytes test_json
	test_tracemalloc test_gc test_long test_unicode test_math test_deque
	test_re test_os test_pickletools test_descr test_traceback
	test_unicodedata test_tokenize test_int test_codecs test_zlib
	test_hashlib test_thread test_sys test_marshal test_array test_typing
	test_dict test_dictviews test_list test_tuple test_collections
	test_ordered_dict test_defaultdict test_heapq test_bisect test_sort
	test_memoryview test_picklebuffer test_struct test_float test_strtod
	test_complex test_fractions test_functools test_operator
	test_generators test_class test_copy test_format test_fstring
	test_grammar test_peepholer test_xml_etree test_xml_etree_c
	test_minidom test_pyexpat test_plistlib test_gzip test_base64
	test_binascii test_csv test_dbm_dumb test_memoryio test_mmap
	test_threading_local test_dataclasses test_enum test_difflib
	test_pprint test_string test_userdict test_userlist test_userstring
	test_ctypes
)

python_check() {
	[[ -x $PYTHON ]] || { echo "$PYTHON is not installed"; return; }
	"$PYTHON" -c 'import test.regrtest, test.test_dict' 2>/dev/null ||
		echo "no test package for $PYTHON: install libpython3.11-testsuite"
}

python_one() {
	timeout -k 10 "$TIMEOUT" "$PYTHON" -m test -u none "$1"
}

python_run() {
	pool python "$1" "$2" "${python_tests[@]}"
}

# ---- glib -----------------------------------------------------------------

GLIB_TESTS=/usr/share/installed-tests/glib

# Every installed test but these.  Timing: performance and
# performance-threaded (benchmarks), timeout, mainloop, thread-pool-slow,
# thread-deprecated, 1bit-mutex and the *-refcount* tests, which run for
# a fixed time or sleep, and the lock tests (mutex, rec-mutex, rwlock,
# cond: contended loops that allocate little and take 3 to 20 s as the
# scheduler pleases).  Over 5 s each: io-channel-basic, gsubprocess,
# socket, gdbus-proxy, slice-memchunk (GMemChunk, now a layer over the
# GSlice calls slice-glib makes) and codegen.py (a Python program, which
# the python suite covers).  gsocketclient-slow sets LD_PRELOAD itself (a
# library that slows connect() down), which would drop hakmem.  file and
# fileutils assume an unprivileged user (as root they fail, and fileutils
# makes /usr/b/c); static-link needs a compiler.
glib_skip=" performance performance-threaded timeout mainloop thread-pool-slow
	thread-deprecated 1bit-mutex closure-refcount objects-refcount1
	objects-refcount2 properties-refcount1 properties-refcount2
	properties-refcount3 properties-refcount4 signals-refcount1
	signals-refcount2 signals-refcount3 signals-refcount4 mutex rec-mutex
	rwlock cond io-channel-basic gsubprocess socket gdbus-proxy
	slice-memchunk codegen.py gsocketclient-slow file fileutils
	static-link "

glib_check() {
	[[ -d $GLIB_TESTS ]] || echo "libglib2.0-tests is not installed"
}

glib_one() {
	local argv
	read -r -a argv < <(sed -n 's/^Exec=//p' "$GLIB_TESTS/$1.test")
	timeout -k 10 "$TIMEOUT" "${argv[@]}"
}

glib_run() {
	local tests=() f t
	for f in "$GLIB_TESTS"/*.test; do
		t=$(basename "$f" .test)
		[[ $glib_skip == *[[:space:]]"$t"[[:space:]]* ]] || tests+=("$t")
	done
	pool glib "$1" "$2" "${tests[@]}"
}

# ---- mariadb --------------------------------------------------------------

MTR=${SUITES_MTR:-/usr/share/mysql/mysql-test/mariadb-test-run.pl}

# From the main suite: queries, joins, subqueries, window functions,
# stored programs, strings and JSON, MyISAM, partitions, prepared
# statements.  Left out: func_time (it sleeps), mysqldump (18 s of
# mostly child processes), trigger (skipped as root).
mariadb_tests=(
	main.select main.join main.subselect main.group_by main.order_by
	main.alter_table main.create main.insert main.update main.delete
	main.func_str main.func_json main.fulltext main.partition
	main.type_blob main.derived main.cte_recursive main.win main.myisam
	main.sp main.view main.ps main.information_schema main.union main.gis
	main.func_regexp_pcre main.ctype_utf8 main.ctype_utf8mb4
	main.join_cache main.join_nested main.range main.having main.distinct
	main.func_group main.func_math main.type_datetime main.type_decimal
	main.type_varchar main.select_safe main.temp_table main.sp-error
	main.dyncol main.func_misc main.key main.count_distinct
	main.group_min_max main.selectivity main.opt_trace
)

mariadb_check() {
	[[ -f $MTR ]] || echo "mariadb-test is not installed"
}

# One run of mysql-test-run for all the tests (it starts and restarts
# servers as they need), from its own directory as it wants; its report
# is then split into a result and an output for each test, like the
# other suites'.
mariadb_run() {
	local dir=$TMP/$1/mariadb lib=$2 var=$TMP/w/mariadb
	mkdir -p "$dir"
	rm -rf "$var"
	(
		cd "$(dirname "$MTR")" || exit
		[[ -n $lib ]] && export LD_PRELOAD=$lib
		timeout -k 10 $((TIMEOUT * 3)) perl "$MTR" --vardir="$var" \
			--force --max-test-fail=0 --retry=1 --parallel="$JOBS" \
			--testcase-timeout=$(((TIMEOUT + 59) / 60)) \
			"${mariadb_tests[@]}" > "$dir/log" 2>&1 < /dev/null
	)
	awk -v dir="$dir" '
		function flush() {
			if (name != "") close(dir "/" name "/out")
			name = ""
		}
		/^[a-z0-9_]+\.[^ ]+ .*\[ [a-z-]+ \]/ {
			flush()
			name = $1
			if ($2 ~ /^\x27/) name = name "," substr($2, 2, length($2) - 2)
			result = $0
			sub(/^[^[]*\[ /, "", result)
			sub(/ \].*/, "", result)
			if (result == "skipped") result = "skip"
			system("mkdir -p \"" dir "/" name "\"")
			print result > (dir "/" name "/result")
			close(dir "/" name "/result")
			print > (dir "/" name "/out")
			next
		}
		/^-----|^The servers were|^Completed:|^Failed / { flush() }
		name != "" { print > (dir "/" name "/out") }
	' "$dir/log"
	# A test that mysql-test-run never reported: the end of its log says why.
	for t in "${mariadb_tests[@]}"; do
		compgen -G "$dir/$t*/result" > /dev/null && continue
		mkdir -p "$dir/$t"
		tail -n 15 "$dir/log" > "$dir/$t/out"
	done
}

# ---- driver ---------------------------------------------------------------

outcome() {
	case $1 in
	0) echo pass ;;
	77) echo skip ;;
	124 | 137) echo "timed out" ;;
	*)
		if [[ $1 -gt 128 ]]; then
			echo "killed by SIG$(kill -l $(($1 - 128)))"
		else
			echo "exit $1"
		fi
		;;
	esac
}

# pool SUITE MODE LIB TEST...: SUITE_one TEST for each TEST, JOBS at a
# time, with LIB preloaded unless it is empty; the results go to
# $TMP/MODE/SUITE/TEST.  Each test runs in an empty directory, also its
# HOME and TMPDIR, whose path is the same in every mode: sockets made
# there must fit in sun_path, and a path one character longer under one
# library than under glibc once made that library fail a test.
pool() {
	local suite=$1 mode=$2 lib=$3 test dir work start k=0 n=0
	shift 3
	for test; do
		if [[ $n -ge $JOBS ]]; then
			wait -n
		else
			n=$((n + 1))
		fi
		k=$((k + 1))
		dir=$TMP/$mode/$suite/$test
		work=$TMP/w/$suite/$k
		rm -rf "$work"
		mkdir -p "$dir" "$work"
		(
			cd "$work" || exit
			export HOME=$PWD TMPDIR=$PWD
			[[ -n $lib ]] && export LD_PRELOAD=$lib
			start=$(date +%s.%N)
			"${suite}_one" "$test" > "$dir/out" 2>&1 < /dev/null
			outcome $? > "$dir/result"
			echo "$start $(date +%s.%N)" | awk '{ printf "%.1f\n", $2 - $1 }' > "$dir/secs"
		) &
	done
	wait
}

# The lines of a test's output worth showing: from the first that names
# an error, else the last ones.
excerpt() {
	local out=$1 first
	[[ -s $out ]] || return 0
	first=$(grep -n -m 1 -E 'hakmem:|^(FAIL|ERROR):|Fatal Python error|Bail out!|^not ok|mysqltest: |CURRENT_TEST|[Ss]egmentation fault|Aborted|Traceback' "$out" |
		cut -d: -f1)
	if [[ -n $first ]]; then
		tail -n "+$first" "$out" | head -n 15
	else
		tail -n 15 "$out"
	fi | cut -c 1-200 | sed 's/^/    /'
}

result_of() {
	local f=$TMP/$1/$2/$3/result
	if [[ -s $f ]]; then cat "$f"; else echo "not run"; fi
}

# compare SUITE: a line for each test that glibc ran, comparing each
# library's result with glibc's (mode 0).
compare() {
	local suite=$1 test base m r first why
	for test in $(ls "$TMP/0/$suite" 2>/dev/null); do
		[[ -d $TMP/0/$suite/$test ]] || continue
		base=$(result_of 0 "$suite" "$test")
		why="glibc: $base"
		first=
		for m in "${modes[@]:1}"; do
			r=$(result_of "$m" "$suite" "$test")
			why="$why, ${labels[$m]}: $r"
			[[ $r == "$base" || -n $first ]] || first=$m
		done
		if [[ -z $first ]]; then
			passed=$((passed + 1))
			case $base in
			pass | skip) echo "ok $suite/$test" ;;
			*) echo "ok $suite/$test (so does glibc: $base)" ;;
			esac
		else
			failed=$((failed + 1))
			echo "FAIL $suite/$test ($why)"
			excerpt "$TMP/$first/$suite/$test/out"
		fi
	done
}

# Mode 0 is glibc; each library that a process started under it maps is
# one more mode.  One that is not mapped would only test glibc: say so.
labels=(glibc)
preloads=("")
modes=(0)
for i in "${!names[@]}"; do
	if LD_PRELOAD=${libs[$i]} cat /proc/self/maps 2> "$TMP/preload.err" |
		grep -qF -- "${libs[$i]}"; then
		passed=$((passed + 1))
		echo "ok preload ${names[$i]}"
		modes+=(${#labels[@]})
		labels+=("${names[$i]}")
		preloads+=("${libs[$i]}")
	else
		failed=$((failed + 1))
		echo "FAIL preload ${names[$i]} (${libs[$i]} is not mapped into a process started with LD_PRELOAD)"
		head -n 5 "$TMP/preload.err" | sed 's/^/    /'
	fi
done

run_suites=()
for suite in $SUITES; do
	if ! declare -F "${suite}_run" > /dev/null; then
		echo "error: no suite '$suite' (python, glib, mariadb)" >&2
		exit 2
	fi
	why=$("${suite}_check")
	if [[ -n $why ]]; then
		skip "$suite" "$why"
	else
		run_suites+=("$suite")
	fi
done

# Every suite under each mode in turn, glibc first, each run timed.
if [[ ${#run_suites[@]} -gt 0 && ${#modes[@]} -gt 1 ]]; then
	for m in "${modes[@]}"; do
		for suite in "${run_suites[@]}"; do
			start=$(date +%s)
			"${suite}_run" "$m" "${preloads[$m]}"
			echo "# ${labels[$m]}: $suite took $(($(date +%s) - start)) s"
		done
	done
	for suite in "${run_suites[@]}"; do
		compare "$suite"
	done
fi

finish
