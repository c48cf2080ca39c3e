#!/usr/bin/env bash
# The whole test suite: prepares the Python plugins the tests use, then runs cargo test.
# Usage: scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."
ELTR_TEST_VENV=$(scripts/test-env.sh)
export ELTR_TEST_VENV
# Examples are the fixture taps and targets the integration tests spawn.
cargo build --examples
cargo test "$@"
