# lib-checks.sh — the pass/fail bookkeeping of the CI check scripts (ci-wheel.sh,
# ci-docker.sh), sourced, not run. Each check prints `ok   NAME` or `FAIL NAME`; `finish`
# prints `SUITE: N passed, M failed` (the line .ci/run sums) and exits non-zero on a failure.
#
# Before sourcing, set CHECKS_SUITE (the word before the counts) and optionally
# CHECKS_NOTE (printed with the elapsed time, e.g. where the logs are) and CHECKS_TAIL (lines
# of a failed step's log `die` shows; default 30). The caller's `started=$SECONDS` times it.

passed=0
failed=0
started=${started:-$SECONDS}
pass() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
# check NAME COMMAND...: passes when the command exits 0.
check() {
  local name=$1; shift
  if "$@"; then pass "$name"; else fail "$name"; fi
}
finish() {
  echo "($CHECKS_SUITE: $((SECONDS - started)) s${CHECKS_NOTE:+; $CHECKS_NOTE})"
  echo "$CHECKS_SUITE: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit
}
# die NAME [LOG]: a step everything after depends on failed; shows the end of its log.
die() {
  fail "$1"
  [ -n "${2:-}" ] && [ -f "$2" ] && tail -n "${CHECKS_TAIL:-30}" "$2" | sed 's/^/    /'
  finish
}
