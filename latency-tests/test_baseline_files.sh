#!/bin/sh
# latency-tests/test_baseline_files.sh BUILD - unreadable and corrupt
# baseline files: ltcheck check must refuse each with exit 2 and a line that
# names the file, never judge a run against it (exit 0 or 1).  The run is a
# made-up gclat --json result that passes against the real baseline (the
# first check).  A missing baseline (exit 2, judged against the budget) and
# a broken result file are in test_ltcheck.sh.
set -u
B=${1:-build}
L="$B/ltcheck"
[ -x "$L" ] || { echo "missing $L"; exit 1; }
T=$(mktemp -d)
trap 'chmod -R u+rwx "$T" 2>/dev/null; rm -rf "$T"' EXIT
BASE=latency-tests/baselines/web-concurrent-2t.json
[ -f "$BASE" ] || { echo "missing $BASE"; exit 1; }
CASE=web-concurrent-2t
fails=0
n=0
cat > "$T/run.json" <<'JSON'
{"gclat": "0.1.0", "librtgc": "0.1.0", "budget_ns": 1000000, "engine": "native", "jit": "auto", "seed": 1, "cpus": 2, "pass": true, "workloads": [
  {"workload": "web", "mode": "concurrent", "settings": "heap=128M,budget=1ms", "error": "", "threads": 2, "heap_limit": 134217728, "duration_ns": 2000000000, "unit": "request",
   "pauses": {"count": 100, "p50_ns": 2000, "p99_ns": 90000, "p999_ns": 500000, "max_ns": 900000, "total_ns": 1},
   "pause_work": {"count": 100, "p50_ns": 1000, "p99_ns": 10000, "p999_ns": 15000, "max_ns": 16000, "total_ns": 1},
   "stalls": {"count": 0, "p50_ns": 0, "p99_ns": 0, "p999_ns": 0, "max_ns": 0, "total_ns": 0},
   "over_budget_work": 0, "over_budget_wall_explained": 0, "over_budget_wall_preempted": 0, "over_budget_wall_unexplained": 0, "stalls_over_budget": 0, "records_lost": 0,
   "mmu": {"1ms": 0.5, "10ms": 0.9, "100ms": 0.95}, "mmu_work": {"1ms": 0.8, "10ms": 0.99, "100ms": 0.99},
   "probe": {"count": 1, "p50_ns": 1, "p99_ns": 1, "p999_ns": 1, "max_ns": 1, "total_ns": 1}, "probe_over_1ms": 0, "probes": 2,
   "ops": 20000, "pass": true}
]}
JSON

# expect RC PATTERN FILE: ltcheck check against baseline FILE
expect() {
  want=$1 pat=$2 f=$3 what=$4
  n=$((n + 1))
  "$L" check --case "$CASE" --baseline "$f" --result "$T/run.json" --mmu 0.7 > "$T/out" 2>&1
  rc=$?
  if [ $rc -ne "$want" ] || ! grep -q -- "$pat" "$T/out"; then
    echo "FAIL ($n): $what: exit $rc (expected $want), output:"; sed 's/^/    /' "$T/out"; fails=$((fails + 1))
  else
    echo "ok: $what: exit $rc: $(grep -m1 -- "$pat" "$T/out" | sed 's/^ *//' | cut -c1-110)"
  fi
}

cp "$BASE" "$T/good.json"
expect 0 "$CASE" "$T/good.json" "the committed baseline"
# unreadable: a directory; a file without read permission (root reads anyway: skipped then)
mkdir "$T/dir.json"
expect 2 "dir.json" "$T/dir.json" "a directory where the baseline should be"
cp "$BASE" "$T/noread.json"; chmod 000 "$T/noread.json"
if [ "$(id -u)" -ne 0 ]; then
  expect 2 "noread.json" "$T/noread.json" "a baseline without read permission"
else
  echo "note: running as root, who reads a mode-000 file: that case is not testable here"
fi
# corrupt
: > "$T/empty.json";                       expect 2 "empty.json" "$T/empty.json" "an empty file"
head -c 120 "$BASE" > "$T/trunc.json";      expect 2 "trunc.json" "$T/trunc.json" "a truncated file"
printf '\000\377\376garbage' > "$T/bin.json"; expect 2 "bin.json" "$T/bin.json" "binary garbage"
echo '[1, 2, 3]' > "$T/arr.json";          expect 2 "arr.json" "$T/arr.json" "an array, not an object"
sed 's/"case": "[^"]*"/"case": 42/' "$BASE" > "$T/case.json"; expect 2 "case.json" "$T/case.json" "the case name a number"
grep -v '"pause_work"' "$BASE" > "$T/nowork.json"; expect 2 "pause_work" "$T/nowork.json" "no pause_work figures"
sed 's/"p99_ns": [0-9]*/"p99_ns": "fast"/' "$BASE" > "$T/str.json"; expect 2 "pause_work.p99_ns" "$T/str.json" "a figure as a string"
sed 's/"p99_ns": [0-9]*/"p99_ns": -5/' "$BASE" > "$T/neg.json"; expect 2 "corrupt baseline" "$T/neg.json" "a negative figure"
sed 's/"max_ns": [0-9]*/"max_ns": 1e999/' "$BASE" > "$T/inf.json"; expect 2 "corrupt baseline" "$T/inf.json" "an infinite figure"
sed 's/"10ms": [0-9.]*/"10ms": 7/' "$BASE" > "$T/mmu.json"; expect 2 "corrupt baseline" "$T/mmu.json" "an MMU of 7"
grep -v '"stalls"' "$BASE" > "$T/nostalls.json"; expect 2 "stalls" "$T/nostalls.json" "no stall count"
echo "baseline files: $n checks, $fails failed"
[ "$fails" -eq 0 ]
