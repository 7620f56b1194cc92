#!/bin/sh
# run-teeth.sh BUILD_DIR - the stack scan's return barrier has teeth.
#
# vm/tests/teeth/return-barrier.rtvm must run clean on build/rtvm (the
# interpreter and the JIT) and must be caught by the heap verifier on
# rtvm-broken-barrier, a VM built with RTVM_BROKEN_RETURN_BARRIER (returns
# below the watermark do not shade).
set -u
B=${1:-build}
prog=$(dirname "$0")/teeth/return-barrier.rtvm
gc=--gc=mode=step,verify=1,min_trigger=1M,heap=64M
fail=0
for jit in off on; do
  out=$("$B/rtvm" "$prog" $gc --jit=$jit --call=run:3 2>&1)
  if [ "$out" != "run => 3" ]; then
    echo "FAIL: $B/rtvm --jit=$jit: $out" | head -3
    fail=1
  fi
  out=$("$B/tests/rtvm-broken-barrier" "$prog" $gc --jit=$jit --call=run:3 2>&1) 2>/dev/null
  if echo "$out" | grep -q "marking missed"; then
    echo "ok: without the return barrier (--jit=$jit) the verifier reports: $(echo "$out" | grep -m1 'marking missed')"
  else
    echo "FAIL: the broken VM (--jit=$jit) was not caught: $(echo "$out" | tail -1)"
    fail=1
  fi
done
[ $fail -eq 0 ] && echo "rtvm teeth: ok"
exit $fail
