#!/usr/bin/env bash
# bench-install.sh — plugin install benchmark: `eltr install` vs. `meltano install`.
#
# What it measures
#   Wall-clock time of installing a 3-plugin project, declared as custom plugins
#   (namespace + pip_url + executable, so Meltano needs no Hub):
#     extractors/tap-postgres     meltanolabs-tap-postgres==0.10.0
#     loaders/target-postgres     meltanolabs-target-postgres==0.8.1
#     loaders/target-jsonl        target-jsonl==0.1.4
#   in two scenarios, for each tool in its own copy of the project:
#     cold   the plugins' virtualenvs are deleted and uv's package cache is a
#            new, empty folder (UV_CACHE_DIR, the same way for both tools), so
#            every package is downloaded from PyPI again; median of RUNS_COLD
#            runs, eltr and Meltano alternating
#     warm   everything installed already: the install has nothing to do;
#            median of RUNS_WARM runs
#   and prints a table with the medians, the eltr/Meltano ratios and the
#   eltr targets as PASS/MISS:
#     cold  eltr <= 0.85 x Meltano
#     warm  eltr < 50 ms
#   What stays warm in the cold runs for both tools: the OS page cache, the
#   Python interpreter the venvs are built from, and (Meltano) its system
#   database, made once before the timed runs.
#
# Same installer for both
#   Meltano 4.4 installs with uv (setting venv.backend, default "uv", forced
#   here with MELTANO_VENV_BACKEND=uv) and finds uv only through the `uv`
#   Python package it depends on (`from uv import find_uv_bin`), i.e. the uv
#   binary in its own virtualenv. eltr uses the uv named by ELTR_UV (else `uv`
#   on PATH, else python -m venv + pip). So this script points ELTR_UV at the
#   very binary Meltano uses. Without Meltano it takes `uv` from PATH, or
#   installs uv with pip into a scratch virtualenv. Both build venvs from
#   Python 3 (eltr: `python3` on PATH; Meltano: the interpreter running it);
#   both are printed.
#
# Where eltr differs (each tool runs with its defaults)
#   Meltano installs one plugin per CPU at a time; eltr twice as many, at least
#   4 (an install mostly waits on the index and the disk, not the CPU), so the
#   slowest plugin starts at once; and it asks uv first (--dry-run) what each
#   plugin would install, so a plugin sharing most packages with one being
#   installed (the two postgres plugins here) waits and links them from uv's
#   cache instead of unpacking the same wheels twice. eltr builds each venv
#   relocatable in a staging folder and renames it into place; Meltano builds
#   in place. Pass ELTR_INSTALL_ARGS="--parallelism $(nproc)" to time eltr at
#   Meltano's width.
#
# How to run
#   scripts/bench-install.sh                      # builds eltr with cargo --release
#   ELTR_BIN=/path/to/eltr scripts/bench-install.sh   # skip the build
#
# Environment knobs
#   ELTR_BIN      eltr binary (default: build, then target/release/eltr)
#   MELTANO       meltano executable (default: `meltano` on PATH, else
#                 /work/scratch/meltano-venv/bin/meltano); if there is none the
#                 Meltano half is skipped with a message
#   ELTR_UV       uv for eltr (default: Meltano's uv, see above); a uv other
#                 than Meltano's is allowed but reported as unfair
#   RUNS_COLD     timed cold runs per tool (default 3)
#   RUNS_WARM     timed warm runs per tool (default 10)
#   ELTR_INSTALL_ARGS / MELTANO_INSTALL_ARGS  extra words for each install
#                 command, e.g. ELTR_INSTALL_ARGS="--parallelism 3" (default none)
#   KEEP_WORKDIR=1  keep the scratch folder (projects, logs); its path is printed
#
# Cold times swing with the network, the disk and other work on the machine (a
# 2-core box shared with builds can double them; on a slow disk most of a cold
# install is creating files). Before every timed cold run the script flushes
# the page cache's dirty data (sync) so one run's writes are not paid by the
# next; the load average before and after the runs is printed with the table:
# compare runs made under similar load.
#
# Needs network access to PyPI. Timing uses bash's EPOCHREALTIME (no fork per
# sample). Each run's output goes to a log in the scratch folder; a failed run
# stops the script and shows the end of its log.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"

RUNS_COLD="${RUNS_COLD:-3}"
RUNS_WARM="${RUNS_WARM:-10}"
TARGET_COLD_RATIO=0.85
TARGET_WARM_MS=50

# type/name|pip_url|executable
PLUGINS=(
    "extractors/tap-postgres|meltanolabs-tap-postgres==0.10.0|tap-postgres"
    "loaders/target-postgres|meltanolabs-target-postgres==0.8.1|target-postgres"
    "loaders/target-jsonl|target-jsonl==0.1.4|target-jsonl"
)

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/eltr-bench-install.XXXXXX")"
cleanup() {
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
elif [[ -x /work/scratch/meltano-venv/bin/meltano ]]; then
    MELTANO_BIN=/work/scratch/meltano-venv/bin/meltano
fi
export MELTANO_CLI_DISABLE_VERSION_CHECK=true
export MELTANO_SEND_ANONYMOUS_USAGE_STATS=false
export MELTANO_VENV_BACKEND=uv
export NO_COLOR=1
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
ELTR_PYTHON="$(command -v python3 || echo 'python3 (not on PATH)')"
ELTR_PYTHON_VERSION="$(python3 --version 2>&1 || true)"
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

# remove_venvs TOOL: back to "nothing installed" (Meltano keeps its system database)
remove_venvs() {
    if [[ "$1" == eltr ]]; then
        rm -rf "$ELTR_PROJECT/.eltr"
    else
        rm -rf "$MELTANO_PROJECT/.meltano/extractors" "$MELTANO_PROJECT/.meltano/loaders"
    fi
}

# verify TOOL LOG: every plugin's program is there (and, for eltr, its fingerprint)
verify() {
    local tool="$1" logf="$2" entry exe venv
    for entry in "${PLUGINS[@]}"; do
        IFS='|' read -r _ _ exe <<<"$entry"
        venv="$(venv_dir "$tool" "$entry")"
        if [[ ! -x "$venv/bin/$exe" ]]; then
            tail -n 30 "$logf" >&2 || true
            die "$tool install left no $venv/bin/$exe (log: $logf)"
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
    if ! (cd "$dir" && env "$@" "${cmd[@]}") >"$logf" 2>&1; then
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
#    also creates Meltano's system database so no timed run pays for it.
# --------------------------------------------------------------------------
for tool in "${TOOLS[@]}"; do
    log "check run: $tool install (untimed, own empty uv cache)"
    cache="$(mktemp -d "$WORK/uv-cache.XXXXXX")"
    run_install "$tool" "$WORK/logs/$tool-check.log" UV_CACHE_DIR="$cache"
    verify "$tool" "$WORK/logs/$tool-check.log"
    rm -rf "$cache"
done

# --------------------------------------------------------------------------
# 6. Cold: venvs deleted, empty uv cache; tools alternate, first one swaps
# --------------------------------------------------------------------------
declare -A COLD=() WARM=()
for ((i = 1; i <= RUNS_COLD; i++)); do
    order=("${TOOLS[@]}")
    if (( i % 2 == 0 && ${#TOOLS[@]} == 2 )); then order=(meltano eltr); fi
    for tool in "${order[@]}"; do
        remove_venvs "$tool"
        sync
        cache="$(mktemp -d "$WORK/uv-cache.XXXXXX")"
        logf="$WORK/logs/$tool-cold-$i.log"
        ms="$(timed_install "$tool" "$logf" UV_CACHE_DIR="$cache")"
        verify "$tool" "$logf"
        rm -rf "$cache"
        COLD[$tool]+="$ms "
        log "cold $i/$RUNS_COLD $tool install: $ms ms"
    done
done

# --------------------------------------------------------------------------
# 7. Warm: all installed, nothing to do
# --------------------------------------------------------------------------
fp="$(venv_dir eltr "${PLUGINS[0]}")/.eltr-fingerprint"
fp_before="$(stat -c %Y.%y "$fp")"
for tool in "${TOOLS[@]}"; do
    for ((i = 1; i <= RUNS_WARM; i++)); do
        logf="$WORK/logs/$tool-warm-$i.log"
        ms="$(timed_install "$tool" "$logf")"
        WARM[$tool]+="$ms "
    done
    log "warm $tool install: ${WARM[$tool]}(ms)"
done
[[ "$(stat -c %Y.%y "$fp")" == "$fp_before" ]] \
    || die "a warm eltr install rewrote $fp: it was not a no-op"
grep -q "up to date" "$WORK/logs/eltr-warm-1.log" \
    || die "warm eltr install did not report 'up to date' (log: $WORK/logs/eltr-warm-1.log)"

LOAD_AFTER="$(loadavg)"

# --------------------------------------------------------------------------
# 8. Summary
# --------------------------------------------------------------------------
# shellcheck disable=SC2086  # the run lists are space-separated on purpose
{
    ELTR_COLD="$(median ${COLD[eltr]})"
    ELTR_WARM="$(median ${WARM[eltr]})"
    MELTANO_COLD="skipped"
    MELTANO_WARM="skipped"
    if [[ -n "$MELTANO_BIN" ]]; then
        MELTANO_COLD="$(median ${COLD[meltano]})"
        MELTANO_WARM="$(median ${WARM[meltano]})"
    fi
}
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.3f", a / b; else print "n/a" }'
}
COLD_RATIO="n/a"
WARM_RATIO="n/a"
COLD_VERDICT="n/a (no Meltano)"
if [[ -n "$MELTANO_BIN" ]]; then
    COLD_RATIO="$(ratio "$ELTR_COLD" "$MELTANO_COLD")"
    WARM_RATIO="$(ratio "$ELTR_WARM" "$MELTANO_WARM")"
    COLD_VERDICT="$(awk -v r="$COLD_RATIO" -v t="$TARGET_COLD_RATIO" \
        'BEGIN { print (r <= t) ? "PASS" : "MISS" }')"
fi
WARM_VERDICT="$(awk -v v="$ELTR_WARM" -v t="$TARGET_WARM_MS" 'BEGIN { print (v < t) ? "PASS" : "MISS" }')"

echo
echo "eltr install vs meltano install: 3 plugins"
for entry in "${PLUGINS[@]}"; do
    IFS='|' read -r type pip _ <<<"$entry"
    echo "  $type  $pip"
done
echo "uv: $UV_NOTE"
echo "python: eltr $ELTR_PYTHON ($ELTR_PYTHON_VERSION)${MELTANO_PY:+; Meltano $MELTANO_PY ($MELTANO_PYTHON_VERSION)}"
echo "meltano: ${MELTANO_VERSION:-not available}; cores: $(nproc);" \
    "load average before: $LOAD_BEFORE, after: $LOAD_AFTER"
if [[ -n "${ELTR_INSTALL_ARGS:-}${MELTANO_INSTALL_ARGS:-}" ]]; then
    echo "extra args: eltr install ${ELTR_INSTALL_ARGS:-}; meltano install ${MELTANO_INSTALL_ARGS:-}"
fi
echo "cold = venvs deleted + empty UV_CACHE_DIR (both tools); warm = already installed"
echo
printf '%-8s %5s %13s %13s %13s  %-16s %s\n' \
    scenario runs "eltr ms" "meltano ms" "eltr/meltano" target verdict
printf '%-8s %5s %13s %13s %13s  %-16s %s\n' \
    -------- ----- ------------- ------------- ------------- ---------------- -------
printf '%-8s %5s %13s %13s %13s  %-16s %s\n' \
    cold "$RUNS_COLD" "$ELTR_COLD" "$MELTANO_COLD" "$COLD_RATIO" \
    "<= ${TARGET_COLD_RATIO}x meltano" "$COLD_VERDICT"
printf '%-8s %5s %13s %13s %13s  %-16s %s\n' \
    warm "$RUNS_WARM" "$ELTR_WARM" "$MELTANO_WARM" "$WARM_RATIO" \
    "< ${TARGET_WARM_MS} ms" "$WARM_VERDICT"
echo
if [[ -n "$MELTANO_BIN" ]]; then
    # Run i of each tool went back to back (order alternating), so the ratio of each
    # pair is less exposed to drifting network and disk speed than the medians are.
    read -ra e_runs <<<"${COLD[eltr]}"
    read -ra m_runs <<<"${COLD[meltano]}"
    pairs=()
    for ((i = 0; i < ${#e_runs[@]}; i++)); do
        pairs+=("$(ratio "${e_runs[$i]}" "${m_runs[$i]}")")
    done
    echo "cold eltr/meltano per pair: ${pairs[*]} (median $(median_fmt %.3f "${pairs[@]}"))"
    echo
fi
echo "all runs (ms):"
for tool in "${TOOLS[@]}"; do
    printf '  %-8s cold: %s\n' "$tool" "${COLD[$tool]}"
    printf '  %-8s warm: %s\n' "$tool" "${WARM[$tool]}"
done
