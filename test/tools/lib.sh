# SPDX-License-Identifier: MIT
#
# lib.sh - what the test/tools scripts share, sourced by each: the count
# of checks, one line each ("ok NAME", "FAIL NAME" with what was seen,
# "skip NAME (why)", not counted), and the last line, exactly
# "N passed, N failed", with exit status 1 if any failed.

passed=0
failed=0

# result NAME STATUS [FILE...]: count a check whose command exited with
# STATUS; a failure shows the first lines of each FILE that is not empty.
result() {
	local name=$1 status=$2 f
	shift 2
	if [[ $status -eq 0 ]]; then
		passed=$((passed + 1))
		echo "ok $name"
		return
	fi
	failed=$((failed + 1))
	echo "FAIL $name (status $status)"
	for f; do
		[[ -s $f ]] && sed 's/^/    /' "$f" | head -n 20
	done
	return 0
}

skip() {
	echo "skip $1 ($2)"
}

finish() {
	echo "$passed passed, $failed failed"
	[[ $failed -eq 0 ]]
}
