#!/usr/bin/env bash
# Starts the S3 (moto) and Azure Blob (Azurite) emulators on free 127.0.0.1 ports, creates
# the test bucket and container, and prints `export` lines for the tests:
#   ELTR_TEST_S3_ENDPOINT, ELTR_TEST_S3_BUCKET, ELTR_TEST_AZURE_CONNECTION_STRING,
#   ELTR_TEST_AZURE_CONTAINER, ELTR_TEST_EMULATOR_PIDS
# Usage: eval "$(scripts/emulators.sh TOOLS_DIR)"; ...; kill $ELTR_TEST_EMULATOR_PIDS
set -euo pipefail
tools=$(cd "$1" && pwd)
py=$tools/venvs/emulators/bin/python
free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
s3_port=$(free_port)
az_port=$(free_port)
log=$tools/logs; mkdir -p "$log"
"$tools/venvs/emulators/bin/moto_server" -H 127.0.0.1 -p "$s3_port" > "$log/moto.log" 2>&1 &
moto_pid=$!
(cd "$log" && exec "$tools/azurite/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 \
  --blobPort "$az_port" --inMemoryPersistence --skipApiVersionCheck) > "$log/azurite.log" 2>&1 &
az_pid=$!
# The well-known development account of the Azure emulators (public, not a secret).
conn="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:$az_port/devstoreaccount1;"
for _ in $(seq 100); do
  if curl -s -o /dev/null "http://127.0.0.1:$s3_port/" && curl -s -o /dev/null "http://127.0.0.1:$az_port/"; then break; fi
  kill -0 $moto_pid 2>/dev/null || { cat "$log/moto.log" >&2; exit 1; }
  kill -0 $az_pid 2>/dev/null || { cat "$log/azurite.log" >&2; exit 1; }
  sleep 0.2
done
curl -sf -X PUT "http://127.0.0.1:$s3_port/eltr-test" -o /dev/null
"$py" - "$conn" <<'PY'
import sys
from azure.storage.blob import BlobServiceClient
BlobServiceClient.from_connection_string(sys.argv[1]).create_container("eltr-test")
PY
echo "export ELTR_TEST_S3_ENDPOINT=http://127.0.0.1:$s3_port"
echo "export ELTR_TEST_S3_BUCKET=eltr-test"
echo "export ELTR_TEST_AZURE_CONNECTION_STRING='$conn'"
echo "export ELTR_TEST_AZURE_CONTAINER=eltr-test"
echo "export ELTR_TEST_EMULATOR_PIDS='$moto_pid $az_pid'"
