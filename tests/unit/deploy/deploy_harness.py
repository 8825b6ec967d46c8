"""Helpers of the deployment tests: the repository, the generator scripts, rendered overlays."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").exists())


@cache
def load_script(relative: str) -> ModuleType:
    """Import a generator script (tools/*.py, deploy/**/*.py) by path."""
    path = REPO / relative
    spec = importlib.util.spec_from_file_location(f"_emms_script_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the script runs
    spec.loader.exec_module(module)
    return module


def kubectl() -> str | None:
    return shutil.which("kubectl")


@cache
def render_overlay(name: str) -> tuple[dict[str, Any], ...]:
    """`kubectl kustomize` of one overlay, as a tuple of objects."""
    exe = kubectl()
    if exe is None:
        pytest.skip("kubectl is not installed: overlays not rendered (base files are still validated); "
                    "install kubectl >= 1.27 (kustomize >= 5) to run these")
    out = subprocess.run([exe, "kustomize", str(K8S / "overlays" / name)], capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.returncode == 0, f"kubectl kustomize overlays/{name} failed:\n{out.stderr}"
    return tuple(d for d in yaml.safe_load_all(out.stdout) if d)


def by_kind(docs: tuple[dict[str, Any], ...], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]
