#!/bin/sh
# Run test programs; cmocka programs report per test case.  Prints one
# closing line "N passed, N failed" over all test cases and exits non-zero
# when anything failed.
set -u
pass=0
fail=0
failed=""
for t in "$@"; do
  [ -x "$t" ] || { echo "missing test program: $t"; fail=$((fail + 1)); failed="$failed $t"; continue; }
  echo "=== $t"
  out=$(mktemp)
  CMOCKA_MESSAGE_OUTPUT=stdout "$t" > "$out" 2>&1
  rc=$?
  cat "$out"
  p=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test.*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
  f=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test.*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
  rm -f "$out"
  if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
    # not a cmocka program: the exit status is the verdict
    if [ $rc -eq 0 ]; then p=1; else f=1; fi
  elif [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
    f=1
  fi
  pass=$((pass + p))
  fail=$((fail + f))
  [ "$f" -ne 0 ] && failed="$failed $t"
done
[ -n "$failed" ] && echo "failing:$failed"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
