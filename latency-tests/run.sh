#!/bin/sh
# latency-tests/run.sh - run the pause-percentile regression cases.
#
#   sh latency-tests/run.sh [-b BUILD] [--set short|all] [--cases "A B ..."]
#                           [--update] [--runs N]
#
#   -b BUILD     where gclat and ltcheck are (default build)
#   --set        short: the cases marked short (make test); all: every case
#                but the known failures (make latency).  Default short.
#   --cases      only these cases (names from cases.txt), whatever their set
#   --update     record the baselines instead of checking them: each case
#                runs N times (--runs, default 3) and baselines/NAME.json
#                gets the worst of the runs (ltcheck baseline)
#
# A regression must reproduce: a case that regresses runs again, up to
# LATENCY_CONFIRM more times (default 2), and fails only if every run
# regresses.  These machines stall a vCPU for milliseconds dozens of times
# a minute (shared/NOISE.md); a collector that really got slower regresses
# in every run (the teeth test's injected delay does).
# LATENCY_EXTRA adds gclat options to every run (and to the reproducing
# command), e.g. LATENCY_EXTRA="--gc-options inject=roots:3ms" (the teeth
# test).  Results go to BUILD/latency/NAME.json, gclat's output beside them.
# Exit: 0 every case passed, 1 a regression, 2 an error (a missing baseline,
# gclat failed to run).
set -u
B=build
SET=short
ONLY=""
UPDATE=0
RUNS=3
while [ $# -gt 0 ]; do
  case "$1" in
    -b) B=$2; shift 2 ;;
    --set) SET=$2; shift 2 ;;
    --cases) ONLY=$2; shift 2 ;;
    --update) UPDATE=1; shift ;;
    --runs) RUNS=$2; shift 2 ;;
    *) echo "usage: $0 [-b BUILD] [--set short|all] [--cases \"A B\"] [--update] [--runs N]" >&2; exit 2 ;;
  esac
done
case "$SET" in short|all) ;; *) echo "run.sh: --set must be short or all" >&2; exit 2 ;; esac
case "$RUNS" in ''|*[!0-9]*|0) echo "run.sh: --runs must be a positive number" >&2; exit 2 ;; esac

dir=$(dirname "$0")
out="$B/latency"
mkdir -p "$out"
for p in "$B/gclat" "$B/ltcheck"; do
  [ -x "$p" ] || { echo "run.sh: $p is missing (make $p)" >&2; exit 2; }
done
extra=${LATENCY_EXTRA:-}
confirm=${LATENCY_CONFIRM:-2}
case "$confirm" in ''|*[!0-9]*) echo "run.sh: LATENCY_CONFIRM must be a number" >&2; exit 2 ;; esac

start=$(date +%s)
n=0; npass=0; nfail=0; nerr=0; failed=""
if [ $UPDATE -eq 1 ]; then
  echo "latency: recording baselines ($RUNS runs a case, the worst of them kept)"
else
  if [ -n "$ONLY" ]; then what="cases: $ONLY"; else what="set $SET"; fi
  echo "latency: $what${extra:+, with gclat options: $extra}"
fi

# The cases go through a here-document, not a pipe, so the counters above
# survive the loop.
cases=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$dir/cases.txt")
while read -r name set workload mode threads budget duration mmu tol rest; do
  if [ -n "$ONLY" ]; then
    case " $ONLY " in *" $name "*) ;; *) continue ;; esac
  elif [ "$set" = known ] || { [ "$SET" = short ] && [ "$set" != short ]; }; then
    continue
  fi
  n=$((n + 1))
  cmd="$B/gclat --workload $workload --mode $mode --threads $threads --budget $budget --duration $duration --seed 1 --quiet --no-progress${rest:+ $rest}${extra:+ $extra}"
  if [ $UPDATE -eq 1 ]; then
    files=""
    i=1
    ok=1
    while [ $i -le "$RUNS" ]; do
      f="$out/$name.run$i.json"
      # shellcheck disable=SC2086
      $cmd --json "$f" > "$out/$name.run$i.log" 2>&1
      rc=$?
      if [ $rc -ge 2 ] || [ ! -s "$f" ]; then
        echo "  ERROR $name: gclat exited $rc (log: $out/$name.run$i.log)"; tail -n 5 "$out/$name.run$i.log"
        ok=0; break
      fi
      files="$files $f"
      i=$((i + 1))
    done
    # shellcheck disable=SC2086
    if [ $ok -eq 1 ] && "$B/ltcheck" baseline --case "$name" --out "$dir/baselines/$name.json" \
         --command "$cmd --json $out/$name.json" $files; then
      npass=$((npass + 1))
    else
      nerr=$((nerr + 1)); failed="$failed $name"
    fi
    continue
  fi
  f="$out/$name.json"
  try=0
  while :; do
    rm -f "$f"
    # shellcheck disable=SC2086
    $cmd --json "$f" > "$out/$name.log" 2>&1
    rc=$?
    # gclat exits 1 when its own verdict (wall time included) fails; ltcheck
    # judges the run here.  2 or more, or no JSON, means it did not run.
    if [ $rc -ge 2 ] || [ ! -s "$f" ]; then
      echo "  ERROR $name: gclat exited $rc (log: $out/$name.log)"; tail -n 5 "$out/$name.log"
      echo "  reproduce: $cmd --json $f"
      rc=2
      break
    fi
    "$B/ltcheck" check --case "$name" --result "$f" --baseline "$dir/baselines/$name.json" \
      --mmu "$mmu" --tol "$tol" --command "$cmd --json $f"
    rc=$?
    try=$((try + 1))
    [ $rc -eq 1 ] && [ $try -le "$confirm" ] || break
    echo "  $name regressed in run $try: once more, to see whether it reproduces"
  done
  [ $rc -eq 0 ] && [ $try -gt 1 ] && echo "  $name: passed in run $try (the regressions before it did not reproduce)"
  case $rc in
    0) npass=$((npass + 1)) ;;
    1) nfail=$((nfail + 1)); failed="$failed $name" ;;
    *) nerr=$((nerr + 1)); failed="$failed $name" ;;
  esac
done <<EOF
$cases
EOF

secs=$(( $(date +%s) - start ))
if [ $UPDATE -eq 1 ]; then
  echo "latency: $npass baseline(s) recorded, $nerr error(s) in ${secs}s${failed:+; failed:$failed}"
  echo "latency: review with 'git diff latency-tests/baselines' and commit them with the reason"
  [ $nerr -eq 0 ] && [ $n -gt 0 ]
  exit $?
fi
echo "latency: $n case(s): $npass passed, $nfail regressed, $nerr error(s) in ${secs}s${failed:+; failing:$failed}"
[ $n -gt 0 ] || { echo "latency: no case selected" >&2; exit 2; }
[ $nerr -gt 0 ] && exit 2
[ $nfail -gt 0 ] && exit 1
exit 0
