#!/bin/sh
# latency-tests/teeth.sh BUILD - the latency tests must catch a slower
# collector.  The library's inject= knob spins inside every root handshake
# (collector work, as if the collector itself had got slower there); the
# comparison must FAIL and name the regression:
#
#   1. inject=roots:3ms, three times the 1 ms budget: the collector work per
#      pause is over the budget and over the baseline, and pauses are over
#      the budget by work;
#   2. inject=roots:350us, inside the budget: only the baseline comparison
#      can catch it (p99 and above, several times the baseline's).
#
# A pause can hold more than one root handshake (a thread serves its own
# and may serve a blocked thread's), so the longest pause may carry the
# delay two or three times: the patterns below ask for "at least".
#
# Exit 0 when both runs fail as they must, 1 otherwise.
set -u
B=${1:-build}
dir=$(dirname "$0")
log="$B/latency/teeth.log"
mkdir -p "$B/latency"
ok=1

# expect_fail OPTIONS CASE PATTERN...: the case run with OPTIONS must regress
# (exit 1) and print every PATTERN (extended regular expressions).
expect_fail() {
  opts=$1 case=$2
  shift 2
  echo "teeth: $case with $opts"
  LATENCY_EXTRA="--gc-options $opts" sh "$dir/run.sh" -b "$B" --cases "$case" > "$log" 2>&1
  rc=$?
  grep -E 'REGRESSION|reproduce' "$log" | sed 's/^/  /'
  if [ $rc -ne 1 ]; then
    echo "teeth: FAILED: the latency test exited $rc with $opts, expected 1 (a regression); log: $log"
    cat "$log"
    ok=0
    return
  fi
  for pat in "$@"; do
    if ! grep -Eq -- "$pat" "$log"; then
      echo "teeth: FAILED: no '$pat' in the report with $opts; log: $log"
      ok=0
    fi
  done
}

expect_fail inject=roots:3ms web-concurrent-2t \
  "REGRESSION web-concurrent-2t: [0-9]+ pause\(s\) over the budget \(1.00 ms\) by collector work" \
  "REGRESSION web-concurrent-2t: collector work per pause, max: [3-9]\.[0-9]* ms > the budget 1.00 ms" \
  "REGRESSION web-concurrent-2t: collector work per pause, max: [3-9]\.[0-9]* ms > baseline" \
  "reproduce: .*gclat --workload web --mode concurrent .*--gc-options inject=roots:3ms"
expect_fail inject=roots:350us web-concurrent-2t \
  "REGRESSION web-concurrent-2t: collector work per pause, (p99|p99\.9|max): [3-9][0-9][0-9]\.[0-9] us > baseline"
if grep -q "> the budget" "$log"; then
  echo "teeth: FAILED: a 350 us injection should stay within the 1 ms budget (caught by the baseline alone)"
  ok=0
fi

if [ $ok -eq 1 ]; then
  echo "teeth: ok: the latency tests caught a collector made slower by 3 ms and by 350 us in its root handshakes"
  exit 0
fi
exit 1
