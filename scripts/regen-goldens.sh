#!/usr/bin/env bash
# Regenerates every golden file under tests/fixtures/*/golden/ from the tool that produced it.
# All of them are Meltano 4.4.1's output (eltr's own output is compared with them, never
# written into them):
#   seed/golden/          config print/list, job list, schedule list on the seed project
#   precedence/golden/    config print/list and select on the precedence project, and what
#                         three `meltano run`s handed the fixture tap and target
#   run-upstream/golden/  the config file the target of one `meltano run` received
#   meltano-cli/golden/   every command, argument and option of Meltano's CLI (read from its
#                         click tree by scripts/meltano-cli-tree.py), which
#                         docs/meltano-commands.md must cover row by row
# Each fixture's golden/README.md says how its files were made; this script runs exactly that.
#
# Usage: scripts/regen-goldens.sh
# Meltano (meltano==4.4.1 from PyPI) is installed once into target/regen-goldens/meltano, and
# runs on copies of the fixtures under target/regen-goldens/, so nothing but golden/ changes.
# Every command runs under `env -i` with only the variables the READMEs list. Volatile values
# are normalised where they appear (run dumps only): the copy's path becomes `$PROJECT_ROOT`,
# the scratch HOME `$HOME`, UUIDs `<uuid>`. On an unchanged tree `git status` stays clean.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
fixtures=$repo/tests/fixtures
work=$repo/target/regen-goldens
venv=$work/meltano
mkdir -p "$work"

# --- Meltano 4.4.1 in a scratch venv (uv from the test tools when there, else pip) ---------
if [ "$(cat "$venv/.regen-marker" 2>/dev/null)" != "meltano==4.4.1" ]; then
  rm -rf "$venv"
  uv=${ELTR_TEST_TOOLS:-$repo/target/test-tools}/venvs/uv/bin/uv
  if [ -x "$uv" ]; then
    "$uv" venv --quiet --python python3 "$venv"
    "$uv" pip install --quiet --python "$venv/bin/python" meltano==4.4.1
  else
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check meltano==4.4.1
  fi
  echo "meltano==4.4.1" > "$venv/.regen-marker"
fi
home=$work/home
log=$work/meltano.log
: > "$log"

# A fresh copy of tests/fixtures/NAME (without golden/) at $work/NAME; prints its path.
fresh() {
  rm -rf "${work:?}/$1" && cp -a "$fixtures/$1" "$work/$1" && rm -rf "$work/$1/golden"
  echo "$work/$1"
}

# Runs Meltano in the current folder: `m VAR=VALUE... -- MELTANO ARGS...`. Only stdout is kept;
# Meltano's logs go to $log.
m() {
  local vars=()
  while [ "$1" != -- ]; do vars+=("$1"); shift; done
  shift
  echo "+ (cd $PWD && ${vars[*]} meltano $*)" >> "$log"
  env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$home" LANG=C.UTF-8 \
    MELTANO_CLI_DISABLE_VERSION_CHECK=true NO_COLOR=1 "${vars[@]}" \
    "$venv/bin/meltano" "$@" 2>> "$log"
}

# Writes KEY of the JSON dump $1 (what fake-tap / fake-target received) to $2.KEY.json for each
# KEY after $2, pretty-printed, with the project path ($3) and HOME normalised.
split_dump() {
  python3 - "$@" "$home" <<'PY'
import json, re, sys
dump, prefix, root, *keys, home = sys.argv[1:]
doc = json.load(open(dump))
for key in keys:
    text = json.dumps(doc[key], indent=2) + "\n"
    text = text.replace(root, "$PROJECT_ROOT").replace(home, "$HOME")
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<uuid>", text)
    with open(f"{prefix}.{key}.json", "w") as f:
        f.write(text)
PY
}

seed() {
  local dir out=$fixtures/seed/golden
  dir=$(fresh seed)
  cd "$dir"
  local vars=(VAR_IN_DB_HOST=db.example.com VAR_IN_DB_USER=proc_reader
    PROD_IN_DB_HOST=replica.prod.internal OKTA_AUTH_TOKEN=okta-token-123
    TARGET_POSTGRES_BATCH_SIZE_ROWS=5000)
  s() { m "${vars[@]}" -- --env-file fixture.env "$@"; }
  local p env
  for p in tap-postgres tap-postgres--orders target-postgres target-postgres--orders \
    target-jsonl tap-okta meltano-map-transformer; do
    s --no-environment config print "$p" > "$out/config-print/$p.no-env.json"
  done
  for env in dev prod; do
    for p in tap-postgres tap-postgres--orders target-postgres--orders; do
      s --environment "$env" config print "$p" > "$out/config-print/$p.$env.json"
    done
  done
  s --no-environment config --unsafe print tap-okta > "$out/config-print/tap-okta.no-env.unsafe.json"
  for env in no-env prod; do
    local flags=(--no-environment)
    [ "$env" = prod ] && flags=(--environment prod)
    s "${flags[@]}" config print tap-postgres--orders --extras \
      > "$out/config-print/tap-postgres--orders.$env.extras.json"
    s "${flags[@]}" config print tap-postgres--orders --format env \
      > "$out/config-print/tap-postgres--orders.$env.env"
    s "${flags[@]}" config list tap-postgres--orders > "$out/config-list/tap-postgres--orders.$env.txt"
  done
  s --no-environment config print target-postgres --extras \
    > "$out/config-print/target-postgres.no-env.extras.json"
  s --no-environment config print meltano-map-transformer --extras \
    > "$out/config-print/meltano-map-transformer.no-env.extras.json"
  s --no-environment config list tap-postgres--orders --all \
    > "$out/config-list/tap-postgres--orders.no-env.all.txt"
  s --no-environment config list tap-okta > "$out/config-list/tap-okta.no-env.txt"
  s --no-environment job list --format json > "$out/job/list.json"
  s --no-environment job list --format text > "$out/job/list.txt"
  s --no-environment job list nightly --format json > "$out/job/list-nightly.json"
  s --no-environment schedule list --format json > "$out/schedule/list.json"
  s --no-environment schedule list --format text > "$out/schedule/list.txt"
}

precedence() {
  local dir out=$fixtures/precedence/golden
  dir=$(fresh precedence)
  cd "$dir"
  local vars=(TAP_PREC__CHILD_ENV_VS_DOTENV=from-env TAP_PREC__CHILD_ENV_VS_ENVCFG=from-env
    TAP_PREC__CHILD_ENV_VS_CONFIG=from-env TAP_PREC__CHILD_ENV_VS_PARENT=from-env
    TAP_PREC__CHILD_ENV_VS_DEFAULT=from-env TAP_PREC__CHILD_ENVBLOCK_VS_ENV=from-env
    TAP_PREC_CONFIG_VS_PARENTENV=from-parentenv PREC_NS_NSENV_VS_PARENT=from-nsenv
    TAP_PREC__CHILD_DOT_ENV_VS_CONFIG=from-env PREC_A=alpha PREC_PORT=6543)
  p() { m "${vars[@]}" -- --env-file fixture.env "$@"; }
  local t=(--environment test)
  p "${t[@]}" config --unsafe print tap-prec--child > "$out/tap-prec--child.test.unsafe.json"
  p "${t[@]}" config print tap-prec--child > "$out/tap-prec--child.test.json"
  p --no-environment config --unsafe print tap-prec--child > "$out/tap-prec--child.no-env.unsafe.json"
  p config --unsafe print tap-prec--child > "$out/tap-prec--child.default-env.unsafe.json"
  p "${t[@]}" config --unsafe print tap-prec > "$out/tap-prec.test.unsafe.json"
  p "${t[@]}" config print tap-prec--child --extras > "$out/tap-prec--child.test.extras.json"
  p "${t[@]}" config list tap-prec--child --all > "$out/tap-prec--child.test.list.txt"
  p "${t[@]}" select tap-prec--child --list > "$out/select/list.txt"
  p "${t[@]}" select tap-prec--child --list --all > "$out/select/list-all.txt"
  p "${t[@]}" select tap-prec--child --json --all > "$out/select/list-all.json"

  # The runs: Meltano's default state backend is an SQLite table; a file backend leaves files
  # to compare.
  vars+=("MELTANO_STATE_BACKEND_URI=file://$dir/.meltano/state")
  local id=test:tap-prec--child-to-target-prec
  local run=$out/run
  local tap=(argv config catalog state env)
  p "${t[@]}" run tap-prec--child target-prec > /dev/null
  split_dump dump/tap.json "$run/run1.tap" "$dir" "${tap[@]}"
  cp ".meltano/state/$id/state.json" "$run/run1.state.json"
  p "${t[@]}" run tap-prec--child target-prec > /dev/null
  split_dump dump/tap.json "$run/run2.tap" "$dir" "${tap[@]}"
  split_dump dump/target.json "$run/run2.target" "$dir" argv config env
  cp ".meltano/state/$id/state.json" "$run/run2.state.json"
  p "${t[@]}" run --full-refresh tap-prec--child target-prec > /dev/null
  split_dump dump/tap.json "$run/run3-full-refresh.tap" "$dir" "${tap[@]}"
  cp ".meltano/state/$id/state.json" "$run/run3-full-refresh.state.json"
  p "${t[@]}" state get "$id" > "$run/run3-full-refresh.state-get.json"
  p --environment other run tap-prec--child target-prec > /dev/null
  (cd .meltano/state && printf '%s\n' *) | LC_ALL=C sort > "$run/state-ids.txt"
}

run_upstream() {
  local dir out=$fixtures/run-upstream/golden
  dir=$(fresh run-upstream)
  cd "$dir"
  sed -i "s|@BIN@|$fixtures/precedence/bin|g" meltano.yml
  m -- run tap-src target-dst > /dev/null
  python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))["config"], indent=2))' \
    dump/target.json > "$out/target.config.json"
}

meltano_cli() {
  env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$home" LANG=C.UTF-8 \
    "$venv/bin/python" "$repo/scripts/meltano-cli-tree.py" > "$fixtures/meltano-cli/golden/commands.txt"
}

# Two at a time (each in its own copy); a failure names the step and the log.
stamp=$work/started
touch "$stamp"
sleep 1 # so that every file written from here on is newer than the stamp
pids=()
(seed) & pids+=($!)
(precedence) & pids+=($!)
wait "${pids[0]}" || { echo "seed goldens failed; see $log" >&2; exit 1; }
wait "${pids[1]}" || { echo "precedence goldens failed; see $log" >&2; exit 1; }
(run_upstream) || { echo "run-upstream golden failed; see $log" >&2; exit 1; }
(meltano_cli) || { echo "meltano-cli golden failed" >&2; exit 1; }
# Every golden file must come from this script: one it did not write has no recipe.
stale=$(find "$fixtures" -path '*/golden/*' -type f ! -name README.md ! -newer "$stamp")
if [ -n "$stale" ]; then
  echo "golden files this script does not produce:" >&2
  echo "$stale" >&2
  exit 1
fi
echo "goldens regenerated; git status shows what changed" >&2
