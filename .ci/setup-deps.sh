#!/bin/sh
# Install the Debian packages a build needs, when they are missing.
#   sh .ci/setup-deps.sh core|bench|model|check|all
# model: what make test adds to core (SPIN for the model check, clang for
# the API fuzzer's libFuzzer build); check: what make check-all adds
# (those, and valgrind).
# Runs apt-get directly as root, through sudo otherwise.  Installs nothing
# when every package is already there.
set -eu

core="gcc g++ make binutils pkg-config libatomic-ops-dev libjemalloc-dev libcmocka-dev libbenchmark-dev"
bench="libgc-dev"
model="spin clang"
check="spin valgrind clang"

case "${1:-core}" in
  core) want="$core" ;;
  bench) want="$core $bench" ;;
  model) want="$core $model" ;;
  check) want="$core $check" ;;
  all) want="$core $bench $check" ;;
  *) echo "usage: $0 core|bench|model|check|all" >&2; exit 2 ;;
esac

# make -j runs this for several stamps at once; apt-get takes one at a time.
if [ -z "${RTGC_SETUP_LOCKED:-}" ] && command -v flock >/dev/null 2>&1; then
  RTGC_SETUP_LOCKED=1 exec flock "${TMPDIR:-/tmp}/rtgc-setup-deps.lock" sh "$0" "$@"
fi

missing=""
for p in $want; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0

echo "setup: installing Debian packages:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1; then
  SUDO="sudo"
else
  echo "setup: these packages are missing and I am not root (no sudo):$missing" >&2
  echo "setup: install them with: apt-get install$missing" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || $SUDO apt-get update
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
