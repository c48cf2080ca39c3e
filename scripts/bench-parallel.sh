#!/usr/bin/env bash
# bench-parallel.sh — what `eltr run --parallel N` and `--split-streams N` save on work that
# waits on its sources (issue 19).
#
# What it measures
#   Two latency-bound cases, built from the fake plugins of examples/ (singer_tap paced with
#   `sleep_ms_per_stream` and `sleep_ms_per_record`, singer_target writing nothing):
#     jobs   a job of JOBS tap → target pipelines sharing no plugin, each tap answering its
#            one stream after STREAM_MS of "query latency" and then trickling RECORDS records
#            RECORD_MS apart: `eltr run nightly` vs `eltr run nightly --parallel JOBS`
#     split  one tap of STREAMS streams, each with STREAM_MS of latency before its RECORDS
#            records: `eltr run tap-wide target-wide` vs the same with `--split-streams SPLIT`
#   Each side runs RUNS times (median wall time reported) with a fresh state id suffix, so
#   every run extracts the same records. The ratio sequential / parallel is printed next to
#   its ideal (N): on such cases eltr should come within a few percent of wall / N. The
#   machine's load matters little here: the runs wait on sleeps, not on the CPU.
#
# How to run
#   scripts/bench-parallel.sh                  # builds eltr and the examples (debug) first
#   PROFILE=release scripts/bench-parallel.sh  # release build instead
#   ELTR_BIN=… EXAMPLES=… scripts/bench-parallel.sh   # use these, build nothing
#
# Environment knobs (defaults in brackets)
#   JOBS [8]  STREAMS [16]  SPLIT [4]  STREAM_MS [1000]  RECORDS [50]  RECORD_MS [10]
#   RUNS [1]  KEEP_WORK [0]: 1 keeps the temporary projects (their path is printed)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
JOBS=${JOBS:-8}
STREAMS=${STREAMS:-16}
SPLIT=${SPLIT:-4}
STREAM_MS=${STREAM_MS:-1000}
RECORDS=${RECORDS:-50}
RECORD_MS=${RECORD_MS:-10}
RUNS=${RUNS:-1}
PROFILE=${PROFILE:-debug}

if [ -z "${ELTR_BIN:-}" ]; then
  flag=()
  [ "$PROFILE" = release ] && flag=(--release)
  (cd "$here" && cargo build -q "${flag[@]}" --bin eltr --example singer_tap --example singer_target)
  ELTR_BIN=$here/target/$PROFILE/eltr
  EXAMPLES=$here/target/$PROFILE/examples
fi
EXAMPLES=${EXAMPLES:-$(dirname "$ELTR_BIN")/examples}

work=$(mktemp -d)
if [ "${KEEP_WORK:-0}" = 1 ]; then
  echo "work folder: $work"
else
  trap 'rm -rf "$work"' EXIT
fi

# The project: JOBS one-stream pipelines in a job, and one wide tap.
project=$work/project
mkdir -p "$project"
{
  echo "version: 1"
  echo "plugins:"
  echo "  extractors:"
  for i in $(seq 1 "$JOBS"); do
    echo "  - name: tap-$i"
    echo "    executable: $EXAMPLES/singer_tap"
    echo "    config: {streams: [p$i], records: $RECORDS, state_every: 10, sleep_ms_per_record: $RECORD_MS, sleep_ms_per_stream: $STREAM_MS}"
  done
  streams=$(seq -s, -f 's%g' 1 "$STREAMS")
  echo "  - name: tap-wide"
  echo "    executable: $EXAMPLES/singer_tap"
  echo "    config: {streams: [$streams], records: $RECORDS, state_every: 10, sleep_ms_per_stream: $STREAM_MS}"
  echo "  loaders:"
  for i in $(seq 1 "$JOBS") wide; do
    echo "  - name: target-$i"
    echo "    executable: $EXAMPLES/singer_target"
  done
  echo "jobs:"
  echo "- name: nightly"
  echo "  tasks:"
  for i in $(seq 1 "$JOBS"); do
    echo "  - tap-$i target-$i"
  done
} > "$project/meltano.yml"

run_no=0
# Wall seconds of one `eltr run ARGS` with a fresh state id; fails the script if eltr does.
timed() {
  run_no=$((run_no + 1))
  local log=$work/run-$run_no.log start end
  start=$(date +%s.%N)
  if ! (cd "$project" && "$ELTR_BIN" run "$@" --state-id-suffix "b$run_no" --progress never) > "$log" 2>&1; then
    echo "eltr run $* failed; its output:" >&2
    cat "$log" >&2
    exit 1
  fi
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f\n", b - a }'
}

# Median wall seconds of RUNS runs.
median() {
  local times=()
  for _ in $(seq 1 "$RUNS"); do
    times+=("$(timed "$@")")
  done
  printf '%s\n' "${times[@]}" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

# Catalogs are discovered and cached once, outside the timed runs.
(cd "$project" && "$ELTR_BIN" run nightly tap-wide target-wide --parallel "$JOBS" --no-state-update --progress never) > "$work/warm-up.log" 2>&1 ||
  { cat "$work/warm-up.log" >&2; exit 1; }

report() { # name, sequential, parallel, n, flag
  awk -v name="$1" -v s="$2" -v p="$3" -v n="$4" -v flag="$5" 'BEGIN {
    ratio = s / p
    printf "%-34s sequential %7.2fs   %-18s %7.2fs   ratio %5.2fx (ideal %dx: %3.0f%% of it; wall / N + %.0f%%)\n",
      name, s, flag, p, ratio, n, 100 * ratio / n, 100 * (p / (s / n) - 1)
  }'
}

echo "eltr: $ELTR_BIN ($PROFILE); $RUNS run(s) per side, median wall time"
jobs_seq=$(median nightly)
jobs_par=$(median nightly --parallel "$JOBS")
report "job of $JOBS paced pipelines" "$jobs_seq" "$jobs_par" "$JOBS" "--parallel $JOBS"
split_seq=$(median tap-wide target-wide)
split_par=$(median tap-wide target-wide --split-streams "$SPLIT")
report "$STREAMS-stream paced tap" "$split_seq" "$split_par" "$SPLIT" "--split-streams $SPLIT"
echo "(each stream: ${STREAM_MS} ms of source latency, then $RECORDS records; pipelines also ${RECORD_MS} ms per record)"
