#!/bin/sh
# SPDX-License-Identifier: MIT
#
# run-fuzz.sh DIR SECONDS - run each libFuzzer target DIR/test/fuzz/fuzz_NAME
# for SECONDS, starting from the seeds in test/fuzz/corpus/NAME/.
#
# The seeds are copied to DIR/fuzz-corpus/NAME/, where what the fuzzer
# finds accumulates from run to run; the committed corpus is never written.
# A crashing input is saved as DIR/fuzz-crashes/NAME-crash-*, and replays
# with "DIR/test/fuzz/fuzz_NAME FILE".  Exit status 1 if any target failed.

set -u

dir=$1 seconds=$2
failed=

# libFuzzer reads a bad -max_total_time as 0, "no limit": refuse it here.
case $seconds in
'' | *[!0-9]* | 0) echo "run-fuzz: FUZZ_SECONDS must be a positive whole number, not '$seconds'" >&2
	exit 2 ;;
esac

for bin in "$dir"/test/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	name=${bin##*/fuzz_}
	corpus=$dir/fuzz-corpus/$name
	mkdir -p "$corpus" "$dir/fuzz-crashes"
	if [ -d "test/fuzz/corpus/$name" ]; then
		cp -n "test/fuzz/corpus/$name"/* "$corpus"/ 2>/dev/null
	fi
	set -- -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$dir/fuzz-crashes/$name-"
	[ -f "test/fuzz/fuzz_$name.dict" ] && set -- "$@" -dict="test/fuzz/fuzz_$name.dict"
	# The profile loader reports each mistake on stderr, which would bury
	# libFuzzer's own lines; sanitizer reports still come through.
	[ "$name" = profile ] && set -- "$@" -close_fd_mask=2
	echo "==== fuzz_$name (${seconds}s)"
	start=$(date +%s)
	if "$bin" "$@" "$corpus" >"$dir/fuzz-$name.log" 2>&1; then
		tail -n 12 "$dir/fuzz-$name.log"
		echo "  PASS    fuzz_$name ($(($(date +%s) - start))s)"
	else
		tail -n 60 "$dir/fuzz-$name.log"
		echo "  FAIL    fuzz_$name (log in $dir/fuzz-$name.log)"
		failed="$failed fuzz_$name"
	fi
done

if [ -n "$failed" ]; then
	echo "Failed:$failed"
	exit 1
fi
