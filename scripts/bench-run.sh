#!/usr/bin/env bash
# bench-run.sh — data-path throughput benchmark of `eltr run` (tap → eltr → target).
#
# What it measures
#   eltr sits between a Singer tap and target (tap stdout → eltr → target stdin; eltr scans
#   every line to count records and reads the target's stdout for STATE). This script uses
#   the fast fake plugins from examples/ (singer_tap, singer_target; the target only counts
#   records) and compares, at RECORDS records of ~RECORD_BYTES bytes:
#     raw   `singer_tap --config c.json --catalog cat.json | singer_target --config t.json
#           > /dev/null` — the two processes are spawned and piped directly by the
#           measuring helper (what `sh -c 'tap | target'` does, minus ~1 ms of shell start-up)
#     eltr  `eltr run --state-id-suffix <unique> tap-bench target-bench` in a generated
#           Meltano-layout project (cached catalog, state saved as in a normal run; the
#           unique suffix means no stored state is read, so every run extracts the same
#           N records — set FULL_REFRESH=1 to use `--full-refresh` instead, which also
#           re-runs discovery on every run, for eltr and Meltano alike)
#   Runs of raw and eltr are interleaved (raw, eltr, raw, eltr, …) after one warm-up each
#   (the warm-up eltr run discovers and caches the catalog).
#
#   Reported:
#     wall seconds (median of RUNS) and the eltr/raw ratio           target <= 1.15
#     eltr CPU seconds per GB of stream (median of RUNS)             target <= 0.5
#     eltr peak RSS in MB at RECORDS and at RECORDS_BIG (1 run)      target <  30
#     1-record run: eltr − raw in ms (medians of RUNS_SMALL)         target <= 20
#     Meltano (if available): `meltano run` wall seconds at RECORDS (RUNS_MELTANO runs) and
#     at 1 record, and the eltr/Meltano ratios (informational). Same project, same state
#     handling. Note: Meltano never caches the catalog of a plugin without `pip_url`
#     (catalog_cache_key() returns None), so every `meltano run` here also runs `--discover`;
#     eltr caches it.
#
# How the eltr-only numbers are obtained (method is printed with the results)
#   A small Python helper (written to the temp dir) spawns each command with posix_spawn,
#   waits for it with waitid(WEXITED|WNOWAIT) — the process is then a zombie that has not
#   been reaped — and reads /proc/PID/stat: utime+stime there are eltr's own CPU (all its
#   threads), cutime+cstime the CPU of the children it waited for (tap, target, discovery).
#   /proc tick resolution is 1/CLK_TCK (10 ms), so the per-GB figure is also shown from the
#   big run. As a cross-check the "subtraction" method is shown too: total CPU of the eltr
#   process tree (wait4 rusage) minus total CPU of the raw pipe (tap + target rusage).
#   Peak RSS: eltr's own peak is the VmHWM line of /proc/PID/status, sampled every 1 ms by a
#   helper thread during dedicated (untimed) RSS runs; VmHWM is a high-water mark, so the last
#   sample before exit is eltr's peak (up to the last 1 ms). wait4's ru_maxrss is not used: it
#   is the max over eltr *and* its waited-for children (Linux RUSAGE_BOTH), and a process
#   started by vfork+exec also carries its spawner's peak in it.
#
# How to run
#   scripts/bench-run.sh                            # builds everything with cargo --release
#   ELTR_BIN=/path/to/eltr scripts/bench-run.sh     # skip building eltr (examples still built)
#   RECORDS=200000 RUNS=3 scripts/bench-run.sh      # quicker
#
# Environment knobs
#   RECORDS=1000000       records per throughput run
#   RECORDS_BIG=10000000  records of the single big run (RSS; CPU/GB shown as info); 0 = skip
#   RECORD_BYTES=200      bytes per RECORD line (tap config `record_bytes`)
#   STATE_EVERY=10000     tap config `state_every`
#   RUNS=5                timed runs per side at RECORDS (median reported)
#   RUNS_SMALL=20         timed runs per side of the 1-record comparison
#   RUNS_MELTANO=3        timed `meltano run`s at RECORDS and at 1 record
#   FULL_REFRESH=0        1: time `run --full-refresh` (same state id) instead of a fresh
#                         state id per run, for both eltr and Meltano
#   ELTR_BIN              eltr binary to use (default: cargo build --release, target/release/eltr)
#   MELTANO               meltano executable (default /work/scratch/meltano-venv/bin/meltano,
#                         else `meltano` on PATH); SKIP_MELTANO=1 skips the Meltano part
#   PYTHON=python3        interpreter for the measuring helper
#   KEEP_WORK=1           keep the temp directory (projects, logs); its path is printed
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"

RECORDS="${RECORDS:-1000000}"
RECORDS_BIG="${RECORDS_BIG:-10000000}"
RECORD_BYTES="${RECORD_BYTES:-200}"
STATE_EVERY="${STATE_EVERY:-10000}"
RUNS="${RUNS:-5}"
RUNS_SMALL="${RUNS_SMALL:-20}"
RUNS_MELTANO="${RUNS_MELTANO:-3}"
FULL_REFRESH="${FULL_REFRESH:-0}"
PYTHON="${PYTHON:-python3}"

TARGET_RATIO=1.15
TARGET_CPU_PER_GB=0.5
TARGET_RSS_MB=30
TARGET_SMALL_MS=20

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (needed for the measuring helper)"
[[ -r /proc/self/stat ]] || die "/proc is needed (Linux only)"

# --------------------------------------------------------------------------
# 1. Build
# --------------------------------------------------------------------------
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
log "building the example plugins (cargo build --release --examples)"
(cd "$REPO_ROOT" && cargo build --release --examples >&2)
if [[ -n "${ELTR_BIN:-}" ]]; then
    ELTR="$ELTR_BIN"
    log "using ELTR_BIN=$ELTR (no eltr build)"
else
    log "building eltr (cargo build --release)"
    (cd "$REPO_ROOT" && cargo build --release >&2)
    ELTR="$TARGET_DIR/release/eltr"
fi
[[ -x "$ELTR" ]] || die "eltr binary not found or not executable: $ELTR"
ELTR="$(cd "$(dirname "$ELTR")" && pwd)/$(basename "$ELTR")"
TAP="$(cd "$TARGET_DIR/release/examples" && pwd)/singer_tap"
TARGET="$(cd "$TARGET_DIR/release/examples" && pwd)/singer_target"
[[ -x "$TAP" && -x "$TARGET" ]] || die "examples not found in $TARGET_DIR/release/examples"

# Meltano (optional)
MELTANO_BIN=""
if [[ "${SKIP_MELTANO:-0}" == 1 ]]; then
    log "SKIP_MELTANO=1: skipping the Meltano comparison"
else
    if [[ -n "${MELTANO:-}" ]]; then
        MELTANO_BIN="$(command -v "$MELTANO" 2>/dev/null || true)"
    elif [[ -x /work/scratch/meltano-venv/bin/meltano ]]; then
        MELTANO_BIN=/work/scratch/meltano-venv/bin/meltano
    elif command -v meltano >/dev/null 2>&1; then
        MELTANO_BIN="$(command -v meltano)"
    fi
    if [[ -n "$MELTANO_BIN" ]] && ! "$MELTANO_BIN" --version >/dev/null 2>&1; then
        log "warning: $MELTANO_BIN --version failed; treating Meltano as unavailable"
        MELTANO_BIN=""
    fi
    if [[ -z "$MELTANO_BIN" ]]; then
        log "Meltano not available (MELTANO='${MELTANO:-}', no /work/scratch/meltano-venv/bin/meltano," \
            "no meltano on PATH): SKIPPING the Meltano comparison"
    fi
fi
export MELTANO_CLI_DISABLE_VERSION_CHECK=true
export MELTANO_SEND_ANONYMOUS_USAGE_STATS=false
export NO_COLOR=1
unset SINGER_TAP_RECORDS ELTR_RUN_FULL_REFRESH ELTR_RUN_STATE_ID_SUFFIX MELTANO_RUN_FULL_REFRESH \
      MELTANO_RUN_STATE_ID_SUFFIX ELTR_ENVIRONMENT MELTANO_ENVIRONMENT 2>/dev/null || true

# --------------------------------------------------------------------------
# 2. Work dir: projects, raw-pipe configs, measuring helper
# --------------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/eltr-bench-run.XXXXXX")"
cleanup() {
    if [[ "${KEEP_WORK:-0}" == 1 ]]; then log "work dir kept at $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
EPROJ="$WORK/eltr-project"
MPROJ="$WORK/meltano-project"
RAW="$WORK/raw"
LOGS="$WORK/logs"
mkdir -p "$EPROJ" "$MPROJ" "$RAW" "$LOGS"

write_project() {  # DIR
    cat >"$1/meltano.yml" <<EOF
send_anonymous_usage_stats: false
default_environment: dev
environments:
- name: dev
plugins:
  extractors:
  - name: tap-bench
    namespace: tap_bench
    executable: $TAP
    capabilities:
    - catalog
    - discover
    - state
    config:
      records: $RECORDS
      record_bytes: $RECORD_BYTES
      state_every: $STATE_EVERY
  loaders:
  - name: target-bench
    namespace: target_bench
    executable: $TARGET
EOF
}
write_project "$EPROJ"
write_project "$MPROJ"
printf '{"records": %s, "record_bytes": %s, "state_every": %s}\n' \
    "$RECORDS" "$RECORD_BYTES" "$STATE_EVERY" >"$RAW/c.json"
echo '{}' >"$RAW/t.json"
"$TAP" --config "$RAW/c.json" --discover >"$RAW/cat.json" 2>/dev/null \
    || die "singer_tap --discover failed"

METER="$WORK/meter.py"
cat >"$METER" <<'PY'
"""Measuring helper for bench-run.sh.

  meter.py cmd  LOG HWM_POLL -- ARGV...         one process (eltr / meltano); cwd inherited
  meter.py pipe LOG -- TAP_ARGV... ::: TARGET_ARGV...
Prints one line of key=value pairs. Children's stdout/stderr go to LOG (target stdout of the
pipe goes to /dev/null), stdin is /dev/null.
"""
import os, sys, threading, time

TICK = os.sysconf("SC_CLK_TCK")

def spawn(argv, stdin_fd, stdout_fd, stderr_fd, close=()):
    fa = [(os.POSIX_SPAWN_DUP2, stdin_fd, 0), (os.POSIX_SPAWN_DUP2, stdout_fd, 1),
          (os.POSIX_SPAWN_DUP2, stderr_fd, 2)]
    fa += [(os.POSIX_SPAWN_CLOSE, fd) for fd in close]
    return os.posix_spawn(argv[0], argv, os.environ, file_actions=fa)

def rc_of(status):
    return os.waitstatus_to_exitcode(status)

def cmd(log, hwm_poll, argv):
    null = os.open(os.devnull, os.O_RDWR)
    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    hwm = [0]
    done = threading.Event()
    t0 = time.perf_counter()
    pid = spawn(argv, null, out, out)
    def poll():
        path = f"/proc/{pid}/status"
        while not done.is_set():
            try:
                with open(path) as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            hwm[0] = max(hwm[0], int(line.split()[1]))
                            break
            except OSError:
                pass
            time.sleep(0.001)
    th = None
    if hwm_poll:
        th = threading.Thread(target=poll, daemon=True)
        th.start()
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    t1 = time.perf_counter()
    done.set()
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    # rest[0] is field 3 (state); utime=14, stime=15, cutime=16, cstime=17
    own_u, own_s, ch_u, ch_s = (int(rest[i]) / TICK for i in (11, 12, 13, 14))
    _, status, ru = os.wait4(pid, 0)
    if th:
        th.join()
    print(f"wall={t1 - t0:.6f} rc={rc_of(status)} tree_user={ru.ru_utime:.6f} "
          f"tree_sys={ru.ru_stime:.6f} tree_maxrss_kb={ru.ru_maxrss} own_user={own_u:.2f} "
          f"own_sys={own_s:.2f} child_user={ch_u:.2f} child_sys={ch_s:.2f} hwm_kb={hwm[0]}")

def pipe(log, tap, target):
    null = os.open(os.devnull, os.O_RDWR)
    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    t0 = time.perf_counter()
    r, w = os.pipe()
    p1 = spawn(tap, null, w, out, close=(r,))
    p2 = spawn(target, r, null, out, close=(w,))
    os.close(r); os.close(w)
    res = {}
    for _ in range(2):
        pid, status, ru = os.wait4(-1, 0)
        res[pid] = (status, ru)
    t1 = time.perf_counter()
    (s1, r1), (s2, r2) = res[p1], res[p2]
    print(f"wall={t1 - t0:.6f} rc={rc_of(s1) or rc_of(s2)} "
          f"tree_user={r1.ru_utime + r2.ru_utime:.6f} tree_sys={r1.ru_stime + r2.ru_stime:.6f} "
          f"tap_maxrss_kb={r1.ru_maxrss} target_maxrss_kb={r2.ru_maxrss}")

a = sys.argv[1:]
if a[0] == "cmd":
    cmd(a[1], a[2] == "1", a[a.index("--") + 1:])
elif a[0] == "pipe":
    rest = a[a.index("--") + 1:]
    k = rest.index(":::")
    pipe(a[1], rest[:k], rest[k + 1:])
else:
    sys.exit("usage: meter.py cmd|pipe ...")
PY

# --------------------------------------------------------------------------
# Measurement primitives
# --------------------------------------------------------------------------
# Every run appends its key=value line to $LOGS/<label>.results; the log of the last run of a
# label is $LOGS/<label>.log. Results are checked: rc 0 and the target's record count.
RUN_SEQ=0

kv() {  # FILE KEY -> column of values, one per run
    sed -n "s/.*\\b$2=\\([^ ]*\\).*/\\1/p" "$1"
}
median() {  # numbers on stdin -> median
    sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print "nan"; exit }
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
check_run() {  # LABEL N LINE
    local label="$1" n="$2" line="$3" logf="$LOGS/$1.log"
    if [[ "$line" != *" rc=0 "* ]]; then
        log "run '$label' failed: $line"; log "last lines of $logf:"; tail -n 30 "$logf" >&2
        die "run '$label' failed"
    fi
    if ! grep -q "target: received $n records" "$logf"; then
        # eltr's own summary (`tap-bench → target-bench: N records, …`) counts what it piped
        # to the target; accept it when the target's stderr lines are missing from the log
        # (eltr has been seen to drop a plugin's whole stderr on successful runs), but warn.
        if grep -q -- "-bench → target-bench: $n records," "$logf"; then
            echo "run '$label': the target's stderr lines are missing from eltr's log" \
                 "(eltr's summary reports $n records; log: $logf)" >>"$LOGS/warnings"
            log "warning: $(tail -n1 "$LOGS/warnings")"
            return 0
        fi
        log "run '$label': target did not report $n records; last lines of $logf:"
        tail -n 30 "$logf" >&2
        die "run '$label' moved the wrong number of records"
    fi
}
run_raw() {  # LABEL N [record]
    local label="$1" n="$2" line
    line="$(SINGER_TAP_RECORDS="$n" "$PYTHON" "$METER" pipe "$LOGS/$label.log" -- \
        "$TAP" --config "$RAW/c.json" --catalog "$RAW/cat.json" ::: \
        "$TARGET" --config "$RAW/t.json")"
    check_run "$label" "$n" "$line"
    [[ "${3:-}" == record ]] && echo "$line" >>"$LOGS/$label.results"
    return 0
}
# Sets STATE_ARGS: the extra `run` arguments for a fresh extraction (no stored state read).
state_args() {
    if [[ "$FULL_REFRESH" == 1 ]]; then
        STATE_ARGS=(--full-refresh)
    else
        RUN_SEQ=$((RUN_SEQ + 1))
        STATE_ARGS=(--state-id-suffix "bench-$$-$RUN_SEQ")
    fi
}
run_tool() {  # LABEL N HWM_POLL(0/1) BIN DIR [record]
    local label="$1" n="$2" poll="$3" bin="$4" dir="$5" line
    state_args
    line="$(cd "$dir" && SINGER_TAP_RECORDS="$n" "$PYTHON" "$METER" cmd "$LOGS/$label.log" "$poll" -- \
        "$bin" run "${STATE_ARGS[@]}" tap-bench target-bench)"
    check_run "$label" "$n" "$line"
    if grep -q 'argv: .*--state' "$LOGS/$label.log"; then
        die "run '$label' passed stored state to the tap (expected a fresh extraction): $LOGS/$label.log"
    fi
    [[ "${6:-}" == record ]] && echo "$line" >>"$LOGS/$label.results"
    return 0
}
run_eltr() { run_tool "$1" "$2" "$3" "$ELTR" "$EPROJ" "${4:-}"; }
run_meltano() { run_tool "$1" "$2" 0 "$MELTANO_BIN" "$MPROJ" "${3:-}"; }

# Exact stream size (bytes on the tap's stdout) for N records.
stream_bytes() {  # N
    SINGER_TAP_RECORDS="$1" "$TAP" --config "$RAW/c.json" --catalog "$RAW/cat.json" 2>/dev/null | wc -c
}

# --------------------------------------------------------------------------
# 3. eltr vs raw pipe
# --------------------------------------------------------------------------
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
log "work dir $WORK ($(nproc) CPUs, load average $LOAD_START)"
log "warm-up: raw pipe and eltr (first eltr run discovers and caches the catalog)"
run_raw warm-raw "$RECORDS"
run_eltr warm-eltr "$RECORDS" 0
grep -q "discovering the catalog" "$LOGS/warm-eltr.log" \
    || log "note: the warm-up eltr run did not report a discovery"
run_eltr warm-eltr2 1 0
if [[ "$FULL_REFRESH" != 1 ]] && grep -q "discovering the catalog" "$LOGS/warm-eltr2.log"; then
    log "warning: eltr re-discovered the catalog on its second run (cache not used)"
fi

BYTES="$(stream_bytes "$RECORDS")"
GB="$(awk -v b="$BYTES" 'BEGIN { printf "%.6f", b / 1e9 }')"
log "stream at $RECORDS records: $BYTES bytes"

log "timing $RUNS x raw pipe and $RUNS x eltr at $RECORDS records (interleaved)"
for ((i = 1; i <= RUNS; i++)); do
    run_raw raw-big "$RECORDS" record
    run_eltr eltr-big "$RECORDS" 0 record
    log "  run $i/$RUNS: raw $(tail -n1 "$LOGS/raw-big.results" | kv /dev/stdin wall) s," \
        "eltr $(tail -n1 "$LOGS/eltr-big.results" | kv /dev/stdin wall) s"
done

log "RSS run: eltr at $RECORDS records with VmHWM sampling"
run_eltr eltr-rss "$RECORDS" 1 record

if (( RECORDS_BIG > 0 )); then
    log "big run: eltr at $RECORDS_BIG records with VmHWM sampling (1 run)"
    BYTES_BIG="$(awk -v n="$RECORDS_BIG" -v r="$RECORDS" -v b="$BYTES" 'BEGIN { printf "%.0f", b * n / r }')"
    run_eltr eltr-huge "$RECORDS_BIG" 1 record
fi

log "timing $RUNS_SMALL x raw pipe and $RUNS_SMALL x eltr at 1 record (interleaved)"
run_raw warm-raw-1 1
run_eltr warm-eltr-1 1 0
for ((i = 1; i <= RUNS_SMALL; i++)); do
    run_raw raw-one 1 record
    run_eltr eltr-one 1 0 record
done

# --------------------------------------------------------------------------
# 4. Meltano
# --------------------------------------------------------------------------
if [[ -n "$MELTANO_BIN" ]]; then
    log "Meltano: $("$MELTANO_BIN" --version 2>/dev/null)"
    log "Meltano warm-up run at 1 record"
    run_meltano warm-meltano 1
    log "timing $RUNS_MELTANO x meltano run at $RECORDS records"
    for ((i = 1; i <= RUNS_MELTANO; i++)); do
        run_meltano meltano-big "$RECORDS" record
        log "  run $i/$RUNS_MELTANO: $(tail -n1 "$LOGS/meltano-big.results" | kv /dev/stdin wall) s"
    done
    log "timing $RUNS_MELTANO x meltano run at 1 record"
    for ((i = 1; i <= RUNS_MELTANO; i++)); do
        run_meltano meltano-one 1 record
    done
fi

# --------------------------------------------------------------------------
# 5. Results
# --------------------------------------------------------------------------
med() {  # LABEL KEY
    kv "$LOGS/$1.results" "$2" | median
}
med_sum() {  # LABEL KEY1 KEY2 -> median of per-run sums
    paste -d' ' <(kv "$LOGS/$1.results" "$2") <(kv "$LOGS/$1.results" "$3") \
        | awk '{ print $1 + $2 }' | median
}
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
le() { awk -v v="$1" -v t="$2" 'BEGIN { print (v <= t) ? "PASS" : "MISS" }'; }
lt() { awk -v v="$1" -v t="$2" 'BEGIN { print (v < t) ? "PASS" : "MISS" }'; }

RAW_S="$(calc %.3f "$(med raw-big wall)")"
ELTR_S="$(calc %.3f "$(med eltr-big wall)")"
RATIO="$(calc %.3f "$(med eltr-big wall) / $(med raw-big wall)")"
OWN_CPU="$(med_sum eltr-big own_user own_sys)"
CPU_GB="$(calc %.3f "$OWN_CPU / $GB")"
TREE_CPU="$(med_sum eltr-big tree_user tree_sys)"
RAW_CPU="$(med_sum raw-big tree_user tree_sys)"
SUB_CPU_GB="$(calc %.3f "($TREE_CPU - $RAW_CPU) / $GB")"
RSS_MB="$(calc %.1f "$(kv "$LOGS/eltr-rss.results" hwm_kb) / 1024")"
if (( RECORDS_BIG > 0 )); then
    RSS_BIG_MB="$(calc %.1f "$(kv "$LOGS/eltr-huge.results" hwm_kb) / 1024")"
    BIG_S="$(calc %.3f "$(kv "$LOGS/eltr-huge.results" wall)")"
    BIG_CPU="$(paste -d' ' <(kv "$LOGS/eltr-huge.results" own_user) <(kv "$LOGS/eltr-huge.results" own_sys) | awk '{ print $1 + $2 }')"
    BIG_CPU_GB="$(calc %.3f "$BIG_CPU / ($BYTES_BIG / 1e9)")"
fi
RAW1_MS="$(calc %.2f "$(med raw-one wall) * 1000")"
ELTR1_MS="$(calc %.2f "$(med eltr-one wall) * 1000")"
DELTA1_MS="$(calc %.2f "$ELTR1_MS - $RAW1_MS")"

row() { printf '%-50s %14s %10s  %s\n' "$@"; }
echo
echo "eltr run throughput — $RECORDS records x ~$RECORD_BYTES B ($BYTES bytes of stream)," \
     "$(nproc) CPUs, state_every=$STATE_EVERY," \
     "$([[ $FULL_REFRESH == 1 ]] && echo 'run --full-refresh' || echo 'fresh state id per run')"
echo "load average at start: $LOAD_START, at end: $(cut -d' ' -f1-3 /proc/loadavg)" \
     "(other load on the machine skews wall times; re-run on an idle machine)"
row "metric" "value" "target" "verdict"
row "--------------------------------------------------" "--------------" "----------" "-------"
row "raw pipe, s (median of $RUNS)" "$RAW_S" "" ""
row "eltr run, s (median of $RUNS)" "$ELTR_S" "" ""
row "ratio eltr/raw" "$RATIO" "<= $TARGET_RATIO" "$(le "$RATIO" "$TARGET_RATIO")"
row "eltr own CPU, s per GB (median of $RUNS)" "$CPU_GB" "<= $TARGET_CPU_PER_GB" "$(le "$CPU_GB" "$TARGET_CPU_PER_GB")"
row "  (cross-check: tree CPU - raw pipe CPU, s/GB)" "$SUB_CPU_GB" "" ""
if (( RECORDS_BIG > 0 )); then
    row "  (eltr own CPU at $RECORDS_BIG records, s/GB)" "$BIG_CPU_GB" "" ""
fi
row "eltr peak RSS at $RECORDS records, MB" "$RSS_MB" "< $TARGET_RSS_MB" "$(lt "$RSS_MB" "$TARGET_RSS_MB")"
if (( RECORDS_BIG > 0 )); then
    row "eltr peak RSS at $RECORDS_BIG records, MB (1 run)" "$RSS_BIG_MB" "< $TARGET_RSS_MB" "$(lt "$RSS_BIG_MB" "$TARGET_RSS_MB")"
    row "  (eltr wall at $RECORDS_BIG records, s)" "$BIG_S" "" ""
fi
row "1 record: raw pipe, ms (median of $RUNS_SMALL)" "$RAW1_MS" "" ""
row "1 record: eltr run, ms (median of $RUNS_SMALL)" "$ELTR1_MS" "" ""
row "1 record: eltr - raw, ms" "$DELTA1_MS" "<= $TARGET_SMALL_MS" "$(le "$DELTA1_MS" "$TARGET_SMALL_MS")"
if [[ -n "$MELTANO_BIN" ]]; then
    M_S="$(calc %.3f "$(med meltano-big wall)")"
    M1_MS="$(calc %.1f "$(med meltano-one wall) * 1000")"
    row "meltano run, s (median of $RUNS_MELTANO)" "$M_S" "" ""
    row "ratio eltr/meltano ($RECORDS records)" "$(calc %.3f "$(med eltr-big wall) / $(med meltano-big wall)")" "" ""
    row "1 record: meltano run, ms (median of $RUNS_MELTANO)" "$M1_MS" "" ""
    row "ratio eltr/meltano (1 record)" "$(calc %.4f "$ELTR1_MS / $M1_MS")" "" ""
else
    row "meltano run" "skipped" "" "(Meltano not available)"
fi
if [[ -s "$LOGS/warnings" ]]; then
    echo
    echo "Warnings ($(wc -l <"$LOGS/warnings") runs):"
    sed 's/^/  /' "$LOGS/warnings"
fi
echo
echo "Method: wall = spawn to exit of the measured process(es). eltr own CPU = utime+stime of the"
echo "  eltr process (all threads) read from /proc/PID/stat while it is an unreaped zombie"
echo "  (waitid WNOWAIT), 10 ms tick resolution; per GB = / $GB GB (1e9 bytes). Cross-check ="
echo "  (rusage of eltr + waited children) - (rusage of raw tap + target)."
echo "  Peak RSS = max VmHWM of the eltr process, sampled every 1 ms in separate (untimed) runs."
echo "  (wait4's ru_maxrss is not used: it is the max over eltr and its children, and a process"
echo "  started by vfork+exec also inherits its spawner's peak into ru_maxrss.)"
echo "  Raw pipe = tap and target spawned and piped by the helper (no shell), stderr to a file."
if [[ -n "$MELTANO_BIN" ]]; then
    echo "  Meltano re-runs discovery on every run (no catalog cache for plugins without pip_url)."
fi
