#!/bin/sh
# SPDX-License-Identifier: MIT
#
# test-summary.sh RESULTS - sum up the PASS/FAIL lines run-test.sh wrote.
# The last line is "N passed, N failed"; the exit status is 1 when any
# program failed.

set -u

results=$1
[ -f "$results" ] || : >"$results"

passed=$(grep -c '^PASS ' "$results")
failed=$(grep -c '^FAIL ' "$results")

echo
if [ "$failed" -gt 0 ]; then
	echo "Failed:"
	sed -n 's/^FAIL /  /p' "$results"
fi
if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
	echo "warning: no test program ran"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
