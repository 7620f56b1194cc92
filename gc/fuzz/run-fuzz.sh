#!/bin/sh
# run-fuzz.sh FUZZER SECONDS - a fuzzing run of the API fuzzer from the
# committed corpus (copied: libFuzzer adds what it finds to its first
# corpus folder).  First every corpus input is run once (a regression test
# of what earlier runs found), then new inputs for SECONDS.  Exits with the
# fuzzer's status: non-zero when it found a crash, a leak or a timeout (the
# input is left beside the fuzzer, crash-* / timeout-*).
set -u
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/corpus"
cp gc/fuzz/corpus/* "$tmp/corpus"/ 2>/dev/null
"$1" -max_total_time="$2" -timeout=20 -rss_limit_mb=2048 -max_len=2048 -print_final_stats=1 \
  -artifact_prefix="$(dirname "$1")/" "$tmp/corpus" > "$tmp/log" 2>&1
rc=$?
grep -E '^#[0-9]+ +(INITED|DONE)|ERROR|SUMMARY|fuzz_api:|stat::number_of_executed_units|crash-|timeout-' "$tmp/log" | tail -20
exit $rc
