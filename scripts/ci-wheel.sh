#!/usr/bin/env bash
# The Python wheel as a user gets it: builds this machine's wheel (scripts/build-wheels.sh
# native), installs it from the file with no index into a fresh virtualenv, and runs that
# virtualenv's `bin/eltr`: `--version`, then the example project's main job twice (the first
# run lands 5 orders and 3 customers, the second is incremental). Also installs it with
# `uv tool install` and runs it with `uvx`, both offline. Each check is counted; closes with
# `wheel: N passed, M failed` and exits non-zero when anything failed.
#
#   ELTR_WHEEL_PROFILE  (default dev) the cargo profile of the binary in the wheel. CI keeps
#                       dev: scripts/test.sh has already built it, so the wheel costs seconds;
#                       `release` builds the wheel meant for PyPI (minutes of compiling on
#                       2 cores) and checks it the same way.
#   ELTR_WHEEL          a wheel to check instead of building one (what
#                       `scripts/build-wheels.sh manylinux-x86_64` wrote, say)
#   ELTR_TEST_VENV      the test virtualenvs (default target/test-tools/venvs, made by
#                       scripts/test-env.sh): the example's target-jsonl is taken from there,
#                       so nothing is fetched from PyPI.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
started=$SECONDS
profile=${ELTR_WHEEL_PROFILE:-dev}
JOB=orders-to-jsonl
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

CHECKS_SUITE=wheel
# shellcheck source=scripts/lib-checks.sh
. "$repo/scripts/lib-checks.sh"

t=$SECONDS
if [ -n "${ELTR_WHEEL:-}" ]; then
  echo "== the wheel $ELTR_WHEEL"
  mkdir -p "$work/dist" && cp "$ELTR_WHEEL" "$work/dist/" || die "read $ELTR_WHEEL" /dev/null
else
  echo "== build the wheel ($profile profile)"
  ELTR_WHEEL_OUT=$work/dist scripts/build-wheels.sh --profile "$profile" native \
    > "$work/build.log" 2>&1 || die "scripts/build-wheels.sh native" "$work/build.log"
fi
wheels=("$work"/dist/eltr-*.whl)
[ ${#wheels[@]} -eq 1 ] && [ -f "${wheels[0]}" ] || die "one wheel in dist/ (${wheels[*]})" /dev/null
wheel=${wheels[0]}
pass "$(basename "$wheel") ($((SECONDS - t)) s, $(du -k "$wheel" | awk '{printf "%.1f MB", $1/1024}'))"

version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n1)
# What a user sees before installing: the files and the metadata PyPI shows.
python3 - "$wheel" "$version" > "$work/inspect.out" 2>&1 <<'EOF'
import sys, zipfile
wheel, version = sys.argv[1], sys.argv[2]
z = zipfile.ZipFile(wheel)
names = z.namelist()
meta = z.read(f"eltr-{version}.dist-info/METADATA").decode()
head = dict(l.split(": ", 1) for l in meta.split("\n\n", 1)[0].splitlines() if ": " in l)
def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f": {detail}"))
check("the wheel holds the eltr binary as a script", f"eltr-{version}.data/scripts/eltr" in names, names)
code = [n for n in names if n.endswith((".py", ".so")) or "/site-packages/" in n]
check("and no Python code or library", not code, code)
check(f"metadata: eltr {version}", head.get("Name") == "eltr" and head.get("Version") == version, head)
check("metadata: License-Expression Apache-2.0", head.get("License-Expression") == "Apache-2.0", head)
check("metadata: Requires-Python, description, README", head.get("Requires-Python")
      and head.get("Summary") and "text/markdown" in head.get("Description-Content-Type", ""), head)
check("the tag is py3-none-<linux platform>", "-py3-none-" in wheel and "linux" in wheel, wheel)
EOF
while read -r line; do
  case $line in
    "ok   "*) pass "${line#ok   }" ;;
    "FAIL "*) fail "${line#FAIL }" ;;
    *) fail "inspecting the wheel: $line" ;;
  esac
done < "$work/inspect.out"

echo "== install it offline into a fresh virtualenv"
venv=$work/venv
t=$SECONDS
python3 -m venv "$venv" > "$work/venv.log" 2>&1 || die "python3 -m venv" "$work/venv.log"
venv_s=$((SECONDS - t))
t=$SECONDS
"$venv/bin/pip" install --no-index --disable-pip-version-check --quiet "$wheel" \
  > "$work/pip.log" 2>&1 || die "pip install --no-index the wheel" "$work/pip.log"
pass "pip install --no-index $(basename "$wheel") ($((SECONDS - t)) s; the venv itself $venv_s s)"
check "$venv/bin/eltr is there and executable" test -x "$venv/bin/eltr"
out=$("$venv/bin/eltr" --version 2>&1)
check "venv's eltr --version prints 'eltr $version' ($out)" test "$out" = "eltr $version"

echo "== the example project's main job with the venv's eltr"
tjl=${ELTR_TEST_VENV:-$repo/target/test-tools/venvs}/target-jsonl/bin/target-jsonl
[ -x "$tjl" ] || die "target-jsonl from the test virtualenvs ($tjl; run scripts/test-env.sh)" /dev/null
tar -C "$repo" --exclude=.eltr --exclude=output --exclude=__pycache__ -c example-project |
  tar -C "$work" -x
project=$work/example-project
# The loader from the test virtualenv: the run needs no index (as tests/example_project.rs).
sed -i "s|^      pip_url: target-jsonl==0.1.4$|&\n      executable: $tjl|" \
  "$project/plugins/loaders/loaders_config.yml"
check "the example's loader points at the test virtualenv" grep -q "executable: $tjl" \
  "$project/plugins/loaders/loaders_config.yml"
lines() { [ -f "$1" ] && wc -l < "$1" || echo 0; }
# Run from the project folder with a PATH that has no other eltr: what `pipx install` gives.
run_job() { # name
  (cd "$project" && env PATH="$venv/bin:/usr/bin:/bin" "$venv/bin/eltr" run "$JOB") \
    > "$work/$1.out" 2> "$work/$1.err"
}
t=$SECONDS
if run_job run1; then pass "eltr run $JOB ($((SECONDS - t)) s)"; else
  fail "eltr run $JOB exited non-zero"; tail -n 30 "$work/run1.err" | sed 's/^/    /'
fi
check "5 orders and 3 customers in output/dev" \
  test "$(lines "$project/output/dev/orders.jsonl")/$(lines "$project/output/dev/customers.jsonl")" = 5/3
check "state stored under .eltr/state" test -f "$project/.eltr/state/dev:tap-orders--sales-to-target-jsonl--sales/state.json"
if run_job run2; then pass "second run exited 0"; else
  fail "second run exited non-zero"; tail -n 30 "$work/run2.err" | sed 's/^/    /'
fi
check "second run is incremental (orders: 0 new rows since the bookmark)" \
  grep -q 'tap-orders: orders: 0 new rows since 2024-03-03T08:05:00Z' "$work/run2.err"

echo "== uv tool install and uvx, offline"
uv=${ELTR_TEST_VENV:-$repo/target/test-tools/venvs}/uv/bin/uv
if [ -x "$uv" ]; then
  export UV_TOOL_DIR=$work/uv-tools UV_TOOL_BIN_DIR=$work/uv-bin UV_CACHE_DIR=$work/uv-cache
  "$uv" tool install --offline "$wheel" > "$work/uv.log" 2>&1
  out=$("$work/uv-bin/eltr" --version 2>&1)
  check "uv tool install: eltr on uv's tool PATH ($out)" test "$out" = "eltr $version"
  out=$("$uv" tool run --offline --from "$wheel" eltr --version 2> "$work/uvx.log")
  check "uvx --from the wheel eltr --version ($out)" test "$out" = "eltr $version"
else
  fail "uv from the test virtualenvs ($uv; run scripts/test-env.sh)"
fi

finish
