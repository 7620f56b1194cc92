#!/bin/sh
# run-fuzz.sh FUZZER SECONDS - a short fuzzing run for make test, from the
# seed corpus (copied: libFuzzer adds what it finds to its first corpus
# folder).  Exits with the fuzzer's status: non-zero when it found a crash,
# a leak or a timeout (the input is left in build/fuzz/).
set -u
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/corpus"
cp vm/fuzz/corpus/* vm/tests/programs/*.rtvm vm/tests/errors/*.rtvm vm/programs/*.rtvm "$tmp/corpus"/ 2>/dev/null
"$1" -max_total_time="$2" -timeout=5 -rss_limit_mb=1536 -print_final_stats=1 \
  -artifact_prefix="$(dirname "$1")/" "$tmp/corpus" > "$tmp/log" 2>&1
rc=$?
tail -12 "$tmp/log"
exit $rc
