#!/usr/bin/env bash
# bench-install.sh — plugin install benchmark: `eltr install` vs. `meltano install`.
#
# What it measures
#   Wall-clock time of installing a project's plugins, declared as custom plugins
#   (namespace + pip_url + executable, so Meltano needs no Hub). PLUGIN_SET picks them:
#     seed (default)  the seed project's four PyPI plugins, as issue #20 measured:
#                     pipelinewise-tap-postgres, target-jsonl, pipelinewise-target-postgres,
#                     meltano-map-transform (unpinned, as in tests/fixtures/seed/plugins;
#                     four sdists to build from an empty cache)
#     pinned          meltanolabs-tap-postgres==0.10.0, meltanolabs-target-postgres==0.8.1,
#                     target-jsonl==0.1.4
#   each install on a project with no venvs, in two cache states:
#     warm   uv's package cache holds every package (and eltr's user cache the
#            resolutions of an earlier install): a laptop, or a CI runner that
#            caches ~/.cache
#     empty  uv's cache is a new, empty folder (UV_CACHE_DIR, the same way for
#            both tools) and so is eltr's user cache (ELTR_CACHE_DIR): a fresh
#            runner; every package is downloaded from PyPI again
#   ROUNDS rounds (default 3); in each round both states run for both tools,
#   the tool that goes first alternating from round to round. It prints the
#   median of each tool and state, the eltr/Meltano ratios, and the targets:
#     warm   eltr <= 0.5 x Meltano
#     empty  eltr <= 0.8 x Meltano
#   and a third row, "noop" (everything installed already, nothing to do).
#   What stays warm for both tools in every run: the OS page cache, the Python
#   interpreter, and (Meltano) its system database, made before the timed runs.
#
# Same installer and interpreter for both
#   Meltano 4.4 installs with uv (setting venv.backend, default "uv", forced
#   here with MELTANO_VENV_BACKEND=uv) and finds uv only through the `uv`
#   Python package it depends on (`from uv import find_uv_bin`), i.e. the uv
#   binary in its own virtualenv. eltr uses the uv named by ELTR_UV (else `uv`
#   on PATH, else python -m venv + pip). So this script points ELTR_UV at the
#   very binary Meltano uses. Without Meltano it takes `uv` from PATH, or
#   installs uv with pip into a scratch virtualenv. Meltano builds venvs from
#   the interpreter running it; eltr from `python3` on PATH. A `python3` that
#   is a shim (pyenv) costs every `uv venv` a shell and a second interpreter
#   start (about 0.4 s here), which Meltano never pays, so eltr gets a PATH
#   whose `python3` is the real interpreter behind the shim (PYTHON_FOR_ELTR
#   overrides it). Both interpreters are printed.
#
# Where eltr differs (each tool runs with its defaults)
#   Meltano installs one plugin per CPU at a time; eltr twice as many, at
#   least 4, so the slowest plugin starts at once. eltr remembers what each
#   pip_url resolved to (eltr's user cache) and installs those pins from uv's
#   cache with --offline --no-deps: no index round trip in the warm state. No
#   plugin waits for another (see src/plugin/schedule.rs). eltr builds each venv
#   relocatable in a staging folder and renames it into place; Meltano builds
#   in place. Pass ELTR_INSTALL_ARGS="--parallelism $(nproc)" to time eltr at
#   Meltano's width. Where uv reads no configuration of its own (here: none),
#   eltr hands it PyPI's own caching headers (--config-file
#   .eltr/uv-pypi-headers.toml, see src/plugin/uv_config.rs): on a network that
#   strips them, uv otherwise builds a source distribution two plugins share
#   twice. uv stores a response with the headers it was given, and the warm uv
#   cache is one for both tools, filled by eltr's check run first: Meltano's
#   warm runs then find those entries fresh too, as on a network that keeps
#   PyPI's headers (the comparison that is harder for eltr).
#
# How to run
#   scripts/bench-install.sh                      # builds eltr with cargo --release
#   ELTR_BIN=/path/to/eltr scripts/bench-install.sh   # skip the build
#
# Environment knobs
#   ELTR_BIN      eltr binary (default: build, then target/release/eltr)
#   MELTANO       meltano executable (default: `meltano` on PATH, else
#                 target/test-tools/venvs/meltano/bin/meltano); if there is
#                 none the Meltano half is skipped with a message
#   ELTR_UV       uv for eltr (default: Meltano's uv, see above); a uv other
#                 than Meltano's is allowed but reported as unfair
#   PYTHON_FOR_ELTR  interpreter eltr builds venvs from (default: the real
#                 interpreter behind `python3`)
#   PLUGIN_SET    seed (default) or pinned, see above
#   PYPI_HEADERS=1  both tools reach PyPI through scripts/pypi-cache-headers.py, which
#                 restores the caching headers PyPI sends and a stripping proxy drops (on
#                 such a network uv rebuilds a source distribution two installs share)
#   ROUNDS        rounds (default 3)
#   RUNS_NOOP     timed no-op runs per tool (default 5)
#   ELTR_INSTALL_ARGS / MELTANO_INSTALL_ARGS  extra words for each install
#                 command, e.g. ELTR_INSTALL_ARGS="--parallelism 2" (default none)
#   PINNED_ROW=0  skip the "pinned" row (eltr with the pin files of `eltr lock`, empty caches)
#   KEEP_WORKDIR=1  keep the scratch folder (projects, logs); its path is printed
#
# Times swing with the network, the disk and other work on the machine (a
# 2-core box shared with builds can double them; on a slow disk most of an
# empty-cache install is creating files). Before every timed run the script
# flushes the page cache's dirty data (sync) so one run's writes are not paid
# by the next; the load average before and after the runs is printed with the
# table: compare runs made under similar load. The per-round ratios are printed
# too: the two tools of one round ran back to back.
#
# Needs network access to PyPI. Timing uses bash's EPOCHREALTIME (no fork per
# sample). Each run's output goes to a log in the scratch folder; a failed run
# stops the script and shows the end of its log.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"

ROUNDS="${ROUNDS:-3}"
RUNS_NOOP="${RUNS_NOOP:-5}"
TARGET_WARM_RATIO=0.5
TARGET_EMPTY_RATIO=0.8

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# type/name|pip_url|executable, per PLUGIN_SET
case "${PLUGIN_SET:-seed}" in
seed) # the seed project's four PyPI plugins (tests/fixtures/seed/plugins), as issue #20 measured
    PLUGINS=(
        "extractors/tap-postgres|pipelinewise-tap-postgres|tap-postgres"
        "loaders/target-jsonl|target-jsonl|target-jsonl"
        "loaders/target-postgres|pipelinewise-target-postgres|target-postgres"
        "mappers/meltano-map-transform|meltano-map-transform|meltano-map-transform"
    )
    ;;
pinned) # three plugins pinned to one version each
    PLUGINS=(
        "extractors/tap-postgres|meltanolabs-tap-postgres==0.10.0|tap-postgres"
        "loaders/target-postgres|meltanolabs-target-postgres==0.8.1|target-postgres"
        "loaders/target-jsonl|target-jsonl==0.1.4|target-jsonl"
    )
    ;;
*) die "PLUGIN_SET is '${PLUGIN_SET}': seed or pinned" ;;
esac


WORK="$(mktemp -d "${TMPDIR:-/tmp}/eltr-bench-install.XXXXXX")"
HEADERS_PID=""
cleanup() {
    [[ -n "$HEADERS_PID" ]] && kill "$HEADERS_PID" 2>/dev/null
    if [[ "${KEEP_WORKDIR:-0}" == 1 ]]; then
        log "scratch folder kept at $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
mkdir -p "$WORK/logs"

# --------------------------------------------------------------------------
# 1. eltr binary
# --------------------------------------------------------------------------
if [[ -n "${ELTR_BIN:-}" ]]; then
    ELTR="$ELTR_BIN"
    log "using ELTR_BIN=$ELTR (no build)"
else
    log "building eltr (cargo build --release)"
    (cd "$REPO_ROOT" && cargo build --release --bin eltr >&2)
    ELTR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release/eltr"
fi
[[ -x "$ELTR" ]] || die "eltr binary not found or not executable: $ELTR"
ELTR="$(cd "$(dirname "$ELTR")" && pwd)/$(basename "$ELTR")"

# --------------------------------------------------------------------------
# 2. Meltano (optional)
# --------------------------------------------------------------------------
MELTANO_BIN=""
if [[ -n "${MELTANO:-}" ]]; then
    MELTANO_BIN="$(command -v "$MELTANO" 2>/dev/null || true)"
elif command -v meltano >/dev/null 2>&1; then
    MELTANO_BIN="$(command -v meltano)"
elif [[ -x "$REPO_ROOT/target/test-tools/venvs/meltano/bin/meltano" ]]; then
    MELTANO_BIN="$REPO_ROOT/target/test-tools/venvs/meltano/bin/meltano"
fi
export MELTANO_CLI_DISABLE_VERSION_CHECK=true
export MELTANO_SEND_ANONYMOUS_USAGE_STATS=false
export MELTANO_VENV_BACKEND=uv
export NO_COLOR=1

# PyPI's own caching headers (PYPI_HEADERS=1): see scripts/pypi-cache-headers.py. Both tools
# reach the index through it, via uv's UV_DEFAULT_INDEX.
INDEX_NOTE="PyPI as this network serves it (PYPI_HEADERS=1 restores PyPI's caching headers)"
if [[ "${PYPI_HEADERS:-0}" == 1 ]]; then
    python3 "$SCRIPT_DIR/pypi-cache-headers.py" "$WORK/index-port" &
    HEADERS_PID=$!
    for _ in $(seq 100); do [[ -s "$WORK/index-port" ]] && break; sleep 0.1; done
    [[ -s "$WORK/index-port" ]] || die "pypi-cache-headers.py did not start"
    export UV_DEFAULT_INDEX="http://127.0.0.1:$(cat "$WORK/index-port")/simple"
    INDEX_NOTE="PyPI through scripts/pypi-cache-headers.py ($UV_DEFAULT_INDEX): PyPI's caching headers"
fi
MELTANO_VERSION=""
if [[ -n "$MELTANO_BIN" ]]; then
    if ! MELTANO_VERSION="$("$MELTANO_BIN" --version 2>/dev/null)"; then
        log "warning: $MELTANO_BIN --version failed; treating Meltano as unavailable"
        MELTANO_BIN=""
    fi
fi
if [[ -z "$MELTANO_BIN" ]]; then
    log "Meltano not available: SKIPPING the Meltano half of the benchmark;" \
        "only eltr is timed. Set MELTANO=/path/to/meltano to include it."
fi

# --------------------------------------------------------------------------
# 3. uv: the same binary for both tools
# --------------------------------------------------------------------------
MELTANO_PY=""
MELTANO_UV=""
if [[ -n "$MELTANO_BIN" ]]; then
    # The interpreter running Meltano (from the script's #! line).
    MELTANO_PY="$(head -n1 "$MELTANO_BIN" | sed -n 's/^#![[:space:]]*//p' | awk '{print $1}')"
    [[ -x "$MELTANO_PY" ]] || MELTANO_PY="$(dirname "$MELTANO_BIN")/python"
    if MELTANO_UV="$("$MELTANO_PY" -c 'from uv import find_uv_bin; print(find_uv_bin())' 2>/dev/null)" \
        && [[ -x "$MELTANO_UV" ]]; then
        log "Meltano's uv: $MELTANO_UV ($("$MELTANO_UV" --version))"
    else
        MELTANO_UV=""
        log "warning: cannot find the uv of Meltano's 'uv' package with $MELTANO_PY"
    fi
fi
if [[ -n "${ELTR_UV:-}" ]]; then
    UV_FOR_ELTR="$ELTR_UV"
    log "using ELTR_UV=$UV_FOR_ELTR for eltr"
elif [[ -n "$MELTANO_UV" ]]; then
    UV_FOR_ELTR="$MELTANO_UV"
elif command -v uv >/dev/null 2>&1; then
    UV_FOR_ELTR="$(command -v uv)"
else
    log "no uv on PATH: installing uv into $WORK/uv-venv with pip"
    python3 -m venv "$WORK/uv-venv" >&2
    "$WORK/uv-venv/bin/pip" install --quiet --disable-pip-version-check uv >&2
    UV_FOR_ELTR="$WORK/uv-venv/bin/uv"
fi
[[ -x "$UV_FOR_ELTR" ]] || die "uv for eltr is not executable: $UV_FOR_ELTR"
export ELTR_UV="$UV_FOR_ELTR"
UV_NOTE="$ELTR_UV ($("$ELTR_UV" --version)) for eltr"
if [[ -n "$MELTANO_BIN" ]]; then
    if [[ -n "$MELTANO_UV" && "$(readlink -f "$MELTANO_UV")" == "$(readlink -f "$ELTR_UV")" ]]; then
        UV_NOTE="$ELTR_UV ($("$ELTR_UV" --version)), the same binary for eltr and Meltano"
    else
        UV_NOTE+="; Meltano uses ${MELTANO_UV:-its own (not found)}: NOT the same uv"
        log "warning: eltr and Meltano use different uv binaries; the comparison is not like for like"
    fi
fi
# The real interpreter behind `python3` (a pyenv shim resolves here once, not per venv).
ELTR_PYTHON="${PYTHON_FOR_ELTR:-$(python3 -c 'import sys; print(sys.executable)')}"
[[ -x "$ELTR_PYTHON" ]] || die "no Python interpreter for eltr: $ELTR_PYTHON"
mkdir -p "$WORK/python-for-eltr"
ln -sf "$ELTR_PYTHON" "$WORK/python-for-eltr/python3"
ELTR_PATH="$WORK/python-for-eltr:$PATH"
ELTR_PYTHON_VERSION="$("$ELTR_PYTHON" --version 2>&1 || true)"
MELTANO_PYTHON_VERSION=""
[[ -n "$MELTANO_PY" ]] && MELTANO_PYTHON_VERSION="$("$MELTANO_PY" --version 2>&1 || true)"

# --------------------------------------------------------------------------
# 4. The project (one copy per tool)
# --------------------------------------------------------------------------
write_project() {
    local dir="$1" entry type name pip exe last_type=""
    mkdir -p "$dir"
    {
        cat <<'EOF'
version: 1
project_id: 0b7d1c3e-5f2a-4e8b-9c6d-1a2b3c4d5e6f
send_anonymous_usage_stats: false
default_environment: dev
environments:
- name: dev
plugins:
EOF
        for entry in "${PLUGINS[@]}"; do
            IFS='|' read -r type pip exe <<<"$entry"
            name="${type#*/}"
            type="${type%%/*}"
            if [[ "$type" != "$last_type" ]]; then
                echo "  $type:"
                last_type="$type"
            fi
            cat <<EOF
  - name: $name
    namespace: ${name//-/_}
    pip_url: $pip
    executable: $exe
EOF
        done
    } >"$dir/meltano.yml"
}

ELTR_PROJECT="$WORK/eltr-project"
MELTANO_PROJECT="$WORK/meltano-project"
write_project "$ELTR_PROJECT"
write_project "$MELTANO_PROJECT"

# venv_dir TOOL ENTRY -> the plugin's venv folder
venv_dir() {
    local tool="$1" type
    IFS='|' read -r type _ _ <<<"$2"
    if [[ "$tool" == eltr ]]; then
        echo "$ELTR_PROJECT/.eltr/$type/venv"
    else
        echo "$MELTANO_PROJECT/.meltano/$type/venv"
    fi
}

# remove_venvs TOOL: back to "nothing installed" (Meltano keeps its system database).
# Every plugin's venv goes, whatever its type: a venv left behind is a plugin the tool
# skips as up to date, and its time would go missing from that tool's runs.
remove_venvs() {
    local entry type
    if [[ "$1" == eltr ]]; then
        rm -rf "$ELTR_PROJECT/.eltr"
    else
        for entry in "${PLUGINS[@]}"; do
            IFS='/' read -r type _ <<<"$entry"
            rm -rf "${MELTANO_PROJECT:?}/.meltano/$type"
        done
    fi
}

# verify TOOL LOG [SINCE]: every plugin's program is there (and, for eltr, its
# fingerprint); with SINCE (a file touched before the run), every venv was made after it,
# so no plugin was skipped as already installed
verify() {
    local tool="$1" logf="$2" since="${3:-}" entry exe venv
    for entry in "${PLUGINS[@]}"; do
        IFS='|' read -r _ _ exe <<<"$entry"
        venv="$(venv_dir "$tool" "$entry")"
        if [[ ! -x "$venv/bin/$exe" ]]; then
            tail -n 30 "$logf" >&2 || true
            die "$tool install left no $venv/bin/$exe (log: $logf)"
        fi
        if [[ -n "$since" && "$since" -nt "$venv/pyvenv.cfg" ]]; then
            die "$tool install kept the old $venv: a timed run must build every venv (log: $logf)"
        fi
        if [[ "$tool" == eltr && ! -f "$venv/.eltr-fingerprint" ]]; then
            die "eltr install left no fingerprint in $venv (log: $logf)"
        fi
    done
}

# run_install TOOL LOG [ENV=VALUE...]: one install, output to LOG; dies on failure
run_install() {
    local tool="$1" logf="$2"; shift 2
    local dir="$ELTR_PROJECT" cmd=("$ELTR" install)
    # shellcheck disable=SC2206  # extra words are split on purpose
    cmd+=(${ELTR_INSTALL_ARGS:-})
    if [[ "$tool" == meltano ]]; then
        dir="$MELTANO_PROJECT"
        # shellcheck disable=SC2206
        cmd=("$MELTANO_BIN" install ${MELTANO_INSTALL_ARGS:-})
    fi
    local path="$PATH"
    [[ "$tool" == eltr ]] && path="$ELTR_PATH"
    if ! (cd "$dir" && env PATH="$path" "$@" "${cmd[@]}") >"$logf" 2>&1; then
        tail -n 30 "$logf" >&2 || true
        die "$tool install failed (log: $logf)"
    fi
}

# timed_install TOOL LOG [ENV=VALUE...] -> prints elapsed ms
timed_install() {
    local t0 t1
    t0="${EPOCHREALTIME/./}"
    run_install "$@"
    t1="${EPOCHREALTIME/./}"
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1000 }'
}

# median_fmt FORMAT VALUE... -> the median, printed with FORMAT
median_fmt() {
    local fmt="$1"; shift
    printf '%s\n' "$@" | sort -g | awk -v f="$fmt" '{ v[NR] = $1 } END {
        if (NR == 0) { print "n/a"; exit }
        if (NR % 2) printf f, v[(NR + 1) / 2]
        else printf f, (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
median() { median_fmt %.1f "$@"; }

TOOLS=(eltr)
[[ -n "$MELTANO_BIN" ]] && TOOLS+=(meltano)
loadavg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?"; }
LOAD_BEFORE="$(loadavg)"

# --------------------------------------------------------------------------
# 5. Check run (untimed): both tools can install the project at all; this
#    also creates Meltano's system database so no timed run pays for it, and
#    fills the warm caches (one uv cache for both tools, eltr's user cache).
# --------------------------------------------------------------------------
WARM_UV="$WORK/uv-cache-warm"
WARM_ELTR="$WORK/eltr-cache-warm"
mkdir -p "$WARM_UV" "$WARM_ELTR"
for tool in "${TOOLS[@]}"; do
    log "check run: $tool install (untimed, fills the warm caches)"
    run_install "$tool" "$WORK/logs/$tool-check.log" UV_CACHE_DIR="$WARM_UV" ELTR_CACHE_DIR="$WARM_ELTR"
    verify "$tool" "$WORK/logs/$tool-check.log"
done

# --------------------------------------------------------------------------
# 6. Rounds: per round, warm then empty, for each tool (first tool alternates)
# --------------------------------------------------------------------------
declare -A TIMES=()
# one_run STATE TOOL ROUND: venvs deleted, caches per STATE; records the time
one_run() {
    local state="$1" tool="$2" i="$3" row="${4:-$1}" uv_cache eltr_cache ms logf
    remove_venvs "$tool"
    sync
    if [[ "$state" == warm ]]; then
        uv_cache="$WARM_UV"
        eltr_cache="$WARM_ELTR"
    else
        uv_cache="$(mktemp -d "$WORK/uv-cache.XXXXXX")"
        eltr_cache="$(mktemp -d "$WORK/eltr-cache.XXXXXX")"
    fi
    logf="$WORK/logs/$tool-$row-$i.log"
    touch "$WORK/run-start"
    ms="$(timed_install "$tool" "$logf" UV_CACHE_DIR="$uv_cache" ELTR_CACHE_DIR="$eltr_cache")"
    verify "$tool" "$logf" "$WORK/run-start"
    if [[ "$tool-$state" == eltr-warm ]] \
        && ! grep -q -- "--offline --no-deps" "$ELTR_PROJECT"/.eltr/logs/install/*.log; then
        log "note: warm eltr install $i did not use remembered pins"
    fi
    [[ "$state" == empty ]] && rm -rf "$uv_cache" "$eltr_cache"
    TIMES[$tool-$row]+="$ms "
    log "round $i/$ROUNDS $row $tool install: $ms ms"
}
for ((i = 1; i <= ROUNDS; i++)); do
    order=("${TOOLS[@]}")
    if (( i % 2 == 0 && ${#TOOLS[@]} == 2 )); then order=(meltano eltr); fi
    for state in warm empty; do
        for tool in "${order[@]}"; do
            one_run "$state" "$tool" "$i"
        done
    done
done

# --------------------------------------------------------------------------
# 7. No-op: all installed, nothing to do
# --------------------------------------------------------------------------
for tool in "${TOOLS[@]}"; do
    run_install "$tool" "$WORK/logs/$tool-noop-0.log" UV_CACHE_DIR="$WARM_UV" ELTR_CACHE_DIR="$WARM_ELTR"
done
fp="$(venv_dir eltr "${PLUGINS[0]}")/.eltr-fingerprint"
fp_before="$(stat -c %Y.%y "$fp")"
for tool in "${TOOLS[@]}"; do
    for ((i = 1; i <= RUNS_NOOP; i++)); do
        logf="$WORK/logs/$tool-noop-$i.log"
        ms="$(timed_install "$tool" "$logf" UV_CACHE_DIR="$WARM_UV" ELTR_CACHE_DIR="$WARM_ELTR")"
        TIMES[$tool-noop]+="$ms "
    done
done
[[ "$(stat -c %Y.%y "$fp")" == "$fp_before" ]] \
    || die "a no-op eltr install rewrote $fp: it was not a no-op"
grep -q "up to date" "$WORK/logs/eltr-noop-1.log" \
    || die "no-op eltr install did not report 'up to date' (log: $WORK/logs/eltr-noop-1.log)"

# --------------------------------------------------------------------------
# 7b. Pinned (eltr only): the project carries the pin files `eltr lock` writes, and the
#     caches are empty: a fresh runner of a team that commits its pins. Meltano cannot
#     read pin files; its row compares with Meltano's empty runs above.
# --------------------------------------------------------------------------
if [[ "${PINNED_ROW:-1}" == 1 ]]; then
    (cd "$ELTR_PROJECT" && env PATH="$ELTR_PATH" UV_CACHE_DIR="$WARM_UV" ELTR_CACHE_DIR="$WARM_ELTR" \
        "$ELTR" lock) >"$WORK/logs/eltr-lock.log" 2>&1 || die "eltr lock failed (log: $WORK/logs/eltr-lock.log)"
    for ((i = 1; i <= ROUNDS; i++)); do
        one_run empty eltr "$i" pinned
        grep -q -e "pylock" -e "eltr-pins.txt" "$ELTR_PROJECT"/.eltr/logs/install/*.log \
            || die "a pinned eltr install did not read its pin files"
    done
fi
LOAD_AFTER="$(loadavg)"

# --------------------------------------------------------------------------
# 8. Summary
# --------------------------------------------------------------------------
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.3f", a / b; else print "n/a" }'
}
echo
echo "eltr install vs meltano install: ${#PLUGINS[@]} plugins (PLUGIN_SET=${PLUGIN_SET:-seed}), each install into a project without venvs"
for entry in "${PLUGINS[@]}"; do
    IFS='|' read -r type pip _ <<<"$entry"
    echo "  $type  $pip"
done
echo "uv: $UV_NOTE"
echo "index: $INDEX_NOTE"
echo "python: eltr $ELTR_PYTHON ($ELTR_PYTHON_VERSION)${MELTANO_PY:+; Meltano $MELTANO_PY ($MELTANO_PYTHON_VERSION)}"
echo "meltano: ${MELTANO_VERSION:-not available}; cores: $(nproc);" \
    "load average before: $LOAD_BEFORE, after: $LOAD_AFTER"
if [[ -n "${ELTR_INSTALL_ARGS:-}${MELTANO_INSTALL_ARGS:-}" ]]; then
    echo "extra args: eltr install ${ELTR_INSTALL_ARGS:-}; meltano install ${MELTANO_INSTALL_ARGS:-}"
else
    echo "parallelism: each tool's default"
fi
echo "warm = uv cache (and eltr's user cache) filled; empty = new empty caches; noop = all installed"
echo "pinned = empty caches, the project holds the pin files of 'eltr lock' (eltr only; vs Meltano's empty runs)"
echo
printf '%-7s %5s %11s %11s %13s  %-18s %s\n' \
    state runs "eltr ms" "meltano ms" "eltr/meltano" target verdict
printf '%-7s %5s %11s %11s %13s  %-18s %s\n' \
    ------- ----- ----------- ----------- ------------- ------------------ -------
# shellcheck disable=SC2086  # the run lists are space-separated on purpose
ROWS=(warm empty noop)
[[ -n "${TIMES[eltr-pinned]:-}" ]] && ROWS+=(pinned)
for state in "${ROWS[@]}"; do
    e="$(median ${TIMES[eltr-$state]})"
    m="skipped"; r="n/a"; target="-"; verdict="-"
    runs="$ROUNDS"
    [[ "$state" == noop ]] && runs="$RUNS_NOOP"
    meltano_row="$state"
    [[ "$state" == pinned ]] && meltano_row=empty
    if [[ -n "$MELTANO_BIN" ]]; then
        m="$(median ${TIMES[meltano-$meltano_row]})"
        r="$(ratio "$e" "$m")"
    fi
    case "$state" in
        warm) target="<= ${TARGET_WARM_RATIO}x meltano"; t="$TARGET_WARM_RATIO" ;;
        empty) target="<= ${TARGET_EMPTY_RATIO}x meltano"; t="$TARGET_EMPTY_RATIO" ;;
        *) t="" ;;
    esac
    if [[ -n "$t" && "$r" != n/a ]]; then
        verdict="$(awk -v r="$r" -v t="$t" 'BEGIN { print (r <= t) ? "PASS" : "MISS" }')"
    fi
    printf '%-7s %5s %11s %11s %13s  %-18s %s\n' "$state" "$runs" "$e" "$m" "$r" "$target" "$verdict"
done
echo
if [[ -n "$MELTANO_BIN" ]]; then
    for state in warm empty; do
        read -ra e_runs <<<"${TIMES[eltr-$state]}"
        read -ra m_runs <<<"${TIMES[meltano-$state]}"
        pairs=()
        for ((i = 0; i < ${#e_runs[@]}; i++)); do
            pairs+=("$(ratio "${e_runs[$i]}" "${m_runs[$i]}")")
        done
        echo "$state eltr/meltano per round: ${pairs[*]} (median $(median_fmt %.3f "${pairs[@]}"))"
    done
    echo
fi
echo "all runs (ms):"
for tool in "${TOOLS[@]}"; do
    for state in "${ROWS[@]}"; do
        [[ -n "${TIMES[$tool-$state]:-}" ]] || continue
        printf '  %-8s %-7s %s\n' "$tool" "$state:" "${TIMES[$tool-$state]}"
    done
done
