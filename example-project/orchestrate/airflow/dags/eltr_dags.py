"""Airflow DAGs for an eltr project: one DAG per schedule, one task per job task.

The schedules come from `eltr schedule list --format json` (Meltano's shape), run when
Airflow parses this file (with a timeout); where eltr is not installed (an Airflow worker that
only starts containers), from the JSON file named by ELTR_SCHEDULES_JSON, made beforehand with
`docker run IMAGE schedule list --format json > schedules.json`.

Each job task (`tap-x target-y`, or several blocks) becomes one `eltr run BLOCKS --environment
ENV` task, in the job's order, carrying the schedule's `env:`. Legacy extractor/loader
schedules become one `eltr run EXTRACTOR LOADER` task. How a task runs is chosen by
ELTR_AIRFLOW_OPERATOR:

  docker      (default) DockerOperator: the image's entrypoint is eltr, `command` is the rest
  kubernetes  KubernetesPodOperator: same image, the eltr arguments as the pod's `arguments`
  bash        BashOperator: `eltr ... run ...` on the worker (eltr and the project there)

Operators are imported only when used, so this file loads without the provider packages of
the modes it does not use. Settings (environment variables of the DAG processor):

  ELTR_AIRFLOW_OPERATOR        docker | kubernetes | bash
  ELTR_SCHEDULES_JSON          schedules file, used when eltr cannot be run
  ELTR_BIN                     eltr executable for parse time and bash mode (default: eltr)
  ELTR_PROJECT_ROOT            the project, for parse time and bash mode
  ELTR_SCHEDULE_LIST_TIMEOUT   seconds allowed to `eltr schedule list` (default 30)
  ELTR_AIRFLOW_ENVIRONMENT     eltr environment the tasks run in (default: prod)
  ELTR_DAG_PREFIX              DAG id prefix (default: eltr-)
  ELTR_IMAGE                   image for docker/kubernetes (default: eltr:latest)
  ELTR_AIRFLOW_PASS_ENV        comma-separated variable names copied from the DAG processor's
                               environment into every task (non-secret settings such as
                               ELTR_STATE_BACKEND_URI)
  ELTR_AIRFLOW_SECRET_VARS     comma-separated variable names whose values are read at run
                               time from the Airflow Variable of the same name (or a secrets
                               backend behind it): never in this file or the serialized DAG
  ELTR_DOCKER_URL              Docker daemon (default: unix://var/run/docker.sock)
  ELTR_DOCKER_NETWORK          network_mode of the containers
  ELTR_DOCKER_STATE_VOLUME     named volume mounted at /project/.eltr/state (local state)
  ELTR_DOCKER_AUTO_REMOVE      never | success | force (default: success)
  ELTR_K8S_NAMESPACE           namespace of the pods (default: the scheduler's own)
  ELTR_K8S_SECRET              Secret whose keys become the pod's variables (env_from)
  ELTR_K8S_SERVICE_ACCOUNT     service account of the pods
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import shutil
import subprocess
from datetime import datetime, timedelta, timezone

log = logging.getLogger(__name__)

OPERATOR = os.environ.get("ELTR_AIRFLOW_OPERATOR", "docker").strip().lower()
ELTR_BIN = os.environ.get("ELTR_BIN", "eltr")
PROJECT_ROOT = os.environ.get("ELTR_PROJECT_ROOT") or None
SCHEDULES_JSON = os.environ.get("ELTR_SCHEDULES_JSON") or None
LIST_TIMEOUT = float(os.environ.get("ELTR_SCHEDULE_LIST_TIMEOUT", "30"))
ENVIRONMENT = os.environ.get("ELTR_AIRFLOW_ENVIRONMENT", "prod")
DAG_PREFIX = os.environ.get("ELTR_DAG_PREFIX", "eltr-")
IMAGE = os.environ.get("ELTR_IMAGE", "eltr:latest")
START_DATE = datetime(2024, 1, 1, tzinfo=timezone.utc)
# The state dir inside the image (see the repository's Dockerfile).
IMAGE_STATE_DIR = "/project/.eltr/state"


def _names(var: str) -> list[str]:
    return [n.strip() for n in os.environ.get(var, "").split(",") if n.strip()]


def load_schedules() -> dict:
    """Meltano's `schedule list --format json` document: eltr's output, else the file."""
    errors = []
    exe = shutil.which(ELTR_BIN)
    if exe:
        cmd = [exe, "schedule", "list", "--format", "json"]
        if PROJECT_ROOT:
            cmd[1:1] = ["--project-root", PROJECT_ROOT]
        try:
            out = subprocess.run(
                cmd, capture_output=True, text=True, timeout=LIST_TIMEOUT, check=True
            )
            return json.loads(out.stdout)
        except subprocess.TimeoutExpired:
            errors.append(f"`{shlex.join(cmd)}` took more than {LIST_TIMEOUT:g} s")
        except subprocess.CalledProcessError as e:
            errors.append(f"`{shlex.join(cmd)}` failed ({e.returncode}): {e.stderr.strip()}")
        except ValueError as e:
            errors.append(f"`{shlex.join(cmd)}` printed no JSON: {e}")
    else:
        errors.append(f"{ELTR_BIN!r} is not on PATH")
    if SCHEDULES_JSON:
        if errors:
            log.info("eltr schedules from %s (%s)", SCHEDULES_JSON, "; ".join(errors))
        with open(SCHEDULES_JSON, encoding="utf-8") as f:
            return json.load(f)
    raise RuntimeError(
        "eltr DAGs: no schedules: " + "; ".join(errors)
        + "; set ELTR_SCHEDULES_JSON to the output of `eltr schedule list --format json`"
    )


def task_runs(schedule: dict, kind: str) -> list[list[str]]:
    """The eltr blocks of each task of a schedule, in order."""
    if kind == "elt":
        return [[schedule["extractor"], schedule["loader"]]]
    runs = []
    for task in schedule.get("job", {}).get("tasks", []):
        text = " ".join(task) if isinstance(task, list) else str(task)
        runs.append(shlex.split(text))
    return runs


def eltr_args(blocks: list[str]) -> list[str]:
    """What follows `eltr` in the task's command."""
    return ["run", *blocks, "--environment", ENVIRONMENT]


def task_env(schedule: dict) -> dict[str, str]:
    """Variables of every task of the schedule: its `env:`, the passed-through settings, and
    the secrets as run-time templates of Airflow Variables."""
    env = {k: str(v) for k, v in (schedule.get("env") or {}).items()}
    for name in _names("ELTR_AIRFLOW_PASS_ENV"):
        if name in os.environ:
            env[name] = os.environ[name]
    for name in _names("ELTR_AIRFLOW_SECRET_VARS"):
        env[name] = "{{ var.value.%s }}" % name
    return env


def task_id(blocks: list[str], taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]+", "_", "_".join(blocks))[:200] or "run"
    tid, n = base, 2
    while tid in taken:
        tid, n = f"{base}_{n}", n + 1
    taken.add(tid)
    return tid


# One factory per mode; each imports its operator when called.
def docker_task(tid: str, blocks: list[str], env: dict[str, str]):
    from airflow.providers.docker.operators.docker import DockerOperator

    kwargs = {}
    volume = os.environ.get("ELTR_DOCKER_STATE_VOLUME")
    if volume:
        from docker.types import Mount

        kwargs["mounts"] = [Mount(target=IMAGE_STATE_DIR, source=volume, type="volume")]
    if os.environ.get("ELTR_DOCKER_NETWORK"):
        kwargs["network_mode"] = os.environ["ELTR_DOCKER_NETWORK"]
    return DockerOperator(
        task_id=tid,
        image=IMAGE,
        command=eltr_args(blocks),
        environment=env,
        docker_url=os.environ.get("ELTR_DOCKER_URL", "unix://var/run/docker.sock"),
        auto_remove=os.environ.get("ELTR_DOCKER_AUTO_REMOVE", "success"),
        mount_tmp_dir=False,
        **kwargs,
    )


def kubernetes_task(tid: str, blocks: list[str], env: dict[str, str]):
    try:
        from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    except ImportError:  # providers before 7.0
        from airflow.providers.cncf.kubernetes.operators.kubernetes_pod import (
            KubernetesPodOperator,
        )

    kwargs = {}
    secret = os.environ.get("ELTR_K8S_SECRET")
    if secret:
        from kubernetes.client import models as k8s

        kwargs["env_from"] = [
            k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name=secret))
        ]
    if os.environ.get("ELTR_K8S_NAMESPACE"):
        kwargs["namespace"] = os.environ["ELTR_K8S_NAMESPACE"]
    if os.environ.get("ELTR_K8S_SERVICE_ACCOUNT"):
        kwargs["service_account_name"] = os.environ["ELTR_K8S_SERVICE_ACCOUNT"]
    return KubernetesPodOperator(
        task_id=tid,
        name=re.sub(r"[^a-z0-9-]+", "-", tid.lower()).strip("-")[:63] or "eltr",
        image=IMAGE,
        arguments=eltr_args(blocks),
        env_vars=env,
        get_logs=True,
        **kwargs,
    )


def bash_task(tid: str, blocks: list[str], env: dict[str, str]):
    try:
        from airflow.providers.standard.operators.bash import BashOperator
    except ImportError:  # Airflow 2
        from airflow.operators.bash import BashOperator

    cmd = [ELTR_BIN]
    if PROJECT_ROOT:
        cmd += ["--project-root", PROJECT_ROOT]
    return BashOperator(
        task_id=tid,
        bash_command=shlex.join(cmd + eltr_args(blocks)),
        env=env,
        append_env=True,
    )


FACTORIES = {"docker": docker_task, "kubernetes": kubernetes_task, "bash": bash_task}


def _dag_class():
    try:
        from airflow.sdk import DAG
    except ImportError:  # Airflow 2
        from airflow import DAG
    return DAG


def build_dags(document: dict) -> dict:
    if OPERATOR not in FACTORIES:
        raise ValueError(
            f"ELTR_AIRFLOW_OPERATOR={OPERATOR!r}: expected one of {', '.join(FACTORIES)}"
        )
    make_task = FACTORIES[OPERATOR]
    DAG = _dag_class()
    dags = {}
    schedules = document.get("schedules", {})
    for kind in ("job", "elt"):
        for schedule in schedules.get(kind, []):
            interval = schedule.get("interval")
            # @once and @manual have no cron: @once runs once, @manual only when triggered.
            cron = schedule.get("cron_interval") or ("@once" if interval == "@once" else None)
            what = schedule["job"]["name"] if kind == "job" else "elt"
            dag_id = f"{DAG_PREFIX}{schedule['name']}"
            with DAG(
                dag_id=dag_id,
                description=f"eltr schedule {schedule['name']} ({what}, {interval})",
                schedule=cron,
                start_date=START_DATE,
                catchup=False,
                max_active_runs=1,
                default_args={"retries": 0, "retry_delay": timedelta(minutes=5)},
                tags=["eltr", what],
            ) as dag:
                env = task_env(schedule)
                taken: set[str] = set()
                previous = None
                for blocks in task_runs(schedule, kind):
                    task = make_task(task_id(blocks, taken), blocks, env)
                    if previous is not None:
                        previous >> task
                    previous = task
            dags[dag_id] = dag
    return dags


for _dag_id, _dag in build_dags(load_schedules()).items():
    globals()[_dag_id] = _dag
