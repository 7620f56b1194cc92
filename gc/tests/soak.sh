#!/bin/sh
# gc/tests/soak.sh GCLAT DURATION [gclat options...] - the soak test (make soak).
#
# Runs gclat's web workload for DURATION (10m, 600s, 1h; at most 1h, gclat's
# own limit) with --sample, one line of figures a second, and judges them:
#
#   errors   gclat reports no ERROR, exits 0 or 1 (1: a pause broke the
#            budget, which is reported here but judged by gclat and the
#            latency tests, not by the soak), no allocation failed, no
#            pause record was lost.
#   heap     after the warm-up (the first tenth, at least 30 s) the run is
#            cut into thirds; the largest heap_size and live_bytes of the
#            last third may exceed those of the first by at most
#            SOAK_HEAP_TOL (25%) plus 4 MiB, and so may the growth over
#            the whole span by a least-squares line (against the mean).
#   RSS      the same for the resident set, less the harness's own pause
#            array (records_kb, which grows by design): SOAK_RSS_TOL (25%)
#            plus 16 MiB.
#   pauses   the collector's work per pause (CPU time, not wall time: the
#            machine's own stalls are not the collector's, NOISE.md): the
#            median over the third's seconds of each second's p50 and p99
#            may grow from the first third to the last by at most a factor
#            SOAK_DRIFT (1.5) plus 20 us; the pause rate by SOAK_DRIFT
#            plus 50 a second.
#
# The samples and gclat's report stay in build/soak/.  Exit 0 when every
# check passed.
set -u
judge() { # SAMPLES SECS
  secs=$2
  awk -v dur="$secs" -v htol="${SOAK_HEAP_TOL:-0.25}" -v rtol="${SOAK_RSS_TOL:-0.25}" \
      -v drift="${SOAK_DRIFT:-1.5}" '
  function median(a, n,   i, j, t) {
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n ? (n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2) : 0
  }
  function mean(a, n,   i, s) { for (i = 1; i <= n; i++) s += a[i]; return n ? s / n : 0 }
  # growth over the span by a least-squares line through (T, a)
  function trend(a, n,   i, mt, ma, sxy, sxx) {
    mt = mean(T, n); ma = mean(a, n)
    for (i = 1; i <= n; i++) { sxy += (T[i] - mt) * (a[i] - ma); sxx += (T[i] - mt) ^ 2 }
    return sxx > 0 ? sxy / sxx * (T[n] - T[1]) : 0
  }
  /^#/ { next }
  {
    t = $1; n++
    if ($10 > oom) oom = $10
    warm = dur / 10; if (warm < 30) warm = 30
    if (t < warm) next
    m++; T[m] = t; heap[m] = $3; live[m] = $6; rss[m] = $7 - $8; np[m] = $11; p50[m] = $13; p99[m] = $14
  }
  END {
    bad = 0
    if (oom > 0) { printf "soak: FAILED: %d allocations failed\n", oom; bad = 1 }
    if (m < 9) { printf "soak: FAILED: only %d samples after the warm-up\n", m; exit 1 }
    k = int(m / 3)
    for (i = 1; i <= k; i++) {
      j = m - k + i
      if (heap[i] > h1) h1 = heap[i]; if (heap[j] > h3) h3 = heap[j]
      if (live[i] > l1) l1 = live[i]; if (live[j] > l3) l3 = live[j]
      if (rss[i] > r1) r1 = rss[i]; if (rss[j] > r3) r3 = rss[j]
      a50[i] = p50[i]; b50[i] = p50[j]; a99[i] = p99[i]; b99[i] = p99[j]; an[i] = np[i]; bn[i] = np[j]
    }
    m50a = median(a50, k); m50b = median(b50, k); m99a = median(a99, k); m99b = median(b99, k)
    rna = median(an, k); rnb = median(bn, k)
    printf "soak: %d samples after %d s of warm-up; thirds of %d s: first from %.0f s, last to %.0f s\n", m, warm, k, T[1], T[m]
    printf "soak: heap size max    %8.1f MiB -> %8.1f MiB\n", h1 / 1048576, h3 / 1048576
    printf "soak: live bytes max   %8.1f MiB -> %8.1f MiB\n", l1 / 1048576, l3 / 1048576
    printf "soak: RSS less records %8.1f MiB -> %8.1f MiB\n", r1 / 1024, r3 / 1024
    printf "soak: work p50 (median of seconds) %6.1f us -> %6.1f us; p99 %6.1f us -> %6.1f us; pauses/s %d -> %d\n", \
      m50a / 1000, m50b / 1000, m99a / 1000, m99b / 1000, rna, rnb
    gh = trend(heap, m); gl = trend(live, m); gr = trend(rss, m)
    printf "soak: trend over %.0f s: heap %+.1f MiB, live %+.1f MiB, RSS less records %+.1f MiB\n", T[m] - T[1], \
      gh / 1048576, gl / 1048576, gr / 1024
    if (h3 > h1 * (1 + htol) + 4194304 || gh > mean(heap, m) * htol + 4194304) { print "soak: FAILED: the heap grew"; bad = 1 }
    if (l3 > l1 * (1 + htol) + 4194304 || gl > mean(live, m) * htol + 4194304) { print "soak: FAILED: live data grew"; bad = 1 }
    if (r3 > r1 * (1 + rtol) + 16384 || gr > mean(rss, m) * rtol + 16384) { print "soak: FAILED: the resident set grew"; bad = 1 }
    if (m50b > m50a * drift + 20000) { print "soak: FAILED: the median pause work drifted up"; bad = 1 }
    if (m99b > m99a * drift + 20000) { print "soak: FAILED: the p99 pause work drifted up"; bad = 1 }
    if (rnb > rna * drift + 50) { print "soak: FAILED: the pause rate drifted up"; bad = 1 }
    exit bad
  }' "$1"
}

# soak.sh --judge SAMPLES SECONDS: only judge a samples file (the checker's
# own test, gc/tests/test_soak.sh).
if [ "${1:-}" = --judge ]; then
  judge "$2" "$3"
  exit $?
fi
gclat=$1
dur=${2:-10m}
shift 2 2>/dev/null || shift $#
case "$dur" in
  *h) secs=$(( ${dur%h} * 3600 )) ;;
  *m) secs=$(( ${dur%m} * 60 )) ;;
  *s) secs=${dur%s} ;;
  *) secs=$dur ;;
esac
case "$secs" in ''|*[!0-9]*) echo "soak: bad duration '$dur' (e.g. 10m, 600s)"; exit 2 ;; esac
[ "$secs" -ge 30 ] || { echo "soak: a soak shorter than 30 s says nothing (got $dur)"; exit 2; }
out=build/soak
mkdir -p "$out"
rm -f "$out/samples.txt" "$out/report.txt" "$out/report.json"
echo "soak: $gclat --workload web --duration ${secs}s --sample $out/samples.txt $* (started $(date -u +%H:%M:%S) UTC)"
"$gclat" --workload web --duration "${secs}s" --sample "$out/samples.txt" --json "$out/report.json" \
  --no-progress "$@" > "$out/report.txt" 2>&1
rc=$?
tail -4 "$out/report.txt"
fail=0
if [ $rc -gt 1 ]; then
  echo "soak: FAILED: gclat exited $rc"; fail=1
elif [ $rc -eq 1 ]; then
  echo "soak: note: gclat's verdict is FAIL (a pause over the budget; see $out/report.txt)"
fi
if grep -q 'ERROR' "$out/report.txt"; then
  echo "soak: FAILED: gclat reported an error:"; grep -m3 'ERROR' "$out/report.txt"; fail=1
fi
if grep -qE 'records lost +[1-9]' "$out/report.txt"; then
  echo "soak: FAILED: pause records were lost"; fail=1
fi
[ -s "$out/samples.txt" ] || { echo "soak: FAILED: no samples"; exit 1; }

judge "$out/samples.txt" "$secs" || fail=1

if [ $fail -eq 0 ]; then
  echo "soak: ok: ${secs} s of web, flat heap and RSS, no drift, no error (samples: $out/samples.txt)"
else
  echo "soak: FAILED (samples: $out/samples.txt, report: $out/report.txt)"
fi
exit $fail
