#!/bin/sh
# run-fuzz.sh FUZZER SECONDS [EVERY] - a fuzzing run of the API fuzzer from
# the committed corpus (copied: libFuzzer adds what it finds to its first
# corpus folder).  First every corpus input is run once (a regression test
# of what earlier runs found), then new inputs until SECONDS have passed in
# all.  With EVERY=N only every Nth corpus file is taken (make test: the
# whole corpus takes about 20 s to replay, mostly waiting for collections).  Exits with the
# fuzzer's status: non-zero when it found a crash, a leak or a timeout (the
# input is left beside the fuzzer, crash-* / timeout-*).
set -u
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/corpus"
every=${3:-1}
i=0
for f in gc/fuzz/corpus/*; do
  [ $((i % every)) -eq 0 ] && cp "$f" "$tmp/corpus"/
  i=$((i + 1))
done
"$1" -max_total_time="$2" -timeout=20 -rss_limit_mb=2048 -max_len=2048 -print_final_stats=1 \
  -artifact_prefix="$(dirname "$1")/" "$tmp/corpus" > "$tmp/log" 2>&1
rc=$?
grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|ERROR|SUMMARY|fuzz_api:|stat::number_of_executed_units|crash-|timeout-' "$tmp/log" | tail -20
exit $rc
