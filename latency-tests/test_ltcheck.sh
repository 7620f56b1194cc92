#!/bin/sh
# latency-tests/test_ltcheck.sh BUILD - ltcheck's own test: made-up gclat
# results against a made-up baseline, each rule passing and failing where it
# should.  No collector runs here, so it is exact.
set -u
B=${1:-build}
L="$B/ltcheck"
[ -x "$L" ] || { echo "missing $L"; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
n=0

# run FILE: a gclat --json file with one workload.  Every figure defaults
# to a passing value; set P99 P999 MAX (work, ns), MMU, OBW, STALLS, SOB,
# ERR, LOST, OPS to change one.
run() {
  cat > "$1" <<EOF
{"gclat": "0.1.0", "librtgc": "0.1.0", "budget_ns": 1000000, "engine": "native", "jit": "auto", "seed": 1, "cpus": 2, "pass": true, "workloads": [
  {"workload": "web", "mode": "concurrent", "settings": "heap=128M,budget=1ms", "error": "${ERR:-}", "threads": 2, "heap_limit": 134217728, "duration_ns": 2000000000, "unit": "request",
   "pauses": {"count": 100, "p50_ns": 2000, "p99_ns": 900000, "p999_ns": 5000000, "max_ns": 66000000, "total_ns": 1},
   "pause_work": {"count": 100, "p50_ns": 1000, "p99_ns": ${P99:-100000}, "p999_ns": ${P999:-150000}, "max_ns": ${MAX:-160000}, "total_ns": 1},
   "stalls": {"count": ${STALLS:-0}, "p50_ns": 0, "p99_ns": 0, "p999_ns": 0, "max_ns": 0, "total_ns": 0},
   "over_budget_work": ${OBW:-0}, "over_budget_wall_explained": 7, "over_budget_wall_preempted": 3, "over_budget_wall_unexplained": 2, "stalls_over_budget": ${SOB:-0}, "records_lost": ${LOST:-0},
   "mmu": {"1ms": 0.0, "10ms": 0.1, "100ms": 0.5}, "mmu_work": {"1ms": 0.8, "10ms": ${MMU:-0.95}, "100ms": 0.99},
   "probe": {"count": 1, "p50_ns": 1, "p99_ns": 1, "p999_ns": 1, "max_ns": 66000000, "total_ns": 1}, "probe_over_1ms": 9, "probes": 2,
   "ops": ${OPS:-20000}, "pass": false}
]}
EOF
}

# expect RC PATTERN|- ARGS...: ltcheck exits RC and its output has PATTERN.
expect() {
  want=$1 pat=$2
  shift 2
  n=$((n + 1))
  "$L" "$@" > "$T/out" 2>&1
  rc=$?
  if [ $rc -ne "$want" ]; then
    echo "FAIL ($n): ltcheck $* exited $rc, expected $want"; cat "$T/out"; fails=$((fails + 1))
  elif [ "$pat" != - ] && ! grep -q -- "$pat" "$T/out"; then
    echo "FAIL ($n): ltcheck $* did not print '$pat'"; cat "$T/out"; fails=$((fails + 1))
  fi
}

# The baseline: the worst of two runs.
P99=100000 P999=150000 MAX=160000 MMU=0.95 STALLS=0 run "$T/r1.json"
P99=80000 P999=140000 MAX=200000 MMU=0.93 STALLS=1 run "$T/r2.json"
expect 0 "baseline from 2 run(s)" baseline --case web-x --out "$T/base.json" --command "gclat ..." "$T/r1.json" "$T/r2.json"
n=$((n + 1))
grep -q '"pause_work": {"p99_ns": 100000, "p999_ns": 150000, "max_ns": 200000}' "$T/base.json" &&
  grep -q '"10ms": 0.9300' "$T/base.json" && grep -q '"stalls": 1' "$T/base.json" &&
  grep -q '"case": "web-x"' "$T/base.json" ||
  { echo "FAIL ($n): the baseline is not the worst of the runs"; cat "$T/base.json"; fails=$((fails + 1)); }
# A run that broke the budget by work is no baseline.
OBW=1 run "$T/bad.json"
expect 1 "will not record" baseline --case web-x --out "$T/base2.json" "$T/bad.json"

C="check --case web-x --baseline $T/base.json --mmu 0.90 --tol 100% --command REPRO-CMD --result"

run "$T/a.json"; expect 0 "web-x.*ok" $C "$T/a.json"
# wall figures are shown, not judged (66 ms max, 2 unexplained)
expect 0 "info, wall time (not judged)" $C "$T/a.json"
# within the tolerance: 1.9x the baseline's p99
P99=190000 run "$T/a.json"; expect 0 - $C "$T/a.json"
# over it: 2.1x, within the budget
P99=210000 run "$T/a.json"; expect 1 "REGRESSION web-x: collector work per pause, p99: 210.0 us > baseline 100.0 us" $C "$T/a.json"
expect 1 "reproduce: REPRO-CMD" $C "$T/a.json"
# over the budget: both the budget and the baseline lines
MAX=3000000 run "$T/a.json"; expect 1 "max: 3.00 ms > the budget 1.00 ms (+2.00 ms, 3.0x)" $C "$T/a.json"
expect 1 "max: 3.00 ms > baseline 200.0 us" $C "$T/a.json"
# a pause over the budget by work
OBW=2 run "$T/a.json"; expect 1 "2 pause(s) over the budget" $C "$T/a.json"
SOB=1 run "$T/a.json"; expect 1 "stall(s) over the budget" $C "$T/a.json"
# the floor: a tiny baseline may grow by 50 us
run "$T/a.json"
expect 0 - check --case web-x --baseline "$T/base.json" --tol 0 --result "$T/a.json"
P99=150001 run "$T/a.json"
expect 1 "p99: 150.0 us > baseline 100.0 us + tolerance = 150.0 us" check --case web-x --baseline "$T/base.json" --tol 0 --result "$T/a.json"
# MMU: under the target; under the baseline less 0.10; no target: not judged
MMU=0.89 run "$T/a.json"; expect 1 "MMU (work, 10 ms) 0.890 < the target 0.900" $C "$T/a.json"
expect 0 "not judged" check --case web-x --baseline "$T/base.json" --mmu - --result "$T/a.json"
MMU=0.82 run "$T/a.json"
expect 1 "MMU (work, 10 ms) 0.820 < baseline 0.930 - 0.10" check --case web-x --baseline "$T/base.json" --mmu 0.5 --result "$T/a.json"
# stalls: baseline 1, at most 2 * 1 + 2
STALLS=4 run "$T/a.json"; expect 0 - $C "$T/a.json"
STALLS=5 run "$T/a.json"; expect 1 "5 stalls at the heap limit" $C "$T/a.json"
# did not run to the end; records lost; nothing done
ERR="out of memory" run "$T/a.json"; expect 1 "did not run to the end: out of memory" $C "$T/a.json"
LOST=3 run "$T/a.json"; expect 1 "3 pause records lost" $C "$T/a.json"
OPS=0 run "$T/a.json"; expect 1 "no operations done" $C "$T/a.json"
# errors: no baseline, another case's baseline, a broken file, bad usage
run "$T/a.json"
expect 2 "no baseline" check --case web-x --baseline "$T/none.json" --result "$T/a.json"
# ... and without one, still judged against the budget
MAX=3000000 run "$T/a.json"
expect 2 "max: 3.00 ms > the budget" check --case web-x --baseline "$T/none.json" --result "$T/a.json"
run "$T/a.json"
expect 2 "not 'web-y'" check --case web-y --baseline "$T/base.json" --result "$T/a.json"
printf '{"workloads": [1, }' > "$T/broken.json"
expect 2 "line 1" check --case web-x --baseline "$T/base.json" --result "$T/broken.json"
expect 2 "usage" check --case web-x
expect 2 "usage" check --case web-x --baseline "$T/base.json" --result "$T/a.json" --mmu 1.5

echo "ltcheck: $n checks, $fails failed"
[ $fails -eq 0 ]
