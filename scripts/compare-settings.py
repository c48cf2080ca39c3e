"""Compares eltr's resolved settings with Meltano's on one project folder (a dev tool).

For every plugin (and mapping) the project defines, runs `config print PLUGIN` (JSON),
`config print PLUGIN --extras` and `config print PLUGIN --format env` with Meltano and with
eltr, each in its own copy of the project, and compares them item by item: a JSON output's
top-level keys, an env output's variables. Meltano's outputs are cached (they do not change
while eltr does) under --cache. Prints every differing item, then one count line.

Run through scripts/compare-settings.sh, which finds Meltano's Python and eltr.
"""

import argparse
import json
import os
import re
from datetime import datetime
import shutil
import subprocess
import sys
import tempfile

import yaml

PLUGIN_TYPES = [
    "extractors",
    "loaders",
    "transformers",
    "orchestrators",
    "utilities",
    "mappers",
    "files",
    "transforms",
]
MODES = {"json": [], "extras": ["--extras"], "env": ["--format", "env"]}


def project_files(root):
    """meltano.yml and the files its include_paths name."""
    import glob

    main = os.path.join(root, "meltano.yml")
    with open(main) as f:
        doc = yaml.safe_load(f) or {}
    docs = [doc]
    for pattern in doc.get("include_paths") or []:
        for path in sorted(glob.glob(os.path.join(root, pattern), recursive=True)):
            with open(path) as f:
                docs.append(yaml.safe_load(f) or {})
    return docs


def plugin_names(root):
    """(type, name) of every plugin, and mapping names as mappers."""
    out = []
    for doc in project_files(root):
        plugins = doc.get("plugins") or {}
        for ptype in PLUGIN_TYPES:
            for p in plugins.get(ptype) or []:
                if (ptype, p["name"]) not in out:
                    out.append((ptype, p["name"]))
                for m in p.get("mappings") or []:
                    out.append(("mappers", m["name"]))
    return out


def clean_env():
    keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    keep["NO_COLOR"] = "1"
    return keep


def run(cmd, cwd):
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=clean_env(), timeout=120)
    return p.returncode, p.stdout, p.stderr


def parse(mode, code, out, err, root):
    """The items of one output, or an error item."""
    out = out.replace(root, "ROOT")
    if code != 0:
        lines = [ln for ln in err.strip().splitlines() if ln.strip() and "Need help" not in ln]
        return {"<error>": (lines[-1:] or [""])[0][-160:]}
    if mode == "env":
        items = {}
        for line in out.splitlines():
            if "=" in line:
                k, v = line.split("=", 1)
                items[k] = v
        return items
    try:
        return json.loads(out)
    except json.JSONDecodeError:
        return {"<unparsable>": out[:160]}


STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$")


def same(a, b):
    """Equal, or two resolved relative dates (`1 month ago`) taken within two minutes."""
    if a == b:
        return True
    if isinstance(a, str) and isinstance(b, str) and STAMP.match(a) and STAMP.match(b):
        ta, tb = datetime.fromisoformat(a), datetime.fromisoformat(b)
        return abs((ta - tb).total_seconds()) < 120
    return False


def copy(src, dst):
    shutil.copytree(
        src, dst, ignore=shutil.ignore_patterns(".git", ".meltano", "node_modules", ".venv")
    )


def ptype_flag(ptype):
    return ["--plugin-type", ptype]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("project")
    ap.add_argument("--meltano", required=True)
    ap.add_argument("--eltr", required=True)
    ap.add_argument("--cache", default=None)
    ap.add_argument("--environment", default=None)
    ap.add_argument("--unsafe", action="store_true")
    ap.add_argument("--plugin", default=None, help="only this plugin")
    args = ap.parse_args()

    src = os.path.abspath(args.project)
    tmp = tempfile.mkdtemp(prefix="compare-settings-")
    mroot, eroot = os.path.join(tmp, "p"), os.path.join(tmp, "p")
    cache = {}
    cache_file = None
    if args.cache:
        os.makedirs(args.cache, exist_ok=True)
        key = src.strip("/").replace("/", "+") + f"+{args.environment}+{args.unsafe}+default-env"
        cache_file = os.path.join(args.cache, key + ".json")
        if os.path.exists(cache_file):
            cache = json.load(open(cache_file))
    copy(src, mroot)
    # Meltano's `config` ignores default_environment; eltr applies it on purpose. To compare
    # how settings resolve, both run with the default environment named explicitly.
    environment = args.environment or project_files(src)[0].get("default_environment")
    env_flags = ["--environment", environment] if environment else []
    differing = total = meltano_errors = 0
    for ptype, name in plugin_names(src):
        if args.plugin and name != args.plugin:
            continue
        for mode, extra in MODES.items():
            ckey = f"{ptype}/{name}/{mode}"
            if ckey not in cache:
                cmd = [args.meltano] + env_flags + ["config"]
                cmd += ["--unsafe"] if args.unsafe else []
                cmd += ["print", name] + ptype_flag(ptype) + extra
                cache[ckey] = parse(mode, *run(cmd, mroot), mroot)
            theirs = cache[ckey]
            cmd = [args.eltr] + env_flags + ["config", "print", name]
            cmd += ["--plugin-type", ptype] + extra + (["--unsafe"] if args.unsafe else [])
            if "<error>" in theirs:
                # Meltano fails (no lockfile and no Hub, a value it rejects): nothing to
                # compare; counted apart.
                meltano_errors += 1
                print(f"{name} [{mode}] meltano fails: {theirs['<error>']}")
                continue
            ours = parse(mode, *run(cmd, mroot), mroot)
            for k in sorted(set(theirs) | set(ours), key=str):
                total += 1
                if not same(theirs.get(k, "<absent>"), ours.get(k, "<absent>")):
                    differing += 1
                    m = json.dumps(theirs.get(k, "<absent>"))[:300]
                    e = json.dumps(ours.get(k, "<absent>"))[:300]
                    print(f"{name} [{mode}] {k}\n    meltano: {m}\n    eltr:    {e}")
    if cache_file:
        json.dump(cache, open(cache_file, "w"), indent=1)
    shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"== {args.project}: {differing} of {total} items differ"
        f" ({meltano_errors} outputs where Meltano fails, not compared)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
