#!/bin/sh
# SPDX-License-Identifier: MIT
#
# run-test.sh RESULTS LOG PROGRAM [ARG...] - run one test program under a
# timeout, save its output in LOG and print it, and append "PASS PROGRAM"
# or "FAIL PROGRAM" to RESULTS for test-summary.sh.
#
# TIMEOUT (seconds, default 300) bounds the run: a hung test is a failure,
# never a hung "make test".  TEST_TAG, when set, follows the name after an
# "@" (the profile a program ran under).

set -u

results=$1 log=$2
shift 2
name=$1${TEST_TAG:+@$TEST_TAG}
timeout=${TIMEOUT:-300}

mkdir -p "$(dirname "$log")" "$(dirname "$results")"
# The number of this program among those make test has run so far.
n=$(($(cat "$results" 2>/dev/null | wc -l) + 1))
echo "==== [$n] $name"
start=$(date +%s)
timeout -k 10 "$timeout" "$@" >"$log" 2>&1 </dev/null
rc=$?
secs=$(($(date +%s) - start))

if [ $rc -eq 0 ]; then
	# A passing suite's misuse tests make hakmem stop their children on
	# purpose: their reports are what the tests wanted to see.
	sed 's/^hakmem: fatal: /  (expected) hakmem: fatal: /' "$log"
	echo "  PASS    $name (${secs}s)"
	echo "PASS $name" >>"$results"
	exit 0
fi

if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
	why="timed out after ${timeout}s"
elif [ $rc -gt 128 ]; then
	why="killed by signal $((rc - 128))"
else
	why="exit status $rc"
fi
cat "$log"
echo "  FAIL    $name ($why, log in $log)"
echo "FAIL $name" >>"$results"
