#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_report.sh [LIB] - tools/hakmem-report on test/data/stats-sample.json, on
# dumps derived from it (inconsistent, incomplete, malformed, with keys the
# tool does not know, from before the page heap) and on a small benchmark
# CSV made here.
#
# Checks the text report section by section (the large blocks, the page
# heap and its reuse by age among them), the exit status and the one
# stderr line of every error, the medians and per-round ratios of --bench,
# source lines from addr2line (when gcc and addr2line are installed), the
# note when gnuplot is missing (always: it runs under a PATH without it)
# and, when gnuplot is installed, the SVG and PNG files it draws.  Given
# LIB (libhakmem.so), also the dumps of two real workloads run under it
# (tools/randsizes, and tools/bigbuf for the page heap).
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

source "$here/lib.sh"

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
	local name=$1 status=0
	shift
	"$@" || status=$?
	result "$name" "$status" "$tmp/out" "$tmp/err"
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

# test/data/stats-sample.json: a Python script (spans, 3 MiB buffers again
# and again, varying 5 to 20 MiB buffers, a 40 MiB one, bytearrays grown by
# realloc, pauses) under the elo policy with elo.map_min=32MiB, in a build
# with CONFIG_HAKMEM_STATS_FASTPATH; the modules' paths made relative.
run "$sample"
expect "sample: exit 0, nothing on stderr" quiet_success
expect "sample: header" has \
	'^hakmem statistics: version 0\.1\.0, pid 30292, elapsed 1\.192 s$' \
	'^config: policy=elo superslab_bytes=2097152 .* stats_fastpath=true$'
expect "sample: one table per counter group" has \
	'^counters$' '^  alloc +count +% of alloc\.total$' '^  refill +count +% of refills$' \
	'^  free +count +% of free\.total$' '^  live +count$' '^  realloc +count$' \
	'^  purge +count$' '^  pageheap +count$' '^  superslab +count$' '^  slab +count$' \
	'^  policy +count +% of routed$' '^  threads +count$'
expect "sample: no BigCache lookups any more" lacks '^  bigcache '
expect "sample: counts with thousands separators" has \
	'^    alloc\.total +5,559$' '^    purge\.bytes +8,192,000$' '^    threads\.heaps +1$' \
	'^    pageheap\.decayed_bytes +546,533,376$'
expect "sample: large counters as shares of the totals" has \
	'^    alloc\.large +884 +15\.9%$' '^    alloc\.large\.heap +81 +1\.5%$' \
	'^    alloc\.large\.bigcache +395 +7\.1%$' '^    free\.large\.bigcache +428 +7\.8%$' \
	'^    free\.large\.released +4 +0\.07%$'
expect "sample: refill stages as shares of refills" has \
	'^    refill\.bump +284 +76\.5%$' '^    refill\.partial +4 +1\.1%$' \
	'^    refill\.pool +83 +22\.4%$'
expect "sample: routes as shares of routed requests" has \
	'^    policy\.route\.span +403 +82\.6%$' '^    policy\.route\.heap +81 +16\.6%$' \
	'^    policy\.route\.map +4 +0\.82%$'
expect "sample: bytes in binary units" has \
	'^bytes +current +peak$' '^  mapped +282 MiB +322 MiB$' \
	'^  committed +73\.4 MiB +139\.8 MiB$' '^  in_use +493\.8 KiB +-$'

expect "sample: large blocks by where they came from" has \
	'^large blocks: 884 allocated, 883 freed$' \
	'^  span +404 +45\.7% of alloc\.large$' \
	'^  page heap +476 +53\.8% of alloc\.large$' \
	'^    runs +81 +9\.2% of alloc\.large$' \
	'^  own mapping +4 +0\.45% of alloc\.large$'
expect "sample: BigCache hits of alloc.large, kept frees of free.large" has \
	'^    BigCache hits +395 +44\.7% of alloc\.large$' \
	'^  frees kept in BigCache +428 +48\.5% of free\.large$' \
	'^  own mappings released +4 +0\.45% of free\.large$'
expect "sample: reallocs moved by mremap" has '^  reallocs by mremap +11 +2\.5% of realloc\.moved$'

expect "sample: page heap" has \
	'^page heap: 3 regions, 92 runs handed out$' \
	'^  mapped +256 MiB$' '^  committed +53\.5 MiB$' \
	'^  dirty +53\.5 MiB  free, not yet decayed$' '^  in use +0 B$' \
	"^  slack +0 B  past live blocks' ends$" '^  freed +774 MiB$'
expect "sample: page heap: fresh and reused bytes" has \
	'^  handed out +774 MiB$' '^    fresh +150 MiB +19\.4%$' \
	'^    reused, committed +70 MiB +9\.0%$' '^    reused after decay +554 MiB +71\.6%$' \
	'^  reused while still committed: 11\.2%$'
expect "sample: page heap: decayed, moved" has \
	'^  decayed +521\.2 MiB$' '^  moved by mremap +98 MiB$'
expect "sample: reuse by age, from the first bucket used to the last" eval \
	'has "^page heap reuse by age: " "^ +age +committed +after decay$" &&
	 [ "$(after "         age    committed                        after decay")" = \
		"      < 1 ms       40 MiB  #######                    52 MiB  #########" ] &&
	 has "^      < 2 ms          0 B +0 B$" "^      < 8 ms       30 MiB  #####  +8 MiB  ##$" \
		"^    < 256 ms          0 B  +120 MiB  #{20}$" "^  < 1,024 ms          0 B  +2 MiB  #$" &&
	 lacks "< 2,048 ms"'

large_check='alloc\.large\.span \+ alloc\.large\.heap \+ alloc\.large\.bigcache \+ alloc\.large\.mapped'
large_check+=' == alloc\.large'
expect "sample: the checks ok" has \
	'^check: alloc\.total - free\.total == live\.blocks: ok$' \
	'^check: free\.local \+ free\.remote \+ free\.large == free\.total: ok$' \
	"^check: $large_check: ok$"
expect "sample: policy: decisions in force, then the policy's words wrapped" eval \
	'has "^policy: elo$" &&
	 [ "$(after "policy: elo")" = "  policy=elo epoch=27 decay_ms=10 keep=1GiB map_min=32MiB cache_max=4MiB" ] &&
	 has "^  elo: k=32\.0 window_ms=1000 current_ms=10 decisions=56 changes=1 allocs=894$" \
		"^       frees=894 delay0=0 rating0=1459\.9 " "^       rating7=1459\.9 served7=0$" &&
	 [ "$(awk "length > 80" "$tmp/out" | grep -c "^       ")" -eq 0 ]'
expect "sample: top sites by bytes, module+offset without symbol" \
	[ "$(after 'top 4 of 4 call sites by bytes')" = '   1. libpython3.11.so.1.0+0x1af898' ]
expect "sample: top sites by allocations, symbol when there is one" eval \
	'[ "$(after "top 4 of 4 call sites by allocations")" = "   1. libpython3.11.so.1.0+0x1af898" ] &&
	 has "^   3\. PyByteArray_Resize\+0x138$"'
expect "sample: site figures and mean lifetime of freed blocks" has \
	'^      834 allocs, 834 frees, 1\.8 GiB, mean lifetime 13\.7 ms$' \
	'^      1 allocs, 0 frees, 256 KiB, mean lifetime -$'
expect "sample: size histogram bars" has \
	'^        <= 256 KiB  ## +24$' '^          <= 4 MiB  #{30}  408$' \
	'^          <= 2 MiB  +0$' '^        <= 16 MiB  #{30}  5$'
expect "sample: small sites" has \
	'^small call sites, sampled at each refill \(7 samples in the top 2, 0 dropped\)$' \
	'^      5 samples \(71\.4%\), mean size 10\.9 KiB$' '^   2\. PyList_Append\+0xaa$'

run --top 2 "$sample"
expect "--top 2: two sites per list" eval \
	'quiet_success && count "^ +[0-9]+\. " 6 && has "^top 2 of 4 call sites by bytes$"'

# ---- dumps derived from the sample -----------------------------------------

derive extra.json '
d["written_by"] = "a newer hakmem"
d["counters"]["alloc.huge_pages"] = 7
d["counters"]["numa.migrated"] = 3
d["bytes"]["mapped"]["note"] = "ignored"
d["pageheap"]["huge_regions"] = 1
d["sites"][0]["colour"] = "ignored"
d["sites"].append({"symbol": "tiny", "allocs": 1, "frees": 0, "bytes": 0})'
run "$tmp/extra.json"
expect "unknown keys ignored, new counters listed" eval \
	'quiet_success && has "^    alloc\.huge_pages +7 +0\.13%$" "^  numa +count$" "^    numa\.migrated +3$" \
		"^top 5 of 5 call sites by bytes$" "^page heap: 3 regions, 92 runs handed out$"'

# No in_use gauge (a build without the fast path counters), a site whose
# last size bucket, the open one (le 0), was used.
derive writer.json '
d["bytes"]["in_use"] = None
d["sites"][3]["hist"][-1]["count"] = 2'
run "$tmp/writer.json"
expect "null gauge, open size bucket" eval \
	'quiet_success && has "^  in_use +- +-$" "^ +<= 512 KiB  #{15} +1$" "^ +<= 1 GiB +0$" \
		"^ +> 1 GiB  #{30}  2$"'

# A dump of hakmem before the page heap: the BigCache a route of its own,
# looked up by size class, and no "pageheap" section.
derive old.json '
del d["pageheap"]
c = d["counters"]
for k in ("alloc.large.heap", "alloc.large.bigcache", "free.large.bigcache", "realloc.remapped",
          "pageheap.decayed_bytes", "policy.route.heap"):
    del c[k]
c.update({"alloc.large.cached": 395, "free.large.cached": 428, "bigcache.miss": 81,
          "bigcache.evict": 22, "bigcache.purged_bytes": 0, "policy.route.cache": 476})
d["policy"] = {"name": "fixed", "report": "policy=fixed epoch=0 bigcache_bytes=12582912 threshold=4MiB"}'
run "$tmp/old.json"
expect "old dump without pageheap: reported, saying so" eval \
	'quiet_success && has "^page heap: none \(the dump has no \"pageheap\" section\)$" \
		"^  bigcache +count$" "^    bigcache\.miss +81$" "^    alloc\.large\.cached +395 +7\.1%$" \
		"^    policy\.route\.cache +476 +53\.9%$" && lacks "^page heap reuse by age" &&
	 has "^policy: fixed$" "^  policy=fixed epoch=0$" "^  fixed: bigcache_bytes=12582912 threshold=4MiB$"'
expect "old dump: the large rows it has, the check it cannot make skipped" eval \
	'has "^large blocks: 884 allocated, 883 freed$" "^  span +404 +45\.7% of alloc\.large$" \
		"^  own mapping +4 +0\.45% of alloc\.large$" "^  own mappings released +4 +0\.45% of free\.large$" \
		"^check: $large_check: skipped \(no alloc\.large\.heap, alloc\.large\.bigcache\)$" \
		"^check: alloc\.total - free\.total == live\.blocks: ok$" &&
	 lacks "BigCache hits" && lacks "^  page heap "'

derive noph.json '
for k in ("reused_committed_by_age_log2_ms", "reused_after_decay_by_age_log2_ms", "moved", "regions"):
    del d["pageheap"][k]'
run "$tmp/noph.json"
expect "page heap without ages or some fields: what it has, - for the rest" eval \
	'quiet_success && has "^page heap: - regions, 92 runs handed out$" "^  handed out +-$" \
		"^    fresh +150 MiB$" "^  moved by mremap +-$" "^page heap reuse by age: not in the dump$" &&
	 lacks "reused while still committed" && lacks "^    reused"'

derive noreuse.json '
for k in ("reused_committed_by_age_log2_ms", "reused_after_decay_by_age_log2_ms"):
    d["pageheap"][k] = [0] * 18'
run "$tmp/noreuse.json"
expect "page heap that reused nothing" eval \
	'quiet_success && has "^page heap reuse by age: nothing reused$" "^    fresh +150 MiB +100\.0%$" &&
	 lacks "reused while still committed"'

derive evo.json '
d["policy"] = {"name": "evo", "report":
    "policy=evo epoch=3 decay_ms=34 keep=1GiB map_min=1GiB cache_max=4MiB delay_ms=34 "
    "sigma=0.050 window_ms=1000 generations=12 improvements=4 stable_sites=2 allocs=90 frees=88"}'
run "$tmp/evo.json"
expect "evo's report words" eval \
	'quiet_success && has "^policy: evo$" \
		"^  policy=evo epoch=3 decay_ms=34 keep=1GiB map_min=1GiB cache_max=4MiB$" \
		"^  evo: delay_ms=34 sigma=0\.050 window_ms=1000 generations=12 improvements=4$" \
		"^       stable_sites=2 allocs=90 frees=88$"'

derive mismatch.json 'd["counters"]["free.total"] += 5; d["counters"]["alloc.large"] += 1'
run "$tmp/mismatch.json"
expect "inconsistent dump: MISMATCH lines, exit 0" eval \
	'[ $rc -eq 0 ] && has \
		"^check: alloc\.total - free\.total == live\.blocks: MISMATCH \(92 vs 97\)$" \
		"^check: free\.local \+ free\.remote \+ free\.large == free\.total: MISMATCH \(5,462 vs 5,467\)$" \
		"^check: $large_check: MISMATCH \(884 vs 885\)$"'

derive partial.json 'del d["counters"]["live.blocks"]; del d["counters"]["free.large"]'
run "$tmp/partial.json"
expect "missing counters: checks skipped, saying which" eval \
	'quiet_success && has \
		"^check: alloc\.total - free\.total == live\.blocks: skipped \(no live\.blocks\)$" \
		"^check: free\.local \+ free\.remote \+ free\.large == free\.total: skipped \(no free\.large\)$" \
		"^large blocks: 884 allocated, - freed$" "^  frees kept in BigCache +428 +- of free\.large$"'

derive nosites.json 'd["sites"] = []; del d["policy"]'
run "$tmp/nosites.json"
expect "no sites, no policy" eval 'quiet_success && has "^call sites: none recorded$" "^policy: -$"'

derive nolarge.json '
d["counters"] = {k: v for k, v in d["counters"].items() if "large" not in k and k != "realloc.remapped"}'
run "$tmp/nolarge.json"
expect "no large counters" eval 'quiet_success && has "^large blocks: none \(no alloc\.large\.\* counters\)$"'

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

derive badph.json 'd["pageheap"] = [1, 2]'
run "$tmp/badph.json"
expect "pageheap not an object: exit 1, one line" fails_with 'pageheap: expected an object, got \[1, 2\]$'

derive badage.json 'd["pageheap"]["reused_after_decay_by_age_log2_ms"][3] = -1'
run "$tmp/badage.json"
expect "negative age bucket: exit 1, one line naming it" \
	fails_with 'pageheap\.reused_after_decay_by_age_log2_ms\[3\]: expected a non-negative integer, got -1$'

derive shortage.json 'd["pageheap"]["reused_after_decay_by_age_log2_ms"].pop()'
run "$tmp/shortage.json"
expect "age arrays of different lengths: exit 1, one line" \
	fails_with 'pageheap\.reused_after_decay_by_age_log2_ms: 17 buckets, but reused_committed_by_age_log2_ms has 18$'

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
d['sites'][0]['module'] = '$tmp/prog'
d['sites'][0]['offset'] = '$off'"
	run "$tmp/a2l.json"
	expect "addr2line: source line of a site" eval \
		'quiet_success && [ "$(after "   1. prog+$off")" = "      $tmp/prog.c:2" ]'
	run_bare "$tmp/a2l.json"
	expect "addr2line not on PATH: no source line, no complaint" eval \
		'quiet_success && [ "$(after "   1. prog+$off")" = "      834 allocs, 834 frees, 1.8 GiB, mean lifetime 13.7 ms" ]'
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
			"^plots written to .*/svg: counters\.svg reuse-age\.svg site-1\.svg site-2\.svg site-3\.svg site-4\.svg bench\.svg$"'
	for f in counters reuse-age site-1 site-2 site-3 site-4 bench; do
		expect "plots: $f.svg is an SVG document" svg "$tmp/svg/$f.svg"
	done
	expect "plots: the site chart names its site" grep -q 'libpython3.11.so.1.0+0x1af898' "$tmp/svg/site-1.svg"
	expect "plots: the reuse chart, committed and after decay by age" eval \
		'grep -q "still committed" "$tmp/svg/reuse-age.svg" && grep -q "after decay" "$tmp/svg/reuse-age.svg" &&
		 grep -q "&lt; 1,024 ms" "$tmp/svg/reuse-age.svg" && ! grep -q "2,048 ms" "$tmp/svg/reuse-age.svg"'

	run --plot-dir "$tmp/png" --format png --top 2 "$sample"
	expect "plots: --format png --top 2 draws PNG files for two sites" eval \
		'quiet_success && [ "$(ls "$tmp/png")" = "$(printf "counters.png\nreuse-age.png\nsite-1.png\nsite-2.png")" ] &&
			[ "$(head -c 4 "$tmp/png/counters.png" | tail -c 3)" = PNG ] &&
			[ "$(head -c 4 "$tmp/png/reuse-age.png" | tail -c 3)" = PNG ]'

	run --plot-dir "$tmp/oldplots" --top 1 "$tmp/old.json"
	expect "plots: an old dump draws the rest, with a note for the reuse chart" eval \
		'[ $rc -eq 0 ] && has "^plots written to .*/oldplots: counters\.svg site-1\.svg$" &&
			[ "$(cat "$tmp/err")" = "hakmem-report: no page heap reuse ages in the dump; reuse-age.svg not drawn" ]'

	run --plot-dir "$tmp/noreuseplots" --top 1 "$tmp/noreuse.json"
	expect "plots: nothing reused, no reuse chart, a note" eval \
		'[ $rc -eq 0 ] && [ ! -e "$tmp/noreuseplots/reuse-age.svg" ] &&
			[ "$(cat "$tmp/err")" = "hakmem-report: no page heap memory reused; reuse-age.svg not drawn" ]'
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
keys = list(d)
for k in ("version", "pid", "elapsed_ms", "config", "counters", "bytes", "pageheap", "policy",
          "sites"):
    assert k in d, k
assert keys.index("bytes") + 1 == keys.index("pageheap") == keys.index("policy") - 1, keys
assert d["counters"]["alloc.small.refill"] > 0
assert d["bytes"]["mapped"]["peak"] > 0
assert d["small_sites"]["sampled_at"] == "refill" and d["small_sites"]["sites"]
ph = d["pageheap"]
for k in ("regions", "mapped", "committed", "dirty", "in_use", "runs", "freed", "fresh",
          "decayed", "slack", "moved"):
    assert isinstance(ph[k], int) and ph[k] >= 0, k
for k in ("reused_committed_by_age_log2_ms", "reused_after_decay_by_age_log2_ms"):
    assert len(ph[k]) == 18 and all(isinstance(n, int) and n >= 0 for n in ph[k]), k
for k in ("alloc.large.heap", "alloc.large.bigcache", "free.large.bigcache", "realloc.remapped",
          "pageheap.decayed_bytes", "policy.route.heap"):
    assert k in d["counters"], k
for k in ("alloc.large.cached", "free.large.cached", "bigcache.miss", "bigcache.evict",
          "bigcache.purged_bytes", "policy.route.cache"):
    assert k not in d["counters"], k
assert d["policy"]["report"].startswith("policy=" + d["policy"]["name"] + " epoch="), d["policy"]
' "$tmp/live.json"
		else
			skip "live" "the library was built without statistics"
		fi
	else
		skip "live" "cannot compile tools/randsizes.c"
	fi
	# Large buffers of 3 to 9 MiB replaced at random: the page heap at work.
	if cc -std=c11 -O2 -pthread -o "$tmp/bigbuf" "$root/tools/bigbuf.c" 2>"$tmp/cc.err"; then
		rc=0
		env HAKMEM_STATS=json HAKMEM_STATS_FILE="$tmp/bigbuf.json" LD_PRELOAD="$lib" \
			"$tmp/bigbuf" -n 4 -m 3 -M 9 -i 40 -s 100 >/dev/null 2>"$tmp/err" || rc=$?
		if [[ $rc -ne 0 ]]; then
			expect "live: bigbuf runs with HAKMEM_STATS=json" false
		elif ! grep -q '"hakmem_stats": 1' "$tmp/bigbuf.json" 2>/dev/null; then
			skip "live: bigbuf" "the library was built without statistics"
		elif grep -q '"alloc.large.heap": 0,' "$tmp/bigbuf.json"; then
			skip "live: bigbuf" "the library maps every large block (a hardened build)"
		else
			run "$tmp/bigbuf.json"
			expect "live: bigbuf: large blocks from the page heap" eval \
				'quiet_success && has "^large blocks: [0-9,]+ allocated, [0-9,]+ freed$" \
					"^  page heap +[0-9,]+ +[0-9.]+% of alloc\.large$" \
					"^page heap: [0-9,]+ regions?, [1-9][0-9,]* runs? handed out$" \
					"^    fresh +[0-9.]+ [KMG]iB +[0-9.]+%$" \
					"^check: $large_check: ok$" \
					"^  policy=[a-z]+ epoch=[0-9]+ decay_ms=[0-9]+ keep=[^ ]+ map_min=[^ ]+ cache_max=[^ ]+$"'
			expect "live: bigbuf: freed memory reused, by age" has \
				"^page heap reuse by age: bytes of freed memory taken again" "^  reused while still committed: "
		fi
	else
		skip "live: bigbuf" "cannot compile tools/bigbuf.c"
	fi
else
	skip "live" "no library given"
fi

finish
