"""The deploy linters the unit tests run, located where scripts/install-deploy-tools.sh puts them.

A missing tool fails the test with the install hint, never skips it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = ROOT / "deploy" / "helm" / "invoice-sync"

# Must match scripts/install-deploy-tools.sh (KUBE_VERSION, the share directory layout).
KUBE_VERSION = "1.37.0"
# Where the install script puts things: $DEPLOY_TOOLS_PREFIX if set, else the repo's .venv.
TOOL_DIRS = tuple(
    Path(p)
    for p in (os.environ.get("DEPLOY_TOOLS_PREFIX"), ROOT / ".venv", "/usr/local")
    if p is not None
)
INSTALL_HINT = "run scripts/install-deploy-tools.sh"
# prometheus-operator kinds: no schema in kubernetes-validate; crd-check and validate-crds.mjs
# cover them.
CRD_KINDS = ("ServiceMonitor", "PrometheusRule", "AlertmanagerConfig")


def tool(name: str) -> str:
    """Absolute path of an installed tool; fails the test when it is missing."""
    search = os.pathsep.join([*(str(d / "bin") for d in TOOL_DIRS), os.environ.get("PATH", "")])
    found = shutil.which(name, path=search)
    if found is None:
        pytest.fail(f"{name} is not installed: {INSTALL_HINT}", pytrace=False)
    return found


def deploy_share(relative: str) -> Path:
    """A path under <prefix>/share/deploy-tools written by the install script."""
    for prefix in TOOL_DIRS:
        candidate = prefix / "share" / "deploy-tools" / relative
        if candidate.exists():
            return candidate
    pytest.fail(f"share/deploy-tools/{relative} is missing: {INSTALL_HINT}", pytrace=False)


def run(args: list[str], *, stdin: str | None = None, cwd: Path = ROOT) -> str:
    """Run a tool; fail with its output unless it exits 0. Returns stdout."""
    done = subprocess.run(
        args, input=stdin, capture_output=True, text=True, cwd=cwd, timeout=120, check=False
    )
    assert done.returncode == 0, (
        f"{' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    )
    return done.stdout


def run_failing(args: list[str], *, stdin: str | None = None) -> str:
    """Run a tool that must reject its input; returns stdout + stderr."""
    done = subprocess.run(
        args, input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=120, check=False
    )
    assert done.returncode != 0, f"{' '.join(args)} accepted what it should reject"
    return done.stdout + done.stderr


def helm_template(*args: str, release: str = "inv", namespace: str = "billing") -> str:
    """The chart rendered as release ``release`` in ``namespace``."""
    return run(
        [tool("helm"), "template", release, str(CHART_DIR), "--namespace", namespace, *args]
    )


def objects_of(manifest: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(manifest) if doc]


def by_kind_list(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    [found] = [o for o in objects if o["kind"] == kind]
    return found


def kubeconform_args() -> list[str]:
    schemas = deploy_share("kubernetes-json-schema")
    return [
        tool("kubeconform"),
        "-strict",
        "-summary",
        "-output",
        "json",
        "-kubernetes-version",
        KUBE_VERSION,
        "-schema-location",
        f"{schemas}/{{{{.NormalizedKubernetesVersion}}}}-standalone{{{{.StrictSuffix}}}}"
        "/{{.ResourceKind}}{{.KindSuffix}}.json",
        "-skip",
        ",".join(CRD_KINDS),
    ]
