#!/bin/sh
# run-errors.sh BUILD_DIR - rtvm's error cases.
#
# Each vm/tests/errors/X.rtvm starts with "; exit: N", optionally
# "; args: ...", and "; stderr: MESSAGE" where FILE stands for the
# program's path.  The program must exit with N and print exactly MESSAGE on
# stderr, with the interpreter and with the JIT.
set -u
B=${1:-build}
RTVM=$B/rtvm
dir=$(dirname "$0")/errors
pass=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in "$dir"/*.rtvm; do
  want_rc=$(sed -n 's/^; exit: //p' "$f" | head -1)
  args=$(sed -n 's/^; args: //p' "$f" | head -1)
  sed -n 's/^; stderr: //p' "$f" | head -1 | sed "s|FILE|$f|g" > "$tmp/want"
  for jit in off on; do
    timeout 60 "$RTVM" "$f" --jit=$jit $args > /dev/null 2> "$tmp/err"
    rc=$?
    if [ "$rc" = "$want_rc" ] && cmp -s "$tmp/err" "$tmp/want"; then
      pass=$((pass + 1))
    else
      echo "FAIL $f --jit=$jit: exit $rc (want $want_rc)"
      echo "  want: $(cat "$tmp/want")"
      echo "  got:  $(head -3 "$tmp/err")"
      fail=$((fail + 1))
    fi
  done
done
echo "rtvm errors: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
