"""The production image's Dockerfile is consistent (the full install-and-start run is in make k8s-check:
tools/k8s_image_check.py), and every command the manifests run is in it."""

from __future__ import annotations

import re

import pytest
from deploy_harness import OVERLAYS, REPO, by_kind, load_script, render_overlay

BROKEN = """ARG PYTHON_IMAGE=python:3.11-slim
FROM python:3.11-slim AS build
RUN pip install --no-cache-dir 'uv>=0.5'
RUN uv sync --all-packages --locked --no-dev --no-editable && uv venv /src/.venv
FROM python:3.11-slim
COPY --from=build /src/.venv /opt/emms
ENV PATH=/opt/emms/bin:$PATH
"""


def test_the_dockerfile_builds_the_venv_where_it_runs_with_pinned_tools() -> None:
    check = load_script("tools/k8s_image_check.py")
    assert check.static_problems() == []
    problems = " ".join(check.static_problems(BROKEN))  # the image as it was: every script exit 127
    for wanted in ("exit 127", "digest", "uv not pinned", "tools/simulator"):
        assert wanted in problems


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_command_the_manifests_run_is_in_the_image(overlay: str) -> None:
    check = load_script("tools/k8s_image_check.py")
    dockerfile = (REPO / "Dockerfile").read_text()
    services = check.args_of(dockerfile)["SERVICES"].split()
    members = [str(p.parent.relative_to(REPO)) for p in REPO.glob("*/*/pyproject.toml")
               if re.search(r'^name = "(.+)"', p.read_text(), re.M)[1] in services]  # type: ignore[index]
    members += ["libs/protocol", "libs/runtime"]
    scripts = set(check.console_scripts(members))
    copied = dict(re.findall(r"^COPY (tools/\S+) (\S+)$", dockerfile, re.M))
    for w in by_kind(render_overlay(overlay), "Deployment") + by_kind(render_overlay(overlay), "StatefulSet") + \
            by_kind(render_overlay(overlay), "Job"):
        for c in w["spec"]["template"]["spec"]["containers"]:
            if c["image"].split("/")[-1].split(":")[0] != "emms":
                continue
            command = c["command"]
            if command[0] == "python":
                assert command[1] in copied.values(), f"{w['metadata']['name']}: {command}"
            else:
                assert command[0] in scripts, f"{w['metadata']['name']}: {command[0]} is not a console script"
