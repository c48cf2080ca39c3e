#!/usr/bin/env bash
# Runs each cargo-fuzz target of fuzz/ for SECONDS (default 60) and prints how many inputs each
# one executed. Installs cargo-fuzz when it is missing. The machine has only a stable Rust
# toolchain: RUSTC_BOOTSTRAP=1 lets it take the nightly flags cargo fuzz passes, and the
# sanitizer is chosen by probing (AddressSanitizer when it builds, else none).
# Exits non-zero when a target crashes (the crashing input is kept in
# fuzz/artifacts/<target>/; turn it into a regression test in tests/bad_input.rs).
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(project_loader singer_scan identifiers masker)
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never
start=$(date +%s)
# Build under the repository's target/ (ignored by git and by the Docker build context).
target_dir=$PWD/target/fuzz

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
cargo fuzz --version

# AddressSanitizer needs its runtime in the toolchain; stable ships it for x86_64 Linux, but
# fall back to no sanitizer if the build fails (Rust is memory safe without it: a panic,
# overflow or hang is still found).
sanitizer=${ELTR_FUZZ_SANITIZER:-}
if [ -z "$sanitizer" ]; then
  if cargo fuzz build --fuzz-dir fuzz --target-dir "$target_dir" "${targets[0]}" >fuzz/build-probe.log 2>&1; then
    sanitizer=address
  else
    echo "(AddressSanitizer build failed, see fuzz/build-probe.log; using --sanitizer none)"
    sanitizer=none
  fi
fi
echo "== sanitizer: $sanitizer"

status=0
summary=()
for t in "${targets[@]}"; do
  corpus=fuzz/corpus/$t
  mkdir -p "$corpus" "fuzz/artifacts/$t"
  # Seed the corpus with the repository's own inputs (fixture projects, bad inputs).
  if [ "$t" = project_loader ]; then
    find tests/fixtures example-project -name '*.yml' -size -64k 2>/dev/null | while read -r f; do
      cp "$f" "$corpus/seed-$(sha1sum "$f" | cut -c1-16)"
    done
  fi
  log=fuzz/$t.log
  echo "== fuzzing $t for ${secs}s"
  set +e
  cargo fuzz run --fuzz-dir fuzz --target-dir "$target_dir" --sanitizer "$sanitizer" "$t" "$corpus" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 -max_len=65536 \
    -print_final_stats=1 >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
  if [ -z "$execs" ]; then
    execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#' || true)
  fi
  if [ $rc -ne 0 ]; then
    status=1
    echo "!! $t: crash or error (exit $rc); last lines of $log:"
    tail -40 "$log"
    ls -1 "fuzz/artifacts/$t" 2>/dev/null | sed 's/^/   artifact: /'
  fi
  if [ $rc -eq 0 ]; then
    summary+=("$t: ${execs:-?} executions in ${secs}s, no crash")
  else
    summary+=("$t: FAILED (crash or error) after ${execs:-?} executions (exit $rc; see fuzz/$t.log, fuzz/artifacts/$t/)")
  fi
done

echo "== fuzz summary (sanitizer $sanitizer, $(( $(date +%s) - start ))s in all)"
for s in "${summary[@]}"; do echo "  $s"; done
exit $status
