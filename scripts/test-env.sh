#!/usr/bin/env bash
# Prepares what the test suite needs beyond cargo, under target/test-tools (reused when
# already there):
#   venvs/map-transform, venvs/target-jsonl   the real PyPI plugins the tests run (their pins
#                                              conflict, so each has its own venv, as under
#                                              Meltano)
#   venvs/emulators                            moto server (S3) and azure-storage-blob (to create
#                                              the test container)
#   venvs/uv                                   uv, the fast installer `eltr install` prefers
#   azurite/                                   the Azure Blob emulator, from npm
# Prints the tools folder on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
tools=${ELTR_TEST_TOOLS:-$here/target/test-tools}
mkdir -p "$tools/venvs"

make_venv() { # name, pip specs...
  local dir=$tools/venvs/$1; shift
  local want="$*"
  if [ -f "$dir/.eltr-test-marker" ] && [ "$(cat "$dir/.eltr-test-marker")" = "$want" ]; then
    return 0
  fi
  rm -rf "$dir"
  python3 -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check "$@"
  echo "$want" > "$dir/.eltr-test-marker"
}

make_azurite() {
  local dir=$tools/azurite
  if [ -x "$dir/node_modules/.bin/azurite-blob" ]; then return 0; fi
  mkdir -p "$dir"
  (cd "$dir" && npm install --silent --no-audit --no-fund azurite@3.35.0)
}

pids=()
make_venv map-transform "meltano-map-transform==0.12.3" >&2 & pids+=($!)
make_venv target-jsonl "target-jsonl==0.1.4" >&2 & pids+=($!)
make_venv emulators "moto[s3]==5.2.5" flask flask-cors azure-storage-blob >&2 & pids+=($!)
make_venv uv "uv==0.13.9" >&2 & pids+=($!)
make_azurite >&2 & pids+=($!)
for p in "${pids[@]}"; do wait "$p"; done
echo "$tools"
