#!/bin/sh
# run-programs.sh BUILD_DIR [quick] - rtvm's program suite.
#
# Every vm/tests/programs/X.rtvm runs under several configurations and its
# stdout must equal X.out: the interpreter (--jit=off), the JIT for every
# function (--jit=on), the default (--jit=auto), and the JIT and the
# interpreter under the collector's stress knob (a collection every few
# allocations) in the stop-the-world, concurrent and incremental modes.
# Comparing each run against the same expected output is the differential
# test of interpreter against JIT.
set -u
B=${1:-build}
RTVM=$B/rtvm
dir=$(dirname "$0")/programs
pass=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run() { # name expected env args...
  name=$1; exp=$2; envs=$3; shift 3
  if env $envs timeout 120 "$RTVM" "$@" > "$tmp/out" 2> "$tmp/err"; then
    if cmp -s "$tmp/out" "$exp"; then
      pass=$((pass + 1))
      return
    fi
    echo "FAIL $name ($envs $*): output differs"
    diff "$exp" "$tmp/out" | head -10
  else
    echo "FAIL $name ($envs $*): exit status $?"
    head -5 "$tmp/err"
  fi
  fail=$((fail + 1))
}
for f in "$dir"/*.rtvm; do
  n=$(basename "$f" .rtvm)
  exp=${f%.rtvm}.out
  run "$n" "$exp" "" "$f" --jit=off
  run "$n" "$exp" "" "$f" --jit=on
  run "$n" "$exp" "" "$f" --jit=auto
  run "$n" "$exp" "RTGC_OPTIONS=stress=13" "$f" --jit=on --gc-mode=stw
  run "$n" "$exp" "RTGC_OPTIONS=stress=13" "$f" --jit=off --gc-mode=stw
  run "$n" "$exp" "RTGC_OPTIONS=stress=29" "$f" --jit=on --gc-mode=concurrent
  run "$n" "$exp" "RTGC_OPTIONS=stress=29" "$f" --jit=off --gc-mode=incremental
  run "$n" "$exp" "RTGC_OPTIONS=stress=97,verify=1" "$f" --jit=on --gc-mode=incremental
done
# --dump-jit: the listing shows ops, instructions and the GC fast paths
if "$RTVM" "$dir/closures.rtvm" --jit=on --dump-jit > /dev/null 2> "$tmp/dump" &&
   grep -q '^== jit: make-counter' "$tmp/dump" && grep -q '; 0: ' "$tmp/dump" &&
   grep -q 'load barrier' "$tmp/dump" && grep -q 'safepoint poll' "$tmp/dump" &&
   grep -q 'allocate closure' "$tmp/dump" && grep -q 'test qword \[r13\]' "$tmp/dump"; then
  pass=$((pass + 1))
else
  echo "FAIL --dump-jit listing"
  head -20 "$tmp/dump"
  fail=$((fail + 1))
fi
echo "rtvm programs: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
