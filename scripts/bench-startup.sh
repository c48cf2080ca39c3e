#!/usr/bin/env bash
# bench-startup.sh — startup / project-load benchmark: eltr vs. Meltano.
#
# What it measures
#   Mean wall-clock time of four commands, each run with cwd = a generated
#   Meltano-layout project of 500 custom plugins spread over 100 included files
#   (plugins/group_NN/plugins.yml, plus envs_config.yml with dev/prod and a
#   default_environment, ~1/3 of extractors using inherit_from, a few jobs,
#   ${VAR} config references resolved from a .env file):
#     eltr --version        process start-up only
#     eltr compile --print  load + resolve the whole project, JSON to /dev/null
#     meltano --version     Python/Click start-up
#     meltano compile       Meltano's manifest compile (writes
#                           .meltano/manifests/*.json; with the default
#                           environment active it compiles *every* environment
#                           plus "no environment", i.e. 3 manifests here,
#                           while eltr compile --print resolves one environment)
#   and prints a table with the means, the meltano/eltr ratios and the eltr
#   targets (eltr compile < 50 ms, eltr --version < 5 ms) as PASS/MISS.
#
# How to run
#   scripts/bench-startup.sh                 # builds eltr with cargo --release
#   ELTR_BIN=/path/to/eltr scripts/bench-startup.sh   # skip the build
#
# Environment knobs
#   ELTR_BIN        eltr binary to use (default: build, then target/release/eltr)
#   MELTANO         meltano executable (default: `meltano` on PATH, else
#                   /work/scratch/meltano-venv/bin/meltano). If it is not
#                   available the Meltano half is skipped with a message.
#   RUNS_ELTR       timed runs per eltr command     (default 30, min 10)
#   RUNS_MELTANO    timed runs per meltano command  (default 3,  min 3)
#   WARMUP_ELTR     warmup runs per eltr command    (default 3)
#   WARMUP_MELTANO  warmup runs per meltano command (default 1)
#   KEEP_PROJECT=1  keep the generated project directory (path is printed)
#   NO_HYPERFINE=1  force the plain bash timing loop even if hyperfine exists
#
# Timing uses hyperfine if installed (tries `apt-get install -y hyperfine`
# when missing and running as root), otherwise a bash loop with `date +%s%N`
# (the loop's numbers include ~1 ms of fork/exec overhead for `date` itself).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"

RUNS_ELTR="${RUNS_ELTR:-30}"
RUNS_MELTANO="${RUNS_MELTANO:-3}"
WARMUP_ELTR="${WARMUP_ELTR:-3}"
WARMUP_MELTANO="${WARMUP_MELTANO:-1}"
if (( RUNS_ELTR < 10 )); then RUNS_ELTR=10; fi
if (( RUNS_MELTANO < 3 )); then RUNS_MELTANO=3; fi

N_GROUPS=100          # included files
TARGET_COMPILE_MS=50
TARGET_VERSION_MS=5

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# --------------------------------------------------------------------------
# 1. eltr binary
# --------------------------------------------------------------------------
if [[ -n "${ELTR_BIN:-}" ]]; then
    ELTR="$ELTR_BIN"
    log "using ELTR_BIN=$ELTR (no build)"
else
    log "building eltr (cargo build --release)"
    (cd "$REPO_ROOT" && cargo build --release >&2)
    ELTR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release/eltr"
fi
[[ -x "$ELTR" ]] || die "eltr binary not found or not executable: $ELTR"
ELTR="$(cd "$(dirname "$ELTR")" && pwd)/$(basename "$ELTR")"

# --------------------------------------------------------------------------
# Meltano executable (optional)
# --------------------------------------------------------------------------
MELTANO_BIN=""
if [[ -n "${MELTANO:-}" ]]; then
    MELTANO_BIN="$(command -v "$MELTANO" 2>/dev/null || true)"
elif command -v meltano >/dev/null 2>&1; then
    MELTANO_BIN="$(command -v meltano)"
elif [[ -x /work/scratch/meltano-venv/bin/meltano ]]; then
    MELTANO_BIN=/work/scratch/meltano-venv/bin/meltano
fi
if [[ -n "$MELTANO_BIN" ]] && ! "$MELTANO_BIN" --version >/dev/null 2>&1; then
    log "warning: $MELTANO_BIN --version failed; treating Meltano as unavailable"
    MELTANO_BIN=""
fi
if [[ -z "$MELTANO_BIN" ]]; then
    if [[ -n "${MELTANO:-}" ]]; then
        why="MELTANO='$MELTANO' is not a working executable"
    else
        why="no 'meltano' on PATH and no /work/scratch/meltano-venv/bin/meltano"
    fi
    log "Meltano not available ($why): SKIPPING the Meltano half of the" \
        "benchmark; only eltr is timed. Set MELTANO=/path/to/meltano to include it."
fi
export MELTANO_CLI_DISABLE_VERSION_CHECK=true
export MELTANO_SEND_ANONYMOUS_USAGE_STATS=false
export NO_COLOR=1

# --------------------------------------------------------------------------
# 2. Generate the project
# --------------------------------------------------------------------------
PROJECT="$(mktemp -d "${TMPDIR:-/tmp}/eltr-bench.XXXXXX")"
cleanup() {
    if [[ "${KEEP_PROJECT:-0}" == 1 ]]; then
        log "project kept at $PROJECT"
    else
        rm -rf "$PROJECT"
    fi
}
trap cleanup EXIT

gen_project() {
    local dir="$1" g gg n_jobs=0
    mkdir -p "$dir/plugins"

    cat >"$dir/meltano.yml" <<'EOF'
version: 1
project_id: 7f3c2a9e-0b1d-4c5e-9a8f-3d2e1b0c4a5f
send_anonymous_usage_stats: false
include_paths:
- ./plugins/**/*.yml
- ./envs_config.yml
EOF

    cat >"$dir/envs_config.yml" <<'EOF'
default_environment: dev
environments:
- name: dev
  env:
    BENCH_STAGE: dev
  config:
    plugins:
      extractors:
      - name: tap-base-00
        config:
          start_date: "2025-01-01T00:00:00Z"
      loaders:
      - name: target-warehouse-00
        config:
          default_target_schema: dev_${USER_SCHEMA_SUFFIX}
- name: prod
  env:
    BENCH_STAGE: prod
  config:
    plugins:
      extractors:
      - name: tap-api-01
        config:
          page_size: 500
      loaders:
      - name: target-warehouse-01
        config:
          batch_size_rows: 100000
EOF

    : >"$dir/.env"
    echo "USER_SCHEMA_SUFFIX=bench" >>"$dir/.env"

    for ((g = 0; g < N_GROUPS; g++)); do
        gg="$(printf '%02d' "$g")"
        mkdir -p "$dir/plugins/group_$gg"
        cat >>"$dir/.env" <<EOF
G${gg}_HOST=db-$gg.internal.example
G${gg}_USER=reader_$gg
G${gg}_PASSWORD=secret-$gg
G${gg}_API_KEY=key-$gg
G${gg}_WAREHOUSE_PASSWORD=wh-secret-$gg
EOF
        {
            cat <<EOF
plugins:
  extractors:
  - name: tap-base-$gg
    namespace: tap_base_$gg
    pip_url: tap-base-$gg==1.$g.0
    executable: tap-base-$gg
    capabilities:
    - catalog
    - discover
    - state
    settings:
    - name: host
      kind: string
      label: Host
    - name: port
      kind: integer
      value: 5432
    - name: user
      kind: string
    - name: password
      kind: string
      sensitive: true
    - name: start_date
      kind: date_iso8601
    config:
      host: \${G${gg}_HOST}
      port: 5432
      user: \${G${gg}_USER}
      password: \${G${gg}_PASSWORD}
      start_date: "2024-01-01T00:00:00Z"
    select:
    - orders.*
    - customers.*
  - name: tap-replica-$gg
    inherit_from: tap-base-$gg
    config:
      host: replica-\${G${gg}_HOST}
      start_date: "2024-06-01T00:00:00Z"
  - name: tap-api-$gg
    namespace: tap_api_$gg
    pip_url: git+https://git.example.invalid/taps/tap-api-$gg.git@v$g
    executable: tap-api-$gg
    capabilities:
    - catalog
    - discover
    settings:
    - name: api_url
      kind: string
    - name: api_key
      kind: string
      sensitive: true
    - name: page_size
      kind: integer
      value: 100
    - name: user_agent
      kind: string
      value: eltr-bench
    - name: verbose
      kind: boolean
      value: false
    config:
      api_url: https://\${G${gg}_HOST}/api/v1
      api_key: \${G${gg}_API_KEY}
      page_size: 250
  loaders:
  - name: target-warehouse-$gg
    namespace: target_warehouse_$gg
    pip_url: target-warehouse-$gg==2.$g.0
    executable: target-warehouse-$gg
    settings:
    - name: host
      kind: string
    - name: password
      kind: string
      sensitive: true
    - name: default_target_schema
      kind: string
    - name: batch_size_rows
      kind: integer
      value: 10000
    - name: add_record_metadata
      kind: boolean
      value: true
    config:
      host: wh.\${G${gg}_HOST}
      password: \${G${gg}_WAREHOUSE_PASSWORD}
      default_target_schema: raw_$gg
  - name: target-files-$gg
    namespace: target_files_$gg
    pip_url: target-files-$gg==0.$g.1
    executable: target-files-$gg
    settings:
    - name: destination_path
      kind: string
    - name: format
      kind: string
      value: jsonl
    - name: compression
      kind: string
    - name: access_token
      kind: string
      sensitive: true
    - name: max_file_size_mb
      kind: integer
    config:
      destination_path: output/\${G${gg}_USER}
      access_token: \${G${gg}_API_KEY}
      compression: gzip
EOF
            if (( g % 20 == 0 )); then
                n_jobs=$((n_jobs + 1))
                cat <<EOF
jobs:
- name: el-group-$gg
  tasks:
  - tap-base-$gg target-warehouse-$gg
  - tap-replica-$gg target-files-$gg
EOF
            fi
        } >"$dir/plugins/group_$gg/plugins.yml"
    done
}

log "generating project (${N_GROUPS} files x 5 plugins) in $PROJECT"
gen_project "$PROJECT"
cd "$PROJECT"

# --------------------------------------------------------------------------
# Verify both tools accept the project
# --------------------------------------------------------------------------
log "verifying: eltr compile"
if ! "$ELTR" compile --print >"$PROJECT/.eltr-compile.json" 2>"$PROJECT/.eltr-compile.err"; then
    cat "$PROJECT/.eltr-compile.err" >&2
    die "eltr compile failed on the generated project (see above)"
fi
[[ -s "$PROJECT/.eltr-compile.json" ]] || die "eltr compile printed nothing on stdout"
log "eltr compile OK ($(wc -c <"$PROJECT/.eltr-compile.json") bytes of JSON)"

if [[ -n "$MELTANO_BIN" ]]; then
    log "verifying: meltano compile"
    if ! "$MELTANO_BIN" compile >"$PROJECT/.meltano-compile.out" 2>&1; then
        cat "$PROJECT/.meltano-compile.out" >&2
        die "meltano compile failed on the generated project (see above)"
    fi
    ls "$PROJECT"/.meltano/manifests/*.json >/dev/null 2>&1 \
        || die "meltano compile wrote no manifest"
    log "meltano compile OK ($(grep -c '^Compiled' "$PROJECT/.meltano-compile.out") manifests)"
fi

# --------------------------------------------------------------------------
# 3. Timing
# --------------------------------------------------------------------------
HAVE_HYPERFINE=0
if [[ "${NO_HYPERFINE:-0}" != 1 ]]; then
    if ! command -v hyperfine >/dev/null 2>&1 && [[ "$(id -u)" == 0 ]] \
        && command -v apt-get >/dev/null 2>&1; then
        log "hyperfine missing; trying apt-get install -y hyperfine"
        apt-get install -y hyperfine >/dev/null 2>&1 \
            || { apt-get update >/dev/null 2>&1 && apt-get install -y hyperfine >/dev/null 2>&1; } \
            || log "apt-get install hyperfine failed; using bash loop"
    fi
    command -v hyperfine >/dev/null 2>&1 && HAVE_HYPERFINE=1
fi
if (( HAVE_HYPERFINE )); then
    log "timing with $(hyperfine --version)"
else
    log "timing with bash loop (date +%s%N)"
fi

declare -A MEAN_MS=()

# time_cmd LABEL WARMUP RUNS CMD...  -> sets MEAN_MS[LABEL]; stdout/stderr discarded
time_cmd() {
    local label="$1" warmup="$2" runs="$3"; shift 3
    local mean
    if (( HAVE_HYPERFINE )); then
        local csv="$PROJECT/.bench-$RANDOM.csv" q="" a
        for a in "$@"; do q+="$(printf '%q ' "$a")"; done
        hyperfine -N --style basic --warmup "$warmup" --runs "$runs" \
            --output null --command-name "$label" --export-csv "$csv" \
            "${q% }" >&2
        # CSV columns: command,mean,stddev,median,user,system,min,max (seconds)
        mean="$(awk -F, 'NR==2 { printf "%.3f", $2 * 1000 }' "$csv")"
    else
        local i t0 t1 total=0
        for ((i = 0; i < warmup; i++)); do "$@" >/dev/null 2>&1; done
        for ((i = 0; i < runs; i++)); do
            t0="$(date +%s%N)"
            "$@" >/dev/null 2>&1
            t1="$(date +%s%N)"
            total=$((total + t1 - t0))
        done
        mean="$(awk -v t="$total" -v n="$runs" 'BEGIN { printf "%.3f", t / n / 1e6 }')"
        printf '%-20s mean %9s ms over %d runs\n' "$label" "$mean" "$runs" >&2
    fi
    MEAN_MS["$label"]="$mean"
}

time_cmd "eltr --version" "$WARMUP_ELTR" "$RUNS_ELTR" "$ELTR" --version
time_cmd "eltr compile" "$WARMUP_ELTR" "$RUNS_ELTR" "$ELTR" compile --print
if [[ -n "$MELTANO_BIN" ]]; then
    time_cmd "meltano --version" "$WARMUP_MELTANO" "$RUNS_MELTANO" "$MELTANO_BIN" --version
    time_cmd "meltano compile" "$WARMUP_MELTANO" "$RUNS_MELTANO" "$MELTANO_BIN" compile
fi

# --------------------------------------------------------------------------
# 4. Summary
# --------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "n/a" }'; }
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v < t) ? "PASS" : "MISS" }'; }

echo
echo "Project: $((N_GROUPS * 5)) plugins in $N_GROUPS included files" \
     "(eltr runs: $RUNS_ELTR, meltano runs: $RUNS_MELTANO)"
printf '%-20s %12s\n' "command" "mean (ms)"
printf '%-20s %12s\n' "--------------------" "------------"
for label in "eltr --version" "eltr compile" "meltano --version" "meltano compile"; do
    if [[ -n "${MEAN_MS[$label]:-}" ]]; then
        printf '%-20s %12s\n' "$label" "${MEAN_MS[$label]}"
    else
        printf '%-20s %12s\n' "$label" "skipped"
    fi
done
echo
if [[ -n "$MELTANO_BIN" ]]; then
    printf '%-32s %s\n' "ratio meltano/eltr --version:" \
        "$(ratio "${MEAN_MS[meltano --version]}" "${MEAN_MS[eltr --version]}")"
    printf '%-32s %s\n' "ratio meltano/eltr compile:" \
        "$(ratio "${MEAN_MS[meltano compile]}" "${MEAN_MS[eltr compile]}")"
else
    echo "ratios: skipped (Meltano not available)"
fi
echo
printf '%-32s %9s ms  %s\n' "target eltr compile < ${TARGET_COMPILE_MS} ms:" \
    "${MEAN_MS[eltr compile]}" "$(verdict "${MEAN_MS[eltr compile]}" "$TARGET_COMPILE_MS")"
printf '%-32s %9s ms  %s\n' "target eltr --version < ${TARGET_VERSION_MS} ms:" \
    "${MEAN_MS[eltr --version]}" "$(verdict "${MEAN_MS[eltr --version]}" "$TARGET_VERSION_MS")"
