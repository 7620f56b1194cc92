#!/bin/sh
# bench/run-peers.sh - gcbench, binary-trees and msgbuf on every memory
# manager, side by side (bench/macro/peers.c; bench/README.md).
#
#   sh bench/run-peers.sh [-b BUILD] [--runs N] [--benches "msgbuf gcbench binary-trees"]
#                         [--impls "rtgc-concurrent ... glibc"] [--out FILE] [--args "..."]
#
# Every (benchmark, implementation) runs N times (default 3) as a process of
# its own; the runs are interleaved (round 1 of everything, then round 2, ...)
# so that the machine's drift falls on all of them alike.  Each figure in
# the table is the median of the N runs, and the ratios are to jemalloc's
# medians from the same invocation.  Raw results: BUILD/bench/peers-runs.txt;
# the medians and ratios as JSON: BUILD/bench/peers.json (or --out).
# --args adds options to every run (e.g. "--pushes 1000000").
# Every run of a benchmark must compute the same checksum, whatever the
# memory manager (exit 1 otherwise, and when a run fails).
# Implementations: rtgc-MODE (librtgc in that mode, default options),
# rtgc-MODE+KEY=VALUE,... (more librtgc options), boehm, boehm-incremental,
# jemalloc, glibc.
set -u
B=build
RUNS=3
BENCHES="msgbuf gcbench binary-trees"
IMPLS="rtgc-concurrent rtgc-concurrent+growth=0.25 rtgc-incremental rtgc-step rtgc-stw boehm boehm-incremental jemalloc glibc"
OUT=""
ARGS=""
while [ $# -gt 0 ]; do
  case "$1" in
    -b) B=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --benches) BENCHES=$2; shift 2 ;;
    --impls) IMPLS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --args) ARGS=$2; shift 2 ;;
    *) echo "usage: $0 [-b BUILD] [--runs N] [--benches LIST] [--impls LIST] [--out FILE] [--args ARGS]" >&2; exit 2 ;;
  esac
done
case "$RUNS" in ''|*[!0-9]*|0) echo "run-peers.sh: --runs must be a positive number" >&2; exit 2 ;; esac
OUT=${OUT:-$B/bench/peers.json}
raw="$B/bench/peers-runs.txt"
mkdir -p "$B/bench"
: > "$raw"

cmd_of() {
  case "$1" in
    rtgc-*+*) x=${1#rtgc-}; echo "$B/bench/peers-rtgc --options mode=${x%%+*},${x#*+}" ;;
    rtgc-*) echo "$B/bench/peers-rtgc --options mode=${1#rtgc-}" ;;
    boehm) echo "$B/bench/peers-boehm" ;;
    boehm-incremental) echo "$B/bench/peers-boehm --incremental" ;;
    jemalloc) echo "$B/bench/peers-jemalloc" ;;
    glibc) echo "$B/bench/peers-glibc" ;;
    *) echo "run-peers.sh: unknown implementation $1" >&2; exit 2 ;;
  esac
}

machine=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
cpus=$(nproc)
echo "peers: $BENCHES x $IMPLS, $RUNS run(s) each; $machine, $cpus CPUs"
start=$(date +%s)
status=0
r=1
while [ $r -le "$RUNS" ]; do
  for b in $BENCHES; do
    for i in $IMPLS; do
      c=$(cmd_of "$i") || exit 2
      # shellcheck disable=SC2086
      line=$($c --bench "$b" $ARGS 2> "$B/bench/peers-last.err" | grep '^RESULT ')
      if [ -z "$line" ]; then
        echo "peers: FAILED: $c --bench $b $ARGS" >&2
        cat "$B/bench/peers-last.err" >&2
        status=1
        continue
      fi
      echo "run=$r impl_name=$i $line" >> "$raw"
      printf '  round %d  %-13s %-26s %s\n' "$r" "$b" "$i" "$(echo "$line" | sed -e 's/^RESULT //' -e 's/ check=.*//' -e 's/bench=[^ ]* impl=[^ ]* //' -e 's/ count=[0-9]*//')"
    done
  done
  r=$((r + 1))
done
secs=$(( $(date +%s) - start ))

# Medians, ratios to jemalloc, the JSON and the table.
awk -v out="$OUT" -v machine="$machine" -v cpus="$cpus" -v runs="$RUNS" -v secs="$secs" \
    -v benches="$BENCHES" -v impls="$IMPLS" -v when="$(date -u +%Y-%m-%dT%H:%M:%SZ)" '
function median(key, field,    n, i, j, v, t) {
  n = cnt[key]
  for (i = 1; i <= n; i++) v[i] = val[key, i, field] + 0
  for (i = 2; i <= n; i++) { t = v[i]; for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
  if (n % 2) return v[(n + 1) / 2]
  return (v[n / 2] + v[n / 2 + 1]) / 2
}
function ms(ns) { return ns < 0 ? "-" : ns >= 1e6 ? sprintf("%.2f ms", ns / 1e6) : sprintf("%.1f us", ns / 1e3) }
function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "-" }
{
  key = ""; impl = ""; bench = ""
  for (f = 1; f <= NF; f++) {
    eq = index($f, "=")
    if (substr($f, 1, eq - 1) == "impl_name") impl = substr($f, eq + 1)
    if (substr($f, 1, eq - 1) == "bench") bench = substr($f, eq + 1)
  }
  key = bench SUBSEP impl
  n = ++cnt[key]
  for (f = 1; f <= NF; f++) if (substr($f, 1, 6) == "check=") ck = substr($f, 7)
  if (!(bench in check)) { check[bench] = ck; check_by[bench] = impl }
  else if (check[bench] != ck) {
    printf "peers: ERROR: %s on %s computed %s, %s computed %s: the programs did not do the same work\n", bench, impl, ck, check_by[bench], check[bench]
    bad = 1
  }
  for (f = 1; f <= NF; f++) {
    eq = index($f, "=")
    val[key, n, substr($f, 1, eq - 1)] = substr($f, eq + 1)
  }
}
END {
  nf = split("time_s max_ns p999_ns p99_ns rss_mb gc_max_ns gc_max_work_ns gc_cycles mmu10_wall", fields, " ")
  nb = split(benches, B, " "); ni = split(impls, I, " ")
  printf "{\"machine\": \"%s\", \"cpus\": %d, \"runs\": %d, \"date\": \"%s\", \"seconds\": %d,\n \"results\": [", machine, cpus, runs, when, secs > out
  sep = ""
  for (b = 1; b <= nb; b++) for (i = 1; i <= ni; i++) {
    key = B[b] SUBSEP I[i]
    if (!cnt[key]) continue
    for (f = 1; f <= nf; f++) med[key, fields[f]] = median(key, fields[f])
  }
  for (b = 1; b <= nb; b++) for (i = 1; i <= ni; i++) {
    key = B[b] SUBSEP I[i]; jk = B[b] SUBSEP "jemalloc"
    if (!cnt[key]) continue
    printf "%s\n  {\"bench\": \"%s\", \"impl\": \"%s\", \"runs\": %d", sep, B[b], I[i], cnt[key] > out
    for (f = 1; f <= nf; f++) printf ", \"%s\": " (fields[f] == "time_s" ? "%.4f" : fields[f] ~ /^(rss_mb|mmu10_wall)$/ ? "%.2f" : "%.0f"), fields[f], med[key, fields[f]] > out
    if (cnt[jk]) {
      printf ", \"time_vs_jemalloc\": %s, \"max_vs_jemalloc\": %s, \"p999_vs_jemalloc\": %s, \"rss_vs_jemalloc\": %s", \
        ratio(med[key, "time_s"], med[jk, "time_s"]), ratio(med[key, "max_ns"], med[jk, "max_ns"]), \
        ratio(med[key, "p999_ns"], med[jk, "p999_ns"]), ratio(med[key, "rss_mb"], med[jk, "rss_mb"]) > out
    }
    printf ", \"options\": \"%s\"}", val[key, 1, "options"] > out
    sep = ","
  }
  printf "\n]}\n" > out
  close(out)

  printf "\npeers: medians of %d run(s); x jem = the ratio to jemalloc in this run; %s, %d CPUs; %d s\n", runs, machine, cpus, secs
  printf "msgbuf: time = the push loop, pauses = pushes (each timed); gcbench, binary-trees: time = the run, pauses = gaps between checkpoints every 64 allocations/frees\n"
  printf "%-13s %-26s %9s %6s %11s %6s %11s %9s %6s %6s  %s\n", "bench", "memory", "time (s)", "x jem", "max pause", "x jem", "p99.9", "RSS (MB)", "x jem", "MMU10", "librtgc longest record: wall / work"
  for (b = 1; b <= nb; b++) for (i = 1; i <= ni; i++) {
    key = B[b] SUBSEP I[i]; jk = B[b] SUBSEP "jemalloc"
    if (!cnt[key]) continue
    printf "%-13s %-26s %9.3f %6s %11s %6s %11s %9.1f %6s %6s  %s\n", B[b], I[i], med[key, "time_s"], \
      ratio(med[key, "time_s"], med[jk, "time_s"]), ms(med[key, "max_ns"]), ratio(med[key, "max_ns"], med[jk, "max_ns"]), \
      ms(med[key, "p999_ns"]), med[key, "rss_mb"], ratio(med[key, "rss_mb"], med[jk, "rss_mb"]), \
      (I[i] ~ /^rtgc/ ? sprintf("%.2f", med[key, "mmu10_wall"]) : "-"), \
      (I[i] ~ /^rtgc/ ? ms(med[key, "gc_max_ns"]) " / " ms(med[key, "gc_max_work_ns"]) : "-")
  }
  printf "results: %s (raw runs: %s)\n", out, FILENAME
  if (bad) exit 1
}' "$raw" || status=1
exit $status
