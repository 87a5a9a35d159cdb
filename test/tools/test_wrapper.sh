#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_wrapper.sh LIB - statistics that always arrive, traces, and
# HAKMEM_OPTIONS.
#
# Under LIB (libhakmem.so): tools/hakmem --stats on a program that closes
# stderr before it exits (ls) and on a shell whose child runs under hakmem
# too (one summary each, labelled by pid and program, and the program's
# exit status kept); tools/hakmem --trace (the parent's file and its
# child's); HAKMEM_STATS_FILE patterns (%p, %e, %%); the file in
# $TMPDIR a dump falls back on when stderr is closed; HAKMEM_OPTIONS
# (values, list items, precedence between the sources, one line per bad
# item, strict mode).
#
# Output: "ok NAME" or "FAIL NAME" with what was seen; the last line is
# exactly "N passed, N failed"; the exit status is 1 if any failed.
set -eu

lib=${1:?usage: test_wrapper.sh LIB}
lib=$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
wrapper=$here/../../tools/hakmem

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-wrapper-test.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
export LC_ALL=C
unset HAKMEM_STATS HAKMEM_STATS_FILE HAKMEM_TRACE HAKMEM_TRACE_SAMPLE HAKMEM_OPTIONS HAKMEM_POLICY HAKMEM_PROFILE HAKMEM_STRICT

source "$here/lib.sh"

check() {
	local name=$1 status=0
	shift
	"$@" || status=$?
	result "$name" "$status" "$tmp/err"
}

# under ENV... -- PROGRAM...: run PROGRAM with the library preloaded; its
# stdout in $tmp/out, stderr in $tmp/err, status in $rc.
under() {
	local env=()
	while [[ $1 != -- ]]; do
		env+=("$1")
		shift
	done
	shift
	rc=0
	env "${env[@]}" LD_PRELOAD="$lib" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
}

# ---- tools/hakmem --stats ----

rc=0
(cd "$tmp" && "$wrapper" --lib "$lib" --stats -- ls -la /) >"$tmp/out" 2>"$tmp/err" || rc=$?
check "stats of a program that closes stderr arrive" \
	grep -q "^hakmem stats (pid [0-9]*, ls, " "$tmp/err"
check "the program's output is left alone" grep -q " \.\.$" "$tmp/out"

rc=0
"$wrapper" --lib "$lib" --stats -- bash -c 'ls / >/dev/null; exit 7' >"$tmp/out" 2>"$tmp/err" || rc=$?
check "a child's stats and the parent's, each labelled" \
	test "$(grep -c '^hakmem stats (pid [0-9]*, \(ls\|bash\), ' "$tmp/err")" -eq 2
check "the program's exit status is the wrapper's" test "$rc" -eq 7

"$wrapper" --lib "$lib" --stats -- true >"$tmp/out" 2>"$tmp/err" || true
check "a program named like a shell builtin runs as the program" \
	grep -q "^hakmem stats (pid [0-9]*, true, " "$tmp/err"
check "no statistics files are left behind" \
	test -z "$(find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'hakmem-stats.??????' -newer "$tmp" 2>/dev/null)"

# A process that only waits for its child (time(1) here) allocates nothing:
# its dump says so instead of a table of zeros that reads like a failure.
# Not under a sanitizer, whose runtime allocates in every process.
if ldd "$lib" | grep -Eq 'lib(a|ub|t)san'; then
	echo "skip a process that allocated nothing says so (a sanitizer's runtime allocates)"
elif [[ -x /usr/bin/time ]]; then
	"$wrapper" --lib "$lib" --stats -- /usr/bin/time -f '' bash -c true >"$tmp/out" 2>"$tmp/err" || true
	check "a process that allocated nothing says so" \
		eval 'grep -A1 "^hakmem stats (pid [0-9]*, time, " "$tmp/err" | grep -q "^  no allocations in this process$" &&
		grep -A1 "^hakmem stats (pid [0-9]*, bash, " "$tmp/err" | grep -q "alloc.small.refill"'
else
	echo "skip a process that allocated nothing says so (no /usr/bin/time)"
fi

# ---- tools/hakmem --trace ----

rc=0
(cd "$tmp" && "$wrapper" --lib "$lib" --trace t.trace -- bash -c 'ls / >/dev/null; exit 3') \
	>"$tmp/out" 2>"$tmp/err" || rc=$?
if grep -q "tracing is not compiled into this build" "$tmp/err"; then
	echo "skip tools/hakmem --trace (no tracing in this build)"
else
	check "--trace FILE: a trace at FILE, relative to where the wrapper ran" \
		eval '[[ $(head -c 8 "$tmp/t.trace") == HAKTRACE ]]'
	check "--trace FILE: a child writes FILE.PID" \
		eval '[[ $(head -c 8 "$(ls "$tmp"/t.trace.[0-9]* | head -n1)") == HAKTRACE ]]'
	check "--trace: the program's exit status is the wrapper's" test "$rc" -eq 3
fi
rc=0
"$wrapper" --lib "$lib" --trace >"$tmp/out" 2>"$tmp/err" || rc=$?
check "--trace without a FILE" eval '[[ $rc -eq 2 ]] && grep -q -- "--trace needs a FILE" "$tmp/err"'

# ---- HAKMEM_STATS_FILE and the fallback ----

under HAKMEM_STATS=summary "HAKMEM_STATS_FILE=$tmp/s.%e.%p.%%" -- bash -c 'echo $$'
pid=$(cat "$tmp/out")
check "%e, %p and %% in HAKMEM_STATS_FILE" test -s "$tmp/s.bash.$pid.%"

rm -f "$tmp"/hakmem-stats.*
under HAKMEM_STATS=summary "TMPDIR=$tmp" -- bash -c 'echo $$; exec 2>&-'
pid=$(cat "$tmp/out")
check "stderr closed: the dump goes to \$TMPDIR/hakmem-stats.PROG.PID" \
	grep -q "^hakmem stats (pid $pid, bash, " "$tmp/hakmem-stats.bash.$pid"

# ---- HAKMEM_OPTIONS ----

# policy LINE: the policy's report line of a summary dump in $tmp/err.
policy() {
	grep -o "policy=.*" "$tmp/err" | head -n1
}

under "HAKMEM_OPTIONS=stats=json,policy=elo, elo.k=16 ,purge.delay_ms=7" -- bash -c true
check "values from HAKMEM_OPTIONS" eval 'grep -q "\"purge_delay_ms\": 7" "$tmp/err" &&
	grep -q "\"report\": \"policy=elo .* k=16.0 " "$tmp/err"'
check "no message for good items" eval '! grep -q "^hakmem: " "$tmp/err"'

under HAKMEM_STATS=summary "HAKMEM_OPTIONS=elo.candidates=0,10,25,policy=elo" -- bash -c true
check "a list goes on after its item" eval '[[ $(policy) == *" delay2=25 "* && $(policy) != *" delay3="* ]]'

under HAKMEM_STATS=summary "HAKMEM_OPTIONS=policy=elo" HAKMEM_POLICY=fixed -- bash -c true
check "a single variable beats HAKMEM_OPTIONS" eval '[[ $(policy) == "policy=fixed "* ]]'

printf 'policy: fixed\n' >"$tmp/p.yaml"
under HAKMEM_STATS=summary "HAKMEM_PROFILE=$tmp/p.yaml" "HAKMEM_OPTIONS=policy=elo" -- bash -c true
check "HAKMEM_OPTIONS beats the profile" eval '[[ $(policy) == "policy=elo "* ]]'

bad=$'polcy=elo,policy,,purge.delay_ms=abc,stats=summary,\xc3\xa9=1'
under "HAKMEM_OPTIONS=$bad" -- bash -c true
check "one line per bad item, each named" eval '[[ $(grep -c "^hakmem: HAKMEM_OPTIONS: " "$tmp/err") -eq 5 ]] &&
	grep -q "polcy: unknown option" "$tmp/err" &&
	grep -q "'"'policy'"': not key=value" "$tmp/err" &&
	grep -q "item 3 is empty" "$tmp/err" &&
	grep -q "purge.delay_ms: '"'abc'"' is not" "$tmp/err" &&
	grep -q "item 6: .*not printable ASCII" "$tmp/err"'
check "the good items of a bad string still apply" grep -q "^hakmem stats (pid" "$tmp/err"
check "a bad string does not stop the program" test "$rc" -eq 0

long=$(printf 'x%.0s' {1..300})
under "HAKMEM_OPTIONS=stats=summary,$long=1" -- bash -c true
check "a very long item is refused by its number" grep -q "item 2: longer than 255 bytes" "$tmp/err"

under "HAKMEM_OPTIONS=bogus=1,strict=1" -- bash -c 'echo ran'
check "strict=1 in HAKMEM_OPTIONS stops at any bad item" \
	eval '[[ $rc -eq 1 ]] && ! grep -q ran "$tmp/out" && grep -q "bogus: unknown option (strict mode: stopping)" "$tmp/err"'

under "HAKMEM_OPTIONS=bogus=1" HAKMEM_STRICT=1 -- bash -c 'echo ran'
check "HAKMEM_STRICT=1 stops a bad HAKMEM_OPTIONS" test "$rc" -eq 1

finish
