#!/usr/bin/env bash
# Dev tool: compares `config print` (JSON, --extras, --format env) of eltr and Meltano 4.4.1 on
# a Meltano project folder, item by item, for every plugin and mapping it defines.
#
#   scripts/compare-settings.sh PROJECT_DIR [--environment NAME] [--unsafe] [--plugin NAME]
#
# The project needs its plugins' lockfiles (plugins/<type>/*.lock) or custom definitions:
# Meltano asks the Hub for the rest, which is offline here, so those plugins show as errors on
# Meltano's side. Meltano's outputs are cached under target/compare-settings-cache (delete it
# after changing the project). Not part of CI: the corpus is public projects kept outside the
# repository.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
venv="$here/target/test-tools/venvs/meltano"
eltr="${ELTR_BIN:-$here/target/debug/eltr}"
exec "$venv/bin/python" "$here/scripts/compare-settings.py" \
    --meltano "$venv/bin/meltano" --eltr "$eltr" \
    --cache "$here/target/compare-settings-cache" "$@"
