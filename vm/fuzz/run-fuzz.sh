#!/bin/sh
# run-fuzz.sh FUZZER SECONDS - a short fuzzing run for make test, from the
# seed corpus (copied: libFuzzer adds what it finds to its first corpus folder).
set -u
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp vm/fuzz/corpus/* vm/tests/programs/*.rtvm vm/tests/errors/*.rtvm vm/programs/*.rtvm "$tmp"/ 2>/dev/null
"$1" -max_total_time="$2" -timeout=5 -rss_limit_mb=1024 -print_final_stats=1 "$tmp" 2>&1 | tail -15
