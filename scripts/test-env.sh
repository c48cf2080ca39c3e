#!/usr/bin/env bash
# Prepares what the test suite needs beyond cargo: one virtualenv per real third-party Singer
# plugin the tests run (their pins conflict, as plugins' pins often do, so each gets its own,
# as under Meltano). Idempotent: a venv whose marker matches is reused. Prints the folder
# holding the venvs on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
base=${ELTR_TEST_VENV:-$here/target/test-venvs}
mkdir -p "$base"

make_venv() { # name, pip spec
  local dir=$base/$1 want=$2
  if [ -f "$dir/.eltr-test-marker" ] && [ "$(cat "$dir/.eltr-test-marker")" = "$want" ]; then
    return 0
  fi
  rm -rf "$dir"
  python3 -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check "$want"
  echo "$want" > "$dir/.eltr-test-marker"
}

make_venv map-transform "meltano-map-transform==0.12.3" >&2 &
p1=$!
make_venv target-jsonl "target-jsonl==0.1.4" >&2 &
p2=$!
wait $p1
wait $p2
echo "$base"
