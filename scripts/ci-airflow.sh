#!/usr/bin/env bash
# Loads example-project/orchestrate/airflow/dags/eltr_dags.py with a real Airflow (PyPI's
# apache-airflow and its Docker and Kubernetes providers, in a scratch virtualenv) through
# DagBag, in each operator mode, and checks: no import errors, the DAG ids, schedules, tasks,
# their order and the commands they would run; that the DAG file loads with the providers of
# unused modes made unimportable; and, in bash mode, runs the task's command for real.
# Closes with `airflow: N passed, M failed` (non-zero exit on failure). When the pip install
# itself is impossible (no PyPI, no wheels for this Python), prints SKIP and exits 0.
#
#   ELTR_CI_AIRFLOW_CACHE  (default /var/tmp/eltr-ci-airflow): the virtualenv, reused while
#                          the pins below are unchanged.
#   ELTR_BIN               eltr to use (default: target/debug/eltr, built by cargo).
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
started=$SECONDS
CACHE=${ELTR_CI_AIRFLOW_CACHE:-/var/tmp/eltr-ci-airflow}
PINS=(apache-airflow==3.3.2 apache-airflow-providers-docker==4.6.1
  apache-airflow-providers-cncf-kubernetes==10.25.0)
venv=$CACHE/venv
mkdir -p "$CACHE"

echo "== airflow venv ($CACHE)"
if [ ! -f "$venv/.pins" ] || [ "$(cat "$venv/.pins")" != "${PINS[*]}" ]; then
  rm -rf "$venv"
  if ! { python3 -m venv "$venv" &&
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${PINS[@]}"; } \
    > "$CACHE/pip.log" 2>&1; then
    tail -n 15 "$CACHE/pip.log"
    rm -rf "$venv"
    echo "SKIP: airflow: cannot pip install ${PINS[*]} (log: $CACHE/pip.log)"
    exit 0
  fi
  echo "${PINS[*]}" > "$venv/.pins"
fi
echo "   $("$venv/bin/python" -c 'import airflow, sys; print("airflow", airflow.__version__, "python", sys.version.split()[0])')"

echo "== eltr"
eltr=${ELTR_BIN:-}
if [ -z "$eltr" ]; then
  cargo build --quiet --bin eltr || { echo "FAIL cargo build"; echo "airflow: 0 passed, 1 failed"; exit 1; }
  eltr=$repo/target/debug/eltr
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The example project as a worker would have it (without what runs leave), eltr on PATH.
mkdir -p "$work/bin" && ln -s "$eltr" "$work/bin/eltr"
tar -C "$repo" --exclude=.eltr --exclude=output --exclude=__pycache__ -c example-project |
  tar -C "$work" -x
project=$work/example-project
"$eltr" --project-root "$project" schedule list --format json > "$work/schedules.json"

# A richer schedules document: a schedule env, a two-task job, an elt schedule, @once/@manual.
cat > "$work/more.json" <<'EOF'
{"schedules": {
  "job": [
    {"name": "orders-daily", "interval": "@daily", "cron_interval": "0 0 * * *",
     "env": {"ORDERS_DATA_DIR": "/data/orders"},
     "job": {"name": "orders-to-jsonl", "tasks": ["tap-orders--sales target-jsonl--sales"]}},
    {"name": "nightly", "interval": "0 3 * * *", "cron_interval": "0 3 * * *", "env": {},
     "job": {"name": "two-steps", "tasks": ["tap-a target-b", ["tap-c", "hash-emails target-b"]]}},
    {"name": "backfill", "interval": "@once", "cron_interval": null, "env": {},
     "job": {"name": "orders-to-jsonl", "tasks": ["tap-orders--sales target-jsonl--sales"]}},
    {"name": "by-hand", "interval": "@manual", "cron_interval": null, "env": {},
     "job": {"name": "orders-to-jsonl", "tasks": ["tap-orders--sales target-jsonl--sales"]}}
  ],
  "elt": [
    {"name": "legacy", "extractor": "tap-x", "loader": "target-y", "transform": "skip",
     "interval": "@hourly", "cron_interval": "0 * * * *", "env": {"A": "1"},
     "elt_args": ["tap-x", "target-y", "--transform=skip", "--state-id=legacy"]}
  ]}}
EOF

# The checks, in Python: one process per mode (the DAG file reads its settings at import).
cat > "$work/check.py" <<'EOF'
import json, os, subprocess, sys

CASE = sys.argv[1]
DAGS = os.environ["DAGS_FOLDER"]
results = []


def check(name, ok, detail=""):
    results.append(bool(ok))
    print(("ok   " if ok else "FAIL ") + f"[{CASE}] {name}" + ("" if ok else f": {detail}"))


class Block:
    """Makes the named top-level packages unimportable, as if not installed."""

    def __init__(self, names):
        self.names = names

    def find_spec(self, fullname, path=None, target=None):
        if any(fullname == n or fullname.startswith(n + ".") for n in self.names):
            raise ModuleNotFoundError(f"No module named {fullname!r} (blocked by the test)")
        return None


blocked = [n for n in os.environ.get("BLOCK_MODULES", "").split(",") if n]
if blocked:
    sys.meta_path.insert(0, Block(blocked))

try:
    from airflow.dag_processing.dagbag import DagBag
except ImportError:
    from airflow.models.dagbag import DagBag

import inspect

kwargs = {"dag_folder": DAGS}
if "include_examples" in inspect.signature(DagBag.__init__).parameters:
    kwargs["include_examples"] = False
bag = DagBag(**kwargs)
errors = {os.path.basename(k): v for k, v in bag.import_errors.items()}
expect_error = os.environ.get("EXPECT_IMPORT_ERROR")
if expect_error:
    text = " ".join(errors.values())
    check(f"import error names {expect_error!r}", expect_error in text, text or "no error")
    sys.exit(0 if all(results) else 1)
check("no import errors", not errors, json.dumps(errors)[:2000])


def dag(dag_id):
    d = bag.dags.get(dag_id)
    check(f"DAG {dag_id} exists", d is not None, sorted(bag.dags))
    return d


def chain(d):
    """Task ids in dependency order (each task's single upstream before it)."""
    order, tasks = [], {t.task_id: t for t in d.tasks}
    roots = [t for t in d.tasks if not t.upstream_task_ids]
    t = roots[0] if len(roots) == 1 else None
    while t is not None:
        order.append(t.task_id)
        nxt = list(t.downstream_task_ids)
        t = tasks[nxt[0]] if len(nxt) == 1 else None
    return order


def schedule_of(d):
    for attr in ("schedule", "timetable"):
        v = getattr(d, attr, None)
        if isinstance(v, str) or v is None:
            if attr == "schedule":
                return v
        else:
            summary = getattr(v, "summary", None) or getattr(v, "_expression", None)
            if summary:
                return summary
    return getattr(d, "schedule_interval", None)


RUN = ["run", "tap-orders--sales", "target-jsonl--sales", "--environment", "prod"]
TID = "tap-orders--sales_target-jsonl--sales"
loaded = set(sys.modules)

if CASE in ("bash-json", "bash-eltr", "docker", "kubernetes"):
    d = dag("eltr-orders-daily")
    if d is not None:
        check("only the example's DAG", sorted(bag.dags) == ["eltr-orders-daily"], sorted(bag.dags))
        check("daily cron 0 0 * * *", "0 0 * * *" in str(schedule_of(d)), schedule_of(d))
        check("no catch-up, one run at a time", d.catchup is False and d.max_active_runs == 1,
              (d.catchup, d.max_active_runs))
        check("one task per job task", [t.task_id for t in d.tasks] == [TID],
              [t.task_id for t in d.tasks])
        t = d.get_task(TID)
        kind = type(t).__name__
        if CASE.startswith("bash"):
            check("BashOperator", kind == "BashOperator", kind)
            want = os.environ["WANT_BASH"]
            check(f"bash_command is `{want}`", t.bash_command == want, t.bash_command)
            check("bash task keeps the worker's environment", t.append_env is True, t.append_env)
            for mod in ("airflow.providers.docker.operators", "docker",
                        "airflow.providers.cncf.kubernetes.operators", "kubernetes"):
                check(f"{mod} not imported", not any(m == mod or m.startswith(mod + ".")
                                                     for m in loaded), mod)
            if os.environ.get("RUN_BASH"):
                env = {**os.environ, **(t.env or {}), **json.loads(os.environ["RUN_BASH"])}
                p = subprocess.run(t.bash_command, shell=True, executable="/bin/bash", env=env,
                                   capture_output=True, text=True, timeout=300)
                check("bash_command runs the job", p.returncode == 0, p.stderr[-2000:])
                out = env["OUTPUT_DIR"]
                n = [sum(1 for _ in open(os.path.join(out, f"{s}.jsonl")))
                     if os.path.exists(os.path.join(out, f"{s}.jsonl")) else 0
                     for s in ("orders", "customers")]
                check("5 orders and 3 customers landed", n == [5, 3], n)
                p = subprocess.run(t.bash_command, shell=True, executable="/bin/bash", env=env,
                                   capture_output=True, text=True, timeout=300)
                check("second run is incremental",
                      p.returncode == 0 and "orders: 0 new rows since 2024-03-03T08:05:00Z" in p.stderr,
                      p.stderr[-2000:])
        elif CASE == "docker":
            check("DockerOperator", kind == "DockerOperator", kind)
            check(f"command is {RUN}", list(t.command) == RUN, t.command)
            check("image is ELTR_IMAGE", t.image == "registry.example.com/data/eltr:1", t.image)
            env = t.environment or {}
            check("passes ELTR_STATE_BACKEND_URI from ELTR_AIRFLOW_PASS_ENV",
                  env.get("ELTR_STATE_BACKEND_URI") == "s3://bucket/eltr-state", env)
            check("secret is a run-time Variable template, not a value",
                  env.get("TAP_ORDERS_API_TOKEN") == "{{ var.value.TAP_ORDERS_API_TOKEN }}", env)
            check("kubernetes provider not imported",
                  not any(m.startswith("airflow.providers.cncf.kubernetes.operators")
                          or m.split(".")[0] == "kubernetes" for m in loaded), "")
            check("mounts the state volume at /project/.eltr/state",
                  [m["Target"] for m in (t.mounts or [])] == ["/project/.eltr/state"], t.mounts)
        elif CASE == "kubernetes":
            check("KubernetesPodOperator", kind == "KubernetesPodOperator", kind)
            check(f"arguments are {RUN}", list(t.arguments) == RUN, t.arguments)
            check("no cmds: the image's entrypoint (eltr) runs", not t.cmds, t.cmds)
            check("image is ELTR_IMAGE", t.image == "registry.example.com/data/eltr:1", t.image)
            ev = t.env_vars or []  # a dict until the provider converts it to V1EnvVar
            names = dict(ev) if isinstance(ev, dict) else {e.name: e.value for e in ev}
            check("secret is a run-time Variable template",
                  names.get("TAP_ORDERS_API_TOKEN") == "{{ var.value.TAP_ORDERS_API_TOKEN }}", names)
            refs = [f.secret_ref.name for f in (t.env_from or []) if f.secret_ref]
            check("env_from the Secret in ELTR_K8S_SECRET", refs == ["eltr-secrets"], refs)
            check("namespace from ELTR_K8S_NAMESPACE", t.namespace == "data", t.namespace)
            check("docker provider not imported",
                  not any(m.startswith("airflow.providers.docker.operators")
                          or m.split(".")[0] == "docker" for m in loaded), "")

if CASE == "more":
    check("a DAG per schedule", sorted(bag.dags) == sorted(
        ["eltr-orders-daily", "eltr-nightly", "eltr-backfill", "eltr-by-hand", "eltr-legacy"]),
        sorted(bag.dags))
    d = dag("eltr-nightly")
    if d is not None:
        cmds = {t.task_id: t.bash_command for t in d.tasks}
        order = chain(d)
        check("two job tasks, chained in the job's order",
              order == ["tap-a_target-b", "tap-c_hash-emails_target-b"], order)
        check("each task runs its own blocks",
              cmds.get("tap-c_hash-emails_target-b") == "eltr run tap-c hash-emails target-b --environment prod",
              cmds)
    d = dag("eltr-orders-daily")
    if d is not None:
        t = d.tasks[0]
        check("the schedule's env is the task's", t.env == {"ORDERS_DATA_DIR": "/data/orders"}, t.env)
    d = dag("eltr-legacy")
    if d is not None:
        t = d.tasks[0]
        check("elt schedule: one `run EXTRACTOR LOADER` task",
              [x.bash_command for x in d.tasks] == ["eltr run tap-x target-y --environment prod"],
              [x.bash_command for x in d.tasks])
        check("elt schedule: hourly", "0 * * * *" in str(schedule_of(d)), schedule_of(d))
    d = dag("eltr-backfill")
    if d is not None:
        check("@once schedule runs once", "once" in str(schedule_of(d)).lower(), schedule_of(d))
    d = dag("eltr-by-hand")
    if d is not None:
        s = schedule_of(d)
        check("@manual schedule: triggered by hand only",
              s is None or "never" in str(s).lower() or "none" in str(s).lower(), s)

sys.exit(0 if all(results) else 1)
EOF

echo "== load the DAG file with DagBag"
passed=0
failed=0
logs=$CACHE/logs
rm -rf "$logs" && mkdir -p "$logs"
# case NAME [VAR=VALUE...]: runs check.py for one mode in a clean Airflow home.
case_() {
  local name=$1; shift
  local home=$work/airflow-home-$name
  mkdir -p "$home"
  local out
  env -i HOME="$HOME" PATH="${CASE_PATH:-/usr/local/bin:/usr/bin:/bin}" \
    AIRFLOW_HOME="$home" AIRFLOW__CORE__LOAD_EXAMPLES=False \
    AIRFLOW__CORE__DAGS_FOLDER="$repo/example-project/orchestrate/airflow/dags" \
    DAGS_FOLDER="$repo/example-project/orchestrate/airflow/dags" \
    PYTHONDONTWRITEBYTECODE=1 "$@" \
    "$venv/bin/python" "$work/check.py" "$name" > "$logs/$name.log" 2>&1
  # Airflow logs to stdout too: show only the verdicts (the whole output is in the log).
  out=$(grep -E '^(ok |FAIL)' "$logs/$name.log")
  echo "$out"
  passed=$((passed + $(grep -c '^ok ' <<< "$out")))
  failed=$((failed + $(grep -c '^FAIL' <<< "$out")))
  if ! grep -q . <<< "$out"; then
    failed=$((failed + 1))
    echo "FAIL [$name] check.py printed no verdict:"; tail -n 30 "$logs/$name.log"
  elif grep -q '^FAIL' <<< "$out"; then
    echo "    (output of [$name]: $logs/$name.log)"
  fi
}
noeltr=/usr/local/bin:/usr/bin:/bin
# "Provider not installed", as the DAG file sees it: its operator modules and client library
# cannot be imported (Airflow's provider discovery still reads the package metadata).
BLOCK_DOCKER=airflow.providers.docker.operators,airflow.providers.docker.hooks,docker
BLOCK_K8S=airflow.providers.cncf.kubernetes.operators,airflow.providers.cncf.kubernetes.hooks,kubernetes
command -v eltr > /dev/null && noeltr=/usr/bin:/bin # no eltr on PATH for the JSON case

# Bash mode, schedules from the JSON file (a worker without eltr), with the Docker and
# Kubernetes providers made unimportable: the file must still load.
CASE_PATH=$noeltr case_ bash-json ELTR_AIRFLOW_OPERATOR=bash ELTR_SCHEDULES_JSON="$work/schedules.json" \
  BLOCK_MODULES=$BLOCK_DOCKER,$BLOCK_K8S \
  WANT_BASH="eltr run tap-orders--sales target-jsonl--sales --environment prod"

# Bash mode with eltr on PATH reading the project at parse time; then the task's command is
# run for real, twice (the target from the test venv when there, else `eltr install`).
tjl=${ELTR_TEST_VENV:-$repo/target/test-tools/venvs}/target-jsonl/bin/target-jsonl
if [ -x "$tjl" ]; then
  sed -i "s|^      pip_url: target-jsonl==0.1.4$|&\n      executable: $tjl|" \
    "$project/plugins/loaders/loaders_config.yml"
fi
CASE_PATH=$work/bin:$noeltr case_ bash-eltr ELTR_AIRFLOW_OPERATOR=bash ELTR_PROJECT_ROOT="$project" \
  WANT_BASH="eltr --project-root $project run tap-orders--sales target-jsonl--sales --environment prod" \
  RUN_BASH="{\"OUTPUT_DIR\": \"$work/out\", \"ELTR_STATE_BACKEND_URI\": \"file://$work/state\"}"

# Docker mode (the default): no ELTR_AIRFLOW_OPERATOR; Kubernetes provider unimportable.
CASE_PATH=$noeltr case_ docker ELTR_SCHEDULES_JSON="$work/schedules.json" \
  ELTR_IMAGE=registry.example.com/data/eltr:1 \
  ELTR_STATE_BACKEND_URI=s3://bucket/eltr-state ELTR_AIRFLOW_PASS_ENV=ELTR_STATE_BACKEND_URI \
  ELTR_AIRFLOW_SECRET_VARS=TAP_ORDERS_API_TOKEN ELTR_DOCKER_STATE_VOLUME=eltr-state \
  BLOCK_MODULES=$BLOCK_K8S

# Kubernetes mode; Docker provider unimportable.
CASE_PATH=$noeltr case_ kubernetes ELTR_AIRFLOW_OPERATOR=kubernetes \
  ELTR_SCHEDULES_JSON="$work/schedules.json" ELTR_IMAGE=registry.example.com/data/eltr:1 \
  ELTR_AIRFLOW_SECRET_VARS=TAP_ORDERS_API_TOKEN ELTR_K8S_SECRET=eltr-secrets \
  ELTR_K8S_NAMESPACE=data BLOCK_MODULES=$BLOCK_DOCKER

# More shapes of schedules (bash mode, to read the commands).
CASE_PATH=$noeltr case_ more ELTR_AIRFLOW_OPERATOR=bash ELTR_SCHEDULES_JSON="$work/more.json"

# Clear import errors: Docker mode without its provider; no eltr and no JSON; a bad mode.
CASE_PATH=$noeltr case_ docker-missing ELTR_SCHEDULES_JSON="$work/schedules.json" \
  BLOCK_MODULES=$BLOCK_DOCKER EXPECT_IMPORT_ERROR=airflow.providers.docker
CASE_PATH=$noeltr case_ no-schedules ELTR_AIRFLOW_OPERATOR=bash EXPECT_IMPORT_ERROR=ELTR_SCHEDULES_JSON
CASE_PATH=$noeltr case_ bad-mode ELTR_AIRFLOW_OPERATOR=ssh ELTR_SCHEDULES_JSON="$work/schedules.json" \
  EXPECT_IMPORT_ERROR="expected one of docker, kubernetes, bash"

echo "(ci-airflow: $((SECONDS - started)) s)"
echo "airflow: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
