#!/usr/bin/env bash
# Dev tool: runs the same read-only commands (compile, config list / print, job / schedule /
# environment / plugin / state list, invoke --print-var / --dump config, run --dry-run) with
# eltr and Meltano 4.4.1 on Meltano project folders, each tool in its own copy, and prints
# per project and command: same, differs, only-one-fails, both-fail or meltano-needs-hub,
# with a diff excerpt.
#
#   scripts/compare-corpus.sh [--excerpt N] PROJECT_DIR...
#
# Each PROJECT_DIR holds a meltano.yml. Meltano Hub is kept out of reach (a closed port), so
# plugins with neither a lockfile nor a custom definition fail on Meltano's side. Exits 1 when
# any command differs or fails in one tool only. Not part of CI: the corpus is public projects
# kept outside the repository.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
venv="$here/target/test-tools/venvs/meltano"
eltr="${ELTR_BIN:-$here/target/debug/eltr}"
exec "$venv/bin/python" "$here/scripts/compare-corpus.py" \
    --meltano "$venv/bin/meltano" --eltr "$eltr" "$@"
