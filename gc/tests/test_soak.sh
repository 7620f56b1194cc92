#!/bin/sh
# gc/tests/test_soak.sh - the soak checker's own test: synthetic sample
# files (gclat --sample's format) that are flat must pass; ones whose heap,
# live data or RSS grows, whose pause work drifts up, or that saw a failed
# allocation must fail.  Runs in make test (well under a second).
set -u
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
# gen FILE HEAPGROW LIVEGROW RSSGROW P99GROW OOM: 120 one-second samples
gen() {
  awk -v hg="$2" -v lg="$3" -v rg="$4" -v pg="$5" -v oom="$6" 'BEGIN {
    print "# t_s workload heap_size heap_peak committed live_bytes rss_kb records_kb cycles oom pauses stalls work_p50_ns work_p99_ns work_max_ns wall_max_ns"
    for (t = 0; t < 120; t++) {
      f = t / 120; w = (t % 7) / 7            # a little wobble
      heap = 60e6 * (1 + hg * f) + 3e6 * w; live = 18e6 * (1 + lg * f) + 1e6 * w
      rec = t * 40                            # the harness array grows: not a leak
      rss = 90000 * (1 + rg * f) + rec + 2000 * w
      p99 = 90000 * (1 + pg * f) + 10000 * w
      printf "%.1f web %d %d %d %d %d %d %d %d %d 0 %d %d %d %d\n", t, heap, heap, heap, live, rss, rec, t, (t == 100 ? oom : 0), 150, 8000, p99, p99 + 5000, 2000000
    }
  }' > "$1"
}
expect() { # NAME pass|fail ARGS...
  name=$1 want=$2
  shift 2
  gen "$tmp/s" "$@"
  if sh gc/tests/soak.sh --judge "$tmp/s" 120 > "$tmp/out" 2>&1; then got=pass; else got=fail; fi
  if [ "$got" = "$want" ]; then
    echo "ok: $name: $got"
  else
    echo "FAILED: $name: expected $want, got $got"; cat "$tmp/out"; fails=$((fails + 1))
  fi
}
expect "flat" pass 0 0 0 0 0
expect "heap grows 3x" fail 2 0 0 0 0
expect "live data grows 2x" fail 0 1 0 0 0
expect "RSS grows 2x" fail 0 0 1 0 0
expect "p99 pause work grows 6x" fail 0 0 0 5 0
expect "an allocation failed" fail 0 0 0 0 1
# the harness's own record array may grow: that alone is not a leak
expect "heap and RSS grow 10%" pass 0.1 0.1 0.1 0.2 0
[ "$fails" -eq 0 ]
