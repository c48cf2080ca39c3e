#!/usr/bin/env bash
# The whole test suite: prepares the Python plugins and emulators the tests use (once, under
# target/test-tools), starts the S3 and Azure emulators, runs cargo test, stops them.
# Usage: scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."
tools=$(scripts/test-env.sh)
export ELTR_TEST_TOOLS=$tools
export ELTR_TEST_VENV=$tools/venvs
# Meltano 4.4.1, which tests/project_editing.rs runs beside eltr.
export ELTR_TEST_MELTANO=$tools/venvs/meltano/bin/meltano
# `eltr install` uses uv when ELTR_UV names it; tests/install.rs runs each install test twice,
# with this uv and with pip (ELTR_UV left out, no uv on PATH), so both paths run everywhere.
export ELTR_UV=$tools/venvs/uv/bin/uv
eval "$(scripts/emulators.sh "$tools")"
trap 'scripts/emulators.sh --stop' EXIT
# Examples are the fixture taps and targets the integration tests spawn.
cargo build --examples
cargo test "$@"
