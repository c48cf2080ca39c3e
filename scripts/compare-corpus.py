"""Runs the same read-only commands with Meltano and eltr on Meltano project folders (a dev tool).

For each project folder given, two copies are made (one per tool, so neither sees the other's
files), and each command below runs in both: `compile` (its written manifests compared byte
for byte), `config list` and `config print --format env` of one plugin of each type,
`job list`, `schedule list`, `environment list`, `plugin list`, `state list`,
`invoke --print-var` / `--dump config` of a loader and a utility, and `run --dry-run` of the
first job (only whether it succeeds: Meltano logs a dry run, eltr prints its plan). A command's result is its stdout
(the project's path written as ROOT, Meltano's log lines dropped) and whether it succeeded.
Prints one line per command: same, differs, only-one-fails, both-fail or meltano-needs-hub
(Meltano asked the Hub, which is out of reach), with a diff excerpt for all but the first,
then the counts. Exits 1 when a command differs or fails in one tool only.

Run through scripts/compare-corpus.sh, which finds Meltano's Python and eltr.
"""

import argparse
import difflib
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

PLUGIN_TYPES = ["extractors", "loaders", "mappers", "utilities", "transformers", "orchestrators"]
QUIET = {
    "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
    "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
    # The Hub is out of reach here: a closed port fails at once instead of waiting.
    "MELTANO_HUB_URL": "http://127.0.0.1:9",
    "NO_COLOR": "1",
}
VERDICTS = ["same", "differs", "only-one-fails", "both-fail", "meltano-needs-hub"]
# Documented differences, dropped from Meltano's output before comparing: the state backend
# Meltano writes into every manifest when the project names none (docs/run-compatibility.md).
KNOWN = [re.compile(r'^meltano-manifest[^:]*: +"MELTANO_STATE_BACKEND_URI": "systemdb",?$')]
# Meltano's console log lines (structlog): "2026-12-07T06:00:00.000000Z [info     ] ..."
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z \[\w+\s*\]")
TIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?")


def project_docs(root):
    """meltano.yml and the files its include_paths name, as YAML documents."""
    with open(os.path.join(root, "meltano.yml")) as f:
        main = yaml.safe_load(f) or {}
    docs = [main]
    for pattern in main.get("include_paths") or []:
        for path in sorted(glob.glob(os.path.join(root, pattern), recursive=True)):
            with open(path) as f:
                docs.append(yaml.safe_load(f) or {})
    return docs


def first_of_each_type(docs):
    """(type, name, env keys) of the first plugin of each type."""
    picked = {}
    for doc in docs:
        for ptype in PLUGIN_TYPES:
            for p in (doc.get("plugins") or {}).get(ptype) or []:
                if ptype not in picked and isinstance(p, dict) and "name" in p:
                    picked[ptype] = (ptype, p["name"], list((p.get("env") or {}).keys()))
    return [picked[t] for t in PLUGIN_TYPES if t in picked]


def first_job(docs):
    for doc in docs:
        for job in doc.get("jobs") or []:
            if isinstance(job, dict) and "name" in job:
                return job["name"]
    return None


def commands(root):
    """The commands to compare on this project: (label, argv, eltr's extra arguments)."""
    docs = project_docs(root)
    out = [
        ("compile", ["compile"]),
        ("job list", ["job", "list"]),
        ("job list json", ["job", "list", "--format", "json"]),
        ("schedule list", ["schedule", "list"]),
        ("schedule list json", ["schedule", "list", "--format", "json"]),
        ("environment list", ["environment", "list"]),
        ("plugin list", ["plugin", "list"]),
        ("plugin list json", ["plugin", "list", "--format", "json"]),
        ("state list", ["state", "list"]),
    ]
    # Meltano's `config` ignores default_environment, eltr's applies it (a documented
    # difference, DESIGN §3): naming the environment makes both read the same values.
    env = next((d["default_environment"] for d in docs if d.get("default_environment")), None)
    env_args = [f"--environment={env}"] if env else []
    for ptype, name, env_keys in first_of_each_type(docs):
        out.append((f"config list {name}", env_args + ["config", "list", name]))
        out.append((f"config print env {name}",
                    env_args + ["config", "print", name, "--format", "env"]))
        if ptype in ("loaders", "utilities"):
            names = ["MELTANO_PROJECT_ROOT", "MELTANO_ENVIRONMENT"] + env_keys[:3]
            argv = ["invoke", "--no-install"]
            for var in names:
                argv += ["--print-var", var]
            out.append((f"invoke --print-var {name}", argv + [name]))
        if ptype == "loaders":
            # eltr masks sensitive values in dumps unless --unsafe (docs/run-compatibility.md).
            out.append((f"invoke --dump config {name}",
                        ["invoke", "--no-install", "--dump", "config", name], ["--unsafe"]))
    job = first_job(docs)
    if job:
        out.append((f"run --dry-run {job}", ["run", "--dry-run", "--no-install", job]))
    return [c if len(c) == 3 else c + ([],) for c in out]


def normalise(text, root, drop_logs=True):
    lines = []
    for line in text.replace(root, "ROOT").splitlines():
        if drop_logs and LOG_LINE.match(line):
            continue
        lines.append(TIME.sub("TIME", line.rstrip()))
    return lines


def run(tool, root, argv, label, keep_stderr):
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env.update(QUIET)
    try:
        proc = subprocess.run([tool] + argv, cwd=root, env=env, capture_output=True,
                              text=True, timeout=300, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return False, ["(timed out)"], ["(timed out)"]
    out = normalise(proc.stdout, root)
    if label == "compile":
        out += manifests(root)
    err = [l for l in normalise(proc.stderr, root, drop_logs=False) if l]
    # Meltano ends a failure with its traceback: its own error lines say more.
    said = [l for l in err if "[error" in l or l.startswith(("error", "Error"))]
    return proc.returncode == 0, out, (said or err)[-keep_stderr:]


def manifests(root):
    """The manifests compile wrote, one line each, prefixed by their file name."""
    found = []
    for path in sorted(glob.glob(os.path.join(root, ".meltano", "manifests", "*.json"))):
        with open(path, "rb") as f:
            body = f.read().decode("utf-8", "replace").replace(root, "ROOT")
        found += [f"{os.path.basename(path)}: {l}" for l in body.splitlines()]
    return found


def copy_project(src, dest):
    ignore = shutil.ignore_patterns(".git", ".meltano", ".eltr", "node_modules", ".venv")
    shutil.copytree(src, dest, symlinks=True, ignore=ignore)


def compare_project(src, meltano, eltr, excerpt):
    name = os.path.basename(os.path.realpath(src))
    counts = dict.fromkeys(VERDICTS, 0)
    with tempfile.TemporaryDirectory(prefix="compare-corpus-") as tmp:
        roots = {}
        for tool in ("meltano", "eltr"):
            roots[tool] = os.path.join(tmp, tool, name)
            copy_project(src, roots[tool])
        try:
            cmds = commands(src)
        except Exception as e:  # the project's YAML itself is broken: say so and go on
            print(f"{name}: cannot read meltano.yml: {e}")
            counts["differs"] += 1
            return counts
        for label, argv, eltr_extra in cmds:
            m_ok, m_out, m_err = run(meltano, roots["meltano"], argv, label, excerpt)
            m_out = [l for l in m_out if not any(k.match(l) for k in KNOWN)]
            e_ok, e_out, e_err = run(eltr, roots["eltr"], argv[:1] + eltr_extra + argv[1:], label, excerpt)
            if not m_ok and any("Meltano Hub" in l for l in m_err):
                # Meltano needed the Hub for a plugin without a lockfile: not comparable.
                verdict = "meltano-needs-hub"
            elif m_ok != e_ok:
                verdict = "only-one-fails"
            elif not m_ok:
                verdict = "both-fail"
            elif label.startswith("run --dry-run"):
                # Meltano logs its dry run, eltr prints its plan (docs/run-compatibility.md):
                # only success is compared.
                verdict = "same"
            else:
                verdict = "same" if m_out == e_out else "differs"
            counts[verdict] += 1
            print(f"{name}: {label}: {verdict}")
            if verdict == "same":
                continue
            if verdict in ("only-one-fails", "both-fail", "meltano-needs-hub"):
                for tool, ok, err in (("meltano", m_ok, m_err), ("eltr", e_ok, e_err)):
                    if not ok:
                        for line in err:
                            print(f"    {tool} stderr| {line[:200]}")
            diff = list(difflib.unified_diff(m_out, e_out, "meltano", "eltr", lineterm="", n=1))
            for line in diff[:excerpt]:
                print(f"    {line[:200]}")
    return counts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--meltano", required=True)
    ap.add_argument("--eltr", required=True)
    ap.add_argument("--excerpt", type=int, default=12, help="diff and stderr lines shown")
    ap.add_argument("projects", nargs="+")
    args = ap.parse_args()
    total = dict.fromkeys(VERDICTS, 0)
    for project in args.projects:
        if not os.path.isfile(os.path.join(project, "meltano.yml")):
            print(f"{project}: no meltano.yml here", file=sys.stderr)
            total["differs"] += 1
            continue
        for k, v in compare_project(project, args.meltano, args.eltr, args.excerpt).items():
            total[k] += v
    print(" ".join(f"{k}={v}" for k, v in total.items()))
    sys.exit(1 if total["differs"] or total["only-one-fails"] else 0)


if __name__ == "__main__":
    main()
