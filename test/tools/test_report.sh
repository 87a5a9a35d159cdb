#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_report.sh [LIB] - tools/hakmem-report on test/data/stats-sample.json, on
# dumps derived from it (inconsistent, incomplete, malformed, with keys the
# tool does not know) and on a small benchmark CSV made here.
#
# Checks the text report section by section, the exit status and the one
# stderr line of every error, the medians and per-round ratios of --bench,
# source lines from addr2line (when gcc and addr2line are installed), the
# note when gnuplot is missing (always: it runs under a PATH without it)
# and, when gnuplot is installed, the SVG and PNG files it draws.  Given
# LIB (libhakmem.so), also the dump of a real workload run under it.
#
# Output: "ok NAME", "FAIL NAME" with what was seen, or "skip NAME (why)"
# (not counted).  The last line is exactly "N passed, N failed"; the exit
# status is 1 if any failed.
set -eu

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
tool=$root/tools/hakmem-report
sample=$root/test/data/stats-sample.json

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-report-test.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
export LC_ALL=C

passed=0
failed=0

# run ARGS...: the tool's stdout in $tmp/out, stderr in $tmp/err, status in $rc.
run() {
	rc=0
	"$tool" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
}

# run_bare ARGS...: run, with a PATH that holds python3 and nothing else.
run_bare() {
	rc=0
	env PATH="$tmp/bare" "$tool" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
}

# expect NAME COMMAND...: one test, passed when COMMAND succeeds.
expect() {
	local name=$1
	shift
	if "$@"; then
		passed=$((passed + 1))
		echo "ok $name"
	else
		failed=$((failed + 1))
		echo "FAIL $name (status $rc)"
		sed 's/^/    out: /' "$tmp/out" | head -n 8
		sed 's/^/    err: /' "$tmp/err" | head -n 4
	fi
}

skip() {
	echo "skip $1 ($2)"
}

# has REGEX...: every extended REGEX matches a line of the output.
has() {
	local re
	for re in "$@"; do
		grep -Eq -- "$re" "$tmp/out" || return 1
	done
}

lacks() {
	! grep -Eq -- "$1" "$tmp/out"
}

# count REGEX N: exactly N lines of the output match.
count() {
	[[ $(grep -Ec -- "$1" "$tmp/out") -eq $2 ]]
}

# after LINE: the line that follows the output line LINE.
after() {
	awk -v l="$1" 'found { print; exit } $0 == l { found = 1 }' "$tmp/out"
}

quiet_success() {
	[[ $rc -eq 0 && ! -s $tmp/err ]]
}

# fails_with REGEX: status 1, nothing on stdout, one stderr line matching.
fails_with() {
	[[ $rc -eq 1 && ! -s $tmp/out && $(wc -l <"$tmp/err") -eq 1 ]] &&
		grep -Eq -- "^hakmem-report: .*$1" "$tmp/err" &&
		! grep -q Traceback "$tmp/err"
}

# derive NAME CODE: $tmp/NAME, the sample with the Python statements CODE
# applied to its object d.
derive() {
	python3 - "$sample" "$tmp/$1" "$2" <<'EOF'
import json, sys
with open(sys.argv[1]) as f:
    d = json.load(f)
exec(sys.argv[3])
with open(sys.argv[2], "w") as f:
    json.dump(d, f)
EOF
}

# svg FILE: a non-empty SVG document.
svg() {
	[[ -s $1 ]] && head -c 5 "$1" | grep -Eq '^(<\?xml|<svg)'
}

mkdir "$tmp/bare"
ln -s "$(python3 -c 'import sys; print(sys.executable)')" "$tmp/bare/python3"

# ---- the sample ------------------------------------------------------------

run "$sample"
expect "sample: exit 0, nothing on stderr" quiet_success
expect "sample: header" has \
	'^hakmem statistics: version 0\.1\.0, pid 48213, elapsed 2\.034 s$' \
	'^config: policy=fixed superslab_bytes=2097152 .* stats_fastpath=true$'
expect "sample: one table per counter group" has \
	'^counters$' '^  alloc +count +% of alloc\.total$' '^  refill +count +% of refills$' \
	'^  free +count +% of free\.total$' '^  live +count$' '^  bigcache +count +% of lookups$' \
	'^  purge +count$' '^  superslab +count$' '^  slab +count$' \
	'^  policy +count +% of routed$' '^  threads +count$'
expect "sample: counts with thousands separators" has \
	'^    alloc\.total +4,875,420$' '^    purge\.bytes +9,699,328$' '^    threads\.heaps +5$'
expect "sample: free pipeline as shares of free.total" has \
	'^    free\.local +4,643,620 +95\.6%$' '^    free\.remote +211,530 +4\.4%$' \
	'^    free\.large +1,864 +0\.04%$' '^    free\.large\.cached +380 +<0\.01%$'
expect "sample: refill stages as shares of refills" has \
	'^    refill\.bump +40,562 +66\.3%$' '^    refill\.partial +12,407 +20\.3%$' \
	'^    refill\.pool +630 +1\.0%$'
expect "sample: BigCache hits of lookups, evictions without share" has \
	'^    bigcache\.hit +331 +80\.3%$' '^    bigcache\.miss +81 +19\.7%$' '^    bigcache\.evict +22$'
expect "sample: bytes in binary units" has \
	'^bytes +current +peak$' '^  mapped +98 MiB +202 MiB$' \
	'^  committed +68 MiB +182 MiB$' '^  in_use +50\.5 MiB +161 MiB$'
expect "sample: both checks ok" has \
	'^check: alloc\.total - free\.total == live\.blocks: ok$' \
	'^check: free\.local \+ free\.remote \+ free\.large == free\.total: ok$'
expect "sample: policy report" has \
	'^policy: fixed$' '^  policy=fixed epoch=0 bigcache_bytes=12582912 threshold=4MiB '
expect "sample: top sites by bytes, module+offset without symbol" \
	[ "$(after 'top 5 of 5 call sites by bytes')" = '   1. libsqlite3.so.0.8.6+0x2f3a1' ]
expect "sample: top sites by allocations" \
	[ "$(after 'top 5 of 5 call sites by allocations')" = '   1. _PyBytes_Resize+0x5c' ]
expect "sample: address without module" has '^   2\. 0x7f3a2c001e40$'
expect "sample: site figures and mean lifetime of freed blocks" has \
	'^      412 allocs, 410 frees, 1\.2 GiB, mean lifetime 240\.0 ms$' \
	'^      120 allocs, 118 frees, 29\.1 MiB, mean lifetime 45\.8 ms$'
expect "sample: size histogram bars" has \
	'^        <= 2 MiB  # +12$' '^        <= 4 MiB  #{30}  400$' \
	'^        <= 512 KiB  #{9} +27$'

run --top 2 "$sample"
expect "--top 2: two sites per list" eval \
	'quiet_success && count "^ +[0-9]+\. " 4 && has "^top 2 of 5 call sites by bytes$"'

# ---- dumps derived from the sample -----------------------------------------

derive extra.json '
d["written_by"] = "a newer hakmem"
d["counters"]["alloc.huge_pages"] = 7
d["counters"]["numa.migrated"] = 3
d["bytes"]["mapped"]["note"] = "ignored"
d["sites"][0]["colour"] = "ignored"
d["sites"].append({"symbol": "tiny", "allocs": 1, "frees": 0, "bytes": 0})'
run "$tmp/extra.json"
expect "unknown keys ignored, new counters listed" eval \
	'quiet_success && has "^    alloc\.huge_pages +7 +<0\.01%$" "^  numa +count$" "^    numa\.migrated +3$" \
		"^top 6 of 6 call sites by bytes$" "mean lifetime -$"'

# As core/stats.c writes it: no in_use gauge yet, hits counted only as
# alloc.large.cached, the last size bucket open (le 0).
derive writer.json '
d["bytes"]["in_use"] = None
del d["counters"]["bigcache.hit"]
d["sites"][3]["hist"][-1]["count"] = 2'
run "$tmp/writer.json"
expect "null gauge, open size bucket, no BigCache share without hits" eval \
	'quiet_success && has "^  in_use +- +-$" "^  bigcache +count$" "^    bigcache\.miss +81$" \
		"^ +<= 16 MiB  #{30}  37$" "^ +<= 32 MiB +0$" "^ +> 1 GiB  ## +2$"'

derive mismatch.json 'd["counters"]["free.total"] += 5'
run "$tmp/mismatch.json"
expect "inconsistent dump: MISMATCH lines, exit 0" eval \
	'[ $rc -eq 0 ] && has \
		"^check: alloc\.total - free\.total == live\.blocks: MISMATCH \(18,401 vs 18,406\)$" \
		"^check: free\.local \+ free\.remote \+ free\.large == free\.total: MISMATCH \(4,857,014 vs 4,857,019\)$"'

derive partial.json 'del d["counters"]["live.blocks"]; del d["counters"]["free.large"]'
run "$tmp/partial.json"
expect "missing counters: checks skipped, saying which" eval \
	'quiet_success && has \
		"^check: alloc\.total - free\.total == live\.blocks: skipped \(no live\.blocks\)$" \
		"^check: free\.local \+ free\.remote \+ free\.large == free\.total: skipped \(no free\.large\)$"'

derive nosites.json 'd["sites"] = []; del d["policy"]'
run "$tmp/nosites.json"
expect "no sites, no policy" eval 'quiet_success && has "^call sites: none recorded$" "^policy: -$"'

# ---- malformed input ---------------------------------------------------------

echo '{"hakmem_stats": 1, "counters": {' >"$tmp/truncated.json"
run "$tmp/truncated.json"
expect "not JSON: exit 1, one line" fails_with 'truncated\.json: not JSON \(.* at line [0-9]+ column [0-9]+\)$'

echo '{"counters": {}}' >"$tmp/nokey.json"
run "$tmp/nokey.json"
expect "no hakmem_stats key: exit 1, one line" fails_with 'no "hakmem_stats" key'

derive v2.json 'd["hakmem_stats"] = 2'
run "$tmp/v2.json"
expect "schema version 2: exit 1, one line" fails_with 'unsupported schema version 2 \(this tool reads 1\)$'

derive negative.json 'd["counters"]["free.remote"] = -1'
run "$tmp/negative.json"
expect "negative counter: exit 1, one line naming it" \
	fails_with 'counters\["free\.remote"\]: expected a non-negative integer, got -1$'

derive badsite.json 'del d["sites"][2]["bytes"]'
run "$tmp/badsite.json"
expect "site without bytes: exit 1, one line naming it" fails_with 'sites\[2\]\.bytes: missing$'

run "$tmp/absent.json"
expect "missing file: exit 1, one line" fails_with 'cannot read .*absent\.json: No such file'

run
expect "no DUMP and no --bench: usage error" [ "$rc" -eq 2 ]

# ---- --bench -----------------------------------------------------------------

# hakmem's median is 200 and mimalloc's 100, but the median of the per-round
# ratios (1, 3, 0.5) is 1.00x; glibc's failed round drops out of its ratios
# (0.5, 0.15 -> 0.325).
cat >"$tmp/runs.csv" <<'EOF'
larson,4,hakmem,1,100,1000
larson,4,mimalloc,1,100,2000
larson,4,glibc,1,,
larson,4,hakmem,2,300,1100
larson,4,mimalloc,2,100,2100
larson,4,glibc,2,50,900
larson,4,mimalloc,3,400,2200
larson,4,hakmem,3,200,1200
larson,4,glibc,3,60,950
vm,1,hakmem,1,5500000.0,20480
vm,1,mimalloc,1,5000000.0,40960
EOF
run --bench "$tmp/runs.csv"
expect "--bench: medians and per-round ratios vs mimalloc" eval \
	'quiet_success && has "^benchmark " "^  larson, 4 threads$" "^  vm, 1 thread$" \
		"^    hakmem +200 +1\.00x +1\.1 MiB$" "^    mimalloc +100 +1\.00x +2\.1 MiB$" \
		"^    glibc +55 +0\.33x +925 KiB  \(1/3 runs failed\)$" \
		"^    hakmem +5,500,000 +1\.10x +20 MiB$" && lacks "^counters$"'
cp "$tmp/out" "$tmp/bench-plain.out"

{
	echo 'workload,threads,allocator,round,ops_per_s,peak_rss_kib'
	cat "$tmp/runs.csv"
} >"$tmp/runs-header.csv"
run --bench "$tmp/runs-header.csv"
expect "--bench: the header line tools/bench writes is skipped" cmp -s "$tmp/out" "$tmp/bench-plain.out"

run --bench "$tmp/runs.csv" "$sample"
expect "--bench with a dump: both reports" eval 'quiet_success && has "^counters$" "^benchmark "'

printf 'larson,4,hakmem,1,100\n' >"$tmp/short.csv"
run --bench "$tmp/short.csv"
expect "--bench: a short line is an error naming file and line" \
	fails_with 'short\.csv:1: expected 6 fields'

# ---- addr2line -----------------------------------------------------------------

# A site in a program built here with debug information: its offset is
# site_fn's, whose body starts at prog.c line 2.
printf 'int site_fn(int x)\n{\n\treturn x * 3;\n}\n\nint main(void)\n{\n\treturn site_fn(1) - 3;\n}\n' \
	>"$tmp/prog.c"
if command -v addr2line >/dev/null && command -v nm >/dev/null &&
	gcc -g -O0 -o "$tmp/prog" "$tmp/prog.c" 2>/dev/null; then
	off=0x$(nm "$tmp/prog" | awk '$3 == "site_fn" { print $1 }')
	derive a2l.json "
d['sites'][2]['module'] = '$tmp/prog'
d['sites'][2]['offset'] = '$off'"
	run "$tmp/a2l.json"
	expect "addr2line: source line of a site" eval \
		'quiet_success && [ "$(after "   1. prog+$off")" = "      $tmp/prog.c:2" ]'
	run_bare "$tmp/a2l.json"
	expect "addr2line not on PATH: no source line, no complaint" eval \
		'quiet_success && [ "$(after "   1. prog+$off")" = "      412 allocs, 410 frees, 1.2 GiB, mean lifetime 240.0 ms" ]'
else
	skip "addr2line: source line of a site" "needs gcc and binutils"
fi

# ---- plots -----------------------------------------------------------------------

run_bare --plot-dir "$tmp/noplots" --bench "$tmp/runs.csv" "$sample"
expect "without gnuplot: report, one note, exit 0, no plots" eval \
	'[ $rc -eq 0 ] && has "^counters$" "^benchmark " &&
		[ "$(cat "$tmp/err")" = "hakmem-report: gnuplot not found (apt-get install gnuplot-nox); no plots written" ] &&
		[ -z "$(ls -A "$tmp/noplots" 2>/dev/null)" ]'

if command -v gnuplot >/dev/null; then
	run --plot-dir "$tmp/svg" --bench "$tmp/runs.csv" "$sample"
	expect "plots: report, then the files written" eval \
		'quiet_success && has "^counters$" \
			"^plots written to .*/svg: counters\.svg site-1\.svg site-2\.svg site-3\.svg site-4\.svg site-5\.svg bench\.svg$"'
	for f in counters site-1 site-2 site-3 site-4 site-5 bench; do
		expect "plots: $f.svg is an SVG document" svg "$tmp/svg/$f.svg"
	done
	expect "plots: the site chart names its site" grep -q 'libsqlite3.so.0.8.6+0x2f3a1' "$tmp/svg/site-1.svg"

	run --plot-dir "$tmp/png" --format png --top 2 "$sample"
	expect "plots: --format png --top 2 draws PNG files for two sites" eval \
		'quiet_success && [ "$(ls "$tmp/png")" = "$(printf "counters.png\nsite-1.png\nsite-2.png")" ] &&
			[ "$(head -c 4 "$tmp/png/counters.png" | tail -c 3)" = PNG ]'
else
	skip "plots" "gnuplot not installed: apt-get install gnuplot-nox"
fi

# End to end, when given the library (make test does): a bench workload
# under hakmem with HAKMEM_STATS=json, and the report of what it wrote.
lib=${1:-}
if [[ -n $lib && -f $lib ]] && command -v cc >/dev/null; then
	if cc -std=c11 -O2 -pthread -o "$tmp/randsizes" "$root/tools/randsizes.c" 2>"$tmp/cc.err"; then
		rc=0
		env HAKMEM_STATS=json HAKMEM_STATS_FILE="$tmp/live.json" LD_PRELOAD="$lib" \
			"$tmp/randsizes" -t 2 -s 0.2 >/dev/null 2>"$tmp/err" || rc=$?
		expect "live: randsizes runs with HAKMEM_STATS=json" eval '[ $rc -eq 0 ] && [ -s "$tmp/live.json" ]'
		if grep -q '"hakmem_stats": 1' "$tmp/live.json" 2>/dev/null; then
			run "$tmp/live.json"
			expect "live: the report of a real dump" eval \
				'quiet_success && grep -q "alloc.small.refill" "$tmp/out" && grep -q "free.remote" "$tmp/out" &&
				 grep -q "^small call sites, sampled at each refill" "$tmp/out"'
			expect "live: the dump is JSON with the documented sections" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["hakmem_stats"] == 1
for k in ("version", "pid", "elapsed_ms", "config", "counters", "bytes", "policy", "sites"):
    assert k in d, k
assert d["counters"]["alloc.small.refill"] > 0
assert d["bytes"]["mapped"]["peak"] > 0
assert d["small_sites"]["sampled_at"] == "refill" and d["small_sites"]["sites"]
' "$tmp/live.json"
		else
			skip "live" "the library was built without statistics"
		fi
	else
		skip "live" "cannot compile tools/randsizes.c"
	fi
else
	skip "live" "no library given"
fi

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
