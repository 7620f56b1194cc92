#!/bin/sh
# run.sh BUILD_DIR [RUNS] - the JIT against the interpreter on the benchmarks
# here.  Each program prints "ms N" (its own run time, measured with the
# VM's clock) last; every program runs RUNS times (default 5) per mode and
# the best time of each mode is reported, with the ratio.  The machines are
# noisy: the best of several runs is the figure least disturbed by them.
set -u
B=${1:-build}
RUNS=${2:-5}
dir=$(dirname "$0")
printf '%-34s %10s %10s %8s\n' benchmark "interp ms" "jit ms" speedup
# binary-trees runs twice: with the library's default collector settings,
# and with collections rarer (min_trigger=64M), where the collector's share
# (the same in both modes) weighs less and the code generated counts more.
for run in "fib.rtvm" "binary-trees.rtvm" "binary-trees.rtvm --gc=min_trigger=64M"; do
  f=$dir/${run%% *}
  extra=""
  [ "$run" != "${run#* }" ] && extra=${run#* }
  n=$(basename "$f" .rtvm)${extra:+ (${extra#--gc=})}
  best() {
    b=""
    i=0
    while [ $i -lt "$RUNS" ]; do
      t=$("$B/rtvm" "$f" --jit="$1" $extra | sed -n 's/^ms //p')
      [ -z "$b" ] || [ "$t" -lt "$b" ] && b=$t
      i=$((i + 1))
    done
    echo "$b"
  }
  off=$(best off)
  on=$(best on)
  printf '%-34s %10s %10s %7sx\n' "$n" "$off" "$on" "$(awk -v a="$off" -v b="$on" 'BEGIN { printf "%.1f", a / (b > 0 ? b : 1) }')"
done
