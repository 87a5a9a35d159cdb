#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# run.sh LIB - run real programs with LD_PRELOAD=LIB and without it, and
# compare what they print on standard output and their exit status.
#
# Programs: python3, sqlite3, git and a few coreutils (sort, ls, sha256sum),
# each doing enough work to exercise the allocator (threads, big and small
# blocks, realloc-heavy string building, child processes that inherit the
# preload).  Every workload is deterministic, so the two runs must agree.
#
# Output: one line per program, "ok NAME", "FAIL NAME" followed by the head
# of the difference, or "skip NAME (why)" for a program that is not
# installed (not counted).  The last line is exactly "N passed, N failed".
# Exit status: 0 if all passed, 1 if any failed, 2 if LIB is missing.
#
# PROGRAM_TIMEOUT (seconds, default 300) bounds each run of each program.

# Bash is needed (exported functions); "sh run.sh" comes back here under it.
if [ -z "${BASH_VERSION:-}" ]; then
	exec bash "$0" "$@"
fi

set -u

if [ $# -ne 1 ] || [ ! -f "$1" ]; then
	echo "usage: $0 LIB (path to libhakmem.so)" >&2
	echo "error: library '${1:-}' not found" >&2
	exit 2
fi
LIB=$(readlink -f -- "$1")
TIMEOUT=${PROGRAM_TIMEOUT:-300}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-programs.XXXXXX") || exit 2
trap 'rm -rf -- "$TMP"' EXIT
ulimit -c 0 2>/dev/null

passed=0
failed=0

# Everything that could make two runs differ is pinned down here.
export LC_ALL=C TZ=UTC PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1
export HOME="$TMP/home"
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME="Hak Mem" GIT_AUTHOR_EMAIL="hak@example.com"
export GIT_COMMITTER_NAME="Hak Mem" GIT_COMMITTER_EMAIL="hak@example.com"
export GIT_AUTHOR_DATE="2024-01-01T00:00:00Z" GIT_COMMITTER_DATE="2024-01-01T00:00:00Z"
unset LD_PRELOAD MALLOC_CONF MIMALLOC_VERBOSE
mkdir -p "$HOME"

# ---- workloads: each runs in an empty current directory ----------------

work_python3() {
	cat > script.py <<'EOF'
import collections, hashlib, json, random, re, threading

random.seed(12345)
d = {}
for i in range(200000):
    d["key%d" % i] = [i, str(i) * (i % 7), {"v": i * 3, "s": "x" * (i % 50)}]
words = ["".join(random.choice("abcdefghij") for _ in range(random.randint(1, 12)))
         for _ in range(50000)]
cnt = collections.Counter(words)
print("top", sorted(cnt.items(), key=lambda kv: (-kv[1], kv[0]))[:10])
s = json.dumps(d, sort_keys=True)
print("json", len(s), hashlib.sha256(s.encode()).hexdigest())
print("roundtrip", json.loads(s) == d)
nums = sorted(random.random() for _ in range(300000))
print("sorted", nums[0], nums[-1], round(sum(nums), 6))
text = " ".join(words)
print("text", len(text), len(re.findall(r"a+b", text)), text.upper()[:40])
parts = []
for i in range(100000):
    parts.append(str(i))
joined = "".join(parts)
print("joined", len(joined), hashlib.md5(joined.encode()).hexdigest())

results = [None] * 8
def worker(i):
    h = hashlib.sha256()
    local = []
    for j in range(20000):
        b = ("%d-%d" % (i, j)).encode() * (j % 13 + 1)
        local.append(b)
        h.update(b)
    results[i] = (h.hexdigest(), sum(len(x) for x in local))
threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
for i, r in enumerate(results):
    print("thread", i, r[0][:16], r[1])
chunks = [bytearray(random.randint(1, 1 << 16)) for _ in range(2000)]
print("chunks", sum(map(len, chunks)))
del chunks, d
print("done")
EOF
	python3 script.py
}

work_sqlite3() {
	sqlite3 test.db <<'EOF'
CREATE TABLE t(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, val REAL, pad TEXT);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 50000)
INSERT INTO t(grp, name, val, pad)
  SELECT x % 97, printf('name-%06d', (x * 7919) % 50000), (x * 31 % 1000) / 7.0,
         substr('abcdefghijklmnopqrstuvwxyz0123456789', 1 + x % 30, 1 + x % 200)
  FROM c;
SELECT count(*), round(sum(val), 3), min(name), max(name), sum(length(pad)) FROM t;
SELECT grp, count(*), round(avg(val), 4) FROM t GROUP BY grp ORDER BY grp LIMIT 12;
CREATE INDEX t_name ON t(name);
CREATE INDEX t_grp_val ON t(grp, val);
SELECT id, name FROM t WHERE name = 'name-012345';
SELECT name FROM t ORDER BY name DESC LIMIT 5;
SELECT grp, max(val) FROM t WHERE grp BETWEEN 10 AND 15 GROUP BY grp;
UPDATE t SET pad = upper(pad) || pad WHERE id % 3 = 0;
DELETE FROM t WHERE grp = 3;
SELECT count(*), sum(length(pad)) FROM t;
SELECT length(group_concat(name, ',')) FROM (SELECT name FROM t ORDER BY name);
VACUUM;
PRAGMA integrity_check;
EOF
}

work_git() {
	git init -q -b main repo && cd repo || return 1
	for dir in a b c d; do
		mkdir -p "src/$dir"
	done
	awk 'BEGIN {
		x = 1
		for (f = 1; f <= 200; f++) {
			dir = substr("abcd", f % 4 + 1, 1)
			file = sprintf("src/%s/file%03d.txt", dir, f)
			for (l = 0; l < 20 + f % 50; l++) {
				x = (x * 1103515245 + 12345) % 2147483648
				printf "line %d of file %d: %d\n", l, f, x > file
			}
			close(file)
		}
	}' || return 1
	git add -A && git commit -q -m "Add 200 files" || return 1
	for f in src/a/file*.txt; do
		sed -i 's/line 1[0-9] /LINE /' "$f"
	done
	echo "new file" > src/new.txt
	git rm -q src/b/file001.txt || return 1
	git add -A && git commit -q -m "Change a, add new, remove one" || return 1
	git log --stat
	git diff HEAD~1 --stat
	git diff HEAD~1 | head -n 200
	git diff HEAD~1 | wc -l
	git gc -q || return 1
	git fsck --no-progress --strict || return 1
	git rev-parse HEAD HEAD~1 HEAD:src
	git ls-files | wc -l
	git grep -c "file 17:" | head -n 5
	git blame -s src/c/file002.txt | head -n 5
	git archive --format=tar HEAD | sha256sum
	git log --oneline --all
}

gen_lines() {
	awk 'BEGIN {
		x = 7
		for (i = 0; i < 200000; i++) {
			x = (x * 1103515245 + 12345) % 2147483648
			printf "%d %s %d\n", x % 100000, substr("abcdefghijklmnopqrstuvwxyz", x % 26 + 1, 1 + x % 8), x
		}
	}'
}

work_sort() {
	gen_lines > lines.txt || return 1
	sort lines.txt | sha256sum
	sort -n -k1,1 -k3,3n lines.txt | head -n 5
	# A small buffer forces temporary files and a multi-way merge.
	sort -S 1M --parallel=2 -T . -k2,2 -k1,1n lines.txt | sha256sum
	sort -u -k2,2 lines.txt | wc -l
	sort -r lines.txt | tail -n 3
}

work_ls() {
	for i in $(seq 1 20); do
		for j in $(seq 1 10); do
			mkdir -p "tree/d$i/e$j"
			: > "tree/d$i/e$j/f$((i * j))"
			: > "tree/d$i/e$j/g$((i + j))"
		done
	done
	ls -R tree
	ls -lR --time-style=+ tree | awk '{ print $1, $5, $NF }' | sha256sum
}

work_sha256sum() {
	yes "hakmem allocator test line" | head -c 30000000 > big.txt || return 1
	gen_lines > lines.txt || return 1
	for i in $(seq 1 50); do
		head -c $((i * 1000)) lines.txt > "part$i.txt"
	done
	sha256sum big.txt lines.txt part*.txt
	cat part*.txt | sha256sum
	sha256sum part*.txt > sums && sha256sum -c --quiet sums && echo verified
}

export -f work_python3 work_sqlite3 work_git gen_lines work_sort work_ls work_sha256sum

# ---- driver ---------------------------------------------------------------

ok() {
	echo "ok $1"
	passed=$((passed + 1))
}

fail() {
	echo "FAIL $1${2:+: $2}"
	failed=$((failed + 1))
}

# run_pair NAME FUNCTION PROGRAM: run FUNCTION in a fresh directory without
# and with the library preloaded; compare stdout and exit status.
run_pair() {
	local name=$1 fn=$2 prog=$3 mode dir
	if ! command -v "$prog" > /dev/null 2>&1; then
		echo "skip $name ($prog is not installed)"
		return
	fi
	for mode in plain preload; do
		dir="$TMP/$name.$mode"
		mkdir -p "$dir/work"
		if [ "$mode" = preload ]; then
			(cd "$dir/work" && LD_PRELOAD="$LIB" timeout -k 10 "$TIMEOUT" bash -c "$fn") \
				> "$dir/out" 2> "$dir/err"
		else
			(cd "$dir/work" && timeout -k 10 "$TIMEOUT" bash -c "$fn") \
				> "$dir/out" 2> "$dir/err"
		fi
		echo $? > "$dir/rc"
	done
	local plain="$TMP/$name.plain" pre="$TMP/$name.preload"
	local rc_plain rc_pre
	rc_plain=$(cat "$plain/rc")
	rc_pre=$(cat "$pre/rc")
	if [ "$rc_plain" != 0 ]; then
		fail "$name" "the workload itself failed without the library (exit $rc_plain)"
		head -n 10 "$plain/err" | sed 's/^/    /'
		return
	fi
	if [ "$rc_pre" != "$rc_plain" ]; then
		fail "$name" "exit status $rc_pre under LD_PRELOAD, $rc_plain without"
		head -n 10 "$pre/err" | sed 's/^/    /'
		diff "$plain/out" "$pre/out" | head -n 10 | sed 's/^/    /'
		return
	fi
	if ! cmp -s "$plain/out" "$pre/out"; then
		fail "$name" "standard output differs"
		diff -u "$plain/out" "$pre/out" | head -n 20 | sed 's/^/    /'
		head -n 5 "$pre/err" | sed 's/^/    /'
		return
	fi
	ok "$name"
}

# The library must really be loaded into a program started under it.
if LD_PRELOAD="$LIB" cat /proc/self/maps 2> "$TMP/preload.err" |
	grep -qF -- "$LIB"; then
	ok preload
	run_pair python3 work_python3 python3
	run_pair sqlite3 work_sqlite3 sqlite3
	run_pair git work_git git
	run_pair sort work_sort sort
	run_pair ls work_ls ls
	run_pair sha256sum work_sha256sum sha256sum
else
	fail preload "$LIB is not mapped into a process started with LD_PRELOAD"
	head -n 5 "$TMP/preload.err" | sed 's/^/    /'
	echo "(the other programs were not run: they would only test the system allocator)"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
