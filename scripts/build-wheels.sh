#!/usr/bin/env bash
# Builds eltr's Python wheels (pyproject.toml: maturin, `bindings = "bin"`: the wheel holds
# the binary as a script, no Python code) into dist/, one per platform named:
#
#   native             this machine's target, tagged with the oldest glibc its symbols allow
#                      (manylinux_2_34 on a glibc 2.36 Debian 12 host); what CI builds
#   manylinux-x86_64   x86_64-unknown-linux-gnu,   manylinux_2_28  (glibc 2.28+: RHEL 8,
#   manylinux-aarch64  aarch64-unknown-linux-gnu,  manylinux_2_28   Debian 10, Ubuntu 20.04)
#   musllinux-x86_64   x86_64-unknown-linux-musl,  musllinux_1_2   (Alpine 3.13+)
#   musllinux-aarch64  aarch64-unknown-linux-musl, musllinux_1_2
#   sdist              the source archive (builds with Rust 1.85+ wherever no wheel fits)
#   all                every one of the above but native
#
#   scripts/build-wheels.sh                      # native, release profile
#   scripts/build-wheels.sh manylinux-x86_64 musllinux-aarch64
#   scripts/build-wheels.sh --profile dev native # the debug build cargo test already made
#
# The four named platforms link with `zig cc` (maturin's --zig, the ziglang package from
# PyPI): zig carries the glibc 2.28 symbol versions and the musl C library, so no manylinux
# container and no cross gcc is needed, and the C code eltr bundles (SQLite through rusqlite,
# AWS-LC through aws-lc-rs) is compiled by the same zig. Rust needs the standard library of
# each target: `rustup target add aarch64-unknown-linux-gnu x86_64-unknown-linux-musl
# aarch64-unknown-linux-musl` (from the Rust project's servers, not PyPI: a machine that
# reaches only package registries can build native and manylinux-x86_64 alone). maturin's
# check of the result (auditwheel's rules: only the allowed system libraries, no symbol newer
# than the tag) runs on every wheel and fails the build when it does not hold.
#
# maturin and ziglang come from PyPI into a virtualenv of their own, reused while the pins
# below are unchanged:
#   ELTR_WHEEL_TOOLS  (default target/wheel-tools)   where that virtualenv lives
#   ELTR_WHEEL_OUT    (default dist)                  where the wheels go
set -euo pipefail
cd "$(dirname "$0")/.."
MATURIN_PIN=maturin==1.16.0
ZIG_PIN=ziglang==0.17.0
tools=${ELTR_WHEEL_TOOLS:-$PWD/target/wheel-tools}
out=${ELTR_WHEEL_OUT:-dist}
profile=release

# tools_venv [zig]: the virtualenv with maturin (and ziglang when asked); prints its bin/.
tools_venv() {
  local venv=$tools/venv
  if [ "$(cat "$venv/.pins" 2>/dev/null)" != "$MATURIN_PIN" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$MATURIN_PIN" >&2
    echo "$MATURIN_PIN" > "$venv/.pins"
  fi
  if [ "${1:-}" = zig ] &&
    [ "$("$venv/bin/pip" show ziglang 2>/dev/null | sed -n 's/^Version: //p')" != "${ZIG_PIN#*==}" ]; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$ZIG_PIN" >&2
  fi
  echo "$venv/bin"
}

# maturin_args PLATFORM: the target, tag and linker flags of one platform.
maturin_args() {
  case $1 in
    native) echo "" ;;
    manylinux-x86_64) echo "--target x86_64-unknown-linux-gnu --compatibility manylinux_2_28 --zig" ;;
    manylinux-aarch64) echo "--target aarch64-unknown-linux-gnu --compatibility manylinux_2_28 --zig" ;;
    musllinux-x86_64) echo "--target x86_64-unknown-linux-musl --compatibility musllinux_1_2 --zig" ;;
    musllinux-aarch64) echo "--target aarch64-unknown-linux-musl --compatibility musllinux_1_2 --zig" ;;
    *) echo "unknown platform '$1' (native, manylinux-x86_64, manylinux-aarch64, musllinux-x86_64, musllinux-aarch64, sdist, all)" >&2
      return 2 ;;
  esac
}

platforms=()
while [ $# -gt 0 ]; do
  case $1 in
    --profile) profile=${2:?--profile needs release or dev}; shift 2 ;;
    all) platforms+=(manylinux-x86_64 manylinux-aarch64 musllinux-x86_64 musllinux-aarch64 sdist); shift ;;
    *) platforms+=("$1"); shift ;;
  esac
done
[ ${#platforms[@]} -gt 0 ] || platforms=(native)

mkdir -p "$out"
for p in "${platforms[@]}"; do
  if [ "$p" = sdist ]; then
    bin=$(tools_venv)
    "$bin/maturin" sdist --out "$out"
    continue
  fi
  args=$(maturin_args "$p")
  bin=$(tools_venv "$([[ $args == *--zig* ]] && echo zig)")
  echo "== $p ($profile): maturin build $args" >&2
  # maturin finds zig through the ziglang package in its own virtualenv.
  # shellcheck disable=SC2086  # $args is a list of flags
  PATH=$bin:$PATH "$bin/maturin" build --locked --profile "$profile" $args --out "$out"
done
