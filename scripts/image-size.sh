#!/usr/bin/env bash
# eltr's Docker image beside Meltano's official one, built here on the same base: prints each
# image's size, the part above the shared Python base, and the ratios.
#
# No registry but PyPI, crates.io, Debian and npm is reachable, so Meltano's image is not
# pulled: its published Dockerfiles (docker/meltano/Dockerfile, the `meltano/meltano` image,
# and docker/meltano/Dockerfile.slim) are built with podman on the Python base that
# scripts/ci-docker.sh makes (Debian bookworm's python3 3.11; Meltano's own base is
# python:3.13-slim), installing meltano==4.4.1 from PyPI with the extras each names instead of
# the wheel their release job builds. The other changes only make Debian's Python take the
# same commands: `python` is `python3`, and pip may install beside Debian's packages
# (PIP_BREAK_SYSTEM_PACKAGES, PIP_IGNORE_INSTALLED, build arguments that stay out of the
# image). Both images are uncompressed sizes as `podman image inspect` gives them.
#
#   MELTANO_REPO  a checkout of Meltano's repository, or its bare git folder (read at HEAD)
#                 (default /work/.mirror/meltano+meltano/repo when there)
#   ELTR_CI_DOCKER_CACHE, ELTR_CI_HOST_CA   as in scripts/ci-docker.sh, whose podman storage
#                 and base images are used; it is run first when the eltr image is missing.
# Takes about 4 minutes with the bases in place (mostly apt and PyPI downloads); not in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
W=${ELTR_CI_DOCKER_CACHE:-/var/tmp/eltr-ci-docker}
HOST_CA=${ELTR_CI_HOST_CA-/etc/ssl/certs/ca-certificates.crt}
MELTANO_REPO=${MELTANO_REPO:-/work/.mirror/meltano+meltano/repo}
MELTANO_VERSION=4.4.1
ELTR_IMAGE=localhost/eltr:ci
PYTHON_BASE=localhost/eltr-ci/python:bookworm
started=$SECONDS

# meltano_dockerfile NAME: Meltano's docker/meltano/NAME, from a checkout or a git folder.
meltano_dockerfile() {
  if [ -f "$MELTANO_REPO/docker/meltano/$1" ]; then
    cat "$MELTANO_REPO/docker/meltano/$1"
  else
    git --git-dir="$MELTANO_REPO" show "HEAD:docker/meltano/$1"
  fi
}
meltano_dockerfile Dockerfile > /dev/null 2>&1 || {
  echo "no Meltano checkout at MELTANO_REPO=$MELTANO_REPO (needs docker/meltano/Dockerfile)" >&2
  exit 1
}

export CONTAINERS_CONF=$W/conf/containers.conf CONTAINERS_STORAGE_CONF=$W/conf/storage.conf
export TMPDIR=$W/tmp
if [ ! -f "$CONTAINERS_CONF" ] || ! podman image exists "$ELTR_IMAGE"; then
  echo "== no eltr image yet: scripts/ci-docker.sh builds it and the bases"
  scripts/ci-docker.sh | tail -n 3
fi

# adapt: Meltano's Dockerfile on stdin, on our base, meltano from PyPI, on stdout.
adapt() {
  sed -E \
    -e "s|^FROM python:.*|FROM $PYTHON_BASE\nARG PIP_BREAK_SYSTEM_PACKAGES=1\nARG PIP_IGNORE_INSTALLED=1\nARG PIP_CERT\nARG SSL_CERT_FILE|" \
    -e 's/(^|[^a-z0-9])python -m pip/\1python3 -m pip/g' \
    -e 's/^([[:space:]]*)pip install/\1python3 -m pip install/' \
    -e 's|^RUN --mount=type=bind,source=dist[^ ]* |RUN |' \
    -e "s|(meltano\[[^]]*\]) @ file://\\\$\(ls [^)]*\)|\1==$MELTANO_VERSION|"
}

ca_args=()
if [ -n "$HOST_CA" ] && [ -f "$HOST_CA" ]; then
  ca_args=(-v "$HOST_CA:/run/host-ca.crt:ro" --build-arg PIP_CERT=/run/host-ca.crt
    --build-arg SSL_CERT_FILE=/run/host-ca.crt)
fi
mkdir -p "$W/meltano" "$W/logs"
size() { podman image inspect --format '{{.Size}}' "$1"; }
mb() { awk -v b="$1" 'BEGIN { printf "%.0f MB", b / 1e6 }'; }

for variant in Dockerfile Dockerfile.slim; do
  tag=localhost/eltr-ci/meltano:$MELTANO_VERSION${variant#Dockerfile}
  tag=${tag/%.slim/-slim}
  meltano_dockerfile "$variant" | adapt > "$W/meltano/$variant"
  if ! grep -q "meltano\[.*\]==$MELTANO_VERSION" "$W/meltano/$variant"; then
    echo "Meltano's $variant no longer has the install line this script rewrites:" >&2
    cat "$W/meltano/$variant" >&2
    exit 1
  fi
  t=$SECONDS
  echo "== build Meltano's $variant as $tag"
  podman build --pull=never "${ca_args[@]}" -t "$tag" -f "$W/meltano/$variant" "$W/empty" \
    > "$W/logs/meltano-$variant.log" 2>&1 || {
    tail -n 30 "$W/logs/meltano-$variant.log" >&2
    exit 1
  }
  echo "   $(($SECONDS - t)) s; $(podman run --rm --pull=never --entrypoint meltano "$tag" --version)"
done

base=$(size "$PYTHON_BASE")
eltr=$(size "$ELTR_IMAGE")
echo
printf '%-42s %9s %16s\n' image size "above the base"
printf '%-42s %9s %16s\n' "base ($PYTHON_BASE)" "$(mb "$base")" -
for image in "$ELTR_IMAGE" localhost/eltr-ci/meltano:$MELTANO_VERSION \
  localhost/eltr-ci/meltano:$MELTANO_VERSION-slim; do
  s=$(size "$image")
  printf '%-42s %9s %16s\n' "$image" "$(mb "$s")" "$(mb $((s - base)))"
done
for variant in "" -slim; do
  m=$(size "localhost/eltr-ci/meltano:$MELTANO_VERSION$variant")
  awk -v e="$eltr" -v m="$m" -v b="$base" -v v="meltano$variant" 'BEGIN {
    printf "eltr / %s: %.2fx the size (%.2fx above the base); %s is %.1fx eltr\n",
      v, e / m, (e - b) / (m - b), v, m / e }'
done
echo "(eltr's image holds the example project and its installed plugins; Meltano's none)"
slim_cache=$(podman run --rm --pull=never --entrypoint sh \
  "localhost/eltr-ci/meltano:$MELTANO_VERSION-slim" -c 'du -sm /root/.cache 2>/dev/null | cut -f1')
echo "(meltano-slim keeps uv's cache, ${slim_cache:-0} MB in /root/.cache: its Dockerfile installs without --no-cache)"
echo "(image-size: $((SECONDS - started)) s)"
