# eltr + one project baked into an image that Airflow's DockerOperator or
# KubernetesPodOperator (or `docker run`) starts:
#
#   docker build -t my-eltr .                                  # bakes ./example-project
#   docker build --build-arg PROJECT_DIR=projects/sales -t sales-eltr .
#   docker run --rm -e TAP_X_PASSWORD=... -v eltr-state:/project/.eltr/state \
#     my-eltr run orders-to-jsonl --environment prod
#
# Three stages: `build` compiles the eltr binary (stripped); `plugins` builds the virtualenvs
# of the project's PyPI plugins with `eltr install`, which uses uv there; the final stage is
# the slim Python image with only eltr, the project (PROJECT_DIR, a folder inside the build
# context) and those virtualenvs, copied to the same path and so run by the same Python. No
# compiler, cargo, uv or build cache reaches it, and nothing is installed at run time.
#
# Run-time settings are variables (nothing secret is baked in; `.env` files are kept out of
# the build context by .dockerignore):
#   ELTR_ENVIRONMENT               environment to activate (or pass `--environment prod`)
#   ELTR_STATE_BACKEND_URI         where state lives. Unset: the project's own setting, else
#                                  /project/.eltr/state (mount a volume there). Or
#                                  file:///state (mount a volume at /state), s3://bucket/prefix,
#                                  azure://container/prefix
#   ELTR_STATE_BACKEND_S3_AWS_ACCESS_KEY_ID, _S3_AWS_SECRET_ACCESS_KEY, _S3_REGION,
#   _S3_ENDPOINT_URL, ELTR_STATE_BACKEND_AZURE_CONNECTION_STRING
#                                  credentials of a remote state store
#   <PLUGIN>_<SETTING>             any plugin setting, secrets included (TAP_ORDERS_API_TOKEN)
#   and whatever ${VAR} the project reads (the example: ORDERS_DATA_DIR, OUTPUT_DIR)
# /project/.eltr/state, /state and /output are owned by the image's user (uid 10001), so
# named volumes mounted there are writable; chown host folders bind-mounted there to 10001.
#
# Behind a TLS-intercepting proxy, mount its CA for the build only and name it (it stays out
# of the image):  -v /etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro
#   --build-arg CARGO_HTTP_CAINFO=/run/host-ca.crt --build-arg PIP_CERT=/run/host-ca.crt
# Unset (the default), these change nothing.

ARG RUST_IMAGE=rust:1-slim-bookworm
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${RUST_IMAGE} AS build
# Where cargo keeps the crates it downloads (already so in the official Rust images; set for
# bases whose cargo comes from Debian's cargo-web).
ENV CARGO_HOME=/usr/local/cargo
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
ARG CARGO_HTTP_CAINFO
# The crates and the target folder live in build caches, so a rebuild after a source change
# only recompiles eltr; the binary is copied out of the cache in the same step, without its
# symbol table (`install -s`; a panic's backtrace then shows addresses, not function names).
RUN --mount=type=cache,id=eltr-cargo-registry,target=/usr/local/cargo/registry \
    --mount=type=cache,id=eltr-cargo-target,target=/src/target \
    cargo build --release --locked --bin eltr \
 && install -s -m 0755 target/release/eltr /usr/local/bin/eltr \
 && eltr --version

FROM ${PYTHON_IMAGE} AS plugins
ARG UV_VERSION=0.13.8
ARG PIP_CERT
# uv in a virtualenv of its own (Debian's system Python refuses pip installs), on PATH so
# `eltr install` uses it. Only this stage has it.
RUN python3 -m venv /opt/uv \
 && /opt/uv/bin/pip install --no-cache-dir --disable-pip-version-check "uv==${UV_VERSION}" \
 && ln -s /opt/uv/bin/uv /usr/local/bin/uv
COPY --from=build /usr/local/bin/eltr /usr/local/bin/eltr
ARG PROJECT_DIR=example-project
WORKDIR /project
COPY ${PROJECT_DIR}/ /project/
ENV UV_NO_CACHE=1 \
    UV_COMPILE_BYTECODE=1
# uv reads a custom CA from SSL_CERT_FILE; only set when PIP_CERT is given. Bytecode is
# compiled here, once, since the run-time user cannot write it beside read-only sources.
RUN if [ -n "${PIP_CERT:-}" ]; then export SSL_CERT_FILE="$PIP_CERT"; fi \
 && eltr install \
 && eltr compile > /dev/null

FROM ${PYTHON_IMAGE}
# The user eltr runs as.
RUN groupadd --system --gid 10001 eltr \
 && useradd --system --uid 10001 --gid 10001 --home-dir /home/eltr --create-home \
      --shell /usr/sbin/nologin eltr
COPY --from=build /usr/local/bin/eltr /usr/local/bin/eltr

# The project: files owned by root (read-only to eltr); what eltr writes (.eltr: plugin
# virtualenvs, catalog cache, logs, state) and the state and output mount points are eltr's.
ARG PROJECT_DIR=example-project
WORKDIR /project
COPY ${PROJECT_DIR}/ /project/
COPY --from=plugins --chown=10001:10001 /project/.eltr /project/.eltr
RUN mkdir -p /project/.eltr/state /project/output /state /output \
 && chown 10001:10001 /project/.eltr /project/.eltr/state /project/output /state /output

USER 10001:10001
ENV ELTR_PROJECT_ROOT=/project \
    HOME=/home/eltr \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

ENTRYPOINT ["eltr"]
CMD ["--help"]
